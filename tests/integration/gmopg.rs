//! The GMO-PG plugin (`plugins/gmopg`, loaded as a library) through the host's executor against
//! the GMO-PG emulator (`emulators/gmopg`), over loopback, as a shop server runs it
//! (`docs/protocols/gmopg.md` §8): a payment's whole life with the AccessPass kept in its
//! sealed handle and never in the journal in clear, and an authorization whose `ExecTran`
//! reply was lost settled by finding it under its attempt's order id (§7.6).

use crate::support::journal_path;
use renkei_emulator_gmopg::{Api, Config as GmoConfig, Fault, GmopgEmulator};
use renkei_host::journal::{self, JournalStore};
use renkei_host::seal::HandleKey;
use renkei_host::{ExecError, Executor, GatewayInstance, Resolution, Transport};
use renkei_sdk::{
    ConfigValue, Context, Money, Operation, OrderRef, PaymentSource, PaymentState, RefundExtent,
    Secret, Step, TransactionRef,
};
use renkei_tests::{instantiate, registry_of};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Rig {
    emulator: GmopgEmulator,
    gateway: Arc<GatewayInstance>,
    executor: Executor,
    journal: Arc<dyn JournalStore>,
    journal_file: PathBuf,
    /// Owns the loaded library; kept for the instance's lifetime.
    _registry: renkei_host::PluginRegistry,
}

async fn rig(label: &str) -> Rig {
    let emulator = GmopgEmulator::start(GmoConfig::default()).await.unwrap();
    let values: BTreeMap<String, ConfigValue> = emulator
        .plugin_config()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v)))
        .collect();
    let registry = registry_of(&["renkei-plugin-gmopg"]);
    let gateway = Arc::new(instantiate(&registry, "gmopg", "gmopg", values));
    let journal_file = journal_path(label);
    let journal: Arc<dyn JournalStore> = Arc::from(journal::sqlite::open(&journal_file).unwrap());
    Rig {
        emulator,
        gateway,
        executor: Executor::new(journal.clone(), Duration::from_secs(2))
            .with_handle_key(HandleKey::generate()),
        journal,
        journal_file,
        _registry: registry,
    }
}

fn authorization(order: &str, amount: i64) -> Operation {
    Operation::Authorize {
        order: OrderRef::new(order),
        amount: Money::jpy(amount),
        source: PaymentSource::Token {
            token: Secret::new("TESTTOKEN-OK"),
            key: None,
        },
        customer: None,
        description: None,
    }
}

/// The AccessPass of `order_id`, asked of GMO-PG through the plugin (outside the journal).
async fn access_pass(r: &Rig, order_id: &str) -> String {
    let op = Operation::Inquire {
        order: OrderRef::new("probe"),
        transaction: TransactionRef::new(order_id),
    };
    let ctx = Context::fixed(0, "probe");
    let Step::Send(x) = r.gateway.prepare(&op, &ctx).unwrap() else {
        panic!("an inquiry sends")
    };
    let reply = Transport::new(Duration::from_secs(2))
        .send(&x.request)
        .await
        .unwrap();
    let Step::Done(o) = r.gateway.interpret(&op, &ctx, &x.state, &reply).unwrap() else {
        panic!("an inquiry is one exchange")
    };
    let handle = o.handle.expect("SearchTrade answers the handle");
    handle.get_secret("AccessPass").unwrap().expose().to_owned()
}

#[tokio::test]
async fn gmopg_s8_a_payment_s_life_keeps_the_access_pass_sealed_and_out_of_the_journal() {
    let r = rig("gmopg-life").await;
    let done = r
        .executor
        .execute(&r.gateway, &authorization("g-1", 1080), "g-1:authorize")
        .await
        .expect("authorized");
    let reference = done.outcome.transaction.clone().expect("the order id");
    assert!(r.emulator.transaction(reference.as_str()).is_some());

    // Capture at a lower amount: ChangeTran AUTH, then SALES (§7.2), with the handle the host
    // kept (its AccessPass sealed in the journal, handed back in clear to the plugin).
    let capture = Operation::Capture {
        order: OrderRef::new("g-1"),
        transaction: reference.clone(),
        authorized: Money::jpy(1080),
        amount: Some(Money::jpy(980)),
    };
    let done = r
        .executor
        .execute(&r.gateway, &capture, "g-1:capture")
        .await
        .expect("captured");
    assert!(matches!(done.outcome.state, PaymentState::Captured { .. }));
    assert_eq!(done.outcome.captured, Some(Money::jpy(980)));

    // Part of it back (ChangeTran CAPTURE, §7.3), then the rest (VOID: the same JST day).
    let refund = |captured: i64, amount: Option<i64>| Operation::Refund {
        order: OrderRef::new("g-1"),
        transaction: reference.clone(),
        captured: Money::jpy(captured),
        amount: amount.map(Money::jpy),
    };
    let done = r
        .executor
        .execute(&r.gateway, &refund(980, Some(300)), "g-1:refund:1")
        .await
        .expect("partly refunded");
    assert_eq!(done.outcome.captured, Some(Money::jpy(680)));
    let done = r
        .executor
        .execute(&r.gateway, &refund(680, None), "g-1:refund:2")
        .await
        .expect("refunded");
    assert_eq!(
        done.outcome.state,
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: renkei_sdk::Settlement::NotReported
        }
    );
    assert_eq!(done.outcome.gateway_status.as_deref(), Some("VOID(SALES)"));
    let at_gmo = r.emulator.transaction(reference.as_str()).unwrap();
    assert_eq!(at_gmo.status.as_str(), "VOID", "{at_gmo:?}");

    // The journal file holds neither the shop's password nor any AccessPass in clear.
    let order = r.journal.order(&OrderRef::new("g-1")).unwrap().unwrap();
    assert!(order.handle.is_some(), "the handle is kept with the order");
    let bytes = std::fs::read(&r.journal_file).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let shop_pass = r.emulator.config().shops[0].shop_pass.clone();
    assert!(!text.contains(&shop_pass), "ShopPass in the journal");
    let access_pass = access_pass(&r, reference.as_str()).await;
    assert_eq!(access_pass.len(), 32);
    assert!(!text.contains(&access_pass), "AccessPass in the journal");
}

#[tokio::test]
async fn gmopg_s7_6_a_lost_exec_tran_reply_is_settled_by_finding_the_attempt_s_order_id() {
    let r = rig("gmopg-lost-exec").await;
    let op = authorization("g-2", 1080);
    let issued = r.gateway.order_id_for(&op, "g-2:authorize", 1).unwrap();
    r.emulator
        .install_fault(Fault::reply_lost().on_api(Api::ExecTran).on_order(&issued));
    let done = r
        .executor
        .execute(&r.gateway, &op, "g-2:authorize")
        .await
        .expect("found by SearchTrade, not sent to review");
    assert_eq!(done.resolution, Some(Resolution::Inquiry));
    assert_eq!(done.outcome.state, PaymentState::Authorized);
    assert_eq!(
        done.outcome.transaction,
        Some(TransactionRef::new(issued.clone()))
    );
    let book = r.emulator.book();
    assert_eq!(book.len(), 1, "authorized once: {book:?}");
    // The handle came with the search: a capture needs no further lookup.
    let capture = Operation::Capture {
        order: OrderRef::new("g-2"),
        transaction: TransactionRef::new(issued.clone()),
        authorized: Money::jpy(1080),
        amount: None,
    };
    let done = r
        .executor
        .execute(&r.gateway, &capture, "g-2:capture")
        .await
        .expect("captured");
    assert_eq!(
        done.steps.as_deref().map(|s| s.len()),
        Some(1),
        "{:?}",
        done.steps
    );
}

#[tokio::test]
async fn gmopg_s7_6_an_exec_tran_that_never_arrived_is_not_guessed_away() {
    let r = rig("gmopg-reset-exec").await;
    let op = authorization("g-3", 1080);
    let issued = r.gateway.order_id_for(&op, "g-3:authorize", 1).unwrap();
    r.emulator
        .install_fault(Fault::reset().on_api(Api::ExecTran).on_order(&issued));
    // GMO-PG requests never expire (§7.6): a transaction found unexecuted proves nothing about
    // a request that may still arrive, so the host does not book it as not applied.
    match r.executor.execute(&r.gateway, &op, "g-3:authorize").await {
        Err(ExecError::NeedsReview { .. }) => {}
        other => panic!("expected review, got {other:?}"),
    }
    assert!(r.emulator.book().is_empty());
}
