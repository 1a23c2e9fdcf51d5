//! Deliberate defects, for proving that the simulator (`renkei simulate`) can fail.
//!
//! A checker that never fires proves nothing. Each [`Defect`] re-introduces one way a payments
//! host goes wrong (guessing an unknown outcome, sending before the write-ahead commit…); the
//! simulator's tests switch one on and require a violation. A [`Defects`] set other than
//! [`Defects::NONE`] can only be made with the `sim-defects` feature, which only test builds
//! enable (as a dev-dependency), and even then it refuses to be made in a build without debug
//! assertions: no release binary can carry one.

/// One deliberate defect. The names say what the host would do wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Defect {
    /// An unknown outcome (timeout, reset, 5xx, cut reply) is booked as "nothing happened".
    UnknownAsFailed,
    /// A step after the first is sent before the journal has it (no write-ahead).
    SendBeforeWriteAhead,
    /// An inquiry that finds the payment unchanged is believed at once, although the request
    /// may still be processing (the expiry wait is skipped).
    InquireBeforeExpiry,
    /// "Already done" from the gateway is a plain failure: no drift event is kept.
    IgnoreAlreadyDone,
    /// Every step is taken as read-only, so money-moving steps count as "nothing sent".
    ReadOnlyMoneyStep,
    /// Inquire and reconcile find differences but keep no drift event.
    DropDriftEvent,
}

impl Defect {
    /// Every defect, for tables and tests.
    pub const ALL: [Defect; 6] = [
        Defect::UnknownAsFailed,
        Defect::SendBeforeWriteAhead,
        Defect::InquireBeforeExpiry,
        Defect::IgnoreAlreadyDone,
        Defect::ReadOnlyMoneyStep,
        Defect::DropDriftEvent,
    ];

    /// A short name (`unknown_as_failed`).
    pub fn name(self) -> &'static str {
        match self {
            Defect::UnknownAsFailed => "unknown_as_failed",
            Defect::SendBeforeWriteAhead => "send_before_write_ahead",
            Defect::InquireBeforeExpiry => "inquire_before_expiry",
            Defect::IgnoreAlreadyDone => "ignore_already_done",
            Defect::ReadOnlyMoneyStep => "read_only_money_step",
            Defect::DropDriftEvent => "drop_drift_event",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The deliberate defects a host runs with: [`Defects::NONE`] outside the simulator's tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Defects(u32);

impl Defects {
    /// No defect: the host as built.
    pub const NONE: Defects = Defects(0);

    /// Exactly `defect`. Test builds only (see the module docs).
    #[cfg(feature = "sim-defects")]
    pub fn only(defect: Defect) -> Defects {
        if !cfg!(debug_assertions) {
            panic!("deliberate defects exist only in test builds");
        }
        Defects(defect.bit())
    }

    /// Whether `defect` is switched on.
    #[inline]
    pub fn has(self, defect: Defect) -> bool {
        self.0 & defect.bit() != 0
    }

    /// The defects switched on.
    pub fn list(self) -> Vec<Defect> {
        Defect::ALL.into_iter().filter(|d| self.has(*d)).collect()
    }
}
