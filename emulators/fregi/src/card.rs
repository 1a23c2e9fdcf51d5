//! Cards: number checks, brand, expiry, and the acquirer's decision.
//!
//! The decision is the emulator's stand-in for the card network: configured decline rules first,
//! then per-card limits, otherwise approval (`docs/protocols/fregi.md` §11.2).

use serde::{Deserialize, Serialize};

use crate::clock::{Date, Timestamp, jst_date};
use crate::codes::Ng;
use crate::config::Config;

/// A card as the emulator keeps it. The full number never leaves the crate: dumps and the
/// inquiry show [`Card::masked`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    pub(crate) pan: String,
    pub(crate) exp_month: u8,
    /// Four-digit year.
    pub(crate) exp_year: u16,
}

/// Card brand, as `REQUIRECOM=1` reports it on `authm`'s fourth line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Brand {
    /// Visa (4…).
    Visa,
    /// Mastercard (51–55, 2221–2720).
    Master,
    /// JCB (3528–3589).
    Jcb,
    /// American Express (34, 37).
    Amex,
    /// Diners Club (300–305, 36, 38, 39).
    Diners,
    /// Anything else.
    Other,
}

impl Brand {
    /// Lower-case name (`visa`, …).
    pub fn name(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Master => "master",
            Brand::Jcb => "jcb",
            Brand::Amex => "amex",
            Brand::Diners => "diners",
            Brand::Other => "other",
        }
    }
}

impl Card {
    pub(crate) fn new(pan: String, exp_month: u8, exp_year_2: u8) -> Card {
        Card {
            pan,
            exp_month,
            exp_year: 2000 + u16::from(exp_year_2),
        }
    }

    /// `498011******1111`.
    pub fn masked(&self) -> String {
        let n = self.pan.len();
        let head = &self.pan[..6.min(n)];
        let tail = &self.pan[n.saturating_sub(4)..];
        format!("{head}{}{tail}", "*".repeat(n.saturating_sub(10)))
    }

    /// Last four digits (`customerinfo.cgi`).
    pub fn last4(&self) -> &str {
        &self.pan[self.pan.len().saturating_sub(4)..]
    }

    /// Expiry month, two digits.
    pub fn month_2(&self) -> String {
        format!("{:02}", self.exp_month)
    }

    /// Expiry year, two digits.
    pub fn year_2(&self) -> String {
        format!("{:02}", self.exp_year % 100)
    }

    /// Brand from the issuer prefix.
    pub fn brand(&self) -> Brand {
        let prefix = |n: usize| {
            self.pan
                .get(..n)
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0)
        };
        match (prefix(1), prefix(2), prefix(3), prefix(4)) {
            (4, ..) => Brand::Visa,
            (_, 51..=55, ..) | (.., 2221..=2720) => Brand::Master,
            (_, 34 | 37, ..) => Brand::Amex,
            (.., 3528..=3589) => Brand::Jcb,
            (_, 36 | 38 | 39, ..) | (_, _, 300..=305, _) => Brand::Diners,
            _ => Brand::Other,
        }
    }

    /// Still valid in the month of `now` (JST): a card expiring 01/26 works until 2026-01-31.
    pub fn valid_at(&self, now: Timestamp) -> bool {
        let today: Date = jst_date(now);
        (i32::from(self.exp_year), self.exp_month) >= (today.year, today.month)
    }
}

/// A card number is 14–16 digits (`docs/protocols/fregi.md` §4.1: 14/15-digit cards are left-aligned in PAN1–4).
pub fn pan_well_formed(pan: &str) -> bool {
    (14..=16).contains(&pan.len()) && pan.bytes().all(|b| b.is_ascii_digit())
}

/// The Luhn (mod 10) check.
pub fn luhn_valid(pan: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in pan.bytes().rev().enumerate() {
        let mut d = u32::from(b.wrapping_sub(b'0'));
        if d > 9 {
            return false;
        }
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !pan.is_empty() && sum % 10 == 0
}

/// The acquirer's answer for `amount` yen on `card`. `scode` is only known on a first
/// authorization (it is never stored), so rules that name a security code do not fire on
/// re-authorizations.
pub fn acquirer_decision(
    config: &Config,
    card: &Card,
    scode: Option<&str>,
    amount: u32,
) -> Result<(), Ng> {
    for rule in &config.decline_rules {
        if rule.pan == card.pan && rule.scode.as_deref().is_none_or(|s| Some(s) == scode) {
            return Err(Ng::custom(rule.code.clone(), rule.message.clone()));
        }
    }
    let limit = config
        .card_limits
        .iter()
        .find(|l| l.pan == card.pan)
        .map(|l| l.limit)
        .or(config.default_card_limit);
    if limit.is_some_and(|limit| amount > limit) {
        return Err(Ng::custom("JCN-G55", "限度額オーバー"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_form() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("4980111111111119"));
        // F-REGI's published test card fails Luhn; the default config exempts it.
        assert!(!luhn_valid(crate::config::FREGI_TEST_CARD));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid("41111111x1111111"));
        assert!(pan_well_formed("36000000000008"));
        assert!(!pan_well_formed("4111"));
    }

    #[test]
    fn default_decline_and_limit_cards_are_luhn_valid() {
        let config = Config::default();
        for pan in config
            .decline_rules
            .iter()
            .map(|r| &r.pan)
            .chain(config.card_limits.iter().map(|l| &l.pan))
        {
            assert!(luhn_valid(pan) || config.luhn_exempt.contains(pan), "{pan}");
        }
        for token in &config.tokens {
            assert!(luhn_valid(&token.pan), "{}", token.token);
        }
    }

    #[test]
    fn brands_and_masking() {
        let card = |pan: &str| Card::new(pan.into(), 12, 30);
        assert_eq!(card("4111111111111111").brand(), Brand::Visa);
        assert_eq!(card("5555555555554444").brand(), Brand::Master);
        assert_eq!(card("3530111111111116").brand(), Brand::Jcb);
        assert_eq!(card("378282246310005").brand(), Brand::Amex);
        assert_eq!(card("36000000000008").brand(), Brand::Diners);
        assert_eq!(card("4111111111111111").masked(), "411111******1111");
        assert_eq!(card("4111111111111111").last4(), "1111");
    }

    #[test]
    fn expiry_is_inclusive_of_the_month() {
        let card = Card::new("4111111111111111".into(), 1, 26);
        let jan_31 = Date::new(2026, 1, 31).unwrap().jst_midnight() + 86_399;
        assert!(card.valid_at(jan_31));
        assert!(!card.valid_at(jan_31 + 1));
    }
}
