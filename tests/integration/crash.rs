//! Host processes killed mid-run, and hosts racing on one journal: the journal and the gateway
//! (the F-REGI emulator, with its inquiry extension) must agree afterwards, with every order
//! captured exactly once.

/// A host killed while a batch's captures are held at the gateway, some before and some after
/// it processed them.
mod mid_batch;

use crate::support::{fregi_authorization, instantiate, registry_of, text_values};
use renkei_emulator_fregi::{Config as EmulatorConfig, Fault, FregiEmulator, Script, Status};
use renkei_host::journal::{self, Decision, JournalStore, OperationStatus};
use renkei_host::{Executor, GatewayInstance};
use renkei_sdk::{Money, OrderRef, PaymentState};
use renkei_tests::{fregi_seqno, plugin_path};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

const DEADLINE_MS: u64 = 500;

struct World {
    emulator: FregiEmulator,
    journal: Arc<dyn JournalStore>,
    /// How a host process opens the same journal (`--journal`).
    spec: String,
    dir: std::path::PathBuf,
    orders: Vec<(String, String, i64)>,
}

/// A journal the test reads and its host processes write: the test's handle, the spec a host
/// opens it by, and on PostgreSQL the URL and the test's own schema, dropped at the end.
struct TestJournal {
    journal: Arc<dyn JournalStore>,
    spec: String,
    postgres: Option<(String, String)>,
}

/// A fresh SQLite journal in the test's own directory.
fn sqlite_journal(name: &str) -> TestJournal {
    let dir = crate::support::scratch_dir(&format!("crash-{name}-journal"));
    let path = dir.join("journal.db");
    let _ = std::fs::remove_file(&path);
    TestJournal {
        journal: Arc::from(journal::sqlite::open(&path).unwrap()),
        spec: format!("sqlite:{}", path.display()),
        postgres: None,
    }
}

/// A PostgreSQL journal in a schema of the test's own, or `None` (said loudly) when
/// `RENKEI_TEST_POSTGRES_URL` is not set.
async fn postgres_journal(name: &str, what: &str) -> Option<TestJournal> {
    let Ok(url) = std::env::var("RENKEI_TEST_POSTGRES_URL") else {
        eprintln!("\n*** SKIPPED: {what} (set RENKEI_TEST_POSTGRES_URL) ***\n");
        return None;
    };
    let schema = format!("renkei_test_{}_{name}", std::process::id());
    // The sync PostgreSQL client must not run on an async worker thread.
    let (u, sc) = (url.clone(), schema.clone());
    let journal: Arc<dyn JournalStore> = tokio::task::spawn_blocking(move || {
        Arc::from(journal::postgres::open(&u, &sc, 4).unwrap())
    })
    .await
    .unwrap();
    Some(TestJournal {
        journal,
        spec: format!("postgres:{url}#{schema}"),
        postgres: Some((url, schema)),
    })
}

impl TestJournal {
    /// Drops the test's PostgreSQL schema (nothing to do for SQLite).
    async fn drop_schema(self) {
        let Some((url, schema)) = self.postgres else {
            return;
        };
        tokio::task::spawn_blocking(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .unwrap();
        })
        .await
        .unwrap();
    }
}

/// Runs `f` on a blocking thread: the journal's calls are synchronous, and PostgreSQL's client
/// must not run on an async worker thread.
async fn on_journal<T: Send + 'static>(
    world: &Arc<World>,
    f: impl FnOnce(&World) -> T + Send + 'static,
) -> T {
    let world = world.clone();
    tokio::task::spawn_blocking(move || f(&world))
        .await
        .unwrap()
}

fn gateway_settings(emulator: &FregiEmulator) -> Vec<(String, String)> {
    vec![
        ("base_url".into(), emulator.base_url()),
        ("shop_id".into(), "12345".into()),
        (
            "inquiry_url".into(),
            format!("{}info", emulator.control_url()),
        ),
    ]
}

/// An emulator, a journal, and `n` authorized orders written to an orders file.
async fn world(name: &str, n: usize, journal: &TestJournal) -> World {
    let (journal, spec) = (journal.journal.clone(), journal.spec.clone());
    let emulator = FregiEmulator::start(EmulatorConfig {
        auto_batch_at: None,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = crate::support::scratch_dir(&format!("crash-{name}"));
    let registry = registry_of(&["renkei-plugin-fregi"]);
    let gateway: Arc<GatewayInstance> = Arc::new(instantiate(
        &registry,
        "fregi",
        "fregi",
        text_values(gateway_settings(&emulator)),
    ));
    let executor = Arc::new(Executor::new(
        journal.clone(),
        Duration::from_millis(DEADLINE_MS),
    ));
    let permits = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (executor, gateway, permits) = (executor.clone(), gateway.clone(), permits.clone());
        let order = format!("{name}-{i:04}");
        let amount = 1000 + i as i64;
        tasks.spawn(async move {
            let _p = permits.acquire_owned().await.unwrap();
            let done = executor
                .execute(
                    &gateway,
                    &fregi_authorization(&order, amount),
                    &format!("{order}:authorize:1"),
                )
                .await
                .expect("authorization");
            (order, done.outcome.transaction.unwrap().to_string(), amount)
        });
    }
    let mut orders = Vec::new();
    while let Some(r) = tasks.join_next().await {
        orders.push(r.unwrap());
    }
    orders.sort();
    let file: String = orders
        .iter()
        .map(|(o, t, a)| format!("{o} {t} {a}\n"))
        .collect();
    std::fs::write(dir.join("orders.txt"), file).unwrap();
    World {
        emulator,
        journal,
        spec,
        dir,
        orders,
    }
}

/// How a host process runs: captures in flight at once, and its deadline for one exchange.
#[derive(Clone, Copy, Debug)]
struct HostRun {
    concurrency: usize,
    deadline_ms: u64,
}

impl HostRun {
    /// The lease its operations carry (`Executor::new`: twice the deadline plus a second): how
    /// long after its last write another host must wait before claiming them.
    fn lease(self) -> Duration {
        Duration::from_millis(self.deadline_ms) * 2 + Duration::from_secs(1)
    }
}

/// The crash tests' usual host.
const USUAL: HostRun = HostRun {
    concurrency: 8,
    deadline_ms: DEADLINE_MS,
};

fn host(world: &World) -> Child {
    host_with(world, USUAL)
}

fn host_with(world: &World, run: HostRun) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_renkei-test-host"));
    cmd.args(["--journal", &world.spec])
        .args([
            "--plugin",
            plugin_path("renkei-plugin-fregi").to_str().unwrap(),
        ])
        .args(["--gateway", "fregi"])
        .args(["--orders", world.dir.join("orders.txt").to_str().unwrap()])
        .args(["--concurrency", &run.concurrency.to_string()])
        .args(["--deadline-ms", &run.deadline_ms.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in gateway_settings(&world.emulator) {
        cmd.args(["--set", &format!("{k}={v}")]);
    }
    cmd.spawn().expect("test host starts")
}

/// When to SIGKILL a host, judged on its output so far. Asked after every line and every few
/// milliseconds while the host is silent: a host waiting on held requests prints nothing.
type KillWhen = Box<dyn FnMut(&[String]) -> bool + Send>;

/// Kill once `n` orders are done.
fn after_done(n: usize) -> KillWhen {
    Box::new(move |lines| done_lines(lines) >= n)
}

/// How many `done ORDER RESULT` lines a host printed.
fn done_lines(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.starts_with("done ")).count()
}

/// Each order's result (`captured`, `already`, `refused`, …) from a host's `done` lines.
fn results(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("done "))
        .filter_map(|l| l.split_once(' '))
        .map(|(order, result)| (order.to_owned(), result.to_owned()))
        .collect()
}

/// All output lines of a host, until it exits or, with `kill_when`, until that says so (then
/// it is killed with SIGKILL; the lines it wrote before dying are kept).
async fn lines(mut child: Child, mut kill_when: Option<KillWhen>) -> Vec<String> {
    tokio::task::spawn_blocking(move || {
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in out.lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if let Some(kill) = kill_when.as_mut()
                && kill(&lines)
            {
                child.kill().unwrap(); // SIGKILL: no destructor, no flush, no goodbye
                break;
            }
        }
        lines.extend(rx); // ends when the pipe does, once the host is dead
        reader.join().unwrap();
        let status = child.wait().unwrap();
        if kill_when.is_none() {
            assert!(
                status.success(),
                "host failed: {status}\n{}",
                lines.join("\n")
            );
        }
        lines
    })
    .await
    .unwrap()
}

/// What a restarted host's recovery did, from its `recovered …` line.
struct Recovered {
    line: String,
    applied: usize,
    not_applied: usize,
    needs_review: usize,
}

fn recovered(lines: &[String]) -> Recovered {
    let line = lines
        .iter()
        .find(|l| l.starts_with("recovered "))
        .expect("a restarted host reports its recovery")
        .clone();
    let count = |key: &str| -> usize {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(key))
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    Recovered {
        applied: count("applied="),
        not_applied: count("not_applied="),
        needs_review: count("needs_review="),
        line,
    }
}

/// The operator's part where F-REGI declares no request expiry: every capture in review is
/// looked up on F-REGI's screen (the emulator's book), found unsold, and decided "no effect",
/// so that the next run captures it, once. Returns how many were decided.
async fn decide_reviews_from_the_book(w: &Arc<World>) -> usize {
    let in_review: Vec<_> = on_journal(w, |w| {
        w.orders
            .iter()
            .flat_map(|(o, seqno, _)| {
                w.journal
                    .operations(&OrderRef::new(o))
                    .unwrap()
                    .into_iter()
                    .filter(|op| op.status == OperationStatus::NeedsReview)
                    .map(move |op| (op.id, seqno.clone()))
            })
            .collect()
    })
    .await;
    let operator = Executor::new(w.journal.clone(), Duration::from_millis(500));
    for (id, seqno) in &in_review {
        let t = w.emulator.transaction(fregi_seqno(seqno)).unwrap();
        assert_eq!(t.status, Status::Authorized, "in review but sold: {seqno}");
        operator
            .resolve_review(*id, Decision::NoEffect, "operator")
            .await
            .unwrap();
    }
    in_review.len()
}

/// The gateway and the journal agree on every order: one transaction at the gateway, captured
/// at its amount, captured once in the journal at the same amount, nothing left open or in
/// review.
async fn assert_consistent(world: &Arc<World>) {
    on_journal(world, |world| {
        let mut at_gateway = BTreeMap::<String, usize>::new();
        for t in world.emulator.transactions() {
            *at_gateway.entry(t.id).or_default() += 1;
        }
        for (order, seqno, amount) in &world.orders {
            assert_eq!(
                at_gateway.get(order),
                Some(&1),
                "{order}: one transaction at the gateway"
            );
            let t = world.emulator.transaction(fregi_seqno(seqno)).unwrap();
            assert!(
                matches!(t.status, Status::SoldPending | Status::SoldTransmitted),
                "{order}: the gateway shows {:?}",
                t.status
            );
            assert_eq!(
                i64::from(t.amount),
                *amount,
                "{order}: the gateway's amount"
            );
            let o = world.journal.order(&OrderRef::new(order)).unwrap().unwrap();
            assert!(
                matches!(o.state, PaymentState::Captured { .. }),
                "{order}: {}",
                o.state
            );
            assert_eq!(o.captured, Money::jpy(*amount), "{order}");
            assert!(o.review.is_none(), "{order}: {:?}", o.review);
            for op in world.journal.operations(&OrderRef::new(order)).unwrap() {
                assert!(
                    !matches!(
                        op.status,
                        OperationStatus::Pending
                            | OperationStatus::Unknown
                            | OperationStatus::NeedsReview
                    ),
                    "{order}: operation {:?} left {:?}",
                    op.id,
                    op.status
                );
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn g_a_host_killed_mid_bulk_capture_recovers_to_the_gateways_truth() {
    let j = sqlite_journal("kill");
    let w = Arc::new(world("kill", 1000, &j).await);
    // During the first run each sale takes 100 ms after it is applied, so that several captures
    // are always in flight (journaled, sent, unanswered) when the kill lands.
    w.emulator
        .install_fault(Fault::latency(100).on_script(Script::Sale).persistent());

    let first = lines(host(&w), Some(after_done(100))).await;
    assert!(done_lines(&first) >= 100);
    w.emulator.clear_faults();
    let in_flight = on_journal(&w, |w| {
        w.orders
            .iter()
            .flat_map(|o| w.journal.operations(&OrderRef::new(&o.0)).unwrap())
            .filter(|op| op.status == OperationStatus::Pending)
            .count()
    })
    .await;
    let mut tally = BTreeMap::<String, usize>::new();
    for result in results(&first).into_values() {
        *tally.entry(result).or_default() += 1;
    }
    eprintln!("in flight at the kill: {in_flight}; first run: {tally:?}");
    // Usually 3-8; `mid_batch` holds both kinds of capture in flight at the kill by faults
    // instead, and the in-process test `journal::recovery_resolves_what_a_dead_host_left_sent_
    // and_unanswered` covers the sent-then-died case deterministically.

    let second = lines(host(&w), None).await;
    let recovered = recovered(&second);
    eprintln!("after SIGKILL: {}", recovered.line);
    assert_eq!(
        recovered.applied + recovered.not_applied + recovered.needs_review,
        in_flight,
        "every capture in flight at the kill is settled by recovery: {}",
        recovered.line
    );
    // F-REGI declares no request expiry: a capture the inquiry finds not (yet) sold cannot be
    // called "not applied" by the host (one journaled but never sent looks the same). Those go
    // to review; the operator checks F-REGI's screen (the emulator's book), finds them unsold,
    // and says so; the next run captures them, once.
    let decided = decide_reviews_from_the_book(&w).await;
    assert_eq!(decided, recovered.needs_review);
    if decided > 0 {
        lines(host(&w), None).await;
    }
    assert_consistent(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn g_two_hosts_on_one_postgres_journal_capture_each_order_exactly_once() {
    let Some(j) = postgres_journal("twohosts", "two hosts on one PostgreSQL journal").await else {
        return;
    };
    let w = Arc::new(world("two", 200, &j).await);
    let (a, b) = (host(&w), host(&w));
    let (a, b) = tokio::join!(lines(a, None), lines(b, None));
    let captured = |ls: &[String]| ls.iter().filter(|l| l.ends_with(" captured")).count();
    eprintln!(
        "host A captured {}, host B captured {}",
        captured(&a),
        captured(&b)
    );
    assert_eq!(
        captured(&a) + captured(&b),
        200,
        "each order is captured by exactly one of the two hosts"
    );
    assert_consistent(&w).await;
    j.drop_schema().await;
}
