//! An authorization whose reply was lost is settled by looking it up at the gateway under the
//! order id its attempt sent (`Operation::FindAuthorization`, SDK 0.2), where the plugin
//! declares it can (`Capabilities::authorization_inquiry`): found, it took effect with the
//! reference found; not found after the request expired, it was not applied, and a new attempt
//! of the same shop action (with a new order id) authorizes. Without that search every such
//! authorization went to an operator.
//!
//! The gateway is Kumo Pay (the template plugin, loaded as a library) on its emulator, which
//! refuses a request once its signed timestamp is further than the account's tolerance from
//! its clock, so that "not found" becomes conclusive once the tolerance has passed.

use crate::support::{journal_path, new_operation, sent_exchange};
use renkei_emulator_kumopay::{Config as KumoConfig, Fault, TEST_TOKEN_OK, TemplateEmulator};
use renkei_host::journal::{self, JournalStore};
use renkei_host::{ExecError, Executor, GatewayInstance, Resolution, Transport};
use renkei_sdk::{
    ConfigValue, Context, ErrorKind, Money, Operation, OrderRef, PaymentSource, PaymentState,
    Secret, Step,
};
use renkei_tests::{instantiate, registry_of};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seconds a Kumo Pay request stays valid in these tests, at the emulator and in the plugin's
/// config (the host waits this plus its clock-skew margin, set to 0 here, before a search that
/// finds nothing proves anything). Two, not one: the signed timestamp is whole seconds, so a
/// request may already be up to a second old by its own stamp when it is made.
const TOLERANCE: u64 = 2;

struct Rig {
    emulator: TemplateEmulator,
    gateway: Arc<GatewayInstance>,
    executor: Executor,
    journal: Arc<dyn JournalStore>,
}

async fn rig(label: &str) -> Rig {
    let emulator = TemplateEmulator::start(KumoConfig {
        tolerance_seconds: TOLERANCE,
        ..KumoConfig::default()
    })
    .await
    .unwrap();
    let config = KumoConfig::default();
    let mut values: BTreeMap<String, ConfigValue> = [
        ("endpoint", emulator.endpoint_url()),
        ("merchant_id", config.merchant_id.clone()),
        ("api_key", config.api_key.clone()),
        ("signing_key", config.signing_key.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v)))
    .collect();
    values.insert(
        "request_tolerance_seconds".into(),
        ConfigValue::Integer(TOLERANCE as i64),
    );
    values.insert("clock_skew_ms".into(), ConfigValue::Integer(0));
    let registry = registry_of(&["renkei-plugin-template"]);
    let gateway = Arc::new(instantiate(&registry, "kumopay", "kumopay", values));
    let journal: Arc<dyn JournalStore> =
        Arc::from(journal::sqlite::open(&journal_path(label)).unwrap());
    Rig {
        emulator,
        gateway,
        executor: Executor::new(journal.clone(), Duration::from_secs(2)),
        journal,
    }
}

fn authorization(order: &str) -> Operation {
    Operation::Authorize {
        order: OrderRef::new(order),
        amount: Money::jpy(1080),
        source: PaymentSource::Token {
            token: Secret::new(TEST_TOKEN_OK),
            key: None,
        },
        customer: None,
        description: None,
    }
}

fn lose_next_authorization(e: &TemplateEmulator, processed: bool) {
    e.fail_next(Fault {
        method: "POST".into(),
        route: "/payments".into(),
        status: 502,
        processed,
    });
}

#[tokio::test]
async fn a_lost_authorization_reply_is_settled_by_finding_it_under_the_attempts_order_id() {
    let r = rig("search-found").await;
    lose_next_authorization(&r.emulator, true);
    let done = r
        .executor
        .execute(&r.gateway, &authorization("s-1"), "s-1:authorize")
        .await
        .expect("found by the search, not sent to review");
    assert_eq!(done.resolution, Some(Resolution::Inquiry));
    let payments = r.emulator.payments();
    assert_eq!(payments.len(), 1, "authorized once: {payments:?}");
    let order = done.order.expect("the order");
    assert_eq!(order.state, PaymentState::Authorized);
    assert_eq!(
        order.transaction.as_ref().map(|t| t.as_str()),
        Some(payments[0].id.as_str())
    );
    assert_eq!(order.authorized, Money::jpy(1080));
    // The search looked under the order id the lost attempt sent.
    let issued = r
        .gateway
        .order_id_for(&authorization("s-1"), "s-1:authorize", 1)
        .unwrap();
    assert_eq!(payments[0].order, issued);
}

#[tokio::test]
async fn an_authorization_that_never_arrived_is_not_applied_once_its_request_expired_and_a_new_attempt_authorizes()
 {
    let r = rig("search-absent").await;
    lose_next_authorization(&r.emulator, false);
    let started = Instant::now();
    let err = r
        .executor
        .execute(&r.gateway, &authorization("s-2"), "s-2:authorize")
        .await
        .expect_err("nothing was authorized");
    match &err {
        ExecError::Failed {
            error, resolution, ..
        } => {
            assert_eq!(error.kind, ErrorKind::Rejected, "{error}");
            assert!(error.message.contains("not applied"), "{error}");
            assert_eq!(*resolution, Some(Resolution::Inquiry));
        }
        other => panic!("expected a failure settled by the search, got {other}"),
    }
    // Not before the request could no longer take effect.
    assert!(
        started.elapsed() >= Duration::from_secs(TOLERANCE),
        "{:?}",
        started.elapsed()
    );
    assert!(r.emulator.payments().is_empty());
    let order = r
        .journal
        .order(&OrderRef::new("s-2"))
        .unwrap()
        .expect("the order is journaled");
    assert!(order.state.awaits_authorization(), "{}", order.state);

    // The same shop action again: a new attempt, a new order id, authorized.
    let done = r
        .executor
        .execute(&r.gateway, &authorization("s-2"), "s-2:authorize")
        .await
        .expect("attempt 2 authorizes");
    assert_eq!(done.operation.attempt, 2);
    let payments = r.emulator.payments();
    assert_eq!(payments.len(), 1);
    let first = r
        .gateway
        .order_id_for(&authorization("s-2"), "s-2:authorize", 1)
        .unwrap();
    assert_ne!(payments[0].order, first, "attempt 2 sent its own order id");
}

/// Writes what a host writes before sending attempt 1 of `order`'s authorization, optionally
/// sends it, and "dies" (a lease already over).
async fn die_mid_authorization(r: &Rig, order: &str, send: bool) {
    let op = authorization(order);
    let key = format!("{order}:authorize");
    let issued = r.gateway.order_id_for(&op, &key, 1);
    let ctx = Context {
        gateway_order_id: issued.as_deref(),
        ..Context::fixed(now_ms(), &key)
    };
    let Step::Send(x) = r.gateway.prepare(&op, &ctx).unwrap() else {
        panic!("an authorization sends")
    };
    r.journal
        .begin_send(
            &new_operation(&op, "kumopay", &key),
            &sent_exchange(&x, 1),
            now_ms(),
            1,
        )
        .unwrap();
    if send {
        Transport::new(Duration::from_secs(2))
            .send(&x.request)
            .await
            .unwrap();
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A host killed between journaling an authorization and recording its reply: the payment
/// source is not journaled, so the authorization cannot be rebuilt or replayed, but the search
/// needs only the order and the amount.
#[tokio::test]
async fn after_a_crash_mid_authorization_recovery_finds_the_one_sent_and_proves_the_other_never_was()
 {
    let r = rig("search-crash").await;
    die_mid_authorization(&r, "c-sent", true).await;
    die_mid_authorization(&r, "c-unsent", false).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let gw = r.gateway.clone();
    let report = r
        .executor
        .recover(&move |name: &str| (name == "kumopay").then(|| gw.clone()))
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 1, "{report:?}");
    assert_eq!(report.not_applied.len(), 1, "{report:?}");
    assert!(report.needs_review.is_empty(), "{report:?}");
    let payments = r.emulator.payments();
    assert_eq!(payments.len(), 1, "{payments:?}");
    let sent = r.journal.order(&OrderRef::new("c-sent")).unwrap().unwrap();
    assert_eq!(sent.state, PaymentState::Authorized);
    assert_eq!(
        sent.transaction.as_ref().map(|t| t.as_str()),
        Some(payments[0].id.as_str())
    );
    let unsent = r
        .journal
        .order(&OrderRef::new("c-unsent"))
        .unwrap()
        .unwrap();
    assert!(unsent.state.awaits_authorization(), "{}", unsent.state);
}
