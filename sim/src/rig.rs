//! The machinery a run drives: the gateways' emulators on loopback, the real plugins, a journal, and the
//! shop, which can be torn down mid-operation and built again on the same journal (a crash).

use crate::{Gw, JournalChoice, SimConfig, SimError};
use renkei_emulator_fregi::{FregiEmulator, TestToken as FregiToken};
use renkei_emulator_gmopg::{Config as GmopgConfig, GmopgEmulator, TestToken as GmopgToken};
use renkei_emulator_sbps::{Config as SbpsConfig, SbpsEmulator, TestCard, TestToken as SbpsToken};
use renkei_host::journal::{self, JournalStore};
use renkei_host::{Executor, GatewayInstance, Shop};
use renkei_lab::{FregiSetup, Gateway, GmopgSetup, Linked, Plugins, RequestWindow, SbpsSetup};
use renkei_sdk::{CustomerRef, PaymentSource, Secret};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Each exchange's deadline. Short, so faults that hold a reply cost little; long enough for
/// a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_millis(800);

/// The shop's name in the journal.
pub const SHOP: &str = "sim-shop";

/// A test-card token the gateway authorizes, and one it declines.
pub struct Cards {
    pub good: String,
    pub declined: &'static str,
    pub token_key: String,
}

pub struct Rig {
    pub sbps: Option<SbpsEmulator>,
    pub fregi: Option<FregiEmulator>,
    pub gmopg: Option<GmopgEmulator>,
    pub journal: Arc<dyn JournalStore>,
    pub shop: Arc<Shop>,
    /// The canary inside every configured secret.
    pub canary: String,
    pub sbps_cards: Cards,
    pub fregi_cards: Cards,
    pub gmopg_cards: Cards,
    pub fregi_shop_id: String,
    /// Whether F-REGI runs with the emulator's inquiry extension (the real gateway has none).
    pub fregi_inquiry: bool,
    pub journal_path: Option<PathBuf>,
    pub postgres_schema: Option<String>,
    plugins: Plugins,
    instances: Vec<Arc<GatewayInstance>>,
    config: SimConfig,
}

fn setup(e: impl std::fmt::Display) -> SimError {
    SimError::Setup(e.to_string())
}

impl Rig {
    pub async fn start(config: &SimConfig, fregi_inquiry: bool) -> Result<Rig, SimError> {
        let canary = format!("CANARY{:016x}", config.seed ^ 0x5eed_cafe_f00d_d00d);
        crate::logs::watch(&canary);

        let gateways: Vec<Gateway> = config.gateways.iter().map(|&gw| lab(gw)).collect();
        let plugins = Plugins::load(&config.plugin_dir, &gateways)
            .map_err(|e| setup(format!("{e} (build the plugins with `cargo build`)")))?;

        let sbps_cards = Cards {
            good: format!("TOKEN-{canary}"),
            declined: renkei_emulator_sbps::TEST_TOKEN_DECLINE_UNUSABLE,
            token_key: format!("key-{canary}"),
        };
        let fregi_cards = Cards {
            good: format!("TOKEN-{canary}"),
            declined: "TESTTOKEN-DECLINE",
            token_key: String::new(),
        };
        let gmopg_cards = Cards {
            good: format!("TOKEN-{canary}"),
            // `decline_token("42G020000")`: card balance insufficient (§5.3).
            declined: "TESTTOKEN-42G020000",
            token_key: String::new(),
        };
        let mut instances = Vec::new();
        let mut sbps = None;
        let mut fregi = None;
        let mut gmopg = None;
        let mut fregi_shop_id = String::new();
        for gw in &config.gateways {
            match gw {
                Gw::Sbps => {
                    let mut emulator = SbpsConfig::default();
                    emulator.merchants[0].hash_key = canary.clone();
                    // SBPS refuses a request after `limit_second`; the host settles a lost reply
                    // only after that plus the clock-skew margin. Small numbers, same rule.
                    let window = Some(RequestWindow {
                        limit_second: 2,
                        clock_skew_ms: 300,
                    });
                    let linked = Linked::sbps(&plugins, SbpsSetup { emulator, window })
                        .await
                        .map_err(setup)?;
                    let e = linked.emulator;
                    e.register_token(SbpsToken::new(
                        &sbps_cards.good,
                        TestCard::new("4111111111111111"),
                    ))
                    .map_err(setup)?;
                    instances.push(linked.instance);
                    sbps = Some(e);
                }
                Gw::Fregi => {
                    let linked = Linked::fregi(&plugins, FregiSetup::without_batch(fregi_inquiry))
                        .await
                        .map_err(setup)?;
                    let e = linked.emulator;
                    e.add_token(FregiToken {
                        token: fregi_cards.good.clone(),
                        pan: "4111111111111111".into(),
                        exp_month: 12,
                        exp_year: 39,
                        expired: false,
                    });
                    fregi_shop_id = linked
                        .values
                        .iter()
                        .find(|(k, _)| *k == "shop_id")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    instances.push(linked.instance);
                    fregi = Some(e);
                }
                Gw::Gmopg => {
                    let mut emulator = GmopgConfig::default();
                    emulator.shops[0].shop_pass = canary.clone();
                    let linked = Linked::gmopg(&plugins, GmopgSetup { emulator })
                        .await
                        .map_err(setup)?;
                    let e = linked.emulator;
                    e.add_token(GmopgToken {
                        token: gmopg_cards.good.clone(),
                        card_no: renkei_emulator_gmopg::TEST_CARD_OK.into(),
                        expire: "3912".into(),
                        errors: Vec::new(),
                    });
                    instances.push(linked.instance);
                    gmopg = Some(e);
                }
            }
        }

        let (journal, journal_path, postgres_schema) = open_journal(config)?;
        let mut rig = Rig {
            sbps,
            fregi,
            gmopg,
            shop: Arc::new(Shop::new(
                SHOP,
                Arc::new(Executor::new(journal.clone(), DEADLINE)),
            )),
            journal,
            canary,
            sbps_cards,
            fregi_cards,
            gmopg_cards,
            fregi_shop_id,
            fregi_inquiry,
            journal_path,
            postgres_schema,
            plugins,
            instances,
            config: config.clone(),
        };
        rig.shop = Arc::new(rig.build_shop());
        Ok(rig)
    }

    fn build_shop(&self) -> Shop {
        let executor =
            Executor::new(self.journal.clone(), DEADLINE).with_defects(self.config.defects);
        let mut shop = Shop::new(SHOP, Arc::new(executor));
        for i in &self.instances {
            shop = shop.with_gateway(i.clone(), true);
        }
        shop
    }

    /// The host "restarts" on the same journal: a new executor and shop; the old ones (and any
    /// operation they had in flight) are gone. Waits out the dead host's leases, then recovers.
    /// An operation the dead host had marked unknown holds a longer lease, covering the wait for
    /// its request's expiry (`Executor::resolving_lease_ms`): recovering before that one runs
    /// out would find it still held, which a real host's periodic recovery settles later but the
    /// simulation's "nothing left pending" check would report.
    pub async fn restart(&mut self) -> Result<renkei_host::RecoveryReport, renkei_host::ShopError> {
        self.shop = Arc::new(self.build_shop());
        let lease = self.shop.executor().lease();
        let resolving = self
            .instances
            .iter()
            .filter_map(|i| i.request_expiry().map(|e| e + i.clock_skew()))
            .max()
            .unwrap_or_default();
        tokio::time::sleep(lease + resolving + Duration::from_millis(200)).await;
        self.shop.recover().await
    }

    /// Whether the host can ask `gw` about a payment (F-REGI only with the emulator's
    /// extension; SBPS and GMO-PG always).
    pub fn fregi_inquiry_or(&self, gw: Gw) -> bool {
        gw != Gw::Fregi || self.fregi_inquiry
    }

    pub fn cards(&self, gw: Gw) -> &Cards {
        match gw {
            Gw::Sbps => &self.sbps_cards,
            Gw::Fregi => &self.fregi_cards,
            Gw::Gmopg => &self.gmopg_cards,
        }
    }

    /// The payment source for a checkout: a good card or a declined one.
    pub fn source(&self, gw: Gw, good: bool) -> (PaymentSource, Option<CustomerRef>) {
        let cards = self.cards(gw);
        let token = if good {
            cards.good.clone()
        } else {
            cards.declined.to_owned()
        };
        match gw {
            Gw::Sbps => (
                PaymentSource::Token {
                    token: Secret::new(token),
                    key: Some(Secret::new(cards.token_key.clone())),
                },
                Some(CustomerRef::new("simcust")),
            ),
            Gw::Fregi | Gw::Gmopg => (
                PaymentSource::Token {
                    token: Secret::new(token),
                    key: None,
                },
                None,
            ),
        }
    }

    /// Every text the journal holds, for the canary check: the SQLite files' bytes (WAL
    /// included), or every row of the PostgreSQL schema as text.
    pub fn journal_text(&self) -> Result<Vec<u8>, SimError> {
        if let Some(path) = &self.journal_path {
            let mut all = Vec::new();
            for suffix in ["", "-wal"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                if let Ok(bytes) = std::fs::read(&p) {
                    all.extend(bytes);
                }
            }
            return Ok(all);
        }
        let (JournalChoice::Postgres(url), Some(schema)) =
            (&self.config.journal, &self.postgres_schema)
        else {
            return Ok(Vec::new());
        };
        let (url, schema) = (url.clone(), schema.clone());
        std::thread::spawn(move || -> Result<Vec<u8>, SimError> {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).map_err(setup)?;
            let tables: Vec<String> = c
                .query(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                    &[&schema],
                )
                .map_err(setup)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut all = Vec::new();
            for t in tables {
                for row in c
                    .query(&format!("SELECT t::text FROM {schema}.{t} t"), &[])
                    .map_err(setup)?
                {
                    let s: String = row.get(0);
                    all.extend(s.into_bytes());
                    all.push(b'\n');
                }
            }
            Ok(all)
        })
        .join()
        .map_err(|_| SimError::Internal("journal dump thread panicked".into()))?
    }

    pub async fn shutdown(self) {
        if let Some(e) = self.sbps {
            e.shutdown().await;
        }
        if let Some(e) = self.fregi {
            e.shutdown().await;
        }
        if let Some(e) = self.gmopg {
            e.shutdown().await;
        }
        drop(self.plugins);
    }
}

/// The lab's name for a gateway of the simulation.
fn lab(gw: Gw) -> Gateway {
    match gw {
        Gw::Sbps => Gateway::Sbps,
        Gw::Fregi => Gateway::Fregi,
        Gw::Gmopg => Gateway::Gmopg,
    }
}

type Opened = (Arc<dyn JournalStore>, Option<PathBuf>, Option<String>);

fn open_journal(config: &SimConfig) -> Result<Opened, SimError> {
    match &config.journal {
        JournalChoice::Sqlite(dir) => {
            std::fs::create_dir_all(dir).map_err(setup)?;
            let path = dir.join(format!(
                "sim-{}-{}-{}.db",
                config.seed,
                std::process::id(),
                unique()
            ));
            let store = journal::sqlite::open(&path).map_err(setup)?;
            Ok((Arc::from(store), Some(path), None))
        }
        JournalChoice::Postgres(url) => {
            let schema = format!("sim_{}_{}_{}", config.seed, std::process::id(), unique());
            let store = journal::postgres::open(url, &schema, 8).map_err(setup)?;
            Ok((Arc::from(store), None, Some(schema)))
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
