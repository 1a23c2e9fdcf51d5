//! Kumo Pay's form wire: `application/x-www-form-urlencoded` requests whose values are written in
//! the gateway's charset, replies `key=value&key=value` in it, a refusal as two parallel
//! `|`-separated lists (`ErrCode=E402|E402&ErrInfo=card_declined|amount_too_large`) under HTTP
//! 200: the shape of GMO-PG. Each request is signed as on the JSON wire (`signing.rs`).
//!
//! Everything that touches bytes lives here, so `lib.rs` reads as the list of operations. The
//! SDK's `wire` helpers do the charset and the strict reading.

use renkei_sdk::wire::{Charset, FormBody, KvReply};
use renkei_sdk::{GatewayError, HttpResponse, TransactionRef};

/// The charset of every request value and every reply, as the gateway's manual fixes it.
pub const CHARSET: Charset = Charset::ShiftJis;

/// The `Content-Type` of every request body.
pub fn content_type() -> String {
    format!(
        "application/x-www-form-urlencoded; charset={}",
        CHARSET.name()
    )
}

/// A successful reply: the payment as the gateway now sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct PaymentReply {
    pub id: String,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    pub authorization_code: Option<String>,
}

/// What a reply says, before the operation decides what it means.
pub enum Reply {
    /// An answer that is no refusal: its fields, read by [`payment`] or [`entry`].
    Fields(KvReply),
    /// Every detailed code (`ErrInfo`) of a refusal, in the gateway's order (never empty).
    Error { codes: Vec<String> },
}

/// A new form in the gateway's charset.
pub fn form() -> FormBody {
    FormBody::new(CHARSET)
}

/// A reference goes into a URL path, so it must not be able to change the path.
pub fn path_id(t: &TransactionRef) -> Result<&str, GatewayError> {
    let id = t.as_str();
    if id_shaped(id) {
        Ok(id)
    } else {
        Err(GatewayError::invalid(format!(
            "malformed Kumo Pay payment id {id:?}"
        )))
    }
}

fn id_shaped(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn digits(v: &str) -> bool {
    !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit())
}

/// Reads a reply strictly, in `charset`: only HTTP 200 is the gateway's answer; a refusal
/// must pair its `ErrCode` and `ErrInfo`; any other answer must end with `processed_at`
/// (`yyyyMMddHHmmss`, written last), so that a reply cut anywhere, inside its last value too,
/// is refused rather than read as a success (and [`payment`] and [`entry`] check every other
/// field's shape). Anything else (5xx, HTML from a proxy, bytes not valid in the charset) is a
/// protocol error, because the request may have been processed and nothing here may guess
/// otherwise.
pub fn parse(reply: &HttpResponse, charset: Charset) -> Result<Reply, GatewayError> {
    if reply.status != 200 {
        return Err(GatewayError::protocol(format!(
            "HTTP {}: the gateway's answer is unknown",
            reply.status
        )));
    }
    let kv = KvReply::parse(&reply.body, charset)?;
    if let Some(codes) = kv.error_codes("ErrCode", "ErrInfo")? {
        return Ok(Reply::Error {
            codes: codes.into_iter().map(str::to_owned).collect(),
        });
    }
    kv.require_with("processed_at", "14 digits (yyyyMMddHHmmss)", |v| {
        v.len() == 14 && v.bytes().all(|b| b.is_ascii_digit())
    })?;
    Ok(Reply::Fields(kv))
}

/// The entry id of an order entry's answer (`entry=…&processed_at=…`).
pub fn entry(kv: &KvReply) -> Result<&str, GatewayError> {
    kv.require_with("entry", "an entry id", id_shaped)
}

/// The payment of a payment's answer, every field in its shape.
pub fn payment(kv: &KvReply) -> Result<PaymentReply, GatewayError> {
    let number = |key: &str| -> Result<i64, GatewayError> {
        kv.require_with(key, "a whole number", digits)?
            .parse()
            .map_err(|_| GatewayError::protocol(format!("`{key}` in the reply is too large")))
    };
    Ok(PaymentReply {
        id: kv.require_with("id", "a payment id", id_shaped)?.to_owned(),
        status: kv
            .require_with("status", "a status code", |v| {
                !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })?
            .to_owned(),
        currency: kv
            .require_with("currency", "a currency code", |v| {
                v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase())
            })?
            .to_owned(),
        amount: number("amount")?,
        captured: number("captured")?,
        refunded: number("refunded")?,
        authorization_code: kv.get("authorization_code").map(str::to_owned),
    })
}
