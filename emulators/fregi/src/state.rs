//! Per-shop transaction state (`docs/protocols/fregi.md` §11.1-7) and the transmission batch (§10.4).
//!
//! One [`Ledger`] behind one mutex holds everything: every operation locks it once, does all its
//! checks and changes, and unlocks before any I/O. That makes each request atomic, so parallel
//! requests on one transaction are serialised (no double transition) and requests on different
//! transactions cannot lose each other's updates. Operations are microseconds long, so a single
//! lock is not the bottleneck (see the throughput benchmark).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::card::{Brand, Card, acquirer_decision};
use crate::clock::{Clock, Date, Timestamp, jst_date, jst_string};
use crate::codes::Ng;
use crate::config::{AuthcodeStyle, Config, TestToken};
use crate::faults::FaultBook;
use crate::status::Status;

/// Which F-REGI path tree a request came through.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// `/connect/` (production paths).
    #[default]
    Production,
    /// `/connecttest/` (test paths).
    Test,
}

/// Who made a transaction or its last change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A shop's call to a `/connect*` script.
    Api,
    /// An operator in F-REGI's management screen (`/__emulator__/admin/…`); the shop is not told
    /// (rule G-8).
    Admin,
    /// The transmission batch (due reservations).
    Batch,
}

/// A `SEQNO` as the emulator holds it; on the wire it is 20 digits, zero-padded.
pub(crate) type Seqno = u64;

/// Formats a `SEQNO` for the wire.
pub(crate) fn seqno_text(seqno: Seqno) -> String {
    format!("{seqno:020}")
}

#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub seqno: Seqno,
    pub env: Environment,
    pub shop_id: String,
    pub id: String,
    pub amount: u32,
    pub authcode: String,
    pub status: Status,
    /// The sale (not its cancellation) has been transmitted at some point.
    pub sale_transmitted: bool,
    pub created_at: Timestamp,
    pub authorized_at: Option<Timestamp>,
    pub sold_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    pub customer_id: Option<String>,
    pub card: Card,
    pub replaces: Option<Seqno>,
    pub replaced_by: Option<Seqno>,
    pub origin: Origin,
    /// Who made the last change (the shop's API, an admin action, or the batch).
    pub updated_by: Origin,
    pub sale_date: Option<Date>,
    pub free: Option<String>,
    pub failure: Option<Ng>,
}

/// What a new record starts with; the ledger adds `SEQNO`, `AUTHCODE` and times.
pub(crate) struct Draft {
    pub env: Environment,
    pub shop_id: String,
    pub id: Option<String>,
    pub amount: u32,
    pub status: Status,
    pub card: Card,
    pub customer_id: Option<String>,
    pub replaces: Option<Seqno>,
    pub origin: Origin,
    pub sale_date: Option<Date>,
    pub free: Option<String>,
    pub failure: Option<Ng>,
}

#[derive(Clone, Debug)]
pub(crate) struct Customer {
    pub card: Card,
    pub registered_at: Timestamp,
}

/// Book-keeping key: environment (collapsed when environments are shared) and shop.
type Scope = (Environment, String);

/// All mutable emulator state.
pub(crate) struct Ledger {
    separate_environments: bool,
    records: BTreeMap<Seqno, Record>,
    by_id: HashMap<(Scope, String), Vec<Seqno>>,
    customers: BTreeMap<(Scope, String), Customer>,
    pub tokens: HashMap<String, TestToken>,
    pub used_tokens: std::collections::HashSet<String>,
    next_seqno: Seqno,
    rng: StdRng,
    style: AuthcodeStyle,
    pub clock: Clock,
    last_auto_batch: Timestamp,
}

impl Ledger {
    pub fn new(config: &Config) -> Ledger {
        let clock = Clock::starting_at(config.clock_start);
        let mut ledger = Ledger {
            separate_environments: config.separate_environments,
            records: BTreeMap::new(),
            by_id: HashMap::new(),
            customers: BTreeMap::new(),
            tokens: config
                .tokens
                .iter()
                .map(|t| (t.token.clone(), t.clone()))
                .collect(),
            used_tokens: Default::default(),
            next_seqno: config.seqno_start,
            rng: config
                .seed
                .map_or_else(StdRng::from_entropy, StdRng::seed_from_u64),
            style: config.authcode_style,
            clock,
            last_auto_batch: 0,
        };
        ledger.last_auto_batch = ledger.latest_cutoff(config).unwrap_or(0);
        ledger
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn scope(&self, env: Environment, shop: &str) -> Scope {
        let env = if self.separate_environments {
            env
        } else {
            Environment::Production
        };
        (env, shop.to_owned())
    }

    pub fn record(&self, env: Environment, shop: &str, seqno: Seqno) -> Option<&Record> {
        let scope = self.scope(env, shop);
        self.records
            .get(&seqno)
            .filter(|r| r.shop_id == shop && self.scope(r.env, &r.shop_id) == scope)
    }

    /// A record by `SEQNO` alone, for changes after an access-checked lookup.
    pub fn record_mut_any(&mut self, seqno: Seqno) -> Option<&mut Record> {
        self.records.get_mut(&seqno)
    }

    pub fn record_any(&self, seqno: Seqno) -> Option<&Record> {
        self.records.get(&seqno)
    }

    /// True when `id` is held by a transaction that did not fail.
    pub fn id_in_use(&self, env: Environment, shop: &str, id: &str) -> bool {
        self.by_id
            .get(&(self.scope(env, shop), id.to_owned()))
            .is_some_and(|seqnos| {
                seqnos
                    .iter()
                    .any(|s| self.records.get(s).is_some_and(|r| !r.status.is_failure()))
            })
    }

    /// The transaction an `ID` stands for: the newest that did not fail, else the newest.
    pub fn record_by_id(&self, env: Environment, shop: &str, id: &str) -> Option<&Record> {
        let seqnos = self.by_id.get(&(self.scope(env, shop), id.to_owned()))?;
        let records = || seqnos.iter().rev().filter_map(|s| self.records.get(s));
        records()
            .find(|r| !r.status.is_failure())
            .or_else(|| records().next())
    }

    pub fn customer(&self, env: Environment, shop: &str, customer_id: &str) -> Option<&Customer> {
        self.customers
            .get(&(self.scope(env, shop), customer_id.to_owned()))
    }

    pub fn register_customer(
        &mut self,
        env: Environment,
        shop: &str,
        customer_id: &str,
        card: Card,
    ) {
        let registered_at = self.now();
        self.customers.insert(
            (self.scope(env, shop), customer_id.to_owned()),
            Customer {
                card,
                registered_at,
            },
        );
    }

    pub fn remove_customer(&mut self, env: Environment, shop: &str, customer_id: &str) -> bool {
        let key = (self.scope(env, shop), customer_id.to_owned());
        self.customers.remove(&key).is_some()
    }

    fn new_authcode(&mut self) -> String {
        match self.style {
            AuthcodeStyle::Digits => format!("{:06}", self.rng.gen_range(0..1_000_000u32)),
            AuthcodeStyle::Letters => {
                const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
                (0..6)
                    .map(|_| char::from(LETTERS[self.rng.gen_range(0..LETTERS.len())]))
                    .collect()
            }
        }
    }

    /// Creates a record: a fresh `SEQNO`, an `AUTHCODE` when the status carries an authorization,
    /// and the timestamps its status implies. Returns the new `SEQNO`.
    pub fn insert(&mut self, draft: Draft) -> Seqno {
        let now = self.now();
        let seqno = self.next_seqno;
        self.next_seqno += 1;
        let authorized = matches!(draft.status, Status::Authorized | Status::SoldPending);
        let authcode = if authorized {
            self.new_authcode()
        } else {
            String::new()
        };
        let id = draft.id.unwrap_or_else(|| seqno_text(seqno));
        let record = Record {
            seqno,
            env: draft.env,
            shop_id: draft.shop_id,
            id: id.clone(),
            amount: draft.amount,
            authcode,
            status: draft.status,
            sale_transmitted: false,
            created_at: now,
            authorized_at: authorized.then_some(now),
            sold_at: (draft.status == Status::SoldPending).then_some(now),
            cancelled_at: None,
            customer_id: draft.customer_id,
            card: draft.card,
            replaces: draft.replaces,
            replaced_by: None,
            origin: draft.origin,
            updated_by: draft.origin,
            sale_date: draft.sale_date,
            free: draft.free,
            failure: draft.failure,
        };
        let scope = self.scope(record.env, &record.shop_id);
        self.by_id.entry((scope, id)).or_default().push(seqno);
        self.records.insert(seqno, record);
        seqno
    }

    /// Gives an existing record (a released or due reservation) its authorization.
    pub fn authorize_existing(&mut self, seqno: Seqno, status: Status) {
        let now = self.now();
        let authcode = self.new_authcode();
        if let Some(r) = self.records.get_mut(&seqno) {
            r.authcode = authcode;
            r.status = status;
            r.authorized_at = Some(now);
            if status == Status::SoldPending {
                r.sold_at = Some(now);
            }
        }
    }

    /// Runs the automatic batch if the clock has passed a cut-off since the last run. Called at
    /// the start of every locked operation, so the batch happens "as the clock passes" without a
    /// timer task.
    pub fn catch_up(&mut self, config: &Config) {
        if let Some(cutoff) = self.latest_cutoff(config) {
            if cutoff > self.last_auto_batch {
                self.last_auto_batch = cutoff;
                self.run_batch(config, cutoff);
            }
        }
    }

    fn latest_cutoff(&self, config: &Config) -> Option<Timestamp> {
        let at = config.auto_batch_at?;
        let now = self.now();
        let today = jst_date(now).jst_midnight() + at.seconds();
        Some(if today <= now { today } else { today - 86_400 })
    }

    /// Sets the clock; moving it back re-arms the automatic batch from the new time.
    pub fn set_clock(&mut self, config: &Config, t: Timestamp) {
        let before = self.now();
        self.clock.set(t);
        if t < before {
            self.last_auto_batch = self.latest_cutoff(config).unwrap_or(0);
        }
    }

    /// The transmission batch as of `as_of`: sales and sale cancellations made by then are sent
    /// (`20`→`21`, `30`→`31`), then reservations due by that date are authorized and sold
    /// (`40`→`20`, or `22` on decline). New sales wait for the next batch.
    pub fn run_batch(&mut self, config: &Config, as_of: Timestamp) -> BatchReport {
        let mut report = BatchReport::default();
        for r in self.records.values_mut() {
            match r.status {
                Status::SoldPending if r.sold_at.is_some_and(|t| t <= as_of) => {
                    r.status = Status::SoldTransmitted;
                    r.sale_transmitted = true;
                    report.sales_transmitted += 1;
                }
                Status::SaleCancelledPending
                    if r.cancelled_at.is_some_and(|t| t <= as_of)
                        && (r.sale_transmitted
                            || config.batch_transmits_untransmitted_cancellations) =>
                {
                    r.status = Status::SaleCancelledTransmitted;
                    report.cancellations_transmitted += 1;
                }
                _ => {}
            }
        }
        let today = jst_date(as_of);
        let due: Vec<(Seqno, Card, u32)> = self
            .records
            .values()
            .filter(|r| r.status == Status::Reserved && r.sale_date.is_some_and(|d| d <= today))
            .map(|r| (r.seqno, r.card.clone(), r.amount))
            .collect();
        for (seqno, card, amount) in due {
            let verdict = if card.valid_at(as_of) {
                acquirer_decision(config, &card, None, amount)
            } else {
                Err(Ng::custom("JCN-G83", "有効期限エラー"))
            };
            match verdict {
                Ok(()) => {
                    self.authorize_existing(seqno, Status::SoldPending);
                    report.reservations_sold += 1;
                }
                Err(ng) => {
                    if let Some(r) = self.records.get_mut(&seqno) {
                        r.status = Status::SaleFailed;
                        r.failure = Some(ng);
                    }
                    report.reservations_failed += 1;
                }
            }
            if let Some(r) = self.records.get_mut(&seqno) {
                r.updated_by = Origin::Batch;
            }
        }
        report
    }

    /// Every record, oldest first, as the public view.
    pub fn transactions(&self) -> Vec<Transaction> {
        self.records.values().map(Transaction::from).collect()
    }

    pub fn customers(&self) -> Vec<CustomerView> {
        self.customers
            .iter()
            .map(|(((env, shop), id), c)| CustomerView {
                environment: *env,
                shop_id: shop.clone(),
                customer_id: id.clone(),
                card: c.card.masked(),
                expiry: format!("{}/{}", c.card.month_2(), c.card.year_2()),
                state: "承認有効".into(),
                registered_at: c.registered_at,
            })
            .collect()
    }

    pub fn next_seqno(&self) -> Seqno {
        self.next_seqno
    }
}

/// Counts of what one batch run changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReport {
    /// `20` → `21`.
    pub sales_transmitted: usize,
    /// `30` → `31`.
    pub cancellations_transmitted: usize,
    /// `40` → `20`.
    pub reservations_sold: usize,
    /// `40` → `22`.
    pub reservations_failed: usize,
}

/// One transaction as dumps and the Rust API show it (card masked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// 20-digit `SEQNO`.
    pub seqno: String,
    /// Path tree it was made through.
    pub environment: Environment,
    /// `SHOPID`.
    pub shop_id: String,
    /// `ID` (伝票番号); the `SEQNO` when the shop sent none.
    pub id: String,
    /// Amount in yen.
    pub amount: u32,
    /// `AUTHCODE`; empty when there is no authorization (declined, reserved).
    pub authcode: String,
    /// Status.
    pub status: Status,
    /// The status's manual label.
    pub status_label: String,
    /// The current state has been transmitted (`21`, `31`).
    pub transmitted: bool,
    /// The sale was transmitted at some point (a `30` after a `21`).
    pub sale_transmitted: bool,
    /// Creation time, Unix seconds (emulator clock).
    pub created_at: Timestamp,
    /// Authorization time.
    pub authorized_at: Option<Timestamp>,
    /// Sale time.
    pub sold_at: Option<Timestamp>,
    /// Cancellation time (authorization or sale).
    pub cancelled_at: Option<Timestamp>,
    /// Registered customer the card came from, if any.
    pub customer_id: Option<String>,
    /// Masked card number.
    pub card: String,
    /// Brand.
    pub brand: Brand,
    /// The `SEQNO` this one replaced (amount change).
    pub replaces: Option<String>,
    /// The `SEQNO` that replaced this one.
    pub replaced_by: Option<String>,
    /// Who made it.
    pub origin: Origin,
    /// Who made the last change to it.
    pub updated_by: Origin,
    /// Due date of a reservation.
    pub sale_date: Option<String>,
    /// `FREE` text as decoded.
    pub free: Option<String>,
    /// Reason of a failure (`11`, `22`, `41`).
    pub failure: Option<String>,
}

impl From<&Record> for Transaction {
    fn from(r: &Record) -> Transaction {
        Transaction {
            seqno: seqno_text(r.seqno),
            environment: r.env,
            shop_id: r.shop_id.clone(),
            id: r.id.clone(),
            amount: r.amount,
            authcode: r.authcode.clone(),
            status: r.status,
            status_label: r.status.label().to_owned(),
            transmitted: r.status.is_transmitted(),
            sale_transmitted: r.sale_transmitted,
            created_at: r.created_at,
            authorized_at: r.authorized_at,
            sold_at: r.sold_at,
            cancelled_at: r.cancelled_at,
            customer_id: r.customer_id.clone(),
            card: r.card.masked(),
            brand: r.card.brand(),
            replaces: r.replaces.map(seqno_text),
            replaced_by: r.replaced_by.map(seqno_text),
            origin: r.origin,
            updated_by: r.updated_by,
            sale_date: r.sale_date.map(|d| d.to_string()),
            free: r.free.clone(),
            failure: r.failure.as_ref().map(Ng::line),
        }
    }
}

/// A registered customer (stored card) as dumps show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerView {
    /// Path tree.
    pub environment: Environment,
    /// `SHOPID`.
    pub shop_id: String,
    /// `CUSTOMERID`.
    pub customer_id: String,
    /// Masked card number.
    pub card: String,
    /// `MM/YY`.
    pub expiry: String,
    /// Always 承認有効 (the admin screen's label for a registered customer).
    pub state: String,
    /// Registration time.
    pub registered_at: Timestamp,
}

/// Everything the emulator holds, as `GET /__emulator__/dump` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dump {
    /// Emulator clock, Unix seconds.
    pub now: Timestamp,
    /// Emulator clock in JST.
    pub now_jst: String,
    /// The `SEQNO` the next transaction will get.
    pub next_seqno: String,
    /// Every transaction, oldest first.
    pub transactions: Vec<Transaction>,
    /// Registered customers.
    pub customers: Vec<CustomerView>,
    /// Installed faults.
    pub faults: Vec<crate::faults::InstalledFault>,
}

/// State shared by the server's connections and the embedding test's handle.
pub(crate) struct Shared {
    pub config: Config,
    ledger: Mutex<Ledger>,
    pub faults: FaultBook,
}

/// Locks a mutex, ignoring poisoning: a panic in one request must not brick the emulator, and
/// every operation leaves the ledger consistent before it can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        let ledger = Mutex::new(Ledger::new(&config));
        Shared {
            config,
            ledger,
            faults: FaultBook::default(),
        }
    }

    /// Runs `f` on the ledger under the lock, after the automatic batch has caught up. `f` must
    /// not block: the lock is a std mutex shared by every connection.
    pub fn with_ledger<R>(&self, f: impl FnOnce(&mut Ledger, &Config) -> R) -> R {
        let mut ledger = lock(&self.ledger);
        ledger.catch_up(&self.config);
        f(&mut ledger, &self.config)
    }

    pub fn reset(&self) {
        *lock(&self.ledger) = Ledger::new(&self.config);
        self.faults.clear();
    }

    pub fn dump(&self) -> Dump {
        let faults = self.faults.list();
        self.with_ledger(|l, _| {
            let now = l.now();
            Dump {
                now,
                now_jst: jst_string(now),
                next_seqno: seqno_text(l.next_seqno()),
                transactions: l.transactions(),
                customers: l.customers(),
                faults,
            }
        })
    }
}
