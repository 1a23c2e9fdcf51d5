//! Group commit: the journal calls of many orders share one transaction and one durable commit.
//!
//! A bulk run has dozens of operations in flight, each wanting a durable write before its request
//! leaves and another after its reply. Committing each on its own makes the disk's flush (and on
//! PostgreSQL, the round trips of a transaction) the price of every order. Here a writer
//! connection keeps one transaction open: each call runs its statements in it, in turn, then waits
//! until a commit covers that transaction. The first caller to find no commit in progress commits
//! for everyone whose work is in it; the calls that arrive meanwhile go into the next transaction.
//! Under load one commit covers many orders' writes; alone, a call pays one commit as before.
//!
//! What stays true of every call (the journal's contract, [`super::JournalStore`]):
//! - it returns `Ok` only once a commit covering all of its writes is durable, so no request
//!   leaves before its write-ahead record is on disk;
//! - a call that fails leaves nothing behind: its own writes are undone (SQLite: a savepoint;
//!   PostgreSQL: the call wrote nothing, or the whole transaction is abandoned and the other calls
//!   in it run again, see [`Call::Abandon`]);
//! - calls run one at a time on the connection, each seeing the writes of those before it, as if
//!   each were its own serial transaction.

use super::logic::Tx;
use super::store::JournalError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a committer lets calls already waiting for the connection join its transaction.
const JOIN_WINDOW: Duration = Duration::from_millis(2);

/// How many times a call runs again after the transaction it was in was abandoned (by another
/// call's failure) or it met an order another host holds, before it gives up.
const MAX_RERUNS: u32 = 64;

/// How one call went inside the shared transaction.
pub(crate) enum Call<T> {
    /// Finished, and the transaction is intact: on `Err` the call's writes are already undone.
    Done(Result<T, JournalError>),
    /// The call failed in a way its own writes cannot be undone alone (PostgreSQL aborts the
    /// whole transaction on a failed statement): the transaction is abandoned, the call returns
    /// its error, and every other call in it runs again in the next one.
    Abandon(JournalError),
    /// The call needs an order's lock that another host holds, and did nothing. It runs again
    /// once this connection's transaction (whose locks the other host may be waiting for) has
    /// committed: never waiting while holding locks is what keeps two hosts' batches from
    /// deadlocking.
    Busy,
}

/// A writer connection of one backend.
pub(crate) trait GroupConn: Send {
    fn begin(&mut self) -> Result<(), JournalError>;
    /// Commits the open transaction; on failure it is rolled back.
    fn commit(&mut self) -> Result<(), String>;
    fn rollback(&mut self);
    /// Runs one call in the open transaction.
    fn call<T>(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>) -> Call<T>;
}

/// One writer connection and the bookkeeping of its shared transactions.
pub(crate) struct Group<C> {
    conn: Mutex<Batch<C>>,
    /// Calls waiting for the connection: a committer lets them in first (briefly), or each
    /// commit would carry one call.
    queued: AtomicUsize,
    state: Mutex<State>,
    settled: Condvar,
}

struct Batch<C> {
    conn: C,
    /// A transaction is open on `conn`.
    open: bool,
    /// The id of the open (or last) transaction.
    id: u64,
}

#[derive(Default)]
struct State {
    /// Every transaction up to this id has been committed, has failed or was abandoned.
    done: u64,
    /// A caller is committing.
    committing: bool,
    /// Transactions that did not commit. Never pruned: a waiter may read it long after, and
    /// failures are rare (a full disk, a lost connection, a call that could not be undone).
    failed: Vec<(u64, Ended)>,
}

#[derive(Clone)]
enum Ended {
    /// The commit failed: every call in it failed.
    CommitFailed(String),
    /// Rolled back on purpose: every call in it runs again.
    Abandoned,
}

impl<C: GroupConn> Group<C> {
    pub(crate) fn new(conn: C) -> Group<C> {
        Group {
            conn: Mutex::new(Batch {
                conn,
                open: false,
                id: 0,
            }),
            queued: AtomicUsize::new(0),
            state: Mutex::new(State::default()),
            settled: Condvar::new(),
        }
    }

    /// Gives the connection back (to be dropped where the backend must drop it).
    pub(crate) fn into_conn(self) -> C {
        self.conn
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .conn
    }

    /// Runs `f` in the shared transaction and returns once a commit covering it is durable.
    pub(crate) fn transaction<T>(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let mut reruns = 0;
        loop {
            let (value, id) = {
                self.queued.fetch_add(1, Ordering::SeqCst);
                let mut b = self.conn.lock().unwrap_or_else(|e| e.into_inner());
                self.queued.fetch_sub(1, Ordering::SeqCst);
                if !b.open {
                    b.conn.begin()?;
                    b.open = true;
                    b.id += 1;
                }
                let id = b.id;
                match b.conn.call(f) {
                    Call::Done(Ok(value)) => (value, id),
                    Call::Done(Err(e)) => {
                        drop(b);
                        // The transaction must still end (it holds locks other hosts wait
                        // for), and this call may be the only one in it. Its own outcome is the
                        // error either way.
                        let _ = self.wait_for_commit(id);
                        return Err(e);
                    }
                    Call::Abandon(e) => {
                        b.conn.rollback();
                        b.open = false;
                        // Settled before the connection is released, so that no later
                        // transaction can be marked done ahead of it.
                        self.finish(id, Some(Ended::Abandoned), false);
                        return Err(e);
                    }
                    Call::Busy => {
                        drop(b);
                        let _ = self.wait_for_commit(id);
                        reruns += 1;
                        if reruns > MAX_RERUNS {
                            return Err(JournalError::Storage(
                                "an order stayed locked by another host".into(),
                            ));
                        }
                        // Let the other host's transaction commit too.
                        std::thread::sleep(Duration::from_micros(200 * u64::from(reruns.min(10))));
                        continue;
                    }
                }
            };
            match self.wait_for_commit(id) {
                Ok(()) => return Ok(value),
                Err(Ended::Abandoned) if reruns < MAX_RERUNS => reruns += 1,
                Err(Ended::Abandoned) => {
                    return Err(JournalError::Storage(
                        "the journal transaction was abandoned too many times".into(),
                    ));
                }
                Err(Ended::CommitFailed(e)) => {
                    return Err(JournalError::Storage(format!("commit failed: {e}")));
                }
            }
        }
    }

    /// Returns once transaction `id` is settled (committing it, and everything that joined it,
    /// if nobody else is), with how it ended when it did not commit.
    fn wait_for_commit(&self, id: u64) -> Result<(), Ended> {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if g.done >= id {
                return match g.failed.iter().rev().find(|(f, _)| *f == id) {
                    Some((_, ended)) => Err(ended.clone()),
                    None => Ok(()),
                };
            }
            if !g.committing {
                g.committing = true;
                drop(g);
                // Let the calls already queued for the connection join this commit.
                let start = Instant::now();
                while self.queued.load(Ordering::SeqCst) > 0 && start.elapsed() < JOIN_WINDOW {
                    std::thread::yield_now();
                }
                let mut b = self.conn.lock().unwrap_or_else(|e| e.into_inner());
                let batch = b.id;
                let ended = if b.open {
                    b.open = false;
                    b.conn.commit().err().map(Ended::CommitFailed)
                } else {
                    // Abandoned or already committed by the time we got the connection.
                    None
                };
                // Settled before the connection is released (see above).
                self.finish(batch, ended, true);
                drop(b);
                g = self.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            g = self.settled.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Records that every transaction up to `id` is settled, `ended` saying how `id` did when
    /// it did not commit; `committer` when called by the caller that was committing.
    fn finish(&self, id: u64, ended: Option<Ended>, committer: bool) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ended) = ended {
            g.failed.push((id, ended));
        }
        g.done = g.done.max(id);
        if committer {
            g.committing = false;
        }
        drop(g);
        self.settled.notify_all();
    }
}
