//! The plugin manifest: everything the host, the CLI and the conformance suite need to know about
//! a gateway, exported by the plugin as data.

use crate::{Currency, ErrorKind, OperationKind, PaymentState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How a gateway changes the amount of an authorization before capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountChange {
    /// A new authorization replaces the old one, which is then voided (SBPS re-authorization).
    Reauthorization,
    /// The gateway changes the authorized amount in place or under a new reference
    /// (F-REGI `authchange`).
    ChangeAuthorization,
    /// The host records the change and the plugin applies it at capture time (F-4).
    DeferredToCapture,
    /// Not possible through the API.
    Unsupported,
}

/// Whether the gateway can be asked for a payment's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inquiry {
    /// A real gateway API exists (SBPS MG01).
    Available,
    /// Only the Renkei emulator answers it; the real gateway has no public inquiry (F-REGI).
    EmulatorOnly,
    Unavailable,
}

/// What the plugin can do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub operations: Vec<OperationKind>,
    pub partial_capture: bool,
    pub partial_refund: bool,
    pub amount_change: AmountChange,
    pub inquiry: Inquiry,
    /// Operations whose replay is safe because a replay's "already done" answer
    /// (`ErrorKind::AlreadyDone`) proves that the first attempt went through.
    pub replay_safe: Vec<OperationKind>,
}

impl Capabilities {
    pub fn supports(&self, kind: OperationKind) -> bool {
        self.operations.contains(&kind)
    }

    pub fn is_replay_safe(&self, kind: OperationKind) -> bool {
        self.replay_safe.contains(&kind)
    }
}

/// Amount limits the plugin enforces before sending anything (e.g. F-7: F-REGI needs 2 yen or
/// more).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub min_amount: i64,
    pub max_amount: i64,
    pub currencies: Vec<Currency>,
}

/// The type of a config value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigKind {
    String,
    Url,
    Integer,
    Boolean,
}

/// One configuration key a gateway instance needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigKey {
    pub name: String,
    pub kind: ConfigKind,
    /// Secret values are never echoed by the host, the CLI or any error.
    pub secret: bool,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub description: String,
}

/// One row of the gateway's status table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// The gateway's own code (SBPS `payment_status` 1..4, F-REGI `10`…).
    pub code: String,
    /// The gateway's own label, as the operator manual writes it (与信済, 承認取消…).
    pub label: String,
    pub state: PaymentState,
    /// No operation can follow from the shop side.
    pub terminal: bool,
}

/// One row of the gateway's error table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// The gateway's code, or a prefix of codes when it ends with `*` (SBPS codes are
    /// method + type + item; the type decides the meaning).
    pub code: String,
    pub kind: ErrorKind,
    /// What the code means, in the gateway's words where it has them.
    pub message: String,
}

/// Everything a plugin declares about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Lower-case id the host routes by (`sbps`, `fregi`).
    pub gateway_id: String,
    pub display_name: String,
    pub plugin_version: semver::Version,
    /// The `renkei-sdk` version the plugin was built against: its ABI version.
    pub sdk_version: semver::Version,
    pub capabilities: Capabilities,
    pub limits: Limits,
    pub config: Vec<ConfigKey>,
    pub statuses: Vec<StatusEntry>,
    pub errors: Vec<ErrorEntry>,
}

/// Why a manifest was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("gateway id {0:?} must be 1-32 characters of a-z, 0-9, '-' or '_'")]
    BadGatewayId(String),
    #[error("display name is empty")]
    EmptyDisplayName,
    #[error("the status table has no entries")]
    EmptyStatusTable,
    #[error("the status table lists code {0:?} twice")]
    DuplicateStatus(String),
    #[error("status {0:?} maps to `unknown`: a table must map every code to a known state")]
    CatchAllStatus(String),
    #[error("status {code:?} is {state} but not marked terminal")]
    FinalStatusNotTerminal { code: String, state: String },
    #[error("the error table lists code {0:?} twice")]
    DuplicateError(String),
    #[error("an error table entry has an empty code")]
    EmptyErrorCode,
    #[error("config key {0:?} is declared twice")]
    DuplicateConfigKey(String),
    #[error("config key {0:?} is secret but not a string, or has a default")]
    BadSecretKey(String),
    #[error("amount limits are inconsistent (min {min}, max {max})")]
    BadLimits { min: i64, max: i64 },
    #[error("operation {0} is declared replay-safe but not supported")]
    ReplaySafeUnsupported(OperationKind),
    #[error("inquiry capability {inquiry:?} contradicts the operation list")]
    InquiryMismatch { inquiry: Inquiry },
}

impl Manifest {
    /// Structural checks the host runs before it accepts a plugin. Behavioural checks (does the
    /// plugin do what it declares?) are the conformance suite's.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let id_ok = !self.gateway_id.is_empty()
            && self.gateway_id.len() <= 32
            && self
                .gateway_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(ManifestError::BadGatewayId(self.gateway_id.clone()));
        }
        if self.display_name.trim().is_empty() {
            return Err(ManifestError::EmptyDisplayName);
        }
        if self.statuses.is_empty() {
            return Err(ManifestError::EmptyStatusTable);
        }
        let mut seen = BTreeSet::new();
        for s in &self.statuses {
            if !seen.insert(s.code.as_str()) {
                return Err(ManifestError::DuplicateStatus(s.code.clone()));
            }
            if matches!(s.state, PaymentState::Unknown { .. }) {
                return Err(ManifestError::CatchAllStatus(s.code.clone()));
            }
            if s.state.is_final() && !s.terminal {
                return Err(ManifestError::FinalStatusNotTerminal {
                    code: s.code.clone(),
                    state: s.state.to_string(),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for e in &self.errors {
            if e.code.trim_end_matches('*').is_empty() {
                return Err(ManifestError::EmptyErrorCode);
            }
            if !seen.insert(e.code.as_str()) {
                return Err(ManifestError::DuplicateError(e.code.clone()));
            }
        }
        let mut seen = BTreeSet::new();
        for k in &self.config {
            if !seen.insert(k.name.as_str()) {
                return Err(ManifestError::DuplicateConfigKey(k.name.clone()));
            }
            if k.secret && (k.kind != ConfigKind::String || k.default.is_some()) {
                return Err(ManifestError::BadSecretKey(k.name.clone()));
            }
        }
        let l = &self.limits;
        if l.min_amount < 1 || l.max_amount < l.min_amount || l.currencies.is_empty() {
            return Err(ManifestError::BadLimits {
                min: l.min_amount,
                max: l.max_amount,
            });
        }
        let caps = &self.capabilities;
        if let Some(op) = caps.replay_safe.iter().find(|op| !caps.supports(**op)) {
            return Err(ManifestError::ReplaySafeUnsupported(*op));
        }
        let inquires = caps.supports(OperationKind::Inquire);
        if inquires == (caps.inquiry == Inquiry::Unavailable) {
            return Err(ManifestError::InquiryMismatch {
                inquiry: caps.inquiry,
            });
        }
        Ok(())
    }

    /// The status table row of a gateway code.
    pub fn status(&self, code: &str) -> Option<&StatusEntry> {
        self.statuses.iter().find(|s| s.code == code)
    }

    /// Maps a gateway status code to the unified state; an unknown code becomes
    /// `PaymentState::Unknown` with the raw code, never a guess.
    pub fn state_of(&self, code: &str) -> PaymentState {
        self.status(code)
            .map(|s| s.state.clone())
            .unwrap_or_else(|| PaymentState::Unknown {
                raw: code.to_owned(),
            })
    }

    /// The error table row of a gateway code: an exact entry first, else the longest matching
    /// `prefix*` entry.
    pub fn error(&self, code: &str) -> Option<&ErrorEntry> {
        error_entry(&self.errors, code)
    }
}

/// Looks a gateway error code up in a table (exact match first, then the longest prefix entry).
/// Shared by plugins, so the table they export is the table they use.
pub fn error_entry<'t>(table: &'t [ErrorEntry], code: &str) -> Option<&'t ErrorEntry> {
    table.iter().find(|e| e.code == code).or_else(|| {
        table
            .iter()
            .filter_map(|e| {
                let prefix = e.code.strip_suffix('*')?;
                code.starts_with(prefix).then_some((prefix.len(), e))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, e)| e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RefundExtent, Settlement};

    pub(crate) fn sample() -> Manifest {
        Manifest {
            gateway_id: "sample".into(),
            display_name: "Sample".into(),
            plugin_version: semver::Version::new(1, 0, 0),
            sdk_version: semver::Version::new(0, 1, 0),
            capabilities: Capabilities {
                operations: vec![OperationKind::Capture, OperationKind::Inquire],
                partial_capture: false,
                partial_refund: false,
                amount_change: AmountChange::Unsupported,
                inquiry: Inquiry::Available,
                replay_safe: vec![OperationKind::Capture],
            },
            limits: Limits {
                min_amount: 1,
                max_amount: 100,
                currencies: vec![Currency::JPY],
            },
            config: vec![],
            statuses: vec![
                StatusEntry {
                    code: "1".into(),
                    label: "与信済".into(),
                    state: PaymentState::Authorized,
                    terminal: false,
                },
                StatusEntry {
                    code: "4".into(),
                    label: "返金済".into(),
                    state: PaymentState::Refunded {
                        extent: RefundExtent::Full,
                        settlement: Settlement::NotReported,
                    },
                    terminal: true,
                },
            ],
            errors: vec![
                ErrorEntry {
                    code: "10141*".into(),
                    kind: ErrorKind::AlreadyDone,
                    message: "already sold".into(),
                },
                ErrorEntry {
                    code: "101*".into(),
                    kind: ErrorKind::Rejected,
                    message: "credit error".into(),
                },
                ErrorEntry {
                    code: "10141999".into(),
                    kind: ErrorKind::AlreadyDone,
                    message: "exact".into(),
                },
            ],
        }
    }

    #[test]
    fn a_sample_manifest_is_valid_and_round_trips() {
        let m = sample();
        m.validate().unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    }

    #[test]
    fn duplicate_status_codes_and_empty_tables_are_refused() {
        let mut m = sample();
        m.statuses.push(m.statuses[0].clone());
        assert_eq!(
            m.validate(),
            Err(ManifestError::DuplicateStatus("1".into()))
        );
        m.statuses.clear();
        assert_eq!(m.validate(), Err(ManifestError::EmptyStatusTable));
    }

    #[test]
    fn a_catch_all_status_is_refused() {
        let mut m = sample();
        m.statuses[0].state = PaymentState::Unknown { raw: "*".into() };
        assert!(matches!(
            m.validate(),
            Err(ManifestError::CatchAllStatus(_))
        ));
    }

    #[test]
    fn unknown_config_kinds_do_not_deserialize() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v["config"] = serde_json::json!([{"name":"k","kind":"float","secret":false,"required":true,"description":""}]);
        assert!(serde_json::from_value::<Manifest>(v).is_err());
    }

    #[test]
    fn unseen_status_is_unknown_with_the_raw_code() {
        assert_eq!(
            sample().state_of("7"),
            PaymentState::Unknown { raw: "7".into() }
        );
        assert_eq!(sample().state_of("1"), PaymentState::Authorized);
    }

    #[test]
    fn error_lookup_prefers_exact_then_longest_prefix() {
        let m = sample();
        assert_eq!(m.error("10141999").unwrap().message, "exact");
        assert_eq!(m.error("10141001").unwrap().message, "already sold");
        assert_eq!(m.error("10199999").unwrap().message, "credit error");
        assert!(m.error("99900999").is_none());
    }
}
