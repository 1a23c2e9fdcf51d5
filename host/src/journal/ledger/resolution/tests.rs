use super::*;
use renkei_sdk::{
    Money, OrderRef, PartialCapture, PartialRefund, RefundExtent, Settlement, TransactionRef,
};

fn capture(amount: Option<i64>) -> Operation {
    Operation::Capture {
        order: OrderRef::new("o"),
        transaction: TransactionRef::new("t"),
        authorized: Money::jpy(1000),
        amount: amount.map(Money::jpy),
    }
}

fn void() -> Operation {
    Operation::Void {
        order: OrderRef::new("o"),
        transaction: TransactionRef::new("t"),
        authorized: Money::jpy(1000),
    }
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

fn captured_state() -> PaymentState {
    PaymentState::Captured {
        settlement: Settlement::NotReported,
    }
}

/// Capabilities with the given ways; everything else as no gateway in particular.
fn caps(
    amount_change: AmountChange,
    partial_capture: PartialCapture,
    partial_refund: PartialRefund,
) -> Capabilities {
    Capabilities {
        operations: OperationKind::ALL.to_vec(),
        partial_capture,
        partial_refund,
        amount_change,
        inquiry: renkei_sdk::Inquiry::Available,
        replay_safe: vec![],
        request_expiry: renkei_sdk::RequestExpiry::Never,
        authorization_inquiry: false,
    }
}

fn with_amount_change(amount_change: AmountChange) -> Capabilities {
    caps(
        amount_change,
        PartialCapture::InPlace,
        PartialRefund::InPlace,
    )
}

#[test]
fn a_capture_above_the_authorization_on_a_reauthorizing_gateway_is_not_in_place() {
    let reauthorizing = with_amount_change(AmountChange::Reauthorization);
    assert!(acts_in_place(&capture(None), &reauthorizing));
    assert!(acts_in_place(&capture(Some(1000)), &reauthorizing));
    assert!(acts_in_place(&capture(Some(900)), &reauthorizing));
    assert!(!acts_in_place(&capture(Some(1100)), &reauthorizing));
    // F-REGI's authchange cancels the old SEQNO: visible to an inquiry about it.
    assert!(acts_in_place(
        &capture(Some(1100)),
        &with_amount_change(AmountChange::DeferredToCapture)
    ));
}

#[test]
fn a_capture_below_the_authorization_acts_in_place_only_where_declared_in_place() {
    for change in [
        AmountChange::Reauthorization,
        AmountChange::DeferredToCapture,
        AmountChange::Unsupported,
    ] {
        let way = |p| caps(change, p, PartialRefund::Unsupported);
        assert!(acts_in_place(
            &capture(Some(900)),
            &way(PartialCapture::InPlace)
        ));
        // F-2: authchange then sale may leave the authorization under a new SEQNO.
        assert!(!acts_in_place(
            &capture(Some(900)),
            &way(PartialCapture::ChangeThenCapture)
        ));
        // Undeclared: nothing says what such a capture did.
        assert!(!acts_in_place(
            &capture(Some(900)),
            &way(PartialCapture::Unsupported)
        ));
        // The whole authorization is captured in place whatever the partial way.
        assert!(acts_in_place(
            &capture(Some(1000)),
            &way(PartialCapture::ChangeThenCapture)
        ));
        assert!(acts_in_place(
            &capture(None),
            &way(PartialCapture::Unsupported)
        ));
    }
}

#[test]
fn a_partial_refund_acts_in_place_only_where_declared_in_place() {
    let way = |p| caps(AmountChange::DeferredToCapture, PartialCapture::InPlace, p);
    // SBPS ST02-00307 refunds part of the same sale.
    assert!(acts_in_place(
        &refund(5000, Some(1200)),
        &way(PartialRefund::InPlace)
    ));
    // F-REGI salechange replaces the sale, possibly under a new reference.
    assert!(!acts_in_place(
        &refund(5000, Some(1200)),
        &way(PartialRefund::ChangeDown)
    ));
    assert!(!acts_in_place(
        &refund(5000, Some(1200)),
        &way(PartialRefund::Unsupported)
    ));
    // A full refund acts in place whatever the partial way.
    for p in [PartialRefund::ChangeDown, PartialRefund::Unsupported] {
        assert!(acts_in_place(&refund(5000, Some(5000)), &way(p)));
        assert!(acts_in_place(&refund(5000, None), &way(p)));
    }
}

#[test]
fn a_0_1_plugin_s_boolean_partial_capabilities_never_act_in_place() {
    let legacy = caps(
        AmountChange::DeferredToCapture,
        PartialCapture::from_legacy(true),
        PartialRefund::from_legacy(true),
    );
    assert!(!acts_in_place(&capture(Some(900)), &legacy));
    assert!(!acts_in_place(&refund(5000, Some(1200)), &legacy));
}

#[test]
fn operations_that_create_a_new_payment_are_never_settled_automatically() {
    let change = Operation::ChangeAmount {
        order: OrderRef::new("o"),
        transaction: TransactionRef::new("t"),
        authorized: Money::jpy(1000),
        new_amount: Money::jpy(1200),
    };
    assert!(!acts_in_place(
        &change,
        &with_amount_change(AmountChange::Reauthorization)
    ));
    assert!(acts_in_place(
        &change,
        &with_amount_change(AmountChange::DeferredToCapture)
    ));
    assert!(acts_in_place(
        &void(),
        &with_amount_change(AmountChange::Reauthorization)
    ));
}

#[test]
fn an_inquiry_proves_only_what_the_operation_alone_explains() {
    let op = capture(None);
    let authorized = order(PaymentState::Authorized, 0, 0);
    let captured = Outcome::new(PaymentState::Captured {
        settlement: Settlement::NotReported,
    });
    let seen = |state| judge(&op, Some(&authorized), None, &Outcome::new(state));
    match judge(&op, Some(&authorized), None, &captured) {
        Verdict::TookEffect(o) => assert_eq!(o.captured, Some(Money::jpy(1000))),
        _ => panic!("captured means the capture happened"),
    }
    assert!(matches!(seen(PaymentState::Authorized), Verdict::NoEffect));
    assert!(matches!(seen(PaymentState::Voided), Verdict::Unclear(_)));
    assert!(matches!(
        seen(PaymentState::Unknown { raw: "99".into() }),
        Verdict::Unclear(_)
    ));
}

#[test]
fn an_inquiry_about_an_order_the_journal_does_not_know_proves_no_non_effect() {
    // Nothing to compare an unchanged state with: only the target state settles.
    assert!(matches!(
        judge(
            &capture(None),
            None,
            None,
            &Outcome::new(PaymentState::Authorized)
        ),
        Verdict::Unclear(_)
    ));
    assert!(matches!(
        judge(&void(), None, None, &Outcome::new(PaymentState::Voided)),
        Verdict::TookEffect(_)
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

#[test]
fn a_capture_the_gateway_shows_at_the_amount_asked_took_effect() {
    let authorized = order(PaymentState::Authorized, 0, 0);
    let mut seen = Outcome::new(captured_state());
    seen.captured = Some(Money::jpy(900));
    match judge(&capture(Some(900)), Some(&authorized), None, &seen) {
        Verdict::TookEffect(o) => assert_eq!(o.captured, Some(Money::jpy(900))),
        other => panic!("{other:?}"),
    }
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
    // The refund of `amount` (all of it: `None`) from the captured 5000 yen, judged by what the
    // gateway shows after it and, when given, before it.
    let judge_refund = |amount: Option<i64>, guard: Option<&PaymentState>, seen: &Outcome| {
        judge(&refund(5000, amount), Some(&captured), guard, seen)
    };
    let unstated = refunded(RefundExtent::NotReported);
    assert!(matches!(
        judge_refund(None, None, &unstated),
        Verdict::Unclear(_)
    ));
    // Unless the operation's own read just before it showed the payment captured and
    // unrefunded: then the refund the gateway shows is this one.
    let guard = PaymentState::Captured {
        settlement: Settlement::NotReported,
    };
    assert!(matches!(
        judge_refund(None, Some(&guard), &unstated),
        Verdict::TookEffect(_)
    ));
    assert!(matches!(
        judge_refund(None, Some(&unstated.state), &unstated),
        Verdict::Unclear(_)
    ));
    // A gateway that states the extent can settle it, when the extent fits.
    let full = refunded(RefundExtent::Full);
    assert!(matches!(
        judge_refund(None, None, &full),
        Verdict::TookEffect(_)
    ));
    assert!(matches!(
        judge_refund(Some(1200), None, &full),
        Verdict::Unclear(_)
    ));
    assert!(matches!(
        judge_refund(None, None, &refunded(RefundExtent::Partial)),
        Verdict::Unclear(_)
    ));
    // A stated total must be the journal's plus this refund.
    let mut total = refunded(RefundExtent::Partial);
    total.refunded = Some(Money::jpy(2400));
    assert!(matches!(
        judge_refund(Some(1200), None, &total),
        Verdict::Unclear(_)
    ));
    total.refunded = Some(Money::jpy(1200));
    assert!(matches!(
        judge_refund(Some(1200), None, &total),
        Verdict::TookEffect(_)
    ));
}

/// G-8: after an earlier refund, a refunded state with no amounts cannot say whether this one
/// went through, even when the guard read showed the payment captured.
#[test]
fn g8_a_second_refund_is_not_settled_by_a_state_without_amounts() {
    let partly = order(
        PaymentState::Refunded {
            extent: RefundExtent::Partial,
            settlement: Settlement::NotReported,
        },
        5000,
        1000,
    );
    assert!(matches!(
        judge(
            &refund(4000, None),
            Some(&partly),
            Some(&captured_state()),
            &refunded(RefundExtent::NotReported)
        ),
        Verdict::Unclear(_)
    ));
    // A stated total that adds up does settle it.
    let mut total = refunded(RefundExtent::Full);
    total.refunded = Some(Money::jpy(5000));
    assert!(matches!(
        judge(&refund(4000, None), Some(&partly), None, &total),
        Verdict::TookEffect(_)
    ));
}

/// The ledger books what the refund moved, not the gateway's running total.
#[test]
fn a_refund_settled_by_inquiry_leaves_the_amount_to_the_ledger() {
    let captured = order(captured_state(), 5000, 0);
    let mut total = refunded(RefundExtent::Partial);
    total.refunded = Some(Money::jpy(1200));
    match judge(&refund(5000, Some(1200)), Some(&captured), None, &total) {
        Verdict::TookEffect(o) => assert_eq!(o.refunded, None),
        other => panic!("{other:?}"),
    }
}

/// The resolution rule: an unchanged payment proves "not applied" only after the request
/// expired; a change the operation explains settles it whenever it is seen.
#[test]
fn an_unchanged_payment_proves_nothing_until_the_request_expired() {
    let op = capture(None);
    let authorized = order(PaymentState::Authorized, 0, 0);
    let unchanged = Outcome::new(PaymentState::Authorized);
    assert_eq!(
        read_inquiry(&op, Some(&authorized), None, &unchanged, true),
        Finding::NotApplied
    );
    assert_eq!(
        read_inquiry(&op, Some(&authorized), None, &unchanged, false),
        Finding::StillPossible
    );
    let captured = Outcome::new(captured_state());
    for expired in [false, true] {
        assert!(matches!(
            read_inquiry(&op, Some(&authorized), None, &captured, expired),
            Finding::TookEffect(_)
        ));
        assert!(matches!(
            read_inquiry(
                &op,
                Some(&authorized),
                None,
                &Outcome::new(PaymentState::Voided),
                expired
            ),
            Finding::Unclear(_)
        ));
    }
}

#[test]
fn a_request_expires_its_declared_limit_plus_the_skew_after_it_was_journaled() {
    let (limit, skew) = (Duration::from_secs(60), Duration::from_secs(5));
    assert_eq!(
        expiry(Some(limit), skew, Some(1_000_000)),
        Expiry::At(1_065_000)
    );
    // Only reads left the host: nothing can take effect later.
    assert_eq!(expiry(Some(limit), skew, None), Expiry::Now);
    // F-REGI declares no expiry: no wait makes an unchanged payment conclusive.
    assert_eq!(expiry(None, skew, Some(1_000_000)), Expiry::Never);
    assert_eq!(expiry(None, skew, None), Expiry::Never);
}

#[test]
fn only_success_or_already_done_to_a_replay_proves_the_first_attempt() {
    let op = capture(Some(900));
    let authorized = order(PaymentState::Authorized, 0, 0);
    let done = Outcome::new(captured_state());
    assert_eq!(
        read_replay(&op, Some(&authorized), ReplayAnswer::Succeeded(&done)),
        Some(done.clone())
    );
    let already = read_replay(
        &op,
        Some(&authorized),
        ReplayAnswer::Failed(ErrorKind::AlreadyDone),
    )
    .expect("already done proves the first attempt");
    assert!(matches!(already.state, PaymentState::Captured { .. }));
    assert_eq!(already.captured, Some(Money::jpy(900)));
    assert_eq!(already.transaction, Some(TransactionRef::new("t")));
    for kind in ErrorKind::ALL {
        if kind == ErrorKind::AlreadyDone {
            continue;
        }
        assert_eq!(
            read_replay(&op, Some(&authorized), ReplayAnswer::Failed(kind)),
            None,
            "{kind}"
        );
    }
    assert_eq!(
        read_replay(&op, Some(&authorized), ReplayAnswer::Unknown),
        None
    );
}

#[test]
fn already_done_to_a_replay_means_the_operations_target_state() {
    assert_eq!(expected_outcome(&void(), None).state, PaymentState::Voided);
    let full = expected_outcome(&refund(5000, None), None);
    assert!(matches!(
        full.state,
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            ..
        }
    ));
    assert_eq!(full.captured, None);
}

const R: StepEffect = StepEffect::Reads;
const G: StepEffect = StepEffect::Registers;
const M: StepEffect = StepEffect::MayMoveMoney;

#[test]
fn a_stopped_host_that_sent_nothing_or_moved_no_money_changed_nothing() {
    assert_eq!(stopped(&[]), Stopped::NothingSent);
    assert_eq!(stopped(&[R]), Stopped::NoMoneyMoved);
    assert_eq!(stopped(&[R, R]), Stopped::NoMoneyMoved);
    // A registration (GMO-PG's EntryTran) moves no money, before or after a read.
    assert_eq!(stopped(&[G]), Stopped::NoMoneyMoved);
    assert_eq!(stopped(&[R, G]), Stopped::NoMoneyMoved);
}

/// Automatic settlement only when no earlier exchange could have moved money.
#[test]
fn a_stopped_host_after_a_money_step_is_settled_automatically_only_after_none_moved_money() {
    assert_eq!(stopped(&[M]), Stopped::Unknown { automatic: true });
    assert_eq!(stopped(&[R, M]), Stopped::Unknown { automatic: true });
    assert_eq!(stopped(&[G, M]), Stopped::Unknown { automatic: true });
    assert_eq!(stopped(&[M, M]), Stopped::Unknown { automatic: false });
    assert_eq!(stopped(&[M, R]), Stopped::Unknown { automatic: false });
    assert_eq!(stopped(&[M, G]), Stopped::Unknown { automatic: false });
}

#[test]
fn the_guard_is_the_last_read_before_the_first_money_step() {
    assert_eq!(guard_index(&[R, M]), Some(0));
    assert_eq!(guard_index(&[R, R, M, R]), Some(1));
    // A registration is no read: it shows nothing of the payment.
    assert_eq!(guard_index(&[R, G, M]), Some(0));
    assert_eq!(guard_index(&[G, M]), None);
    assert_eq!(guard_index(&[M]), None);
    assert_eq!(guard_index(&[M, R, M]), None);
    assert_eq!(guard_index(&[R, R]), None);
    assert_eq!(guard_index(&[R, G]), None);
    assert_eq!(guard_index(&[]), None);
}

/// What F-REGI's authchange leaves before a capture of 1500 on an authorization of 1000 (F-2).
fn left_by_change() -> Outcome {
    Outcome::new(PaymentState::Authorized)
        .transaction(TransactionRef::new("t2"))
        .replaced(TransactionRef::new("t"))
        .authorized(Money::jpy(1500))
}

fn refused_with(kind: ErrorKind) -> AfterSend {
    AfterSend::Answered { status: 200, kind }
}

#[test]
fn f2_a_sale_refused_after_the_authorization_changed_books_the_change() {
    let before = order(PaymentState::Authorized, 0, 0);
    for kind in [
        ErrorKind::Rejected,
        ErrorKind::Declined,
        ErrorKind::Unavailable,
    ] {
        assert_eq!(
            read_changed_before(
                &capture(Some(1500)),
                Some(&before),
                refused_with(kind),
                &left_by_change()
            ),
            ChangedBefore::Book(Box::new(left_by_change())),
            "{kind}"
        );
    }
    // Below the authorization too (F-2 changes it down as well).
    let down = Outcome {
        authorized: Some(Money::jpy(800)),
        ..left_by_change()
    };
    assert!(matches!(
        read_changed_before(
            &capture(Some(800)),
            Some(&before),
            refused_with(ErrorKind::Rejected),
            &down
        ),
        ChangedBefore::Book(_)
    ));
}

#[test]
fn f2_a_sale_whose_own_outcome_is_unknown_stays_unknown_and_names_the_change() {
    let before = order(PaymentState::Authorized, 0, 0);
    for failed in [
        AfterSend::TimedOut,
        AfterSend::ConnectionLost,
        refused_with(ErrorKind::Protocol),
        AfterSend::Answered {
            status: 503,
            kind: ErrorKind::Rejected,
        },
        // "Already done" to a sale of an authorization just made cannot be explained.
        refused_with(ErrorKind::AlreadyDone),
    ] {
        match read_changed_before(
            &capture(Some(1500)),
            Some(&before),
            failed,
            &left_by_change(),
        ) {
            ChangedBefore::Unknown(why) => {
                assert!(why.contains("t2"), "{failed:?}: {why}");
                assert!(why.contains("1500"), "{failed:?}: {why}");
            }
            other => panic!("{failed:?}: {other:?}"),
        }
    }
}

/// Money is never guessed: a report that is not what a change of the authorization before
/// this capture can leave is not booked.
#[test]
fn an_inconsistent_report_of_earlier_changes_is_never_booked() {
    let authorized = order(PaymentState::Authorized, 0, 0);
    let refused = refused_with(ErrorKind::Rejected);
    let unknown = |op: &Operation, before: Option<&OrderRecord>, left: &Outcome| {
        matches!(
            read_changed_before(op, before, refused, left),
            ChangedBefore::Unknown(_)
        )
    };
    let op = capture(Some(1500));
    let cases: Vec<(&str, Outcome)> = vec![
        (
            "captured",
            Outcome {
                state: captured_state(),
                ..left_by_change()
            },
        ),
        (
            "another amount",
            Outcome {
                authorized: Some(Money::jpy(1400)),
                ..left_by_change()
            },
        ),
        (
            "no amount",
            Outcome {
                authorized: None,
                ..left_by_change()
            },
        ),
        (
            "money captured",
            Outcome {
                captured: Some(Money::jpy(1500)),
                ..left_by_change()
            },
        ),
        (
            "a new reference without the one it replaced",
            Outcome {
                replaced: None,
                ..left_by_change()
            },
        ),
        (
            "unknown state",
            Outcome {
                state: PaymentState::Unknown { raw: "99".into() },
                ..left_by_change()
            },
        ),
    ];
    for (what, left) in &cases {
        assert!(unknown(&op, Some(&authorized), left), "{what}");
    }
    // Operations without a change before their last step, and orders not authorized.
    assert!(unknown(
        &capture(None),
        Some(&authorized),
        &left_by_change()
    ));
    assert!(unknown(
        &capture(Some(1000)),
        Some(&authorized),
        &left_by_change()
    ));
    assert!(unknown(&void(), Some(&authorized), &left_by_change()));
    assert!(unknown(
        &refund(1000, Some(500)),
        Some(&authorized),
        &left_by_change()
    ));
    assert!(unknown(&op, None, &left_by_change()));
    assert!(unknown(
        &op,
        Some(&order(captured_state(), 1000, 0)),
        &left_by_change()
    ));
}
