//! The journal behaviour every backend must show, as functions the backends' tests call.
//! Each takes two handles on one fresh, empty journal (as two host processes would have).

use super::*;
use renkei_sdk::{
    Currency, Money, OperationKind, OrderRef, PaymentState, RefundExtent, Settlement, StepEffect,
    TransactionRef,
};
use std::sync::Arc;

/// Two handles on one fresh journal.
pub struct Pair {
    pub a: Arc<dyn JournalStore>,
    pub b: Arc<dyn JournalStore>,
}

const LEASE: i64 = 60_000;

fn new_op(order: &str, kind: OperationKind, amount: Option<i64>, seq: u32) -> NewOperation {
    NewOperation {
        order: OrderRef::new(order),
        gateway: "main".into(),
        kind,
        amount: amount.map(Money::jpy),
        idempotency_key: format!("{order}:{}:{seq}", kind.name()),
        plugin_id: "test".into(),
        plugin_version: "1.0.0".into(),
        intent: None,
        expected_version: None,
    }
}

/// A gateway's answer naming `state` and the payment `t`, nothing else; the ledger's own tests
/// start from it too.
pub(crate) fn outcome(state: PaymentState, t: &str) -> StoredOutcome {
    StoredOutcome {
        state,
        gateway_status: Some("x".into()),
        transaction: Some(TransactionRef::new(t)),
        replaced: None,
        handle: None,
        authorization_code: None,
        authorized: None,
        captured: None,
        refunded: None,
        notes: vec![],
    }
}

fn captured() -> PaymentState {
    PaymentState::Captured {
        settlement: Settlement::NotReported,
    }
}

fn refunded() -> PaymentState {
    PaymentState::Refunded {
        extent: RefundExtent::Full,
        settlement: Settlement::NotReported,
    }
}

fn started(b: Begin) -> OperationRecord {
    match b {
        Begin::Started(op) => op,
        Begin::AlreadyDone(op) => panic!("expected a new operation, got done {op:?}"),
    }
}

/// Starts the first attempt of `kind` on `order`, at time 1.
fn start(
    j: &dyn JournalStore,
    order: &str,
    kind: OperationKind,
    amount: Option<i64>,
) -> OperationRecord {
    started(j.begin(&new_op(order, kind, amount, 1), 1, LEASE).unwrap())
}

/// Runs `kind` to success through the journal with one exchange, in the executor's two writes.
fn run(j: &dyn JournalStore, op: NewOperation, out: StoredOutcome) -> Applied {
    let (begun, x) = j.begin_send(&op, &exchange(0), 1, LEASE).unwrap();
    let rec = started(begun);
    let reply = ReplyRecord::Reply {
        status: 200,
        body: b"OK".to_vec(),
    };
    let applied = j
        .succeed(rec.id, Some((x.unwrap(), &reply)), &out, 4, None)
        .unwrap();
    assert_eq!(j.exchanges(rec.id).unwrap()[0].reply, Some(reply));
    applied
}

fn exchange(i: u32) -> SentExchange {
    SentExchange {
        step_index: i,
        // The journal stamps the operation's attempt; a first attempt is 1.
        attempt: 1,
        step: "sale".into(),
        method: "POST".into(),
        url: "http://127.0.0.1:1/connect/sale.cgi".into(),
        headers: vec![("Authorization".into(), "[redacted]".into())],
        body: Some("SHOPID=12345".into()),
        state: vec![1, 2, 3],
        effect: [
            StepEffect::MayMoveMoney,
            StepEffect::Reads,
            StepEffect::Registers,
        ][i as usize % 3],
    }
}

fn authorize(j: &dyn JournalStore, order: &str, amount: i64) -> Applied {
    let mut out = outcome(PaymentState::Authorized, &format!("T-{order}"));
    out.authorized = Some(Money::jpy(amount));
    run(
        j,
        new_op(order, OperationKind::Authorize, Some(amount), 1),
        out,
    )
}

fn refused(r: Result<Begin, JournalError>) -> Refusal {
    match r {
        Err(JournalError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The life of an order: authorize, capture, partial then full refund; then nothing more (G-5).
pub fn lifecycle_and_money_invariants(p: &Pair) {
    let j = &*p.a;
    let a = authorize(j, "o1", 1080);
    assert_eq!(a.order.authorized, Money::jpy(1080));
    assert_eq!(a.order.state, PaymentState::Authorized);

    // Capture less than authorized (S-1 "shop's current amount").
    let mut out = outcome(captured(), "T-o1");
    out.captured = Some(Money::jpy(980));
    let c = run(j, new_op("o1", OperationKind::Capture, Some(980), 1), out);
    assert_eq!(c.order.captured, Money::jpy(980));

    // Refund more than captured: refused before anything is written.
    let r = refused(j.begin(&new_op("o1", OperationKind::Refund, Some(981), 1), 5, LEASE));
    assert!(matches!(r, Refusal::Amount { .. }), "{r}");

    // A refund reports what it refunded (300), not the payment's refunded total.
    let mut out = outcome(refunded(), "T-o1");
    out.refunded = Some(Money::jpy(300));
    let partial = run(j, new_op("o1", OperationKind::Refund, Some(300), 1), out);
    assert_eq!(partial.order.refunded, Money::jpy(300));
    assert!(matches!(
        partial.order.state,
        PaymentState::Refunded {
            extent: RefundExtent::Partial,
            ..
        }
    ));
    let mut out = outcome(refunded(), "T-o1");
    out.refunded = Some(Money::jpy(680));
    let rest = run(j, new_op("o1", OperationKind::Refund, None, 2), out);
    assert_eq!(rest.order.refunded, Money::jpy(980));
    assert!(rest.order.state.is_final());

    // G-5 / F-12: nothing after a final cancel; inquiry stays allowed.
    let r = refused(j.begin(&new_op("o1", OperationKind::Capture, Some(1), 2), 6, LEASE));
    assert!(matches!(r, Refusal::Final { .. }), "{r}");
    let inq = started(
        j.begin(&new_op("o1", OperationKind::Inquire, None, 1), 7, LEASE)
            .unwrap(),
    );
    j.fail(inq.id, None, "test", 8).unwrap();

    let ops = p.b.operations(&OrderRef::new("o1")).unwrap();
    assert_eq!(ops.len(), 5);
    assert!(
        ops[..4]
            .iter()
            .all(|o| o.status == OperationStatus::Succeeded)
    );
}

/// Unknown orders and illegal transitions are refused and write nothing.
pub fn refusals_write_nothing(p: &Pair) {
    let j = &*p.a;
    let r = refused(j.begin(
        &new_op("ghost", OperationKind::Capture, Some(5), 1),
        1,
        LEASE,
    ));
    assert!(matches!(r, Refusal::UnknownOrder(_)), "{r}");
    assert!(j.order(&OrderRef::new("ghost")).unwrap().is_none());
    assert!(j.operations(&OrderRef::new("ghost")).unwrap().is_empty());

    authorize(j, "o2", 500);
    let r = refused(j.begin(&new_op("o2", OperationKind::Refund, Some(5), 1), 1, LEASE));
    assert!(matches!(r, Refusal::IllegalTransition { .. }), "{r}");
    run(
        j,
        new_op("o2", OperationKind::Void, Some(500), 1),
        outcome(PaymentState::Voided, "T-o2"),
    );
    let r = refused(j.begin(
        &new_op("o2", OperationKind::Capture, Some(500), 1),
        1,
        LEASE,
    ));
    assert!(matches!(r, Refusal::Final { .. }), "{r}");
    assert_eq!(j.operations(&OrderRef::new("o2")).unwrap().len(), 2);
}

/// Repeating a shop action that took effect returns the stored result and starts nothing.
pub fn idempotent_repeat(p: &Pair) {
    authorize(&*p.a, "o3", 700);
    let mut out = outcome(captured(), "T-o3");
    out.captured = Some(Money::jpy(700));
    let first = run(
        &*p.a,
        new_op("o3", OperationKind::Capture, Some(700), 1),
        out.clone(),
    );
    match p.b.begin(
        &new_op("o3", OperationKind::Capture, Some(700), 1),
        9,
        LEASE,
    ) {
        Ok(Begin::AlreadyDone(op)) => {
            assert_eq!(op.status, OperationStatus::Succeeded);
            assert_eq!(op.outcome, Some(out));
        }
        other => panic!("expected the stored result, got {other:?}"),
    }
    assert_eq!(p.b.operations(&OrderRef::new("o3")).unwrap().len(), 2);
    assert_eq!(
        p.b.order(&OrderRef::new("o3")).unwrap().unwrap(),
        first.order
    );

    // A key reused for another action is refused.
    let mut other = new_op("o3", OperationKind::Refund, Some(1), 1);
    other.idempotency_key = "o3:capture:1".into();
    assert!(matches!(
        p.a.begin(&other, 10, LEASE),
        Err(JournalError::KeyConflict { .. })
    ));
}

/// An attempt that certainly failed can be made again under the same key.
pub fn failed_attempt_can_be_retried(p: &Pair) {
    authorize(&*p.a, "o4", 700);
    let op = new_op("o4", OperationKind::Capture, Some(700), 1);
    let first = started(p.a.begin(&op, 1, LEASE).unwrap());
    p.a.fail(first.id, None, "declined", 2).unwrap();
    let (begun, x) = p.b.begin_send(&op, &exchange(0), 3, LEASE).unwrap();
    let second = started(begun);
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempt, 2);
    assert!(x.is_some());
    // The journal numbers exchanges across attempts: the retry's request is the second.
    p.b.fail(second.id, None, "declined again", 4).unwrap();
    let third = started(p.a.begin_send(&op, &exchange(0), 5, LEASE).unwrap().0);
    assert_eq!(third.attempt, 3);
    let indices: Vec<u32> =
        p.b.exchanges(third.id)
            .unwrap()
            .iter()
            .map(|x| x.sent.step_index)
            .collect();
    assert_eq!(indices, [0, 1]);
}

/// One writer per order, across handles: a second operation on a busy order is refused.
pub fn one_writer_per_order(p: &Pair) {
    authorize(&*p.a, "o5", 900);
    let held = start(&*p.a, "o5", OperationKind::Capture, Some(900));
    let r = refused(p.b.begin(&new_op("o5", OperationKind::Void, Some(900), 1), 2, LEASE));
    assert!(matches!(r, Refusal::Busy { .. }), "{r}");
    // Unknown outcomes keep holding the order.
    p.a.mark_unknown(held.id, None, "timeout", 3, LEASE)
        .unwrap();
    let r = refused(p.b.begin(&new_op("o5", OperationKind::Void, Some(900), 1), 4, LEASE));
    assert!(matches!(r, Refusal::Busy { .. }), "{r}");
}

/// Many threads on two handles race to capture one order: exactly one starts.
pub fn concurrent_writers_on_one_order(p: &Pair) {
    authorize(&*p.a, "o6", 1000);
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let j = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
            std::thread::spawn(move || {
                let op = new_op("o6", OperationKind::Capture, Some(1000), i);
                matches!(j.begin(&op, 1, LEASE), Ok(Begin::Started(_)))
            })
        })
        .collect();
    let started: usize = handles
        .into_iter()
        .map(|h| h.join().unwrap() as usize)
        .sum();
    assert_eq!(started, 1);
}

/// Exchanges are journaled before sending, replies after; a reply is recorded once.
pub fn exchanges_are_journaled(p: &Pair) {
    let rec = start(&*p.a, "o7", OperationKind::Authorize, Some(100));
    let x =
        p.a.record_send(rec.id, None, &exchange(0), 2, LEASE)
            .unwrap();
    let seen = p.b.exchanges(rec.id).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].sent, exchange(0));
    assert_eq!(seen[0].reply, None, "sent, no reply yet: the crash case");
    let reply = ReplyRecord::NoReply {
        error: "timeout".into(),
    };
    p.a.record_reply(x, &reply, 3).unwrap();
    assert_eq!(p.b.exchanges(rec.id).unwrap()[0].reply, Some(reply.clone()));
    assert!(p.a.record_reply(x, &reply, 4).is_err());
    // A read keeps its declared effect (recovery reads it), and so does a registration.
    p.a.record_send(rec.id, Some((x, &reply)), &exchange(1), 5, LEASE)
        .unwrap_err();
    p.a.record_send(rec.id, None, &exchange(1), 5, LEASE)
        .unwrap();
    let seen = p.b.exchanges(rec.id).unwrap();
    assert_eq!(seen[1].sent, exchange(1));
    assert_eq!(seen[1].sent.effect, StepEffect::Reads);
    p.a.record_send(rec.id, None, &exchange(2), 6, LEASE)
        .unwrap();
    let seen = p.b.exchanges(rec.id).unwrap();
    assert_eq!(seen[2].sent.effect, StepEffect::Registers);
}

/// A reply contradicting the journal is not applied; the order waits for an operator, whose
/// decision is journaled.
pub fn contradiction_goes_to_review(p: &Pair) {
    authorize(&*p.a, "o8", 1080);
    let rec = start(&*p.a, "o8", OperationKind::Capture, Some(1080));
    let mut out = outcome(captured(), "T-o8");
    out.captured = Some(Money::jpy(2000));
    match p.a.succeed(rec.id, None, &out, 2, None) {
        Err(JournalError::Contradiction(_)) => {}
        other => panic!("expected a contradiction, got {other:?}"),
    }
    let order = p.b.order(&OrderRef::new("o8")).unwrap().unwrap();
    assert_eq!(order.captured, Money::jpy(0), "nothing applied");
    assert!(order.review.is_some());
    let r = refused(p.b.begin(&new_op("o8", OperationKind::Void, Some(1080), 1), 3, LEASE));
    assert!(matches!(r, Refusal::NeedsReview { .. }), "{r}");

    // A reply about another transaction is a contradiction too.
    authorize(&*p.a, "o8b", 10);
    let rec = start(&*p.a, "o8b", OperationKind::Void, Some(10));
    assert!(matches!(
        p.a.succeed(
            rec.id,
            None,
            &outcome(PaymentState::Voided, "T-other"),
            2,
            None
        ),
        Err(JournalError::Contradiction(_))
    ));

    // The operator says the capture did happen, at 1080.
    let ops = p.a.operations(&OrderRef::new("o8")).unwrap();
    let mut truth = outcome(captured(), "T-o8");
    truth.captured = Some(Money::jpy(1080));
    let order =
        p.a.resolve(
            ops[1].id,
            &Decision::TookEffect(Box::new(truth)),
            "operator-1",
            4,
        )
        .unwrap();
    assert_eq!(order.captured, Money::jpy(1080));
    assert!(order.review.is_none());
    let op = p.b.operation(ops[1].id).unwrap().unwrap();
    assert_eq!(op.status, OperationStatus::Resolved);
    assert!(op.evidence.unwrap().contains("operator-1"));
}

/// F-2: a sale refused after the authorization was changed. The failure books what the change
/// left (the new reference and amount) and fails the capture in one transaction; the order is
/// free for the next capture. A report that does not fit books nothing and goes to review.
pub fn a_failure_books_what_its_earlier_steps_changed(p: &Pair) {
    authorize(&*p.a, "o20", 1080);
    let rec = start(&*p.a, "o20", OperationKind::Capture, Some(1500));
    let mut left = outcome(PaymentState::Authorized, "T-o20-new");
    left.replaced = Some(TransactionRef::new("T-o20"));
    left.authorized = Some(Money::jpy(1500));
    let reply = ReplyRecord::Reply {
        status: 200,
        body: b"NG\nS1-1-125".to_vec(),
    };
    let x =
        p.a.record_send(rec.id, None, &exchange(0), 2, LEASE)
            .unwrap();
    let order =
        p.a.fail_changed(rec.id, Some((x, &reply)), &left, "sale refused", 3)
            .unwrap();
    let read = p.b.order(&OrderRef::new("o20")).unwrap().unwrap();
    assert_eq!(read, order);
    assert_eq!(read.state, PaymentState::Authorized);
    assert_eq!(read.authorized, Money::jpy(1500));
    assert_eq!(read.captured, Money::jpy(0));
    assert_eq!(read.transaction, Some(TransactionRef::new("T-o20-new")));
    assert_eq!(read.authorized_at_ms, Some(3));
    assert!(read.review.is_none());
    let op = p.b.operation(rec.id).unwrap().unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(op.outcome, None, "a failure has no outcome of its own");
    assert_eq!(op.evidence.as_deref(), Some("sale refused"));
    assert_eq!(p.b.exchanges(rec.id).unwrap()[0].reply, Some(reply));
    // The next capture, of the new authorization, may start.
    let next = new_op("o20", OperationKind::Capture, Some(1500), 2);
    started(p.b.begin(&next, 4, LEASE).unwrap());

    // Not what a change of the authorization leaves: nothing booked, review.
    for (order, bad) in [
        ("o21", {
            let mut o = outcome(captured(), "T-o21-new");
            o.replaced = Some(TransactionRef::new("T-o21"));
            o.authorized = Some(Money::jpy(1500));
            o
        }),
        ("o22", {
            let mut o = outcome(PaymentState::Authorized, "T-o22-new");
            o.replaced = Some(TransactionRef::new("T-o22"));
            o.authorized = Some(Money::jpy(1400));
            o
        }),
        ("o23", {
            let mut o = outcome(PaymentState::Authorized, "T-o23-new");
            o.authorized = Some(Money::jpy(1500));
            o
        }),
    ] {
        authorize(&*p.a, order, 1080);
        let rec = start(&*p.a, order, OperationKind::Capture, Some(1500));
        match p.a.fail_changed(rec.id, None, &bad, "sale refused", 2) {
            Err(JournalError::Contradiction(_)) => {}
            other => panic!("{order}: expected a contradiction, got {other:?}"),
        }
        let read = p.b.order(&OrderRef::new(order)).unwrap().unwrap();
        assert_eq!(read.authorized, Money::jpy(1080), "{order}");
        assert_eq!(
            read.transaction,
            Some(TransactionRef::new(format!("T-{order}"))),
            "{order}"
        );
        assert!(read.review.is_some(), "{order}");
        let op = p.b.operation(rec.id).unwrap().unwrap();
        assert_eq!(op.status, OperationStatus::NeedsReview, "{order}");
    }
}

/// The wall clock in unix milliseconds. Leases are real time: a backend may anchor them to its
/// own clock (PostgreSQL does, since hosts' clocks differ), so the cases below wait for real.
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Recovery: operations whose host vanished are claimed once, by one recoverer.
pub fn stale_operations_are_claimed_once(p: &Pair) {
    authorize(&*p.a, "o9", 100);
    let rec = started(
        p.a.begin(
            &new_op("o9", OperationKind::Capture, Some(100), 1),
            wall_ms(),
            300,
        )
        .unwrap(),
    );
    p.a.record_send(rec.id, None, &exchange(0), wall_ms(), 300)
        .unwrap();
    assert!(
        p.b.claim_stale(wall_ms(), 10_000).unwrap().is_empty(),
        "lease still valid"
    );
    std::thread::sleep(std::time::Duration::from_millis(400));
    let claimed = p.b.claim_stale(wall_ms(), 10_000).unwrap();
    assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), [rec.id]);
    assert!(
        p.a.claim_stale(wall_ms(), 10_000).unwrap().is_empty(),
        "already claimed"
    );
}

/// A host whose lease ran out and whose operation another host claimed can no longer write to
/// it: the journal, not timing, decides who may send.
pub fn a_host_whose_lease_ran_out_can_no_longer_write(p: &Pair) {
    authorize(&*p.a, "o12", 100);
    let (begun, x) =
        p.a.begin_send(
            &new_op("o12", OperationKind::Capture, Some(100), 1),
            &exchange(0),
            wall_ms(),
            10,
        )
        .unwrap();
    let rec = started(begun);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let claimed = p.b.claim_stale(wall_ms(), 60_000).unwrap();
    assert_eq!(claimed.len(), 1);
    let reply = ReplyRecord::NoReply {
        error: "late".into(),
    };
    // The stalled host wakes up: every write is refused.
    for result in [
        p.a.record_send(rec.id, None, &exchange(1), 5_001, LEASE)
            .map(|_| ()),
        p.a.mark_unknown(rec.id, Some((x.unwrap(), &reply)), "late", 5_001, LEASE),
        p.a.fail(rec.id, None, "late", 5_001),
        p.a.needs_review(rec.id, "late", 5_001),
    ] {
        assert!(
            matches!(result, Err(JournalError::NotOwner(_))),
            "{result:?}"
        );
    }
    let mut out = outcome(captured(), "T-o12");
    out.captured = Some(Money::jpy(100));
    assert!(matches!(
        p.a.succeed(rec.id, None, &out, 5_001, None),
        Err(JournalError::NotOwner(_))
    ));
    // The claiming host settles it.
    p.b.succeed(rec.id, None, &out, 5_002, None).unwrap();
}

/// An inquiry that disagrees with the journal reports drift and changes nothing (G-8).
pub fn inquiry_drift_is_reported_not_applied(p: &Pair) {
    authorize(&*p.a, "o10", 500);
    let before = p.a.order(&OrderRef::new("o10")).unwrap().unwrap();
    let applied = run(
        &*p.a,
        new_op("o10", OperationKind::Inquire, None, 1),
        outcome(refunded(), "T-o10"),
    );
    let drift = applied.drift.expect("drift");
    assert_eq!(drift.journal_state, PaymentState::Authorized);
    assert_eq!(p.b.order(&OrderRef::new("o10")).unwrap().unwrap(), before);
}

/// Every case, in order.
pub fn all(fresh: &dyn Fn() -> Pair) {
    type Case = (&'static str, fn(&Pair));
    let cases: [Case; 21] = [
        (
            "lifecycle_and_money_invariants",
            lifecycle_and_money_invariants,
        ),
        ("refusals_write_nothing", refusals_write_nothing),
        ("idempotent_repeat", idempotent_repeat),
        (
            "failed_attempt_can_be_retried",
            failed_attempt_can_be_retried,
        ),
        ("one_writer_per_order", one_writer_per_order),
        (
            "concurrent_writers_on_one_order",
            concurrent_writers_on_one_order,
        ),
        ("exchanges_are_journaled", exchanges_are_journaled),
        ("contradiction_goes_to_review", contradiction_goes_to_review),
        (
            "stale_operations_are_claimed_once",
            stale_operations_are_claimed_once,
        ),
        (
            "inquiry_drift_is_reported_not_applied",
            inquiry_drift_is_reported_not_applied,
        ),
        ("currency_is_checked", currency_is_checked),
        (
            "a_host_whose_lease_ran_out_can_no_longer_write",
            a_host_whose_lease_ran_out_can_no_longer_write,
        ),
        ("shop_rows_round_trip", shop_rows_round_trip),
        (
            "drift_events_are_kept_until_an_operator_closes_them",
            drift_events_are_kept_until_an_operator_closes_them,
        ),
        (
            "operations_in_review_are_listed_with_their_intent",
            operations_in_review_are_listed_with_their_intent,
        ),
        (
            "a_retried_attempts_exchanges_are_told_apart",
            a_retried_attempts_exchanges_are_told_apart,
        ),
        (
            "group_commit_keeps_each_call_alone",
            group_commit_keeps_each_call_alone,
        ),
        (
            "a_success_carries_the_shops_record",
            a_success_carries_the_shops_record,
        ),
        (
            "an_operation_on_a_changed_order_is_refused",
            an_operation_on_a_changed_order_is_refused,
        ),
        (
            "a_handle_rests_with_its_order",
            a_handle_rests_with_its_order,
        ),
        (
            "a_failure_books_what_its_earlier_steps_changed",
            a_failure_books_what_its_earlier_steps_changed,
        ),
    ];
    for (name, case) in cases {
        eprintln!("journal suite: {name}");
        case(&fresh());
    }
}

/// The plugin's handle is journaled with the order as the executor gave it (public parts, the
/// secret parts' names, the sealed bytes), read back alike by another connection, and kept by
/// an outcome about the same payment that brings none.
pub fn a_handle_rests_with_its_order(p: &Pair) {
    let handle = crate::journal::model::StoredHandle {
        public: [("AccessID".to_owned(), "id-h1".to_owned())].into(),
        secret_names: vec!["AccessPass".into()],
        sealed: Some("01c0ffee".into()),
    };
    let mut out = outcome(PaymentState::Authorized, "T-h1");
    out.authorized = Some(Money::jpy(500));
    out.handle = Some(handle.clone());
    let applied = run(
        &*p.a,
        new_op("h1", OperationKind::Authorize, Some(500), 1),
        out,
    );
    assert_eq!(applied.order.handle, Some(handle.clone()));
    assert_eq!(
        p.b.order(&OrderRef::new("h1")).unwrap().unwrap().handle,
        Some(handle.clone())
    );
    let mut captured = outcome(
        PaymentState::Captured {
            settlement: Settlement::Pending,
        },
        "T-h1",
    );
    captured.captured = Some(Money::jpy(500));
    run(
        &*p.a,
        new_op("h1", OperationKind::Capture, Some(500), 2),
        captured,
    );
    let order = p.b.order(&OrderRef::new("h1")).unwrap().unwrap();
    assert_eq!(order.handle, Some(handle));
    // The payment's dates are journaled with it (both operations succeeded at `run`'s time).
    assert_eq!(
        (order.authorized_at_ms, order.captured_at_ms),
        (Some(4), Some(4))
    );
}

/// Amounts in another currency than the order's are refused.
pub fn currency_is_checked(p: &Pair) {
    authorize(&*p.a, "o11", 100);
    let mut op = new_op("o11", OperationKind::Capture, None, 1);
    op.amount = Some(Money::new(100, Currency::new("USD").unwrap()));
    let r = refused(p.a.begin(&op, 1, LEASE));
    assert!(matches!(r, Refusal::Amount { .. }), "{r}");
}

/// The shop's side of orders: written by one handle, read and listed by the other; the unpaid
/// filter and the per-shop listing hold.
pub fn shop_rows_round_trip(p: &Pair) {
    let row = |order: &str, shop: &str, unpaid: bool, data: &str, version: i64| ShopRow {
        order: OrderRef::new(order),
        shop: shop.into(),
        unpaid,
        data: data.into(),
        updated_ms: 7,
        version,
    };
    assert_eq!(
        p.a.save_shop_row(&row("s2", "shop-a", true, "{\"v\":1}", 0))
            .unwrap(),
        1
    );
    p.a.save_shop_row(&row("s1", "shop-a", false, "{}", 0))
        .unwrap();
    p.a.save_shop_row(&row("s3", "shop-b", true, "{}", 0))
        .unwrap();
    // A second "new" record for the same order is refused.
    assert!(matches!(
        p.b.save_shop_row(&row("s2", "shop-a", true, "{}", 0)),
        Err(JournalError::ShopRecordChanged { .. })
    ));
    // Replacing names the version read; a writer that read an older one is refused.
    assert_eq!(
        p.a.save_shop_row(&row("s2", "shop-a", true, "{\"v\":2}", 1))
            .unwrap(),
        2
    );
    assert!(matches!(
        p.b.save_shop_row(&row("s2", "shop-a", false, "{\"lost\":1}", 1)),
        Err(JournalError::ShopRecordChanged { .. })
    ));
    assert_eq!(
        p.b.shop_row(&OrderRef::new("s2")).unwrap(),
        Some(row("s2", "shop-a", true, "{\"v\":2}", 2))
    );
    assert_eq!(p.b.shop_row(&OrderRef::new("nope")).unwrap(), None);
    let orders = |unpaid_only| -> Vec<String> {
        p.b.shop_rows("shop-a", unpaid_only)
            .unwrap()
            .into_iter()
            .map(|r| r.order.to_string())
            .collect()
    };
    assert_eq!(orders(false), ["s1", "s2"]);
    assert_eq!(orders(true), ["s2"]);
}

/// G-8: a drift event is kept once per order and kind while open; adopting the gateway's state
/// rewrites the order's money (ledger rules checked), dismissing only closes the event.
pub fn drift_events_are_kept_until_an_operator_closes_them(p: &Pair) {
    let j = &*p.a;
    authorize(j, "d1", 1000);
    let drift = NewDrift {
        order: OrderRef::new("d1"),
        gateway: "main".into(),
        kind: "captured_at_gateway".into(),
        detail: "captured in the gateway's tool".into(),
        journal_state: PaymentState::Authorized,
        gateway_state: captured(),
        gateway_status: Some("2".into()),
    };
    let first = j.record_drift(&drift, 10).unwrap();
    let again = p.b.record_drift(&drift, 11).unwrap();
    assert_eq!(first.id, again.id, "one open event per order and kind");
    assert_eq!(j.drifts(true).unwrap().len(), 1);

    // Adopting what the operator typed must still keep the money invariants.
    let mut wrong = outcome(captured(), "T-d1");
    wrong.captured = Some(Money::jpy(1200));
    assert!(matches!(
        j.resolve_drift(first.id, &DriftDecision::Adopt(Box::new(wrong)), "op", 12),
        Err(JournalError::Contradiction(_))
    ));
    assert_eq!(
        j.order(&OrderRef::new("d1")).unwrap().unwrap().state,
        PaymentState::Authorized
    );

    let mut seen = outcome(captured(), "T-d1");
    seen.captured = Some(Money::jpy(800));
    let order =
        p.b.resolve_drift(
            first.id,
            &DriftDecision::Adopt(Box::new(seen.clone())),
            "hanako",
            13,
        )
        .unwrap();
    assert!(matches!(order.state, PaymentState::Captured { .. }));
    assert_eq!(order.captured, Money::jpy(800));
    assert_eq!(j.order(&OrderRef::new("d1")).unwrap().unwrap(), order);
    assert!(j.drifts(true).unwrap().is_empty());
    let closed = &j.drifts(false).unwrap()[0];
    let how = closed.resolution.as_ref().unwrap();
    assert_eq!(
        (how.action.as_str(), how.operator.as_str()),
        ("adopted", "hanako")
    );
    assert!(matches!(
        j.resolve_drift(first.id, &DriftDecision::Dismiss, "op", 14),
        Err(JournalError::DriftClosed(_))
    ));

    // A new event of the same kind opens afresh; dismissing it leaves the money alone.
    let next = j.record_drift(&drift, 15).unwrap();
    assert_ne!(next.id, first.id);
    let kept = j
        .resolve_drift(next.id, &DriftDecision::Dismiss, "op", 16)
        .unwrap();
    assert_eq!(kept, order);
}

/// The operator's queue: every operation in review, with what its caller meant to do.
pub fn operations_in_review_are_listed_with_their_intent(p: &Pair) {
    let j = &*p.a;
    authorize(j, "r1", 1000);
    let mut op = new_op("r1", OperationKind::Capture, Some(1000), 1);
    op.intent = Some("{\"record_payment\":true}".into());
    let rec = started(j.begin(&op, 1, LEASE).unwrap());
    assert_eq!(rec.intent, op.intent);
    j.mark_unknown(rec.id, None, "no reply", 2, LEASE).unwrap();
    assert!(j.operations_in_review().unwrap().is_empty());
    j.needs_review(rec.id, "no inquiry", 3).unwrap();
    let queue = p.b.operations_in_review().unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].id, rec.id);
    assert_eq!(queue[0].intent, op.intent);
    j.resolve(rec.id, &Decision::NoEffect, "op", 4).unwrap();
    assert!(j.operations_in_review().unwrap().is_empty());
}

/// Each exchange carries the attempt that sent it, so a retried operation's resolution reads
/// only its own requests.
pub fn a_retried_attempts_exchanges_are_told_apart(p: &Pair) {
    let j = &*p.a;
    authorize(j, "x1", 1000);
    let op = new_op("x1", OperationKind::Capture, Some(1000), 1);
    let (first, _) = j.begin_send(&op, &exchange(0), 1, LEASE).unwrap();
    let first = started(first);
    j.fail(first.id, None, "not applied", 2).unwrap();
    let (second, _) = j.begin_send(&op, &exchange(0), 3, LEASE).unwrap();
    let second = started(second);
    assert_eq!((first.id, second.attempt), (second.id, 2));
    let attempts: Vec<u32> = j
        .exchanges(second.id)
        .unwrap()
        .iter()
        .map(|x| x.sent.attempt)
        .collect();
    assert_eq!(attempts, [1, 2]);
}

/// Group commit keeps every call its own transaction: while many calls share one commit, a call
/// that fails after writing (a reply recorded twice) and calls that are refused leave nothing
/// behind, and every call that returned `Ok` is durable and visible to the other handle.
pub fn group_commit_keeps_each_call_alone(p: &Pair) {
    let applied = authorize(&*p.a, "g0", 100);
    let x = p.a.exchanges(applied.operation.id).unwrap()[0].id;
    let reply = ReplyRecord::Reply {
        status: 200,
        body: b"OK".to_vec(),
    };
    let threads = 24;
    let barrier = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (j, barrier, reply) = (p.a.clone(), barrier.clone(), reply.clone());
            std::thread::spawn(move || {
                let mut results = vec![];
                for round in 0..6 {
                    barrier.wait();
                    let order = format!("g{i}-{round}");
                    results.push(match i % 3 {
                        // A write-ahead of a first authorization: must be durable.
                        0 => {
                            let op = new_op(&order, OperationKind::Authorize, Some(500), 1);
                            match j.begin_send(&op, &exchange(0), 1, LEASE) {
                                Ok((Begin::Started(rec), Some(_))) => Ok(rec.id),
                                other => Err(format!("{order}: {other:?}")),
                            }
                        }
                        // Fails after its UPDATE ran (the reply is already there).
                        1 => match j.record_reply(x, &reply, 2) {
                            Err(JournalError::Corrupt(_)) => Err(String::new()),
                            other => Err(format!("second reply: {other:?}")),
                        },
                        // Refused before writing: a capture of an order nobody authorized.
                        _ => {
                            let op = new_op(&order, OperationKind::Capture, Some(500), 1);
                            match j.begin_send(&op, &exchange(0), 1, LEASE) {
                                Err(JournalError::Refused(Refusal::UnknownOrder(_))) => {
                                    Err(String::new())
                                }
                                other => Err(format!("{order}: {other:?}")),
                            }
                        }
                    });
                }
                results
            })
        })
        .collect();
    let mut started = vec![];
    for h in handles {
        for r in h.join().unwrap() {
            match r {
                Ok(id) => started.push(id),
                Err(e) => assert!(e.is_empty(), "{e}"),
            }
        }
    }
    assert_eq!(started.len(), threads / 3 * 6);
    for id in started {
        let op =
            p.b.operation(id)
                .unwrap()
                .expect("a started operation is durable");
        assert_eq!(op.status, OperationStatus::Pending);
        assert_eq!(p.b.exchanges(id).unwrap().len(), 1, "{}", op.order);
        assert!(p.b.order(&op.order).unwrap().is_some());
    }
    // The refused captures wrote nothing, and the double reply changed nothing.
    for i in (2..threads).step_by(3) {
        for round in 0..6 {
            let order = OrderRef::new(format!("g{i}-{round}"));
            assert_eq!(p.b.order(&order).unwrap(), None);
            assert!(p.b.operations(&order).unwrap().is_empty());
        }
    }
    assert_eq!(
        p.b.exchanges(applied.operation.id).unwrap()[0].reply,
        Some(reply)
    );
}

/// The shop's record written with a success: only if it is still at the version the caller
/// read; otherwise the success stands and the record is left for the caller to write.
pub fn a_success_carries_the_shops_record(p: &Pair) {
    authorize(&*p.a, "s1", 700);
    authorize(&*p.a, "s2", 700);
    let row = |order: &str, version: i64, data: &str| ShopRow {
        order: OrderRef::new(order),
        shop: "shop".into(),
        unpaid: true,
        data: data.into(),
        updated_ms: 1,
        version,
    };
    assert_eq!(p.a.save_shop_row(&row("s1", 0, "before")).unwrap(), 1);
    assert_eq!(p.a.save_shop_row(&row("s2", 0, "before")).unwrap(), 1);
    // s2's record moves on after it was read at version 1.
    assert_eq!(p.b.save_shop_row(&row("s2", 1, "other")).unwrap(), 2);
    for (order, written) in [("s1", Some(2)), ("s2", None)] {
        let rec = start(&*p.a, order, OperationKind::Capture, Some(700));
        let follow = move |op: &OperationRecord, o: &OrderRecord| {
            Some(row(
                op.order.as_str(),
                1,
                &format!("paid by {} at v{}", op.id.0, o.version),
            ))
        };
        let applied =
            p.a.succeed(
                rec.id,
                None,
                &outcome(captured(), &format!("T-{order}")),
                3,
                Some(&follow),
            )
            .unwrap();
        assert_eq!(applied.shop_version, written, "{order}");
        assert_eq!(applied.operation.status, OperationStatus::Succeeded);
        assert_eq!(
            p.b.operation(rec.id).unwrap(),
            Some(applied.operation.clone())
        );
        let stored = p.b.shop_row(&OrderRef::new(order)).unwrap().unwrap();
        match written {
            Some(v) => {
                assert_eq!(stored.version, v);
                let data = format!("paid by {} at v{}", rec.id.0, applied.order.version);
                assert_eq!(stored.data, data);
            }
            None => assert_eq!((stored.version, stored.data.as_str()), (2, "other")),
        }
        let o = OrderRef::new(order);
        let together = p.b.shop_row_and_order(&o).unwrap();
        assert_eq!(together, (Some(stored), p.b.order(&o).unwrap()));
        assert!(together.1.is_some());
    }
    let nobody = OrderRef::new("s-none");
    assert_eq!(p.a.shop_row_and_order(&nobody).unwrap(), (None, None));
}

/// An operation decided on an order as read is refused if the order changed since.
pub fn an_operation_on_a_changed_order_is_refused(p: &Pair) {
    let applied = authorize(&*p.a, "v1", 800);
    let mut op = new_op("v1", OperationKind::Capture, Some(800), 1);
    op.expected_version = Some(applied.order.version - 1);
    let r = refused(p.a.begin(&op, 1, LEASE));
    assert!(matches!(r, Refusal::Amount { .. }), "{r}");
    assert!(p.b.operation_by_key(&op.idempotency_key).unwrap().is_none());
    op.expected_version = Some(applied.order.version);
    started(p.b.begin(&op, 2, LEASE).unwrap());
}
