//! Kumo Pay's wire format: JSON over HTTPS, each request signed with HMAC-SHA256.
//!
//! Everything that touches bytes lives here, so `lib.rs` reads as the list of operations.

use hmac::{Hmac, Mac};
use renkei_sdk::{GatewayError, HttpResponse, Secret};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

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

#[derive(Debug, Deserialize)]
struct ErrorReply {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// What a reply says, before the operation decides what it means.
pub enum Reply {
    Payment(PaymentReply),
    Error { code: String, message: String },
}

/// The signature header value: HMAC-SHA256 over method, path, timestamp and body, hex.
pub fn signature(key: &Secret, method: &str, path: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(method.as_bytes());
    mac.update(b"\n");
    mac.update(path.as_bytes());
    mac.update(b"\n");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
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
                code: e.error.code,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_vector_computed_independently() {
        // printf 'POST\n/v1/payments/pay_1/capture\n1700000000\n{}' |
        //   openssl dgst -sha256 -hmac 'sk_test'
        let sig = signature(
            &Secret::new("sk_test"),
            "POST",
            "/v1/payments/pay_1/capture",
            1_700_000_000,
            b"{}",
        );
        assert_eq!(
            sig,
            "5f73f301ddfce943fd21ec85ab5215e3d3541a2999203f460008c71ccd920329"
        );
    }
}
