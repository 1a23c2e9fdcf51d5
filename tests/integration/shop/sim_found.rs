//! Money bugs the simulation (`renkei simulate`) found, each kept as the scenario that showed
//! it, named for what it guards. The simulator's seed that found it is in the doc comment.

use super::*;
use renkei_emulator_fregi::{Fault as FregiFault, Script};
use renkei_host::journal::StoredOutcome;
use renkei_sdk::{RefundExtent, Settlement, TransactionRef};

/// Found by seed 8: F-REGI's tool changed a sale's amount (売上金額変更, a partial refund in
/// the admin screen), which replaces the SEQNO; the shop then returned the order with the box
/// ticked and the cancel's reply was lost. The inquiry on the old SEQNO shows 売上取消 because
/// it was replaced, not because the cancel worked: booking it as a full refund lost the 2/3 of
/// the sale still captured under the new SEQNO. A replaced SEQNO cannot say the payment's state.
#[tokio::test]
async fn sim01_an_inquiry_on_a_seqno_replaced_in_the_fregi_tool_books_no_refund() {
    let rig = rig().await;
    let reference = rig.fregi_order("sim01", 21100).await;
    let seq = renkei_tests::fregi_seqno(&reference);
    rig.shop.record_payment(&o("sim01")).await.unwrap();
    rig.fregi.admin_sale_change(FREGI_SHOP, seq, 14066).unwrap();
    rig.fregi
        .install_fault(FregiFault::reply_lost().on_script(Script::SaleCancel));
    let result = rig
        .shop
        .change_status(&o("sim01"), StatusChange::Return, true)
        .await;
    let journal = rig.shop.payment(&o("sim01")).await.unwrap().unwrap();
    assert_eq!(journal.refunded, Money::jpy(0), "{result:?}");
    assert!(
        matches!(
            result,
            Err(ShopError::NeedsReview { .. } | ShopError::Gateway { .. })
        ),
        "never a refund the gateway did not make: {result:?}"
    );
}

/// Found by seeds 5 and 6: a capture at a changed amount at F-REGI replaced the SEQNO
/// (authchange) and then the sale's outcome was unknown, so the order went to review. Reconcile
/// then inquired the old SEQNO, saw it replaced, and kept a drift event: the operator was sent
/// looking for an action in F-REGI's admin screen that nobody made. An order in review differs
/// from the gateway by the operation under review; no drift event is kept for it.
#[tokio::test]
async fn sim02_an_order_in_review_gets_no_drift_event_from_its_own_operation() {
    let rig = rig().await;
    rig.fregi_order("sim02", 16800).await;
    rig.shop
        .change_amount(&o("sim02"), Money::jpy(13440))
        .await
        .unwrap();
    rig.fregi
        .install_fault(FregiFault::gateway_error().on_script(Script::Sale));
    let result = rig.shop.record_payment(&o("sim02")).await;
    assert!(
        matches!(result, Err(ShopError::NeedsReview { .. })),
        "{result:?}"
    );
    let report = rig.shop.inquire(&o("sim02")).await.unwrap();
    assert_eq!(report.drift, None, "{report:?}");
    let kept = rig.journal.drifts(true).unwrap();
    assert!(kept.iter().all(|d| d.order.as_str() != "sim02"), "{kept:?}");
    // The review itself is still there for the operator.
    assert!(
        rig.shop
            .reviews()
            .await
            .unwrap()
            .iter()
            .any(|r| r.order.as_str() == "sim02")
    );
}

fn refunded_in_part(transaction: &str, captured: i64, refunded: i64) -> StoredOutcome {
    StoredOutcome {
        state: PaymentState::Refunded {
            extent: RefundExtent::Partial,
            settlement: Settlement::NotReported,
        },
        gateway_status: None,
        transaction: Some(TransactionRef::new(transaction)),
        replaced: None,
        handle: None,
        authorization_code: None,
        authorized: Some(Money::jpy(captured)),
        captured: Some(Money::jpy(captured)),
        refunded: Some(Money::jpy(refunded)),
        notes: vec![],
    }
}

/// Found by the soak (seeds 1002, 1014, 1024): after one partial refund in SBPS's tool had been
/// adopted, a second one changed only the amounts (SBPS still says 返金済, S-3). The operator
/// reported what the screen showed, with amounts, and the host answered "no drift": it compared
/// the states' kinds only, so the journal kept a refund 800 yen short.
#[tokio::test]
async fn sim03_a_second_partial_refund_reported_from_the_screen_is_drift() {
    let rig = rig().await;
    let t = rig.sbps_order("sim03", 5000).await;
    rig.shop.record_payment(&o("sim03")).await.unwrap();
    rig.sbps.admin_partial_refund(&t, 1200).unwrap();
    let first = rig
        .shop
        .report_drift(&o("sim03"), refunded_in_part(&t, 5000, 1200), "op")
        .await
        .unwrap()
        .expect("the first partial refund is drift");
    rig.shop
        .adopt_drift(first.id, refunded_in_part(&t, 5000, 1200), "op")
        .await
        .unwrap();
    rig.sbps.admin_partial_refund(&t, 800).unwrap();
    let second = rig
        .shop
        .report_drift(&o("sim03"), refunded_in_part(&t, 5000, 2000), "op")
        .await
        .unwrap()
        .expect("the second partial refund is drift too");
    let adopted = rig
        .shop
        .adopt_drift(second.id, refunded_in_part(&t, 5000, 2000), "op")
        .await
        .unwrap();
    assert_eq!(adopted.refunded, Money::jpy(2000));
}
