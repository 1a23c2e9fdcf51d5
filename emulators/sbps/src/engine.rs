//! The emulator's core, shared by the HTTP server, the control endpoints and the Rust handle:
//! configuration, per-merchant keys, the state, the clock and the installed faults.

use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::clock::{Clock, ClockMode};
use crate::config::{Config, ConfigError, MerchantConfig, TestToken};
use crate::crypto::FieldCipher;
use crate::faults::FaultBook;
use crate::state::{Payment, Snapshot, State};

/// A merchant with its derived secrets ready for use.
#[derive(Debug)]
pub(crate) struct MerchantKeys {
    pub config: MerchantConfig,
    pub cipher: FieldCipher,
    basic_user: String,
}

#[derive(Debug)]
pub(crate) struct Engine {
    pub config: Config,
    pub merchants: Vec<MerchantKeys>,
    state: Mutex<State>,
    pub clock: Clock,
    pub faults: FaultBook,
}

impl Engine {
    pub(crate) fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let merchants = config
            .merchants
            .iter()
            .map(|m| {
                let cipher =
                    FieldCipher::new(m.des_key.as_bytes(), m.des_iv.as_bytes()).map_err(|_| {
                        ConfigError::BadDesKey(format!("{}{}", m.merchant_id, m.service_id))
                    })?;
                Ok(MerchantKeys {
                    config: m.clone(),
                    cipher,
                    basic_user: m.basic_user(),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(Self {
            state: Mutex::new(State::new(&config)),
            clock: Clock::new(config.start_clock),
            faults: FaultBook::default(),
            merchants,
            config,
        })
    }

    /// The state lock. Held only for synchronous work; never across an await.
    pub(crate) fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Index of the merchant whose Basic credentials the `Authorization` header carries.
    pub(crate) fn authenticate(&self, authorization: Option<&[u8]>) -> Option<usize> {
        let header = std::str::from_utf8(authorization?).ok()?.trim();
        let (scheme, encoded) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let decoded = std::str::from_utf8(&decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        self.merchants.iter().position(|m| {
            m.basic_user == user
                && constant_time_eq(m.config.basic_password().as_bytes(), password.as_bytes())
        })
    }

    /// Back to the state right after start: no payments, counters and tokens as configured, no
    /// faults, the clock as configured.
    pub(crate) fn reset(&self) {
        *self.lock_state() = State::new(&self.config);
        self.faults.clear();
        self.clock.reset();
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let configs: Vec<MerchantConfig> =
            self.merchants.iter().map(|m| m.config.clone()).collect();
        let now = self.clock.now();
        let frozen = matches!(self.clock.mode(), ClockMode::Frozen { .. });
        let faults = self.faults.list();
        self.lock_state().snapshot(&configs, now, frozen, faults)
    }

    pub(crate) fn payment(&self, tracking_id: &str) -> Option<Payment> {
        self.lock_state().payment(tracking_id).cloned()
    }

    pub(crate) fn register_token(&self, token: TestToken) -> Result<(), ConfigError> {
        let check = Config {
            tokens: vec![token.clone()],
            ..Config::default()
        };
        check.validate()?;
        self.lock_state().register_token(token);
        Ok(())
    }
}

/// Compares credentials without an early exit, out of habit: an emulator has no secret worth
/// a timing attack, but code copied from here might.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_accepts_only_the_configured_pair() {
        let engine = Engine::new(Config::default()).unwrap();
        let header = |s: &str| format!("Basic {}", STANDARD.encode(s));
        assert_eq!(
            engine.authenticate(Some(header("99999001:TESTHASHKEY0123456789").as_bytes())),
            Some(0)
        );
        assert_eq!(
            engine.authenticate(Some(header("99999001:wrong").as_bytes())),
            None
        );
        assert_eq!(
            engine.authenticate(Some(header("99999002:TESTHASHKEY0123456789").as_bytes())),
            None
        );
        assert_eq!(engine.authenticate(Some(b"Bearer x")), None);
        assert_eq!(engine.authenticate(None), None);
    }
}
