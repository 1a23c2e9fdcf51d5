//! A loopback emulator of GMO Payment Gateway's protocol-type card API (GMO-PG, プロトコルタイプ):
//! Renkei's stripe-mock for GMO-PG.
//!
//! It speaks GMO-PG's wire protocol on `/payment/NAME.idPass` (Windows-31J form bodies in,
//! `Key=Value&…` Windows-31J replies out, errors as `ErrCode=…|…&ErrInfo=…|…`), keeps every
//! shop's transactions with the statuses of `SearchTrade`, models the actions of GMO-PG's
//! management screen, and can be told to misbehave at the socket level. The protocol facts and
//! the behaviour it follows are in `docs/protocols/gmopg.md` (§10 its proposals, §11 its
//! specification); the crate README lists the test tokens and cards.
//!
//! Embedded in a test:
//!
//! ```no_run
//! # async fn demo() -> Result<(), renkei_emulator_gmopg::EmulatorError> {
//! use renkei_emulator_gmopg::{Api, Config, Fault, GmopgEmulator};
//!
//! let emulator = GmopgEmulator::start(Config::default()).await?;
//! let endpoint = emulator.base_url(); // http://127.0.0.1:PORT/payment/
//! emulator.install_fault(Fault::reply_lost().on_api(Api::ExecTran));
//! // … drive a client against `endpoint`, then inspect:
//! let dump = emulator.dump();
//! # let _ = (endpoint, dump);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! As a process: the `renkei-emulator-gmopg` binary (what `renkei certify plugins/gmopg`
//! starts), or [`serve`].
//!
//! Independence: this crate depends on no plugin and not on the SDK, and shares no encoding or
//! parsing code with the GMO-PG plugin, so a bug cannot hide by being mirrored in both.
//!
//! Code map: `server` (routing, the wire checks, the faults around a card request) sits on
//! `renkei-emulator-kit` (accept loop, hyper, byte-level faults, the shared fault vocabulary;
//! `faults` adds GMO-PG's matcher); `wire` (Windows-31J forms in, `Key=Value&` out), `codes`
//! (error replies), `ops` (the five endpoints and the management screen), `state` (the book),
//! `control` (the `/__emulator__/` surface), `clock` (the adjustable clock, JST dates).

mod clock;
mod codes;
mod config;
mod control;
mod faults;
mod ops;
mod server;
mod state;
mod wire;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use clock::{Timestamp, gmo_datetime, jst_string, parse_time};
pub use codes::{CODES, CodeEntry, GmoError, catalogue, err_code, message};
pub use config::{
    CancelDateRule, CardLimit, Config, DECLINE_CODES, DEFAULT_SHOP_ID, DEFAULT_SHOP_PASS,
    DeclineRule, LIMIT_CARD, LIMIT_CARD_LIMIT, MULTI_ERRORS, Shop, TEST_CARD_OK, TEST_TOKEN_LIMIT,
    TEST_TOKEN_MULTI, TEST_TOKEN_OK, TestToken, decline_card, decline_token,
};
pub use faults::{
    DEFAULT_GATEWAY_ERROR, Fault, FaultId, FaultKind, FaultLifetime, FaultMatch, InstalledFault,
};
pub use ops::{AdminAction, Api, MAX_AMOUNT, MAX_ORDER_ID, cancel_job_code};
pub use server::GMO_CONTENT_TYPE;
pub use state::{BookEntry, Dump, Event, Origin, Status, Transaction};

use ops::Ctx;
use state::Shared;

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

/// A running emulator. Dropping the handle stops the server; [`GmopgEmulator::shutdown`] also
/// waits for it.
pub struct GmopgEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl GmopgEmulator {
    /// Starts on an ephemeral loopback port (`127.0.0.1:0`), inside a Tokio runtime.
    pub async fn start(config: Config) -> Result<GmopgEmulator, EmulatorError> {
        GmopgEmulator::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts on `listen`.
    pub async fn bind(listen: SocketAddr, config: Config) -> Result<GmopgEmulator, EmulatorError> {
        config.validate().map_err(EmulatorError::Config)?;
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
        tracing::info!(%addr, "GMO-PG emulator listening");
        Ok(GmopgEmulator {
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

    /// `http://127.0.0.1:PORT/payment/`: what a client appends `NAME.idPass` to, instead of
    /// `https://HOST/payment/` (§10.1).
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, server::PAYMENT_PREFIX)
    }

    /// The same as [`GmopgEmulator::base_url`], under the name the other emulators use.
    pub fn endpoint_url(&self) -> String {
        self.base_url()
    }

    /// `http://127.0.0.1:PORT/__emulator__/`: the control surface.
    pub fn control_url(&self) -> String {
        format!("http://{}/__emulator__/", self.addr)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The instance config a GMO-PG plugin needs to talk to this emulator as its first shop:
    /// `endpoint`, `shop_id`, `shop_pass` (§10.1). Plain strings, so the emulator depends on no
    /// client crate.
    pub fn plugin_config(&self) -> Vec<(&'static str, String)> {
        let shop = &self.shared.config.shops[0];
        vec![
            ("endpoint", self.base_url()),
            ("shop_id", shop.shop_id.clone()),
            ("shop_pass", shop.shop_pass.clone()),
        ]
    }

    /// The start banner (address, shop, test tokens and cards).
    pub fn banner(&self) -> String {
        banner(self.addr, &self.shared.config)
    }

    /// Forgets every transaction, registered token and fault; the clock returns to its start.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Everything it holds.
    pub fn dump(&self) -> Dump {
        self.shared.dump()
    }

    /// The book as the conformance suite compares it: executed transactions only.
    pub fn book(&self) -> Vec<BookEntry> {
        self.shared.book()
    }

    /// The transaction with this `OrderID` (in any shop; the first one registered).
    pub fn transaction(&self, order_id: &str) -> Option<Transaction> {
        self.transactions()
            .into_iter()
            .find(|t| t.order_id == order_id)
    }

    /// Every transaction, oldest first.
    pub fn transactions(&self) -> Vec<Transaction> {
        self.shared.with_ledger(|ledger, _| ledger.transactions())
    }

    /// Installs a fault rule; see [`Fault`].
    pub fn install_fault(&self, fault: Fault) -> FaultId {
        self.shared.faults.install(fault)
    }

    /// Requests a latency fault holds and has not yet processed: wait for zero before comparing
    /// a client's belief with the book.
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

    /// The emulator clock, Unix seconds.
    pub fn now(&self) -> Timestamp {
        self.shared.with_ledger(|ledger, _| ledger.now())
    }

    /// Sets the emulator clock (Unix seconds).
    pub fn set_clock(&self, t: Timestamp) {
        self.shared.with_ledger(|ledger, _| ledger.clock.set(t));
    }

    /// Moves the emulator clock forward (to the next day, month, or past 180 days).
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .with_ledger(|ledger, _| ledger.clock.advance(by.as_secs() as i64));
    }

    /// Registers (or replaces) a token.
    pub fn add_token(&self, token: TestToken) {
        self.shared.with_ledger(|ledger, _| {
            ledger.used_tokens.remove(&token.token);
            ledger.tokens.insert(token.token.clone(), token)
        });
    }

    /// Runs a management-screen action on the first shop's order `order_id`; the shop is not
    /// told. Refusals carry the code the API call it stands for would answer.
    pub fn admin(
        &self,
        action: AdminAction,
        order_id: &str,
        amount: Option<u64>,
    ) -> Result<Transaction, GmoError> {
        let shop = self.shared.config.shops[0].shop_id.clone();
        self.admin_in_shop(action, &shop, order_id, amount)
    }

    /// [`GmopgEmulator::admin`] for another shop.
    pub fn admin_in_shop(
        &self,
        action: AdminAction,
        shop_id: &str,
        order_id: &str,
        amount: Option<u64>,
    ) -> Result<Transaction, GmoError> {
        self.shared.with_ledger(|ledger, config| {
            let mut ctx = Ctx {
                ledger,
                config,
                origin: Origin::Admin,
            };
            ops::admin(&mut ctx, action, shop_id, order_id, amount)
        })
    }

    /// 実売上 from the management screen: capture the authorization at its amount.
    pub fn admin_capture(&self, order_id: &str) -> Result<Transaction, GmoError> {
        self.admin(AdminAction::Capture, order_id, None)
    }

    /// 取消/返品 from the management screen: `VOID`, `RETURN` or `RETURNX` by the date (§7.1).
    pub fn admin_cancel(&self, order_id: &str) -> Result<Transaction, GmoError> {
        self.admin(AdminAction::Cancel, order_id, None)
    }

    /// 金額変更 from the management screen.
    pub fn admin_change_amount(
        &self,
        order_id: &str,
        amount: u64,
    ) -> Result<Transaction, GmoError> {
        self.admin(AdminAction::ChangeAmount, order_id, Some(amount))
    }

    /// Stops accepting, closes every connection, and waits for the server to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for GmopgEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Runs the emulator on `listen` until Ctrl-C: prints the endpoint URL as the first line of
/// stdout, then the [`banner`], then serves.
pub async fn serve(listen: SocketAddr, config: Config) -> Result<(), EmulatorError> {
    let emulator = GmopgEmulator::bind(listen, config).await?;
    println!("{}", emulator.base_url());
    println!("{}", emulator.banner());
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}

/// The text printed at start: where it listens, the shop, the tokens and cards.
pub fn banner(addr: SocketAddr, config: &Config) -> String {
    let mut text = format!(
        "GMO-PG emulator listening on http://{addr}\n\
         \x20 card API:  http://{addr}/payment/<EntryTran|ExecTran|AlterTran|ChangeTran|SearchTrade>.idPass\n\
         \x20 control:   http://{addr}/__emulator__/  (dump, book, clock, faults, tokens, reset, admin/...)\n"
    );
    for shop in &config.shops {
        text.push_str(&format!(
            "  shop:      ShopID {} (ShopPass in the config, {} characters)\n",
            shop.shop_id,
            shop.shop_pass.chars().count()
        ));
    }
    text.push_str(&format!(
        "  approves:  Token {TEST_TOKEN_OK}, or CardNo {TEST_CARD_OK} with a future Expire (YYMM)\n  declines:\n"
    ));
    for rule in &config.decline_rules {
        text.push_str(&format!(
            "    CardNo {} or Token {} -> {}\n",
            rule.card_no,
            decline_token(&rule.code),
            rule.code
        ));
    }
    for limit in &config.card_limits {
        text.push_str(&format!(
            "    CardNo {} above {} yen -> 42G550000 (Token {TEST_TOKEN_LIMIT})\n",
            limit.card_no, limit.limit
        ));
    }
    text.push_str(&format!(
        "  multi-error: Token {TEST_TOKEN_MULTI} -> {}\n",
        MULTI_ERRORS.join("|")
    ));
    text
}
