//! Emulator configuration: merchants, behaviour switches, and the card / token registry.
//!
//! Every rule that the `docs/protocols/sbps.md` marks as an inference (`[I]` in
//! `docs/protocols/sbps.md`) is a field of [`Rules`], defaulting to the documented guess,
//! so a test can flip it once the real sandbox has answered the open question.

use serde::{Deserialize, Serialize};

use crate::codes::{ErrorCode, ErrorReason, reasons};
use crate::time::{JstDateTime, parse_year_month};

/// Merchant id used when no configuration is given (the protocol notes' test-vector value).
pub const DEFAULT_MERCHANT_ID: &str = "99999";
/// Service id used when no configuration is given.
pub const DEFAULT_SERVICE_ID: &str = "001";
/// Hash key used when no configuration is given (§4.5 test vectors).
pub const DEFAULT_HASH_KEY: &str = "TESTHASHKEY0123456789";
/// Basic-auth user used when no configuration is given: merchant_id + service_id (§2).
pub const DEFAULT_BASIC_USER: &str = "99999001";
/// Basic-auth password used when no configuration is given: the hash key (§2).
pub const DEFAULT_BASIC_PASSWORD: &str = DEFAULT_HASH_KEY;
/// 3DES key used when no configuration is given (§5.2 test vector).
pub const DEFAULT_DES_KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWX";
/// 3DES IV used when no configuration is given (§5.2 test vector).
pub const DEFAULT_DES_IV: &str = "12345678";
/// Validity of a request when `limit_second` is omitted (§3.2: ten minutes).
pub const DEFAULT_LIMIT_SECOND: u32 = 600;
/// `cc_company_code` returned for every approved card (§10.5 example).
pub const DEFAULT_CC_COMPANY_CODE: &str = "99665";
/// `recognized_no` (approval number) returned for every approved card; the sandbox always
/// returned `123456` in the recorded traffic.
pub const DEFAULT_RECOGNIZED_NO: &str = "123456";
/// How long a `no_reply` fault holds a connection before closing it without an answer.
pub const DEFAULT_NO_REPLY_HOLD_SECS: u64 = 300;

/// Approved test token that maps to a Visa card, with the token key of the §4.5 test vector,
/// so the published token-authorization vector is accepted end to end.
pub const TEST_TOKEN_VECTOR: &str = "TOKENVALUE";
/// Token key that must accompany [`TEST_TOKEN_VECTOR`].
pub const TEST_TOKEN_VECTOR_KEY: &str = "TOKENKEYVALUE";
/// Approved test token, Visa `4111111111111111`.
pub const TEST_TOKEN_VISA: &str = "TOKEN-VISA";
/// Approved test token, Mastercard `5555555555554444`.
pub const TEST_TOKEN_MASTER: &str = "TOKEN-MASTER";
/// Approved test token, JCB `3566002020360505`.
pub const TEST_TOKEN_JCB: &str = "TOKEN-JCB";
/// Approved test token, American Express `378282246310005`.
pub const TEST_TOKEN_AMEX: &str = "TOKEN-AMEX";
/// Token for a card ending `0000`: declined `10123999` (card unusable).
pub const TEST_TOKEN_DECLINE_UNUSABLE: &str = "TOKEN-DECLINE-UNUSABLE";
/// Token for a card ending `0002`: declined `10122999` (limit exceeded).
pub const TEST_TOKEN_DECLINE_LIMIT: &str = "TOKEN-DECLINE-LIMIT";
/// Token registered as expired: `101T2999`.
pub const TEST_TOKEN_EXPIRED: &str = "TOKEN-EXPIRED";

/// Complete emulator configuration. `Config::default()` is the documented out-of-the-box
/// setup (see the crate README).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Merchants the emulator knows; Basic auth picks one of them per request.
    pub merchants: Vec<MerchantConfig>,
    /// Behaviour switches for every inferred rule.
    pub rules: Rules,
    /// Tokens that `ST01-00131-101` accepts (an unknown token is refused with T1).
    pub tokens: Vec<TestToken>,
    /// Scripted declines, checked in order; the first match wins.
    pub card_rules: Vec<CardRule>,
    /// `cc_company_code` of every approval.
    pub cc_company_code: String,
    /// `recognized_no` of every approval.
    pub recognized_no: String,
    /// First `tracking_id` handed out (14-digit counter, §10.4).
    pub first_tracking_id: u64,
    /// Letter that starts every `sps_transaction_id` (`B` in 2016–2021 samples, `C` since 2022).
    pub transaction_id_letter: char,
    /// Send `Connection: close` after every reply, as the sandbox does (§1). Off by default so
    /// that keep-alive clients and the throughput benchmark are not limited by TCP set-up.
    pub connection_close: bool,
    /// Freeze the clock at this JST moment at start (and after `reset`); `None` = real time.
    pub start_clock: Option<JstDateTime>,
    /// Seconds a `no_reply` fault holds the connection before closing it unanswered.
    pub no_reply_hold_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            merchants: vec![MerchantConfig::default()],
            rules: Rules::default(),
            tokens: TestToken::defaults(),
            card_rules: CardRule::defaults(),
            cc_company_code: DEFAULT_CC_COMPANY_CODE.to_owned(),
            recognized_no: DEFAULT_RECOGNIZED_NO.to_owned(),
            first_tracking_id: 1,
            transaction_id_letter: 'C',
            connection_close: false,
            start_clock: None,
            no_reply_hold_secs: DEFAULT_NO_REPLY_HOLD_SECS,
        }
    }
}

/// One SBPS merchant + service (the unit that holds a hash key and 3DES keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MerchantConfig {
    /// 5 digits.
    pub merchant_id: String,
    /// 3 digits.
    pub service_id: String,
    /// Key appended to the hashed values (§4.1).
    pub hash_key: String,
    /// Basic-auth user; `None` = merchant_id + service_id (§2).
    pub basic_user: Option<String>,
    /// Basic-auth password; `None` = the hash key (§2).
    pub basic_password: Option<String>,
    /// "3DES暗号化キー": up to 24 bytes, zero-padded like the Java client does (§5.2).
    pub des_key: String,
    /// "3DES初期化キー": exactly 8 bytes.
    pub des_iv: String,
    /// Manual (指定売上) or automatic (自動売上) sales, a merchant-side SBPS setting.
    pub sales_mode: SalesMode,
}

impl Default for MerchantConfig {
    fn default() -> Self {
        Self {
            merchant_id: DEFAULT_MERCHANT_ID.to_owned(),
            service_id: DEFAULT_SERVICE_ID.to_owned(),
            hash_key: DEFAULT_HASH_KEY.to_owned(),
            basic_user: None,
            basic_password: None,
            des_key: DEFAULT_DES_KEY.to_owned(),
            des_iv: DEFAULT_DES_IV.to_owned(),
            sales_mode: SalesMode::Manual,
        }
    }
}

impl MerchantConfig {
    /// The Basic-auth user in force.
    pub fn basic_user(&self) -> String {
        self.basic_user
            .clone()
            .unwrap_or_else(|| format!("{}{}", self.merchant_id, self.service_id))
    }

    /// The Basic-auth password in force.
    pub fn basic_password(&self) -> &str {
        self.basic_password.as_deref().unwrap_or(&self.hash_key)
    }
}

/// When a sale happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesMode {
    /// 指定売上: the merchant sends `ST02-00201-101` to capture.
    #[default]
    Manual,
    /// 自動売上: the commit captures; a sales request gets type 37.
    Auto,
}

/// What `ST02-00303-101` does on a payment that has been partially refunded (open question 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundAfterPartial {
    /// Refund what remains and answer OK (the protocol notes' default guess).
    #[default]
    RefundRemainder,
    /// Answer type 46, "already refunded".
    AlreadyRefunded,
}

/// Switches for the rules the protocol notes could only infer. Defaults are the documented guesses;
/// the section numbers refer to `docs/protocols/sbps.md`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// §10.2.2: HTTP status for bad or missing Basic credentials (no XML body). Default 401.
    pub unauthorized_status: u16,
    /// §3.2: validity of a request without `limit_second`. Default 600.
    pub default_limit_second: u32,
    /// §10.3.8: reject a `request_date` more than this many seconds in the future (type 10).
    /// Default `None`: future dates are never rejected (the sandbox accepted 5–6 s of skew).
    pub max_future_skew_secs: Option<u64>,
    /// §10.5 sales 3 (open question 1): refuse a sale before the commit. Default false,
    /// because the Java client's live tests capture without committing.
    pub require_commit_before_sales: bool,
    /// Reason when `require_commit_before_sales` refuses a sale. Default `60999`.
    pub sales_before_commit: ErrorReason,
    /// §10.5 auth 3 (open question 9): a declined authorization still uses up its `order_id`.
    /// Default true.
    pub declined_order_id_is_used: bool,
    /// §10.5 auth 1: the duplicate-order_id reply (type 96) carries the root `id`. Default false
    /// (observed without).
    pub duplicate_order_id_reply_has_id: bool,
    /// §10.5 auth 3: card declines carry the root `id`. Default true.
    pub decline_reply_has_id: bool,
    /// §10.5 00303 4 (open question 4): 00303 after partial refunds. Default refund the rest.
    pub refund_after_partial_refund: RefundAfterPartial,
    /// §10.5 sales 7: sales are valid until the end of the N-th month after the authorization
    /// month (type 42). Default `Some(3)`; `None` disables the check.
    pub sales_window_months: Option<u32>,
    /// §6.4 (open question 5): a refund of a sold payment reports `res_process_date` as the
    /// business date with time `000000`. Default true; false reports the actual time.
    pub refund_process_date_is_date_only: bool,
    /// §10.5 MG01: omit `cc_number` when `response_info_type` is 0 or absent. Default true;
    /// false sends an empty element.
    pub inquiry_omits_cc_number_for_type_0: bool,
    /// §10.5 reauth 2: with `pay_info_control_type=B`, a card number or token in the request is
    /// refused with type 13. Default true.
    pub reauth_b_rejects_card_data: bool,
    /// §10.3.1: code for unparseable XML, a wrong root or a missing `id`. Default `99900999`.
    pub malformed_request: ErrorCode,
    /// §10.3.5: `merchant_id` differs from the Basic-auth merchant. Default `14001`.
    pub merchant_id_mismatch: ErrorReason,
    /// §10.3.5: `service_id` differs from the Basic-auth merchant. Default `14002`.
    pub service_id_mismatch: ErrorReason,
    /// §10.4 (open question 2): `tracking_id` not found. Default `12027`.
    pub unknown_tracking_id: ErrorReason,
    /// §10.4: `sps_transaction_id` not found. Default `11026`.
    pub unknown_sps_transaction_id: ErrorReason,
    /// §10.4: `tracking_id` and `sps_transaction_id` name different payments. Default `11026`.
    pub target_mismatch: ErrorReason,
    /// §10.5 00305 (open question 6): cancel-only on a sold or refunded payment. Default `49999`.
    pub cancel_on_sold: ErrorReason,
    /// §10.5 00307 3: partial refund of a cancelled authorization. Default `45999`.
    pub partial_refund_on_cancelled: ErrorReason,
    /// A card number that fails the Luhn check or has expired. Default `27999`.
    pub invalid_card: ErrorReason,
    /// §10.5 auth 2: charge of a stored card when none is stored. Default `95999`.
    pub no_stored_card: ErrorReason,
    /// §10.5 auth 2: unknown token (or wrong token_key). Default `T1999`.
    pub unknown_token: ErrorReason,
    /// §10.5 auth 2: expired token. Default `T2999`.
    pub expired_token: ErrorReason,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            unauthorized_status: 401,
            default_limit_second: DEFAULT_LIMIT_SECOND,
            max_future_skew_secs: None,
            require_commit_before_sales: false,
            sales_before_commit: reasons::COMMIT_NOT_POSSIBLE,
            declined_order_id_is_used: true,
            duplicate_order_id_reply_has_id: false,
            decline_reply_has_id: true,
            refund_after_partial_refund: RefundAfterPartial::RefundRemainder,
            sales_window_months: Some(3),
            refund_process_date_is_date_only: true,
            inquiry_omits_cc_number_for_type_0: true,
            reauth_b_rejects_card_data: true,
            malformed_request: reasons::MALFORMED_XML.with_method("999"),
            merchant_id_mismatch: reasons::MERCHANT_ID_MISMATCH,
            service_id_mismatch: reasons::SERVICE_ID_MISMATCH,
            unknown_tracking_id: reasons::UNKNOWN_TRACKING_ID,
            unknown_sps_transaction_id: reasons::UNKNOWN_SPS_TRANSACTION_ID,
            target_mismatch: reasons::UNKNOWN_SPS_TRANSACTION_ID,
            cancel_on_sold: reasons::CANCEL_NEEDS_REFUND,
            partial_refund_on_cancelled: reasons::REFUND_ON_CANCELLED,
            invalid_card: reasons::CARD_NUMBER_OR_EXPIRY,
            no_stored_card: reasons::NO_STORED_CARD,
            unknown_token: reasons::TOKEN_INVALID,
            expired_token: reasons::TOKEN_EXPIRED,
        }
    }
}

/// A test card: what a token stands for, or what a card-data request carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCard {
    /// Card number (PAN), digits only.
    pub number: String,
    /// Expiry `YYYYMM`.
    pub expiration: String,
    /// Security code, if the token carries one (used by security-code decline rules).
    #[serde(default)]
    pub security_code: Option<String>,
}

impl TestCard {
    /// A card with a far-future expiry and no security code.
    pub fn new(number: &str) -> Self {
        Self {
            number: number.to_owned(),
            expiration: "203012".to_owned(),
            security_code: None,
        }
    }
}

/// A token that `ST01-00131-101` / `ST01-00133-101` accept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestToken {
    /// The `token` value.
    pub token: String,
    /// The `token_key` that must accompany it; `None` accepts any key.
    #[serde(default)]
    pub token_key: Option<String>,
    /// The card behind the token.
    pub card: TestCard,
    /// Refuse the token as expired (type T2).
    #[serde(default)]
    pub expired: bool,
}

impl TestToken {
    /// A token that accepts any token_key.
    pub fn new(token: &str, card: TestCard) -> Self {
        Self {
            token: token.to_owned(),
            token_key: None,
            card,
            expired: false,
        }
    }

    /// The default registry documented in the README.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self {
                token_key: Some(TEST_TOKEN_VECTOR_KEY.to_owned()),
                ..Self::new(TEST_TOKEN_VECTOR, TestCard::new("4242424242424242"))
            },
            Self::new(TEST_TOKEN_VISA, TestCard::new("4111111111111111")),
            Self::new(TEST_TOKEN_MASTER, TestCard::new("5555555555554444")),
            Self::new(TEST_TOKEN_JCB, TestCard::new("3566002020360505")),
            Self::new(TEST_TOKEN_AMEX, TestCard::new("378282246310005")),
            Self::new(
                TEST_TOKEN_DECLINE_UNUSABLE,
                TestCard::new("4000000000100000"),
            ),
            Self::new(TEST_TOKEN_DECLINE_LIMIT, TestCard::new("4000000000000002")),
            Self {
                expired: true,
                ..Self::new(TEST_TOKEN_EXPIRED, TestCard::new("4111111111111111"))
            },
        ]
    }
}

/// A scripted decline: cards whose number ends with `pan_suffix` (and, if set, whose security
/// code equals `security_code`) are refused with `reason`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRule {
    /// Trailing digits of the card number; a full number matches one card only.
    pub pan_suffix: String,
    /// Only decline when the request's security code is exactly this.
    #[serde(default)]
    pub security_code: Option<String>,
    /// Type + item of the decline, e.g. `"23999"`.
    pub reason: ErrorReason,
}

impl CardRule {
    /// The default script documented in the README.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self {
                pan_suffix: "0000".into(),
                security_code: None,
                reason: reasons::CARD_UNUSABLE,
            },
            Self {
                pan_suffix: "0002".into(),
                security_code: None,
                reason: reasons::LIMIT_EXCEEDED,
            },
            Self {
                pan_suffix: "0127".into(),
                security_code: Some("000".into()),
                reason: reasons::SECURITY_CODE_WRONG,
            },
        ]
    }
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No merchant configured.
    #[error("at least one merchant must be configured")]
    NoMerchant,
    /// merchant_id is not 5 digits or service_id not 3 digits.
    #[error(
        "merchant {merchant_id}/{service_id}: merchant_id must be 5 digits and service_id 3 digits"
    )]
    BadMerchantId {
        /// As configured.
        merchant_id: String,
        /// As configured.
        service_id: String,
    },
    /// Two merchants share merchant_id + service_id or a Basic-auth user.
    #[error("merchant {0}: configured twice (same ids or same Basic-auth user)")]
    DuplicateMerchant(String),
    /// 3DES key longer than 24 bytes or IV not 8 bytes.
    #[error("merchant {0}: the 3DES key must be at most 24 bytes and the IV exactly 8 bytes")]
    BadDesKey(String),
    /// A token's card is not a digit string with a YYYYMM expiry.
    #[error("token {0}: the card needs a digit-only number and a YYYYMM expiration")]
    BadTokenCard(String),
    /// A decline rule's suffix is not digits.
    #[error("card rule {0:?}: pan_suffix must be 1 to 19 digits")]
    BadCardRule(String),
}

impl Config {
    /// Checks what the emulator relies on at run time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.merchants.is_empty() {
            return Err(ConfigError::NoMerchant);
        }
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let mut seen_ids = std::collections::HashSet::new();
        let mut seen_users = std::collections::HashSet::new();
        for m in &self.merchants {
            let label = format!("{}{}", m.merchant_id, m.service_id);
            if !digits(&m.merchant_id, 5) || !digits(&m.service_id, 3) {
                return Err(ConfigError::BadMerchantId {
                    merchant_id: m.merchant_id.clone(),
                    service_id: m.service_id.clone(),
                });
            }
            if !seen_ids.insert(label.clone()) || !seen_users.insert(m.basic_user()) {
                return Err(ConfigError::DuplicateMerchant(label));
            }
            if m.des_key.len() > 24 || m.des_iv.len() != 8 {
                return Err(ConfigError::BadDesKey(label));
            }
        }
        for t in &self.tokens {
            let c = &t.card;
            if c.number.is_empty()
                || !c.number.bytes().all(|b| b.is_ascii_digit())
                || parse_year_month(&c.expiration).is_none()
            {
                return Err(ConfigError::BadTokenCard(t.token.clone()));
            }
        }
        for r in &self.card_rules {
            if r.pan_suffix.is_empty()
                || r.pan_suffix.len() > 19
                || !r.pan_suffix.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(ConfigError::BadCardRule(r.pan_suffix.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_the_documented_one() {
        let c = Config::default();
        c.validate().unwrap();
        let m = &c.merchants[0];
        assert_eq!(m.basic_user(), DEFAULT_BASIC_USER);
        assert_eq!(m.basic_password(), DEFAULT_BASIC_PASSWORD);
        assert_eq!(m.des_key, DEFAULT_DES_KEY);
        assert_eq!(c.rules.malformed_request.to_string(), "99900999");
    }

    #[test]
    fn config_round_trips_through_json_and_accepts_partial_input() {
        let c = Config::default();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), c);
        let partial: Config = serde_json::from_str(
            r#"{"rules": {"require_commit_before_sales": true, "unknown_tracking_id": "83999"}}"#,
        )
        .unwrap();
        assert!(partial.rules.require_commit_before_sales);
        assert_eq!(partial.rules.unknown_tracking_id.as_str(), "83999");
        assert_eq!(partial.merchants, c.merchants);
    }

    #[test]
    fn validation_catches_bad_merchants() {
        let mut c = Config::default();
        c.merchants[0].merchant_id = "9999".into();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::BadMerchantId { .. })
        ));
        let mut c = Config::default();
        c.merchants.push(MerchantConfig::default());
        assert!(matches!(
            c.validate(),
            Err(ConfigError::DuplicateMerchant(_))
        ));
        let mut c = Config::default();
        c.merchants[0].des_iv = "123".into();
        assert!(matches!(c.validate(), Err(ConfigError::BadDesKey(_))));
    }
}
