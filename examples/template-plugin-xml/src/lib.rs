//! # Kumo Pay XML: the Renkei template plugin on the XML wire
//!
//! Kumo Pay's operations as `examples/template-plugin` writes them, spoken over the XML wire
//! of Japanese gateways such as SBPS: XML request and reply documents in a charset
//! (`protocol::CHARSET`), a refusal listing every problem as one `<error>`. It keeps the JSON
//! template's manifest, status table, error table and signing (those files are the JSON
//! template's own, shared by path here; `renkei new-plugin --wire xml` copies them):
//!
//! - `manifest.rs`: the manifest and the config (keys, parsing, validation);
//! - `protocol.rs`: the XML wire: charset, escaping on write, strict reading (quick-xml);
//! - `signing.rs`: the credentials and signature every request carries;
//! - `status.rs`: the full status table, as data, with the named codes;
//! - `errors.rs`: gateway error codes to SDK error kinds, as data, and the classification;
//! - `lib.rs` (this file): the `Gateway` impl, `prepare` and `interpret`, short; an
//!   authorization takes two steps, as GMO-PG's `EntryTran` and `ExecTran`: the order is
//!   entered (a step that registers and moves no money), then the card is charged;
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

use protocol::{Reply, XmlBody, XmlReply, document, path_id};
use renkei_sdk::{
    Config, ConfigError, Context, ErrorEntry, Gateway, GatewayError, HttpResponse, Manifest,
    Method, MultiError, Operation, PaymentSource, Secret, StatusEntry, Step, TransactionRef,
    decode_state,
};
use serde::{Deserialize, Serialize};
use signing::Credentials;
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "kumopay-xml";
/// The name shops and the CLI show.
pub const DISPLAY_NAME: &str = "Kumo Pay XML (template)";

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

/// What `interpret` needs to remember between `prepare` and the reply. It reaches the journal
/// as it is: never a secret here (the token is read again from the operation).
#[derive(Serialize, Deserialize)]
struct Pending {
    /// The amount the request asked to move, checked against the reply.
    expect: Option<i64>,
    /// Whether the reply is to the order's entry, the first step of an authorization.
    #[serde(default)]
    entry: bool,
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
                if !matches!(source, PaymentSource::Token { .. }) {
                    return Err(GatewayError::unsupported(
                        "authorizing without a Kumo Pay card token",
                    ));
                }
                // Checked now, before the order is entered: a name the charset cannot write
                // is refused before anything is sent.
                if let Some(customer) = customer {
                    document().field("customer", customer.as_str()).encode()?;
                }
                // First step: enter the order (no card yet); `interpret` charges it.
                let body = document()
                    .field("merchant", self.merchant.as_str())
                    .field("order", ctx.order_id(&manifest::order_id_rules(), order))
                    .field("amount", amount.minor_units.to_string())
                    .field("currency", amount.currency.as_str());
                let step = self.send(
                    "entry",
                    ctx,
                    "/entries",
                    body,
                    Pending {
                        expect: Some(amount.minor_units),
                        entry: true,
                    },
                )?;
                // Declared: the entry registers the order id and moves no money, so the host
                // knows a failed or unanswered entry left the payment as it was.
                return Ok(step.registers());
            }
            Operation::Capture {
                transaction,
                authorized,
                amount,
                ..
            } => {
                let amount = amount.filter(|a| a != authorized).map(|a| a.minor_units);
                let body = match amount {
                    Some(a) => document().field("amount", a.to_string()),
                    None => document(),
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
                Some(document()),
                None,
            ),
            Operation::Refund {
                transaction,
                amount,
                ..
            } => {
                let body = match amount {
                    Some(a) => document().field("amount", a.minor_units.to_string()),
                    None => document(),
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
            Some(document) => {
                let encoded = document.encode()?;
                (encoded.body, Some(encoded.journal))
            }
            None => (Vec::new(), None),
        };
        let creds = Credentials {
            endpoint: &self.endpoint,
            api_key: &self.api_key,
            signing_key: &self.signing_key,
        };
        let request = signing::signed(&creds, method, &path, &protocol::content_type(), body, ctx);
        let pending = Pending {
            expect,
            entry: false,
        };
        let step = Step::send(op.kind().name(), request, journal, &pending)?;
        // Declare what each request can do at the gateway (`StepEffect`): the host reads a
        // failed or unanswered step by it. The inquiry only reads; the order's entry registers
        // (`.registers()`, above); every other request here may move money, which is what an
        // undeclared step is taken to do. Never declare less than a request can do.
        Ok(match op {
            Operation::Inquire { .. } | Operation::FindAuthorization { .. } => step.read_only(),
            _ => step,
        })
    }

    fn interpret(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        let pending: Pending = decode_state(state)?;
        let fields = match protocol::parse(reply, protocol::CHARSET)? {
            Reply::Fields(kv) => kv,
            // No payment under the order id sought: the attempt authorized nothing (yet).
            Reply::Error { codes, .. }
                if matches!(op, Operation::FindAuthorization { .. })
                    && codes == ["payment_not_found"] =>
            {
                return Ok(Step::Done(renkei_sdk::Outcome::new(
                    renkei_sdk::PaymentState::AwaitingAuthorization,
                )));
            }
            // The gateway's own words, kept verbatim next to the table's meaning.
            Reply::Error { codes, message } => {
                return Err(errors::gateway_error(&ERRORS, MULTI_ERROR, &codes, message));
            }
        };
        if pending.entry {
            return self.charge(op, ctx, &fields, pending.expect);
        }
        let payment = protocol::payment(&fields)?;
        Ok(Step::Done(status::outcome(
            &STATUSES,
            op,
            pending.expect,
            &payment,
        )?))
    }
}

impl KumoPay {
    /// A signed POST of `body` to `path`, named `step`, journaled without its secrets.
    fn send(
        &self,
        step: &str,
        ctx: &Context<'_>,
        path: &str,
        body: XmlBody,
        pending: Pending,
    ) -> Result<Step, GatewayError> {
        let encoded = body.encode()?;
        let creds = Credentials {
            endpoint: &self.endpoint,
            api_key: &self.api_key,
            signing_key: &self.signing_key,
        };
        let request = signing::signed(
            &creds,
            Method::Post,
            path,
            &protocol::content_type(),
            encoded.body,
            ctx,
        );
        Step::send(step, request, Some(encoded.journal), &pending)
    }

    /// The second step of an authorization, once its order is entered: charge the card under
    /// the entry. It may move money: no declaration.
    fn charge(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        entered: &XmlReply,
        expect: Option<i64>,
    ) -> Result<Step, GatewayError> {
        let Operation::Authorize {
            source: PaymentSource::Token { token, .. },
            customer,
            ..
        } = op
        else {
            return Err(GatewayError::protocol(
                "an order entry answered outside an authorization",
            ));
        };
        let mut body = document()
            .field("merchant", self.merchant.as_str())
            .field("entry", protocol::entry(entered)?)
            .secret("token", token);
        if let Some(customer) = customer {
            body = body.field("customer", customer.as_str());
        }
        let pending = Pending {
            expect,
            entry: false,
        };
        self.send(op.kind().name(), ctx, "/payments", body, pending)
    }
}

renkei_sdk::export_gateway!(KumoPay);

#[cfg(test)]
mod tests;
