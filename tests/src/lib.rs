//! Support for Renkei's integration tests and benchmarks: building the plugin libraries they
//! load.
//!
//! `cargo test` never builds `cdylib` artifacts (cargo #8311), and a build script cannot run cargo
//! on its own target directory without deadlocking. So the first test that needs a plugin runs
//! `cargo build -p <plugins>` itself, once per process, into the same target directory and
//! profile as the running test binary. `RENKEI_PLUGIN_DIR` points the tests at prebuilt
//! libraries instead (a vendor's, or a release build).

use renkei_host::{GatewayInstance, GatewaySection, PluginRegistry};
use renkei_sdk::ConfigValue;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the libraries the tests load live: every `cdylib` crate directly under these folders
/// (the shipped plugins, the template, and the deliberately broken fixtures) is built. A new
/// fixture is picked up by being there; the workspace finds it by the same glob.
const PLUGIN_FOLDERS: &[&str] = &["plugins", "examples", "tests/fixtures"];

/// Every package the tests build: each plugin library found in [`PLUGIN_FOLDERS`], and the
/// `renkei` command line.
pub fn built_packages() -> Vec<String> {
    let root = workspace_root();
    let mut packages = Vec::new();
    for folder in PLUGIN_FOLDERS {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(manifest) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else {
                continue;
            };
            if let Some(name) = cdylib_package_name(&manifest) {
                packages.push(name);
            }
        }
    }
    packages.sort();
    packages.push("renkei-cli".to_owned());
    packages
}

/// The package name of a manifest whose library is a `cdylib`, read without a TOML parser: the
/// manifests in this workspace write both on one line each.
fn cdylib_package_name(manifest: &str) -> Option<String> {
    let is_cdylib = manifest
        .lines()
        .any(|l| l.trim_start().starts_with("crate-type") && l.contains("\"cdylib\""));
    if !is_cdylib {
        return None;
    }
    let name_line = manifest
        .lines()
        .skip_while(|l| l.trim() != "[package]")
        .find(|l| l.trim_start().starts_with("name"))?;
    let name = name_line.split('"').nth(1)?;
    Some(name.to_owned())
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// The directory holding the built plugin libraries, building them on first use.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("RENKEI_PLUGIN_DIR") {
            return PathBuf::from(dir);
        }
        // The test binary is <target>/<profile>/deps/<name>; plugins go to <target>/<profile>.
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary inside <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("profile dir inside target dir");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = cargo_build(target_dir);
        if release {
            cmd.arg("--release");
        }
        for p in built_packages() {
            cmd.args(["-p", &p]);
        }
        let status = cmd.status().expect("running cargo to build the plugins");
        assert!(
            status.success(),
            "building the test plugins failed: {status}"
        );
        profile_dir
    })
}

/// `cargo build` in the workspace root into `target_dir`, without the variables cargo set for the
/// running test.
fn cargo_build(target_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("build")
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir);
    clear_cargo_test_env(&mut cmd);
    cmd
}

/// Removes the variables cargo set for the running test from a command that runs cargo.
fn clear_cargo_test_env(cmd: &mut Command) {
    // Cargo sets these for the running test (its package's name, version, manifest…). Passed
    // on, they differ from what the outer build saw, and build scripts that watch them (ring's)
    // rebuild half the dependency tree here and again on the next outer build.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            )
        {
            cmd.env_remove(key);
        }
    }
}

/// `renkei` run in `dir` with what `renkei certify` needs to build into the running test's
/// target directory: `CARGO_TARGET_DIR` set, the test's own cargo variables removed.
pub fn renkei_building_in(dir: &Path) -> Command {
    building_in(renkei_bin(), dir)
}

/// `cargo` run in `dir`, building into the running test's target directory as
/// [`renkei_building_in`] does (e.g. to run a scaffolded crate's unit tests).
pub fn cargo_building_in(dir: &Path) -> Command {
    building_in(env!("CARGO").into(), dir)
}

fn building_in(program: PathBuf, dir: &Path) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let target_dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("test binary inside <target>/<profile>/deps");
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RENKEI_PLUGIN_DIR");
    clear_cargo_test_env(&mut cmd);
    cmd
}

/// What is built against the frozen renkei-sdk 0.1.0 (`compat/README.md`): the plugins in the
/// field and a stand-in for a 0.1.0 host.
pub struct Compat01 {
    /// The template plugin as shipped at 0.1.0.
    pub template_plugin: PathBuf,
    /// The SBPS plugin as shipped at 0.1.0.
    pub sbps_plugin: PathBuf,
    /// The F-REGI plugin as shipped at 0.1.0.
    pub fregi_plugin: PathBuf,
    /// `renkei-old-host-probe`: opens a library with the 0.1.0 SDK's loader.
    pub old_host_probe: PathBuf,
}

/// Builds the `compat/` crates on first use, each as its own workspace, into one target directory
/// next to the running test's profile (`<target>/compat-0.1.0`, always the dev profile: the ABI
/// does not depend on it; benchmarks take [`compat_0_1_release_template`]). Kept across runs, so
/// only the first build pays for abi_stable.
pub fn compat_0_1() -> &'static Compat01 {
    static BUILT: OnceLock<Compat01> = OnceLock::new();
    BUILT.get_or_init(|| {
        let debug = build_compat_0_1(
            &[
                "template-plugin-0.1.0",
                "sbps-plugin-0.1.0",
                "fregi-plugin-0.1.0",
                "old-host-probe",
            ],
            false,
        );
        let built = Compat01 {
            template_plugin: debug.join(compat_template_file()),
            sbps_plugin: debug.join(library_file("renkei_plugin_sbps")),
            fregi_plugin: debug.join(library_file("renkei_plugin_fregi")),
            old_host_probe: debug.join(format!(
                "renkei-old-host-probe{}",
                std::env::consts::EXE_SUFFIX
            )),
        };
        for path in [
            &built.template_plugin,
            &built.sbps_plugin,
            &built.fregi_plugin,
            &built.old_host_probe,
        ] {
            assert!(path.exists(), "compat build missing: {}", path.display());
        }
        built
    })
}

/// The frozen 0.1.0 template plugin built with the release profile, for the benchmarks that time
/// the compatibility path against native and static code, which are optimised too. Built the way
/// [`compat_0_1`] builds, into the same `<target>/compat-0.1.0`, under `release/`.
pub fn compat_0_1_release_template() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let path = build_compat_0_1(&["template-plugin-0.1.0"], true).join(compat_template_file());
        assert!(path.exists(), "compat build missing: {}", path.display());
        path
    })
}

/// The file name of the frozen template plugin's library.
fn compat_template_file() -> String {
    library_file("renkei_plugin_template")
}

/// The file name of the dynamic library of crate `name` (underscores) on this platform.
fn library_file(name: &str) -> String {
    format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Builds `krates` of `compat/` (`--locked`, each its own workspace) into
/// `<target>/compat-0.1.0`, and returns the profile directory holding them. A release build
/// takes the workspace's `[profile.release]` settings too, which the frozen crates' own
/// workspaces do not have, so that its code is built as the workspace's plugins are.
fn build_compat_0_1(krates: &[&str], release: bool) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let target_dir = exe
        .ancestors()
        .nth(3)
        .expect("test binary inside <target>/<profile>/deps")
        .join("compat-0.1.0");
    for krate in krates {
        let manifest = workspace_root()
            .join("compat")
            .join(krate)
            .join("Cargo.toml");
        let mut cmd = cargo_build(&target_dir);
        cmd.arg("--locked").arg("--manifest-path").arg(&manifest);
        if release {
            // As the workspace's Cargo.toml sets it.
            cmd.args([
                "--release",
                "--config",
                "profile.release.debug=\"line-tables-only\"",
            ]);
        }
        let status = cmd.status().expect("running cargo to build a compat crate");
        assert!(status.success(), "building compat/{krate} failed: {status}");
    }
    target_dir.join(if release { "release" } else { "debug" })
}

/// The path of a built plugin library, from its package name.
pub fn plugin_path(package: &str) -> PathBuf {
    let path = plugin_dir().join(library_file(&package.replace('-', "_")));
    assert!(path.exists(), "plugin library missing: {}", path.display());
    path
}

/// A registry with each of `packages`' built libraries loaded, in that order.
pub fn registry_of(packages: &[&str]) -> PluginRegistry {
    let mut registry = PluginRegistry::new();
    for package in packages {
        registry
            .load_file(&plugin_path(package))
            .unwrap_or_else(|e| panic!("{package} loads: {e}"));
    }
    registry
}

/// An instance named `name` of the loaded plugin `plugin`, configured with `values`.
pub fn instantiate(
    registry: &PluginRegistry,
    name: &str,
    plugin: &str,
    values: BTreeMap<String, ConfigValue>,
) -> GatewayInstance {
    registry
        .instantiate(
            name,
            &GatewaySection {
                plugin: plugin.into(),
                values,
            },
        )
        .unwrap_or_else(|e| panic!("instance {name} of {plugin}: {e}"))
}

/// The `renkei` executable built next to the plugins.
pub fn renkei_bin() -> PathBuf {
    let path = plugin_dir().join(format!("renkei{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "renkei executable missing: {}",
        path.display()
    );
    path
}

/// Host and plugin settings that make an SBPS instance settle unknown outcomes within a test's
/// patience: requests expire at SBPS after 2 s (`limit_second`; 1 s could expire a request that
/// crosses a second boundary, since `request_date` has whole seconds) and the host allows 300 ms
/// of clock difference before it inquires. The rule is the production one; only the numbers
/// are small.
pub const SBPS_TEST_TIMING: [(&str, &str); 2] = [("limit_second", "2"), ("clock_skew_ms", "300")];

/// The F-REGI `SEQNO` of a reference the F-REGI plugin hands the host (`SEQNO-AUTHCODE`, or a
/// legacy bare `SEQNO`), for tests that ask the emulator about the transaction by its SEQNO.
/// Written here, not borrowed from the plugin: the tests check the plugin's format.
pub fn fregi_seqno(reference: &str) -> &str {
    reference
        .split_once('-')
        .map_or(reference, |(seqno, _)| seqno)
}
