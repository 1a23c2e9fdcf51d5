//! Kumo Pay's payment statuses, as data: exported in the manifest, used by the parser.

use renkei_sdk::{PaymentState, RefundExtent, Settlement, StatusEntry};

/// (code, label, unified state, terminal). Kumo Pay does not report settlement.
pub fn table() -> Vec<StatusEntry> {
    let captured = PaymentState::Captured {
        settlement: Settlement::NotReported,
    };
    let refunded = |extent| PaymentState::Refunded {
        extent,
        settlement: Settlement::NotReported,
    };
    [
        ("authorized", "Authorized", PaymentState::Authorized, false),
        (
            "declined",
            "Declined",
            PaymentState::AuthorizationFailed,
            true,
        ),
        ("captured", "Captured", captured, false),
        ("voided", "Voided", PaymentState::Voided, true),
        (
            "partially_refunded",
            "Partially refunded",
            refunded(RefundExtent::Partial),
            false,
        ),
        ("refunded", "Refunded", refunded(RefundExtent::Full), true),
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
