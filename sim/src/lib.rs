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
    Gmopg,
}

impl Gw {
    pub fn name(self) -> &'static str {
        match self {
            Gw::Sbps => "sbps",
            Gw::Fregi => "fregi",
            Gw::Gmopg => "gmopg",
        }
    }

    pub fn parse(s: &str) -> Option<Gw> {
        match s.trim() {
            "sbps" => Some(Gw::Sbps),
            "fregi" => Some(Gw::Fregi),
            "gmopg" => Some(Gw::Gmopg),
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

impl Weights {
    /// Sets weights from `name=value` pairs separated by commas (`fault=20,crash=0`); the
    /// names are the fields'.
    pub fn parse_overrides(&mut self, spec: &str) -> Result<(), String> {
        for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("weight {pair:?} is not name=value"))?;
            let value: u32 = value
                .trim()
                .parse()
                .map_err(|_| format!("weight {name}: {value:?} is not a whole number"))?;
            let slot = match name.trim() {
                "checkout" => &mut self.checkout,
                "pre_order" => &mut self.pre_order,
                "record_payment" => &mut self.record_payment,
                "bulk_record_payment" => &mut self.bulk_record_payment,
                "change_status" => &mut self.change_status,
                "change_amount" => &mut self.change_amount,
                "change_method" => &mut self.change_method,
                "no_payment_needed" => &mut self.no_payment_needed,
                "cancel_payment_date" => &mut self.cancel_payment_date,
                "inquire" => &mut self.inquire,
                "reconcile" => &mut self.reconcile,
                "concurrent" => &mut self.concurrent,
                "gateway_tool" => &mut self.gateway_tool,
                "fault" => &mut self.fault,
                "crash" => &mut self.crash,
                "operator" => &mut self.operator,
                other => return Err(format!("no weight named {other:?}")),
            };
            *slot = value;
        }
        if self.checkout + self.pre_order == 0 {
            return Err("checkout and pre_order cannot both be 0: no order would exist".into());
        }
        Ok(())
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
    /// The `--weights` given, for the command line that replays the run.
    pub weights_spec: Option<String>,
}

impl SimConfig {
    /// The command line that replays this run, shortened to `steps` steps.
    pub fn command_line(&self, steps: u64) -> String {
        let gateways: Vec<&str> = self.gateways.iter().map(|g| g.name()).collect();
        let journal = match &self.journal {
            JournalChoice::Sqlite(_) => "sqlite".to_owned(),
            JournalChoice::Postgres(url) => format!("postgres {url}"),
        };
        let weights = self
            .weights_spec
            .as_ref()
            .map_or(String::new(), |w| format!(" --weights {w}"));
        format!(
            "renkei simulate --seed {} --steps {steps} --orders {} --gateways {} --journal {journal}{weights}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_overridden_by_name_and_bad_specs_are_refused() {
        let mut w = Weights::default();
        w.parse_overrides("fault=30, crash=0").unwrap();
        assert_eq!((w.fault, w.crash), (30, 0));
        assert_eq!(w.checkout, Weights::default().checkout);
        assert!(w.parse_overrides("faults=1").is_err());
        assert!(w.parse_overrides("fault=-1").is_err());
        assert!(w.parse_overrides("fault").is_err());
        assert!(w.parse_overrides("checkout=0,pre_order=0").is_err());
    }

    #[test]
    fn the_replay_command_names_everything_that_shapes_the_run() {
        let config = SimConfig {
            seed: 7,
            steps: 100,
            orders: 12,
            gateways: vec![Gw::Fregi],
            journal: JournalChoice::Postgres("postgres://h/db".into()),
            plugin_dir: PathBuf::new(),
            weights: Weights::default(),
            defects: Defects::NONE,
            progress: None,
            weights_spec: Some("crash=0".into()),
        };
        assert_eq!(
            config.command_line(42),
            "renkei simulate --seed 7 --steps 42 --orders 12 --gateways fregi \
             --journal postgres postgres://h/db --weights crash=0"
        );
    }
}
