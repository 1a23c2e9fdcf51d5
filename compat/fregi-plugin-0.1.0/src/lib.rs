//! # F-REGI (エフレジ): the Renkei plugin for F-REGI's card CGI protocol
//!
//! A pure translator (sans-IO) between Renkei operations and F-REGI's server-to-server card API:
//! one CGI script per operation under a base URL, form-encoded POSTs carrying the shop's
//! `SHOPID`, EUC-JP replies of one value per line. Wire facts: `shared/docs/protocols/fregi.md`;
//! business rules: `shared/docs/gateway-rules.md` (G-*, F-*). Same shape as every plugin:
//!
//! - `protocol.rs`: form encoding and strict reply parsing (no SDK types; fuzzed);
//! - `status.rs`: the ten statuses of F-11, as data;
//! - `errors.rs`: `NG` reasons to SDK error kinds, as data;
//! - `lib.rs` (this file): the manifest and the operations.
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
//! | inquire | the emulator's `/__emulator__/info` only (F-REGI has no public inquiry) |
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
//! operator can capture or void it (the host's driver already reports such a failure as
//! "may have applied").

mod errors;
mod protocol;
mod status;

use protocol::{Approved, Form, InfoReply, Refusal, Reply, Script};
use renkei_sdk::{
    AmountChange, Capabilities, CardData, Config, ConfigError, ConfigKey, ConfigKind, Context,
    Currency, ErrorEntry, ErrorKind, Gateway, GatewayError, HttpRequest, HttpResponse, Inquiry,
    Limits, Manifest, Method, Money, Operation, OperationKind, Outcome, PaymentSource,
    PaymentState, RefundExtent, Settlement, StatusEntry, Step, TransactionRef, decode_state,
};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "fregi";
/// Production. The test environment is `https://ssl.f-regi.com/connecttest/` (same scripts).
const PRODUCTION_BASE: &str = "https://ssl.f-regi.com/connect/";
/// F-REGI's card amount range, in yen (F-7; research §7). Constants, not a manifest lookup:
/// `prepare` runs per request.
const MIN_AMOUNT: i64 = 2;
const MAX_AMOUNT: i64 = 9_999_999;
/// `FREE` holds at most 255 bytes. We send UTF-8 (3 bytes per kana or kanji, F-REGI stores 2),
/// so clipping the UTF-8 form to 255 bytes always fits.
const FREE_MAX_BYTES: usize = 255;
/// `CARDNAME`: ASCII, at most 45 characters (research §4.1).
const CARDNAME_MAX: usize = 45;

/// The status and error tables, built once: exported in the manifest, used to read replies.
static STATUSES: LazyLock<Vec<StatusEntry>> = LazyLock::new(status::table);
static ERRORS: LazyLock<Vec<ErrorEntry>> = LazyLock::new(errors::table);

/// A configured F-REGI shop.
///
/// F-REGI authenticates server calls by `SHOPID` plus the caller's registered IP address: no
/// password, signature or checksum travels (research §2), so this plugin holds no secret. The
/// shop's 接続パスワード only signs browser redirects, which this plugin does not build.
pub struct Fregi {
    /// Base URL ending in `/`; scripts are appended.
    base: String,
    shop_id: String,
    /// The emulator's inquiry endpoint; `None` against F-REGI itself.
    inquiry_url: Option<String>,
    /// Send `QUIET=1`: F-REGI sends no processing e-mail.
    quiet: bool,
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
    },
    /// The sale of a capture; `changed` when `authchange` ran first.
    Sale {
        seqno: String,
        amount: i64,
        changed: Option<Changed>,
    },
    Authcancel {
        seqno: String,
    },
    Salecancel {
        seqno: String,
        captured: i64,
    },
    Salechange {
        seqno: String,
        captured: i64,
        refund: i64,
    },
    Authchange {
        seqno: String,
        from: i64,
        to: i64,
    },
    Info {
        seqno: String,
    },
}

/// What the first step of a changed-amount capture replaced.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Changed {
    old_seqno: String,
    old_amount: i64,
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
        let key = |name: &str, kind, required, default: Option<&str>, description: &str| {
            ConfigKey {
                name: name.into(),
                kind,
                // F-REGI server calls carry no secret (SHOPID + IP allow-list).
                secret: false,
                required,
                default: default.map(Into::into),
                description: description.into(),
            }
        };
        Manifest {
            gateway_id: GATEWAY_ID.into(),
            display_name: "F-REGI (エフレジ) card".into(),
            plugin_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))
                .expect("crate version is semver"),
            sdk_version: renkei_sdk::sdk_version(),
            capabilities: Capabilities {
                operations: vec![
                    OperationKind::Authorize,
                    OperationKind::Capture,
                    OperationKind::Void,
                    OperationKind::Refund,
                    OperationKind::ChangeAmount,
                    OperationKind::Inquire,
                ],
                // A capture below the authorized amount is an F-2 re-authorization, not a
                // partial capture: the remainder is released, never capturable later.
                partial_capture: false,
                // Through salechange.cgi: the sale is replaced by one at the reduced amount.
                partial_refund: true,
                amount_change: AmountChange::DeferredToCapture,
                inquiry: Inquiry::EmulatorOnly,
                // Replay safety, per operation kind:
                // - void: a replayed authcancel answering "already voided" (A2-1-122) can only
                //   follow a cancellation of that very SEQNO, and 承認取消 is final (F-12), so it
                //   proves the SEQNO is voided. Declared. (When the amount was changed in
                //   F-REGI's admin screen, F-5, the old SEQNO is 承認取消 too: voided as far as
                //   the shop's linkage goes, which is what the shop can know.)
                // - capture: NOT declared. A lone sale.cgi is replay-safe (a replay answering
                //   "already sold" proves the first went through), but a capture at a changed
                //   amount starts with authchange.cgi: replaying it re-runs authchange on a SEQNO
                //   the first attempt may already have replaced, which F-REGI refuses as
                //   "already cancelled" while the new authorization dangles. A per-kind
                //   declaration cannot say "only when the amount is unchanged", so the host
                //   must resolve an unknown capture by inquiry or an operator.
                // - refund: NOT declared, for the same reason: a partial refund is salechange,
                //   whose replay would hit the replaced (cancelled) sale.
                // - change_amount (authchange): NOT declared. A replay would authorize again or
                //   be refused on the replaced SEQNO; neither proves anything.
                // - authorize (authm): F-REGI has no idempotency key; a replay authorizes twice.
                replay_safe: vec![OperationKind::Void],
            },
            limits: Limits {
                min_amount: MIN_AMOUNT,
                max_amount: MAX_AMOUNT,
                currencies: vec![Currency::JPY],
            },
            config: vec![
                key(
                    "base_url",
                    ConfigKind::Url,
                    false,
                    Some(PRODUCTION_BASE),
                    "Base URL of F-REGI's card scripts: production https://ssl.f-regi.com/connect/, \
                     test https://ssl.f-regi.com/connecttest/, or the emulator's \
                     http://127.0.0.1:PORT/connect/. The server's IP must be registered with F-REGI.",
                ),
                key(
                    "shop_id",
                    ConfigKind::String,
                    true,
                    None,
                    "SHOPID issued by F-REGI (digits). F-REGI server calls carry no password: \
                     the shop id and the caller's registered IP address authenticate them.",
                ),
                key(
                    "inquiry_url",
                    ConfigKind::Url,
                    false,
                    None,
                    "Emulator only: the Renkei F-REGI emulator's inquiry extension \
                     (http://127.0.0.1:PORT/__emulator__/info). F-REGI itself has no public \
                     card-transaction inquiry; without this key, inquire is unsupported.",
                ),
                key(
                    "quiet",
                    ConfigKind::Boolean,
                    false,
                    Some("false"),
                    "Send QUIET=1 so that F-REGI sends no processing e-mail for each operation.",
                ),
            ],
            statuses: STATUSES.clone(),
            errors: ERRORS.clone(),
        }
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let base = config.text("base_url").unwrap_or(PRODUCTION_BASE);
        if base.contains(['?', '#']) {
            return Err(ConfigError::Invalid {
                key: "base_url".into(),
                reason: "must not carry a query or a fragment: script names are appended".into(),
            });
        }
        let base = if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        let shop_id = config.require_text("shop_id")?;
        if shop_id.is_empty() || shop_id.len() > 16 || !shop_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(ConfigError::Invalid {
                key: "shop_id".into(),
                reason: "F-REGI shop ids are digits (5 in every known example)".into(),
            });
        }
        Ok(Fregi {
            base,
            shop_id: shop_id.to_owned(),
            inquiry_url: config.text("inquiry_url").map(str::to_owned),
            quiet: config.boolean("quiet").unwrap_or(false),
        })
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
                let mut form = self
                    .form()
                    .field("PAY", pay.to_string())
                    .field("ID", order.as_str());
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
                        form.field("CUSTOMERID", customer.as_str())
                    }
                    PaymentSource::PreviousTransaction(_) => {
                        return Err(GatewayError::unsupported(
                            "authorizing from an earlier F-REGI transaction",
                        ));
                    }
                };
                if let Some(text) = description.as_deref().filter(|d| !d.is_empty()) {
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
                let seqno = seqno_ref(transaction)?;
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
                    self.sale(seqno, target, None, None)
                } else {
                    // F-2: the shop amount is final; change the authorization first.
                    let form = self
                        .form()
                        .field("SEQNO", seqno)
                        .field("PAY", target.to_string());
                    self.send(
                        Script::AuthChange,
                        form,
                        &Pending::CaptureAuthchange {
                            seqno: seqno.to_owned(),
                            authorized,
                            amount: target,
                        },
                    )
                }
            }
            Operation::Void { transaction, .. } => {
                // No amount check: a void moves no money and must stay possible for any
                // authorization, whatever its amount.
                let seqno = seqno_ref(transaction)?;
                let form = self.form().field("CANCELSEQNO", seqno);
                self.send(
                    Script::AuthCancel,
                    form,
                    &Pending::Authcancel {
                        seqno: seqno.to_owned(),
                    },
                )
            }
            Operation::Refund {
                transaction,
                captured,
                amount,
                ..
            } => {
                let seqno = seqno_ref(transaction)?;
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
                    let form = self.form().field("CANCELSEQNO", seqno);
                    return self.send(
                        Script::SaleCancel,
                        form,
                        &Pending::Salecancel {
                            seqno: seqno.to_owned(),
                            captured,
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
                    .field("SEQNO", seqno)
                    .field("PAY", keep.to_string());
                self.send(
                    Script::SaleChange,
                    form,
                    &Pending::Salechange {
                        seqno: seqno.to_owned(),
                        captured,
                        refund,
                    },
                )
            }
            Operation::ChangeAmount {
                transaction,
                authorized,
                new_amount,
                ..
            } => {
                let seqno = seqno_ref(transaction)?;
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
                    .field("SEQNO", seqno)
                    .field("PAY", to.to_string());
                self.send(
                    Script::AuthChange,
                    form,
                    &Pending::Authchange {
                        seqno: seqno.to_owned(),
                        from,
                        to,
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
                let seqno = seqno_ref(transaction)?;
                // No QUIET: the extension is not an F-REGI script.
                let form = Form::new()
                    .field("SHOPID", self.shop_id.as_str())
                    .field("SEQNO", seqno);
                self.send(
                    Script::Info,
                    form,
                    &Pending::Info {
                        seqno: seqno.to_owned(),
                    },
                )
            }
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
            Ok(Reply::Ng(refusal)) => return Err(refused(&pending, refusal)),
            Err(e) => {
                let mut message = format!(
                    "F-REGI's reply to {} is not a well-formed OK/NG reply: {e}; it may have \
                     taken effect",
                    script.file()
                );
                if let Pending::Sale {
                    seqno,
                    changed: Some(c),
                    ..
                } = &pending
                {
                    message.push_str(&format!(
                        " (the authorization had already been changed: SEQNO {} was replaced by \
                         {seqno})",
                        c.old_seqno
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
                    .transaction(TransactionRef::new(seqno))
                    .authorization_code(authcode)
                    .authorized(Money::jpy(amount)),
            )),
            (
                Pending::CaptureAuthchange {
                    seqno: old,
                    authorized,
                    amount,
                },
                Approved::AuthChanged { seqno, authcode },
            ) => self.sale(
                &seqno,
                amount,
                Some(&authcode),
                Some(Changed {
                    old_seqno: old,
                    old_amount: authorized,
                }),
            ),
            (
                Pending::Sale {
                    seqno,
                    amount,
                    changed,
                },
                Approved::Sold { seqno: answered },
            ) => {
                same_transaction(Script::Sale, &seqno, &answered)?;
                let mut outcome = Outcome::new(PaymentState::Captured {
                    settlement: Settlement::Pending,
                })
                .gateway_status(status::SOLD_PENDING)
                .transaction(TransactionRef::new(answered))
                .captured(Money::jpy(amount));
                if let Some(c) = changed {
                    outcome = outcome
                        .replaced(TransactionRef::new(c.old_seqno.clone()))
                        .authorized(Money::jpy(amount))
                        .note(format!(
                            "authorized amount changed from {} to {amount} yen before the sale \
                             (F-2): SEQNO {} replaced by {seqno}",
                            c.old_amount, c.old_seqno
                        ));
                }
                Ok(Step::Done(outcome))
            }
            (Pending::Authcancel { seqno }, Approved::AuthCancelled) => Ok(Step::Done(
                Outcome::new(PaymentState::Voided)
                    .gateway_status(status::AUTHORIZATION_CANCELLED)
                    .transaction(TransactionRef::new(seqno)),
            )),
            (
                Pending::Salecancel { seqno, captured },
                Approved::SaleCancelled { seqno: answered },
            ) => {
                same_transaction(Script::SaleCancel, &seqno, &answered)?;
                Ok(Step::Done(
                    Outcome::new(PaymentState::Refunded {
                        extent: RefundExtent::Full,
                        settlement: Settlement::Pending,
                    })
                    .gateway_status(status::SALE_CANCELLED_PENDING)
                    .transaction(TransactionRef::new(answered))
                    .refunded(Money::jpy(captured)),
                ))
            }
            (
                Pending::Salechange {
                    seqno: old,
                    captured,
                    refund,
                },
                Approved::SaleChanged { seqno, authcode },
            ) => Ok(Step::Done(
                Outcome::new(PaymentState::Refunded {
                    extent: RefundExtent::Partial,
                    settlement: Settlement::Pending,
                })
                // The rest is a new sale, which F-REGI lists as 売上済（未伝送）.
                .gateway_status(status::SOLD_PENDING)
                .transaction(TransactionRef::new(seqno.clone()))
                .replaced(TransactionRef::new(old.clone()))
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
                },
                Approved::AuthChanged { seqno, authcode },
            ) => Ok(Step::Done(
                Outcome::new(PaymentState::Authorized)
                    .gateway_status(status::AUTHORIZED)
                    .transaction(TransactionRef::new(seqno.clone()))
                    .replaced(TransactionRef::new(old.clone()))
                    .authorization_code(authcode)
                    .authorized(Money::jpy(to))
                    .note(format!(
                        "authorized amount changed from {from} to {to} yen: SEQNO {old} \
                             replaced by {seqno}"
                    )),
            )),
            (Pending::Info { seqno }, Approved::Info(info)) => {
                same_transaction(Script::Info, &seqno, &info.seqno)?;
                inquiry_outcome(info).map(Step::Done)
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
            form.field("QUIET", "1")
        } else {
            form
        }
    }

    /// `sale.cgi` on `seqno`. `AUTHCODE` goes along when known (after an authchange): F-REGI's
    /// own clients send it, and F-REGI then checks that it belongs to the SEQNO.
    fn sale(
        &self,
        seqno: &str,
        amount: i64,
        authcode: Option<&str>,
        changed: Option<Changed>,
    ) -> Result<Step, GatewayError> {
        let mut form = self.form().field("SEQNO", seqno);
        if let Some(code) = authcode {
            form = form.field("AUTHCODE", code);
        }
        self.send(
            Script::Sale,
            form,
            &Pending::Sale {
                seqno: seqno.to_owned(),
                amount,
                changed,
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

/// A `SEQNO` the host hands back, checked before it goes into a form.
fn seqno_ref(t: &TransactionRef) -> Result<&str, GatewayError> {
    let s = t.as_str();
    if protocol::is_seqno_ref(s) {
        Ok(s)
    } else {
        Err(GatewayError::invalid(format!(
            "{s:?} is not an F-REGI SEQNO (up to 20 digits)"
        )))
    }
}

/// Yen, refusing any other currency: F-REGI settles in yen only.
fn yen(m: Money) -> Result<i64, GatewayError> {
    if m.currency == Currency::JPY {
        Ok(m.minor_units)
    } else {
        Err(GatewayError::invalid(format!(
            "F-REGI takes yen only, not {}",
            m.currency
        )))
    }
}

/// An amount F-REGI can authorize or sell.
fn payable(m: Money, zero_hint: &str) -> Result<i64, GatewayError> {
    let amount = yen(m)?;
    check_payable(amount, zero_hint)?;
    Ok(amount)
}

/// 2..=9,999,999 yen. 1 yen is F-7; 0 yen is F-8's "no payment needed", which is not a card
/// operation at all.
fn check_payable(amount: i64, zero_hint: &str) -> Result<(), GatewayError> {
    match amount {
        0 => Err(GatewayError::invalid(format!(
            "the amount is 0 yen: no payment is needed (決済不要, F-8); {zero_hint}"
        ))),
        1 => Err(GatewayError::invalid(
            "a bill of 1 yen cannot be paid by card: F-REGI needs 2 yen or more (F-7); adjust \
             the amount or bill another way",
        )),
        a if a < 0 => Err(GatewayError::invalid(format!(
            "the amount must be positive, not {a} yen"
        ))),
        a if a > MAX_AMOUNT => Err(GatewayError::invalid(format!(
            "{a} yen is above F-REGI's card maximum of {MAX_AMOUNT} yen"
        ))),
        _ => Ok(()),
    }
}

/// A reply must be about the transaction the request named. F-REGI answers a sale or a sale
/// cancel with that SEQNO (research §4.2, §4.4); another number means the reply is not
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

/// An `NG` as a typed error: F-REGI's code and message verbatim, our meaning, and what the
/// operator can do where the operation makes that clear.
fn refused(pending: &Pending, refusal: Refusal) -> GatewayError {
    let (kind, meaning) =
        errors::classify(&ERRORS, refusal.code.as_deref(), refusal.message.as_deref());
    let (kind, message) = match pending {
        Pending::CaptureAuthchange {
            seqno,
            authorized,
            amount,
        } => (
            // An amount-change refusal never proves a capture happened.
            if kind == ErrorKind::AlreadyDone {
                ErrorKind::Rejected
            } else {
                kind
            },
            format!(
                "F-REGI refused to change the authorized amount from {authorized} to {amount} yen \
                 ({meaning}), so nothing was captured (F-3). The authorization of {authorized} \
                 yen (SEQNO {seqno}) is unchanged. Choose: capture the authorized {authorized} \
                 yen and settle the difference another way, or void it and bill by another \
                 method"
            ),
        ),
        Pending::Sale {
            seqno,
            amount,
            changed: Some(c),
        } => (
            kind,
            format!(
                "{meaning}: the authorized amount was changed first (SEQNO {} replaced by \
                 {seqno}, now {amount} yen) but the sale of {seqno} was refused; the new \
                 authorization stands: capture or void SEQNO {seqno}",
                c.old_seqno
            ),
        ),
        Pending::Authchange { seqno, from, .. } => (
            kind,
            format!("{meaning}; the authorization of {from} yen (SEQNO {seqno}) is unchanged"),
        ),
        _ => (kind, meaning.to_owned()),
    };
    GatewayError {
        kind,
        message,
        gateway_code: refusal.code,
        gateway_message: refusal.message,
    }
}

/// The inquiry extension's answer as an outcome: the status through the table (an unseen code is
/// `Unknown` with the raw code), the amount where the status says what it is.
fn inquiry_outcome(info: InfoReply) -> Result<Outcome, GatewayError> {
    let entry = STATUSES.iter().find(|s| s.code == info.status);
    let state = entry
        .map(|s| s.state.clone())
        .unwrap_or_else(|| PaymentState::Unknown {
            raw: info.status.clone(),
        });
    // The transmitted flag and the status must tell the same story.
    let settlement = match &state {
        PaymentState::Captured { settlement } | PaymentState::Refunded { settlement, .. } => {
            Some(*settlement)
        }
        _ => None,
    };
    if let Some(s) = settlement
        && (s == Settlement::Settled) != info.transmitted
    {
        return Err(GatewayError::protocol(format!(
            "inquiry says status {} but transmitted = {}",
            info.status, info.transmitted
        )));
    }
    let pay = Money::jpy(i64::from(info.amount));
    let mut outcome = Outcome::new(state.clone())
        .gateway_status(info.status.clone())
        .transaction(TransactionRef::new(info.seqno));
    outcome = match state {
        PaymentState::Authorized => outcome.authorized(pay),
        PaymentState::Captured { .. } => outcome.authorized(pay).captured(pay),
        PaymentState::Refunded { .. } => outcome.refunded(pay),
        _ => outcome,
    };
    if let Some(code) = info.authcode {
        outcome = outcome.authorization_code(code);
    }
    if let Some(entry) = entry {
        outcome = outcome.note(format!("F-REGI status {} {}", entry.code, entry.label));
    }
    if let Some(next) = info.replaced_by {
        outcome = outcome.note(format!(
            "replaced by SEQNO {next} (an amount change; if the shop did not make it, it was made \
             in F-REGI's admin screen and this order is no longer linked, F-5)"
        ));
    }
    Ok(outcome)
}

renkei_sdk::export_gateway!(Fregi);

#[cfg(test)]
mod tests;
