//! `renkei demo`: one day of a shop on SBPS, F-REGI and GMO-PG, end to end, on this machine.
//!
//! Starts the three emulators on loopback, loads the SBPS, F-REGI and GMO-PG plugins as cdylibs (from the
//! executable's directory, as `renkei plugins` does), opens a SQLite journal in a temporary
//! directory, and plays the operator's day through the shop actions API (`renkei_host::shop`),
//! the way a shop server would. Every step states what it expects; at the end the journal's
//! totals are checked against the emulators' own books, and any surprise makes the command
//! exit non-zero, so the demo doubles as an end-to-end check.
//!
//! F-REGI runs as the real gateway behaves: without the emulator-only inquiry extension
//! (`inquiry_url`). So the host cannot ask F-REGI what happened, and the operator's side shows:
//! a capture whose reply is lost (08) goes to the review queue, and the operator decides it
//! (`Shop::decide`) from F-REGI's admin screen; at 18:00 reconcile inquires SBPS only, and the
//! operator compares F-REGI's admin screen with the shop order by order, reporting what differs
//! as drift events (`Shop::report_drift`), then adopts one of them (`Shop::adopt_drift`: the
//! refund of 07 made in F-REGI's tool). The emulator's own state stands in for that screen:
//! every value the operator "reads" comes from it. The closing tables accept a difference
//! between journal and gateway only on an order with an open drift event.
//!
//! The command is split by what each part holds: [`setup`] (emulators started, plugins loaded,
//! instances configured, journal opened, through `renkei-lab`, which the bench, the shop
//! server's demo mode and the simulator share), [`day`] (the operator's scripted actions),
//! [`books`] (reading the gateways' books and the journal) and [`table`] (printing).

use anyhow::Context as _;
use clap::Args;
use renkei_emulator_fregi::FregiEmulator;
use renkei_emulator_gmopg::GmopgEmulator;
use renkei_emulator_sbps::SbpsEmulator;
use renkei_host::journal;
use renkei_host::shop::{ActionResult, Shop, ShopError};
use renkei_lab::{FREGI_SHOP_ID as FREGI_SHOP, Gateway as Gw};
use renkei_sdk::{CustomerRef, OrderRef, PaymentState};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Orders in the morning's bulk run, per gateway (200 in all).
const BULK_PER_GATEWAY: usize = 100;
/// Orders captured at once in the bulk run.
const BULK_CONCURRENCY: usize = 16;
/// Who decides the reviews and reports what F-REGI's admin screen shows (journaled by name).
const OPERATOR: &str = "operator-sato";

#[derive(Args)]
pub struct DemoArgs {
    /// Directory to load the plugins from (default: $RENKEI_PLUGIN_DIR, else the executable's
    /// directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the SQLite journal after the run (its path is printed) instead of deleting it.
    #[arg(long)]
    keep_journal: bool,
}

/// Prints a line on stdout; a closed pipe is ignored (the checks still decide the exit code).
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}

mod books;
mod day;
mod setup;
mod table;

use table::{op_text, status_text};

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => crate::default_plugin_dir()?,
    };
    let journal_dir = std::env::temp_dir().join(format!("renkei-demo-{}", std::process::id()));
    // A fresh journal: a leftover of an earlier run with the same process id would hold its orders.
    let _ = std::fs::remove_dir_all(&journal_dir);
    std::fs::create_dir_all(&journal_dir)
        .with_context(|| format!("cannot create {}", journal_dir.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let started = Instant::now();
    let result = runtime.block_on(play(&dir, &journal_dir));
    drop(runtime);
    if args.keep_journal {
        say!("journal kept: {}", journal_dir.join("journal.db").display());
    } else {
        let _ = std::fs::remove_dir_all(&journal_dir);
    }
    let problems = result?;
    say!("");
    if problems.is_empty() {
        say!(
            "demo finished in {:.1} s: every expectation held; the journal matches every gateway's book but for the open drift events",
            started.elapsed().as_secs_f64()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        say!(
            "demo FAILED: {} expectation(s) did not hold:",
            problems.len()
        );
        for p in &problems {
            say!("  - {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// The demo's order codes and customers on each gateway.
trait DemoOrders {
    /// The day's single orders. Order codes: 12 digits, as the manuals show them.
    fn named(self, n: u32) -> OrderRef;
    /// The morning's bulk orders.
    fn bulk(self, n: usize) -> OrderRef;
    /// SBPS keys a payment to a customer; F-REGI's and GMO-PG's card payments take none.
    fn customer(self, order: &OrderRef) -> Option<CustomerRef>;
}

impl DemoOrders for Gw {
    fn named(self, n: u32) -> OrderRef {
        match self {
            Gw::Sbps => OrderRef::new(format!("1000009200{n:02}")),
            Gw::Fregi => OrderRef::new(format!("1000009300{n:02}")),
            Gw::Gmopg => OrderRef::new(format!("1000009500{n:02}")),
        }
    }

    fn bulk(self, n: usize) -> OrderRef {
        match self {
            Gw::Sbps => OrderRef::new(format!("10000081{n:04}")),
            Gw::Fregi => OrderRef::new(format!("10000082{n:04}")),
            Gw::Gmopg => OrderRef::new(format!("10000083{n:04}")),
        }
    }

    fn customer(self, order: &OrderRef) -> Option<CustomerRef> {
        match self {
            Gw::Sbps => Some(CustomerRef::new(format!("cust-{order}"))),
            Gw::Fregi | Gw::Gmopg => None,
        }
    }
}

/// What the final table shows for one order.
#[derive(Default)]
struct Row {
    actions: Vec<String>,
    ops: Vec<String>,
}

struct Day {
    shop: Arc<Shop>,
    /// The shop's journal, read back to show what a decision left in it.
    journal: Arc<dyn journal::JournalStore>,
    sbps: SbpsEmulator,
    fregi: FregiEmulator,
    gmopg: GmopgEmulator,
    rows: BTreeMap<(Gw, OrderRef), Row>,
    problems: Vec<String>,
}

async fn play(dir: &Path, journal_dir: &Path) -> anyhow::Result<Vec<String>> {
    say!("Renkei demo: one day of a shop on SBPS, F-REGI and GMO-PG, through the real plugins");
    say!("");

    let setup::Setup {
        shop,
        journal,
        sbps,
        fregi,
        gmopg,
    } = setup::start(dir, journal_dir).await?;
    let mut day = Day {
        shop,
        journal,
        sbps,
        fregi,
        gmopg,
        rows: BTreeMap::new(),
        problems: Vec::new(),
    };
    day.morning_bulk().await?;
    for gw in Gw::ALL {
        day.named_orders(gw).await?;
    }
    let drift = day.reconcile().await?;
    day.compare_fregi_screen().await?;
    // What an operator sees at the end of the day: every drift event still open in the journal
    // (reconcile's, the bulk run's "already done", what the operator reported).
    say!("");
    let kept = day.open_drifts("18:10").await?;
    let found: BTreeSet<String> = kept.iter().map(|d| d.order.to_string()).collect();
    let expected: BTreeSet<String> = [
        Gw::Sbps.named(7),
        Gw::Gmopg.named(7),
        Gw::Fregi.named(7),
        Gw::Fregi.bulk(7),
        Gw::Fregi.bulk(13),
    ]
    .iter()
    .map(|o| o.to_string())
    .collect();
    day.check(
        found == expected,
        format!("the open drift events should be on {expected:?}, are on {found:?}"),
    );
    day.adopt_fregi_refund(&kept).await?;
    let kept = day
        .shop
        .drifts(true)
        .await
        .context("listing the open drift events")?;
    let found: BTreeSet<String> = kept.iter().map(|d| d.order.to_string()).collect();
    let expected: BTreeSet<String> = [
        Gw::Sbps.named(7),
        Gw::Gmopg.named(7),
        Gw::Fregi.bulk(7),
        Gw::Fregi.bulk(13),
    ]
    .iter()
    .map(|o| o.to_string())
    .collect();
    day.check(
        found == expected,
        format!(
            "after the adoption, the open drift events should be on {expected:?}, are on {found:?}"
        ),
    );
    for gw in Gw::ALL {
        day.table(gw, &drift, &kept).await?;
    }
    let Day {
        sbps,
        fregi,
        gmopg,
        problems,
        ..
    } = day;
    sbps.shutdown().await;
    fregi.shutdown().await;
    gmopg.shutdown().await;
    Ok(problems)
}

impl Day {
    fn check(&mut self, ok: bool, what: impl Into<String>) -> bool {
        if !ok {
            let what = what.into();
            say!("  ✗ UNEXPECTED: {what}");
            self.problems.push(what);
        }
        ok
    }

    /// Runs one shop action, prints it, and records it for the final table.
    fn act(
        &mut self,
        gw: Gw,
        order: &OrderRef,
        action: &str,
        result: Result<ActionResult, ShopError>,
    ) -> Result<ActionResult, ShopError> {
        let row = self.rows.entry((gw, order.clone())).or_default();
        row.actions.push(action.to_owned());
        match &result {
            Ok(r) => {
                let ops: Vec<String> = r.operations.iter().map(op_text).collect();
                row.ops.extend(ops.iter().cloned());
                let sent = if ops.is_empty() {
                    "nothing sent".to_owned()
                } else {
                    ops.join(", ")
                };
                say!(
                    "  {order}  {action:<26} {sent}  → {}",
                    status_text(r.gateway_label.as_deref(), r.state.as_ref())
                );
                for w in &r.warnings {
                    say!("  {:12}  ⚠ {w}", "");
                }
            }
            Err(ShopError::NeedsReview { operation, .. }) => {
                row.ops.push(format!(
                    "outcome unknown → review (operation {})",
                    operation.0
                ));
                say!(
                    "  {order}  {action:<26} sent, outcome unknown  → held for an operator's review"
                );
            }
            Err(e) => {
                row.ops.push("refused, nothing sent".into());
                say!("  {order}  {action:<26} refused: {e}");
            }
        }
        result
    }

    async fn payment_of(&self, order: &OrderRef) -> anyhow::Result<journal::OrderRecord> {
        self.shop
            .payment(order)
            .await
            .with_context(|| format!("reading the payment of {order}"))?
            .with_context(|| format!("order {order} has no payment in the journal"))
    }

    fn expect_state(
        &mut self,
        order: &OrderRef,
        result: Option<&ActionResult>,
        ok: impl Fn(&PaymentState) -> bool,
        what: &str,
    ) {
        let state = result.and_then(|r| r.state.clone());
        self.check(
            state.as_ref().is_some_and(ok),
            format!("{order} should be {what}, is {state:?}"),
        );
    }
}
