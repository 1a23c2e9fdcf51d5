//! Gmopg's manifest and config: what the plugin declares, which keys a shop sets, and how a
//! config becomes a [`Gmopg`].

use super::{ERRORS, GATEWAY_ID, Gmopg, MULTI_ERROR, STATUSES};
use renkei_sdk::{
    AmountChange, Capabilities, Config, ConfigError, ConfigKey, ConfigKind, Currency, GatewayError,
    Inquiry, Limits, Manifest, Money, OperationKind, OrderIdRules, PartialCapture, PartialRefund,
    RequestExpiry,
};

pub const DEFAULT_ENDPOINT: &str = "https://api.gmopg.example/v1";
/// Gmopg's default request timestamp tolerance, in seconds.
const DEFAULT_TOLERANCE_SECONDS: u32 = 300;

/// Gmopg's order ids: at most 40 letters, digits, `-` and `_`. The host issues one per
/// attempt under these rules (`Context::gateway_order_id`), so a declined order can be tried
/// again (Gmopg refuses an order id it has seen) and a lost authorization can be found.
pub fn order_id_rules() -> OrderIdRules {
    OrderIdRules {
        max_len: 40,
        symbols: "-_".into(),
    }
}
/// Amount limits, in yen. Constants rather than a manifest lookup: `prepare` runs per request.
const MIN_AMOUNT: i64 = 1;
const MAX_AMOUNT: i64 = 99_999_999;

/// What the plugin declares, as `Gateway::manifest` exports it: the manifest's limits are also what
/// `check_amount` holds every amount to.
pub fn manifest() -> Manifest {
    Manifest {
        gateway_id: GATEWAY_ID.into(),
        display_name: "Gmopg".into(),
        plugin_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))
            .expect("crate version is semver"),
        // Filled in by the SDK at export time.
        sdk_version: renkei_sdk::sdk_version(),
        capabilities: Capabilities {
            operations: vec![
                OperationKind::Authorize,
                OperationKind::Capture,
                OperationKind::Void,
                OperationKind::Refund,
                OperationKind::Inquire,
            ],
            // Gmopg captures less, and refunds part, on the same payment id.
            partial_capture: PartialCapture::InPlace,
            partial_refund: PartialRefund::InPlace,
            amount_change: AmountChange::Unsupported,
            inquiry: Inquiry::Available,
            // "already_captured" / "already_voided" can only follow a success for the same
            // payment, so a replay that gets them proves the first attempt went through.
            replay_safe: vec![OperationKind::Capture, OperationKind::Void],
            // Gmopg refuses a request whose signed timestamp is further from its clock than
            // the account's tolerance: after that long a lost request can no longer take effect,
            // so an inquiry that finds nothing is conclusive.
            request_expiry: RequestExpiry::ConfigSeconds {
                key: "request_tolerance_seconds".into(),
                default_seconds: DEFAULT_TOLERANCE_SECONDS,
            },
            // `GET /payments/by-order/{order}` finds an authorization by the order id the host
            // issued for its attempt (`limits.order_id`): one whose reply was lost is settled by
            // asking.
            authorization_inquiry: true,
        },
        limits: Limits::yen(MIN_AMOUNT, MAX_AMOUNT).with_order_ids(order_id_rules()),
        config: vec![
            ConfigKey::new("endpoint", ConfigKind::Url, "API base URL")
                .default_value(DEFAULT_ENDPOINT),
            ConfigKey::new("merchant_id", ConfigKind::String, "Merchant account id").required(),
            ConfigKey::new("api_key", ConfigKind::String, "Bearer API key")
                .secret()
                .required(),
            ConfigKey::new(
                "signing_key",
                ConfigKind::String,
                "HMAC-SHA256 request signing key",
            )
            .secret()
            .required(),
            ConfigKey::new(
                "request_tolerance_seconds",
                ConfigKind::Integer,
                "The account's request timestamp tolerance at Gmopg, in seconds (1-3600)",
            )
            .default_value(&DEFAULT_TOLERANCE_SECONDS.to_string()),
        ],
        statuses: STATUSES.clone(),
        errors: ERRORS.clone(),
        // Gmopg lists every problem it found; none is documented as the cause of the others,
        // so the most cautious code decides.
        multi_error: MULTI_ERROR,
    }
}

/// A shop's config as a [`Gmopg`]. The host has already checked the keys against the manifest
/// (presence, kinds); the values' gateway-specific rules are checked here, before any request.
pub fn from_config(config: &Config) -> Result<Gmopg, ConfigError> {
    Ok(Gmopg {
        endpoint: config
            .text("endpoint")
            .unwrap_or(DEFAULT_ENDPOINT)
            .trim_end_matches('/')
            .to_owned(),
        merchant: config.require_text("merchant_id")?.to_owned(),
        api_key: config.require_secret("api_key")?,
        signing_key: config.require_secret("signing_key")?,
    })
    .and_then(|k| match config.integer("request_tolerance_seconds") {
        Some(t) if !(1..=3600).contains(&t) => Err(ConfigError::Invalid {
            key: "request_tolerance_seconds".into(),
            reason: "must be between 1 and 3600".into(),
        }),
        _ => Ok(k),
    })
}

/// An amount the manifest's limits allow, checked before anything is built.
pub fn check_amount(amount: Money) -> Result<(), GatewayError> {
    // The manifest's limits are `Limits::yen(MIN_AMOUNT, MAX_AMOUNT)`: read from the constants,
    // not by building the whole manifest (its tables too) on every request.
    if amount.currency != Currency::JPY {
        return Err(GatewayError::invalid(format!(
            "Gmopg does not accept {}",
            amount.currency
        )));
    }
    if !(MIN_AMOUNT..=MAX_AMOUNT).contains(&amount.minor_units) {
        return Err(GatewayError::invalid(format!(
            "amount {amount} is outside {MIN_AMOUNT}..={MAX_AMOUNT}"
        )));
    }
    Ok(())
}
