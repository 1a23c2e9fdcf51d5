//! The journal's transactions, written once over the small set of SQL primitives each backend
//! provides ([`Tx`]). Backends differ in dialect and locking, never in rules.

use super::ledger;
use super::model::*;
use super::store::*;
use renkei_sdk::OrderRef;

/// One database transaction of a backend.
pub(crate) trait Tx {
    /// Takes the order's lock until the transaction ends (PostgreSQL: an advisory lock; SQLite:
    /// the database write lock is already held).
    fn lock_order(&mut self, order: &str) -> Result<(), JournalError>;
    /// Takes the lock of the order an operation is on. PostgreSQL does it in one statement;
    /// the decisions are made on what is read after it.
    fn lock_operation(&mut self, op: OperationId) -> Result<(), JournalError> {
        let rec = self
            .op_by_id(op)?
            .ok_or(JournalError::UnknownOperation(op))?;
        self.lock_order(rec.order.as_str())
    }
    fn load_order(&mut self, order: &str) -> Result<Option<OrderRecord>, JournalError>;
    fn save_order(&mut self, order: &OrderRecord, now_ms: i64) -> Result<(), JournalError>;
    fn op_by_key(&mut self, key: &str) -> Result<Option<OperationRecord>, JournalError>;
    fn op_by_id(&mut self, id: OperationId) -> Result<Option<OperationRecord>, JournalError>;
    fn active_op(&mut self, order: &str) -> Result<Option<OperationRecord>, JournalError>;
    /// `op_by_key` and `active_op` (PostgreSQL: in one statement).
    fn op_by_key_and_active(
        &mut self,
        key: &str,
        order: &str,
    ) -> Result<(Option<OperationRecord>, Option<OperationRecord>), JournalError> {
        Ok((self.op_by_key(key)?, self.active_op(order)?))
    }
    /// `insert_op` and the operation's first exchange (PostgreSQL: in one statement).
    fn insert_op_sending(
        &mut self,
        op: &NewOperation,
        now_ms: i64,
        lease_until: i64,
        owner: &str,
        first: &SentExchange,
    ) -> Result<(OperationRecord, ExchangeId), JournalError> {
        let rec = self.insert_op(op, now_ms, lease_until, owner)?;
        let x = self.insert_exchange(rec.id, first, now_ms)?;
        Ok((rec, x))
    }
    /// An operation and its order (PostgreSQL: in one statement).
    fn load_op_and_order(
        &mut self,
        id: OperationId,
    ) -> Result<(OperationRecord, Option<OrderRecord>), JournalError> {
        let op = self
            .op_by_id(id)?
            .ok_or(JournalError::UnknownOperation(id))?;
        let order = self.load_order(op.order.as_str())?;
        Ok((op, order))
    }
    /// The shop's row and the journal's order (PostgreSQL: in one statement).
    fn load_shop_and_order(
        &mut self,
        order: &str,
    ) -> Result<(Option<ShopRow>, Option<OrderRecord>), JournalError> {
        Ok((self.load_shop_row(order)?, self.load_order(order)?))
    }
    fn insert_op(
        &mut self,
        op: &NewOperation,
        now_ms: i64,
        lease_until: i64,
        owner: &str,
    ) -> Result<OperationRecord, JournalError>;
    /// `update_op`, after recording the reply of the operation's last exchange when there is
    /// one (PostgreSQL: both in one statement).
    fn update_op_after(
        &mut self,
        op: &OperationRecord,
        lease_until: Option<i64>,
        last: Option<(ExchangeId, &ReplyRecord)>,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        if let Some((x, reply)) = last {
            self.set_reply(x, reply, now_ms)?;
        }
        self.update_op(op, lease_until)
    }
    /// A success's writes: the order when it changed, the operation after its last reply, and
    /// the shop's record when the shop handed one along (a compare-and-set, as
    /// [`Tx::save_shop_row`]); whether the shop's record was written. PostgreSQL makes this
    /// one statement.
    fn write_success(
        &mut self,
        order: Option<&OrderRecord>,
        op: &OperationRecord,
        last: Option<(ExchangeId, &ReplyRecord)>,
        shop: Option<&ShopRow>,
        now_ms: i64,
    ) -> Result<bool, JournalError> {
        if let Some(o) = order {
            self.save_order(o, now_ms)?;
        }
        self.update_op_after(op, None, last, now_ms)?;
        match shop {
            Some(row) => self.save_shop_row(row),
            None => Ok(false),
        }
    }
    /// Writes status, attempt, outcome, evidence and `updated_at`; `lease_until` when given.
    fn update_op(
        &mut self,
        op: &OperationRecord,
        lease_until: Option<i64>,
    ) -> Result<(), JournalError>;
    fn insert_exchange(
        &mut self,
        op: OperationId,
        x: &SentExchange,
        now_ms: i64,
    ) -> Result<ExchangeId, JournalError>;
    fn set_reply(
        &mut self,
        x: ExchangeId,
        reply: &ReplyRecord,
        now_ms: i64,
    ) -> Result<(), JournalError>;
    /// At most one active operation with `lease_until < now`, given a new lease and owner.
    fn claim_stale(
        &mut self,
        now_ms: i64,
        lease_until: i64,
        owner: &str,
    ) -> Result<Vec<OperationRecord>, JournalError>;
    fn ops_for_order(&mut self, order: &str) -> Result<Vec<OperationRecord>, JournalError>;
    fn exchanges_for_op(&mut self, op: OperationId) -> Result<Vec<ExchangeRecord>, JournalError>;
    fn insert_drift(&mut self, d: &NewDrift, now_ms: i64) -> Result<DriftRecord, JournalError>;
    /// The open drift event of `kind` for `order`, if any.
    fn open_drift(&mut self, order: &str, kind: &str) -> Result<Option<DriftRecord>, JournalError>;
    fn drift_by_id(&mut self, id: DriftId) -> Result<Option<DriftRecord>, JournalError>;
    fn list_drifts(&mut self, open_only: bool) -> Result<Vec<DriftRecord>, JournalError>;
    fn close_drift(
        &mut self,
        id: DriftId,
        action: &str,
        operator: &str,
        now_ms: i64,
    ) -> Result<(), JournalError>;
    /// Operations with `status`, oldest first.
    fn ops_with_status(
        &mut self,
        status: OperationStatus,
    ) -> Result<Vec<OperationRecord>, JournalError>;
    /// Writes the shop's row at `row.version + 1` if the stored row is at `row.version` (0: it
    /// does not exist), in one statement (a compare-and-set the database makes atomic); whether
    /// it was written.
    fn save_shop_row(&mut self, row: &ShopRow) -> Result<bool, JournalError>;
    fn load_shop_row(&mut self, order: &str) -> Result<Option<ShopRow>, JournalError>;
    /// A shop's rows in order-reference order; only the unpaid ones when `unpaid_only`.
    fn list_shop_rows(
        &mut self,
        shop: &str,
        unpaid_only: bool,
    ) -> Result<Vec<ShopRow>, JournalError>;
}

/// A backend: a way to run a closure in one committed transaction.
pub(crate) trait Backend: Send + Sync + 'static {
    const NAME: &'static str;
    /// See [`JournalStore::reads_in_place`].
    const READS_IN_PLACE: bool = false;
    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back on `Err`.
    fn transaction<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>,
    ) -> Result<T, JournalError>;

    /// Runs a closure that only reads, on a consistent snapshot of committed data. A backend
    /// may serve it apart from the writers (SQLite: its own connection, which a commit's fsync
    /// does not hold up).
    fn read<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        self.transaction(f)
    }
}

/// A [`JournalStore`] over a backend. Each handle is one writer identity (`owner`): the
/// operations it starts or claims are its own, and its writes to any other are refused.
pub(crate) struct Journal<B> {
    pub(crate) backend: B,
    pub(crate) owner: String,
}

impl<B> Journal<B> {
    pub(crate) fn new(backend: B) -> Journal<B> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Journal {
            backend,
            owner: format!(
                "{:x}-{nanos:x}-{:x}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }
}

/// Refuses a write to an active operation this handle does not hold.
fn expect_owner(op: &OperationRecord, owner: &str) -> Result<(), JournalError> {
    if op.owner.as_deref() == Some(owner) {
        Ok(())
    } else {
        Err(JournalError::NotOwner(op.id))
    }
}

fn load_op(tx: &mut dyn Tx, id: OperationId) -> Result<OperationRecord, JournalError> {
    tx.op_by_id(id)?.ok_or(JournalError::UnknownOperation(id))
}

/// Loads an operation under its order's lock. The first read only finds the order; the second,
/// after the lock, is the one decisions are made on (PostgreSQL reads committed data, so a
/// concurrent writer's change is seen rather than overwritten).
fn load_locked(tx: &mut dyn Tx, id: OperationId) -> Result<OperationRecord, JournalError> {
    tx.lock_operation(id)?;
    load_op(tx, id)
}

fn expect_active(op: &OperationRecord) -> Result<(), JournalError> {
    if op.status.is_active() {
        Ok(())
    } else {
        Err(JournalError::WrongStatus {
            id: op.id,
            status: op.status,
            expected: "pending or unknown",
        })
    }
}

/// Loads an operation this host is still driving, under its order's lock: every write on an
/// active operation starts here, so a host whose lease ran out never writes over the one that
/// took it over. The previous exchange's reply is recorded with the operation's update
/// ([`Tx::update_op_after`]), in the same transaction; a call refused here has written nothing
/// (see `group.rs`).
fn load_held(
    tx: &mut dyn Tx,
    id: OperationId,
    owner: &str,
) -> Result<OperationRecord, JournalError> {
    let rec = load_locked(tx, id)?;
    expect_active(&rec)?;
    expect_owner(&rec, owner)?;
    Ok(rec)
}

/// Appends an exchange at the operation's next index. The journal numbers exchanges itself: a
/// retried key (a new attempt of the same operation) and resolution steps continue the sequence.
fn insert_next_exchange(
    tx: &mut dyn Tx,
    op: &OperationRecord,
    exchange: &SentExchange,
    now_ms: i64,
) -> Result<ExchangeId, JournalError> {
    let next = tx.exchanges_for_op(op.id)?.len() as u32;
    let numbered = SentExchange {
        step_index: next,
        attempt: op.attempt,
        ..exchange.clone()
    };
    tx.insert_exchange(op.id, &numbered, now_ms)
}

/// The checks and writes of `begin`, inside a caller's transaction.
/// With `first`, a new operation is inserted with its first exchange (one statement on
/// PostgreSQL), whose id is returned; a retried one gets no exchange here.
fn begin_in(
    tx: &mut dyn Tx,
    new: &NewOperation,
    first: Option<&SentExchange>,
    now_ms: i64,
    lease_ms: i64,
    owner: &str,
) -> Result<(Begin, Option<ExchangeId>), JournalError> {
    let order_ref = new.order.as_str();
    tx.lock_order(order_ref)?;
    let (existing, active) = tx.op_by_key_and_active(&new.idempotency_key, order_ref)?;
    if let Some(op) = &existing {
        if op.order != new.order || op.kind != new.kind {
            return Err(JournalError::KeyConflict {
                key: new.idempotency_key.clone(),
                existing: format!("{} on order {}", op.kind, op.order),
            });
        }
        match op.status {
            OperationStatus::Succeeded => return Ok((Begin::AlreadyDone(op.clone()), None)),
            OperationStatus::Resolved if op.outcome.is_some() => {
                return Ok((Begin::AlreadyDone(op.clone()), None));
            }
            OperationStatus::Pending | OperationStatus::Unknown => {
                return Err(ledger::Refusal::Busy {
                    order: order_ref.to_owned(),
                    operation: op.kind,
                }
                .into());
            }
            OperationStatus::NeedsReview => {
                return Err(ledger::Refusal::NeedsReview {
                    order: order_ref.to_owned(),
                    reason: op.evidence.clone().unwrap_or_default(),
                }
                .into());
            }
            // Certainly not applied: the same shop action may be tried again.
            OperationStatus::Failed | OperationStatus::Resolved => {}
        }
    }
    if let Some(active) = active {
        return Err(ledger::Refusal::Busy {
            order: order_ref.to_owned(),
            operation: active.kind,
        }
        .into());
    }
    let order = tx.load_order(order_ref)?;
    if let Some(read) = new.expected_version {
        let now = order.as_ref().map(|o| o.version);
        if now != Some(read) {
            return Err(ledger::Refusal::Amount {
                order: order_ref.to_owned(),
                reason: format!(
                    "the order changed while the operation was prepared (version {read} was \
                     read, {} now): read it again",
                    now.map_or_else(|| "none".to_owned(), |v| v.to_string())
                ),
            }
            .into());
        }
    }
    ledger::check_begin(
        order_ref,
        &new.gateway,
        order.as_ref(),
        new.kind,
        new.amount,
    )?;
    if order.is_none() {
        // A first authorization creates the order's row now, so that an unknown outcome
        // can block the order (no second authorization) until it is resolved.
        let currency = new
            .amount
            .map(|a| a.currency)
            .ok_or_else(|| ledger::Refusal::Amount {
                order: order_ref.to_owned(),
                reason: "an authorization needs an amount".into(),
            })?;
        tx.save_order(
            &OrderRecord::awaiting(&new.order, &new.gateway, currency),
            now_ms,
        )?;
    }
    let lease_until = now_ms + lease_ms;
    let (op, exchange) = match existing {
        Some(mut op) => {
            op.status = OperationStatus::Pending;
            op.attempt += 1;
            op.evidence = None;
            op.outcome = None;
            op.amount = new.amount;
            op.owner = Some(owner.to_owned());
            op.updated_at_ms = now_ms;
            tx.update_op(&op, Some(lease_until))?;
            (op, None)
        }
        None => match first {
            Some(x) => {
                let numbered = SentExchange {
                    step_index: 0,
                    attempt: 1,
                    ..x.clone()
                };
                let (op, id) = tx.insert_op_sending(new, now_ms, lease_until, owner, &numbered)?;
                (op, Some(id))
            }
            None => (tx.insert_op(new, now_ms, lease_until, owner)?, None),
        },
    };
    Ok((Begin::Started(op), exchange))
}

/// Writes the shop's row if it is still at `row.version` (the order's lock is held); its new
/// version, or `None` when it changed (the caller then writes it itself).
impl<B: Backend> Journal<B> {
    /// Ends the held operation's attempt in `status` with its evidence, after recording `last`;
    /// `lease_until` keeps the lease (an unknown outcome stays held while it is resolved).
    fn settle(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        status: OperationStatus,
        evidence: &str,
        now_ms: i64,
        lease_until: Option<i64>,
    ) -> Result<(), JournalError> {
        self.backend.transaction(&mut |tx| {
            let mut rec = load_held(tx, op, &self.owner)?;
            rec.status = status;
            rec.evidence = Some(evidence.to_owned());
            rec.updated_at_ms = now_ms;
            tx.update_op_after(&rec, lease_until, last, now_ms)
        })
    }
}

/// A reply that contradicts the journal: not applied, kept as evidence with the operation, which
/// needs review, and the order waits for an operator.
fn to_review(
    tx: &mut dyn Tx,
    mut rec: OperationRecord,
    order: Option<OrderRecord>,
    contradiction: &ledger::Contradiction,
    outcome: &StoredOutcome,
    last: Option<(ExchangeId, &ReplyRecord)>,
    now_ms: i64,
) -> Result<(), JournalError> {
    rec.status = OperationStatus::NeedsReview;
    rec.evidence = Some(format!(
        "{contradiction}; reply: {}",
        serde_json::to_string(outcome).unwrap_or_default()
    ));
    tx.update_op_after(&rec, None, last, now_ms)?;
    if let Some(mut o) = order {
        o.review = Some(contradiction.to_string());
        o.version += 1;
        tx.save_order(&o, now_ms)?;
    }
    Ok(())
}

impl<B: Backend> JournalStore for Journal<B> {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    fn reads_in_place(&self) -> bool {
        B::READS_IN_PLACE
    }

    fn register_order(&self, order: &OrderRecord) -> Result<OrderRecord, JournalError> {
        self.backend.transaction(&mut |tx| {
            tx.lock_order(order.order.as_str())?;
            if let Some(existing) = tx.load_order(order.order.as_str())? {
                return Ok(existing);
            }
            tx.save_order(order, 0)?;
            Ok(order.clone())
        })
    }

    fn begin(&self, new: &NewOperation, now_ms: i64, lease_ms: i64) -> Result<Begin, JournalError> {
        self.backend
            .transaction(&mut |tx| Ok(begin_in(tx, new, None, now_ms, lease_ms, &self.owner)?.0))
    }

    fn begin_send(
        &self,
        new: &NewOperation,
        first: &SentExchange,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<(Begin, Option<ExchangeId>), JournalError> {
        self.backend.transaction(&mut |tx| {
            let (begun, inserted) = begin_in(tx, new, Some(first), now_ms, lease_ms, &self.owner)?;
            let exchange = match (&begun, inserted) {
                (Begin::Started(_), Some(id)) => Some(id),
                (Begin::Started(op), None) => Some(insert_next_exchange(tx, op, first, now_ms)?),
                (Begin::AlreadyDone(_), _) => None,
            };
            Ok((begun, exchange))
        })
    }

    fn record_send(
        &self,
        op: OperationId,
        previous: Option<(ExchangeId, &ReplyRecord)>,
        exchange: &SentExchange,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<ExchangeId, JournalError> {
        self.backend.transaction(&mut |tx| {
            let mut rec = load_held(tx, op, &self.owner)?;
            rec.updated_at_ms = now_ms;
            tx.update_op_after(&rec, Some(now_ms + lease_ms), previous, now_ms)?;
            insert_next_exchange(tx, &rec, exchange, now_ms)
        })
    }

    fn record_reply(
        &self,
        exchange: ExchangeId,
        reply: &ReplyRecord,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.backend
            .transaction(&mut |tx| tx.set_reply(exchange, reply, now_ms))
    }

    fn succeed(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        outcome: &StoredOutcome,
        now_ms: i64,
        shop: Option<&ShopFollowUp>,
    ) -> Result<Applied, JournalError> {
        let result = self.backend.transaction(&mut |tx| {
            // As `load_held`, with the order read in the same statement.
            tx.lock_operation(op)?;
            let (mut rec, order) = tx.load_op_and_order(op)?;
            expect_active(&rec)?;
            expect_owner(&rec, &self.owner)?;
            rec.updated_at_ms = now_ms;
            match ledger::apply(order.as_ref(), &rec, outcome) {
                Ok((next, drift)) => {
                    let changed = next.version != order.as_ref().map_or(-1, |o| o.version);
                    rec.status = OperationStatus::Succeeded;
                    rec.outcome = Some(outcome.clone());
                    rec.evidence = drift.as_ref().map(|d| format!("drift: {}", d.detail));
                    let row = shop.and_then(|f| f(&rec, &next));
                    let written = tx.write_success(
                        changed.then_some(&next),
                        &rec,
                        last,
                        row.as_ref(),
                        now_ms,
                    )?;
                    let shop_version = row.filter(|_| written).map(|r| r.version + 1);
                    Ok(Ok(Applied {
                        order: next,
                        drift,
                        operation: rec.clone(),
                        shop_version,
                    }))
                }
                Err(contradiction) => {
                    to_review(tx, rec, order, &contradiction, outcome, last, now_ms)?;
                    Ok(Err(contradiction))
                }
            }
        })?;
        result.map_err(JournalError::Contradiction)
    }

    fn fail_changed(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        left: &StoredOutcome,
        evidence: &str,
        now_ms: i64,
    ) -> Result<OrderRecord, JournalError> {
        let result = self.backend.transaction(&mut |tx| {
            tx.lock_operation(op)?;
            let (mut rec, order) = tx.load_op_and_order(op)?;
            expect_active(&rec)?;
            expect_owner(&rec, &self.owner)?;
            rec.updated_at_ms = now_ms;
            match ledger::apply_changed_before(order.as_ref(), &rec, left) {
                Ok(next) => {
                    // Failed: no outcome of its own, so a repeat of its key runs it again.
                    rec.status = OperationStatus::Failed;
                    rec.evidence = Some(evidence.to_owned());
                    tx.write_success(Some(&next), &rec, last, None, now_ms)?;
                    Ok(Ok(next))
                }
                Err(contradiction) => {
                    to_review(tx, rec, order, &contradiction, left, last, now_ms)?;
                    Ok(Err(contradiction))
                }
            }
        })?;
        result.map_err(JournalError::Contradiction)
    }

    fn fail(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        evidence: &str,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.settle(op, last, OperationStatus::Failed, evidence, now_ms, None)
    }

    fn mark_unknown(
        &self,
        op: OperationId,
        last: Option<(ExchangeId, &ReplyRecord)>,
        evidence: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<(), JournalError> {
        let lease_until = Some(now_ms + lease_ms);
        self.settle(
            op,
            last,
            OperationStatus::Unknown,
            evidence,
            now_ms,
            lease_until,
        )
    }

    fn needs_review(
        &self,
        op: OperationId,
        evidence: &str,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        self.backend.transaction(&mut |tx| {
            let mut rec = load_held(tx, op, &self.owner)?;
            rec.status = OperationStatus::NeedsReview;
            rec.evidence = Some(evidence.to_owned());
            rec.updated_at_ms = now_ms;
            tx.update_op(&rec, None)?;
            // An authorization that never produced an order row still blocks nothing; every other
            // operation blocks its order until an operator decides.
            if let Some(mut o) = tx.load_order(rec.order.as_str())? {
                o.review = Some(format!("{} (operation {}): {evidence}", rec.kind, rec.id.0));
                o.version += 1;
                tx.save_order(&o, now_ms)?;
            }
            Ok(())
        })
    }

    fn resolve(
        &self,
        op: OperationId,
        decision: &Decision,
        operator: &str,
        now_ms: i64,
    ) -> Result<OrderRecord, JournalError> {
        self.backend.transaction(&mut |tx| {
            let mut rec = load_locked(tx, op)?;
            if rec.status != OperationStatus::NeedsReview {
                return Err(JournalError::WrongStatus {
                    id: op,
                    status: rec.status,
                    expected: "needs_review",
                });
            }
            let mut order = tx.load_order(rec.order.as_str())?;
            if let Some(o) = &mut order {
                o.review = None;
            }
            let note = format!("resolved by {operator}");
            // The operator's decision is when the journal learns it took effect.
            rec.updated_at_ms = now_ms;
            match decision {
                Decision::TookEffect(outcome) => {
                    let (next, _) = ledger::apply(order.as_ref(), &rec, outcome)?;
                    tx.save_order(&next, now_ms)?;
                    order = Some(next);
                    rec.outcome = Some((**outcome).clone());
                    rec.evidence = Some(format!(
                        "{}; {note}: took effect",
                        rec.evidence.clone().unwrap_or_default()
                    ));
                }
                Decision::NoEffect => {
                    if let Some(o) = &mut order {
                        o.version += 1;
                        tx.save_order(o, now_ms)?;
                    }
                    rec.outcome = None;
                    rec.evidence = Some(format!(
                        "{}; {note}: no effect",
                        rec.evidence.clone().unwrap_or_default()
                    ));
                }
            }
            rec.status = OperationStatus::Resolved;
            rec.updated_at_ms = now_ms;
            tx.update_op(&rec, None)?;
            order.ok_or_else(|| {
                JournalError::Corrupt(format!("order {} vanished during resolution", rec.order))
            })
        })
    }

    fn claim_stale(
        &self,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OperationRecord>, JournalError> {
        self.backend
            .transaction(&mut |tx| tx.claim_stale(now_ms, now_ms + lease_ms, &self.owner))
    }

    fn save_shop_row(&self, row: &ShopRow) -> Result<i64, JournalError> {
        self.backend.transaction(&mut |tx| {
            if tx.save_shop_row(row)? {
                Ok(row.version + 1)
            } else {
                Err(JournalError::ShopRecordChanged {
                    order: row.order.to_string(),
                })
            }
        })
    }

    fn shop_row_and_order(
        &self,
        order: &OrderRef,
    ) -> Result<(Option<ShopRow>, Option<OrderRecord>), JournalError> {
        self.backend
            .read(&mut |tx| tx.load_shop_and_order(order.as_str()))
    }

    fn shop_row(&self, order: &OrderRef) -> Result<Option<ShopRow>, JournalError> {
        self.backend
            .read(&mut |tx| tx.load_shop_row(order.as_str()))
    }

    fn shop_rows(&self, shop: &str, unpaid_only: bool) -> Result<Vec<ShopRow>, JournalError> {
        self.backend
            .read(&mut |tx| tx.list_shop_rows(shop, unpaid_only))
    }

    fn record_drift(&self, drift: &NewDrift, now_ms: i64) -> Result<DriftRecord, JournalError> {
        self.backend.transaction(&mut |tx| {
            tx.lock_order(drift.order.as_str())?;
            if let Some(open) = tx.open_drift(drift.order.as_str(), &drift.kind)? {
                return Ok(open);
            }
            tx.insert_drift(drift, now_ms)
        })
    }

    fn drifts(&self, open_only: bool) -> Result<Vec<DriftRecord>, JournalError> {
        self.backend.read(&mut |tx| tx.list_drifts(open_only))
    }

    fn resolve_drift(
        &self,
        id: DriftId,
        decision: &DriftDecision,
        operator: &str,
        now_ms: i64,
    ) -> Result<OrderRecord, JournalError> {
        self.backend.transaction(&mut |tx| {
            let drift = tx
                .drift_by_id(id)?
                .ok_or_else(|| JournalError::Corrupt(format!("no drift event {}", id.0)))?;
            if drift.resolution.is_some() {
                return Err(JournalError::DriftClosed(id));
            }
            tx.lock_order(drift.order.as_str())?;
            let order = tx
                .load_order(drift.order.as_str())?
                .ok_or_else(|| ledger::Refusal::UnknownOrder(drift.order.to_string()))?;
            if let Some(active) = tx.active_op(drift.order.as_str())? {
                // The order's money is moving: adopting now could be overtaken by it.
                return Err(ledger::Refusal::Busy {
                    order: drift.order.to_string(),
                    operation: active.kind,
                }
                .into());
            }
            let (order, action) = match decision {
                DriftDecision::Adopt(seen) => {
                    let next = ledger::adopt(&order, seen)?;
                    tx.save_order(&next, now_ms)?;
                    (next, "adopted")
                }
                DriftDecision::Dismiss => (order, "dismissed"),
            };
            tx.close_drift(id, action, operator, now_ms)?;
            Ok(order)
        })
    }

    fn operations_in_review(&self) -> Result<Vec<OperationRecord>, JournalError> {
        self.backend
            .read(&mut |tx| tx.ops_with_status(OperationStatus::NeedsReview))
    }

    fn order(&self, order: &OrderRef) -> Result<Option<OrderRecord>, JournalError> {
        self.backend.read(&mut |tx| tx.load_order(order.as_str()))
    }

    fn operation(&self, op: OperationId) -> Result<Option<OperationRecord>, JournalError> {
        self.backend.read(&mut |tx| tx.op_by_id(op))
    }

    fn operation_by_key(&self, key: &str) -> Result<Option<OperationRecord>, JournalError> {
        self.backend.read(&mut |tx| tx.op_by_key(key))
    }

    fn operations(&self, order: &OrderRef) -> Result<Vec<OperationRecord>, JournalError> {
        self.backend
            .read(&mut |tx| tx.ops_for_order(order.as_str()))
    }

    fn exchanges(&self, op: OperationId) -> Result<Vec<ExchangeRecord>, JournalError> {
        self.backend.read(&mut |tx| tx.exchanges_for_op(op))
    }
}
