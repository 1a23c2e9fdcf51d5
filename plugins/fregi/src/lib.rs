//! # F-REGI (エフレジ): the Renkei plugin for F-REGI's card CGI protocol
//!
//! A pure translator (sans-IO) between Renkei operations and F-REGI's server-to-server card API:
//! one CGI script per operation under a base URL, form-encoded POSTs carrying the shop's
//! `SHOPID`, EUC-JP replies of one value per line. Wire facts: `docs/protocols/fregi.md`;
//! business rules: `docs/rules.md` (G-*, F-*). Same shape as every plugin:
//!
//! - `manifest.rs`: the manifest and the config (keys, parsing, validation, amount limits);
//! - `protocol.rs`: form encoding and strict reply parsing (no SDK types; fuzzed);
//! - `status.rs`: the ten statuses of F-11, as data, by name, and the inquiry's reading;
//! - `errors.rs`: `NG` reasons to SDK error kinds, as data, and the classification of an `NG`;
//! - `lib.rs` (this file): the `Gateway` impl, `prepare` and `interpret`;
//! - `tests.rs`: the unit tests, from recorded bytes.
//!
//! ## What each operation sends
//!
//! | operation | steps |
//! | --- | --- |
//! | authorize | `authm.cgi` (`TOKEN`, or `PAN1`–`4` + expiry + `CARDNAME` [+ `SCODE`] for test cards, or `CUSTOMERID` alone for a stored card; `ID` = the order code) |
//! | capture at the authorized amount (F-1) | `sale.cgi` |
//! | capture at another amount (F-2) | `authchange.cgi` (new `SEQNO` and `AUTHCODE` replace the old), then `sale.cgi` on the new `SEQNO` |
//! | void (F-6, before sale) | `authcancel.cgi` |
//! | refund, full (F-6, after sale) | `salecancel.cgi` |
//! | refund, partial | `salechange.cgi` with the amount that stays captured |
//! | change amount (before sale) | `authchange.cgi`; normally deferred to capture (F-4) |
//! | inquire | the emulator's `/__emulator__/info` only (F-REGI has no public inquiry); offered only by an instance configured with `inquiry_url` (the key `enables` it) |
//!
//! ## Wire decisions and their sources
//!
//! S-numbers are the sources of `docs/protocols/fregi.md` §1 (S2 the authm spec
//! transcription, S4 a Laravel app run against F-REGI's test environment, S5 a production shop
//! backend, S6 a membership site).
//!
//! | decision | evidence |
//! | --- | --- |
//! | The host's reference is `SEQNO-AUTHCODE` (`protocol::Reference`); `authchange`/`salechange` replies replace both halves and the reference follows | authm OK is AUTHCODE then SEQNO, authchange/salechange OK is new SEQNO then new AUTHCODE (S2 §1.6, §4.1, §4.2; S5 adapter) |
//! | `sale.cgi` sends `SHOPID`, `AUTHCODE`, `SEQNO` on every sale | every production client sends all three (S5, S6); S2 lists only SHOPID and SEQNO, so AUTHCODE is at worst ignored |
//! | A legacy reference (bare `SEQNO`, written before the AUTHCODE was kept) still works and its sale goes **without** `AUTHCODE`; the Renkei emulator, which requires it, refuses such a sale (`S1-1-111`, a stand-in) | nothing to send; F-REGI's own rule is unknown (S2 does not list AUTHCODE) |
//! | `authm.cgi` sends `CHARCODE=utf8` always (the body is UTF-8, and ASCII only in practice) | S5 and S6 send `CHARCODE=utf8`, S4 `euc`; without it F-REGI guesses (S1 p.8, S2 §1.2) |
//! | `IP` and `MONTHLY` (`0`/`1`) on authm when the shop's config gives `ip` / `monthly` | the layout F-REGI is known to have answered OK sends both (S4); S5 sends IP, S6 MONTHLY |
//! | `FREE` only half-width: full-width ASCII U+FF01–U+FF5E folds to U+0021–U+007E, U+3000 and ASCII white space to a space; kanji, kana and half-width katakana are refused (`InvalidRequest` naming FREE) before anything is built; then clipped to 255 bytes | the spec allows half-width characters only (S2 §1.2); no production client sends FREE at all (S4, S5, S6), so nothing shows F-REGI accepting half-width kana either |
//! | A stored-card authorization (`CUSTOMERID` without card data) sends `SKIPSCODE=1` | S5 sends it on every stored-card authm (the security code is not stored); meaning inferred from that use (`docs/protocols/fregi.md` §4.1, [C1]) |
//! | A reply counts only when framed completely: final line end, one line-end style (LF or CRLF) throughout, every line its script's reply must have; otherwise `Protocol` (may have applied, resolved by the host, never success or refusal) | the terminator is not public (`docs/protocols/fregi.md` §9.5) and clients split on LF and trim (S5, S6), which would read half of `OK\r\n` as `OK` |
//!
//! ## Amounts
//!
//! F-REGI takes 2 to 9,999,999 yen by card. 1 yen is refused before anything is built (F-7).
//! 0 yen means "no payment needed" (F-8): there is no 0-yen sale or authorization at F-REGI, the
//! shop switches the order to 決済不要 and the host **voids** the authorization (G-11). A capture,
//! authorization or amount change of 0 yen is therefore refused here with an `InvalidRequest`
//! that says to void instead; the plugin never turns a capture into a void on its own, because
//! only the host knows that the operator ticked "cancel the F-REGI transaction".
//!
//! ## Amount changes
//!
//! Before sale, the host records the shop's amount edits and hands the final amount to capture
//! (F-4, manifest `AmountChange::DeferredToCapture`); capture then re-authorizes first (F-2). A
//! direct `ChangeAmount` sends `authchange.cgi` at once. After sale, F-REGI's linkage never changes
//! an amount (F-9, G-7): the host, which knows the payment is captured, reports "not linked"
//! without asking the plugin. The plugin cannot tell a captured payment from its inputs; if a
//! `ChangeAmount` reaches F-REGI for a sold transaction anyway, F-REGI refuses it (`A3-1-121`)
//! and the error says the change is not linked. The one post-sale change offered is an explicit
//! partial refund (`salechange.cgi` to the reduced amount); increases after sale are not.
//!
//! ## Replay safety
//!
//! F-REGI has no idempotency key, so an operation is declared replay-safe only where a replay's
//! "already done" answer proves the first attempt went through: **void** alone. A lone
//! `sale.cgi` would qualify (a replay answering 売上受付済み proves the sale), but the manifest
//! declares per operation kind, and a capture at a changed amount starts with `authchange.cgi`,
//! whose replay would hit the SEQNO the first attempt replaced. So capture, refund (partial
//! refunds are `salechange`), amount change and authorization are not declared, and the host
//! resolves their unknown outcomes by inquiry (emulator) or an operator, never by a blind replay.
//!
//! ## Multi-step failures
//!
//! When `authchange` succeeded and the following `sale` fails, the new authorization exists at
//! F-REGI although the operation failed; the error names its SEQNO so that the host or the
//! operator can capture or void it, and reports it as what the earlier step left
//! (`GatewayError::changed_before`: authorized at the new amount, the new reference replacing the
//! old). A host that reads it books the new authorization when the sale was refused cleanly
//! and fails the capture (the shop can capture again, F-3); when the sale's own outcome is
//! unknown it stays unknown, for an operator.

mod errors;
mod manifest;
mod protocol;
mod status;

use manifest::{MIN_AMOUNT, check_payable, payable, yen};
use protocol::{Approved, Form, Reference, Reply, Script};
use renkei_sdk::{
    CardData, Config, ConfigError, Context, ErrorEntry, ErrorKind, Gateway, GatewayError,
    HttpRequest, HttpResponse, Manifest, Method, Money, Operation, OperationKind, Outcome,
    PaymentSource, PaymentState, RefundExtent, Settlement, StatusEntry, Step, TransactionRef,
    decode_state,
};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "fregi";
/// `FREE` holds at most 255 bytes (`docs/protocols/fregi.md` §4.1). It goes out half-width only (one byte per
/// character in every charset), so clipping to 255 bytes always fits.
const FREE_MAX_BYTES: usize = 255;
/// `CARDNAME`: ASCII, at most 45 characters (`docs/protocols/fregi.md` §4.1).
const CARDNAME_MAX: usize = 45;

/// The status and error tables, built once: exported in the manifest, used to read replies.
static STATUSES: LazyLock<Vec<StatusEntry>> = LazyLock::new(status::table);
static ERRORS: LazyLock<Vec<ErrorEntry>> = LazyLock::new(errors::table);

/// A configured F-REGI shop.
///
/// F-REGI authenticates server calls by `SHOPID` plus the caller's registered IP address: no
/// password, signature or checksum travels (`docs/protocols/fregi.md` §2), so this plugin holds no secret. The
/// shop's 接続パスワード only signs browser redirects, which this plugin does not build.
pub struct Fregi {
    /// Base URL ending in `/`; scripts are appended.
    base: String,
    shop_id: String,
    /// The emulator's inquiry endpoint; `None` against F-REGI itself.
    inquiry_url: Option<String>,
    /// Send `QUIET=1`: F-REGI sends no processing e-mail.
    quiet: bool,
    /// `IP` on every authm, when the shop configures it.
    ip: Option<String>,
    /// `MONTHLY` (`0` or `1`) on every authm, when the shop configures it.
    monthly: Option<&'static str>,
}

/// The continuation: which script's reply is awaited, and what the next step or the outcome
/// needs from before. Journaled by the host between steps.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "awaiting", rename_all = "snake_case")]
enum Pending {
    Authm {
        amount: i64,
    },
    /// First step of a capture at a changed amount (F-2).
    CaptureAuthchange {
        seqno: String,
        authorized: i64,
        amount: i64,
        /// The reference's `AUTHCODE` (`None`: a legacy reference). Every `authcode` below is
        /// `serde(default)` so that a continuation journaled before it existed still decodes.
        #[serde(default)]
        authcode: Option<String>,
    },
    /// The sale of a capture; `changed` when `authchange` ran first.
    Sale {
        seqno: String,
        amount: i64,
        changed: Option<Changed>,
        #[serde(default)]
        authcode: Option<String>,
    },
    Authcancel {
        seqno: String,
        #[serde(default)]
        authcode: Option<String>,
    },
    Salecancel {
        seqno: String,
        captured: i64,
        #[serde(default)]
        authcode: Option<String>,
    },
    Salechange {
        seqno: String,
        captured: i64,
        refund: i64,
        #[serde(default)]
        authcode: Option<String>,
    },
    Authchange {
        seqno: String,
        from: i64,
        to: i64,
        #[serde(default)]
        authcode: Option<String>,
    },
    Info {
        seqno: String,
        #[serde(default)]
        authcode: Option<String>,
    },
}

/// What the first step of a changed-amount capture replaced.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Changed {
    old_seqno: String,
    old_amount: i64,
    #[serde(default)]
    old_authcode: Option<String>,
}

impl Changed {
    fn reference(&self) -> TransactionRef {
        tref(&self.old_seqno, self.old_authcode.as_deref())
    }
}

impl Pending {
    fn script(&self) -> Script {
        match self {
            Pending::Authm { .. } => Script::Authm,
            Pending::CaptureAuthchange { .. } | Pending::Authchange { .. } => Script::AuthChange,
            Pending::Sale { .. } => Script::Sale,
            Pending::Authcancel { .. } => Script::AuthCancel,
            Pending::Salecancel { .. } => Script::SaleCancel,
            Pending::Salechange { .. } => Script::SaleChange,
            Pending::Info { .. } => Script::Info,
        }
    }

    fn operation(&self) -> OperationKind {
        match self {
            Pending::Authm { .. } => OperationKind::Authorize,
            Pending::CaptureAuthchange { .. } | Pending::Sale { .. } => OperationKind::Capture,
            Pending::Authcancel { .. } => OperationKind::Void,
            Pending::Salecancel { .. } | Pending::Salechange { .. } => OperationKind::Refund,
            Pending::Authchange { .. } => OperationKind::ChangeAmount,
            Pending::Info { .. } => OperationKind::Inquire,
        }
    }
}

impl Gateway for Fregi {
    fn manifest() -> Manifest {
        manifest::manifest()
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        manifest::from_config(config)
    }

    fn prepare(&self, op: &Operation, _ctx: &Context<'_>) -> Result<Step, GatewayError> {
        tracing::debug!(operation = %op.kind(), order = %op.order(), "building F-REGI request");
        match op {
            Operation::Authorize {
                order,
                amount,
                source,
                description,
                ..
            } => {
                let pay = payable(*amount, "nothing to authorize")?;
                if !protocol::is_reference(order.as_str()) {
                    return Err(GatewayError::invalid(format!(
                        "order code {order:?} cannot be F-REGI's ID (伝票番号): 1-20 characters of \
                         A-Z, a-z, 0-9 or '-'"
                    )));
                }
                // FREE first: a description that cannot go out half-width is refused before
                // anything is built.
                let free = match description.as_deref().filter(|d| !d.is_empty()) {
                    None => None,
                    Some(text) => Some(
                        protocol::half_width(text)
                            .map_err(|e| GatewayError::invalid(e.to_string()))?,
                    ),
                };
                // CHARCODE always: it names the encoding the body is written in (S4, S5, S6
                // send it on every authm).
                let mut form = self
                    .form()
                    .charcode()
                    .field("PAY", pay.to_string())
                    .field("ID", order.as_str());
                if let Some(ip) = &self.ip {
                    form = form.field("IP", ip.as_str());
                }
                if let Some(monthly) = self.monthly {
                    form = form.field("MONTHLY", monthly);
                }
                form = match source {
                    PaymentSource::Token { token, .. } => {
                        if token.is_empty() {
                            return Err(GatewayError::invalid("the card token is empty"));
                        }
                        form.secret("TOKEN", token.expose())
                    }
                    PaymentSource::Card(card) => card_fields(form, card)?,
                    PaymentSource::StoredCustomer(customer) => {
                        if !protocol::is_reference(customer.as_str()) {
                            return Err(GatewayError::invalid(format!(
                                "customer {customer:?} cannot be F-REGI's CUSTOMERID: 1-20 \
                                 characters of A-Z, a-z, 0-9 or '-'"
                            )));
                        }
                        // The security code is never stored, so production skips its check on
                        // every stored-card authorization (S5).
                        form.field("CUSTOMERID", customer.as_str())
                            .field("SKIPSCODE", protocol::FLAG_ON)
                    }
                    PaymentSource::PreviousTransaction(_) => {
                        return Err(GatewayError::unsupported(
                            "authorizing from an earlier F-REGI transaction",
                        ));
                    }
                };
                if let Some(text) = free.as_deref().filter(|t| !t.trim().is_empty()) {
                    form = form.field("FREE", protocol::clip(text, FREE_MAX_BYTES));
                }
                self.send(Script::Authm, form, &Pending::Authm { amount: pay })
            }
            Operation::Capture {
                transaction,
                authorized,
                amount,
                ..
            } => {
                let reference = reference(transaction)?;
                let authorized = yen(*authorized)?;
                let target = match amount {
                    None => authorized,
                    Some(a) => yen(*a)?,
                };
                check_payable(
                    target,
                    "there is no 0-yen sale: void the authorization instead (G-11, authcancel)",
                )?;
                if target == authorized {
                    self.sale(reference, target, None)
                } else {
                    // F-2: the shop amount is final; change the authorization first.
                    let form = self
                        .form()
                        .field("SEQNO", reference.seqno.as_str())
                        .field("PAY", target.to_string());
                    self.send(
                        Script::AuthChange,
                        form,
                        &Pending::CaptureAuthchange {
                            seqno: reference.seqno,
                            authorized,
                            amount: target,
                            authcode: reference.authcode,
                        },
                    )
                }
            }
            Operation::Void { transaction, .. } => {
                // No amount check: a void moves no money and must stay possible for any
                // authorization, whatever its amount.
                let Reference { seqno, authcode } = reference(transaction)?;
                let form = self.form().field("CANCELSEQNO", seqno.as_str());
                self.send(
                    Script::AuthCancel,
                    form,
                    &Pending::Authcancel { seqno, authcode },
                )
            }
            Operation::Refund {
                transaction,
                captured,
                amount,
                ..
            } => {
                let Reference { seqno, authcode } = reference(transaction)?;
                let captured = yen(*captured)?;
                let refund = match amount {
                    None => captured,
                    Some(a) => yen(*a)?,
                };
                if refund <= 0 {
                    return Err(GatewayError::invalid(format!(
                        "a refund must be positive, not {refund} yen"
                    )));
                }
                if refund > captured {
                    return Err(GatewayError::invalid(format!(
                        "cannot refund {refund} yen of a sale of {captured} yen"
                    )));
                }
                if refund == captured {
                    let form = self.form().field("CANCELSEQNO", seqno.as_str());
                    return self.send(
                        Script::SaleCancel,
                        form,
                        &Pending::Salecancel {
                            seqno,
                            captured,
                            authcode,
                        },
                    );
                }
                // A partial refund replaces the sale by one at the amount that stays captured.
                let keep = captured - refund;
                if keep < MIN_AMOUNT {
                    return Err(GatewayError::invalid(format!(
                        "refunding {refund} of {captured} yen would leave a sale of {keep} yen, \
                         below F-REGI's 2-yen card minimum (F-7): refund the whole sale and bill \
                         the rest another way"
                    )));
                }
                let form = self
                    .form()
                    .field("SEQNO", seqno.as_str())
                    .field("PAY", keep.to_string());
                self.send(
                    Script::SaleChange,
                    form,
                    &Pending::Salechange {
                        seqno,
                        captured,
                        refund,
                        authcode,
                    },
                )
            }
            Operation::ChangeAmount {
                transaction,
                authorized,
                new_amount,
                ..
            } => {
                let Reference { seqno, authcode } = reference(transaction)?;
                let from = yen(*authorized)?;
                let to = payable(
                    *new_amount,
                    "void the authorization instead (G-11, authcancel)",
                )?;
                if to == from {
                    // authchange at the same amount would still rotate the SEQNO (a new
                    // authorization, the old one cancelled) for nothing.
                    return Ok(Step::Done(
                        Outcome::new(PaymentState::Authorized)
                            .transaction(transaction.clone())
                            .authorized(Money::jpy(to))
                            .note("amount unchanged: nothing sent to F-REGI"),
                    ));
                }
                let form = self
                    .form()
                    .field("SEQNO", seqno.as_str())
                    .field("PAY", to.to_string());
                self.send(
                    Script::AuthChange,
                    form,
                    &Pending::Authchange {
                        seqno,
                        from,
                        to,
                        authcode,
                    },
                )
            }
            Operation::Inquire { transaction, .. } => {
                if self.inquiry_url.is_none() {
                    return Err(GatewayError::new(
                        ErrorKind::Unsupported,
                        "F-REGI has no public card-transaction inquiry; only the Renkei emulator \
                         answers one, at the URL configured as `inquiry_url`",
                    ));
                }
                let Reference { seqno, authcode } = reference(transaction)?;
                // No QUIET: the extension is not an F-REGI script.
                let form = Form::new()
                    .field("SHOPID", self.shop_id.as_str())
                    .field("SEQNO", seqno.as_str());
                self.send(Script::Info, form, &Pending::Info { seqno, authcode })
            }
            // The inquiry reads a SEQNO, which a lost authorization never gave.
            Operation::FindAuthorization { .. } => Err(GatewayError::unsupported(
                "looking up an F-REGI authorization by its order id",
            )),
        }
    }

    fn interpret(
        &self,
        op: &Operation,
        _ctx: &Context<'_>,
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
        let script = pending.script();
        let approved = match protocol::parse_reply(script, reply.status, &reply.body) {
            Ok(Reply::Ok(approved)) => approved,
            Ok(Reply::Ng(refusal)) => return Err(errors::refused(&pending, refusal)),
            Err(e) => {
                let mut message = format!(
                    "F-REGI's reply to {} is not a well-formed OK/NG reply: {e}; it may have \
                     taken effect",
                    script.file()
                );
                if let Pending::Sale {
                    seqno,
                    amount,
                    changed: Some(c),
                    authcode,
                } = &pending
                {
                    message.push_str(&format!(
                        " (the authorization had already been changed: SEQNO {} was replaced by \
                         {seqno})",
                        c.old_seqno
                    ));
                    // The sale's own outcome is unknown; the host shows this to the operator.
                    return Err(GatewayError::protocol(message).changed_before(
                        left_by_authchange(seqno, *amount, c, authcode.as_deref()),
                    ));
                }
                return Err(GatewayError::protocol(message));
            }
        };
        match (pending, approved) {
            (
                Pending::Authm { amount },
                Approved::Authorized {
                    authcode, seqno, ..
                },
            ) => Ok(Step::Done(
                Outcome::new(PaymentState::Authorized)
                    .gateway_status(status::AUTHORIZED)
                    // Both halves: sale.cgi needs the AUTHCODE with the SEQNO (S5, S6).
                    .transaction(tref(&seqno, Some(&authcode)))
                    .authorization_code(authcode)
                    .authorized(Money::jpy(amount)),
            )),
            (
                Pending::CaptureAuthchange {
                    seqno: old,
                    authorized,
                    amount,
                    authcode: old_authcode,
                },
                Approved::AuthChanged { seqno, authcode },
            ) => self.sale(
                Reference::new(seqno, Some(authcode)),
                amount,
                Some(Changed {
                    old_seqno: old,
                    old_amount: authorized,
                    old_authcode,
                }),
            ),
            (
                Pending::Sale {
                    seqno,
                    amount,
                    changed,
                    authcode,
                },
                Approved::Sold { seqno: answered },
            ) => {
                same_transaction(Script::Sale, &seqno, &answered)?;
                let mut outcome = Outcome::new(PaymentState::Captured {
                    settlement: Settlement::Pending,
                })
                .gateway_status(status::SOLD_PENDING)
                // The reference as the host knows it (after an authchange: the new one).
                .transaction(tref(&seqno, authcode.as_deref()))
                .captured(Money::jpy(amount));
                if let Some(code) = authcode {
                    outcome = outcome.authorization_code(code);
                }
                if let Some(c) = changed {
                    outcome = outcome
                        .replaced(c.reference())
                        .authorized(Money::jpy(amount))
                        .note(format!(
                            "authorized amount changed from {} to {amount} yen before the sale \
                             (F-2): SEQNO {} replaced by {seqno}",
                            c.old_amount, c.old_seqno
                        ));
                }
                Ok(Step::Done(outcome))
            }
            (Pending::Authcancel { seqno, authcode }, Approved::AuthCancelled) => Ok(Step::Done(
                Outcome::new(PaymentState::Voided)
                    .gateway_status(status::AUTHORIZATION_CANCELLED)
                    .transaction(tref(&seqno, authcode.as_deref())),
            )),
            (
                Pending::Salecancel {
                    seqno,
                    captured,
                    authcode,
                },
                Approved::SaleCancelled { seqno: answered },
            ) => {
                same_transaction(Script::SaleCancel, &seqno, &answered)?;
                Ok(Step::Done(
                    Outcome::new(PaymentState::Refunded {
                        extent: RefundExtent::Full,
                        settlement: Settlement::Pending,
                    })
                    .gateway_status(status::SALE_CANCELLED_PENDING)
                    .transaction(tref(&seqno, authcode.as_deref()))
                    .refunded(Money::jpy(captured)),
                ))
            }
            (
                Pending::Salechange {
                    seqno: old,
                    captured,
                    refund,
                    authcode: old_authcode,
                },
                Approved::SaleChanged { seqno, authcode },
            ) => Ok(Step::Done(
                Outcome::new(PaymentState::Refunded {
                    extent: RefundExtent::Partial,
                    settlement: Settlement::Pending,
                })
                // The rest is a new sale, which F-REGI lists as 売上済（未伝送）; the reference
                // follows it (new SEQNO and AUTHCODE).
                .gateway_status(status::SOLD_PENDING)
                .transaction(tref(&seqno, Some(&authcode)))
                .replaced(tref(&old, old_authcode.as_deref()))
                .authorization_code(authcode)
                .captured(Money::jpy(captured - refund))
                .refunded(Money::jpy(refund))
                .note(format!(
                    "sale of {captured} yen (SEQNO {old}) replaced by a sale of {} yen (SEQNO \
                     {seqno})",
                    captured - refund
                )),
            )),
            (
                Pending::Authchange {
                    seqno: old,
                    from,
                    to,
                    authcode: old_authcode,
                },
                Approved::AuthChanged { seqno, authcode },
            ) => Ok(Step::Done(
                Outcome::new(PaymentState::Authorized)
                    .gateway_status(status::AUTHORIZED)
                    .transaction(tref(&seqno, Some(&authcode)))
                    .replaced(tref(&old, old_authcode.as_deref()))
                    .authorization_code(authcode)
                    .authorized(Money::jpy(to))
                    .note(format!(
                        "authorized amount changed from {from} to {to} yen: SEQNO {old} \
                             replaced by {seqno}"
                    )),
            )),
            (Pending::Info { seqno, authcode }, Approved::Info(info)) => {
                same_transaction(Script::Info, &seqno, &info.seqno)?;
                if let (Some(ours), Some(theirs)) = (&authcode, &info.authcode)
                    && ours != theirs
                {
                    return Err(GatewayError::protocol(format!(
                        "the inquiry of SEQNO {seqno} answered another AUTHCODE than the \
                         reference's"
                    )));
                }
                status::inquiry_outcome(&STATUSES, info, tref(&seqno, authcode.as_deref()))
                    .map(Step::Done)
            }
            (pending, approved) => Err(GatewayError::new(
                ErrorKind::Internal,
                format!("reply {approved:?} does not answer {pending:?}"),
            )),
        }
    }
}

impl Fregi {
    /// A form with the fields every F-REGI script takes.
    fn form(&self) -> Form {
        let form = Form::new().field("SHOPID", self.shop_id.as_str());
        if self.quiet {
            form.field("QUIET", protocol::FLAG_ON)
        } else {
            form
        }
    }

    /// `sale.cgi` on a reference: `SHOPID`, `AUTHCODE` and `SEQNO`, as every production client
    /// sends it (S5, S6). A legacy reference (bare SEQNO) has no AUTHCODE to
    /// send, and goes without.
    fn sale(
        &self,
        reference: Reference,
        amount: i64,
        changed: Option<Changed>,
    ) -> Result<Step, GatewayError> {
        let mut form = self.form();
        if let Some(code) = &reference.authcode {
            form = form.field("AUTHCODE", code.as_str());
        }
        let form = form.field("SEQNO", reference.seqno.as_str());
        self.send(
            Script::Sale,
            form,
            &Pending::Sale {
                seqno: reference.seqno,
                amount,
                changed,
                authcode: reference.authcode,
            },
        )
    }

    fn send(&self, script: Script, form: Form, pending: &Pending) -> Result<Step, GatewayError> {
        let url = match (script, &self.inquiry_url) {
            (Script::Info, Some(url)) => url.clone(),
            (Script::Info, None) => {
                return Err(GatewayError::new(
                    ErrorKind::Internal,
                    "inquiry without an inquiry_url",
                ));
            }
            _ => format!("{}{}", self.base, script.file()),
        };
        let encoded = form.encode();
        let request = HttpRequest::new(Method::Post, url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(encoded.body);
        let step = Step::send(script.step(), request, Some(encoded.journal), pending)?;
        // The emulator's inquiry extension only reads.
        Ok(if script == Script::Info {
            step.read_only()
        } else {
            step
        })
    }
}

/// The card fields of `authm` for raw test cards: the number in four groups of four (14- and
/// 15-digit numbers left-aligned), expiry month and 2-digit year, holder name, security code.
/// Errors never quote a value.
fn card_fields(form: Form, card: &CardData) -> Result<Form, GatewayError> {
    let number = card.number.expose();
    if !(14..=16).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GatewayError::invalid(
            "the card number must be 14 to 16 digits",
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
    let holder = card.holder.as_ref().map(|h| h.expose()).unwrap_or("");
    if holder.is_empty()
        || holder.len() > CARDNAME_MAX
        || !holder.bytes().all(|b| (b' '..=b'~').contains(&b))
    {
        return Err(GatewayError::invalid(
            "F-REGI needs the card holder's name with a card number: 1 to 45 ASCII characters",
        ));
    }
    let group = |i: usize| &number[(4 * i).min(number.len())..(4 * i + 4).min(number.len())];
    let mut form = form
        .secret("PAN1", group(0))
        .secret("PAN2", group(1))
        .secret("PAN3", group(2))
        .secret("PAN4", group(3))
        .secret("CARDEXPIRY1", &expiry[4..6])
        .secret("CARDEXPIRY2", &expiry[2..4])
        .secret("CARDNAME", holder);
    if let Some(code) = &card.security_code {
        let code = code.expose();
        if !(3..=4).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GatewayError::invalid(
                "the security code must be 3 or 4 digits",
            ));
        }
        form = form.secret("SCODE", code);
    }
    Ok(form)
}

/// The reference the host hands back (`SEQNO-AUTHCODE`, or a legacy bare `SEQNO`), checked
/// before any part of it goes into a form.
fn reference(t: &TransactionRef) -> Result<Reference, GatewayError> {
    Reference::parse(t.as_str()).ok_or_else(|| {
        GatewayError::invalid(format!(
            "{:?} is not an F-REGI transaction reference (SEQNO of up to 20 digits, optionally \
             followed by -AUTHCODE)",
            t.as_str()
        ))
    })
}

/// The host's reference for a SEQNO and, when known, its AUTHCODE.
/// What a capture's `authchange.cgi` left once it was answered OK, when the `sale.cgi` after it
/// failed (F-2, `GatewayError::changed_before`): the authorization at the capture's amount under
/// the new `SEQNO-AUTHCODE`, which replaced the old reference (cancelled at F-REGI, F-12).
fn left_by_authchange(
    seqno: &str,
    amount: i64,
    changed: &Changed,
    authcode: Option<&str>,
) -> Outcome {
    let outcome = Outcome::new(PaymentState::Authorized)
        .gateway_status(status::AUTHORIZED)
        .transaction(tref(seqno, authcode))
        .replaced(changed.reference())
        .authorized(Money::jpy(amount))
        .note(format!(
            "authorized amount changed from {} to {amount} yen (F-2): SEQNO {} replaced by \
             {seqno}; the sale that followed failed",
            changed.old_amount, changed.old_seqno
        ));
    match authcode {
        Some(code) => outcome.authorization_code(code),
        None => outcome,
    }
}

fn tref(seqno: &str, authcode: Option<&str>) -> TransactionRef {
    TransactionRef::new(Reference::new(seqno, authcode).to_string())
}

/// A reply must be about the transaction the request named. F-REGI answers a sale or a sale
/// cancel with that SEQNO (`docs/protocols/fregi.md` §4.2, §4.4); another number means the reply is not
/// understood, and the operation may or may not have happened.
fn same_transaction(script: Script, sent: &str, answered: &str) -> Result<(), GatewayError> {
    if protocol::same_seqno(sent, answered) {
        Ok(())
    } else {
        Err(GatewayError::protocol(format!(
            "{} of SEQNO {sent} was answered OK for SEQNO {answered}; it may have taken effect",
            script.file()
        )))
    }
}

renkei_sdk::export_gateway!(Fregi);

#[cfg(test)]
mod tests;
