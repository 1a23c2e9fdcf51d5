//! A loopback emulator of the F-REGI card gateway: Renkei's stripe-mock for F-REGI.
//!
//! It speaks F-REGI's wire protocol on `/connect/<script>.cgi` and `/connecttest/<script>.cgi`
//! (GET or form POST in, EUC-JP `OK`/`NG` lines out), keeps per-shop transaction state with the
//! seed manual's ten statuses, models operations made in F-REGI's own admin screen, and can be
//! told to misbehave at the socket level. The protocol facts and the behaviour it follows are in
//! `docs/protocols/fregi.md` (§11 is the specification); the crate README lists the test
//! cards, the reason codes and which of them are invented placeholders.
//!
//! Embedded in a test:
//!
//! ```no_run
//! # async fn demo() -> Result<(), renkei_emulator_fregi::EmulatorError> {
//! use renkei_emulator_fregi::{Config, Fault, FregiEmulator, Script};
//!
//! let emulator = FregiEmulator::start(Config::default()).await?;
//! let base = emulator.base_url(); // http://127.0.0.1:PORT/connect/
//! emulator.install_fault(Fault::reply_lost().on_script(Script::Sale));
//! // … drive a client against `base`, then inspect:
//! let dump = emulator.dump();
//! # let _ = (base, dump);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! As a process, `renkei emulator fregi --listen 127.0.0.1:PORT` calls [`serve`].
//!
//! Independence: this crate depends on no plugin and not on the SDK, and shares no encoding or
//! parsing code with the F-REGI plugin, so a bug cannot hide by being mirrored in both.
//!
//! Code map: `server` (routing of F-REGI's paths and the control surface, the faults around a
//! card request) and `reply` (F-REGI's EUC-JP replies, JSON, error pages) sit on
//! `renkei-emulator-kit`, which holds the accept loop, hyper, the byte-level faults and the fault
//! vocabulary shared with the SBPS emulator (`faults` adds F-REGI's matcher); `ops`, `state`,
//! `wire`, `codes`, `status`, `card` hold the protocol and the book; `control` the
//! `/__emulator__/` surface and admin-screen actions; `clock` the adjustable clock and JST dates
//! (jiff's calendar).

mod card;
mod clock;
mod codes;
mod config;
mod control;
mod faults;
mod ops;
mod reply;
mod server;
mod state;
mod status;
mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use card::Brand;
pub use clock::Timestamp;
pub use codes::{Api, CodeEntry, Ng, Problem, catalogue};
pub use config::{
    AuthcodeStyle, CardLimit, Config, DeclineRule, FREGI_TEST_CARD, LineEnding, RepeatSale,
    TestToken, TimeOfDay,
};
pub use control::{AdminAction, AdminOutcome};
pub use faults::{
    DEFAULT_GATEWAY_ERROR, Fault, FaultId, FaultKind, FaultLifetime, FaultMatch, InstalledFault,
};
pub use ops::Script;
pub use state::{BatchReport, CustomerView, Dump, Environment, Origin, Transaction};
pub use status::{STATUSES, Status, StatusInfo};

use state::Shared;
use wire::Params;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    /// Other I/O failure (e.g. waiting for Ctrl-C).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A running emulator. Dropping the handle stops the server; [`FregiEmulator::shutdown`] also
/// waits until every connection is closed.
pub struct FregiEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl FregiEmulator {
    /// Starts on an ephemeral loopback port (`127.0.0.1:0`). Must be called inside a Tokio
    /// runtime; the server runs as tasks of that runtime.
    pub async fn start(config: Config) -> Result<FregiEmulator, EmulatorError> {
        FregiEmulator::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts on `listen`.
    pub async fn bind(listen: SocketAddr, config: Config) -> Result<FregiEmulator, EmulatorError> {
        config.validate()?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::accept_loop(listener, Arc::clone(&shared), stopped));
        tracing::info!(%addr, "F-REGI emulator listening");
        Ok(FregiEmulator {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/connect/`: the base URL a client uses instead of
    /// `https://ssl.f-regi.com/connect/`.
    pub fn base_url(&self) -> String {
        format!("http://{}/connect/", self.addr)
    }

    /// `http://127.0.0.1:PORT/connecttest/` (same scripts; same state unless
    /// `separate_environments`).
    pub fn test_base_url(&self) -> String {
        format!("http://{}/connecttest/", self.addr)
    }

    /// `http://127.0.0.1:PORT/__emulator__/`: the control surface.
    pub fn control_url(&self) -> String {
        format!("http://{}/__emulator__/", self.addr)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The config values (key, value) a gateway client such as Renkei's F-REGI plugin needs to
    /// talk to this emulator as its first shop, including the emulator-only inquiry extension
    /// (F-REGI itself has none). Plain strings, so the emulator depends on no client crate.
    pub fn plugin_config(&self) -> Vec<(&'static str, String)> {
        let mut values = vec![("base_url", self.base_url())];
        if let Some(shop) = self.shared.config.shops.first() {
            values.push(("shop_id", shop.clone()));
        }
        values.push(("inquiry_url", format!("{}info", self.control_url())));
        values
    }

    /// The start banner (address, shop, test cards).
    pub fn banner(&self) -> String {
        banner(self.addr, &self.shared.config)
    }

    /// Forgets every transaction, customer, registered token and fault; the clock and `SEQNO`
    /// counter return to their configured start.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Everything it holds.
    pub fn dump(&self) -> Dump {
        self.shared.dump()
    }

    /// One transaction by `SEQNO` (leading zeros optional), whatever its shop.
    pub fn transaction(&self, seqno: &str) -> Option<Transaction> {
        let seqno = seqno.parse::<u64>().ok()?;
        self.shared
            .with_ledger(|ledger, _| ledger.record_any(seqno).map(Transaction::from))
    }

    /// Every transaction, oldest first.
    pub fn transactions(&self) -> Vec<Transaction> {
        self.shared.with_ledger(|ledger, _| ledger.transactions())
    }

    /// Installs a fault rule; see [`Fault`].
    pub fn install_fault(&self, fault: Fault) -> FaultId {
        self.shared.faults.install(fault)
    }

    /// Requests a latency fault holds and has not yet processed: wait for zero before
    /// comparing a client's belief with the book.
    pub fn held_requests(&self) -> usize {
        self.shared.faults.held()
    }

    /// Removes one fault rule; false if it had already expired.
    pub fn remove_fault(&self, id: FaultId) -> bool {
        self.shared.faults.remove(id)
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The installed fault rules.
    pub fn faults(&self) -> Vec<InstalledFault> {
        self.shared.faults.list()
    }

    /// Runs the transmission batch now: `20`→`21`, `30`→`31`, due reservations `40`→`20`/`22`.
    pub fn run_batch(&self) -> BatchReport {
        self.shared.with_ledger(|ledger, config| {
            let now = ledger.now();
            ledger.run_batch(config, now)
        })
    }

    /// The emulator clock, Unix seconds.
    pub fn now(&self) -> Timestamp {
        self.shared.with_ledger(|ledger, _| ledger.now())
    }

    /// Sets the emulator clock (Unix seconds). Passing the automatic batch's cut-off runs it.
    pub fn set_clock(&self, t: Timestamp) {
        self.shared
            .with_ledger(|ledger, config| ledger.set_clock(config, t));
    }

    /// Moves the emulator clock forward, e.g. past the capture window.
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .with_ledger(|ledger, _| ledger.clock.advance(by.as_secs() as i64));
    }

    /// Registers (or replaces) a token.
    pub fn add_token(&self, token: TestToken) {
        self.shared
            .with_ledger(|ledger, _| ledger.tokens.insert(token.token.clone(), token));
    }

    /// Runs an admin-screen action with F-REGI parameter names (`SHOPID`, `SEQNO`, `PAY`, …) on
    /// the `/connect/` book.
    pub fn admin(&self, action: AdminAction, params: &[(&str, &str)]) -> Result<AdminOutcome, Ng> {
        control::admin(
            &self.shared,
            action,
            Environment::Production,
            &Params::from_pairs(params.iter().copied()),
        )
    }

    /// Admin 承認金額変更 (rule F-5): the old `SEQNO` becomes 承認取消 and a new one carries
    /// `amount`; the shop is not told.
    pub fn admin_change_amount(
        &self,
        shop_id: &str,
        seqno: &str,
        amount: u32,
    ) -> Result<AdminOutcome, Ng> {
        self.admin_with_amount(AdminAction::ChangeAmount, shop_id, seqno, amount)
    }

    /// Admin 売上請求: capture from the admin screen.
    pub fn admin_sale(&self, shop_id: &str, seqno: &str) -> Result<AdminOutcome, Ng> {
        self.admin(AdminAction::Sale, &[("SHOPID", shop_id), ("SEQNO", seqno)])
    }

    /// Admin 取消: authorization cancel or sale cancel, whichever applies.
    pub fn admin_cancel(&self, shop_id: &str, seqno: &str) -> Result<AdminOutcome, Ng> {
        self.admin(
            AdminAction::Cancel,
            &[("SHOPID", shop_id), ("SEQNO", seqno)],
        )
    }

    /// Admin 売上金額変更 (e.g. a partial refund after capture, rule G-7).
    pub fn admin_sale_change(
        &self,
        shop_id: &str,
        seqno: &str,
        amount: u32,
    ) -> Result<AdminOutcome, Ng> {
        self.admin_with_amount(AdminAction::SaleChange, shop_id, seqno, amount)
    }

    /// An admin action on `SEQNO` that carries a new amount (`PAY`).
    fn admin_with_amount(
        &self,
        action: AdminAction,
        shop_id: &str,
        seqno: &str,
        amount: u32,
    ) -> Result<AdminOutcome, Ng> {
        let amount = amount.to_string();
        self.admin(
            action,
            &[("SHOPID", shop_id), ("SEQNO", seqno), ("PAY", &amount)],
        )
    }

    /// Admin 予約: a reserved order (`40`) with `authm`'s parameters.
    pub fn admin_reserve(&self, params: &[(&str, &str)]) -> Result<AdminOutcome, Ng> {
        self.admin(AdminAction::Reserve, params)
    }

    /// Release a reservation: `10`, or `41` 通常処理（有効性確認済み） with the decline as error.
    pub fn admin_release(&self, shop_id: &str, seqno: &str) -> Result<AdminOutcome, Ng> {
        self.admin(
            AdminAction::Release,
            &[("SHOPID", shop_id), ("SEQNO", seqno)],
        )
    }

    /// Stops accepting, closes every connection, and waits for the server to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FregiEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Runs the emulator as a process on `listen` until Ctrl-C: prints the [`banner`] to stdout,
/// then serves. This is what `renkei emulator fregi --listen ADDR` calls.
pub async fn serve(listen: SocketAddr, config: Config) -> Result<(), EmulatorError> {
    let emulator = FregiEmulator::bind(listen, config).await?;
    println!("{}", emulator.banner());
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}

/// The text printed at start: where it listens, the shop, the cards that approve and decline.
pub fn banner(addr: SocketAddr, config: &Config) -> String {
    let mut text = format!(
        "F-REGI emulator listening on http://{addr}\n\
         \x20 card API:      http://{addr}/connect/<script>.cgi  (also /connecttest/)\n\
         \x20 control:       http://{addr}/__emulator__/  (info, dump, batch, clock, faults, reset, admin/...)\n\
         \x20 SHOPID:        {}\n\
         \x20 approves:      any Luhn-valid card with a future expiry, e.g. 4111111111111111 12/30\n\
         \x20 F-REGI test card {} approves with SCODE 111, declines with SCODE 123\n",
        config.shops.join(", "),
        FREGI_TEST_CARD,
    );
    text.push_str("  declines:\n");
    for rule in &config.decline_rules {
        let scode = rule
            .scode
            .as_deref()
            .map(|s| format!(" with SCODE {s}"))
            .unwrap_or_default();
        text.push_str(&format!(
            "    {}{scode} -> {}({})\n",
            rule.pan, rule.code, rule.message
        ));
    }
    for limit in &config.card_limits {
        text.push_str(&format!(
            "    {} above {} yen -> JCN-G55(限度額オーバー)\n",
            limit.pan, limit.limit
        ));
    }
    text.push_str("  tokens:\n");
    for token in &config.tokens {
        let what = if token.expired {
            "expired -> A1-1-171".to_owned()
        } else {
            format!("card {}", token.pan)
        };
        text.push_str(&format!(
            "    {} ({what}); unknown tokens -> A1-1-170\n",
            token.token
        ));
    }
    text
}
