//! `renkei bench bulk`: bulk record payment (一括入金) through the whole host, timed.
//!
//! The real F-REGI plugin (cdylib) against the F-REGI emulator on loopback, in this process, with
//! the journal on SQLite (durable commits: WAL, `synchronous = FULL`) and, when a URL is given,
//! on PostgreSQL. F-REGI's capture of an unchanged amount is one exchange (`sale.cgi`), so with
//! `L` of injected latency per reply the ideal wall time is `orders × L / concurrency`.
//!
//! Runs, each on fresh orders authorized through the shop first (setup, not timed), against an
//! emulator whose book is cleared before each run (every run has its own journal, so no run
//! needs another's transactions, and the gateway's book of one run is not carried into the next
//! run's memory figure):
//! 1. latency `L` per reply, SQLite: wall time / ideal (target ≤ 1.05; on PostgreSQL ≤ 1.10:
//!    issue 17, BENCHMARKS.md);
//! 2. no latency, SQLite: orders/s, against the emulator's raw capacity measured in the same
//!    process: the same captures sent straight to `sale.cgi` by `concurrency` reqwest tasks with
//!    no host and no journal (target ≥ 0.5);
//! 3. and 4. the same two bulk runs on PostgreSQL, in a fresh schema dropped afterwards;
//! 5. PostgreSQL's own commit rate at 16 clients (pgbench, else a built-in probe), and the host's
//!    PostgreSQL orders/s as a ratio of it;
//! 6. with `--hosts N` (N ≥ 2), N host processes on one PostgreSQL schema (`hosts.rs`): the
//!    same total of orders split between them, each host with its own emulator and plugin,
//!    timed from one start signal; per-host and aggregate orders/s next to run 4's figure.
//!
//! Memory: the bulk runs keep only failures and counts
//! (`Shop::bulk_record_payment_failures_only`), so what grows with the order count is the
//! emulator's book (a gateway's own records) and the order lists (the bench's and the bulk
//! run's positions). Peak RSS is the process's `VmHWM` (emulator, client and host together).
//! Before each run the bench hands free heap back to the kernel (`malloc_trim`) and resets
//! `VmHWM` to the current RSS (writing `5` to `/proc/self/clear_refs`), so each run's figure is
//! its own peak and its growth over the memory live at its start; after it, what dropping the
//! shop and order list releases is printed apart from what clearing the emulator's book
//! releases. The whole-process peak printed last is the largest peak seen across the resets.

mod hosts;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use futures_util::StreamExt as _;
use renkei_emulator_fregi::{Fault, FregiEmulator, Script};
use renkei_host::shop::{BulkOptions, Shop};
use renkei_host::{Executor, journal};
use renkei_lab::{FREGI_SHOP_ID as SHOP_ID, FregiSetup, Gateway, Linked, Plugins};
use renkei_sdk::{Money, OrderRef};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Bulk record payment of many authorized F-REGI orders through the host.
    Bulk(BulkArgs),
    /// One host process of `bench bulk --hosts N`, spoken to over stdin/stdout.
    #[command(hide = true)]
    BulkHost(hosts::HostArgs),
}

#[derive(Args)]
struct BulkArgs {
    /// Orders per run.
    #[arg(long, default_value_t = 10_000)]
    orders: usize,
    /// Orders captured at once (BulkOptions::concurrency) and raw client tasks.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Latency injected into every capture reply of the latency runs, in milliseconds.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    /// PostgreSQL URL for the PostgreSQL runs (a fresh schema is created and dropped); without
    /// it, `$RENKEI_TEST_POSTGRES_URL`; without both, the PostgreSQL runs are skipped.
    #[arg(long)]
    postgres: Option<String>,
    /// Pooled PostgreSQL connections (per host process with --hosts).
    #[arg(long, default_value_t = 16)]
    pg_connections: usize,
    /// Host processes sharing one PostgreSQL schema in an extra no-latency run after the
    /// PostgreSQL runs, splitting the orders between them (1: no such run).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    hosts: u16,
    /// Seconds of PostgreSQL's own commit-rate measurement after the PostgreSQL runs (0: skip).
    #[arg(long, default_value_t = 5)]
    pg_probe_seconds: u64,
    /// Directory to load the F-REGI plugin from (default: $RENKEI_PLUGIN_DIR, else the
    /// executable's directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match args.command {
        BenchCommand::Bulk(args) => runtime.block_on(bulk(args))?,
        BenchCommand::BulkHost(args) => runtime.block_on(hosts::host(args))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A size field of `/proc/self/status` (`VmHWM`, `VmRSS`), in MiB (Linux).
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident set size of this process since start or since the last [`Memory::run_start`].
fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM")
}

fn rss_text() -> String {
    peak_rss_mib().map_or_else(|| "n/a".into(), |m| format!("{m:.0} MiB"))
}

/// Hands the allocator's free pages back to the kernel, so that RSS at a run's start is the
/// memory still in use: without it a run reuses what the previous run freed and its growth
/// reads near zero whatever it needs.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of glibc's own heaps; it takes no
    // pointers and is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Per-run memory figures. `VmHWM` is one process-wide peak; resetting it before a run makes
/// it that run's peak, and the largest value read (before each reset, and each one printed) is
/// kept so the whole-process peak survives the resets.
struct Memory {
    /// The largest `VmHWM` read so far, in MiB.
    peak_seen: Mutex<f64>,
    /// Whether `/proc/self/clear_refs` took the reset (Linux ≥ 4.0, writable procfs).
    resets: bool,
}

impl Memory {
    fn new() -> Memory {
        let memory = Memory {
            peak_seen: Mutex::new(0.0),
            resets: false,
        };
        let resets = memory.reset_peak();
        Memory { resets, ..memory }
    }

    fn reset_peak(&self) -> bool {
        if let Some(hwm) = peak_rss_mib() {
            let mut peak = self.peak_seen.lock().unwrap_or_else(|e| e.into_inner());
            *peak = peak.max(hwm);
        }
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }

    /// Resets the peak to the current RSS; returns the current RSS, the run's baseline.
    fn run_start(&self) -> Option<f64> {
        if self.resets {
            // The peak so far is kept before the trim lowers RSS.
            self.reset_peak();
            release_free_memory();
            self.reset_peak();
        }
        status_mib("VmRSS")
    }

    /// `peak RSS X MiB; run +Y MiB, Z MiB per 1,000 orders` for a run that started at
    /// `baseline` and handled `orders` orders.
    fn run_text(&self, baseline: Option<f64>, orders: usize) -> String {
        let peak = peak_rss_mib();
        if let Some(p) = peak {
            // The kernel folds per-thread RSS counts in lazily, so a later read of the same
            // peak can come out a little lower: the process peak must not print below this.
            let mut seen = self.peak_seen.lock().unwrap_or_else(|e| e.into_inner());
            *seen = seen.max(p);
        }
        match (peak, baseline) {
            (Some(peak), Some(base)) if self.resets => {
                let grown = (peak - base).max(0.0);
                format!(
                    "peak RSS {peak:.0} MiB; run +{grown:.1} MiB, {:.2} MiB per 1,000 orders",
                    grown * 1000.0 / orders.max(1) as f64
                )
            }
            _ => format!("peak RSS {}", rss_text()),
        }
    }

    /// The whole process's peak: the largest `VmHWM` seen across the resets.
    fn process_peak_text(&self) -> String {
        let before = *self.peak_seen.lock().unwrap_or_else(|e| e.into_inner());
        match peak_rss_mib() {
            Some(now) => format!("{:.0} MiB", now.max(before)),
            None => "n/a".into(),
        }
    }
}

struct Bench {
    args: BulkArgs,
    fregi: Linked<FregiEmulator>,
    _plugins: Plugins,
    run: AtomicUsize,
    /// Prefix of every order ref (F-REGI's `ID`: letters, digits and `-`, up to 20), so that
    /// host processes sharing one journal capture disjoint orders.
    prefix: String,
    memory: Memory,
}

struct Timed {
    orders: usize,
    failed: usize,
    elapsed: Duration,
    first_failure: Option<String>,
}

impl Timed {
    fn per_second(&self) -> f64 {
        self.orders as f64 / self.elapsed.as_secs_f64()
    }
}

impl Bench {
    /// Loads the F-REGI plugin and starts its emulator (the plugin as against F-REGI itself: no
    /// inquiry, only `base_url` and `shop_id`).
    async fn start(args: BulkArgs, prefix: String) -> anyhow::Result<Bench> {
        let dir = match &args.dir {
            Some(dir) => dir.clone(),
            None => crate::default_plugin_dir()?,
        };
        let plugins = Plugins::load(&dir, &[Gateway::Fregi])
            .context("loading the plugins (build them with `cargo build --release`)")?;
        let fregi = Linked::fregi(&plugins, FregiSetup::without_batch(false)).await?;
        Ok(Bench {
            args,
            fregi,
            _plugins: plugins,
            run: AtomicUsize::new(0),
            prefix,
            memory: Memory::new(),
        })
    }

    /// Clears the emulator's book and resets the peak RSS before a run; the run's baseline RSS.
    fn run_start(&self) -> Option<f64> {
        self.fregi.emulator.reset();
        self.memory.run_start()
    }

    /// Where a finished run's memory sits, read by letting go of it: first the shop (executor,
    /// journal connections and caches) and the order list, then the emulator's book, each
    /// followed by a trim so the drop shows in RSS. The bench's own per-order memory (what
    /// the host side must keep small) is told apart from the gateway's, which a real gateway
    /// holds on its own machines.
    fn release(&self, shop: Arc<Shop>, orders: Vec<OrderRef>) -> String {
        let rss = || status_mib("VmRSS");
        let before = rss();
        drop((shop, orders));
        release_free_memory();
        let host_side = rss();
        self.fregi.emulator.reset();
        release_free_memory();
        let after = rss();
        match (before, host_side, after) {
            (Some(b), Some(h), Some(a)) => format!(
                "released at the run's end: {:.1} MiB by the shop, journal and order list, \
                 {:.1} MiB by the emulator's book",
                b - h,
                h - a
            ),
            _ => "released at the run's end: n/a".into(),
        }
    }

    /// A shop on `store` with `orders` fresh authorized orders (not timed).
    async fn shop(
        &self,
        store: Box<dyn journal::JournalStore>,
    ) -> anyhow::Result<(Arc<Shop>, Vec<OrderRef>)> {
        let run = self.run.fetch_add(1, Ordering::Relaxed);
        let executor = Executor::new(store.into(), Duration::from_secs(30));
        let shop = Arc::new(renkei_lab::shop(
            "bench",
            executor,
            [self.fregi.instance.clone()],
        ));
        let prefix = &self.prefix;
        let orders: Vec<OrderRef> = (0..self.args.orders)
            .map(|i| OrderRef::new(format!("{prefix}{run}{i:07}")))
            .collect();
        let t = Instant::now();
        let failed = futures_util::stream::iter(orders.iter().map(|order| {
            let shop = shop.clone();
            async move {
                shop.checkout(
                    order,
                    "fregi",
                    Money::jpy(1_000),
                    renkei_lab::source(Gateway::Fregi),
                    None,
                )
                .await
                .is_err()
            }
        }))
        .buffer_unordered(self.args.concurrency)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
        if failed > 0 {
            anyhow::bail!("setup: {failed} authorizations failed");
        }
        println!(
            "    setup: {} orders authorized through the shop in {:.1} s (not timed)",
            orders.len(),
            t.elapsed().as_secs_f64()
        );
        Ok((shop, orders))
    }

    /// The timed bulk record payment. Only failures are kept: the bench is about the host's
    /// cost per order, not about holding every order's result until the run ends.
    async fn bulk(&self, shop: &Shop, orders: &[OrderRef]) -> anyhow::Result<Timed> {
        let t = Instant::now();
        let report = shop
            .bulk_record_payment_failures_only(
                orders,
                BulkOptions {
                    concurrency: self.args.concurrency,
                },
                |_, _| {},
            )
            .await;
        let elapsed = t.elapsed();
        let first_failure = report.failure_lines().into_iter().next();
        if let Some(line) = &first_failure {
            println!("    first failure: {line}");
        }
        Ok(Timed {
            orders: orders.len(),
            failed: report.failed(),
            elapsed,
            first_failure,
        })
    }

    /// One latency run and one no-latency run on journals from `open`; `latency_target` is the
    /// wall / ideal the latency run is held to (issue 17: 1.05 on SQLite, 1.10 on PostgreSQL).
    async fn runs(
        &self,
        name: &str,
        latency_target: f64,
        open: impl Fn(&str) -> anyhow::Result<Box<dyn journal::JournalStore>>,
        raw: Option<f64>,
    ) -> anyhow::Result<f64> {
        let n = self.args.orders;
        let c = self.args.concurrency;
        let latency = self.args.latency_ms;
        println!("\n{name}, {latency} ms injected per capture reply, concurrency {c}:");
        let baseline = self.run_start();
        let (shop, orders) = self.shop(open("latency")?).await?;
        let fault = self
            .fregi
            .emulator
            .install_fault(Fault::latency(latency).on_script(Script::Sale).persistent());
        let timed = self.bulk(&shop, &orders).await?;
        self.fregi.emulator.remove_fault(fault);
        let ideal = n as f64 * latency as f64 / 1000.0 / c as f64;
        println!(
            "    bulk capture: {n} orders in {:.2} s ({} failed); ideal {n} × {latency} ms / {c} = {ideal:.2} s; wall / ideal = {:.3} (target ≤ {latency_target:.2}); {}",
            timed.elapsed.as_secs_f64(),
            timed.failed,
            timed.elapsed.as_secs_f64() / ideal,
            self.memory.run_text(baseline, n)
        );
        println!("    {}", self.release(shop, orders));

        println!("{name}, no injected latency, concurrency {c}:");
        let baseline = self.run_start();
        let (shop, orders) = self.shop(open("fast")?).await?;
        let timed = self.bulk(&shop, &orders).await?;
        print!(
            "    bulk capture: {n} orders in {:.2} s ({} failed): {:.0} orders/s",
            timed.elapsed.as_secs_f64(),
            timed.failed,
            timed.per_second()
        );
        match raw {
            Some(raw) => println!(
                "; emulator raw {raw:.0} captures/s; host / raw = {:.3} (target ≥ 0.5); {}",
                timed.per_second() / raw,
                self.memory.run_text(baseline, n)
            ),
            None => println!("; {}", self.memory.run_text(baseline, n)),
        }
        println!("    {}", self.release(shop, orders));
        Ok(timed.per_second())
    }

    /// The emulator's raw capacity: `sale.cgi` straight from reqwest, no host, no journal.
    async fn raw_capacity(&self) -> anyhow::Result<f64> {
        let n = self.args.orders;
        let c = self.args.concurrency;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(c)
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the raw client")?;
        let base = self.fregi.emulator.base_url();
        let send = |url: String, body: String| {
            let client = client.clone();
            async move {
                let reply = client
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await?;
                reply.text().await
            }
        };
        // Setup (not timed): n authorizations, straight to authm.cgi.
        // Each reply is `OK` / `AUTHCODE` / `SEQNO` (`docs/protocols/fregi.md` §4.1); the
        // capture sends both back, as the plugin does (the emulator refuses a sale without the
        // `AUTHCODE` of a transaction that has one, §4.2).
        let approvals: Vec<anyhow::Result<(String, String)>> =
            futures_util::stream::iter((0..n).map(|i| {
            send(
                format!("{base}authm.cgi"),
                format!(
                    "SHOPID={SHOP_ID}&ID=R{i:07}&PAY=1000&PAN1=4111&PAN2=1111&PAN3=1111&PAN4=1111\
                     &CARDEXPIRY1=12&CARDEXPIRY2=30&CARDNAME=BENCH"
                ),
            )
        }))
        .buffer_unordered(c)
        .map(|r| {
            let text = r.context("authm")?;
            let mut lines = text.lines();
            match (lines.next(), lines.next(), lines.next()) {
                (Some("OK"), Some(authcode), Some(seqno)) => {
                    Ok((authcode.to_owned(), seqno.to_owned()))
                }
                _ => Err(anyhow::anyhow!("authm: {text}")),
            }
        })
        .collect()
        .await;
        let approvals: Vec<(String, String)> = approvals.into_iter().collect::<Result<_, _>>()?;
        let t = Instant::now();
        let ok = futures_util::stream::iter(approvals.iter().map(|(authcode, seqno)| {
            send(
                format!("{base}sale.cgi"),
                format!("SHOPID={SHOP_ID}&AUTHCODE={authcode}&SEQNO={seqno}"),
            )
        }))
        .buffer_unordered(c)
        .filter(|r| std::future::ready(r.as_ref().is_ok_and(|t| t.starts_with("OK"))))
        .count()
        .await;
        let elapsed = t.elapsed();
        if ok != n {
            anyhow::bail!("raw captures: {ok} of {n} answered OK");
        }
        Ok(n as f64 / elapsed.as_secs_f64())
    }
}

async fn bulk(args: BulkArgs) -> anyhow::Result<()> {
    let postgres = args
        .postgres
        .clone()
        .or_else(|| std::env::var("RENKEI_TEST_POSTGRES_URL").ok());
    println!(
        "renkei bench bulk: F-REGI plugin (cdylib) → F-REGI emulator on loopback, in one process; \
         {} orders per run, concurrency {}, {} cores",
        args.orders,
        args.concurrency,
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    let bench = Bench::start(args, "B".into()).await?;
    if bench.memory.resets {
        println!(
            "memory: before each run the emulator's book is cleared, free heap returned \
             (malloc_trim) and VmHWM reset (5 → /proc/self/clear_refs); each run prints its \
             own peak and its growth over its start"
        );
    } else {
        println!("memory: VmHWM could not be reset; each peak RSS is the process's since start");
    }

    bench.run_start();
    let raw = bench.raw_capacity().await?;
    println!(
        "emulator raw capacity: {raw:.0} captures/s (sale.cgi from {} reqwest tasks, no host, no journal)",
        bench.args.concurrency
    );

    let tmp = std::env::temp_dir().join(format!("renkei-bench-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let sqlite = |name: &str| {
        let path = tmp.join(format!("{name}.db"));
        journal::sqlite::open(&path)
            .with_context(|| format!("opening the journal at {}", path.display()))
    };
    let result = bench
        .runs(
            "SQLite journal (WAL, synchronous = FULL)",
            1.05,
            sqlite,
            Some(raw),
        )
        .await;
    let _ = std::fs::remove_dir_all(&tmp);
    result?;

    match postgres {
        Some(url) => {
            let schema = format!("renkei_bench_bulk_{}", std::process::id());
            let connections = bench.args.pg_connections;
            let schemas = std::sync::Mutex::new(Vec::new());
            let open = |name: &str| {
                let s = format!("{schema}_{name}");
                schemas
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(s.clone());
                journal::postgres::open(&url, &s, connections)
                    .with_context(|| format!("opening the PostgreSQL journal in schema {s}"))
            };
            let mut result = bench
                .runs(
                    &format!("PostgreSQL journal ({connections} connections)"),
                    1.10,
                    &open,
                    Some(raw),
                )
                .await;
            if let Ok(host) = &result
                && bench.args.pg_probe_seconds > 0
            {
                let probe_url = url.clone();
                let seconds = bench.args.pg_probe_seconds;
                let probe =
                    std::thread::spawn(move || postgres_commit_rate(&probe_url, 16, seconds))
                        .join()
                        .map_err(|_| {
                            anyhow::anyhow!("the PostgreSQL commit-rate probe panicked")
                        })?;
                match probe {
                    Ok((rate, how)) => println!(
                        "PostgreSQL's own commit rate on this machine, {how}: {rate:.0} tx/s; \
                         host orders/s / PostgreSQL tx/s = {:.3} (target ≥ 1)",
                        host / rate
                    ),
                    Err(e) => println!("PostgreSQL commit-rate probe failed: {e:#}"),
                }
            }
            if let Ok(single) = result
                && bench.args.hosts > 1
            {
                // The schema is created (and migrated) here, once, so that the hosts start on
                // the same journal and the schema is dropped with the others whatever happens.
                drop(open("hosts")?);
                result = hosts::run(&bench, &url, &format!("{schema}_hosts"), single)
                    .await
                    .map(|()| single);
            }
            let schemas = schemas.into_inner().unwrap_or_else(|e| e.into_inner());
            let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
                let mut c = postgres::Client::connect(&url, postgres::NoTls)
                    .context("connecting to drop the bench schemas")?;
                for s in schemas {
                    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
                        .with_context(|| format!("dropping schema {s}"))?;
                }
                Ok(())
            })
            .join()
            .map_err(|_| anyhow::anyhow!("dropping the bench schemas panicked"))?;
            result?;
            dropped?;
        }
        None => println!(
            "\nPostgreSQL runs skipped: pass --postgres URL or set RENKEI_TEST_POSTGRES_URL"
        ),
    }
    println!(
        "\npeak RSS of the whole process: {}",
        bench.memory.process_peak_text()
    );
    bench.fregi.emulator.clear_faults();
    Ok(())
}

/// How many write transactions per second PostgreSQL itself commits here at `clients`
/// connections: the yardstick for the host's PostgreSQL runs, measured in the same run so the
/// ratio does not depend on the machine. `pgbench`'s TPC-B-like script when it is installed
/// (initialized in a scratch schema through `PGOPTIONS`, so the database is left as it was);
/// otherwise a built-in probe of the same shape: per transaction, one account's balance updated
/// and one history row inserted, committed durably.
fn postgres_commit_rate(url: &str, clients: usize, seconds: u64) -> anyhow::Result<(f64, String)> {
    let schema = format!("renkei_bench_probe_{}", std::process::id());
    let mut admin =
        postgres::Client::connect(url, postgres::NoTls).context("connecting for the probe")?;
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .context("creating the probe's schema")?;
    let measured = pgbench(url, &schema, clients, seconds)
        .map(|rate| {
            (
                rate,
                format!("pgbench TPC-B at {clients} clients, {seconds} s"),
            )
        })
        .or_else(|_| {
            builtin_probe(url, &schema, clients, seconds).map(|rate| {
                (
                    rate,
                    format!(
                        "built-in probe (update + insert per transaction) at {clients} \
                         connections, {seconds} s; pgbench not available"
                    ),
                )
            })
        });
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .context("dropping the probe's schema")?;
    measured
}

/// `pgbench -i` then `pgbench -c N -T S`, both with the scratch schema first on the search path.
fn pgbench(url: &str, schema: &str, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let options = format!("-c search_path={schema}");
    let run = |args: &[&str]| -> anyhow::Result<String> {
        let out = std::process::Command::new("pgbench")
            .args(args)
            .arg(url)
            .env("PGOPTIONS", &options)
            .output()
            .context("running pgbench")?;
        anyhow::ensure!(out.status.success(), "pgbench exited with {}", out.status);
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    run(&["-i", "-q", "-s", "1"])?;
    let (c, t) = (clients.to_string(), seconds.to_string());
    let report = run(&["-n", "-c", &c, "-j", "2", "-T", &t])?;
    report
        .lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("tps = ")?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .context("pgbench printed no tps line")
}

/// The built-in stand-in for pgbench: `clients` connections committing small write
/// transactions for `seconds`.
fn builtin_probe(url: &str, schema: &str, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let mut setup = postgres::Client::connect(url, postgres::NoTls)?;
    setup.batch_execute(&format!(
        "SET search_path TO {schema};
         CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL);
         INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 100000) g;
         CREATE TABLE history (id INT NOT NULL, delta INT NOT NULL);"
    ))?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|w| {
            let (url, schema) = (url.to_owned(), schema.to_owned());
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let mut c = postgres::Client::connect(&url, postgres::NoTls)?;
                c.batch_execute(&format!("SET search_path TO {schema}"))?;
                let update =
                    c.prepare("UPDATE accounts SET balance = balance + 1 WHERE id = $1")?;
                let insert = c.prepare("INSERT INTO history (id, delta) VALUES ($1, 1)")?;
                let mut done = 0u64;
                let mut id = w as i32;
                while Instant::now() < deadline {
                    id = (id.wrapping_mul(7919).wrapping_add(13)).rem_euclid(100_000) + 1;
                    let mut tx = c.transaction()?;
                    tx.execute(&update, &[&id])?;
                    tx.execute(&insert, &[&id])?;
                    tx.commit()?;
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w
            .join()
            .map_err(|_| anyhow::anyhow!("a probe connection panicked"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
