//! Emulators + plugins + host wired together for demos, benches and the simulation.
//!
//! `renkei demo`, `renkei bench`, the shop server's `--demo` and the simulator's rig all need
//! the same machinery: the SBPS, F-REGI and GMO-PG plugins loaded as cdylibs, each gateway's loopback
//! emulator started, a plugin instance configured against it, a journal, and a shop linked to
//! the instances. Each caller used to build it by hand, and the copies drifted (a shop id here,
//! a config key there). This crate holds the one way to build it; callers choose only what
//! differs for them (the emulator's config, the request window, whether F-REGI has its
//! emulator-only inquiry, the journal's backend).
//!
//! Nothing here decides a money path: the shop and the executor are `renkei-host`'s own, built
//! with the caller's journal and deadline.

mod cards;
mod error;
mod gateway;
mod link;
mod plugins;
mod shop;

pub use cards::{FREGI_SHOP_ID, FREGI_TOKEN, GMOPG_TOKEN, SBPS_TOKEN, SBPS_TOKEN_KEY, source};
pub use error::LabError;
pub use gateway::Gateway;
pub use link::{FregiSetup, GmopgSetup, Linked, RequestWindow, SbpsSetup};
pub use plugins::Plugins;
pub use shop::{open_sqlite, shop};
