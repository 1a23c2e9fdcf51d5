//! Money bugs the simulation (`renkei simulate`) found, each kept as the scenario that showed
//! it, named for what it guards. The simulator's seed that found it is in the doc comment.

use super::*;
use renkei_emulator_fregi::{Fault as FregiFault, Script};

/// Found by seed 8: F-REGI's tool changed a sale's amount (売上金額変更, a partial refund in
/// the admin screen), which replaces the SEQNO; the shop then returned the order with the box
/// ticked and the cancel's reply was lost. The inquiry on the old SEQNO shows 売上取消 because
/// it was replaced, not because the cancel worked: booking it as a full refund lost the 2/3 of
/// the sale still captured under the new SEQNO. A replaced SEQNO cannot say the payment's state.
#[tokio::test]
async fn sim01_an_inquiry_on_a_seqno_replaced_in_the_fregi_tool_books_no_refund() {
    let rig = rig().await;
    let seq = rig.fregi_order("sim01", 21100).await;
    rig.shop.record_payment(&o("sim01")).await.unwrap();
    rig.fregi
        .admin_sale_change(FREGI_SHOP, &seq, 14066)
        .unwrap();
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
