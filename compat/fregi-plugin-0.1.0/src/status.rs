//! F-REGI's card-transaction statuses (rule F-11), as data: exported in the manifest, used to
//! read the inquiry extension.
//!
//! The ten labels are the seed manual's, character for character (it prints full-width
//! parentheses: 売上済（未伝送）). F-REGI documents no status *codes* for card transactions: the
//! two-digit codes are the research's proposal (`protocols/fregi.md` §10.2), which the emulator's
//! inquiry extension reports, plus `41` for the tenth status, 通常処理（有効性確認済み）, which
//! §10.2 does not list and the emulator numbers `41`. They only ever appear on the emulator's
//! extension, never on F-REGI's own replies.
//!
//! 未伝送 / 伝送済 ("not yet sent to the card company" / "sent") is kept as
//! `Settlement::Pending` / `Settlement::Settled`: before the transmission batch a cancelled sale
//! never reaches the card statement; after it, the cancellation itself must be transmitted.

use renkei_sdk::{PaymentState, RefundExtent, Settlement, StatusEntry};

// The status each successful script leaves the transaction in, so that an outcome names it
// like an inquiry would (F-REGI's OK replies carry no status).
pub const AUTHORIZED: &str = "10";
pub const AUTHORIZATION_CANCELLED: &str = "12";
pub const SOLD_PENDING: &str = "20";
pub const SALE_CANCELLED_PENDING: &str = "30";

/// (code, label as the manual prints it, unified state, terminal), in the manual's order.
///
/// Terminal means no operation can follow from the shop side: a cancellation can never be
/// restored (F-12, G-5), a failed authorization or sale holds no authorization to act on.
pub fn table() -> Vec<StatusEntry> {
    use PaymentState::*;
    let captured = |settlement| Captured { settlement };
    let cancelled = |settlement| Refunded {
        extent: RefundExtent::Full,
        settlement,
    };
    [
        // 1. Authorized: the card limit is reserved; capture, void or amount change may follow.
        ("10", "承認済", Authorized, false),
        // 2. Voided, by authcancel or because an amount change replaced it (F-5): final.
        ("12", "承認取消", Voided, true),
        // 3. Declined (over the limit or another card-company reason).
        ("11", "承認失敗", AuthorizationFailed, true),
        // 4. Sold, to be transmitted to the card company.
        (
            "20",
            "売上済（未伝送）",
            captured(Settlement::Pending),
            false,
        ),
        // 5. Sold and transmitted.
        (
            "21",
            "売上済（伝送済）",
            captured(Settlement::Settled),
            false,
        ),
        // 6. Sale cancelled, the minus data not yet transmitted (or the sale never was).
        (
            "30",
            "売上取消（未伝送）",
            cancelled(Settlement::Pending),
            true,
        ),
        // 7. Sale cancelled and the minus data transmitted.
        (
            "31",
            "売上取消（伝送済）",
            cancelled(Settlement::Settled),
            true,
        ),
        // 8. Authorize-and-sell failed (salem, a due reservation): nothing is held.
        ("22", "売上失敗", CaptureFailed, true),
        // 9. A pre-order waiting for its authorization (G-9).
        ("40", "予約（未オーソリ）", AwaitingAuthorization, false),
        // 10. A pre-order whose authorization failed when it was released into normal
        //     processing: in spite of the label, nothing is authorized.
        (
            "41",
            "通常処理（有効性確認済み）",
            AuthorizationFailed,
            true,
        ),
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
