//! The conformance suite, run as a vendor runs it: `renkei conformance PLUGIN --emulator …`, one
//! process per plugin (the host's per-library scrub counter and log sink are process-wide, so
//! separate processes keep the runs from seeing each other).
//!
//! The shipped plugins must be certified against their emulators, and each broken fixture must
//! be caught by exactly the check meant to catch it: a suite that passes everything, or fails
//! for the wrong reason, fails here.

use renkei_tests::{plugin_path, renkei_bin};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Runs the suite with `--json`; answers the exit code and the report.
fn certify(plugin: &Path, emulator: &str) -> (i32, Value) {
    let out = Command::new(renkei_bin())
        .arg("conformance")
        .arg(plugin)
        .args(["--emulator", emulator, "--json"])
        .output()
        .expect("renkei runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exited"), report)
}

fn ids_with(report: &Value, verdict: &str) -> BTreeSet<String> {
    report["checks"]
        .as_array()
        .expect("a checks array")
        .iter()
        .filter(|c| c["verdict"] == verdict)
        .map(|c| c["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn assert_certified(package: &str, emulator: &str) -> Value {
    let report = assert_library_certified(&plugin_path(package), package, emulator);
    // The shipped plugins declare their reads (a 0.1.0 plugin may declare none), and each was
    // held to them against the emulator's book.
    assert!(
        ids_with(&report, "pass").contains("effects.no-money-moved"),
        "{package}: effects.no-money-moved did not pass:\n{report:#}"
    );
    // Each emulator declines a token, and the plugin refuses it cleanly.
    assert!(
        ids_with(&report, "pass").contains("lifecycle.decline-retry"),
        "{package}: lifecycle.decline-retry did not pass:\n{report:#}"
    );
    report
}

/// The checks every certified plugin must pass, for a library at any path; `package` names it
/// in failures.
fn assert_library_certified(library: &Path, package: &str, emulator: &str) -> Value {
    let (code, report) = certify(library, emulator);
    assert_eq!(
        ids_with(&report, "fail"),
        BTreeSet::new(),
        "{package} must pass every check:\n{report:#}"
    );
    assert_eq!((code, &report["certified"]), (0, &Value::Bool(true)));
    // The run did real work: the lifecycle ran against the emulator and every bad reply was fed.
    let passed = ids_with(&report, "pass");
    for id in [
        "manifest.valid",
        "status.total",
        "status.unknown-code",
        "lifecycle.capture-refund",
        "lifecycle.authorize-void",
        "invariant.capture-after-void",
        "robustness.capture.truncated",
        "robustness.refund.random",
        "robustness.capture.cut-anywhere",
        "robustness.refund.cut-anywhere",
        "determinism.requests",
        "secrets.config-names",
        "secrets.logs",
        "panic.containment",
    ] {
        assert!(
            passed.contains(id),
            "{package}: {id} did not pass:\n{report:#}"
        );
    }
    report
}

/// The 0.2 host's promise to plugins in the field (`docs/abi.md`): the template plugin as built
/// against the frozen renkei-sdk 0.1.0 runs through compatibility and passes the whole suite.
#[test]
fn abi_the_0_1_0_template_plugin_is_certified_in_the_0_2_host() {
    let frozen = &renkei_tests::compat_0_1().template_plugin;
    let report = assert_library_certified(frozen, "template plugin 0.1.0", "template");
    assert_eq!(report["gateway_id"], "kumopay", "{report:#}");
}

#[test]
fn the_sbps_plugin_is_certified_against_its_emulator() {
    let report = assert_certified("renkei-plugin-sbps", "sbps");
    let passed = ids_with(&report, "pass");
    // SBPS declares capture and void replay-safe, amount changes and partial refunds.
    for id in [
        "replay.capture",
        "replay.void",
        "lifecycle.capture-higher",
        "lifecycle.partial-refund",
        "lifecycle.inquiry",
        // SBPS declares its order-id rules: the host issues them.
        "lifecycle.order-ids",
    ] {
        assert!(passed.contains(id), "{id}:\n{report:#}");
    }
}

#[test]
fn the_fregi_plugin_is_certified_against_its_emulator() {
    let report = assert_certified("renkei-plugin-fregi", "fregi");
    let skipped = ids_with(&report, "skip");
    // Only void is declared replay-safe: a capture replay is not claimed, so not checked.
    assert!(ids_with(&report, "pass").contains("replay.void"));
    assert!(skipped.contains("replay.capture"), "{report:#}");
}

/// Real F-REGI has no card inquiry (`docs/protocols/fregi.md` §3, §10.3): a real-shaped endpoint is the emulator
/// without its inquiry extension, configured like a production shop (no `inquiry_url`). The
/// configured instance does not offer inquire, so `capability.declared` must pass and
/// `capability.unsupported` must see inquire refused as unsupported (docs/protocols/fregi.md, inquiry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fregi_plugin_is_certified_against_a_real_shaped_endpoint_without_inquiry() {
    let emulator = renkei_emulator_fregi::FregiEmulator::start(renkei_emulator_fregi::Config {
        // No 21:00 batch during the run.
        auto_batch_at: None,
        ..renkei_emulator_fregi::Config::default()
    })
    .await
    .expect("emulator starts");
    let dir = std::env::temp_dir().join(format!("renkei-conformance-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = dir.join("fregi-real.toml");
    std::fs::write(
        &settings,
        format!(
            "[plugin]\nbase_url = \"{}\"\nshop_id = \"12345\"\n\n\
             [conformance]\ntoken = \"TESTTOKEN-OK\"\ncustomer = \"renkei-conformance\"\n\
             endpoint_key = \"base_url\"\n",
            emulator.base_url()
        ),
    )
    .unwrap();
    let plugin = plugin_path("renkei-plugin-fregi");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(renkei_bin())
            .arg("conformance")
            .arg(&plugin)
            .arg("--config")
            .arg(&settings)
            .arg("--json")
            .output()
            .expect("renkei runs")
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(ids_with(&report, "fail"), BTreeSet::new(), "{report:#}");
    assert_eq!(
        (out.status.code(), &report["certified"]),
        (Some(0), &Value::Bool(true)),
        "{report:#}"
    );
    let passed = ids_with(&report, "pass");
    for id in [
        "capability.declared",
        "capability.unsupported",
        "lifecycle.capture-refund",
        "lifecycle.authorize-void",
        "replay.void",
    ] {
        assert!(passed.contains(id), "{id} did not pass:\n{report:#}");
    }
    // Without the extension nothing can inquire: skipped, never passed.
    assert!(
        ids_with(&report, "skip").contains("lifecycle.inquiry"),
        "{report:#}"
    );
}

#[test]
fn the_template_plugin_is_certified_against_the_kumo_pay_emulator() {
    let report = assert_certified("renkei-plugin-template", "template");
    let skipped = &report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "lifecycle.capture-higher")
        .expect("reported")["reason"];
    // Inapplicable checks are skipped with the manifest's reason, never passed.
    assert!(
        skipped
            .as_str()
            .unwrap()
            .contains("amount changes unsupported"),
        "{skipped}"
    );
}

/// Each fixture is the template with one defect; only the check aimed at it may fail.
fn assert_caught(package: &str, expected: &[&str]) -> Value {
    let (code, report) = certify(&plugin_path(package), "template");
    let failed = ids_with(&report, "fail");
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(failed, expected, "{package}:\n{report:#}");
    assert_eq!(code, 1, "a failed required check exits 1");
    assert_eq!(report["certified"], false);
    for c in report["checks"].as_array().unwrap() {
        if c["verdict"] == "fail" {
            assert!(
                c["evidence"].as_array().is_some_and(|e| !e.is_empty()),
                "a failure carries evidence: {c}"
            );
        }
    }
    report
}

#[test]
fn a_catch_all_status_row_fails_status_total_and_the_unknown_code_probe() {
    assert_caught(
        "renkei-fixture-conformance-catch-all",
        &["status.total", "status.unknown-code"],
    );
}

/// Every cut point includes the half-body one, so `cut-anywhere` catches this defect too: both
/// checks fail, for every operation, and nothing else does.
#[test]
fn success_on_a_truncated_reply_fails_every_truncated_and_cut_anywhere_robustness_check() {
    let ops = ["authorize", "capture", "void", "refund", "inquire"];
    let expected: Vec<String> = ops
        .iter()
        .flat_map(|op| {
            [
                format!("robustness.{op}.truncated"),
                format!("robustness.{op}.cut-anywhere"),
            ]
        })
        .collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_caught("renkei-fixture-conformance-truncated-success", &expected);
}

/// Only the required check judges a credential-named key: the advisory `manifest.secret-names`
/// leaves it alone, so the one defect fails once.
#[test]
fn a_password_key_neither_secret_nor_explained_fails_secrets_config_names() {
    let report = assert_caught(
        "renkei-fixture-conformance-public-password",
        &["secrets.config-names"],
    );
    let text = report.to_string();
    assert!(text.contains("`api_password`"), "{text}");
}

/// A reply cut inside its last value must not read as a payment: the half-body `truncated`
/// reply lacks fields the template requires, so only the check that cuts everywhere catches the
/// repairing parser, and it does for every operation (each answers with a payment document).
#[test]
fn reading_a_reply_cut_inside_its_last_value_fails_cut_anywhere_for_every_operation() {
    let report = assert_caught(
        "renkei-fixture-conformance-cut-value",
        &[
            "robustness.authorize.cut-anywhere",
            "robustness.capture.cut-anywhere",
            "robustness.void.cut-anywhere",
            "robustness.refund.cut-anywhere",
            "robustness.inquire.cut-anywhere",
        ],
    );
    let text = report.to_string();
    assert!(text.contains("cut at byte"), "{text}");
    assert!(ids_with(&report, "pass").contains("robustness.capture.truncated"));
}

#[test]
fn a_logged_api_key_fails_secrets_logs_even_though_the_host_scrubbed_it() {
    let report = assert_caught("renkei-fixture-conformance-logs-secret", &["secrets.logs"]);
    // The evidence shows the scrubbed line, never the key itself.
    let text = report.to_string();
    assert!(!text.contains(renkei_conformance_canary()), "{text}");
    assert!(text.contains("API key [redacted]"), "{text}");
}

/// The Kumo Pay emulator's canary API key, as the suite configures it.
fn renkei_conformance_canary() -> &'static str {
    "CanaryApiKey-kumo-5Tg1Hs"
}

#[test]
fn a_plugin_panic_is_survived_and_fails_panic_containment() {
    let report = assert_caught("renkei-fixture-conformance-panics", &["panic.containment"]);
    let text = report.to_string();
    assert!(
        text.contains("the host hands back the state we wrote"),
        "{text}"
    );
}

/// A capture declared as moving no money would let a host book a lost capture as "nothing
/// happened"; only the gateway's book shows the lie.
#[test]
fn a_money_step_declared_as_moving_no_money_fails_effects_no_money_moved() {
    let report = assert_caught(
        "renkei-fixture-conformance-registers-capture",
        &["effects.no-money-moved"],
    );
    assert!(
        report
            .to_string()
            .contains("capture, step `capture` (registers)"),
        "{report:#}"
    );
}

/// Declaring order-id rules makes the host issue an id per attempt; a plugin that sends its own
/// anyway leaves a declined order blocked at a gateway that refuses a seen id.
#[test]
fn a_plugin_that_ignores_the_hosts_order_ids_fails_lifecycle_order_ids() {
    let report = assert_caught(
        "renkei-fixture-conformance-own-order-ids",
        &["lifecycle.order-ids"],
    );
    let text = report.to_string();
    assert!(
        text.contains("attempt 1: the authorization request does not carry"),
        "{text}"
    );
    assert!(
        text.contains("attempt 2: the authorization request does not carry"),
        "{text}"
    );
}

/// A decline read as an unreadable reply would send every declined card to review.
#[test]
fn a_decline_answered_as_unreadable_fails_lifecycle_decline_retry() {
    let report = assert_caught(
        "renkei-fixture-conformance-decline-review",
        &["lifecycle.decline-retry"],
    );
    assert!(
        report
            .to_string()
            .contains("sends a declined card to review"),
        "{report:#}"
    );
}

/// A per-payment secret kept in the handle must not also rest in the journaled reply.
#[test]
fn a_handle_secret_left_in_the_journaled_reply_fails_secrets_handle() {
    let report = assert_caught(
        "renkei-fixture-conformance-handle-in-reply",
        &["secrets.handle"],
    );
    assert!(
        report.to_string().contains("redact it in `journal_reply`"),
        "{report:#}"
    );
}

#[test]
fn a_false_replay_claim_fails_replay_refund() {
    assert_caught(
        "renkei-fixture-conformance-false-replay",
        &["replay.refund"],
    );
}

#[test]
fn a_file_that_is_no_plugin_fails_manifest_valid_and_skips_the_rest() {
    let not_a_plugin = renkei_bin();
    let (code, report) = certify(&not_a_plugin, "template");
    assert_eq!(code, 1);
    assert_eq!(
        ids_with(&report, "fail"),
        BTreeSet::from(["manifest.valid".to_owned()])
    );
    assert!(ids_with(&report, "pass").is_empty(), "{report:#}");
}

#[test]
fn the_readable_report_names_each_check_and_an_unusable_invocation_exits_2() {
    let out = Command::new(renkei_bin())
        .arg("conformance")
        .arg(plugin_path("renkei-fixture-conformance-false-replay"))
        .args(["--emulator", "template"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  replay.refund"), "{text}");
    assert!(text.contains("PASS  replay.capture"), "{text}");
    assert!(text.contains("NOT CERTIFIED"), "{text}");

    let out = Command::new(renkei_bin())
        .arg("conformance")
        .arg(plugin_path("renkei-plugin-template"))
        .args(["--emulator", "nosuchgateway"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown emulator"));
}
