//! Money safety at the seams between the shop layer, the executor and the plugins: each test
//! reproduces one breach found by reading the host as someone trying to break it (a fault after
//! the gateway processed, a concurrent edit, an action in the gateway's own tool, a crash
//! between two commits), and is named after it. Each failed on the code before its fix.

use super::*;
use renkei_emulator_fregi::{Fault as FregiFault, Script};
use renkei_emulator_sbps::TEST_TOKEN_DECLINE_UNUSABLE;
use renkei_host::journal::StoredOutcome;
use renkei_sdk::{Operation, RefundExtent, Settlement, TransactionRef};
use renkei_tests::fregi_seqno;

fn captured_outcome(transaction: &str, amount: i64) -> StoredOutcome {
    StoredOutcome {
        state: PaymentState::Captured {
            settlement: Settlement::NotReported,
        },
        gateway_status: None,
        transaction: Some(TransactionRef::new(transaction)),
        replaced: None,
        handle: None,
        authorization_code: None,
        authorized: None,
        captured: Some(Money::jpy(amount)),
        refunded: None,
        notes: vec![],
    }
}

impl Rig {
    /// The host dies after the gateway operation took effect and before the shop's record was
    /// written: the shop's row goes back to what it was before the action, the journal keeps
    /// the operation (with its intent), as a SIGKILL between the two commits leaves them.
    fn lose_the_shop_write(&self, before: &renkei_host::journal::ShopRow) {
        let now = self.journal.shop_row(&before.order).unwrap().unwrap();
        let mut restored = before.clone();
        restored.version = now.version;
        self.journal.save_shop_row(&restored).unwrap();
    }

    fn shop_row(&self, order: &str) -> renkei_host::journal::ShopRow {
        self.journal.shop_row(&o(order)).unwrap().unwrap()
    }
}

/// Breach 1 (G-8, S-3): 1,200 of 5,000 refunded in SBPS's tool; the shop returns the order with
/// the box ticked and the refund's reply is lost. SBPS says 返金済 without amounts, so the
/// settling inquiry cannot tell this refund from the tool's: never booked as a full refund.
#[tokio::test]
async fn breach01_a_lost_refund_reply_after_a_partial_refund_in_the_sbps_tool_is_not_booked() {
    let rig = rig().await;
    let t = rig.sbps_order("b01", 5000).await;
    rig.shop.record_payment(&o("b01")).await.unwrap();
    rig.sbps.admin_partial_refund(&t, 1200).unwrap();
    rig.sbps
        .install_fault(SbpsFault::reply_lost().on_function(Function::PartialRefund));
    rig.sbps
        .install_fault(SbpsFault::reply_lost().on_function(Function::CancelOrRefund));
    let result = rig
        .shop
        .change_status(&o("b01"), StatusChange::Return, true)
        .await;
    let journal = rig.shop.payment(&o("b01")).await.unwrap().unwrap();
    assert_eq!(journal.refunded, Money::jpy(0), "{result:?}");
    assert!(
        matches!(
            result,
            Err(ShopError::NeedsReview { .. } | ShopError::Gateway { .. })
        ),
        "never a success the gateway did not state: {result:?}"
    );
}

/// Breach 2: the amount due is edited while a capture is in flight. The edit is refused as
/// busy, so the shop never shows one amount paid while the gateway captured another.
#[tokio::test]
async fn breach02_an_amount_edit_while_a_capture_is_in_flight_is_refused() {
    let rig = rig().await;
    let t = rig.sbps_order("b02s", 1000).await;
    let seq = rig.fregi_order("b02f", 1000).await;
    rig.sbps
        .install_fault(SbpsFault::latency(800).on_function(Function::Sales));
    rig.fregi
        .install_fault(FregiFault::latency(800).on_script(Script::Sale));
    for order in ["b02s", "b02f"] {
        let shop = rig.shop.clone();
        let capture = tokio::spawn(async move { shop.record_payment(&o(order)).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let edit = rig.shop.change_amount(&o(order), Money::jpy(1200)).await;
        assert_eq!(
            edit.as_ref().unwrap_err().code(),
            "busy",
            "{order}: {edit:?}"
        );
        let paid = capture.await.unwrap().unwrap();
        assert!(paid.order.paid, "{order}");
        assert_eq!(paid.order.amount_due, Money::jpy(1000), "{order}");
        assert!(paid.warnings.is_empty(), "{order}: {:?}", paid.warnings);
        let journal = rig.shop.payment(&o(order)).await.unwrap().unwrap();
        assert_eq!(journal.captured, Money::jpy(1000), "{order}");
    }
    assert_eq!(rig.sbps.payment(&t).unwrap().captured_amount, 1000);
    assert_eq!(
        rig.fregi.transaction(fregi_seqno(&seq)).unwrap().amount,
        1000
    );
    assert_eq!(rig.fregi_status(&seq), Status::SoldPending);
}

/// Breach 3: an F-REGI NG whose code is in no table, answered after F-REGI processed the sale,
/// is not "nothing happened": the outcome is resolved (here the emulator's inquiry finds the
/// sale), and the journal agrees with F-REGI's book.
#[tokio::test]
async fn breach03_an_undocumented_fregi_error_code_is_never_taken_as_nothing_happened() {
    let rig = rig().await;
    let seq = rig.fregi_order("b03", 1500).await;
    rig.fregi
        .install_fault(FregiFault::gateway_error_after_processing().on_script(Script::Sale));
    let r = rig.shop.record_payment(&o("b03")).await.unwrap();
    assert!(r.operations[0].resolution.is_some(), "{r:?}");
    assert_eq!(rig.fregi_status(&seq), Status::SoldPending);
    let journal = rig.shop.payment(&o("b03")).await.unwrap().unwrap();
    assert_eq!(journal.captured, Money::jpy(1500));
    assert!(r.order.paid);
}

/// Breach 4 (G-4, G-10): the payment method was changed away from card with the box unticked;
/// a later cancel with the box ticked must still reach the open card transaction.
#[tokio::test]
async fn breach04_a_ticked_cancel_after_leaving_card_unticked_still_refunds() {
    let rig = rig().await;
    let t = rig.sbps_order("b04s", 2000).await;
    let seq = rig.fregi_order("b04f", 2000).await;
    for order in ["b04s", "b04f"] {
        rig.shop.record_payment(&o(order)).await.unwrap();
        let r = rig
            .shop
            .change_payment_method(&o(order), "cash_on_delivery", false)
            .await
            .unwrap();
        assert!(
            matches!(r.warnings[..], [Warning::GatewayNotTouched { .. }]),
            "{order}"
        );
        let r = rig
            .shop
            .change_status(&o(order), StatusChange::Cancel, true)
            .await
            .unwrap();
        assert_eq!(kinds(&r), [OperationKind::Refund], "{order}");
        let journal = rig.shop.payment(&o(order)).await.unwrap().unwrap();
        assert_eq!(journal.refunded, Money::jpy(2000), "{order}");
    }
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Refunded);
    assert_eq!(rig.fregi_status(&seq), Status::SaleCancelledPending);
}

/// Breach 5 (G-8, F-10): a capture made in the gateway's own tool makes the shop's capture
/// answer "already captured". Not a plain failure that leaves the journal authorized for good:
/// a drift event an operator adopts, after which the journal agrees with the gateway.
#[tokio::test]
async fn breach05_already_captured_in_the_gateways_tool_becomes_drift_an_operator_adopts() {
    let rig = rig().await;
    let seq = rig.fregi_order("b05f", 900).await;
    let t = rig.sbps_order("b05s", 800).await;
    rig.fregi.admin_sale(FREGI_SHOP, fregi_seqno(&seq)).unwrap();
    rig.sbps.admin_capture(&t, None).unwrap();
    for (order, transaction, amount) in [("b05f", &seq, 900), ("b05s", &t, 800)] {
        let e = rig.shop.record_payment(&o(order)).await.unwrap_err();
        assert_eq!(e.code(), "gateway_refused", "{order}: {e}");
        let drifts: Vec<_> = rig
            .shop
            .drifts(true)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.order == o(order))
            .collect();
        assert_eq!(drifts.len(), 1, "{order}: {drifts:?}");
        assert!(matches!(
            drifts[0].gateway_state,
            PaymentState::Captured { .. }
        ));
        // The operator reads the gateway's screen and adopts its state.
        let adopted = rig
            .shop
            .adopt_drift(
                drifts[0].id,
                captured_outcome(transaction, amount),
                "operator-2",
            )
            .await
            .unwrap();
        assert_eq!(adopted.captured, Money::jpy(amount));
        assert!(
            rig.shop
                .drifts(true)
                .await
                .unwrap()
                .iter()
                .all(|d| d.order != o(order))
        );
        // The journal now knows: recording the payment marks it paid, nothing is sent, and
        // the order can be refunded from the shop.
        let r = rig.shop.record_payment(&o(order)).await.unwrap();
        assert!(r.operations.is_empty() && r.order.paid, "{order}: {r:?}");
        let r = rig
            .shop
            .change_status(&o(order), StatusChange::Return, true)
            .await
            .unwrap();
        assert_eq!(kinds(&r), [OperationKind::Refund], "{order}");
    }
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Refunded);
    assert!(matches!(
        rig.fregi_status(&seq),
        Status::SaleCancelledPending | Status::SaleCancelledTransmitted
    ));
}

/// Breaches 6 and 14: a cancel whose refund went through, then the host died before the shop's
/// record was written. Repeating the action finds the journal's operation first and only
/// brings the shop's record in line; it is not refused as "already cancelled".
#[tokio::test]
async fn breach06_14_a_cancel_repeated_after_a_crash_finds_the_journals_operation() {
    let rig = rig().await;
    for (order, gateway) in [("b06s", "sbps"), ("b06f", "fregi")] {
        if gateway == "sbps" {
            rig.sbps_order(order, 1000).await;
        } else {
            rig.fregi_order(order, 1000).await;
        }
        rig.shop.record_payment(&o(order)).await.unwrap();
        let before = rig.shop_row(order);
        let first = rig
            .shop
            .change_status(&o(order), StatusChange::Cancel, true)
            .await
            .unwrap();
        rig.lose_the_shop_write(&before);
        let ops_before = rig.operations(order);
        let again = rig
            .shop
            .change_status(&o(order), StatusChange::Cancel, true)
            .await
            .unwrap_or_else(|e| panic!("{order}: the repeat was refused: {e}"));
        assert_eq!(again.order.status, OrderStatus::Cancelled, "{order}");
        assert_eq!(again.operations.len(), 1, "{order}");
        assert!(again.operations[0].from_journal, "{order}");
        assert_eq!(
            again.operations[0].operation, first.operations[0].operation,
            "{order}"
        );
        assert_eq!(rig.operations(order), ops_before, "{order}: nothing sent");
    }
}

/// Breach 7: an SBPS checkout declined, then retried for the same order with another card.
/// A decline proves nothing happened; the new attempt gets a new SBPS order_id instead of
/// SBPS's duplicate-order-id error and a review that loops.
#[tokio::test]
async fn breach07_a_declined_sbps_checkout_can_be_retried_with_another_card() {
    let rig = rig().await;
    let declined = rig
        .shop
        .checkout(
            &o("b07"),
            "sbps",
            Money::jpy(1200),
            PaymentSource::Token {
                token: Secret::new(TEST_TOKEN_DECLINE_UNUSABLE),
                key: Some(Secret::new("token-key")),
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(declined.code(), "gateway_refused", "{declined}");
    let r = rig
        .shop
        .checkout(&o("b07"), "sbps", Money::jpy(1200), sbps_token(), None)
        .await
        .unwrap();
    assert_eq!(r.state, Some(PaymentState::Authorized));
    let t = rig.transaction("b07").await;
    assert_eq!(rig.sbps_status(&t), PaymentStatus::Authorized);
    assert!(rig.shop.reviews().await.unwrap().is_empty());
}

/// Breaches 8 and 11: a first checkout whose outcome is unknown (the authorization's reply is
/// lost after SBPS authorized) must not vanish: the order is listed, appears in the review
/// queue with its evidence, and is resolved through the shop.
#[tokio::test]
async fn breach08_11_a_first_checkout_in_review_is_visible_and_resolvable_through_the_shop() {
    let rig = rig().await;
    rig.sbps
        .install_fault(SbpsFault::reply_lost().on_function(Function::AuthorizeWithToken));
    let e = rig
        .shop
        .checkout(&o("b08"), "sbps", Money::jpy(3000), sbps_token(), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "needs_review", "{e}");
    let listed = rig.shop.orders(false).await.unwrap();
    assert!(listed.iter().any(|s| s.order == o("b08")), "{listed:?}");
    assert!(rig.shop.order(&o("b08")).await.is_ok());
    let queue = rig.shop.reviews().await.unwrap();
    let item = queue
        .iter()
        .find(|i| i.order == o("b08"))
        .expect("in review");
    assert_eq!(item.operation.kind, OperationKind::Authorize);
    assert!(!item.exchanges.is_empty(), "the evidence: what was sent");
    // The operator finds the authorization in SBPS's tool (the emulator's book here).
    let book = rig.sbps.dump();
    let tracking = book
        .payments
        .iter()
        .find(|p| p.authorized_amount == 3000)
        .map(|p| p.tracking_id.clone())
        .expect("SBPS authorized it");
    let mut seen = captured_outcome(&tracking, 0);
    seen.state = PaymentState::Authorized;
    seen.captured = None;
    seen.authorized = Some(Money::jpy(3000));
    rig.shop
        .decide(item, Decision::TookEffect(Box::new(seen)), "operator-8")
        .await
        .unwrap();
    let r = rig.shop.record_payment(&o("b08")).await.unwrap();
    assert_eq!(kinds(&r), [OperationKind::Capture]);
    assert_eq!(rig.sbps_status(&tracking), PaymentStatus::Sold);

    // The same on F-REGI; the operator finds no authorization in F-REGI's screen this time.
    rig.fregi
        .install_fault(FregiFault::http_status(502).on_script(Script::Authm));
    let e = rig
        .shop
        .checkout(
            &o("b08f"),
            "fregi",
            Money::jpy(4000),
            fregi_token("TESTTOKEN-OK"),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "needs_review", "{e}");
    assert!(
        rig.shop
            .orders(true)
            .await
            .unwrap()
            .iter()
            .any(|s| s.order == o("b08f"))
    );
    let queue = rig.shop.reviews().await.unwrap();
    let item = queue
        .iter()
        .find(|i| i.order == o("b08f"))
        .expect("in review");
    assert!(
        rig.fregi.transactions().iter().all(|t| t.id != "b08f"),
        "the 502 came before F-REGI processed it"
    );
    rig.shop
        .decide(item, Decision::NoEffect, "operator-8")
        .await
        .unwrap();
    // Not authorized: the customer checks out again, once.
    rig.shop
        .checkout(
            &o("b08f"),
            "fregi",
            Money::jpy(4000),
            fregi_token("TESTTOKEN-OK"),
            None,
        )
        .await
        .unwrap();
    let seq = rig.transaction("b08f").await;
    assert_eq!(rig.fregi_status(&seq), Status::Authorized);
    // F-REGI keys its transactions by the order code (ID): the check above was not vacuous.
    assert_eq!(rig.fregi.transaction(fregi_seqno(&seq)).unwrap().id, "b08f");
    assert_eq!(
        rig.fregi
            .transactions()
            .iter()
            .filter(|t| t.id == "b08f")
            .count(),
        1
    );
    assert!(rig.shop.reviews().await.unwrap().is_empty());
}

/// Breach 12 (S-2, S-4): SBPS says 返金済 after a partial refund too, with no amount: an
/// inquiry never claims a full refund, and returning a partly refunded order from the shop is
/// either the remainder or a typed refusal that says what SBPS shows (never a review loop).
#[tokio::test]
async fn breach12_sbps_refunded_status_claims_no_extent() {
    let rig = rig().await;
    let t = rig.sbps_order("b12", 5000).await;
    rig.shop.record_payment(&o("b12")).await.unwrap();
    rig.sbps.admin_partial_refund(&t, 1200).unwrap();
    let report = rig.shop.inquire(&o("b12")).await.unwrap();
    assert!(
        matches!(
            report.gateway.state,
            PaymentState::Refunded {
                extent: RefundExtent::NotReported,
                ..
            }
        ),
        "{}",
        report.gateway.state
    );
    let e = rig
        .shop
        .change_status(&o("b12"), StatusChange::Return, true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "gateway_refused", "{e}");
    assert!(
        e.to_string().contains("返金済"),
        "says what SBPS shows: {e}"
    );
    assert_eq!(rig.sbps.payment(&t).unwrap().refunded_total, 1200);
}

/// Breach 13 (G-7, F-9): nothing compared the amount due with what was captured. Inquire and
/// reconcile now report it, and keep it for an operator.
#[tokio::test]
async fn breach13_amount_due_against_captured_is_reported_as_drift() {
    let rig = rig().await;
    rig.fregi_order("b13f", 1000).await;
    rig.sbps_order("b13s", 1000).await;
    for order in ["b13f", "b13s"] {
        rig.shop.record_payment(&o(order)).await.unwrap();
        rig.shop
            .change_amount(&o(order), Money::jpy(1300))
            .await
            .unwrap();
        let report = rig.shop.inquire(&o(order)).await.unwrap();
        assert_eq!(
            report.drift.map(|d| d.kind),
            Some(DriftKind::DueDiffersFromCaptured {
                amount_due: Money::jpy(1300),
                captured: Money::jpy(1000)
            }),
            "{order}"
        );
    }
    let kept = rig.shop.drifts(true).await.unwrap();
    for order in ["b13f", "b13s"] {
        assert!(
            kept.iter()
                .any(|d| d.order == o(order) && d.kind == "due_differs_from_captured"),
            "{order}: {kept:?}"
        );
    }
    // Reconcile reports it too, kept once per order.
    let report = rig.shop.reconcile(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(report.drift.len(), 2, "{:?}", report.drift);
    assert_eq!(rig.shop.drifts(true).await.unwrap().len(), 2);
}

/// Breach 15: a capture whose host died before the shop's record was written. Recovery
/// (and the next load of the order) marks it paid: it leaves the unpaid list without anyone
/// recording the payment again.
#[tokio::test]
async fn breach15_recovery_brings_the_shops_record_in_line_with_the_journal() {
    let rig = rig().await;
    for (order, gateway) in [("b15s", "sbps"), ("b15f", "fregi")] {
        if gateway == "sbps" {
            rig.sbps_order(order, 700).await;
        } else {
            rig.fregi_order(order, 700).await;
        }
        let before = rig.shop_row(order);
        rig.shop.record_payment(&o(order)).await.unwrap();
        rig.lose_the_shop_write(&before);
    }
    let unpaid: Vec<OrderRef> = rig
        .journal
        .shop_rows("shop-1", true)
        .unwrap()
        .into_iter()
        .map(|r| r.order)
        .collect();
    assert_eq!(unpaid, [o("b15f"), o("b15s")], "the crash left them unpaid");
    rig.shop.recover().await.unwrap();
    assert!(rig.shop.orders(true).await.unwrap().is_empty());
    for order in ["b15s", "b15f"] {
        assert!(rig.shop.order(&o(order)).await.unwrap().paid, "{order}");
    }
}

/// Breach 10: an operation left pending while the host runs (here the future of a capture is
/// dropped, as when a caller gives up on it) kept its order busy until a restart. Periodic
/// recovery settles it once its lease runs out, and brings the shop's record in line.
#[tokio::test]
async fn breach10_an_operation_left_pending_while_running_is_recovered_without_a_restart() {
    let rig = rig().await;
    let shop = Arc::new(build_shop(
        &rig._registry,
        &rig.sbps,
        &rig.fregi,
        rig.journal.clone(),
        Duration::from_millis(500),
    ));
    let seq = rig.fregi_order("b10", 1100).await;
    // The sale is applied after 400 ms, whoever is still waiting for it.
    rig.fregi
        .install_fault(FregiFault::latency(400).on_script(Script::Sale));
    let s = shop.clone();
    let dropped = tokio::spawn(async move { s.record_payment(&o("b10")).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    dropped.abort();
    let _ = dropped.await;
    let busy = shop.change_amount(&o("b10"), Money::jpy(1000)).await;
    assert_eq!(busy.unwrap_err().code(), "busy");
    let _recovery = shop.spawn_recovery(Duration::from_millis(200));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let order = shop.order(&o("b10")).await.unwrap();
        if order.paid {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still unpaid and busy: {:?}",
            rig.operations("b10")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(rig.fregi_status(&seq), Status::SoldPending);
    assert!(rig.shop.orders(true).await.unwrap().is_empty());
    assert!(
        rig.operations("b10").iter().all(|(_, status)| !matches!(
            status,
            OperationStatus::Pending | OperationStatus::Unknown
        ))
    );
}

/// G-8 at a gateway without inquiry (F-REGI): what the operator reads in F-REGI's admin screen
/// is kept as drift when it differs from the journal, and adopted from there.
#[tokio::test]
async fn g8_an_operator_reports_what_fregis_admin_screen_shows() {
    let rig = rig().await;
    let seq = rig.fregi_order("g8r", 2500).await;
    rig.shop.record_payment(&o("g8r")).await.unwrap();
    rig.fregi
        .admin_cancel(FREGI_SHOP, fregi_seqno(&seq))
        .unwrap();
    let mut seen = captured_outcome(&seq, 2500);
    seen.state = PaymentState::Refunded {
        extent: RefundExtent::Full,
        settlement: Settlement::Pending,
    };
    seen.refunded = Some(Money::jpy(2500));
    seen.gateway_status = Some("30".into());
    let anonymous = rig.shop.report_drift(&o("g8r"), seen.clone(), " ").await;
    assert_eq!(anonymous.unwrap_err().code(), "no_operator");
    let kept = rig
        .shop
        .report_drift(&o("g8r"), seen.clone(), "operator-3")
        .await
        .unwrap()
        .expect("differs from the journal");
    assert_eq!(kept.kind, "refunded_at_gateway");
    let order = rig
        .shop
        .adopt_drift(kept.id, seen, "operator-3")
        .await
        .unwrap();
    assert_eq!(order.refunded, Money::jpy(2500));
    assert!(order.state.is_final());
    // What agrees with the journal is not drift.
    let agrees = captured_outcome(&seq, 2500);
    let mut same = agrees.clone();
    same.state = order.state.clone();
    same.refunded = Some(Money::jpy(2500));
    assert!(
        rig.shop
            .report_drift(&o("g8r"), same, "operator-3")
            .await
            .unwrap()
            .is_none()
    );
}

/// SBPS (S-4): MG01 says 返金済 after full and partial refunds alike, so the journal,
/// not the gateway's status, knows what is left. A partial refund made from the host, then the
/// order returned: the rest is refunded (ST02-00307 for what is left). After that, nothing is
/// left and any further refund is refused before anything is sent.
#[tokio::test]
async fn s4_the_journal_knows_what_is_left_to_refund_at_sbps() {
    let rig = rig().await;
    let t = rig.sbps_order("s4r", 1000).await;
    rig.shop.record_payment(&o("s4r")).await.unwrap();
    let gw = rig.shop.gateway("sbps").unwrap().clone();
    let partial = Operation::Refund {
        order: o("s4r"),
        transaction: TransactionRef::new(&t),
        captured: Money::jpy(1000),
        amount: Some(Money::jpy(300)),
    };
    rig.shop
        .executor()
        .execute(&gw, &partial, "s4r/refund/partial")
        .await
        .unwrap();
    let r = rig
        .shop
        .change_status(&o("s4r"), StatusChange::Return, true)
        .await
        .unwrap();
    assert_eq!(kinds(&r), [OperationKind::Refund]);
    let book = rig.sbps.payment(&t).unwrap();
    assert_eq!((book.captured_amount, book.refunded_total), (1000, 1000));
    let journal = rig.shop.payment(&o("s4r")).await.unwrap().unwrap();
    assert_eq!(journal.refunded, Money::jpy(1000));
    assert!(journal.state.is_final());

    let sent = rig.sbps.install_fault(
        SbpsFault::latency(0)
            .on_function(Function::PartialRefund)
            .persistent(),
    );
    let again = Operation::Refund {
        order: o("s4r"),
        transaction: TransactionRef::new(&t),
        captured: Money::jpy(1000),
        amount: None,
    };
    let e = rig
        .shop
        .executor()
        .execute(&gw, &again, "s4r/refund/again")
        .await
        .unwrap_err();
    assert!(matches!(e, renkei_host::ExecError::Refused(_)), "{e}");
    let fired = |id| {
        rig.sbps
            .faults()
            .into_iter()
            .find(|f| f.id == id)
            .map_or(0, |f| f.fired)
    };
    assert_eq!(fired(sent), 0, "nothing sent to SBPS");
}
