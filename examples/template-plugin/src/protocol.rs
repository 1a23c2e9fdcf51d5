//! Kumo Pay's wire format: JSON over HTTPS, each request signed with HMAC-SHA256
//! (`signing.rs`).
//!
//! Everything that touches bytes lives here, so `lib.rs` reads as the list of operations.

use renkei_sdk::{ErrorKind, GatewayError, HttpResponse, TransactionRef};
use serde::{Deserialize, Serialize};

/// The `Content-Type` of every request body.
pub const CONTENT_TYPE: &str = "application/json";

/// Body of `POST /payments`.
#[derive(Serialize)]
pub struct AuthorizeBody<'a> {
    pub merchant: &'a str,
    pub order: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub token: &'a str,
}

/// Body of `POST /payments/{id}/capture` and `/refunds`. `amount: None` means "all of it".
#[derive(Serialize)]
pub struct AmountBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

/// A successful reply: the payment as the gateway now sees it.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct PaymentReply {
    pub id: String,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    #[serde(default)]
    pub captured: i64,
    #[serde(default)]
    pub refunded: i64,
    #[serde(default)]
    pub authorization_code: Option<String>,
}

/// An error document: `error` is the first problem, `errors` (when present) every one.
#[derive(Debug, Deserialize)]
struct ErrorReply {
    error: ErrorDetail,
    #[serde(default)]
    errors: Vec<ErrorDetail>,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// What a reply says, before the operation decides what it means.
pub enum Reply {
    Payment(PaymentReply),
    /// Every code of an error document, in the gateway's order (never empty), and the first
    /// problem's words.
    Error {
        codes: Vec<String>,
        message: String,
    },
}

pub fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(value).map_err(|e| GatewayError::new(ErrorKind::Internal, e.to_string()))
}

/// A reference goes into a URL path, so it must not be able to change the path.
pub fn path_id(t: &TransactionRef) -> Result<&str, GatewayError> {
    let id = t.as_str();
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(id)
    } else {
        Err(GatewayError::invalid(format!(
            "malformed Kumo Pay payment id {id:?}"
        )))
    }
}

/// Parses a reply strictly: a 2xx must be a payment document, a 4xx an error document; anything
/// else (5xx, HTML from a proxy, truncated JSON) is a protocol error, because the request may
/// have been processed and nothing here may guess otherwise.
pub fn parse(reply: &HttpResponse) -> Result<Reply, GatewayError> {
    let body = std::str::from_utf8(&reply.body)
        .map_err(|_| GatewayError::protocol("reply body is not UTF-8"))?;
    match reply.status {
        200..=299 => serde_json::from_str::<PaymentReply>(body)
            .map(Reply::Payment)
            .map_err(|e| {
                GatewayError::protocol(format!(
                    "unreadable payment reply (HTTP {}): {e}",
                    reply.status
                ))
            }),
        400..=499 => serde_json::from_str::<ErrorReply>(body)
            .map(|e| Reply::Error {
                // Every problem the gateway listed: reading only the first would let a
                // refusal hide a code that says more (the host holds the kind to the
                // manifest's `multi_error` rule over all of them).
                codes: if e.errors.is_empty() {
                    vec![e.error.code]
                } else {
                    e.errors.into_iter().map(|d| d.code).collect()
                },
                message: e.error.message,
            })
            .map_err(|e| {
                GatewayError::protocol(format!(
                    "unreadable error reply (HTTP {}): {e}",
                    reply.status
                ))
            }),
        status => Err(GatewayError::protocol(format!(
            "HTTP {status}: the gateway's answer is unknown"
        ))),
    }
}
