//! The storage interface every journal backend implements.

use super::ledger::{Contradiction, Drift, Refusal};
use super::model::*;
use renkei_sdk::OrderRef;

/// Why a journal call failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The operation may not start; nothing was written.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The reply contradicts the journal; it was not applied and the order awaits review.
    #[error(transparent)]
    Contradiction(#[from] Contradiction),
    #[error("idempotency key {key} already names another operation ({existing})")]
    KeyConflict { key: String, existing: String },
    /// The shop's record of the order changed since it was read (or exists, for a new one).
    #[error("the shop's record of order {order} changed concurrently")]
    ShopRecordChanged { order: String },
    #[error("operation {0:?} is not in the journal")]
    UnknownOperation(OperationId),
    #[error("operation {id:?} is {status:?}, not {expected}")]
    WrongStatus {
        id: OperationId,
        status: OperationStatus,
        expected: &'static str,
    },
    /// Another host has taken the operation over (its lease ran out): this host must stop.
    #[error("operation {0:?} is now held by another host; this host's lease ran out")]
    NotOwner(OperationId),
    /// An operator already closed this drift event.
    #[error("drift event {} is already closed", .0.0)]
    DriftClosed(DriftId),
    #[error("journal storage: {0}")]
    Storage(String),
    #[error("journal data is corrupt: {0}")]
    Corrupt(String),
}

/// How `begin` went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// A new attempt is pending; the caller owns the order's writer slot.
    Started(OperationRecord),
    /// The same idempotency key already took effect: its stored result, nothing to send.
    AlreadyDone(OperationRecord),
}

/// The result of applying a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub order: OrderRecord,
    /// Set by inquiries whose answer differs from the journal (G-8).
    pub drift: Option<Drift>,
    /// The operation as recorded (succeeded).
    pub operation: OperationRecord,
    /// The shop record's new version, when a [`ShopFollowUp`] was written with the outcome.
    pub shop_version: Option<i64>,
}

/// The shop's record as it must read once an operation took effect, computed from the
/// operation and the order as recorded, inside the transaction that records the success: the
/// shop's own write then costs no transaction of its own. `None` writes nothing. The row is
/// written only if the stored row is still at `row.version` (as `save_shop_row`); otherwise
/// nothing is written and the caller updates the row itself. It may run more than once (a
/// shared transaction that is run again), so it must only compute.
pub type ShopFollowUp = dyn Fn(&OperationRecord, &OrderRecord) -> Option<ShopRow> + Send + Sync;

/// An operator's decision on an operation that needs review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The gateway did act: apply this outcome.
    TookEffect(Box<StoredOutcome>),
    /// The gateway did not act: the operation failed and may be tried again.
    NoEffect,
}

/// An operator's decision on a drift event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftDecision {
    /// The gateway is right: the journal takes this state and these amounts (what the operator
    /// read in the gateway's tool; `None` amounts stay as the journal has them).
    Adopt(Box<StoredOutcome>),
    /// The difference is understood and needs no change to the journal.
    Dismiss,
}

/// Durable storage for the journal. Every method is one transaction, committed before it returns:
/// in particular `record_send` is durable before the request is sent.
///
/// Methods are blocking; async callers run them on a blocking thread.
pub trait JournalStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Whether a read is quick and never waits for another call's commit (SQLite's WAL readers:
    /// microseconds on a local file): async callers then run reads in place rather than hand
    /// each to a blocking thread, a hand-off that costs more than the read.
    fn reads_in_place(&self) -> bool {
        false
    }

    /// Registers an order the host did not authorize itself: a pre-order awaiting authorization,
    /// or an order authorized elsewhere. A no-op if the order exists.
    fn register_order(&self, order: &OrderRecord) -> Result<OrderRecord, JournalError>;

    /// Starts an operation, atomically: the idempotency check, the ledger's gate
    /// (`ledger::check_begin`), and the single writer per order.
    fn begin(&self, op: &NewOperation, now_ms: i64, lease_ms: i64) -> Result<Begin, JournalError>;

    /// `begin` and the first exchange in one transaction: the single durable write before the
    /// first request leaves. Nothing is recorded when the operation was already done.
    fn begin_send(
        &self,
        op: &NewOperation,
        first: &SentExchange,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<(Begin, Option<ExchangeId>), JournalError>;

    /// Records an exchange before it is sent, with the previous exchange's reply in the same
    /// transaction, and extends the operation's lease.
    fn record_send(
        &self,
        op: OperationId,
        previous: Option<(ExchangeId, &ReplyRecord)>,
        exchange: &SentExchange,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<ExchangeId, JournalError>;

    /// Records what came back for an exchange on its own (when no other write follows).
    fn record_reply(
        &self,
        exchange: ExchangeId,
        reply: &ReplyRecord,
        now_ms: i64,
    ) -> Result<(), JournalError>;

    /// Applies a success to the order (ledger rules checked). On a contradiction nothing is
    /// applied, the operation needs review, and `JournalError::Contradiction` is returned.
    ///
    /// `last` is the final exchange's reply, recorded in the same transaction (the one durable
    /// write after the request), and so is the shop's record when `shop` gives one.
    fn succeed(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        outcome: &StoredOutcome,
        now_ms: i64,
        shop: Option<&ShopFollowUp>,
    ) -> Result<Applied, JournalError>;

    /// The operation certainly did not take effect: releases the order.
    fn fail(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        evidence: &str,
        now_ms: i64,
    ) -> Result<(), JournalError>;

    /// The operation did not take effect, but its earlier steps changed the payment as `left`
    /// says (a later step refused cleanly, `resolution::read_changed_before`): books `left` on
    /// the order by the ledger's rules (`ledger::apply_changed_before`) and fails the operation
    /// with `evidence`, in one transaction with `last`. Returns the order as booked. On a
    /// contradiction nothing is booked, the operation needs review, and
    /// `JournalError::Contradiction` is returned.
    fn fail_changed(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        left: &StoredOutcome,
        evidence: &str,
        now_ms: i64,
    ) -> Result<OrderRecord, JournalError>;

    /// The outcome is unknown; the order stays held while it is resolved.
    fn mark_unknown(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        evidence: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<(), JournalError>;

    /// Automatic resolution failed: the operation and its order await an operator.
    fn needs_review(
        &self,
        op: OperationId,
        evidence: &str,
        now_ms: i64,
    ) -> Result<(), JournalError>;

    /// An operator's decision on an operation that needs review (journaled with their name).
    fn resolve(
        &self,
        op: OperationId,
        decision: &Decision,
        operator: &str,
        now_ms: i64,
    ) -> Result<OrderRecord, JournalError>;

    /// An active operation whose lease has expired (its host died), claimed for recovery with a
    /// new lease so that two recovering hosts never take the same one. At most one per call:
    /// each is claimed just before it is resolved, so a long recovery does not let the later
    /// ones' leases run out while they wait.
    fn claim_stale(&self, now_ms: i64, lease_ms: i64)
    -> Result<Vec<OperationRecord>, JournalError>;

    /// Writes the shop's side of an order if its version is still `row.version` (0: it must
    /// not exist yet); returns the new version. Otherwise `ShopRecordChanged`, nothing written.
    fn save_shop_row(&self, row: &ShopRow) -> Result<i64, JournalError>;
    fn shop_row(&self, order: &OrderRef) -> Result<Option<ShopRow>, JournalError>;
    /// The shop's row and the journal's order, read together (one snapshot).
    fn shop_row_and_order(
        &self,
        order: &OrderRef,
    ) -> Result<(Option<ShopRow>, Option<OrderRecord>), JournalError>;
    /// A shop's orders in order-reference order; only the unpaid ones when `unpaid_only`.
    fn shop_rows(&self, shop: &str, unpaid_only: bool) -> Result<Vec<ShopRow>, JournalError>;

    /// Keeps a drift event for an operator; an open event of the same kind for the same order
    /// is returned instead of a second one.
    fn record_drift(&self, drift: &NewDrift, now_ms: i64) -> Result<DriftRecord, JournalError>;
    /// Drift events, oldest first; only those no operator has closed when `open_only`.
    fn drifts(&self, open_only: bool) -> Result<Vec<DriftRecord>, JournalError>;
    /// An operator closes a drift event: adopting the gateway's state rewrites the order's
    /// money in the journal (ledger rules checked), dismissing changes nothing but the event.
    fn resolve_drift(
        &self,
        drift: DriftId,
        decision: &DriftDecision,
        operator: &str,
        now_ms: i64,
    ) -> Result<OrderRecord, JournalError>;
    /// Every operation awaiting an operator's review, oldest first.
    fn operations_in_review(&self) -> Result<Vec<OperationRecord>, JournalError>;

    fn order(&self, order: &OrderRef) -> Result<Option<OrderRecord>, JournalError>;
    fn operation(&self, op: OperationId) -> Result<Option<OperationRecord>, JournalError>;
    fn operation_by_key(&self, key: &str) -> Result<Option<OperationRecord>, JournalError>;
    fn operations(&self, order: &OrderRef) -> Result<Vec<OperationRecord>, JournalError>;
    fn exchanges(&self, op: OperationId) -> Result<Vec<ExchangeRecord>, JournalError>;
}
