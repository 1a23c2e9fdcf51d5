//! Exactly-once gateway operations: the step loop of [`crate::driver`] with every exchange
//! journaled before it is sent, and every unknown outcome resolved without guessing.
//!
//! Resolution order for an outcome that may have taken effect:
//! 1. an inquiry, where the plugin offers one: did the payment reach the operation's target
//!    state, or is it where it was before?
//! 2. a replay, where the manifest declares the operation replay-safe: a second attempt that
//!    answers "already done" proves the first went through;
//! 3. otherwise the order is marked *needs review* with the evidence, and every further gateway
//!    operation on it is refused until an operator decides.
//!
//! Both automatic paths are used only when no earlier exchange of the operation could have changed
//! the payment (it was the first, or every earlier one was declared read-only, like SBPS's MG01
//! read before acting): after an earlier step changed the gateway (SBPS re-authorized, F-REGI
//! changed the amount), the payment's state alone cannot say what happened, so such cases go to
//! review. An unknown outcome of a read-only exchange itself is simply not applied.

use crate::defects::{Defect, Defects};
use crate::instance::GatewayInstance;
use crate::journal::{
    Applied, Begin, Decision, Drift, ExchangeId, JournalError, JournalStore, NewOperation,
    OperationId, OperationRecord, OrderRecord, Refusal, ReplyRecord, SentExchange, StoredOutcome,
    ledger,
};
use crate::transport::Transport;
use renkei_sdk::{
    AmountChange, Context, Effect, ErrorKind, Exchange, GatewayError, Inquiry, Operation,
    OperationKind, Outcome, PaymentState, Step, Timestamp,
};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How an operation ended.
#[derive(Debug, Clone)]
pub struct Completed {
    pub operation: OperationRecord,
    pub order: Option<OrderRecord>,
    pub outcome: StoredOutcome,
    pub drift: Option<Drift>,
    /// The result was already in the journal: nothing was sent this time.
    pub from_journal: bool,
    /// How an unknown outcome was settled, if one was.
    pub resolution: Option<Resolution>,
}

/// How an unknown outcome was settled automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Inquiry,
    Replay,
}

/// Why an operation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Refused by the journal before anything was sent (unknown order, illegal transition,
    /// busy, in review).
    #[error(transparent)]
    Refused(Refusal),
    /// Refused by the plugin before anything was sent (amount out of the gateway's range,
    /// unsupported operation). Nothing was journaled.
    #[error("{0}")]
    Rejected(GatewayError),
    /// The gateway or the plugin refused; nothing happened at the gateway.
    #[error("{error}")]
    Failed {
        operation: OperationId,
        error: GatewayError,
        resolution: Option<Resolution>,
    },
    /// The outcome could not be established; the order awaits an operator.
    #[error("needs review (operation {}): {evidence}", operation.0)]
    NeedsReview {
        operation: OperationId,
        evidence: String,
    },
    #[error(transparent)]
    Journal(JournalError),
}

impl From<JournalError> for ExecError {
    fn from(e: JournalError) -> ExecError {
        match e {
            JournalError::Refused(r) => ExecError::Refused(r),
            other => ExecError::Journal(other),
        }
    }
}

/// A drive's result and the last exchange's reply, still to be journaled with the outcome.
struct Ran {
    drive: Drive,
    last: Option<(ExchangeId, ReplyRecord)>,
}

/// What running the steps produced.
enum Drive {
    Done(Outcome),
    /// Certainly nothing happened (refused before sending, or an explicit refusal to the first
    /// exchange).
    NotApplied(GatewayError),
    /// May have happened. `first` is true when no exchange before the unknown one could have
    /// changed the payment (it was the first, or all before it were read-only). Whatever the
    /// cause (no reply, a reset, a 5xx from a load balancer, a cut body, an undocumented error
    /// code), the gateway may still be working on the request: no answer that fails to settle
    /// the outcome says the gateway is done with it.
    Unknown {
        evidence: String,
        first: bool,
    },
}

/// Runs operations through the journal.
pub struct Executor {
    journal: Arc<dyn JournalStore>,
    transport: Transport,
    /// Transports for gateways configured with their own deadline, by deadline.
    transports: std::sync::Mutex<std::collections::HashMap<Duration, Transport>>,
    /// How long an operation may run before another host may consider its owner dead.
    lease: Duration,
    clock: fn() -> Timestamp,
    /// Deliberate defects (simulator tests only; see `defects.rs`).
    defects: Defects,
}

fn system_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_unix_millis(ms)
}

/// Runs a blocking journal call off the async threads.
async fn blocking<T: Send + 'static>(
    journal: &Arc<dyn JournalStore>,
    f: impl FnOnce(&dyn JournalStore) -> Result<T, JournalError> + Send + 'static,
) -> Result<T, JournalError> {
    let j = journal.clone();
    tokio::task::spawn_blocking(move || f(&*j))
        .await
        .map_err(|e| JournalError::Storage(format!("journal task failed: {e}")))?
}

impl Executor {
    /// `deadline` bounds each exchange; a timeout is an unknown outcome, never a failure.
    pub fn new(journal: Arc<dyn JournalStore>, deadline: Duration) -> Executor {
        Executor {
            journal,
            transport: Transport::new(deadline),
            transports: Default::default(),
            // Renewed at every journal write of the operation, so it needs to outlast one
            // exchange, not a whole multi-step operation.
            lease: deadline * 2 + Duration::from_secs(1),
            clock: system_now,
            defects: Defects::NONE,
        }
    }

    /// Runs with deliberate defects: only the simulator's tests can make a non-empty set.
    pub fn with_defects(mut self, defects: Defects) -> Executor {
        self.defects = defects;
        self
    }

    /// The deliberate defects this executor runs with ([`Defects::NONE`] but in tests).
    pub fn defects(&self) -> Defects {
        self.defects
    }

    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Executor {
        self.clock = clock;
        self
    }

    /// How long an operation's owner may go silent before another host may resolve it. A host
    /// restarting after a crash waits this long before its own leftovers can be claimed.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub fn journal(&self) -> &Arc<dyn JournalStore> {
        &self.journal
    }

    /// What the operation's own read before acting showed (SBPS reads the payment with MG01
    /// before it captures, voids or refunds): the gateway's state just before the request whose
    /// outcome is unknown, which tells a change this request made from one made earlier in the
    /// gateway's own tool. Read by asking the plugin to interpret that reply as the answer to an
    /// inquiry, which it is only when the plugin's inquiry sends the same request (same step,
    /// same URL); otherwise nothing is assumed.
    async fn guard_read(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: &OperationRecord,
    ) -> Result<Option<PaymentState>, ExecError> {
        let Some(transaction) = op.transaction() else {
            return Ok(None);
        };
        let (id, attempt) = (record.id, record.attempt);
        let exchanges: Vec<_> = blocking(&self.journal, move |j| j.exchanges(id))
            .await?
            .into_iter()
            .filter(|x| x.sent.attempt == attempt)
            .collect();
        let Some(acting) = exchanges.iter().position(|x| !x.sent.read_only) else {
            return Ok(None);
        };
        let Some(guard) = exchanges[..acting].iter().rev().find(|x| x.sent.read_only) else {
            return Ok(None);
        };
        let Some(ReplyRecord::Reply { status, body }) = &guard.reply else {
            return Ok(None);
        };
        let inquiry = Operation::Inquire {
            order: op.order().clone(),
            transaction: transaction.clone(),
        };
        let request_id = format!("{}:guard", record.idempotency_key);
        let ctx = Context {
            now: (self.clock)(),
            request_id: &request_id,
            idempotency_key: &record.idempotency_key,
            attempt: record.attempt,
        };
        let Ok(Step::Send(ask)) = gateway.prepare(&inquiry, &ctx) else {
            return Ok(None);
        };
        if !ask.read_only
            || ask.step.as_str() != guard.sent.step
            || ask.request.url.as_str() != guard.sent.url
        {
            return Ok(None);
        }
        let reply = renkei_sdk::HttpResponse {
            status: *status,
            headers: vec![],
            body: body.clone(),
        };
        Ok(
            match gateway.interpret(&inquiry, &ctx, &ask.state, &reply) {
                Ok(Step::Done(seen)) => Some(seen.state),
                _ => None,
            },
        )
    }

    /// The lease of an operation whose outcome is being resolved: long enough to wait for the
    /// request's expiry and then inquire.
    fn resolving_lease_ms(&self, gateway: &GatewayInstance) -> i64 {
        let wait = gateway
            .request_expiry()
            .map_or(Duration::ZERO, |e| e + gateway.clock_skew());
        self.lease_ms_for(gateway) + wait.as_millis() as i64
    }

    /// Waits until the operation's last request that could change the payment can no longer
    /// take effect at the gateway: its declared expiry plus the clock-skew margin, counted from
    /// when it was journaled (just after the plugin stamped it, so never earlier than the
    /// request's own time). Returns false when the gateway declares no expiry: then no wait
    /// makes an unchanged payment conclusive.
    async fn await_expiry(
        &self,
        gateway: &GatewayInstance,
        record: &OperationRecord,
    ) -> Result<bool, ExecError> {
        let Some(expiry) = gateway.request_expiry() else {
            return Ok(false);
        };
        if self.defects.has(Defect::InquireBeforeExpiry) {
            return Ok(true);
        }
        let id = record.id;
        let exchanges = blocking(&self.journal, move |j| j.exchanges(id)).await?;
        let Some(sent) = exchanges
            .iter()
            .filter(|x| !x.sent.read_only)
            .map(|x| x.sent_at_ms)
            .max()
        else {
            // Only reads left the host: nothing can take effect later.
            return Ok(true);
        };
        let settle_at = sent + (expiry + gateway.clock_skew()).as_millis() as i64;
        let now = self.now_ms();
        if settle_at > now {
            tracing::info!(
                operation = id.0,
                wait_ms = settle_at - now,
                "waiting for the request to expire before inquiring"
            );
            tokio::time::sleep(Duration::from_millis((settle_at - now) as u64)).await;
        }
        Ok(true)
    }

    fn now_ms(&self) -> i64 {
        (self.clock)().unix_millis
    }

    fn lease_ms(&self) -> i64 {
        self.lease.as_millis() as i64
    }

    /// The lease for an operation on `gateway`: it must outlast one exchange at that gateway's
    /// own deadline, which may be longer than the executor's default.
    fn lease_ms_for(&self, gateway: &GatewayInstance) -> i64 {
        let own = self.transport_for(gateway).timeout() * 2 + Duration::from_secs(1);
        own.max(self.lease).as_millis() as i64
    }

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
        let key = idempotency_key.to_owned();
        let known = blocking(&self.journal, move |j| j.operation_by_key(&key)).await?;
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
            intent: intent.map(str::to_owned),
        };
        // The journal's refusals first (unknown order, cancelled, in review), without writing and
        // without asking the plugin; `begin_send` repeats them under the order's lock.
        let order_ref = op.order().clone();
        let order = blocking(&self.journal, move |j| j.order(&order_ref)).await?;
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
        let ctx = Context {
            now: (self.clock)(),
            request_id: &request_id,
            idempotency_key,
            attempt,
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
                    Begin::Started(record) => self.succeed(record, None, &outcome, None).await,
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
            .drive(gateway, op, &record, idempotency_key, exchange, first_id, 0)
            .await?;
        self.settle(gateway, op, record, ran).await
    }

    async fn stored_result(&self, record: OperationRecord) -> Result<Completed, ExecError> {
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
        })
    }

    /// Turns a drive's result into a journal state, resolving unknowns.
    async fn settle(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: OperationRecord,
        ran: Ran,
    ) -> Result<Completed, ExecError> {
        let last = ran.last;
        match ran.drive {
            Drive::Done(outcome) => self.succeed(record, last, &outcome, None).await,
            Drive::NotApplied(error) => self.fail(record.id, last, error, None).await,
            Drive::Unknown { evidence, .. } if self.defects.has(Defect::UnknownAsFailed) => {
                let error = GatewayError::new(ErrorKind::Unavailable, evidence);
                self.fail(record.id, last, error, None).await
            }
            Drive::Unknown { evidence, first } => {
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
        }
    }

    async fn succeed(
        &self,
        record: OperationRecord,
        last: Option<(ExchangeId, ReplyRecord)>,
        outcome: &Outcome,
        resolution: Option<Resolution>,
    ) -> Result<Completed, ExecError> {
        let stored = StoredOutcome::from(outcome);
        let (id, s, now) = (record.id, stored.clone(), self.now_ms());
        let applied = blocking(&self.journal, move |j| {
            j.succeed(id, last.as_ref().map(|(x, r)| (*x, r)), &s, now)
        })
        .await;
        match applied {
            Ok(Applied { order, drift }) => {
                let operation = self.operation(record.id).await?;
                Ok(Completed {
                    operation,
                    order: Some(order),
                    outcome: stored,
                    drift,
                    from_journal: false,
                    resolution,
                })
            }
            Err(JournalError::Contradiction(c)) => Err(ExecError::NeedsReview {
                operation: record.id,
                evidence: c.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn fail(
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

    async fn review(&self, id: OperationId, evidence: String) -> Result<Completed, ExecError> {
        let (ev, now) = (evidence.clone(), self.now_ms());
        blocking(&self.journal, move |j| j.needs_review(id, &ev, now)).await?;
        tracing::error!(operation = id.0, %evidence, "operation needs review");
        Err(ExecError::NeedsReview {
            operation: id,
            evidence,
        })
    }

    async fn operation(&self, id: OperationId) -> Result<OperationRecord, ExecError> {
        blocking(&self.journal, move |j| j.operation(id))
            .await?
            .ok_or(ExecError::Journal(JournalError::UnknownOperation(id)))
    }

    async fn order_of(&self, record: &OperationRecord) -> Result<Option<OrderRecord>, ExecError> {
        let order = record.order.clone();
        Ok(blocking(&self.journal, move |j| j.order(&order)).await?)
    }

    /// The transport for a gateway: its own deadline when configured (`deadline_ms`).
    fn transport_for(&self, gateway: &GatewayInstance) -> Transport {
        match gateway.deadline() {
            Some(d) if d != self.transport.timeout() => self
                .transports
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(d)
                .or_insert_with(|| Transport::new(d))
                .clone(),
            _ => self.transport.clone(),
        }
    }

    /// Sends `exchange` (already journaled as `exchange_id`, index `index`) and runs the steps
    /// that follow, journaling each before it is sent.
    #[allow(clippy::too_many_arguments)]
    async fn drive(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: &OperationRecord,
        key: &str,
        mut exchange: Exchange,
        mut exchange_id: ExchangeId,
        mut index: u32,
    ) -> Result<Ran, ExecError> {
        let attempt = record.attempt;
        let first_index = index;
        let transport = self.transport_for(gateway);
        // Whether an exchange of this drive that could change the payment has been sent. Until
        // one has, the payment is as it was, which is what lets an unknown outcome be settled.
        let mut changed = false;
        // Defect `SendBeforeWriteAhead`: the next step's reply, got before it was journaled.
        let mut sent_early = None;
        loop {
            let first = !changed;
            if self.defects.has(Defect::ReadOnlyMoneyStep) {
                exchange.read_only = true;
            }
            let sent = match sent_early.take() {
                Some(sent) => sent,
                None => transport.send(&exchange.request).await,
            };
            let reply = match sent {
                Ok(reply) => reply,
                Err(error) => {
                    let last = Some((
                        exchange_id,
                        ReplyRecord::NoReply {
                            error: error.to_string(),
                        },
                    ));
                    // Nothing that could act was sent: a lost read, or a request that never left.
                    let drive = if first && (exchange.read_only || error.certainly_not_sent()) {
                        Drive::NotApplied(GatewayError::new(
                            ErrorKind::Unavailable,
                            format!("step `{}`: {error}", exchange.step),
                        ))
                    } else {
                        Drive::Unknown {
                            evidence: format!("step `{}`: {error}", exchange.step),
                            first,
                        }
                    };
                    return Ok(Ran { drive, last });
                }
            };
            let request_id = format!("{key}/{attempt}/{}", index + 2);
            let ctx = Context {
                now: (self.clock)(),
                request_id: &request_id,
                idempotency_key: key,
                attempt,
            };
            let interpreted = gateway.interpret(op, &ctx, &exchange.state, &reply);
            let last = Some((
                exchange_id,
                ReplyRecord::Reply {
                    status: reply.status,
                    body: reply.body,
                },
            ));
            let next = match interpreted {
                Ok(Step::Done(outcome)) => {
                    return Ok(Ran {
                        drive: Drive::Done(outcome),
                        last,
                    });
                }
                Ok(Step::Send(next)) => next,
                Err(e) => {
                    let refused = matches!(
                        e.kind,
                        ErrorKind::Declined
                            | ErrorKind::Rejected
                            | ErrorKind::AlreadyDone
                            | ErrorKind::Authentication
                            | ErrorKind::Unavailable
                    );
                    let drive = if first && (refused || exchange.read_only) {
                        // An explicit refusal, or an unreadable answer to a read: nothing moved.
                        Drive::NotApplied(e)
                    } else if refused {
                        Drive::Unknown {
                            evidence: format!(
                                "step `{}` refused after earlier steps changed the payment: {e}",
                                exchange.step
                            ),
                            first: false,
                        }
                    } else {
                        debug_assert_eq!(e.effect(), Effect::MayHaveApplied, "{e}");
                        Drive::Unknown {
                            evidence: format!("step `{}`: {e}", exchange.step),
                            first,
                        }
                    };
                    return Ok(Ran { drive, last });
                }
            };
            changed |= !exchange.read_only;
            index += 1;
            if (index - first_index) as usize >= crate::driver::MAX_STEPS {
                return Ok(Ran {
                    drive: Drive::Unknown {
                        evidence: format!(
                            "plugin asked for more than {} exchanges",
                            crate::driver::MAX_STEPS
                        ),
                        first: false,
                    },
                    last,
                });
            }
            if self.defects.has(Defect::SendBeforeWriteAhead) {
                sent_early = Some(transport.send(&next.request).await);
            }
            let journaled = journal_copy(&next, index);
            let (id, now, lease) = (record.id, self.now_ms(), self.lease_ms_for(gateway));
            // The previous reply and this request, committed before the request leaves.
            exchange_id = blocking(&self.journal, move |j| {
                j.record_send(
                    id,
                    last.as_ref().map(|(x, r)| (*x, r)),
                    &journaled,
                    now,
                    lease,
                )
            })
            .await?;
            exchange = next;
        }
    }

    /// Prepares `op` and runs it as further exchanges of an existing operation (inquiry and
    /// replay during resolution).
    async fn drive_more(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: &OperationRecord,
        key: &str,
    ) -> Result<Ran, ExecError> {
        let index = self.exchange_count(record.id).await?;
        let request_id = format!("{key}/{}/{}", record.attempt, index + 1);
        let ctx = Context {
            now: (self.clock)(),
            request_id: &request_id,
            idempotency_key: key,
            attempt: record.attempt,
        };
        let exchange = match gateway.prepare(op, &ctx) {
            Ok(Step::Send(x)) => x,
            Ok(Step::Done(outcome)) => {
                return Ok(Ran {
                    drive: Drive::Done(outcome),
                    last: None,
                });
            }
            Err(e) => {
                return Ok(Ran {
                    drive: Drive::NotApplied(e),
                    last: None,
                });
            }
        };
        let journaled = journal_copy(&exchange, index);
        let (id, now, lease) = (record.id, self.now_ms(), self.lease_ms_for(gateway));
        let exchange_id = blocking(&self.journal, move |j| {
            j.record_send(id, None, &journaled, now, lease)
        })
        .await?;
        self.drive(gateway, op, record, key, exchange, exchange_id, index)
            .await
    }

    /// Settles an unknown outcome: inquiry, then declared-safe replay, then review.
    ///
    /// An inquiry that finds the operation's target state proves it took effect whenever it is
    /// made. One that finds the payment unchanged proves nothing until the request can no
    /// longer take effect: until the gateway's declared expiry (SBPS: `request_date` +
    /// `limit_second`) plus the clock-skew margin has passed since the request was made. A
    /// gateway that declares no expiry (F-REGI) can therefore never be shown "not applied" by
    /// an inquiry; a declared-safe replay or an operator settles it.
    async fn resolve(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: OperationRecord,
        evidence: String,
        first: bool,
    ) -> Result<Completed, ExecError> {
        if !first {
            return self.review(record.id, evidence).await;
        }
        let caps = gateway.capabilities();
        let before = self.order_of(&record).await?;
        if !acts_in_place(op, caps.amount_change) {
            return self
                .review(
                    record.id,
                    format!(
                        "{evidence}; the operation starts by creating a new payment \
                         (re-authorization), which neither an inquiry on the old one nor a \
                         replay can account for"
                    ),
                )
                .await;
        }
        let guard = self.guard_read(gateway, op, &record).await?;
        let expired = self.await_expiry(gateway, &record).await?;
        let mut inquiry_said = None;

        if caps.supports(OperationKind::Inquire)
            && caps.inquiry != Inquiry::Unavailable
            && let Some(transaction) = op.transaction()
        {
            if !expired {
                // No expiry to wait for; one more deadline still lets a late success show as
                // one to the inquiry.
                tokio::time::sleep(self.transport_for(gateway).timeout()).await;
            }
            let inquiry = Operation::Inquire {
                order: op.order().clone(),
                transaction: transaction.clone(),
            };
            let key = format!("{}:resolve", record.idempotency_key);
            let ran = self.drive_more(gateway, &inquiry, &record, &key).await?;
            self.record_last(ran.last).await?;
            match ran.drive {
                Drive::Done(seen) => match judge(op, before.as_ref(), guard.as_ref(), &seen) {
                    Verdict::TookEffect(outcome) => {
                        return self
                            .succeed(record, None, &outcome, Some(Resolution::Inquiry))
                            .await;
                    }
                    Verdict::NoEffect if expired => {
                        let error = GatewayError::new(
                            ErrorKind::Rejected,
                            format!(
                                "not applied: after the request expired, an inquiry shows the \
                                 payment still {}",
                                seen.state
                            ),
                        );
                        return self
                            .fail(record.id, None, error, Some(Resolution::Inquiry))
                            .await;
                    }
                    Verdict::NoEffect => {
                        // Unchanged now is not unchanged for good: the gateway declares no
                        // expiry, so the request may still be processed.
                        inquiry_said = Some(format!(
                            "an inquiry shows the payment still {}, but {} declares no \
                             expiry for a request, so it may still be processed",
                            seen.state,
                            gateway.name()
                        ));
                    }
                    Verdict::Unclear(why) => {
                        return self
                            .review(record.id, format!("{evidence}; inquiry: {why}"))
                            .await;
                    }
                },
                Drive::NotApplied(e) => {
                    tracing::warn!(order = %op.order(), error = %e, "inquiry refused; trying the next resolution");
                }
                Drive::Unknown { evidence: why, .. } => {
                    tracing::warn!(order = %op.order(), %why, "inquiry failed; trying the next resolution");
                }
            }
        }
        let evidence = match inquiry_said {
            Some(said) => format!("{evidence}; {said}"),
            None => evidence,
        };

        if caps.is_replay_safe(op.kind()) {
            let key = format!("{}:replay", record.idempotency_key);
            let ran = self.drive_more(gateway, op, &record, &key).await?;
            let last = ran.last;
            match ran.drive {
                Drive::Done(outcome) => {
                    return self
                        .succeed(record, last, &outcome, Some(Resolution::Replay))
                        .await;
                }
                Drive::NotApplied(e) if e.kind == ErrorKind::AlreadyDone => {
                    // The manifest's promise: "already done" after a replay proves the first
                    // attempt went through.
                    let outcome = expected_outcome(op, before.as_ref());
                    return self
                        .succeed(record, last, &outcome, Some(Resolution::Replay))
                        .await;
                }
                Drive::NotApplied(e) => {
                    // Any other answer proves nothing about the first attempt: a lost read, a
                    // gateway that is unavailable, or a refusal based on a state the first
                    // attempt (or the gateway's own tool) may have caused.
                    self.record_last(last).await?;
                    return self
                        .review(record.id, format!("{evidence}; replay: {e}"))
                        .await;
                }
                Drive::Unknown {
                    evidence: again, ..
                } => {
                    self.record_last(last).await?;
                    return self
                        .review(record.id, format!("{evidence}; replay: {again}"))
                        .await;
                }
            }
        }
        self.review(
            record.id,
            format!(
                "{evidence}; no inquiry and not replay-safe: an operator must check the gateway"
            ),
        )
        .await
    }

    /// Records a reply on its own (no further write was going to carry it).
    async fn record_last(&self, last: Option<(ExchangeId, ReplyRecord)>) -> Result<(), ExecError> {
        if let Some((x, reply)) = last {
            let now = self.now_ms();
            blocking(&self.journal, move |j| j.record_reply(x, &reply, now)).await?;
        }
        Ok(())
    }

    async fn exchange_count(&self, id: OperationId) -> Result<u32, ExecError> {
        Ok(blocking(&self.journal, move |j| j.exchanges(id))
            .await?
            .len() as u32)
    }

    /// Resolves the operations of hosts that died (their lease expired): each is settled as an
    /// unknown outcome, before new work is accepted for its order (the order stays held until
    /// then). `gateway` finds an instance by name.
    pub async fn recover(
        &self,
        gateway: &(dyn Fn(&str) -> Option<Arc<GatewayInstance>> + Sync),
    ) -> Result<RecoveryReport, ExecError> {
        let mut report = RecoveryReport::default();
        loop {
            // One at a time, each claimed just before it is resolved.
            let (now, lease) = (self.now_ms(), self.lease_ms());
            let claimed = blocking(&self.journal, move |j| j.claim_stale(now, lease)).await?;
            let Some(record) = claimed.into_iter().next() else {
                break;
            };
            let (id, attempt) = (record.id, record.attempt);
            // Only the current attempt's exchanges: an earlier attempt was settled as not
            // applied before this one started, and its unanswered requests say nothing now.
            let exchanges: Vec<_> = blocking(&self.journal, move |j| j.exchanges(id))
                .await?
                .into_iter()
                .filter(|x| x.sent.attempt == attempt)
                .collect();
            let order = self.order_of(&record).await?;
            let result = if exchanges.is_empty() {
                // The host stopped before anything left it.
                self.fail(
                    record.id,
                    None,
                    GatewayError::new(ErrorKind::Unavailable, "host stopped before sending"),
                    None,
                )
                .await
            } else if exchanges.iter().all(|x| x.sent.read_only) {
                // Only reads were sent: the payment is as it was.
                self.fail(
                    record.id,
                    None,
                    GatewayError::new(ErrorKind::Unavailable, "host stopped after reads only"),
                    None,
                )
                .await
            } else if let (Some(gw), Some(op)) =
                (gateway(&record.gateway), rebuild(&record, order.as_ref()))
            {
                // Settled automatically only if everything before the last exchange only read.
                let first = exchanges[..exchanges.len() - 1]
                    .iter()
                    .all(|x| x.sent.read_only);
                let evidence = format!(
                    "host stopped after sending step `{}`",
                    exchanges
                        .last()
                        .map(|x| x.sent.step.as_str())
                        .unwrap_or("?")
                );
                // Held for as long as resolving may take (the request's expiry first), so that
                // no other host claims it meanwhile.
                let (ev, now, lease) = (
                    evidence.clone(),
                    self.now_ms(),
                    self.resolving_lease_ms(&gw),
                );
                blocking(&self.journal, move |j| {
                    j.mark_unknown(id, None, &ev, now, lease)
                })
                .await?;
                self.resolve(&gw, &op, record, evidence, first).await
            } else {
                self.review(
                    record.id,
                    "host stopped mid-operation; the operation cannot be rebuilt for resolution"
                        .into(),
                )
                .await
            };
            match result {
                Ok(c) => report.applied.push(c.operation.id),
                Err(ExecError::Failed { operation, .. }) => report.not_applied.push(operation),
                Err(ExecError::NeedsReview { operation, .. }) => {
                    report.needs_review.push(operation)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// An operator's decision on an operation in review.
    pub async fn resolve_review(
        &self,
        operation: OperationId,
        decision: Decision,
        operator: &str,
    ) -> Result<OrderRecord, ExecError> {
        let (now, who) = (self.now_ms(), operator.to_owned());
        Ok(blocking(&self.journal, move |j| {
            j.resolve(operation, &decision, &who, now)
        })
        .await?)
    }
}

/// What recovery did with each stale operation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    pub applied: Vec<OperationId>,
    pub not_applied: Vec<OperationId>,
    pub needs_review: Vec<OperationId>,
}

/// The journal's copy of an exchange: credentials and the plugin's unredacted body left out.
fn journal_copy(x: &Exchange, index: u32) -> SentExchange {
    SentExchange {
        step_index: index,
        attempt: 0,
        step: x.step.to_string(),
        method: x.request.method.as_str().to_owned(),
        url: x.request.url.to_string(),
        headers: x.request.redacted_headers(),
        body: x.journal_body.as_ref().map(|b| b.to_string()),
        state: x.state.to_vec(),
        read_only: x.read_only,
    }
}

enum Verdict {
    TookEffect(Outcome),
    NoEffect,
    Unclear(String),
}

/// Whether the operation's first exchange acts on the payment the journal knows (so that an
/// inquiry about that payment can tell whether it happened, and a replay cannot create a second
/// payment). Re-authorizing gateways create a new payment to raise an amount.
fn acts_in_place(op: &Operation, amount_change: AmountChange) -> bool {
    match op {
        Operation::Capture {
            authorized,
            amount: Some(amount),
            ..
        } if amount.minor_units > authorized.minor_units => {
            amount_change != AmountChange::Reauthorization
        }
        // F-REGI's authchange cancels the old SEQNO, which an inquiry about it shows.
        Operation::ChangeAmount { .. } => amount_change != AmountChange::Reauthorization,
        Operation::Authorize { .. } => false,
        // A partial refund may replace the sale with a new one (F-REGI salechange), which an
        // inquiry about the old one cannot see.
        Operation::Refund {
            captured,
            amount: Some(amount),
            ..
        } if amount.minor_units < captured.minor_units => false,
        _ => true,
    }
}

/// The state an operation leads to, if it succeeds.
fn reached(kind: OperationKind, state: &PaymentState) -> bool {
    match kind {
        OperationKind::Capture => matches!(state, PaymentState::Captured { .. }),
        OperationKind::Void => matches!(state, PaymentState::Voided),
        OperationKind::Refund => matches!(state, PaymentState::Refunded { .. }),
        OperationKind::Authorize | OperationKind::ChangeAmount | OperationKind::Inquire => false,
    }
}

/// Reads an inquiry after an unknown outcome. Only state changes that the operation alone can
/// explain count, and only amounts the gateway states: where it states none, a change made in
/// its own tool (G-8) could look the same, so the answer is unclear rather than ours.
///
/// `guard` is what the operation's own read before acting showed, if it made one: a refund the
/// gateway reports without an amount is this refund's only if the payment was captured and
/// unrefunded just before it was sent and the journal knows of no earlier refund.
fn judge(
    op: &Operation,
    before: Option<&OrderRecord>,
    guard: Option<&PaymentState>,
    seen: &Outcome,
) -> Verdict {
    use renkei_sdk::RefundExtent;
    let kind = op.kind();
    let was = before.map(|o| &o.state);
    if matches!(seen.state, PaymentState::Unknown { .. }) {
        return Verdict::Unclear(format!("the gateway reports {}", seen.state));
    }
    if reached(kind, &seen.state) {
        let mut outcome = seen.clone();
        match op {
            Operation::Capture { .. } => {
                let asked = op.amount();
                match outcome.captured {
                    Some(c) if Some(c) != asked => {
                        return Verdict::Unclear(format!(
                            "the gateway shows {c} captured, this capture was for {}",
                            asked.map_or("?".to_owned(), |a| a.to_string())
                        ));
                    }
                    Some(_) => {}
                    None => outcome.captured = asked,
                }
            }
            Operation::Refund {
                captured: open,
                amount,
                ..
            } => {
                let moved = amount.unwrap_or(*open);
                let full = moved == *open;
                let refunded_before = before.map_or(0, |o| o.refunded.minor_units);
                let unclear = match (outcome.refunded, &seen.state) {
                    (Some(total), _)
                        if total.minor_units != refunded_before + moved.minor_units =>
                    {
                        Some(format!(
                            "the gateway shows {total} refunded in all; with this refund the \
                             journal would have {}",
                            refunded_before + moved.minor_units
                        ))
                    }
                    (Some(_), _) => None,
                    (None, _) if matches!(was, Some(PaymentState::Refunded { .. })) => {
                        Some("already refunded before; the gateway reports no amounts".to_owned())
                    }
                    (
                        None,
                        PaymentState::Refunded {
                            extent: RefundExtent::NotReported,
                            ..
                        },
                    ) if !(full
                        && refunded_before == 0
                        && matches!(guard, Some(PaymentState::Captured { .. }))) =>
                    {
                        Some(format!(
                            "the gateway says refunded without saying how much, and {}, so this \
                             refund cannot be told from one made in the gateway's own tool (G-8)",
                            match guard {
                                Some(s) => format!("its read just before this refund showed {s}"),
                                None => "nothing showed the payment unrefunded just before it"
                                    .to_owned(),
                            }
                        ))
                    }
                    (
                        None,
                        PaymentState::Refunded {
                            extent: RefundExtent::Full,
                            ..
                        },
                    ) if !full => Some(format!(
                        "the gateway shows the payment refunded in full; this refund was for \
                         {moved} of {open}"
                    )),
                    (
                        None,
                        PaymentState::Refunded {
                            extent: RefundExtent::Partial,
                            ..
                        },
                    ) if full => Some(format!(
                        "the gateway shows the payment partly refunded; this refund was for \
                         all of {open}"
                    )),
                    (None, _) => None,
                };
                if let Some(why) = unclear {
                    return Verdict::Unclear(why);
                }
                // The ledger books what this refund moved.
                outcome.refunded = None;
            }
            _ => {}
        }
        return Verdict::TookEffect(outcome);
    }
    if Some(&seen.state) == was {
        return Verdict::NoEffect;
    }
    Verdict::Unclear(format!(
        "the payment moved from {} to {}",
        was.map_or("unknown".to_owned(), |s| s.to_string()),
        seen.state
    ))
}

/// The outcome a replay-safe operation had when its replay answers "already done".
fn expected_outcome(op: &Operation, before: Option<&OrderRecord>) -> Outcome {
    use renkei_sdk::{RefundExtent, Settlement};
    let state = match op.kind() {
        OperationKind::Capture => PaymentState::Captured {
            settlement: Settlement::NotReported,
        },
        OperationKind::Void => PaymentState::Voided,
        OperationKind::Refund => PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: Settlement::NotReported,
        },
        OperationKind::Authorize | OperationKind::ChangeAmount => PaymentState::Authorized,
        OperationKind::Inquire => before
            .map_or(PaymentState::Unknown { raw: String::new() }, |o| {
                o.state.clone()
            }),
    };
    let mut outcome = Outcome::new(state).note("settled by a replay answering \"already done\"");
    outcome.transaction = op.transaction().cloned();
    if op.kind() == OperationKind::Capture {
        outcome.captured = op.amount();
    }
    outcome
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
        Operation::Authorize { .. } | Operation::Inquire { .. } => return Ok(()),
    };
    if claimed != journal {
        return Err(mismatch(format!(
            "the operation says {claimed}, the journal has {journal}"
        )));
    }
    Ok(())
}

/// The operation a journal record describes, for resolution after a restart. Authorizations
/// cannot be rebuilt (their payment source is not journaled: it may be a card).
pub fn rebuild(record: &OperationRecord, order: Option<&OrderRecord>) -> Option<Operation> {
    let order = order?;
    let transaction = order.transaction.clone()?;
    let o = record.order.clone();
    Some(match record.kind {
        OperationKind::Capture => Operation::Capture {
            order: o,
            transaction,
            authorized: order.authorized,
            amount: record.amount,
        },
        OperationKind::Void => Operation::Void {
            order: o,
            transaction,
            authorized: order.authorized,
        },
        OperationKind::Refund => Operation::Refund {
            order: o,
            transaction,
            // Captured and not yet refunded, as `Operation::Refund` defines it.
            captured: order.captured.checked_sub(order.refunded)?,
            amount: record.amount,
        },
        OperationKind::ChangeAmount => Operation::ChangeAmount {
            order: o,
            transaction,
            authorized: order.authorized,
            new_amount: record.amount?,
        },
        OperationKind::Inquire => Operation::Inquire {
            order: o,
            transaction,
        },
        OperationKind::Authorize => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_sdk::{Money, OrderRef, RefundExtent, Settlement, TransactionRef};

    fn capture(amount: Option<i64>) -> Operation {
        Operation::Capture {
            order: OrderRef::new("o"),
            transaction: TransactionRef::new("t"),
            authorized: Money::jpy(1000),
            amount: amount.map(Money::jpy),
        }
    }

    #[test]
    fn a_capture_above_the_authorization_on_a_reauthorizing_gateway_is_not_in_place() {
        assert!(acts_in_place(&capture(None), AmountChange::Reauthorization));
        assert!(acts_in_place(
            &capture(Some(900)),
            AmountChange::Reauthorization
        ));
        assert!(!acts_in_place(
            &capture(Some(1100)),
            AmountChange::Reauthorization
        ));
        // F-REGI's authchange cancels the old SEQNO: visible to an inquiry about it.
        assert!(acts_in_place(
            &capture(Some(1100)),
            AmountChange::DeferredToCapture
        ));
    }

    fn order(state: PaymentState, captured: i64, refunded: i64) -> OrderRecord {
        let mut o = OrderRecord::awaiting(&OrderRef::new("o"), "g", renkei_sdk::Currency::JPY);
        o.state = state;
        o.transaction = Some(TransactionRef::new("t"));
        o.authorized = Money::jpy(1000);
        o.captured = Money::jpy(captured);
        o.refunded = Money::jpy(refunded);
        o
    }

    fn refund(open: i64, amount: Option<i64>) -> Operation {
        Operation::Refund {
            order: OrderRef::new("o"),
            transaction: TransactionRef::new("t"),
            captured: Money::jpy(open),
            amount: amount.map(Money::jpy),
        }
    }

    fn refunded(extent: RefundExtent) -> Outcome {
        Outcome::new(PaymentState::Refunded {
            extent,
            settlement: Settlement::NotReported,
        })
    }

    #[test]
    fn an_inquiry_proves_only_what_the_operation_alone_explains() {
        let op = capture(None);
        let authorized = order(PaymentState::Authorized, 0, 0);
        let captured = Outcome::new(PaymentState::Captured {
            settlement: Settlement::NotReported,
        });
        match judge(&op, Some(&authorized), None, &captured) {
            Verdict::TookEffect(o) => assert_eq!(o.captured, Some(Money::jpy(1000))),
            _ => panic!("captured means the capture happened"),
        }
        assert!(matches!(
            judge(
                &op,
                Some(&authorized),
                None,
                &Outcome::new(PaymentState::Authorized)
            ),
            Verdict::NoEffect
        ));
        assert!(matches!(
            judge(
                &op,
                Some(&authorized),
                None,
                &Outcome::new(PaymentState::Voided)
            ),
            Verdict::Unclear(_)
        ));
        assert!(matches!(
            judge(
                &op,
                Some(&authorized),
                None,
                &Outcome::new(PaymentState::Unknown { raw: "99".into() })
            ),
            Verdict::Unclear(_)
        ));
    }

    #[test]
    fn a_capture_the_gateway_shows_at_another_amount_is_unclear() {
        let authorized = order(PaymentState::Authorized, 0, 0);
        let mut seen = Outcome::new(PaymentState::Captured {
            settlement: Settlement::NotReported,
        });
        seen.captured = Some(Money::jpy(600));
        assert!(matches!(
            judge(&capture(None), Some(&authorized), None, &seen),
            Verdict::Unclear(_)
        ));
    }

    /// Breach 1 (G-8, S-3): SBPS says 返金済 after a partial refund in its own tool as after
    /// ours, with no amount. A lost refund reply must not be booked as a full refund then.
    #[test]
    fn g8_a_refund_state_without_an_amount_does_not_settle_a_lost_refund() {
        let captured = order(
            PaymentState::Captured {
                settlement: Settlement::NotReported,
            },
            5000,
            0,
        );
        assert!(matches!(
            judge(
                &refund(5000, None),
                Some(&captured),
                None,
                &refunded(RefundExtent::NotReported)
            ),
            Verdict::Unclear(_)
        ));
        // Unless the operation's own read just before it showed the payment captured and
        // unrefunded: then the refund the gateway shows is this one.
        let guard = PaymentState::Captured {
            settlement: Settlement::NotReported,
        };
        assert!(matches!(
            judge(
                &refund(5000, None),
                Some(&captured),
                Some(&guard),
                &refunded(RefundExtent::NotReported)
            ),
            Verdict::TookEffect(_)
        ));
        assert!(matches!(
            judge(
                &refund(5000, None),
                Some(&captured),
                Some(&refunded(RefundExtent::NotReported).state),
                &refunded(RefundExtent::NotReported)
            ),
            Verdict::Unclear(_)
        ));
        // A gateway that states the extent can settle it, when the extent fits.
        assert!(matches!(
            judge(
                &refund(5000, None),
                Some(&captured),
                None,
                &refunded(RefundExtent::Full)
            ),
            Verdict::TookEffect(_)
        ));
        assert!(matches!(
            judge(
                &refund(5000, Some(1200)),
                Some(&captured),
                None,
                &refunded(RefundExtent::Full)
            ),
            Verdict::Unclear(_)
        ));
        assert!(matches!(
            judge(
                &refund(5000, None),
                Some(&captured),
                None,
                &refunded(RefundExtent::Partial)
            ),
            Verdict::Unclear(_)
        ));
        // A stated total must be the journal's plus this refund.
        let mut total = refunded(RefundExtent::Partial);
        total.refunded = Some(Money::jpy(2400));
        assert!(matches!(
            judge(&refund(5000, Some(1200)), Some(&captured), None, &total),
            Verdict::Unclear(_)
        ));
        total.refunded = Some(Money::jpy(1200));
        assert!(matches!(
            judge(&refund(5000, Some(1200)), Some(&captured), None, &total),
            Verdict::TookEffect(_)
        ));
    }
}
