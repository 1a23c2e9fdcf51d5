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
//! review. The one exception: the plugin reports what the earlier steps left
//! (`GatewayError::changed_before`) and the failed step itself was refused cleanly; then the
//! report, if it fits the operation (`resolution::read_changed_before`), is booked on the order
//! and the operation fails, in one journal transaction (`JournalStore::fail_changed`). An
//! unknown outcome of a read-only exchange itself is simply not applied.
//!
//! The modules follow the life of an operation: `execute` (the public entry: write-ahead,
//! sending, recording the outcome), `drive` (the step loop, each exchange journaled before it
//! leaves and each failure read by the SDK's one classification, [`renkei_sdk::AfterSend`]),
//! `resolve` (settling an unknown outcome, and an operator's decision), `recover` (the
//! operations of hosts that stopped). What an inquiry, a replay or the request's expiry proves is
//! decided by the pure rules in [`crate::journal::ledger::resolution`]; this module gathers the
//! answers and acts on them.

mod drive;
mod execute;
mod recover;
mod resolve;

pub use recover::{RecoveryReport, rebuild};

use crate::defects::Defects;
use crate::instance::GatewayInstance;
use crate::journal::{
    Drift, ExchangeId, ExchangeRecord, JournalError, JournalStore, OperationId, OperationRecord,
    OrderRecord, Refusal, ReplyRecord, ShopFollowUp, StoredOutcome,
};
use crate::transport::Transport;
use renkei_sdk::{GatewayError, Timestamp};
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
    /// The shop record's new version, when [`Along::shop`] was written with the outcome.
    pub shop_version: Option<i64>,
    /// The steps this call sent, when they are all the operation's exchanges (its first
    /// attempt, settled without resolution); otherwise the journal has them.
    pub steps: Option<Vec<String>>,
}

/// What a caller passes along with an operation ([`Executor::execute_with`]).
#[derive(Default, Clone)]
pub struct Along {
    /// What the caller will do once the operation took effect (see `NewOperation::intent`).
    pub intent: Option<String>,
    /// The journal's order as the caller just read it (`Some(None)`: it has none): the
    /// executor does not read it again, and the operation is refused if the order changed
    /// since (`NewOperation::expected_version`).
    pub known: Option<Option<OrderRecord>>,
    /// The caller's record, written in the transaction that records a success.
    pub shop: Option<Arc<ShopFollowUp>>,
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
    /// Seals the secret parts of payment handles before they are journaled (`crate::seal`).
    handles: crate::seal::Handles,
}

/// What the host hands a plugin about the payment an operation acts on (`Context::handle`,
/// `Context::dates`).
#[derive(Default)]
struct Payment {
    handle: Option<renkei_sdk::Handle>,
    dates: renkei_sdk::PaymentDates,
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
/// Runs a journal read: in place where the journal says reads are quick, else as `blocking`.
async fn read<T: Send + 'static>(
    journal: &Arc<dyn JournalStore>,
    f: impl FnOnce(&dyn JournalStore) -> Result<T, JournalError> + Send + 'static,
) -> Result<T, JournalError> {
    if journal.reads_in_place() {
        return f(&**journal);
    }
    blocking(journal, f).await
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
            handles: crate::seal::Handles::default(),
        }
    }

    /// Seals the secret parts of payment handles with `key` before they are journaled. Without
    /// a key the executor keeps them in memory only, and a host that restarts hands plugins
    /// their handles without them (see `crate::seal`).
    pub fn with_handle_key(mut self, key: crate::seal::HandleKey) -> Executor {
        self.handles = crate::seal::Handles::with_key(key);
        self
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

    /// The exchanges of the operation's current attempt: an earlier attempt was settled as not
    /// applied before this one started, and its unanswered requests say nothing now.
    async fn current_exchanges(
        &self,
        record: &OperationRecord,
    ) -> Result<Vec<ExchangeRecord>, ExecError> {
        let (id, attempt) = (record.id, record.attempt);
        Ok(blocking(&self.journal, move |j| j.exchanges(id))
            .await?
            .into_iter()
            .filter(|x| x.sent.attempt == attempt)
            .collect())
    }

    async fn order_of(&self, record: &OperationRecord) -> Result<Option<OrderRecord>, ExecError> {
        let order = record.order.clone();
        Ok(blocking(&self.journal, move |j| j.order(&order)).await?)
    }

    /// What the plugin is handed about `order`'s payment: its handle, secret parts opened, and
    /// its dates.
    fn payment_of(&self, order: Option<&OrderRecord>) -> Payment {
        let Some(o) = order else {
            return Payment::default();
        };
        let at = |ms: Option<i64>| ms.map(renkei_sdk::Timestamp::from_unix_millis);
        Payment {
            handle: o
                .handle
                .as_ref()
                .map(|stored| self.handles.open(&o.gateway, &o.order, stored)),
            dates: renkei_sdk::PaymentDates {
                authorized_at: at(o.authorized_at_ms),
                captured_at: at(o.captured_at_ms),
            },
        }
    }

    /// The same for the order `record` acts on, read from the journal (resolution's paths,
    /// which do not hold the order at hand).
    async fn payment_for(&self, record: &OperationRecord) -> Result<Payment, ExecError> {
        Ok(self.payment_of(self.order_of(record).await?.as_ref()))
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
}
