//! Kumo Pay's error codes mapped to SDK error kinds, as data, and the classification of an
//! error document.

use renkei_sdk::{ErrorEntry, ErrorKind, GatewayError, error_entry, error_row};

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
        error_row("bad_signature",      Authentication, "The request signature is wrong"),
        error_row("maintenance",        Unavailable,    "The gateway is in maintenance"),
    ]
}

/// An error document as a typed error: the gateway's code and words, the table's meaning.
pub fn gateway_error(errors: &[ErrorEntry], code: String, message: String) -> GatewayError {
    // An unknown code is still a refusal the gateway made knowingly (it answered 4xx with an
    // error document), so nothing moved.
    let (kind, ours) = error_entry(errors, &code)
        .map(|e| (e.kind, e.message.clone()))
        .unwrap_or((
            ErrorKind::Rejected,
            "unrecognised Kumo Pay error".to_owned(),
        ));
    GatewayError::gateway(kind, code, Some(message), ours)
}
