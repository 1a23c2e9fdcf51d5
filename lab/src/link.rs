use crate::{Gateway, LabError, Plugins};
use renkei_emulator_fregi::{Config as FregiConfig, FregiEmulator};
use renkei_emulator_gmopg::{Config as GmopgConfig, GmopgEmulator};
use renkei_emulator_sbps::{Config as SbpsConfig, SbpsEmulator};
use renkei_host::GatewayInstance;
use std::sync::Arc;

/// A gateway's emulator, running on loopback, and the plugin instance configured against it.
pub struct Linked<E> {
    pub emulator: E,
    pub instance: Arc<GatewayInstance>,
    /// The config values the instance was built with. They include the emulator's hash key
    /// (the simulator plants its canary there): never log them.
    pub values: Vec<(&'static str, String)>,
}

/// SBPS refuses a request once its `limit_second` has passed, and the host inquires about a
/// lost reply only after that plus a clock-skew margin (`docs/protocols/sbps.md`). A demo or a
/// simulation shortens both to keep a lost reply's wait to seconds; production keeps the
/// plugin's defaults.
#[derive(Clone, Copy, Debug)]
pub struct RequestWindow {
    pub limit_second: u32,
    pub clock_skew_ms: u32,
}

/// How the SBPS side is set up.
#[derive(Default)]
pub struct SbpsSetup {
    pub emulator: SbpsConfig,
    /// `None`: the plugin's own `limit_second` and clock-skew margin.
    pub window: Option<RequestWindow>,
}

impl SbpsSetup {
    /// The default emulator, with the plugin's request window shortened to `limit_second`
    /// and `clock_skew_ms`.
    pub fn with_window(limit_second: u32, clock_skew_ms: u32) -> SbpsSetup {
        SbpsSetup {
            window: Some(RequestWindow {
                limit_second,
                clock_skew_ms,
            }),
            ..SbpsSetup::default()
        }
    }
}

/// How the F-REGI side is set up.
pub struct FregiSetup {
    pub emulator: FregiConfig,
    /// Whether the plugin gets the emulator's `inquiry_url`. Real F-REGI has no card-transaction
    /// inquiry (`docs/protocols/fregi.md`): without it, an outcome the host could not learn
    /// goes to an operator's review, as it would in production.
    pub inquiry: bool,
}

impl Default for FregiSetup {
    fn default() -> FregiSetup {
        FregiSetup {
            emulator: FregiConfig::default(),
            inquiry: true,
        }
    }
}

impl FregiSetup {
    /// The emulator without its transmission batch: at 21:00 it would flip 売上済(未伝送) to
    /// 売上済(伝送済), which a demo's or a bench's day is not about.
    pub fn without_batch(inquiry: bool) -> FregiSetup {
        FregiSetup {
            emulator: FregiConfig {
                auto_batch_at: None,
                ..FregiConfig::default()
            },
            inquiry,
        }
    }
}

impl Linked<SbpsEmulator> {
    /// Starts the SBPS emulator and configures the plugin (loaded in `plugins`) against it.
    pub async fn sbps(plugins: &Plugins, setup: SbpsSetup) -> Result<Self, LabError> {
        let emulator =
            SbpsEmulator::start(setup.emulator)
                .await
                .map_err(|e| LabError::Emulator {
                    gateway: Gateway::Sbps.title(),
                    source: Box::new(e),
                })?;
        let mut values = emulator.plugin_config();
        if let Some(w) = setup.window {
            values.extend([
                ("limit_second", w.limit_second.to_string()),
                ("clock_skew_ms", w.clock_skew_ms.to_string()),
            ]);
        }
        let instance = plugins.instance(Gateway::Sbps, &values)?;
        Ok(Linked {
            emulator,
            instance,
            values,
        })
    }
}

impl Linked<FregiEmulator> {
    /// Starts the F-REGI emulator and configures the plugin (loaded in `plugins`) against it.
    pub async fn fregi(plugins: &Plugins, setup: FregiSetup) -> Result<Self, LabError> {
        let emulator =
            FregiEmulator::start(setup.emulator)
                .await
                .map_err(|e| LabError::Emulator {
                    gateway: Gateway::Fregi.title(),
                    source: Box::new(e),
                })?;
        let mut values = emulator.plugin_config();
        if !setup.inquiry {
            // The emulator's extension is this one key.
            values.retain(|(key, _)| *key != "inquiry_url");
        }
        let instance = plugins.instance(Gateway::Fregi, &values)?;
        Ok(Linked {
            emulator,
            instance,
            values,
        })
    }
}

/// How the GMO-PG side is set up.
#[derive(Default)]
pub struct GmopgSetup {
    pub emulator: GmopgConfig,
}

impl Linked<GmopgEmulator> {
    /// Starts the GMO-PG emulator and configures the plugin (loaded in `plugins`) against it.
    pub async fn gmopg(plugins: &Plugins, setup: GmopgSetup) -> Result<Self, LabError> {
        let emulator =
            GmopgEmulator::start(setup.emulator)
                .await
                .map_err(|e| LabError::Emulator {
                    gateway: Gateway::Gmopg.title(),
                    source: Box::new(e),
                })?;
        let values = emulator.plugin_config();
        let instance = plugins.instance(Gateway::Gmopg, &values)?;
        Ok(Linked {
            emulator,
            instance,
            values,
        })
    }
}
