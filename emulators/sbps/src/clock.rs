//! The emulator's injectable JST clock.
//!
//! Request expiry (§10.3 step 8), sales windows, card expiry and every `res_date` read this clock,
//! so a test can freeze time, step it past `limit_second`, or move it months ahead without
//! sleeping.

use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::time::JstDateTime;

/// How the clock currently runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// The host's clock shifted by `offset_secs` (0 = real time). Time passes.
    System {
        /// Seconds added to the host clock.
        offset_secs: i64,
    },
    /// Time stands still at `at` until set or advanced again.
    Frozen {
        /// The moment the clock shows.
        at: JstDateTime,
    },
}

/// Shared, thread-safe clock. The lock is held for a few instructions only.
#[derive(Debug)]
pub(crate) struct Clock {
    mode: Mutex<ClockMode>,
    initial: ClockMode,
}

impl Clock {
    pub(crate) fn new(start_frozen_at: Option<JstDateTime>) -> Self {
        let initial = match start_frozen_at {
            Some(at) => ClockMode::Frozen { at },
            None => ClockMode::System { offset_secs: 0 },
        };
        Self {
            mode: Mutex::new(initial),
            initial,
        }
    }

    pub(crate) fn now(&self) -> JstDateTime {
        match self.mode() {
            ClockMode::System { offset_secs } => JstDateTime::now_system().plus_secs(offset_secs),
            ClockMode::Frozen { at } => at,
        }
    }

    pub(crate) fn mode(&self) -> ClockMode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Freezes the clock at `at`.
    pub(crate) fn set(&self, at: JstDateTime) {
        *self.lock() = ClockMode::Frozen { at };
    }

    /// Moves the clock by `secs`, frozen or running.
    pub(crate) fn advance(&self, secs: i64) {
        let mut mode = self.lock();
        *mode = match *mode {
            ClockMode::System { offset_secs } => ClockMode::System {
                offset_secs: offset_secs + secs,
            },
            ClockMode::Frozen { at } => ClockMode::Frozen {
                at: at.plus_secs(secs),
            },
        };
    }

    /// Back to the host's real time.
    pub(crate) fn use_system(&self) {
        *self.lock() = ClockMode::System { offset_secs: 0 };
    }

    /// Back to the mode the emulator started with.
    pub(crate) fn reset(&self) {
        *self.lock() = self.initial;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockMode> {
        self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_advances_only_when_told() {
        let at = JstDateTime::parse("20240102030405").unwrap();
        let clock = Clock::new(Some(at));
        assert_eq!(clock.now(), at);
        clock.advance(601);
        assert_eq!(clock.now().to_sbps(), "20240102031406");
        clock.use_system();
        assert!(matches!(clock.mode(), ClockMode::System { offset_secs: 0 }));
        clock.reset();
        assert_eq!(clock.now(), at);
    }
}
