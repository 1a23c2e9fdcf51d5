//! Gmopg's error codes mapped to SDK error kinds, as data, and the classification of an
//! error document.

use renkei_sdk::{ErrorEntry, ErrorKind, GatewayError, MultiError, error_from_codes_by, error_row};

/// (code, kind, meaning).
#[rustfmt::skip]
pub fn table() -> Vec<ErrorEntry> {
    use ErrorKind::*;
    vec![
        error_row("card_declined",      Declined,       "The card was declined"),
        error_row("insufficient_funds", Declined,       "Over the card limit"),
        error_row("already_captured",   AlreadyDone,    "The payment is already captured"),
        error_row("already_voided",     AlreadyDone,    "The authorization is already voided"),
        error_row("not_capturable",     Rejected,       "The payment cannot be captured in its state"),
        error_row("not_refundable",     Rejected,       "The payment cannot be refunded in its state"),
        error_row("amount_too_large",   Rejected,       "The amount exceeds what is allowed"),
        error_row("payment_not_found",  Rejected,       "No such payment"),
        error_row("duplicate_order",    Rejected,       "The order was already authorized"),
        error_row("not_voidable",       Rejected,       "A captured payment is refunded, not voided"),
        error_row("invalid_request",    Rejected,       "The gateway could not read the request"),
        error_row("not_found",          Rejected,       "No such route"),
        error_row("bad_signature",      Authentication, "The request signature is wrong"),
        error_row("stale_request",      Rejected,       "The request's timestamp is outside the tolerance"),
        error_row("maintenance",        Unavailable,    "The gateway is in maintenance"),
    ]
}

/// An error document as a typed error: the gateway's codes and words, the table's meaning, the
/// kind picked by the rule the manifest declares. A code the table does not list makes the
/// error `Protocol`: the gateway answered, but with something nobody documented, so nothing may
/// be concluded about the money.
pub fn gateway_error(
    errors: &[ErrorEntry],
    rule: MultiError,
    codes: &[String],
    message: String,
) -> GatewayError {
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    error_from_codes_by(rule, errors, &codes, Some(message))
        .unwrap_or_else(|| GatewayError::protocol("an error document without a code"))
}
