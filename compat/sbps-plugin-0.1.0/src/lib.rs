//! # SBPS: the Renkei plugin for SB Payment Service credit cards
//!
//! Speaks SBPS's server-to-server XML API ("sps-api", `xmlapi.do`) as described in
//! `shared/docs/protocols/sbps.md`, and applies the SBPS rules of `shared/docs/gateway-rules.md`
//! (S-1…S-4, G-*). Same shape as every Renkei plugin:
//!
//! - `protocol.rs`: Shift_JIS XML, `sps_hashcode`, base64 and 3DES fields, strict reply parsing;
//! - `status.rs`: the status table (与信済 / 売上済 / 与信取消済 / 返金済 / 未オーソリ), as data;
//! - `errors.rs`: every `res_err_code` type to an SDK error kind, as data;
//! - `lib.rs` (this file): the manifest and the operations.
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
//! | refund, full | inquiry; `ST02-00303-101` (nothing refunded yet) or `ST02-00307-101` of the remainder (after partial refunds) |
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
//!   declined one included. Every authorization therefore sends `<order code>-<tag>`, where the
//!   tag is the first 8 hex digits of SHA-1 of the shop action's idempotency key: a customer who
//!   retries with another card gets a new `order_id`, while a replay of the same action gets the
//!   same one and SBPS's 96, which proves the replay cannot authorize twice (and is reported as
//!   "may have applied", because the first attempt reached SBPS).
//! - **`cust_code` of a re-authorization** inside capture / change amount: the operation does not
//!   carry the customer, so the order code is sent; SBPS takes the card from the previous payment
//!   (B) and nothing documented ties the two codes.
//! - **The commit** after an authorization is sent at once (every production client does). If it
//!   fails the authorization still stands: the outcome says so in a note instead of losing the
//!   new tracking id.

mod errors;
mod protocol;
mod status;

use protocol::{CardSource, Envelope, FieldCipher, Order, Reply, Verdict};
use renkei_sdk::{
    AmountChange, Capabilities, CardData, Config, ConfigError, ConfigKey, ConfigKind, Context,
    Currency, ErrorEntry, ErrorKind, Gateway, GatewayError, HttpRequest, HttpResponse, Inquiry,
    Limits, Manifest, Method, Money, Operation, OperationKind, OrderRef, Outcome, PaymentSource,
    PaymentState, RefundExtent, Secret, Settlement, StatusEntry, Step, TransactionRef,
    decode_state, error_entry,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::LazyLock;

pub const GATEWAY_ID: &str = "sbps";
/// SBPS amounts are 1..=9,999,999 yen, tax included (§6.1). Constants, not a manifest lookup:
/// `prepare` runs per request.
const MIN_AMOUNT: i64 = 1;
const MAX_AMOUNT: i64 = 9_999_999;
/// SBPS's own default validity (§3.2), sent explicitly so a request's lifetime is visible.
const DEFAULT_LIMIT_SECOND: &str = "600";
const DEFAULT_ITEM_ID: &str = "renkei";
/// `item_name` is at most 40 Shift_JIS bytes.
const ITEM_NAME_BYTES: usize = 40;
const CUST_CODE_BYTES: usize = 64;
const ORDER_ID_CHARS: usize = 38;
const ITEM_ID_CHARS: usize = 32;

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

fn config_key(
    name: &str,
    kind: ConfigKind,
    secret: bool,
    required: bool,
    default: Option<&str>,
    description: &str,
) -> ConfigKey {
    ConfigKey {
        name: name.into(),
        kind,
        secret,
        required,
        default: default.map(Into::into),
        description: description.into(),
    }
}

impl Gateway for Sbps {
    fn manifest() -> Manifest {
        Manifest {
            gateway_id: GATEWAY_ID.into(),
            display_name: "SBPS (SB Payment Service) credit card".into(),
            plugin_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))
                .expect("crate version is semver"),
            sdk_version: renkei_sdk::sdk_version(),
            capabilities: Capabilities {
                operations: OperationKind::ALL.to_vec(),
                partial_capture: true,
                partial_refund: true,
                amount_change: AmountChange::Reauthorization,
                inquiry: Inquiry::Available,
                // Capture: a replay finds the payment sold (MG01 status 2, or 41 from the
                // sales) only if a capture went through. Void: likewise cancelled (status 3,
                // or 45). Refund is not: a replayed partial refund refunds again (§10.5).
                replay_safe: vec![OperationKind::Capture, OperationKind::Void],
            },
            limits: Limits {
                min_amount: MIN_AMOUNT,
                max_amount: MAX_AMOUNT,
                currencies: vec![Currency::JPY],
            },
            config: vec![
                config_key(
                    "endpoint",
                    ConfigKind::Url,
                    false,
                    false,
                    Some(protocol::SANDBOX_ENDPOINT),
                    "sps-api URL. Default: the public sandbox. Production: \
                     https://api.sps-system.com/api/xmlapi.do",
                ),
                config_key(
                    "merchant_id",
                    ConfigKind::String,
                    false,
                    true,
                    None,
                    "SBPS merchant ID (5 digits)",
                ),
                config_key(
                    "service_id",
                    ConfigKind::String,
                    false,
                    true,
                    None,
                    "SBPS service ID (3 digits)",
                ),
                config_key(
                    "hash_key",
                    ConfigKind::String,
                    true,
                    true,
                    None,
                    "Hash key appended to every sps_hashcode",
                ),
                config_key(
                    "basic_user",
                    ConfigKind::String,
                    false,
                    false,
                    None,
                    "HTTP Basic user. Default: merchant_id followed by service_id",
                ),
                config_key(
                    "basic_password",
                    ConfigKind::String,
                    true,
                    false,
                    None,
                    "HTTP Basic password. Default: the hash key",
                ),
                config_key(
                    "des_key",
                    ConfigKind::String,
                    true,
                    false,
                    None,
                    "3DES key (24 bytes). With des_iv, card fields travel encrypted \
                     (encrypted_flg=1), as production requires",
                ),
                config_key(
                    "des_iv",
                    ConfigKind::String,
                    true,
                    false,
                    None,
                    "3DES initialisation vector (8 bytes); required with des_key",
                ),
                config_key(
                    "limit_second",
                    ConfigKind::Integer,
                    false,
                    false,
                    Some(DEFAULT_LIMIT_SECOND),
                    "Seconds a request stays valid at SBPS (1-9999)",
                ),
                config_key(
                    "item_id",
                    ConfigKind::String,
                    false,
                    false,
                    Some(DEFAULT_ITEM_ID),
                    "item_id sent with authorizations (ASCII, at most 32 characters)",
                ),
                config_key(
                    "store_card",
                    ConfigKind::Boolean,
                    false,
                    false,
                    Some("false"),
                    "Store the card of token authorizations for the customer \
                     (cust_manage_flg=1), so that a pre-order release can charge it",
                ),
            ],
            statuses: STATUSES.clone(),
            errors: ERRORS.clone(),
        }
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let invalid = |key: &str, reason: &str| ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        };
        let digits = |key: &str, n: usize| -> Result<String, ConfigError> {
            let v = config.require_text(key)?;
            if v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) {
                Ok(v.to_owned())
            } else {
                Err(invalid(key, &format!("must be {n} digits")))
            }
        };
        let merchant_id = digits("merchant_id", 5)?;
        let service_id = digits("service_id", 3)?;
        let hash_key = config.require_secret("hash_key")?;
        if hash_key.expose().trim().is_empty() || protocol::encode_sjis(hash_key.expose()).is_none()
        {
            return Err(invalid("hash_key", "must be non-empty Shift_JIS text"));
        }
        let endpoint = config
            .text("endpoint")
            .unwrap_or(protocol::SANDBOX_ENDPOINT)
            .to_owned();
        let user = match config.text("basic_user") {
            Some(u) => u.to_owned(),
            None => format!("{merchant_id}{service_id}"),
        };
        if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
            return Err(invalid(
                "basic_user",
                "must be non-empty, without ':' or control characters",
            ));
        }
        let password = config
            .secret("basic_password")
            .unwrap_or_else(|| hash_key.clone());
        if password.expose().chars().any(char::is_control) {
            return Err(invalid(
                "basic_password",
                "must not contain control characters",
            ));
        }
        let authorization = Secret::new(format!(
            "Basic {}",
            protocol::basic_credentials(&user, &password)
        ));
        let cipher = match (config.secret("des_key"), config.secret("des_iv")) {
            (None, None) => None,
            (Some(key), Some(iv)) => Some(FieldCipher::new(&key, &iv).map_err(|e| match e {
                protocol::CipherKeyError::KeyLength => invalid("des_key", "must be 24 bytes"),
                protocol::CipherKeyError::IvLength => invalid("des_iv", "must be 8 bytes"),
            })?),
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    key: "des_iv".into(),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    key: "des_key".into(),
                });
            }
        };
        let limit_second = config
            .integer("limit_second")
            .unwrap_or(600)
            .try_into()
            .ok()
            .filter(|l| (1..=9999).contains(l))
            .ok_or_else(|| invalid("limit_second", "must be between 1 and 9999"))?;
        let item_id = config.text("item_id").unwrap_or(DEFAULT_ITEM_ID).to_owned();
        if item_id.is_empty()
            || item_id.len() > ITEM_ID_CHARS
            || !item_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(
                "item_id",
                "must be 1-32 printable ASCII characters without spaces",
            ));
        }
        Ok(Sbps {
            endpoint,
            merchant_id,
            service_id,
            hash_key,
            authorization,
            cipher,
            limit_second,
            item_id,
            store_card: config.boolean("store_card").unwrap_or(false),
        })
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
                            .gateway_status("1")
                            .transaction(TransactionRef::new(tracking_id))
                            .authorized(*amount);
                        if let Some(code) = authorization_code {
                            outcome = outcome.authorization_code(code);
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
                        .gateway_status("2")
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
                            .gateway_status("2")
                            .transaction(new)
                            .replaced(replaced)
                            .authorized(*amount)
                            .captured(*amount),
                        notes,
                    ))),
                    Operation::ChangeAmount { new_amount, .. } => Ok(Step::Done(with_notes(
                        Outcome::new(PaymentState::Authorized)
                            .gateway_status("1")
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
                            .gateway_status("3")
                            .transaction(transaction.clone()),
                        notes,
                    ))),
                    Operation::Refund {
                        transaction,
                        captured,
                        ..
                    } => Ok(Step::Done(with_notes(
                        Outcome::new(refunded_state(RefundExtent::Full))
                            .gateway_status("4")
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
                let reply = accepted(op, read, "partial refund", remainder)?;
                protocol::acknowledged(&reply).map_err(|e| context("partial refund", e))?;
                let (extent, refunded) = if remainder {
                    (RefundExtent::Full, *captured)
                } else {
                    (RefundExtent::Partial, amount.unwrap_or(*captured))
                };
                Ok(Step::Done(with_notes(
                    Outcome::new(refunded_state(extent))
                        .gateway_status("4")
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
                if found.payment_status == "4" {
                    notes.push(
                        "SBPS reports 返金済 (4) after partial refunds too, and reports no \
                         amounts; the refunded amount is in the host's journal or the SBPS tool"
                            .into(),
                    );
                }
                let state = state_of(&found.payment_status);
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
        let status = found.payment_status.as_str();
        let committed = found.commit_status != "0";
        match op {
            Operation::Capture {
                order,
                transaction,
                authorized,
                amount,
            } => {
                let tracking_id = checked_tracking_id(transaction)?;
                let raise = amount.is_some_and(|a| a.minor_units > authorized.minor_units);
                match (status, raise) {
                    ("1", false) if committed => {
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
                    ("1", false) => {
                        let request = protocol::commit(env, tracking_id, now);
                        self.send("commit", request, Stage::CommitExisting, notes)
                    }
                    ("1", true) => {
                        let new_amount = amount.map_or(authorized.minor_units, |a| a.minor_units);
                        self.reauthorize(env, ctx, order, tracking_id, new_amount, notes)
                    }
                    ("2" | "4", false) => Err(drift(
                        ErrorKind::AlreadyDone,
                        status,
                        "already captured (売上済); a capture or the SBPS tool sold it before",
                    )),
                    ("2" | "4", true) => Err(drift(
                        ErrorKind::Rejected,
                        status,
                        "already captured, possibly at another amount, outside this capture \
                         (G-8): nothing was re-authorized",
                    )),
                    ("3", false) => Err(drift(
                        ErrorKind::Rejected,
                        status,
                        "cannot capture: the authorization is cancelled (G-5)",
                    )),
                    ("3", true) => Err(ambiguous_cancel(transaction, order, ctx)),
                    _ => Err(unknown_status(status)),
                }
            }
            Operation::Void { transaction, .. } => match status {
                "1" => {
                    let request =
                        protocol::cancel_or_refund(env, checked_tracking_id(transaction)?, now);
                    self.send("cancel", request, Stage::CancelOrRefund, notes)
                }
                "3" => Err(drift(
                    ErrorKind::AlreadyDone,
                    status,
                    "the authorization is already cancelled",
                )),
                "2" | "4" => Err(drift(
                    ErrorKind::Rejected,
                    status,
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
                match status {
                    "2" => {
                        let request = protocol::cancel_or_refund(env, tracking_id, now);
                        self.send("refund", request, Stage::CancelOrRefund, notes)
                    }
                    // After partial refunds, refund the remainder by amount: whether 00303
                    // refunds the rest or answers "already refunded" is open (§11 q4).
                    "4" => {
                        let request =
                            protocol::partial_refund(env, tracking_id, now, captured.minor_units);
                        self.send(
                            "refund_remainder",
                            request,
                            Stage::PartialRefund { remainder: true },
                            notes,
                        )
                    }
                    "1" => Err(drift(
                        ErrorKind::Rejected,
                        status,
                        "the payment is not captured: a refund would void it; void it instead",
                    )),
                    "3" => Err(drift(
                        ErrorKind::Rejected,
                        status,
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
            } => match status {
                "1" => self.reauthorize(
                    env,
                    ctx,
                    order,
                    checked_tracking_id(transaction)?,
                    new_amount.minor_units,
                    notes,
                ),
                "2" | "4" => Err(drift(
                    ErrorKind::Rejected,
                    status,
                    "the payment is captured: an amount change after capture is not linked \
                     to SBPS (G-7); use the SBPS tool",
                )),
                "3" => Err(ambiguous_cancel(transaction, order, ctx)),
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

/// An OK reply, or the refusal it carries as a typed error. `own` says whether the step acts
/// on the operation's own payment towards the operation's own goal, the only case where
/// "already done" can be true for the operation.
fn accepted(
    op: &Operation,
    read: Result<Reply, GatewayError>,
    step: &str,
    own: bool,
) -> Result<Reply, GatewayError> {
    let reply = read.map_err(|e| context(step, e))?;
    match &reply.outcome {
        Verdict::Ok => Ok(reply),
        Verdict::Ng { code } => Err(refusal(op, code, step, own)),
    }
}

/// Reads an acknowledgement whose failure the operation survives (commit, void of a
/// replaced payment); the error keeps the SBPS code for the note.
fn acknowledged(read: Result<Reply, GatewayError>) -> Result<protocol::Acknowledged, GatewayError> {
    let reply = read?;
    match &reply.outcome {
        Verdict::Ok => protocol::acknowledged(&reply),
        Verdict::Ng { code } => {
            let row = row_of(code);
            Err(GatewayError::gateway(
                row.kind,
                code.clone(),
                row.ja.map(str::to_owned),
                row.en,
            ))
        }
    }
}

/// The error-table row of a code: the exported table decides (exact, then longest prefix),
/// falling back to the common method `999` for a type under another method.
fn row_of(code: &str) -> &'static errors::Row {
    let entry = error_entry(&ERRORS, code).or_else(|| {
        let common = format!("999{}", code.get(3..).unwrap_or(""));
        error_entry(&ERRORS, &common)
    });
    entry
        .and_then(|e| ERROR_ROWS.iter().find(|r| r.code == e.code))
        .unwrap_or(&UNKNOWN_ERROR)
}

/// An NG reply as a typed error: the raw code, SBPS's Japanese meaning, ours in English.
fn refusal(op: &Operation, code: &str, step: &str, own: bool) -> GatewayError {
    let row = row_of(code);
    let mut kind = row.kind;
    if kind == ErrorKind::AlreadyDone && !(own && proves(row.proves, op)) {
        // "Already cancelled" is no success for a refund, "already sold" none for a void.
        kind = ErrorKind::Rejected;
    }
    GatewayError::gateway(
        kind,
        code,
        row.ja.map(str::to_owned),
        format!("SBPS refused the {step}: {}", row.en),
    )
}

fn proves(goal: Option<OperationKind>, op: &Operation) -> bool {
    match (goal, op) {
        (Some(OperationKind::Capture), Operation::Capture { .. }) => true,
        (Some(OperationKind::Void), Operation::Void { .. }) => true,
        // Only a full refund's goal is "everything refunded".
        (
            Some(OperationKind::Refund),
            Operation::Refund {
                captured, amount, ..
            },
        ) => amount.is_none_or(|a| a == *captured),
        _ => false,
    }
}

/// 60: the payment is already committed (or past it): what a commit before sales wants.
fn is_commit_done(code: &str) -> bool {
    code.len() == 8 && &code[..5] == "10160"
}

/// 45 / 52: the replaced authorization is already cancelled.
fn is_cancel_done(code: &str) -> bool {
    code.len() == 8 && matches!(&code[..5], "10145" | "10152")
}

/// A refusal based on the inquiry: SBPS's state disagrees with what the operation assumes.
fn drift(kind: ErrorKind, status: &str, message: &str) -> GatewayError {
    let label = STATUSES
        .iter()
        .find(|s| s.code == status)
        .map(|s| s.label.clone());
    GatewayError::gateway(kind, format!("payment_status={status}"), label, message)
}

/// The payment a re-authorizing operation starts from is cancelled. Either the SBPS tool did it,
/// or an earlier attempt of this very operation re-authorized, went on, and voided it as its last
/// step: then the money has moved, so this must be resolved, not reported as a refusal.
fn ambiguous_cancel(
    transaction: &TransactionRef,
    order: &OrderRef,
    ctx: &Context<'_>,
) -> GatewayError {
    let order_id = order_id(order, ctx).unwrap_or_else(|_| order.to_string());
    GatewayError::gateway(
        ErrorKind::Protocol,
        "payment_status=3",
        Some("与信取消済".into()),
        format!(
            "payment {transaction} is cancelled: either an earlier attempt of this operation \
             replaced it (look for SBPS order_id {order_id}) or it was cancelled in the SBPS \
             tool; resolve before retrying"
        ),
    )
}

fn unknown_status(status: &str) -> GatewayError {
    GatewayError::gateway(
        ErrorKind::Protocol,
        format!("payment_status={status}"),
        None,
        "SBPS reports a payment status this plugin does not know; nothing was changed",
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

/// Prefixes a reading error with the step it happened in.
fn context(step: &str, mut e: GatewayError) -> GatewayError {
    e.message = format!("{step}: {}", e.message);
    e
}

fn state_of(code: &str) -> PaymentState {
    STATUSES
        .iter()
        .find(|s| s.code == code)
        .map(|s| s.state.clone())
        .unwrap_or_else(|| PaymentState::Unknown {
            raw: code.to_owned(),
        })
}

fn captured_state() -> PaymentState {
    PaymentState::Captured {
        settlement: Settlement::NotReported,
    }
}

fn refunded_state(extent: RefundExtent) -> PaymentState {
    PaymentState::Refunded {
        extent,
        settlement: Settlement::NotReported,
    }
}

fn commit_note(commit_status: &str) -> String {
    match commit_status {
        "0" => "commit_status 0: not committed".into(),
        "1" => "commit_status 1: committed".into(),
        other => format!("commit_status {other}"),
    }
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

/// Whole yen within SBPS's limits.
fn yen(amount: Money) -> Result<i64, GatewayError> {
    if amount.currency != Currency::JPY {
        return Err(GatewayError::invalid(format!(
            "SBPS settles in JPY only, not {}",
            amount.currency
        )));
    }
    if !(MIN_AMOUNT..=MAX_AMOUNT).contains(&amount.minor_units) {
        return Err(GatewayError::invalid(format!(
            "amount {amount} is outside SBPS's {MIN_AMOUNT}..={MAX_AMOUNT} yen"
        )));
    }
    Ok(amount.minor_units)
}

fn same_currency(a: Money, b: Money) -> Result<(), GatewayError> {
    if a.currency == b.currency {
        Ok(())
    } else {
        Err(GatewayError::invalid(format!(
            "amounts in {} and {} cannot be compared",
            a.currency, b.currency
        )))
    }
}

/// A tracking id as SBPS issues them; anything else is refused before it reaches a request.
fn checked_tracking_id(t: &TransactionRef) -> Result<&str, GatewayError> {
    let id = t.as_str();
    if protocol::is_tracking_id(id) {
        Ok(id)
    } else {
        Err(GatewayError::invalid(format!(
            "{:?} is not an SBPS tracking id",
            id.chars().take(40).collect::<String>()
        )))
    }
}

fn op_tracking_id(op: &Operation) -> Result<String, GatewayError> {
    op.transaction()
        .map(|t| t.as_str().to_owned())
        .ok_or_else(|| unexpected_stage(op, "replacement"))
}

/// `<order code>-<tag>`: unique per shop action, stable across its replays (see the crate docs).
fn order_id(order: &OrderRef, ctx: &Context<'_>) -> Result<String, GatewayError> {
    let code = order.as_str();
    let max = ORDER_ID_CHARS - 9;
    if code.is_empty() || code.len() > max || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(GatewayError::invalid(format!(
            "SBPS needs an order code of 1-{max} printable ASCII characters"
        )));
    }
    Ok(format!(
        "{code}-{}",
        protocol::action_tag(ctx.idempotency_key)
    ))
}

fn check_cust_code(code: &str) -> Result<(), GatewayError> {
    let bytes = protocol::encode_sjis(code).map(|b| b.len());
    match bytes {
        Some(1..=CUST_CODE_BYTES) => Ok(()),
        _ => Err(GatewayError::invalid(format!(
            "SBPS cust_code must be 1-{CUST_CODE_BYTES} Shift_JIS bytes"
        ))),
    }
}

/// The description as an `item_name`: a label, so it is made to fit rather than refused.
/// Control characters become spaces, characters Shift_JIS lacks become 〓 (the customary
/// substitution mark), and the text is cut to 40 Shift_JIS bytes on a character boundary.
fn item_name(description: &str) -> Option<String> {
    let mut out = String::new();
    let mut bytes = 0;
    for c in description.trim().chars() {
        let c = if c.is_control() { ' ' } else { c };
        let mut buf = [0u8; 4];
        let (c, len) = match protocol::encode_sjis(c.encode_utf8(&mut buf)) {
            Some(b) => (c, b.len()),
            None => ('〓', 2),
        };
        if bytes + len > ITEM_NAME_BYTES {
            break;
        }
        bytes += len;
        out.push(c);
    }
    let out = out.trim().to_owned();
    (!out.is_empty()).then_some(out)
}

renkei_sdk::export_gateway!(Sbps);

#[cfg(test)]
mod tests;
