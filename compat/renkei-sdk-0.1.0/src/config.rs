//! Gateway instance configuration, validated against the manifest's declared keys.

use crate::{ConfigKind, Manifest, Secret};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a configuration was refused. Names keys, never values: a value may be a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required config key `{key}`")]
    Missing { key: String },
    #[error("unknown config key `{key}` (not declared by the plugin's manifest)")]
    Unknown { key: String },
    #[error("config key `{key}` must be {expected}")]
    WrongType { key: String, expected: &'static str },
    #[error("config key `{key}` is invalid: {reason}")]
    Invalid { key: String, reason: String },
}

/// A plain value of a config key.
#[derive(Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
}

impl std::fmt::Debug for ConfigValue {
    // Values are not printed: whether a key is secret is the manifest's knowledge, not ours.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigValue::Text(_) => f.write_str("Text(…)"),
            ConfigValue::Integer(_) => f.write_str("Integer(…)"),
            ConfigValue::Boolean(b) => write!(f, "Boolean({b})"),
        }
    }
}

/// A gateway instance's configuration: every declared key, defaults filled in, types checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    values: BTreeMap<String, ConfigValue>,
}

impl Config {
    /// Validates raw values against the manifest: unknown keys, missing required keys and wrong
    /// types are refused; declared defaults are filled in.
    pub fn validate(
        manifest: &Manifest,
        raw: &BTreeMap<String, ConfigValue>,
    ) -> Result<Config, ConfigError> {
        for key in raw.keys() {
            if !manifest.config.iter().any(|k| &k.name == key) {
                return Err(ConfigError::Unknown { key: key.clone() });
            }
        }
        let mut values = BTreeMap::new();
        for decl in &manifest.config {
            let value = match (raw.get(&decl.name), &decl.default) {
                (Some(v), _) => v.clone(),
                (None, Some(default)) => ConfigValue::Text(default.clone()),
                (None, None) if decl.required => {
                    return Err(ConfigError::Missing {
                        key: decl.name.clone(),
                    });
                }
                (None, None) => continue,
            };
            let value = coerce(&decl.name, decl.kind, value)?;
            values.insert(decl.name.clone(), value);
        }
        Ok(Config { values })
    }

    /// The JSON object that crosses the plugin ABI.
    pub fn to_json(&self) -> String {
        let map: Map<String, Value> = self
            .values
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    ConfigValue::Text(s) => Value::String(s.clone()),
                    ConfigValue::Integer(i) => Value::from(*i),
                    ConfigValue::Boolean(b) => Value::Bool(*b),
                };
                (k.clone(), v)
            })
            .collect();
        Value::Object(map).to_string()
    }

    /// Reads the JSON object written by [`Config::to_json`].
    pub fn from_json(json: &str) -> Result<Config, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            key: "(document)".into(),
            reason,
        };
        let value: Value = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(invalid("not a JSON object".into()));
        };
        let mut values = BTreeMap::new();
        for (k, v) in map {
            let v = match v {
                Value::String(s) => ConfigValue::Text(s),
                Value::Bool(b) => ConfigValue::Boolean(b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => ConfigValue::Integer(i),
                    None => {
                        return Err(ConfigError::WrongType {
                            key: k,
                            expected: "an integer",
                        });
                    }
                },
                _ => {
                    return Err(ConfigError::WrongType {
                        key: k,
                        expected: "a string, an integer or a boolean",
                    });
                }
            };
            values.insert(k, v);
        }
        Ok(Config { values })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        match self.values.get(key)? {
            ConfigValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A required text value.
    pub fn require_text(&self, key: &str) -> Result<&str, ConfigError> {
        self.text(key)
            .ok_or_else(|| ConfigError::Missing { key: key.into() })
    }

    /// A secret value, wrapped so that it cannot be printed.
    pub fn secret(&self, key: &str) -> Option<Secret> {
        self.text(key).map(Secret::new)
    }

    pub fn require_secret(&self, key: &str) -> Result<Secret, ConfigError> {
        self.secret(key)
            .ok_or_else(|| ConfigError::Missing { key: key.into() })
    }

    pub fn integer(&self, key: &str) -> Option<i64> {
        match self.values.get(key)? {
            ConfigValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn boolean(&self, key: &str) -> Option<bool> {
        match self.values.get(key)? {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}

fn coerce(key: &str, kind: ConfigKind, value: ConfigValue) -> Result<ConfigValue, ConfigError> {
    let wrong = |expected| ConfigError::WrongType {
        key: key.to_owned(),
        expected,
    };
    match (kind, value) {
        (ConfigKind::String, ConfigValue::Text(s)) => Ok(ConfigValue::Text(s)),
        (ConfigKind::String, _) => Err(wrong("a string")),
        (ConfigKind::Url, ConfigValue::Text(s)) => {
            if s.starts_with("http://") || s.starts_with("https://") {
                Ok(ConfigValue::Text(s))
            } else {
                Err(ConfigError::Invalid {
                    key: key.to_owned(),
                    reason: "must be an http:// or https:// URL".into(),
                })
            }
        }
        (ConfigKind::Url, _) => Err(wrong("a URL string")),
        (ConfigKind::Integer, ConfigValue::Integer(i)) => Ok(ConfigValue::Integer(i)),
        (ConfigKind::Integer, ConfigValue::Text(s)) => s
            .parse()
            .map(ConfigValue::Integer)
            .map_err(|_| wrong("an integer")),
        (ConfigKind::Integer, _) => Err(wrong("an integer")),
        (ConfigKind::Boolean, ConfigValue::Boolean(b)) => Ok(ConfigValue::Boolean(b)),
        (ConfigKind::Boolean, ConfigValue::Text(s)) => match s.as_str() {
            "true" => Ok(ConfigValue::Boolean(true)),
            "false" => Ok(ConfigValue::Boolean(false)),
            _ => Err(wrong("a boolean")),
        },
        (ConfigKind::Boolean, _) => Err(wrong("a boolean")),
    }
}
