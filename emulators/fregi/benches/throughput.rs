//! Capture throughput of the F-REGI emulator over loopback (the host is measured
//! against the emulator, so the emulator must not be the bottleneck; target ≥ 10,000 captures/s
//! on 2 cores).
//!
//! One process holds both sides: the emulator on a multi-threaded Tokio runtime and a simple load
//! client (`CONCURRENCY` tasks sharing one keep-alive reqwest client). It pre-creates
//! authorizations through `authm.cgi`, captures each once through `sale.cgi`, then measures two
//! baselines the same way: a 404 (HTTP round trip only) and the inquiry extension (round trip +
//! ledger lock + EUC-JP reply, no state change). The ratio capture/baseline says how much of a
//! capture's cost is the emulator's own work rather than HTTP.
//!
//! `cargo bench -p renkei-emulator-fregi` runs the full size; without `--bench` (e.g. under
//! `cargo test --all-targets`) it runs a small smoke pass. `FREGI_BENCH_N` overrides the size.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use renkei_emulator_fregi::{Config, FregiEmulator};

const CONCURRENCY: usize = 64;
const SHOP: &str = "12345";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = std::env::var("FREGI_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 100_000 } else { 500 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(n));
}

async fn run(n: usize) {
    let config = Config {
        auto_batch_at: None,
        seed: Some(1),
        ..Config::default()
    };
    let emulator = FregiEmulator::start(config).await.expect("emulator starts");
    let origin = format!("http://{}", emulator.addr());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    println!(
        "F-REGI emulator throughput: {n} requests per phase, {CONCURRENCY} client tasks, {} cores",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );

    // Pre-create the authorizations (measured too, for information).
    let authm_url = format!("{origin}/connect/authm.cgi");
    let (seqnos, authm_rate) = drive(n, &client, move |i, client| {
        let body = format!(
            "SHOPID={SHOP}&PAY={}&PAN1=4111&PAN2=1111&PAN3=1111&PAN4=1111&CARDEXPIRY1=12&CARDEXPIRY2=30&CARDNAME=BENCH",
            100 + i % 1000
        );
        let request = client.post(&authm_url).header("content-type", "application/x-www-form-urlencoded").body(body);
        async move {
            let text = request.send().await.expect("authm").text().await.expect("authm body");
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("OK"), "{text}");
            lines.nth(1).expect("SEQNO").to_owned()
        }
    })
    .await;
    report("authm.cgi (authorize)", n, authm_rate);

    // Captures: each authorization once.
    let sale_url = format!("{origin}/connect/sale.cgi");
    let seqnos = Arc::new(seqnos);
    let captured = Arc::clone(&seqnos);
    let (_, capture_rate) = drive(n, &client, move |i, client| {
        let body = format!("SHOPID={SHOP}&SEQNO={}", captured[i]);
        let request = client
            .post(&sale_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        async move {
            let text = request
                .send()
                .await
                .expect("sale")
                .text()
                .await
                .expect("sale body");
            assert!(text.starts_with("OK\n"), "{text}");
        }
    })
    .await;
    report("sale.cgi (capture)", n, capture_rate);
    let sold = emulator
        .transactions()
        .iter()
        .filter(|t| t.status.is_sold())
        .count();
    assert_eq!(sold, n, "every authorization captured exactly once");

    let info_url = format!("{origin}/__emulator__/info");
    let (_, info_rate) = drive(n, &client, move |i, client| {
        let request = client.get(format!("{info_url}?SHOPID={SHOP}&SEQNO={}", seqnos[i]));
        async move {
            let text = request
                .send()
                .await
                .expect("info")
                .text()
                .await
                .expect("info body");
            assert!(text.starts_with("OK\n"), "{text}");
        }
    })
    .await;
    report("baseline: /__emulator__/info", n, info_rate);

    let missing_url = format!("{origin}/nothing-here");
    let (_, missing_rate) = drive(n, &client, move |_, client| {
        let request = client.get(&missing_url);
        async move {
            assert_eq!(
                request
                    .send()
                    .await
                    .expect("404")
                    .bytes()
                    .await
                    .map(|_| ())
                    .ok(),
                Some(())
            );
        }
    })
    .await;
    report("baseline: 404", n, missing_rate);

    println!("capture / info baseline = {:.2}", capture_rate / info_rate);
    println!(
        "capture / 404 baseline  = {:.2}",
        capture_rate / missing_rate
    );
    println!(
        "target >= 10000 captures/s: {}",
        if capture_rate >= 10_000.0 {
            "met"
        } else {
            "NOT met on this machine"
        }
    );
    emulator.shutdown().await;
}

fn report(what: &str, n: usize, rate: f64) {
    println!("{what:<32} {rate:>10.0} req/s  ({n} requests)");
}

/// Runs `n` requests, `CONCURRENCY` at a time, and returns their results in index order and the
/// rate in requests per second.
async fn drive<T, F, Fut>(n: usize, client: &reqwest::Client, make: F) -> (Vec<T>, f64)
where
    T: Send + 'static,
    F: Fn(usize, &reqwest::Client) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(CONCURRENCY);
    for _ in 0..CONCURRENCY {
        let (next, make, client) = (Arc::clone(&next), Arc::clone(&make), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break done;
                }
                done.push((i, make(i, &client).await));
            }
        }));
    }
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.extend(task.await.expect("load task"));
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    results.sort_by_key(|(i, _)| *i);
    (results.into_iter().map(|(_, t)| t).collect(), rate)
}
