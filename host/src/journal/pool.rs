//! A fixed set of connections, lent one call at a time: the SQLite journal's read-only
//! connections and the PostgreSQL journal's reading clients.
//!
//! Not a pooling crate (r2d2 and the like): those open, test and replace connections on threads
//! of their own and give up on a checkout after a timeout. The journal wants none of that. A
//! PostgreSQL client may only be created and dropped off the async runtime's threads (see
//! `postgres::open`), so the journal opens every connection up front, on a thread it controls,
//! and drops them the same way; a caller waits for a connection as long as it takes, as a
//! transaction waits for a lock; and a broken connection is not replaced but lent again, so the
//! next call on it fails and says why instead of the journal quietly reconnecting. The writers
//! are not pooled at all: each is one connection that group commit shares (`group.rs`).

use super::store::JournalError;
use std::sync::{Condvar, Mutex, MutexGuard};

pub(crate) struct Pool<C> {
    free: Mutex<Vec<C>>,
    returned: Condvar,
}

impl<C> Pool<C> {
    /// Opens `size` connections (at least one) with `connect`, failing with the first error.
    pub(crate) fn open(
        size: usize,
        mut connect: impl FnMut() -> Result<C, JournalError>,
    ) -> Result<Pool<C>, JournalError> {
        let conns = (0..size.max(1))
            .map(|_| connect())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pool::new(conns))
    }

    /// A pool of connections opened by the caller (one of them may have run the migrations).
    pub(crate) fn new(conns: Vec<C>) -> Pool<C> {
        Pool {
            free: Mutex::new(conns),
            returned: Condvar::new(),
        }
    }

    /// Runs `f` on a free connection, waiting for one if all are lent. The connection goes back
    /// whatever `f` returns; a panic in `f` loses it (it may be mid-transaction).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut C) -> T) -> T {
        let mut conn = {
            let mut free = self.lock();
            loop {
                if let Some(c) = free.pop() {
                    break c;
                }
                free = self.returned.wait(free).unwrap_or_else(|e| e.into_inner());
            }
        };
        let value = f(&mut conn);
        self.lock().push(conn);
        self.returned.notify_one();
        value
    }

    /// Takes every free connection out of the pool, so the caller can drop them where it must.
    pub(crate) fn drain(&self) -> Vec<C> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<C>> {
        // A panic elsewhere while holding the lock leaves the list itself intact.
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_caller_waits_for_a_lent_connection_and_no_connection_is_lent_twice() {
        let pool = Arc::new(Pool::new(vec![0u32, 0u32]));
        let in_use = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (pool, in_use, most) = (pool.clone(), in_use.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        pool.with(|c| {
                            let n = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            *c += 1;
                            std::thread::yield_now();
                            in_use.fetch_sub(1, Ordering::SeqCst);
                        })
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(
            most.load(Ordering::SeqCst) <= 2,
            "more calls than connections"
        );
        let conns = pool.drain();
        assert_eq!(conns.len(), 2);
        assert_eq!(conns.iter().sum::<u32>(), 8 * 50);
    }

    #[test]
    fn opening_stops_at_the_first_failure_and_opens_at_least_one() {
        let mut n = 0;
        let err = Pool::open(3, || {
            n += 1;
            if n == 2 {
                Err(JournalError::Storage("refused".into()))
            } else {
                Ok(n)
            }
        })
        .err()
        .expect("the second connection fails");
        assert!(matches!(err, JournalError::Storage(m) if m == "refused"));
        assert_eq!(n, 2);
        assert_eq!(Pool::open(0, || Ok(())).unwrap().drain().len(), 1);
    }
}
