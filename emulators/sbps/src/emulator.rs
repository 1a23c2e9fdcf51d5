//! The public handle: start the emulator in-process on a loopback port, drive and inspect it,
//! or run it as a process with [`serve`].

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::{AdminAction, AdminError};
use crate::config::{Config, ConfigError, TestToken};
use crate::engine::Engine;
use crate::faults::{Fault, FaultId, InstalledFault};
use crate::server::{self, API_PATH, CONTROL_PREFIX};
use crate::state::{Payment, Snapshot};
use crate::time::JstDateTime;

/// The emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is not usable.
    #[error("invalid emulator configuration: {0}")]
    Config(#[from] ConfigError),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// A running SBPS emulator. Dropping it stops the server (use [`SbpsEmulator::shutdown`] to
/// also wait for the accept loop to end).
#[derive(Debug)]
pub struct SbpsEmulator {
    engine: Arc<Engine>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl SbpsEmulator {
    /// Starts on an ephemeral port of 127.0.0.1 (for tests).
    pub async fn start(config: Config) -> Result<Self, StartError> {
        Self::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts on `listen` (port 0 picks a free one).
    pub async fn bind(listen: SocketAddr, config: Config) -> Result<Self, StartError> {
        let engine = Arc::new(Engine::new(config)?);
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(server::run(listener, Arc::clone(&engine), stopped));
        tracing::info!(%addr, "SBPS emulator listening");
        Ok(Self {
            engine,
            addr,
            stop,
            server: Some(server),
        })
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/xmlapi.do`: what an SBPS client is configured with.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}{API_PATH}", self.addr)
    }

    /// `http://127.0.0.1:PORT/__emulator__`: the control endpoints.
    pub fn control_url(&self) -> String {
        format!("http://{}{CONTROL_PREFIX}", self.addr)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.engine.config
    }

    /// The config values (key, value) a gateway client such as Renkei's SBPS plugin needs to talk
    /// to this emulator as its first merchant: endpoint, ids, hash key, 3DES key and IV. Plain
    /// strings, so the emulator depends on no client crate; tests, the demo and the examples
    /// build their gateway sections from it instead of repeating the defaults.
    pub fn plugin_config(&self) -> Vec<(&'static str, String)> {
        let mut values = vec![("endpoint", self.endpoint_url())];
        if let Some(m) = self.engine.config.merchants.first() {
            values.extend([
                ("merchant_id", m.merchant_id.clone()),
                ("service_id", m.service_id.clone()),
                ("hash_key", m.hash_key.clone()),
                ("des_key", m.des_key.clone()),
                ("des_iv", m.des_iv.clone()),
            ]);
        }
        values
    }

    /// Address and credentials, for printing at start.
    pub fn banner(&self) -> String {
        banner(self.addr, &self.engine.config)
    }

    /// Forgets every payment, order id, stored card, registered token and fault; the clock
    /// returns to its configured start.
    pub fn reset(&self) {
        self.engine.reset();
    }

    /// The whole state.
    pub fn dump(&self) -> Snapshot {
        self.engine.snapshot()
    }

    /// The whole state as JSON (the same document as `GET /__emulator__/dump`).
    pub fn dump_json(&self) -> serde_json::Value {
        serde_json::to_value(self.engine.snapshot()).unwrap_or(serde_json::Value::Null)
    }

    /// One payment.
    pub fn payment(&self, tracking_id: &str) -> Option<Payment> {
        self.engine.payment(tracking_id)
    }

    /// Installs a fault; the first installed matching fault fires.
    pub fn install_fault(&self, fault: Fault) -> FaultId {
        self.engine.faults.install(fault)
    }

    /// Requests a latency fault holds and has not yet processed: wait for zero before
    /// comparing a client's belief with the book.
    pub fn held_requests(&self) -> usize {
        self.engine.faults.held()
    }

    /// Removes a fault; `false` if it was not installed (or already used up).
    pub fn remove_fault(&self, id: FaultId) -> bool {
        self.engine.faults.remove(id)
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.engine.faults.clear();
    }

    /// The installed faults.
    pub fn faults(&self) -> Vec<InstalledFault> {
        self.engine.faults.list()
    }

    /// The emulator's JST clock.
    pub fn now(&self) -> JstDateTime {
        self.engine.clock.now()
    }

    /// Freezes the clock at `at`.
    pub fn set_clock(&self, at: JstDateTime) {
        self.engine.clock.set(at);
    }

    /// Moves the clock forward (frozen or running).
    pub fn advance_clock(&self, by: Duration) {
        self.engine
            .clock
            .advance(i64::try_from(by.as_secs()).unwrap_or(i64::MAX));
    }

    /// Back to the host's real time.
    pub fn use_system_clock(&self) {
        self.engine.clock.use_system();
    }

    /// Applies a management-tool action (rules G-8, S-3).
    pub fn admin(&self, action: AdminAction) -> Result<Payment, AdminError> {
        self.engine.admin(&action)
    }

    /// Management tool: capture, partially when `amount` is less than authorized.
    pub fn admin_capture(
        &self,
        tracking_id: &str,
        amount: Option<u32>,
    ) -> Result<Payment, AdminError> {
        self.admin(AdminAction::Capture {
            tracking_id: tracking_id.to_owned(),
            amount,
        })
    }

    /// Management tool: refund what remains.
    pub fn admin_refund(&self, tracking_id: &str) -> Result<Payment, AdminError> {
        self.admin(AdminAction::Refund {
            tracking_id: tracking_id.to_owned(),
        })
    }

    /// Management tool: refund `amount`.
    pub fn admin_partial_refund(
        &self,
        tracking_id: &str,
        amount: u32,
    ) -> Result<Payment, AdminError> {
        self.admin(AdminAction::PartialRefund {
            tracking_id: tracking_id.to_owned(),
            amount,
        })
    }

    /// Management tool: cancel an unsold authorization.
    pub fn admin_cancel(&self, tracking_id: &str) -> Result<Payment, AdminError> {
        self.admin(AdminAction::Cancel {
            tracking_id: tracking_id.to_owned(),
        })
    }

    /// Adds (or replaces) a token that authorizations accept.
    pub fn register_token(&self, token: TestToken) -> Result<(), ConfigError> {
        self.engine.register_token(token)
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for SbpsEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The text printed at start: where to send requests and with which credentials.
pub fn banner(addr: SocketAddr, config: &Config) -> String {
    let mut out = format!(
        "SBPS emulator listening on http://{addr}\n  API endpoint:  http://{addr}{API_PATH}\n  control:       http://{addr}{CONTROL_PREFIX}/\n"
    );
    for m in &config.merchants {
        out.push_str(&format!(
            "  merchant_id={} service_id={} hash_key={}\n    Basic auth: user {} password {}\n    3DES key {} iv {}  sales_mode={:?}\n",
            m.merchant_id,
            m.service_id,
            m.hash_key,
            m.basic_user(),
            m.basic_password(),
            m.des_key,
            m.des_iv,
            m.sales_mode,
        ));
    }
    out
}

/// Runs the emulator on `listen` until Ctrl-C, printing the [`banner`] first. This is what
/// `renkei emulator sbps --listen ADDR` calls.
pub async fn serve(listen: SocketAddr, config: Config) -> Result<(), StartError> {
    serve_until(listen, config, async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot wait for Ctrl-C; serving until killed");
            std::future::pending::<()>().await;
        }
    })
    .await
}

/// Runs the emulator on `listen` until `shutdown` completes, printing the [`banner`] first.
pub async fn serve_until(
    listen: SocketAddr,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let emulator = SbpsEmulator::bind(listen, config).await?;
    println!("{}", emulator.banner());
    shutdown.await;
    emulator.shutdown().await;
    Ok(())
}
