//! Gmopg's wire format: JSON over HTTPS, each request signed with HMAC-SHA256.
//!
//! Everything that touches bytes lives here, so `lib.rs` reads as the list of operations.

use hmac::{Hmac, Mac};
use renkei_sdk::{
    Context, ErrorKind, GatewayError, HttpRequest, HttpResponse, Method, Secret, TransactionRef,
};
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

/// The credentials every request carries.
pub struct Credentials<'a> {
    /// The base URL without a trailing `/`.
    pub endpoint: &'a str,
    pub api_key: &'a Secret,
    pub signing_key: &'a Secret,
}

/// A request to `path` under the endpoint, with the bearer key, the idempotency key and the
/// signature headers.
pub fn signed(
    creds: &Credentials<'_>,
    method: Method,
    path: &str,
    body: Vec<u8>,
    ctx: &Context<'_>,
) -> HttpRequest {
    let timestamp = ctx.now.unix_millis.div_euclid(1000);
    // The signed path includes the base URL's own path (`/v1`).
    let base_path = creds
        .endpoint
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    let sig = signature(
        creds.signing_key,
        method.as_str(),
        &format!("{base_path}{path}"),
        timestamp,
        &body,
    );
    HttpRequest::new(method, format!("{}{path}", creds.endpoint))
        .header(
            "Authorization",
            format!("Bearer {}", creds.api_key.expose()),
        )
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", ctx.idempotency_key)
        .header("Gmopg-Timestamp", timestamp.to_string())
        .header("Gmopg-Signature", sig)
        .body(body)
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
            "malformed Gmopg payment id {id:?}"
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
