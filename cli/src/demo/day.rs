//! The day: the operator's scripted actions, each stating what it expects.

use super::books::{fregi_seqno, screen_line};
use super::table::{op_text, yen};
use super::{BULK_CONCURRENCY, BULK_PER_GATEWAY, Day, DemoOrders as _, FREGI_SHOP, Gw, OPERATOR};
use anyhow::Context as _;
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use renkei_emulator_fregi::{Fault as FregiFault, Script};
use renkei_emulator_gmopg::{Api as GmoApi, Fault as GmoFault};
use renkei_emulator_sbps::{Fault as SbpsFault, Function};
use renkei_host::Resolution;
use renkei_host::journal::{Decision, DriftRecord};
use renkei_host::shop::{ActionResult, BulkOptions, DriftEvent, ShopError, StatusChange, Warning};
use renkei_sdk::{ErrorKind, Money, OperationKind, OrderRef, PaymentState};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::time::{Duration, Instant};

impl Day {
    /// 09:00-09:10: last night's orders, someone in F-REGI's admin screen, and the bulk run.
    pub(super) async fn morning_bulk(&mut self) -> anyhow::Result<()> {
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
                            gw.id(),
                            Money::jpy(amount),
                            renkei_lab::source(gw),
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
                .context("no SEQNO")?
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
            .context("listing the unpaid orders")?
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

    /// Checks out the day's order `n` on `gw` for `amount` with the lab's test card, as a
    /// customer would; answers the order and what the shop said.
    async fn checkout(
        &mut self,
        gw: Gw,
        n: u32,
        amount: i64,
    ) -> (OrderRef, Result<ActionResult, ShopError>) {
        let o = gw.named(n);
        let r = self
            .shop
            .checkout(
                &o,
                gw.id(),
                Money::jpy(amount),
                renkei_lab::source(gw),
                gw.customer(&o),
            )
            .await;
        let r = self.act(gw, &o, &format!("checkout {}", yen(amount)), r);
        (o, r)
    }

    /// Checks out the day's order `n` and records its payment (a capture, G-2).
    async fn paid(&mut self, gw: Gw, n: u32, amount: i64) -> OrderRef {
        let (o, _) = self.checkout(gw, n, amount).await;
        let r = self.shop.record_payment(&o).await;
        self.act(gw, &o, "record payment", r).ok();
        o
    }

    /// The day's single orders on one gateway.
    pub(super) async fn named_orders(&mut self, gw: Gw) -> anyhow::Result<()> {
        let shop = self.shop.clone();
        let g = gw.id();
        say!("");
        say!("10:00  {}: the day's orders", gw.title());

        // 01: a new card order, paid (G-2).
        let (o, _) = self.checkout(gw, 1, 3_980).await;
        let r = self.act(gw, &o, "record payment", shop.record_payment(&o).await);
        self.expect_state(
            &o,
            r.as_ref().ok(),
            |s| matches!(s, PaymentState::Captured { .. }),
            "captured (G-2)",
        );

        // 02: the amount changes before capture (S-1; F-2, F-4). SBPS and F-REGI hold the new
        // amount until capture; GMO-PG changes the authorization at once (ChangeTran AUTH,
        // docs/protocols/gmopg.md §4.4), and the capture is then of the changed amount.
        let (o, _) = self.checkout(gw, 2, 5_000).await;
        let r = self.act(
            gw,
            &o,
            "change amount → ¥5,800",
            shop.change_amount(&o, Money::jpy(5_800)).await,
        );
        if gw == Gw::Gmopg {
            let changed = r.as_ref().is_ok_and(|r| {
                r.operations
                    .iter()
                    .any(|op| op.kind == OperationKind::ChangeAmount)
            });
            let p = self.payment_of(&o).await?;
            self.check(
                changed && p.authorized == Money::jpy(5_800),
                format!(
                    "{o}: GMO-PG should change the authorization to 5,800 at once (§4.4); authorized {}",
                    p.authorized
                ),
            );
        } else {
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
        }
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
        let o = self.paid(gw, 3, 2_500).await;
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
        let (o, _) = self.checkout(gw, 4, 1_200).await;
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
            shop.release_pre_order(&o, renkei_lab::source(gw), gw.customer(&o))
                .await,
        );
        self.expect_state(
            &o,
            r.as_ref().ok(),
            |s| *s == PaymentState::Authorized,
            "authorized (G-9)",
        );

        // 06: a payment date cancelled after capture: the gateway stays captured (G-6).
        let o = self.paid(gw, 6, 4_400).await;
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
        let o = self.paid(gw, 7, 6_600).await;
        let t = self
            .payment_of(&o)
            .await?
            .transaction
            .context("no transaction")?;
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
            // The plugin's reference is the attempt's OrderID, what GMO-PG's screen shows.
            Gw::Gmopg => self
                .gmopg
                .admin_cancel(t.as_str())
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
        let (o, _) = self.checkout(gw, 8, 7_700).await;
        match gw {
            Gw::Sbps => {
                self.sbps
                    .install_fault(SbpsFault::reply_lost().on_function(Function::Sales));
            }
            Gw::Fregi => {
                self.fregi
                    .install_fault(FregiFault::reply_lost().on_script(Script::Sale));
            }
            Gw::Gmopg => {
                self.gmopg
                    .install_fault(GmoFault::reply_lost().on_api(GmoApi::AlterTran));
            }
        }
        say!("  {o}  (fault: the next capture is processed, then its reply is lost)");
        let r = self.act(gw, &o, "record payment", shop.record_payment(&o).await);
        match gw {
            Gw::Sbps | Gw::Gmopg => {
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
            .context("no transaction")?;
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
            Gw::Gmopg => self.gmopg.transaction(t.as_str()).map_or(0, |x| {
                x.history
                    .iter()
                    .filter(|h| h.what == "AlterTran SALES" && h.result == "ok")
                    .count()
            }),
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
            let (o, r) = self.checkout(gw, 9, 1).await;
            let sent = self.fregi.transactions().iter().any(|x| x.id == o.as_str());
            self.check(
                matches!(r, Err(ShopError::InvalidAmount { .. })) && !sent,
                format!("{o}: a 1-yen F-REGI order must be refused before anything is sent (F-7)"),
            );
        }

        // 10: a new order, not paid yet: its authorization stays held.
        let _ = self.checkout(gw, 10, 3_300).await;
        Ok(())
    }

    /// F-REGI 08: the operator reads the review queue, opens F-REGI's admin screen (the
    /// emulator's state stands in for it) and decides from what it shows, under their name.
    pub(super) async fn review_lost_capture(
        &mut self,
        o: &OrderRef,
        amount: i64,
    ) -> anyhow::Result<()> {
        let queue = self
            .shop
            .reviews()
            .await
            .context("reading the review queue")?;
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
            .context("the order in review has no payment")?;
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
            .context("the order in review has no SEQNO")?;
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
            .with_context(|| format!("deciding the review of {o}"))?;
        say!(
            "  {:12}  {OPERATOR} decides: the capture took effect ({}, {}, SEQNO {})",
            "",
            screen.status_label,
            yen(i64::from(screen.amount)),
            screen.seqno
        );
        let paid = self
            .shop
            .order(o)
            .await
            .with_context(|| format!("reading order {o}"))?
            .paid;
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
            .await?
            .with_context(|| format!("reading operation {} from the journal", id.0))?;
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
        let still = self
            .shop
            .reviews()
            .await
            .context("reading the review queue")?;
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

    /// 18:00: reconcile finds what SBPS's and GMO-PG's own tools did (G-8). F-REGI cannot be
    /// asked: its
    /// orders come back as "no inquiry", which is expected; the operator reads its admin screen
    /// instead ([`Day::compare_fregi_screen`]).
    pub(super) async fn reconcile(&mut self) -> anyhow::Result<Vec<DriftEvent>> {
        say!("");
        say!(
            "18:00  Reconcile: every open or recently closed order is inquired at its gateway (G-8)"
        );
        let t = Instant::now();
        let report = self
            .shop
            .reconcile(Duration::from_secs(24 * 3600))
            .await
            .context("reconciling the day's orders")?;
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
            "       SBPS and GMO-PG: {} orders inquired in {:.1} s, {} drift event(s); the journal is left as it was for an operator:",
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
        let expected: BTreeSet<String> = [
            Gw::Sbps.named(7).to_string(),
            Gw::Gmopg.named(7).to_string(),
        ]
        .into();
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
    pub(super) async fn compare_fregi_screen(&mut self) -> anyhow::Result<()> {
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
    pub(super) async fn open_drifts(&mut self, when: &str) -> anyhow::Result<Vec<DriftRecord>> {
        let open = self
            .shop
            .drifts(true)
            .await
            .context("listing the open drift events")?;
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
    pub(super) async fn adopt_fregi_refund(&mut self, open: &[DriftRecord]) -> anyhow::Result<()> {
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
        let seqno = self.payment_of(&o).await?.transaction.context("no SEQNO")?;
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
            .with_context(|| format!("adopting drift #{}", drift.id.0))?;
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
            .with_context(|| format!("reporting {o} from the screen again"))?;
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
}

/// Whether reconcile could not inquire an order because its gateway has no inquiry: the host's
/// own refusal, or the plugin's (F-REGI's inquiry exists on the emulator only).
pub(super) fn offers_no_inquiry(e: &ShopError) -> bool {
    match e {
        ShopError::IllegalAction { reason, .. } => reason.contains("offers no inquiry"),
        ShopError::Rejected { error, .. } => error.kind == ErrorKind::Unsupported,
        _ => false,
    }
}
