//! Cards: brand detection, the Luhn check and the scripted declines (§10.5 auth 3).

use serde::{Deserialize, Serialize};

use crate::codes::ErrorReason;
use crate::config::{CardRule, Rules};
use crate::time::{JstDateTime, parse_year_month};

/// Card brand as SBPS codes it in `cardbrand_code` (§6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Brand {
    /// `J`
    #[serde(rename = "J")]
    Jcb,
    /// `V`
    #[serde(rename = "V")]
    Visa,
    /// `M`
    #[serde(rename = "M")]
    Master,
    /// `A`
    #[serde(rename = "A")]
    Amex,
    /// `D`
    #[serde(rename = "D")]
    Diners,
    /// `X`
    #[serde(rename = "X")]
    Other,
}

impl Brand {
    /// The one-letter `cardbrand_code`.
    pub fn code(self) -> &'static str {
        match self {
            Brand::Jcb => "J",
            Brand::Visa => "V",
            Brand::Master => "M",
            Brand::Amex => "A",
            Brand::Diners => "D",
            Brand::Other => "X",
        }
    }

    /// Brand from the card number's issuer prefix.
    pub fn of_number(number: &str) -> Self {
        let prefix = |n: usize| {
            number
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
}

/// A card as the emulator charges it. The full number never leaves the process in dumps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Card {
    pub number: String,
    pub expiration: String,
    pub security_code: Option<String>,
}

impl Card {
    pub fn brand(&self) -> Brand {
        Brand::of_number(&self.number)
    }

    pub fn last4(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }

    /// `************4242`: twelve asterisks and the last four digits, as MG01 answers with
    /// `response_info_type=2`.
    pub fn masked(&self) -> String {
        format!("************{}", self.last4())
    }
}

/// The Luhn (mod 10) check digit test.
pub(crate) fn luhn_valid(number: &str) -> bool {
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Decides whether the card company would approve: a Luhn-valid, unexpired card approves
/// unless a scripted decline rule matches.
pub(crate) fn screen(
    card: &Card,
    now: JstDateTime,
    rules: &Rules,
    script: &[CardRule],
) -> Result<(), ErrorReason> {
    let expired = match parse_year_month(&card.expiration) {
        Some((year, month)) => now.is_after_month(year, month),
        None => true,
    };
    if !luhn_valid(&card.number) || expired {
        return Err(rules.invalid_card);
    }
    for rule in script {
        let code_matches = match &rule.security_code {
            Some(expected) => card.security_code.as_deref() == Some(expected.as_str()),
            None => true,
        };
        if card.number.ends_with(&rule.pan_suffix) && code_matches {
            return Err(rule.reason);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn card(number: &str, expiration: &str, security_code: Option<&str>) -> Card {
        Card {
            number: number.into(),
            expiration: expiration.into(),
            security_code: security_code.map(Into::into),
        }
    }

    #[test]
    fn brands_and_luhn() {
        assert_eq!(Brand::of_number("4242424242424242"), Brand::Visa);
        assert_eq!(Brand::of_number("5555555555554444"), Brand::Master);
        assert_eq!(Brand::of_number("2223003122003222"), Brand::Master);
        assert_eq!(Brand::of_number("3566002020360505"), Brand::Jcb);
        assert_eq!(Brand::of_number("378282246310005"), Brand::Amex);
        assert_eq!(Brand::of_number("36227206271667"), Brand::Diners);
        assert_eq!(Brand::of_number("9999999999999995"), Brand::Other);
        assert!(luhn_valid("4242424242424242"));
        assert!(!luhn_valid("4242424242424241"));
        assert_eq!(
            card("4242424242424242", "203012", None).masked(),
            "************4242"
        );
    }

    #[test]
    fn default_script_declines_the_documented_cards() {
        let c = Config::default();
        let now = JstDateTime::parse("20240102030405").unwrap();
        let check = |n: &str, exp: &str, sc: Option<&str>| {
            screen(&card(n, exp, sc), now, &c.rules, &c.card_rules)
                .err()
                .map(|r| r.to_string())
        };
        assert_eq!(check("4242424242424242", "202401", None), None);
        assert_eq!(
            check("4242424242424242", "202312", None).as_deref(),
            Some("27999")
        );
        assert_eq!(
            check("4242424242424241", "203001", None).as_deref(),
            Some("27999")
        );
        assert_eq!(
            check("4000000000100000", "203001", None).as_deref(),
            Some("23999")
        );
        assert_eq!(
            check("4000000000000002", "203001", None).as_deref(),
            Some("22999")
        );
        assert_eq!(
            check("4000000000000127", "203001", Some("000")).as_deref(),
            Some("61999")
        );
        assert_eq!(check("4000000000000127", "203001", Some("123")), None);
    }
}
