//! The journaled executor against the SBPS emulator, beyond the fault matrix
//! (`fault_matrix.rs`): recovery of a retried operation. SBPS has an inquiry (MG01) and the
//! plugin reads the payment first before acting (a read-only exchange), which recovery must
//! tell apart from a request that could have acted.

use renkei_emulator_sbps::{
    Config as EmulatorConfig, DEFAULT_DES_IV, DEFAULT_DES_KEY, DEFAULT_HASH_KEY,
    DEFAULT_MERCHANT_ID, DEFAULT_SERVICE_ID, Fault, Function, PaymentStatus, SbpsEmulator,
    TEST_TOKEN_VISA,
};
use renkei_host::journal::{self, JournalStore};
use renkei_host::{
    Completed, ExecError, Executor, GatewayInstance, GatewaySection, PluginRegistry,
};
use renkei_sdk::{
    ConfigValue, CustomerRef, Money, Operation, OrderRef, PaymentSource, Secret, TransactionRef,
};
use renkei_tests::plugin_path;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

struct Rig {
    emulator: SbpsEmulator,
    gateway: Arc<GatewayInstance>,
    executor: Executor,
    journal: Arc<dyn JournalStore>,
    _registry: PluginRegistry,
}

async fn rig() -> Rig {
    static N: AtomicU32 = AtomicU32::new(0);
    let emulator = SbpsEmulator::start(EmulatorConfig::default())
        .await
        .unwrap();
    let mut registry = PluginRegistry::new();
    registry
        .load_file(&plugin_path("renkei-plugin-sbps"))
        .unwrap();
    let values: BTreeMap<String, ConfigValue> = [
        ("endpoint", emulator.endpoint_url()),
        ("merchant_id", DEFAULT_MERCHANT_ID.into()),
        ("service_id", DEFAULT_SERVICE_ID.into()),
        ("hash_key", DEFAULT_HASH_KEY.into()),
        ("des_key", DEFAULT_DES_KEY.into()),
        ("des_iv", DEFAULT_DES_IV.into()),
    ]
    .into_iter()
    .chain(
        renkei_tests::SBPS_TEST_TIMING
            .into_iter()
            .map(|(k, v)| (k, v.to_owned())),
    )
    .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v)))
    .collect();
    let gateway = registry
        .instantiate(
            "sbps",
            &GatewaySection {
                plugin: "sbps".into(),
                values,
            },
        )
        .unwrap();
    let dir = std::env::temp_dir().join(format!("renkei-it-jsbps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("j{}.db", N.fetch_add(1, Ordering::Relaxed)));
    let journal: Arc<dyn JournalStore> = Arc::from(journal::sqlite::open(&path).unwrap());
    Rig {
        emulator,
        gateway: Arc::new(gateway),
        executor: Executor::new(journal.clone(), Duration::from_millis(800)),
        journal,
        _registry: registry,
    }
}

impl Rig {
    async fn exec(&self, op: &Operation, key: &str) -> Result<Completed, ExecError> {
        self.executor.execute(&self.gateway, op, key).await
    }

    async fn authorize(&self, order: &str, amount: i64) -> String {
        let op = Operation::Authorize {
            order: OrderRef::new(order),
            amount: Money::jpy(amount),
            source: PaymentSource::Token {
                token: Secret::new(TEST_TOKEN_VISA),
                key: Some(Secret::new("token-key")),
            },
            customer: Some(CustomerRef::new("cust-1")),
            description: None,
        };
        let done = self
            .exec(&op, &format!("{order}:authorize:1"))
            .await
            .expect("authorization");
        done.outcome.transaction.unwrap().to_string()
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
    use renkei_host::journal::{NewOperation, SentExchange};
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
    let ctx = Context {
        now,
        request_id: "b16/2/1",
        idempotency_key: key,
        attempt: 2,
    };
    let Ok(Step::Send(x)) = rig.gateway.prepare(&op, &ctx) else {
        panic!("capture sends")
    };
    assert!(x.read_only, "the SBPS plugin reads before it captures");
    let journaled = SentExchange {
        step_index: 0,
        attempt: 0,
        step: x.step.to_string(),
        method: x.request.method.as_str().into(),
        url: x.request.url.to_string(),
        headers: x.request.redacted_headers(),
        body: x.journal_body.as_ref().map(|b| b.to_string()),
        state: x.state.to_vec(),
        read_only: x.read_only,
    };
    let new = NewOperation {
        order: OrderRef::new("b16"),
        gateway: "sbps".into(),
        kind: op.kind(),
        amount: op.amount(),
        idempotency_key: key.into(),
        plugin_id: "sbps".into(),
        plugin_version: "0".into(),
        intent: None,
    };
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
