//! Emulator configuration (`docs/protocols/gmopg.md` §10, §11.1).
//!
//! What the protocol notes mark as inferred or proposed is a field here with the documented
//! default, so a test can pin the alternative down. `Config` deserialises from JSON/TOML with
//! every field optional, so a file names only what it changes.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// The default shop's `ShopID` (§10.1).
pub const DEFAULT_SHOP_ID: &str = "tshop00042424";
/// The default shop's `ShopPass` (§10.1): a canary the `secrets.*` checks can search for.
pub const DEFAULT_SHOP_PASS: &str = "Rk7cNq2x";
/// The card behind [`TEST_TOKEN_OK`].
pub const TEST_CARD_OK: &str = "4111111111111111";
/// A token that approves (§10.5).
pub const TEST_TOKEN_OK: &str = "TESTTOKEN-OK";
/// A token whose card approves up to [`LIMIT_CARD_LIMIT`] yen (§10.5).
pub const TEST_TOKEN_LIMIT: &str = "TESTTOKEN-LIMIT";
/// A token that fails two checks at once: a multi-error reply (§10.5).
pub const TEST_TOKEN_MULTI: &str = "TESTTOKEN-MULTI";
/// The errors [`TEST_TOKEN_MULTI`] answers.
pub const MULTI_ERRORS: [&str; 2] = ["E01170006", "E01180008"];
/// The card with a limit.
pub const LIMIT_CARD: &str = "4000000000010000";
/// Its limit in yen.
pub const LIMIT_CARD_LIMIT: u64 = 10_000;
/// The card company declines a test card or token can stand for (§5.3, §10.5).
pub const DECLINE_CODES: [&str; 7] = [
    "42G020000",
    "42G030000",
    "42G120000",
    "42G440000",
    "42G550000",
    "42G650000",
    "42G830000",
];

/// The test token declined with `code` (`TESTTOKEN-42G020000`, …).
pub fn decline_token(code: &str) -> String {
    format!("TESTTOKEN-{code}")
}

/// The test card declined with `code`: `4000000000000` and the three digits after `42G`.
pub fn decline_card(code: &str) -> String {
    let digits: String = code.chars().skip(3).take(3).collect();
    format!("4000000000000{digits}")
}

/// A shop: its id and password. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shop {
    /// `ShopID`.
    pub shop_id: String,
    /// `ShopPass`.
    pub shop_pass: String,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("shop_id", &self.shop_id)
            .field("shop_pass", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for TestToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestToken")
            .field("token", &self.token)
            .field("card", &mask(&self.card_no))
            .field("expire", &self.expire)
            .field("errors", &self.errors)
            .finish()
    }
}

/// A token (what GMO-PG's browser tokenizer would return) and the card it stands for.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestToken {
    /// The `Token` value.
    pub token: String,
    /// Card number.
    #[serde(default = "ok_card")]
    pub card_no: String,
    /// Expiry `YYMM`.
    #[serde(default = "far_expiry")]
    pub expire: String,
    /// When not empty, `ExecTran` with this token answers these `ErrInfo` codes instead.
    #[serde(default)]
    pub errors: Vec<String>,
}

fn ok_card() -> String {
    TEST_CARD_OK.to_owned()
}

fn far_expiry() -> String {
    "3012".to_owned()
}

/// A card the card company declines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineRule {
    /// Card number.
    pub card_no: String,
    /// The `ErrInfo` (`42G…`).
    pub code: String,
}

/// A card that approves up to a limit per authorization, and is declined `42G550000` above.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardLimit {
    /// Card number.
    pub card_no: String,
    /// Highest amount + tax approved, in yen.
    pub limit: u64,
}

/// Which cancel job codes the emulator accepts on which day (§7.1, §10.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelDateRule {
    /// `VOID` on the reference date, `RETURN` later in its month, `RETURNX` from the next month
    /// on; any other choice is `E11010003` (default).
    #[default]
    Strict,
    /// Any of the three on any day (what S1's 2013 cassette suggests GMO-PG's test host did).
    Any,
}

/// The emulator's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The shops; the first is the one `plugin_config()` names.
    pub shops: Vec<Shop>,
    /// The clock's reading at start (Unix seconds); host time when `None`.
    pub clock_start: Option<Timestamp>,
    /// Seed of the ids and approval numbers; random when `None`.
    pub seed: Option<u64>,
    /// The registered tokens.
    pub tokens: Vec<TestToken>,
    /// A token works once (GMO-PG's expire after use); default false.
    pub single_use_tokens: bool,
    /// Cards declined whatever the amount.
    pub decline_rules: Vec<DeclineRule>,
    /// Cards with a limit per authorization.
    pub card_limits: Vec<CardLimit>,
    /// §7.1 / §10.4.
    pub cancel_date_rule: CancelDateRule,
    /// Days after which a transaction can no longer be altered or changed (§7.4).
    pub max_age_days: i64,
    /// Longest a `no_reply` fault holds a connection, in seconds.
    pub no_reply_hold_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        let mut tokens = vec![
            TestToken {
                token: TEST_TOKEN_OK.into(),
                card_no: TEST_CARD_OK.into(),
                expire: far_expiry(),
                errors: Vec::new(),
            },
            TestToken {
                token: TEST_TOKEN_LIMIT.into(),
                card_no: LIMIT_CARD.into(),
                expire: far_expiry(),
                errors: Vec::new(),
            },
            TestToken {
                token: TEST_TOKEN_MULTI.into(),
                card_no: TEST_CARD_OK.into(),
                expire: far_expiry(),
                errors: MULTI_ERRORS.iter().map(|c| (*c).to_owned()).collect(),
            },
        ];
        tokens.extend(DECLINE_CODES.iter().map(|code| TestToken {
            token: decline_token(code),
            card_no: decline_card(code),
            expire: far_expiry(),
            errors: Vec::new(),
        }));
        Config {
            shops: vec![Shop {
                shop_id: DEFAULT_SHOP_ID.into(),
                shop_pass: DEFAULT_SHOP_PASS.into(),
            }],
            clock_start: None,
            seed: None,
            tokens,
            single_use_tokens: false,
            decline_rules: DECLINE_CODES
                .iter()
                .map(|code| DeclineRule {
                    card_no: decline_card(code),
                    code: (*code).to_owned(),
                })
                .collect(),
            card_limits: vec![CardLimit {
                card_no: LIMIT_CARD.into(),
                limit: LIMIT_CARD_LIMIT,
            }],
            cancel_date_rule: CancelDateRule::Strict,
            max_age_days: 180,
            no_reply_hold_secs: 300,
        }
    }
}

impl Config {
    /// Refuses a configuration the emulator cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        if self.shops.is_empty() {
            return Err("at least one shop is needed".into());
        }
        for shop in &self.shops {
            if shop.shop_id.is_empty() || shop.shop_pass.is_empty() {
                return Err("a shop needs a non-empty shop_id and shop_pass".into());
            }
        }
        for rule in &self.decline_rules {
            if !rule.code.is_ascii() || rule.code.len() != 9 {
                return Err(format!(
                    "decline code `{}` is not 9 ASCII characters",
                    rule.code
                ));
            }
        }
        if self.max_age_days < 1 {
            return Err("max_age_days must be at least 1".into());
        }
        Ok(())
    }

    /// The shop with this id.
    pub fn shop(&self, shop_id: &str) -> Option<&Shop> {
        self.shops.iter().find(|s| s.shop_id == shop_id)
    }
}

/// A card number as GMO-PG shows it: every digit but the last four masked with `*` [PROP].
pub fn mask(card_no: &str) -> String {
    let n = card_no.chars().count();
    card_no
        .chars()
        .enumerate()
        .map(|(i, c)| if i + 4 < n { '*' } else { c })
        .collect()
}
