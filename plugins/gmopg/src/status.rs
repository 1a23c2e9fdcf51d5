//! Gmopg's payment statuses, as data: exported in the manifest, used to read replies.

use renkei_sdk::{
    Currency, GatewayError, Money, Outcome, PaymentState, RefundExtent, Settlement, StatusEntry,
    TransactionRef, state_by_code, status_row,
};

use super::protocol::PaymentReply;

pub const AUTHORIZED: &str = "authorized";
pub const DECLINED: &str = "declined";
pub const CAPTURED: &str = "captured";
pub const VOIDED: &str = "voided";
pub const PARTIALLY_REFUNDED: &str = "partially_refunded";
pub const REFUNDED: &str = "refunded";

/// (code, label, unified state, terminal). Gmopg does not report settlement.
#[rustfmt::skip]
pub fn table() -> Vec<StatusEntry> {
    use PaymentState::*;
    let captured = Captured { settlement: Settlement::NotReported };
    let refunded = |extent| Refunded { extent, settlement: Settlement::NotReported };
    vec![
        status_row(AUTHORIZED,         "Authorized",         Authorized,                        false),
        status_row(DECLINED,           "Declined",           AuthorizationFailed,               true),
        status_row(CAPTURED,           "Captured",           captured,                          false),
        status_row(VOIDED,             "Voided",             Voided,                            true),
        status_row(PARTIALLY_REFUNDED, "Partially refunded", refunded(RefundExtent::Partial),   false),
        status_row(REFUNDED,           "Refunded",           refunded(RefundExtent::Full),      true),
    ]
}

/// A payment document as an outcome: the state through the table (an unseen status is
/// `Unknown` with the raw code), the amounts as the gateway reports them.
pub fn outcome(statuses: &[StatusEntry], p: &PaymentReply) -> Result<Outcome, GatewayError> {
    let currency = Currency::new(&p.currency)
        .ok_or_else(|| GatewayError::protocol(format!("bad currency {:?}", p.currency)))?;
    let mut outcome = Outcome::new(state_by_code(statuses, &p.status))
        .gateway_status(p.status.clone())
        .transaction(TransactionRef::new(p.id.clone()))
        .authorized(Money::new(p.amount, currency))
        .captured(Money::new(p.captured, currency))
        .refunded(Money::new(p.refunded, currency));
    if let Some(code) = &p.authorization_code {
        outcome = outcome.authorization_code(code.clone());
    }
    Ok(outcome)
}
