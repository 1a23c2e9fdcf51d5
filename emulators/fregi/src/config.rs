//! Emulator configuration.
//!
//! Every behaviour `docs/protocols/fregi.md` marks as inferred or proposed is a field here, with
//! the documented default, so a test can pin the alternative down ("make it a configuration
//! switch with the documented default"). `Config` deserialises from JSON/TOML with every field
//! optional, so a file only names what it changes.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Line terminator of reply bodies. Undocumented publicly (`docs/protocols/fregi.md` §9.5); clients seen in the
/// wild split on LF and trim, so both must work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineEnding {
    /// `\n` (default, proposal).
    #[default]
    Lf,
    /// `\r\n`.
    CrLf,
}

impl LineEnding {
    /// The terminator bytes.
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::Lf => "\n",
            LineEnding::CrLf => "\r\n",
        }
    }
}

/// Shape of generated `AUTHCODE`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthcodeStyle {
    /// Six digits, like the spec's example `000123` (default).
    #[default]
    Digits,
    /// Six mixed-case letters, like the real test environment's `EHcUBW`.
    Letters,
}

/// What `sale.cgi` answers for a transaction that is already sold (`docs/protocols/fregi.md` §9.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepeatSale {
    /// `NG` `S1-1-121(売上処理時の指定された取引は売上受付済みです)`, as the seed manual shows
    /// for bulk capture (rule F-10; default).
    #[default]
    Refuse,
    /// `OK` with the same `SEQNO`, as an idempotent gateway would.
    IdempotentOk,
}

/// A card (or card + security code) the acquirer declines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclineRule {
    /// Full card number, digits only.
    pub pan: String,
    /// Decline only with this security code; `None` declines whatever the code.
    #[serde(default)]
    pub scode: Option<String>,
    /// Reason code, e.g. `JCN-G12`.
    pub code: String,
    /// Reason message.
    pub message: String,
}

/// A per-card amount limit: a single authorization above it is declined with `JCN-G55`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardLimit {
    /// Full card number, digits only.
    pub pan: String,
    /// Highest amount (yen) one authorization may carry.
    pub limit: u32,
}

/// A token the emulator's tokenizer registry knows (F-REGI tokens come from a browser script the
/// emulator does not serve; tests register tokens here instead).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestToken {
    /// The `TOKEN` value.
    pub token: String,
    /// Card behind the token, digits only.
    pub pan: String,
    /// Expiry month 1–12.
    pub exp_month: u8,
    /// Expiry year, two digits.
    pub exp_year: u8,
    /// The token itself has expired: `authm` answers `A1-1-171`.
    #[serde(default)]
    pub expired: bool,
}

/// Wall-clock time of day (JST) for the automatic transmission batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay {
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
}

impl TimeOfDay {
    /// Seconds after midnight.
    pub fn seconds(self) -> i64 {
        i64::from(self.hour) * 3600 + i64::from(self.minute) * 60
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let (h, m) = text
            .split_once(':')
            .ok_or_else(|| format!("time of day `{text}` is not HH:MM"))?;
        let hour: u8 = h.parse().map_err(|_| format!("bad hour in `{text}`"))?;
        let minute: u8 = m.parse().map_err(|_| format!("bad minute in `{text}`"))?;
        if hour > 23 || minute > 59 {
            return Err(format!("time of day `{text}` out of range"));
        }
        Ok(TimeOfDay { hour, minute })
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> String {
        format!("{:02}:{:02}", t.hour, t.minute)
    }
}

/// Emulator configuration; [`Config::default`] is what `renkei emulator fregi` runs with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Shop ids (`SHOPID`) the emulator accepts. Default `["12345"]`.
    pub shops: Vec<String>,
    /// Source addresses allowed to call `/connect*` (F-REGI's IP registration). Empty = anyone.
    /// A refused caller gets HTTP 403 with an empty body (proposal).
    pub allowed_ips: Vec<IpAddr>,
    /// Reply line terminator.
    pub line_ending: LineEnding,
    /// Keep separate transactions for `/connect/` and `/connecttest/` (default: one shared book).
    pub separate_environments: bool,
    /// First `SEQNO` issued after start or reset.
    pub seqno_start: u64,
    /// Seed of the `AUTHCODE` generator; `None` = random per start.
    pub seed: Option<u64>,
    /// Shape of `AUTHCODE`s.
    pub authcode_style: AuthcodeStyle,
    /// Emulator clock at start and after reset, Unix seconds; `None` = the host's clock.
    pub clock_start: Option<i64>,
    /// Capture window in days after authorization; a later sale is `S1-1-125` [PROP: 60].
    pub capture_window_days: u32,
    /// Time of day (JST) at which the transmission batch runs by itself as the emulator clock
    /// passes it [PROP: 21:00]; `None` = only on demand (`/__emulator__/batch`).
    pub auto_batch_at: Option<TimeOfDay>,
    /// The batch also moves cancellations of never-transmitted sales to `31` [PROP: true];
    /// when false they stay `30`.
    pub batch_transmits_untransmitted_cancellations: bool,
    /// Refuse an `authm`/`salem` whose `ID` is held by a transaction that did not fail
    /// (`A1-1-60`) [PROP: true].
    pub reject_duplicate_id: bool,
    /// A declined authorization creates a record in `11` 承認失敗 [PROP: true].
    pub record_declines: bool,
    /// `sale.cgi` with an `AUTHCODE` that does not match the transaction answers `S1-1-120`
    /// [PROP: true]; when false `AUTHCODE` is ignored.
    pub check_sale_authcode: bool,
    /// `sale.cgi` from the shop without `AUTHCODE`, on a transaction that has one, answers
    /// `S1-1-111` (a stand-in) [PROP: true]:
    /// every production client sends it (`docs/protocols/fregi.md` §4.2, S5, S6), so the real gateway may
    /// require it. The admin screen's capture needs none.
    pub require_sale_authcode: bool,
    /// Repeated sale behaviour.
    pub repeat_sale: RepeatSale,
    /// The shop may send `CANCELFIRST=1` on `authchange`/`salechange`; otherwise it is treated as
    /// `0` [PROP: false].
    pub cancel_first_permitted: bool,
    /// `salechange` refuses a higher amount with `S3-1-21` [PROP: false].
    pub salechange_forbid_increase: bool,
    /// The shop is contracted for security-code checks: a PAN without `SCODE` is `A1-1-130`.
    pub require_scode: bool,
    /// A PAN without `CARDNAME` is refused (`A1-1-70`) [C1: listed as required].
    pub require_card_name: bool,
    /// Card numbers must pass the Luhn check (`A1-1-31`).
    pub luhn_check: bool,
    /// Card numbers accepted without the Luhn check: F-REGI's published test card
    /// `4980111111111111` fails Luhn but works in the test environment.
    pub luhn_exempt: Vec<String>,
    /// Acquirer declines by card (and security code).
    pub decline_rules: Vec<DeclineRule>,
    /// Per-card single-authorization limits (`JCN-G55` above).
    pub card_limits: Vec<CardLimit>,
    /// Limit for every other card; `None` = only the 9,999,999 ceiling.
    pub default_card_limit: Option<u32>,
    /// Tokens known at start and after reset.
    pub tokens: Vec<TestToken>,
    /// A token works once, as real one-time tokens do (default false so tests can reuse them).
    pub single_use_tokens: bool,
    /// Longest time a `no_reply` fault holds a connection whose client never gives up, seconds
    /// (the SBPS emulator's name; `hang_limit_secs` is still read).
    #[serde(alias = "hang_limit_secs")]
    pub no_reply_hold_secs: u64,
}

/// The test card F-REGI publishes for its test environment (`docs/protocols/fregi.md` §7).
pub const FREGI_TEST_CARD: &str = "4980111111111111";

impl Default for Config {
    fn default() -> Self {
        let decline = |pan: &str, scode: Option<&str>, code: &str, message: &str| DeclineRule {
            pan: pan.into(),
            scode: scode.map(Into::into),
            code: code.into(),
            message: message.into(),
        };
        let token = |token: &str, pan: &str, expired: bool| TestToken {
            token: token.into(),
            pan: pan.into(),
            exp_month: 12,
            exp_year: 99,
            expired,
        };
        Config {
            shops: vec!["12345".into()],
            allowed_ips: Vec::new(),
            line_ending: LineEnding::Lf,
            separate_environments: false,
            seqno_start: 1,
            seed: None,
            authcode_style: AuthcodeStyle::Digits,
            clock_start: None,
            capture_window_days: 60,
            auto_batch_at: Some(TimeOfDay {
                hour: 21,
                minute: 0,
            }),
            batch_transmits_untransmitted_cancellations: true,
            reject_duplicate_id: true,
            record_declines: true,
            check_sale_authcode: true,
            require_sale_authcode: true,
            repeat_sale: RepeatSale::Refuse,
            cancel_first_permitted: false,
            salechange_forbid_increase: false,
            require_scode: false,
            require_card_name: true,
            luhn_check: true,
            luhn_exempt: vec![FREGI_TEST_CARD.into()],
            decline_rules: vec![
                decline(
                    FREGI_TEST_CARD,
                    Some("123"),
                    "JCN-G44",
                    "セキュリティコード誤り",
                ),
                decline("4000000000000010", None, "JCN-G12", "カード使用不可"),
                decline("4000000000000028", None, "JCN-G55", "限度額オーバー"),
                decline("4000000000000036", None, "JCN-G60", "事故カード"),
                decline("4000000000000044", None, "JCN-G30", "取引判定保留"),
                decline("4000000000000051", None, "JCN-G83", "有効期限エラー"),
            ],
            card_limits: vec![CardLimit {
                pan: "4000000000000069".into(),
                limit: 10_000,
            }],
            default_card_limit: None,
            tokens: vec![
                token("TESTTOKEN-OK", "4111111111111111", false),
                token("TESTTOKEN-DECLINE", "4000000000000010", false),
                token("TESTTOKEN-LIMIT", "4000000000000069", false),
                token("TESTTOKEN-EXPIRED", "4111111111111111", true),
            ],
            single_use_tokens: false,
            no_reply_hold_secs: 300,
        }
    }
}

impl Config {
    /// Capture window as a duration.
    pub fn capture_window(&self) -> Duration {
        Duration::from_secs(u64::from(self.capture_window_days) * 86_400)
    }

    /// Checks what serde cannot: at least one shop, sane numbers.
    pub fn validate(&self) -> Result<(), crate::EmulatorError> {
        let bad = |why: String| Err(crate::EmulatorError::Config(why));
        if self.shops.is_empty() {
            return bad("at least one SHOPID is needed".into());
        }
        if self.seqno_start == 0 || self.seqno_start >= 10u64.pow(19) {
            return bad("seqno_start must be in 1..10^19".into());
        }
        for token in &self.tokens {
            if !(1..=12).contains(&token.exp_month) || token.exp_year > 99 {
                return bad(format!("token {} has a bad expiry", token.token));
            }
        }
        Ok(())
    }
}
