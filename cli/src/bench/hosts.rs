//! `renkei bench bulk --hosts N`: N host processes bulk-capturing on one PostgreSQL journal.
//!
//! Each host is this binary's hidden `bench bulk-host`, as a separate shop server would be:
//! its own F-REGI emulator and plugin, its own shop and executor on the shared schema, its own
//! orders (order refs prefixed `H<k>-`, so the hosts never contend for one order, only for the
//! journal). It speaks one line at a time on stdin/stdout: once its orders are authorized
//! (setup, not timed) it prints `ready`, waits for `go` so that every host's timed phase starts
//! together, runs the no-latency bulk capture and prints its result as one JSON object. Other
//! lines it prints are shown, prefixed with the host. The PostgreSQL URL travels in the
//! environment rather than on the command line, so a password in it does not show in `ps`.

use super::{Bench, BulkArgs, Timed};
use anyhow::Context as _;
use renkei_host::journal;
use serde::{Deserialize, Serialize};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

const URL_ENV: &str = "RENKEI_BENCH_POSTGRES_URL";

#[derive(clap::Args)]
pub(super) struct HostArgs {
    /// This host's orders.
    #[arg(long)]
    orders: usize,
    #[arg(long)]
    concurrency: usize,
    /// The shared journal's schema (already migrated by the parent).
    #[arg(long)]
    schema: String,
    #[arg(long)]
    pg_connections: usize,
    /// Prefix of this host's order refs.
    #[arg(long)]
    prefix: String,
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// A host's one JSON line after its timed phase.
#[derive(Serialize, Deserialize)]
struct HostResult {
    orders: usize,
    failed: usize,
    elapsed_s: f64,
    /// The host process's `VmHWM` at the end (emulator, host and its orders).
    peak_rss_mib: Option<f64>,
    first_failure: Option<String>,
}

/// The child side: `renkei bench bulk-host`.
pub(super) async fn host(args: HostArgs) -> anyhow::Result<()> {
    let url = std::env::var(URL_ENV).with_context(|| {
        format!("{URL_ENV} is not set (this subcommand is run by `bench bulk`)")
    })?;
    let bench = Bench::start(
        BulkArgs {
            orders: args.orders,
            concurrency: args.concurrency,
            latency_ms: 0,
            postgres: None,
            pg_connections: args.pg_connections,
            hosts: 1,
            pg_probe_seconds: 0,
            dir: args.dir,
        },
        args.prefix,
    )
    .await?;
    let store = journal::postgres::open(&url, &args.schema, args.pg_connections)
        .with_context(|| format!("opening the PostgreSQL journal in schema {}", args.schema))?;
    let (shop, orders) = bench.shop(store).await?;
    println!("ready");
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .context("waiting for `go`")?
    .context("reading stdin")?;
    anyhow::ensure!(line.trim() == "go", "expected `go` on stdin, got {line:?}");
    let Timed {
        orders: n,
        failed,
        elapsed,
        first_failure,
    } = bench.bulk(&shop, &orders).await?;
    let result = HostResult {
        orders: n,
        failed,
        elapsed_s: elapsed.as_secs_f64(),
        peak_rss_mib: super::peak_rss_mib(),
        first_failure,
    };
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

/// One host process, killed if it is still running when dropped (the bench failed elsewhere),
/// so that no host outlives the bench or holds the schema it is about to drop.
struct HostProc {
    k: usize,
    child: std::process::Child,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
}

impl HostProc {
    /// The next protocol line (`ready`, or a JSON object); other lines are shown.
    fn next_line(&mut self, wanted: &str) -> anyhow::Result<String> {
        loop {
            let mut line = String::new();
            let read = self.stdout.read_line(&mut line);
            match read {
                Ok(0) | Err(_) => {
                    return Err(self.failure(&format!("ended before it printed {wanted}")));
                }
                Ok(_) => {}
            }
            let line = line.trim();
            if line == "ready" || line.starts_with('{') {
                return Ok(line.to_owned());
            }
            println!("    host {}: {}", self.k, line.trim_start());
        }
    }

    /// Stops the host and returns `what` with everything it wrote to stderr.
    fn failure(&mut self, what: &str) -> anyhow::Error {
        let _ = self.child.kill();
        let status = self.child.wait();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
        anyhow::anyhow!(
            "host {} {what} ({status}); its stderr:\n{}",
            self.k,
            stderr.trim_end()
        )
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the parent hands each host.
struct Plan {
    exe: PathBuf,
    url: String,
    schema: String,
    dir: Option<PathBuf>,
    concurrency: usize,
    pg_connections: usize,
    /// Orders per host.
    orders: Vec<usize>,
}

/// The parent side: the hosts' run, after the single-process PostgreSQL runs. `single` is the
/// single-process no-latency PostgreSQL orders/s of the same bench run.
pub(super) async fn run(bench: &Bench, url: &str, schema: &str, single: f64) -> anyhow::Result<()> {
    let a = &bench.args;
    let hosts = usize::from(a.hosts);
    // The same total as the single-process runs, split as evenly as it goes.
    let orders: Vec<usize> = (0..hosts)
        .map(|k| a.orders / hosts + usize::from(k < a.orders % hosts))
        .collect();
    println!(
        "\nPostgreSQL journal, {hosts} host processes on one schema, each with its own emulator \
         ({} connections and concurrency {} each), no injected latency, {} orders split {}:",
        a.pg_connections,
        a.concurrency,
        a.orders,
        orders
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" + ")
    );
    let plan = Plan {
        exe: std::env::current_exe().context("locating this executable to start the hosts")?,
        url: url.to_owned(),
        schema: schema.to_owned(),
        dir: a.dir.clone(),
        concurrency: a.concurrency,
        pg_connections: a.pg_connections,
        orders,
    };
    let results = tokio::task::spawn_blocking(move || drive(&plan))
        .await
        .context("the hosts' driver panicked")??;

    let total: usize = results.iter().map(|r| r.orders).sum();
    let failed: usize = results.iter().map(|r| r.failed).sum();
    let longest = results.iter().map(|r| r.elapsed_s).fold(0.0, f64::max);
    for (k, r) in results.iter().enumerate() {
        println!(
            "    host {}: {} orders in {:.2} s ({} failed): {:.0} orders/s; peak RSS {}",
            k + 1,
            r.orders,
            r.elapsed_s,
            r.failed,
            r.orders as f64 / r.elapsed_s,
            r.peak_rss_mib
                .map_or_else(|| "n/a".into(), |m| format!("{m:.0} MiB"))
        );
        if let Some(line) = &r.first_failure {
            println!("    host {} first failure: {line}", k + 1);
        }
    }
    let aggregate = total as f64 / longest;
    println!(
        "    {hosts} hosts: {total} orders ({failed} failed), longest host {longest:.2} s: \
         {aggregate:.0} orders/s aggregate; single process, no latency, this run: {single:.0} \
         orders/s; aggregate / single = {:.2}",
        aggregate / single
    );
    anyhow::ensure!(
        failed == 0,
        "{failed} of {total} captures failed across the {hosts} hosts"
    );
    Ok(())
}

/// Starts the hosts, waits until all are ready, says `go` to all, collects their results.
fn drive(plan: &Plan) -> anyhow::Result<Vec<HostResult>> {
    let mut procs = Vec::new();
    for (k, &orders) in plan.orders.iter().enumerate() {
        let k = k + 1;
        let mut cmd = Command::new(&plan.exe);
        cmd.args(["bench", "bulk-host"])
            .args(["--orders", &orders.to_string()])
            .args(["--concurrency", &plan.concurrency.to_string()])
            .args(["--schema", &plan.schema])
            .args(["--pg-connections", &plan.pg_connections.to_string()])
            .args(["--prefix", &format!("H{k}-")])
            .env(URL_ENV, &plan.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &plan.dir {
            cmd.arg("--dir").arg(dir);
        }
        let mut child = cmd.spawn().with_context(|| format!("starting host {k}"))?;
        let stdout = BufReader::new(child.stdout.take().context("host stdout")?);
        let mut stderr = child.stderr.take().context("host stderr")?;
        // Read as it comes, so that a chatty host never blocks on a full pipe.
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        procs.push(HostProc {
            k,
            child,
            stdout,
            stderr: Some(stderr),
        });
    }
    for p in &mut procs {
        p.next_line("ready")?;
    }
    for p in &mut procs {
        let sent = p
            .child
            .stdin
            .take()
            .context("host stdin")
            .and_then(|mut stdin| Ok(stdin.write_all(b"go\n")?));
        if let Err(e) = sent {
            return Err(p.failure(&format!("could not be told to go: {e}")));
        }
    }
    let mut results = Vec::new();
    for p in &mut procs {
        let line = p.next_line("its result")?;
        let result: HostResult = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => return Err(p.failure(&format!("printed a bad result {line:?}: {e}"))),
        };
        match p.child.wait() {
            Ok(s) if s.success() => {}
            Ok(s) => return Err(p.failure(&format!("exited with {s}"))),
            Err(e) => return Err(p.failure(&format!("could not be waited for: {e}"))),
        }
        results.push(result);
    }
    Ok(results)
}
