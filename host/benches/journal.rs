//! Journal cost per gateway operation, and how throughput grows with concurrent orders.
//!
//! One operation = what the executor writes for a one-exchange capture: the operation with its
//! exchange before sending, then the reply with the outcome applied to the order. Every write is a committed
//! transaction (SQLite: WAL with synchronous=FULL; PostgreSQL: default synchronous_commit).
//!
//! `cargo bench -p renkei-host --bench journal` (PostgreSQL when RENKEI_TEST_POSTGRES_URL is set)

use renkei_host::journal::*;
use renkei_sdk::{Money, OperationKind, OrderRef, PaymentState, Settlement, TransactionRef};
use std::sync::Arc;
use std::time::Instant;

const LEASE: i64 = 60_000;

fn op(order: &str, kind: OperationKind, amount: i64) -> NewOperation {
    NewOperation {
        order: OrderRef::new(order),
        gateway: "main".into(),
        kind,
        amount: Some(Money::jpy(amount)),
        idempotency_key: format!("{order}:{}:1", kind.name()),
        plugin_id: "bench".into(),
        plugin_version: "1".into(),
        intent: None,
        expected_version: None,
    }
}

fn exchange() -> SentExchange {
    SentExchange {
        step_index: 0,
        attempt: 1,
        step: "sale".into(),
        method: "POST".into(),
        url: "http://127.0.0.1:1/connect/sale.cgi".into(),
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: Some("SHOPID=12345&SEQNO=00000000000000000001".into()),
        state: b"{\"expect\":1080}".to_vec(),
        effect: renkei_sdk::StepEffect::MayMoveMoney,
    }
}

/// One journaled operation as the executor writes it: two commits (operation and exchange
/// before sending; reply and outcome after).
fn one(j: &dyn JournalStore, order: &str, kind: OperationKind, state: PaymentState) {
    let (Begin::Started(rec), Some(x)) = j
        .begin_send(&op(order, kind, 1080), &exchange(), 1, LEASE)
        .unwrap()
    else {
        panic!("fresh order")
    };
    let reply = ReplyRecord::Reply {
        status: 200,
        body: b"OK\n00000000000000000001\n".to_vec(),
    };
    let outcome = StoredOutcome {
        state,
        gateway_status: Some("20".into()),
        transaction: Some(TransactionRef::new(format!("T{order}"))),
        replaced: None,
        handle: None,
        authorization_code: None,
        authorized: Some(Money::jpy(1080)),
        captured: Some(Money::jpy(1080)).filter(|_| kind == OperationKind::Capture),
        refunded: None,
        notes: vec![],
    };
    j.succeed(rec.id, Some((x, &reply)), &outcome, 4, None)
        .unwrap();
}

fn captured() -> PaymentState {
    PaymentState::Captured {
        settlement: Settlement::Pending,
    }
}

/// Authorizes `n` orders (setup), then times capturing them with `threads` workers.
fn run(name: &str, j: Arc<dyn JournalStore>, n: usize, threads: usize, tag: &str) -> f64 {
    for i in 0..n {
        one(
            &*j,
            &format!("{tag}-{i}"),
            OperationKind::Authorize,
            PaymentState::Authorized,
        );
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let j = j.clone();
            let tag = tag.to_owned();
            std::thread::spawn(move || {
                for i in (t..n).step_by(threads) {
                    one(
                        &*j,
                        &format!("{tag}-{i}"),
                        OperationKind::Capture,
                        captured(),
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let per_op_us = secs * 1e6 / n as f64;
    println!(
        "{name:<10} threads={threads:<3} {n} captures in {secs:.3}s: {:.0} ops/s, {per_op_us:.0} µs/op (2 commits each)",
        n as f64 / secs
    );
    n as f64 / secs
}

fn main() {
    let dir = std::env::temp_dir().join(format!("renkei-bench-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = 2_000;
    let mut rows = Vec::new();
    for threads in [1, 4, 16] {
        let path = dir.join(format!("j{threads}.db"));
        let j: Arc<dyn JournalStore> = Arc::from(sqlite::open(&path).unwrap());
        rows.push(("sqlite", threads, run("sqlite", j, n, threads, "s")));
    }
    if let Ok(url) = std::env::var("RENKEI_TEST_POSTGRES_URL") {
        for threads in [1, 4, 16] {
            let schema = format!("renkei_bench_{}_{threads}", std::process::id());
            let j: Arc<dyn JournalStore> =
                Arc::from(postgres::open(&url, &schema, threads).unwrap());
            rows.push(("postgres", threads, run("postgres", j, n, threads, "p")));
            let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
            c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .unwrap();
        }
    } else {
        println!("(PostgreSQL skipped: set RENKEI_TEST_POSTGRES_URL)");
    }
    for (backend, threads, ops) in &rows {
        let base = rows
            .iter()
            .find(|(b, t, _)| b == backend && *t == 1)
            .map(|r| r.2)
            .unwrap_or(*ops);
        println!(
            "{backend:<10} threads={threads:<3} throughput x{:.2} vs 1 thread",
            ops / base
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
