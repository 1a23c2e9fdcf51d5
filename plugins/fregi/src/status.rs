//! F-REGI's card-transaction statuses (rule F-11), as data: exported in the manifest, used to
//! read the inquiry extension.
//!
//! The ten labels are the seed manual's, character for character (it prints full-width
//! parentheses: 売上済（未伝送）). F-REGI documents no status *codes* for card transactions: the
//! two-digit codes are the protocol notes' proposal (`docs/protocols/fregi.md` §10.2), which the emulator's
//! inquiry extension reports, plus `41` for the tenth status, 通常処理（有効性確認済み）, which
//! §10.2 does not list and the emulator numbers `41`. They only ever appear on the emulator's
//! extension, never on F-REGI's own replies.
//!
//! 未伝送 / 伝送済 ("not yet sent to the card company" / "sent") is kept as
//! `Settlement::Pending` / `Settlement::Settled`: before the transmission batch a cancelled sale
//! never reaches the card statement; after it, the cancellation itself must be transmitted.

use crate::protocol::InfoReply;
use renkei_sdk::{
    GatewayError, Money, Outcome, PaymentState, RefundExtent, Settlement, StatusEntry,
    TransactionRef, state_by_code, status_entry, status_row,
};

// The ten codes by name. The first four are also the status each successful script leaves the
// transaction in, so that an outcome names it like an inquiry would (F-REGI's OK replies carry
// no status).
pub const AUTHORIZED: &str = "10";
pub const AUTHORIZATION_CANCELLED: &str = "12";
pub const SOLD_PENDING: &str = "20";
pub const SALE_CANCELLED_PENDING: &str = "30";
pub const AUTHORIZATION_FAILED: &str = "11";
pub const SOLD_TRANSMITTED: &str = "21";
pub const SALE_FAILED: &str = "22";
pub const SALE_CANCELLED_TRANSMITTED: &str = "31";
pub const PRE_ORDER: &str = "40";
pub const PRE_ORDER_FAILED: &str = "41";

/// (code, label as the manual prints it, unified state, terminal), in the manual's order.
///
/// Terminal means no operation can follow from the shop side: a cancellation can never be
/// restored (F-12, G-5), a failed authorization or sale holds no authorization to act on.
///
/// 1. Authorized: the card limit is reserved; capture, void or amount change may follow.
/// 2. Voided, by authcancel or because an amount change replaced it (F-5): final.
/// 3. Declined (over the limit or another card-company reason).
/// 4. Sold, to be transmitted to the card company.
/// 5. Sold and transmitted.
/// 6. Sale cancelled, the minus data not yet transmitted (or the sale never was).
/// 7. Sale cancelled and the minus data transmitted.
/// 8. Authorize-and-sell failed (salem, a due reservation): nothing is held.
/// 9. A pre-order waiting for its authorization (G-9).
/// 10. A pre-order whose authorization failed when it was released into normal processing: in
///     spite of the label, nothing is authorized.
#[rustfmt::skip]
pub fn table() -> Vec<StatusEntry> {
    use PaymentState::*;
    let captured = |settlement| Captured { settlement };
    let cancelled = |settlement| Refunded { extent: RefundExtent::Full, settlement };
    vec![
        status_row(AUTHORIZED,                 "承認済",                     Authorized,                     false),
        status_row(AUTHORIZATION_CANCELLED,    "承認取消",                   Voided,                         true),
        status_row(AUTHORIZATION_FAILED,       "承認失敗",                   AuthorizationFailed,            true),
        status_row(SOLD_PENDING,               "売上済（未伝送）",           captured(Settlement::Pending),  false),
        status_row(SOLD_TRANSMITTED,           "売上済（伝送済）",           captured(Settlement::Settled),  false),
        status_row(SALE_CANCELLED_PENDING,     "売上取消（未伝送）",         cancelled(Settlement::Pending), true),
        status_row(SALE_CANCELLED_TRANSMITTED, "売上取消（伝送済）",         cancelled(Settlement::Settled), true),
        status_row(SALE_FAILED,                "売上失敗",                   CaptureFailed,                  true),
        status_row(PRE_ORDER,                  "予約（未オーソリ）",         AwaitingAuthorization,          false),
        status_row(PRE_ORDER_FAILED,           "通常処理（有効性確認済み）", AuthorizationFailed,            true),
    ]
}

/// The inquiry extension's answer as an outcome: the status through the table (an unseen code is
/// `Unknown` with the raw code), the amount where the status says what it is. The outcome names
/// `reference`, the reference inquired about, exactly as the host keeps it.
pub fn inquiry_outcome(
    statuses: &[StatusEntry],
    info: InfoReply,
    reference: TransactionRef,
) -> Result<Outcome, GatewayError> {
    let entry = status_entry(statuses, &info.status);
    let state = state_by_code(statuses, &info.status);
    // The transmitted flag and the status must tell the same story.
    let settlement = match &state {
        PaymentState::Captured { settlement } | PaymentState::Refunded { settlement, .. } => {
            Some(*settlement)
        }
        _ => None,
    };
    if let Some(s) = settlement
        && (s == Settlement::Settled) != info.transmitted
    {
        return Err(GatewayError::protocol(format!(
            "inquiry says status {} but transmitted = {}",
            info.status, info.transmitted
        )));
    }
    // A SEQNO replaced by an amount change (authchange, salechange, or the admin screen's, F-5)
    // shows 承認取消 / 売上取消, yet the payment lives on under the new SEQNO: reading it as
    // voided or refunded would book a void or refund that never happened. The state of the
    // payment is not known from this SEQNO.
    let state = match &info.replaced_by {
        Some(next) => PaymentState::Unknown {
            raw: format!("{} (replaced by SEQNO {next})", info.status),
        },
        None => state,
    };
    let pay = Money::jpy(i64::from(info.amount));
    let mut outcome = Outcome::new(state.clone())
        .gateway_status(info.status.clone())
        .transaction(reference);
    outcome = match state {
        PaymentState::Authorized => outcome.authorized(pay),
        PaymentState::Captured { .. } => outcome.authorized(pay).captured(pay),
        PaymentState::Refunded { .. } => outcome.refunded(pay),
        _ => outcome,
    };
    if let Some(code) = info.authcode {
        outcome = outcome.authorization_code(code);
    }
    if let Some(entry) = entry {
        outcome = outcome.note(format!("F-REGI status {} {}", entry.code, entry.label));
    }
    if let Some(next) = info.replaced_by {
        outcome = outcome.note(format!(
            "replaced by SEQNO {next} (an amount change; if the shop did not make it, it was made \
             in F-REGI's admin screen and this order is no longer linked, F-5)"
        ));
    }
    Ok(outcome)
}
