//! The shared suite on both backends.

use super::suite::{self, Pair};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

fn scratch_path() -> std::path::PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!("renkei-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("j{}.db", N.fetch_add(1, Ordering::Relaxed)))
}

#[test]
fn sqlite_journal_passes_the_suite() {
    suite::all(&|| {
        let path = scratch_path();
        Pair {
            a: Arc::from(super::sqlite::open(&path).unwrap()),
            // A second connection on the same file, opened after: migrations run once.
            b: Arc::from(super::sqlite::open(&path).unwrap()),
        }
    });
}

/// The URL of the test PostgreSQL, when there is one (`.ci/run` sets it).
pub(crate) fn postgres_url() -> Option<String> {
    let url = std::env::var("RENKEI_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        eprintln!(
            "\n*** SKIPPED: PostgreSQL journal tests (set RENKEI_TEST_POSTGRES_URL, e.g. \
             postgres://postgres@127.0.0.1:5432/test) ***\n"
        );
    }
    url
}

#[test]
fn postgres_journal_passes_the_suite() {
    let Some(url) = postgres_url() else { return };
    static N: AtomicU32 = AtomicU32::new(0);
    suite::all(&|| {
        // A fresh schema per case: migrations from an empty database every time.
        let schema = format!(
            "renkei_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Pair {
            a: Arc::from(super::postgres::open(&url, &schema, 4).unwrap()),
            b: Arc::from(super::postgres::open(&url, &schema, 4).unwrap()),
        }
    });
    drop_test_schemas(&url);
}

/// Removes the schemas this process created.
pub(crate) fn drop_test_schemas(url: &str) {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let prefix = format!("renkei_test_{}_%", std::process::id());
    let names: Vec<String> = c
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            &[&prefix],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for n in names {
        c.batch_execute(&format!("DROP SCHEMA {n} CASCADE"))
            .unwrap();
    }
}

/// Breach 10: hosts' clocks differ, so PostgreSQL leases run on the database's clock. A host
/// whose clock is an hour behind starts an operation; another host, on time, must not find its
/// lease already expired and claim it from under it. (A SQLite journal is one file on one
/// machine: its hosts share a clock.)
#[test]
fn breach10_postgres_leases_follow_the_databases_clock() {
    use super::{JournalStore, NewOperation, OrderRecord};
    use renkei_sdk::{Money, OperationKind, OrderRef, PaymentState, TransactionRef};
    let Some(url) = postgres_url() else { return };
    let schema = format!("renkei_test_{}_clock", std::process::id());
    let behind: Arc<dyn JournalStore> = Arc::from(super::postgres::open(&url, &schema, 2).unwrap());
    let on_time: Arc<dyn JournalStore> =
        Arc::from(super::postgres::open(&url, &schema, 2).unwrap());
    let mut order = OrderRecord::awaiting(&OrderRef::new("clk"), "main", renkei_sdk::Currency::JPY);
    order.state = PaymentState::Authorized;
    order.transaction = Some(TransactionRef::new("T-clk"));
    order.authorized = Money::jpy(1000);
    behind.register_order(&order).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let hour = 3_600_000;
    let op = NewOperation {
        order: OrderRef::new("clk"),
        gateway: "main".into(),
        kind: OperationKind::Capture,
        amount: Some(Money::jpy(1000)),
        idempotency_key: "clk/capture".into(),
        plugin_id: "test".into(),
        plugin_version: "1.0.0".into(),
        intent: None,
        expected_version: None,
    };
    // A 60 s lease by a clock an hour slow.
    behind.begin(&op, now - hour, 60_000).unwrap();
    assert!(
        on_time.claim_stale(now, 60_000).unwrap().is_empty(),
        "a live operation was claimed because its host's clock is slow"
    );
    // And a host an hour fast cannot claim it either.
    assert!(on_time.claim_stale(now + hour, 60_000).unwrap().is_empty());
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}
