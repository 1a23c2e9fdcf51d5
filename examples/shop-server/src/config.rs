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
//! [gateways.sbps]
//! plugin = "sbps"
//! endpoint = "https://…"
//! merchant_id = "…"
//! ```
//!
//! Errors name keys and lines, never values: the file holds the gateways' secrets.

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
    pub host: HostConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file is not valid TOML (line {line}): {message}")]
    Syntax { line: usize, message: String },
    #[error("[server] {key}: {reason}")]
    Server { key: String, reason: String },
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
                ("listen" | "journal" | "shop" | "deadline_ms" | "linkage", _) => {
                    return Err(server_error(&key, "wrong type or empty"));
                }
                _ => {
                    return Err(server_error(
                        &key,
                        "unknown key (expected listen, journal, shop, deadline_ms, linkage)",
                    ));
                }
            }
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
    let executor = Arc::new(Executor::new(journal.into(), config.deadline));
    let mut shop = Shop::new(config.shop.clone(), executor);
    for (name, section) in &config.host.gateways {
        let linkage = config.linkage.as_ref().is_none_or(|on| on.contains(name));
        shop = shop.with_gateway(Arc::new(registry.instantiate(name, section)?), linkage);
    }
    let recovered = shop.recover().await?;
    tracing::info!(?recovered, "journal recovered");
    Ok(Arc::new(shop))
}
