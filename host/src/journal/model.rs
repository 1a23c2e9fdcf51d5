//! What the journal stores.

use renkei_sdk::{
    Currency, Money, OperationKind, OrderRef, Outcome, PaymentState, StepEffect, TransactionRef,
};
use serde::{Deserialize, Serialize};

/// Row id of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OperationId(pub i64);

/// Row id of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExchangeId(pub i64);

/// Where an operation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    /// Started; exchanges may be in flight. Holds the order's single writer slot.
    Pending,
    /// Took effect; the outcome is applied to the order.
    Succeeded,
    /// Certainly did not take effect.
    Failed,
    /// May have taken effect; being resolved (inquiry, replay). Still holds the writer slot.
    Unknown,
    /// Could not be resolved automatically; the order is blocked until an operator decides.
    NeedsReview,
    /// An operator decided what happened.
    Resolved,
}

impl OperationStatus {
    pub fn name(self) -> &'static str {
        match self {
            OperationStatus::Pending => "pending",
            OperationStatus::Succeeded => "succeeded",
            OperationStatus::Failed => "failed",
            OperationStatus::Unknown => "unknown",
            OperationStatus::NeedsReview => "needs_review",
            OperationStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<OperationStatus> {
        [
            OperationStatus::Pending,
            OperationStatus::Succeeded,
            OperationStatus::Failed,
            OperationStatus::Unknown,
            OperationStatus::NeedsReview,
            OperationStatus::Resolved,
        ]
        .into_iter()
        .find(|s2| s2.name() == s)
    }

    /// Statuses that hold the order's writer slot.
    pub fn is_active(self) -> bool {
        matches!(self, OperationStatus::Pending | OperationStatus::Unknown)
    }
}

/// A gateway operation about to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOperation {
    pub order: OrderRef,
    /// The gateway instance name.
    pub gateway: String,
    pub kind: OperationKind,
    /// The amount the operation would move (see `Operation::amount`).
    pub amount: Option<Money>,
    pub idempotency_key: String,
    pub plugin_id: String,
    pub plugin_version: String,
    /// What the caller will do once the operation took effect (the shop layer's change to its
    /// own record), kept with the operation so that a caller that died before doing it can be
    /// brought in line from the journal. Opaque to the journal.
    pub intent: Option<String>,
    /// The order's journal version the caller decided on, when it read the order first: the
    /// operation is refused if the order changed since (another action finished in between), so
    /// a request built from what was read never goes out against a different order.
    pub expected_version: Option<i64>,
}

/// A journaled operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OperationRecord {
    pub id: OperationId,
    pub order: OrderRef,
    pub gateway: String,
    pub kind: OperationKind,
    pub amount: Option<Money>,
    pub idempotency_key: String,
    pub plugin_id: String,
    pub plugin_version: String,
    pub status: OperationStatus,
    /// The journal handle (host) that holds the operation while it is active; set when it
    /// starts or is claimed for recovery. Writes from any other handle are refused.
    pub owner: Option<String>,
    pub attempt: u32,
    /// The applied outcome (succeeded), as JSON.
    pub outcome: Option<StoredOutcome>,
    /// Why it failed, is unknown, or needs review.
    pub evidence: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// See [`NewOperation::intent`].
    pub intent: Option<String>,
}

/// The part of an [`Outcome`] the journal keeps (everything but free-form notes is typed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOutcome {
    pub state: PaymentState,
    pub gateway_status: Option<String>,
    pub transaction: Option<TransactionRef>,
    pub replaced: Option<TransactionRef>,
    /// The payment's handle after the operation, as journaled (SDK 0.2's `Outcome::handle`,
    /// with its secret parts sealed by the executor); `None` leaves the order's as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<StoredHandle>,
    pub authorization_code: Option<String>,
    pub authorized: Option<Money>,
    pub captured: Option<Money>,
    pub refunded: Option<Money>,
    pub notes: Vec<String>,
}

impl From<&Outcome> for StoredOutcome {
    fn from(o: &Outcome) -> StoredOutcome {
        StoredOutcome {
            state: o.state.clone(),
            gateway_status: o.gateway_status.clone(),
            transaction: o.transaction.clone(),
            replaced: o.replaced.clone(),
            // Sealed by the executor, which holds the key (`crate::seal`).
            handle: None,
            authorization_code: o.authorization_code.clone(),
            authorized: o.authorized,
            captured: o.captured,
            refunded: o.refunded,
            notes: o.notes.clone(),
        }
    }
}

/// A payment's handle (`renkei_sdk::Handle`) as the journal keeps it: public parts in clear,
/// secret parts sealed with the host's handle key, or only named where the host keeps them in
/// memory (see `crate::seal`). Never a secret in clear.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHandle {
    pub public: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_names: Vec<String>,
    /// The secret parts, sealed: a format byte, the nonce and the ciphertext, as hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

/// An exchange, as written before it is sent (redacted: no secret, no card number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentExchange {
    pub step_index: u32,
    /// The operation's attempt that sent it; set by the journal, like `step_index`.
    pub attempt: u32,
    pub step: String,
    pub method: String,
    pub url: String,
    /// Header names and values with credentials replaced.
    pub headers: Vec<(String, String)>,
    /// The plugin's redacted copy of the body, if it gave one.
    pub body: Option<String>,
    /// The plugin's continuation for this step.
    pub state: Vec<u8>,
    /// What the plugin declared the request can do at the gateway.
    pub effect: StepEffect,
}

/// What came back for an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyRecord {
    Reply {
        status: u16,
        body: Vec<u8>,
    },
    /// No reply (timeout, reset): the exchange's effect is unknown.
    NoReply {
        error: String,
    },
}

/// A journaled exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeRecord {
    pub id: ExchangeId,
    pub operation: OperationId,
    pub sent: SentExchange,
    pub sent_at_ms: i64,
    /// `None` while the reply is outstanding (a crash, or in flight).
    pub reply: Option<ReplyRecord>,
}

/// The money state of one order at its gateway, as the journal knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderRecord {
    pub order: OrderRef,
    pub gateway: String,
    pub transaction: Option<TransactionRef>,
    /// The plugin's handle on the payment, as journaled (secret parts sealed or only named).
    pub handle: Option<StoredHandle>,
    /// When the payment was authorized and captured (the host's clock at each success, Unix
    /// milliseconds), handed to plugins that decide by date (`Context::dates`).
    pub authorized_at_ms: Option<i64>,
    pub captured_at_ms: Option<i64>,
    pub state: PaymentState,
    pub gateway_status: Option<String>,
    pub authorized: Money,
    pub captured: Money,
    pub refunded: Money,
    /// Set when the order needs an operator's review, with the reason.
    pub review: Option<String>,
    /// Bumped on every change.
    pub version: i64,
}

impl OrderRecord {
    /// An order with no authorization yet (a pre-order, or one about to be authorized).
    pub fn awaiting(order: &OrderRef, gateway: &str, currency: Currency) -> OrderRecord {
        let zero = Money::new(0, currency);
        OrderRecord {
            order: order.clone(),
            gateway: gateway.to_owned(),
            transaction: None,
            handle: None,
            authorized_at_ms: None,
            captured_at_ms: None,
            state: PaymentState::AwaitingAuthorization,
            gateway_status: None,
            authorized: zero,
            captured: zero,
            refunded: zero,
            review: None,
            version: 0,
        }
    }
}

/// The shop's side of an order, kept next to the journal so that the shop actions, bulk runs and
/// reconciliation survive a restart. The journal stores it as an opaque document (the shop layer
/// owns its shape); only the shop id and the "unpaid" flag are columns, for listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopRow {
    pub order: OrderRef,
    pub shop: String,
    /// The order awaits a payment (the unpaid list of the order-management screen).
    pub unpaid: bool,
    /// The shop layer's JSON document.
    pub data: String,
    pub updated_ms: i64,
    /// Bumped on every write. A write names the version it read (0: a new order) and is
    /// refused if another write came first, so concurrent actions never lose each other's
    /// changes.
    pub version: i64,
}

/// Row id of a drift event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DriftId(pub i64);

/// A difference between the gateway and the journal found by an inquiry or by a gateway's
/// "already done" answer (G-8), about to be kept for an operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDrift {
    pub order: OrderRef,
    pub gateway: String,
    /// A short stable name of the kind of difference (`captured_at_gateway`, …).
    pub kind: String,
    /// What was found, for the operator, in words.
    pub detail: String,
    pub journal_state: PaymentState,
    pub gateway_state: PaymentState,
    pub gateway_status: Option<String>,
}

/// A kept drift event. It stays open until an operator adopts the gateway's state into the
/// journal or dismisses it; either is journaled with their name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriftRecord {
    pub id: DriftId,
    pub order: OrderRef,
    pub gateway: String,
    pub kind: String,
    pub detail: String,
    pub journal_state: PaymentState,
    pub gateway_state: PaymentState,
    pub gateway_status: Option<String>,
    pub found_at_ms: i64,
    pub resolution: Option<DriftResolution>,
}

/// How an operator closed a drift event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriftResolution {
    /// `adopted` or `dismissed`.
    pub action: String,
    pub operator: String,
    pub at_ms: i64,
}
