//! The shop actions: what a shop server calls when an operator acts on an order, carried out at
//! the gateway by the rules of `docs/rules.md` (G-*, S-*, F-*).
//!
//! Each action loads the shop's record of the order ([`ShopOrder`]) and the journal's record of
//! its money at the gateway, decides which gateway operation (if any) the rules call for, runs
//! it through the [`Executor`] (journaled, exactly once), and only then writes the shop's record.
//! A refusal at any point changes nothing and sends nothing.
//!
//! Every gateway operation gets an idempotency key derived from the order and what it acts on
//! (the transaction, the amount), so an action retried after a crash or a lost reply returns the
//! journaled result instead of acting twice; the shop's record is then brought in line.
//!
//! ```no_run
//! use renkei_host::shop::{BulkOptions, Shop, StatusChange};
//! use renkei_host::{Executor, HostConfig, PluginRegistry, journal};
//! use renkei_sdk::{Money, OrderRef, PaymentSource, Secret};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut registry = PluginRegistry::new();
//! registry.load_dir("target/release".as_ref())?;
//! let config = HostConfig::from_toml(&std::fs::read_to_string("renkei.toml")?)?;
//! let fregi = Arc::new(registry.instantiate("fregi", &config.gateways["fregi"])?);
//! let journal = journal::sqlite::open("renkei-journal.db".as_ref())?;
//! let executor = Arc::new(Executor::new(journal.into(), Duration::from_secs(30)));
//! let shop = Shop::new("my-shop", executor).with_gateway(fregi, true); // linkage on (G-1)
//! shop.recover().await?; // settle what a previous run left in flight
//!
//! let order = OrderRef::new("100000924506");
//! let token = PaymentSource::Token { token: Secret::new("from-the-browser"), key: None };
//! shop.checkout(&order, "fregi", Money::jpy(1080), token, None).await?;
//! shop.change_amount(&order, Money::jpy(980)).await?; // held until capture (F-4)
//! let paid = shop.record_payment(&order).await?; // authchange, then sale (F-2)
//! println!("{:?} {:?}", paid.gateway_label, paid.warnings);
//!
//! let unpaid: Vec<OrderRef> = shop.orders(true).await?.into_iter().map(|o| o.order).collect();
//! let report = shop
//!     .bulk_record_payment(&unpaid, BulkOptions { concurrency: 16 }, |_, _| {})
//!     .await;
//! for line in report.failure_lines() {
//!     eprintln!("{line}"); // 100000923704: 売上処理時の指定された取引は承認取消済みです
//! }
//! shop.change_status(&order, StatusChange::Return, true).await?; // refund (G-4, F-6)
//! # Ok(())
//! # }
//! ```

mod actions;
mod bulk;
mod drift;
mod error;
mod intent;
mod order;
mod report;
mod review;

pub use bulk::{BulkItem, BulkOptions, BulkProgress, BulkReport};
pub use drift::{DriftEvent, DriftKind, InquiryReport, ReconcileReport, compare};
pub use error::ShopError;
pub use order::{OrderStatus, PaymentMethod, ShopOrder, StatusChange};
pub use report::{ActionResult, GatewayOp, ShopAction, Warning};
pub use review::{ReviewItem, ReviewedExchange};

use intent::Intent;

use crate::executor::{Along, Completed, ExecError, Executor};
use crate::instance::GatewayInstance;
use crate::journal::{
    JournalError, JournalStore, NewDrift, OperationRecord, OperationStatus, OrderRecord, ShopRow,
};
use renkei_sdk::{ErrorKind, Operation, OperationKind, OrderRef, PaymentState};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// One shop's link to its gateways.
///
/// Cheap to share (`Arc<Shop>`): actions on different orders run concurrently; the journal
/// keeps one writer per order.
pub struct Shop {
    id: String,
    executor: Arc<Executor>,
    gateways: HashMap<String, Arc<GatewayInstance>>,
    /// Automatic linkage per gateway instance (G-1); off unless switched on.
    linkage: RwLock<HashMap<String, bool>>,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("id", &self.id)
            .field("gateways", &self.gateways.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs a blocking journal call off the async threads.
async fn blocking<T: Send + 'static>(
    journal: &Arc<dyn JournalStore>,
    f: impl FnOnce(&dyn JournalStore) -> Result<T, JournalError> + Send + 'static,
) -> Result<T, ShopError> {
    let j = journal.clone();
    tokio::task::spawn_blocking(move || f(&*j))
        .await
        .map_err(|e| ShopError::Journal(JournalError::Storage(format!("journal task: {e}"))))?
        .map_err(ShopError::from)
}

/// A journal read: in place where the journal says reads are quick, else as `blocking`.
async fn read<T: Send + 'static>(
    journal: &Arc<dyn JournalStore>,
    f: impl FnOnce(&dyn JournalStore) -> Result<T, JournalError> + Send + 'static,
) -> Result<T, ShopError> {
    if journal.reads_in_place() {
        return f(&**journal).map_err(ShopError::from);
    }
    blocking(journal, f).await
}

impl Shop {
    /// A shop with no gateways; add them with [`Shop::with_gateway`].
    pub fn new(id: impl Into<String>, executor: Arc<Executor>) -> Shop {
        Shop {
            id: id.into(),
            executor,
            gateways: HashMap::new(),
            linkage: RwLock::new(HashMap::new()),
        }
    }

    /// Adds a gateway instance (by its instance name) with automatic linkage on or off (G-1).
    pub fn with_gateway(mut self, gateway: Arc<GatewayInstance>, linkage: bool) -> Shop {
        let name = gateway.name().to_owned();
        self.linkage
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone(), linkage);
        self.gateways.insert(name, gateway);
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn executor(&self) -> &Arc<Executor> {
        &self.executor
    }

    pub fn gateway(&self, name: &str) -> Result<&Arc<GatewayInstance>, ShopError> {
        self.gateways
            .get(name)
            .ok_or_else(|| ShopError::UnknownGateway(name.to_owned()))
    }

    pub fn gateways(&self) -> impl Iterator<Item = &Arc<GatewayInstance>> {
        self.gateways.values()
    }

    /// Switches automatic linkage with a gateway on or off (G-1).
    pub fn set_linkage(&self, gateway: &str, on: bool) -> Result<(), ShopError> {
        self.gateway(gateway)?;
        self.linkage
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(gateway.to_owned(), on);
        Ok(())
    }

    pub fn linkage(&self, gateway: &str) -> bool {
        self.linkage
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(gateway)
            .copied()
            .unwrap_or(false)
    }

    /// Settles what an earlier run of this host left in flight (see [`Executor::recover`]).
    /// Call before accepting actions, and before resuming a bulk run.
    ///
    /// Then every order of the shop whose journal moved on since its record was written is
    /// brought in line (an action whose host died after the gateway's success and before the
    /// shop's write; a capture recovery just settled), so that the order lists are right.
    pub async fn recover(&self) -> Result<crate::RecoveryReport, ShopError> {
        let report = self.recover_stale().await?;
        for order in self.orders(false).await? {
            self.load(&order.order).await?;
        }
        Ok(report)
    }

    /// Settles the operations whose lease ran out (see [`Executor::recover`]) and brings their
    /// orders' records in line; cheap enough to run periodically ([`Shop::spawn_recovery`]).
    pub async fn recover_stale(&self) -> Result<crate::RecoveryReport, ShopError> {
        let find = |name: &str| self.gateways.get(name).cloned();
        let report = self
            .executor
            .recover(&find)
            .await
            .map_err(|e| exec_error(&OrderRef::new("(recovery)"), e, None))?;
        // Orders whose first authorization was in flight have no shop record yet.
        let recovered: Vec<_> = report
            .applied
            .iter()
            .chain(&report.not_applied)
            .chain(&report.needs_review)
            .copied()
            .collect();
        for id in recovered {
            let op = blocking(self.executor.journal(), move |j| j.operation(id)).await?;
            if let Some(op) = op
                && let Err(e) = self.load(&op.order).await
                && !matches!(e, ShopError::UnknownOrder(_))
            {
                return Err(e);
            }
        }
        Ok(report)
    }

    /// Runs [`Shop::recover_stale`] every `every` for as long as the shop lives: an operation
    /// left pending while the host runs (a future dropped by a client that hung up, a journal
    /// write that failed) must not keep its order busy until the next restart. Ends when the
    /// last `Arc<Shop>` is dropped.
    pub fn spawn_recovery(
        self: &Arc<Self>,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let shop = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(shop) = shop.upgrade() else { break };
                match shop.recover_stale().await {
                    Ok(r) if r.applied.len() + r.not_applied.len() + r.needs_review.len() > 0 => {
                        tracing::info!(
                            applied = r.applied.len(),
                            not_applied = r.not_applied.len(),
                            needs_review = r.needs_review.len(),
                            "periodic recovery settled operations left in flight"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "periodic recovery failed; retrying"),
                }
            }
        })
    }

    /// The shop's record of an order.
    pub async fn order(&self, order: &OrderRef) -> Result<ShopOrder, ShopError> {
        Ok(self.load(order).await?.0)
    }

    /// The shop's orders, in order-reference order; only the unpaid list when `unpaid_only`.
    pub async fn orders(&self, unpaid_only: bool) -> Result<Vec<ShopOrder>, ShopError> {
        let shop = self.id.clone();
        let rows = blocking(self.executor.journal(), move |j| {
            j.shop_rows(&shop, unpaid_only)
        })
        .await?;
        rows.iter().map(decode).collect()
    }

    /// The journal's record of the order's money at its gateway.
    pub async fn payment(&self, order: &OrderRef) -> Result<Option<OrderRecord>, ShopError> {
        let o = order.clone();
        blocking(self.executor.journal(), move |j| j.order(&o)).await
    }

    /// The order's gateway operations, oldest first, with their outcomes and evidence.
    pub async fn history(
        &self,
        order: &OrderRef,
    ) -> Result<Vec<crate::journal::OperationRecord>, ShopError> {
        self.load(order).await?;
        let o = order.clone();
        blocking(self.executor.journal(), move |j| j.operations(&o)).await
    }

    /// An operator's decision on an order whose gateway outcome could not be established
    /// (`ShopError::NeedsReview`): the operation took effect at the gateway (with what the
    /// operator read in the gateway's tool) or it did not. Journaled with the operator's name;
    /// the order accepts actions again afterwards.
    pub async fn resolve_review(
        &self,
        order: &OrderRef,
        operation: crate::journal::OperationId,
        decision: crate::journal::Decision,
        operator: &str,
    ) -> Result<OrderRecord, ShopError> {
        review::require_operator(operator)?;
        self.load(order).await?;
        let record = {
            let id = operation;
            blocking(self.executor.journal(), move |j| j.operation(id)).await?
        };
        if record.as_ref().is_none_or(|r| &r.order != order) {
            return Err(ShopError::IllegalAction {
                order: order.clone(),
                action: "resolve a review",
                reason: format!("operation {} is not one of this order's", operation.0),
            });
        }
        let resolved = self
            .executor
            .resolve_review(operation, decision, operator)
            .await
            .map_err(|e| exec_error(order, e, None))?;
        // What the operation meant for the shop's record follows the operator's decision.
        self.load(order).await?;
        Ok(resolved)
    }

    async fn load(&self, order: &OrderRef) -> Result<(ShopOrder, Option<OrderRecord>), ShopError> {
        let (shop, payment, _) = self.load_caught_up(order).await?;
        Ok((shop, payment))
    }

    /// The shop's record and the journal's, with the shop's brought in line first: the intents
    /// of operations that took effect since the record was last written are applied (and
    /// returned, so that an action repeated after a crash can tell it is already done). An
    /// order whose first authorization never reached the shop's record (its host died, or it
    /// is in review) gets its record from that authorization's intent.
    async fn load_caught_up(
        &self,
        order: &OrderRef,
    ) -> Result<(ShopOrder, Option<OrderRecord>, Vec<(i64, Intent)>), ShopError> {
        let o = order.clone();
        let (row, payment) =
            read(self.executor.journal(), move |j| j.shop_row_and_order(&o)).await?;
        let shop = match (row, &payment) {
            (Some(row), _) if row.shop == self.id => decode(&row)?,
            (None, Some(p)) => match self.adopt_order(p).await? {
                Some(shop) => shop,
                None => return Err(ShopError::UnknownOrder(order.clone())),
            },
            _ => return Err(ShopError::UnknownOrder(order.clone())),
        };
        let Some(p) = payment
            .as_ref()
            .filter(|p| p.version != shop.synced_version)
        else {
            return Ok((shop, payment, vec![]));
        };
        let o = order.clone();
        let ops = blocking(self.executor.journal(), move |j| j.operations(&o)).await?;
        let due = self.intents_after(&ops, shop.synced_operation);
        let version = p.version;
        // Up to the first operation whose outcome may still change (in flight, in review):
        // its intent must still be applied once it is known.
        let settled = |op: &OperationRecord| {
            matches!(
                op.status,
                OperationStatus::Succeeded | OperationStatus::Failed | OperationStatus::Resolved
            )
        };
        let synced_to = ops
            .iter()
            .take_while(|op| settled(op))
            .map(|op| op.id.0)
            .max()
            .unwrap_or(0);
        let apply = due.clone();
        let shop = self
            .commit(shop, move |s| {
                let after = s.synced_operation;
                for (id, intent) in apply.iter().filter(|(id, _)| *id > after) {
                    tracing::info!(order = %s.order, operation = id, "shop record brought in line with the journal");
                    intent.apply(s);
                }
                s.synced_operation = s.synced_operation.max(synced_to);
                s.synced_version = version;
            })
            .await?;
        Ok((shop, payment, due))
    }

    /// The operation, among those just caught up, that carried this very intent: the action
    /// is being repeated after its gateway side was done.
    async fn repeated(
        &self,
        caught_up: &[(i64, Intent)],
        intent: &Intent,
    ) -> Result<Option<GatewayOp>, ShopError> {
        match caught_up.iter().rev().find(|(_, i)| i == intent) {
            Some((id, _)) => Ok(Some(
                self.performed(crate::journal::OperationId(*id)).await?,
            )),
            None => Ok(None),
        }
    }

    /// A journaled operation as an action reports it, marked as coming from the journal.
    async fn performed(&self, id: crate::journal::OperationId) -> Result<GatewayOp, ShopError> {
        let (op, exchanges) = blocking(self.executor.journal(), move |j| {
            Ok((j.operation(id)?, j.exchanges(id)?))
        })
        .await?;
        let op = op.ok_or(ShopError::Journal(JournalError::UnknownOperation(id)))?;
        Ok(GatewayOp {
            operation: id,
            kind: op.kind,
            amount: op.amount,
            steps: exchanges.into_iter().map(|x| x.sent.step).collect(),
            from_journal: true,
            resolution: None,
        })
    }

    /// The gateway operation in flight on the order, if one is.
    async fn in_flight(&self, order: &OrderRef) -> Result<Option<OperationKind>, ShopError> {
        let o = order.clone();
        let ops = blocking(self.executor.journal(), move |j| j.operations(&o)).await?;
        Ok(ops
            .iter()
            .find(|op| op.status.is_active())
            .map(|op| op.kind))
    }

    /// The intents of this shop's operations after `after` that took effect, oldest first.
    fn intents_after(&self, ops: &[OperationRecord], after: i64) -> Vec<(i64, Intent)> {
        ops.iter()
            .filter(|op| op.id.0 > after && took_effect(op))
            .filter_map(|op| {
                Intent::parse(op.intent.as_deref())
                    .filter(|i| i.shop() == self.id)
                    .map(|i| (op.id.0, i))
            })
            .collect()
    }

    /// Creates the shop's record of an order the journal knows from this shop's checkout whose
    /// record was never written: the authorization is in review, in doubt, or took effect
    /// while the host died. A declined checkout creates nothing.
    async fn adopt_order(&self, payment: &OrderRecord) -> Result<Option<ShopOrder>, ShopError> {
        let o = payment.order.clone();
        let ops = blocking(self.executor.journal(), move |j| j.operations(&o)).await?;
        let origin = ops.iter().find_map(|op| {
            let intent = Intent::parse(op.intent.as_deref())?;
            let live = took_effect(op)
                || op.status.is_active()
                || op.status == OperationStatus::NeedsReview;
            match (&intent, live) {
                (
                    Intent::Authorized {
                        shop,
                        gateway,
                        amount_due,
                    },
                    true,
                ) if *shop == self.id => Some((gateway.clone(), *amount_due)),
                _ => None,
            }
        });
        let Some((gateway, amount_due)) = origin else {
            return Ok(None);
        };
        let shop = ShopOrder {
            order: payment.order.clone(),
            shop: self.id.clone(),
            gateway,
            method: PaymentMethod::Card,
            amount_due,
            status: OrderStatus::Normal,
            paid: false,
            updated_ms: now_ms(),
            synced_operation: 0,
            synced_version: -1,
            version: 0,
        };
        match self.commit(shop, |_| {}).await {
            Ok(shop) => Ok(Some(shop)),
            // Another caller created it first: read theirs.
            Err(ShopError::OrderExists(o)) => {
                let o2 = o.clone();
                let row = blocking(self.executor.journal(), move |j| j.shop_row(&o2)).await?;
                row.filter(|r| r.shop == self.id)
                    .map(|r| decode(&r))
                    .transpose()
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the shop's record after an action: `change` applied to the record as read. If
    /// another action wrote it in between, `change` is applied again to the fresh record (the
    /// gateway side is already done and journaled; only the shop's fields are merged). A new
    /// record (version 0) that already exists is `OrderExists`.
    async fn commit(
        &self,
        mut order: ShopOrder,
        change: impl Fn(&mut ShopOrder),
    ) -> Result<ShopOrder, ShopError> {
        for _ in 0..8 {
            change(&mut order);
            order.updated_ms = now_ms();
            let row = row_of(&order)?;
            match blocking(self.executor.journal(), move |j| j.save_shop_row(&row)).await {
                Ok(version) => {
                    order.version = version;
                    return Ok(order);
                }
                Err(ShopError::Journal(JournalError::ShopRecordChanged { .. }))
                    if order.version == 0 =>
                {
                    return Err(ShopError::OrderExists(order.order));
                }
                Err(ShopError::Journal(JournalError::ShopRecordChanged { .. })) => {
                    let o = order.order.clone();
                    let row = blocking(self.executor.journal(), move |j| j.shop_row(&o)).await?;
                    order = match row {
                        Some(row) => decode(&row)?,
                        None => return Err(ShopError::UnknownOrder(order.order)),
                    };
                }
                Err(e) => return Err(e),
            }
        }
        Err(ShopError::Journal(JournalError::ShopRecordChanged {
            order: order.order.to_string(),
        }))
    }

    /// Runs one gateway operation through the journal, with what the shop will do once it took
    /// effect (`intent`).
    async fn run(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        key: &str,
        hint: Option<&'static str>,
        intent: Option<&Intent>,
    ) -> Result<(Completed, GatewayOp), ShopError> {
        let along = Along {
            intent: intent.map(Intent::to_json),
            ..Along::default()
        };
        let (done, performed, _) = self.run_along(gateway, op, key, hint, along, None).await?;
        Ok((done, performed))
    }

    /// [`Shop::run`] with the order as the action read it (`along.known`), and with the shop's
    /// record as `then` makes it written in the transaction that records the success: the
    /// record written is returned (its new version set), or `None` when it was not (the
    /// operation did not run now, or the record changed meanwhile), and the caller commits it.
    async fn run_along(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        key: &str,
        hint: Option<&'static str>,
        mut along: Along,
        then: Option<Then>,
    ) -> Result<(Completed, GatewayOp, Option<ShopOrder>), ShopError> {
        let written = Arc::new(std::sync::Mutex::new(None));
        if let Some((base, change)) = then {
            let stash = written.clone();
            along.shop = Some(Arc::new(
                move |op: &OperationRecord, payment: &OrderRecord| {
                    let mut s = base.clone();
                    change(&mut s);
                    s.synced_operation = s.synced_operation.max(op.id.0);
                    s.synced_version = payment.version;
                    s.updated_ms = now_ms();
                    let row = row_of(&s).ok()?;
                    *stash.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
                    Some(row)
                },
            ));
        }
        let done = match self.executor.execute_with(gateway, op, key, along).await {
            Ok(done) => done,
            Err(ExecError::Failed {
                operation, error, ..
            }) if error.kind == ErrorKind::AlreadyDone => {
                // The gateway is already where this operation would take it, but not by this
                // operation: its own tool, or another system (G-8). The journal does not know;
                // an operator adopts the gateway's state or dismisses it.
                self.record_already_done(gateway, op, &error).await?;
                return Err(exec_error(
                    op.order(),
                    ExecError::Failed {
                        operation,
                        error,
                        resolution: None,
                    },
                    hint,
                ));
            }
            Err(e) => return Err(exec_error(op.order(), e, hint)),
        };
        let id = done.operation.id;
        let steps = match &done.steps {
            Some(steps) => steps.clone(),
            None => blocking(self.executor.journal(), move |j| j.exchanges(id))
                .await?
                .into_iter()
                .map(|x| x.sent.step)
                .collect(),
        };
        let performed = GatewayOp {
            operation: id,
            kind: done.operation.kind,
            amount: done.operation.amount,
            steps,
            from_journal: done.from_journal,
            resolution: done.resolution,
        };
        let written = match done.shop_version {
            Some(version) => written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .map(|s| ShopOrder { version, ..s }),
            None => None,
        };
        Ok((done, performed, written))
    }

    async fn record_already_done(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        error: &renkei_sdk::GatewayError,
    ) -> Result<(), ShopError> {
        use renkei_sdk::{RefundExtent, Settlement};
        if self
            .executor
            .defects()
            .has(crate::defects::Defect::IgnoreAlreadyDone)
        {
            return Ok(());
        }
        let gateway_state = match op.kind() {
            OperationKind::Capture => PaymentState::Captured {
                settlement: Settlement::NotReported,
            },
            OperationKind::Void => PaymentState::Voided,
            OperationKind::Refund => PaymentState::Refunded {
                extent: RefundExtent::NotReported,
                settlement: Settlement::NotReported,
            },
            _ => return Ok(()),
        };
        let o = op.order().clone();
        let journal_state = blocking(self.executor.journal(), move |j| j.order(&o))
            .await?
            .map_or(PaymentState::AwaitingAuthorization, |p| p.state);
        let drift = NewDrift {
            order: op.order().clone(),
            gateway: gateway.name().to_owned(),
            kind: "already_done_at_gateway".into(),
            detail: format!(
                "the gateway answered {} with \"already done\" ({}): it was done outside this \
                 shop (G-8)",
                op.kind(),
                error.gateway_message.as_deref().unwrap_or(&error.message)
            ),
            journal_state,
            gateway_state,
            gateway_status: error.gateway_code.clone(),
        };
        let now = now_ms();
        let kept = blocking(self.executor.journal(), move |j| {
            j.record_drift(&drift, now)
        })
        .await?;
        tracing::warn!(order = %op.order(), drift = kept.id.0, "drift: {}", kept.detail);
        Ok(())
    }

    /// The gateway's label for a status code, from the plugin's table.
    fn label(&self, gateway: &str, code: Option<&str>) -> Option<String> {
        let code = code?;
        self.gateways
            .get(gateway)?
            .manifest()
            .statuses
            .iter()
            .find(|s| s.code == code)
            .map(|s| s.label.clone())
    }

    fn result(
        &self,
        action: ShopAction,
        order: ShopOrder,
        payment: Option<&OrderRecord>,
        operations: Vec<GatewayOp>,
        warnings: Vec<Warning>,
    ) -> ActionResult {
        let card = order.is_card() || payment.is_some_and(|p| !p.state.is_final());
        let (state, status) = match payment.filter(|_| card || !operations.is_empty()) {
            Some(p) => (Some(p.state.clone()), p.gateway_status.clone()),
            None => (None, None),
        };
        ActionResult {
            action,
            gateway_label: self.label(&order.gateway, status.as_deref()),
            gateway_status: status,
            state,
            order,
            operations,
            warnings,
        }
    }
}

fn decode(row: &ShopRow) -> Result<ShopOrder, ShopError> {
    let mut order: ShopOrder = serde_json::from_str(&row.data).map_err(|e| {
        ShopError::Journal(JournalError::Corrupt(format!(
            "shop record of order {}: {e}",
            row.order
        )))
    })?;
    order.version = row.version;
    Ok(order)
}

fn exec_error(order: &OrderRef, e: ExecError, hint: Option<&'static str>) -> ShopError {
    match e {
        ExecError::Refused(r) => ShopError::Refused(r),
        ExecError::Rejected(error) => ShopError::Rejected {
            order: order.clone(),
            error: Box::new(error),
        },
        ExecError::Failed {
            operation, error, ..
        } => ShopError::Gateway {
            order: order.clone(),
            operation,
            error: Box::new(error),
            hint,
        },
        ExecError::NeedsReview {
            operation,
            evidence,
        } => ShopError::NeedsReview {
            order: order.clone(),
            operation,
            evidence,
        },
        ExecError::Journal(e) => ShopError::from(e),
    }
}

/// The change to the shop's record that marks it caught up with a finished operation.
/// The shop's record as read, and the change an action makes to it once its operation took
/// effect ([`Shop::run_along`]).
type Then = (ShopOrder, fn(&mut ShopOrder));

/// The shop's record as stored.
fn row_of(order: &ShopOrder) -> Result<ShopRow, ShopError> {
    Ok(ShopRow {
        order: order.order.clone(),
        shop: order.shop.clone(),
        unpaid: order.is_unpaid(),
        data: serde_json::to_string(order)
            .map_err(|e| ShopError::Journal(JournalError::Corrupt(e.to_string())))?,
        updated_ms: order.updated_ms,
        version: order.version,
    })
}

fn synced(done: &Completed) -> impl Fn(&mut ShopOrder) + Send + Sync + 'static {
    let (id, version) = (done.operation.id.0, done.order.as_ref().map(|o| o.version));
    move |s: &mut ShopOrder| {
        s.synced_operation = s.synced_operation.max(id);
        if let Some(v) = version {
            s.synced_version = v;
        }
    }
}

/// Whether an operation took effect at the gateway (succeeded, or an operator said so).
fn took_effect(op: &OperationRecord) -> bool {
    op.status == OperationStatus::Succeeded
        || (op.status == OperationStatus::Resolved && op.outcome.is_some())
}

/// Whether the journal's state is "captured, with something left to refund".
fn is_captured(state: &PaymentState) -> bool {
    matches!(
        state,
        PaymentState::Captured { .. }
            | PaymentState::Refunded {
                extent: renkei_sdk::RefundExtent::Partial,
                ..
            }
    )
}
