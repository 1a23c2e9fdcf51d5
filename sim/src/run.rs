//! The run: choose a step, do it, check the orders it touched; at the end settle everything as
//! an operator would and check every order.

use crate::book::{self, Book, journal_money};
use crate::check::{self, Broken, Excused};
use crate::model::ModelOrder;
use crate::rig::Rig;
use crate::{Gw, Report, SimConfig, SimError, Violation};
use rand::Rng;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use renkei_host::ShopError;
use renkei_host::journal::{Decision, DriftRecord, OperationStatus, OrderRecord, StoredOutcome};
use renkei_host::shop::{ActionResult, BulkOptions, ShopOrder, StatusChange, Warning};
use renkei_sdk::{
    ErrorKind, Money, OrderRef, PaymentState, RefundExtent, Settlement, TransactionRef,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// The `k`-th of the fault kinds both emulators offer (their `Fault` types share the
/// constructors), with its name for the report.
macro_rules! every_fault {
    ($fault:ident, $k:expr, $latency:expr, $cut:expr) => {
        match $k {
            0 => ("latency", $fault::latency($latency)),
            1 => ("no_reply", $fault::no_reply()),
            2 => (
                "no_reply_after_processing",
                $fault::no_reply_after_processing(),
            ),
            3 => ("http_500", $fault::http_status(500)),
            4 => (
                "http_502_after_processing",
                $fault::http_status_after_processing(502),
            ),
            5 => ("gateway_error", $fault::gateway_error()),
            6 => (
                "gateway_error_after_processing",
                $fault::gateway_error_after_processing(),
            ),
            7 => ("malformed", $fault::malformed()),
            8 => ("cut_body", $fault::cut_body_after($cut)),
            9 => ("reset", $fault::reset()),
            _ => ("reply_lost", $fault::reply_lost()),
        }
    };
}

/// The operator's name in every decision the simulation makes.
const OPERATOR: &str = "sim-operator";

/// How long after an operation's last request the operator first looks at its review: longer
/// than any delay the emulators are asked to hold a request.
const OPERATOR_DELAY_MS: i64 = 3_000;

/// Longer than any request the simulation asks an emulator to hold (a slow write: 1,600 ms),
/// with a margin for a loaded machine.
const GATEWAY_HOLD_LIMIT: Duration = Duration::from_millis(5_000);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Checkout,
    PreOrder,
    RecordPayment,
    Bulk,
    ChangeStatus,
    ChangeAmount,
    ChangeMethod,
    NoPaymentNeeded,
    CancelPaymentDate,
    Inquire,
    Reconcile,
    Concurrent,
    GatewayTool,
    Fault,
    Crash,
    Operator,
}

/// Runs one simulation. A violation ends the run and is in the report; an `Err` means the rig
/// itself failed.
pub async fn simulate(config: SimConfig) -> Result<Report, SimError> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let fregi_inquiry = rng.gen_bool(0.5);
    let rig = Rig::start(&config, fregi_inquiry).await?;
    let mut sim = Sim {
        report: Report {
            seed: config.seed,
            journal: config.journal.name().to_owned(),
            gateways: config.gateways.clone(),
            ..Report::default()
        },
        config,
        rng,
        rig,
        orders: BTreeMap::new(),
        step: 0,
    };
    let outcome = sim.run().await;
    let Sim {
        mut report, rig, ..
    } = sim;
    match outcome {
        Ok(()) => {}
        Err(Stop::Violation(v)) => report.violation = Some(*v),
        Err(Stop::Rig(e)) => {
            rig.shutdown().await;
            return Err(e);
        }
    }
    rig.shutdown().await;
    Ok(report)
}

enum Stop {
    Violation(Box<Violation>),
    Rig(SimError),
}

impl From<SimError> for Stop {
    fn from(e: SimError) -> Stop {
        Stop::Rig(e)
    }
}

struct Sim {
    config: SimConfig,
    rng: ChaCha8Rng,
    rig: Rig,
    orders: BTreeMap<String, ModelOrder>,
    step: u64,
    report: Report,
}

fn internal(e: impl std::fmt::Display) -> SimError {
    SimError::Internal(e.to_string())
}

/// The result of a shop action, reduced to what the report counts.
fn code_of(r: &Result<ActionResult, ShopError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// Refusals: the action did nothing anywhere (`ShopError`'s promise), or the gateway declined it.
fn is_refusal(e: &ShopError) -> bool {
    match e {
        ShopError::NeedsReview { .. } | ShopError::Journal(_) => false,
        ShopError::Gateway { error, .. } => error.kind != ErrorKind::AlreadyDone,
        _ => true,
    }
}

impl Sim {
    async fn run(&mut self) -> Result<(), Stop> {
        let total = self.config.steps;
        while self.step < total {
            self.one_step().await?;
            self.step += 1;
            self.report.steps = self.step;
            if let Some(p) = self.config.progress {
                p(self.step, total);
            }
        }
        self.settle().await
    }

    fn pick_kind(&mut self) -> Kind {
        let w = &self.config.weights;
        let table = [
            (Kind::Checkout, w.checkout),
            (Kind::PreOrder, w.pre_order),
            (Kind::RecordPayment, w.record_payment),
            (Kind::Bulk, w.bulk_record_payment),
            (Kind::ChangeStatus, w.change_status),
            (Kind::ChangeAmount, w.change_amount),
            (Kind::ChangeMethod, w.change_method),
            (Kind::NoPaymentNeeded, w.no_payment_needed),
            (Kind::CancelPaymentDate, w.cancel_payment_date),
            (Kind::Inquire, w.inquire),
            (Kind::Reconcile, w.reconcile),
            (Kind::Concurrent, w.concurrent),
            (Kind::GatewayTool, w.gateway_tool),
            (Kind::Fault, w.fault),
            (Kind::Crash, w.crash),
            (Kind::Operator, w.operator),
        ];
        let sum: u32 = table.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.gen_range(0..sum.max(1));
        for (k, w) in table {
            if x < w {
                return k;
            }
            x -= w;
        }
        Kind::Checkout
    }

    async fn one_step(&mut self) -> Result<(), Stop> {
        let mut kind = self.pick_kind();
        let creating = matches!(kind, Kind::Checkout | Kind::PreOrder);
        if self.orders.is_empty() && !creating {
            kind = Kind::Checkout;
        }
        if creating && self.orders.len() >= self.config.orders {
            kind = Kind::RecordPayment;
        }
        match kind {
            Kind::Checkout => self.checkout().await,
            Kind::PreOrder => self.pre_order().await,
            Kind::RecordPayment => {
                let o = self.pick_order();
                let before = Some(self.snapshot(&o).await?);
                if self.orders[&o].pre_order {
                    self.release(&o).await
                } else {
                    let shop = self.rig.shop.clone();
                    let r = shop.record_payment(&OrderRef::new(&o)).await;
                    self.finish_action("record_payment", &o, r, before).await
                }
            }
            Kind::Bulk => self.bulk().await,
            Kind::ChangeStatus => {
                let o = self.pick_order();
                let before = Some(self.snapshot(&o).await?);
                let change = *[
                    StatusChange::Cancel,
                    StatusChange::Return,
                    StatusChange::Hold,
                    StatusChange::Uncollectible,
                    StatusChange::Delete,
                ]
                .choose(&mut self.rng)
                .unwrap_or(&StatusChange::Cancel);
                let at_gateway = self.rng.gen_bool(0.7);
                let shop = self.rig.shop.clone();
                let r = shop
                    .change_status(&OrderRef::new(&o), change, at_gateway)
                    .await;
                let name = if at_gateway {
                    "change_status+gateway"
                } else {
                    "change_status"
                };
                self.finish_action(name, &o, r, before).await
            }
            Kind::ChangeAmount => {
                let o = self.pick_order();
                let before = Some(self.snapshot(&o).await?);
                let due = self.orders[&o].due;
                let amount = match self.rng.gen_range(0..10) {
                    0 => 0,
                    1 => 1,
                    2 => -500,
                    3..=5 => (due * 8 / 10).max(2),
                    _ => due + self.rng.gen_range(1..=3000),
                };
                let shop = self.rig.shop.clone();
                let r = shop
                    .change_amount(&OrderRef::new(&o), Money::jpy(amount))
                    .await;
                // Asked whenever the request may have reached the gateway: also when its
                // outcome went to review (a gateway that changes the authorization at once,
                // GMO-PG's ChangeTran, may hold the new amount after a lost reply).
                let maybe_sent = matches!(
                    r,
                    Ok(_)
                        | Err(ShopError::NeedsReview { .. }
                            | ShopError::Gateway { .. }
                            | ShopError::Journal(_))
                );
                if maybe_sent && let Some(m) = self.orders.get_mut(&o) {
                    m.asks(amount);
                }
                self.finish_action("change_amount", &o, r, before).await
            }
            Kind::ChangeMethod => {
                let o = self.pick_order();
                let before = Some(self.snapshot(&o).await?);
                let at_gateway = self.rng.gen_bool(0.7);
                let shop = self.rig.shop.clone();
                let r = shop
                    .change_payment_method(&OrderRef::new(&o), "bank_transfer", at_gateway)
                    .await;
                self.finish_action("change_payment_method", &o, r, before)
                    .await
            }
            Kind::NoPaymentNeeded => {
                let o = self.pick_order();
                let before = Some(self.snapshot(&o).await?);
                let at_gateway = self.rng.gen_bool(0.7);
                let shop = self.rig.shop.clone();
                let r = shop.no_payment_needed(&OrderRef::new(&o), at_gateway).await;
                self.finish_action("no_payment_needed", &o, r, before).await
            }
            Kind::CancelPaymentDate => {
                let o = self.pick_order();
                let before = Some(self.snapshot(&o).await?);
                let shop = self.rig.shop.clone();
                let r = shop.cancel_payment_date(&OrderRef::new(&o)).await;
                self.finish_action("cancel_payment_date", &o, r, before)
                    .await
            }
            Kind::Inquire => self.inquire().await,
            Kind::Reconcile => self.reconcile().await,
            Kind::Concurrent => self.concurrent().await,
            Kind::GatewayTool => self.gateway_tool().await,
            Kind::Fault => {
                self.fault();
                Ok(())
            }
            Kind::Crash => self.crash().await,
            Kind::Operator => self.operator_once().await,
        }
    }

    fn pick_order(&mut self) -> String {
        let keys: Vec<&String> = self.orders.keys().collect();
        // Newer orders are busier (a shop works on today's orders).
        let n = keys.len();
        let i = if self.rng.gen_bool(0.6) {
            n - 1 - self.rng.gen_range(0..n.min(8))
        } else {
            self.rng.gen_range(0..n)
        };
        keys[i].clone()
    }

    fn pick_gateway(&mut self) -> Gw {
        *self
            .config
            .gateways
            .choose(&mut self.rng)
            .unwrap_or(&Gw::Sbps)
    }

    fn new_order_id(&self) -> String {
        format!("Q{:05}", self.orders.len() + 1)
    }

    fn note(&mut self, order: &str, line: impl Into<String>) {
        let step = self.step;
        if let Some(m) = self.orders.get_mut(order) {
            m.note(step, line);
        }
    }

    fn violation(&self, order: Option<&str>, (invariant, detail): Broken) -> Stop {
        let history = order
            .and_then(|o| self.orders.get(o))
            .map(|m| m.history.clone())
            .unwrap_or_default();
        Stop::Violation(Box::new(Violation {
            invariant,
            step: self.step,
            order: order.map(str::to_owned),
            detail,
            history,
            reproduce: self.config.command_line(self.step + 1),
        }))
    }

    // ---- reading state ------------------------------------------------------------------

    async fn journal_record(&self, order: &str) -> Result<Option<OrderRecord>, SimError> {
        let j = self.rig.journal.clone();
        let o = OrderRef::new(order);
        tokio::task::spawn_blocking(move || j.order(&o))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    async fn shop_order(&self, order: &str) -> Result<Option<ShopOrder>, SimError> {
        match self.rig.shop.order(&OrderRef::new(order)).await {
            Ok(s) => Ok(Some(s)),
            Err(ShopError::UnknownOrder(_)) => Ok(None),
            Err(e) => Err(internal(e)),
        }
    }

    fn book(&self, order: &str) -> Book {
        let gw = self.orders.get(order).map_or(Gw::Sbps, |m| m.gw);
        book::read(&self.rig, gw, order)
    }

    async fn excused(&self, order: &str) -> Result<Excused, SimError> {
        let j = self.rig.journal.clone();
        let o = OrderRef::new(order);
        let (ops, drifts) = tokio::task::spawn_blocking(move || {
            Ok::<_, renkei_host::journal::JournalError>((j.operations(&o)?, j.drifts(false)?))
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        Ok(Excused {
            in_review: ops.iter().any(|r| {
                matches!(
                    r.status,
                    OperationStatus::NeedsReview
                        | OperationStatus::Unknown
                        | OperationStatus::Pending
                )
            }),
            open_drift: drifts
                .iter()
                .any(|d| d.order.as_str() == order && d.resolution.is_none()),
            gateway_drift: drifts
                .iter()
                .filter(|d| d.order.as_str() == order && d.kind != "due_differs_from_captured")
                .map(|d| format!("{} ({})", d.kind, d.detail))
                .next(),
        })
    }

    async fn snapshot(&self, order: &str) -> Result<check::Snapshot, SimError> {
        let j = self.journal_record(order).await?;
        let s = self.shop_order(order).await?;
        Ok(check::snapshot(j.as_ref(), s.as_ref(), &self.book(order)))
    }

    // ---- checks -------------------------------------------------------------------------

    /// Waits until neither emulator holds a request it has yet to process. A request the host
    /// gave up on is still the gateway's word on an outcome: the book is compared with the
    /// journal once that word is in, or a belief formed too early (an inquiry before expiry)
    /// would pass unseen whenever a later action on the order happened to mend it.
    async fn gateways_settled(&self) {
        let held = || {
            self.rig.sbps.as_ref().map_or(0, |e| e.held_requests())
                + self.rig.fregi.as_ref().map_or(0, |e| e.held_requests())
        };
        let give_up = tokio::time::Instant::now() + GATEWAY_HOLD_LIMIT;
        while held() > 0 && tokio::time::Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn check_order(&mut self, order: &str) -> Result<(), Stop> {
        let Some(model) = self.orders.get(order).cloned() else {
            return Ok(());
        };
        self.gateways_settled().await;
        let book = self.book(order);
        let journal = self.journal_record(order).await?;
        let shop = self.shop_order(order).await?;
        let excused = self.excused(order).await?;
        self.report.checks += 3;
        let r = check::drift_has_an_outside_cause(&model, &excused)
            .and_then(|()| check::no_double_money(&model, &book, &excused))
            .and_then(|()| {
                check::journal_matches_gateway(&model, journal.as_ref(), &book, &excused)
            })
            .and_then(|()| {
                check::shop_matches_journal(&model, shop.as_ref(), journal.as_ref(), &excused)
            });
        r.map_err(|b| self.violation(Some(order), b))
    }

    /// Invariant 5: nothing pending or unknown after recovery.
    async fn check_settled(&mut self) -> Result<(), Stop> {
        let orders: Vec<String> = self.orders.keys().cloned().collect();
        for o in orders {
            let j = self.rig.journal.clone();
            let or = OrderRef::new(&o);
            let ops = tokio::task::spawn_blocking(move || j.operations(&or))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            self.report.checks += 1;
            if let Some(op) = ops.iter().find(|r| {
                matches!(
                    r.status,
                    OperationStatus::Pending | OperationStatus::Unknown
                )
            }) {
                return Err(self.violation(
                    Some(&o),
                    (
                        "nothing_left_pending",
                        format!(
                            "operation {} ({}) is still {} after recovery",
                            op.id.0,
                            op.kind,
                            op.status.name()
                        ),
                    ),
                ));
            }
        }
        Ok(())
    }

    // ---- shop actions -------------------------------------------------------------------

    /// Bookkeeping and checks after a shop action on `order`; `before` is its snapshot
    /// (taken when the action may be refused, to check that a refusal changed nothing).
    async fn finish_action(
        &mut self,
        name: &str,
        order: &str,
        result: Result<ActionResult, ShopError>,
        before: Option<check::Snapshot>,
    ) -> Result<(), Stop> {
        self.record(name, order, &result).await?;
        if let (Some(before), Err(e)) = (before, &result)
            && is_refusal(e)
        {
            let after = self.snapshot(order).await?;
            self.report.checks += 1;
            check::refusal_changed_nothing(
                &format!("{name} was refused ({})", e.code()),
                &before,
                &after,
            )
            .map_err(|b| self.violation(Some(order), b))?;
        }
        self.check_order(order).await
    }

    /// Counts, notes and learns from an action's result (and checks its error for secrets).
    async fn record(
        &mut self,
        name: &str,
        order: &str,
        result: &Result<ActionResult, ShopError>,
    ) -> Result<(), Stop> {
        let code = code_of(result);
        *self
            .report
            .actions
            .entry(format!("{name} → {code}"))
            .or_default() += 1;
        let line = match result {
            Ok(r) => format!(
                "{name}: ok ({}{})",
                r.state.as_ref().map_or("no card payment", |s| s.name()),
                if r.warnings.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; warnings: {}",
                        r.warnings
                            .iter()
                            .map(|w| w.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                }
            ),
            Err(e) => format!("{name}: {code}: {e}"),
        };
        self.note(order, line);
        if let Err(e) = result {
            let text = format!("{e} {e:?}");
            check::no_secret("an error", &text, &self.rig.canary)
                .map_err(|b| self.violation(Some(order), b))?;
        }
        self.learn(name, order, result).await
    }

    /// What the model learns from an action's result.
    async fn learn(
        &mut self,
        name: &str,
        order: &str,
        result: &Result<ActionResult, ShopError>,
    ) -> Result<(), Stop> {
        let shop = self.shop_order(order).await?;
        let Some(m) = self.orders.get_mut(order) else {
            return Ok(());
        };
        match result {
            Ok(r) => {
                if r.warnings.iter().any(|w| {
                    matches!(
                        w,
                        Warning::CapturedDiffersFromDue { .. } | Warning::AmountNotLinked { .. }
                    )
                }) {
                    m.flagged_due = true;
                }
                // An operation shows the host the gateway's state only where it can ask (SBPS
                // reads before it acts); F-REGI without an inquiry cannot see a SEQNO its admin
                // screen made.
                // An operation answered from the journal (its key had already taken effect)
                // sent nothing, so it showed the host nothing.
                if r.operations.iter().any(|op| !op.from_journal) && self.rig.fregi_inquiry_or(m.gw)
                {
                    m.host_looked();
                }
                match name {
                    "record_payment" | "bulk_record_payment" => m.paid = true,
                    "cancel_payment_date" => m.paid = false,
                    "change_amount" => {
                        m.due = r.order.amount_due.minor_units;
                        m.flagged_due |= r
                            .warnings
                            .iter()
                            .any(|w| matches!(w, Warning::AmountNotLinked { .. }));
                    }
                    "change_payment_method" => m.card = false,
                    // G-11: the bill became 0.
                    "no_payment_needed" => {
                        m.card = false;
                        m.due = 0;
                    }
                    "release_pre_order" => m.pre_order = false,
                    _ => {}
                }
                if name.starts_with("change_status") {
                    m.closed = r.order.status.is_closed();
                }
            }
            Err(ShopError::Gateway { error, .. }) if error.kind == ErrorKind::AlreadyDone => {
                m.host_looked();
            }
            Err(ShopError::NeedsReview { .. }) => m.uncertain = true,
            Err(_) => {}
        }
        // While uncertain, the shop's own record is the model's.
        if m.uncertain
            && let Some(s) = &shop
        {
            m.paid = s.paid;
            m.due = s.amount_due.minor_units;
        }
        Ok(())
    }

    async fn checkout(&mut self) -> Result<(), Stop> {
        let gw = self.pick_gateway();
        let id = self.new_order_id();
        let amount = self.rng.gen_range(100..=300) * 100;
        let good = self.rng.gen_bool(0.8);
        self.orders
            .insert(id.clone(), ModelOrder::new(id.clone(), gw, amount));
        self.note(
            &id,
            format!(
                "checkout at {} for {amount} ({} card)",
                gw.name(),
                if good { "good" } else { "declined" }
            ),
        );
        let before = self.snapshot(&id).await?;
        let (source, customer) = self.rig.source(gw, good);
        let shop = self.rig.shop.clone();
        let o = OrderRef::new(&id);
        let r = shop
            .checkout(&o, gw.name(), Money::jpy(amount), source, customer.clone())
            .await;
        let declined = matches!(&r, Err(ShopError::Gateway { error, .. }) if error.kind == ErrorKind::Declined);
        self.finish_action("checkout", &id, r, Some(before)).await?;
        if declined && self.rng.gen_bool(0.7) {
            // The customer tries another card for the same order.
            self.note(&id, "checkout again with another card");
            let (source, customer) = self.rig.source(gw, true);
            let r = shop
                .checkout(&o, gw.name(), Money::jpy(amount), source, customer)
                .await;
            self.finish_action("checkout_retry", &id, r, None).await?;
        }
        Ok(())
    }

    async fn pre_order(&mut self) -> Result<(), Stop> {
        let gw = self.pick_gateway();
        let id = self.new_order_id();
        let amount = self.rng.gen_range(100..=300) * 100;
        let mut m = ModelOrder::new(id.clone(), gw, amount);
        m.pre_order = true;
        self.orders.insert(id.clone(), m);
        self.note(&id, format!("pre-order at {} for {amount}", gw.name()));
        let shop = self.rig.shop.clone();
        let r = shop
            .register_pre_order(&OrderRef::new(&id), gw.name(), Money::jpy(amount))
            .await;
        self.finish_action("register_pre_order", &id, r, None).await
    }

    async fn release(&mut self, order: &str) -> Result<(), Stop> {
        let gw = self.orders[order].gw;
        let before = self.snapshot(order).await?;
        let (source, customer) = self.rig.source(gw, self.rng.gen_bool(0.85));
        let shop = self.rig.shop.clone();
        let r = shop
            .release_pre_order(&OrderRef::new(order), source, customer)
            .await;
        self.finish_action("release_pre_order", order, r, Some(before))
            .await
    }

    async fn bulk(&mut self) -> Result<(), Stop> {
        let mut picked: Vec<String> = (0..self.rng.gen_range(2..=6))
            .map(|_| self.pick_order())
            .collect();
        picked.sort();
        picked.dedup();
        let refs: Vec<OrderRef> = picked.iter().map(OrderRef::new).collect();
        let shop = self.rig.shop.clone();
        let report = shop
            .bulk_record_payment(&refs, BulkOptions { concurrency: 3 }, |_, _| {})
            .await;
        for item in report.items {
            let o = item.order.to_string();
            self.finish_action("bulk_record_payment", &o, item.result, None)
                .await?;
        }
        Ok(())
    }

    async fn inquire(&mut self) -> Result<(), Stop> {
        let o = self.pick_order();
        let r = self.rig.shop.inquire(&OrderRef::new(&o)).await;
        let line = match &r {
            Ok(rep) => format!(
                "inquire: gateway {} ({}){}",
                rep.gateway.state.name(),
                rep.gateway_label.as_deref().unwrap_or("-"),
                rep.drift
                    .as_ref()
                    .map_or(String::new(), |d| format!("; drift {}", d.kind.name()))
            ),
            Err(e) => format!("inquire: {}: {e}", e.code()),
        };
        *self
            .report
            .actions
            .entry(format!(
                "inquire → {}",
                r.as_ref().map_or_else(|e| e.code(), |_| "ok")
            ))
            .or_default() += 1;
        self.note(&o, line);
        if r.is_ok()
            && let Some(m) = self.orders.get_mut(&o)
        {
            m.host_looked();
        }
        self.check_order(&o).await
    }

    async fn reconcile(&mut self) -> Result<(), Stop> {
        let r = self
            .rig
            .shop
            .reconcile(Duration::from_secs(7 * 24 * 3600))
            .await
            .map_err(internal)?;
        *self
            .report
            .actions
            .entry("reconcile → ok".into())
            .or_default() += 1;
        let failed: Vec<String> = r.errors.iter().map(|(o, _)| o.to_string()).collect();
        let step = self.step;
        for (id, m) in self.orders.iter_mut() {
            if !failed.contains(id) && self.rig.fregi_inquiry_or(m.gw) {
                m.host_looked();
                m.note(step, "reconcile looked");
            }
        }
        let ids: Vec<String> = self.orders.keys().cloned().collect();
        for o in ids {
            self.check_order(&o).await?;
        }
        Ok(())
    }

    async fn concurrent(&mut self) -> Result<(), Stop> {
        let o = self.pick_order();
        let a = self.rng.gen_range(0..4);
        let b = self.rng.gen_range(0..4);
        let shop = self.rig.shop.clone();
        let or = OrderRef::new(&o);
        let amount = self.orders[&o].due + 700;
        let run = |k: u32| {
            let shop = shop.clone();
            let or = or.clone();
            async move {
                match k {
                    0 => ("record_payment", shop.record_payment(&or).await),
                    1 => (
                        "change_status+gateway",
                        shop.change_status(&or, StatusChange::Return, true).await,
                    ),
                    2 => (
                        "change_amount",
                        shop.change_amount(&or, Money::jpy(amount)).await,
                    ),
                    _ => ("cancel_payment_date", shop.cancel_payment_date(&or).await),
                }
            }
        };
        self.note(&o, "two actions at once");
        let ((na, ra), (nb, rb)) = tokio::join!(run(a), run(b));
        if let Some(m) = self.orders.get_mut(&o) {
            m.uncertain = true;
            m.asks(amount);
        }
        // Both results are learnt before anything is checked: either may explain the other.
        self.record(na, &o, &ra).await?;
        self.record(nb, &o, &rb).await?;
        self.settle_model(&o).await?;
        self.check_order(&o).await
    }

    /// After two actions at once the model cannot know their order: once nothing is in review
    /// it takes the shop's record as its own again.
    async fn settle_model(&mut self, o: &str) -> Result<(), Stop> {
        let excused = self.excused(o).await?;
        if excused.in_review {
            return Ok(());
        }
        let shop = self.shop_order(o).await?;
        if let (Some(m), Some(s)) = (self.orders.get_mut(o), shop) {
            m.uncertain = false;
            m.paid = s.paid;
            m.due = s.amount_due.minor_units;
            m.card = s.is_card();
            m.closed = s.status.is_closed();
            m.flagged_due = true;
        }
        Ok(())
    }

    // ---- the gateways' own tools --------------------------------------------------------

    async fn gateway_tool(&mut self) -> Result<(), Stop> {
        let o = self.pick_order();
        let gw = self.orders[&o].gw;
        let book = self.book(&o);
        let Some(reference) = book.newest.clone() else {
            return Ok(());
        };
        let what = self.rng.gen_range(0..4);
        let (name, done) = match gw {
            Gw::Sbps => {
                let Some(e) = self.rig.sbps.as_ref() else {
                    return Ok(());
                };
                match what {
                    0 => {
                        let partial = self.rng.gen_bool(0.3);
                        let amount = partial.then(|| (book.open_auth as u32 / 2).max(1));
                        ("capture", e.admin_capture(&reference, amount).is_ok())
                    }
                    1 => ("refund", e.admin_refund(&reference).is_ok()),
                    2 => {
                        let amount = (book.net_captured as u32 / 3).max(1);
                        (
                            "partial_refund",
                            e.admin_partial_refund(&reference, amount).is_ok(),
                        )
                    }
                    _ => ("cancel", e.admin_cancel(&reference).is_ok()),
                }
            }
            Gw::Fregi => {
                let Some(e) = self.rig.fregi.as_ref() else {
                    return Ok(());
                };
                let shop_id = self.rig.fregi_shop_id.clone();
                match what {
                    0 => ("sale", e.admin_sale(&shop_id, &reference).is_ok()),
                    1 => ("cancel", e.admin_cancel(&shop_id, &reference).is_ok()),
                    2 => {
                        let amount = (book.open_auth as u32 * 9 / 10).max(2);
                        (
                            "change_amount",
                            e.admin_change_amount(&shop_id, &reference, amount).is_ok(),
                        )
                    }
                    _ => {
                        let amount = (book.net_captured as u32 * 2 / 3).max(2);
                        (
                            "sale_change",
                            e.admin_sale_change(&shop_id, &reference, amount).is_ok(),
                        )
                    }
                }
            }
            Gw::Gmopg => {
                let Some(e) = self.rig.gmopg.as_ref() else {
                    return Ok(());
                };
                // The management screen's 実売上, 取消/返品 and 金額変更 (of an authorization,
                // or of a sale: a partial refund).
                match what {
                    0 => ("capture", e.admin_capture(&reference).is_ok()),
                    1 => ("cancel", e.admin_cancel(&reference).is_ok()),
                    2 => {
                        let amount = (book.open_auth as u64 * 9 / 10).max(1);
                        (
                            "change_amount",
                            e.admin_change_amount(&reference, amount).is_ok(),
                        )
                    }
                    _ => {
                        let amount = (book.net_captured as u64 * 2 / 3).max(1);
                        (
                            "sale_change",
                            e.admin_change_amount(&reference, amount).is_ok(),
                        )
                    }
                }
            }
        };
        *self
            .report
            .gateway_tool
            .entry(format!(
                "{} {name} → {}",
                gw.name(),
                if done { "done" } else { "refused" }
            ))
            .or_default() += 1;
        if done {
            self.note(&o, format!("{} tool: {name} on {reference}", gw.name()));
            if let Some(m) = self.orders.get_mut(&o) {
                m.tool_unseen = true;
                m.tool_touched = true;
                m.tool_invisible = gw == Gw::Sbps && book.refunded > 0;
            }
        }
        Ok(())
    }

    // ---- faults and crashes -------------------------------------------------------------

    fn fault(&mut self) {
        let gw = self.pick_gateway();
        // 0..=10: every kind both emulators offer, once each; 11..=13: a slow write, the
        // commonest real fault (a money-moving request processed after the host gave up).
        let k = self.rng.gen_range(0..14);
        let slow = self.rng.gen_range(900..1600);
        let which = self.rng.gen_range(0..4);
        // Half the delays outlast the host's deadline: the gateway then processes a request
        // the host gave up on, after any inquiry made too early.
        let latency = if self.rng.gen_bool(0.5) {
            self.rng.gen_range(50..700)
        } else {
            self.rng.gen_range(900..1600)
        };
        let cut = self.rng.gen_range(1..40);
        let name = match gw {
            Gw::Sbps => {
                use renkei_emulator_sbps::Fault;
                let (name, f) = match k {
                    0..=10 => every_fault!(Fault, k, latency, cut),
                    _ => {
                        use renkei_emulator_sbps::Function as F;
                        let f = [
                            F::Sales,
                            F::CancelOrRefund,
                            F::Cancel,
                            F::AuthorizeWithToken,
                        ][which];
                        ("slow_write", Fault::latency(slow).on_function(f))
                    }
                };
                if let Some(e) = &self.rig.sbps {
                    e.install_fault(f);
                }
                name
            }
            Gw::Fregi => {
                use renkei_emulator_fregi::Fault;
                let (name, f) = match k {
                    0..=10 => every_fault!(Fault, k, latency, cut),
                    _ => {
                        use renkei_emulator_fregi::Script as S;
                        let s = [S::Sale, S::SaleCancel, S::AuthCancel, S::Authm][which];
                        ("slow_write", Fault::latency(slow).on_script(s))
                    }
                };
                if let Some(e) = &self.rig.fregi {
                    e.install_fault(f);
                }
                name
            }
            Gw::Gmopg => {
                use renkei_emulator_gmopg::Fault;
                let (name, f) = match k {
                    0..=10 => every_fault!(Fault, k, latency, cut),
                    _ => {
                        use renkei_emulator_gmopg::Api as A;
                        let a = [A::AlterTran, A::ChangeTran, A::AlterTran, A::ExecTran][which];
                        ("slow_write", Fault::latency(slow).on_api(a))
                    }
                };
                if let Some(e) = &self.rig.gmopg {
                    e.install_fault(f);
                }
                name
            }
        };
        *self
            .report
            .faults
            .entry(format!("{} {name}", gw.name()))
            .or_default() += 1;
    }

    /// The host dies in the middle of an action: its future is dropped while the gateway holds
    /// the request, and a new host starts on the same journal and recovers.
    async fn crash(&mut self) -> Result<(), Stop> {
        let o = self.pick_order();
        let gw = self.orders[&o].gw;
        let hold = self.rng.gen_range(100..700);
        // The crash lands while a money-moving request is in flight, the most dangerous point:
        // the gateway holds it (and processes it after the host is gone).
        match gw {
            Gw::Sbps => {
                use renkei_emulator_sbps::{Fault, Function};
                if let Some(e) = &self.rig.sbps {
                    for f in [Function::Sales, Function::CancelOrRefund, Function::Cancel] {
                        e.install_fault(Fault::latency(hold).on_function(f));
                    }
                }
            }
            Gw::Fregi => {
                use renkei_emulator_fregi::{Fault, Script};
                if let Some(e) = &self.rig.fregi {
                    for s in [
                        Script::Sale,
                        Script::SaleCancel,
                        Script::AuthCancel,
                        Script::AuthChange,
                    ] {
                        e.install_fault(Fault::latency(hold).on_script(s));
                    }
                }
            }
            Gw::Gmopg => {
                use renkei_emulator_gmopg::{Api, Fault};
                if let Some(e) = &self.rig.gmopg {
                    for a in [Api::AlterTran, Api::ChangeTran, Api::ExecTran] {
                        e.install_fault(Fault::latency(hold).on_api(a));
                    }
                }
            }
        }
        let which = self.rng.gen_range(0..3);
        let shop = self.rig.shop.clone();
        let or = OrderRef::new(&o);
        let task = tokio::spawn(async move {
            match which {
                0 => shop.record_payment(&or).await,
                1 => shop.change_status(&or, StatusChange::Return, true).await,
                _ => shop.change_status(&or, StatusChange::Cancel, true).await,
            }
        });
        let after = self.rng.gen_range(0..hold + 300);
        tokio::time::sleep(Duration::from_millis(after)).await;
        task.abort();
        let finished = task.await.ok();
        self.report.crashes += 1;
        self.note(
            &o,
            format!(
                "CRASH {after} ms into {} (the action {})",
                ["record_payment", "return+gateway", "cancel+gateway"][which],
                if finished.is_some() {
                    "had finished"
                } else {
                    "was cut"
                }
            ),
        );
        if let Some(m) = self.orders.get_mut(&o) {
            m.uncertain = true;
        }
        let recovered = self.rig.restart().await;
        if let Err(e) = &recovered {
            return Err(self.violation(
                Some(&o),
                ("nothing_left_pending", format!("recovery failed: {e}")),
            ));
        }
        self.check_settled().await?;
        self.settle_model(&o).await?;
        self.check_order(&o).await
    }

    // ---- the operator -------------------------------------------------------------------

    async fn operator_once(&mut self) -> Result<(), Stop> {
        // An operator looks at a review some time after it opened, not the instant it did: a
        // gateway without an expiry (F-REGI) may still be working on a request the host gave
        // up on, and its screen shows the result only then.
        let now = now_ms();
        let reviews: Vec<_> = self
            .rig
            .shop
            .reviews()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|r| {
                let last_sent = r.exchanges.iter().map(|x| x.sent_at_ms).max().unwrap_or(0);
                now - last_sent.max(r.operation.updated_at_ms) > OPERATOR_DELAY_MS
            })
            .collect();
        if let Some(item) = reviews.choose(&mut self.rng).cloned() {
            return self.decide(item).await;
        }
        let drifts = self.rig.shop.drifts(true).await.map_err(internal)?;
        if let Some(d) = drifts.choose(&mut self.rng).cloned() {
            return self.close_drift(d).await;
        }
        Ok(())
    }

    /// What the operator reads on the gateway's screen, as the journal keeps an outcome.
    fn seen(&self, order: &str) -> StoredOutcome {
        let gw = self.orders.get(order).map_or(Gw::Sbps, |m| m.gw);
        outcome_from_book(gw, &self.book(order))
    }

    /// Settles a review from the gateway's book, as a person would from its screen.
    async fn decide(&mut self, item: renkei_host::shop::ReviewItem) -> Result<(), Stop> {
        let o = item.order.to_string();
        let book = self.book(&o);
        let journal = item
            .payment
            .as_ref()
            .and_then(journal_money)
            .unwrap_or((0, 0));
        let decision = if journal == book.money() {
            Decision::NoEffect
        } else {
            let mut seen = self.seen(&o);
            // The screen shows the chain: when the operation moved the payment to a new
            // transaction (F-REGI's authchange, SBPS's re-authorization), the operator says
            // which one it replaced, as the review's evidence names it.
            let known = item.payment.as_ref().and_then(|p| p.transaction.clone());
            if seen.transaction.is_some() && seen.transaction != known {
                seen.replaced = known;
            }
            Decision::TookEffect(Box::new(seen))
        };
        let label = match &decision {
            Decision::NoEffect => "no effect".to_owned(),
            Decision::TookEffect(s) => format!("took effect ({})", s.state.name()),
        };
        let first = self.rig.shop.decide(&item, decision, OPERATOR).await;
        let mut label = label;
        let result = match first {
            Ok(_) => Ok(()),
            // The operation's own effect is not what the screen shows (the tool acted too):
            // the operator says it did not apply, then reports what the screen shows.
            Err(e) => {
                self.note(
                    &o,
                    format!("operator: {label} refused ({e}); deciding no effect"),
                );
                label = "no effect".to_owned();
                self.rig
                    .shop
                    .decide(&item, Decision::NoEffect, OPERATOR)
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = result {
            return Err(self.violation(
                Some(&o),
                (
                    "review_can_be_settled",
                    format!(
                        "the operator cannot settle operation {} from the gateway's screen: {e}",
                        item.operation.id.0
                    ),
                ),
            ));
        }
        self.report.reviews_resolved += 1;
        self.cancel_stale_authorizations(&o);
        self.note(
            &o,
            format!(
                "operator settled review of operation {}: {label}",
                item.operation.id.0
            ),
        );
        // The journal now holds the operation's effect; anything else the screen shows is drift.
        let after = self.journal_record(&o).await?;
        if after.as_ref().and_then(journal_money) != Some(book.money()) && after.is_some() {
            if let Some(m) = self.orders.get_mut(&o) {
                m.partial_effect = true;
            }
            self.report_screen(&o).await?;
        }
        self.settle_model(&o).await?;
        self.check_order(&o).await
    }

    /// An operation that replaces the payment and stopped half-way leaves the old authorization
    /// open: the review's evidence says so, and the operator cancels it in the gateway's tool,
    /// keeping the capture (or the newest authorization).
    fn cancel_stale_authorizations(&mut self, o: &str) {
        let book = self.book(o);
        if book.live <= 1 {
            return;
        }
        let keep_newest = book.net_captured == 0;
        let mut stale = book.open_authorizations.clone();
        if keep_newest {
            stale.pop();
        }
        let gw = self.orders.get(o).map_or(Gw::Sbps, |m| m.gw);
        for reference in stale {
            let done =
                match gw {
                    Gw::Sbps => self
                        .rig
                        .sbps
                        .as_ref()
                        .is_some_and(|e| e.admin_cancel(&reference).is_ok()),
                    Gw::Fregi => self.rig.fregi.as_ref().is_some_and(|e| {
                        e.admin_cancel(&self.rig.fregi_shop_id, &reference).is_ok()
                    }),
                    Gw::Gmopg => self
                        .rig
                        .gmopg
                        .as_ref()
                        .is_some_and(|e| e.admin_cancel(&reference).is_ok()),
                };
            self.note(
                o,
                format!(
                    "operator cancelled the stale authorization {reference} in the tool: {done}"
                ),
            );
        }
    }

    /// The operator reports what the gateway's screen shows (G-8), and adopts it.
    async fn report_screen(&mut self, o: &str) -> Result<(), Stop> {
        let seen = self.seen(o);
        let r = self
            .rig
            .shop
            .report_drift(&OrderRef::new(o), seen.clone(), OPERATOR)
            .await;
        match r {
            Ok(Some(d)) => {
                self.note(
                    o,
                    format!("operator reported drift {} ({})", d.id.0, d.kind),
                );
                if let Some(m) = self.orders.get_mut(o) {
                    m.tool_unseen = false;
                    m.tool_invisible = false;
                }
                self.close_drift(d).await
            }
            Ok(None) => {
                if let Some(m) = self.orders.get_mut(o) {
                    m.tool_unseen = false;
                    m.tool_invisible = false;
                }
                Ok(())
            }
            Err(e) => Err(self.violation(
                Some(o),
                (
                    "review_can_be_settled",
                    format!("the operator cannot report the gateway's screen: {e}"),
                ),
            )),
        }
    }

    async fn close_drift(&mut self, d: DriftRecord) -> Result<(), Stop> {
        let o = d.order.to_string();
        let r = if d.kind == "due_differs_from_captured" {
            self.rig.shop.dismiss_drift(d.id, OPERATOR).await
        } else {
            let seen = self.seen(&o);
            self.rig.shop.adopt_drift(d.id, seen, OPERATOR).await
        };
        match r {
            Ok(_) => {
                self.report.drift_closed += 1;
                self.note(&o, format!("operator closed drift {} ({})", d.id.0, d.kind));
            }
            Err(e) => {
                return Err(self.violation(
                    Some(&o),
                    (
                        "review_can_be_settled",
                        format!(
                            "the operator cannot close drift {} ({}): {e}",
                            d.id.0, d.kind
                        ),
                    ),
                ));
            }
        }
        if let Some(m) = self.orders.get_mut(&o) {
            m.flagged_due = true;
        }
        self.check_order(&o).await
    }

    // ---- the end of the day -------------------------------------------------------------

    /// Faults off; recovery; reconcile; the operator settles every review and drift and
    /// reports what the screens show for orders the host cannot ask about; then every order
    /// must agree with its gateway, nothing may be pending, and no secret may show.
    async fn settle(&mut self) -> Result<(), Stop> {
        if let Some(e) = &self.rig.sbps {
            e.clear_faults();
        }
        if let Some(e) = &self.rig.fregi {
            e.clear_faults();
        }
        let lease = self.rig.shop.executor().lease();
        tokio::time::sleep(lease.max(Duration::from_millis(OPERATOR_DELAY_MS as u64))).await;
        self.rig.shop.recover().await.map_err(internal)?;
        self.check_settled().await?;
        self.reconcile().await?;
        for _ in 0..4 {
            let reviews = self.rig.shop.reviews().await.map_err(internal)?;
            for item in reviews {
                self.decide(item).await?;
            }
            let drifts = self.rig.shop.drifts(true).await.map_err(internal)?;
            for d in drifts {
                self.close_drift(d).await?;
            }
            // What no inquiry can show (F-REGI has none): the operator compares the screen.
            let unseen: Vec<String> = self
                .orders
                .values()
                .filter(|m| m.tool_unseen)
                .map(|m| m.id.clone())
                .collect();
            for o in unseen {
                self.report_screen(&o).await?;
            }
        }
        self.count_journal().await?;
        let ids: Vec<String> = self.orders.keys().cloned().collect();
        for o in &ids {
            let book = self.book(o);
            let journal = self.journal_record(o).await?;
            let excused = self.excused(o).await?;
            self.report.checks += 1;
            let stated = journal.as_ref().map_or(Some((0, 0)), journal_money);
            if excused.in_review || excused.open_drift || stated != Some(book.money()) {
                return Err(self.violation(
                    Some(o),
                    (
                        "journal_matches_gateway",
                        format!(
                            "after the operator settled everything: journal {stated:?}, \
                             gateway {:?}, in review {}, open drift {}",
                            book.money(),
                            excused.in_review,
                            excused.open_drift
                        ),
                    ),
                ));
            }
            self.check_order(o).await?;
        }
        self.check_secrets()
    }

    async fn count_journal(&mut self) -> Result<(), Stop> {
        let ids: Vec<String> = self.orders.keys().cloned().collect();
        let j = self.rig.journal.clone();
        let (ops, drifts) = tokio::task::spawn_blocking(move || {
            let mut ops = Vec::new();
            for o in ids {
                ops.extend(j.operations(&OrderRef::new(o))?);
            }
            Ok::<_, renkei_host::journal::JournalError>((ops, j.drifts(false)?))
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        for op in &ops {
            *self
                .report
                .operations
                .entry(format!("{} {}", op.kind, op.status.name()))
                .or_default() += 1;
            if matches!(
                op.status,
                OperationStatus::Resolved | OperationStatus::NeedsReview
            ) {
                self.report.reviews_opened += 1;
            }
        }
        self.report.drift_events = drifts.len() as u64;
        Ok(())
    }

    fn check_secrets(&mut self) -> Result<(), Stop> {
        let canary = self.rig.canary.clone();
        self.report.checks += 2;
        if let Some(line) = crate::logs::hits(&canary).into_iter().next() {
            return Err(self.violation(None, ("no_secret_leaked", format!("a log line: {line}"))));
        }
        let text = self.rig.journal_text()?;
        if text.windows(canary.len()).any(|w| w == canary.as_bytes()) {
            return Err(self.violation(
                None,
                (
                    "no_secret_leaked",
                    "a configured secret is in the journal in clear".into(),
                ),
            ));
        }
        Ok(())
    }
}

/// The gateway's book as the journal keeps an outcome.
pub fn outcome_from_book(gw: Gw, book: &Book) -> StoredOutcome {
    let state = if book.net_captured > 0 {
        if book.refunded > 0 {
            PaymentState::Refunded {
                extent: RefundExtent::Partial,
                settlement: Settlement::NotReported,
            }
        } else {
            PaymentState::Captured {
                settlement: Settlement::NotReported,
            }
        }
    } else if book.open_auth > 0 {
        PaymentState::Authorized
    } else if book.captured > 0 {
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: Settlement::NotReported,
        }
    } else if book.transactions > 0 {
        PaymentState::Voided
    } else {
        PaymentState::AuthorizationFailed
    };
    let transaction = book.newest.as_ref().map(|t| match gw {
        Gw::Sbps | Gw::Gmopg => TransactionRef::new(t),
        Gw::Fregi => TransactionRef::new(fregi_reference(t, book.newest_authcode.as_deref())),
    });
    let authorized = if book.open_auth > 0 {
        book.open_auth
    } else {
        book.captured
    };
    StoredOutcome {
        state,
        gateway_status: None,
        transaction,
        replaced: None,
        handle: None,
        authorization_code: None,
        authorized: Some(Money::jpy(authorized)),
        captured: Some(Money::jpy(book.captured)),
        refunded: Some(Money::jpy(book.refunded)),
        notes: vec![],
    }
}

/// How the F-REGI plugin names a transaction: `SEQNO-AUTHCODE` (its sale must send both).
fn fregi_reference(seqno: &str, authcode: Option<&str>) -> String {
    match authcode.filter(|a| !a.is_empty()) {
        Some(a) => format!("{seqno}-{a}"),
        None => seqno.to_owned(),
    }
}
