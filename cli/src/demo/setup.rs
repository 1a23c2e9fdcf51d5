//! The setup: the plugins loaded, the three emulators started on loopback with the plugins
//! configured against them, the journal opened and the shop linked, all through `renkei-lab`.

use super::Gw;
use anyhow::Context as _;
use renkei_emulator_fregi::FregiEmulator;
use renkei_emulator_gmopg::GmopgEmulator;
use renkei_emulator_sbps::SbpsEmulator;
use renkei_host::Executor;
use renkei_host::journal::JournalStore;
use renkei_host::shop::Shop;
use renkei_lab::{FregiSetup, GmopgSetup, Linked, Plugins, SbpsSetup};
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What the day plays on.
pub(super) struct Setup {
    pub(super) shop: Arc<Shop>,
    pub(super) journal: Arc<dyn JournalStore>,
    pub(super) sbps: SbpsEmulator,
    pub(super) fregi: FregiEmulator,
    pub(super) gmopg: GmopgEmulator,
}

/// Builds the setup and prints where each part is (plugin files, emulator URLs, journal file).
pub(super) async fn start(dir: &Path, journal_dir: &Path) -> anyhow::Result<Setup> {
    // The plugins, as cdylibs.
    let plugins = Plugins::load(dir, &Gw::ALL)
        .context("loading the plugins (build them with `cargo build --release`)")?;
    for gw in Gw::ALL {
        let p = plugins
            .get(gw)
            .with_context(|| format!("the {} plugin is not loaded", gw.title()))?;
        say!(
            "plugin    {:<7} {} {} (SDK {}) loaded from {}",
            gw.id(),
            p.manifest().display_name,
            p.manifest().plugin_version,
            p.manifest().sdk_version,
            p.path().display()
        );
    }

    // The emulators, on loopback, and the plugins configured against them.
    //
    // SBPS refuses a request once its `limit_second` has passed; the host inquires about a lost
    // reply only after that (plus a clock-skew margin). A short window keeps the demo's lost
    // reply to a few seconds' wait; production keeps the plugin's default.
    let sbps = Linked::sbps(&plugins, SbpsSetup::with_window(3, 500)).await?;
    // F-REGI has no public card-transaction inquiry; `inquiry_url` points the plugin at the
    // emulator's own extension, which the real gateway does not have. The demo runs F-REGI as
    // it really is: without that key, an unknown outcome goes to the review queue and
    // reconcile cannot ask, so the operator reads F-REGI's admin screen instead (08, 18:00).
    // The transmission batch would flip 売上済(未伝送) to 売上済(伝送済) if the demo ran at
    // 21:00; the day here is about the shop's actions.
    let fregi = Linked::fregi(&plugins, FregiSetup::without_batch(false)).await?;
    // GMO-PG: its emulator with the default shop; SearchTrade is GMO-PG's own inquiry.
    let gmopg = Linked::gmopg(&plugins, GmopgSetup::default()).await?;
    say!("emulator  SBPS    {}", sbps.emulator.endpoint_url());
    say!("emulator  F-REGI  {}", fregi.emulator.base_url());
    say!("emulator  GMO-PG  {}", gmopg.emulator.endpoint_url());

    // The journal: SQLite, durable commits, in a temporary directory.
    let path = journal_dir.join("journal.db");
    let journal = renkei_lab::open_sqlite(&path)?;
    say!("journal   SQLite  {}", path.display());
    let executor = Executor::new(journal.clone(), Duration::from_secs(5));
    let shop = Arc::new(renkei_lab::shop(
        "demo-shop",
        executor,
        [
            sbps.instance.clone(),
            fregi.instance.clone(),
            gmopg.instance.clone(),
        ],
    ));
    shop.recover()
        .await
        .context("recovering the shop's operations")?;
    Ok(Setup {
        shop,
        journal,
        sbps: sbps.emulator,
        fregi: fregi.emulator,
        gmopg: gmopg.emulator,
    })
}
