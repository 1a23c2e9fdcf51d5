//! A plugin's handle on one payment: what later operations on it need beyond its reference.

use crate::Secret;
use std::collections::BTreeMap;
use std::fmt;

/// What a plugin keeps about one payment at the gateway besides its [`crate::TransactionRef`]:
/// ids the gateway handed out that later operations need (SBPS's `sps_transaction_id`,
/// GMO-PG's `AccessID`), some of them secret (GMO-PG's `AccessPass`, which authorizes every
/// later change of the payment).
///
/// Why the host keeps it: a plugin is sans-IO and holds no state between calls, so without a
/// handle it must re-query the gateway before every operation, or carry the values in its
/// continuation, where they reach the journal in clear. The plugin returns the handle with an
/// outcome ([`crate::Outcome::handle`]); the host stores it with the order, public parts as
/// they are and secret parts sealed (never in clear in the journal), and hands it back on
/// every later operation of the payment ([`crate::Context::handle`]).
///
/// `Debug` shows the public parts and only the names of the secret ones.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Handle {
    /// Values that may be journaled and shown to operators.
    pub public: BTreeMap<String, String>,
    /// Values that must never rest anywhere in clear.
    pub secret: BTreeMap<String, Secret>,
}

impl Handle {
    pub fn new() -> Handle {
        Handle::default()
    }

    /// Adds a public part.
    pub fn public(mut self, name: impl Into<String>, value: impl Into<String>) -> Handle {
        self.public.insert(name.into(), value.into());
        self
    }

    /// Adds a secret part.
    pub fn secret(mut self, name: impl Into<String>, value: Secret) -> Handle {
        self.secret.insert(name.into(), value);
        self
    }

    /// The public part `name`, if the handle has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.public.get(name).map(String::as_str)
    }

    /// The secret part `name`, if the handle has it (a host that keeps no sealing key hands
    /// back only the public parts after a restart: see the host's docs).
    pub fn get_secret(&self, name: &str) -> Option<&Secret> {
        self.secret.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.public.is_empty() && self.secret.is_empty()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_map();
        d.entries(self.public.iter());
        for name in self.secret.keys() {
            d.entry(name, &Secret::PLACEHOLDER);
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_public_parts_and_only_the_names_of_secret_ones() {
        let h = Handle::new()
            .public("AccessID", "a1b2")
            .secret("AccessPass", Secret::new("pass-canary-42"));
        let shown = format!("{h:?}");
        assert!(
            shown.contains("a1b2") && shown.contains("AccessPass"),
            "{shown}"
        );
        assert!(!shown.contains("pass-canary-42"), "{shown}");
        assert_eq!(
            h.get_secret("AccessPass").unwrap().expose(),
            "pass-canary-42"
        );
    }
}
