//! The ABI across SDK versions (`docs/abi.md`): old plugins in the new host, the new plugin in an
//! old host, and libraries whose handshake this host cannot use.

use renkei_host::{LoadError, PluginRegistry};
use renkei_sdk::abi::handshake::HandshakeError;
use renkei_sdk::abi::load::{Abi, VersionSource};
use renkei_sdk::{
    ConfigValue, Context, Exchange, Money, Operation, OrderRef, Step, TransactionRef,
};
use renkei_tests::{compat_0_1, plugin_path};
use semver::Version;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn kumopay_values() -> BTreeMap<String, ConfigValue> {
    [
        ("endpoint", "http://127.0.0.1:9/v1"),
        ("merchant_id", "m_1"),
        ("api_key", "key-1"),
        ("signing_key", "sk_test"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v.to_owned())))
    .collect()
}

/// The first exchange a kumopay instance of the plugin at `path` prepares for a capture.
fn first_capture_exchange(path: &Path) -> Exchange {
    let mut registry = PluginRegistry::new();
    registry.load_file(path).unwrap();
    let instance = renkei_tests::instantiate(&registry, "k", "kumopay", kumopay_values());
    let op = Operation::Capture {
        order: OrderRef::new("100000924506"),
        transaction: TransactionRef::new("pay_1"),
        authorized: Money::jpy(1080),
        amount: None,
    };
    let ctx = Context::fixed(1_700_000_000_000, "100000924506:capture:1");
    match instance.prepare(&op, &ctx).unwrap() {
        Step::Send(x) => x,
        Step::Done(o) => panic!("a capture sends a request first, got {o:?}"),
    }
}

#[test]
fn abi_a_0_1_0_plugin_loads_in_the_0_2_host_through_compatibility() {
    let path = &compat_0_1().template_plugin;
    let mut registry = PluginRegistry::new();
    let plugin = registry.load_file(path).unwrap();
    assert_eq!(plugin.gateway_id(), "kumopay");
    assert_eq!(plugin.sdk_version(), &Version::new(0, 1, 0));
    assert_eq!(plugin.manifest().sdk_version, Version::new(0, 1, 0));
    assert_eq!(plugin.abi(), Abi::V0_1);
    // 0.1.0 plugins have no handshake: the version came from abi_stable's header.
    assert_eq!(plugin.version_source(), VersionSource::AbiStableHeader);
}

/// Opens `path` in today's host and asserts it came in as a 0.1 plugin through compatibility:
/// gateway `gateway`, SDK 0.1.0 read from abi_stable's header (0.1.0 has no handshake).
fn assert_loads_as_compat_0_1(path: &Path, gateway: &str) {
    let mut registry = PluginRegistry::new();
    let plugin = registry
        .load_file(path)
        .unwrap_or_else(|e| panic!("{} loads: {e}", path.display()));
    assert_eq!(plugin.gateway_id(), gateway);
    assert_eq!(plugin.sdk_version(), &Version::new(0, 1, 0));
    assert_eq!(plugin.manifest().sdk_version, Version::new(0, 1, 0));
    assert_eq!(plugin.abi(), Abi::V0_1);
    assert_eq!(plugin.version_source(), VersionSource::AbiStableHeader);
}

/// Issue 18: the SBPS plugin shipped at 0.1.0 (`compat/sbps-plugin-0.1.0`) is in the field.
#[test]
fn abi_the_0_1_0_sbps_plugin_loads_in_the_0_2_host_through_compatibility() {
    assert_loads_as_compat_0_1(&compat_0_1().sbps_plugin, "sbps");
}

/// Issue 18: the F-REGI plugin shipped at 0.1.0 (`compat/fregi-plugin-0.1.0`) is in the field.
#[test]
fn abi_the_0_1_0_fregi_plugin_loads_in_the_0_2_host_through_compatibility() {
    assert_loads_as_compat_0_1(&compat_0_1().fregi_plugin, "fregi");
}

#[test]
fn abi_a_0_1_0_plugin_translates_as_todays_build_of_the_same_source_does() {
    // The template's translation of a capture did not change between 0.1.0 and today: the
    // exchange that crosses the compatibility path (request, journal copy, continuation,
    // read-only flag) must be the native one, byte for byte.
    let old = first_capture_exchange(&compat_0_1().template_plugin);
    let native = first_capture_exchange(&plugin_path("renkei-plugin-template"));
    assert_eq!(old.step, "capture");
    assert_eq!(old, native);
}

#[test]
fn abi_a_0_2_plugin_names_its_sdk_through_the_handshake_and_runs_natively() {
    let mut registry = PluginRegistry::new();
    let plugin = registry
        .load_file(&plugin_path("renkei-plugin-template"))
        .unwrap();
    assert_eq!(plugin.sdk_version(), &renkei_sdk::sdk_version());
    assert_eq!(plugin.abi(), Abi::Native);
    assert_eq!(plugin.version_source(), VersionSource::Handshake);
}

#[test]
fn abi_a_handshake_naming_an_unknown_major_is_refused_before_abi_stable_is_read() {
    let path = plugin_path("renkei-fixture-handshake-future");
    match PluginRegistry::new().load_file(&path) {
        // The fixture has no abi_stable root module: `NotAPlugin` here would mean the host looked
        // for it before reading the handshake.
        Err(LoadError::IncompatibleSdk { found, .. }) => assert_eq!(found, Version::new(1, 0, 0)),
        other => panic!("expected IncompatibleSdk, got {other:?}"),
    }
}

#[test]
fn abi_a_handshake_without_the_magic_bytes_is_refused_as_unreadable() {
    let path = plugin_path("renkei-fixture-handshake-garbage");
    let err = PluginRegistry::new().load_file(&path).unwrap_err();
    match &err {
        LoadError::BadHandshake { reason, path: p } => {
            assert_eq!(reason, &HandshakeError::BadMagic);
            assert_eq!(p, &path);
        }
        other => panic!("expected BadHandshake, got {other:?}"),
    }
    assert!(err.to_string().contains("handshake"), "{err}");
}

/// What the 0.1.0 host stand-in printed for `library`, line by line; it must exit 0.
fn old_host_probe(library: &Path) -> Vec<String> {
    let out = Command::new(&compat_0_1().old_host_probe)
        .arg(library)
        .output()
        .expect("the probe runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the 0.1.0 loader crashed on {}:\n{stdout}\n{}",
        library.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

#[test]
fn abi_a_0_2_plugin_in_a_0_1_0_host_is_refused_by_name_not_crashed() {
    let lines = old_host_probe(&plugin_path("renkei-plugin-template"));
    assert_eq!(lines[0], "sdk_version=0.2.0", "{lines:?}");
    // The 0.1.0 host's semver policy refuses it first…
    assert!(lines[1].starts_with("policy=refused"), "{lines:?}");
    // …and the 0.1.0 loader itself refuses it with a named reason (abi_stable compares the
    // package versions of the root module's types), rather than calling into it.
    let init = &lines[2];
    assert!(
        init.starts_with("init=refused kind=Layout")
            || init.starts_with("init=refused kind=IncompatibleVersion"),
        "{lines:?}"
    );
}

#[test]
fn abi_the_old_host_probe_loads_a_0_1_0_plugin() {
    // The probe's control: the same 0.1.0 loader accepts a 0.1.0 plugin, so its refusal above is
    // about the version, not about the probe.
    let lines = old_host_probe(&compat_0_1().template_plugin);
    assert_eq!(
        lines,
        [
            "sdk_version=0.1.0",
            "policy=accepted",
            "init=loaded gateway=kumopay"
        ]
    );
}

/// The frozen gateway plugins are the 0.1.0 host's too: its loader (the probe) accepts them as
/// it accepts the template, so what the 0.2 host is tested against is what 0.1.0 hosts load.
#[test]
fn abi_the_old_host_probe_loads_the_0_1_0_sbps_and_fregi_plugins() {
    for (library, gateway) in [
        (&compat_0_1().sbps_plugin, "sbps"),
        (&compat_0_1().fregi_plugin, "fregi"),
    ] {
        assert_eq!(
            old_host_probe(library),
            [
                "sdk_version=0.1.0".to_owned(),
                "policy=accepted".to_owned(),
                format!("init=loaded gateway={gateway}"),
            ]
        );
    }
}
