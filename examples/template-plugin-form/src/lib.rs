//! # Kumo Pay form: the Renkei template plugin on the form wire
//!
//! Kumo Pay's operations as `examples/template-plugin` writes them, spoken over the form wire
//! of Japanese gateways such as GMO-PG: form requests and `key=value&` replies in a charset
//! (`protocol::CHARSET`), errors as parallel `ErrCode`/`ErrInfo` lists. It keeps the JSON
//! template's manifest, status table, error table and signing (those files are the JSON
//! template's own, shared by path here; `renkei new-plugin --wire form` copies them):
//!
//! - `manifest.rs`: the manifest and the config (keys, parsing, validation);
//! - `protocol.rs`: the form wire, on the SDK's `wire` helpers: charset, encoding, strict parsing;
//! - `signing.rs`: the credentials and signature every request carries;
//! - `status.rs`: the full status table, as data, with the named codes;
//! - `errors.rs`: gateway error codes to SDK error kinds, as data, and the classification;
//! - `lib.rs` (this file): the `Gateway` impl, `prepare` and `interpret`, short;
//! - `tests.rs`: the unit tests, from recorded bytes.
//!
//! The plugin never does I/O. `prepare` describes a request, `interpret` reads the reply; the host
//! sends, journals and retries.

#[path = "../../template-plugin/src/errors.rs"]
mod errors;
#[path = "../../template-plugin/src/manifest.rs"]
mod manifest;
mod protocol;
#[path = "../../template-plugin/src/signing.rs"]
mod signing;
#[path = "../../template-plugin/src/status.rs"]
mod status;

use protocol::{Reply, form, path_id};
use renkei_sdk::{
    Config, ConfigError, Context, ErrorEntry, Gateway, GatewayError, HttpResponse, Manifest,
    Method, MultiError, Operation, PaymentSource, Secret, StatusEntry, Step, TransactionRef,
    decode_state,
};
use serde::{Deserialize, Serialize};
use signing::Credentials;
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "kumopay-form";
/// The name shops and the CLI show.
pub const DISPLAY_NAME: &str = "Kumo Pay form (template)";

/// The status and error tables, built once: exported in the manifest, used by the parser.
static STATUSES: LazyLock<Vec<StatusEntry>> = LazyLock::new(status::table);
static ERRORS: LazyLock<Vec<ErrorEntry>> = LazyLock::new(errors::table);
/// How a reply listing several codes gets its kind: declared in the manifest, applied here.
const MULTI_ERROR: MultiError = MultiError::MostCautious;

/// A configured Kumo Pay merchant account (built by `manifest::from_config`).
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
        manifest::manifest()
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        manifest::from_config(config)
    }

    fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        tracing::info!(operation = %op.kind(), order = %op.order(), "building Kumo Pay request");
        if let Some(amount) = op.amount() {
            manifest::check_amount(amount)?;
        }
        let (method, path, body, expect) = match op {
            Operation::Authorize {
                order,
                amount,
                source,
                customer,
                ..
            } => {
                let PaymentSource::Token { token, .. } = source else {
                    return Err(GatewayError::unsupported(
                        "authorizing without a Kumo Pay card token",
                    ));
                };
                let mut body = form()
                    .field("merchant", self.merchant.as_str())
                    .field("order", ctx.order_id(&manifest::order_id_rules(), order))
                    .field("amount", amount.minor_units.to_string())
                    .field("currency", amount.currency.as_str())
                    .secret("token", token);
                // Written in the charset: a name it cannot write is refused before sending.
                if let Some(customer) = customer {
                    body = body.field("customer", customer.as_str());
                }
                (
                    Method::Post,
                    "/payments".to_owned(),
                    Some(body),
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
                let body = match amount {
                    Some(a) => form().field("amount", a.to_string()),
                    None => form(),
                };
                (
                    Method::Post,
                    format!("/payments/{}/capture", path_id(transaction)?),
                    Some(body),
                    Some(amount.unwrap_or(authorized.minor_units)),
                )
            }
            Operation::Void { transaction, .. } => (
                Method::Post,
                format!("/payments/{}/void", path_id(transaction)?),
                Some(form()),
                None,
            ),
            Operation::Refund {
                transaction,
                amount,
                ..
            } => {
                let body = match amount {
                    Some(a) => form().field("amount", a.minor_units.to_string()),
                    None => form(),
                };
                (
                    Method::Post,
                    format!("/payments/{}/refunds", path_id(transaction)?),
                    Some(body),
                    None,
                )
            }
            Operation::Inquire { transaction, .. } => (
                Method::Get,
                format!("/payments/{}", path_id(transaction)?),
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
                    None,
                    None,
                )
            }
            Operation::ChangeAmount { .. } => {
                return Err(GatewayError::unsupported("changing an authorized amount"));
            }
        };
        // The journal copy is the body with every secret field placeholdered.
        let (body, journal) = match body {
            Some(form) => {
                let encoded = form.encode()?;
                (encoded.body.into_bytes(), Some(encoded.journal))
            }
            None => (Vec::new(), None),
        };
        let creds = Credentials {
            endpoint: &self.endpoint,
            api_key: &self.api_key,
            signing_key: &self.signing_key,
        };
        let request = signing::signed(&creds, method, &path, &protocol::content_type(), body, ctx);
        let step = Step::send(op.kind().name(), request, journal, &Pending { expect })?;
        // Declare what each request can do at the gateway (`StepEffect`): the host reads a
        // failed or unanswered step by it. The inquiry only reads; every other request here may
        // move money, which is what an undeclared step is taken to do. A step that registers
        // something but moves no money (GMO-PG's `EntryTran`, which enters an order id before
        // `ExecTran` charges the card) would say `.registers()`. Never declare less than a
        // request can do.
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
        let payment = match protocol::parse(reply, protocol::CHARSET)? {
            Reply::Payment(p) => p,
            // No payment under the order id sought: the attempt authorized nothing (yet).
            Reply::Error { codes }
                if matches!(op, Operation::FindAuthorization { .. })
                    && codes == ["payment_not_found"] =>
            {
                return Ok(Step::Done(renkei_sdk::Outcome::new(
                    renkei_sdk::PaymentState::AwaitingAuthorization,
                )));
            }
            // The form wire has no words for its errors: the table's meaning stands in.
            Reply::Error { codes } => {
                return Err(errors::gateway_error(&ERRORS, MULTI_ERROR, &codes, None));
            }
        };
        Ok(Step::Done(status::outcome(
            &STATUSES,
            op,
            pending.expect,
            &payment,
        )?))
    }
}

renkei_sdk::export_gateway!(KumoPay);

#[cfg(test)]
mod tests;
