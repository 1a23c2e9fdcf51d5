//! Checks against the endpoint: `lifecycle.*`, `invariant.*`, `replay.*`, `capability.*`.
//!
//! Each scenario starts from a fresh authorization (its own order code), so one failure does
//! not cascade into the next scenario; a scenario whose setup fails reports its checks failed
//! with the setup's error as evidence.

use crate::harness::{Ctx, Failure, Harness, Reading, Run};
use crate::probes;
use crate::registry::Check;
use crate::report::CheckResult;
use renkei_sdk::{
    AfterSend, AmountChange, Currency, CustomerRef, Effect, ErrorKind, Money, Operation,
    OperationKind, OrderRef, Outcome, PaymentSource, PaymentState, RefundExtent, Secret, Step,
    TransactionRef, failed_exchange_effect,
};

/// What the suite pays with.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub token: String,
    pub token_key: Option<String>,
    pub declined_token: Option<String>,
    pub multi_error_token: Option<String>,
    pub customer: Option<String>,
    pub amount: i64,
    pub currency: Currency,
}

/// A payment the suite created, as the plugin last described it.
#[derive(Clone, Debug)]
struct Payment {
    order: String,
    transaction: TransactionRef,
    authorized: Money,
}

/// The scenario runner's state: results so far and the runs later checks replay.
pub struct Scenarios<'a> {
    h: &'a Harness,
    inputs: &'a Inputs,
    pub results: Vec<CheckResult>,
    /// The first successful run of each operation kind, for robustness and determinism.
    pub runs: Vec<Run>,
    /// Disagreements between an inquiry and the step before it.
    inquiry: Vec<String>,
    inquiries: usize,
    /// A transaction that exists at the endpoint, for the capability checks.
    some_transaction: Option<Payment>,
}

/// Whether an inquiry's state `a` agrees with the state `b` a step reported. Settlement is
/// ignored (it moves on its own). After a partial refund a gateway may show the payment as
/// still captured at the reduced amount (F-REGI replaces the sale) or as refunded without
/// saying how much (SBPS's one 返金済 code): both agree; authorized, voided or unknown do not.
/// A refund whose extent is not reported (`RefundExtent::NotReported`) agrees with any refund.
fn same_state(a: &PaymentState, b: &PaymentState) -> bool {
    match (a, b) {
        (
            PaymentState::Captured { .. } | PaymentState::Refunded { .. },
            PaymentState::Refunded {
                extent: RefundExtent::Partial,
                ..
            },
        ) => true,
        (PaymentState::Captured { .. }, PaymentState::Captured { .. }) => true,
        (PaymentState::Refunded { extent: x, .. }, PaymentState::Refunded { extent: y, .. }) => {
            x == y || *x == RefundExtent::NotReported || *y == RefundExtent::NotReported
        }
        _ => a == b,
    }
}

fn o_state_full() -> PaymentState {
    PaymentState::Refunded {
        extent: RefundExtent::Full,
        settlement: renkei_sdk::Settlement::NotReported,
    }
}

fn captured() -> fn(&PaymentState) -> bool {
    |s| matches!(s, PaymentState::Captured { .. })
}

/// Refunded in full, or refunded by a gateway that does not say how much (the SDK's
/// `RefundExtent::NotReported`): such a gateway cannot claim "full", and must not be made to.
fn refunded_full() -> fn(&PaymentState) -> bool {
    |s| {
        matches!(
            s,
            PaymentState::Refunded {
                extent: RefundExtent::Full | RefundExtent::NotReported,
                ..
            }
        )
    }
}

/// An operation the suite expects to fail, with the error kinds that count as the right refusal.
type Expected = (Operation, fn(ErrorKind) -> bool);

/// Any typed error but a panic: after a final state the operation must not succeed; whether
/// the plugin can also prove nothing moved is the inquiry's to confirm.
fn not_success(kind: ErrorKind) -> bool {
    kind != ErrorKind::Panicked
}

/// Kinds that are a refusal by the gateway or the plugin: nothing moved, and it says so.
fn is_refusal(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Rejected | ErrorKind::InvalidRequest | ErrorKind::Declined
    )
}

impl<'a> Scenarios<'a> {
    pub fn new(h: &'a Harness, inputs: &'a Inputs) -> Scenarios<'a> {
        Scenarios {
            h,
            inputs,
            results: Vec::new(),
            runs: Vec::new(),
            inquiry: Vec::new(),
            inquiries: 0,
            some_transaction: None,
        }
    }

    fn supports(&self, k: OperationKind) -> bool {
        self.h.capabilities().supports(k)
    }

    fn money(&self, units: i64) -> Money {
        Money::new(units, self.inputs.currency)
    }

    fn keep(&mut self, run: &Run) {
        if run.result.is_ok()
            && !run.exchanges.is_empty()
            && !self.runs.iter().any(|r| r.op.kind() == run.op.kind())
        {
            self.runs.push(run.clone());
        }
    }

    async fn exec(&mut self, op: Operation, key: &str, why: &str) -> Run {
        let run = self.h.run(&op, key, why).await;
        self.keep(&run);
        run
    }

    fn source(&self) -> PaymentSource {
        PaymentSource::Token {
            token: Secret::new(self.inputs.token.clone()),
            key: self.inputs.token_key.clone().map(Secret::new),
        }
    }

    fn authorize_op(&self, order: &str, amount: i64) -> Operation {
        Operation::Authorize {
            order: OrderRef::new(order),
            amount: self.money(amount),
            source: self.source(),
            customer: self.inputs.customer.clone().map(CustomerRef::new),
            description: Some("Renkei conformance".into()),
        }
    }

    /// A fresh authorization of `amount`; `Err` carries the evidence.
    async fn authorize(&mut self, amount: i64, why: &str) -> Result<Payment, String> {
        let order = self.h.order();
        let run = self
            .exec(
                self.authorize_op(&order, amount),
                &format!("{order}:authorize"),
                why,
            )
            .await;
        let o = run.outcome()?;
        if o.state != PaymentState::Authorized {
            return Err(format!(
                "authorize answered {} instead of authorized",
                o.state
            ));
        }
        let Some(transaction) = o.transaction.clone() else {
            return Err("authorize succeeded without a transaction reference".into());
        };
        if let Some(a) = o.authorized
            && a.minor_units != amount
        {
            return Err(format!("authorized {amount} but the outcome says {a}"));
        }
        let p = Payment {
            order,
            transaction,
            authorized: self.money(amount),
        };
        self.some_transaction.get_or_insert(p.clone());
        self.inquire_agrees(&p, &PaymentState::Authorized, "after authorize")
            .await;
        Ok(p)
    }

    fn capture_op(&self, p: &Payment, amount: Option<i64>) -> Operation {
        Operation::Capture {
            order: OrderRef::new(&*p.order),
            transaction: p.transaction.clone(),
            authorized: p.authorized,
            amount: amount.map(|a| self.money(a)),
        }
    }

    fn void_op(&self, p: &Payment) -> Operation {
        Operation::Void {
            order: OrderRef::new(&*p.order),
            transaction: p.transaction.clone(),
            authorized: p.authorized,
        }
    }

    fn refund_op(&self, p: &Payment, captured: i64, amount: Option<i64>) -> Operation {
        Operation::Refund {
            order: OrderRef::new(&*p.order),
            transaction: p.transaction.clone(),
            captured: self.money(captured),
            amount: amount.map(|a| self.money(a)),
        }
    }

    fn change_op(&self, p: &Payment, new_amount: i64) -> Operation {
        Operation::ChangeAmount {
            order: OrderRef::new(&*p.order),
            transaction: p.transaction.clone(),
            authorized: p.authorized,
            new_amount: self.money(new_amount),
        }
    }

    /// Runs `op` and checks that it succeeds in a state `want` accepts; updates the payment's
    /// reference when the gateway replaced it.
    async fn step(
        &mut self,
        p: &mut Payment,
        op: Operation,
        key: &str,
        want: (&str, fn(&PaymentState) -> bool),
        why: &str,
    ) -> Result<Outcome, String> {
        let kind = op.kind();
        let run = self.exec(op, key, why).await;
        let o = run.outcome()?.clone();
        if !(want.1)(&o.state) {
            return Err(format!("{kind} answered {} instead of {}", o.state, want.0));
        }
        if let Some(t) = &o.transaction {
            p.transaction = t.clone();
        }
        self.inquire_agrees(p, &o.state, &format!("after {kind}"))
            .await;
        Ok(o)
    }

    /// When inquiry is declared: asks for the payment and records any disagreement with
    /// `expected` (the state the previous step reported), and any inquiry state that its own
    /// gateway status does not map to per the status table.
    async fn inquire_agrees(&mut self, p: &Payment, expected: &PaymentState, when: &str) {
        if !self.supports(OperationKind::Inquire) {
            return;
        }
        self.inquiries += 1;
        let op = Operation::Inquire {
            order: OrderRef::new(&*p.order),
            transaction: p.transaction.clone(),
        };
        let key = format!("{}:inquire:{}", p.order, self.inquiries);
        let run = self.exec(op, &key, Check::LifecycleInquiry.id()).await;
        match run.outcome() {
            Err(e) => self.inquiry.push(format!("{when}: {e}")),
            Ok(o) => {
                if !same_state(&o.state, expected) {
                    self.inquiry.push(format!(
                        "{when}: the step reported {expected}, the inquiry {}",
                        o.state
                    ));
                }
                if let Some(code) = &o.gateway_status {
                    let table = self.h.manifest().state_of(code);
                    if table != o.state {
                        self.inquiry.push(format!(
                            "{when}: inquiry reported status {code:?} as {}, the status table \
                             maps it to {table}",
                            o.state
                        ));
                    }
                }
            }
        }
    }

    fn skip_unless(&mut self, id: &str, needs: &[OperationKind]) -> bool {
        let missing: Vec<&str> = needs
            .iter()
            .filter(|k| !self.supports(**k))
            .map(|k| k.name())
            .collect();
        if missing.is_empty() {
            return false;
        }
        self.results.push(CheckResult::skip(
            id,
            format!("the configured instance does not offer {} (not declared, or its enabling config key is unset)", missing.join(", ")),
        ));
        true
    }

    fn record(&mut self, id: &str, evidence: Vec<String>) {
        self.results.push(CheckResult::from_evidence(id, evidence));
    }

    /// `replay.<op>`: replays the run that succeeded with the same idempotency key; a
    /// replay-safe operation must answer `already_done`.
    async fn replay(&mut self, first: &Run) {
        let kind = first.op.kind();
        let id = Check::Replay.instance(&[kind.name()]);
        if !self.h.capabilities().is_replay_safe(kind) {
            return;
        }
        let again = self.h.run(&first.op, &first.key, &id).await;
        let evidence = match &again.result {
            Err(f) if f.kind() == Some(ErrorKind::AlreadyDone) => vec![],
            Err(f) => vec![format!(
                "{kind} is declared replay-safe, but its replay after a success answered `{f}` \
                 instead of already_done"
            )],
            Ok(o) => vec![format!(
                "{kind} is declared replay-safe, but its replay after a success succeeded \
                 again ({}): it may have acted twice and proves nothing",
                o.state
            )],
        };
        self.record(&id, evidence);
    }

    /// Every operation in `ops` must fail; `allowed` says which error kinds are acceptable.
    async fn refused(&mut self, ops: Vec<Expected>, why: &str, evidence: &mut Vec<String>) {
        for (op, allowed) in ops {
            let key = format!("{}:{}:{why}", op.order(), op.kind());
            let run = self.h.run(&op, &key, why).await;
            match &run.result {
                Ok(o) => evidence.push(format!("{} {why} succeeded ({})", op.kind(), o.state)),
                Err(f) => match f.kind() {
                    Some(k) if allowed(k) => {}
                    _ => evidence.push(format!(
                        "{} {why} failed with `{f}`, not the refusal the rule needs",
                        op.kind()
                    )),
                },
            }
        }
    }

    /// authorize → capture → refund, with replays and the capture/refund invariants.
    pub async fn capture_refund(&mut self) {
        let id = Check::LifecycleCaptureRefund.id();
        let needs = [
            OperationKind::Authorize,
            OperationKind::Capture,
            OperationKind::Refund,
        ];
        if self.skip_unless(id, &needs) {
            for id in [
                Check::InvariantCaptureTwice.id(),
                Check::InvariantRefundAboveCaptured.id(),
            ] {
                self.skip_unless(id, &needs);
            }
            return;
        }
        let a = self.inputs.amount;
        let mut p = match self.authorize(a, id).await {
            Ok(p) => p,
            Err(e) => return self.setup_failed(&[id], e),
        };
        let key = format!("{}:capture", p.order);
        let capture = self.capture_op(&p, None);
        let o = match self
            .step(&mut p, capture.clone(), &key, ("captured", captured()), id)
            .await
        {
            Ok(o) => o,
            Err(e) => return self.record(id, vec![e]),
        };
        let mut evidence = Vec::new();
        if let Some(c) = o.captured
            && c.minor_units != a
        {
            evidence.push(format!("captured {a} but the outcome says {c}"));
        }
        let first = Run {
            op: capture,
            key,
            result: Ok(o),
            exchanges: Vec::new(),
            prepared: self.h_ctx(),
        };
        self.replay(&first).await;

        let mut twice = Vec::new();
        self.refused(
            vec![(self.capture_op(&p, None), |k| {
                k == ErrorKind::AlreadyDone || is_refusal(k)
            })],
            "a second time",
            &mut twice,
        )
        .await;
        self.record(Check::InvariantCaptureTwice.id(), twice);

        let mut above = Vec::new();
        self.refused(
            vec![(self.refund_op(&p, a, Some(a + 1)), is_refusal)],
            "above the captured amount",
            &mut above,
        )
        .await;
        let before = self.inquiry.len();
        self.inquire_agrees(
            &p,
            &PaymentState::Captured {
                settlement: renkei_sdk::Settlement::NotReported,
            },
            "after a refund above the captured amount",
        )
        .await;
        above.extend(self.inquiry.drain(before..));
        self.record(Check::InvariantRefundAboveCaptured.id(), above);

        let key = format!("{}:refund", p.order);
        let refund = self.refund_op(&p, a, None);
        match self
            .step(
                &mut p,
                refund.clone(),
                &key,
                ("refunded", refunded_full()),
                id,
            )
            .await
        {
            Ok(o) => {
                if let Some(r) = o.refunded
                    && r.minor_units != a
                {
                    evidence.push(format!("refunded {a} but the outcome says {r}"));
                }
                let first = Run {
                    op: refund,
                    key,
                    result: Ok(o),
                    exchanges: Vec::new(),
                    prepared: self.h_ctx(),
                };
                self.replay(&first).await;
                let mut after = Vec::new();
                self.refused(
                    vec![
                        (self.capture_op(&p, None), not_success),
                        (self.refund_op(&p, a, None), not_success),
                    ],
                    "after a full refund",
                    &mut after,
                )
                .await;
                let before = self.inquiry.len();
                self.inquire_agrees(
                    &p,
                    &o_state_full(),
                    "after operations on a refunded payment",
                )
                .await;
                after.extend(self.inquiry.drain(before..));
                self.record(Check::InvariantAfterRefund.id(), after);
            }
            Err(e) => evidence.push(e),
        }
        self.record(id, evidence);
    }

    fn h_ctx(&self) -> Ctx {
        Ctx {
            now: renkei_sdk::Timestamp::from_unix_millis(0),
            request_id: String::new(),
            key: String::new(),
            attempt: 1,
            order_id: None,
            handle: None,
            dates: Default::default(),
        }
    }

    fn setup_failed(&mut self, ids: &[&str], e: String) {
        for id in ids {
            self.record(id, vec![format!("setup: {e}")]);
        }
    }

    /// authorize → void, with the replay and "nothing after a final cancel".
    pub async fn void(&mut self) {
        let id = Check::LifecycleAuthorizeVoid.id();
        let needs = [OperationKind::Authorize, OperationKind::Void];
        if self.skip_unless(id, &needs) {
            self.skip_unless(Check::InvariantCaptureAfterVoid.id(), &needs);
            self.skip_unless(Check::InvariantAfterVoid.id(), &needs);
            return;
        }
        let a = self.inputs.amount;
        let mut p = match self.authorize(a, id).await {
            Ok(p) => p,
            Err(e) => return self.setup_failed(&[id], e),
        };
        let key = format!("{}:void", p.order);
        let void = self.void_op(&p);
        let o = match self
            .step(
                &mut p,
                void.clone(),
                &key,
                ("voided", |s| *s == PaymentState::Voided),
                id,
            )
            .await
        {
            Ok(o) => o,
            Err(e) => return self.record(id, vec![e]),
        };
        self.record(id, vec![]);
        let first = Run {
            op: void,
            key,
            result: Ok(o),
            exchanges: Vec::new(),
            prepared: self.h_ctx(),
        };
        self.replay(&first).await;

        if self.supports(OperationKind::Capture) {
            let mut ev = Vec::new();
            self.refused(
                // "Already done" would claim a capture that never happened.
                vec![(self.capture_op(&p, None), |k| {
                    k != ErrorKind::AlreadyDone && not_success(k)
                })],
                "after void",
                &mut ev,
            )
            .await;
            self.record(Check::InvariantCaptureAfterVoid.id(), ev);
        } else {
            self.skip_unless(
                Check::InvariantCaptureAfterVoid.id(),
                &[OperationKind::Capture],
            );
        }

        let mut ops: Vec<Expected> = vec![(self.void_op(&p), not_success)];
        if self.supports(OperationKind::Refund) {
            ops.push((self.refund_op(&p, a, None), not_success));
        }
        if self.supports(OperationKind::ChangeAmount) {
            ops.push((self.change_op(&p, self.lower()), not_success));
        }
        let mut ev = Vec::new();
        self.refused(ops, "after void", &mut ev).await;
        let before = self.inquiry.len();
        self.inquire_agrees(
            &p,
            &PaymentState::Voided,
            "after operations on a voided payment",
        )
        .await;
        ev.extend(self.inquiry.drain(before..));
        self.record(Check::InvariantAfterVoid.id(), ev);
    }

    fn lower(&self) -> i64 {
        let min = self.h.manifest().limits.min_amount;
        (self.inputs.amount - self.inputs.amount / 5).max(min)
    }

    fn higher(&self) -> i64 {
        let max = self.h.manifest().limits.max_amount;
        (self.inputs.amount + self.inputs.amount / 5).min(max)
    }

    /// Capture below the authorization, where partial capture or amount changes are declared.
    pub async fn capture_lower(&mut self) {
        let id = Check::LifecycleCaptureLower.id();
        let caps = self.h.capabilities().clone();
        if self.skip_unless(id, &[OperationKind::Authorize, OperationKind::Capture]) {
            return;
        }
        if !caps.partial_capture.is_supported() && caps.amount_change == AmountChange::Unsupported {
            self.results.push(CheckResult::skip(
                id,
                "the manifest declares neither partial capture nor amount changes",
            ));
            return;
        }
        self.capture_at(id, self.lower()).await;
    }

    /// Capture above the authorization, where amount changes are declared.
    pub async fn capture_higher(&mut self) {
        let id = Check::LifecycleCaptureHigher.id();
        if self.skip_unless(id, &[OperationKind::Authorize, OperationKind::Capture]) {
            return;
        }
        if self.h.capabilities().amount_change == AmountChange::Unsupported {
            self.results.push(CheckResult::skip(
                id,
                "the manifest declares amount changes unsupported",
            ));
            return;
        }
        if self.higher() <= self.inputs.amount {
            self.results.push(CheckResult::skip(
                id,
                "the authorization amount is already the manifest's maximum",
            ));
            return;
        }
        self.capture_at(id, self.higher()).await;
    }

    async fn capture_at(&mut self, id: &str, amount: i64) {
        let mut p = match self.authorize(self.inputs.amount, id).await {
            Ok(p) => p,
            Err(e) => return self.setup_failed(&[id], e),
        };
        let key = format!("{}:capture", p.order);
        let op = self.capture_op(&p, Some(amount));
        let reference = p.transaction.clone();
        let in_place =
            amount < self.inputs.amount && self.h.capabilities().partial_capture.is_in_place();
        let mut evidence = Vec::new();
        match self
            .step(&mut p, op, &key, ("captured", captured()), id)
            .await
        {
            Ok(o) => {
                if let Some(c) = o.captured
                    && c.minor_units != amount
                {
                    evidence.push(format!("captured {amount} but the outcome says {c}"));
                }
                // The host settles a lost reply of such a capture by asking about this
                // reference (`acts_in_place`): the declaration must hold.
                if in_place && let Some(why) = moved_reference(&reference, &o) {
                    evidence.push(format!(
                        "the manifest declares partial capture in place, but {why}"
                    ));
                }
            }
            Err(e) => evidence.push(e),
        }
        self.record(id, evidence);
    }

    /// A partial refund, then the rest, where partial refunds are declared.
    pub async fn partial_refund(&mut self) {
        let id = Check::LifecyclePartialRefund.id();
        let needs = [
            OperationKind::Authorize,
            OperationKind::Capture,
            OperationKind::Refund,
        ];
        if self.skip_unless(id, &needs) {
            return;
        }
        if !self.h.capabilities().partial_refund.is_supported() {
            self.results.push(CheckResult::skip(
                id,
                "the manifest declares partial refunds unsupported",
            ));
            return;
        }
        let a = self.inputs.amount;
        let part = (a / 2).max(self.h.manifest().limits.min_amount);
        let mut p = match self.authorize(a, id).await {
            Ok(p) => p,
            Err(e) => return self.setup_failed(&[id], e),
        };
        let capture = self.capture_op(&p, None);
        let key = format!("{}:capture", p.order);
        if let Err(e) = self
            .step(&mut p, capture, &key, ("captured", captured()), id)
            .await
        {
            return self.setup_failed(&[id], e);
        }
        let mut evidence = Vec::new();
        let op = self.refund_op(&p, a, Some(part));
        let key = format!("{}:refund:1", p.order);
        let reference = p.transaction.clone();
        let in_place = self.h.capabilities().partial_refund.is_in_place();
        let partly = (
            "partially refunded (or still captured)",
            (|s: &PaymentState| {
                matches!(
                    s,
                    PaymentState::Captured { .. }
                        | PaymentState::Refunded {
                            extent: RefundExtent::Partial,
                            ..
                        }
                )
            }) as fn(&PaymentState) -> bool,
        );
        match self.step(&mut p, op, &key, partly, id).await {
            Ok(o) => {
                if let Some(r) = o.refunded
                    && r.minor_units != part
                {
                    evidence.push(format!("refunded {part} but the outcome says {r}"));
                }
                if in_place && let Some(why) = moved_reference(&reference, &o) {
                    evidence.push(format!(
                        "the manifest declares partial refund in place, but {why}"
                    ));
                }
                let op = self.refund_op(&p, a - part, None);
                let key = format!("{}:refund:2", p.order);
                if let Err(e) = self
                    .step(&mut p, op, &key, ("refunded", refunded_full()), id)
                    .await
                {
                    evidence.push(format!("refund of the remainder: {e}"));
                }
            }
            Err(e) => evidence.push(e),
        }
        self.record(id, evidence);
    }

    /// Changing an authorized amount, where declared.
    pub async fn change_amount(&mut self) {
        let id = Check::LifecycleChangeAmount.id();
        if self.skip_unless(id, &[OperationKind::Authorize, OperationKind::ChangeAmount]) {
            return;
        }
        let mut p = match self.authorize(self.inputs.amount, id).await {
            Ok(p) => p,
            Err(e) => return self.setup_failed(&[id], e),
        };
        let new = self.lower();
        let key = format!("{}:change_amount", p.order);
        let op = self.change_op(&p, new);
        let mut evidence = Vec::new();
        match self
            .step(
                &mut p,
                op.clone(),
                &key,
                ("authorized", |s| *s == PaymentState::Authorized),
                id,
            )
            .await
        {
            Ok(o) => {
                if let Some(a) = o.authorized
                    && a.minor_units != new
                {
                    evidence.push(format!("changed to {new} but the outcome says {a}"));
                }
                let first = Run {
                    op,
                    key,
                    result: Ok(o),
                    exchanges: Vec::new(),
                    prepared: self.h_ctx(),
                };
                self.replay(&first).await;
            }
            Err(e) => evidence.push(e),
        }
        self.record(id, evidence);
    }

    /// `replay.authorize`, where an authorization is declared replay-safe.
    pub async fn replay_authorize(&mut self) {
        let caps = &self.h.capabilities();
        if !caps.is_replay_safe(OperationKind::Authorize) {
            return;
        }
        let order = self.h.order();
        let op = self.authorize_op(&order, self.inputs.amount);
        let key = format!("{order}:authorize");
        let first = self
            .exec(op, &key, &Check::Replay.instance(&["authorize"]))
            .await;
        match &first.result {
            Ok(_) => self.replay(&first).await,
            Err(e) => self.record(
                &Check::Replay.instance(&["authorize"]),
                vec![format!("setup: authorize: {e}")],
            ),
        }
    }

    /// `lifecycle.order-ids`: where the manifest declares the gateway's order-id rules, the
    /// authorization of each attempt carries the id the host issued for that attempt, verbatim,
    /// so a new attempt sends a new one (a gateway that refuses a seen id then cannot block the
    /// order after a decline).
    pub fn order_ids(&mut self) {
        let id = Check::LifecycleOrderIds.id();
        let Some(rules) = self.h.manifest().limits.order_id.clone() else {
            self.results.push(CheckResult::skip(
                id,
                "the manifest declares no order-id rules (`limits.order_id`): the plugin sends \
                 its own",
            ));
            return;
        };
        if self.skip_unless(id, &[OperationKind::Authorize]) {
            return;
        }
        let order = self.h.order();
        let op = self.authorize_op(&order, self.inputs.amount);
        let key = format!("{order}:authorize");
        let mut evidence = Vec::new();
        for attempt in [1, 2] {
            let Some(issued) = self.h.gateway.order_id_for(&op, &key, attempt) else {
                evidence.push("the host issued no order id despite the declared rules".into());
                break;
            };
            if !rules.allows(&issued) {
                evidence.push(format!(
                    "the host's id {issued:?} breaks the declared rules"
                ));
            }
            let ctx = Ctx {
                now: renkei_sdk::Timestamp::from_unix_millis(1_700_000_000_000),
                request_id: format!("{key}/{attempt}/1"),
                key: key.clone(),
                attempt,
                order_id: Some(issued.clone()),
                handle: None,
                dates: Default::default(),
            };
            match self.h.prepare(&op, &ctx, id) {
                Ok(Step::Send(x)) => {
                    let in_body = x
                        .request
                        .body
                        .windows(issued.len())
                        .any(|w| w == issued.as_bytes());
                    if !in_body && !x.request.url.contains(issued.as_str()) {
                        evidence.push(format!(
                            "attempt {attempt}: the authorization request does not carry the \
                             order id the host issued for it ({issued})"
                        ));
                    }
                }
                Ok(Step::Done(_)) => evidence.push(format!(
                    "attempt {attempt}: the authorization finished without a request"
                )),
                Err(e) => evidence.push(format!("attempt {attempt}: prepare failed: {e}")),
            }
        }
        self.record(id, evidence);
    }

    /// `lifecycle.decline-retry`: a declined authorization is a clean refusal, read by the
    /// host's one rule (`failed_exchange_effect`) as "not applied", not as a possible
    /// authorization for an operator to review; then a new attempt of the same shop action for
    /// the same order, with a card the endpoint approves, authorizes.
    pub async fn decline_retry(&mut self) {
        let id = Check::LifecycleDeclineRetry.id();
        if self.skip_unless(id, &[OperationKind::Authorize]) {
            return;
        }
        let Some(declined) = self.inputs.declined_token.clone() else {
            self.results.push(CheckResult::skip(
                id,
                "the settings name no card token the endpoint declines \
                 (`conformance.declined_token`)",
            ));
            return;
        };
        let order = self.h.order();
        let key = format!("{order}:authorize");
        let approved = self.authorize_op(&order, self.inputs.amount);
        let Operation::Authorize {
            order: o,
            amount,
            customer,
            description,
            ..
        } = approved.clone()
        else {
            unreachable!("authorize_op builds an authorization")
        };
        let refused = Operation::Authorize {
            order: o,
            amount,
            source: PaymentSource::Token {
                token: Secret::new(declined),
                key: self.inputs.token_key.clone().map(Secret::new),
            },
            customer,
            description,
        };
        let mut evidence = Vec::new();
        let first = self.h.run_attempt(&refused, &key, 1, id).await;
        match (&first.result, first.exchanges.split_last()) {
            (Ok(o), _) => evidence.push(format!(
                "the declined token was authorized ({}): `conformance.declined_token` must be \
                 one the endpoint declines",
                o.state
            )),
            (Err(Failure::Plugin(e)), Some((last, earlier))) => {
                let changed = earlier.iter().any(|x| x.effect.may_move_money());
                let after = AfterSend::Answered {
                    status: last.reply.status,
                    kind: e.kind,
                };
                if failed_exchange_effect(after, last.effect, changed) != Effect::NotApplied {
                    evidence.push(format!(
                        "the decline was answered `{}` ({e}) at step `{}` ({}){}: a host reads \
                         that as \"may have applied\" and sends a declined card to review",
                        e.kind,
                        last.step,
                        last.effect,
                        if changed {
                            ", after a step declared as moving money"
                        } else {
                            ""
                        }
                    ));
                }
            }
            (Err(e), _) => evidence.push(format!("the declined authorization: {e}")),
        }
        let second = self.h.run_attempt(&approved, &key, 2, id).await;
        match &second.result {
            Ok(o) if o.state == PaymentState::Authorized => {}
            Ok(o) => evidence.push(format!(
                "attempt 2 of the same order, with an approved card, ended {}",
                o.state
            )),
            Err(e) => evidence.push(format!(
                "attempt 2 of the same order, with an approved card, did not authorize: {e}"
            )),
        }
        self.record(id, evidence);
    }

    /// `lifecycle.multi-error`: an authorization with the settings' `multi_error_token` is
    /// refused in one reply naming several codes of the error table. What the plugin itself
    /// answered (before the host holds it to the declared rule) must list every one of them
    /// (`gateway_code` and `other_codes`) and take the kind the manifest's `multi_error` rule
    /// gives them, in the order the reply names them. The codes are found as whole tokens in
    /// the reply's bytes; rows that are prefixes (`E01*`) cannot be looked for.
    pub async fn multi_error(&mut self) {
        let id = Check::LifecycleMultiError.id();
        if self.skip_unless(id, &[OperationKind::Authorize]) {
            return;
        }
        let Some(token) = self.inputs.multi_error_token.clone() else {
            self.results.push(CheckResult::skip(
                id,
                "the settings name no card token the endpoint refuses with several error codes \
                 (`conformance.multi_error_token`)",
            ));
            return;
        };
        let order = self.h.order();
        let Operation::Authorize {
            order: o,
            amount,
            customer,
            description,
            ..
        } = self.authorize_op(&order, self.inputs.amount)
        else {
            unreachable!("authorize_op builds an authorization")
        };
        let op = Operation::Authorize {
            order: o,
            amount,
            source: PaymentSource::Token {
                token: Secret::new(token),
                key: self.inputs.token_key.clone().map(Secret::new),
            },
            customer,
            description,
        };
        let run = self
            .h
            .run_attempt(&op, &format!("{order}:authorize"), 1, id)
            .await;
        let (Err(Failure::Plugin(_)), Some(last)) = (&run.result, run.exchanges.last()) else {
            let what = match &run.result {
                Ok(o) => format!("was authorized ({})", o.state),
                Err(e) => format!("did not get an answer from the gateway: {e}"),
            };
            self.record(
                id,
                vec![format!(
                    "the authorization with `conformance.multi_error_token` {what}: it must be a \
                     token the endpoint refuses with several error codes"
                )],
            );
            return;
        };
        let manifest = self.h.manifest();
        let mut named: Vec<(usize, &str)> = manifest
            .errors
            .iter()
            .filter(|e| !e.code.ends_with('*'))
            .filter_map(|e| {
                let at = probes::token_positions(&last.reply.body, e.code.as_bytes());
                at.first().map(|at| (*at, e.code.as_str()))
            })
            .collect();
        named.sort();
        let named: Vec<&str> = named.into_iter().map(|(_, c)| c).collect();
        if named.len() < 2 {
            self.record(
                id,
                vec![format!(
                    "the refusal names {} code(s) of the error table ({named:?}): \
                     `conformance.multi_error_token` must be a token the endpoint refuses with \
                     several",
                    named.len()
                )],
            );
            return;
        }
        // An SDK 0.1.0 error crosses the ABI with one code: such a plugin cannot list the others,
        // and is held to what it can say, a kind no less cautious for the money than the rule's.
        let one_code_abi = manifest.sdk_version < semver::Version::new(0, 2, 0);
        let mut evidence = Vec::new();
        match self.h.interpret_as(
            Reading::Plugin,
            &run.op,
            &last.ctx,
            &last.state,
            &last.reply,
            id,
        ) {
            Err(e) if one_code_abi => {
                let kinds = renkei_sdk::code_kinds(&manifest.errors, &named);
                let rule = manifest.multi_error;
                let reads = |kind| {
                    AfterSend::Answered {
                        status: last.reply.status,
                        kind,
                    }
                    .effect()
                };
                if let Some(want) = rule.kind(&kinds)
                    && ((reads(e.kind) == Effect::NotApplied
                        && reads(want) == Effect::MayHaveApplied)
                        || (e.kind == ErrorKind::AlreadyDone && want != ErrorKind::AlreadyDone))
                {
                    evidence.push(format!(
                        "the error is `{}` (an SDK 0.1 error carries one code); the declared \
                         rule `{rule}` gives `{want}` for {named:?}, which says less about \
                         the money",
                        e.kind
                    ));
                }
            }
            Err(e) => {
                let reported: Vec<&str> = e
                    .gateway_code
                    .iter()
                    .chain(e.other_codes.iter())
                    .map(String::as_str)
                    .collect();
                let missing: Vec<&str> = named
                    .iter()
                    .filter(|c| !reported.contains(c))
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    evidence.push(format!(
                        "the reply names {named:?}; the error reports {reported:?} and leaves \
                         out {missing:?}"
                    ));
                }
                let kinds = renkei_sdk::code_kinds(&manifest.errors, &named);
                let rule = manifest.multi_error;
                if let Some(want) = rule.kind(&kinds)
                    && e.kind != want
                {
                    evidence.push(format!(
                        "the error is `{}`; the declared rule `{rule}` gives `{want}` for \
                         {named:?} ({kinds:?})",
                        e.kind
                    ));
                }
            }
            Ok(step) => evidence.push(format!(
                "the refusal, read again, was answered {step:?} instead of an error"
            )),
        }
        self.record(id, evidence);
    }

    /// `lifecycle.find-authorization`: where the manifest declares `authorization_inquiry`, an
    /// authorization (attempt 1 of a shop action) is found by a search under the order id the
    /// host issued for that attempt: authorized, with the reference the authorization
    /// reported. A search under the id of an attempt never sent finds nothing (the payment
    /// awaits its authorization). A search that misses an authorization is what would let a
    /// host take a lost authorization for one never made, and authorize the order twice.
    pub async fn find_authorization(&mut self) {
        let id = Check::LifecycleFindAuthorization.id();
        if !self.h.capabilities().authorization_inquiry {
            self.results.push(CheckResult::skip(
                id,
                "the manifest does not declare `authorization_inquiry`",
            ));
            return;
        }
        if self.skip_unless(id, &[OperationKind::Authorize, OperationKind::Inquire]) {
            return;
        }
        let order = self.h.order();
        let key = format!("{order}:authorize");
        let op = self.authorize_op(&order, self.inputs.amount);
        let authorized = self.h.run_attempt(&op, &key, 1, id).await;
        let reference = match &authorized.result {
            Ok(o) if o.state == PaymentState::Authorized && o.transaction.is_some() => {
                o.transaction.clone()
            }
            Ok(o) => {
                self.record(
                    id,
                    vec![format!("the authorization to look for ended {}", o.state)],
                );
                return;
            }
            Err(e) => {
                self.record(id, vec![format!("the authorization to look for: {e}")]);
                return;
            }
        };
        let search = Operation::FindAuthorization {
            order: OrderRef::new(&order),
            amount: self.money(self.inputs.amount),
        };
        let mut evidence = Vec::new();
        let found = self.h.run_attempt(&search, &key, 1, id).await;
        match &found.result {
            Ok(o) if o.state == PaymentState::Authorized && o.transaction == reference => {}
            Ok(o) => evidence.push(format!(
                "a search under attempt 1's order id found {} (reference {}), not the \
                 authorization it made (reference {}): a host would take a lost authorization \
                 for none",
                o.state,
                o.transaction.as_ref().map_or("none", |t| t.as_str()),
                reference.as_ref().map_or("none", |t| t.as_str()),
            )),
            Err(e) => evidence.push(format!("a search under attempt 1's order id: {e}")),
        }
        let absent = self.h.run_attempt(&search, &key, 7, id).await;
        match &absent.result {
            Ok(o) if o.state.awaits_authorization() => {}
            Ok(o) => evidence.push(format!(
                "a search under the order id of attempt 7, never sent, found {}: it must find \
                 nothing (`awaiting_authorization`)",
                o.state
            )),
            Err(e) => evidence.push(format!(
                "a search under the order id of attempt 7, never sent: {e} (finding nothing is \
                 an answer, `awaiting_authorization`, not an error)"
            )),
        }
        self.record(id, evidence);
    }

    /// `lifecycle.inquiry`: every inquiry agreed with the step before it.
    pub fn inquiry_result(&mut self) {
        let id = Check::LifecycleInquiry.id();
        if !self.supports(OperationKind::Inquire) {
            self.skip_unless(id, &[OperationKind::Inquire]);
            return;
        }
        if self.inquiries == 0 {
            self.results.push(CheckResult::skip(
                id,
                "no scenario got far enough to inquire",
            ));
            return;
        }
        let evidence = std::mem::take(&mut self.inquiry);
        self.record(id, evidence);
    }

    /// `capability.unsupported` and `capability.declared`: `prepare` agrees with the list of
    /// operations the configured instance offers (a typed `unsupported` error without a request,
    /// or a request). The configured list, not the manifest's: an operation enabled by a config
    /// key is unsupported by an instance without it, and must say so.
    pub fn capabilities(&mut self) {
        let Some(p) = self.some_transaction.clone() else {
            for id in [
                Check::CapabilityUnsupported.id(),
                Check::CapabilityDeclared.id(),
            ] {
                self.results.push(CheckResult::skip(
                    id,
                    "no authorization succeeded, so there is no payment to name",
                ));
            }
            return;
        };
        let a = self.inputs.amount;
        let ops = [
            self.authorize_op(&self.h.order(), a),
            self.capture_op(&p, None),
            self.void_op(&p),
            self.refund_op(&p, a, None),
            self.change_op(&p, self.lower()),
            Operation::Inquire {
                order: OrderRef::new(&*p.order),
                transaction: p.transaction.clone(),
            },
        ];
        let caps = self.h.capabilities().clone();
        let ctx = Ctx {
            now: renkei_sdk::Timestamp::from_unix_millis(1_700_000_000_000),
            request_id: "conformance-capability/1".into(),
            key: "conformance-capability".into(),
            attempt: 1,
            order_id: None,
            handle: None,
            dates: Default::default(),
        };
        let (mut unsupported, mut declared) = (Vec::new(), Vec::new());
        let mut any_unsupported = false;
        for op in ops {
            let kind = op.kind();
            let answer = self.h.prepare(&op, &ctx, "capability");
            if caps.supports(kind) {
                match answer {
                    Ok(Step::Send(_)) => {}
                    // Applied at capture time: nothing to send now.
                    Ok(Step::Done(_))
                        if kind == OperationKind::ChangeAmount
                            && caps.amount_change == AmountChange::DeferredToCapture => {}
                    Ok(Step::Done(o)) => declared.push(format!(
                        "{kind} is declared but prepare finished without a request ({})",
                        o.state
                    )),
                    Err(e) => {
                        declared.push(format!("{kind} is declared but prepare refused it: {e}"))
                    }
                }
            } else {
                any_unsupported = true;
                match answer {
                    Err(e) if e.kind == ErrorKind::Unsupported => {}
                    Err(e) => unsupported.push(format!(
                        "{kind} is not offered by this configuration; prepare answered `{e}` instead of unsupported"
                    )),
                    Ok(Step::Send(x)) => unsupported.push(format!(
                        "{kind} is not offered by this configuration, yet prepare built a request ({} {})",
                        x.request.method, &*x.request.url
                    )),
                    Ok(Step::Done(o)) => unsupported.push(format!(
                        "{kind} is not offered by this configuration, yet prepare answered an outcome ({})",
                        o.state
                    )),
                }
            }
        }
        if any_unsupported {
            self.record(Check::CapabilityUnsupported.id(), unsupported);
        } else {
            self.results.push(CheckResult::skip(
                Check::CapabilityUnsupported.id(),
                "the configured instance offers every operation",
            ));
        }
        self.record(Check::CapabilityDeclared.id(), declared);
    }
}

/// Why an outcome shows that the operation did not act in place on `reference` (it names
/// another reference, or says it replaced one), or None when it did.
fn moved_reference(reference: &TransactionRef, o: &Outcome) -> Option<String> {
    if let Some(replaced) = &o.replaced {
        return Some(format!("the outcome says it replaced {replaced}"));
    }
    match &o.transaction {
        Some(t) if t != reference => Some(format!(
            "the outcome names transaction {t}, not {reference}"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host lets an inquiry settle a lost reply of a partial capture or refund declared in
    /// place (`acts_in_place`); an outcome under another reference contradicts the declaration.
    #[test]
    fn a_partial_operation_declared_in_place_must_keep_its_reference() {
        let t = TransactionRef::new("t-1");
        let captured = Outcome::new(PaymentState::Captured {
            settlement: renkei_sdk::Settlement::NotReported,
        });
        assert_eq!(moved_reference(&t, &captured), None);
        assert_eq!(
            moved_reference(&t, &captured.clone().transaction(t.clone())),
            None
        );
        let elsewhere = captured.clone().transaction(TransactionRef::new("t-2"));
        assert!(moved_reference(&t, &elsewhere).unwrap().contains("t-2"));
        let replacing = captured
            .transaction(t.clone())
            .replaced(TransactionRef::new("t-0"));
        assert!(moved_reference(&t, &replacing).unwrap().contains("t-0"));
    }
}
