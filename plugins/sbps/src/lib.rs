//! # SBPS: the Renkei plugin for SB Payment Service credit cards
//!
//! Speaks SBPS's server-to-server XML API ("sps-api", `xmlapi.do`) as described in
//! `docs/protocols/sbps.md`, and applies the SBPS rules of `docs/rules.md`
//! (S-1…S-4, G-*). Same shape as every Renkei plugin:
//!
//! - `manifest.rs`: the manifest and the config (keys, parsing, validation, amount limits);
//! - `protocol.rs`: Shift_JIS XML, `sps_hashcode`, base64 and 3DES fields, strict reply parsing,
//!   and the checked shop fields (`order_id`, `cust_code`, `item_name`, tracking ids);
//! - `status.rs`: the status table (与信済 / 売上済 / 与信取消済 / 返金済 / 未オーソリ), as data,
//!   with MG01's codes by name;
//! - `errors.rs`: every `res_err_code` type to an SDK error kind, as data, and the
//!   classification of an NG reply;
//! - `lib.rs` (this file): the `Gateway` impl, `prepare` and `interpret`;
//! - `tests.rs`: the unit tests, from recorded bytes.
//!
//! The plugin never does I/O; every exchange is a [`Step`] the host sends and journals.
//!
//! ## What each operation sends
//!
//! | operation | exchanges |
//! | --- | --- |
//! | authorize | `ST01-00131-101` (token, or the customer's stored card) / `ST01-00111-101` (raw test card) / `ST01-00133-101` (from a previous payment), then commit `ST02-00101-101` |
//! | capture | inquiry `MG01-00101-101`; commit if SBPS says uncommitted; sales `ST02-00201-101` (with `amount` only below the authorization, S-1) |
//! | capture above the authorization | inquiry; re-authorization `ST01-00133-101` for the new amount; commit; sales on the new payment; cancel `ST02-00303-101` of the old one |
//! | void | inquiry; `ST02-00303-101` |
//! | refund, full | inquiry; `ST02-00303-101` (売上済: nothing refunded yet) or, at 返金済, `ST02-00307-101` of what the host's journal says is left (SBPS's K1 then means a refund made in its own tool) |
//! | refund, partial | `ST02-00307-101` |
//! | change amount | inquiry; re-authorization; commit; cancel of the old payment |
//! | inquire | `MG01-00101-101` |
//!
//! ## Why an inquiry comes first
//!
//! `ST02-00303-101` cancels an unsold payment but **refunds** a sold one, and operators capture
//! and refund in SBPS's own tool without the shop knowing (G-8, S-3). A void sent on the host's
//! belief alone could therefore refund money, and a re-authorization could double-charge a
//! payment already sold. Every operation that could do the wrong thing on a drifted payment
//! first reads the payment (MG01, no state change) and refuses, with the drift named, when SBPS
//! disagrees with the host. The same read tells the capture whether the authorization was ever
//! committed (an authorize whose commit failed reports it in a note; the capture heals it).
//!
//! ## 返金済 says "refunded", not how much
//!
//! MG01's `payment_status` 4 (返金済) follows a partial refund as well as a full one, and MG01
//! reports no amounts (§6.6, §6.8). The status table and every outcome read from MG01 therefore
//! say `RefundExtent::NotReported`; so does the refund of the remainder, which SBPS accepts
//! without saying what it has left. `Full` is claimed only for `ST02-00303-101` on a sold
//! payment, which SBPS documents as a full refund (§6.4), and `Partial` for a partial refund
//! the host asked for (less than its journal's remainder, SBPS's partial-refund function). The
//! host's ledger decides the extent from its own arithmetic in any case. An outcome's
//! `refunded` is what that refund moved.
//!
//! ## Choices where the protocol is silent
//!
//! - **Pre-order release (G-9).** By the time a pre-order is released the checkout token has
//!   expired, so the release authorizes either the customer's stored card
//!   (`PaymentSource::StoredCustomer`, `ST01-00131-101` without token; store the card at checkout
//!   with `store_card = true`) or the card of an earlier payment (`PaymentSource::
//!   PreviousTransaction`, re-authorization `ST01-00133-101` with control types B/B, which leaves
//!   that payment untouched). The host picks by the source it passes; both then commit like any
//!   authorization.
//! - **`order_id`.** SBPS refuses a second authorization with the same `order_id` (type 96), a
//!   declined one included (§9.2, open question 9; the emulator assumes so). A customer whose
//!   card was declined checks out again for the same order: the host runs the same shop action
//!   (same idempotency key) as a new attempt (`Context::attempt` 2, 3…). Every authorization
//!   therefore sends `<order code><tag>`:
//!   - the **tag** is the first 12 hex digits of SHA-1 over the attempt number (4 bytes,
//!     big-endian) and the idempotency key: a new attempt gets a new `order_id`, so a decline
//!     never blocks the order, while every exchange of one attempt keeps the same one: an
//!     authorization sent again within the attempt meets SBPS's 96, which proves it cannot
//!     authorize twice (and is reported as "may have applied", because the first request
//!     reached SBPS). 48 bits make a collision between two attempts negligible;
//!   - the **order code** part keeps only the code's ASCII letters and digits (every `order_id`
//!     recorded from SBPS is alphanumeric, and nothing public shows SBPS accepting `-` or `_`),
//!     cut to 26 characters so that the whole fits SBPS's 38. It is there for the operator
//!     searching SBPS's tool; the tag alone makes the `order_id` unique. The outcome's notes
//!     carry the `order_id` sent.
//! - **`cust_code` of a re-authorization** inside capture / change amount: the operation does not
//!   carry the customer, so the order code is sent; SBPS takes the card from the previous payment
//!   (B) and nothing documented ties the two codes.
//! - **The commit** after an authorization is sent at once (every production client does). If it
//!   fails the authorization still stands: the outcome says so in a note instead of losing the
//!   new tracking id.

mod errors;
mod manifest;
mod protocol;
mod status;

use errors::{
    accepted, acknowledged, context, is_cancel_done, is_commit_done, is_over_refund,
    refunded_in_tool,
};
use manifest::{same_currency, yen};
use protocol::{
    CardSource, Envelope, FieldCipher, Order, check_cust_code, checked_tracking_id, item_name,
    order_code_part, order_id, order_id_for,
};
use renkei_sdk::{
    CardData, Config, ConfigError, Context, ErrorEntry, ErrorKind, Gateway, GatewayError, Handle,
    HttpRequest, HttpResponse, Manifest, Method, Money, Operation, OrderRef, Outcome,
    PaymentSource, PaymentState, RefundExtent, Secret, StatusEntry, Step, TransactionRef,
    decode_state, state_by_code,
};
use serde::{Deserialize, Serialize};
use status::{PaymentStatus, captured_state, commit_note, refunded_state, unknown_status};
use std::fmt;
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "sbps";

/// How many attempts' `order_id`s an error names at most.
const MAX_NAMED_ATTEMPTS: u32 = 5;

/// The name of the handle's public part holding the authorization's `sps_transaction_id`.
pub const SPS_TRANSACTION_ID: &str = "sps_transaction_id";

/// The tables, built once: exported in the manifest, used by `interpret`.
static STATUSES: LazyLock<Vec<StatusEntry>> = LazyLock::new(status::table);
static ERROR_ROWS: LazyLock<Vec<errors::Row>> = LazyLock::new(errors::rows);
static ERRORS: LazyLock<Vec<ErrorEntry>> = LazyLock::new(|| errors::table(&ERROR_ROWS));
/// What a code matching no row means; unreachable while the table ends in catch-alls.
static UNKNOWN_ERROR: LazyLock<errors::Row> = LazyLock::new(errors::unknown);

/// A configured SBPS merchant (merchant_id + service_id).
pub struct Sbps {
    endpoint: String,
    merchant_id: String,
    service_id: String,
    hash_key: Secret,
    /// The whole `Authorization` header value: it encodes the Basic password.
    authorization: Secret,
    /// Present when the merchant has 3DES keys: then `encrypted_flg=1`.
    cipher: Option<FieldCipher>,
    limit_second: u32,
    item_id: String,
    store_card: bool,
}

impl fmt::Debug for Sbps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sbps")
            .field("endpoint", &self.endpoint)
            .field("merchant_id", &self.merchant_id)
            .field("service_id", &self.service_id)
            .field("encrypted", &self.cipher.is_some())
            .field("limit_second", &self.limit_second)
            .field("item_id", &self.item_id)
            .field("store_card", &self.store_card)
            .finish_non_exhaustive()
    }
}

/// Where an operation is, between two exchanges. Journaled by the host, so it holds what a
/// restarted host needs to resolve the operation (above all a new tracking id) and no secret.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    /// Function id of the request sent; the reply's root `id`, when present, must match.
    function: String,
    stage: Stage,
    /// Things the operator should hear about, carried to the outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
enum Stage {
    /// A new authorization (authorize).
    Authorization { order_id: String },
    /// The MG01 read before capture, void, full refund or amount change.
    Guard,
    /// A re-authorization replacing the operation's payment (capture above the authorization,
    /// amount change).
    Reauthorization { order_id: String },
    /// The commit of the payment this operation just created.
    CommitNew {
        tracking_id: String,
        authorization_code: Option<String>,
        /// The authorization's `res_sps_transaction_id`, kept in the payment's handle.
        /// (Absent from continuations journaled before it was carried.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sps_transaction_id: Option<String>,
    },
    /// The commit of the operation's payment, which the inquiry found uncommitted (capture).
    CommitExisting,
    /// Sales on `tracking_id`: the operation's payment, or the one that replaces it.
    Sales { tracking_id: String },
    /// `ST02-00303-101` on the operation's payment (void, or full refund of an unrefunded sale).
    CancelOrRefund,
    /// `ST02-00307-101`; `remainder` when it completes a full refund after partial ones.
    PartialRefund { remainder: bool },
    /// `ST02-00303-101` on the payment a re-authorization replaced; `tracking_id` is the new one.
    VoidReplaced { tracking_id: String },
    /// MG01 for `inquire`.
    Inquiry,
}

impl Gateway for Sbps {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        manifest::from_config(config)
    }

    fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        tracing::debug!(operation = %op.kind(), order = %op.order(), "SBPS: preparing");
        let now = ctx.now.jst_compact();
        let env = self.envelope(&now);
        match op {
            Operation::Authorize {
                order,
                amount,
                source,
                customer,
                description,
            } => {
                let amount = yen(*amount)?;
                let order_id = order_id(order, ctx)?;
                let cust_code = match (source, customer) {
                    (PaymentSource::StoredCustomer(stored), Some(c)) if stored != c => {
                        return Err(GatewayError::invalid(
                            "the stored-card customer differs from the order's customer",
                        ));
                    }
                    (PaymentSource::StoredCustomer(stored), _) => stored.as_str(),
                    (_, Some(c)) => c.as_str(),
                    // cust_code is mandatory; a guest order is its own customer.
                    (_, None) => order.as_str(),
                };
                check_cust_code(cust_code)?;
                let item_name = description.as_deref().and_then(item_name);
                let card = match source {
                    PaymentSource::Token { token, key } => {
                        let key = key.as_ref().ok_or_else(|| {
                            GatewayError::invalid("an SBPS token comes with a token_key")
                        })?;
                        CardSource::Token {
                            token: token.expose(),
                            token_key: key.expose(),
                        }
                    }
                    PaymentSource::StoredCustomer(_) => CardSource::Stored,
                    PaymentSource::PreviousTransaction(previous) => CardSource::Previous {
                        tracking_id: checked_tracking_id(previous)?,
                    },
                    PaymentSource::Card(card) => self.card_source(card)?,
                };
                let request = protocol::authorization(
                    &env,
                    &Order {
                        cust_code,
                        order_id: &order_id,
                        item_id: &self.item_id,
                        item_name: item_name.as_deref(),
                        amount,
                        // Storing needs a real customer to store under.
                        store_card: self.store_card
                            && customer.is_some()
                            && matches!(card, CardSource::Token { .. }),
                    },
                    card,
                    self.cipher.is_some(),
                );
                let mut notes = vec![format!("SBPS order_id {order_id}")];
                if let CardSource::Previous { tracking_id } = card {
                    notes.push(format!(
                        "re-authorized from payment {tracking_id}, which SBPS leaves unchanged"
                    ));
                }
                let step = if matches!(card, CardSource::Previous { .. }) {
                    "reauthorize"
                } else {
                    "authorize"
                };
                self.send(step, request, Stage::Authorization { order_id }, notes)
            }
            Operation::Capture {
                transaction,
                authorized,
                amount,
                ..
            } => {
                yen(*authorized)?;
                if let Some(a) = amount {
                    same_currency(*a, *authorized)?;
                    yen(*a)?;
                }
                self.guard(&env, transaction)
            }
            Operation::Void {
                transaction,
                authorized,
                ..
            } => {
                yen(*authorized)?;
                self.guard(&env, transaction)
            }
            Operation::Refund {
                transaction,
                captured,
                amount,
                ..
            } => {
                let captured_yen = yen(*captured)?;
                match amount {
                    Some(a) => {
                        same_currency(*a, *captured)?;
                        let a = yen(*a)?;
                        if a > captured_yen {
                            return Err(GatewayError::invalid(format!(
                                "refund of {a} yen exceeds the {captured_yen} yen still captured"
                            )));
                        }
                        if a < captured_yen {
                            // 00307 never cancels, so it needs no guard (K0 before sales).
                            let request = protocol::partial_refund(
                                &env,
                                checked_tracking_id(transaction)?,
                                &now,
                                a,
                            );
                            return self.send(
                                "partial_refund",
                                request,
                                Stage::PartialRefund { remainder: false },
                                Vec::new(),
                            );
                        }
                        self.guard(&env, transaction)
                    }
                    None => self.guard(&env, transaction),
                }
            }
            Operation::ChangeAmount {
                transaction,
                authorized,
                new_amount,
                ..
            } => {
                same_currency(*new_amount, *authorized)?;
                yen(*authorized)?;
                yen(*new_amount)?;
                if new_amount == authorized {
                    checked_tracking_id(transaction)?;
                    return Ok(Step::Done(
                        Outcome::new(PaymentState::Authorized)
                            .transaction(transaction.clone())
                            .note("the amount is unchanged; nothing was sent to SBPS"),
                    ));
                }
                self.guard(&env, transaction)
            }
            Operation::Inquire { transaction, .. } => {
                let request = protocol::inquiry(
                    &env,
                    checked_tracking_id(transaction)?,
                    self.cipher.is_some(),
                );
                self.send("inquiry", request, Stage::Inquiry, Vec::new())
            }
            // MG01 looks a payment up by tracking id, which a lost authorization never gave.
            Operation::FindAuthorization { .. } => Err(GatewayError::unsupported(
                "looking up an SBPS authorization by its order id",
            )),
        }
    }

    fn interpret(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        let Pending {
            function,
            stage,
            mut notes,
        } = decode_state(state)?;
        let read = protocol::read_reply(reply, &function);
        let now = ctx.now.jst_compact();
        let env = self.envelope(&now);
        match stage {
            Stage::Authorization { order_id } => {
                let reply = accepted(op, read, "authorization", true)?;
                let auth = protocol::authorized(&reply, self.cipher.as_ref())
                    .map_err(|e| context("authorization", e))?;
                notes.extend(auth_notes(&auth));
                tracing::info!(order = %op.order(), %order_id, tracking_id = %auth.tracking_id, "SBPS: authorized");
                self.commit_new(&env, &now, auth, notes)
            }
            Stage::Reauthorization { order_id } => {
                let old = op_tracking_id(op)?;
                let reply = accepted(op, read, "re-authorization", false)?;
                let auth = protocol::authorized(&reply, self.cipher.as_ref())
                    .map_err(|e| context("re-authorization", e))?;
                notes.push(format!(
                    "re-authorized as payment {} (SBPS order_id {order_id}), replacing {old}",
                    auth.tracking_id
                ));
                notes.extend(auth_notes(&auth));
                self.commit_new(&env, &now, auth, notes)
            }
            Stage::CommitNew {
                tracking_id,
                authorization_code,
                sps_transaction_id,
            } => {
                if let Err(e) = acknowledged(read) {
                    tracing::warn!(%tracking_id, error = %e, "SBPS: commit after authorization failed");
                    notes.push(format!(
                        "the commit of payment {tracking_id} failed ({e}); the authorization \
                         stands and the capture will commit it first"
                    ));
                }
                match op {
                    Operation::Authorize { amount, .. } => {
                        let mut outcome = Outcome::new(PaymentState::Authorized)
                            .gateway_status(PaymentStatus::Authorized.code())
                            .transaction(TransactionRef::new(tracking_id))
                            .authorized(*amount);
                        if let Some(code) = authorization_code {
                            outcome = outcome.authorization_code(code);
                        }
                        // SBPS's id of the authorization, for an operator reconciling in the
                        // SBPS tool; nothing in it is secret.
                        if let Some(id) = sps_transaction_id {
                            outcome = outcome.handle(Handle::new().public(SPS_TRANSACTION_ID, id));
                        }
                        Ok(Step::Done(with_notes(outcome, notes)))
                    }
                    Operation::Capture { .. } => {
                        // The new authorization is for exactly the capture amount: no `amount`.
                        let request = protocol::sales(&env, &tracking_id, &now, None);
                        self.send("sales", request, Stage::Sales { tracking_id }, notes)
                    }
                    Operation::ChangeAmount { transaction, .. } => {
                        let request = protocol::cancel_or_refund(
                            &env,
                            checked_tracking_id(transaction)?,
                            &now,
                        );
                        self.send(
                            "void_replaced",
                            request,
                            Stage::VoidReplaced { tracking_id },
                            notes,
                        )
                    }
                    _ => Err(unexpected_stage(op, "commit_new")),
                }
            }
            Stage::Guard => {
                let reply = accepted(op, read, "inquiry", true)?;
                let found = protocol::inquired(&reply, self.cipher.as_ref())
                    .map_err(|e| context("inquiry", e))?;
                self.after_guard(op, ctx, &env, &now, found, notes)
            }
            Stage::CommitExisting => {
                match acknowledged(read) {
                    Ok(_) => {}
                    Err(e) if e.gateway_code.as_deref().is_some_and(is_commit_done) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "SBPS: commit before sales failed; selling anyway");
                        notes.push(format!("the commit before sales failed ({e})"));
                    }
                }
                let Operation::Capture {
                    transaction,
                    authorized,
                    amount,
                    ..
                } = op
                else {
                    return Err(unexpected_stage(op, "commit_existing"));
                };
                let tracking_id = checked_tracking_id(transaction)?.to_owned();
                let request =
                    protocol::sales(&env, &tracking_id, &now, partial(*authorized, *amount));
                self.send("sales", request, Stage::Sales { tracking_id }, notes)
            }
            Stage::Sales { tracking_id } => {
                let Operation::Capture {
                    transaction,
                    authorized,
                    amount,
                    ..
                } = op
                else {
                    return Err(unexpected_stage(op, "sales"));
                };
                let own = tracking_id == transaction.as_str();
                let reply = accepted(op, read, "sales", own).map_err(|mut e| {
                    if !own {
                        e.message = format!(
                            "{}; the new authorization {tracking_id} is left uncaptured and \
                             {transaction} unchanged: resolve in the SBPS tool",
                            e.message
                        );
                    }
                    e
                })?;
                protocol::acknowledged(&reply).map_err(|e| context("sales", e))?;
                let captured = amount.unwrap_or(*authorized);
                if own {
                    let outcome = Outcome::new(captured_state())
                        .gateway_status(PaymentStatus::Sold.code())
                        .transaction(transaction.clone())
                        .authorized(*authorized)
                        .captured(captured);
                    return Ok(Step::Done(with_notes(outcome, notes)));
                }
                let request =
                    protocol::cancel_or_refund(&env, checked_tracking_id(transaction)?, &now);
                self.send(
                    "void_replaced",
                    request,
                    Stage::VoidReplaced { tracking_id },
                    notes,
                )
            }
            Stage::VoidReplaced { tracking_id } => {
                let old = op_tracking_id(op)?;
                match acknowledged(read) {
                    Ok(_) => notes.push(format!("the replaced authorization {old} was voided")),
                    Err(e) if e.gateway_code.as_deref().is_some_and(is_cancel_done) => {
                        notes.push(format!(
                            "the replaced authorization {old} was already voided"
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(%old, error = %e, "SBPS: voiding the replaced authorization failed");
                        notes.push(format!(
                            "the replaced authorization {old} could NOT be voided ({e}): it \
                             still holds the customer's limit; void it in the SBPS tool"
                        ));
                    }
                }
                let new = TransactionRef::new(tracking_id);
                let replaced = TransactionRef::new(old);
                match op {
                    Operation::Capture {
                        amount: Some(amount),
                        ..
                    } => Ok(Step::Done(with_notes(
                        Outcome::new(captured_state())
                            .gateway_status(PaymentStatus::Sold.code())
                            .transaction(new)
                            .replaced(replaced)
                            .authorized(*amount)
                            .captured(*amount),
                        notes,
                    ))),
                    Operation::ChangeAmount { new_amount, .. } => Ok(Step::Done(with_notes(
                        Outcome::new(PaymentState::Authorized)
                            .gateway_status(PaymentStatus::Authorized.code())
                            .transaction(new)
                            .replaced(replaced)
                            .authorized(*new_amount),
                        notes,
                    ))),
                    _ => Err(unexpected_stage(op, "void_replaced")),
                }
            }
            Stage::CancelOrRefund => {
                let reply = accepted(op, read, "cancel-or-refund", true)?;
                protocol::acknowledged(&reply).map_err(|e| context("cancel-or-refund", e))?;
                match op {
                    Operation::Void { transaction, .. } => Ok(Step::Done(with_notes(
                        Outcome::new(PaymentState::Voided)
                            .gateway_status(PaymentStatus::Cancelled.code())
                            .transaction(transaction.clone()),
                        notes,
                    ))),
                    Operation::Refund {
                        transaction,
                        captured,
                        ..
                    } => Ok(Step::Done(with_notes(
                        Outcome::new(refunded_state(RefundExtent::Full))
                            .gateway_status(PaymentStatus::Refunded.code())
                            .transaction(transaction.clone())
                            .refunded(*captured),
                        notes,
                    ))),
                    _ => Err(unexpected_stage(op, "cancel_or_refund")),
                }
            }
            Stage::PartialRefund { remainder } => {
                let Operation::Refund {
                    transaction,
                    captured,
                    amount,
                    ..
                } = op
                else {
                    return Err(unexpected_stage(op, "partial_refund"));
                };
                let reply = match accepted(op, read, "partial refund", remainder) {
                    Err(e)
                        if remainder && e.gateway_code.as_deref().is_some_and(is_over_refund) =>
                    {
                        return Err(refunded_in_tool(e, *captured));
                    }
                    read => read?,
                };
                protocol::acknowledged(&reply).map_err(|e| context("partial refund", e))?;
                // What this refund moved. After 返金済 it completes the refund as far as the
                // shop's records go, but SBPS says nothing of what it has left: no extent.
                let (extent, refunded) = if remainder {
                    (RefundExtent::NotReported, *captured)
                } else {
                    (RefundExtent::Partial, amount.unwrap_or(*captured))
                };
                if remainder {
                    notes.push(format!(
                        "refunded the {captured} the shop's records show as left; SBPS reports \
                         返金済 without amounts"
                    ));
                }
                Ok(Step::Done(with_notes(
                    Outcome::new(refunded_state(extent))
                        .gateway_status(PaymentStatus::Refunded.code())
                        .transaction(transaction.clone())
                        .refunded(refunded),
                    notes,
                )))
            }
            Stage::Inquiry => {
                let Operation::Inquire { transaction, .. } = op else {
                    return Err(unexpected_stage(op, "inquiry"));
                };
                let reply = accepted(op, read, "inquiry", true)?;
                let found = protocol::inquired(&reply, self.cipher.as_ref())
                    .map_err(|e| context("inquiry", e))?;
                notes.push(commit_note(&found.commit_status));
                if PaymentStatus::parse(&found.payment_status) == Some(PaymentStatus::Refunded) {
                    notes.push(
                        "SBPS reports 返金済 (4) after a partial refund as after a full one, and \
                         no amounts: how much is refunded is in the host's journal or the SBPS \
                         tool"
                            .into(),
                    );
                }
                let state = state_by_code(&STATUSES, &found.payment_status);
                Ok(Step::Done(with_notes(
                    Outcome::new(state)
                        .gateway_status(found.payment_status)
                        .transaction(transaction.clone()),
                    notes,
                )))
            }
        }
    }
}

impl Sbps {
    fn envelope<'a>(&'a self, now: &'a str) -> Envelope<'a> {
        Envelope {
            merchant_id: &self.merchant_id,
            service_id: &self.service_id,
            request_date: now,
            limit_second: Some(self.limit_second),
        }
    }

    /// Hashes and encodes `request` and describes the HTTP exchange.
    fn send(
        &self,
        step: &str,
        request: protocol::Request,
        stage: Stage,
        notes: Vec<String>,
    ) -> Result<Step, GatewayError> {
        tracing::debug!(step, function = request.function, "SBPS: sending");
        let encoded = request.encode(&self.hash_key, self.cipher.as_ref())?;
        let http = HttpRequest::new(Method::Post, self.endpoint.as_str())
            .header("Content-Type", "text/xml; charset=Shift_JIS")
            .header("Authorization", self.authorization.expose())
            .body(encoded.body);
        // MG01 reads (the guard before acting, and `inquire`) change nothing at SBPS.
        let read_only = matches!(stage, Stage::Guard | Stage::Inquiry);
        let pending = Pending {
            function: request.function.to_owned(),
            stage,
            notes,
        };
        let step = Step::send(step, http, Some(encoded.journal), &pending)?;
        Ok(if read_only { step.read_only() } else { step })
    }

    /// The MG01 read that starts every operation that could act wrongly on a drifted payment.
    fn guard(
        &self,
        env: &Envelope<'_>,
        transaction: &TransactionRef,
    ) -> Result<Step, GatewayError> {
        let request = protocol::inquiry(
            env,
            checked_tracking_id(transaction)?,
            self.cipher.is_some(),
        );
        self.send("inquiry", request, Stage::Guard, Vec::new())
    }

    /// Decides, from what SBPS says about the payment, what to send next (or that nothing may
    /// be sent).
    fn after_guard(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        env: &Envelope<'_>,
        now: &str,
        found: protocol::Inquired,
        notes: Vec<String>,
    ) -> Result<Step, GatewayError> {
        use PaymentStatus as P;
        let status = found.payment_status.as_str();
        let known = PaymentStatus::parse(status);
        let committed = found.commit_status != status::NOT_COMMITTED;
        let drift =
            |kind: ErrorKind, message: &str| status::drift(&STATUSES, kind, status, message);
        match op {
            Operation::Capture {
                order,
                transaction,
                authorized,
                amount,
            } => {
                let tracking_id = checked_tracking_id(transaction)?;
                let raise = amount.is_some_and(|a| a.minor_units > authorized.minor_units);
                match (known, raise) {
                    (Some(P::Authorized), false) if committed => {
                        let request =
                            protocol::sales(env, tracking_id, now, partial(*authorized, *amount));
                        self.send(
                            "sales",
                            request,
                            Stage::Sales {
                                tracking_id: tracking_id.to_owned(),
                            },
                            notes,
                        )
                    }
                    (Some(P::Authorized), false) => {
                        let request = protocol::commit(env, tracking_id, now);
                        self.send("commit", request, Stage::CommitExisting, notes)
                    }
                    (Some(P::Authorized), true) => {
                        let new_amount = amount.map_or(authorized.minor_units, |a| a.minor_units);
                        self.reauthorize(env, ctx, order, tracking_id, new_amount, notes)
                    }
                    (Some(P::Sold), false) => Err(drift(
                        ErrorKind::AlreadyDone,
                        "already captured (売上済); a capture or the SBPS tool sold it before",
                    )),
                    (Some(P::Refunded), false) => Err(drift(
                        ErrorKind::AlreadyDone,
                        "already captured, and refunded since (返金済, in part or in full: SBPS \
                         does not say how much); a capture or the SBPS tool sold it before",
                    )),
                    (Some(P::Sold | P::Refunded), true) => Err(drift(
                        ErrorKind::Rejected,
                        "already captured, possibly at another amount, outside this capture \
                         (G-8): nothing was re-authorized",
                    )),
                    (Some(P::Cancelled), false) => Err(drift(
                        ErrorKind::Rejected,
                        "cannot capture: the authorization is cancelled (G-5)",
                    )),
                    (Some(P::Cancelled), true) => Err(ambiguous_cancel(transaction, order, ctx)),
                    _ => Err(unknown_status(status)),
                }
            }
            Operation::Void { transaction, .. } => match known {
                Some(P::Authorized) => {
                    let request =
                        protocol::cancel_or_refund(env, checked_tracking_id(transaction)?, now);
                    self.send("cancel", request, Stage::CancelOrRefund, notes)
                }
                Some(P::Cancelled) => Err(drift(
                    ErrorKind::AlreadyDone,
                    "the authorization is already cancelled",
                )),
                Some(P::Sold | P::Refunded) => Err(drift(
                    ErrorKind::Rejected,
                    "the payment is captured (in the SBPS tool, G-8): a void would refund it; \
                     refund it instead (S-4)",
                )),
                _ => Err(unknown_status(status)),
            },
            Operation::Refund {
                transaction,
                captured,
                ..
            } => {
                let tracking_id = checked_tracking_id(transaction)?;
                match known {
                    Some(P::Sold) => {
                        let request = protocol::cancel_or_refund(env, tracking_id, now);
                        self.send("refund", request, Stage::CancelOrRefund, notes)
                    }
                    // 返金済 after a partial refund as well as a full one, without amounts:
                    // refund by amount what the journal says is left. Whether 00303 would
                    // refund the rest or answer "already refunded" is open (§11 q4); 00307
                    // refuses with K1 when less is left at SBPS than the journal believes.
                    Some(P::Refunded) => {
                        let request =
                            protocol::partial_refund(env, tracking_id, now, captured.minor_units);
                        self.send(
                            "refund_remainder",
                            request,
                            Stage::PartialRefund { remainder: true },
                            notes,
                        )
                    }
                    Some(P::Authorized) => Err(drift(
                        ErrorKind::Rejected,
                        "the payment is not captured: a refund would void it; void it instead",
                    )),
                    Some(P::Cancelled) => Err(drift(
                        ErrorKind::Rejected,
                        "the authorization is cancelled; there is nothing to refund",
                    )),
                    _ => Err(unknown_status(status)),
                }
            }
            Operation::ChangeAmount {
                order,
                transaction,
                new_amount,
                ..
            } => match known {
                Some(P::Authorized) => self.reauthorize(
                    env,
                    ctx,
                    order,
                    checked_tracking_id(transaction)?,
                    new_amount.minor_units,
                    notes,
                ),
                Some(P::Sold | P::Refunded) => Err(drift(
                    ErrorKind::Rejected,
                    "the payment is captured: an amount change after capture is not linked \
                     to SBPS (G-7); use the SBPS tool",
                )),
                Some(P::Cancelled) => Err(ambiguous_cancel(transaction, order, ctx)),
                _ => Err(unknown_status(status)),
            },
            _ => Err(unexpected_stage(op, "guard")),
        }
    }

    /// `ST01-00133-101` from `old` for `amount`, control types B/B.
    fn reauthorize(
        &self,
        env: &Envelope<'_>,
        ctx: &Context<'_>,
        order: &OrderRef,
        old: &str,
        amount: i64,
        notes: Vec<String>,
    ) -> Result<Step, GatewayError> {
        let order_id = order_id(order, ctx)?;
        check_cust_code(order.as_str())?;
        let request = protocol::authorization(
            env,
            &Order {
                cust_code: order.as_str(),
                order_id: &order_id,
                item_id: &self.item_id,
                item_name: None,
                amount,
                store_card: false,
            },
            CardSource::Previous { tracking_id: old },
            self.cipher.is_some(),
        );
        self.send(
            "reauthorize",
            request,
            Stage::Reauthorization { order_id },
            notes,
        )
    }

    fn commit_new(
        &self,
        env: &Envelope<'_>,
        now: &str,
        auth: protocol::Authorized,
        notes: Vec<String>,
    ) -> Result<Step, GatewayError> {
        let request = protocol::commit(env, &auth.tracking_id, now);
        self.send(
            "commit",
            request,
            Stage::CommitNew {
                tracking_id: auth.tracking_id,
                authorization_code: auth.recognized_no,
                sps_transaction_id: Some(auth.sps_transaction_id),
            },
            notes,
        )
    }

    /// Raw card data: only for the sandbox and emulators. `ST01-00111-101` is withdrawn from
    /// production (PCI DSS), where card data must arrive as a token.
    fn card_source<'c>(&self, card: &'c CardData) -> Result<CardSource<'c>, GatewayError> {
        if self.endpoint == protocol::PRODUCTION_ENDPOINT {
            return Err(GatewayError::unsupported(
                "raw card data against the SBPS production endpoint (use a token)",
            ));
        }
        let digits = |s: &str, lo: usize, hi: usize| {
            (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        let number = card.number.expose();
        let expiry = card.expiry.expose();
        if !digits(number, 12, 16) {
            return Err(GatewayError::invalid(
                "the card number must be 12-16 digits",
            ));
        }
        if !digits(expiry, 6, 6) {
            return Err(GatewayError::invalid("the card expiry must be YYYYMM"));
        }
        let security_code = card.security_code.as_ref().map(Secret::expose);
        if security_code.is_some_and(|c| !digits(c, 3, 4)) {
            return Err(GatewayError::invalid(
                "the security code must be 3-4 digits",
            ));
        }
        Ok(CardSource::Card {
            number,
            expiry,
            security_code,
        })
    }
}

/// The payment a re-authorizing operation starts from is cancelled. Either the SBPS tool did it,
/// or an earlier attempt of this very operation re-authorized, went on, and voided it as its last
/// step: then the money has moved, so this must be resolved, not reported as a refusal.
fn ambiguous_cancel(
    transaction: &TransactionRef,
    order: &OrderRef,
    ctx: &Context<'_>,
) -> GatewayError {
    // Each attempt re-authorized under its own order_id: name those of the attempts so far
    // (the latest few), and the order code they all start with.
    let first = ctx.attempt.saturating_sub(MAX_NAMED_ATTEMPTS - 1).max(1);
    let ids: Vec<String> = (first..=ctx.attempt.max(1))
        .map(|a| order_id_for(order, ctx.idempotency_key, a))
        .collect();
    let prefix = order_code_part(order);
    status::drift(
        &STATUSES,
        ErrorKind::Protocol,
        PaymentStatus::Cancelled.code(),
        &format!(
            "payment {transaction} is cancelled: either an earlier attempt of this operation \
             replaced it (look for SBPS order_id {}, or any starting with {prefix:?}) or it \
             was cancelled in the SBPS tool; resolve before retrying",
            ids.join(" / ")
        ),
    )
}

fn unexpected_stage(op: &Operation, stage: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::Internal,
        format!(
            "continuation stage {stage} does not belong to a {} operation",
            op.kind()
        ),
    )
}

fn auth_notes(auth: &protocol::Authorized) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(brand) = &auth.brand {
        notes.push(format!("card brand {brand}"));
    }
    if let Some(why) = &auth.unreadable {
        notes.push(format!("an informational field could not be read: {why}"));
    }
    notes
}

fn with_notes(mut outcome: Outcome, notes: Vec<String>) -> Outcome {
    outcome.notes.extend(notes);
    outcome
}

/// The `amount` of a sales request: only when the shop's amount is below the authorization
/// (S-1). Equal means "all of it", which SBPS expresses by leaving `amount` out.
fn partial(authorized: Money, amount: Option<Money>) -> Option<i64> {
    amount
        .filter(|a| a.minor_units < authorized.minor_units)
        .map(|a| a.minor_units)
}

fn op_tracking_id(op: &Operation) -> Result<String, GatewayError> {
    op.transaction()
        .map(|t| t.as_str().to_owned())
        .ok_or_else(|| unexpected_stage(op, "replacement"))
}

renkei_sdk::export_gateway!(Sbps);

#[cfg(test)]
mod tests;
