//! # renkei-conformance
//!
//! Certifies a built gateway plugin: "this library speaks its gateway correctly, maps every
//! status, survives bad replies, never leaks a secret, and behaves the way the host's rules
//! need". It works on a plugin its authors have never seen: the plugin is loaded through the
//! host's real loader ([`renkei_host::PluginRegistry::load_file`]), and only its manifest and its
//! own answers drive the checks. The command line is `renkei conformance PLUGIN
//! [--emulator sbps|fregi|gmopg|template|template-form|template-xml | --endpoint URL] [--config FILE] [--json]`.
//!
//! ## Checks
//!
//! Every check has a stable id, declared once in [`registry`] with its family, whether it is
//! required and the one-line summary the README's table shows; this table has the exact rules,
//! one row per registry entry in the same order (a test keeps both in step). A check the
//! manifest makes inapplicable (an operation not declared, a capability not claimed) is reported
//! *skipped*, with the reason, never passed. All checks are required except
//! `manifest.secret-names`, which is advisory.
//!
//! | id | what it establishes |
//! | --- | --- |
//! | `manifest.valid` | the host's structural validation passes; the SDK version is in the host's range; config keys are `lower_snake_case`, described, and their defaults parse as their declared type; no key is both required and defaulted |
//! | `manifest.secret-names` | (advisory) keys named like credentials by a word `secrets.config-names` does not judge (`credential`, `credentials`, `private`, split at `_` and `-`) are flagged secret; a key that check judges, or one with a `public_reason`, is left to it, so one defect fails once |
//! | `status.total` | every status row maps one code to one known state; no catch-all row (`*`, `default`, `other`…); no two codes differing only in case; final states terminal, and no state marked terminal that a declared operation can follow; each state a declared operation leads to has a row |
//! | `status.unknown-code` | a real reply whose status code is replaced by one the table does not list gives `PaymentState::Unknown` with that raw code (skipped when the code cannot be found in the reply's bytes, e.g. encrypted) |
//! | `capability.unsupported` | an operation the configured instance does not offer (not declared, or declared but enabled by a config key the settings leave unset) gives `ErrorKind::Unsupported` from `prepare`, without a request |
//! | `capability.declared` | an operation the configured instance offers (`GatewayInstance::capabilities`: the declared ones minus those whose enabling key is unset) makes `prepare` build a request (an amount change declared `deferred_to_capture` may finish at once) |
//! | `lifecycle.capture-refund` | authorize → capture → full refund, each answering the expected state and amounts |
//! | `lifecycle.authorize-void` | authorize → void |
//! | `lifecycle.capture-lower` | capture below the authorization, where partial capture or amount changes are declared; a capture declared in place keeps the reference |
//! | `lifecycle.capture-higher` | capture above the authorization, where amount changes are declared |
//! | `lifecycle.partial-refund` | a partial refund, then the remainder, where partial refunds are declared; one declared in place keeps the reference |
//! | `lifecycle.change-amount` | an amount change of an authorization, where declared |
//! | `lifecycle.inquiry` | after every lifecycle step, an inquiry reports the state the step reported, and its status code maps to that state in the table |
//! | `lifecycle.order-ids` | where the manifest declares the gateway's order-id rules (`limits.order_id`), the authorization prepared for attempts 1 and 2 of one shop action carries, verbatim in its body or URL, the id the host issued for that attempt (`GatewayInstance::order_id_for`) (skipped when no rules are declared) |
//! | `lifecycle.decline-retry` | an authorization with the settings' `declined_token` fails with an error the host's rule (`failed_exchange_effect`, given the failed step's declared effect and whether an earlier step could move money) reads as "not applied"; then attempt 2 of the same shop action, for the same order, with the approved token, ends `authorized` (skipped without a `declined_token`) |
//! | `lifecycle.find-authorization` | where the manifest declares `authorization_inquiry`: attempt 1 of an authorization succeeds with a reference; `FindAuthorization` in attempt 1's context (its host-issued order id) ends `authorized` with that reference; in the context of attempt 7, never sent, it ends in a state that awaits an authorization (skipped without the declaration) |
//! | `lifecycle.multi-error` | an authorization with the settings' `multi_error_token` is refused in one reply; the codes of the error table the reply names (whole tokens, in the reply's order; prefix rows are not looked for) must number two or more, and what the plugin itself answered (before the host holds it to the declared rule) must report every one (`gateway_code`, `other_codes`) with the kind the manifest's `multi_error` rule gives them (skipped without a `multi_error_token`) |
//! | `invariant.capture-twice` | a second capture (new idempotency key) is refused or answered "already done" |
//! | `invariant.refund-above-captured` | a refund above the captured amount is refused, and the payment stays captured |
//! | `invariant.after-refund` | after a full refund, capture and refund are refused |
//! | `invariant.capture-after-void` | capture after void is refused (not "already done") |
//! | `invariant.after-void` | after void, void is refused or "already done", refund and amount change are refused, and the payment stays voided |
//! | `replay.<operation>` | for each operation the manifest declares replay-safe: a replay (same idempotency key) after a success answers `ErrorKind::AlreadyDone` |
//! | `robustness.<operation>.<reply>` | for each declared operation and each exchange it makes, a reply that is `empty`, `truncated` (half the real body), in the wrong `encoding` (UTF-16), `http-500`, or `random` bytes gives a typed error: never a success, never the next step, never a panic, and never a kind that tells the host nothing moved (declined, rejected, already done…) when the request could have changed the payment |
//! | `robustness.<operation>.cut-anywhere` | for each declared operation, every real reply of its recorded successful run, cut at every byte offset (every strict prefix; for a body over 4096 bytes, every offset of the last 512 and every 16th before), fed to `interpret` for its exchange, gives a typed error (never a panic, and never a kind that claims nothing moved when the request could have changed the payment) or exactly the whole reply's answer (the cut removed nothing the plugin reads, e.g. a final newline); after the first exchange, an answer that records the doubt is tolerated as in `robustness.<operation>.<reply>`. Any other answer, above all a success read from a value cut short (`AMOUNT=1080` read as `108`), fails; the evidence names the exchange, the first 5 cut offsets and the answers, and counts the rest |
//! | `determinism.requests` | the same operation and context give the same request bytes, journal copy and continuation; the same reply gives the same answer |
//! | `secrets.config-names` | a config key whose name suggests a credential is flagged secret, or is declared public with a reason (`ConfigKey::public_reason`). The name is split into words at `_`, `-`, `.` and case changes (`apiKey`, `APIKey`); a word suggests a credential when it is `pass`, `passwd`, `password`, `passphrase`, `key`, `secret`, `token` or `pin`, or ends in `password`, `passwd`, `secret`, `token` or `key` (`apikey`, `hashkey`, `accesstoken`). The evidence names each such key that is neither; the reason lists the keys accepted because of their `public_reason`, with it |
//! | `secrets.requests` | no canary secret in a request's logged forms: URL, redacted headers, journal copy of the body, continuation |
//! | `secrets.errors` | no canary secret in an error message |
//! | `secrets.debug` | no canary secret in the `Debug` form of anything the plugin returns |
//! | `secrets.logs` | no canary secret in the plugin's tracing events or spans |
//! | `secrets.panics` | no canary secret in a panic message |
//! | `secrets.handle` | every secret part of every handle the plugin returned (`Outcome::handle`: a per-payment secret the gateway sent back) is in none of the forms the host journals or logs: a request's URL, redacted headers, journal copy and continuation, a reply's journal copy (`Gateway::journal_reply`), an error message, the `Debug` form of an answer, a tracing event (skipped when no handle has a secret part) |
//! | `panic.containment` | no call panicked during the run, including `interpret` given a damaged continuation; the suite survives a panic (the SDK returns it as `ErrorKind::Panicked`) and reports it here |
//! | `effects.no-money-moved` | every step the scenarios sent that the plugin declared as moving no money (`StepEffect::Reads` or `Registers`) left the built-in emulator's book as it was: no payment changed state or amount, appeared or disappeared between just before the request and just after its reply (skipped against an endpoint the suite did not start, and when no step was so declared) |
//!
//! Canaries are the values of the config keys the manifest flags secret, and the card token.
//! The built-in emulators are started with canary credentials. Because the host scrubs known
//! secrets from errors, journal copies and logs, a leak of a configured secret is also caught
//! by the host's scrub counter ([`renkei_host::GatewayInstance::secrets_scrubbed`]): a certified
//! plugin never needs the safety net.

mod effects;
mod emulators;
mod harness;
mod probes;
pub mod registry;
mod report;
mod scenarios;
mod settings;
mod statics;

pub use emulators::{Builtin, EmulatorError};
pub use registry::Check;
pub use report::{CheckResult, Report, Verdict};
pub use settings::{Settings, SettingsError};

use renkei_host::{GatewaySection, InstanceError, PluginRegistry};
use renkei_sdk::{ConfigKind, ConfigValue, OperationKind};
use std::path::Path;
use std::time::Duration;

/// Ids of the checks that run once per plugin, in report order ([`registry::ONCE_IDS`]).
/// Per-operation checks (`replay.<op>`, `robustness.<op>.<reply>`, `robustness.<op>.cut-anywhere`)
/// are added for each operation.
pub const CHECKS: &[&str] = &registry::ONCE_IDS;

/// Where the dynamic checks run, and with which settings.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// A built-in emulator to start in-process; its settings are the defaults.
    pub emulator: Option<Builtin>,
    /// The endpoint URL, written to the config key `endpoint_key` names (default: the
    /// manifest's first URL key).
    pub endpoint: Option<String>,
    /// Settings from a file, over the emulator's.
    pub settings: Option<Settings>,
}

/// Why the suite could not run at all (as opposed to a plugin failing checks).
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error("cannot start the suite's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the configuration does not fit the plugin: {0}")]
    Instance(#[from] InstanceError),
    #[error(
        "no card token to authorize with: give `--emulator`, or `token` in the [conformance] \
         section of `--config`"
    )]
    NoToken,
    #[error("`--endpoint` given, but the plugin declares no URL config key to put it in")]
    NoEndpointKey,
}

/// How long one exchange may take before the suite counts it as lost.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs every check on the plugin at `plugin` and answers the report. `Err` only when the
/// suite itself cannot run (bad settings, an emulator that does not start); a plugin the host
/// refuses to load gets a report whose `manifest.valid` says why.
pub fn certify(plugin: &Path, target: &Target) -> Result<Report, SuiteError> {
    let capture = harness::Capture::default();
    let subscriber = {
        use tracing_subscriber::layer::SubscriberExt as _;
        tracing_subscriber::registry().with(capture.clone())
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SuiteError::Runtime)?;
    // One thread: the plugin's forwarded events reach this subscriber, and only this run's.
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(certify_on(plugin, target, capture))
    })
}

async fn certify_on(
    plugin: &Path,
    target: &Target,
    capture: harness::Capture,
) -> Result<Report, SuiteError> {
    let shown = plugin.display().to_string();
    let where_ = match (&target.emulator, &target.endpoint) {
        (_, Some(url)) => url.clone(),
        (Some(b), None) => format!("the built-in {} emulator", b.name()),
        (None, None) => "the endpoint of the configuration".into(),
    };
    let mut registry = PluginRegistry::new();
    let manifest = match registry.load_file(plugin) {
        Ok(p) => p.manifest().clone(),
        Err(e) => {
            let mut checks = vec![CheckResult::from_evidence(
                Check::ManifestValid.id(),
                vec![format!("the host refused to load the plugin: {e}")],
            )];
            checks.extend(
                CHECKS[1..]
                    .iter()
                    .map(|id| CheckResult::skip(*id, "the plugin did not load")),
            );
            return Ok(Report::new(shown, where_, checks));
        }
    };
    let mut checks = vec![
        statics::manifest_valid(&manifest),
        statics::secret_names(&manifest),
        statics::status_total(&manifest),
        statics::config_names(&manifest),
    ];

    let (emulator, mut settings) = match target.emulator {
        Some(b) => {
            let (running, s) = b.start().await?;
            (Some(std::rc::Rc::new(running)), s)
        }
        None => (None, Settings::default()),
    };
    if let Some(file) = &target.settings {
        settings = settings.overlay(file.clone());
    }
    if let Some(url) = &target.endpoint {
        let key = settings
            .endpoint_key
            .clone()
            .or_else(|| {
                manifest
                    .config
                    .iter()
                    .find(|k| k.kind == ConfigKind::Url)
                    .map(|k| k.name.clone())
            })
            .ok_or(SuiteError::NoEndpointKey)?;
        settings.values.insert(key, ConfigValue::Text(url.clone()));
    }
    let token = settings.token.clone().ok_or(SuiteError::NoToken)?;
    let section = GatewaySection {
        plugin: manifest.gateway_id.clone(),
        values: settings.values.clone(),
    };
    let gateway = registry.instantiate("conformance", &section)?;
    let mut h = harness::Harness::new(gateway, capture, EXCHANGE_TIMEOUT);
    // An endpoint of the settings (`--endpoint`) may be anyone's: only the emulator the suite
    // started itself has a book it can read.
    if let (Some(running), None) = (&emulator, &target.endpoint) {
        let running = std::rc::Rc::clone(running);
        h = h.with_book(move || running.book());
    }

    let limits = &manifest.limits;
    let inputs = scenarios::Inputs {
        token: token.clone(),
        token_key: settings.token_key.clone(),
        declined_token: settings.declined_token.clone(),
        multi_error_token: settings.multi_error_token.clone(),
        customer: settings.customer.clone(),
        amount: settings
            .amount
            .unwrap_or(1000)
            .clamp(limits.min_amount, limits.max_amount),
        currency: limits.currencies[0],
    };
    let mut s = scenarios::Scenarios::new(&h, &inputs);
    s.capture_refund().await;
    s.void().await;
    s.capture_lower().await;
    s.capture_higher().await;
    s.partial_refund().await;
    s.change_amount().await;
    s.replay_authorize().await;
    s.order_ids();
    s.decline_retry().await;
    s.multi_error().await;
    s.find_authorization().await;
    s.inquiry_result();
    s.capabilities();
    let runs = std::mem::take(&mut s.runs);
    checks.append(&mut s.results);

    for kind in OperationKind::ALL {
        let id = Check::Replay.instance(&[kind.name()]);
        if checks.iter().any(|c| c.id == id) {
            continue;
        }
        checks.push(if h.capabilities().is_replay_safe(kind) {
            CheckResult::from_evidence(
                id,
                vec![format!(
                    "{kind} is declared replay-safe, but no scenario succeeded with it, so the \
                     claim could not be verified"
                )],
            )
        } else {
            CheckResult::skip(id, format!("{kind} is not declared replay-safe"))
        });
    }
    checks.push(probes::unknown_code(&h, &runs));
    checks.extend(probes::robustness(&h, &runs));
    checks.extend(probes::cut_anywhere(&h, &runs));
    checks.push(probes::determinism(&h, &runs));
    checks.push(probes::panic_containment(&h, &runs));
    checks.push(probes::no_money_moved(&h));
    checks.push(probes::handle_secrets(&h));

    let mut canaries: Vec<String> = manifest
        .config
        .iter()
        .filter(|k| k.secret)
        .filter_map(|k| match settings.values.get(&k.name) {
            Some(ConfigValue::Text(v)) => Some(v.clone()),
            _ => None,
        })
        .chain(std::iter::once(token))
        .chain(settings.token_key.clone())
        .filter(|v| v.len() >= 4)
        .collect();
    canaries.sort();
    canaries.dedup();
    checks.extend(probes::secrets(&h.calls(), &probes::Canaries(canaries)));

    // Every id the run reports is one the registry (and so the README) documents.
    debug_assert!(
        checks.iter().all(|c| registry::lookup(&c.id).is_some()),
        "unregistered check ids: {:?}",
        checks
            .iter()
            .filter(|c| registry::lookup(&c.id).is_none())
            .map(|c| &c.id)
            .collect::<Vec<_>>()
    );
    checks.sort_by_key(|c| registry::rank(&c.id));
    let mut report = Report::new(shown, where_, checks);
    report.gateway_id = Some(manifest.gateway_id.clone());
    report.plugin_version = Some(manifest.plugin_version.to_string());
    Ok(report)
}
