//! The fault matrix: one table of faults, run against both gateways.
//!
//! Each row is a fault the emulators inject and whether the request it hits takes effect at the
//! gateway. What the executor must make of it, for each operation, is not written per gateway:
//! [`expected`] derives it from what the gateway instance declares (an inquiry it offers, a
//! request expiry, the operations it calls replay-safe), following the resolution rule of
//! ARCHITECTURE.md. SBPS declares an inquiry (MG01, `docs/protocols/sbps.md` §6.8) and a request
//! expiry (`request_date` + `limit_second`, §3.2); F-REGI declares no expiry and offers an
//! inquiry only with the emulator's extension configured (`docs/protocols/fregi.md` §3,
//! §10.3), so it runs twice, with and without it. An unknown outcome is never guessed: it is
//! settled by an inquiry, by a declared-safe replay, or by an operator.
//!
//! The gateway-specific parts (starting an emulator, which script or function an operation hits,
//! what the emulator's book shows) are in one adapter per gateway, [`sbps`] and [`fregi`].

use crate::support::Journaled;
use renkei_host::journal::{Decision, JournalStore, OperationId, OperationStatus, StoredOutcome};
use renkei_host::{ExecError, GatewayInstance, Resolution};
use renkei_sdk::{
    ConfigValue, Inquiry, Money, Operation, OperationKind, OrderRef, PaymentState, Settlement,
    TransactionRef,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// Every exchange gets this long: the faults that hold the connection turn into a timeout
/// quickly.
const DEADLINE: Duration = Duration::from_millis(800);

/// The amount every row authorizes, and the one an amount change asks for.
const AMOUNT: i64 = 1000;
const CHANGED_AMOUNT: i64 = 1500;

/// A fault, named as both emulators name it. Each adapter builds its own emulator's rule from
/// it with that emulator's constructors.
#[derive(Clone, Copy, Debug)]
enum Kind {
    NoReply,
    NoReplyAfterProcessing,
    HttpStatus(u16),
    HttpStatusAfterProcessing(u16),
    GatewayError,
    GatewayErrorAfterProcessing,
    Malformed,
    CutBody,
    Reset,
    ReplyLost,
}

/// Builds a `$fault` (either emulator's `Fault`) from a [`Kind`], for the next request only.
macro_rules! build_fault {
    ($fault:ty, $kind:expr) => {
        match $kind {
            Kind::NoReply => <$fault>::no_reply(),
            Kind::NoReplyAfterProcessing => <$fault>::no_reply_after_processing(),
            Kind::HttpStatus(status) => <$fault>::http_status(status),
            Kind::HttpStatusAfterProcessing(status) => {
                <$fault>::http_status_after_processing(status)
            }
            Kind::GatewayError => <$fault>::gateway_error(),
            Kind::GatewayErrorAfterProcessing => <$fault>::gateway_error_after_processing(),
            Kind::Malformed => <$fault>::malformed(),
            Kind::CutBody => <$fault>::cut_body(),
            Kind::Reset => <$fault>::reset(),
            Kind::ReplyLost => <$fault>::reply_lost(),
        }
        .times(1)
    };
}

/// One row of the matrix.
#[derive(Clone, Copy, Debug)]
struct Row {
    name: &'static str,
    kind: Kind,
    /// Whether the gateway applies the request before the fault shows.
    takes_effect: bool,
}

const fn row(name: &'static str, kind: Kind, takes_effect: bool) -> Row {
    Row {
        name,
        kind,
        takes_effect,
    }
}

/// The faults. None of them settles the outcome: a timeout, a reset, a 5xx from a load balancer,
/// a cut or unparsable body and an error code in no table all leave the request possibly
/// processed, whether or not the emulator did process it.
const ROWS: [Row; 12] = [
    // The connection is held open and never answered: the client times out.
    row("hold", Kind::NoReply, false),
    row("hold_after_processing", Kind::NoReplyAfterProcessing, true),
    row("reset", Kind::Reset, false),
    // Processed, then the connection is closed without a byte of the reply.
    row("close_without_reply", Kind::ReplyLost, true),
    row("truncated_reply", Kind::CutBody, true),
    row("malformed_reply", Kind::Malformed, true),
    row("http_500", Kind::HttpStatus(500), false),
    row("http_503", Kind::HttpStatus(503), false),
    // A load balancer's answer after the gateway processed: not "nothing happened".
    row(
        "http_502_after_processing",
        Kind::HttpStatusAfterProcessing(502),
        true,
    ),
    row(
        "http_504_after_processing",
        Kind::HttpStatusAfterProcessing(504),
        true,
    ),
    // An error code in no table (SBPS: a system error, type 80; F-REGI: an NG reason in no
    // prefix it uses), before and after processing.
    row("gateway_error", Kind::GatewayError, false),
    row(
        "gateway_error_after_processing",
        Kind::GatewayErrorAfterProcessing,
        true,
    ),
];

/// The operations every row runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Authorize,
    Capture,
    Void,
    Refund,
    ChangeAmount,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Authorize => "authorize",
            Op::Capture => "capture",
            Op::Void => "void",
            Op::Refund => "refund",
            Op::ChangeAmount => "change_amount",
        }
    }

    /// The start of the rows' order codes (F-REGI's ID takes no underscore).
    fn order_prefix(self) -> &'static str {
        match self {
            Op::Authorize => "auth",
            Op::Capture => "cap",
            Op::Void => "void",
            Op::Refund => "ref",
            Op::ChangeAmount => "chg",
        }
    }

    fn kind(self) -> OperationKind {
        match self {
            Op::Authorize => OperationKind::Authorize,
            Op::Capture => OperationKind::Capture,
            Op::Void => OperationKind::Void,
            Op::Refund => OperationKind::Refund,
            Op::ChangeAmount => OperationKind::ChangeAmount,
        }
    }

    /// The operation leaves its result under a reference the host does not know yet: an
    /// authorization creates the payment; an amount change re-authorizes (SBPS, a new payment)
    /// or replaces the SEQNO (F-REGI `authchange`, `docs/protocols/fregi.md` §4.5).
    fn makes_a_new_reference(self) -> bool {
        matches!(self, Op::Authorize | Op::ChangeAmount)
    }
}

/// How the executor settles an unknown outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settles {
    /// An inquiry finds the change: succeeded.
    ByInquiryApplied,
    /// After the request expired, an inquiry finds no change: failed, nothing happened.
    ByInquiryNotApplied,
    /// Replayed, as the gateway declares safe: succeeded, either by the replay itself or by its
    /// "already done".
    ByReplay,
    /// Nothing settles it: the order waits for an operator (never guessed).
    Review,
}

/// What a gateway instance declares that decides how an unknown outcome settles.
#[derive(Clone, Debug)]
struct Declared {
    inquiry: bool,
    expiry: bool,
    replay_safe: Vec<OperationKind>,
}

impl Declared {
    fn of(gateway: &GatewayInstance) -> Declared {
        let caps = gateway.capabilities();
        Declared {
            inquiry: caps.supports(OperationKind::Inquire) && caps.inquiry != Inquiry::Unavailable,
            expiry: gateway.request_expiry().is_some(),
            replay_safe: caps.replay_safe.clone(),
        }
    }
}

/// The settlement the resolution rule gives `op` hit by a fault, from the gateway's
/// declarations alone. An inquiry about the operation's reference settles a change it finds at
/// once, and "unchanged" only once the request has expired; a declared-safe replay comes next;
/// anything else, and anything under a reference the host does not know, goes to review.
fn expected(declared: &Declared, op: Op, takes_effect: bool) -> Settles {
    if op.makes_a_new_reference() {
        return Settles::Review;
    }
    if declared.inquiry && takes_effect {
        return Settles::ByInquiryApplied;
    }
    if declared.inquiry && declared.expiry {
        return Settles::ByInquiryNotApplied;
    }
    if declared.replay_safe.contains(&op.kind()) {
        return Settles::ByReplay;
    }
    Settles::Review
}

/// One gateway's side of the matrix: its emulator and how operations reach it.
trait Adapter {
    /// The plugin package, its gateway id and the config values pointing it at the emulator.
    fn plugin(&self) -> (&'static str, &'static str, BTreeMap<String, ConfigValue>);
    /// An authorization with this gateway's test token.
    fn authorization(&self, order: &str, amount: i64) -> Operation;
    /// Installs `kind` on the first request `op` sends that could change the payment, for one
    /// request; answers the emulator's own word on whether the request will take effect.
    fn install(&self, kind: Kind, op: Op) -> bool;
    /// Whether the emulator shows `op`'s effect on `reference` (true) or the state `op` found it
    /// in (false); any other state fails the row. `None` when the effect would be under another
    /// reference (an SBPS re-authorization), after checking the old one is untouched.
    fn shows_effect(&self, op: Op, reference: &str, label: &str) -> Option<bool>;
    /// The journal's money against the emulator's book for `order`.
    fn assert_book(&self, journal: &dyn JournalStore, order: &str, reference: &str, label: &str);
}

/// A row being run: the operation, the fault, the order it acts on and the order's reference
/// (none before an authorization).
#[derive(Clone, Copy)]
struct Case<'a> {
    op: Op,
    row: Row,
    order: &'a str,
    reference: Option<&'a str>,
    label: &'a str,
}

/// A journal, an executor and one gateway with its emulator.
struct Rig<A> {
    side: A,
    on: Journaled,
}

impl<A> std::ops::Deref for Rig<A> {
    type Target = Journaled;
    fn deref(&self) -> &Journaled {
        &self.on
    }
}

impl<A: Adapter> Rig<A> {
    fn new(side: A) -> Rig<A> {
        let (package, id, values) = side.plugin();
        let on = Journaled::new(package, id, values, "matrix", DEADLINE);
        Rig { side, on }
    }

    /// Authorizes a fresh order; answers its reference.
    async fn authorize(&self, order: &str) -> String {
        self.authorize_with(&self.side.authorization(order, AMOUNT))
            .await
    }

    fn capture_op(order: &str, reference: &str) -> Operation {
        Operation::Capture {
            order: OrderRef::new(order),
            transaction: TransactionRef::new(reference),
            authorized: Money::jpy(AMOUNT),
            amount: None,
        }
    }

    fn void_op(order: &str, reference: &str) -> Operation {
        Operation::Void {
            order: OrderRef::new(order),
            transaction: TransactionRef::new(reference),
            authorized: Money::jpy(AMOUNT),
        }
    }

    fn last_status(&self, order: &str) -> OperationStatus {
        self.journal
            .operations(&OrderRef::new(order))
            .unwrap()
            .last()
            .unwrap()
            .status
    }

    /// Runs every row of the table with `op` against this rig's gateway.
    async fn run(&self, op: Op) {
        let declared = Declared::of(&self.gateway);
        for (i, row) in ROWS.iter().enumerate() {
            let label = format!("{}/{}/{}", self.gateway.name(), op.label(), row.name);
            let order = format!("{}-{i}", op.order_prefix());
            let settles = expected(&declared, op, row.takes_effect);
            self.run_row(op, *row, &order, settles, &label).await;
        }
    }

    async fn run_row(&self, op: Op, row: Row, order: &str, settles: Settles, label: &str) {
        // The order as the operation finds it: authorized, or captured for a refund.
        let reference = match op {
            Op::Authorize => None,
            _ => Some(self.authorize(order).await),
        };
        if op == Op::Refund {
            let t = reference.as_deref().unwrap();
            self.exec(&Self::capture_op(order, t), &format!("{order}:capture:1"))
                .await
                .unwrap_or_else(|e| panic!("{label}: the capture before the refund: {e}"));
        }
        let operation = match (op, reference.as_deref()) {
            (Op::Authorize, _) => self.side.authorization(order, AMOUNT),
            (Op::Capture, Some(t)) => Self::capture_op(order, t),
            (Op::Void, Some(t)) => Self::void_op(order, t),
            (Op::Refund, Some(t)) => Operation::Refund {
                order: OrderRef::new(order),
                transaction: TransactionRef::new(t),
                captured: Money::jpy(AMOUNT),
                amount: None,
            },
            (Op::ChangeAmount, Some(t)) => Operation::ChangeAmount {
                order: OrderRef::new(order),
                transaction: TransactionRef::new(t),
                authorized: Money::jpy(AMOUNT),
                new_amount: Money::jpy(CHANGED_AMOUNT),
            },
            (_, None) => unreachable!("only an authorization starts without a reference"),
        };
        assert_eq!(
            self.side.install(row.kind, op),
            row.takes_effect,
            "{label}: the table and the emulator disagree on whether the request takes effect"
        );
        let result = self
            .exec(&operation, &format!("{order}:{}:1", op.label()))
            .await;

        // The emulator's truth: what the fault let through, and what a replay did after it.
        if let Some(t) = reference.as_deref() {
            let effect = row.takes_effect || settles == Settles::ByReplay;
            if let Some(seen) = self.side.shows_effect(op, t, label) {
                assert_eq!(seen, effect, "{label}: the emulator's truth");
            }
        }

        match (settles, result) {
            (Settles::ByInquiryApplied, Ok(done)) => {
                assert_eq!(done.resolution, Some(Resolution::Inquiry), "{label}");
                assert_eq!(
                    self.last_status(order),
                    OperationStatus::Succeeded,
                    "{label}"
                );
                if op == Op::Refund {
                    assert!(done.order.unwrap().state.is_final(), "{label}");
                }
            }
            (Settles::ByInquiryNotApplied, Err(ExecError::Failed { resolution, .. })) => {
                assert_eq!(resolution, Some(Resolution::Inquiry), "{label}");
                assert_eq!(self.last_status(order), OperationStatus::Failed, "{label}");
            }
            (Settles::ByReplay, Ok(done)) => {
                assert_eq!(done.resolution, Some(Resolution::Replay), "{label}");
                assert_eq!(
                    self.last_status(order),
                    OperationStatus::Succeeded,
                    "{label}"
                );
                let x = self.journal.exchanges(done.operation.id).unwrap();
                let acting = x.iter().filter(|x| x.sent.effect.may_move_money()).count();
                assert_eq!(
                    acting, 2,
                    "{label}: the attempt and its replay, both journaled"
                );
                if x.len() != acting {
                    // Only the inquiry may have been read in between.
                    assert!(
                        Declared::of(&self.gateway).inquiry,
                        "{label}: reads without an inquiry: {x:?}"
                    );
                }
            }
            (
                Settles::Review,
                Err(ExecError::NeedsReview {
                    operation,
                    evidence,
                }),
            ) => {
                assert_eq!(
                    self.last_status(order),
                    OperationStatus::NeedsReview,
                    "{label}"
                );
                let case = Case {
                    op,
                    row,
                    order,
                    reference: reference.as_deref(),
                    label,
                };
                self.review(&case, operation, &evidence).await;
            }
            (settles, other) => panic!("{label}: expected {settles:?}, got {other:?}"),
        }
        if let (Op::Capture | Op::Void | Op::Refund, Some(t)) = (op, reference.as_deref()) {
            self.side.assert_book(&*self.journal, order, t, label);
        }
    }

    /// An order in review refuses every operation until an operator decides; for a capture the
    /// operator records what they saw at the gateway, and a capture that did not happen may
    /// simply be recorded again.
    async fn review(&self, case: &Case<'_>, operation: OperationId, evidence: &str) {
        let Case {
            op,
            row,
            order,
            reference,
            label,
        } = *case;
        // A new operation on the order, under a key of its own (a void in review would find its
        // own key's operation instead).
        let attempt = if op == Op::Void { 2 } else { 1 };
        let again = match reference {
            None => {
                self.exec(
                    &self.side.authorization(order, AMOUNT),
                    &format!("{order}:authorize:2"),
                )
                .await
            }
            Some(t) => {
                self.exec(&Self::void_op(order, t), &format!("{order}:void:{attempt}"))
                    .await
            }
        };
        assert!(
            matches!(again, Err(ExecError::Refused(_))),
            "{label}: expected a refusal while in review, got {again:?}"
        );
        // An inquiry that found the old reference replaced says so.
        if op == Op::ChangeAmount && row.takes_effect && Declared::of(&self.gateway).inquiry {
            assert!(evidence.contains("inquiry"), "{label}: {evidence}");
        }
        if op != Op::Capture {
            return;
        }
        let t = reference.unwrap();
        let decision = if row.takes_effect {
            let mut truth =
                StoredOutcome::from(&renkei_sdk::Outcome::new(PaymentState::Captured {
                    settlement: Settlement::Pending,
                }));
            truth.transaction = Some(TransactionRef::new(t));
            truth.captured = Some(Money::jpy(AMOUNT));
            Decision::TookEffect(Box::new(truth))
        } else {
            Decision::NoEffect
        };
        let after = self
            .executor
            .resolve_review(operation, decision, "operator@shop")
            .await
            .unwrap();
        assert_eq!(
            matches!(after.state, PaymentState::Captured { .. }),
            row.takes_effect,
            "{label}"
        );
        assert!(after.review.is_none(), "{label}");
        if !row.takes_effect {
            // The key of the attempt that did not happen (F-REGI's capture matrix did so).
            self.exec(&Self::capture_op(order, t), &format!("{order}:capture:1"))
                .await
                .unwrap_or_else(|e| panic!("{label}: captured again: {e}"));
            assert_eq!(
                self.side.shows_effect(Op::Capture, t, label),
                Some(true),
                "{label}: captured again"
            );
        }
    }
}

/// SBPS: the emulator, its functions, its book.
mod sbps {
    use super::{Adapter, Kind, Op};
    use crate::support::{sbps_authorization, sbps_timed_values};
    use renkei_emulator_sbps::{Config, Fault, Function, PaymentStatus, SbpsEmulator};
    use renkei_host::journal::JournalStore;
    use renkei_sdk::{ConfigValue, Money, Operation, OrderRef};
    use std::collections::BTreeMap;

    pub struct Sbps {
        pub emulator: SbpsEmulator,
    }

    pub async fn start() -> Sbps {
        Sbps {
            emulator: SbpsEmulator::start(Config::default()).await.unwrap(),
        }
    }

    /// The function that first acts for `op`; the plugin's MG01 read before it is left alone.
    pub fn function(op: Op) -> Function {
        match op {
            Op::Authorize => Function::AuthorizeWithToken,
            Op::Capture => Function::Sales,
            // 与信済 is voided and 売上済 refunded by the same cancel-or-refund (§6.4).
            Op::Void | Op::Refund => Function::CancelOrRefund,
            Op::ChangeAmount => Function::ReauthorizeWithToken,
        }
    }

    pub fn fault(kind: Kind) -> Fault {
        build_fault!(Fault, kind)
    }

    impl Sbps {
        pub fn status(&self, tracking: &str) -> PaymentStatus {
            self.emulator.payment(tracking).unwrap().payment_status
        }
    }

    impl Adapter for Sbps {
        fn plugin(&self) -> (&'static str, &'static str, BTreeMap<String, ConfigValue>) {
            let values = sbps_timed_values(&self.emulator);
            ("renkei-plugin-sbps", "sbps", values)
        }

        fn authorization(&self, order: &str, amount: i64) -> Operation {
            sbps_authorization(order, amount)
        }

        fn install(&self, kind: Kind, op: Op) -> bool {
            let fault = fault(kind).on_function(function(op));
            let takes_effect = fault.processes_request();
            self.emulator.install_fault(fault);
            takes_effect
        }

        fn shows_effect(&self, op: Op, tracking: &str, label: &str) -> Option<bool> {
            let (found, done) = match op {
                Op::Authorize => return None,
                Op::Capture => (PaymentStatus::Authorized, PaymentStatus::Sold),
                Op::Void => (PaymentStatus::Authorized, PaymentStatus::Cancelled),
                Op::Refund => (PaymentStatus::Sold, PaymentStatus::Refunded),
                Op::ChangeAmount => {
                    // The re-authorization is a new payment; the old one waits for its void.
                    assert_eq!(
                        self.status(tracking),
                        PaymentStatus::Authorized,
                        "{label}: old untouched"
                    );
                    return None;
                }
            };
            let status = self.status(tracking);
            assert!(
                status == found || status == done,
                "{label}: {status:?} after {op:?}"
            );
            Some(status == done)
        }

        fn assert_book(
            &self,
            journal: &dyn JournalStore,
            order: &str,
            tracking: &str,
            label: &str,
        ) {
            let journal = journal.order(&OrderRef::new(order)).unwrap().unwrap();
            let book = self.emulator.payment(tracking).unwrap();
            assert_eq!(
                journal.captured,
                Money::jpy(i64::from(book.captured_amount)),
                "{label}: captured"
            );
            assert_eq!(
                journal.refunded,
                Money::jpy(i64::from(book.refunded_total)),
                "{label}: refunded"
            );
        }
    }
}

/// F-REGI: the emulator, its scripts, its book; with or without its inquiry extension.
mod fregi {
    use super::{Adapter, Kind, Op};
    use crate::support::{fregi_authorization, fregi_values};
    use renkei_emulator_fregi::{Config, Fault, FregiEmulator, Script, Status};
    use renkei_host::journal::JournalStore;
    use renkei_sdk::{ConfigValue, Money, Operation, OrderRef};
    use renkei_tests::fregi_seqno;
    use std::collections::BTreeMap;

    pub struct Fregi {
        emulator: FregiEmulator,
        inquiry: bool,
    }

    pub async fn start(inquiry: bool) -> Fregi {
        let emulator = FregiEmulator::start(Config {
            auto_batch_at: None,
            ..Config::default()
        })
        .await
        .unwrap();
        Fregi { emulator, inquiry }
    }

    fn script(op: Op) -> Script {
        match op {
            Op::Authorize => Script::Authm,
            Op::Capture => Script::Sale,
            Op::Void => Script::AuthCancel,
            Op::Refund => Script::SaleCancel,
            Op::ChangeAmount => Script::AuthChange,
        }
    }

    fn fault(kind: Kind) -> Fault {
        build_fault!(Fault, kind)
    }

    impl Fregi {
        fn status(&self, seqno: &str) -> Status {
            self.emulator
                .transaction(fregi_seqno(seqno))
                .expect("known SEQNO")
                .status
        }
    }

    impl Adapter for Fregi {
        fn plugin(&self) -> (&'static str, &'static str, BTreeMap<String, ConfigValue>) {
            let values = fregi_values(&self.emulator, self.inquiry);
            ("renkei-plugin-fregi", "fregi", values)
        }

        fn authorization(&self, order: &str, amount: i64) -> Operation {
            fregi_authorization(order, amount)
        }

        fn install(&self, kind: Kind, op: Op) -> bool {
            let fault = fault(kind).on_script(script(op));
            let takes_effect = fault.processes_request();
            self.emulator.install_fault(fault);
            takes_effect
        }

        fn shows_effect(&self, op: Op, seqno: &str, label: &str) -> Option<bool> {
            let status = self.status(seqno);
            let sold = matches!(status, Status::SoldPending | Status::SoldTransmitted);
            let (found, done) = match op {
                Op::Authorize => return None,
                Op::Capture => (status == Status::Authorized, sold),
                // authchange cancels the old SEQNO when it goes through (F-5).
                Op::Void | Op::ChangeAmount => (
                    status == Status::Authorized,
                    status == Status::AuthorizationCancelled,
                ),
                Op::Refund => (
                    sold,
                    matches!(
                        status,
                        Status::SaleCancelledPending | Status::SaleCancelledTransmitted
                    ),
                ),
            };
            assert!(found || done, "{label}: {status:?} after {op:?}");
            Some(done)
        }

        /// What the emulator shows sold (or sold then cancelled) must be what the journal
        /// captured, and what it shows cancelled after a sale what the journal refunded; an
        /// order in review is the operator's to settle.
        fn assert_book(&self, journal: &dyn JournalStore, order: &str, seqno: &str, label: &str) {
            let journal = journal.order(&OrderRef::new(order)).unwrap().unwrap();
            if journal.review.is_some() {
                return;
            }
            let t = self.emulator.transaction(fregi_seqno(seqno)).unwrap();
            let amount = i64::from(t.amount);
            let (captured, refunded) = match t.status {
                Status::SoldPending | Status::SoldTransmitted => (amount, 0),
                Status::SaleCancelledPending | Status::SaleCancelledTransmitted => (amount, amount),
                _ => (0, 0),
            };
            assert_eq!(journal.captured, Money::jpy(captured), "{label}: captured");
            assert_eq!(journal.refunded, Money::jpy(refunded), "{label}: refunded");
        }
    }
}

async fn sbps_rig() -> Rig<sbps::Sbps> {
    Rig::new(sbps::start().await)
}

async fn fregi_rig(inquiry: bool) -> Rig<fregi::Fregi> {
    Rig::new(fregi::start(inquiry).await)
}

/// One test per operation and gateway, so that the rows' waits (SBPS's request expiry) overlap.
macro_rules! matrix_tests {
    ($($name:ident: $op:expr;)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test]
                async fn sbps() {
                    sbps_rig().await.run($op).await;
                }

                #[tokio::test]
                async fn fregi_with_the_inquiry_extension() {
                    fregi_rig(true).await.run($op).await;
                }

                #[tokio::test]
                async fn fregi_without_inquiry() {
                    fregi_rig(false).await.run($op).await;
                }
            }
        )*
    };
}

matrix_tests! {
    authorize: Op::Authorize;
    capture: Op::Capture;
    void: Op::Void;
    refund: Op::Refund;
    change_amount: Op::ChangeAmount;
}

#[test]
fn the_declarations_give_each_gateway_its_documented_settlement() {
    // SBPS: an inquiry and a request expiry settle capture, void and refund either way.
    let sbps = Declared {
        inquiry: true,
        expiry: true,
        replay_safe: vec![OperationKind::Capture, OperationKind::Void],
    };
    // F-REGI with no inquiry: only the void is replay-safe.
    let bare = Declared {
        inquiry: false,
        expiry: false,
        replay_safe: vec![OperationKind::Void],
    };
    let with_inquiry = Declared {
        inquiry: true,
        ..bare.clone()
    };
    for takes_effect in [true, false] {
        for op in [Op::Authorize, Op::ChangeAmount] {
            for d in [&sbps, &bare, &with_inquiry] {
                assert_eq!(expected(d, op, takes_effect), Settles::Review);
            }
        }
        assert_eq!(expected(&bare, Op::Capture, takes_effect), Settles::Review);
        assert_eq!(expected(&bare, Op::Refund, takes_effect), Settles::Review);
        assert_eq!(expected(&bare, Op::Void, takes_effect), Settles::ByReplay);
    }
    for op in [Op::Capture, Op::Void, Op::Refund] {
        assert_eq!(expected(&sbps, op, true), Settles::ByInquiryApplied);
        assert_eq!(expected(&sbps, op, false), Settles::ByInquiryNotApplied);
        assert_eq!(expected(&with_inquiry, op, true), Settles::ByInquiryApplied);
    }
    // No expiry: "unchanged" proves nothing, so the declared-safe replay or an operator.
    assert_eq!(expected(&with_inquiry, Op::Void, false), Settles::ByReplay);
    assert_eq!(expected(&with_inquiry, Op::Capture, false), Settles::Review);
    assert_eq!(expected(&with_inquiry, Op::Refund, false), Settles::Review);
}

#[tokio::test]
async fn the_instances_declare_what_the_table_assumes() {
    let sbps = Declared::of(&sbps_rig().await.gateway);
    assert!(sbps.inquiry && sbps.expiry, "{sbps:?}");
    let bare = Declared::of(&fregi_rig(false).await.gateway);
    assert!(!bare.inquiry && !bare.expiry, "{bare:?}");
    assert_eq!(bare.replay_safe, [OperationKind::Void]);
    let with_inquiry = Declared::of(&fregi_rig(true).await.gateway);
    assert!(
        with_inquiry.inquiry && !with_inquiry.expiry,
        "{with_inquiry:?}"
    );
}

#[tokio::test]
async fn sbps_the_guard_read_failing_means_nothing_happened() {
    // Beside the table: the fault hits the MG01 read before the capture, not a request that
    // acts. No exchange that could act was sent, so nothing happened and nothing is resolved.
    let rig = sbps_rig().await;
    for (i, row) in ROWS.iter().enumerate() {
        let order = format!("guard-{i}");
        let t = rig.authorize(&order).await;
        rig.side.emulator.install_fault(
            sbps::fault(row.kind).on_function(renkei_emulator_sbps::Function::Inquiry),
        );
        let result = rig
            .exec(
                &Rig::<sbps::Sbps>::capture_op(&order, &t),
                &format!("{order}:capture:1"),
            )
            .await;
        assert!(
            matches!(
                result,
                Err(ExecError::Failed {
                    resolution: None,
                    ..
                })
            ),
            "{}: {result:?}",
            row.name
        );
        assert_eq!(
            rig.side.status(&t),
            renkei_emulator_sbps::PaymentStatus::Authorized,
            "{}",
            row.name
        );
    }
}
