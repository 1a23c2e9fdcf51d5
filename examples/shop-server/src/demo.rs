//! `--demo`: the three gateways' loopback emulators in-process (SBPS, F-REGI, GMO-PG), their
//! plugins loaded from the plugin directory, a SQLite journal, and a few orders, so that the page shows something at
//! once. The tests start the same rig.

use renkei_emulator_fregi::{Config as FregiConfig, FregiEmulator};
use renkei_emulator_gmopg::GmopgEmulator;
use renkei_emulator_sbps::SbpsEmulator;
use renkei_host::shop::StatusChange;
use renkei_host::{Executor, Shop, ShopError};
use renkei_lab::{FregiSetup, Gateway, GmopgSetup, LabError, Linked, Plugins, SbpsSetup};
use renkei_sdk::{CustomerRef, Money, OrderRef, PaymentSource};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The gateway instance names of the demo.
pub const SBPS: &str = "sbps";
pub const FREGI: &str = "fregi";
pub const GMOPG: &str = "gmopg";
/// The emulated F-REGI shop id.
pub const FREGI_SHOP_ID: &str = renkei_lab::FREGI_SHOP_ID;
/// F-REGI's test token that approves (the emulator's `TESTTOKEN-OK`).
pub const FREGI_TOKEN: &str = renkei_lab::FREGI_TOKEN;
/// SBPS's test token (a Visa card) and any token key.
pub const SBPS_TOKEN: &str = renkei_lab::SBPS_TOKEN;
pub const SBPS_TOKEN_KEY: &str = renkei_lab::SBPS_TOKEN_KEY;
/// GMO-PG's test token that approves.
pub const GMOPG_TOKEN: &str = renkei_lab::GMOPG_TOKEN;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "{0} (build the plugins first: cargo build -p renkei-plugin-sbps -p renkei-plugin-fregi -p renkei-plugin-gmopg)"
    )]
    Plugins(#[source] LabError),
    /// An emulator that did not start, a plugin that refused its config, a journal that did
    /// not open.
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("{gateway} emulator: {message}")]
    Emulator {
        gateway: &'static str,
        message: String,
    },
    #[error("seeding order {order}: {source}")]
    Seed { order: String, source: ShopError },
}

/// How the demo's gateways are configured.
#[derive(Clone, Copy, Debug)]
pub struct DemoOptions {
    /// F-REGI with the emulator's inquiry extension (the default). Without it, as against
    /// F-REGI itself, an F-REGI outcome the host could not learn goes to an operator's review.
    pub fregi_inquiry: bool,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            fregi_inquiry: true,
        }
    }
}

/// The three emulators and a shop linked to them.
pub struct Demo {
    pub shop: Arc<Shop>,
    pub sbps: SbpsEmulator,
    pub fregi: FregiEmulator,
    pub gmopg: GmopgEmulator,
    pub journal: PathBuf,
}

/// The card source the demo's gateways accept.
pub fn token(gateway: &str) -> PaymentSource {
    match gateway {
        SBPS => renkei_lab::source(Gateway::Sbps),
        GMOPG => renkei_lab::source(Gateway::Gmopg),
        _ => renkei_lab::source(Gateway::Fregi),
    }
}

impl Demo {
    /// Starts the three emulators on 127.0.0.1, loads `renkei-plugin-sbps`,
    /// `renkei-plugin-fregi` and `renkei-plugin-gmopg` from `plugin_dir`, and opens the journal at `journal` (SQLite). No order yet.
    pub async fn start(
        plugin_dir: &Path,
        journal: &Path,
        deadline: Duration,
    ) -> Result<Demo, DemoError> {
        Demo::start_with(plugin_dir, journal, deadline, DemoOptions::default()).await
    }

    /// [`Demo::start`] with its gateways configured otherwise.
    pub async fn start_with(
        plugin_dir: &Path,
        journal: &Path,
        deadline: Duration,
        options: DemoOptions,
    ) -> Result<Demo, DemoError> {
        let plugins = Plugins::load(plugin_dir, &Gateway::ALL).map_err(DemoError::Plugins)?;
        let sbps = Linked::sbps(&plugins, SbpsSetup::default()).await?;
        // The emulator's own clock runs its transmission batch, as F-REGI's does.
        let fregi = Linked::fregi(
            &plugins,
            FregiSetup {
                emulator: FregiConfig::default(),
                inquiry: options.fregi_inquiry,
            },
        )
        .await?;
        let gmopg = Linked::gmopg(&plugins, GmopgSetup::default()).await?;
        let store = renkei_lab::open_sqlite(journal)?;
        let shop = renkei_lab::shop(
            "demo",
            Executor::new(store, deadline),
            [sbps.instance, fregi.instance, gmopg.instance],
        );
        shop.recover().await.map_err(|source| DemoError::Seed {
            order: "(recovery)".into(),
            source,
        })?;
        Ok(Demo {
            shop: Arc::new(shop),
            sbps: sbps.emulator,
            fregi: fregi.emulator,
            gmopg: gmopg.emulator,
            journal: journal.to_path_buf(),
        })
    }

    /// A card order authorized at checkout.
    pub async fn checkout(&self, order: &str, gateway: &str, yen: i64) -> Result<(), DemoError> {
        self.shop
            .checkout(
                &OrderRef::new(order),
                gateway,
                Money::jpy(yen),
                token(gateway),
                Some(CustomerRef::new("demo-customer")),
            )
            .await
            .map(drop)
            .map_err(|source| DemoError::Seed {
                order: order.into(),
                source,
            })
    }

    /// A few orders on both gateways, in the states an operator meets: unpaid and authorized
    /// (the bulk list), paid, cancelled, a pre-order, and one F-REGI authorization cancelled in
    /// F-REGI's admin screen, which a bulk "mark as paid" then reports with F-REGI's own message
    /// (F-10).
    pub async fn seed(&self) -> Result<(), DemoError> {
        let seed_err = |order: &str| {
            let order = order.to_owned();
            move |source| DemoError::Seed { order, source }
        };
        for (order, gateway, yen) in [
            ("100000920001", SBPS, 1_080),
            ("100000920002", SBPS, 3_300),
            ("100000920003", SBPS, 5_500),
            ("100000920004", SBPS, 2_750),
            ("100000930001", FREGI, 1_980),
            ("100000930002", FREGI, 12_800),
            ("100000930003", FREGI, 4_400),
            ("100000930004", FREGI, 660),
            ("100000950001", GMOPG, 2_420),
            ("100000950002", GMOPG, 15_400),
            ("100000950003", GMOPG, 990),
        ] {
            self.checkout(order, gateway, yen).await?;
        }
        let paid = OrderRef::new("100000920003");
        self.shop
            .record_payment(&paid)
            .await
            .map_err(seed_err("100000920003"))?;
        let paid = OrderRef::new("100000950002");
        self.shop
            .record_payment(&paid)
            .await
            .map_err(seed_err("100000950002"))?;
        let cancelled = OrderRef::new("100000920004");
        self.shop
            .change_status(&cancelled, StatusChange::Cancel, true)
            .await
            .map_err(seed_err("100000920004"))?;
        self.shop
            .register_pre_order(&OrderRef::new("100000930005"), FREGI, Money::jpy(8_800))
            .await
            .map_err(seed_err("100000930005"))?;
        // Cancelled in F-REGI's admin screen: the shop is not told (G-8).
        if let Some(seqno) = self
            .shop
            .payment(&OrderRef::new("100000930004"))
            .await
            .map_err(seed_err("100000930004"))?
            .and_then(|p| p.transaction)
        {
            self.fregi
                // The plugin's reference is SEQNO-AUTHCODE; the admin screen takes the SEQNO.
                .admin_cancel(
                    FREGI_SHOP_ID,
                    seqno
                        .as_str()
                        .split_once('-')
                        .map_or(seqno.as_str(), |(s, _)| s),
                )
                .map_err(|e| DemoError::Emulator {
                    gateway: FREGI,
                    message: format!("admin cancel: {} {}", e.code, e.message),
                })?;
        }
        Ok(())
    }
}
