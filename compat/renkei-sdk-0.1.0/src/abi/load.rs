//! The host side of the boundary: opening a plugin library and calling into it.
//!
//! The policy (which versions are compatible, manifest validation, duplicate ids) is the host's;
//! this module only performs the abi_stable steps and turns them into plain Rust errors.

use super::convert::*;
use super::log::HostLog;
use super::{FfiGatewayBox, PluginModuleRef};
use crate::{Context, GatewayError, HttpResponse, Operation, Step};
use abi_stable::library::{LibHeader, LibraryError, lib_header_from_path};
use abi_stable::std_types::RResult;
use std::path::Path;

/// Why a library could not be opened or initialised, before any Renkei policy applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    #[error("not a loadable library: {0}")]
    NotALibrary(String),
    #[error("a library, but not a Renkei plugin (no root module symbol)")]
    NotAPlugin,
    #[error("built with an incompatible abi_stable: {0}")]
    AbiStableHeader(String),
    #[error("its SDK version string {0:?} is not a semantic version")]
    BadVersion(String),
    #[error("SDK version incompatible: {0}")]
    IncompatibleVersion(String),
    #[error("ABI layout mismatch: {summary}")]
    Layout {
        summary: String,
        /// abi_stable's full report (very long): for debug logs only.
        detail: String,
    },
    #[error("its root module failed to initialise: {0}")]
    Constructor(String),
}

fn map_library_error(e: LibraryError) -> AbiError {
    match e {
        LibraryError::OpenError { err, .. } => AbiError::NotALibrary(err.to_string()),
        LibraryError::GetSymbolError { .. } => AbiError::NotAPlugin,
        LibraryError::InvalidAbiHeader(h) => AbiError::AbiStableHeader(format!("{h:?}")),
        LibraryError::ParseVersionError(e) => AbiError::BadVersion(e.to_string()),
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => AbiError::IncompatibleVersion(format!(
            "host expects {expected_version}, library has {actual_version}"
        )),
        LibraryError::AbiInstability(report) => {
            let detail = report.to_string();
            let summary = detail
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("layouts differ")
                .chars()
                .take(200)
                .collect();
            AbiError::Layout { summary, detail }
        }
        LibraryError::RootModule { err, .. } => AbiError::Constructor(err.to_string()),
        other => AbiError::Constructor(other.to_string()),
    }
}

/// An opened library whose SDK version has been read but whose layout is not checked yet, so the
/// caller can apply its own version policy first.
pub struct PluginLibrary {
    header: &'static LibHeader,
    sdk_version: semver::Version,
}

impl PluginLibrary {
    /// Opens `path`. The library stays mapped for the life of the process (abi_stable never
    /// unloads), which also makes every pointer it hands out `'static`.
    ///
    /// This deliberately avoids `RootModule::load_from_file`, which caches one module per type
    /// and would hand back the first plugin for every later path.
    pub fn open(path: &Path) -> Result<PluginLibrary, AbiError> {
        let header = lib_header_from_path(path).map_err(map_library_error)?;
        let raw = header.version_strings().version;
        let sdk_version = semver::Version::parse(raw.as_str())
            .map_err(|_| AbiError::BadVersion(raw.as_str().to_owned()))?;
        Ok(PluginLibrary {
            header,
            sdk_version,
        })
    }

    /// The `renkei-sdk` version the plugin was built against.
    pub fn sdk_version(&self) -> &semver::Version {
        &self.sdk_version
    }

    /// Checks the layout of every type the root module reaches and runs its constructor.
    pub fn init(&self) -> Result<PluginModule, AbiError> {
        self.header
            .init_root_module::<PluginModuleRef>()
            .map(|module| PluginModule { module })
            .map_err(map_library_error)
    }
}

/// A layout-checked plugin root module.
#[derive(Clone, Copy)]
pub struct PluginModule {
    module: PluginModuleRef,
}

impl PluginModule {
    /// The plugin's manifest, as the JSON it exported.
    pub fn manifest_json(&self) -> Result<String, GatewayError> {
        match (self.module.manifest())() {
            RResult::ROk(json) => Ok(json.into_string()),
            RResult::RErr(e) => Err(error_from_ffi(e)),
        }
    }

    /// Creates a gateway instance from validated config JSON.
    pub fn create(&self, log: HostLog, config_json: &str) -> Result<DynGateway, GatewayError> {
        DynGateway::from_raw((self.module.create())(log, config_json.into()))
    }
}

/// A gateway instance behind the ABI, with the plain Rust interface of [`crate::Gateway`].
pub struct DynGateway {
    inner: FfiGatewayBox,
}

impl DynGateway {
    pub(crate) fn new(inner: FfiGatewayBox) -> DynGateway {
        DynGateway { inner }
    }

    pub(crate) fn from_raw(
        r: RResult<FfiGatewayBox, super::types::FfiError>,
    ) -> Result<DynGateway, GatewayError> {
        match r {
            RResult::ROk(inner) => Ok(DynGateway { inner }),
            RResult::RErr(e) => Err(error_from_ffi(e)),
        }
    }

    pub fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        let r = self
            .inner
            .prepare(&operation_to_ffi(op), &context_to_ffi(ctx));
        match r {
            RResult::ROk(step) => step_from_ffi(step),
            RResult::RErr(e) => Err(error_from_ffi(e)),
        }
    }

    pub fn interpret(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        let headers = response_headers_to_ffi(reply);
        let r = self.inner.interpret(
            &operation_to_ffi(op),
            &context_to_ffi(ctx),
            state.into(),
            &response_to_ffi(reply, &headers),
        );
        match r {
            RResult::ROk(step) => step_from_ffi(step),
            RResult::RErr(e) => Err(error_from_ffi(e)),
        }
    }
}

impl std::fmt::Debug for DynGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynGateway")
    }
}
