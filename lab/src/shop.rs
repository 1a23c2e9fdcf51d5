use crate::LabError;
use renkei_host::journal::{self, JournalStore};
use renkei_host::{Executor, GatewayInstance, Shop};
use std::path::Path;
use std::sync::Arc;

/// A SQLite journal (WAL, durable commits) at `path`.
pub fn open_sqlite(path: &Path) -> Result<Arc<dyn JournalStore>, LabError> {
    journal::sqlite::open(path)
        .map(Arc::from)
        .map_err(|source| LabError::Journal {
            path: path.to_path_buf(),
            source,
        })
}

/// A shop on `executor` with every instance, each with automatic linkage on (G-1), as a shop
/// that takes cards through Renkei runs it.
pub fn shop(
    name: &str,
    executor: Executor,
    instances: impl IntoIterator<Item = Arc<GatewayInstance>>,
) -> Shop {
    instances
        .into_iter()
        .fold(Shop::new(name, Arc::new(executor)), |shop, instance| {
            shop.with_gateway(instance, true)
        })
}
