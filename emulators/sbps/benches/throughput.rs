//! Capture throughput of the emulator over loopback, with the load client in the same process.
//!
//! Starts the emulator, authorizes `SBPS_BENCH_PAYMENTS` payments (default 20,000), then sends
//! one sales request (`ST02-00201-101`) for each from `SBPS_BENCH_CONCURRENCY` (default 64)
//! concurrent tasks sharing one keep-alive HTTP client, and prints captures per second. The same
//! run measures two baselines with the same client and load: a request that the HTTP layer
//! answers 404 without touching the protocol, and an MG01 inquiry (full pipeline, no write).
//!
//! Request bodies are built and hashed before the clock starts, so the figures measure the
//! exchange, not the client's XML building. Run with
//! `cargo bench -p renkei-emulator-sbps --bench throughput`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use support::*;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // Two worker threads: the target machine has two cores, shared by server and client.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

struct Load {
    client: reqwest::Client,
    authorization: String,
    concurrency: usize,
}

struct Measured {
    count: usize,
    ok: usize,
    elapsed: Duration,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }
}

impl Load {
    /// Sends every body once from `concurrency` tasks; counts replies that satisfy `is_ok`.
    async fn drive(
        &self,
        url: &str,
        bodies: Vec<Bytes>,
        is_ok: fn(u16, &[u8]) -> bool,
    ) -> Measured {
        let bodies = Arc::new(bodies);
        let next = Arc::new(AtomicUsize::new(0));
        let ok = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.concurrency {
            let (client, bodies, next, ok) = (
                self.client.clone(),
                Arc::clone(&bodies),
                Arc::clone(&next),
                Arc::clone(&ok),
            );
            let (url, authorization) = (url.to_owned(), self.authorization.clone());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let response = client
                        .post(&url)
                        .header("Authorization", &authorization)
                        .header("Content-Type", "text/xml")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("request failed");
                    let status = response.status().as_u16();
                    let reply = response.bytes().await.expect("reply body");
                    if is_ok(status, &reply) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Measured {
            count: bodies.len(),
            ok: ok.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
        }
    }
}

fn sbps_ok(status: u16, reply: &[u8]) -> bool {
    status == 200 && reply.windows(22).any(|w| w == b"<res_result>OK</res_re")
}

async fn run() {
    let payments = env_or("SBPS_BENCH_PAYMENTS", 20_000);
    let concurrency = env_or("SBPS_BENCH_CONCURRENCY", 64);
    let emulator = start().await;
    let load = Load {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()
            .expect("client"),
        authorization: format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{HASH_KEY}"))
        ),
        concurrency,
    };
    let url = emulator.endpoint_url();
    let body = |xml: String| Bytes::from(sjis(&xml));

    let auths: Vec<Bytes> = (0..payments)
        .map(|i| body(token_auth(&format!("bench-{i}"), 1000, "TOKEN-VISA").signed()))
        .collect();
    let authorized = load.drive(&url, auths, sbps_ok).await;
    assert_eq!(authorized.ok, payments, "every authorization must succeed");

    // Tracking ids of a fresh emulator run from 1.
    let tracking: Vec<String> = (1..=payments).map(|n| format!("{n:014}")).collect();
    let captures: Vec<Bytes> = tracking
        .iter()
        .map(|t| body(on_payment(SALES, t).signed()))
        .collect();
    let inquiries: Vec<Bytes> = tracking
        .iter()
        .map(|t| body(inquiry(t, "2").signed()))
        .collect();
    let not_found: Vec<Bytes> = (0..payments).map(|_| Bytes::from_static(b"<x/>")).collect();

    let captured = load.drive(&url, captures, sbps_ok).await;
    assert_eq!(captured.ok, payments, "every capture must succeed");
    let sold = emulator
        .dump()
        .payments
        .iter()
        .filter(|p| p.captured_amount == 1000)
        .count();
    assert_eq!(sold, payments);

    let inquired = load.drive(&url, inquiries, sbps_ok).await;
    assert_eq!(inquired.ok, payments);
    let baseline_url = format!("{}/bench/not-found", emulator.base_url());
    let baseline = load
        .drive(&baseline_url, not_found, |status, _| status == 404)
        .await;
    assert_eq!(baseline.ok, payments);

    println!(
        "SBPS emulator throughput: loopback, 2 tokio workers shared by server and client, \
         {concurrency} concurrent keep-alive requests, {payments} requests per phase"
    );
    for (name, m) in [
        ("authorizations (ST01-00131-101)", &authorized),
        ("captures (ST02-00201-101)", &captured),
        ("inquiries (MG01-00101-101)", &inquired),
        ("baseline: HTTP 404", &baseline),
    ] {
        println!(
            "  {name:<34} {:>9.0} req/s  ({} in {:.2?})",
            m.per_second(),
            m.count,
            m.elapsed
        );
    }
    println!(
        "  captures / 404 baseline ratio      {:>9.2}\n  captures / inquiry ratio           {:>9.2}",
        captured.per_second() / baseline.per_second(),
        captured.per_second() / inquired.per_second()
    );
    emulator.shutdown().await;
}
