//! F-REGI's manifest and config: what the plugin declares (capabilities, limits, keys, tables),
//! how a shop's config becomes a [`Fregi`], and the amount limits every request is held to.

use crate::protocol::{FLAG_OFF, FLAG_ON};
use crate::{ERRORS, Fregi, GATEWAY_ID, STATUSES};
use renkei_sdk::{
    AmountChange, Capabilities, Config, ConfigError, ConfigKey, ConfigKind, Currency, GatewayError,
    Inquiry, Limits, Manifest, Money, OperationKind, PartialCapture, PartialRefund, RequestExpiry,
};

/// Production. The test environment is `https://ssl.f-regi.com/connecttest/` (same scripts).
pub const PRODUCTION_BASE: &str = "https://ssl.f-regi.com/connect/";
/// F-REGI's card amount range, in yen (F-7; `docs/protocols/fregi.md` §7). Constants, not a manifest lookup:
/// `prepare` runs per request.
pub const MIN_AMOUNT: i64 = 2;
pub const MAX_AMOUNT: i64 = 9_999_999;

/// What the plugin declares, as `Gateway::manifest` exports it: inquire is declared but enabled
/// only by `inquiry_url`, since only the emulator answers it.
pub fn manifest() -> Manifest {
    Manifest {
        gateway_id: GATEWAY_ID.into(),
        display_name: "F-REGI (エフレジ) card".into(),
        plugin_version: semver::Version::parse(env!("CARGO_PKG_VERSION"))
            .expect("crate version is semver"),
        sdk_version: renkei_sdk::sdk_version(),
        capabilities: Capabilities {
            operations: OperationKind::ALL.to_vec(),
            // A capture below the authorized amount is F-2: authchange.cgi to the new amount
            // (a new SEQNO-AUTHCODE, the old one cancelled), then sale.cgi on it. The remainder
            // is released, never capturable later.
            partial_capture: PartialCapture::ChangeThenCapture,
            // Through salechange.cgi: the sale is replaced by one at the reduced amount, under
            // the new SEQNO-AUTHCODE its reply names.
            partial_refund: PartialRefund::ChangeDown,
            amount_change: AmountChange::DeferredToCapture,
            inquiry: Inquiry::EmulatorOnly,
            // Replay safety, per operation kind:
            // - void: a replayed authcancel answering "already voided" (A2-1-122) can only
            //   follow a cancellation of that very SEQNO, and 承認取消 is final (F-12), so it
            //   proves the SEQNO is voided. Declared. (When the amount was changed in
            //   F-REGI's admin screen, F-5, the old SEQNO is 承認取消 too: voided as far as
            //   the shop's linkage goes, which is what the shop can know.)
            // - capture: NOT declared. A lone sale.cgi is replay-safe (a replay answering
            //   "already sold" proves the first went through), but a capture at a changed
            //   amount starts with authchange.cgi: replaying it re-runs authchange on a SEQNO
            //   the first attempt may already have replaced, which F-REGI refuses as
            //   "already cancelled" while the new authorization dangles. A per-kind
            //   declaration cannot say "only when the amount is unchanged", so the host
            //   must resolve an unknown capture by inquiry or an operator.
            // - refund: NOT declared, for the same reason: a partial refund is salechange,
            //   whose replay would hit the replaced (cancelled) sale.
            // - change_amount (authchange): NOT declared. A replay would authorize again or
            //   be refused on the replaced SEQNO; neither proves anything.
            // - authorize (authm): F-REGI has no idempotency key; a replay authorizes twice.
            replay_safe: vec![OperationKind::Void],
            // F-REGI documents no validity window for a request.
            request_expiry: RequestExpiry::Never,
            // F-REGI's inquiry reads a SEQNO: a lost authorization has none.
            authorization_inquiry: false,
        },
        limits: Limits::yen(MIN_AMOUNT, MAX_AMOUNT),
        // F-REGI server calls carry no secret (SHOPID + IP allow-list): no key is secret.
        config: vec![
            ConfigKey::new(
                "base_url",
                ConfigKind::Url,
                "Base URL of F-REGI's card scripts: production https://ssl.f-regi.com/connect/, \
                 test https://ssl.f-regi.com/connecttest/, or the emulator's \
                 http://127.0.0.1:PORT/connect/. The server's IP must be registered with F-REGI.",
            )
            .default_value(PRODUCTION_BASE),
            ConfigKey::new(
                "shop_id",
                ConfigKind::String,
                "SHOPID issued by F-REGI (digits). F-REGI server calls carry no password: \
                 the shop id and the caller's registered IP address authenticate them.",
            )
            .required(),
            // Inquire is declared, but only an instance with this key offers it: real F-REGI
            // has no card inquiry (`docs/protocols/fregi.md` §3, §10.3), so a real-shaped endpoint's instance
            // must say "unsupported" and be certified so.
            ConfigKey::new(
                "inquiry_url",
                ConfigKind::Url,
                "Emulator only: the Renkei F-REGI emulator's inquiry extension \
                 (http://127.0.0.1:PORT/__emulator__/info). F-REGI itself has no public \
                 card-transaction inquiry; without this key, inquire is unsupported.",
            )
            .enabling(&[OperationKind::Inquire]),
            ConfigKey::new(
                "ip",
                ConfigKind::String,
                "IP sent with every authorization (authm.cgi IP): an IPv4 or IPv6 address. \
                 F-REGI's field is the end user's address; production layouts send it (S2, \
                 S4, S5). Left out when unset.",
            ),
            ConfigKey::new(
                "monthly",
                ConfigKind::String,
                "MONTHLY sent with every authorization: \"1\" registers the card under the \
                 customer (月次), \"0\" a one-off. Left out when unset (F-REGI then treats \
                 it as 0).",
            ),
            ConfigKey::new(
                "quiet",
                ConfigKind::Boolean,
                "Send QUIET=1 so that F-REGI sends no processing e-mail for each operation.",
            )
            .default_value("false"),
        ],
        statuses: STATUSES.clone(),
        errors: ERRORS.clone(),
        // One code a reply (SBPS `res_err_code`, F-REGI's error line): the rule never applies.
        multi_error: renkei_sdk::MultiError::MostCautious,
    }
}

/// A shop's config as a [`Fregi`]. The host has already checked the keys against the manifest
/// (presence, kinds); the values' gateway-specific rules are checked here, before any request.
pub fn from_config(config: &Config) -> Result<Fregi, ConfigError> {
    let base = config.text("base_url").unwrap_or(PRODUCTION_BASE);
    if base.contains(['?', '#']) {
        return Err(ConfigError::Invalid {
            key: "base_url".into(),
            reason: "must not carry a query or a fragment: script names are appended".into(),
        });
    }
    let base = if base.ends_with('/') {
        base.to_owned()
    } else {
        format!("{base}/")
    };
    let shop_id = config.require_text("shop_id")?;
    if shop_id.is_empty() || shop_id.len() > 16 || !shop_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::Invalid {
            key: "shop_id".into(),
            reason: "F-REGI shop ids are digits (5 in every known example)".into(),
        });
    }
    let ip = match config.text("ip").filter(|ip| !ip.is_empty()) {
        Some(ip) if ip.parse::<std::net::IpAddr>().is_err() => {
            return Err(ConfigError::Invalid {
                key: "ip".into(),
                reason: "must be an IPv4 or IPv6 address".into(),
            });
        }
        ip => ip.map(str::to_owned),
    };
    let monthly = match config.text("monthly").filter(|m| !m.is_empty()) {
        None => None,
        Some(FLAG_OFF) => Some(FLAG_OFF),
        Some(FLAG_ON) => Some(FLAG_ON),
        Some(_) => {
            return Err(ConfigError::Invalid {
                key: "monthly".into(),
                reason: "F-REGI's MONTHLY is 0 or 1".into(),
            });
        }
    };
    Ok(Fregi {
        base,
        shop_id: shop_id.to_owned(),
        // An empty value is unset, as the host reads it (`Config::is_set`).
        inquiry_url: config
            .text("inquiry_url")
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
        quiet: config.boolean("quiet").unwrap_or(false),
        ip,
        monthly,
    })
}

/// Yen, refusing any other currency: F-REGI settles in yen only.
pub fn yen(m: Money) -> Result<i64, GatewayError> {
    if m.currency == Currency::JPY {
        Ok(m.minor_units)
    } else {
        Err(GatewayError::invalid(format!(
            "F-REGI takes yen only, not {}",
            m.currency
        )))
    }
}

/// An amount F-REGI can authorize or sell.
pub fn payable(m: Money, zero_hint: &str) -> Result<i64, GatewayError> {
    let amount = yen(m)?;
    check_payable(amount, zero_hint)?;
    Ok(amount)
}

/// 2..=9,999,999 yen. 1 yen is F-7; 0 yen is F-8's "no payment needed", which is not a card
/// operation at all.
pub fn check_payable(amount: i64, zero_hint: &str) -> Result<(), GatewayError> {
    match amount {
        0 => Err(GatewayError::invalid(format!(
            "the amount is 0 yen: no payment is needed (決済不要, F-8); {zero_hint}"
        ))),
        1 => Err(GatewayError::invalid(
            "a bill of 1 yen cannot be paid by card: F-REGI needs 2 yen or more (F-7); adjust \
             the amount or bill another way",
        )),
        a if a < 0 => Err(GatewayError::invalid(format!(
            "the amount must be positive, not {a} yen"
        ))),
        a if a > MAX_AMOUNT => Err(GatewayError::invalid(format!(
            "{a} yen is above F-REGI's card maximum of {MAX_AMOUNT} yen"
        ))),
        _ => Ok(()),
    }
}
