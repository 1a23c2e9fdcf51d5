//! The server's configuration file: the host's own file (`plugin_dir`, `[gateways.NAME]`
//! sections, as `renkei_host::HostConfig` reads them) plus one `[server]` section.
//!
//! ```toml
//! plugin_dir = "target/release"          # optional: default next to the executable
//!
//! [server]
//! listen = "127.0.0.1:8080"
//! journal = "shop-journal.db"            # SQLite, created if missing
//! shop = "main"                          # the shop id orders are recorded under
//! deadline_ms = 30000                    # per exchange, unless a gateway sets its own
//! linkage = ["sbps"]                     # automatic linkage on (G-1); all gateways if absent
//!
//! [[server.operators]]                   # at least one; see `auth`
//! name = "sato"                          # recorded on every decision they make
//! token = "…"                            # Authorization: Bearer …  (or token_sha256 = "hex")
//! password = "…"                         # basic auth as sato:…     (or password_sha256)
//!
//! [gateways.sbps]
//! plugin = "sbps"
//! endpoint = "https://…"
//! merchant_id = "…"
//! ```
//!
//! Errors name keys and lines, never values: the file holds the gateways' and the operators'
//! secrets.

use crate::auth::{Credential, OperatorError, Operators};
use renkei_host::journal::{self, JournalError};
use renkei_host::{
    ConfigFileError, Executor, HostConfig, InstanceError, LoadError, PluginRegistry, Shop,
    ShopError,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The `[server]` section and the host's configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub journal: PathBuf,
    pub shop: String,
    pub deadline: Duration,
    /// Gateway instances with automatic linkage on; `None`: all of them.
    pub linkage: Option<Vec<String>>,
    /// Who may use the API; never empty (a server nobody can use is a configuration mistake).
    pub operators: Operators,
    pub host: HostConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file is not valid TOML (line {line}): {message}")]
    Syntax { line: usize, message: String },
    #[error("[server] {key}: {reason}")]
    Server { key: String, reason: String },
    #[error("[[server.operators]] #{index}: {source}")]
    Operator { index: usize, source: OperatorError },
    #[error(transparent)]
    Host(#[from] ConfigFileError),
}

fn server_error(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Server {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl ServerConfig {
    pub fn from_toml(text: &str) -> Result<ServerConfig, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .unwrap_or(0);
            // toml's message without the quoted source line, which may hold a secret.
            ConfigError::Syntax {
                line,
                message: e.message().to_owned(),
            }
        })?;
        let server = match table.remove("server") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => return Err(server_error("server", "must be a table")),
        };
        let host = HostConfig::from_toml(
            &toml::to_string(&table).map_err(|e| server_error("(file)", e.to_string()))?,
        )?;
        let mut config = ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            journal: PathBuf::from("shop-journal.db"),
            shop: "main".into(),
            deadline: Duration::from_secs(30),
            linkage: None,
            operators: Operators::new(),
            host,
        };
        for (key, value) in server {
            match (key.as_str(), value) {
                ("listen", toml::Value::String(s)) => {
                    config.listen = s.parse().map_err(|_| {
                        server_error(&key, "expected an address like 127.0.0.1:8080")
                    })?
                }
                ("journal", toml::Value::String(s)) => config.journal = s.into(),
                ("shop", toml::Value::String(s)) if !s.is_empty() => config.shop = s,
                ("deadline_ms", toml::Value::Integer(ms)) if ms > 0 => {
                    config.deadline = Duration::from_millis(ms as u64)
                }
                ("linkage", toml::Value::Array(names)) => {
                    let names = names
                        .into_iter()
                        .map(|n| match n {
                            toml::Value::String(s) => Ok(s),
                            _ => Err(server_error(&key, "expected gateway instance names")),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    config.linkage = Some(names);
                }
                ("operators", toml::Value::Array(entries)) => {
                    for (index, entry) in entries.into_iter().enumerate() {
                        operator(&mut config.operators, index + 1, entry)?;
                    }
                }
                ("listen" | "journal" | "shop" | "deadline_ms" | "linkage" | "operators", _) => {
                    return Err(server_error(&key, "wrong type or empty"));
                }
                _ => {
                    return Err(server_error(
                        &key,
                        "unknown key (expected listen, journal, shop, deadline_ms, linkage, \
                         operators)",
                    ));
                }
            }
        }
        if config.operators.is_empty() {
            return Err(server_error(
                "operators",
                "no [[server.operators]]: every API request would be refused",
            ));
        }
        if let Some(names) = &config.linkage
            && let Some(unknown) = names
                .iter()
                .find(|n| !config.host.gateways.contains_key(*n))
        {
            return Err(server_error(
                "linkage",
                format!("no [gateways.{unknown}] section"),
            ));
        }
        Ok(config)
    }
}

/// One `[[server.operators]]` table. Its secrets go straight into [`Operators::add`], which
/// keeps only their digests.
fn operator(
    operators: &mut Operators,
    index: usize,
    entry: toml::Value,
) -> Result<(), ConfigError> {
    let key = format!("operators #{index}");
    let toml::Value::Table(mut table) = entry else {
        return Err(server_error(&key, "expected a table"));
    };
    let mut text = |name: &str| -> Result<Option<String>, ConfigError> {
        match table.remove(name) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(server_error(&format!("{key}.{name}"), "expected a string")),
        }
    };
    let name = text("name")?.unwrap_or_default();
    let credential =
        |plain: Option<String>, digest: Option<String>, what: &str| match (plain, digest) {
            (Some(_), Some(_)) => Err(server_error(
                &format!("{key}.{what}"),
                format!("give `{what}` or `{what}_sha256`, not both"),
            )),
            (Some(s), None) => Ok(Some(Credential::Secret(s))),
            (None, Some(h)) => Ok(Some(Credential::Sha256Hex(h))),
            (None, None) => Ok(None),
        };
    let token = credential(text("token")?, text("token_sha256")?, "token")?;
    let password = credential(text("password")?, text("password_sha256")?, "password")?;
    if let Some(unknown) = table.keys().next() {
        return Err(server_error(
            &format!("{key}.{unknown}"),
            "unknown key (expected name, token, token_sha256, password, password_sha256)",
        ));
    }
    operators
        .add(&name, token, password)
        .map_err(|source| ConfigError::Operator { index, source })
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no [gateways.NAME] section: the shop needs at least one gateway")]
    NoGateway,
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error("journal {path}: {source}")]
    Journal { path: PathBuf, source: JournalError },
    #[error("recovering what the last run left in flight: {0}")]
    Recover(#[from] ShopError),
    #[error(transparent)]
    HandleKey(#[from] ConfigFileError),
}

/// Loads the plugins of `plugin_dir`, creates the configured gateways, opens the journal and
/// settles what an earlier run left in flight, before any request is taken.
pub async fn open_shop(config: &ServerConfig, plugin_dir: &Path) -> Result<Arc<Shop>, StartError> {
    if config.host.gateways.is_empty() {
        return Err(StartError::NoGateway);
    }
    let mut registry = PluginRegistry::new();
    let report = registry.load_dir(plugin_dir)?;
    for refused in &report.refused {
        tracing::warn!("plugin refused: {refused}");
    }
    let journal = journal::sqlite::open(&config.journal).map_err(|source| StartError::Journal {
        path: config.journal.clone(),
        source,
    })?;
    let mut executor = Executor::new(journal.into(), config.deadline);
    match config.host.handle_key()? {
        Some(key) => executor = executor.with_handle_key(key),
        None => tracing::warn!(
            "no handle_key_file: the secret parts of payment handles live in memory only, and \
             a restarted server hands plugins their handles without them"
        ),
    }
    let executor = Arc::new(executor);
    let mut shop = Shop::new(config.shop.clone(), executor);
    for (name, section) in &config.host.gateways {
        let linkage = config.linkage.as_ref().is_none_or(|on| on.contains(name));
        shop = shop.with_gateway(Arc::new(registry.instantiate(name, section)?), linkage);
    }
    let recovered = shop.recover().await?;
    tracing::info!(?recovered, "journal recovered");
    Ok(Arc::new(shop))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPERATOR: &str =
        "[[server.operators]]\nname = \"sato\"\ntoken = \"operator-token-0123456789\"\n";

    #[test]
    fn the_server_listens_on_loopback_unless_told_otherwise() {
        let config = ServerConfig::from_toml(OPERATOR).unwrap();
        assert!(config.listen.ip().is_loopback(), "{}", config.listen);
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        let wide = ServerConfig::from_toml(&format!(
            "[server]\nlisten = \"0.0.0.0:9000\"\n\n{OPERATOR}"
        ))
        .unwrap();
        assert_eq!(wide.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
    }

    #[test]
    fn operators_are_required_and_their_secrets_never_appear_in_errors() {
        let none = ServerConfig::from_toml("[server]\nshop = \"main\"\n").unwrap_err();
        assert!(none.to_string().contains("operators"), "{none}");
        for (text, secret) in [
            (
                "[[server.operators]]\nname = \"sato\"\ntoken = \"short-tok\"\n",
                "short-tok",
            ),
            (
                "[[server.operators]]\nname = \"sato\"\npassword = \"pw-7\"\n",
                "pw-7",
            ),
            (
                "[[server.operators]]\nname = \"sato\"\ntoken_sha256 = \"not-hex-secret\"\n",
                "not-hex-secret",
            ),
            (
                "[[server.operators]]\nname = \"sato\"\ntoken = \"operator-token-0123456789\"\ncolour = \"secret-blue\"\n",
                "secret-blue",
            ),
            (
                "[[server.operators]]\nname = \"sato\"\ntoken = \"operator-token-0123456789\"\n\
                 [[server.operators]]\nname = \"kato\"\ntoken = \"operator-token-0123456789\"\n",
                "operator-token-0123456789",
            ),
            (
                "[[server.operators]]\nname = \"sato\"\ntoken = \"unterminated-secret\n",
                "unterminated-secret",
            ),
        ] {
            let e = ServerConfig::from_toml(text).unwrap_err();
            let shown = format!("{e} / {e:?}");
            assert!(!shown.contains(secret), "{shown}");
        }
        let ok = ServerConfig::from_toml(OPERATOR).unwrap();
        assert!(!format!("{ok:?}").contains("0123456789"));
        assert_eq!(ok.operators.names().collect::<Vec<_>>(), ["sato"]);
    }
}
