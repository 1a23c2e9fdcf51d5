//! A host killed in the middle of a batch of captures, at a moment the gateway's faults choose
//! rather than timing: the journal commits many captures' starts together (group commit), so a
//! kill leaves a whole batch behind, and two kinds of leftover must both be settled exactly
//! once. Some captures were journaled and reached F-REGI, which never processed them (held
//! unanswered, `no_reply`); others F-REGI processed and sold, and the journal never heard
//! (held after processing, `no_reply_after_processing`). Both look the same in the journal:
//! pending, the sale journaled, no reply.

use super::{
    HostRun, KillWhen, TestJournal, World, assert_consistent, decide_reviews_from_the_book,
    done_lines, host, host_with, lines, on_journal, postgres_journal, recovered, results,
    sqlite_journal, world,
};
use renkei_emulator_fregi::{Fault, Script, Status};
use renkei_host::journal::OperationStatus;
use renkei_sdk::{OperationKind, OrderRef};
use renkei_tests::fregi_seqno;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Orders in the batch.
const BATCH: usize = 200;
/// Captures F-REGI holds without processing them when the host is killed.
const UNPROCESSED: usize = 8;
/// Captures F-REGI has processed (sold) and holds the reply of when the host is killed.
const UNRECORDED: usize = 8;

/// The batch's host. Its deadline must outlast the rest of the batch: the held captures are
/// still to be waiting for their replies at the kill. A deadline that ran out first would have
/// the host record them unknown and settle them itself, and the check before the restart fails
/// saying so (the held captures are the batch's last, so they wait only for its tail: under a
/// second in five runs of each journal on a loaded 2-core machine).
const BATCH_RUN: HostRun = HostRun {
    concurrency: 64,
    deadline_ms: 5_000,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn g_a_host_killed_mid_batch_settles_unprocessed_and_unrecorded_captures_exactly_once() {
    killed_mid_batch("midbatch", sqlite_journal("midbatch")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn g_a_host_killed_mid_batch_settles_unprocessed_and_unrecorded_captures_exactly_once_on_postgres()
 {
    let what = "a host killed mid batch, on a PostgreSQL journal";
    if let Some(j) = postgres_journal("midbatch", what).await {
        killed_mid_batch("pgmidbatch", j).await;
    }
}

/// Where each order stands, read from the journal and from the gateway's book.
#[derive(Debug, Default)]
struct Standing {
    /// Captured at the gateway and in the journal.
    recorded: BTreeSet<String>,
    /// Pending in the journal with its sale journaled and unanswered; still authorized at the
    /// gateway.
    unprocessed: BTreeSet<String>,
    /// Pending in the journal with its sale journaled and unanswered; sold at the gateway.
    unrecorded: BTreeSet<String>,
}

fn is_sold(status: Status) -> bool {
    matches!(status, Status::SoldPending | Status::SoldTransmitted)
}

/// Sorts every order into [`Standing`]; any other combination of journal and book fails.
fn standing(w: &World) -> Standing {
    let mut s = Standing::default();
    for (order, seqno, _) in &w.orders {
        let captures: Vec<_> = w
            .journal
            .operations(&OrderRef::new(order))
            .unwrap()
            .into_iter()
            .filter(|op| op.kind == OperationKind::Capture)
            .collect();
        assert_eq!(captures.len(), 1, "{order}: one capture journaled");
        let op = &captures[0];
        let exchanges = w.journal.exchanges(op.id).unwrap();
        let unanswered = exchanges.len() == 1 && exchanges[0].reply.is_none();
        let gateway = w.emulator.transaction(fregi_seqno(seqno)).unwrap().status;
        let bucket = match (op.status, unanswered, gateway) {
            (OperationStatus::Succeeded, false, g) if is_sold(g) => &mut s.recorded,
            (OperationStatus::Pending, true, Status::Authorized) => &mut s.unprocessed,
            (OperationStatus::Pending, true, g) if is_sold(g) => &mut s.unrecorded,
            (status, _, g) => panic!(
                "{order}: the journal has the capture {status:?} with {} exchange(s) ({}), \
                 the gateway shows {g:?} (a held capture whose deadline ran out before the kill \
                 is settled by the host itself: see BATCH_RUN)",
                exchanges.len(),
                if unanswered { "unanswered" } else { "answered" },
            ),
        };
        bucket.insert(order.clone());
    }
    s
}

/// Money-moving requests the journal says left the host for each order (its `sale`s; the
/// inquiries recovery made are read-only).
fn sales_sent(w: &World) -> BTreeMap<String, usize> {
    w.orders
        .iter()
        .map(|(order, _, _)| {
            let sent = w
                .journal
                .operations(&OrderRef::new(order))
                .unwrap()
                .into_iter()
                .filter(|op| op.kind == OperationKind::Capture)
                .flat_map(|op| w.journal.exchanges(op.id).unwrap())
                .filter(|x| x.sent.effect.may_move_money())
                .count();
            (order.clone(), sent)
        })
        .collect()
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn killed_mid_batch(name: &str, j: TestJournal) {
    let begun = Instant::now();
    let w = Arc::new(world(name, BATCH, &j).await);
    // The held captures are the batch's last orders: the host starts them last, so their
    // deadlines run only from the batch's tail to the kill.
    let held = &w.orders[BATCH - UNPROCESSED - UNRECORDED..];
    let (unprocessed, unrecorded) = held.split_at(UNPROCESSED);
    for (_, t, _) in unprocessed {
        w.emulator.install_fault(
            Fault::no_reply()
                .on_script(Script::Sale)
                .on_seqno(fregi_seqno(t)),
        );
    }
    for (_, t, _) in unrecorded {
        w.emulator.install_fault(
            Fault::no_reply_after_processing()
                .on_script(Script::Sale)
                .on_seqno(fregi_seqno(t)),
        );
    }
    let names = |orders: &[(String, String, i64)]| -> BTreeSet<String> {
        orders.iter().map(|o| o.0.clone()).collect()
    };
    let (want_unprocessed, want_unrecorded) = (names(unprocessed), names(unrecorded));
    let others = BATCH - held.len();

    // The kill: every other capture done (its outcome committed before its line is printed),
    // every held sale at the gateway (each one-shot rule fired, so none is left), and those held
    // after processing already sold in the book.
    let watch = w.clone();
    let sold: Vec<String> = unrecorded
        .iter()
        .map(|(_, t, _)| fregi_seqno(t).to_owned())
        .collect();
    let kill_when: KillWhen = Box::new(move |lines| {
        done_lines(lines) >= others
            && watch.emulator.faults().is_empty()
            && sold
                .iter()
                .all(|t| is_sold(watch.emulator.transaction(t).unwrap().status))
    });
    let started = Instant::now();
    let first = lines(host_with(&w, BATCH_RUN), Some(kill_when)).await;
    let killed = Instant::now();
    let killed_ms = unix_ms();
    assert!(
        !first.iter().any(|l| l.starts_with("summary ")),
        "the host finished the batch before it was killed:\n{}",
        first.join("\n")
    );
    w.emulator.clear_faults();

    // Before any restart, both kinds of leftover must be there, or the test no longer tests
    // what it is named after.
    let at_kill = on_journal(&w, standing).await;
    assert!(
        !at_kill.unprocessed.is_empty() && !at_kill.unrecorded.is_empty(),
        "both kinds of leftover at the kill: unprocessed {:?}, unrecorded {:?}, {} recorded",
        at_kill.unprocessed,
        at_kill.unrecorded,
        at_kill.recorded.len()
    );
    assert_eq!(
        at_kill.unprocessed, want_unprocessed,
        "journaled, sent, never processed"
    );
    assert_eq!(
        at_kill.unrecorded, want_unrecorded,
        "processed by the gateway, never recorded"
    );
    assert_eq!(
        at_kill.recorded.len(),
        others,
        "the rest captured and recorded"
    );

    // How long the earliest held sale had waited for its reply when the host died: the margin
    // left under the batch host's deadline.
    let held_names: BTreeSet<String> = names(held);
    let first_held_ms = on_journal(&w, move |w| {
        held_names
            .iter()
            .flat_map(|o| w.journal.operations(&OrderRef::new(o)).unwrap())
            .filter(|op| op.kind == OperationKind::Capture)
            .flat_map(|op| w.journal.exchanges(op.id).unwrap())
            .map(|x| x.sent_at_ms)
            .min()
            .unwrap()
    })
    .await;
    let longest_hold = Duration::from_millis((killed_ms - first_held_ms).max(0) as u64);

    // The dead host's leases (from its last writes, before the kill) must run out before
    // another host may claim its operations.
    tokio::time::sleep_until((killed + BATCH_RUN.lease() + Duration::from_millis(200)).into())
        .await;
    let restarted = Instant::now();
    let second = lines(host(&w), None).await;
    let recovered_at = Instant::now();
    let recovery = recovered(&second);
    // The sold ones are settled by inquiry. The unprocessed ones are the gateway's own
    // unresolvable case: F-REGI declares no request expiry and its capture is not replay-safe,
    // so an inquiry finding the payment still authorized cannot prove the sale will never be
    // processed (one held at the gateway may still be), and they go to review.
    assert_eq!(
        (
            recovery.applied,
            recovery.not_applied,
            recovery.needs_review
        ),
        (UNRECORDED, 0, UNPROCESSED),
        "{}",
        recovery.line
    );
    // The same batch run again sends nothing for an order already captured, and nothing for
    // one in review.
    let expected: BTreeMap<String, String> = w
        .orders
        .iter()
        .map(|(o, _, _)| {
            let result = if want_unprocessed.contains(o) {
                "refused"
            } else {
                "already"
            };
            (o.clone(), result.to_owned())
        })
        .collect();
    assert_eq!(results(&second), expected, "the batch run after recovery");

    // The operator reads F-REGI's screen, finds them unsold and decides "no effect"; the batch
    // run once more captures those, once.
    assert_eq!(decide_reviews_from_the_book(&w).await, UNPROCESSED);
    let third = lines(host(&w), None).await;
    let expected: BTreeMap<String, String> = expected
        .into_iter()
        .map(|(o, r)| {
            let r = if r == "refused" {
                "captured"
            } else {
                "already"
            };
            (o, r.to_owned())
        })
        .collect();
    assert_eq!(
        results(&third),
        expected,
        "the batch run after the decisions"
    );

    assert_consistent(&w).await;
    // A second sale left the host only for the orders whose first F-REGI never processed.
    let sent = on_journal(&w, sales_sent).await;
    for (order, n) in &sent {
        let want = 1 + usize::from(want_unprocessed.contains(order));
        assert_eq!(*n, want, "{order}: sales sent");
    }
    eprintln!(
        "{name}: setup {:.1?}, batch until the kill {:.1?} (longest hold {longest_hold:.1?} \
         of a {} ms deadline), lease wait {:.1?}, restart \
         (recovery and the batch again) {:.1?}, decisions and the last run {:.1?}, total {:.1?}",
        started - begun,
        killed - started,
        BATCH_RUN.deadline_ms,
        restarted - killed,
        recovered_at - restarted,
        recovered_at.elapsed(),
        begun.elapsed()
    );
    j.drop_schema().await;
}
