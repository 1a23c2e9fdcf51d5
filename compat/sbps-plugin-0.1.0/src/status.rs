//! SBPS payment statuses, as data: exported in the manifest, used to read inquiries (S-2).

use renkei_sdk::{PaymentState, RefundExtent, Settlement, StatusEntry};

/// The code of the shop-side pre-order state 未オーソリ. SBPS has no API code for it (no payment
/// exists at SBPS until the pre-order is released, G-9), so the code is a word that can never
/// collide with a numeric `payment_status` SBPS reports.
pub const PRE_ORDER: &str = "pre_order";

/// (code, label, unified state, terminal).
///
/// - `1`..`4` are MG01's `payment_status` (§6.8), labelled as the operator manual writes them.
/// - `4` 返金済 is a full refund: that is what the manual's status means (S-4, a cancel after
///   capture). SBPS also reports `4` after a partial refund made in its own tool (S-3); the
///   inquiry outcome says so in a note, but the table maps one code to one state, and guessing
///   "partial" would let the host send refunds SBPS can only refuse.
/// - SBPS reports neither settlement nor transmission to the card company, hence
///   `Settlement::NotReported`.
pub fn table() -> Vec<StatusEntry> {
    let captured = PaymentState::Captured {
        settlement: Settlement::NotReported,
    };
    let refunded = PaymentState::Refunded {
        extent: RefundExtent::Full,
        settlement: Settlement::NotReported,
    };
    [
        (
            PRE_ORDER,
            "未オーソリ",
            PaymentState::AwaitingAuthorization,
            false,
        ),
        ("1", "与信済", PaymentState::Authorized, false),
        ("2", "売上済", captured, false),
        ("3", "与信取消済", PaymentState::Voided, true),
        ("4", "返金済", refunded, true),
    ]
    .into_iter()
    .map(|(code, label, state, terminal)| StatusEntry {
        code: code.into(),
        label: label.into(),
        state,
        terminal,
    })
    .collect()
}
