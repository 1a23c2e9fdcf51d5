//! The suite's hands: one configured [`GatewayInstance`] loaded by the real host loader, the
//! host's [`Transport`], and a record of every call into the plugin and everything it said
//! (requests, errors, `Debug` forms, tracing events, host scrubs, panics). The secret and panic
//! checks read that record after the dynamic checks have run.
//!
//! The step loop is the host driver's (`renkei_host::Driver::execute`), written out here so
//! that each exchange, its continuation and the real reply stay available to the robustness and
//! determinism checks, which replay them into `interpret`. It records failures and draws no
//! conclusion from them; what a failure after sending means for the money is the SDK's one
//! reading (`renkei_sdk::AfterSend`), which the host's loops and the robustness probes share.

use crate::effects::Book;
use renkei_host::driver::now;
use renkei_host::transport::{Transport, TransportError};
use renkei_host::{GatewayInstance, plugin_log};
use renkei_sdk::{
    Context, ErrorKind, GatewayError, Handle, HttpResponse, Manifest, Operation, Outcome,
    PaymentDates, Step, Timestamp, TransactionRef,
};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerContext, Layer};

/// Whose reading of a reply a check wants: the host's, or the plugin's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    Host,
    Plugin,
}

/// As the host driver: more exchanges than this means the plugin is looping.
const MAX_STEPS: usize = renkei_host::driver::MAX_STEPS;

/// Collects the plugin's tracing events and spans, as the host re-emits them (target
/// `renkei_plugin`), while a run is in progress.
#[derive(Clone, Default)]
pub struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Capture {
    fn len(&self) -> usize {
        self.lines.lock().map(|l| l.len()).unwrap_or(0)
    }

    fn since(&self, mark: usize) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| l.get(mark..).map(<[String]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }

    fn push(&self, line: String) {
        if let Ok(mut l) = self.lines.lock() {
            l.push(line);
        }
    }
}

#[derive(Default)]
struct FieldText(String);

impl Visit for FieldText {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use fmt::Write as _;
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        if event.metadata().target() == plugin_log::TARGET {
            let mut text = FieldText::default();
            event.record(&mut text);
            self.push(format!(
                "{} {}",
                event.metadata().level(),
                text.0.trim_end()
            ));
        }
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: LayerContext<'_, S>,
    ) {
        if attrs.metadata().target() == plugin_log::TARGET {
            let mut text = FieldText::default();
            attrs.record(&mut text);
            self.push(format!("span {}", text.0.trim_end()));
        }
    }
}

/// One call into the plugin and everything observable it produced.
#[derive(Clone, Debug, Default)]
pub struct Call {
    /// What the suite was doing: `prepare capture (lifecycle.capture-refund)`.
    pub origin: String,
    /// Request URL, redacted headers, the journal copy of the body, the continuation: every
    /// form of a request the host logs or journals.
    pub logged_request: Vec<String>,
    /// `Display` of an error the plugin returned.
    pub error: Option<String>,
    pub error_kind: Option<ErrorKind>,
    /// `Debug` of what the plugin returned (step, outcome or error).
    pub debug: String,
    /// Plugin tracing events and spans emitted during the call.
    pub events: Vec<String>,
    /// Secret occurrences the host had to scrub from what the plugin said during the call.
    pub scrubbed: u64,
}

/// The inputs of a [`Context`], owned, so an exchange can be replayed into `interpret`.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub now: Timestamp,
    pub request_id: String,
    pub key: String,
    pub attempt: u32,
    /// The order id the host issues for this attempt, where the manifest declares rules.
    pub order_id: Option<String>,
    /// The handle the plugin last returned for the order's payment, as a host hands it back.
    pub handle: Option<renkei_sdk::Handle>,
    /// When the order's payment was authorized and captured, as a host hands them over.
    pub dates: renkei_sdk::PaymentDates,
}

impl Ctx {
    pub fn context(&self) -> Context<'_> {
        Context {
            now: self.now,
            request_id: &self.request_id,
            idempotency_key: &self.key,
            attempt: self.attempt,
            gateway_order_id: self.order_id.as_deref(),
            handle: self.handle.as_ref(),
            dates: self.dates,
        }
    }
}

/// One exchange of a run: what `interpret` was given for it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub step: String,
    pub state: Vec<u8>,
    pub effect: renkei_sdk::StepEffect,
    pub reply: HttpResponse,
    /// The context `interpret` got.
    pub ctx: Ctx,
    /// What `interpret` answered to the real reply.
    pub answer: Result<Step, GatewayError>,
}

/// Why a run did not finish with an outcome.
#[derive(Clone, Debug)]
pub enum Failure {
    Plugin(GatewayError),
    Transport { step: String, error: TransportError },
    Looping,
}

impl Failure {
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Failure::Plugin(e) => Some(e.kind),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Plugin(e) => write!(f, "{e}"),
            Failure::Transport { step, error } => write!(f, "no reply to `{step}`: {error}"),
            Failure::Looping => write!(f, "the plugin asked for more than {MAX_STEPS} exchanges"),
        }
    }
}

/// One operation carried out against the endpoint.
#[derive(Clone, Debug)]
pub struct Run {
    pub op: Operation,
    pub key: String,
    pub result: Result<Outcome, Failure>,
    pub exchanges: Vec<Recorded>,
    /// The context `prepare` got.
    pub prepared: Ctx,
}

impl Run {
    /// The outcome, or the failure as evidence text.
    pub fn outcome(&self) -> Result<&Outcome, String> {
        self.result
            .as_ref()
            .map_err(|e| format!("{} failed: {e}", self.op.kind()))
    }
}

/// The plugin instance, the transport and the record of calls.
pub struct Harness {
    pub gateway: GatewayInstance,
    transport: Transport,
    capture: Capture,
    calls: RefCell<Vec<Call>>,
    /// Makes order codes and idempotency keys unique per run of the suite.
    run_tag: String,
    counter: Cell<u32>,
    /// Reads the gateway's book, when the suite started the emulator itself.
    book: Option<Box<dyn Fn() -> Book>>,
    /// Every step sent that was declared as moving no money, and what it changed in the book.
    no_money_steps: RefCell<Vec<NoMoneyStep>>,
    /// The handle each order's payment has, as a host keeps it (see `run_attempt`).
    handles: RefCell<std::collections::HashMap<String, (Option<TransactionRef>, Handle)>>,
    /// When each order's payment was authorized and captured, as a host records them.
    dates: RefCell<std::collections::HashMap<String, (Option<TransactionRef>, PaymentDates)>>,
    /// Every secret part of every handle the plugin returned: (where, part name, value).
    handle_secrets: RefCell<Vec<(String, String, String)>>,
    /// The journal copy of every reply of every run (`GatewayInstance::redacted_reply`).
    reply_copies: RefCell<Vec<(String, Vec<u8>)>>,
}

/// A step declared as moving no money, as sent in a run, with what the book showed.
#[derive(Clone, Debug)]
pub struct NoMoneyStep {
    /// `capture, step `guard` (reads)`.
    pub what: String,
    /// What it changed that its declaration does not allow ([`crate::effects::breach`]).
    pub breach: Option<String>,
}

impl Harness {
    pub fn new(gateway: GatewayInstance, capture: Capture, timeout: Duration) -> Harness {
        let run_tag = format!("{:x}", now().unix_millis % 0xff_ffff);
        Harness {
            gateway,
            transport: Transport::new(timeout),
            capture,
            calls: RefCell::new(Vec::new()),
            run_tag,
            counter: Cell::new(0),
            book: None,
            no_money_steps: RefCell::new(Vec::new()),
            handles: RefCell::default(),
            dates: RefCell::default(),
            handle_secrets: RefCell::default(),
            reply_copies: RefCell::default(),
        }
    }

    /// Lets the harness read the gateway's book around each step declared as moving no money.
    pub fn with_book(mut self, book: impl Fn() -> Book + 'static) -> Harness {
        self.book = Some(Box::new(book));
        self
    }

    /// Whether the gateway's book can be read (the suite started the emulator).
    pub fn reads_book(&self) -> bool {
        self.book.is_some()
    }

    /// Every secret part of every handle the plugin returned so far: (where, name, value).
    pub fn handle_secrets(&self) -> Vec<(String, String, String)> {
        self.handle_secrets.borrow().clone()
    }

    /// The journal copy of every reply so far, with where it came from.
    pub fn reply_copies(&self) -> Vec<(String, Vec<u8>)> {
        self.reply_copies.borrow().clone()
    }

    /// The steps declared as moving no money sent so far, with what each changed.
    pub fn no_money_steps(&self) -> Vec<NoMoneyStep> {
        self.no_money_steps.borrow().clone()
    }

    pub fn manifest(&self) -> &Manifest {
        self.gateway.manifest()
    }

    /// What the configured instance offers: the behavioural checks hold the plugin to this, not
    /// to the manifest's static list, because an operation may need a config key the target's
    /// settings leave out (F-REGI's inquiry without the emulator's `inquiry_url`).
    pub fn capabilities(&self) -> &renkei_sdk::Capabilities {
        self.gateway.capabilities()
    }

    /// A fresh order code: gateways refuse a second authorization for one order.
    pub fn order(&self) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!("rc{}{n:03}", self.run_tag)
    }

    /// Every call observed so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// Calls into the plugin through the instance, recording what it produced.
    fn observe(
        &self,
        origin: String,
        call: impl FnOnce() -> Result<Step, GatewayError>,
    ) -> Result<Step, GatewayError> {
        let mark = self.capture.len();
        let scrubbed_before = self.gateway.secrets_scrubbed();
        // The SDK catches plugin panics; this catches a panic in the host's half of the call,
        // so that the suite reports it instead of dying.
        let result = catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|_| {
            Err(GatewayError::new(
                ErrorKind::Panicked,
                "panic on the host side of the plugin call",
            ))
        });
        let mut c = Call {
            origin,
            events: self.capture.since(mark),
            scrubbed: self.gateway.secrets_scrubbed() - scrubbed_before,
            ..Call::default()
        };
        match &result {
            Ok(step) => {
                c.debug = format!("{step:?}");
                if let Step::Send(x) = step {
                    c.logged_request
                        .push(format!("{} {}", x.request.method, &*x.request.url));
                    for (k, v) in x.request.redacted_headers() {
                        c.logged_request.push(format!("{k}: {v}"));
                    }
                    if let Some(body) = &x.journal_body {
                        c.logged_request.push(body.to_string());
                    }
                    c.logged_request
                        .push(String::from_utf8_lossy(&x.state).into_owned());
                }
            }
            Err(e) => {
                c.debug = format!("{e:?}");
                c.error = Some(e.to_string());
                c.error_kind = Some(e.kind);
            }
        }
        self.calls.borrow_mut().push(c);
        result
    }

    pub fn prepare(&self, op: &Operation, ctx: &Ctx, why: &str) -> Result<Step, GatewayError> {
        let origin = format!("prepare {} ({why})", op.kind());
        self.observe(origin, || self.gateway.prepare(op, &ctx.context()))
    }

    pub fn interpret(
        &self,
        op: &Operation,
        ctx: &Ctx,
        state: &[u8],
        reply: &HttpResponse,
        why: &str,
    ) -> Result<Step, GatewayError> {
        self.interpret_as(Reading::Host, op, ctx, state, reply, why)
    }

    /// `interpret`, read as the host reads it ([`Reading::Host`]) or as the plugin said it
    /// ([`Reading::Plugin`]: before the host holds a multi-code error to the manifest's rule,
    /// `GatewayInstance::interpret_unruled`), for checks that judge the plugin itself.
    pub fn interpret_as(
        &self,
        reading: Reading,
        op: &Operation,
        ctx: &Ctx,
        state: &[u8],
        reply: &HttpResponse,
        why: &str,
    ) -> Result<Step, GatewayError> {
        let origin = format!("interpret {} ({why})", op.kind());
        self.observe(origin, || match reading {
            Reading::Host => self.gateway.interpret(op, &ctx.context(), state, reply),
            Reading::Plugin => self
                .gateway
                .interpret_unruled(op, &ctx.context(), state, reply),
        })
    }

    /// Keeps the handle of `order`'s payment after `outcome`, as the host's ledger does: an
    /// outcome's handle replaces it; an outcome about another payment without one drops it; an
    /// inquiry changes nothing.
    fn keep_handle(&self, order: &str, op: &Operation, outcome: &Outcome) {
        if op.kind() == renkei_sdk::OperationKind::Inquire {
            return;
        }
        {
            // As the host's ledger stamps them: the time the operation succeeded.
            use renkei_sdk::OperationKind as K;
            let mut all = self.dates.borrow_mut();
            let (known, dates) = all.entry(order.to_owned()).or_default();
            let new_payment = outcome
                .transaction
                .as_ref()
                .is_some_and(|t| known.as_ref() != Some(t));
            let at = Some(now());
            match op.kind() {
                K::Authorize => dates.authorized_at = at,
                K::ChangeAmount if new_payment => dates.authorized_at = at,
                K::Capture => {
                    if new_payment {
                        dates.authorized_at = at;
                    }
                    dates.captured_at = at;
                }
                _ => {}
            }
            if let Some(t) = &outcome.transaction {
                *known = Some(t.clone());
            }
        }
        if let Some(h) = &outcome.handle {
            self.handle_secrets
                .borrow_mut()
                .extend(h.secret.iter().map(|(name, v)| {
                    (
                        format!("{} of order {order}", op.kind()),
                        name.clone(),
                        v.expose().to_owned(),
                    )
                }));
        }
        let mut handles = self.handles.borrow_mut();
        match (&outcome.handle, &outcome.transaction) {
            (Some(h), t) => {
                handles.insert(order.to_owned(), (t.clone(), h.clone()));
            }
            (None, Some(t))
                if handles
                    .get(order)
                    .is_some_and(|(was, _)| was.as_ref() != Some(t)) =>
            {
                handles.remove(order);
            }
            _ => {}
        }
    }

    /// Runs `op` to completion against the endpoint, with `key` as its idempotency key.
    pub async fn run(&self, op: &Operation, key: &str, why: &str) -> Run {
        self.run_attempt(op, key, 1, why).await
    }

    /// Runs attempt `attempt` of `op` (a new attempt of the same shop action, as a host makes
    /// after a clean refusal), with the order id the host issues for it.
    pub async fn run_attempt(&self, op: &Operation, key: &str, attempt: u32, why: &str) -> Run {
        let order_id = self.gateway.order_id_for(op, key, attempt);
        let order = op.order().as_str().to_owned();
        let handle = self.handles.borrow().get(&order).map(|(_, h)| h.clone());
        let dates = self
            .dates
            .borrow()
            .get(&order)
            .map(|(_, d)| *d)
            .unwrap_or_default();
        let ctx_for = |n: usize| Ctx {
            now: now(),
            request_id: format!("{key}/{attempt}/{n}"),
            key: key.to_owned(),
            attempt,
            order_id: order_id.clone(),
            handle: handle.clone(),
            dates,
        };
        let prepared = ctx_for(1);
        let mut run = Run {
            op: op.clone(),
            key: key.to_owned(),
            result: Err(Failure::Looping),
            exchanges: Vec::new(),
            prepared: prepared.clone(),
        };
        let mut step = match self.prepare(op, &prepared, why) {
            Ok(s) => s,
            Err(e) => {
                run.result = Err(Failure::Plugin(e));
                return run;
            }
        };
        loop {
            let x = match step {
                Step::Done(outcome) => {
                    self.keep_handle(&order, op, &outcome);
                    run.result = Ok(outcome);
                    return run;
                }
                Step::Send(x) => x,
            };
            if run.exchanges.len() >= MAX_STEPS {
                run.result = Err(Failure::Looping);
                return run;
            }
            let book = self.book.as_ref().filter(|_| !x.effect.may_move_money());
            let before = book.map(|read| read());
            let sent = self.transport.send(&x.request).await;
            if let (Some(read), Some(before)) = (book, before) {
                self.no_money_steps.borrow_mut().push(NoMoneyStep {
                    what: format!("{}, step `{}` ({})", op.kind(), x.step, x.effect),
                    breach: crate::effects::breach(x.effect, &before, &read()),
                });
            }
            let reply = match sent {
                Ok(r) => r,
                Err(error) => {
                    run.result = Err(Failure::Transport {
                        step: x.step.to_string(),
                        error,
                    });
                    return run;
                }
            };
            let ctx = ctx_for(run.exchanges.len() + 2);
            let answer = self.interpret(op, &ctx, &x.state, &reply, why);
            let copy = self
                .gateway
                .redacted_reply(op, &x.state, &reply)
                .unwrap_or_else(|| reply.body.clone());
            self.reply_copies
                .borrow_mut()
                .push((format!("{}, reply to step `{}`", op.kind(), x.step), copy));
            run.exchanges.push(Recorded {
                step: x.step.to_string(),
                state: x.state.to_vec(),
                effect: x.effect,
                reply,
                ctx,
                answer: answer.clone(),
            });
            step = match answer {
                Ok(next) => next,
                Err(e) => {
                    run.result = Err(Failure::Plugin(e));
                    return run;
                }
            };
        }
    }
}
