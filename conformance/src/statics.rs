//! Checks read from the manifest alone: `manifest.valid`, `manifest.secret-names`,
//! `status.total`.

use crate::registry::Check;
use crate::report::CheckResult;
use renkei_sdk::{ConfigKind, Manifest, OperationKind, PaymentState, RefundExtent, SDK_VERSION};
use std::collections::BTreeMap;

/// `manifest.valid`: the host's structural validation, the SDK range, and config keys whose
/// declared defaults fit their declared types.
pub fn manifest_valid(m: &Manifest) -> CheckResult {
    let mut evidence = Vec::new();
    if let Err(e) = m.validate() {
        evidence.push(format!("manifest validation: {e}"));
    }
    let range = renkei_host::compatible_range();
    if !range.matches(&m.sdk_version) {
        evidence.push(format!(
            "built against renkei-sdk {}, outside {range} (this suite's SDK is {SDK_VERSION})",
            m.sdk_version
        ));
    }
    if m.plugin_version == semver::Version::new(0, 0, 0) {
        evidence.push("plugin version is 0.0.0: give each release its own version".into());
    }
    for k in &m.config {
        if k.name.is_empty()
            || !k
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            evidence.push(format!("config key {:?} is not lower_snake_case", k.name));
        }
        if k.description.trim().is_empty() {
            evidence.push(format!("config key `{}` has no description", k.name));
        }
        let Some(default) = &k.default else { continue };
        let fits = match k.kind {
            ConfigKind::String => true,
            ConfigKind::Url => default.starts_with("http://") || default.starts_with("https://"),
            ConfigKind::Integer => default.parse::<i64>().is_ok(),
            ConfigKind::Boolean => matches!(default.as_str(), "true" | "false"),
        };
        if !fits {
            evidence.push(format!(
                "config key `{}` is {:?} but its default does not parse as one",
                k.name, k.kind
            ));
        }
        if k.required {
            evidence.push(format!(
                "config key `{}` is required and has a default: one of the two is wrong",
                k.name
            ));
        }
    }
    CheckResult::from_evidence(Check::ManifestValid.id(), evidence)
}

/// Name segments that say "credential": such a key should be flagged secret.
const SECRET_WORDS: &[&str] = &[
    "key",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "token",
    "credential",
    "credentials",
    "apikey",
    "pin",
    "private",
];

/// `manifest.secret-names` (advisory): config keys named like credentials are flagged secret.
/// Advisory because names are only a hint; a false alarm must not block certification.
pub fn secret_names(m: &Manifest) -> CheckResult {
    let evidence = m
        .config
        .iter()
        .filter(|k| !k.secret)
        .filter(|k| {
            k.name
                .split(['_', '-'])
                .any(|w| SECRET_WORDS.contains(&w.to_ascii_lowercase().as_str()))
        })
        .map(|k| {
            format!(
                "config key `{}` is named like a credential but not flagged secret",
                k.name
            )
        })
        .collect();
    CheckResult::from_evidence(Check::ManifestSecretNames.id(), evidence)
}

/// Codes that read as "anything else": a table row with one of them is a catch-all.
const CATCH_ALL_CODES: &[&str] = &[
    "", "*", "_", "?", "%", ".*", "default", "other", "others", "any", "else", "unknown", "*any*",
];

fn is_catch_all(code: &str) -> bool {
    let c = code.trim().to_ascii_lowercase();
    CATCH_ALL_CODES.contains(&c.as_str()) || c.contains('*') || c.contains('?')
}

/// Operations that can follow a payment in `state`, per the SDK's meaning of the states.
fn follow_ups(state: &PaymentState, m: &Manifest) -> Vec<OperationKind> {
    let caps = &m.capabilities;
    let candidates: &[OperationKind] = match state {
        PaymentState::AwaitingAuthorization => &[OperationKind::Authorize],
        PaymentState::Authorized => &[
            OperationKind::Capture,
            OperationKind::Void,
            OperationKind::ChangeAmount,
        ],
        PaymentState::Captured { .. } => &[OperationKind::Refund],
        // A refund whose extent the gateway does not report may have left something to refund.
        PaymentState::Refunded {
            extent: RefundExtent::Partial | RefundExtent::NotReported,
            ..
        } if caps.partial_refund => &[OperationKind::Refund],
        _ => &[],
    };
    candidates
        .iter()
        .copied()
        .filter(|k| caps.supports(*k))
        .collect()
}

/// `status.total`: every row maps one code to one known state, no row is a catch-all, codes are
/// unambiguous, terminal flags agree with the declared operations, and each state the declared
/// operations lead to has a row.
pub fn status_total(m: &Manifest) -> CheckResult {
    let mut evidence = Vec::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for s in &m.statuses {
        if is_catch_all(&s.code) {
            evidence.push(format!(
                "status {:?} ({}) is a catch-all: an unseen code must become `unknown` with \
                 its raw code, not {}",
                s.code, s.label, s.state
            ));
        }
        if matches!(s.state, PaymentState::Unknown { .. }) {
            evidence.push(format!("status {:?} maps to `unknown`", s.code));
        }
        let normal = s.code.trim().to_ascii_lowercase();
        if let Some(other) = seen.insert(normal, &s.code) {
            evidence.push(format!(
                "statuses {other:?} and {:?} differ only in case or spaces",
                s.code
            ));
        }
        if s.state.is_final() && !s.terminal {
            evidence.push(format!(
                "status {:?} is {} (final) but not marked terminal",
                s.code, s.state
            ));
        }
        let follow = follow_ups(&s.state, m);
        if s.terminal && !follow.is_empty() {
            evidence.push(format!(
                "status {:?} is marked terminal, but {} follows {} per the declared operations \
                 ({})",
                s.code,
                follow[0],
                s.state,
                follow
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let has = |f: fn(&PaymentState) -> bool| m.statuses.iter().any(|s| f(&s.state));
    type Reaches = (OperationKind, &'static str, fn(&PaymentState) -> bool);
    let needs: [Reaches; 4] = [
        (OperationKind::Authorize, "authorized", |s| {
            matches!(s, PaymentState::Authorized)
        }),
        (OperationKind::Capture, "captured", |s| {
            matches!(s, PaymentState::Captured { .. })
        }),
        (OperationKind::Void, "voided", |s| {
            matches!(s, PaymentState::Voided)
        }),
        (OperationKind::Refund, "refunded", |s| {
            matches!(s, PaymentState::Refunded { .. })
        }),
    ];
    for (op, state, present) in needs {
        if m.capabilities.supports(op) && !has(present) {
            evidence.push(format!(
                "{op} is declared but no status maps to {state}: the inquiry could never \
                 report its result"
            ));
        }
    }
    CheckResult::from_evidence(Check::StatusTotal.id(), evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_and_default_codes_are_catch_alls_and_real_codes_are_not() {
        for code in ["*", "default", "OTHER", " ", "9*"] {
            assert!(is_catch_all(code), "{code:?}");
        }
        for code in ["1", "captured", "A2-1-122", "pre_order"] {
            assert!(!is_catch_all(code), "{code:?}");
        }
    }
}
