//! `renkei demo`: one day of a shop on SBPS and F-REGI, end to end, on this machine.
//!
//! Starts both emulators on loopback, loads the SBPS and F-REGI plugins as cdylibs (from the
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

use clap::Args;
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_emulator_fregi::{
    Config as FregiConfig, Fault as FregiFault, FregiEmulator, Script, Status as FregiStatus,
    Transaction as FregiTransaction,
};
use renkei_emulator_sbps::{
    Config as SbpsConfig, Fault as SbpsFault, Function, PaymentStatus, SbpsEmulator,
    TEST_TOKEN_VISA,
};
use renkei_host::journal::{Decision, DriftRecord, StoredOutcome};
use renkei_host::shop::{
    ActionResult, BulkOptions, DriftEvent, GatewayOp, Shop, ShopError, StatusChange, Warning,
};
use renkei_host::{Executor, GatewayInstance, GatewaySection, PluginRegistry, Resolution, journal};
use renkei_sdk::{
    ConfigValue, CustomerRef, ErrorKind, Money, OperationKind, OrderRef, PaymentSource,
    PaymentState, Secret, TransactionRef,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The F-REGI emulator's shop (`SHOPID`).
const FREGI_SHOP: &str = "12345";
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

pub fn run(args: DemoArgs) -> Result<ExitCode, String> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => crate::default_plugin_dir()?,
    };
    let journal_dir = std::env::temp_dir().join(format!("renkei-demo-{}", std::process::id()));
    // A fresh journal: a leftover of an earlier run with the same process id would hold its orders.
    let _ = std::fs::remove_dir_all(&journal_dir);
    std::fs::create_dir_all(&journal_dir)
        .map_err(|e| format!("cannot create {}: {e}", journal_dir.display()))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
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
            "demo finished in {:.1} s: every expectation held; the journal matches both gateways' books but for the open drift events",
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Gw {
    Sbps,
    Fregi,
}

impl Gw {
    const BOTH: [Gw; 2] = [Gw::Sbps, Gw::Fregi];

    /// The gateway instance's name in the shop (and the plugin's gateway id).
    fn name(self) -> &'static str {
        match self {
            Gw::Sbps => "sbps",
            Gw::Fregi => "fregi",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Gw::Sbps => "SBPS",
            Gw::Fregi => "F-REGI",
        }
    }

    /// Order codes: 12 digits, as the manuals show them.
    fn named(self, n: u32) -> OrderRef {
        match self {
            Gw::Sbps => OrderRef::new(format!("1000009200{n:02}")),
            Gw::Fregi => OrderRef::new(format!("1000009300{n:02}")),
        }
    }

    fn bulk(self, n: usize) -> OrderRef {
        match self {
            Gw::Sbps => OrderRef::new(format!("10000081{n:04}")),
            Gw::Fregi => OrderRef::new(format!("10000082{n:04}")),
        }
    }

    /// The card token the shop's checkout page got from the gateway's tokenizer.
    fn source(self) -> PaymentSource {
        match self {
            Gw::Sbps => PaymentSource::Token {
                token: Secret::new(TEST_TOKEN_VISA),
                key: Some(Secret::new("token-key")),
            },
            Gw::Fregi => PaymentSource::Token {
                token: Secret::new("TESTTOKEN-OK"),
                key: None,
            },
        }
    }

    fn customer(self, order: &OrderRef) -> Option<CustomerRef> {
        match self {
            Gw::Sbps => Some(CustomerRef::new(format!("cust-{order}"))),
            Gw::Fregi => None,
        }
    }
}

/// What the final table shows for one order.
#[derive(Default)]
struct Row {
    actions: Vec<String>,
    ops: Vec<String>,
}

/// Money totals of one gateway, as the journal or the emulator sees them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    /// Authorizations still held (authorized, neither captured nor voided).
    authorized: i64,
    captured: i64,
    refunded: i64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.authorized += other.authorized;
        self.captured += other.captured;
        self.refunded += other.refunded;
    }
}

struct Day {
    shop: Arc<Shop>,
    /// The shop's journal, read back to show what a decision left in it.
    journal: Arc<dyn journal::JournalStore>,
    sbps: SbpsEmulator,
    fregi: FregiEmulator,
    rows: BTreeMap<(Gw, OrderRef), Row>,
    problems: Vec<String>,
}

async fn play(dir: &Path, journal_dir: &Path) -> Result<Vec<String>, String> {
    say!("Renkei demo: one day of a shop on SBPS and F-REGI, through the real plugins");
    say!("");

    // The plugins, as cdylibs.
    let mut registry = PluginRegistry::new();
    let report = registry
        .load_dir(dir)
        .map_err(|e| format!("{e} (build the plugins with `cargo build --release`)"))?;
    for gw in Gw::BOTH {
        let Some(p) = registry.get(gw.name()) else {
            let refused: Vec<String> = report.refused.iter().map(|e| e.to_string()).collect();
            return Err(format!(
                "no {} plugin in {} (build it with `cargo build --release`){}",
                gw.title(),
                dir.display(),
                if refused.is_empty() {
                    String::new()
                } else {
                    format!("; refused: {}", refused.join("; "))
                }
            ));
        };
        say!(
            "plugin    {:<7} {} {} (SDK {}) loaded from {}",
            gw.name(),
            p.manifest().display_name,
            p.manifest().plugin_version,
            p.manifest().sdk_version,
            p.path().display()
        );
    }

    // The emulators, on loopback.
    let sbps = SbpsEmulator::start(SbpsConfig::default())
        .await
        .map_err(|e| format!("SBPS emulator: {e}"))?;
    let fregi = FregiEmulator::start(FregiConfig {
        // The transmission batch would flip 売上済(未伝送) to 売上済(伝送済) if the demo ran at
        // 21:00; the day here is about the shop's actions.
        auto_batch_at: None,
        ..FregiConfig::default()
    })
    .await
    .map_err(|e| format!("F-REGI emulator: {e}"))?;
    say!("emulator  SBPS    {}", sbps.endpoint_url());
    say!("emulator  F-REGI  {}", fregi.base_url());

    // SBPS refuses a request once its `limit_second` has passed; the host inquires about a lost
    // reply only after that (plus a clock-skew margin). A short window keeps the demo's lost
    // reply to a few seconds' wait; production keeps the plugin's default.
    let mut sbps_values = sbps.plugin_config();
    sbps_values.extend([
        ("limit_second", "3".to_owned()),
        ("clock_skew_ms", "500".to_owned()),
    ]);
    // F-REGI has no public card-transaction inquiry; `inquiry_url` points the plugin at the
    // emulator's own extension, which the real gateway does not have. The demo runs F-REGI as
    // it really is: without that key, an unknown outcome goes to the review queue and
    // reconcile cannot ask, so the operator reads F-REGI's admin screen instead (08, 18:00).
    let mut fregi_values = fregi.plugin_config();
    fregi_values.retain(|(key, _)| *key != "inquiry_url");
    let instance =
        |name: &str, values: &[(&str, String)]| -> Result<Arc<GatewayInstance>, String> {
            let section = GatewaySection {
                plugin: name.into(),
                values: values
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), ConfigValue::Text(v.clone())))
                    .collect(),
            };
            registry
                .instantiate(name, &section)
                .map(Arc::new)
                .map_err(|e| format!("{name}: {e}"))
        };
    let sbps_gateway = instance("sbps", &sbps_values)?;
    let fregi_gateway = instance("fregi", &fregi_values)?;

    // The journal: SQLite, durable commits, in a temporary directory.
    let path = journal_dir.join("journal.db");
    let store = journal::sqlite::open(&path).map_err(|e| format!("journal: {e}"))?;
    say!("journal   SQLite  {}", path.display());
    let store: Arc<dyn journal::JournalStore> = store.into();
    let executor = Arc::new(Executor::new(store.clone(), Duration::from_secs(5)));
    let shop = Arc::new(
        Shop::new("demo-shop", executor)
            .with_gateway(sbps_gateway, true)
            .with_gateway(fregi_gateway, true),
    );
    shop.recover().await.map_err(|e| e.to_string())?;

    let mut day = Day {
        shop,
        journal: store,
        sbps,
        fregi,
        rows: BTreeMap::new(),
        problems: Vec::new(),
    };
    day.morning_bulk().await?;
    for gw in Gw::BOTH {
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
    let kept = day.shop.drifts(true).await.map_err(|e| e.to_string())?;
    let found: BTreeSet<String> = kept.iter().map(|d| d.order.to_string()).collect();
    let expected: BTreeSet<String> = [Gw::Sbps.named(7), Gw::Fregi.bulk(7), Gw::Fregi.bulk(13)]
        .iter()
        .map(|o| o.to_string())
        .collect();
    day.check(
        found == expected,
        format!(
            "after the adoption, the open drift events should be on {expected:?}, are on {found:?}"
        ),
    );
    for gw in Gw::BOTH {
        day.table(gw, &drift, &kept).await?;
    }
    let Day {
        sbps,
        fregi,
        problems,
        ..
    } = day;
    sbps.shutdown().await;
    fregi.shutdown().await;
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

    async fn payment_of(&self, order: &OrderRef) -> Result<journal::OrderRecord, String> {
        self.shop
            .payment(order)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("order {order} has no payment in the journal"))
    }

    /// 09:00-09:10: last night's orders, someone in F-REGI's admin screen, and the bulk run.
    async fn morning_bulk(&mut self) -> Result<(), String> {
        say!("");
        say!(
            "09:00  Last night's {} card orders were authorized at checkout ({BULK_PER_GATEWAY} per gateway)",
            2 * BULK_PER_GATEWAY
        );
        let t = Instant::now();
        let orders: Vec<(Gw, OrderRef, i64)> = Gw::BOTH
            .iter()
            .flat_map(|&gw| {
                (1..=BULK_PER_GATEWAY)
                    .map(move |n| (gw, gw.bulk(n), 1_000 + ((n as i64 * 373) % 90) * 100))
            })
            .collect();
        let shop = self.shop.clone();
        let results: Vec<(Gw, OrderRef, Result<ActionResult, ShopError>)> =
            futures_util::stream::iter(orders.into_iter().map(|(gw, order, amount)| {
                let shop = shop.clone();
                async move {
                    let r = shop
                        .checkout(
                            &order,
                            gw.name(),
                            Money::jpy(amount),
                            gw.source(),
                            gw.customer(&order),
                        )
                        .await;
                    (gw, order, r)
                }
            }))
            .buffer_unordered(BULK_CONCURRENCY)
            .collect()
            .await;
        let mut failed = 0;
        for (gw, order, r) in results {
            let row = self.rows.entry((gw, order.clone())).or_default();
            row.actions.push("checkout".into());
            match r {
                Ok(r) => row.ops.extend(r.operations.iter().map(op_text)),
                Err(e) => {
                    failed += 1;
                    self.check(false, format!("checkout of {order}: {e}"));
                }
            }
        }
        say!(
            "       {} authorized in {:.1} s",
            2 * BULK_PER_GATEWAY - failed,
            t.elapsed().as_secs_f64()
        );

        // Someone works in F-REGI's admin screen; the shop is not told (G-8).
        let sold = Gw::Fregi.bulk(7);
        let cancelled = Gw::Fregi.bulk(13);
        say!(
            "09:05  In F-REGI's own admin screen, a colleague captures {sold} and cancels {cancelled}"
        );
        say!("       (the shop is not told: its journal still has both authorized, G-8)");
        for (order, capture) in [(&sold, true), (&cancelled, false)] {
            let seqno = self
                .payment_of(order)
                .await?
                .transaction
                .ok_or("no SEQNO")?
                .to_string();
            let seqno = fregi_seqno(&seqno);
            let done = if capture {
                self.fregi.admin_sale(FREGI_SHOP, seqno)
            } else {
                self.fregi.admin_cancel(FREGI_SHOP, seqno)
            };
            self.check(
                done.is_ok(),
                format!("F-REGI admin action on {order}: {done:?}"),
            );
        }

        say!(
            "09:10  Bulk record payment (一括入金): every order on the unpaid list is ticked, {BULK_CONCURRENCY} at a time"
        );
        let unpaid: Vec<OrderRef> = self
            .shop
            .orders(true)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|o| o.order)
            .collect();
        self.check(
            unpaid.len() == 2 * BULK_PER_GATEWAY,
            format!(
                "the unpaid list has {} orders, expected {}",
                unpaid.len(),
                2 * BULK_PER_GATEWAY
            ),
        );
        let bar = ProgressBar::new(unpaid.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "       {bar:40.cyan/blue} {pos:>3}/{len} orders  {msg}  [{elapsed_precise}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        let t = Instant::now();
        let bar_in = bar.clone();
        let report = self
            .shop
            .bulk_record_payment(
                &unpaid,
                BulkOptions {
                    concurrency: BULK_CONCURRENCY,
                },
                move |_, p| {
                    bar_in.set_position(p.done as u64);
                    bar_in.set_message(format!("{} failed", p.failed));
                },
            )
            .await;
        bar.finish_and_clear();
        say!(
            "       {} captured, {} failed, in {:.1} s; failures as the manual shows them (G-3, F-10):",
            report.succeeded(),
            report.failed(),
            t.elapsed().as_secs_f64()
        );
        for line in report.failure_lines() {
            say!("         {line}");
        }
        for item in &report.items {
            let gw = if item.order.as_str().starts_with("10000081") {
                Gw::Sbps
            } else {
                Gw::Fregi
            };
            let row = self.rows.entry((gw, item.order.clone())).or_default();
            row.actions.push("bulk record payment".into());
            match &item.result {
                Ok(r) => row.ops.extend(r.operations.iter().map(op_text)),
                Err(e) => row.ops.push(format!("capture refused: {}", e.reason())),
            }
        }
        let failures: BTreeMap<String, String> = report
            .items
            .iter()
            .filter_map(|i| {
                i.result
                    .as_ref()
                    .err()
                    .map(|e| (i.order.to_string(), e.reason()))
            })
            .collect();
        let expected = [
            (
                sold.to_string(),
                "売上処理時の指定された取引は売上受付済みです",
            ),
            (
                cancelled.to_string(),
                "売上処理時の指定された取引は承認取消済みです",
            ),
        ];
        self.check(
            failures.len() == 2
                && expected
                    .iter()
                    .all(|(o, m)| failures.get(o).is_some_and(|r| r.contains(m))),
            format!("the bulk run should fail exactly {sold} (already captured) and {cancelled} (already cancelled) with F-REGI's messages; it failed {failures:?}"),
        );
        Ok(())
    }

    /// The day's single orders on one gateway.
    async fn named_orders(&mut self, gw: Gw) -> Result<(), String> {
        let shop = self.shop.clone();
        let g = gw.name();
        let checkout = |n: u32, amount: i64| {
            let shop = shop.clone();
            let order = gw.named(n);
            async move {
                shop.checkout(
                    &order,
                    g,
                    Money::jpy(amount),
                    gw.source(),
                    gw.customer(&order),
                )
                .await
            }
        };
        say!("");
        say!("10:00  {}: the day's orders", gw.title());

        // 01: a new card order, paid (G-2).
        let o = gw.named(1);
        self.act(gw, &o, "checkout ¥3,980", checkout(1, 3_980).await)
            .ok();
        let r = self.act(gw, &o, "record payment", shop.record_payment(&o).await);
        self.expect_state(
            &o,
            r.as_ref().ok(),
            |s| matches!(s, PaymentState::Captured { .. }),
            "captured (G-2)",
        );

        // 02: the amount changes before capture (S-1; F-2, F-4).
        let o = gw.named(2);
        self.act(gw, &o, "checkout ¥5,000", checkout(2, 5_000).await)
            .ok();
        let r = self.act(
            gw,
            &o,
            "change amount → ¥5,800",
            shop.change_amount(&o, Money::jpy(5_800)).await,
        );
        let held = r.as_ref().is_ok_and(|r| {
            r.operations.is_empty()
                && r.warnings
                    .iter()
                    .any(|w| matches!(w, Warning::AmountHeldUntilCapture { .. }))
        });
        self.check(
            held,
            format!("{o}: the new amount should be held until capture (F-4, S-1)"),
        );
        let r = self.act(gw, &o, "record payment", shop.record_payment(&o).await);
        let p = self.payment_of(&o).await?;
        self.check(
            p.captured == Money::jpy(5_800),
            format!(
                "{o}: captured {} instead of the new amount 5,800 (S-1, F-2)",
                p.captured
            ),
        );
        if gw == Gw::Fregi {
            let steps: Vec<String> = r
                .as_ref()
                .map(|r| {
                    r.operations
                        .iter()
                        .flat_map(|op| op.steps.clone())
                        .collect()
                })
                .unwrap_or_default();
            self.check(
                steps.iter().any(|s| s == "authchange") && steps.iter().any(|s| s == "sale"),
                format!("{o}: F-REGI should change the authorization, then capture (F-2); sent {steps:?}"),
            );
        }

        // 03: returned after capture: refund (G-4, S-4, F-6).
        let o = gw.named(3);
        self.act(gw, &o, "checkout ¥2,500", checkout(3, 2_500).await)
            .ok();
        self.act(gw, &o, "record payment", shop.record_payment(&o).await)
            .ok();
        let r = self.act(
            gw,
            &o,
            "return ☑ cancel at gateway",
            shop.change_status(&o, StatusChange::Return, true).await,
        );
        self.expect_state(
            &o,
            r.as_ref().ok(),
            |s| matches!(s, PaymentState::Refunded { .. }),
            "refunded (G-4)",
        );

        // 04: cancelled before capture: void (G-4, F-6).
        let o = gw.named(4);
        self.act(gw, &o, "checkout ¥1,200", checkout(4, 1_200).await)
            .ok();
        let r = self.act(
            gw,
            &o,
            "cancel ☑ cancel at gateway",
            shop.change_status(&o, StatusChange::Cancel, true).await,
        );
        self.expect_state(
            &o,
            r.as_ref().ok(),
            |s| *s == PaymentState::Voided,
            "voided (G-4)",
        );

        // 05: a pre-order released into normal processing (G-9).
        let o = gw.named(5);
        self.act(
            gw,
            &o,
            "pre-order ¥8,800",
            shop.register_pre_order(&o, g, Money::jpy(8_800)).await,
        )
        .ok();
        let r = self.act(
            gw,
            &o,
            "release pre-order",
            shop.release_pre_order(&o, gw.source(), gw.customer(&o))
                .await,
        );
        self.expect_state(
            &o,
            r.as_ref().ok(),
            |s| *s == PaymentState::Authorized,
            "authorized (G-9)",
        );

        // 06: a payment date cancelled after capture: the gateway stays captured (G-6).
        let o = gw.named(6);
        self.act(gw, &o, "checkout ¥4,400", checkout(6, 4_400).await)
            .ok();
        self.act(gw, &o, "record payment", shop.record_payment(&o).await)
            .ok();
        let r = self.act(
            gw,
            &o,
            "cancel payment date",
            shop.cancel_payment_date(&o).await,
        );
        let warned = r.as_ref().is_ok_and(|r| {
            r.operations.is_empty()
                && r.warnings
                    .iter()
                    .any(|w| matches!(w, Warning::GatewayStaysCaptured { .. }))
        });
        self.check(
            warned,
            format!("{o}: cancelling the payment date should warn and send nothing (G-6)"),
        );

        // 07: captured, then refunded in the gateway's own tool (G-8): reconcile must see it.
        let o = gw.named(7);
        self.act(gw, &o, "checkout ¥6,600", checkout(7, 6_600).await)
            .ok();
        self.act(gw, &o, "record payment", shop.record_payment(&o).await)
            .ok();
        let t = self
            .payment_of(&o)
            .await?
            .transaction
            .ok_or("no transaction")?;
        let done = match gw {
            Gw::Sbps => self
                .sbps
                .admin_refund(t.as_str())
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Gw::Fregi => self
                .fregi
                .admin_cancel(FREGI_SHOP, fregi_seqno(t.as_str()))
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
        };
        say!(
            "  {o}  (in {}'s own tool, someone refunds it; the shop is not told)",
            gw.title()
        );
        self.rows
            .entry((gw, o.clone()))
            .or_default()
            .actions
            .push(format!("(refunded in {}'s tool)", gw.title()));
        self.check(done.is_ok(), format!("{o}: admin-tool refund: {done:?}"));

        // 08: the capture is processed, then its reply is lost. SBPS: settled by inquiry once
        // the request has expired. F-REGI has no inquiry and its capture is not replay-safe: the
        // host never guesses, the order goes to review and an operator decides from F-REGI's
        // admin screen. Either way the capture happens once.
        let o = gw.named(8);
        self.act(gw, &o, "checkout ¥7,700", checkout(8, 7_700).await)
            .ok();
        match gw {
            Gw::Sbps => {
                self.sbps
                    .install_fault(SbpsFault::reply_lost().on_function(Function::Sales));
            }
            Gw::Fregi => {
                self.fregi
                    .install_fault(FregiFault::reply_lost().on_script(Script::Sale));
            }
        }
        say!("  {o}  (fault: the next capture is processed, then its reply is lost)");
        let r = self.act(gw, &o, "record payment", shop.record_payment(&o).await);
        match gw {
            Gw::Sbps => {
                let settled = r.as_ref().is_ok_and(|r| {
                    r.operations
                        .iter()
                        .any(|op| op.resolution == Some(Resolution::Inquiry))
                });
                self.check(
                    settled,
                    format!("{o}: the lost reply should be settled by inquiry: {r:?}"),
                );
            }
            Gw::Fregi => {
                self.check(
                    matches!(r, Err(ShopError::NeedsReview { .. })),
                    format!("{o}: without an inquiry, the lost capture should go to review: {r:?}"),
                );
                self.review_lost_capture(&o, 7_700).await?;
            }
        }
        let again = self.act(
            gw,
            &o,
            "record payment (again)",
            shop.record_payment(&o).await,
        );
        self.check(
            again
                .as_ref()
                .is_ok_and(|r| r.operations.is_empty() && r.order.paid),
            format!("{o}: recording the payment again must send nothing and leave it paid"),
        );
        let t = self
            .payment_of(&o)
            .await?
            .transaction
            .ok_or("no transaction")?;
        let captures = match gw {
            Gw::Sbps => self.sbps.payment(t.as_str()).map_or(0, |p| {
                p.history
                    .iter()
                    .filter(|h| h.operation.starts_with("ST02-00201"))
                    .count()
            }),
            Gw::Fregi => self
                .fregi
                .transactions()
                .iter()
                .filter(|x| x.id == o.as_str() && x.status.is_sold())
                .count(),
        };
        say!(
            "  {:12}  {}'s own book: {captures} capture of ¥7,700 for {o}: no double capture",
            "",
            gw.title()
        );
        self.check(
            captures == 1,
            format!("{o}: the gateway shows {captures} captures, expected 1"),
        );

        // 09: a 1-yen bill cannot be paid by card at F-REGI (F-7).
        if gw == Gw::Fregi {
            let o = gw.named(9);
            let r = self.act(gw, &o, "checkout ¥1", checkout(9, 1).await);
            let sent = self.fregi.transactions().iter().any(|x| x.id == o.as_str());
            self.check(
                matches!(r, Err(ShopError::InvalidAmount { .. })) && !sent,
                format!("{o}: a 1-yen F-REGI order must be refused before anything is sent (F-7)"),
            );
        }

        // 10: a new order, not paid yet: its authorization stays held.
        let o = gw.named(10);
        self.act(gw, &o, "checkout ¥3,300", checkout(10, 3_300).await)
            .ok();
        Ok(())
    }

    /// F-REGI 08: the operator reads the review queue, opens F-REGI's admin screen (the
    /// emulator's state stands in for it) and decides from what it shows, under their name.
    async fn review_lost_capture(&mut self, o: &OrderRef, amount: i64) -> Result<(), String> {
        let queue = self.shop.reviews().await.map_err(|e| e.to_string())?;
        let listed: Vec<String> = queue.iter().map(|i| i.order.to_string()).collect();
        say!(
            "  {:12}  review queue (Shop::reviews): {} order(s): {}",
            "",
            queue.len(),
            listed.join(", ")
        );
        let item = queue.into_iter().find(|i| &i.order == o);
        let Some(item) = item else {
            self.check(
                false,
                format!("{o} should be in the review queue: {listed:?}"),
            );
            return Ok(());
        };
        self.check(
            listed.len() == 1,
            format!("the review queue should hold {o} alone: {listed:?}"),
        );
        let journal = item
            .payment
            .as_ref()
            .ok_or("the order in review has no payment")?;
        say!(
            "  {:12}    {o}  {} {} (operation {}); the journal still has it {} {} ({})",
            "",
            item.operation.kind,
            item.operation
                .amount
                .map_or("–".into(), |m| yen(m.minor_units)),
            item.operation.id.0,
            journal.state,
            yen(journal.authorized.minor_units),
            item.gateway_label.as_deref().unwrap_or("–"),
        );
        for x in &item.exchanges {
            let reply = match (&x.reply_status, &x.no_reply) {
                (Some(status), _) => format!("HTTP {status}"),
                (None, Some(why)) => format!("no reply ({why})"),
                (None, None) => "no reply".into(),
            };
            say!(
                "  {:12}      sent {} {} {} {}  → {reply}",
                "",
                x.step,
                x.method,
                x.url,
                x.request_body.as_deref().unwrap_or("")
            );
        }
        // The host's evidence ends with why it could not settle the outcome itself.
        if let Some(evidence) = &item.operation.evidence {
            let why = evidence.rsplit("; ").next().unwrap_or(evidence);
            say!("  {:12}      the host: {why}", "");
        }
        let lost_sale = item
            .exchanges
            .iter()
            .any(|x| x.step == "sale" && x.reply_status.is_none() && x.no_reply.is_some());
        self.check(
            item.operation.kind == OperationKind::Capture && lost_sale,
            format!(
                "{o}: the review should show a capture whose sale got no reply: {:?}",
                item.exchanges
            ),
        );

        // The operator opens F-REGI's admin screen at the order's SEQNO.
        let seqno = journal
            .transaction
            .clone()
            .ok_or("the order in review has no SEQNO")?;
        let Some(screen) = self.fregi_screen(seqno.as_str()) else {
            self.check(
                false,
                format!("{o}: SEQNO {seqno} is not on F-REGI's admin screen"),
            );
            return Ok(());
        };
        say!(
            "  {:12}  the operator opens F-REGI's admin screen: {}",
            "",
            screen_line(&screen)
        );
        let Some(seen) = self.screen_outcome(&screen) else {
            self.check(
                false,
                format!(
                    "{o}: F-REGI's status {} is not in the plugin's table",
                    screen.status_label
                ),
            );
            return Ok(());
        };
        // What the screen shows decides: captured there means the capture took effect;
        // still 承認済 would mean it did not.
        let decision = match &seen.state {
            PaymentState::Captured { .. } => Decision::TookEffect(Box::new(seen.clone())),
            PaymentState::Authorized => Decision::NoEffect,
            other => {
                self.check(
                    false,
                    format!("{o}: F-REGI's screen shows {other} after a capture"),
                );
                return Ok(());
            }
        };
        self.check(
            matches!(decision, Decision::TookEffect(_)),
            format!(
                "{o}: the screen should show the capture processed: {}",
                screen.status_label
            ),
        );
        let decided = self
            .shop
            .decide(&item, decision, OPERATOR)
            .await
            .map_err(|e| e.to_string())?;
        say!(
            "  {:12}  {OPERATOR} decides: the capture took effect ({}, {}, SEQNO {})",
            "",
            screen.status_label,
            yen(i64::from(screen.amount)),
            screen.seqno
        );
        let paid = self.shop.order(o).await.map_err(|e| e.to_string())?.paid;
        say!(
            "  {:12}  journal: {} {}; the shop's record follows the decision: {}",
            "",
            decided.state,
            yen(decided.captured.minor_units),
            if paid { "paid" } else { "NOT paid" }
        );
        self.check(
            matches!(decided.state, PaymentState::Captured { .. })
                && decided.captured == Money::jpy(amount)
                && paid,
            format!("{o}: after the decision the journal should have {amount} captured and the order paid: {decided:?}, paid {paid}"),
        );
        // The decision, as the journal keeps it with the operation.
        let journal = self.journal.clone();
        let id = item.operation.id;
        let kept = tokio::task::spawn_blocking(move || journal.operation(id))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let note = kept
            .as_ref()
            .and_then(|op| op.evidence.as_deref())
            .and_then(|e| e.rsplit("; ").next())
            .unwrap_or("–");
        say!(
            "  {:12}  journal: operation {} {}, \"{note}\"",
            "",
            id.0,
            kept.as_ref()
                .map_or("missing".into(), |op| format!("{:?}", op.status)
                    .to_lowercase())
        );
        self.check(
            note == format!("resolved by {OPERATOR}: took effect"),
            format!("{o}: the journal should keep the decision with the operator's name: {kept:?}"),
        );
        let still = self.shop.reviews().await.map_err(|e| e.to_string())?;
        self.check(
            still.iter().all(|i| &i.order != o),
            format!("{o}: still in the review queue after the decision"),
        );
        // The row says what happened to the capture.
        let steps: Vec<String> = item.exchanges.iter().map(|x| x.step.clone()).collect();
        if let Some(op) = self
            .rows
            .get_mut(&(Gw::Fregi, o.clone()))
            .and_then(|row| row.ops.last_mut())
        {
            *op = format!(
                "{}[{}] reply lost → review → {OPERATOR}: took effect",
                item.operation.kind,
                steps.join("+")
            );
        }
        Ok(())
    }

    /// One transaction on F-REGI's admin screen, searched by the SEQNO of a reference: the
    /// emulator's own state stands in for the screen (only the shop's own transactions show).
    fn fregi_screen(&self, reference: &str) -> Option<FregiTransaction> {
        self.fregi
            .transaction(fregi_seqno(reference))
            .filter(|x| x.shop_id == FREGI_SHOP)
    }

    /// What the operator reports from F-REGI's admin screen: the status its label names (read
    /// through the plugin's status table, F-11), the transaction's amount and its SEQNO.
    fn screen_outcome(&self, x: &FregiTransaction) -> Option<StoredOutcome> {
        let entry = self
            .shop
            .gateway(Gw::Fregi.name())
            .ok()?
            .manifest()
            .statuses
            .iter()
            .find(|s| s.label == x.status_label)?
            .clone();
        let amount = Money::jpy(i64::from(x.amount));
        let (authorized, captured, refunded) = match entry.state {
            PaymentState::Authorized => (Some(amount), None, None),
            PaymentState::Captured { .. } => (Some(amount), Some(amount), None),
            PaymentState::Refunded { .. } => (Some(amount), Some(amount), Some(amount)),
            _ => (None, None, None),
        };
        Some(StoredOutcome {
            state: entry.state,
            gateway_status: Some(entry.code),
            // The reference as the plugin keeps it: SEQNO and 承認番号, both on the screen.
            transaction: Some(TransactionRef::new(fregi_reference(x))),
            replaced: None,
            authorization_code: (!x.authcode.is_empty()).then(|| x.authcode.clone()),
            authorized,
            captured,
            refunded,
            notes: vec![format!("read on F-REGI's admin screen by {OPERATOR}")],
        })
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

    /// 18:00: reconcile finds what SBPS's own tool did (G-8). F-REGI cannot be asked: its
    /// orders come back as "no inquiry", which is expected; the operator reads its admin screen
    /// instead ([`Day::compare_fregi_screen`]).
    async fn reconcile(&mut self) -> Result<Vec<DriftEvent>, String> {
        say!("");
        say!(
            "18:00  Reconcile: every open or recently closed order is inquired at its gateway (G-8)"
        );
        let t = Instant::now();
        let report = self
            .shop
            .reconcile(Duration::from_secs(24 * 3600))
            .await
            .map_err(|e| e.to_string())?;
        let elapsed = t.elapsed();
        let mut no_inquiry: BTreeSet<String> = BTreeSet::new();
        let mut why_not = None;
        // `checked` counts the orders reconcile tried to inquire, and it tries wherever the
        // plugin declares an inquiry (F-REGI's exists on the emulator only, so it is declared):
        // those refused before sending were not inquired.
        let mut tried_in_vain = 0;
        for (order, e) in &report.errors {
            if !matches!(e, ShopError::IllegalAction { .. }) {
                tried_in_vain += 1;
            }
            if self.gateway_of(order) == Some(Gw::Fregi) && offers_no_inquiry(e) {
                no_inquiry.insert(order.to_string());
                why_not.get_or_insert_with(|| e.reason());
            } else {
                self.check(false, format!("reconcile could not inquire {order}: {e}"));
            }
        }
        say!(
            "       SBPS: {} orders inquired in {:.1} s, {} drift event(s); the journal is left as it was for an operator:",
            report.checked.saturating_sub(tried_in_vain),
            elapsed.as_secs_f64(),
            report.drift.len()
        );
        for d in &report.drift {
            say!("         {d}");
        }
        say!(
            "       F-REGI offers no inquiry: {} orders are reconciled from its admin screen{}",
            no_inquiry.len(),
            why_not.map_or(String::new(), |w| format!(" (the plugin: \"{w}\")"))
        );
        let found: BTreeSet<String> = report.drift.iter().map(|d| d.order.to_string()).collect();
        let expected: BTreeSet<String> = [Gw::Sbps.named(7).to_string()].into();
        self.check(
            found == expected,
            format!("reconcile should report drift on {expected:?}, reported {found:?}"),
        );
        let fregi_orders: BTreeSet<String> = self
            .fregi_transactions()
            .await?
            .into_iter()
            .map(|(o, _)| o.to_string())
            .collect();
        self.check(
            no_inquiry == fregi_orders,
            format!(
                "reconcile should list exactly the {} F-REGI orders with a SEQNO as not inquirable, listed {}",
                fregi_orders.len(),
                no_inquiry.len()
            ),
        );
        Ok(report.drift)
    }

    /// 18:05: where F-REGI cannot be asked, the operator compares its admin screen with the
    /// shop, order by order, and reports what it shows (`Shop::report_drift`); what differs
    /// from the journal is kept as a drift event.
    async fn compare_fregi_screen(&mut self) -> Result<(), String> {
        say!("");
        say!(
            "18:05  {OPERATOR} compares F-REGI's admin screen with the shop, SEQNO by SEQNO (G-8)"
        );
        let orders = self.fregi_transactions().await?;
        let mut reported: Vec<DriftRecord> = Vec::new();
        for (order, seqno) in &orders {
            let Some(screen) = self.fregi_screen(seqno.as_str()) else {
                self.check(
                    false,
                    format!("{order}: SEQNO {seqno} is not on F-REGI's admin screen"),
                );
                continue;
            };
            let Some(seen) = self.screen_outcome(&screen) else {
                self.check(
                    false,
                    format!(
                        "{order}: F-REGI's status {} is not in the plugin's table",
                        screen.status_label
                    ),
                );
                continue;
            };
            match self.shop.report_drift(order, seen, OPERATOR).await {
                Ok(Some(kept)) => {
                    say!("         {order}  screen: {}", screen_line(&screen));
                    reported.push(kept);
                }
                Ok(None) => {}
                Err(e) => {
                    self.check(false, format!("{order}: report_drift: {e}"));
                }
            }
        }
        say!(
            "       {} transactions read on the screen; {} differ from the journal, kept as drift events:",
            orders.len(),
            reported.len()
        );
        for d in &reported {
            say!("         {}", d.detail);
        }
        let found: BTreeSet<String> = reported.iter().map(|d| d.order.to_string()).collect();
        // What the day changed in F-REGI's own tool, and nothing else.
        let expected: BTreeSet<String> =
            [Gw::Fregi.named(7), Gw::Fregi.bulk(7), Gw::Fregi.bulk(13)]
                .iter()
                .map(|o| o.to_string())
                .collect();
        self.check(
            found == expected,
            format!(
                "the screen should differ from the journal on {expected:?}, differs on {found:?}"
            ),
        );
        Ok(())
    }

    /// What the operator's drift list shows (`Shop::drifts(true)`): every event still open,
    /// from reconcile, from the bulk run's "already done", and from the screen.
    async fn open_drifts(&mut self, when: &str) -> Result<Vec<DriftRecord>, String> {
        let open = self.shop.drifts(true).await.map_err(|e| e.to_string())?;
        say!(
            "{when}  Open drift events (Shop::drifts(true)), for an operator to adopt or dismiss: {}",
            open.len()
        );
        for d in &open {
            let order = d.order.to_string();
            let detail = d
                .detail
                .strip_prefix(&format!("{order}: "))
                .unwrap_or(&d.detail);
            say!("         #{:<4} {order}  {}: {detail}", d.id.0, d.kind);
        }
        Ok(open)
    }

    /// 18:15: the operator adopts one drift event, F-REGI's refund of 07, from what the admin
    /// screen shows (`Shop::adopt_drift`); the journal then agrees with F-REGI on that order.
    async fn adopt_fregi_refund(&mut self, open: &[DriftRecord]) -> Result<(), String> {
        let o = Gw::Fregi.named(7);
        say!("");
        say!(
            "18:15  {OPERATOR} adopts what F-REGI's admin screen shows for {o} (refunded in its tool)"
        );
        let Some(drift) = open
            .iter()
            .find(|d| d.order == o && d.kind == "refunded_at_gateway")
        else {
            self.check(
                false,
                format!("{o}: no open refunded_at_gateway drift event"),
            );
            return Ok(());
        };
        let seqno = self.payment_of(&o).await?.transaction.ok_or("no SEQNO")?;
        let screen = self.fregi_screen(seqno.as_str());
        let Some((screen, seen)) =
            screen.and_then(|x| self.screen_outcome(&x).map(|seen| (x, seen)))
        else {
            self.check(
                false,
                format!("{o}: SEQNO {seqno} is not readable on F-REGI's screen"),
            );
            return Ok(());
        };
        say!("       screen: {}", screen_line(&screen));
        let adopted = self
            .shop
            .adopt_drift(drift.id, seen.clone(), OPERATOR)
            .await
            .map_err(|e| e.to_string())?;
        say!(
            "       drift #{} adopted: the journal now has {o} {} ({} captured, {} refunded)",
            drift.id.0,
            adopted.state,
            yen(adopted.captured.minor_units),
            yen(adopted.refunded.minor_units)
        );
        self.check(
            matches!(adopted.state, PaymentState::Refunded { .. })
                && adopted.refunded == Money::jpy(6_600),
            format!("{o}: after adopting F-REGI's refund the journal should have 6,600 refunded: {adopted:?}"),
        );
        let again = self
            .shop
            .report_drift(&o, seen, OPERATOR)
            .await
            .map_err(|e| e.to_string())?;
        say!(
            "       the screen and the journal now agree on {o}: {}",
            match &again {
                None => "report_drift finds nothing to report".to_owned(),
                Some(d) => format!("NOT: {}", d.detail),
            }
        );
        self.check(
            again.is_none(),
            format!("{o}: the screen should agree with the journal after the adoption"),
        );
        self.rows
            .entry((Gw::Fregi, o.clone()))
            .or_default()
            .actions
            .push(format!("(refund adopted by {OPERATOR})"));
        Ok(())
    }

    /// The F-REGI orders of the day that hold a transaction, with the journal's SEQNO.
    async fn fregi_transactions(&self) -> Result<Vec<(OrderRef, TransactionRef)>, String> {
        let orders: Vec<OrderRef> = self
            .rows
            .keys()
            .filter(|(g, _)| *g == Gw::Fregi)
            .map(|(_, o)| o.clone())
            .collect();
        let mut found = Vec::new();
        for order in orders {
            let payment = self.shop.payment(&order).await.map_err(|e| e.to_string())?;
            if let Some(t) = payment.and_then(|p| p.transaction) {
                found.push((order, t));
            }
        }
        Ok(found)
    }

    fn gateway_of(&self, order: &OrderRef) -> Option<Gw> {
        Gw::BOTH
            .into_iter()
            .find(|&gw| self.rows.contains_key(&(gw, order.clone())))
    }

    /// The closing table of one gateway, and its totals checked against the emulator's book.
    ///
    /// A difference between the journal and the gateway is explained only by a drift event:
    /// one reconcile reported, or one kept open in the journal (`kept`, from [`Shop::drifts`]).
    async fn table(
        &mut self,
        gw: Gw,
        drift: &[DriftEvent],
        kept: &[DriftRecord],
    ) -> Result<(), String> {
        let drifted = self.drifted(gw, drift, kept);
        // The emulator's book, per transaction.
        let book: BTreeMap<String, Totals> = match gw {
            Gw::Sbps => self
                .sbps
                .dump()
                .payments
                .iter()
                .map(|p| {
                    let t = Totals {
                        authorized: if p.payment_status == PaymentStatus::Authorized {
                            i64::from(p.authorized_amount)
                        } else {
                            0
                        },
                        captured: i64::from(p.captured_amount),
                        refunded: i64::from(p.refunded_total),
                    };
                    (p.tracking_id.clone(), t)
                })
                .collect(),
            Gw::Fregi => self
                .fregi
                .transactions()
                .iter()
                .filter(|x| x.shop_id == FREGI_SHOP)
                .map(|x| {
                    let amount = i64::from(x.amount);
                    let sold = x.status.is_sold() || x.status.is_sale_cancelled();
                    let t = Totals {
                        authorized: if x.status == FregiStatus::Authorized {
                            amount
                        } else {
                            0
                        },
                        captured: if sold { amount } else { 0 },
                        refunded: if x.status.is_sale_cancelled() {
                            amount
                        } else {
                            0
                        },
                    };
                    (x.seqno.clone(), t)
                })
                .collect(),
        };
        let gateway_total = book.values().fold(Totals::default(), |mut a, t| {
            a.add(*t);
            a
        });

        let mut lines: Vec<[String; 5]> = Vec::new();
        let mut journal_total = Totals::default();
        let mut linked_total = Totals::default();
        let mut unexplained = Vec::new();
        let mut bulk_ok: Vec<(OrderRef, String, String, String)> = Vec::new();
        let orders: Vec<OrderRef> = self
            .rows
            .keys()
            .filter(|(g, _)| *g == gw)
            .map(|(_, o)| o.clone())
            .collect();
        for order in orders {
            let payment = self.shop.payment(&order).await.map_err(|e| e.to_string())?;
            let (label, state, mine, theirs) = match &payment {
                Some(p) => {
                    let label = p
                        .gateway_status
                        .as_deref()
                        .and_then(|code| self.label(gw, code))
                        .unwrap_or_else(|| "–".into());
                    let mine = Totals {
                        authorized: if p.state == PaymentState::Authorized {
                            p.authorized.minor_units
                        } else {
                            0
                        },
                        captured: p.captured.minor_units,
                        refunded: p.refunded.minor_units,
                    };
                    let theirs = p
                        .transaction
                        .as_ref()
                        .and_then(|t| book.get(normalize(gw, t.as_str()).as_str()).copied())
                        .unwrap_or_default();
                    (label, p.state.to_string(), mine, theirs)
                }
                None => (
                    "–".into(),
                    "no payment".into(),
                    Totals::default(),
                    Totals::default(),
                ),
            };
            journal_total.add(mine);
            linked_total.add(theirs);
            let drift = drifted.get(order.as_str());
            if mine != theirs && drift.is_none() {
                unexplained.push(format!(
                    "{order}: journal {mine:?}, {} {theirs:?}, and no drift event is open on it",
                    gw.title()
                ));
            }
            let state = match drift {
                Some(seen) => format!("{state} ⚠ drift: gateway {seen}"),
                None => state,
            };
            let row = &self.rows[&(gw, order.clone())];
            let is_bulk = order.as_str().starts_with("1000008");
            if is_bulk && drift.is_none() && row.ops.iter().all(|o| !o.contains("refused")) {
                bulk_ok.push((order, row.ops.join(", "), label, state));
                continue;
            }
            lines.push([
                order.to_string(),
                row.actions.join(" → "),
                if row.ops.is_empty() {
                    "nothing sent".into()
                } else {
                    row.ops.join(", ")
                },
                label,
                state,
            ]);
        }
        // The bulk orders that went through, grouped by what happened to them.
        let mut groups: BTreeMap<(String, String, String), Vec<OrderRef>> = BTreeMap::new();
        for (order, ops, label, state) in bulk_ok {
            groups.entry((ops, label, state)).or_default().push(order);
        }
        for ((ops, label, state), orders) in groups {
            lines.push([
                format!(
                    "{}…{} ({} orders)",
                    orders[0],
                    &orders[orders.len() - 1].as_str()[8..],
                    orders.len()
                ),
                "checkout → bulk record payment".into(),
                ops,
                label,
                state,
            ]);
        }
        lines.sort_by(|a, b| a[0].cmp(&b[0]));

        say!("");
        say!("{} at the end of the day", gw.title());
        print_table(
            [
                "order",
                "shop actions",
                "gateway operations sent",
                "gateway status",
                "unified state",
            ],
            &lines,
        );

        // Totals: the journal's against the emulator's own book.
        let unlinked = Totals {
            authorized: gateway_total.authorized - linked_total.authorized,
            captured: gateway_total.captured - linked_total.captured,
            refunded: gateway_total.refunded - linked_total.refunded,
        };
        say!("  totals        authorized (held)   captured    refunded");
        say!(
            "  journal       {:>17} {:>10} {:>11}",
            yen(journal_total.authorized),
            yen(journal_total.captured),
            yen(journal_total.refunded)
        );
        say!(
            "  {:<13} {:>17} {:>10} {:>11}   (the emulator's own state)",
            gw.title(),
            yen(gateway_total.authorized),
            yen(gateway_total.captured),
            yen(gateway_total.refunded)
        );
        let difference = Totals {
            authorized: gateway_total.authorized - journal_total.authorized,
            captured: gateway_total.captured - journal_total.captured,
            refunded: gateway_total.refunded - journal_total.refunded,
        };
        if difference == Totals::default() {
            say!("  ✓ the journal's totals equal {}'s", gw.title());
        } else {
            say!(
                "  difference    {:>17} {:>10} {:>11}   = the orders with drift events ({})",
                signed_yen(difference.authorized),
                signed_yen(difference.captured),
                signed_yen(difference.refunded),
                drifted.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        let money_outside = unlinked != Totals::default();
        self.check(
            !money_outside,
            format!(
                "{} holds money on transactions the journal does not know: {unlinked:?}",
                gw.title()
            ),
        );
        for u in unexplained {
            self.check(false, u);
        }
        if !money_outside && self.problems.is_empty() {
            say!(
                "  ✓ every yen of difference is on an order with a drift event; none outside the journal"
            );
        }
        Ok(())
    }

    /// The orders of one gateway with drift, and what the gateway shows on each: the status
    /// labels of its drift events (reconcile's and those kept open in the journal), or their
    /// kinds where the event names no status of the gateway's table ("already done").
    fn drifted(
        &self,
        gw: Gw,
        drift: &[DriftEvent],
        kept: &[DriftRecord],
    ) -> BTreeMap<String, String> {
        let mut seen: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for d in drift.iter().filter(|d| d.gateway == gw.name()) {
            let (labels, kinds) = seen.entry(d.order.to_string()).or_default();
            match &d.gateway_label {
                Some(l) => labels.insert(l.clone()),
                None => kinds.insert(d.kind.name().to_owned()),
            };
        }
        for d in kept.iter().filter(|d| d.gateway == gw.name()) {
            let (labels, kinds) = seen.entry(d.order.to_string()).or_default();
            match d.gateway_status.as_deref().and_then(|c| self.label(gw, c)) {
                Some(l) => labels.insert(l),
                None => kinds.insert(d.kind.clone()),
            };
        }
        seen.into_iter()
            .map(|(order, (labels, kinds))| {
                let shown = if labels.is_empty() { kinds } else { labels };
                (order, shown.into_iter().collect::<Vec<_>>().join(", "))
            })
            .collect()
    }

    fn label(&self, gw: Gw, code: &str) -> Option<String> {
        self.shop
            .gateway(gw.name())
            .ok()?
            .manifest()
            .statuses
            .iter()
            .find(|s| s.code == code)
            .map(|s| s.label.clone())
    }
}

/// Whether reconcile could not inquire an order because its gateway has no inquiry: the host's
/// own refusal, or the plugin's (F-REGI's inquiry exists on the emulator only).
fn offers_no_inquiry(e: &ShopError) -> bool {
    match e {
        ShopError::IllegalAction { reason, .. } => reason.contains("offers no inquiry"),
        ShopError::Rejected { error, .. } => error.kind == ErrorKind::Unsupported,
        _ => false,
    }
}

/// One transaction as F-REGI's admin screen lists it.
fn screen_line(x: &FregiTransaction) -> String {
    format!(
        "SEQNO {}  ID {}  {}  {}",
        x.seqno,
        x.id,
        x.status_label,
        yen(i64::from(x.amount))
    )
}

/// The emulator's key for a transaction reference (F-REGI `SEQNO`s are compared as numbers;
/// the plugin's reference is `SEQNO-AUTHCODE`).
fn normalize(gw: Gw, t: &str) -> String {
    match gw {
        Gw::Sbps => t.to_owned(),
        Gw::Fregi => fregi_seqno(t)
            .parse::<u64>()
            .map(|n| format!("{n:020}"))
            .unwrap_or_else(|_| t.to_owned()),
    }
}

/// The `SEQNO` of the F-REGI plugin's reference (`SEQNO-AUTHCODE`, or a legacy bare `SEQNO`):
/// what F-REGI's admin screen is searched by.
fn fregi_seqno(reference: &str) -> &str {
    reference
        .split_once('-')
        .map_or(reference, |(seqno, _)| seqno)
}

/// The F-REGI plugin's reference for a transaction on the admin screen: `SEQNO-AUTHCODE`, the
/// SEQNO alone when there is no 承認番号.
fn fregi_reference(x: &FregiTransaction) -> String {
    if x.authcode.is_empty() {
        x.seqno.clone()
    } else {
        format!("{}-{}", x.seqno, x.authcode)
    }
}

fn op_text(op: &GatewayOp) -> String {
    let mut s = format!("{}[{}]", op.kind, op.steps.join("+"));
    if op.from_journal {
        s.push_str(" (from journal)");
    }
    match op.resolution {
        Some(Resolution::Inquiry) => s.push_str(" reply lost → settled by inquiry"),
        Some(Resolution::Replay) => s.push_str(" reply lost → settled by replay"),
        None => {}
    }
    s
}

fn status_text(label: Option<&str>, state: Option<&PaymentState>) -> String {
    match (label, state) {
        (Some(l), Some(s)) => format!("{l} ({s})"),
        (None, Some(s)) => s.to_string(),
        (Some(l), None) => l.to_owned(),
        (None, None) => "no card payment".into(),
    }
}

fn yen(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or("?"))
        .collect();
    format!("{}¥{}", if n < 0 { "-" } else { "" }, groups.join(","))
}

fn signed_yen(n: i64) -> String {
    if n > 0 {
        format!("+{}", yen(n))
    } else {
        yen(n)
    }
}

/// Display width on a terminal: CJK and full-width characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

fn print_table(header: [&str; 5], rows: &[[String; 5]]) {
    let mut widths = header.map(width);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - width(cell);
            let _ = write!(s, " {cell}{}", " ".repeat(pad));
            if i < 4 {
                s.push_str(" │");
            }
        }
        s.trim_end().to_owned()
    };
    say!("{}", line(header));
    // Under each `│` of a row, a `┼`.
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
    say!(" {}", rule.join("┼"));
    for row in rows {
        say!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_groups_thousands() {
        assert_eq!(yen(0), "¥0");
        assert_eq!(yen(1_000), "¥1,000");
        assert_eq!(yen(1_234_567), "¥1,234,567");
        assert_eq!(yen(-6_600), "-¥6,600");
        assert_eq!(signed_yen(6_600), "+¥6,600");
    }

    #[test]
    fn japanese_labels_take_two_columns() {
        assert_eq!(width("売上済"), 6);
        assert_eq!(width("売上済(未伝送)"), 14);
        assert_eq!(width("captured"), 8);
    }
}
