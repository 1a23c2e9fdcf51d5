//! Kumo Pay's request signing: a bearer key, and an HMAC-SHA256 signature over method, path,
//! timestamp and body in two headers, whatever the body's format.

use hmac::{Hmac, Mac};
use renkei_sdk::{Context, HttpRequest, Method, Secret};
use sha2::Sha256;

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
/// signature headers; `body` is sent as `content_type`.
pub fn signed(
    creds: &Credentials<'_>,
    method: Method,
    path: &str,
    content_type: &str,
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
        .header("Content-Type", content_type)
        .header("Idempotency-Key", ctx.idempotency_key)
        .header("Kumo-Timestamp", timestamp.to_string())
        .header("Kumo-Signature", sig)
        .body(body)
}
