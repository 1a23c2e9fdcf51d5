//! # Gmopg: a Renkei gateway plugin
//!
//! Scaffolded by `renkei new-plugin` from the template plugin's JSON-over-HTTPS protocol:
//! change each file to the gateway's own, from its manual:
//!
//! - `manifest.rs`: the manifest and the config (keys, parsing, validation);
//! - `protocol.rs`: wire types, encoding, signing and strict reply parsing;
//! - `status.rs`: the full status table, as data, with the named codes;
//! - `errors.rs`: gateway error codes to SDK error kinds, as data, and the classification;
//! - `lib.rs` (this file): the `Gateway` impl, `prepare` and `interpret`, short;
//! - `tests.rs`: the unit tests, from recorded bytes.
//!
//! The plugin never does I/O. `prepare` describes a request, `interpret` reads the reply; the host
//! sends, journals and retries.

mod errors;
mod manifest;
mod protocol;
mod status;

use protocol::{AmountBody, AuthorizeBody, Credentials, Reply, path_id, to_json};
use renkei_sdk::{
    Config, ConfigError, Context, ErrorEntry, Gateway, GatewayError, HttpResponse, Manifest,
    Method, MultiError, Operation, OperationKind, PaymentSource, Secret, StatusEntry, Step,
    TransactionRef, decode_state,
};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "gmopg";

/// The status and error tables, built once: exported in the manifest, used by the parser.
static STATUSES: LazyLock<Vec<StatusEntry>> = LazyLock::new(status::table);
static ERRORS: LazyLock<Vec<ErrorEntry>> = LazyLock::new(errors::table);
/// How a reply listing several codes gets its kind: declared in the manifest, applied here.
const MULTI_ERROR: MultiError = MultiError::MostCautious;

/// A configured Gmopg merchant account (built by `manifest::from_config`).
pub struct Gmopg {
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

impl Gateway for Gmopg {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        manifest::from_config(config)
    }

    fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        tracing::info!(operation = %op.kind(), order = %op.order(), "building Gmopg request");
        if let Some(amount) = op.amount() {
            manifest::check_amount(amount)?;
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
                        "authorizing without a Gmopg card token",
                    ));
                };
                let order_id = ctx.order_id(&manifest::order_id_rules(), order);
                let body = AuthorizeBody {
                    merchant: &self.merchant,
                    order: &order_id,
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
            // The order id of the attempt sought is the host's: never derive one here, which
            // would look for an id no attempt sent.
            Operation::FindAuthorization { .. } => {
                let Some(id) = ctx.gateway_order_id else {
                    return Err(GatewayError::invalid(
                        "looking for an authorization needs the host-issued order id",
                    ));
                };
                (
                    Method::Get,
                    format!("/payments/by-order/{}", path_id(&TransactionRef::new(id))?),
                    Vec::new(),
                    None,
                    None,
                )
            }
            Operation::ChangeAmount { .. } => {
                return Err(GatewayError::unsupported("changing an authorized amount"));
            }
        };
        let creds = Credentials {
            endpoint: &self.endpoint,
            api_key: &self.api_key,
            signing_key: &self.signing_key,
        };
        let request = protocol::signed(&creds, method, &path, body, ctx);
        let step = Step::send(op.kind().name(), request, journal, &Pending { expect })?;
        // Declare what each request can do at the gateway (`StepEffect`): the host reads a
        // failed or unanswered step by it. The inquiry only reads; every other request here may
        // move money, which is what an undeclared step is taken to do. A step that registers
        // something but moves no money (an order id entered before the card is charged) would
        // say `.registers()`. Never declare less than a request can do.
        Ok(match op {
            Operation::Inquire { .. } | Operation::FindAuthorization { .. } => step.read_only(),
            _ => step,
        })
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
            // No payment under the order id sought: the attempt authorized nothing (yet).
            Reply::Error { codes, .. }
                if matches!(op, Operation::FindAuthorization { .. })
                    && codes == ["payment_not_found"] =>
            {
                return Ok(Step::Done(renkei_sdk::Outcome::new(
                    renkei_sdk::PaymentState::AwaitingAuthorization,
                )));
            }
            Reply::Error { codes, message } => {
                return Err(errors::gateway_error(&ERRORS, MULTI_ERROR, &codes, message));
            }
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
        Ok(Step::Done(status::outcome(&STATUSES, &payment)?))
    }
}

renkei_sdk::export_gateway!(Gmopg);

#[cfg(test)]
mod tests;
