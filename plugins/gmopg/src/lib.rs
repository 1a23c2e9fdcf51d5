//! # GMO-PG: the Renkei plugin for GMO Payment Gateway's protocol-type card API
//!
//! A pure translator (sans-IO) between Renkei operations and GMO-PG's server-to-server card API:
//! form POSTs in Windows-31J to `…/payment/NAME.idPass`, `Key=Value&…` replies. Wire facts and
//! their sources: `docs/protocols/gmopg.md` (§ numbers below are its sections; S1–S5 its
//! sources, S1 being the `gmo` gem and its recorded cassettes). What the plugin does with them:
//! §8 of that document. Same shape as every plugin:
//!
//! - `manifest.rs`: the manifest and the config (keys, parsing, amount limits, order ids);
//! - `protocol.rs`: the endpoints, strict reply reading, reply redaction;
//! - `status.rs`: the ten statuses of §6 (and the three cancels of a sale), as data;
//! - `errors.rs`: `ErrInfo` codes to SDK error kinds, as data;
//! - `lib.rs` (this file): the `Gateway` impl, `prepare` and `interpret`;
//! - `tests.rs`: the unit tests, from bytes written in the documented shape.
//!
//! ## What each operation sends
//!
//! | operation | steps (effect) |
//! | --- | --- |
//! | authorize | `EntryTran` JobCd `AUTH` (registers) → `ExecTran` with the token (may move money) → `SearchTrade` (reads), whose reply gives the AccessPass for the handle and confirms `AUTH` at the amount |
//! | authorize, order id already registered (`E01040010`: this attempt's own id, sent before) | `SearchTrade`: `AUTH` at the amount is this attempt's authorization; `UNPROCESSED` goes on with `ExecTran` |
//! | capture at the authorized amount | `AlterTran` JobCd `SALES` with that amount (§4.3) |
//! | capture at another amount | `ChangeTran` JobCd `AUTH` to it, then `AlterTran` `SALES` (§7.2) |
//! | void | `AlterTran` `VOID` / `RETURN` / `RETURNX` by the authorization's date (§7.1) |
//! | refund, full | `AlterTran` `VOID` / `RETURN` / `RETURNX` by the capture's date (§7.1) |
//! | refund, partial | `ChangeTran` JobCd `CAPTURE` to the amount that stays (§7.3) |
//! | change amount | `ChangeTran` JobCd `AUTH` (§4.4) |
//! | inquire | `SearchTrade` by the reference (the order id) (§4.5) |
//! | find authorization | `SearchTrade` by the attempt's order id; `E01110002` alone is "none" |
//!
//! The reference the host keeps is the transaction's `OrderID`: `SearchTrade` finds it, and it
//! never changes (`ChangeTran` keeps AccessID and AccessPass, §4.4). The handle holds `AccessID`
//! (public) and `AccessPass` (secret, sealed by the host), which every later call needs
//! (§2.5). A host without them (no sealing key after a restart) or without the payment's dates
//! gets a `SearchTrade` first, which answers both.
//!
//! The AccessPass is never in a continuation (journaled in clear): each step that needs it
//! takes it from the handle or from the reply just received (`EntryTran`, `SearchTrade`,
//! `ChangeTran` replies carry it, §4.1, §4.4, §4.5). That is why an authorization ends with a
//! `SearchTrade`: `ExecTran`'s reply does not carry the AccessPass, and the handle must.

mod errors;
mod manifest;
mod protocol;
mod status;

use manifest::yen;
use protocol::{Altered, Api, Entry, Exec, Kv, Read, Trade};
use renkei_sdk::wire::FormBody;
use renkei_sdk::{
    CardData, Config, ConfigError, Context, ErrorEntry, ErrorKind, Gateway, GatewayError, Handle,
    HttpRequest, HttpResponse, Manifest, Method, Money, Operation, OperationKind, Outcome,
    PaymentSource, PaymentState, RefundExtent, ReplyCopy, Secret, Settlement, StatusEntry, Step,
    TransactionRef, decode_state, state_by_code,
};
use serde::{Deserialize, Serialize};
use status::Cancel;
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "gmopg";

/// The status and error tables, built once: exported in the manifest, used to read replies.
static STATUSES: LazyLock<Vec<StatusEntry>> = LazyLock::new(status::table);
static ERRORS: LazyLock<Vec<ErrorEntry>> = LazyLock::new(errors::table);

/// Handle parts (§2.5).
const ACCESS_ID: &str = "AccessID";
const ACCESS_PASS: &str = "AccessPass";

/// A configured GMO-PG shop.
pub struct Gmopg {
    /// Base URL ending in `/`; endpoint files are appended.
    base: String,
    shop_id: String,
    shop_pass: Secret,
}

/// What an operation on an existing transaction does, kept in the continuation while a
/// `SearchTrade` finds what the host lacks (the access pass, the transaction's date).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "plan", rename_all = "snake_case")]
enum Plan {
    Capture { authorized: i64, amount: i64 },
    Void { authorized: i64 },
    Refund { captured: i64, refund: i64 },
    Change { from: i64, to: i64 },
}

impl Plan {
    fn operation(self) -> OperationKind {
        match self {
            Plan::Capture { .. } => OperationKind::Capture,
            Plan::Void { .. } => OperationKind::Void,
            Plan::Refund { .. } => OperationKind::Refund,
            Plan::Change { .. } => OperationKind::ChangeAmount,
        }
    }
}

/// The continuation: which reply is awaited and what reading it needs. Journaled by the host
/// between steps, so it holds no secret: AccessID is public, the AccessPass never appears.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "awaiting", rename_all = "snake_case")]
enum Pending {
    /// `EntryTran` of an authorization.
    Entry { order_id: String, amount: i64 },
    /// `ExecTran` of an authorization.
    Exec {
        order_id: String,
        amount: i64,
        access_id: String,
    },
    /// `SearchTrade` after an `EntryTran` refused the order id as used: this attempt's own.
    Registered { order_id: String, amount: i64 },
    /// `SearchTrade` after an `ExecTran` answered: the authorization, with its AccessPass.
    Confirm {
        order_id: String,
        amount: i64,
        access_id: String,
    },
    /// `SearchTrade` before acting on a transaction, for what the host lacks.
    Lookup { order_id: String, plan: Plan },
    /// `AlterTran` `SALES`; `changed_from` when a `ChangeTran` set the amount first.
    Sales {
        order_id: String,
        amount: i64,
        changed_from: Option<i64>,
    },
    /// `ChangeTran` `AUTH`: an amount change, or the first step of a capture at `to`.
    ChangeAuth {
        order_id: String,
        from: i64,
        to: i64,
        then_capture: bool,
    },
    /// `AlterTran` `VOID`/`RETURN`/`RETURNX` of an authorization or (`of_sale`) a sale.
    Cancel {
        order_id: String,
        cancel: Cancel,
        of_sale: bool,
        amount: i64,
    },
    /// `ChangeTran` `CAPTURE` down to `captured - refund` (a partial refund).
    ChangeDown {
        order_id: String,
        captured: i64,
        refund: i64,
    },
    /// `SearchTrade` of an inquiry (`find`: an authorization search by the attempt's id).
    Search { order_id: String, find: bool },
}

impl Pending {
    fn api(&self) -> Api {
        match self {
            Pending::Entry { .. } => Api::EntryTran,
            Pending::Exec { .. } => Api::ExecTran,
            Pending::Registered { .. }
            | Pending::Confirm { .. }
            | Pending::Lookup { .. }
            | Pending::Search { .. } => Api::SearchTrade,
            Pending::Sales { .. } | Pending::Cancel { .. } => Api::AlterTran,
            Pending::ChangeAuth { .. } | Pending::ChangeDown { .. } => Api::ChangeTran,
        }
    }

    fn operation(&self) -> OperationKind {
        match self {
            Pending::Entry { .. }
            | Pending::Exec { .. }
            | Pending::Registered { .. }
            | Pending::Confirm { .. } => OperationKind::Authorize,
            Pending::Lookup { plan, .. } => plan.operation(),
            Pending::Sales { .. } => OperationKind::Capture,
            Pending::ChangeAuth { then_capture, .. } => {
                if *then_capture {
                    OperationKind::Capture
                } else {
                    OperationKind::ChangeAmount
                }
            }
            Pending::Cancel { of_sale, .. } => {
                if *of_sale {
                    OperationKind::Refund
                } else {
                    OperationKind::Void
                }
            }
            Pending::ChangeDown { .. } => OperationKind::Refund,
            Pending::Search { .. } => OperationKind::Inquire,
        }
    }

    /// The step name journaled and shown to operators.
    fn step(&self) -> &'static str {
        match self {
            Pending::Entry { .. } => "entry",
            Pending::Exec { .. } => "exec",
            Pending::Registered { .. } => "search_registered",
            Pending::Confirm { .. } => "search_authorized",
            Pending::Lookup { .. } => "search_before",
            Pending::Sales { .. } => "sales",
            Pending::ChangeAuth { .. } => "change_auth",
            Pending::Cancel { cancel, .. } => match cancel {
                Cancel::Void => "void",
                Cancel::Return => "return",
                Cancel::ReturnX => "returnx",
            },
            Pending::ChangeDown { .. } => "change_capture",
            Pending::Search { find: true, .. } => "search_order_id",
            Pending::Search { find: false, .. } => "search",
        }
    }
}

/// The access a call on an existing transaction needs (§2.5).
struct Access<'a> {
    id: &'a str,
    pass: &'a Secret,
}

impl Gateway for Gmopg {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        manifest::from_config(config)
    }

    fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        tracing::debug!(operation = %op.kind(), order = %op.order(), "building GMO-PG request");
        match op {
            Operation::Authorize {
                order,
                amount,
                source,
                ..
            } => {
                let amount = yen(*amount)?;
                check_source(source)?;
                let order_id = ctx.order_id(&manifest::order_id_rules(), order);
                if !protocol::order_id(&order_id) {
                    return Err(GatewayError::invalid(format!(
                        "order id {order_id:?} is not GMO-PG's: 1-27 letters, digits or '-'"
                    )));
                }
                let form = self
                    .shop_form()
                    .field("OrderID", order_id.as_str())
                    .field("JobCd", status::AUTH)
                    .field("Amount", amount.to_string());
                // EntryTran registers the order id and moves no money (§3): a refusal at the
                // ExecTran after it is then a clean refusal.
                Ok(self
                    .send(form, &Pending::Entry { order_id, amount })?
                    .registers())
            }
            Operation::Capture {
                transaction,
                authorized,
                amount,
                ..
            } => {
                let authorized = yen(*authorized)?;
                let amount = match amount {
                    Some(a) => yen(*a)?,
                    None => authorized,
                };
                self.act(ctx, transaction, Plan::Capture { authorized, amount })
            }
            Operation::Void {
                transaction,
                authorized,
                ..
            } => {
                let authorized = yen(*authorized)?;
                self.act(ctx, transaction, Plan::Void { authorized })
            }
            Operation::Refund {
                transaction,
                captured,
                amount,
                ..
            } => {
                let captured = yen(*captured)?;
                let refund = match amount {
                    None => captured,
                    Some(a) => {
                        let r = yen(*a)?;
                        if r > captured {
                            return Err(GatewayError::invalid(format!(
                                "a refund of {r} yen is more than the {captured} yen captured"
                            )));
                        }
                        r
                    }
                };
                self.act(ctx, transaction, Plan::Refund { captured, refund })
            }
            Operation::ChangeAmount {
                transaction,
                authorized,
                new_amount,
                ..
            } => {
                let from = yen(*authorized)?;
                let to = yen(*new_amount)?;
                if from == to {
                    return Err(GatewayError::invalid(format!(
                        "the authorization is already {to} yen: nothing to change"
                    )));
                }
                self.act(ctx, transaction, Plan::Change { from, to })
            }
            Operation::Inquire { transaction, .. } => {
                let order_id = reference(transaction)?;
                self.search(order_id, false)
            }
            // The id of the attempt sought is the host's: never derive one here, which would
            // look for an id no attempt sent.
            Operation::FindAuthorization { .. } => {
                let Some(id) = ctx.gateway_order_id else {
                    return Err(GatewayError::invalid(
                        "looking for an authorization needs the host-issued order id",
                    ));
                };
                if !protocol::order_id(id) {
                    return Err(GatewayError::invalid(format!(
                        "order id {id:?} is not GMO-PG's: 1-27 letters, digits or '-'"
                    )));
                }
                self.search(id.to_owned(), true)
            }
        }
    }

    fn interpret(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        let pending: Pending = decode_state(state)?;
        if pending.operation() != op.kind() {
            return Err(GatewayError::new(
                ErrorKind::Internal,
                format!(
                    "continuation for {} handed to a {} operation",
                    pending.operation(),
                    op.kind()
                ),
            ));
        }
        let api = pending.api();
        let kv = match protocol::read(api, reply.status, &reply.body) {
            Ok(Read::Answer(kv)) => kv,
            Ok(Read::Errors(codes)) => return self.refused(op, ctx, pending, &codes),
            Err(e) => return Err(self.unread(pending, e)),
        };
        self.answered(op, ctx, pending, &kv)
            .map_err(|e| match e.kind {
                // A reply of the right shape whose values are not: may have been processed.
                ErrorKind::Protocol => GatewayError::protocol(format!(
                    "{} reply not understood ({}); it may have been processed",
                    api.file(),
                    e.message
                )),
                _ => e,
            })
    }

    fn journal_reply(&self, _op: &Operation, _state: &[u8], reply: &HttpResponse) -> ReplyCopy {
        match protocol::redact_reply(&reply.body) {
            Some(body) => ReplyCopy::Redacted(body.into()),
            None => ReplyCopy::AsReceived,
        }
    }
}

impl Gmopg {
    /// A form with the shop's credentials (§2.5): `ShopPass` secret, so the journal copy holds
    /// the placeholder.
    fn shop_form(&self) -> FormBody {
        FormBody::new(protocol::CHARSET)
            .field("ShopID", self.shop_id.as_str())
            .secret("ShopPass", &self.shop_pass)
    }

    /// The request awaiting `pending`'s reply.
    fn send(&self, form: FormBody, pending: &Pending) -> Result<Step, GatewayError> {
        let encoded = form.encode()?;
        let url = format!("{}{}", self.base, pending.api().file());
        let request = HttpRequest::new(Method::Post, url)
            // No charset parameter: the charset is GMO-PG's fixed Windows-31J (§2.2).
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(encoded.body.into_bytes());
        let step = Step::send(pending.step(), request, Some(encoded.journal), pending)?;
        Ok(match pending.api() {
            Api::SearchTrade => step.read_only(),
            _ => step,
        })
    }

    fn search(&self, order_id: String, find: bool) -> Result<Step, GatewayError> {
        let form = self.shop_form().field("OrderID", order_id.as_str());
        self.send(form, &Pending::Search { order_id, find })
    }

    /// The first step of an operation on an existing transaction: at once when the host's
    /// handle and dates suffice, else a `SearchTrade` that answers them.
    fn act(
        &self,
        ctx: &Context<'_>,
        transaction: &TransactionRef,
        plan: Plan,
    ) -> Result<Step, GatewayError> {
        let order_id = reference(transaction)?;
        let access = ctx.handle.and_then(|h| {
            let id = h.get(ACCESS_ID)?;
            let pass = h.get_secret(ACCESS_PASS)?;
            Some(Access { id, pass })
        });
        let day = plan_day(ctx, plan);
        match access {
            Some(access) if day.is_some() || !needs_day(plan) => {
                self.first(ctx, &order_id, plan, &access, day)
            }
            _ => {
                let form = self.shop_form().field("OrderID", order_id.as_str());
                self.send(form, &Pending::Lookup { order_id, plan })
            }
        }
    }

    /// The first request of `plan` on the transaction `order_id`, `day` being the date (JST)
    /// that decides a cancel (§7.1).
    fn first(
        &self,
        ctx: &Context<'_>,
        order_id: &str,
        plan: Plan,
        access: &Access<'_>,
        day: Option<(i64, u32, u32)>,
    ) -> Result<Step, GatewayError> {
        let order_id = order_id.to_owned();
        match plan {
            Plan::Capture { authorized, amount } if amount == authorized => self.sales(
                access,
                Pending::Sales {
                    order_id,
                    amount,
                    changed_from: None,
                },
            ),
            Plan::Capture { authorized, amount } => self.change(
                access,
                "AUTH",
                amount,
                Pending::ChangeAuth {
                    order_id,
                    from: authorized,
                    to: amount,
                    then_capture: true,
                },
            ),
            Plan::Change { from, to } => self.change(
                access,
                "AUTH",
                to,
                Pending::ChangeAuth {
                    order_id,
                    from,
                    to,
                    then_capture: false,
                },
            ),
            Plan::Refund { captured, refund } if refund < captured => self.change(
                access,
                "CAPTURE",
                captured - refund,
                Pending::ChangeDown {
                    order_id,
                    captured,
                    refund,
                },
            ),
            Plan::Void { authorized: amount }
            | Plan::Refund {
                captured: amount, ..
            } => {
                let day = day.ok_or_else(|| {
                    GatewayError::new(ErrorKind::Internal, "a cancel without the date it needs")
                })?;
                let (y, m, d, ..) = ctx.now.jst_fields();
                let cancel = Cancel::on((y, m, d), day);
                let form = self.access_form(access).field("JobCd", cancel.job());
                self.send(
                    form,
                    &Pending::Cancel {
                        order_id,
                        cancel,
                        of_sale: matches!(plan, Plan::Refund { .. }),
                        amount,
                    },
                )
            }
        }
    }

    /// `ShopID`, `ShopPass`, `AccessID`, `AccessPass`: the fields of every call on an existing
    /// transaction (§4.3, §4.4).
    fn access_form(&self, access: &Access<'_>) -> FormBody {
        self.shop_form()
            .field("AccessID", access.id)
            .secret("AccessPass", access.pass)
    }

    fn sales(&self, access: &Access<'_>, pending: Pending) -> Result<Step, GatewayError> {
        let Pending::Sales { amount, .. } = &pending else {
            return Err(GatewayError::new(ErrorKind::Internal, "not a sales step"));
        };
        // SALES carries the authorized amount, which GMO-PG checks (§4.3).
        let form = self
            .access_form(access)
            .field("JobCd", status::SALES)
            .field("Amount", amount.to_string());
        self.send(form, &pending)
    }

    fn change(
        &self,
        access: &Access<'_>,
        job: &str,
        amount: i64,
        pending: Pending,
    ) -> Result<Step, GatewayError> {
        let form = self
            .access_form(access)
            .field("JobCd", job)
            .field("Amount", amount.to_string());
        self.send(form, &pending)
    }

    /// `ExecTran` with the card (§4.2): `Method=1` (one payment), the token or card data as
    /// secret fields.
    fn exec(
        &self,
        op: &Operation,
        order_id: String,
        amount: i64,
        access: &Access<'_>,
    ) -> Result<Step, GatewayError> {
        let Operation::Authorize { source, .. } = op else {
            return Err(GatewayError::new(
                ErrorKind::Internal,
                "ExecTran outside an authorization",
            ));
        };
        let form = FormBody::new(protocol::CHARSET)
            .field("AccessID", access.id)
            .secret("AccessPass", access.pass)
            .field("OrderID", order_id.as_str())
            .field("Method", "1");
        let form = card_fields(form, source)?;
        self.send(
            form,
            &Pending::Exec {
                order_id,
                amount,
                access_id: access.id.to_owned(),
            },
        )
    }

    /// A reply that carried `ErrCode`/`ErrInfo` (§5.1).
    fn refused(
        &self,
        op: &Operation,
        _ctx: &Context<'_>,
        pending: Pending,
        codes: &[String],
    ) -> Result<Step, GatewayError> {
        let only = |code: &str| codes.len() == 1 && codes[0] == code;
        match pending {
            // The order id is this attempt's (the host issues one per attempt): an earlier run
            // of the same attempt registered it, and may have executed it. Look, never guess.
            Pending::Entry { order_id, amount } if only(errors::ORDER_ID_USED) => {
                let form = self.shop_form().field("OrderID", order_id.as_str());
                self.send(form, &Pending::Registered { order_id, amount })
            }
            // Executed already (§4.2): by an earlier ExecTran of this attempt. Read what it did.
            Pending::Exec {
                order_id,
                amount,
                access_id,
            } if only(errors::ALREADY_EXECUTED) => {
                let form = self.shop_form().field("OrderID", order_id.as_str());
                self.send(
                    form,
                    &Pending::Confirm {
                        order_id,
                        amount,
                        access_id,
                    },
                )
            }
            // No transaction under the attempt's order id: this attempt authorized nothing.
            Pending::Search { find: true, .. } if only(errors::NO_SUCH_TRADE) => Ok(Step::Done(
                Outcome::new(PaymentState::AwaitingAuthorization),
            )),
            Pending::Sales {
                order_id,
                amount,
                changed_from: Some(from),
            } => {
                let e = errors::refused(&ERRORS, codes, "GMO-PG refused the capture (SALES)");
                // The authorization stands at the new amount (§7.2): say so.
                Err(e.changed_before(changed_to(&order_id, from, amount, None)))
            }
            pending => {
                let what = format!("GMO-PG refused {} ({})", op.kind(), pending.api().file());
                Err(errors::refused(&ERRORS, codes, &what))
            }
        }
    }

    /// A reply that could not be read: the request may have been processed.
    fn unread(&self, pending: Pending, e: GatewayError) -> GatewayError {
        let e = GatewayError::protocol(e.message);
        match pending {
            // The ChangeTran before it did change the authorization; the SALES is unknown.
            Pending::Sales {
                order_id,
                amount,
                changed_from: Some(from),
            } => {
                let left = Outcome::new(PaymentState::Authorized)
                    .gateway_status(status::AUTH)
                    .transaction(TransactionRef::new(order_id))
                    .authorized(Money::jpy(amount))
                    .note(format!(
                        "authorized amount changed from {from} to {amount} yen (ChangeTran) \
                         before the SALES whose reply was not understood"
                    ));
                e.changed_before(left)
            }
            _ => e,
        }
    }

    /// A reply that answered the request.
    fn answered(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        pending: Pending,
        kv: &Kv,
    ) -> Result<Step, GatewayError> {
        match pending {
            Pending::Entry { order_id, amount } => {
                let entry = Entry::read(kv)?;
                let access = Access {
                    id: &entry.access_id,
                    pass: &entry.access_pass,
                };
                self.exec(op, order_id, amount, &access)
            }
            Pending::Exec {
                order_id,
                amount,
                access_id,
            } => {
                let exec = Exec::read(kv)?;
                if exec.order_id != order_id {
                    return Err(GatewayError::protocol(format!(
                        "ExecTran of order id {order_id} answered for {}",
                        exec.order_id
                    )));
                }
                tracing::debug!(order_id = %order_id, tran_id = %exec.tran_id, approve = %exec.approve,
                    "GMO-PG executed the authorization");
                // The AccessPass for the handle comes from SearchTrade (ExecTran's reply has
                // none), which also confirms the status and the amount.
                let form = self.shop_form().field("OrderID", order_id.as_str());
                self.send(
                    form,
                    &Pending::Confirm {
                        order_id,
                        amount,
                        access_id,
                    },
                )
            }
            Pending::Registered { order_id, amount } => {
                let trade = self.trade(kv, &order_id)?;
                match trade.status.as_str() {
                    status::UNPROCESSED => {
                        let access = Access {
                            id: &trade.access_id,
                            pass: &trade.access_pass,
                        };
                        self.exec(op, order_id, amount, &access)
                    }
                    status::AUTH => self.authorized(trade, amount).map(Step::Done),
                    other => Err(GatewayError::protocol(format!(
                        "order id {order_id} was already registered, and GMO-PG shows it as \
                         {other}: not an authorization this attempt can report"
                    ))),
                }
            }
            Pending::Confirm {
                order_id,
                amount,
                access_id,
            } => {
                let trade = self.trade(kv, &order_id)?;
                if trade.access_id != access_id {
                    return Err(GatewayError::protocol(format!(
                        "SearchTrade of order id {order_id} answered another AccessID than \
                         EntryTran gave"
                    )));
                }
                self.authorized(trade, amount).map(Step::Done)
            }
            Pending::Lookup { order_id, plan } => {
                let trade = self.trade(kv, &order_id)?;
                let access = Access {
                    id: &trade.access_id,
                    pass: &trade.access_pass,
                };
                let day = plan_day(ctx, plan).or(Some(trade.process_day()));
                self.first(ctx, &order_id, plan, &access, day)
            }
            Pending::Sales {
                order_id,
                amount,
                changed_from,
            } => {
                let altered = Altered::read(kv)?;
                let mut outcome = Outcome::new(PaymentState::Captured {
                    settlement: Settlement::NotReported,
                })
                .gateway_status(status::SALES)
                .transaction(TransactionRef::new(order_id))
                .handle(handle(&altered.access_id, &altered.access_pass))
                .authorized(Money::jpy(amount))
                .captured(Money::jpy(amount))
                .note(format!("GMO-PG TranID {}", altered.tran_id));
                if let Some(code) = altered.approve {
                    outcome = outcome.authorization_code(code);
                }
                if let Some(from) = changed_from {
                    outcome = outcome.note(format!(
                        "authorized amount changed from {from} to {amount} yen (ChangeTran) \
                         before the capture (§7.2)"
                    ));
                }
                Ok(Step::Done(outcome))
            }
            Pending::ChangeAuth {
                order_id,
                from,
                to,
                then_capture,
            } => {
                let altered = Altered::read(kv)?;
                if then_capture {
                    let access = Access {
                        id: &altered.access_id,
                        pass: &altered.access_pass,
                    };
                    return self.sales(
                        &access,
                        Pending::Sales {
                            order_id,
                            amount: to,
                            changed_from: Some(from),
                        },
                    );
                }
                Ok(Step::Done(changed_to(
                    &order_id,
                    from,
                    to,
                    Some((&altered.access_id, &altered.access_pass, altered.approve)),
                )))
            }
            Pending::Cancel {
                order_id,
                cancel,
                of_sale,
                amount,
            } => {
                let altered = Altered::read(kv)?;
                let state = if of_sale {
                    PaymentState::Refunded {
                        extent: RefundExtent::Full,
                        settlement: Settlement::NotReported,
                    }
                } else {
                    PaymentState::Voided
                };
                let mut outcome = Outcome::new(state)
                    .gateway_status(cancel.status(of_sale))
                    .transaction(TransactionRef::new(order_id))
                    .handle(handle(&altered.access_id, &altered.access_pass))
                    .note(format!(
                        "GMO-PG {} TranID {}",
                        cancel.job(),
                        altered.tran_id
                    ));
                if of_sale {
                    outcome = outcome.refunded(Money::jpy(amount));
                }
                Ok(Step::Done(outcome))
            }
            Pending::ChangeDown {
                order_id,
                captured,
                refund,
            } => {
                let altered = Altered::read(kv)?;
                let stays = captured - refund;
                Ok(Step::Done(
                    Outcome::new(PaymentState::Refunded {
                        extent: RefundExtent::Partial,
                        settlement: Settlement::NotReported,
                    })
                    // The sale stays, at the smaller amount (§7.3).
                    .gateway_status(status::SALES)
                    .transaction(TransactionRef::new(order_id))
                    .handle(handle(&altered.access_id, &altered.access_pass))
                    .captured(Money::jpy(stays))
                    .refunded(Money::jpy(refund))
                    .note(format!(
                        "sale changed from {captured} to {stays} yen (ChangeTran CAPTURE, §7.3)"
                    )),
                ))
            }
            Pending::Search { order_id, .. } => {
                let trade = self.trade(kv, &order_id)?;
                Ok(Step::Done(self.inquired(ctx, trade)))
            }
        }
    }

    /// A `SearchTrade` reply about `order_id`.
    fn trade(&self, kv: &Kv, order_id: &str) -> Result<Trade, GatewayError> {
        let trade = Trade::read(kv)?;
        if trade.order_id != order_id {
            return Err(GatewayError::protocol(format!(
                "SearchTrade of order id {order_id} answered for {}",
                trade.order_id
            )));
        }
        Ok(trade)
    }

    /// The authorization `trade` shows, which must be `AUTH` at `amount`.
    fn authorized(&self, trade: Trade, amount: i64) -> Result<Outcome, GatewayError> {
        if trade.status != status::AUTH {
            return Err(GatewayError::protocol(format!(
                "after ExecTran, GMO-PG shows order id {} as {}, not AUTH",
                trade.order_id, trade.status
            )));
        }
        if trade.amount != Some(amount) {
            return Err(GatewayError::protocol(format!(
                "GMO-PG shows order id {} authorized at {:?} yen, not the {amount} asked",
                trade.order_id, trade.amount
            )));
        }
        let mut outcome = Outcome::new(PaymentState::Authorized)
            .gateway_status(status::AUTH)
            .transaction(TransactionRef::new(trade.order_id))
            .handle(handle(&trade.access_id, &trade.access_pass))
            .authorized(Money::jpy(amount));
        if let Some(code) = trade.approve {
            outcome = outcome.authorization_code(code);
        }
        if let Some(tran) = trade.tran_id {
            outcome = outcome.note(format!("GMO-PG TranID {tran}"));
        }
        Ok(outcome)
    }

    /// What an inquiry found: the status through the table (a cancel of a payment the host
    /// saw captured read as a cancel of a sale, `status.rs`), amounts where the status says
    /// what they are.
    fn inquired(&self, ctx: &Context<'_>, trade: Trade) -> Outcome {
        let code = status::reported(&trade.status, ctx.dates.captured_at.is_some());
        let state = state_by_code(&STATUSES, &code);
        let mut outcome = Outcome::new(state.clone())
            .gateway_status(code)
            .transaction(TransactionRef::new(trade.order_id.clone()))
            .handle(handle(&trade.access_id, &trade.access_pass));
        if let Some(amount) = trade.amount.map(Money::jpy) {
            outcome = match state {
                PaymentState::Authorized => outcome.authorized(amount),
                PaymentState::Captured { .. } => outcome.authorized(amount).captured(amount),
                _ => outcome,
            };
        }
        if let Some(code) = trade.approve {
            outcome = outcome.authorization_code(code);
        }
        if let Some(entry) = renkei_sdk::status_entry(&STATUSES, &trade.status) {
            outcome = outcome.note(format!("GMO-PG status {} {}", entry.code, entry.label));
        }
        outcome
    }
}

/// What a `ChangeTran` `AUTH` to `to` left: the authorization at the new amount, same
/// reference (§4.4). With the reply's access (an amount change), the handle too.
fn changed_to(
    order_id: &str,
    from: i64,
    to: i64,
    reply: Option<(&str, &Secret, Option<String>)>,
) -> Outcome {
    let mut outcome = Outcome::new(PaymentState::Authorized)
        .gateway_status(status::AUTH)
        .transaction(TransactionRef::new(order_id))
        .authorized(Money::jpy(to))
        .note(format!(
            "authorized amount changed from {from} to {to} yen (ChangeTran AUTH)"
        ));
    if let Some((id, pass, approve)) = reply {
        outcome = outcome.handle(handle(id, pass));
        if let Some(code) = approve {
            outcome = outcome.authorization_code(code);
        }
    }
    outcome
}

fn handle(access_id: &str, access_pass: &Secret) -> Handle {
    Handle::new()
        .public(ACCESS_ID, access_id)
        .secret(ACCESS_PASS, access_pass.clone())
}

/// Whether `plan` chooses among the cancels of §7.1, which needs the transaction's date.
fn needs_day(plan: Plan) -> bool {
    match plan {
        Plan::Void { .. } => true,
        Plan::Refund { captured, refund } => refund == captured,
        Plan::Capture { .. } | Plan::Change { .. } => false,
    }
}

/// The date (JST) the host saw the transaction made that decides a cancel (§7.1, §10.4): the
/// authorization's for a void, the capture's for a refund. A refund of a sale the host did not
/// see captured (captured in GMO-PG's own tool) has none: `SearchTrade`'s date decides then.
fn plan_day(ctx: &Context<'_>, plan: Plan) -> Option<(i64, u32, u32)> {
    let at = match plan {
        Plan::Void { .. } => ctx.dates.authorized_at,
        Plan::Refund { .. } => ctx.dates.captured_at,
        Plan::Capture { .. } | Plan::Change { .. } => None,
    }?;
    let (y, m, d, ..) = at.jst_fields();
    Some((y, m, d))
}

/// The host's reference: the transaction's `OrderID`, checked before it goes into a form.
fn reference(t: &TransactionRef) -> Result<String, GatewayError> {
    if protocol::order_id(t.as_str()) {
        Ok(t.as_str().to_owned())
    } else {
        Err(GatewayError::invalid(format!(
            "{:?} is not a GMO-PG order id (1-27 letters, digits or '-')",
            t.as_str()
        )))
    }
}

/// What an authorization can be paid with: a GMO-PG token, or card data (test protocols).
fn check_source(source: &PaymentSource) -> Result<(), GatewayError> {
    match source {
        PaymentSource::Token { token, .. } if token.is_empty() => {
            Err(GatewayError::invalid("the card token is empty"))
        }
        PaymentSource::Token { .. } | PaymentSource::Card(_) => Ok(()),
        PaymentSource::StoredCustomer(_) => Err(GatewayError::unsupported(
            "paying with a GMO-PG member's stored card",
        )),
        PaymentSource::PreviousTransaction(_) => Err(GatewayError::unsupported(
            "paying with an earlier GMO-PG transaction's card",
        )),
    }
}

/// The card fields of `ExecTran` (§4.2): `Token`, or `CardNo` + `Expire` (`YYMM`) [+
/// `SecurityCode`], all secret. Errors never quote a value.
fn card_fields(form: FormBody, source: &PaymentSource) -> Result<FormBody, GatewayError> {
    match source {
        PaymentSource::Token { token, .. } => Ok(form.secret("Token", token)),
        PaymentSource::Card(card) => card_data(form, card),
        _ => check_source(source).map(|()| form),
    }
}

fn card_data(form: FormBody, card: &CardData) -> Result<FormBody, GatewayError> {
    let number = card.number.expose();
    if !(10..=16).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GatewayError::invalid(
            "the card number must be 10 to 16 digits",
        ));
    }
    let expiry = card.expiry.expose();
    let month_ok = expiry.len() == 6
        && expiry.bytes().all(|b| b.is_ascii_digit())
        && expiry[4..]
            .parse::<u8>()
            .is_ok_and(|m| (1..=12).contains(&m));
    if !month_ok {
        return Err(GatewayError::invalid("the card expiry must be YYYYMM"));
    }
    let mut form = form
        .secret("CardNo", &card.number)
        .secret("Expire", &Secret::new(&expiry[2..6]));
    if let Some(code) = &card.security_code {
        let c = code.expose();
        if !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GatewayError::invalid(
                "the security code must be 3 or 4 digits",
            ));
        }
        form = form.secret("SecurityCode", code);
    }
    Ok(form)
}

renkei_sdk::export_gateway!(Gmopg);

#[cfg(test)]
mod tests;
