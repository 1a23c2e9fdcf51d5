//! The public entry: an operation runs exactly once per idempotency key, its first exchange
//! journaled with it before anything leaves (write-ahead), and its outcome recorded (took
//! effect, did not, or unknown and handed to `resolve`).

use super::drive::{Drive, Ran, journal_copy};
use super::{Along, Completed, ExecError, Executor, Resolution, blocking, read};
use crate::defects::Defect;
use crate::instance::GatewayInstance;
use crate::journal::ledger::resolution::{self, ChangedBefore};
use crate::journal::{
    Applied, Begin, ExchangeId, JournalError, NewOperation, OperationId, OperationRecord,
    OrderRecord, Refusal, ReplyRecord, ShopFollowUp, StoredOutcome, ledger,
};
use renkei_sdk::{Context, ErrorKind, GatewayError, Operation, Outcome, Step};
use std::sync::Arc;

impl Executor {
    /// Runs `op` exactly once for `idempotency_key`: a key that already took effect returns its
    /// stored result and sends nothing.
    ///
    /// Journal writes: one (operation + first exchange) before the first request leaves, one per
    /// further exchange (with the previous reply), and one with the last reply and the outcome.
    pub async fn execute(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        idempotency_key: &str,
    ) -> Result<Completed, ExecError> {
        self.execute_with_intent(gateway, op, idempotency_key, None)
            .await
    }

    /// [`Executor::execute`], journaling with the operation what the caller will do once it
    /// took effect (see `NewOperation::intent`).
    pub async fn execute_with_intent(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        idempotency_key: &str,
        intent: Option<&str>,
    ) -> Result<Completed, ExecError> {
        let along = Along {
            intent: intent.map(str::to_owned),
            ..Along::default()
        };
        self.execute_with(gateway, op, idempotency_key, along).await
    }

    /// [`Executor::execute`] with what the caller passes along: an intent, the order it just
    /// read (not read again), and its own record to write with the outcome. A caller that
    /// passes both makes one read and two durable writes per operation: the write-ahead
    /// before the request, and the outcome with its record after.
    pub async fn execute_with(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        idempotency_key: &str,
        along: Along,
    ) -> Result<Completed, ExecError> {
        let Along {
            intent,
            known: known_order,
            shop,
        } = along;
        let key = idempotency_key.to_owned();
        let known = read(&self.journal, move |j| j.operation_by_key(&key)).await?;
        if let Some(record) = known.as_ref().filter(|r| r.outcome.is_some()) {
            return self.stored_result(record.clone()).await;
        }
        let attempt = known.as_ref().map_or(0, |r| r.attempt) + 1;
        let manifest = gateway.manifest();
        let new = NewOperation {
            order: op.order().clone(),
            gateway: gateway.name().to_owned(),
            kind: op.kind(),
            amount: op.amount(),
            idempotency_key: idempotency_key.to_owned(),
            plugin_id: manifest.gateway_id.clone(),
            plugin_version: manifest.plugin_version.to_string(),
            intent,
            expected_version: None,
        };
        // The journal's refusals first (unknown order, cancelled, in review), without writing and
        // without asking the plugin; `begin_send` repeats them under the order's lock.
        let order = match known_order {
            Some(order) => order,
            None => {
                let order_ref = op.order().clone();
                read(&self.journal, move |j| j.order(&order_ref)).await?
            }
        };
        // Decided on this version of the order: `begin` refuses if it changed meanwhile.
        let new = NewOperation {
            expected_version: order.as_ref().map(|o| o.version),
            ..new
        };
        ledger::check_begin(
            op.order().as_str(),
            gateway.name(),
            order.as_ref(),
            op.kind(),
            op.amount(),
        )
        .map_err(ExecError::Refused)?;
        if let Some(order) = &order {
            matches_journal(op, order).map_err(ExecError::Refused)?;
        }
        let request_id = format!("{idempotency_key}/{attempt}/1");
        let order_id = gateway.order_id_for(op, idempotency_key, attempt);
        let payment = self.payment_of(order.as_ref());
        let ctx = Context {
            now: (self.clock)(),
            request_id: &request_id,
            idempotency_key,
            attempt,
            gateway_order_id: order_id.as_deref(),
            handle: payment.handle.as_ref(),
            dates: payment.dates,
        };
        // A plugin's refusal before sending (an amount out of range, an unsupported
        // operation) changes nothing and is not journaled; the journal's own refusals (unknown
        // order, final state, busy, in review) come first when there is something to send.
        let first = match gateway.prepare(op, &ctx) {
            Ok(step) => step,
            Err(error) => return Err(ExecError::Rejected(error)),
        };
        let exchange = match first {
            Step::Done(outcome) => {
                // Nothing to send: the plugin answered from its inputs alone.
                let (now, lease) = (self.now_ms(), self.lease_ms_for(gateway));
                return match blocking(&self.journal, move |j| j.begin(&new, now, lease)).await? {
                    Begin::AlreadyDone(record) => self.stored_result(record).await,
                    Begin::Started(record) => {
                        self.succeed(record, None, &outcome, None, shop).await
                    }
                };
            }
            Step::Send(x) => x,
        };
        let journaled = journal_copy(&exchange, 0);
        let (now, lease) = (self.now_ms(), self.lease_ms_for(gateway));
        let (begun, first_id) = blocking(&self.journal, move |j| {
            j.begin_send(&new, &journaled, now, lease)
        })
        .await?;
        let record = match begun {
            Begin::AlreadyDone(record) => return self.stored_result(record).await,
            Begin::Started(record) => record,
        };
        let first_id = first_id.ok_or_else(|| {
            ExecError::Journal(JournalError::Corrupt("first exchange not recorded".into()))
        })?;
        tracing::debug!(order = %op.order(), op = %op.kind(), id = record.id.0, "operation started");
        let ran = self
            .drive(
                gateway,
                op,
                &record,
                idempotency_key,
                &payment,
                exchange,
                first_id,
                0,
            )
            .await?;
        self.settle(gateway, op, record, ran, shop).await
    }

    pub(super) async fn stored_result(
        &self,
        record: OperationRecord,
    ) -> Result<Completed, ExecError> {
        let order = self.order_of(&record).await?;
        let outcome = record.outcome.clone().ok_or_else(|| {
            ExecError::Journal(JournalError::Corrupt(format!(
                "operation {} is done but has no outcome",
                record.id.0
            )))
        })?;
        Ok(Completed {
            operation: record,
            order,
            outcome,
            drift: None,
            from_journal: true,
            resolution: None,
            shop_version: None,
            steps: None,
        })
    }

    /// Turns a drive's result into a journal state, resolving unknowns.
    pub(super) async fn settle(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: OperationRecord,
        ran: Ran,
        shop: Option<Arc<ShopFollowUp>>,
    ) -> Result<Completed, ExecError> {
        let last = ran.last;
        match ran.drive {
            Drive::Done(outcome) => {
                // All of the operation's exchanges, when this is its first attempt.
                let steps = (record.attempt == 1).then_some(ran.steps);
                let mut done = self.succeed(record, last, &outcome, None, shop).await?;
                done.steps = steps;
                Ok(done)
            }
            Drive::NotApplied(error) => self.fail(record.id, last, error, None).await,
            Drive::Unknown { evidence, .. } if self.defects.has(Defect::UnknownAsFailed) => {
                let error = GatewayError::new(ErrorKind::Unavailable, evidence);
                self.fail(record.id, last, error, None).await
            }
            Drive::Unknown { evidence, first } => {
                self.unknown(gateway, op, record, last, evidence, first)
                    .await
            }
            Drive::FailedAfterChange {
                error,
                reported,
                after,
                evidence,
            } => {
                let before = self.order_of(&record).await?;
                match resolution::read_changed_before(op, before.as_ref(), after, &reported) {
                    ChangedBefore::Book(left) => {
                        self.fail_changed(record, last, error, &left).await
                    }
                    // Earlier steps changed the payment: never settled automatically.
                    ChangedBefore::Unknown(why) => {
                        let evidence = format!("{evidence}; {why}");
                        self.unknown(gateway, op, record, last, evidence, false)
                            .await
                    }
                }
            }
        }
    }

    /// Records an unknown outcome with its evidence and hands it to `resolve`.
    async fn unknown(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: OperationRecord,
        last: Option<(ExchangeId, ReplyRecord)>,
        evidence: String,
        first: bool,
    ) -> Result<Completed, ExecError> {
        let (id, ev, now, lease) = (
            record.id,
            evidence.clone(),
            self.now_ms(),
            self.resolving_lease_ms(gateway),
        );
        blocking(&self.journal, move |j| {
            j.mark_unknown(id, last.as_ref().map(|(x, r)| (*x, r)), &ev, now, lease)
        })
        .await?;
        tracing::warn!(order = %op.order(), op = %op.kind(), %evidence, "outcome unknown; resolving");
        self.resolve(gateway, op, record, evidence, first).await
    }

    /// Books what the earlier steps of a failed operation left (`left`, judged bookable by
    /// `resolution::read_changed_before`) and fails the operation with the gateway's `error`,
    /// in one journal transaction with the last reply.
    async fn fail_changed(
        &self,
        record: OperationRecord,
        last: Option<(ExchangeId, ReplyRecord)>,
        error: GatewayError,
        left: &Outcome,
    ) -> Result<Completed, ExecError> {
        let mut stored = StoredOutcome::from(left);
        stored.handle = left
            .handle
            .as_ref()
            .map(|h| self.handles.store(&record.gateway, &record.order, h));
        let evidence = format!(
            "{error}; the earlier steps left {}, booked on the order",
            resolution::describe_left(left)
        );
        let (id, now) = (record.id, self.now_ms());
        let booked = blocking(&self.journal, move |j| {
            j.fail_changed(
                id,
                last.as_ref().map(|(x, r)| (*x, r)),
                &stored,
                &evidence,
                now,
            )
        })
        .await;
        match booked {
            Ok(_) => Err(ExecError::Failed {
                operation: id,
                error,
                resolution: None,
            }),
            Err(JournalError::Contradiction(c)) => Err(ExecError::NeedsReview {
                operation: id,
                evidence: c.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn succeed(
        &self,
        record: OperationRecord,
        last: Option<(ExchangeId, ReplyRecord)>,
        outcome: &Outcome,
        resolution: Option<Resolution>,
        shop: Option<Arc<ShopFollowUp>>,
    ) -> Result<Completed, ExecError> {
        let mut stored = StoredOutcome::from(outcome);
        stored.handle = outcome
            .handle
            .as_ref()
            .map(|h| self.handles.store(&record.gateway, &record.order, h));
        let (id, s, now) = (record.id, stored.clone(), self.now_ms());
        let applied = blocking(&self.journal, move |j| {
            j.succeed(
                id,
                last.as_ref().map(|(x, r)| (*x, r)),
                &s,
                now,
                shop.as_deref(),
            )
        })
        .await;
        match applied {
            Ok(Applied {
                order,
                drift,
                operation,
                shop_version,
            }) => Ok(Completed {
                operation,
                order: Some(order),
                outcome: stored,
                drift,
                from_journal: false,
                resolution,
                shop_version,
                steps: None,
            }),
            Err(JournalError::Contradiction(c)) => Err(ExecError::NeedsReview {
                operation: record.id,
                evidence: c.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn fail(
        &self,
        id: OperationId,
        last: Option<(ExchangeId, ReplyRecord)>,
        error: GatewayError,
        resolution: Option<Resolution>,
    ) -> Result<Completed, ExecError> {
        let (ev, now) = (error.to_string(), self.now_ms());
        blocking(&self.journal, move |j| {
            j.fail(id, last.as_ref().map(|(x, r)| (*x, r)), &ev, now)
        })
        .await?;
        Err(ExecError::Failed {
            operation: id,
            error,
            resolution,
        })
    }

    pub(super) async fn review(
        &self,
        id: OperationId,
        evidence: String,
    ) -> Result<Completed, ExecError> {
        let (ev, now) = (evidence.clone(), self.now_ms());
        blocking(&self.journal, move |j| j.needs_review(id, &ev, now)).await?;
        tracing::error!(operation = id.0, %evidence, "operation needs review");
        Err(ExecError::NeedsReview {
            operation: id,
            evidence,
        })
    }
}

/// Refuses an operation whose references contradict the journal: the plugin acts on what the
/// operation says, so a wrong transaction or amount would reach the gateway and come back as the
/// journal's new truth.
fn matches_journal(op: &Operation, order: &OrderRecord) -> Result<(), Refusal> {
    let mismatch = |what: String| Refusal::Amount {
        order: op.order().to_string(),
        reason: what,
    };
    if let (Some(said), Some(known)) = (op.transaction(), &order.transaction)
        && said != known
    {
        return Err(mismatch(format!(
            "the operation names transaction {said}, the journal has {known}"
        )));
    }
    let (claimed, journal) = match op {
        Operation::Capture { authorized, .. }
        | Operation::Void { authorized, .. }
        | Operation::ChangeAmount { authorized, .. } => (*authorized, order.authorized),
        Operation::Refund { captured, .. } => (
            *captured,
            order
                .captured
                .checked_sub(order.refunded)
                .unwrap_or(order.captured),
        ),
        Operation::Authorize { .. }
        | Operation::Inquire { .. }
        | Operation::FindAuthorization { .. } => return Ok(()),
    };
    if claimed != journal {
        return Err(mismatch(format!(
            "the operation says {claimed}, the journal has {journal}"
        )));
    }
    Ok(())
}
