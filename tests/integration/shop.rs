//! The shop actions through the real plugins, loaded as cdylibs, against both
//! emulators. Each test is named after the rule it guards (`docs/rules.md`) and
//! checks the gateway's side in the emulator's own state, not in the host's account of it.

use crate::support::{instantiate, journal_path, registry_of, text_values};
use renkei_emulator_fregi::{Config as FregiConfig, FregiEmulator, Status};
use renkei_emulator_sbps::{
    Config as SbpsConfig, Fault as SbpsFault, Function, PaymentStatus, SbpsEmulator,
    TEST_TOKEN_VISA,
};
use renkei_host::journal::{self, Decision, JournalStore, OperationStatus};
use renkei_host::shop::{
    DriftKind, OrderStatus, PaymentMethod, Shop, ShopError, StatusChange, Warning,
};
use renkei_host::{Executor, PluginRegistry};
use renkei_sdk::{
    CustomerRef, Money, OperationKind, OrderRef, PaymentSource, PaymentState, Secret,
};
use renkei_tests::fregi_seqno;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const FREGI_SHOP: &str = "12345";

struct Rig {
    sbps: SbpsEmulator,
    fregi: FregiEmulator,
    shop: Arc<Shop>,
    journal: Arc<dyn JournalStore>,
    path: PathBuf,
    _registry: Arc<PluginRegistry>,
}

async fn rig() -> Rig {
    let sbps = SbpsEmulator::start(SbpsConfig::default()).await.unwrap();
    let fregi = FregiEmulator::start(FregiConfig {
        auto_batch_at: None,
        ..FregiConfig::default()
    })
    .await
    .unwrap();
    let registry = registry_of(&["renkei-plugin-sbps", "renkei-plugin-fregi"]);
    let registry = Arc::new(registry);
    let path = journal_path("shop");
    let journal: Arc<dyn JournalStore> = Arc::from(journal::sqlite::open(&path).unwrap());
    let shop = build_shop(
        &registry,
        &sbps,
        &fregi,
        journal.clone(),
        Duration::from_secs(2),
    );
    Rig {
        sbps,
        fregi,
        shop: Arc::new(shop),
        journal,
        path,
        _registry: registry,
    }
}

fn build_shop(
    registry: &PluginRegistry,
    sbps: &SbpsEmulator,
    fregi: &FregiEmulator,
    journal: Arc<dyn JournalStore>,
    deadline: Duration,
) -> Shop {
    let sbps_gw = instantiate(
        registry,
        "sbps",
        "sbps",
        text_values(
            sbps.plugin_config()
                .into_iter()
                .chain(renkei_tests::SBPS_TEST_TIMING.map(|(k, v)| (k, v.to_owned()))),
        ),
    );
    let fregi_gw = instantiate(
        registry,
        "fregi",
        "fregi",
        text_values(fregi.plugin_config()),
    );
    Shop::new("shop-1", Arc::new(Executor::new(journal, deadline)))
        .with_gateway(Arc::new(sbps_gw), true)
        .with_gateway(Arc::new(fregi_gw), true)
}

fn o(s: &str) -> OrderRef {
    OrderRef::new(s)
}

fn sbps_token() -> PaymentSource {
    PaymentSource::Token {
        token: Secret::new(TEST_TOKEN_VISA),
        key: Some(Secret::new("token-key")),
    }
}

fn fregi_token(t: &str) -> PaymentSource {
    PaymentSource::Token {
        token: Secret::new(t),
        key: None,
    }
}

impl Rig {
    async fn sbps_order(&self, order: &str, amount: i64) -> String {
        let r = self
            .shop
            .checkout(
                &o(order),
                "sbps",
                Money::jpy(amount),
                sbps_token(),
                Some(CustomerRef::new("cust-1")),
            )
            .await
            .expect("SBPS checkout");
        assert_eq!(r.state, Some(PaymentState::Authorized));
        self.transaction(order).await
    }

    async fn fregi_order_with(&self, order: &str, amount: i64, token: &str) -> String {
        let r = self
            .shop
            .checkout(
                &o(order),
                "fregi",
                Money::jpy(amount),
                fregi_token(token),
                None,
            )
            .await
            .expect("F-REGI checkout");
        assert_eq!(r.gateway_label.as_deref(), Some("承認済"));
        self.transaction(order).await
    }

    async fn fregi_order(&self, order: &str, amount: i64) -> String {
        self.fregi_order_with(order, amount, "TESTTOKEN-OK").await
    }

    async fn transaction(&self, order: &str) -> String {
        self.shop
            .payment(&o(order))
            .await
            .unwrap()
            .unwrap()
            .transaction
            .unwrap()
            .to_string()
    }

    fn sbps_status(&self, tracking: &str) -> PaymentStatus {
        self.sbps.payment(tracking).unwrap().payment_status
    }

    fn fregi_status(&self, seqno: &str) -> Status {
        self.fregi.transaction(fregi_seqno(seqno)).unwrap().status
    }

    /// Gateway operations journaled for the order, of any outcome.
    fn operations(&self, order: &str) -> Vec<(OperationKind, OperationStatus)> {
        self.journal
            .operations(&o(order))
            .unwrap()
            .into_iter()
            .map(|r| (r.kind, r.status))
            .collect()
    }
}

fn kinds(r: &renkei_host::ActionResult) -> Vec<OperationKind> {
    r.operations.iter().map(|op| op.kind).collect()
}

// G-1 ---------------------------------------------------------------------------------------

#[tokio::test]
async fn g1_linkage_off_reaches_no_gateway() {
    let rig = rig().await;
    let t = rig.sbps_order("g1-a", 1000).await;
    rig.shop.set_linkage("sbps", false).unwrap();
    let r = rig.shop.record_payment(&o("g1-a")).await.unwrap();
    assert!(r.operations.is_empty());
    assert!(matches!(r.warnings[..], [Warning::LinkageOff { .. }]));
    assert!(r.order.paid, "the shop side still records the payment");
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Authorized);
    let refused = rig
        .shop
        .checkout(&o("g1-b"), "sbps", Money::jpy(500), sbps_token(), None)
        .await
        .unwrap_err();
    assert!(matches!(refused, ShopError::LinkageOff { .. }), "{refused}");
    assert!(rig.operations("g1-b").is_empty());
}

// G-2, F-1 ----------------------------------------------------------------------------------

#[tokio::test]
async fn g2_record_payment_captures_on_both_gateways() {
    let rig = rig().await;
    let t = rig.sbps_order("g2-s", 1080).await;
    let r = rig.shop.record_payment(&o("g2-s")).await.unwrap();
    assert_eq!(kinds(&r), [OperationKind::Capture]);
    assert!(matches!(r.state, Some(PaymentState::Captured { .. })));
    assert_eq!(r.gateway_label.as_deref(), Some("売上済"));
    assert!(r.order.paid);
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Sold);
    assert_eq!(rig.sbps.payment(&t).unwrap().captured_amount, 1080);

    let seq = rig.fregi_order("g2-f", 2000).await;
    let r = rig.shop.record_payment(&o("g2-f")).await.unwrap();
    assert_eq!(r.gateway_label.as_deref(), Some("売上済（未伝送）"));
    assert_eq!(rig.fregi_status(&seq), Status::SoldPending);
    assert!(
        rig.shop.orders(true).await.unwrap().is_empty(),
        "paid orders leave the unpaid list"
    );
}

#[tokio::test]
async fn f1_capture_only_from_authorized() {
    let rig = rig().await;
    rig.shop
        .register_pre_order(&o("f1"), "fregi", Money::jpy(3000))
        .await
        .unwrap();
    let e = rig.shop.record_payment(&o("f1")).await.unwrap_err();
    assert!(matches!(e, ShopError::IllegalAction { .. }), "{e}");
    assert!(rig.operations("f1").is_empty(), "nothing was sent");
    assert!(!rig.shop.order(&o("f1")).await.unwrap().paid);
}

#[tokio::test]
async fn record_payment_twice_captures_once() {
    let rig = rig().await;
    let t = rig.sbps_order("idem", 900).await;
    // Counts the sales requests SBPS receives, and holds each long enough for the two actions
    // to overlap: both read the order unpaid, so both reach the executor.
    let counter = rig.sbps.install_fault(
        SbpsFault::latency(300)
            .on_function(Function::Sales)
            .persistent(),
    );
    let order = o("idem");
    let (a, b) = tokio::join!(
        rig.shop.record_payment(&order),
        rig.shop.record_payment(&order)
    );
    let ok = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert!(ok >= 1, "{a:?} {b:?}");
    for r in [&a, &b] {
        if let Err(e) = r {
            assert_eq!(e.code(), "busy", "the other one is refused as busy: {e}");
        }
    }
    let again = rig.shop.record_payment(&o("idem")).await.unwrap();
    assert!(again.operations.is_empty());
    assert_eq!(again.warnings, [Warning::AlreadyPaid]);
    let sales = rig
        .sbps
        .faults()
        .into_iter()
        .find(|f| f.id == counter)
        .unwrap()
        .fired;
    assert_eq!(sales, 1, "SBPS received one sales request");
    assert_eq!(rig.sbps.payment(&t).unwrap().captured_amount, 900);
    let journal = rig.shop.payment(&o("idem")).await.unwrap().unwrap();
    assert_eq!(journal.captured, Money::jpy(900));
}

#[tokio::test]
async fn lost_capture_reply_is_settled_without_double_capture() {
    let rig = rig().await;
    let t = rig.sbps_order("lost", 1500).await;
    rig.sbps
        .install_fault(SbpsFault::reply_lost().on_function(Function::Sales));
    let counter = rig.sbps.install_fault(
        SbpsFault::latency(0)
            .on_function(Function::Sales)
            .persistent(),
    );
    let r = rig.shop.record_payment(&o("lost")).await.unwrap();
    assert!(
        r.operations[0].resolution.is_some(),
        "settled by inquiry or replay"
    );
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Sold);
    assert_eq!(rig.sbps.payment(&t).unwrap().captured_amount, 1500);
    let journal = rig.shop.payment(&o("lost")).await.unwrap().unwrap();
    assert_eq!(journal.captured, Money::jpy(1500));
    // The lost one only: an inquiry settled it, no second sale was sent. (The reply-lost
    // fault fires first and is then spent; the counter sees the requests after it.)
    let later_sales = rig
        .sbps
        .faults()
        .into_iter()
        .find(|f| f.id == counter)
        .map_or(0, |f| f.fired);
    assert_eq!(later_sales, 0, "no second sales request");
    // Retrying the action sends nothing.
    let before = rig.operations("lost").len();
    rig.shop.record_payment(&o("lost")).await.unwrap();
    assert_eq!(rig.operations("lost").len(), before);
}

// G-3, F-10 ---------------------------------------------------------------------------------

#[tokio::test]
async fn g3_f10_bulk_goes_on_past_failures_with_the_gateways_messages() {
    let rig = rig().await;
    let mut orders = vec![];
    let mut seqnos = vec![];
    for i in 0..6 {
        let id = format!("10000092450{i}");
        seqnos.push(rig.fregi_order(&id, 1000 + i).await);
        orders.push(o(&id));
    }
    // Captured and cancelled in F-REGI's admin: the shop still sees them unpaid.
    rig.fregi
        .admin_sale(FREGI_SHOP, fregi_seqno(&seqnos[1]))
        .unwrap();
    rig.fregi
        .admin_cancel(FREGI_SHOP, fregi_seqno(&seqnos[3]))
        .unwrap();
    let mut seen = vec![];
    let report = rig
        .shop
        .bulk_record_payment(
            &orders,
            renkei_host::shop::BulkOptions { concurrency: 3 },
            |item, progress| seen.push((item.order.to_string(), progress.done)),
        )
        .await;
    assert_eq!(seen.len(), 6, "every order reported as it finished");
    assert_eq!(seen.last().unwrap().1, 6);
    assert_eq!(report.succeeded(), 4);
    assert_eq!(
        report.failure_lines(),
        [
            "100000924501: 売上処理時の指定された取引は売上受付済みです",
            "100000924503: 売上処理時の指定された取引は承認取消済みです",
        ]
    );
    for i in [0, 2, 4, 5] {
        assert_eq!(rig.fregi_status(&seqnos[i]), Status::SoldPending);
    }
    let unpaid: Vec<String> = rig
        .shop
        .orders(true)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.order.to_string())
        .collect();
    assert_eq!(unpaid, ["100000924501", "100000924503"]);
}

#[tokio::test]
async fn g3_bulk_failures_only_keeps_the_failures_and_counts_the_rest() {
    // The form `renkei bench bulk` uses for 100,000 orders: same captures, same failure
    // lines in input order, but no result kept for an order that succeeded.
    let rig = rig().await;
    let mut orders = vec![];
    let mut seqnos = vec![];
    for i in 0..6 {
        let id = format!("10000092460{i}");
        seqnos.push(rig.fregi_order(&id, 1000 + i).await);
        orders.push(o(&id));
    }
    rig.fregi
        .admin_cancel(FREGI_SHOP, fregi_seqno(&seqnos[4]))
        .unwrap();
    rig.fregi
        .admin_cancel(FREGI_SHOP, fregi_seqno(&seqnos[1]))
        .unwrap();
    // A duplicate is captured once, as in the full report.
    orders.push(o("100000924602"));
    let mut seen = 0;
    let report = rig
        .shop
        .bulk_record_payment_failures_only(
            &orders,
            renkei_host::shop::BulkOptions { concurrency: 3 },
            |_, progress| seen = progress.done,
        )
        .await;
    assert_eq!(seen, 6, "every order reported as it finished");
    assert_eq!(report.items.len(), 2, "only the failures are kept");
    assert_eq!((report.succeeded(), report.failed()), (4, 2));
    assert_eq!(
        report.failure_lines(),
        [
            "100000924601: 売上処理時の指定された取引は承認取消済みです",
            "100000924604: 売上処理時の指定された取引は承認取消済みです",
        ]
    );
    for i in [0, 2, 3, 5] {
        assert_eq!(rig.fregi_status(&seqnos[i]), Status::SoldPending);
    }
}

#[tokio::test]
async fn g3_bulk_sbps_reports_each_order_and_is_resumable() {
    let rig = rig().await;
    let mut orders = vec![];
    for i in 0..12 {
        let id = format!("b{i:02}");
        rig.sbps_order(&id, 100 + i).await;
        orders.push(o(&id));
    }
    // A crash mid-run: the run is dropped while captures are in flight.
    let fault = rig.sbps.install_fault(
        SbpsFault::latency(400)
            .times(100)
            .on_function(Function::Sales),
    );
    let partial = tokio::time::timeout(
        Duration::from_millis(900),
        rig.shop.bulk_record_payment(
            &orders,
            renkei_host::shop::BulkOptions { concurrency: 4 },
            |_, _| {},
        ),
    )
    .await;
    assert!(partial.is_err(), "the run was cut off");
    rig.sbps.remove_fault(fault);
    // A new host on the same journal, after the dead one's lease.
    let journal: Arc<dyn JournalStore> = Arc::from(journal::sqlite::open(&rig.path).unwrap());
    let shop = build_shop(
        &rig._registry,
        &rig.sbps,
        &rig.fregi,
        journal.clone(),
        Duration::from_secs(2),
    );
    tokio::time::sleep(shop.executor().lease() + Duration::from_millis(200)).await;
    shop.recover().await.unwrap();
    let report = shop
        .bulk_record_payment(&orders, Default::default(), |_, _| {})
        .await;
    assert_eq!(report.failed(), 0, "{:?}", report.failure_lines());
    for (i, order) in orders.iter().enumerate() {
        let t = journal.order(order).unwrap().unwrap().transaction.unwrap();
        let p = rig.sbps.payment(t.as_str()).unwrap();
        assert_eq!(p.payment_status, PaymentStatus::Sold);
        assert_eq!(p.captured_amount, 100 + i as u32);
        let succeeded_captures = journal
            .operations(order)
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == OperationKind::Capture && r.outcome.is_some())
            .count();
        assert_eq!(succeeded_captures, 1, "order {order} captured once");
    }
}

// G-4, S-4, F-6 -----------------------------------------------------------------------------

#[tokio::test]
async fn g4_cancel_before_capture_voids_after_capture_refunds_sbps() {
    let rig = rig().await;
    let a = rig.sbps_order("g4-a", 1000).await;
    let r = rig
        .shop
        .change_status(&o("g4-a"), StatusChange::Cancel, true)
        .await
        .unwrap();
    assert_eq!(kinds(&r), [OperationKind::Void]);
    assert_eq!(r.gateway_label.as_deref(), Some("与信取消済"));
    assert_eq!(r.order.status, OrderStatus::Cancelled);
    assert_eq!(rig.sbps_status(&a), PaymentStatus::Cancelled);

    let b = rig.sbps_order("g4-b", 2000).await;
    rig.shop.record_payment(&o("g4-b")).await.unwrap();
    let r = rig
        .shop
        .change_status(&o("g4-b"), StatusChange::Return, true)
        .await
        .unwrap();
    assert_eq!(kinds(&r), [OperationKind::Refund]);
    assert_eq!(r.order.status, OrderStatus::Returned);
    assert_eq!(rig.sbps_status(&b), PaymentStatus::Refunded);
}

#[tokio::test]
async fn s4_post_capture_cancel_is_a_card_refund_labelled_返金済() {
    let rig = rig().await;
    let t = rig.sbps_order("s4", 3000).await;
    rig.shop.record_payment(&o("s4")).await.unwrap();
    let r = rig
        .shop
        .change_status(&o("s4"), StatusChange::Delete, true)
        .await
        .unwrap();
    assert_eq!(r.gateway_label.as_deref(), Some("返金済"));
    assert_eq!(rig.sbps.payment(&t).unwrap().refunded_total, 3000);
}

#[tokio::test]
async fn f6_cancel_is_承認取消_before_capture_and_売上取消_after() {
    let rig = rig().await;
    for (change, order) in [
        (StatusChange::Uncollectible, "f6-u"),
        (StatusChange::Hold, "f6-h"),
    ] {
        let seq = rig.fregi_order(order, 1200).await;
        let r = rig
            .shop
            .change_status(&o(order), change, true)
            .await
            .unwrap();
        assert_eq!(r.gateway_label.as_deref(), Some("承認取消"));
        assert_eq!(rig.fregi_status(&seq), Status::AuthorizationCancelled);
    }
    let seq = rig.fregi_order("f6-r", 1500).await;
    rig.shop.record_payment(&o("f6-r")).await.unwrap();
    let r = rig
        .shop
        .change_status(&o("f6-r"), StatusChange::Return, true)
        .await
        .unwrap();
    assert_eq!(r.gateway_label.as_deref(), Some("売上取消（未伝送）"));
    assert_eq!(rig.fregi_status(&seq), Status::SaleCancelledPending);
}

#[tokio::test]
async fn g4_without_the_checkbox_the_gateway_is_not_touched() {
    let rig = rig().await;
    let t = rig.sbps_order("g4-n", 1000).await;
    let r = rig
        .shop
        .change_status(&o("g4-n"), StatusChange::Cancel, false)
        .await
        .unwrap();
    assert!(r.operations.is_empty());
    assert!(matches!(
        r.warnings[..],
        [Warning::GatewayNotTouched { .. }]
    ));
    assert_eq!(r.order.status, OrderStatus::Cancelled);
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Authorized);
    assert_eq!(rig.operations("g4-n").len(), 1, "only the authorization");
}

// G-5, F-12 ---------------------------------------------------------------------------------

#[tokio::test]
async fn g5_f12_a_cancelled_transaction_refuses_everything_and_sends_nothing() {
    let rig = rig().await;
    for (order, gateway) in [("g5-s", "sbps"), ("g5-f", "fregi")] {
        if gateway == "sbps" {
            rig.sbps_order(order, 1000).await;
        } else {
            rig.fregi_order(order, 1000).await;
        }
        rig.shop
            .change_status(&o(order), StatusChange::Hold, true)
            .await
            .unwrap();
        let before = rig.operations(order);
        let shop_before = rig.shop.order(&o(order)).await.unwrap();
        let e = rig.shop.record_payment(&o(order)).await.unwrap_err();
        assert_eq!(e.code(), "gateway_transaction_cancelled", "{e}");
        assert!(e.to_string().contains("G-5"), "{e}");
        let e = rig
            .shop
            .change_status(&o(order), StatusChange::Cancel, true)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "gateway_transaction_cancelled", "{e}");
        let e = rig
            .shop
            .no_payment_needed(&o(order), true)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "gateway_transaction_cancelled", "{e}");
        assert_eq!(rig.operations(order), before, "nothing journaled or sent");
        assert_eq!(rig.shop.order(&o(order)).await.unwrap(), shop_before);
    }
}

// G-6, G-7, F-9 -----------------------------------------------------------------------------

#[tokio::test]
async fn g6_cancel_payment_date_after_capture_warns_and_never_refunds() {
    let rig = rig().await;
    let t = rig.sbps_order("g6", 1000).await;
    rig.shop.record_payment(&o("g6")).await.unwrap();
    let r = rig.shop.cancel_payment_date(&o("g6")).await.unwrap();
    assert!(r.operations.is_empty());
    assert_eq!(
        r.warnings,
        [Warning::GatewayStaysCaptured {
            captured: Money::jpy(1000)
        }]
    );
    assert!(!r.order.paid);
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Sold);
    assert_eq!(rig.sbps.payment(&t).unwrap().refunded_total, 0);
    // Recording the payment again does not capture again.
    let r = rig.shop.record_payment(&o("g6")).await.unwrap();
    assert!(r.operations.is_empty());
    assert!(r.order.paid);
}

#[tokio::test]
async fn g7_amount_change_after_capture_is_not_linked() {
    let rig = rig().await;
    let t = rig.sbps_order("g7", 1000).await;
    rig.shop.record_payment(&o("g7")).await.unwrap();
    let r = rig
        .shop
        .change_amount(&o("g7"), Money::jpy(800))
        .await
        .unwrap();
    assert!(r.operations.is_empty());
    assert!(matches!(r.warnings[..], [Warning::AmountNotLinked { .. }]));
    assert_eq!(rig.sbps.payment(&t).unwrap().captured_amount, 1000);
}

#[tokio::test]
async fn f9_record_payment_again_after_amount_change_is_not_linked() {
    let rig = rig().await;
    let seq = rig.fregi_order("f9", 5000).await;
    rig.shop.record_payment(&o("f9")).await.unwrap();
    rig.shop.cancel_payment_date(&o("f9")).await.unwrap();
    rig.shop
        .change_amount(&o("f9"), Money::jpy(4000))
        .await
        .unwrap();
    let r = rig.shop.record_payment(&o("f9")).await.unwrap();
    assert!(r.operations.is_empty());
    assert_eq!(
        r.warnings,
        [Warning::AmountNotLinked {
            captured: Money::jpy(5000),
            amount_due: Money::jpy(4000)
        }]
    );
    let tx = rig.fregi.transaction(fregi_seqno(&seq)).unwrap();
    assert_eq!((tx.status, tx.amount), (Status::SoldPending, 5000));
}

// G-8, F-5 ----------------------------------------------------------------------------------

#[tokio::test]
async fn g8_reconcile_reports_sbps_admin_refund_and_capture_without_overwriting() {
    let rig = rig().await;
    let a = rig.sbps_order("g8-a", 1000).await;
    rig.shop.record_payment(&o("g8-a")).await.unwrap();
    let b = rig.sbps_order("g8-b", 2000).await;
    rig.sbps_order("g8-c", 3000).await;
    rig.sbps.admin_refund(&a).unwrap();
    rig.sbps.admin_capture(&b, Some(1500)).unwrap();
    let journal_before = rig.shop.payment(&o("g8-a")).await.unwrap();
    let report = rig.shop.reconcile(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(report.checked, 3);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let kinds: Vec<(String, DriftKind)> = report
        .drift
        .iter()
        .map(|d| (d.order.to_string(), d.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("g8-a".to_string(), DriftKind::RefundedAtGateway),
            ("g8-b".to_string(), DriftKind::CapturedAtGateway),
        ]
    );
    assert_eq!(rig.shop.payment(&o("g8-a")).await.unwrap(), journal_before);
}

#[tokio::test]
async fn f5_admin_amount_change_is_drift_and_capture_from_the_shop_is_refused() {
    let rig = rig().await;
    let seq = rig.fregi_order("f5", 3000).await;
    rig.fregi
        .admin_change_amount(FREGI_SHOP, fregi_seqno(&seq), 2500)
        .unwrap();
    let report = rig.shop.inquire(&o("f5")).await.unwrap();
    let drift = report.drift.expect("drift");
    // The old SEQNO is 承認取消 because it was replaced: the drift names the successor rather
    // than calling the authorization cancelled (sim01).
    let new_seqno = rig
        .fregi
        .transaction(fregi_seqno(&seq))
        .unwrap()
        .replaced_by
        .unwrap();
    assert!(
        matches!(&drift.kind, DriftKind::UnknownStatus { raw } if raw.contains(&new_seqno)),
        "{:?}",
        drift.kind
    );
    assert_eq!(drift.gateway_label.as_deref(), Some("承認取消"));
    assert_eq!(
        report.journal.state,
        PaymentState::Authorized,
        "not overwritten"
    );
    let e = rig.shop.record_payment(&o("f5")).await.unwrap_err();
    assert_eq!(e.reason(), "売上処理時の指定された取引は承認取消済みです");
    assert_eq!(rig.fregi_status(&seq), Status::AuthorizationCancelled);
    assert!(!rig.shop.order(&o("f5")).await.unwrap().paid);
}

// G-9 ---------------------------------------------------------------------------------------

#[tokio::test]
async fn g9_release_pre_order_authorizes_once_and_cannot_be_undone() {
    let rig = rig().await;
    let r = rig
        .shop
        .register_pre_order(&o("g9"), "sbps", Money::jpy(4200))
        .await
        .unwrap();
    assert!(r.operations.is_empty());
    assert!(
        rig.shop.orders(true).await.unwrap().is_empty(),
        "pre-orders are not unpaid yet"
    );
    let r = rig
        .shop
        .release_pre_order(&o("g9"), sbps_token(), Some(CustomerRef::new("c9")))
        .await
        .unwrap();
    assert_eq!(kinds(&r), [OperationKind::Authorize]);
    assert_eq!(r.order.status, OrderStatus::Normal);
    let t = rig.transaction("g9").await;
    assert_eq!(rig.sbps.payment(&t).unwrap().authorized_amount, 4200);
    let e = rig
        .shop
        .release_pre_order(&o("g9"), sbps_token(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, ShopError::IllegalAction { .. }), "{e}");
    rig.shop.record_payment(&o("g9")).await.unwrap();
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Sold);
}

// G-10, G-11, F-8 ---------------------------------------------------------------------------

#[tokio::test]
async fn g10_change_payment_method_voids_before_capture_only() {
    let rig = rig().await;
    let t = rig.sbps_order("g10-a", 1000).await;
    let r = rig
        .shop
        .change_payment_method(&o("g10-a"), "cash on delivery", true)
        .await
        .unwrap();
    assert_eq!(kinds(&r), [OperationKind::Void]);
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Cancelled);
    assert!(matches!(r.order.method, PaymentMethod::Other { .. }));

    let t = rig.sbps_order("g10-b", 1000).await;
    rig.shop.record_payment(&o("g10-b")).await.unwrap();
    let before = rig.shop.order(&o("g10-b")).await.unwrap();
    let e = rig
        .shop
        .change_payment_method(&o("g10-b"), "bank transfer", true)
        .await
        .unwrap_err();
    assert!(matches!(e, ShopError::IllegalAction { .. }), "{e}");
    assert_eq!(rig.shop.order(&o("g10-b")).await.unwrap(), before);
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Sold);
}

#[tokio::test]
async fn g11_f8_no_payment_needed_voids_and_zero_yen_is_refused() {
    let rig = rig().await;
    let seq = rig.fregi_order("f8", 1000).await;
    let e = rig
        .shop
        .change_amount(&o("f8"), Money::jpy(0))
        .await
        .unwrap_err();
    assert!(matches!(e, ShopError::InvalidAmount { .. }), "{e}");
    assert!(e.to_string().contains("no payment needed"), "{e}");
    let r = rig.shop.no_payment_needed(&o("f8"), true).await.unwrap();
    assert_eq!(kinds(&r), [OperationKind::Void]);
    assert_eq!(r.order.method, PaymentMethod::NoPaymentNeeded);
    assert_eq!(r.order.amount_due, Money::jpy(0));
    assert_eq!(rig.fregi_status(&seq), Status::AuthorizationCancelled);
    assert!(rig.shop.orders(true).await.unwrap().is_empty());
}

// S-1, F-2, F-3, F-4, F-7 -------------------------------------------------------------------

#[tokio::test]
async fn s1_capture_uses_the_shops_current_amount() {
    let rig = rig().await;
    let lower = rig.sbps_order("s1-lo", 2000).await;
    let r = rig
        .shop
        .change_amount(&o("s1-lo"), Money::jpy(1700))
        .await
        .unwrap();
    assert!(r.operations.is_empty(), "held until capture");
    assert!(matches!(
        r.warnings[..],
        [Warning::AmountHeldUntilCapture { .. }]
    ));
    rig.shop.record_payment(&o("s1-lo")).await.unwrap();
    assert_eq!(rig.sbps.payment(&lower).unwrap().captured_amount, 1700);

    rig.sbps_order("s1-hi", 2000).await;
    rig.shop
        .change_amount(&o("s1-hi"), Money::jpy(2600))
        .await
        .unwrap();
    let r = rig.shop.record_payment(&o("s1-hi")).await.unwrap();
    let p = rig.shop.payment(&o("s1-hi")).await.unwrap().unwrap();
    assert_eq!(p.captured, Money::jpy(2600));
    let now = p.transaction.unwrap();
    assert_eq!(
        rig.sbps.payment(now.as_str()).unwrap().captured_amount,
        2600
    );
    assert!(
        r.operations[0].steps.len() > 2,
        "re-authorized: {:?}",
        r.operations[0].steps
    );
}

#[tokio::test]
async fn f2_f4_capture_after_amount_change_reauthorizes() {
    let rig = rig().await;
    let old = rig.fregi_order("f2", 3000).await;
    let r = rig
        .shop
        .change_amount(&o("f2"), Money::jpy(3500))
        .await
        .unwrap();
    assert!(r.operations.is_empty(), "F-4: not sent at edit time");
    assert_eq!(
        rig.fregi.transaction(fregi_seqno(&old)).unwrap().amount,
        3000
    );
    let r = rig.shop.record_payment(&o("f2")).await.unwrap();
    assert_eq!(r.operations[0].steps, ["authchange", "sale"]);
    let new = rig.transaction("f2").await;
    assert_ne!(new, old);
    let tx = rig.fregi.transaction(fregi_seqno(&new)).unwrap();
    assert_eq!((tx.status, tx.amount), (Status::SoldPending, 3500));
    assert_eq!(rig.fregi_status(&old), Status::AuthorizationCancelled);
}

#[tokio::test]
async fn f3_a_refused_amount_change_captures_nothing_and_says_what_to_do() {
    let rig = rig().await;
    let seq = rig.fregi_order_with("f3", 8000, "TESTTOKEN-LIMIT").await;
    rig.shop
        .change_amount(&o("f3"), Money::jpy(12000))
        .await
        .unwrap();
    let e = rig.shop.record_payment(&o("f3")).await.unwrap_err();
    let ShopError::Gateway { hint, .. } = &e else {
        panic!("expected the gateway's refusal, got {e}");
    };
    assert!(hint.is_some_and(|h| h.contains("F-3")), "{e}");
    let tx = rig.fregi.transaction(fregi_seqno(&seq)).unwrap();
    assert_eq!((tx.status, tx.amount), (Status::Authorized, 8000));
    assert!(!rig.shop.order(&o("f3")).await.unwrap().paid);
    // The operator's first option: capture the authorized amount.
    rig.shop
        .change_amount(&o("f3"), Money::jpy(8000))
        .await
        .unwrap();
    rig.shop.record_payment(&o("f3")).await.unwrap();
    assert_eq!(rig.fregi_status(&seq), Status::SoldPending);
}

#[tokio::test]
async fn f7_one_yen_is_refused_on_fregi_before_anything_is_sent() {
    let rig = rig().await;
    let seq = rig.fregi_order("f7", 500).await;
    let before = rig.shop.order(&o("f7")).await.unwrap();
    let e = rig
        .shop
        .change_amount(&o("f7"), Money::jpy(1))
        .await
        .unwrap_err();
    assert!(matches!(e, ShopError::InvalidAmount { .. }), "{e}");
    assert!(e.to_string().contains("F-7"), "{e}");
    assert_eq!(rig.shop.order(&o("f7")).await.unwrap(), before);
    let e = rig
        .shop
        .checkout(
            &o("f7-b"),
            "fregi",
            Money::jpy(1),
            fregi_token("TESTTOKEN-OK"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ShopError::InvalidAmount { .. }), "{e}");
    assert!(rig.operations("f7-b").is_empty());
    assert_eq!(
        rig.fregi.transaction(fregi_seqno(&seq)).unwrap().amount,
        500
    );
    assert_eq!(rig.fregi.transactions().len(), 1, "nothing reached F-REGI");
}

// Refusals, history, review -------------------------------------------------------------------

#[tokio::test]
async fn unknown_orders_and_other_shops_orders_are_typed_refusals() {
    let rig = rig().await;
    for e in [
        rig.shop.record_payment(&o("nope")).await.unwrap_err(),
        rig.shop.cancel_payment_date(&o("nope")).await.unwrap_err(),
        rig.shop.inquire(&o("nope")).await.unwrap_err(),
    ] {
        assert!(matches!(e, ShopError::UnknownOrder(_)), "{e}");
        assert_eq!(e.code(), "unknown_order");
    }
    rig.sbps_order("mine", 100).await;
    let other = Shop::new("shop-2", rig.shop.executor().clone());
    let e = other.record_payment(&o("mine")).await.unwrap_err();
    assert!(matches!(e, ShopError::UnknownOrder(_)), "{e}");
    let e = rig
        .shop
        .checkout(&o("x"), "paypal", Money::jpy(100), sbps_token(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, ShopError::UnknownGateway(_)), "{e}");
}

#[tokio::test]
async fn history_and_operator_review_of_an_unknown_capture() {
    // F-REGI without its inquiry extension: a capture whose reply is lost cannot be settled
    // automatically (capture is not replay-safe there), so an operator decides.
    let rig = rig().await;
    let registry = &rig._registry;
    let gw = instantiate(
        registry,
        "fregi",
        "fregi",
        text_values([
            ("base_url", rig.fregi.base_url()),
            ("shop_id", FREGI_SHOP.into()),
        ]),
    );
    let shop = Shop::new("shop-1", rig.shop.executor().clone()).with_gateway(Arc::new(gw), true);
    shop.checkout(
        &o("rv"),
        "fregi",
        Money::jpy(700),
        fregi_token("TESTTOKEN-OK"),
        None,
    )
    .await
    .unwrap();
    let seq = rig.transaction("rv").await;
    rig.fregi.install_fault(
        renkei_emulator_fregi::Fault::reply_lost().on_script(renkei_emulator_fregi::Script::Sale),
    );
    let e = shop.record_payment(&o("rv")).await.unwrap_err();
    let ShopError::NeedsReview { operation, .. } = e else {
        panic!("expected review, got {e}");
    };
    // Held: nothing else may happen to the order until the operator decides.
    let e = shop
        .change_status(&o("rv"), StatusChange::Cancel, true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "needs_review", "{e}");
    // The operator reads F-REGI's admin: captured.
    assert_eq!(rig.fregi_status(&seq), Status::SoldPending);
    let stored = renkei_host::journal::StoredOutcome {
        state: PaymentState::Captured {
            settlement: renkei_sdk::Settlement::Pending,
        },
        gateway_status: Some("20".into()),
        transaction: Some(renkei_sdk::TransactionRef::new(&seq)),
        replaced: None,
        handle: None,
        authorization_code: None,
        authorized: None,
        captured: Some(Money::jpy(700)),
        refunded: None,
        notes: vec![],
    };
    shop.resolve_review(
        &o("rv"),
        operation,
        Decision::TookEffect(Box::new(stored)),
        "operator-7",
    )
    .await
    .unwrap();
    let r = shop.record_payment(&o("rv")).await.unwrap();
    assert!(
        r.operations.is_empty(),
        "already captured: marked paid only"
    );
    assert!(r.order.paid);
    let history = shop.history(&o("rv")).await.unwrap();
    let kinds: Vec<OperationKind> = history.iter().map(|h| h.kind).collect();
    assert_eq!(kinds, [OperationKind::Authorize, OperationKind::Capture]);
    assert_eq!(history[1].status, OperationStatus::Resolved);
}

// S-2, S-3, F-11 ----------------------------------------------------------------------------

#[tokio::test]
async fn s2_f11_status_tables_carry_the_manuals_labels() {
    let rig = rig().await;
    let labels = |gateway: &str| -> Vec<String> {
        let mut l: Vec<String> = rig
            .shop
            .gateway(gateway)
            .unwrap()
            .manifest()
            .statuses
            .iter()
            .map(|s| s.label.clone())
            .collect();
        l.sort();
        l
    };
    let mut s2 = vec!["与信済", "売上済", "与信取消済", "返金済", "未オーソリ"];
    s2.sort();
    assert_eq!(labels("sbps"), s2);
    let mut f11 = vec![
        "承認済",
        "承認取消",
        "承認失敗",
        "売上済（未伝送）",
        "売上済（伝送済）",
        "売上取消（未伝送）",
        "売上取消（伝送済）",
        "売上失敗",
        "予約（未オーソリ）",
        "通常処理（有効性確認済み）",
    ];
    f11.sort();
    assert_eq!(labels("fregi"), f11);
}

#[tokio::test]
async fn s3_partial_refund_in_the_sbps_tool_is_reported_not_applied() {
    let rig = rig().await;
    let t = rig.sbps_order("s3", 5000).await;
    rig.shop.record_payment(&o("s3")).await.unwrap();
    rig.sbps.admin_partial_refund(&t, 1200).unwrap();
    let report = rig.shop.inquire(&o("s3")).await.unwrap();
    let drift = report.drift.expect("drift");
    assert_eq!(drift.kind, DriftKind::RefundedAtGateway);
    assert_eq!(drift.gateway_label.as_deref(), Some("返金済"));
    let journal = rig.shop.payment(&o("s3")).await.unwrap().unwrap();
    assert_eq!(
        journal.refunded,
        Money::jpy(0),
        "the journal is not overwritten"
    );
    assert!(matches!(journal.state, PaymentState::Captured { .. }));
    // Returning it from the shop now asks SBPS for the rest of what the journal believes is
    // captured, which SBPS's own refund makes too much: a typed refusal that says what SBPS
    // shows, and the journal still unchanged (S-4; breach 12).
    let e = rig
        .shop
        .change_status(&o("s3"), StatusChange::Return, true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "gateway_refused", "{e}");
    let journal = rig.shop.payment(&o("s3")).await.unwrap().unwrap();
    assert_eq!(journal.refunded, Money::jpy(0));
    assert_eq!(rig.sbps.payment(&t).unwrap().refunded_total, 1200);
}

// Card data ---------------------------------------------------------------------------------

/// A raw card number (F-REGI's test protocol takes one) reaches the gateway and nothing else:
/// not the journal's copy of the request, not the result, not the shop's record.
#[tokio::test]
async fn a_raw_card_number_is_never_journaled() {
    let rig = rig().await;
    let card = renkei_sdk::CardData {
        number: Secret::new("4111111111111111"),
        expiry: Secret::new("209912"),
        security_code: Some(Secret::new("737")),
        holder: Some(Secret::new("TARO YAMADA")),
    };
    let r = rig
        .shop
        .checkout(
            &o("card"),
            "fregi",
            Money::jpy(2400),
            PaymentSource::Card(card),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.gateway_label.as_deref(), Some("承認済"));
    let seq = rig.transaction("card").await;
    assert_eq!(
        rig.fregi_status(&seq),
        Status::Authorized,
        "it did reach F-REGI"
    );
    let mut seen = format!("{r:?} {}", serde_json::to_string(&r).unwrap());
    for op in rig.journal.operations(&o("card")).unwrap() {
        seen.push_str(&format!("{op:?}"));
        for x in rig.journal.exchanges(op.id).unwrap() {
            seen.push_str(&format!("{x:?} {}", String::from_utf8_lossy(&x.sent.state)));
        }
    }
    // The journal's files as written (SQLite in WAL mode keeps recent pages in `-wal`).
    let mut raw_db = std::fs::read(&rig.path).unwrap();
    raw_db.extend(std::fs::read(rig.path.with_extension("db-wal")).unwrap_or_default());
    assert!(
        !seen.contains("SCODE=737"),
        "security code leaked into {seen}"
    );
    for secret in ["4111111111111111", "TARO YAMADA"] {
        assert!(!seen.contains(secret), "{secret} leaked into {seen}");
        assert!(
            !raw_db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is in the journal file"
        );
    }
}

/// Two operators acting on one order at once: neither change to the shop's record is lost.
#[tokio::test]
async fn concurrent_actions_on_one_order_lose_no_change() {
    let rig = rig().await;
    for i in 0..10 {
        let order = format!("cc{i}");
        rig.sbps_order(&order, 1000).await;
        rig.shop.record_payment(&o(&order)).await.unwrap();
        let r = o(&order);
        let (a, b) = tokio::join!(
            rig.shop.cancel_payment_date(&r),
            rig.shop.change_status(&r, StatusChange::Hold, false),
        );
        a.unwrap();
        b.unwrap();
        let now = rig.shop.order(&o(&order)).await.unwrap();
        assert!(!now.paid, "{order}: the payment date cancel was lost");
        assert_eq!(
            now.status,
            OrderStatus::Held,
            "{order}: the status change was lost"
        );
    }
}

/// An order authorized outside the host (another system, the gateway's own tool) is registered
/// by its gateway reference; the shop's actions then reach it, and an inquiry agrees.
#[tokio::test]
async fn an_order_authorized_elsewhere_is_registered_and_captured() {
    let rig = rig().await;
    // Authorized by "another system": the same plugin driven without the journal.
    let gateway = rig.shop.gateway("sbps").unwrap().clone();
    let outside = renkei_host::Driver::new(Duration::from_secs(5))
        .execute(
            &gateway,
            &renkei_sdk::Operation::Authorize {
                order: o("ext-1"),
                amount: Money::jpy(3200),
                source: sbps_token(),
                customer: Some(CustomerRef::new("cust-ext")),
                description: None,
            },
            "elsewhere-1",
        )
        .await
        .unwrap();
    let transaction = outside.outcome.transaction.unwrap();
    let r = rig
        .shop
        .register_authorized(&o("ext-1"), "sbps", transaction.clone(), Money::jpy(3200))
        .await
        .unwrap();
    assert!(r.operations.is_empty(), "registering sends nothing");
    assert_eq!(r.state, Some(PaymentState::Authorized));
    let e = rig
        .shop
        .register_authorized(&o("ext-1"), "sbps", transaction.clone(), Money::jpy(3200))
        .await
        .unwrap_err();
    assert!(matches!(e, ShopError::OrderExists(_)), "{e}");
    assert!(rig.shop.inquire(&o("ext-1")).await.unwrap().drift.is_none());
    rig.shop.record_payment(&o("ext-1")).await.unwrap();
    let p = rig.sbps.payment(transaction.as_str()).unwrap();
    assert_eq!(
        (p.payment_status, p.captured_amount),
        (PaymentStatus::Sold, 3200)
    );
}

/// The breaches found at the seams between shop, executor and plugins.
mod seams;

/// Money bugs the simulation found, as named regression tests.
mod sim_found;
