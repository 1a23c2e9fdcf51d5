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
