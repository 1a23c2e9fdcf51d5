//! Money as integer minor units with an ISO 4217 currency: never floating point.

use abi_stable::StableAbi;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An ISO 4217 alphabetic currency code, stored as three ASCII upper-case bytes so that it crosses
/// the plugin ABI by value.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Japanese yen: the only currency both seed gateways settle in. Yen has no minor unit, so
    /// one minor unit is one yen.
    pub const JPY: Currency = Currency(*b"JPY");

    /// Parses a three-letter upper-case code; anything else is refused rather than normalised,
    /// because a currency typo in a payment must not be guessed.
    pub fn new(code: &str) -> Option<Currency> {
        let bytes = code.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Some(Currency([bytes[0], bytes[1], bytes[2]]))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII upper-case letters (constructor and constants).
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::new(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an ISO 4217 code: {s:?}")))
    }
}

/// An amount of money in minor units of its currency.
///
/// Signed so that differences (refund totals, drift) can be expressed, but every amount sent to a
/// gateway is checked to be positive by the plugin or the host.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor_units: i64,
    pub currency: Currency,
}

impl Money {
    pub const fn new(minor_units: i64, currency: Currency) -> Money {
        Money {
            minor_units,
            currency,
        }
    }

    /// Yen amounts are whole yen: `Money::jpy(1080)` is ¥1,080.
    pub const fn jpy(yen: i64) -> Money {
        Money::new(yen, Currency::JPY)
    }

    /// Adds two amounts of the same currency; `None` on a currency mismatch or overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        (self.currency == other.currency)
            .then(|| self.minor_units.checked_add(other.minor_units))
            .flatten()
            .map(|m| Money::new(m, self.currency))
    }

    /// Subtracts two amounts of the same currency; `None` on a currency mismatch or overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        (self.currency == other.currency)
            .then(|| self.minor_units.checked_sub(other.minor_units))
            .flatten()
            .map(|m| Money::new(m, self.currency))
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor_units, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor_units, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_refuses_anything_but_three_upper_case_letters() {
        assert_eq!(Currency::new("JPY"), Some(Currency::JPY));
        for bad in ["jpy", "JP", "JPYY", "J1Y", ""] {
            assert_eq!(Currency::new(bad), None, "{bad}");
        }
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let usd = Money::new(5, Currency::new("USD").unwrap());
        assert_eq!(Money::jpy(5).checked_add(usd), None);
        assert_eq!(Money::jpy(i64::MAX).checked_add(Money::jpy(1)), None);
        assert_eq!(
            Money::jpy(7).checked_sub(Money::jpy(2)),
            Some(Money::jpy(5))
        );
    }

    #[test]
    fn money_serialises_with_a_currency_code() {
        let json = serde_json::to_string(&Money::jpy(1080)).unwrap();
        assert_eq!(json, r#"{"minor_units":1080,"currency":"JPY"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Money::jpy(1080));
        assert!(serde_json::from_str::<Money>(r#"{"minor_units":1,"currency":"yen"}"#).is_err());
    }
}
