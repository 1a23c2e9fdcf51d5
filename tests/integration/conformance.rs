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
    assert_report(package, code, report, &[], &[])
}

/// A suite's report for `package` that exited with `code`: exactly the checks of `known` failed,
/// each with evidence containing its text, every other check of the certified list passed, and
/// the plugin is certified (exit 0) exactly when nothing failed. `known` is for plugins already
/// in the field, whose failures are recorded rather than fixed (`docs/abi.md`, the test matrix);
/// `not_run` names checks of that list that skip because of them.
fn assert_report(
    package: &str,
    code: i32,
    report: Value,
    known: &[(&str, &str)],
    not_run: &[&str],
) -> Value {
    let expected: BTreeSet<String> = known.iter().map(|(id, _)| (*id).to_owned()).collect();
    assert_eq!(
        ids_with(&report, "fail"),
        expected,
        "{package} must pass every check but {expected:?}:\n{report:#}"
    );
    for (id, text) in known {
        let check = report["checks"]
            .as_array()
            .expect("a checks array")
            .iter()
            .find(|c| c["id"] == *id)
            .expect("the failed check is in the report");
        assert!(
            check["evidence"].to_string().contains(text),
            "{package}: {id} failed for another reason than {text:?}:\n{check:#}"
        );
    }
    let certified = expected.is_empty();
    assert_eq!(
        (code == 0, &report["certified"]),
        (certified, &Value::Bool(certified)),
        "{report:#}"
    );
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
            passed.contains(id)
                || expected.contains(id)
                || (not_run.contains(&id) && ids_with(&report, "skip").contains(id)),
            "{package}: {id} did not pass:\n{report:#}"
        );
    }
    report
}

/// Runs the suite with `--config settings` (a `[plugin]` and `[conformance]` TOML) and `--json`;
/// answers the exit code and the report.
async fn certify_with_settings(plugin: &Path, settings: String, label: &str) -> (i32, Value) {
    let dir = crate::support::scratch_dir(&format!("conformance-{label}"));
    let file = dir.join("settings.toml");
    std::fs::write(&file, settings).unwrap();
    let plugin = plugin.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(renkei_bin())
            .arg("conformance")
            .arg(&plugin)
            .arg("--config")
            .arg(&file)
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
    (out.status.code().expect("exited"), report)
}

/// The 0.2 host's promise to plugins in the field (`docs/abi.md`): the template plugin as built
/// against the frozen renkei-sdk 0.1.0 runs through compatibility and passes the whole suite.
/// (`lifecycle.multi-error` holds it to what a 0.1 error can carry, one code: its kind must be
/// no less cautious for the money than the declared rule's.)
#[test]
fn abi_the_0_1_0_template_plugin_is_certified_in_the_0_2_host() {
    let frozen = &renkei_tests::compat_0_1().template_plugin;
    let report = assert_library_certified(frozen, "template plugin 0.1.0", "template");
    assert_eq!(report["gateway_id"], "kumopay", "{report:#}");
}

/// Issue 18: the SBPS plugin shipped at 0.1.0 (`compat/sbps-plugin-0.1.0`) runs the whole 0.2
/// suite against its emulator through compatibility, and passes all of it but
/// `lifecycle.decline-retry`: a defect of the shipped plugin, not of the 0.2 host. It derives
/// SBPS's `order_id` from the shop action's idempotency key alone (its crate docs, "order_id"), so
/// attempt 2 of the same authorization after a decline sends the declined attempt's `order_id`
/// and SBPS refuses it as a duplicate (96, "may have applied"). A 0.1.0 host sends the same
/// key and attempt, so the plugin does the same there; 0.1's `Context::attempt` would have let it
/// tell attempts apart, so the check is not one a 0.1 plugin cannot meet. 0.2 fixed it with
/// host-issued attempt ids (`limits.order_id`). Never "fixed" here: the frozen source is what
/// merchants run.
///
/// Checks that skip, and why: `lifecycle.order-ids` (a 0.1 manifest has no `limits.order_id`, the
/// plugin sends its own ids: the only skip a 0.1 plugin adds); `capability.unsupported` (the
/// configured instance offers every operation), `lifecycle.find-authorization` (SBPS cannot
/// look a payment up by order id), `lifecycle.multi-error` (SBPS answers one code a
/// reply, so its settings name no token for it), `replay.authorize|refund|change_amount|inquire`
/// (not declared replay-safe) and `secrets.handle` (no handle with a secret part: 0.1 outcomes
/// carry no handle at all), as for today's SBPS plugin against this emulator.
#[test]
fn abi_the_0_1_0_sbps_plugin_passes_the_0_2_suite_but_for_its_shipped_order_id_defect() {
    let frozen = &renkei_tests::compat_0_1().sbps_plugin;
    let (code, report) = certify(frozen, "sbps");
    let report = assert_report(
        "sbps plugin 0.1.0",
        code,
        report,
        &[("lifecycle.decline-retry", "duplicate order_id")],
        &[],
    );
    assert_eq!(report["gateway_id"], "sbps", "{report:#}");
    assert_eq!(
        ids_with(&report, "skip"),
        [
            "capability.unsupported",
            "lifecycle.find-authorization",
            "lifecycle.multi-error",
            "lifecycle.order-ids",
            "replay.authorize",
            "replay.change_amount",
            "replay.inquire",
            "replay.refund",
            "secrets.handle",
        ]
        .map(String::from)
        .into(),
        "{report:#}"
    );
    let passed = ids_with(&report, "pass");
    for id in [
        "replay.capture",
        "replay.void",
        "lifecycle.capture-higher",
        "lifecycle.partial-refund",
        "lifecycle.inquiry",
        "effects.no-money-moved",
    ] {
        assert!(passed.contains(id), "{id}:\n{report:#}");
    }
}

/// Issue 18: the F-REGI plugin shipped at 0.1.0 (`compat/fregi-plugin-0.1.0`) against today's
/// F-REGI emulator through compatibility. Its failures are the shipped plugin's, not the 0.2
/// host's:
/// - `lifecycle.capture-refund` and `lifecycle.partial-refund`: it sends `AUTHCODE` on `sale`
///   only after an `authchange`; the emulator now refuses a shop sale without it (S1-1-111,
///   `require_sale_authcode`, on since after 0.1.0 because production clients always send it and
///   the real gateway may require it). 0.2's plugin keeps `SEQNO-AUTHCODE` as its transaction
///   reference, which a 0.1 plugin could have done too. With no capture, no refund succeeds, so
///   the `robustness.refund.*` checks skip.
/// - `robustness.capture.cut-anywhere` and `robustness.change_amount.cut-anywhere`: it reads an
///   `authchange` reply (`OK`, `SEQNO`, `AUTHCODE`, a line each) cut inside `AUTHCODE` as whole
///   (`430161` read as `4`, `43`…) and goes on to `sale` with it, or answers it. A parser defect
///   0.2's plugin fixed ("read only complete replies"); the plugin is given the whole body and
///   could tell, so the check is not one a 0.1 plugin cannot meet. (The only capture that
///   succeeds here is `lifecycle.capture-higher`'s, which starts with an `authchange`.)
///
/// Checks that skip besides those: `lifecycle.order-ids` (no `limits.order_id` in a 0.1
/// manifest), `capability.unsupported`, `replay.authorize|capture|refund|change_amount|inquire`
/// (only void is declared replay-safe) and `secrets.handle` (0.1 outcomes carry no handle), as
/// for today's F-REGI plugin.
#[test]
fn abi_the_0_1_0_fregi_plugin_runs_the_0_2_suite_and_fails_only_its_shipped_defects() {
    let frozen = &renkei_tests::compat_0_1().fregi_plugin;
    let (code, report) = certify(frozen, "fregi");
    let report = assert_report(
        "fregi plugin 0.1.0",
        code,
        report,
        &[
            ("lifecycle.capture-refund", "S1-1-111"),
            ("lifecycle.partial-refund", "S1-1-111"),
            (
                "robustness.capture.cut-anywhere",
                "as if the reply were whole",
            ),
            ("robustness.change_amount.cut-anywhere", "instead of"),
        ],
        // No refund succeeded, so there is no real refund reply to damage.
        &["robustness.refund.random", "robustness.refund.cut-anywhere"],
    );
    assert_eq!(report["gateway_id"], "fregi", "{report:#}");
    let skipped = ids_with(&report, "skip");
    assert!(skipped.contains("lifecycle.order-ids"), "{report:#}");
    assert!(
        skipped.contains("robustness.refund.cut-anywhere"),
        "{report:#}"
    );
    assert!(
        ids_with(&report, "pass").contains("replay.void"),
        "{report:#}"
    );
}

/// The F-REGI plugin shipped at 0.1.0 against an F-REGI emulator that takes a sale without
/// `AUTHCODE`, as the one it shipped with did: captures and refunds then run, and only the
/// cut-reply defect is left (see above), on `change_amount`'s `authchange` (capture's recorded
/// run is now a plain `sale`, whose cut replies the plugin does refuse).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abi_the_0_1_0_fregi_plugin_fails_only_cut_replies_where_a_sale_needs_no_authcode() {
    let emulator = renkei_emulator_fregi::FregiEmulator::start(renkei_emulator_fregi::Config {
        auto_batch_at: None,
        require_sale_authcode: false,
        ..renkei_emulator_fregi::Config::default()
    })
    .await
    .expect("emulator starts");
    // As `--emulator fregi` sets it (conformance/src/emulators.rs).
    let settings = format!(
        "[plugin]\nbase_url = \"{}\"\nshop_id = \"12345\"\ninquiry_url = \"{}info\"\n\n\
         [conformance]\ntoken = \"TESTTOKEN-OK\"\ndeclined_token = \"TESTTOKEN-DECLINE\"\n\
         customer = \"renkei-conformance\"\nendpoint_key = \"base_url\"\n",
        emulator.base_url(),
        emulator.control_url()
    );
    let frozen = &renkei_tests::compat_0_1().fregi_plugin;
    let (code, report) = certify_with_settings(frozen, settings, "fregi01").await;
    let report = assert_report(
        "fregi plugin 0.1.0, sale without AUTHCODE",
        code,
        report,
        &[("robustness.change_amount.cut-anywhere", "instead of")],
        &[],
    );
    let passed = ids_with(&report, "pass");
    for id in [
        "lifecycle.capture-refund",
        "lifecycle.partial-refund",
        "robustness.capture.cut-anywhere",
        "robustness.refund.cut-anywhere",
        "replay.void",
    ] {
        assert!(passed.contains(id), "{id}:\n{report:#}");
    }
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
    let dir = crate::support::scratch_dir("conformance-real");
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

/// The XML template against the same emulator on the XML wire in Shift_JIS: every check the
/// JSON template passes, the entry held to its `registers` declaration against the book.
#[test]
fn the_xml_template_plugin_is_certified_against_the_kumo_pay_xml_emulator() {
    let report = assert_certified("renkei-plugin-template-xml", "template-xml");
    assert!(
        ids_with(&report, "pass").contains("robustness.authorize.cut-anywhere"),
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

/// A plugin that reads only the first of several codes hides the others and takes the first's
/// kind instead of the one its declared rule gives.
#[test]
fn a_plugin_reading_only_the_first_of_several_codes_fails_lifecycle_multi_error() {
    let report = assert_caught(
        "renkei-fixture-conformance-multi-error-first",
        &["lifecycle.multi-error"],
    );
    let text = report.to_string();
    assert!(text.contains("leaves out"), "{text}");
    assert!(text.contains("amount_too_large"), "{text}");
    assert!(
        text.contains("the declared rule `most_cautious` gives `rejected`"),
        "{text}"
    );
}

/// A search for a lost authorization under the shop's order code never finds what the attempt
/// sent under the host's id: a host would take the authorization for none and authorize twice.
#[test]
fn a_search_under_the_shop_order_code_fails_lifecycle_find_authorization() {
    let report = assert_caught(
        "renkei-fixture-conformance-search-shop-order",
        &["lifecycle.find-authorization"],
    );
    assert!(
        report
            .to_string()
            .contains("a host would take a lost authorization for none"),
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
