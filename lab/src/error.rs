use renkei_host::journal::JournalError;
use renkei_host::{InstanceError, LoadError};
use std::path::PathBuf;

/// Why the lab could not be built. The variants name the step, so that a caller can add its
/// own hint (how to build the plugins differs between a release demo and a test run).
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("no {gateway} plugin in {}", dir.display())]
    PluginMissing { gateway: &'static str, dir: PathBuf },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("starting the {gateway} emulator: {source}")]
    Emulator {
        gateway: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("configuring the {gateway} plugin: {source}")]
    Instance {
        gateway: &'static str,
        #[source]
        source: InstanceError,
    },
    #[error("opening the journal at {}: {source}", path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: JournalError,
    },
}
