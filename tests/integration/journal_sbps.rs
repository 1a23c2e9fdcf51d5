//! The journaled executor against the SBPS emulator, beyond the fault matrix
//! (`fault_matrix.rs`): recovery of a retried operation. SBPS has an inquiry (MG01) and the
//! plugin reads the payment first before acting (a read-only exchange), which recovery must
//! tell apart from a request that could have acted.

use crate::support::{
    Journaled, new_operation, sbps_authorization, sbps_timed_values, sent_exchange,
};
use renkei_emulator_sbps::{
    Config as EmulatorConfig, Fault, Function, PaymentStatus, SbpsEmulator,
};
use renkei_host::ExecError;
use renkei_sdk::{Money, Operation, OrderRef, StepEffect, TransactionRef};
use std::time::Duration;

/// The SBPS emulator and a journaled gateway on it.
struct Rig {
    emulator: SbpsEmulator,
    on: Journaled,
}

impl std::ops::Deref for Rig {
    type Target = Journaled;
    fn deref(&self) -> &Journaled {
        &self.on
    }
}

async fn rig() -> Rig {
    let emulator = SbpsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    let on = Journaled::new(
        "renkei-plugin-sbps",
        "sbps",
        sbps_timed_values(&emulator),
        "jsbps",
        Duration::from_millis(800),
    );
    Rig { emulator, on }
}

impl Rig {
    async fn authorize(&self, order: &str, amount: i64) -> String {
        self.authorize_with(&sbps_authorization(order, amount))
            .await
    }

    fn status(&self, tracking: &str) -> PaymentStatus {
        self.emulator.payment(tracking).unwrap().payment_status
    }
}

/// Breach 16: a retried operation reuses its row. Attempt 1 of a capture sent `sales` and got
/// no settling answer (settled as not applied after SBPS's expiry); attempt 2's host died after
/// journaling only its MG01 read. Recovery must look at attempt 2 alone: nothing but a read
/// left, so not applied at once, without counting attempt 1's unanswered `sales` (which once
/// sent an unchanged payment to review, and still costs an inquiry).
#[tokio::test]
async fn breach16_recovery_reads_only_the_current_attempts_exchanges() {
    use renkei_sdk::{Context, Step, Timestamp};
    let rig = rig().await;
    let t = rig.authorize("b16", 1000).await;
    let op = Operation::Capture {
        order: OrderRef::new("b16"),
        transaction: TransactionRef::new(&t),
        authorized: Money::jpy(1000),
        amount: None,
    };
    let key = "b16:capture:1";
    rig.emulator
        .install_fault(Fault::http_status(503).on_function(Function::Sales));
    let first = rig.exec(&op, key).await;
    assert!(
        matches!(first, Err(ExecError::Failed { .. })),
        "attempt 1 is not applied: {first:?}"
    );
    assert_eq!(rig.status(&t), PaymentStatus::Authorized);

    // Attempt 2: journaled, then the host dies before sending anything.
    let now = Timestamp::from_unix_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let order_id = rig.gateway.order_id_for(&op, key, 2);
    let ctx = Context {
        now,
        request_id: "b16/2/1",
        idempotency_key: key,
        attempt: 2,
        gateway_order_id: order_id.as_deref(),
        handle: None,
        dates: Default::default(),
    };
    let Ok(Step::Send(x)) = rig.gateway.prepare(&op, &ctx) else {
        panic!("capture sends")
    };
    assert_eq!(
        x.effect,
        StepEffect::Reads,
        "the SBPS plugin reads before it captures"
    );
    let journaled = sent_exchange(&x, 0);
    let new = new_operation(&op, "sbps", key);
    // A lease already over: this host is gone.
    rig.journal.begin_send(&new, &journaled, 0, 1).unwrap();
    let id = rig.journal.operation_by_key(key).unwrap().unwrap().id;
    let sent_before = rig.journal.exchanges(id).unwrap().len();

    let gw = rig.gateway.clone();
    let report = rig
        .executor
        .recover(&move |name: &str| (name == "sbps").then(|| gw.clone()))
        .await
        .unwrap();
    assert_eq!(report.not_applied, [id], "{report:?}");
    assert_eq!(
        rig.journal.exchanges(id).unwrap().len(),
        sent_before,
        "nothing needed asking: attempt 2 sent only a read"
    );
    // And the capture runs once now.
    rig.exec(&op, key).await.unwrap();
    assert_eq!(rig.status(&t), PaymentStatus::Sold);
}

/// A journaled gateway of the SBPS plugin shipped at 0.1.0 (`compat/sbps-plugin-0.1.0`, built
/// against the frozen SDK) on the SBPS emulator.
async fn rig_0_1_0() -> Rig {
    let emulator = SbpsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    let rig = Rig {
        on: Journaled::from_library(
            &renkei_tests::compat_0_1().sbps_plugin,
            "sbps",
            sbps_timed_values(&emulator),
            "jsbps01",
            Duration::from_millis(800),
        ),
        emulator,
    };
    assert_eq!(
        rig.gateway.manifest().sdk_version,
        semver::Version::new(0, 1, 0)
    );
    rig
}

/// Issue 18: the SBPS plugin shipped at 0.1.0 (`compat/sbps-plugin-0.1.0`, built against the
/// frozen SDK) still runs a whole payment through today's journaled executor: authorize, capture,
/// refund, and the emulator's book and the journal end where a refunded payment ends.
#[tokio::test]
async fn the_0_1_0_sbps_plugin_authorizes_captures_and_refunds_through_todays_executor() {
    use renkei_sdk::{PaymentState, RefundExtent};
    let rig = rig_0_1_0().await;
    let t = rig.authorize("old-1", 1080).await;
    assert_eq!(rig.status(&t), PaymentStatus::Authorized);

    let order = OrderRef::new("old-1");
    let capture = Operation::Capture {
        order: order.clone(),
        transaction: TransactionRef::new(&t),
        authorized: Money::jpy(1080),
        amount: None,
    };
    rig.exec(&capture, "old-1:capture:1")
        .await
        .expect("capture");
    assert_eq!(rig.status(&t), PaymentStatus::Sold);

    let refund = Operation::Refund {
        order: order.clone(),
        transaction: TransactionRef::new(&t),
        captured: Money::jpy(1080),
        amount: None,
    };
    let done = rig.exec(&refund, "old-1:refund:1").await.expect("refund");
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
    assert_eq!(rig.status(&t), PaymentStatus::Refunded);

    let journaled = rig.journal.order(&order).unwrap().expect("journaled order");
    assert_eq!(journaled.captured, Money::jpy(1080));
    assert_eq!(journaled.refunded, Money::jpy(1080));
    assert!(journaled.review.is_none(), "{journaled:?}");
    assert_eq!(
        crate::support::journaled_operations(rig.journal.as_ref(), "old-1"),
        3
    );
}

/// What `lifecycle.decline-retry` finds in the SBPS plugin shipped at 0.1.0
/// (`conformance.rs`), through today's executor, pinned so that a change shows: the order's
/// authorization keeps one key, so attempt 2 after a decline sends the declined attempt's
/// `order_id` (the plugin derives it from the key alone) and SBPS refuses it as a duplicate (96),
/// which the plugin reports as "may have authorized". The order goes to review: nothing is
/// authorized twice, but a merchant still on 0.1.0 must look at it (the 0.2 plugin takes the
/// host's attempt ids instead, `limits.order_id`).
#[tokio::test]
async fn the_0_1_0_sbps_plugin_sends_an_order_to_review_when_authorized_again_after_a_decline() {
    use renkei_emulator_sbps::TEST_TOKEN_DECLINE_LIMIT;
    use renkei_sdk::{PaymentSource, PaymentState, Secret};
    let rig = rig_0_1_0().await;
    let approved = sbps_authorization("old-d", 1080);
    let Operation::Authorize {
        order,
        amount,
        customer,
        description,
        ..
    } = approved.clone()
    else {
        unreachable!("sbps_authorization builds an authorization")
    };
    let declined = Operation::Authorize {
        order: order.clone(),
        amount,
        source: PaymentSource::Token {
            token: Secret::new(TEST_TOKEN_DECLINE_LIMIT),
            key: Some(Secret::new("token-key")),
        },
        customer,
        description,
    };
    // One key per order's authorization, as the shop gives it.
    let key = "old-d:authorize:1";
    match rig.exec(&declined, key).await {
        Err(ExecError::Failed { error, .. }) => {
            assert_eq!(error.kind, renkei_sdk::ErrorKind::Declined, "{error}")
        }
        other => panic!("a clean decline, not {other:?}"),
    }
    match rig.exec(&approved, key).await {
        Err(ExecError::NeedsReview { evidence, .. }) => {
            assert!(evidence.contains("duplicate order_id"), "{evidence}")
        }
        other => panic!("review after SBPS's 96, not {other:?}"),
    }
    let journaled = rig.journal.order(&order).unwrap().expect("journaled order");
    assert_eq!(journaled.state, PaymentState::AwaitingAuthorization);
    assert_eq!(journaled.authorized, Money::jpy(0));
    assert!(journaled.review.is_some(), "{journaled:?}");
}
