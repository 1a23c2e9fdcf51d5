//! A seeded simulation that hunts money bugs.
//!
//! Hand-written scenarios find the seams someone thought of. This runs random shop days through
//! the real host, the real plugins (loaded as cdylibs) and the loopback emulators, mixing shop
//! actions, actions in the gateways' own tools, faults of every kind (including those that
//! process the request and then fail), host crashes with recovery, and an operator who settles
//! reviews and drift from the gateways' books. After every step it checks invariants against a
//! small reference model of each order written here, not by calling the host's ledger or the
//! plugins' tables, so a mistake shared by the two cannot hide (see [`check`]).
//!
//! A seed fixes the sequence of decisions (which action, which order, which fault, when to
//! crash). Timing is real (the host's deadlines and the SBPS expiry wait are wall-clock), so two
//! runs of one seed make the same choices but may see a crash land a step earlier or later.

pub mod book;
pub mod check;
pub mod logs;
pub mod model;
pub mod rig;
mod run;

pub use renkei_host::defects::{Defect, Defects};
pub use run::simulate;

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A gateway the simulation drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gw {
    Sbps,
    Fregi,
}

impl Gw {
    pub fn name(self) -> &'static str {
        match self {
            Gw::Sbps => "sbps",
            Gw::Fregi => "fregi",
        }
    }

    pub fn parse(s: &str) -> Option<Gw> {
        match s.trim() {
            "sbps" => Some(Gw::Sbps),
            "fregi" => Some(Gw::Fregi),
            _ => None,
        }
    }
}

/// Where the journal lives.
#[derive(Clone, Debug)]
pub enum JournalChoice {
    /// A new SQLite file in this directory.
    Sqlite(PathBuf),
    /// A new schema in this PostgreSQL database.
    Postgres(String),
}

impl JournalChoice {
    pub fn name(&self) -> &'static str {
        match self {
            JournalChoice::Sqlite(_) => "sqlite",
            JournalChoice::Postgres(_) => "postgres",
        }
    }
}

/// Relative weights of the kinds of step (0 switches one off).
#[derive(Clone, Debug, Serialize)]
pub struct Weights {
    pub checkout: u32,
    pub pre_order: u32,
    pub record_payment: u32,
    pub bulk_record_payment: u32,
    pub change_status: u32,
    pub change_amount: u32,
    pub change_method: u32,
    pub no_payment_needed: u32,
    pub cancel_payment_date: u32,
    pub inquire: u32,
    pub reconcile: u32,
    pub concurrent: u32,
    pub gateway_tool: u32,
    pub fault: u32,
    pub crash: u32,
    pub operator: u32,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            checkout: 14,
            pre_order: 3,
            record_payment: 12,
            bulk_record_payment: 2,
            change_status: 8,
            change_amount: 6,
            change_method: 3,
            no_payment_needed: 2,
            cancel_payment_date: 3,
            inquire: 5,
            reconcile: 1,
            concurrent: 3,
            gateway_tool: 6,
            fault: 10,
            crash: 2,
            operator: 6,
        }
    }
}

/// One simulation run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub steps: u64,
    /// How many shop orders the run may create.
    pub orders: usize,
    pub gateways: Vec<Gw>,
    pub journal: JournalChoice,
    /// Where the plugin libraries are.
    pub plugin_dir: PathBuf,
    pub weights: Weights,
    /// Deliberate defects (tests only; see [`Defects`]).
    pub defects: Defects,
    /// Called after every step with (step, total).
    pub progress: Option<fn(u64, u64)>,
}

impl SimConfig {
    /// The command line that replays this run, shortened to `steps` steps.
    pub fn command_line(&self, steps: u64) -> String {
        let gateways: Vec<&str> = self.gateways.iter().map(|g| g.name()).collect();
        let journal = match &self.journal {
            JournalChoice::Sqlite(_) => "sqlite".to_owned(),
            JournalChoice::Postgres(url) => format!("postgres {url}"),
        };
        format!(
            "renkei simulate --seed {} --steps {steps} --orders {} --gateways {} --journal {journal}",
            self.seed,
            self.orders,
            gateways.join(",")
        )
    }
}

/// An invariant that did not hold.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    /// Which invariant (`no_double_money`, `journal_matches_gateway`, …).
    pub invariant: &'static str,
    /// The step (0-based) after which it was found.
    pub step: u64,
    pub order: Option<String>,
    pub detail: String,
    /// What happened to the order, step by step.
    pub history: Vec<String>,
    /// The command line that replays the run up to the violation.
    pub reproduce: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "VIOLATION of `{}` after step {}",
            self.invariant, self.step
        )?;
        if let Some(o) = &self.order {
            writeln!(f, "  order:     {o}")?;
        }
        writeln!(f, "  what:      {}", self.detail)?;
        if !self.history.is_empty() {
            writeln!(f, "  events that led there:")?;
            for h in &self.history {
                writeln!(f, "    {h}")?;
            }
        }
        write!(f, "  reproduce: {}", self.reproduce)
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub seed: u64,
    pub steps: u64,
    pub journal: String,
    pub gateways: Vec<Gw>,
    /// Shop actions by name and result (`ok`, or the error's code).
    pub actions: BTreeMap<String, u64>,
    /// Journaled gateway operations by kind and final status.
    pub operations: BTreeMap<String, u64>,
    /// Faults installed at the emulators, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Actions in the gateways' own tools, by kind.
    pub gateway_tool: BTreeMap<String, u64>,
    pub crashes: u64,
    pub reviews_opened: u64,
    pub reviews_resolved: u64,
    pub drift_events: u64,
    pub drift_closed: u64,
    pub checks: u64,
    pub violation: Option<Violation>,
}

/// Why a run could not be made (not an invariant violation: the rig failed).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("setting up: {0}")]
    Setup(String),
    #[error("the simulation's own bookkeeping failed: {0}")]
    Internal(String),
}
