//! What the suite needs to know that a manifest cannot say: the plugin's configuration and how
//! to pay at the endpoint (a test card token, amounts).
//!
//! Given as a TOML file (`--config FILE`):
//!
//! ```toml
//! [plugin]                 # the plugin's config keys, as in a host [gateways.NAME] section
//! endpoint = "https://sandbox.example/v1"
//! merchant_id = "m_1"
//! api_key = "…"            # secret values double as canaries for the secrets.* checks
//!
//! [conformance]
//! token = "tok_visa"       # a card token the endpoint approves (required)
//! token_key = "…"          # for gateways whose tokens come with a key (SBPS)
//! declined_token = "…"     # a card token the endpoint declines (lifecycle.decline-retry)
//! multi_error_token = "…"  # one it refuses with several error codes (lifecycle.multi-error)
//! customer = "cust-1"      # the customer code sent with authorizations
//! amount = 1000            # the authorization amount, in minor units
//! endpoint_key = "endpoint"  # the config key `--endpoint URL` sets (default: the first URL key)
//!
//! [certify]                # read by `renkei certify`, not by the suite
//! emulator_package = "renkei-emulator-acme"  # the emulator crate to build and start
//! ```
//!
//! Errors name keys and lines, never values: the file holds secrets.

use renkei_host::config::{TomlSyntax, parse_toml};
use renkei_sdk::ConfigValue;
use std::collections::BTreeMap;

/// Why a settings file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("settings are not valid TOML (line {line}): {message}")]
    Syntax { line: usize, message: String },
    #[error(
        "unknown settings section or key `{0}` (expected [plugin], [conformance] and [certify])"
    )]
    Unknown(String),
    #[error("settings key `{key}` must be {expected}")]
    WrongType { key: String, expected: &'static str },
}

impl From<TomlSyntax> for SettingsError {
    fn from(TomlSyntax { line, message }: TomlSyntax) -> SettingsError {
        SettingsError::Syntax { line, message }
    }
}

/// The plugin configuration and payment inputs of one run.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// Values of the plugin's config keys.
    pub values: BTreeMap<String, ConfigValue>,
    /// A card token the endpoint approves.
    pub token: Option<String>,
    pub token_key: Option<String>,
    /// A card token the endpoint declines (same `token_key`), for `lifecycle.decline-retry`.
    pub declined_token: Option<String>,
    /// A card token the endpoint refuses with several error codes in one reply, for
    /// `lifecycle.multi-error`.
    pub multi_error_token: Option<String>,
    pub customer: Option<String>,
    /// Authorization amount in minor units; default: 1000 clamped to the manifest's limits.
    pub amount: Option<i64>,
    /// The config key that `--endpoint` sets.
    pub endpoint_key: Option<String>,
}

impl std::fmt::Debug for Settings {
    // Values may be secrets: keys only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn from_toml(text: &str) -> Result<Settings, SettingsError> {
        let table = parse_toml(text)?;
        let mut settings = Settings::default();
        for (section, value) in table {
            let toml::Value::Table(entries) = value else {
                return Err(SettingsError::Unknown(section));
            };
            match section.as_str() {
                "plugin" => {
                    for (key, value) in entries {
                        let value = match value {
                            toml::Value::String(s) => ConfigValue::Text(s),
                            toml::Value::Integer(i) => ConfigValue::Integer(i),
                            toml::Value::Boolean(b) => ConfigValue::Boolean(b),
                            _ => {
                                return Err(SettingsError::WrongType {
                                    key: format!("plugin.{key}"),
                                    expected: "a string, an integer or a boolean",
                                });
                            }
                        };
                        settings.values.insert(key, value);
                    }
                }
                "conformance" => {
                    for (key, value) in entries {
                        let text = |value: toml::Value| match value {
                            toml::Value::String(s) => Ok(s),
                            _ => Err(SettingsError::WrongType {
                                key: format!("conformance.{key}"),
                                expected: "a string",
                            }),
                        };
                        match key.as_str() {
                            "token" => settings.token = Some(text(value)?),
                            "token_key" => settings.token_key = Some(text(value)?),
                            "declined_token" => settings.declined_token = Some(text(value)?),
                            "multi_error_token" => settings.multi_error_token = Some(text(value)?),
                            "customer" => settings.customer = Some(text(value)?),
                            "endpoint_key" => settings.endpoint_key = Some(text(value)?),
                            "amount" => match value {
                                toml::Value::Integer(i) => settings.amount = Some(i),
                                _ => {
                                    return Err(SettingsError::WrongType {
                                        key: "conformance.amount".into(),
                                        expected: "an integer (minor units)",
                                    });
                                }
                            },
                            _ => return Err(SettingsError::Unknown(format!("conformance.{key}"))),
                        }
                    }
                }
                // `renkei certify`'s own section (which emulator to start): not the suite's.
                "certify" => {}
                _ => return Err(SettingsError::Unknown(section)),
            }
        }
        Ok(settings)
    }

    /// `other`'s entries over these (a file given with `--config` over an emulator's defaults).
    pub fn overlay(mut self, other: Settings) -> Settings {
        self.values.extend(other.values);
        self.token = other.token.or(self.token);
        self.token_key = other.token_key.or(self.token_key);
        self.declined_token = other.declined_token.or(self.declined_token);
        self.multi_error_token = other.multi_error_token.or(self.multi_error_token);
        self.customer = other.customer.or(self.customer);
        self.amount = other.amount.or(self.amount);
        self.endpoint_key = other.endpoint_key.or(self.endpoint_key);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_carries_plugin_values_and_payment_inputs() {
        let s = Settings::from_toml(
            "[plugin]\nmerchant_id = \"m\"\nretries = 3\n[conformance]\ntoken = \"t\"\namount = 500\ndeclined_token = \"d\"\n",
        )
        .unwrap();
        assert_eq!(s.values["retries"], ConfigValue::Integer(3));
        assert_eq!(s.token.as_deref(), Some("t"));
        assert_eq!(s.amount, Some(500));
        assert_eq!(s.declined_token.as_deref(), Some("d"));
        let over = Settings::default().overlay(s.clone());
        assert_eq!(over, s);
    }

    #[test]
    fn the_certify_section_belongs_to_renkei_certify() {
        let s = Settings::from_toml(
            "[conformance]\ntoken = \"t\"\n[certify]\nemulator_package = \"renkei-emulator-x\"\n",
        )
        .unwrap();
        assert_eq!(s.token.as_deref(), Some("t"));
        assert!(s.values.is_empty());
    }

    #[test]
    fn errors_name_keys_and_lines_never_values() {
        let e = Settings::from_toml("[plugin]\napi_key = \"sk_canary\n").unwrap_err();
        assert!(!e.to_string().contains("sk_canary"), "{e}");
        assert!(matches!(e, SettingsError::Syntax { line: 2, .. }), "{e:?}");
        let e = Settings::from_toml("[conformance]\ntokn = \"x\"\n").unwrap_err();
        assert_eq!(e, SettingsError::Unknown("conformance.tokn".into()));
    }
}
