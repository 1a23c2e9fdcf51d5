use crate::support::{capturing_subscriber, registry_of};
use renkei_host::{GatewaySection, InstanceError, LoadError, PluginRegistry};
use renkei_sdk::{
    ConfigError, ConfigValue, Context, ErrorKind, HttpResponse, Method, Money, Operation, OrderRef,
    PaymentState, Settlement, Step, TransactionRef,
};
use renkei_tests::plugin_path;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CANARY: &str = "canary-7f3a9c";

fn section(plugin: &str, values: &[(&str, &str)]) -> GatewaySection {
    GatewaySection {
        plugin: plugin.into(),
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), ConfigValue::Text(v.to_string())))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn kumopay_section() -> GatewaySection {
    section(
        "kumopay",
        &[
            ("endpoint", "http://127.0.0.1:9/v1"),
            ("merchant_id", "m_1"),
            ("api_key", CANARY),
            ("signing_key", "sk_test"),
        ],
    )
}

fn capture() -> Operation {
    Operation::Capture {
        order: OrderRef::new("100000924506"),
        transaction: TransactionRef::new("pay_1"),
        authorized: Money::jpy(1080),
        amount: None,
    }
}

fn order(code: &str) -> Operation {
    Operation::Capture {
        order: OrderRef::new(code),
        transaction: TransactionRef::new("t1"),
        authorized: Money::jpy(10),
        amount: None,
    }
}

fn ctx() -> Context<'static> {
    Context::fixed(1_700_000_000_000, "100000924506:capture:1")
}

/// A scratch directory unique to one test.
fn scratch(name: &str) -> PathBuf {
    crate::support::scratch_dir(name)
}

fn copy_as(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(format!("{name}.{}", std::env::consts::DLL_EXTENSION));
    std::fs::copy(src, &dst).unwrap();
    dst
}

/// Runs `f` with everything the host's `tracing` emits on this thread captured.
fn capturing<T>(f: impl FnOnce() -> T) -> (T, String) {
    let (subscriber, out) = capturing_subscriber();
    let value = tracing::subscriber::with_default(subscriber, f);
    (value, out.text())
}

#[test]
fn template_plugin_loads_from_its_cdylib_and_translates_a_capture() {
    let mut registry = PluginRegistry::new();
    let plugin = registry
        .load_file(&plugin_path("renkei-plugin-template"))
        .unwrap();
    assert_eq!(plugin.gateway_id(), "kumopay");
    assert_eq!(plugin.manifest().sdk_version, renkei_sdk::sdk_version());
    let gw = registry.instantiate("main", &kumopay_section()).unwrap();

    let Step::Send(x) = gw.prepare(&capture(), &ctx()).unwrap() else {
        panic!("capture starts with a request");
    };
    assert_eq!(x.request.method, Method::Post);
    assert_eq!(
        x.request.url,
        "http://127.0.0.1:9/v1/payments/pay_1/capture"
    );
    assert_eq!(x.step, "capture");

    let reply = HttpResponse::new(
        200,
        br#"{"id":"pay_1","status":"captured","currency":"JPY","amount":1080,"captured":1080}"#
            .to_vec(),
    );
    let Step::Done(outcome) = gw.interpret(&capture(), &ctx(), &x.state, &reply).unwrap() else {
        panic!("capture is one exchange");
    };
    assert_eq!(
        outcome.state,
        PaymentState::Captured {
            settlement: Settlement::NotReported
        }
    );
    assert_eq!(outcome.captured, Some(Money::jpy(1080)));
}

#[test]
fn two_plugins_of_one_interface_each_load_as_themselves() {
    // abi_stable's load_from_file would hand back the first module for the second path.
    let registry = registry_of(&["renkei-plugin-template", "renkei-fixture-faulty"]);
    let ids: Vec<_> = registry.iter().map(|p| p.gateway_id().to_owned()).collect();
    assert_eq!(ids, ["faulty", "kumopay"]);
    let faulty = registry
        .instantiate("f", &section("faulty", &[("password", "pw-123456")]))
        .unwrap();
    let Step::Send(x) = faulty.prepare(&order("ok"), &ctx()).unwrap() else {
        panic!()
    };
    assert_eq!(x.step, "ping");
}

#[test]
fn a_plugin_built_for_the_next_breaking_sdk_is_refused_by_semver() {
    let path = plugin_path("renkei-fixture-abi-next");
    match PluginRegistry::new().load_file(&path) {
        Err(LoadError::IncompatibleSdk { found, path: p, .. }) => {
            assert_eq!(found, semver::Version::new(0, 3, 0));
            assert_eq!(p, path);
        }
        other => panic!("expected IncompatibleSdk, got {other:?}"),
    }
}

#[test]
fn a_plugin_with_another_abi_layout_is_refused() {
    let err = PluginRegistry::new()
        .load_file(&plugin_path("renkei-fixture-abi-skewed"))
        .unwrap_err();
    assert!(matches!(err, LoadError::AbiMismatch { .. }), "{err:?}");
    assert!(
        err.to_string().contains("renkei_fixture_abi_skewed"),
        "{err}"
    );
}

#[test]
fn random_bytes_and_a_truncated_plugin_are_refused_not_loaded() {
    let dir = scratch("garbage");
    let random = dir.join(format!("librandom.{}", std::env::consts::DLL_EXTENSION));
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let bytes: Vec<u8> = (0..65_536)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    std::fs::write(&random, bytes).unwrap();
    let err = PluginRegistry::new().load_file(&random).unwrap_err();
    assert!(matches!(err, LoadError::NotALibrary { .. }), "{err:?}");

    // Cut inside the loadable segments (not just the trailing debug info, which a library can
    // lose and still work): handing such a file to dlopen would end in SIGBUS.
    let real = std::fs::read(plugin_path("renkei-plugin-template")).unwrap();
    for cut in [0, 64, 4096, 200_000] {
        let truncated = dir.join(format!(
            "libtruncated{cut}.{}",
            std::env::consts::DLL_EXTENSION
        ));
        std::fs::write(&truncated, &real[..cut.min(real.len() / 2)]).unwrap();
        let err = PluginRegistry::new().load_file(&truncated).unwrap_err();
        assert!(
            matches!(err, LoadError::NotALibrary { .. }),
            "{cut}: {err:?}"
        );
        assert!(err.to_string().contains("libtruncated"), "{err}");
    }
}

#[test]
fn a_library_that_is_not_a_renkei_plugin_is_refused() {
    // Any real shared library without Renkei's root module: the C maths library.
    let libm = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib64/libm.so.6",
        "/usr/lib64/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.exists())
    .expect("no libm found in the usual places");
    let err = PluginRegistry::new().load_file(libm).unwrap_err();
    assert!(matches!(err, LoadError::NotAPlugin { .. }), "{err:?}");
}

#[test]
fn two_plugins_claiming_one_gateway_id_are_refused() {
    let dir = scratch("dup");
    let src = plugin_path("renkei-plugin-template");
    let a = copy_as(&src, &dir, "libkumo_a");
    let b = copy_as(&src, &dir, "libkumo_b");
    let mut registry = PluginRegistry::new();
    registry.load_file(&a).unwrap();
    match registry.load_file(&b) {
        Err(LoadError::DuplicateGateway {
            gateway_id, other, ..
        }) => {
            assert_eq!(gateway_id, "kumopay");
            assert_eq!(other, a);
        }
        other => panic!("expected DuplicateGateway, got {other:?}"),
    }
}

#[test]
fn loading_a_directory_reports_refusals_and_keeps_going() {
    let dir = scratch("dir");
    copy_as(&plugin_path("renkei-fixture-abi-next"), &dir, "liba_next");
    copy_as(&plugin_path("renkei-plugin-template"), &dir, "libb_kumo");
    std::fs::write(dir.join("README.txt"), "not a library").unwrap();
    let mut registry = PluginRegistry::new();
    let report = registry.load_dir(&dir).unwrap();
    assert_eq!(report.loaded, ["kumopay"]);
    assert_eq!(report.refused.len(), 1);
    assert!(matches!(
        report.refused[0],
        LoadError::IncompatibleSdk { .. }
    ));
}

#[test]
fn config_with_a_missing_or_an_unknown_key_is_a_clear_error() {
    let registry = registry_of(&["renkei-plugin-template"]);
    let mut missing = kumopay_section();
    missing.values.remove("signing_key");
    match registry.instantiate("main", &missing) {
        Err(InstanceError::Config {
            source: ConfigError::Missing { key },
            ..
        }) => assert_eq!(key, "signing_key"),
        other => panic!("{other:?}"),
    }
    let mut extra = kumopay_section();
    extra
        .values
        .insert("colour".into(), ConfigValue::Text("blue".into()));
    let err = registry.instantiate("main", &extra).unwrap_err();
    assert!(matches!(
        err,
        InstanceError::Config {
            source: ConfigError::Unknown { .. },
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "gateway `main`: unknown config key `colour` (not declared by the plugin's manifest)"
    );
    let err = registry
        .instantiate("main", &section("nope", &[]))
        .unwrap_err();
    assert!(matches!(err, InstanceError::UnknownPlugin { .. }));
}

#[test]
fn a_panicking_plugin_returns_a_typed_error_and_the_host_serves_the_next_call() {
    let registry = registry_of(&["renkei-fixture-faulty"]);
    let gw = registry
        .instantiate("f", &section("faulty", &[("password", "pw-123456")]))
        .unwrap();

    let err = gw.prepare(&order("panic"), &ctx()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Panicked);
    assert!(err.message.contains("cannot handle this order"), "{err}");

    // The same instance keeps working.
    let Step::Send(x) = gw.prepare(&order("ok"), &ctx()).unwrap() else {
        panic!()
    };
    // A panic while reading a reply is caught too.
    let err = gw
        .interpret(
            &order("ok"),
            &ctx(),
            &x.state,
            &HttpResponse::new(500, vec![]),
        )
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Panicked);
    let Step::Done(o) = gw
        .interpret(
            &order("ok"),
            &ctx(),
            &x.state,
            &HttpResponse::new(200, vec![]),
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(o.state, PaymentState::Authorized);
}

#[test]
fn plugin_tracing_events_and_spans_reach_the_host_subscriber() {
    let registry = registry_of(&["renkei-fixture-faulty"]);
    let gw = registry
        .instantiate("f", &section("faulty", &[("password", "pw-123456")]))
        .unwrap();
    let (_, logs) = capturing(|| {
        let span = tracing::info_span!("gateway_op", op = "capture");
        let _e = span.enter();
        gw.prepare(&order("traced-order"), &ctx()).unwrap();
    });
    assert!(logs.contains("faulty plugin preparing"), "{logs}");
    assert!(
        logs.contains("plugin=faulty") || logs.contains("plugin=\"faulty\""),
        "{logs}"
    );
    // The plugin's own span and the host's span around the call both frame the event.
    assert!(logs.contains("gateway_op"), "{logs}");
    assert!(logs.contains("faulty_prepare"), "{logs}");
    assert!(logs.contains("traced-order"), "{logs}");
}

#[test]
fn a_configured_secret_never_reaches_debug_output_errors_or_logs() {
    let registry = registry_of(&["renkei-fixture-faulty", "renkei-plugin-template"]);
    let (texts, logs) = capturing(|| {
        let mut texts = Vec::new();
        let faulty = registry
            .instantiate("f", &section("faulty", &[("password", CANARY)]))
            .unwrap();
        // The careless plugin formats its secret into a panic and into an error.
        texts.push(
            faulty
                .prepare(&order("panic"), &ctx())
                .unwrap_err()
                .to_string(),
        );
        texts.push(format!(
            "{:?}",
            faulty.prepare(&order("leak"), &ctx()).unwrap_err()
        ));
        texts.push(format!("{faulty:?}"));
        let kumo = registry.instantiate("k", &kumopay_section()).unwrap();
        texts.push(format!("{kumo:?}"));
        if let Step::Send(x) = kumo.prepare(&capture(), &ctx()).unwrap() {
            texts.push(format!("{:?}", x.request));
            texts.push(x.journal_body.unwrap_or_default().into_string());
        }
        // A wrongly typed secret is refused without echoing it.
        let mut bad = kumopay_section();
        bad.values.insert("api_key".into(), ConfigValue::Integer(1));
        texts.push(registry.instantiate("k", &bad).unwrap_err().to_string());
        texts.push(format!("{registry:?}"));
        texts
    });
    assert!(
        logs.contains("plugin panicked"),
        "the panic is logged: {logs}"
    );
    for text in texts.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(CANARY), "secret leaked into: {text}");
    }
}
