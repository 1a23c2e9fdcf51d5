//! The built-in endpoints: Renkei's loopback emulators, started in-process, with the settings
//! that fit them (`--emulator sbps|fregi|gmopg|template|template-form|template-xml`).
//!
//! Where an emulator accepts any credentials, it is started with canary values, so that the
//! `secrets.*` checks look for strings that cannot occur by chance.

use crate::effects::{Book, BookEntry};
use crate::settings::Settings;
use renkei_sdk::ConfigValue;

/// Canary secrets: configured, then searched for in everything the plugin says.
pub const CANARY_SBPS_HASH_KEY: &str = "CanaryHashKey-sbps-7Qx4Zr";
pub const CANARY_SBPS_BASIC_PASSWORD: &str = "CanaryBasicPw-sbps-2Kd8Vn";
pub const CANARY_KUMO_API_KEY: &str = "CanaryApiKey-kumo-5Tg1Hs";
pub const CANARY_KUMO_SIGNING_KEY: &str = "CanarySignKey-kumo-9Pw3Lc";
const KUMO_MERCHANT: &str = "m_conformance";
const FREGI_SHOP: &str = "12345";

/// A built-in emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Sbps,
    Fregi,
    /// GMO Payment Gateway (`emulators/gmopg`).
    Gmopg,
    /// Kumo Pay, the template plugin's made-up gateway.
    Template,
    /// Kumo Pay on the form wire in Shift_JIS, as `examples/template-plugin-form` speaks it.
    TemplateForm,
    /// Kumo Pay on the XML wire in Shift_JIS, as `examples/template-plugin-xml` speaks it.
    TemplateXml,
}

/// Why a built-in emulator could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "unknown emulator `{0}` (expected sbps, fregi, gmopg, template, template-form or template-xml)"
    )]
    Unknown(String),
    #[error("the {name} emulator did not start: {reason}")]
    Start { name: &'static str, reason: String },
}

impl std::str::FromStr for Builtin {
    type Err = EmulatorError;

    fn from_str(s: &str) -> Result<Builtin, EmulatorError> {
        match s {
            "sbps" => Ok(Builtin::Sbps),
            "fregi" => Ok(Builtin::Fregi),
            "gmopg" => Ok(Builtin::Gmopg),
            "template" | "kumopay" => Ok(Builtin::Template),
            "template-form" | "kumopay-form" => Ok(Builtin::TemplateForm),
            "template-xml" | "kumopay-xml" => Ok(Builtin::TemplateXml),
            other => Err(EmulatorError::Unknown(other.to_owned())),
        }
    }
}

impl Running {
    /// The emulator's payments as the `effects.no-money-moved` check compares them: every
    /// field that records money or a payment's state, nothing that a mere read may touch.
    pub fn book(&self) -> Book {
        let entry = |state: String| BookEntry { state };
        match self {
            Running::Sbps(e) => e
                .dump()
                .payments
                .into_iter()
                .map(|p| {
                    let state = format!(
                        "{:?}/{:?}, authorized {}, captured {}, refunded {}",
                        p.payment_status,
                        p.commit_status,
                        p.authorized_amount,
                        p.captured_amount,
                        p.refunded_total
                    );
                    (p.tracking_id, entry(state))
                })
                .collect(),
            Running::Fregi(e) => e
                .transactions()
                .into_iter()
                .map(|t| {
                    let state = format!(
                        "{:?}, amount {}, transmitted {}/{}",
                        t.status, t.amount, t.transmitted, t.sale_transmitted
                    );
                    (t.seqno, entry(state))
                })
                .collect(),
            // Executed transactions only: a registration (`EntryTran`, `UNPROCESSED`) holds no
            // money and leaves no entry (`docs/protocols/gmopg.md` §11.8).
            Running::Gmopg(e) => e
                .book()
                .into_iter()
                .map(|b| (b.order_id, entry(b.state)))
                .collect(),
            Running::Template(e) => e
                .payments()
                .into_iter()
                .map(|p| {
                    let state = format!(
                        "{:?}, amount {}, captured {}, refunded {}",
                        p.status, p.amount, p.captured, p.refunded
                    );
                    (p.id, entry(state))
                })
                .collect(),
        }
    }
}

/// A started emulator; stops when dropped.
pub enum Running {
    Sbps(renkei_emulator_sbps::SbpsEmulator),
    Fregi(renkei_emulator_fregi::FregiEmulator),
    Gmopg(renkei_emulator_gmopg::GmopgEmulator),
    Template(renkei_emulator_kumopay::TemplateEmulator),
}

fn text(pairs: &[(&str, String)]) -> std::collections::BTreeMap<String, ConfigValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ConfigValue::Text(v.clone())))
        .collect()
}

impl Builtin {
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Sbps => "sbps",
            Builtin::Fregi => "fregi",
            Builtin::Gmopg => "gmopg",
            Builtin::Template => "template",
            Builtin::TemplateForm => "template-form",
            Builtin::TemplateXml => "template-xml",
        }
    }

    /// Starts the emulator on 127.0.0.1 (on the current tokio runtime) and answers the settings
    /// that drive a plugin against it.
    pub async fn start(self) -> Result<(Running, Settings), EmulatorError> {
        let failed = |reason: String| EmulatorError::Start {
            name: self.name(),
            reason,
        };
        match self {
            Builtin::Sbps => {
                use renkei_emulator_sbps as sbps;
                let merchant = sbps::MerchantConfig {
                    hash_key: CANARY_SBPS_HASH_KEY.into(),
                    basic_password: Some(CANARY_SBPS_BASIC_PASSWORD.into()),
                    ..sbps::MerchantConfig::default()
                };
                let config = sbps::Config {
                    merchants: vec![merchant],
                    ..sbps::Config::default()
                };
                let emulator = sbps::SbpsEmulator::start(config)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                // Field encryption (des_key / des_iv) stays off: with it, the inquiry's status
                // travels 3DES-encrypted and `status.unknown-code` could not feed an unseen code.
                // Certify the encrypted setup with `--config`.
                let settings = Settings {
                    values: text(&[
                        ("endpoint", emulator.endpoint_url()),
                        ("merchant_id", sbps::DEFAULT_MERCHANT_ID.into()),
                        ("service_id", sbps::DEFAULT_SERVICE_ID.into()),
                        ("hash_key", CANARY_SBPS_HASH_KEY.into()),
                        ("basic_password", CANARY_SBPS_BASIC_PASSWORD.into()),
                    ]),
                    token: Some(sbps::TEST_TOKEN_VISA.into()),
                    token_key: Some("conformance-token-key".into()),
                    declined_token: Some(sbps::TEST_TOKEN_DECLINE_LIMIT.into()),
                    // SBPS answers one `res_err_code` a reply.
                    multi_error_token: None,
                    customer: Some("renkei-conformance".into()),
                    amount: None,
                    endpoint_key: Some("endpoint".into()),
                };
                Ok((Running::Sbps(emulator), settings))
            }
            Builtin::Fregi => {
                use renkei_emulator_fregi as fregi;
                let config = fregi::Config {
                    // No 21:00 batch during a run: it would turn captures 伝送済 mid-check.
                    auto_batch_at: None,
                    ..fregi::Config::default()
                };
                let emulator = fregi::FregiEmulator::start(config)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                // F-REGI has no secret config keys (the shop id and the caller's IP
                // authenticate); the card token is the canary.
                let settings = Settings {
                    values: text(&[
                        ("base_url", emulator.base_url()),
                        ("shop_id", FREGI_SHOP.into()),
                        ("inquiry_url", format!("{}info", emulator.control_url())),
                    ]),
                    token: Some("TESTTOKEN-OK".into()),
                    token_key: None,
                    declined_token: Some("TESTTOKEN-DECLINE".into()),
                    // F-REGI answers one error code a reply.
                    multi_error_token: None,
                    customer: Some("renkei-conformance".into()),
                    amount: None,
                    endpoint_key: Some("base_url".into()),
                };
                Ok((Running::Fregi(emulator), settings))
            }
            Builtin::Gmopg => {
                use renkei_emulator_gmopg as gmopg;
                let emulator = gmopg::GmopgEmulator::start(gmopg::Config::default())
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                // The default shop's pass is a canary already (`docs/protocols/gmopg.md` §10.1).
                let settings = Settings {
                    values: text(&emulator.plugin_config()),
                    token: Some(gmopg::TEST_TOKEN_OK.into()),
                    token_key: None,
                    declined_token: Some(gmopg::decline_token("42G020000")),
                    multi_error_token: Some(gmopg::TEST_TOKEN_MULTI.into()),
                    customer: Some("renkei-conformance".into()),
                    amount: None,
                    endpoint_key: Some("endpoint".into()),
                };
                Ok((Running::Gmopg(emulator), settings))
            }
            Builtin::Template | Builtin::TemplateForm | Builtin::TemplateXml => {
                use renkei_emulator_kumopay as kumo;
                let wire = match self {
                    Builtin::TemplateForm => kumo::Wire::Form(kumo::Charset::ShiftJis),
                    Builtin::TemplateXml => kumo::Wire::Xml(kumo::Charset::ShiftJis),
                    _ => kumo::Wire::Json,
                };
                let config = kumo::Config {
                    merchant_id: KUMO_MERCHANT.into(),
                    api_key: CANARY_KUMO_API_KEY.into(),
                    signing_key: CANARY_KUMO_SIGNING_KEY.into(),
                    wire,
                    ..kumo::Config::default()
                };
                // On the form and XML wires, a name only a Japanese charset writes travels to the
                // emulator and back (ポ is `83 7C` in Shift_JIS: a `|` byte inside a character).
                let customer = if wire != kumo::Wire::Json {
                    "ポール山田"
                } else {
                    "renkei-conformance"
                };
                let emulator = kumo::TemplateEmulator::start(config)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                let settings = Settings {
                    values: text(&[
                        ("endpoint", emulator.endpoint_url()),
                        ("merchant_id", KUMO_MERCHANT.into()),
                        ("api_key", CANARY_KUMO_API_KEY.into()),
                        ("signing_key", CANARY_KUMO_SIGNING_KEY.into()),
                    ]),
                    token: Some(kumo::TEST_TOKEN_OK.into()),
                    token_key: None,
                    declined_token: Some(kumo::TEST_TOKEN_DECLINED.into()),
                    multi_error_token: Some(kumo::TEST_TOKEN_TWO_ERRORS.into()),
                    customer: Some(customer.into()),
                    amount: None,
                    endpoint_key: Some("endpoint".into()),
                };
                Ok((Running::Template(emulator), settings))
            }
        }
    }
}
