//! GMO-PG's manifest and config: what the plugin declares (capabilities, limits, keys, tables),
//! how a shop's config becomes a [`Gmopg`], and the amount limits every request is held to.

use crate::{ERRORS, GATEWAY_ID, Gmopg, STATUSES, errors};
use renkei_sdk::{
    AmountChange, Capabilities, Config, ConfigError, ConfigKey, ConfigKind, Currency, GatewayError,
    Inquiry, Limits, Manifest, Money, OperationKind, OrderIdRules, PartialCapture, PartialRefund,
    RequestExpiry,
};

/// GMO-PG's production endpoint base (S1's default host layout `https://HOST/payment/`; the
/// test environment is `https://pt01.mul-pay.jp/payment/`).
pub const PRODUCTION_BASE: &str = "https://p01.mul-pay.jp/payment/";
/// Card amounts in yen: at least 1; at most 9,999,999 ([INF]: `Amount` is a 7-digit field in
/// every public client we read, and GMO-PG refuses a larger one with `E01060005`, "Amount
/// exceeds maximum allowed", S1). Constants, not a manifest lookup: `prepare` runs per request.
pub const MIN_AMOUNT: i64 = 1;
pub const MAX_AMOUNT: i64 = 9_999_999;

/// GMO-PG's order ids (§7.5): at most 27 characters of ASCII letters, digits and `-`, unique
/// per shop for ever. The host issues one per attempt (`Context::gateway_order_id`), so a
/// declined order can be authorized again under a new id and a lost authorization can be
/// found by the id its attempt sent.
pub fn order_id_rules() -> OrderIdRules {
    OrderIdRules {
        max_len: 27,
        symbols: "-".into(),
    }
}

/// What the plugin declares, as `Gateway::manifest` exports it.
pub fn manifest() -> Manifest {
    Manifest {
        gateway_id: GATEWAY_ID.into(),
        display_name: "GMO Payment Gateway (GMO-PG) card".into(),
        plugin_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))
            .expect("crate version is semver"),
        sdk_version: renkei_sdk::sdk_version(),
        capabilities: Capabilities {
            operations: OperationKind::ALL.to_vec(),
            // `SALES` must carry the authorized amount (§4.3, §7.2): another amount is a
            // `ChangeTran` (JobCd AUTH) to it first, then `SALES`. Two money steps.
            partial_capture: PartialCapture::ChangeThenCapture,
            // `ChangeTran` (JobCd CAPTURE) to the amount that stays captured (§7.3, [INF]).
            partial_refund: PartialRefund::ChangeDown,
            // `ChangeTran` (JobCd AUTH) re-authorizes at the new amount, same AccessID (§4.4).
            amount_change: AmountChange::ChangeAuthorization,
            inquiry: Inquiry::Available,
            // Nothing is declared replay-safe: GMO-PG documents no "already done" answer that
            // proves an earlier request of the same kind went through. `E11010001` ("already
            // complete") is documented for `ExecTran` (§4.2, [INF from its message]) and is
            // read there by looking the transaction up; on `AlterTran`/`ChangeTran` nothing
            // says which earlier request completed the transaction. A capture or refund may
            // also begin with a `ChangeTran`, whose replay would change the amount again.
            replay_safe: vec![],
            // No request carries a timestamp or a validity (§2.5, §7.6): a lost request may be
            // processed at any later time, so an unchanged transaction never proves it was not.
            // Unknown outcomes are settled by `SearchTrade` finding them applied, by the
            // authorization search, or by an operator.
            request_expiry: RequestExpiry::Never,
            // `SearchTrade` looks a transaction up by `OrderID` (§4.5), the id the host issued
            // for the attempt: a lost authorization is found by asking.
            authorization_inquiry: true,
        },
        limits: Limits::yen(MIN_AMOUNT, MAX_AMOUNT).with_order_ids(order_id_rules()),
        config: vec![
            ConfigKey::new(
                "endpoint",
                ConfigKind::Url,
                "Base URL of GMO-PG's protocol-type API, ending in /payment/: production \
                 https://p01.mul-pay.jp/payment/, test https://pt01.mul-pay.jp/payment/, or the \
                 emulator's http://127.0.0.1:PORT/payment/. Endpoint files (EntryTran.idPass …) \
                 are appended.",
            )
            .default_value(PRODUCTION_BASE),
            ConfigKey::new(
                "shop_id",
                ConfigKind::String,
                "ShopID issued by GMO-PG (ショップID), sent with every shop call",
            )
            .required(),
            ConfigKey::new(
                "shop_pass",
                ConfigKind::String,
                "ShopPass issued by GMO-PG (ショップパスワード); never journaled or logged",
            )
            .required()
            .secret(),
        ],
        statuses: STATUSES.clone(),
        errors: ERRORS.clone(),
        multi_error: errors::MULTI_ERROR,
    }
}

/// A shop's config as a [`Gmopg`]. The host has already checked the keys against the manifest
/// (presence, kinds); the values' gateway-specific rules are checked here, before any request.
pub fn from_config(config: &Config) -> Result<Gmopg, ConfigError> {
    let base = config.text("endpoint").unwrap_or(PRODUCTION_BASE);
    if base.contains(['?', '#']) {
        return Err(ConfigError::Invalid {
            key: "endpoint".into(),
            reason: "must not carry a query or a fragment: endpoint files are appended".into(),
        });
    }
    let base = if base.ends_with('/') {
        base.to_owned()
    } else {
        format!("{base}/")
    };
    let shop_id = config.require_text("shop_id")?;
    if shop_id.is_empty()
        || shop_id.len() > 32
        || !shop_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(ConfigError::Invalid {
            key: "shop_id".into(),
            reason: "GMO-PG shop ids are letters and digits (tshop00000001)".into(),
        });
    }
    let shop_pass = config.require_secret("shop_pass")?;
    if shop_pass.is_empty() {
        return Err(ConfigError::Invalid {
            key: "shop_pass".into(),
            reason: "must not be empty".into(),
        });
    }
    Ok(Gmopg {
        base,
        shop_id: shop_id.to_owned(),
        shop_pass,
    })
}

/// Yen within GMO-PG's card range, checked before anything is built.
pub fn yen(m: Money) -> Result<i64, GatewayError> {
    if m.currency != Currency::JPY {
        return Err(GatewayError::invalid(format!(
            "GMO-PG cards settle in yen, not {}",
            m.currency
        )));
    }
    if !(MIN_AMOUNT..=MAX_AMOUNT).contains(&m.minor_units) {
        return Err(GatewayError::invalid(format!(
            "{} yen is outside GMO-PG's card range of {MIN_AMOUNT} to {MAX_AMOUNT} yen",
            m.minor_units
        )));
    }
    Ok(m.minor_units)
}
