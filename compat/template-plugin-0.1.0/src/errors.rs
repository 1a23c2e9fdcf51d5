//! Kumo Pay's error codes mapped to SDK error kinds, as data.

use renkei_sdk::{ErrorEntry, ErrorKind};

pub fn table() -> Vec<ErrorEntry> {
    [
        (
            "card_declined",
            ErrorKind::Declined,
            "The card was declined",
        ),
        (
            "insufficient_funds",
            ErrorKind::Declined,
            "Over the card limit",
        ),
        (
            "already_captured",
            ErrorKind::AlreadyDone,
            "The payment is already captured",
        ),
        (
            "already_voided",
            ErrorKind::AlreadyDone,
            "The authorization is already voided",
        ),
        (
            "not_capturable",
            ErrorKind::Rejected,
            "The payment cannot be captured in its state",
        ),
        (
            "not_refundable",
            ErrorKind::Rejected,
            "The payment cannot be refunded in its state",
        ),
        (
            "amount_too_large",
            ErrorKind::Rejected,
            "The amount exceeds what is allowed",
        ),
        ("payment_not_found", ErrorKind::Rejected, "No such payment"),
        (
            "duplicate_order",
            ErrorKind::Rejected,
            "The order was already authorized",
        ),
        (
            "bad_signature",
            ErrorKind::Authentication,
            "The request signature is wrong",
        ),
        (
            "maintenance",
            ErrorKind::Unavailable,
            "The gateway is in maintenance",
        ),
    ]
    .into_iter()
    .map(|(code, kind, message)| ErrorEntry {
        code: code.into(),
        kind,
        message: message.into(),
    })
    .collect()
}
