//! `renkei certify PATH-OR-CRATE [--release] [--emulator NAME | --endpoint URL] [--config FILE]`:
//! builds a plugin crate, shows its tables (`renkei plugins show`) and runs the conformance suite
//! on it (`renkei conformance`), in one step and in the profile of the running `renkei`.
//!
//! A crate whose workspace has an emulator crate of the same folder name (`plugins/NAME` and
//! `emulators/NAME`, as `renkei new-plugin` lays them out) is certified against that emulator:
//! its binary is built, started, and the URL it prints first is the `--endpoint`.

use crate::conformance::ConformanceArgs;
use clap::Args;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};

#[derive(Args)]
pub struct CertifyArgs {
    /// A crate directory (holding Cargo.toml), a package name of the workspace, or a built
    /// plugin library (`.so`, `.dylib` or `.dll`, which is not rebuilt).
    target: String,
    /// Build with the release profile (default: the profile `renkei` itself was built with).
    #[arg(long)]
    release: bool,
    /// Run against a built-in loopback emulator: sbps, fregi, gmopg, template (Kumo Pay),
    /// template-form (Kumo Pay on the form wire, Shift_JIS) or template-xml (Kumo Pay on the XML
    /// wire, Shift_JIS).
    #[arg(long, conflicts_with = "endpoint")]
    emulator: Option<String>,
    /// Run against this endpoint URL (written to the plugin's URL config key).
    #[arg(long)]
    endpoint: Option<String>,
    /// Conformance settings (default: the crate's `conformance.toml`, when it has one).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Why a plugin could not be built or prepared for the suite. Names crates and packages, never
/// a configuration value.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    #[error("`{0}` is neither a crate directory (with a Cargo.toml), a plugin library nor a path")]
    NotFound(String),
    #[error("cannot read the crate manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("no package `{0}` in this workspace")]
    UnknownPackage(String),
    #[error("cannot run cargo for `{package}`: {source}")]
    Cargo {
        package: String,
        source: std::io::Error,
    },
    #[error("cannot read the workspace metadata: {0}")]
    Metadata(String),
    #[error("building `{package}` failed ({status})")]
    Build { package: String, status: String },
    #[error("building `{package}` produced no {what}")]
    NoArtifact { package: String, what: &'static str },
    #[error("the emulator `{package}` did not start: {reason}")]
    EmulatorStart { package: String, reason: String },
}

/// A crate of the workspace: its package name and directory.
struct Crate {
    package: String,
    dir: PathBuf,
    workspace_root: PathBuf,
}

pub fn run(args: CertifyArgs, out: &mut String) -> anyhow::Result<ExitCode> {
    let release = args.release || running_release();
    let mut given = Path::new(&args.target);
    // `plugins/NAME/Cargo.toml` names the crate, not a library.
    if given.file_name().is_some_and(|n| n == "Cargo.toml") {
        given = given.parent().unwrap_or(Path::new("."));
    }
    let mut config = args.config.clone();
    let mut emulator_crate = None;
    let library = if given.is_file() {
        given.to_path_buf()
    } else {
        let krate = if given.join("Cargo.toml").is_file() {
            crate_at(given)?
        } else if given.exists() || args.target.contains(['/', '\\']) {
            return Err(CertifyError::NotFound(args.target.clone()).into());
        } else {
            crate_named(&args.target)?
        };
        if config.is_none() {
            let file = krate.dir.join("conformance.toml");
            config = file.is_file().then_some(file);
        }
        if args.emulator.is_none() && args.endpoint.is_none() {
            let named = match &config {
                Some(file) => emulator_package(file)?,
                None => None,
            };
            emulator_crate = match named {
                Some(package) => Some(member_named(&krate.workspace_root, &package)?),
                None => sibling_emulator(&krate)?,
            };
        }
        build_library(&krate.package, &krate.dir, release)?
    };

    // The emulator outlives the suite and is killed when this guard drops, error or not.
    let emulator = match &emulator_crate {
        Some(krate) => {
            let exe = build_executable(&krate.package, &krate.dir, release)?;
            Some(EmulatorProcess::start(&krate.package, &exe)?)
        }
        None => None,
    };

    crate::plugins::show_file(&library, out)?;
    out.push('\n');
    let conformance = ConformanceArgs {
        plugin: library,
        emulator: args.emulator,
        endpoint: args
            .endpoint
            .or_else(|| emulator.as_ref().map(|e| e.url.clone())),
        config,
        json: false,
    };
    let code = crate::conformance::run(conformance, out);
    drop(emulator);
    code
}

/// Whether the running `renkei` is a release build: cargo puts it in `<target>/release`.
fn running_release() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .and_then(Path::file_name)
                .map(|n| n == "release")
        })
        .unwrap_or(false)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The crate whose manifest is in `dir`.
fn crate_at(dir: &Path) -> Result<Crate, CertifyError> {
    let path = dir.join("Cargo.toml");
    let manifest_error = |reason: String| CertifyError::Manifest {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| manifest_error(e.to_string()))?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| manifest_error(e.message().into()))?;
    let package = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| manifest_error("no [package] name".into()))?
        .to_owned();
    let dir = dir
        .canonicalize()
        .map_err(|e| manifest_error(e.to_string()))?;
    let workspace_root = metadata(&dir, &package)?.workspace_root;
    Ok(Crate {
        package,
        dir,
        workspace_root,
    })
}

/// The crate of the current workspace named `package`.
fn crate_named(package: &str) -> Result<Crate, CertifyError> {
    let cwd = std::env::current_dir().map_err(|e| CertifyError::Metadata(e.to_string()))?;
    member_named(&cwd, package)
}

/// The crate named `package` of the workspace `dir` is in.
fn member_named(dir: &Path, package: &str) -> Result<Crate, CertifyError> {
    let meta = metadata(dir, package)?;
    let dir = meta
        .packages
        .iter()
        .find(|(name, _)| name == package)
        .map(|(_, dir)| dir.clone())
        .ok_or_else(|| CertifyError::UnknownPackage(package.to_owned()))?;
    Ok(Crate {
        package: package.to_owned(),
        dir,
        workspace_root: meta.workspace_root,
    })
}

struct Metadata {
    workspace_root: PathBuf,
    /// Workspace members: package name and crate directory.
    packages: Vec<(String, PathBuf)>,
}

/// `cargo metadata --no-deps` run in `dir`.
fn metadata(dir: &Path, package: &str) -> Result<Metadata, CertifyError> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| CertifyError::Cargo {
            package: package.to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(CertifyError::Metadata(format!(
            "cargo metadata failed ({})",
            output.status
        )));
    }
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| CertifyError::Metadata(e.to_string()))?;
    let workspace_root = doc["workspace_root"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| CertifyError::Metadata("no workspace_root".into()))?;
    let packages = doc["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            let manifest = Path::new(p["manifest_path"].as_str()?);
            Some((name.to_owned(), manifest.parent()?.to_path_buf()))
        })
        .collect();
    Ok(Metadata {
        workspace_root,
        packages,
    })
}

/// The `[certify] emulator_package` a settings file names, if any. Errors name the file and the
/// key, never a value (the file holds secrets).
fn emulator_package(file: &Path) -> Result<Option<String>, CertifyError> {
    let manifest_error = |reason: String| CertifyError::Manifest {
        path: file.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(file).map_err(|e| manifest_error(e.to_string()))?;
    emulator_package_in(&text).map_err(manifest_error)
}

fn emulator_package_in(text: &str) -> Result<Option<String>, String> {
    // The message alone: toml's full display quotes the line back, with its secrets.
    let doc: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    match doc.get("certify").and_then(|c| c.get("emulator_package")) {
        None => Ok(None),
        Some(toml::Value::String(package)) => Ok(Some(package.clone())),
        Some(_) => Err("`certify.emulator_package` must be a package name (a string)".into()),
    }
}

/// `emulators/NAME` of the crate's workspace, for a crate in a folder `NAME`, when it is a crate
/// with a binary (`src/main.rs`).
fn sibling_emulator(krate: &Crate) -> Result<Option<Crate>, CertifyError> {
    let Some(name) = krate.dir.file_name() else {
        return Ok(None);
    };
    let dir = krate.workspace_root.join("emulators").join(name);
    if !dir.join("src/main.rs").is_file() || !dir.join("Cargo.toml").is_file() {
        return Ok(None);
    }
    crate_at(&dir).map(Some)
}

/// `cargo build -p PACKAGE` in the crate's directory; answers the paths of the artifacts whose
/// kind `pick` accepts.
fn build(
    package: &str,
    dir: &Path,
    release: bool,
    pick: impl Fn(&serde_json::Value) -> Option<PathBuf>,
) -> Result<Vec<PathBuf>, CertifyError> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "-p",
        package,
        "--message-format=json-render-diagnostics",
    ])
    .current_dir(dir)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if release {
        cmd.arg("--release");
    }
    let output = cmd.output().map_err(|source| CertifyError::Cargo {
        package: package.to_owned(),
        source,
    })?;
    if !output.status.success() {
        return Err(CertifyError::Build {
            package: package.to_owned(),
            status: output.status.to_string(),
        });
    }
    let target_name = package.replace('-', "_");
    Ok(output
        .stdout
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"]
                    .as_str()
                    .is_some_and(|n| n.replace('-', "_") == target_name)
        })
        .filter_map(|m| pick(&m))
        .collect())
}

/// Builds a plugin crate and answers its dynamic library.
fn build_library(package: &str, dir: &Path, release: bool) -> Result<PathBuf, CertifyError> {
    let suffix = std::env::consts::DLL_SUFFIX;
    let found = build(package, dir, release, |m| {
        let is_cdylib = m["target"]["crate_types"]
            .as_array()
            .is_some_and(|t| t.iter().any(|k| k == "cdylib"));
        if !is_cdylib {
            return None;
        }
        m["filenames"]
            .as_array()?
            .iter()
            .filter_map(serde_json::Value::as_str)
            .find(|f| f.ends_with(suffix))
            .map(PathBuf::from)
    })?;
    found
        .into_iter()
        .next()
        .ok_or_else(|| CertifyError::NoArtifact {
            package: package.to_owned(),
            what: "plugin library (is its crate-type cdylib?)",
        })
}

/// Builds an emulator crate and answers its executable.
fn build_executable(package: &str, dir: &Path, release: bool) -> Result<PathBuf, CertifyError> {
    let found = build(package, dir, release, |m| {
        m["executable"].as_str().map(PathBuf::from)
    })?;
    found
        .into_iter()
        .next()
        .ok_or_else(|| CertifyError::NoArtifact {
            package: package.to_owned(),
            what: "executable",
        })
}

/// A started emulator process, killed when dropped.
struct EmulatorProcess {
    child: Child,
    url: String,
    /// Kept open: the emulator may print more, and a closed pipe would end it.
    stdout: BufReader<ChildStdout>,
}

impl EmulatorProcess {
    fn start(package: &str, exe: &Path) -> Result<EmulatorProcess, CertifyError> {
        let failed = |reason: String| CertifyError::EmulatorStart {
            package: package.to_owned(),
            reason,
        };
        let mut child = Command::new(exe)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| failed(e.to_string()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed("no standard output".into()));
        };
        // From here on the guard owns the child: an early return kills it.
        let mut process = EmulatorProcess {
            child,
            url: String::new(),
            stdout: BufReader::new(stdout),
        };
        let mut line = String::new();
        match process.stdout.read_line(&mut line) {
            Ok(0) => return Err(failed("it exited before printing its endpoint".into())),
            Ok(_) => {}
            Err(e) => return Err(failed(e.to_string())),
        }
        let url = line.trim();
        if !url.starts_with("http://") {
            return Err(failed(
                "its first line of output is not an http:// endpoint URL".into(),
            ));
        }
        process.url = url.to_owned();
        Ok(process)
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_may_name_the_emulator_package() {
        assert_eq!(
            emulator_package_in("[certify]\nemulator_package = \"renkei-emulator-x\"\n"),
            Ok(Some("renkei-emulator-x".to_owned()))
        );
        assert_eq!(emulator_package_in("[plugin]\napi_key = \"k\"\n"), Ok(None));
        let e = emulator_package_in("[certify]\nemulator_package = 3\n").unwrap_err();
        assert!(e.contains("certify.emulator_package"), "{e}");
        let e = emulator_package_in("[plugin]\napi_key = \"sk_canary\n").unwrap_err();
        assert!(!e.contains("sk_canary"), "{e}");
    }
}
