//! The emulator's book: every transaction of every shop, the tokens, the clock, the ids it
//! hands out, and which transactions a held request is processing (§7.7).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, Timestamp, gmo_datetime, jst_string};
use crate::config::{Config, TestToken};
use crate::faults::FaultBook;

/// A transaction's status as `SearchTrade` reports it (§6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// 未決済: registered by `EntryTran`, not executed.
    Unprocessed,
    /// 未決済(3D登録済): never produced here (no 3-D Secure).
    Authenticated,
    /// 有効性チェック: card checked, no money.
    Check,
    /// 即時売上: authorized and captured in one step.
    Capture,
    /// 仮売上: authorized.
    Auth,
    /// 実売上: captured after an authorization.
    Sales,
    /// 取消: cancelled on the reference date.
    Void,
    /// 返品: cancelled after the reference date, in its month.
    Return,
    /// 月跨り返品: cancelled in a later month.
    Returnx,
    /// 簡易オーソリ: simple authorization.
    Sauth,
}

impl Status {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unprocessed => "UNPROCESSED",
            Status::Authenticated => "AUTHENTICATED",
            Status::Check => "CHECK",
            Status::Capture => "CAPTURE",
            Status::Auth => "AUTH",
            Status::Sales => "SALES",
            Status::Void => "VOID",
            Status::Return => "RETURN",
            Status::Returnx => "RETURNX",
            Status::Sauth => "SAUTH",
        }
    }

    /// Whether money is held or was taken: an authorization or a sale not cancelled.
    pub fn holds_money(self) -> bool {
        matches!(
            self,
            Status::Auth | Status::Sales | Status::Capture | Status::Sauth
        )
    }
}

/// Who made a change: the shop's API, or GMO-PG's management screen (the shop is not told).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A request to `/payment/…`.
    Api,
    /// The management screen (`admin_*`, `/__emulator__/admin/…`).
    Admin,
}

/// One thing that happened to a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When (Unix seconds).
    pub at: Timestamp,
    /// The API and job code, e.g. `AlterTran SALES`.
    pub what: String,
    /// Who.
    pub by: Origin,
    /// `ok`, or the error line answered.
    pub result: String,
    /// The amount after it.
    pub amount: u64,
}

/// A transaction as the emulator holds it.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub shop_id: String,
    pub order_id: String,
    pub access_id: String,
    pub access_pass: String,
    /// The job code of the last operation (`SearchTrade`'s `JobCd`).
    pub job_cd: String,
    pub status: Status,
    pub amount: u64,
    pub tax: u64,
    pub card_no: String,
    pub expire: String,
    /// Per-authorization limit of the card, if it has one.
    pub card_limit: Option<u64>,
    pub method: String,
    pub pay_times: String,
    pub forward: String,
    pub approve: String,
    pub tran_id: String,
    pub process_date: Timestamp,
    pub client_fields: [String; 3],
    pub entered_at: Timestamp,
    pub executed_at: Option<Timestamp>,
    pub captured_at: Option<Timestamp>,
    /// The amount when captured (`SALES`, or `ExecTran` of a `CAPTURE`).
    pub captured_amount: Option<u64>,
    pub updated_by: Origin,
    pub history: Vec<Event>,
}

impl Record {
    /// The date the cancel rule counts from (§10.4): the capture once sold, else the execution.
    pub fn reference_time(&self) -> Option<Timestamp> {
        self.captured_at.or(self.executed_at)
    }
}

/// A transaction as tests and the dump see it. The `AccessPass` is left out: it is a secret the
/// shop holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// `ShopID`.
    pub shop_id: String,
    /// `OrderID`.
    pub order_id: String,
    /// `AccessID`.
    pub access_id: String,
    /// §6.
    pub status: Status,
    /// The last operation's job code.
    pub job_cd: String,
    /// Amount in yen.
    pub amount: u64,
    /// Tax in yen.
    pub tax: u64,
    /// Masked card number (empty before execution).
    pub card_no: String,
    /// `YYMM`.
    pub expire: String,
    /// Approval number of the last authorization or cancel.
    pub approve: String,
    /// Id of the last operation.
    pub tran_id: String,
    /// `ProcessDate` (`yyyyMMddHHmmss`, JST).
    pub process_date: String,
    /// `ClientField1..3`.
    pub client_fields: [String; 3],
    /// `EntryTran` time (Unix seconds).
    pub entered_at: Timestamp,
    /// `ExecTran` time.
    pub executed_at: Option<Timestamp>,
    /// `AlterTran SALES` time (or `ExecTran` for `CAPTURE`).
    pub captured_at: Option<Timestamp>,
    /// The amount when captured: with `amount`, what a later `ChangeTran CAPTURE` refunded
    /// (`captured_amount - amount`), or, once cancelled, that the cancel was of a sale.
    pub captured_amount: Option<u64>,
    /// Who made the last change.
    pub updated_by: Origin,
    /// Everything that happened, oldest first.
    pub history: Vec<Event>,
}

impl From<&Record> for Transaction {
    fn from(r: &Record) -> Transaction {
        Transaction {
            shop_id: r.shop_id.clone(),
            order_id: r.order_id.clone(),
            access_id: r.access_id.clone(),
            status: r.status,
            job_cd: r.job_cd.clone(),
            amount: r.amount,
            tax: r.tax,
            card_no: crate::config::mask(&r.card_no),
            expire: r.expire.clone(),
            approve: r.approve.clone(),
            tran_id: r.tran_id.clone(),
            process_date: gmo_datetime(r.process_date),
            client_fields: r.client_fields.clone(),
            entered_at: r.entered_at,
            executed_at: r.executed_at,
            captured_at: r.captured_at,
            captured_amount: r.captured_amount,
            updated_by: r.updated_by,
            history: r.history.clone(),
        }
    }
}

/// Everything the emulator holds (`GET /__emulator__/dump`).
#[derive(Clone, Debug, Serialize)]
pub struct Dump {
    /// The clock, Unix seconds.
    pub now: Timestamp,
    /// The clock in JST.
    pub now_jst: String,
    /// Every transaction, oldest first.
    pub transactions: Vec<Transaction>,
    /// Registered token names.
    pub tokens: Vec<String>,
    /// The fault rules.
    pub faults: Vec<crate::faults::InstalledFault>,
    /// Requests a latency fault holds.
    pub held_requests: usize,
}

/// One entry of the book the conformance suite compares (`GET /__emulator__/book`): only
/// transactions that hold or held money, i.e. executed ones; a registration (`EntryTran`) moves
/// no money and leaves no entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookEntry {
    /// `OrderID`.
    pub order_id: String,
    /// Status, amount, tax and the last `TranID`: words that change whenever money does.
    pub state: String,
}

/// The mutable book.
pub(crate) struct Ledger {
    pub records: Vec<Record>,
    by_order: HashMap<(String, String), usize>,
    by_access: HashMap<String, usize>,
    /// Orders a held request is processing: another request on them is `E90010001`.
    busy: HashMap<(String, String), usize>,
    pub tokens: HashMap<String, TestToken>,
    pub used_tokens: HashSet<String>,
    pub clock: Clock,
    rng: StdRng,
    serial: u64,
}

impl Ledger {
    fn new(config: &Config) -> Ledger {
        Ledger {
            records: Vec::new(),
            by_order: HashMap::new(),
            by_access: HashMap::new(),
            busy: HashMap::new(),
            tokens: config
                .tokens
                .iter()
                .map(|t| (t.token.clone(), t.clone()))
                .collect(),
            used_tokens: HashSet::new(),
            clock: Clock::starting_at(config.clock_start),
            rng: match config.seed {
                Some(seed) => StdRng::seed_from_u64(seed),
                None => StdRng::from_entropy(),
            },
            serial: 0,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn find_order(&self, shop_id: &str, order_id: &str) -> Option<usize> {
        self.by_order
            .get(&(shop_id.to_owned(), order_id.to_owned()))
            .copied()
    }

    /// The transaction with this AccessID, if the pass matches.
    pub fn find_access(&self, access_id: &str, access_pass: &str) -> Option<usize> {
        self.by_access
            .get(access_id)
            .copied()
            .filter(|&i| self.records[i].access_pass == access_pass)
    }

    /// The order of the transaction with this AccessID (fault matching, busy marks).
    pub fn order_of_access(&self, access_id: &str) -> Option<(String, String)> {
        self.by_access.get(access_id).map(|&i| {
            let r = &self.records[i];
            (r.shop_id.clone(), r.order_id.clone())
        })
    }

    pub fn insert(&mut self, record: Record) -> usize {
        let index = self.records.len();
        self.by_order
            .insert((record.shop_id.clone(), record.order_id.clone()), index);
        self.by_access.insert(record.access_id.clone(), index);
        self.records.push(record);
        index
    }

    pub fn is_busy(&self, shop_id: &str, order_id: &str) -> bool {
        self.busy
            .contains_key(&(shop_id.to_owned(), order_id.to_owned()))
    }

    pub fn mark_busy(&mut self, key: (String, String)) {
        *self.busy.entry(key).or_default() += 1;
    }

    pub fn unmark_busy(&mut self, key: &(String, String)) {
        if let Some(n) = self.busy.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.busy.remove(key);
            }
        }
    }

    /// 32 lowercase hex digits (AccessID, AccessPass, CheckString).
    pub fn hex32(&mut self) -> String {
        let n: u128 = self.rng.r#gen();
        format!("{n:032x}")
    }

    /// A new AccessID no transaction has.
    pub fn new_access_id(&mut self) -> String {
        loop {
            let id = self.hex32();
            if !self.by_access.contains_key(&id) {
                return id;
            }
        }
    }

    /// A 7-digit approval number.
    pub fn approve(&mut self) -> String {
        format!("{:07}", self.rng.gen_range(0..10_000_000u32))
    }

    /// A 28-digit TranID: `yyMMddHHmm` (JST), then 18 digits that increase.
    pub fn tran_id(&mut self) -> String {
        self.serial += 1;
        let stamp = gmo_datetime(self.now());
        let noise = self.rng.gen_range(0..1_000_000_000u64);
        format!("{}{:09}{:09}", &stamp[2..12], noise, self.serial)
    }

    pub fn transactions(&self) -> Vec<Transaction> {
        self.records.iter().map(Transaction::from).collect()
    }
}

/// The state shared by every connection.
pub(crate) struct Shared {
    pub config: Config,
    ledger: Mutex<Ledger>,
    pub faults: FaultBook,
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        let ledger = Ledger::new(&config);
        Shared {
            config,
            ledger: Mutex::new(ledger),
            faults: FaultBook::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ledger> {
        // A panic while holding the lock leaves a consistent book (every change is made whole
        // after its checks), so keep serving.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` with the book and the configuration.
    pub fn with_ledger<T>(&self, f: impl FnOnce(&mut Ledger, &Config) -> T) -> T {
        let mut ledger = self.lock();
        f(&mut ledger, &self.config)
    }

    pub fn reset(&self) {
        *self.lock() = Ledger::new(&self.config);
        self.faults.clear();
    }

    pub fn dump(&self) -> Dump {
        let (now, transactions, mut tokens) = self.with_ledger(|l, _| {
            (
                l.now(),
                l.transactions(),
                l.tokens.keys().cloned().collect::<Vec<_>>(),
            )
        });
        tokens.sort();
        Dump {
            now,
            now_jst: jst_string(now),
            transactions,
            tokens,
            faults: self.faults.list(),
            held_requests: self.faults.held(),
        }
    }

    pub fn book(&self) -> Vec<BookEntry> {
        self.with_ledger(|l, _| {
            l.records
                .iter()
                .filter(|r| r.executed_at.is_some())
                .map(|r| BookEntry {
                    order_id: r.order_id.clone(),
                    state: format!(
                        "{}, amount {}, tax {}, tran {}",
                        r.status.as_str(),
                        r.amount,
                        r.tax,
                        r.tran_id
                    ),
                })
                .collect()
        })
    }
}
