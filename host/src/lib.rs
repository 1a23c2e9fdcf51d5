//! # renkei-host
//!
//! The runtime a shop server embeds. It loads gateway plugins at run time and refuses the ones it
//! cannot trust ([`loader`]), creates configured gateway instances ([`config`], [`instance`]),
//! and (in later layers) owns all I/O, the journal and the order-to-gateway rules. Plugins only
//! translate; everything that touches the network, the clock or storage happens here.

pub mod config;
pub mod driver;
pub mod executor;
pub mod instance;
pub mod journal;
pub mod loader;
pub mod plugin_log;
mod preflight;
pub mod redact;
pub mod transport;

pub use config::{ConfigFileError, GatewaySection, HostConfig};
pub use driver::{DriveError, Driver, ExchangeLog, Execution};
pub use executor::{Completed, ExecError, Executor, RecoveryReport, Resolution};
pub use instance::{GatewayInstance, InstanceError};
pub use loader::{DirectoryReport, LoadError, LoadedPlugin, PluginRegistry, compatible_range};
pub use transport::{Transport, TransportError};
