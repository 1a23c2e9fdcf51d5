//! `renkei simulate`: the seeded simulation (see the `renkei-sim` crate).

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_sim::{Gw, JournalChoice, Report, SimConfig, Weights};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

#[derive(Args)]
pub struct SimulateArgs {
    /// The seed; the same seed makes the same choices. Without it one is picked and printed.
    #[arg(long)]
    seed: Option<u64>,
    /// Steps to run before the end-of-day settlement.
    #[arg(long, default_value_t = 400)]
    steps: u64,
    /// Orders the run may create.
    #[arg(long, default_value_t = 40)]
    orders: usize,
    /// Gateways to drive, comma-separated.
    #[arg(long, default_value = "sbps,fregi,gmopg")]
    gateways: String,
    /// `sqlite` (a new file in a temporary directory) or `postgres URL` (a new schema).
    #[arg(long, num_args = 1..=2, value_names = ["KIND", "URL"], default_values = ["sqlite"])]
    journal: Vec<String>,
    /// Several seeds: SEED, SEED+1, … (a soak).
    #[arg(long, default_value_t = 1)]
    runs: u64,
    /// How many of those seeds run at once (each with its own emulators and journal; the
    /// steps mostly wait on the host's deadlines, so this is how a soak fits in an hour).
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Weights of the kinds of step, as name=value pairs (`fault=30,crash=5`); the rest keep
    /// their defaults (see `renkei_sim::Weights`).
    #[arg(long)]
    weights: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Directory with the plugin libraries (default: next to this executable).
    #[arg(long)]
    dir: Option<PathBuf>,
}

static BAR: OnceLock<ProgressBar> = OnceLock::new();

fn progress(step: u64, total: u64) {
    if let Some(bar) = BAR.get() {
        bar.set_length(total);
        bar.set_position(step);
    }
}

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let gateways = args
        .gateways
        .split(',')
        .map(|g| {
            Gw::parse(g).with_context(|| format!("unknown gateway {g:?} (sbps, fregi, gmopg)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let journal = match args.journal.as_slice() {
        [k] if k == "sqlite" => JournalChoice::Sqlite(std::env::temp_dir().join("renkei-sim")),
        [k, url] if k == "postgres" => JournalChoice::Postgres(url.clone()),
        other => {
            anyhow::bail!("--journal takes `sqlite` or `postgres URL`, not {other:?}");
        }
    };
    let plugin_dir = match args.dir {
        Some(d) => d,
        None => crate::default_plugin_dir()?,
    };
    let first = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000_007)
            .unwrap_or(1)
    });
    if !renkei_sim::logs::watching() {
        eprintln!("renkei simulate: log lines cannot be watched for secrets in this process");
    }
    let mut weights = Weights::default();
    if let Some(spec) = &args.weights {
        weights
            .parse_overrides(spec)
            .map_err(anyhow::Error::msg)
            .context("--weights")?;
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let config = |seed| SimConfig {
        seed,
        steps: args.steps,
        orders: args.orders,
        gateways: gateways.clone(),
        journal: journal.clone(),
        plugin_dir: plugin_dir.clone(),
        weights: weights.clone(),
        defects: renkei_sim::Defects::NONE,
        progress: None,
        weights_spec: args.weights.clone(),
    };
    if args.parallel > 1 {
        let reports = runtime.block_on(soak(first, args.runs, args.parallel, config))?;
        return finish(&reports, args.json, true);
    }
    let mut reports = Vec::new();
    for seed in first..first + args.runs {
        eprintln!(
            "seed {seed}: {} steps, {} orders, {}, journal {}",
            args.steps,
            args.orders,
            args.gateways,
            journal.name()
        );
        if std::io::stderr().is_terminal() && !args.json {
            let bar = BAR.get_or_init(|| {
                let b = ProgressBar::new(args.steps);
                b.set_style(
                    ProgressStyle::with_template("{bar:40} {pos}/{len} steps {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b
            });
            bar.reset();
        }
        let config = SimConfig {
            progress: Some(progress),
            ..config(seed)
        };
        let report = runtime
            .block_on(renkei_sim::simulate(config))
            .with_context(|| format!("simulating seed {seed}"))?;
        if let Some(bar) = BAR.get() {
            bar.finish_and_clear();
        }
        let failed = report.violation.is_some();
        if !args.json {
            print!("{}", summary(&report));
        }
        reports.push(report);
        if failed {
            break;
        }
    }
    finish(&reports, args.json, false)
}

/// Runs `runs` seeds from `first`, `parallel` at a time, printing a line per finished seed.
async fn soak(
    first: u64,
    runs: u64,
    parallel: usize,
    config: impl Fn(u64) -> SimConfig,
) -> anyhow::Result<Vec<Report>> {
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut set = tokio::task::JoinSet::new();
    for seed in first..first + runs {
        let permit = permits.clone();
        let c = config(seed);
        set.spawn(async move {
            let _held = permit.acquire_owned().await;
            renkei_sim::simulate(c).await
        });
    }
    let mut reports = Vec::new();
    while let Some(done) = set.join_next().await {
        let report = done.context("a simulation task failed")??;
        eprintln!(
            "seed {}: {} steps, {} crashes, {} faults, {} checks: {}",
            report.seed,
            report.steps,
            report.crashes,
            report.faults.values().sum::<u64>(),
            report.checks,
            report
                .violation
                .as_ref()
                .map_or("ok".to_owned(), |v| format!("VIOLATION of {}", v.invariant))
        );
        reports.push(report);
    }
    reports.sort_by_key(|r| r.seed);
    Ok(reports)
}

fn finish(reports: &[Report], json: bool, soaked: bool) -> anyhow::Result<ExitCode> {
    if json {
        let doc = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(reports)
        };
        println!("{}", doc.context("writing the reports as JSON")?);
    } else if soaked {
        for r in reports.iter().filter(|r| r.violation.is_some()) {
            print!("{}", summary(r));
        }
        print!("{}", totals(reports));
    }
    Ok(if reports.iter().any(|r| r.violation.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The soak's totals over every seed.
fn totals(reports: &[Report]) -> String {
    let sum = |f: &dyn Fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    let mut out = String::from("soak totals\n");
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<34} {v}\n"));
    line("seeds", reports.len().to_string());
    line("steps", sum(&|r| r.steps).to_string());
    line(
        "shop actions",
        sum(&|r| r.actions.values().sum()).to_string(),
    );
    line(
        "gateway operations",
        sum(&|r| r.operations.values().sum()).to_string(),
    );
    line(
        "faults injected",
        sum(&|r| r.faults.values().sum()).to_string(),
    );
    line(
        "gateway-tool actions",
        sum(&|r| r.gateway_tool.values().sum()).to_string(),
    );
    line("crashes", sum(&|r| r.crashes).to_string());
    line(
        "reviews opened / resolved",
        format!(
            "{} / {}",
            sum(&|r| r.reviews_opened),
            sum(&|r| r.reviews_resolved)
        ),
    );
    line(
        "drift events / closed",
        format!(
            "{} / {}",
            sum(&|r| r.drift_events),
            sum(&|r| r.drift_closed)
        ),
    );
    line("invariant checks", sum(&|r| r.checks).to_string());
    line(
        "violations",
        reports
            .iter()
            .filter(|r| r.violation.is_some())
            .count()
            .to_string(),
    );
    out
}

/// The summary table a run ends with.
pub fn summary(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<34} {v}\n"));
    line("seed", r.seed.to_string());
    line("journal", r.journal.clone());
    line("steps", r.steps.to_string());
    line("crashes (host restarted, recovered)", r.crashes.to_string());
    line(
        "reviews opened / resolved",
        format!("{} / {}", r.reviews_opened, r.reviews_resolved),
    );
    line(
        "drift events / closed",
        format!("{} / {}", r.drift_events, r.drift_closed),
    );
    line("invariant checks run", r.checks.to_string());
    let mut table = |title: &str, m: &std::collections::BTreeMap<String, u64>| {
        let total: u64 = m.values().sum();
        line(title, total.to_string());
        for (k, v) in m {
            line(&format!("    {k}"), v.to_string());
        }
    };
    table("shop actions", &r.actions);
    table("gateway operations (journal)", &r.operations);
    table("faults injected", &r.faults);
    table("gateway-tool actions", &r.gateway_tool);
    match &r.violation {
        None => out.push_str("  result: no invariant violated\n"),
        Some(v) => out.push_str(&format!("{v}\n")),
    }
    out
}
