//! Bulk record payment (一括入金): many orders captured in parallel, each on its own (G-3).

use super::{ActionResult, Shop, ShopError};
use futures_util::StreamExt as _;
use renkei_sdk::OrderRef;
use std::collections::HashSet;

/// How a bulk run proceeds.
#[derive(Clone, Copy, Debug)]
pub struct BulkOptions {
    /// Orders in flight at once. Each order still has one writer (the journal's rule); this
    /// bounds the load on the gateway and the journal.
    pub concurrency: usize,
}

impl Default for BulkOptions {
    fn default() -> BulkOptions {
        BulkOptions { concurrency: 16 }
    }
}

/// One order's result in a bulk run.
#[derive(Debug)]
pub struct BulkItem {
    pub order: OrderRef,
    pub result: Result<ActionResult, ShopError>,
}

impl BulkItem {
    /// The failure line as the manual shows it: `100000924506: <gateway's reason>` (G-3, F-10).
    pub fn failure_line(&self) -> Option<String> {
        self.result
            .as_ref()
            .err()
            .map(|e| format!("{}: {}", self.order, e.reason()))
    }
}

/// Where a bulk run stands, after each finished order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkProgress {
    pub done: usize,
    pub failed: usize,
    pub total: usize,
}

/// The whole run, in the order the orders were given (duplicates removed).
#[derive(Debug, Default)]
pub struct BulkReport {
    /// Every order's result, or only the failures after
    /// [`Shop::bulk_record_payment_failures_only`].
    pub items: Vec<BulkItem>,
    /// Orders that succeeded but are not in `items` (the failures-only run keeps their count).
    pub omitted_successes: usize,
}

impl BulkReport {
    pub fn succeeded(&self) -> usize {
        self.omitted_successes + self.items.iter().filter(|i| i.result.is_ok()).count()
    }

    pub fn failed(&self) -> usize {
        self.items.iter().filter(|i| i.result.is_err()).count()
    }

    /// The failure lines, `order: reason`, in input order.
    pub fn failure_lines(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(BulkItem::failure_line)
            .collect()
    }
}

impl Shop {
    /// Bulk record payment: [`Shop::record_payment`] on every order, `concurrency` at a time.
    /// Each order succeeds or fails on its own and the run goes on past failures (G-3, F-10);
    /// `on_item` sees each result as it finishes, with the progress so far.
    ///
    /// Resumable: after a crash, [`Shop::recover`] settles the captures that were in flight,
    /// and running the same list again captures only what is still uncaptured (a captured
    /// order is marked paid without a second capture; the capture keys are the same).
    pub async fn bulk_record_payment(
        &self,
        orders: &[OrderRef],
        options: BulkOptions,
        on_item: impl FnMut(&BulkItem, BulkProgress),
    ) -> BulkReport {
        self.bulk(orders, options, true, on_item).await
    }

    /// [`Shop::bulk_record_payment`] that keeps only the failures (in input order) and the
    /// count of the rest. Each result carries the shop's record and the operations, so a run
    /// over a platform's whole backlog would otherwise hold every one of them until it ends;
    /// `on_item` still sees every result as it finishes.
    pub async fn bulk_record_payment_failures_only(
        &self,
        orders: &[OrderRef],
        options: BulkOptions,
        on_item: impl FnMut(&BulkItem, BulkProgress),
    ) -> BulkReport {
        self.bulk(orders, options, false, on_item).await
    }

    async fn bulk(
        &self,
        orders: &[OrderRef],
        options: BulkOptions,
        keep_successes: bool,
        mut on_item: impl FnMut(&BulkItem, BulkProgress),
    ) -> BulkReport {
        let mut seen = HashSet::new();
        // Positions, not copies: an order ref is cloned only when its capture starts.
        let unique: Vec<usize> = (0..orders.len())
            .filter(|&i| seen.insert(&orders[i]))
            .collect();
        drop(seen);
        let total = unique.len();
        // Every result by input position, or (failures only) the failures with theirs: no
        // slot per order is allocated for results that will not be kept.
        let mut slots: Vec<Option<BulkItem>> = if keep_successes {
            (0..total).map(|_| None).collect()
        } else {
            Vec::new()
        };
        let mut failures: Vec<(usize, BulkItem)> = Vec::new();
        let mut progress = BulkProgress {
            done: 0,
            failed: 0,
            total,
        };
        // Each future owns its order ref: a stream of futures over borrowed arguments is not
        // provably `Send` (a higher-ranked lifetime), and a server must be able to spawn this.
        let mut running =
            futures_util::stream::iter(unique.into_iter().enumerate().map(|(i, at)| {
                let order = orders[at].clone();
                async move {
                    let result = self.record_payment(&order).await;
                    (i, BulkItem { order, result })
                }
            }))
            .buffer_unordered(options.concurrency.max(1));
        while let Some((i, item)) = running.next().await {
            progress.done += 1;
            if item.result.is_err() {
                progress.failed += 1;
            }
            on_item(&item, progress);
            if keep_successes {
                slots[i] = Some(item);
            } else if item.result.is_err() {
                failures.push((i, item));
            }
        }
        if keep_successes {
            BulkReport {
                items: slots.into_iter().flatten().collect(),
                omitted_successes: 0,
            }
        } else {
            failures.sort_unstable_by_key(|(i, _)| *i);
            BulkReport {
                omitted_successes: total - failures.len(),
                items: failures.into_iter().map(|(_, item)| item).collect(),
            }
        }
    }
}
