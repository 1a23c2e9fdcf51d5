//! SBPS's manifest and config: what the plugin declares (capabilities, limits, keys, tables), and
//! how a shop's config becomes an [`Sbps`], every value checked before the first request.

use crate::protocol::{self, FieldCipher};
use crate::{ERRORS, GATEWAY_ID, STATUSES, Sbps};
use renkei_sdk::{
    AmountChange, Capabilities, Config, ConfigError, ConfigKey, ConfigKind, Currency, GatewayError,
    Inquiry, Limits, Manifest, Money, OperationKind, PartialCapture, PartialRefund, RequestExpiry,
    Secret,
};

/// SBPS amounts are 1..=9,999,999 yen, tax included (§6.1). Constants, not a manifest lookup:
/// `prepare` runs per request.
pub const MIN_AMOUNT: i64 = 1;
pub const MAX_AMOUNT: i64 = 9_999_999;
/// How long a request stays valid at SBPS, sent explicitly so a request's lifetime is visible.
/// SBPS's own default is 600 s (§3.2); a host that lost a reply waits this long before an
/// inquiry can settle it, so the plugin asks for a shorter window: long enough for any sane
/// clock difference and network path, short enough to settle within minutes.
pub const DEFAULT_LIMIT_SECONDS: u32 = 60;
pub const DEFAULT_LIMIT_SECOND: &str = "60";
pub const DEFAULT_ITEM_ID: &str = "renkei";
/// `item_id` is at most 32 ASCII characters.
const ITEM_ID_CHARS: usize = 32;

/// What the plugin declares, as `Gateway::manifest` exports it: the request expiry names
/// `limit_second`, so the host knows how long an unsettled request can still take effect.
pub fn manifest() -> Manifest {
    Manifest {
        gateway_id: GATEWAY_ID.into(),
        display_name: "SBPS (SB Payment Service) credit card".into(),
        plugin_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))
            .expect("crate version is semver"),
        sdk_version: renkei_sdk::sdk_version(),
        capabilities: Capabilities {
            operations: OperationKind::ALL.to_vec(),
            // Sales (ST02-00201) with an `amount` below the authorization, on the same
            // tracking id (S-1, `docs/protocols/sbps.md` "Capture less than authorized").
            partial_capture: PartialCapture::InPlace,
            // ST02-00307 refunds part of the sale under the same tracking id; MG01 then says
            // 返金済 without amounts, which the host's inquiry reading handles (S-3, G-8).
            partial_refund: PartialRefund::InPlace,
            amount_change: AmountChange::Reauthorization,
            inquiry: Inquiry::Available,
            // Capture: a replay finds the payment sold (MG01 status 2, or 41 from the
            // sales) only if a capture went through. Void: likewise cancelled (status 3,
            // or 45). Refund is not: a replayed partial refund refunds again (§10.5).
            replay_safe: vec![OperationKind::Capture, OperationKind::Void],
            // SBPS refuses a request once `request_date + limit_second` has passed (§3.2),
            // so after that (and a clock-skew margin) an inquiry's answer is final.
            request_expiry: RequestExpiry::ConfigSeconds {
                key: "limit_second".into(),
                default_seconds: DEFAULT_LIMIT_SECONDS,
            },
            // MG01 reads a payment by its tracking id only: a lost authorization has none.
            authorization_inquiry: false,
        },
        limits: Limits::yen(MIN_AMOUNT, MAX_AMOUNT)
            .with_order_ids(crate::protocol::order_id_rules()),
        config: vec![
            ConfigKey::new(
                "endpoint",
                ConfigKind::Url,
                "sps-api URL. Default: the public sandbox. Production: \
                 https://api.sps-system.com/api/xmlapi.do",
            )
            .default_value(protocol::SANDBOX_ENDPOINT),
            ConfigKey::new(
                "merchant_id",
                ConfigKind::String,
                "SBPS merchant ID (5 digits)",
            )
            .required(),
            ConfigKey::new(
                "service_id",
                ConfigKind::String,
                "SBPS service ID (3 digits)",
            )
            .required(),
            ConfigKey::new(
                "hash_key",
                ConfigKind::String,
                "Hash key appended to every sps_hashcode",
            )
            .secret()
            .required(),
            ConfigKey::new(
                "basic_user",
                ConfigKind::String,
                "HTTP Basic user. Default: merchant_id followed by service_id",
            ),
            ConfigKey::new(
                "basic_password",
                ConfigKind::String,
                "HTTP Basic password. Default: the hash key",
            )
            .secret(),
            ConfigKey::new(
                "des_key",
                ConfigKind::String,
                "3DES key (24 bytes). With des_iv, card fields travel encrypted \
                 (encrypted_flg=1), as production requires",
            )
            .secret(),
            ConfigKey::new(
                "des_iv",
                ConfigKind::String,
                "3DES initialisation vector (8 bytes); required with des_key",
            )
            .secret(),
            ConfigKey::new(
                "limit_second",
                ConfigKind::Integer,
                "Seconds a request stays valid at SBPS (1-9999)",
            )
            .default_value(DEFAULT_LIMIT_SECOND),
            ConfigKey::new(
                "item_id",
                ConfigKind::String,
                "item_id sent with authorizations (ASCII, at most 32 characters)",
            )
            .default_value(DEFAULT_ITEM_ID),
            ConfigKey::new(
                "store_card",
                ConfigKind::Boolean,
                "Store the card of token authorizations for the customer \
                 (cust_manage_flg=1), so that a pre-order release can charge it",
            )
            .default_value("false"),
        ],
        statuses: STATUSES.clone(),
        errors: ERRORS.clone(),
        // One code a reply (SBPS `res_err_code`, F-REGI's error line): the rule never applies.
        multi_error: renkei_sdk::MultiError::MostCautious,
    }
}

/// A shop's config as a [`Sbps`]. The host has already checked the keys against the manifest
/// (presence, kinds); the values' gateway-specific rules are checked here, before any request.
pub fn from_config(config: &Config) -> Result<Sbps, ConfigError> {
    let invalid = |key: &str, reason: &str| ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    };
    let digits = |key: &str, n: usize| -> Result<String, ConfigError> {
        let v = config.require_text(key)?;
        if v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) {
            Ok(v.to_owned())
        } else {
            Err(invalid(key, &format!("must be {n} digits")))
        }
    };
    let merchant_id = digits("merchant_id", 5)?;
    let service_id = digits("service_id", 3)?;
    let hash_key = config.require_secret("hash_key")?;
    if hash_key.expose().trim().is_empty() || protocol::encode_sjis(hash_key.expose()).is_none() {
        return Err(invalid("hash_key", "must be non-empty Shift_JIS text"));
    }
    let endpoint = config
        .text("endpoint")
        .unwrap_or(protocol::SANDBOX_ENDPOINT)
        .to_owned();
    let user = match config.text("basic_user") {
        Some(u) => u.to_owned(),
        None => format!("{merchant_id}{service_id}"),
    };
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
        return Err(invalid(
            "basic_user",
            "must be non-empty, without ':' or control characters",
        ));
    }
    let password = config
        .secret("basic_password")
        .unwrap_or_else(|| hash_key.clone());
    if password.expose().chars().any(char::is_control) {
        return Err(invalid(
            "basic_password",
            "must not contain control characters",
        ));
    }
    let authorization = Secret::new(format!(
        "Basic {}",
        protocol::basic_credentials(&user, &password)
    ));
    let cipher = match (config.secret("des_key"), config.secret("des_iv")) {
        (None, None) => None,
        (Some(key), Some(iv)) => Some(FieldCipher::new(&key, &iv).map_err(|e| match e {
            protocol::CipherKeyError::KeyLength => invalid("des_key", "must be 24 bytes"),
            protocol::CipherKeyError::IvLength => invalid("des_iv", "must be 8 bytes"),
        })?),
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                key: "des_iv".into(),
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                key: "des_key".into(),
            });
        }
    };
    let limit_second = config
        .integer("limit_second")
        .unwrap_or(i64::from(DEFAULT_LIMIT_SECONDS))
        .try_into()
        .ok()
        .filter(|l| (1..=9999).contains(l))
        .ok_or_else(|| invalid("limit_second", "must be between 1 and 9999"))?;
    let item_id = config.text("item_id").unwrap_or(DEFAULT_ITEM_ID).to_owned();
    if item_id.is_empty()
        || item_id.len() > ITEM_ID_CHARS
        || !item_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(invalid(
            "item_id",
            "must be 1-32 printable ASCII characters without spaces",
        ));
    }
    Ok(Sbps {
        endpoint,
        merchant_id,
        service_id,
        hash_key,
        authorization,
        cipher,
        limit_second,
        item_id,
        store_card: config.boolean("store_card").unwrap_or(false),
    })
}

/// Whole yen within SBPS's limits.
pub fn yen(amount: Money) -> Result<i64, GatewayError> {
    if amount.currency != Currency::JPY {
        return Err(GatewayError::invalid(format!(
            "SBPS settles in JPY only, not {}",
            amount.currency
        )));
    }
    if !(MIN_AMOUNT..=MAX_AMOUNT).contains(&amount.minor_units) {
        return Err(GatewayError::invalid(format!(
            "amount {amount} is outside SBPS's {MIN_AMOUNT}..={MAX_AMOUNT} yen"
        )));
    }
    Ok(amount.minor_units)
}

pub fn same_currency(a: Money, b: Money) -> Result<(), GatewayError> {
    if a.currency == b.currency {
        Ok(())
    } else {
        Err(GatewayError::invalid(format!(
            "amounts in {} and {} cannot be compared",
            a.currency, b.currency
        )))
    }
}
