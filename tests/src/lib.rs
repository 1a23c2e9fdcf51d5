//! Support for Renkei's integration tests and benchmarks: building the plugin libraries they
//! load.
//!
//! `cargo test` never builds `cdylib` artifacts (cargo #8311), and a build script cannot run cargo
//! on its own target directory without deadlocking. So the first test that needs a plugin runs
//! `cargo build -p <plugins>` itself, once per process, into the same target directory and
//! profile as the running test binary. `RENKEI_PLUGIN_DIR` points the tests at prebuilt
//! libraries instead (a vendor's, or a release build).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every library the tests load, by package name, and the `renkei` command line.
pub const BUILT_PACKAGES: &[&str] = &[
    "renkei-plugin-template",
    "renkei-plugin-sbps",
    "renkei-plugin-fregi",
    "renkei-fixture-faulty",
    "renkei-fixture-abi-next",
    "renkei-fixture-abi-skewed",
    "renkei-fixture-conformance-catch-all",
    "renkei-fixture-conformance-truncated-success",
    "renkei-fixture-conformance-logs-secret",
    "renkei-fixture-conformance-panics",
    "renkei-fixture-conformance-false-replay",
    "renkei-cli",
];

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
        let mut cmd = Command::new(env!("CARGO"));
        cmd.arg("build")
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", target_dir);
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
        if release {
            cmd.arg("--release");
        }
        for p in BUILT_PACKAGES {
            cmd.args(["-p", p]);
        }
        let status = cmd.status().expect("running cargo to build the plugins");
        assert!(
            status.success(),
            "building the test plugins failed: {status}"
        );
        profile_dir
    })
}

/// The path of a built plugin library, from its package name.
pub fn plugin_path(package: &str) -> PathBuf {
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let path = plugin_dir().join(file);
    assert!(path.exists(), "plugin library missing: {}", path.display());
    path
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
