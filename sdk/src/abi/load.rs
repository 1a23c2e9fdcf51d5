//! The host side of the boundary: opening a plugin library and calling into it.
//!
//! The policy (which versions are compatible, manifest validation, duplicate ids) is the host's;
//! this module only performs the abi_stable steps and turns them into plain Rust errors.

use super::convert::*;
use super::handshake::HandshakeError;
use super::log::HostLog;
use super::types::{FfiError, FfiStep};
use super::v0_1;
use super::{FfiGatewayBox, PluginModuleRef};
use crate::{Bytes, Context, GatewayError, HttpResponse, Operation, ReplyCopy, Step};
use abi_stable::library::{LibHeader, LibraryError, lib_header_from_path};
use abi_stable::std_types::{ROption, RResult};
use std::path::{Path, PathBuf};

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
    /// The library exports the handshake symbol, but not in the handshake's layout.
    #[error("unreadable handshake: {0}")]
    Handshake(HandshakeError),
    /// Built against an SDK version this SDK has no root-module type for (a later minor, a
    /// later major, or one older than 0.1.0).
    #[error("built against renkei-sdk {0}, which this SDK cannot open")]
    UnsupportedVersion(semver::Version),
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

/// How the host learned a plugin's SDK version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSource {
    /// From the plain C handshake symbol (plugins built against 0.2.0 and later).
    Handshake,
    /// From abi_stable's library header: the library has no handshake (0.1.0 plugins).
    AbiStableHeader,
}

/// Which root-module type the host runs a plugin through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// This SDK's own types.
    Native,
    /// The frozen 0.1.0 SDK's types, adapted to this SDK's interface.
    V0_1,
}

impl Abi {
    /// The root-module type for a plugin built against `version`, if this SDK has one.
    ///
    /// Within 0.x every minor version is its own ABI (a patch release never changes it): this
    /// SDK's minor runs natively, 0.1 through the frozen copy, anything else is unknown.
    pub fn for_version(version: &semver::Version) -> Option<Abi> {
        let host = crate::sdk_version();
        if version.major == host.major && version.minor == host.minor {
            Some(Abi::Native)
        } else if version.major == 0 && version.minor == 1 {
            Some(Abi::V0_1)
        } else {
            None
        }
    }

    /// `native`, or `compat 0.1`: how `renkei plugins` shows it.
    pub fn label(self) -> &'static str {
        match self {
            Abi::Native => "native",
            Abi::V0_1 => "compat 0.1",
        }
    }
}

impl std::fmt::Display for Abi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The plugin SDK versions this SDK can open: 0.1.x through the frozen copy, and its own minor.
pub fn supported_versions() -> semver::VersionReq {
    let host = crate::sdk_version();
    let req = if host.major == 0 {
        format!(">=0.1.0, <0.{}.0", host.minor + 1)
    } else {
        format!(">=0.1.0, <{}.{}.0", host.major, host.minor + 1)
    };
    semver::VersionReq::parse(&req).expect("a well-formed requirement")
}

/// An opened library whose SDK version has been read but whose layout is not checked yet, so the
/// caller can apply its own version policy first.
pub struct PluginLibrary {
    path: PathBuf,
    /// abi_stable's header, when it had to be read for the version already.
    header: Option<&'static LibHeader>,
    sdk_version: semver::Version,
    version_source: VersionSource,
}

impl PluginLibrary {
    /// Opens `path` and reads its SDK version: from the handshake symbol when the library has
    /// one, without touching abi_stable, else from abi_stable's header. The library stays mapped
    /// for the life of the process (abi_stable never unloads), which also makes every pointer it
    /// hands out `'static`.
    ///
    /// This deliberately avoids `RootModule::load_from_file`, which caches one module per type
    /// and would hand back the first plugin for every later path.
    pub fn open(path: &Path) -> Result<PluginLibrary, AbiError> {
        // SAFETY: opening a library runs its initialisers; loading plugins is the point. The
        // handle is leaked below, so nothing read from the library outlives its mapping.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| AbiError::NotALibrary(e.to_string()))?;
        let handshake = super::handshake::read(&library);
        // Never unloaded, like every library abi_stable opens (no TLS destructors after dlclose).
        std::mem::forget(library);
        if let Some(handshake) = handshake {
            let sdk_version = handshake.sdk_version().map_err(AbiError::Handshake)?;
            return Ok(PluginLibrary {
                path: path.to_path_buf(),
                header: None,
                sdk_version,
                version_source: VersionSource::Handshake,
            });
        }
        let header = lib_header_from_path(path).map_err(map_library_error)?;
        let raw = header.version_strings().version;
        let sdk_version = semver::Version::parse(raw.as_str())
            .map_err(|_| AbiError::BadVersion(raw.as_str().to_owned()))?;
        Ok(PluginLibrary {
            path: path.to_path_buf(),
            header: Some(header),
            sdk_version,
            version_source: VersionSource::AbiStableHeader,
        })
    }

    /// The `renkei-sdk` version the plugin was built against.
    pub fn sdk_version(&self) -> &semver::Version {
        &self.sdk_version
    }

    /// Where [`Self::sdk_version`] was read.
    pub fn version_source(&self) -> VersionSource {
        self.version_source
    }

    /// Picks the root-module type for the plugin's SDK version, checks the layout of every type
    /// it reaches and runs its constructor.
    pub fn init(&self) -> Result<PluginModule, AbiError> {
        let abi = Abi::for_version(&self.sdk_version)
            .ok_or_else(|| AbiError::UnsupportedVersion(self.sdk_version.clone()))?;
        let header = match self.header {
            Some(header) => header,
            None => lib_header_from_path(&self.path).map_err(map_library_error)?,
        };
        let module = match abi {
            Abi::Native => header
                .init_root_module::<PluginModuleRef>()
                .map(Module::Native),
            Abi::V0_1 => header
                .init_root_module::<v0_1::PluginModuleRef>()
                .map(Module::V0_1),
        }
        .map_err(map_library_error)?;
        Ok(PluginModule {
            module,
            sdk_version: self.sdk_version.clone(),
        })
    }
}

#[derive(Clone, Copy)]
enum Module {
    Native(PluginModuleRef),
    V0_1(v0_1::PluginModuleRef),
}

/// A layout-checked plugin root module.
#[derive(Clone)]
pub struct PluginModule {
    module: Module,
    sdk_version: semver::Version,
}

impl PluginModule {
    /// The SDK version the plugin was built against.
    pub fn sdk_version(&self) -> &semver::Version {
        &self.sdk_version
    }

    /// Whether the plugin runs natively or through a frozen older SDK.
    pub fn abi(&self) -> Abi {
        match self.module {
            Module::Native(_) => Abi::Native,
            Module::V0_1(_) => Abi::V0_1,
        }
    }

    /// The plugin's manifest, as the JSON it exported.
    pub fn manifest_json(&self) -> Result<String, GatewayError> {
        let r = match self.module {
            Module::Native(m) => (m.manifest())(),
            Module::V0_1(m) => v0_1::manifest_json(m),
        };
        match r {
            RResult::ROk(json) => Ok(json.into_string()),
            RResult::RErr(e) => Err(error_from_ffi(e)),
        }
    }

    /// Creates a gateway instance from validated config JSON.
    pub fn create(&self, log: HostLog, config_json: &str) -> Result<DynGateway, GatewayError> {
        match self.module {
            Module::Native(m) => DynGateway::from_raw((m.create())(log, config_json.into())),
            Module::V0_1(m) => match (m.create())(v0_1::host_log(log), config_json.into()) {
                RResult::ROk(inner) => Ok(DynGateway {
                    inner: Inner::V0_1(inner),
                }),
                RResult::RErr(e) => Err(error_from_ffi(v0_1::error(e))),
            },
        }
    }
}

/// A gateway instance behind the ABI, with the plain Rust interface of [`crate::Gateway`].
pub struct DynGateway {
    inner: Inner,
}

enum Inner {
    Native(FfiGatewayBox),
    V0_1(v0_1::FfiGatewayBox),
}

fn step_result(r: RResult<FfiStep, FfiError>) -> Result<Step, GatewayError> {
    match r {
        RResult::ROk(step) => step_from_ffi(step),
        RResult::RErr(e) => Err(error_from_ffi(e)),
    }
}

fn step_result_v0_1(
    r: RResult<renkei_sdk_v0_1::abi::types::FfiStep, renkei_sdk_v0_1::abi::types::FfiError>,
) -> Result<Step, GatewayError> {
    match r {
        RResult::ROk(step) => step_from_ffi(v0_1::step(step)?),
        RResult::RErr(e) => Err(error_from_ffi(v0_1::error(e))),
    }
}

impl DynGateway {
    pub(crate) fn new(inner: FfiGatewayBox) -> DynGateway {
        DynGateway {
            inner: Inner::Native(inner),
        }
    }

    pub(crate) fn from_raw(
        r: RResult<FfiGatewayBox, FfiError>,
    ) -> Result<DynGateway, GatewayError> {
        match r {
            RResult::ROk(inner) => Ok(DynGateway::new(inner)),
            RResult::RErr(e) => Err(error_from_ffi(e)),
        }
    }

    /// Whether this instance runs natively or through a frozen older SDK.
    pub fn abi(&self) -> Abi {
        match self.inner {
            Inner::Native(_) => Abi::Native,
            Inner::V0_1(_) => Abi::V0_1,
        }
    }

    pub fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        let (op, ctx) = (operation_to_ffi(op), context_to_ffi(ctx));
        match &self.inner {
            Inner::Native(g) => step_result(g.prepare(&op, &ctx)),
            Inner::V0_1(g) => {
                step_result_v0_1(g.prepare(&v0_1::operation(op), &v0_1::context(ctx)))
            }
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
        let (op, ctx) = (operation_to_ffi(op), context_to_ffi(ctx));
        let reply = response_to_ffi(reply, &headers);
        match &self.inner {
            Inner::Native(g) => step_result(g.interpret(&op, &ctx, state.into(), &reply)),
            Inner::V0_1(g) => step_result_v0_1(g.interpret(
                &v0_1::operation(op),
                &v0_1::context(ctx),
                state.into(),
                &v0_1::response(reply),
            )),
        }
    }

    /// The journal copy of `reply` ([`crate::Gateway::journal_reply`]). A 0.1 plugin has no
    /// say: its replies are journaled as received, as under 0.1. `Err` when the plugin failed or
    /// panicked while redacting.
    pub fn journal_reply(
        &self,
        op: &Operation,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<ReplyCopy, GatewayError> {
        let headers = response_headers_to_ffi(reply);
        let op = operation_to_ffi(op);
        let reply = response_to_ffi(reply, &headers);
        match &self.inner {
            Inner::Native(g) => match g.journal_reply(&op, state.into(), &reply) {
                RResult::ROk(ROption::RNone) => Ok(ReplyCopy::AsReceived),
                RResult::ROk(ROption::RSome(body)) => Ok(ReplyCopy::Redacted(Bytes(body))),
                RResult::RErr(e) => Err(error_from_ffi(e)),
            },
            Inner::V0_1(_) => Ok(ReplyCopy::AsReceived),
        }
    }
}

impl std::fmt::Debug for DynGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DynGateway({})", self.abi())
    }
}
