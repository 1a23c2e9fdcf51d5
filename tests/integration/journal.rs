//! The journaled executor against the F-REGI emulator: exactly-once effect, operator review,
//! recovery of a host that died mid-operation, and the single faults that are no row of the
//! fault matrix (`fault_matrix.rs`, which runs every fault against both gateways).
//!
//! F-REGI has no public inquiry: the emulator's extension is configured in some rigs and not in
//! others, which shows which unknown outcomes end in an inquiry, which in a replay (void, the only
//! operation the plugin declares replay-safe) and which in review.

use crate::support::{
    Journaled, fregi_authorization, fregi_values, instantiate, journaled_operations, new_operation,
    sent_exchange,
};
use renkei_emulator_fregi::{Config as EmulatorConfig, Fault, FregiEmulator, Script, Status};
use renkei_host::journal::Decision;
use renkei_host::{Completed, ExecError, Resolution, Transport};
use renkei_sdk::{
    ConfigValue, Context, Money, Operation, OrderRef, PaymentState, Step, TransactionRef,
};
use renkei_tests::fregi_seqno;
use std::time::Duration;

/// Every exchange gets this long: the "no reply" fault turns into a timeout quickly.
const DEADLINE: Duration = Duration::from_millis(800);

/// The F-REGI emulator and a journaled gateway on it.
struct Rig {
    emulator: FregiEmulator,
    on: Journaled,
}

impl std::ops::Deref for Rig {
    type Target = Journaled;
    fn deref(&self) -> &Journaled {
        &self.on
    }
}

async fn rig(inquiry: bool) -> Rig {
    let emulator = FregiEmulator::start(EmulatorConfig {
        auto_batch_at: None,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let on = Journaled::new(
        "renkei-plugin-fregi",
        "fregi",
        fregi_values(&emulator, inquiry),
        "journal",
        DEADLINE,
    );
    Rig { emulator, on }
}

impl Rig {
    /// Authorizes a fresh order; answers its SEQNO.
    async fn authorize(&self, order: &str, amount: i64) -> String {
        self.authorize_with(&fregi_authorization(order, amount))
            .await
    }

    async fn capture(&self, order: &str, seqno: &str, amount: i64) -> Result<Completed, ExecError> {
        self.exec(
            &Operation::Capture {
                order: OrderRef::new(order),
                transaction: TransactionRef::new(seqno),
                authorized: Money::jpy(amount),
                amount: None,
            },
            &format!("{order}:capture:1"),
        )
        .await
    }

    async fn void(&self, order: &str, seqno: &str, amount: i64) -> Result<Completed, ExecError> {
        self.exec(
            &Operation::Void {
                order: OrderRef::new(order),
                transaction: TransactionRef::new(seqno),
                authorized: Money::jpy(amount),
            },
            &format!("{order}:void:1"),
        )
        .await
    }

    fn status(&self, seqno: &str) -> Status {
        self.emulator
            .transaction(fregi_seqno(seqno))
            .expect("known SEQNO")
            .status
    }

    /// Sales the emulator recorded for this order's transactions.
    fn sold(&self, seqno: &str) -> bool {
        matches!(
            self.status(seqno),
            Status::SoldPending | Status::SoldTransmitted
        )
    }
}

#[tokio::test]
async fn g_exactly_once_a_repeated_capture_returns_the_stored_result_and_sends_nothing() {
    let rig = rig(false).await;
    let seqno = rig.authorize("eo-1", 1080).await;
    let first = rig.capture("eo-1", &seqno, 1080).await.unwrap();
    assert!(!first.from_journal);
    // Any second sale would be refused by the emulator as "already sold" and show as an error.
    rig.emulator.install_fault(
        Fault::gateway_error_with("X9-9-999(must not be sent)")
            .on_script(Script::Sale)
            .persistent(),
    );
    let again = rig.capture("eo-1", &seqno, 1080).await.unwrap();
    assert!(again.from_journal);
    assert_eq!(again.outcome, first.outcome);
    assert!(rig.sold(&seqno));
    assert_eq!(journaled_operations(rig.journal.as_ref(), "eo-1"), 2);
}

#[tokio::test]
async fn g_latency_within_the_deadline_is_just_a_slow_success() {
    let rig = rig(false).await;
    let seqno = rig.authorize("lat-1", 500).await;
    rig.emulator
        .install_fault(Fault::latency(300).on_script(Script::Sale));
    let done = rig.capture("lat-1", &seqno, 500).await.unwrap();
    assert_eq!(done.resolution, None);
    assert!(rig.sold(&seqno));
}

#[tokio::test]
async fn f7_a_plugin_refusal_before_sending_journals_nothing() {
    let rig = rig(false).await;
    let seqno = rig.authorize("one-yen", 500).await;
    let result = rig
        .exec(
            &Operation::Capture {
                order: OrderRef::new("one-yen"),
                transaction: TransactionRef::new(&seqno),
                authorized: Money::jpy(500),
                amount: Some(Money::jpy(1)),
            },
            "one-yen:capture:1",
        )
        .await;
    assert!(matches!(result, Err(ExecError::Rejected(_))), "{result:?}");
    assert_eq!(journaled_operations(rig.journal.as_ref(), "one-yen"), 1);
    assert_eq!(rig.status(&seqno), Status::Authorized);
}

/// Writes what a host writes before sending, optionally sends it, and "dies".
async fn die_mid_capture(rig: &Rig, order: &str, seqno: &str, send: bool) {
    let op = Operation::Capture {
        order: OrderRef::new(order),
        transaction: TransactionRef::new(seqno),
        authorized: Money::jpy(900),
        amount: None,
    };
    let key = format!("{order}:capture:1");
    let ctx = Context::fixed(0, &key);
    let Step::Send(x) = rig.gateway.prepare(&op, &ctx).unwrap() else {
        panic!("capture sends")
    };
    let journaled = sent_exchange(&x, 1);
    let new = new_operation(&op, "fregi", &key);
    // A lease that is already over: this host is gone.
    rig.journal.begin_send(&new, &journaled, 0, 1).unwrap();
    if send {
        Transport::new(DEADLINE).send(&x.request).await.unwrap();
    }
}

#[tokio::test]
async fn recovery_resolves_what_a_dead_host_left_sent_and_unanswered() {
    let rig = rig(true).await;
    let sent = rig.authorize("crash-sent", 900).await;
    let unsent = rig.authorize("crash-unsent", 900).await;
    die_mid_capture(&rig, "crash-sent", &sent, true).await;
    die_mid_capture(&rig, "crash-unsent", &unsent, false).await;
    // The orders are held: nothing new is accepted for them before recovery.
    assert!(matches!(
        rig.void("crash-sent", &sent, 900).await,
        Err(ExecError::Refused(_))
    ));

    let gw = rig.gateway.clone();
    let report = rig
        .executor
        .recover(&move |name: &str| (name == "fregi").then(|| gw.clone()))
        .await
        .unwrap();
    // The one that reached F-REGI is settled by the inquiry. The one that never left looks the
    // same to the journal as one still in flight, and F-REGI declares no expiry: review.
    assert_eq!(report.applied.len(), 1, "{report:?}");
    assert_eq!(report.needs_review.len(), 1, "{report:?}");

    let order = rig
        .journal
        .order(&OrderRef::new("crash-sent"))
        .unwrap()
        .unwrap();
    assert!(matches!(order.state, PaymentState::Captured { .. }));
    assert!(rig.sold(&sent));
    assert_eq!(rig.status(&unsent), Status::Authorized);
    rig.executor
        .resolve_review(report.needs_review[0], Decision::NoEffect, "operator")
        .await
        .unwrap();
    // The unsent capture is free to run now, exactly once.
    rig.capture("crash-unsent", &unsent, 900).await.unwrap();
    assert!(rig.sold(&unsent));
}

#[tokio::test]
async fn a_gateways_own_deadline_turns_a_slow_reply_into_an_unknown_outcome() {
    let rig = rig(false).await;
    // The same plugin, configured with a deadline shorter than the emulator's delay.
    let mut values = fregi_values(&rig.emulator, false);
    values.insert("deadline_ms".into(), ConfigValue::Integer(150));
    let hasty = instantiate(&rig.registry, "fregi", "fregi", values);
    assert_eq!(hasty.deadline(), Some(Duration::from_millis(150)));
    let seqno = rig.authorize("hasty-1", 600).await;
    rig.emulator
        .install_fault(Fault::latency(500).on_script(Script::Sale));
    let result = rig
        .executor
        .execute(
            &hasty,
            &Operation::Capture {
                order: OrderRef::new("hasty-1"),
                transaction: TransactionRef::new(&seqno),
                authorized: Money::jpy(600),
                amount: None,
            },
            "hasty-1:capture:1",
        )
        .await;
    // The sale goes through late; without an inquiry the host cannot know, so: review.
    assert!(
        matches!(result, Err(ExecError::NeedsReview { .. })),
        "{result:?}"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(rig.sold(&seqno), "the emulator processed the late sale");
}

#[tokio::test]
async fn a_timed_out_capture_processed_late_is_seen_by_the_settling_inquiry() {
    // Review finding: an inquiry right after the deadline saw "unchanged" while the gateway was
    // still processing. The executor now waits one deadline before looking.
    let rig = rig(true).await;
    let seqno = rig.authorize("late-1", 600).await;
    rig.emulator
        .install_fault(Fault::latency(1_200).on_script(Script::Sale));
    let done = rig.capture("late-1", &seqno, 600).await.unwrap();
    assert_eq!(done.resolution, Some(Resolution::Inquiry));
    assert!(rig.sold(&seqno));
}

#[tokio::test]
async fn an_operation_contradicting_the_journal_is_refused_before_anything_is_sent() {
    let rig = rig(false).await;
    let seqno = rig.authorize("mismatch-1", 600).await;
    rig.emulator.install_fault(
        Fault::gateway_error_with("X9-9-999(must not be sent)")
            .on_script(Script::Sale)
            .persistent(),
    );
    for op in [
        Operation::Capture {
            order: OrderRef::new("mismatch-1"),
            transaction: TransactionRef::new(&seqno),
            authorized: Money::jpy(9_999), // the journal says 600
            amount: None,
        },
        Operation::Capture {
            order: OrderRef::new("mismatch-1"),
            transaction: TransactionRef::new("99999999999999999999"), // not the journal's
            authorized: Money::jpy(600),
            amount: None,
        },
    ] {
        let result = rig.exec(&op, "mismatch-1:capture:1").await;
        assert!(matches!(result, Err(ExecError::Refused(_))), "{result:?}");
    }
    assert_eq!(rig.status(&seqno), Status::Authorized);
    assert_eq!(journaled_operations(rig.journal.as_ref(), "mismatch-1"), 1);
}

#[tokio::test]
async fn partial_refunds_add_up_in_the_journal() {
    // Review finding: the ledger read a refund's reported amount as the refunded total.
    let rig = rig(false).await;
    let seqno = rig.authorize("pr-1", 1000).await;
    rig.capture("pr-1", &seqno, 1000).await.unwrap();
    let mut transaction = seqno.clone();
    for (i, (amount, open)) in [(300, 1000), (200, 700)].into_iter().enumerate() {
        let done = rig
            .exec(
                &Operation::Refund {
                    order: OrderRef::new("pr-1"),
                    transaction: TransactionRef::new(&transaction),
                    captured: Money::jpy(open),
                    amount: Some(Money::jpy(amount)),
                },
                &format!("pr-1:refund:{}", i + 1),
            )
            .await
            .unwrap_or_else(|e| panic!("refund {amount}: {e}"));
        let order = done.order.unwrap();
        transaction = order.transaction.clone().unwrap().to_string();
        assert!(!order.state.is_final());
    }
    let order = rig.journal.order(&OrderRef::new("pr-1")).unwrap().unwrap();
    assert_eq!(order.refunded, Money::jpy(500));
    assert_eq!(order.captured, Money::jpy(1000));
}

#[tokio::test]
async fn a_replay_refused_for_another_reason_proves_nothing_and_goes_to_review() {
    // Review finding: any refusal of the replay was read as "the first attempt did nothing".
    // Here the first authcancel is processed (reply lost) and the replay is refused with a code
    // that says nothing about it: the void did happen, so "failed" would be a lie.
    let rig = rig(false).await;
    let seqno = rig.authorize("replay-ng", 700).await;
    rig.emulator
        .install_fault(Fault::reply_lost().on_script(Script::AuthCancel));
    rig.emulator.install_fault(
        Fault::gateway_error_with("A2-1-999(一時的なエラーです)").on_script(Script::AuthCancel),
    );
    let result = rig.void("replay-ng", &seqno, 700).await;
    assert!(
        matches!(result, Err(ExecError::NeedsReview { .. })),
        "{result:?}"
    );
    assert_eq!(rig.status(&seqno), Status::AuthorizationCancelled);
}

/// A capture at a changed amount (F-2): `authchange` then `sale`.
fn capture_at(order: &str, reference: &str, authorized: i64, amount: i64) -> Operation {
    Operation::Capture {
        order: OrderRef::new(order),
        transaction: TransactionRef::new(reference),
        authorized: Money::jpy(authorized),
        amount: Some(Money::jpy(amount)),
    }
}

/// F-2, F-3: `authchange.cgi` answered OK, then `sale.cgi` refused with an NG reply. The
/// authorization WAS changed (a new SEQNO at the new amount) and nothing was captured: the
/// journal books the new authorization the plugin reports and fails the capture with F-REGI's
/// error instead of sending the order to review, and the shop can capture it again.
#[tokio::test]
async fn f2_a_sale_refused_after_the_amount_change_books_the_new_authorization_and_fails() {
    let rig = rig(false).await;
    let old = rig.authorize("f2-ng", 1080).await;
    rig.emulator.install_fault(
        Fault::gateway_error_with(
            "S1-1-125(売上処理時の指定された取引は売上処理期限を超過しています)",
        )
        .on_script(Script::Sale),
    );
    let result = rig
        .exec(&capture_at("f2-ng", &old, 1080, 1500), "f2-ng:capture:1")
        .await;
    let Err(ExecError::Failed {
        error, resolution, ..
    }) = result
    else {
        panic!("{result:?}")
    };
    assert_eq!(error.gateway_code.as_deref(), Some("S1-1-125"));
    assert_eq!(resolution, None);
    let order = rig.journal.order(&OrderRef::new("f2-ng")).unwrap().unwrap();
    assert!(order.review.is_none(), "{:?}", order.review);
    assert_eq!(order.state, PaymentState::Authorized);
    assert_eq!(order.authorized, Money::jpy(1500));
    assert_eq!(order.captured, Money::jpy(0));
    let new = order.transaction.clone().unwrap();
    assert_ne!(new.as_str(), old);
    // F-REGI agrees: the old SEQNO is cancelled and replaced by the new one, authorized at the
    // new amount and not sold.
    let old_record = rig.emulator.transaction(fregi_seqno(&old)).unwrap();
    assert_eq!(old_record.status, Status::AuthorizationCancelled);
    assert_eq!(
        old_record.replaced_by.as_deref(),
        Some(fregi_seqno(new.as_str()))
    );
    let new_record = rig.emulator.transaction(fregi_seqno(new.as_str())).unwrap();
    assert_eq!(
        (new_record.status, new_record.amount),
        (Status::Authorized, 1500)
    );
    // F-3: capturing again captures the authorization the journal now knows, in one sale.
    let op = Operation::Capture {
        order: OrderRef::new("f2-ng"),
        transaction: new.clone(),
        authorized: Money::jpy(1500),
        amount: None,
    };
    let done = rig.exec(&op, "f2-ng:capture:2").await.unwrap();
    assert_eq!(done.steps, Some(vec!["sale".to_owned()]));
    assert_eq!(done.order.unwrap().captured, Money::jpy(1500));
    assert!(rig.sold(new.as_str()));
}

/// F-2: `authchange.cgi` answered OK, then `sale.cgi` answered with a code F-REGI does not
/// document, so the sale may have been processed: the capture's outcome stays unknown (review,
/// nothing booked), and the evidence names the new authorization the plugin reported.
#[tokio::test]
async fn f2_a_sale_of_unknown_outcome_after_the_amount_change_goes_to_review_naming_the_change() {
    let rig = rig(false).await;
    let old = rig.authorize("f2-unknown", 1080).await;
    rig.emulator
        .install_fault(Fault::gateway_error_with("S1-9-999(x)").on_script(Script::Sale));
    let result = rig
        .exec(
            &capture_at("f2-unknown", &old, 1080, 1500),
            "f2-unknown:capture:1",
        )
        .await;
    let Err(ExecError::NeedsReview { evidence, .. }) = result else {
        panic!("{result:?}")
    };
    assert!(evidence.contains(&format!("replacing {old}")), "{evidence}");
    assert!(evidence.contains("1500"), "{evidence}");
    let order = rig
        .journal
        .order(&OrderRef::new("f2-unknown"))
        .unwrap()
        .unwrap();
    assert!(order.review.is_some());
    assert_eq!(order.authorized, Money::jpy(1080));
    assert_eq!(order.transaction, Some(TransactionRef::new(old.as_str())));
}

/// A journaled gateway of the F-REGI plugin shipped at 0.1.0 (`compat/fregi-plugin-0.1.0`, built
/// against the frozen SDK) on an emulator with `require_sale_authcode` as given.
async fn rig_0_1_0(require_sale_authcode: bool) -> Rig {
    let emulator = FregiEmulator::start(EmulatorConfig {
        auto_batch_at: None,
        require_sale_authcode,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let rig = Rig {
        on: Journaled::from_library(
            &renkei_tests::compat_0_1().fregi_plugin,
            "fregi",
            fregi_values(&emulator, false),
            "journal01",
            DEADLINE,
        ),
        emulator,
    };
    assert_eq!(
        rig.gateway.manifest().sdk_version,
        semver::Version::new(0, 1, 0)
    );
    rig
}

/// Issue 18: the F-REGI plugin shipped at 0.1.0 still runs a whole payment through today's
/// journaled executor: authorize, capture (`sale`), refund (`salecancel`), and the emulator's
/// book and the journal end where a refunded payment ends. The emulator takes a sale without
/// `AUTHCODE`, as the one the plugin shipped with did: the plugin sends it only after an
/// `authchange` (the next test shows what today's stricter emulator does with that).
#[tokio::test]
async fn the_0_1_0_fregi_plugin_authorizes_captures_and_refunds_through_todays_executor() {
    use renkei_sdk::RefundExtent;
    let rig = rig_0_1_0(false).await;
    let seqno = rig.authorize("old-1", 1080).await;
    assert_eq!(rig.status(&seqno), Status::Authorized);
    rig.capture("old-1", &seqno, 1080).await.expect("capture");
    assert!(rig.sold(&seqno));

    let order = OrderRef::new("old-1");
    let done = rig
        .exec(
            &Operation::Refund {
                order: order.clone(),
                transaction: TransactionRef::new(&seqno),
                captured: Money::jpy(1080),
                amount: None,
            },
            "old-1:refund:1",
        )
        .await
        .expect("refund");
    assert!(
        matches!(
            done.outcome.state,
            PaymentState::Refunded {
                extent: RefundExtent::Full,
                ..
            }
        ),
        "{:?}",
        done.outcome.state
    );
    assert_eq!(rig.status(&seqno), Status::SaleCancelledPending);

    let journaled = rig.journal.order(&order).unwrap().expect("journaled order");
    assert_eq!(journaled.captured, Money::jpy(1080));
    assert_eq!(journaled.refunded, Money::jpy(1080));
    assert!(journaled.review.is_none(), "{journaled:?}");
    assert_eq!(journaled_operations(rig.journal.as_ref(), "old-1"), 3);
}

/// The F-REGI plugin shipped at 0.1.0 sends no `AUTHCODE` on a plain capture's `sale`; today's
/// emulator refuses that (S1-1-111, as the real gateway may). Through today's executor the
/// refusal is clean: the capture fails as not applied, nothing goes to review, the payment stays
/// authorized at F-REGI and in the journal, so a merchant still on 0.1.0 loses no money and is
/// told to upgrade the plugin, never double-charged.
#[tokio::test]
async fn the_0_1_0_fregi_plugin_s_capture_without_authcode_is_a_clean_refusal_where_f_regi_needs_it()
 {
    let rig = rig_0_1_0(true).await;
    let seqno = rig.authorize("old-2", 1080).await;
    let result = rig.capture("old-2", &seqno, 1080).await;
    match &result {
        Err(ExecError::Failed { error, .. }) => {
            assert_eq!(error.gateway_code.as_deref(), Some("S1-1-111"), "{error}")
        }
        other => panic!("a clean refusal, not {other:?}"),
    }
    assert_eq!(rig.status(&seqno), Status::Authorized);
    let journaled = rig
        .journal
        .order(&OrderRef::new("old-2"))
        .unwrap()
        .expect("journaled order");
    assert_eq!(journaled.state, PaymentState::Authorized);
    assert_eq!(journaled.captured, Money::jpy(0));
    assert!(journaled.review.is_none(), "{journaled:?}");
}
