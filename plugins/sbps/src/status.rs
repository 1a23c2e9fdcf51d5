//! SBPS payment statuses, as data: exported in the manifest, used to read inquiries (S-2).

use renkei_sdk::{PaymentState, RefundExtent, Settlement, StatusEntry};

/// The code of the shop-side pre-order state 未オーソリ. SBPS has no API code for it (no payment
/// exists at SBPS until the pre-order is released, G-9), so the code is a word that can never
/// collide with a numeric `payment_status` SBPS reports.
pub const PRE_ORDER: &str = "pre_order";

/// (code, label, unified state, terminal).
///
/// - `1`..`4` are MG01's `payment_status` (§6.8), labelled as the operator manual writes them.
/// - `4` 返金済 is "refunded" **without an extent**: SBPS reports it after a full refund (S-4, a
///   cancel after capture) and after a partial one alike (§6.6: 4 after a 100-yen refund of
///   1080), with no amounts (§6.8). So it maps to `RefundExtent::NotReported`, never to `Full`
///   or `Partial`: only the host's journal (or SBPS's tool) knows how much is left. Not
///   terminal: the rest of a partially refunded payment may still be refunded.
/// - SBPS reports neither settlement nor transmission to the card company, hence
///   `Settlement::NotReported`.
pub fn table() -> Vec<StatusEntry> {
    let captured = PaymentState::Captured {
        settlement: Settlement::NotReported,
    };
    let refunded = PaymentState::Refunded {
        extent: RefundExtent::NotReported,
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
        ("4", "返金済", refunded, false),
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
