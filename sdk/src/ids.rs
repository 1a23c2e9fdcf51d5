//! Identifier newtypes, so that an order code can never be passed where a gateway reference is
//! expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

id_newtype! {
    /// The shop's own order code (e.g. `100000924506`), as shown in the order-management screen.
    OrderRef
}

id_newtype! {
    /// The gateway's reference for one payment: SBPS `tracking_id`, F-REGI `SEQNO`. A gateway may
    /// replace it (SBPS re-authorization, F-REGI `authchange`), so the host stores the newest.
    TransactionRef
}

id_newtype! {
    /// A stored-customer reference at the gateway (SBPS `cust_code`, F-REGI `CUSTOMERID`).
    CustomerRef
}

/// The rules a gateway puts on the order id it is sent (`Limits::order_id`), so that the host
/// can issue ids that fit: a fresh one per attempt of a shop action.
///
/// Why attempt-scoped: many gateways refuse an order id they have seen (SBPS's 96, GMO-PG's
/// duplicate-order error), declined attempts included. An id per attempt lets a shop action
/// authorize again after a decline, while every exchange of one attempt (and the same attempt
/// resumed after a crash) sends the same id, so a repeated request meets the gateway's duplicate
/// check instead of a second payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIdRules {
    /// The longest id the gateway takes, in characters (ASCII, so also bytes).
    pub max_len: usize,
    /// The ASCII characters it takes besides letters and digits (`"-"` for GMO-PG; empty for
    /// SBPS, which takes letters and digits only).
    #[serde(default)]
    pub symbols: String,
}

impl OrderIdRules {
    /// Hex digits of the attempt's tag: 48 bits, so that two attempts colliding is negligible
    /// even across millions of authorizations whose order codes share a (cut) prefix.
    pub const TAG_CHARS: usize = 12;

    /// Letters and digits only, at most `max_len`.
    pub fn alphanumeric(max_len: usize) -> OrderIdRules {
        OrderIdRules {
            max_len,
            symbols: String::new(),
        }
    }

    /// Whether `c` may appear in an id.
    pub fn allows_char(&self, c: char) -> bool {
        c.is_ascii_alphanumeric() || (c.is_ascii_punctuation() && self.symbols.contains(c))
    }

    /// Whether `id` is one the gateway takes.
    pub fn allows(&self, id: &str) -> bool {
        !id.is_empty() && id.len() <= self.max_len && id.chars().all(|c| self.allows_char(c))
    }

    /// Why the rules cannot work, if they cannot: too short for the tag, or symbols that are
    /// not ASCII punctuation.
    pub fn problem(&self) -> Option<String> {
        if self.max_len < Self::TAG_CHARS {
            return Some(format!(
                "max_len {} leaves no room for the {}-character attempt tag",
                self.max_len,
                Self::TAG_CHARS
            ));
        }
        self.symbols
            .chars()
            .find(|c| !c.is_ascii_punctuation())
            .map(|c| format!("symbol {c:?} is not ASCII punctuation"))
    }

    /// The id of attempt `attempt` of the shop action `idempotency_key` on `order`: the order
    /// code's allowed characters, cut to leave room for the tag, then the tag: the first 12 hex
    /// digits of SHA-1 over the attempt number (4 bytes, big-endian) and the key. Deterministic
    /// (no clock, no randomness), so host and plugin, and a host after a restart, derive the
    /// same id; a new attempt gets a new one.
    pub fn attempt_id(&self, order: &OrderRef, idempotency_key: &str, attempt: u32) -> String {
        let mut id: String = order
            .as_str()
            .chars()
            .filter(|c| self.allows_char(*c))
            .take(self.max_len.saturating_sub(Self::TAG_CHARS))
            .collect();
        id.push_str(&attempt_tag(idempotency_key, attempt));
        id
    }
}

/// The tag of one attempt (see [`OrderIdRules::attempt_id`]).
pub fn attempt_tag(idempotency_key: &str, attempt: u32) -> String {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    hasher.update(attempt.to_be_bytes());
    hasher.update(idempotency_key.as_bytes());
    hasher.finalize()[..OrderIdRules::TAG_CHARS / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_id_fits_the_rules_and_changes_only_with_the_attempt() {
        let rules = OrderIdRules {
            max_len: 27,
            symbols: "-".into(),
        };
        let order = OrderRef::new("注文 2026/12-07 #100000924506-extra-long-code");
        let first = rules.attempt_id(&order, "k:authorize:1", 1);
        assert!(rules.allows(&first), "{first}");
        assert_eq!(first.len(), 27);
        assert!(first.starts_with("202612-07100000"), "{first}");
        assert_eq!(first, rules.attempt_id(&order, "k:authorize:1", 1));
        let second = rules.attempt_id(&order, "k:authorize:1", 2);
        assert_ne!(first, second);
        assert!(rules.allows(&second));
        assert_ne!(first, rules.attempt_id(&order, "k:authorize:2", 1));
    }

    #[test]
    fn the_rules_refuse_what_the_gateway_would() {
        let rules = OrderIdRules::alphanumeric(38);
        assert!(rules.allows("abc123"));
        assert!(!rules.allows("abc-123"));
        assert!(!rules.allows(""));
        assert!(!rules.allows(&"a".repeat(39)));
        assert!(OrderIdRules::alphanumeric(11).problem().is_some());
        let bad = OrderIdRules {
            max_len: 20,
            symbols: "-あ".into(),
        };
        assert!(bad.problem().unwrap().contains('あ'));
    }

    /// SBPS derived its ids this way inside the plugin before the host issued them; the
    /// same derivation keeps the ids of operations in flight across the upgrade.
    #[test]
    fn the_tag_is_sha1_over_the_attempt_and_the_key() {
        // SHA-1 of [0, 0, 0, 1] ‖ "k".
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        h.update([0u8, 0, 0, 1]);
        h.update(b"k");
        let full: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(attempt_tag("k", 1), full[..12]);
        // The vectors SBPS's tests computed outside the code base (Python hashlib).
        let sbps = OrderIdRules::alphanumeric(38);
        let order = OrderRef::new("100000924506");
        assert_eq!(sbps.attempt_id(&order, "k", 1), "1000009245063fa051f9c633");
        assert_eq!(sbps.attempt_id(&order, "k", 2), "100000924506db702fe78fd3");
    }
}
