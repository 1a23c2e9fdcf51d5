//! # Kumo Pay: the Renkei template plugin
//!
//! A small made-up gateway with a JSON-over-HTTPS protocol, written the way every Renkei plugin is
//! written. Copy this folder to start a new gateway:
//!
//! - `protocol.rs`: wire types, encoding, signing and strict reply parsing;
//! - `status.rs`: the full status table, as data;
//! - `errors.rs`: gateway error codes to SDK error kinds, as data;
//! - `lib.rs` (this file): the manifest and the operations, short.
//!
//! The plugin never does I/O. `prepare` describes a request, `interpret` reads the reply; the host
//! sends, journals and retries.

mod errors;
mod protocol;
mod status;

use protocol::{AmountBody, AuthorizeBody, PaymentReply, Reply};
use renkei_sdk::{
    AmountChange, Capabilities, Config, ConfigError, ConfigKey, ConfigKind, Context, Currency,
    ErrorEntry, ErrorKind, Gateway, GatewayError, HttpRequest, HttpResponse, Inquiry, Limits,
    Manifest, Method, Money, Operation, OperationKind, Outcome, PaymentSource, Secret, StatusEntry,
    Step, TransactionRef, decode_state, error_entry,
};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "kumopay";
const DEFAULT_ENDPOINT: &str = "https://api.kumopay.example/v1";
/// Amount limits, in yen. Constants rather than a manifest lookup: `prepare` runs per request.
const MIN_AMOUNT: i64 = 1;
const MAX_AMOUNT: i64 = 99_999_999;

/// The status and error tables, built once: exported in the manifest, used by the parser.
static STATUSES: LazyLock<Vec<StatusEntry>> = LazyLock::new(status::table);
static ERRORS: LazyLock<Vec<ErrorEntry>> = LazyLock::new(errors::table);

/// A configured Kumo Pay merchant account.
pub struct KumoPay {
    endpoint: String,
    merchant: String,
    api_key: Secret,
    signing_key: Secret,
}

/// What `interpret` needs to remember between `prepare` and the reply.
#[derive(Serialize, Deserialize)]
struct Pending {
    /// The amount the request asked to move, checked against the reply.
    expect: Option<i64>,
}

impl Gateway for KumoPay {
    fn manifest() -> Manifest {
        let key = |name: &str, kind, secret, required, default: Option<&str>, description: &str| {
            ConfigKey {
                name: name.into(),
                kind,
                secret,
                required,
                default: default.map(Into::into),
                description: description.into(),
            }
        };
        Manifest {
            gateway_id: GATEWAY_ID.into(),
            display_name: "Kumo Pay (template)".into(),
            plugin_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))
                .expect("crate version is semver"),
            // Filled in by the SDK at export time.
            sdk_version: renkei_sdk::sdk_version(),
            capabilities: Capabilities {
                operations: vec![
                    OperationKind::Authorize,
                    OperationKind::Capture,
                    OperationKind::Void,
                    OperationKind::Refund,
                    OperationKind::Inquire,
                ],
                partial_capture: true,
                partial_refund: true,
                amount_change: AmountChange::Unsupported,
                inquiry: Inquiry::Available,
                // "already_captured" / "already_voided" can only follow a success for the same
                // payment, so a replay that gets them proves the first attempt went through.
                replay_safe: vec![OperationKind::Capture, OperationKind::Void],
            },
            limits: Limits {
                min_amount: MIN_AMOUNT,
                max_amount: MAX_AMOUNT,
                currencies: vec![Currency::JPY],
            },
            config: vec![
                key(
                    "endpoint",
                    ConfigKind::Url,
                    false,
                    false,
                    Some(DEFAULT_ENDPOINT),
                    "API base URL",
                ),
                key(
                    "merchant_id",
                    ConfigKind::String,
                    false,
                    true,
                    None,
                    "Merchant account id",
                ),
                key(
                    "api_key",
                    ConfigKind::String,
                    true,
                    true,
                    None,
                    "Bearer API key",
                ),
                key(
                    "signing_key",
                    ConfigKind::String,
                    true,
                    true,
                    None,
                    "HMAC-SHA256 request signing key",
                ),
            ],
            statuses: STATUSES.clone(),
            errors: ERRORS.clone(),
        }
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(KumoPay {
            endpoint: config
                .text("endpoint")
                .unwrap_or(DEFAULT_ENDPOINT)
                .trim_end_matches('/')
                .to_owned(),
            merchant: config.require_text("merchant_id")?.to_owned(),
            api_key: config.require_secret("api_key")?,
            signing_key: config.require_secret("signing_key")?,
        })
    }

    fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        tracing::info!(operation = %op.kind(), order = %op.order(), "building Kumo Pay request");
        if let Some(amount) = op.amount() {
            check_amount(amount)?;
        }
        let (method, path, body, journal, expect) = match op {
            Operation::Authorize {
                order,
                amount,
                source,
                ..
            } => {
                let PaymentSource::Token { token, .. } = source else {
                    return Err(GatewayError::unsupported(
                        "authorizing without a Kumo Pay card token",
                    ));
                };
                let body = AuthorizeBody {
                    merchant: &self.merchant,
                    order: order.as_str(),
                    amount: amount.minor_units,
                    currency: amount.currency.as_str(),
                    token: token.expose(),
                };
                let journal = AuthorizeBody {
                    token: Secret::PLACEHOLDER,
                    ..body
                };
                (
                    Method::Post,
                    "/payments".to_owned(),
                    to_json(&body)?,
                    Some(String::from_utf8_lossy(&to_json(&journal)?).into_owned()),
                    Some(amount.minor_units),
                )
            }
            Operation::Capture {
                transaction,
                authorized,
                amount,
                ..
            } => {
                let amount = amount.filter(|a| a != authorized).map(|a| a.minor_units);
                let body = to_json(&AmountBody { amount })?;
                (
                    Method::Post,
                    format!("/payments/{}/capture", path_id(transaction)?),
                    body.clone(),
                    Some(String::from_utf8_lossy(&body).into_owned()),
                    Some(amount.unwrap_or(authorized.minor_units)),
                )
            }
            Operation::Void { transaction, .. } => (
                Method::Post,
                format!("/payments/{}/void", path_id(transaction)?),
                b"{}".to_vec(),
                Some("{}".to_owned()),
                None,
            ),
            Operation::Refund {
                transaction,
                amount,
                ..
            } => {
                let body = to_json(&AmountBody {
                    amount: amount.map(|a| a.minor_units),
                })?;
                (
                    Method::Post,
                    format!("/payments/{}/refunds", path_id(transaction)?),
                    body.clone(),
                    Some(String::from_utf8_lossy(&body).into_owned()),
                    None,
                )
            }
            Operation::Inquire { transaction, .. } => (
                Method::Get,
                format!("/payments/{}", path_id(transaction)?),
                Vec::new(),
                None,
                None,
            ),
            Operation::ChangeAmount { .. } => {
                return Err(GatewayError::unsupported("changing an authorized amount"));
            }
        };
        let request = self.signed(method, &path, body, ctx);
        Step::send(op.kind().name(), request, journal, &Pending { expect })
    }

    fn interpret(
        &self,
        op: &Operation,
        _ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        let pending: Pending = decode_state(state)?;
        let payment = match protocol::parse(reply)? {
            Reply::Payment(p) => p,
            Reply::Error { code, message } => return Err(gateway_error(code, message)),
        };
        if let Some(t) = op.transaction()
            && t.as_str() != payment.id
        {
            return Err(GatewayError::protocol(format!(
                "reply is about payment {:?}, not {t}",
                payment.id
            )));
        }
        if let (OperationKind::Capture, Some(expect)) = (op.kind(), pending.expect)
            && payment.captured != expect
        {
            return Err(GatewayError::protocol(format!(
                "capture of {expect} answered with captured {}",
                payment.captured
            )));
        }
        Ok(Step::Done(outcome(&payment)?))
    }
}

impl KumoPay {
    fn signed(&self, method: Method, path: &str, body: Vec<u8>, ctx: &Context<'_>) -> HttpRequest {
        let timestamp = ctx.now.unix_millis.div_euclid(1000);
        // The signed path includes the base URL's own path (`/v1`).
        let base_path = self
            .endpoint
            .splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap_or_default();
        let sig = protocol::signature(
            &self.signing_key,
            method.as_str(),
            &format!("{base_path}{path}"),
            timestamp,
            &body,
        );
        HttpRequest::new(method, format!("{}{path}", self.endpoint))
            .header("Authorization", format!("Bearer {}", self.api_key.expose()))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", ctx.idempotency_key)
            .header("Kumo-Timestamp", timestamp.to_string())
            .header("Kumo-Signature", sig)
            .body(body)
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(value).map_err(|e| GatewayError::new(ErrorKind::Internal, e.to_string()))
}

/// A reference goes into a URL path, so it must not be able to change the path.
fn path_id(t: &TransactionRef) -> Result<&str, GatewayError> {
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

fn check_amount(amount: Money) -> Result<(), GatewayError> {
    let limits = KumoPay::manifest().limits;
    if !limits.currencies.contains(&amount.currency) {
        return Err(GatewayError::invalid(format!(
            "Kumo Pay does not accept {}",
            amount.currency
        )));
    }
    if !(limits.min_amount..=limits.max_amount).contains(&amount.minor_units) {
        return Err(GatewayError::invalid(format!(
            "amount {amount} is outside {}..={}",
            limits.min_amount, limits.max_amount
        )));
    }
    Ok(())
}

fn gateway_error(code: String, message: String) -> GatewayError {
    // An unknown code is still a refusal the gateway made knowingly (it answered 4xx with an
    // error document), so nothing moved.
    let (kind, ours) = error_entry(&ERRORS, &code)
        .map(|e| (e.kind, e.message.clone()))
        .unwrap_or((
            ErrorKind::Rejected,
            "unrecognised Kumo Pay error".to_owned(),
        ));
    GatewayError::gateway(kind, code, Some(message), ours)
}

fn outcome(p: &PaymentReply) -> Result<Outcome, GatewayError> {
    let currency = Currency::new(&p.currency)
        .ok_or_else(|| GatewayError::protocol(format!("bad currency {:?}", p.currency)))?;
    let state = STATUSES
        .iter()
        .find(|s| s.code == p.status)
        .map(|s| s.state.clone())
        .unwrap_or_else(|| renkei_sdk::PaymentState::Unknown {
            raw: p.status.clone(),
        });
    let mut outcome = Outcome::new(state)
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

renkei_sdk::export_gateway!(KumoPay);

#[cfg(test)]
mod tests;
