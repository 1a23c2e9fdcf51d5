//! A host process for the crash and multi-host tests: it opens a journal, loads one plugin,
//! resolves what earlier hosts left unfinished, then captures a list of orders with bounded
//! concurrency, printing one line per order.
//!
//! ```text
//! renkei-test-host --journal sqlite:PATH | postgres:URL#SCHEMA --plugin LIB --gateway NAME
//!                  --set KEY=VALUE ... --orders FILE --concurrency N --deadline-ms N
//! ```
//! FILE lines: `ORDER TRANSACTION AMOUNT`. Output lines: `recovered …`, `done ORDER RESULT`,
//! `summary …`.

use renkei_host::executor::RecoveryReport;
use renkei_host::journal::{self, JournalStore, OperationStatus};
use renkei_host::{ExecError, Executor, GatewayInstance, GatewaySection, PluginRegistry};
use renkei_sdk::{ConfigValue, Money, Operation, OrderRef, TransactionRef};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Args {
    journal: String,
    plugin: String,
    gateway: String,
    settings: BTreeMap<String, ConfigValue>,
    orders: String,
    concurrency: usize,
    deadline: Duration,
}

fn args() -> Args {
    let mut a = Args {
        journal: String::new(),
        plugin: String::new(),
        gateway: String::new(),
        settings: BTreeMap::new(),
        orders: String::new(),
        concurrency: 8,
        deadline: Duration::from_millis(500),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--journal" => a.journal = value,
            "--plugin" => a.plugin = value,
            "--gateway" => a.gateway = value,
            "--set" => {
                let (k, v) = value.split_once('=').expect("--set KEY=VALUE");
                a.settings.insert(k.into(), ConfigValue::Text(v.into()));
            }
            "--orders" => a.orders = value,
            "--concurrency" => a.concurrency = value.parse().expect("a number"),
            "--deadline-ms" => a.deadline = Duration::from_millis(value.parse().expect("ms")),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn open_journal(spec: &str) -> Arc<dyn JournalStore> {
    if let Some(path) = spec.strip_prefix("sqlite:") {
        Arc::from(journal::sqlite::open(std::path::Path::new(path)).expect("sqlite journal"))
    } else if let Some(rest) = spec.strip_prefix("postgres:") {
        let (url, schema) = rest.rsplit_once('#').expect("postgres:URL#SCHEMA");
        Arc::from(journal::postgres::open(url, schema, 8).expect("postgres journal"))
    } else {
        panic!("unknown journal {spec}")
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let journal = open_journal(&a.journal);
    let mut registry = PluginRegistry::new();
    registry
        .load_file(std::path::Path::new(&a.plugin))
        .expect("plugin loads");
    let plugin = registry
        .iter()
        .next()
        .expect("one plugin")
        .gateway_id()
        .to_owned();
    let gateway: Arc<GatewayInstance> = Arc::new(
        registry
            .instantiate(
                &a.gateway,
                &GatewaySection {
                    plugin,
                    values: a.settings.clone(),
                },
            )
            .expect("gateway instance"),
    );
    let executor = Arc::new(Executor::new(journal, a.deadline));

    let orders: Vec<(String, String, i64)> = std::fs::read_to_string(&a.orders)
        .expect("orders file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split_whitespace();
            let order = f.next().unwrap().to_owned();
            let t = f.next().unwrap().to_owned();
            let amount = f.next().unwrap().parse().unwrap();
            (order, t, amount)
        })
        .collect();
    // A restarted host first settles what a dead host left. Leases still running may belong to
    // a live host: what is still unfinished among its orders after a first pass is waited out
    // and recovered once more; a fresh journal, or one whose leases ran out, needs no wait.
    let gw = gateway.clone();
    let name = a.gateway.clone();
    let find = move |n: &str| (n == name).then(|| gw.clone());
    let first = executor.recover(&find).await.expect("recovery");
    let unfinished = {
        let (journal, orders) = (executor.journal().clone(), orders.clone());
        tokio::task::spawn_blocking(move || {
            orders.iter().any(|(order, _, _)| {
                journal
                    .operations(&OrderRef::new(order))
                    .expect("journal")
                    .iter()
                    .any(|op| {
                        matches!(
                            op.status,
                            OperationStatus::Pending | OperationStatus::Unknown
                        )
                    })
            })
        })
        .await
        .expect("journal task")
    };
    let second = if unfinished {
        tokio::time::sleep(executor.lease() + Duration::from_millis(200)).await;
        executor.recover(&find).await.expect("recovery")
    } else {
        RecoveryReport::default()
    };
    println!(
        "recovered applied={} not_applied={} needs_review={}",
        first.applied.len() + second.applied.len(),
        first.not_applied.len() + second.not_applied.len(),
        first.needs_review.len() + second.needs_review.len()
    );

    let permits = Arc::new(tokio::sync::Semaphore::new(a.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (order, t, amount) in orders {
        let (executor, gateway, permits) = (executor.clone(), gateway.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let op = Operation::Capture {
                order: OrderRef::new(&order),
                transaction: TransactionRef::new(t),
                authorized: Money::jpy(amount),
                amount: None,
            };
            let result = match executor
                .execute(&gateway, &op, &format!("{order}:capture:1"))
                .await
            {
                Ok(done) if done.from_journal => "already",
                Ok(_) => "captured",
                Err(ExecError::Refused(_)) => "refused",
                Err(ExecError::Failed { .. } | ExecError::Rejected(_)) => "failed",
                Err(ExecError::NeedsReview { .. }) => "review",
                Err(ExecError::Journal(e)) => panic!("journal: {e}"),
            };
            println!("done {order} {result}");
            result
        });
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        *counts.entry(r.expect("task")).or_default() += 1;
    }
    println!("summary {counts:?}");
}
