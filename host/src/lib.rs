//! # renkei-host
//!
//! The runtime a shop server embeds. It loads gateway plugins at run time and refuses the ones it
//! cannot trust ([`loader`]), creates configured gateway instances ([`config`], [`instance`]),
//! and (in later layers) owns all I/O, the journal and the order-to-gateway rules. Plugins only
//! translate; everything that touches the network, the clock or storage happens here.
//!
//! ```no_run
//! use renkei_host::{Executor, GatewayInstance, HostConfig, PluginRegistry, journal};
//! use renkei_sdk::{Money, Operation, OrderRef, TransactionRef};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut registry = PluginRegistry::new();
//! let report = registry.load_dir("target/release".as_ref())?; // refusals are in the report
//! let config = HostConfig::from_toml(&std::fs::read_to_string("renkei.toml")?)?;
//! let gateway = Arc::new(registry.instantiate("main", &config.gateways["main"])?);
//! let journal = journal::sqlite::open("renkei-journal.db".as_ref())?;
//! let executor = Executor::new(journal.into(), Duration::from_secs(30));
//!
//! // Settle what a previous run left in flight before accepting new work.
//! let find = |name: &str| (name == "main").then(|| gateway.clone());
//! executor.recover(&find).await?;
//!
//! let capture = Operation::Capture {
//!     order: OrderRef::new("100000924506"),
//!     transaction: TransactionRef::new("00000616307347"),
//!     authorized: Money::jpy(1080),
//!     amount: None,
//! };
//! let done = executor.execute(&gateway, &capture, "100000924506:capture:1").await?;
//! println!("{} ({} refused plugin files)", done.outcome.state, report.refused.len());
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod defects;
pub mod driver;
pub mod executor;
pub mod instance;
pub mod journal;
pub mod loader;
pub mod plugin_log;
mod preflight;
pub mod redact;
pub mod seal;
pub mod shop;
pub mod transport;

pub use config::{ConfigFileError, GatewaySection, HostConfig};
pub use driver::{DriveError, Driver, ExchangeLog, Execution};
pub use executor::{Along, Completed, ExecError, Executor, RecoveryReport, Resolution};
pub use instance::{GatewayInstance, InstanceError};
pub use loader::{DirectoryReport, LoadError, LoadedPlugin, PluginRegistry, compatible_range};
pub use shop::{ActionResult, Shop, ShopError};
pub use transport::{Transport, TransportError};
