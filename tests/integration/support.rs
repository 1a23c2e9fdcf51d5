//! What the integration tests' rigs share: loading the real plugin libraries, the emulators'
//! plugin settings, journals in the temporary folder, the operations the tests authorize with,
//! and what a host writes to its journal before sending (for tests that "kill" a host there).

use renkei_emulator_fregi::FregiEmulator;
use renkei_emulator_sbps::{
    DEFAULT_DES_IV, DEFAULT_DES_KEY, DEFAULT_HASH_KEY, DEFAULT_MERCHANT_ID, DEFAULT_SERVICE_ID,
    SbpsEmulator, TEST_TOKEN_VISA,
};
use renkei_host::journal::{self, JournalStore, NewOperation, SentExchange};
use renkei_host::{Completed, ExecError, Executor, GatewayInstance, PluginRegistry};
use renkei_sdk::{
    ConfigValue, CustomerRef, Exchange, Money, Operation, OrderRef, PaymentSource, Secret,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use renkei_tests::{instantiate, registry_of};

/// Settings given as text, the way a configuration file gives them.
pub fn text_values<K: AsRef<str>, V: Into<String>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, ConfigValue> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_owned(), ConfigValue::Text(v.into())))
        .collect()
}

/// The folder every scratch file of this test process lives under:
/// `<tmp>/renkei-tests/<pid>`. A test binary has no hook that runs after its last test, so the
/// folders are not removed at exit; instead the first call removes those of test processes that
/// are no longer running (Linux: no `/proc/<pid>`), which keeps what runs leave behind to one
/// run's worth instead of growing with every run (a full disk once failed CI).
pub fn scratch_root() -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let root = std::env::temp_dir().join("renkei-tests");
    SWEPT.call_once(|| sweep_dead_processes(&root));
    root.join(std::process::id().to_string())
}

fn sweep_dead_processes(root: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// An empty scratch folder `name` of this test process (emptied if a test ran there before).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = scratch_root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh journal file of its own in the temporary folder, `label` naming the test file
/// (journals of parallel tests never meet).
pub fn journal_path(label: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = scratch_root().join(format!("journals-{label}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("j{}.db", N.fetch_add(1, Ordering::Relaxed)))
}

/// How many operations the journal holds for `order`.
pub fn journaled_operations(journal: &dyn JournalStore, order: &str) -> usize {
    journal.operations(&OrderRef::new(order)).unwrap().len()
}

/// The SBPS plugin's settings for the emulator's default merchant, card fields 3DES-encrypted.
pub fn sbps_values(emulator: &SbpsEmulator) -> Vec<(&'static str, String)> {
    vec![
        ("endpoint", emulator.endpoint_url()),
        ("merchant_id", DEFAULT_MERCHANT_ID.into()),
        ("service_id", DEFAULT_SERVICE_ID.into()),
        ("hash_key", DEFAULT_HASH_KEY.into()),
        ("des_key", DEFAULT_DES_KEY.into()),
        ("des_iv", DEFAULT_DES_IV.into()),
    ]
}

/// [`sbps_values`] with the short expiry of [`renkei_tests::SBPS_TEST_TIMING`], so unknown
/// outcomes settle within a test.
pub fn sbps_timed_values(emulator: &SbpsEmulator) -> BTreeMap<String, ConfigValue> {
    text_values(
        sbps_values(emulator)
            .into_iter()
            .chain(renkei_tests::SBPS_TEST_TIMING.map(|(k, v)| (k, v.to_owned()))),
    )
}

/// The F-REGI plugin's settings for the emulator's shop `12345`, with the emulator's inquiry
/// extension when `inquiry` (F-REGI has none of its own).
pub fn fregi_values(emulator: &FregiEmulator, inquiry: bool) -> BTreeMap<String, ConfigValue> {
    let mut values = text_values([
        ("base_url", emulator.base_url()),
        ("shop_id", "12345".to_owned()),
    ]);
    if inquiry {
        values.insert(
            "inquiry_url".into(),
            ConfigValue::Text(format!("{}info", emulator.control_url())),
        );
    }
    values
}

/// An authorization of `amount` for `order` with the F-REGI emulator's accepting test token.
pub fn fregi_authorization(order: &str, amount: i64) -> Operation {
    Operation::Authorize {
        order: OrderRef::new(order),
        amount: Money::jpy(amount),
        source: PaymentSource::Token {
            token: Secret::new("TESTTOKEN-OK"),
            key: None,
        },
        customer: None,
        description: None,
    }
}

/// An authorization of `amount` for `order` with the SBPS emulator's Visa test token.
pub fn sbps_authorization(order: &str, amount: i64) -> Operation {
    Operation::Authorize {
        order: OrderRef::new(order),
        amount: Money::jpy(amount),
        source: PaymentSource::Token {
            token: Secret::new(TEST_TOKEN_VISA),
            key: Some(Secret::new("token-key")),
        },
        customer: Some(CustomerRef::new("cust-1")),
        description: None,
    }
}

/// The journal row a host writes for exchange `x` of `attempt` before it sends it.
pub fn sent_exchange(x: &Exchange, attempt: u32) -> SentExchange {
    SentExchange {
        step_index: 0,
        attempt,
        step: x.step.to_string(),
        method: x.request.method.as_str().into(),
        url: x.request.url.to_string(),
        headers: x.request.redacted_headers(),
        body: x.journal_body.as_ref().map(|b| b.to_string()),
        state: x.state.to_vec(),
        effect: x.effect,
    }
}

/// The journal's operation row for `op` under `key` through the gateway (and plugin) `gateway`.
pub fn new_operation(op: &Operation, gateway: &str, key: &str) -> NewOperation {
    NewOperation {
        order: op.order().clone(),
        gateway: gateway.into(),
        kind: op.kind(),
        amount: op.amount(),
        idempotency_key: key.into(),
        plugin_id: gateway.into(),
        plugin_version: "0".into(),
        intent: None,
        expected_version: None,
    }
}

/// Collects everything a `tracing` subscriber writes.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A subscriber that writes every event and span, at every level, without colours, to what
/// it answers.
pub fn capturing_subscriber() -> (impl tracing::Subscriber + Send + Sync, Captured) {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (subscriber, out)
}

/// One gateway instance behind a journaled executor, for the rigs that test the journal: the
/// rigs hold their emulator beside it and reach its fields through `Deref`.
pub struct Journaled {
    pub gateway: Arc<GatewayInstance>,
    pub executor: Executor,
    pub journal: Arc<dyn JournalStore>,
    /// Owns the loaded library; kept for the instance's lifetime.
    pub registry: PluginRegistry,
}

impl Journaled {
    /// Loads `package`, configures its plugin `plugin` (also the instance's name) with `values`,
    /// and opens a fresh SQLite journal named after `label`.
    pub fn new(
        package: &str,
        plugin: &str,
        values: BTreeMap<String, ConfigValue>,
        label: &str,
        deadline: Duration,
    ) -> Journaled {
        Journaled::with_registry(registry_of(&[package]), plugin, values, label, deadline)
    }

    /// [`Journaled::new`] for the plugin library at `library`, wherever it was built (the frozen
    /// 0.1.0 plugins of `compat/`).
    pub fn from_library(
        library: &Path,
        plugin: &str,
        values: BTreeMap<String, ConfigValue>,
        label: &str,
        deadline: Duration,
    ) -> Journaled {
        let mut registry = PluginRegistry::new();
        registry
            .load_file(library)
            .unwrap_or_else(|e| panic!("{} loads: {e}", library.display()));
        Journaled::with_registry(registry, plugin, values, label, deadline)
    }

    fn with_registry(
        registry: PluginRegistry,
        plugin: &str,
        values: BTreeMap<String, ConfigValue>,
        label: &str,
        deadline: Duration,
    ) -> Journaled {
        let gateway = Arc::new(instantiate(&registry, plugin, plugin, values));
        let journal: Arc<dyn JournalStore> =
            Arc::from(journal::sqlite::open(&journal_path(label)).unwrap());
        Journaled {
            gateway,
            executor: Executor::new(journal.clone(), deadline),
            journal,
            registry,
        }
    }

    pub async fn exec(&self, op: &Operation, key: &str) -> Result<Completed, ExecError> {
        self.executor.execute(&self.gateway, op, key).await
    }

    /// Runs the authorization `op` as the order's first; answers the gateway's reference.
    pub async fn authorize_with(&self, op: &Operation) -> String {
        let done = self
            .exec(op, &format!("{}:authorize:1", op.order()))
            .await
            .expect("authorization");
        done.outcome.transaction.unwrap().to_string()
    }
}
