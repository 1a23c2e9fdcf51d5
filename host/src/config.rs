//! The host's configuration file (TOML): which gateway instances to create, with which plugin
//! and which values.
//!
//! ```toml
//! plugin_dir = "target/release"     # optional
//!
//! [gateways.main-sbps]              # instance name
//! plugin = "sbps"                   # gateway id of the plugin (default: the instance name)
//! deadline_ms = 30000               # host setting: how long one exchange may take
//! clock_skew_ms = 5000              # host setting: how far the gateway's clock may be off
//! merchant_id = "99999"
//! hash_key = "…"
//! ```
//!
//! Errors name files, lines and keys, never values: the file holds secrets.

use renkei_sdk::ConfigValue;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigFileError {
    #[error("config file is not valid TOML (line {line}): {message}")]
    Syntax { line: usize, message: String },
    #[error("config key `{key}` must be a table")]
    NotATable { key: String },
    #[error("gateway `{instance}`: key `{key}` must be a string, an integer or a boolean")]
    UnsupportedValue { instance: String, key: String },
    #[error(
        "key `{key}` is not a host setting (expected `plugin_dir`, `handle_key_file` or `gateways`)"
    )]
    UnknownSetting { key: String },
    #[error("key `{key}` must be a string")]
    NotAString { key: String },
    /// The key file could not be read or holds no key; the path is named, never its content.
    #[error("handle key file {path}: {reason}")]
    HandleKey { path: PathBuf, reason: String },
}

impl From<TomlSyntax> for ConfigFileError {
    fn from(TomlSyntax { line, message }: TomlSyntax) -> ConfigFileError {
        ConfigFileError::Syntax { line, message }
    }
}

/// Keys of a gateway section that configure the host, not the plugin. `deadline_ms`: how long
/// one exchange with this gateway may take before its outcome counts as unknown.
/// `clock_skew_ms`: how far the gateway's clock may be from the host's, added to a request's
/// declared expiry before an inquiry may settle it (see `RequestExpiry`).
pub const HOST_KEYS: &[&str] = &["deadline_ms", "clock_skew_ms"];

/// One `[gateways.NAME]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewaySection {
    /// Gateway id of the plugin that serves this instance.
    pub plugin: String,
    /// Everything else in the section: the plugin's keys, checked against its manifest, and the
    /// host's own per-gateway settings ([`HOST_KEYS`]), which the plugin never sees.
    pub values: BTreeMap<String, ConfigValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostConfig {
    pub plugin_dir: Option<PathBuf>,
    /// A file holding the key that seals the secret parts of payment handles (64 hex digits,
    /// `renkei handle-key`); without one, secret parts live in memory only (`crate::seal`).
    pub handle_key_file: Option<PathBuf>,
    pub gateways: BTreeMap<String, GatewaySection>,
}

/// Why a file is not TOML, told without toml's quoted source line, which may hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not valid TOML (line {line}): {message}")]
pub struct TomlSyntax {
    /// 1-based; 0 when toml does not say where.
    pub line: usize,
    pub message: String,
}

/// Parses a file that holds secrets (this host's config, the conformance suite's settings): a
/// syntax error names the line, never its text.
pub fn parse_toml(text: &str) -> Result<toml::Table, TomlSyntax> {
    text.parse().map_err(|e: toml::de::Error| TomlSyntax {
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
            .unwrap_or(0),
        // `message()` is toml's text without the quoted source line.
        message: e.message().to_owned(),
    })
}

impl HostConfig {
    /// The handle key from [`HostConfig::handle_key_file`], if one is configured.
    pub fn handle_key(&self) -> Result<Option<crate::seal::HandleKey>, ConfigFileError> {
        let Some(path) = &self.handle_key_file else {
            return Ok(None);
        };
        let failed = |reason: String| ConfigFileError::HandleKey {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
        crate::seal::HandleKey::from_hex(&text)
            .map(Some)
            .map_err(|e| failed(e.to_string()))
    }

    pub fn from_toml(text: &str) -> Result<HostConfig, ConfigFileError> {
        let table = parse_toml(text)?;
        let mut config = HostConfig::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("plugin_dir", toml::Value::String(dir)) => config.plugin_dir = Some(dir.into()),
                ("handle_key_file", toml::Value::String(path)) => {
                    config.handle_key_file = Some(path.into())
                }
                ("handle_key_file", _) => return Err(ConfigFileError::NotAString { key }),
                ("gateways", toml::Value::Table(gateways)) => {
                    for (instance, section) in gateways {
                        let toml::Value::Table(section) = section else {
                            return Err(ConfigFileError::NotATable {
                                key: format!("gateways.{instance}"),
                            });
                        };
                        config
                            .gateways
                            .insert(instance.clone(), parse_section(&instance, section)?);
                    }
                }
                ("gateways", _) => return Err(ConfigFileError::NotATable { key }),
                _ => return Err(ConfigFileError::UnknownSetting { key }),
            }
        }
        Ok(config)
    }
}

fn parse_section(instance: &str, section: toml::Table) -> Result<GatewaySection, ConfigFileError> {
    let mut plugin = instance.to_owned();
    let mut values = BTreeMap::new();
    for (key, value) in section {
        let value = match value {
            toml::Value::String(s) if key == "plugin" => {
                plugin = s;
                continue;
            }
            toml::Value::String(s) => ConfigValue::Text(s),
            toml::Value::Integer(i) => ConfigValue::Integer(i),
            toml::Value::Boolean(b) => ConfigValue::Boolean(b),
            _ => {
                return Err(ConfigFileError::UnsupportedValue {
                    instance: instance.to_owned(),
                    key,
                });
            }
        };
        values.insert(key, value);
    }
    Ok(GatewaySection { plugin, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_become_gateway_instances() {
        let c = HostConfig::from_toml(
            r#"
            plugin_dir = "plugins"
            [gateways.main]
            plugin = "kumopay"
            merchant_id = "m1"
            retries = 3
            sandbox = true
            "#,
        )
        .unwrap();
        assert_eq!(c.plugin_dir, Some(PathBuf::from("plugins")));
        let g = &c.gateways["main"];
        assert_eq!(g.plugin, "kumopay");
        assert_eq!(g.values["retries"], ConfigValue::Integer(3));
        assert_eq!(g.values.len(), 3);
    }

    #[test]
    fn syntax_errors_never_quote_the_offending_line() {
        let e = HostConfig::from_toml("[gateways.main]\napi_key = \"sk_canary\n").unwrap_err();
        assert!(!e.to_string().contains("sk_canary"), "{e}");
        assert!(
            matches!(e, ConfigFileError::Syntax { line: 2, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn a_handle_key_file_is_read_and_its_content_never_shown() {
        let dir = std::env::temp_dir().join(format!("renkei-hk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.key");
        let key = crate::seal::HandleKey::generate();
        std::fs::write(&good, format!("{}\n", key.to_hex())).unwrap();
        let config =
            HostConfig::from_toml(&format!("handle_key_file = {:?}\n", good.display())).unwrap();
        assert_eq!(config.handle_key().unwrap().unwrap().to_hex(), key.to_hex());
        let bad = dir.join("bad.key");
        std::fs::write(&bad, "not-a-key-but-maybe-a-secret").unwrap();
        let config =
            HostConfig::from_toml(&format!("handle_key_file = {:?}\n", bad.display())).unwrap();
        let e = config.handle_key().unwrap_err().to_string();
        assert!(
            e.contains("bad.key") && !e.contains("maybe-a-secret"),
            "{e}"
        );
        assert!(HostConfig::default().handle_key().unwrap().is_none());
    }
}
