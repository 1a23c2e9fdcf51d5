//! `--demo`: both gateways' loopback emulators in-process, the two plugins loaded from the
//! plugin directory, a SQLite journal, and a few orders, so that the page shows something at
//! once. The tests start the same rig.

use renkei_emulator_fregi::{Config as FregiConfig, FregiEmulator};
use renkei_emulator_sbps::{Config as SbpsConfig, SbpsEmulator, TEST_TOKEN_VISA};
use renkei_host::journal::{self, JournalError};
use renkei_host::shop::StatusChange;
use renkei_host::{
    Executor, GatewaySection, InstanceError, LoadError, PluginRegistry, Shop, ShopError,
};
use renkei_sdk::{ConfigValue, CustomerRef, Money, OrderRef, PaymentSource, Secret};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The gateway instance names of the demo.
pub const SBPS: &str = "sbps";
pub const FREGI: &str = "fregi";
/// The emulated F-REGI shop id.
pub const FREGI_SHOP_ID: &str = "12345";
/// F-REGI's test token that approves (the emulator's `TESTTOKEN-OK`).
pub const FREGI_TOKEN: &str = "TESTTOKEN-OK";
/// SBPS's test token (a Visa card) and any token key.
pub const SBPS_TOKEN: &str = TEST_TOKEN_VISA;
pub const SBPS_TOKEN_KEY: &str = "token-key";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("starting the {gateway} emulator: {message}")]
    Emulator {
        gateway: &'static str,
        message: String,
    },
    #[error(
        "{0} (build the plugins first: cargo build -p renkei-plugin-sbps -p renkei-plugin-fregi)"
    )]
    Load(#[from] LoadError),
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error(transparent)]
    Journal(#[from] JournalError),
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

/// Both emulators and a shop linked to them.
pub struct Demo {
    pub shop: Arc<Shop>,
    pub sbps: SbpsEmulator,
    pub fregi: FregiEmulator,
    pub journal: PathBuf,
}

fn text(pairs: &[(&str, String)]) -> BTreeMap<String, ConfigValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ConfigValue::Text(v.clone())))
        .collect()
}

fn library(dir: &Path, package: &str) -> PathBuf {
    dir.join(format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    ))
}

/// The card source the demo's gateways accept.
pub fn token(gateway: &str) -> PaymentSource {
    if gateway == SBPS {
        PaymentSource::Token {
            token: Secret::new(SBPS_TOKEN),
            key: Some(Secret::new(SBPS_TOKEN_KEY)),
        }
    } else {
        PaymentSource::Token {
            token: Secret::new(FREGI_TOKEN),
            key: None,
        }
    }
}

impl Demo {
    /// Starts both emulators on 127.0.0.1, loads `renkei-plugin-sbps` and `renkei-plugin-fregi`
    /// from `plugin_dir`, and opens the journal at `journal` (SQLite). No order yet.
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
        let sbps = SbpsEmulator::start(SbpsConfig::default())
            .await
            .map_err(|e| DemoError::Emulator {
                gateway: SBPS,
                message: e.to_string(),
            })?;
        let fregi = FregiEmulator::start(FregiConfig::default())
            .await
            .map_err(|e| DemoError::Emulator {
                gateway: FREGI,
                message: e.to_string(),
            })?;
        let mut registry = PluginRegistry::new();
        registry.load_file(&library(plugin_dir, "renkei-plugin-sbps"))?;
        registry.load_file(&library(plugin_dir, "renkei-plugin-fregi"))?;
        let sbps_gateway = registry.instantiate(
            SBPS,
            &GatewaySection {
                plugin: "sbps".into(),
                values: text(&sbps.plugin_config()),
            },
        )?;
        let mut fregi_config = fregi.plugin_config();
        if !options.fregi_inquiry {
            // F-REGI has no public inquiry; the emulator's extension is this one key.
            fregi_config.retain(|(key, _)| *key != "inquiry_url");
        }
        let fregi_gateway = registry.instantiate(
            FREGI,
            &GatewaySection {
                plugin: "fregi".into(),
                values: text(&fregi_config),
            },
        )?;
        let store = journal::sqlite::open(journal)?;
        let executor = Arc::new(Executor::new(store.into(), deadline));
        let shop = Shop::new("demo", executor)
            .with_gateway(Arc::new(sbps_gateway), true)
            .with_gateway(Arc::new(fregi_gateway), true);
        shop.recover().await.map_err(|source| DemoError::Seed {
            order: "(recovery)".into(),
            source,
        })?;
        Ok(Demo {
            shop: Arc::new(shop),
            sbps,
            fregi,
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
        ] {
            self.checkout(order, gateway, yen).await?;
        }
        let paid = OrderRef::new("100000920003");
        self.shop
            .record_payment(&paid)
            .await
            .map_err(seed_err("100000920003"))?;
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
