//! Loading plugin libraries at run time, and refusing the ones the host cannot trust.
//!
//! Every refusal is a typed [`LoadError`] naming the file and the reason; none crashes the host.
//! Order of checks: open the library → read its SDK version (from the plain C handshake symbol,
//! or from abi_stable's header when a 0.1.0 plugin has none) and apply the host's semver policy →
//! pick the root-module type for that version (native, or the frozen 0.1.0 copy) and let
//! abi_stable check the layout of every type it reaches → read and validate the manifest →
//! refuse duplicate gateway ids.

use crate::plugin_log::PluginLog;
use crate::preflight;
use crate::redact::Redactor;
use renkei_sdk::abi::handshake::HandshakeError;
use renkei_sdk::abi::load::{Abi, AbiError, PluginLibrary, PluginModule, VersionSource};
use renkei_sdk::abi::log::HostLog;
use renkei_sdk::{Manifest, ManifestError};
use semver::{Version, VersionReq};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Why a plugin file was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read the plugin directory: {reason}")]
    Directory { path: PathBuf, reason: String },
    #[error("{path}: not a loadable library ({reason})")]
    NotALibrary { path: PathBuf, reason: String },
    #[error("{path}: a library, but not a Renkei plugin")]
    NotAPlugin { path: PathBuf },
    /// The library exports Renkei's handshake symbol, but not in the handshake's layout.
    #[error("{path}: unreadable SDK handshake: {reason}")]
    BadHandshake {
        path: PathBuf,
        reason: HandshakeError,
    },
    #[error("{path}: built against renkei-sdk {found}; this host accepts {accepts}")]
    IncompatibleSdk {
        path: PathBuf,
        found: Version,
        accepts: VersionReq,
    },
    #[error("{path}: ABI layout does not match this host's: {summary}")]
    AbiMismatch {
        path: PathBuf,
        summary: String,
        /// abi_stable's full layout report, for debugging.
        detail: String,
    },
    #[error("{path}: plugin failed to initialise: {reason}")]
    Init { path: PathBuf, reason: String },
    #[error("{path}: unreadable manifest: {reason}")]
    UnreadableManifest { path: PathBuf, reason: String },
    #[error("{path}: invalid manifest: {source}")]
    InvalidManifest {
        path: PathBuf,
        source: ManifestError,
    },
    #[error("{path}: manifest says sdk {claimed} but the library was built with sdk {built}")]
    SdkVersionMismatch {
        path: PathBuf,
        claimed: Version,
        built: Version,
    },
    #[error("{path}: gateway id `{gateway_id}` is already provided by {other}")]
    DuplicateGateway {
        path: PathBuf,
        gateway_id: String,
        other: PathBuf,
    },
}

/// The range of plugin SDK versions this host can load (`docs/abi.md`).
///
/// abi_stable opens an older plugin only with the older SDK's own types, so the range is what
/// the SDK has root-module types for: its own minor natively, and every older 0.x minor through a
/// frozen copy of that SDK (today 0.1). A later minor or major is refused before abi_stable is
/// touched.
pub fn compatible_range() -> VersionReq {
    renkei_sdk::abi::load::supported_versions()
}

/// What the host keeps for each library file, process-wide.
///
/// The dynamic loader opens a file once per process whatever the number of registries, and the
/// plugin installs the first log sink it is given for good. So the sink and its redactor belong
/// to the library, not to a registry: every instance created from the library, in any registry,
/// adds its secrets to the same redactor.
#[derive(Clone)]
struct LibraryState {
    redactor: Redactor,
    host_log: HostLog,
}

fn library_state(path: &Path, gateway_id: &str) -> LibraryState {
    static LIBRARIES: OnceLock<Mutex<HashMap<PathBuf, LibraryState>>> = OnceLock::new();
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut libraries = LIBRARIES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    libraries
        .entry(key)
        .or_insert_with(|| {
            let redactor = Redactor::default();
            let host_log = HostLog::new(Arc::new(PluginLog::new(gateway_id, redactor.clone())));
            LibraryState { redactor, host_log }
        })
        .clone()
}

/// A loaded, validated plugin library.
pub struct LoadedPlugin {
    path: PathBuf,
    manifest: Manifest,
    module: PluginModule,
    version_source: VersionSource,
    pub(crate) redactor: Redactor,
    pub(crate) host_log: HostLog,
}

impl LoadedPlugin {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn gateway_id(&self) -> &str {
        &self.manifest.gateway_id
    }

    /// The SDK version the library was built against, as its handshake (or, for 0.1.0, abi_stable's
    /// header) says; the manifest's `sdk_version` is checked to agree.
    pub fn sdk_version(&self) -> &Version {
        self.module.sdk_version()
    }

    /// Whether the plugin runs natively or through a frozen older SDK (`compat 0.1`).
    pub fn abi(&self) -> Abi {
        self.module.abi()
    }

    /// Where the host read the SDK version.
    pub fn version_source(&self) -> VersionSource {
        self.version_source
    }

    pub(crate) fn module(&self) -> &PluginModule {
        &self.module
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("gateway_id", &self.manifest.gateway_id)
            .field("plugin_version", &self.manifest.plugin_version)
            .field("sdk_version", self.module.sdk_version())
            .field("abi", &self.module.abi())
            .finish()
    }
}

/// Loads one plugin file.
pub fn load_file(path: &Path) -> Result<LoadedPlugin, LoadError> {
    let path_buf = path.to_path_buf();
    preflight::check(path).map_err(|reason| LoadError::NotALibrary {
        path: path_buf.clone(),
        reason,
    })?;
    let library = PluginLibrary::open(path).map_err(|e| abi_error(&path_buf, e))?;
    let accepts = compatible_range();
    let built = library.sdk_version().clone();
    if !accepts.matches(&built) {
        return Err(LoadError::IncompatibleSdk {
            path: path_buf,
            found: built,
            accepts,
        });
    }
    let version_source = library.version_source();
    let module = library.init().map_err(|e| abi_error(&path_buf, e))?;
    let json = module
        .manifest_json()
        .map_err(|e| LoadError::UnreadableManifest {
            path: path_buf.clone(),
            reason: e.to_string(),
        })?;
    let manifest = parse_manifest(&path_buf, &json)?;
    if manifest.sdk_version != built {
        return Err(LoadError::SdkVersionMismatch {
            path: path_buf,
            claimed: manifest.sdk_version,
            built,
        });
    }
    let LibraryState { redactor, host_log } = library_state(path, &manifest.gateway_id);
    tracing::debug!(
        path = %path.display(),
        gateway = %manifest.gateway_id,
        sdk = %built,
        abi = %module.abi(),
        "plugin loaded"
    );
    Ok(LoadedPlugin {
        path: path_buf,
        manifest,
        module,
        version_source,
        redactor,
        host_log,
    })
}

/// Parses and validates a manifest document: the checks the host applies to every plugin.
pub fn parse_manifest(path: &Path, json: &str) -> Result<Manifest, LoadError> {
    let manifest: Manifest =
        serde_json::from_str(json).map_err(|e| LoadError::UnreadableManifest {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    manifest
        .validate()
        .map_err(|source| LoadError::InvalidManifest {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(manifest)
}

fn abi_error(path: &Path, e: AbiError) -> LoadError {
    let path = path.to_path_buf();
    match e {
        AbiError::NotALibrary(reason) => LoadError::NotALibrary { path, reason },
        AbiError::NotAPlugin | AbiError::AbiStableHeader(_) => LoadError::NotAPlugin { path },
        AbiError::BadVersion(v) => LoadError::Init {
            path,
            reason: format!("unparseable SDK version {v:?}"),
        },
        AbiError::IncompatibleVersion(reason) => LoadError::Init { path, reason },
        AbiError::Layout { summary, detail } => {
            tracing::debug!(path = %path.display(), %detail, "ABI layout mismatch");
            LoadError::AbiMismatch {
                path,
                summary,
                detail,
            }
        }
        AbiError::Constructor(reason) => LoadError::Init { path, reason },
        AbiError::Handshake(reason) => LoadError::BadHandshake { path, reason },
        AbiError::UnsupportedVersion(found) => LoadError::IncompatibleSdk {
            path,
            found,
            accepts: compatible_range(),
        },
    }
}

/// The plugins a host has loaded, by gateway id.
#[derive(Default, Debug)]
pub struct PluginRegistry {
    plugins: BTreeMap<String, LoadedPlugin>,
}

/// What loading a directory produced: the plugins that loaded and the files that were refused.
#[derive(Debug, Default)]
pub struct DirectoryReport {
    pub loaded: Vec<String>,
    pub refused: Vec<LoadError>,
}

fn is_library(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
}

impl PluginRegistry {
    pub fn new() -> PluginRegistry {
        PluginRegistry::default()
    }

    /// Loads one file and registers it; a second plugin with the same gateway id is refused.
    pub fn load_file(&mut self, path: &Path) -> Result<&LoadedPlugin, LoadError> {
        let plugin = load_file(path)?;
        self.insert(plugin)
    }

    fn insert(&mut self, plugin: LoadedPlugin) -> Result<&LoadedPlugin, LoadError> {
        let id = plugin.gateway_id().to_owned();
        if let Some(other) = self.plugins.get(&id) {
            return Err(LoadError::DuplicateGateway {
                path: plugin.path,
                gateway_id: id,
                other: other.path.clone(),
            });
        }
        Ok(self.plugins.entry(id).or_insert(plugin))
    }

    /// Loads every library (by the platform's extension) in `dir`, in file-name order. A refused
    /// file does not stop the others; it is reported.
    pub fn load_dir(&mut self, dir: &Path) -> Result<DirectoryReport, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Directory {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_library(p))
            .collect();
        paths.sort();
        let mut report = DirectoryReport::default();
        for path in paths {
            match self.load_file(&path) {
                Ok(p) => report.loaded.push(p.gateway_id().to_owned()),
                Err(e) => {
                    tracing::warn!(error = %e, "plugin refused");
                    report.refused.push(e);
                }
            }
        }
        Ok(report)
    }

    pub fn get(&self, gateway_id: &str) -> Option<&LoadedPlugin> {
        self.plugins.get(gateway_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &LoadedPlugin> {
        self.plugins.values()
    }

    pub fn len(&self) -> usize {
        self.plugins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_accepts_its_own_minor_and_every_older_0x_minor_back_to_0_1_only() {
        let r = compatible_range();
        let host = renkei_sdk::sdk_version();
        assert!(r.matches(&host));
        let mut newer_patch = host.clone();
        newer_patch.patch += 5;
        assert!(r.matches(&newer_patch));
        let next_breaking = if host.major == 0 {
            Version::new(0, host.minor + 1, 0)
        } else {
            Version::new(host.major + 1, 0, 0)
        };
        assert!(!r.matches(&next_breaking));
        assert!(r.matches(&Version::new(0, 1, 0)));
        assert!(r.matches(&Version::new(0, 1, 3)));
        assert!(!r.matches(&Version::new(0, 0, 9)));
        assert!(!r.matches(&Version::new(1, 0, 0)));
        // Every version in the range has a root-module type to open it with.
        for v in [Version::new(0, 1, 0), host.clone(), newer_patch] {
            assert!(Abi::for_version(&v).is_some(), "{v}");
        }
        assert_eq!(Abi::for_version(&Version::new(0, 1, 0)), Some(Abi::V0_1));
        assert_eq!(Abi::for_version(&host), Some(Abi::Native));
        assert_eq!(Abi::for_version(&next_breaking), None);
    }

    fn manifest_json() -> serde_json::Value {
        serde_json::json!({
            "gateway_id": "x",
            "display_name": "X",
            "plugin_version": "1.0.0",
            "sdk_version": renkei_sdk::SDK_VERSION,
            "capabilities": {
                "operations": ["capture"],
                "partial_capture": false,
                "partial_refund": false,
                "amount_change": "unsupported",
                "inquiry": "unavailable",
                "replay_safe": []
            },
            "limits": {"min_amount": 1, "max_amount": 10, "currencies": ["JPY"]},
            "config": [{"name": "k", "kind": "string", "secret": true, "required": true, "description": ""}],
            "statuses": [
                {"code": "1", "label": "与信済", "state": {"state": "authorized"}, "terminal": false}
            ],
            "errors": []
        })
    }

    #[test]
    fn a_well_formed_manifest_is_accepted() {
        parse_manifest(Path::new("p.so"), &manifest_json().to_string()).unwrap();
    }

    #[test]
    fn manifests_with_bad_status_tables_or_config_types_are_refused() {
        let path = Path::new("p.so");
        let mut dup = manifest_json();
        let row = dup["statuses"][0].clone();
        dup["statuses"].as_array_mut().unwrap().push(row);
        assert!(matches!(
            parse_manifest(path, &dup.to_string()),
            Err(LoadError::InvalidManifest {
                source: ManifestError::DuplicateStatus(_),
                ..
            })
        ));

        let mut empty = manifest_json();
        empty["statuses"] = serde_json::json!([]);
        assert!(matches!(
            parse_manifest(path, &empty.to_string()),
            Err(LoadError::InvalidManifest {
                source: ManifestError::EmptyStatusTable,
                ..
            })
        ));

        let mut bad_kind = manifest_json();
        bad_kind["config"][0]["kind"] = "password".into();
        let err = parse_manifest(path, &bad_kind.to_string()).unwrap_err();
        assert!(matches!(err, LoadError::UnreadableManifest { .. }), "{err}");
        assert!(err.to_string().contains("p.so"));
    }
}
