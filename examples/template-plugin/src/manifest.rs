//! Kumo Pay's manifest and config: what the plugin declares, which keys a shop sets, and how a
//! config becomes a [`KumoPay`].

use super::{ERRORS, GATEWAY_ID, KumoPay, STATUSES};
use renkei_sdk::{
    AmountChange, Capabilities, Config, ConfigError, ConfigKey, ConfigKind, GatewayError, Inquiry,
    Limits, Manifest, Money, OperationKind, PartialCapture, PartialRefund, RequestExpiry,
};

pub const DEFAULT_ENDPOINT: &str = "https://api.kumopay.example/v1";
/// Amount limits, in yen. Constants rather than a manifest lookup: `prepare` runs per request.
const MIN_AMOUNT: i64 = 1;
const MAX_AMOUNT: i64 = 99_999_999;

/// What the plugin declares, as `Gateway::manifest` exports it: the manifest's limits are also what
/// `check_amount` holds every amount to.
pub fn manifest() -> Manifest {
    Manifest {
        gateway_id: GATEWAY_ID.into(),
        display_name: "Kumo Pay (template)".into(),
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
            // Kumo captures less, and refunds part, on the same payment id.
            partial_capture: PartialCapture::InPlace,
            partial_refund: PartialRefund::InPlace,
            amount_change: AmountChange::Unsupported,
            inquiry: Inquiry::Available,
            // "already_captured" / "already_voided" can only follow a success for the same
            // payment, so a replay that gets them proves the first attempt went through.
            replay_safe: vec![OperationKind::Capture, OperationKind::Void],
            request_expiry: RequestExpiry::Never,
        },
        limits: Limits::yen(MIN_AMOUNT, MAX_AMOUNT),
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
        ],
        statuses: STATUSES.clone(),
        errors: ERRORS.clone(),
    }
}

/// A shop's config as a [`KumoPay`]. The host has already checked the keys against the manifest
/// (presence, kinds); the values' gateway-specific rules are checked here, before any request.
pub fn from_config(config: &Config) -> Result<KumoPay, ConfigError> {
    Ok(KumoPay {
        endpoint: config
            .text("endpoint")
            .unwrap_or(DEFAULT_ENDPOINT)
            .trim_end_matches('/')
            .to_owned(),
        merchant: config.require_text("merchant_id")?.to_owned(),
        api_key: config.require_secret("api_key")?,
        signing_key: config.require_secret("signing_key")?,
    })
}

/// An amount the manifest's limits allow, checked before anything is built.
pub fn check_amount(amount: Money) -> Result<(), GatewayError> {
    let limits = manifest().limits;
    if !limits.currencies.contains(&amount.currency) {
        return Err(GatewayError::invalid(format!(
            "Kumo Pay does not accept {}",
            amount.currency
        )));
    }
    if !(limits.min_amount..=limits.max_amount).contains(&amount.minor_units) {
        return Err(GatewayError::invalid(format!(
            "amount {amount} is outside {}..={}",
            limits.min_amount, limits.max_amount
        )));
    }
    Ok(())
}
