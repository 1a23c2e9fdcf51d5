//! Checks read from the manifest alone: `manifest.valid`, `manifest.secret-names`,
//! `status.total`, `secrets.config-names`.

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

/// Name segments that may say "credential" but are not sure enough to deny certification: such
/// a key should be flagged secret. The sure words are [`secrets.config-names`](config_names)'s.
const SECRET_WORDS: &[&str] = &["credential", "credentials", "private"];

/// `manifest.secret-names` (advisory): config keys named like credentials are flagged secret.
/// Advisory because these names are only a hint; a false alarm must not block certification.
/// A key that `secrets.config-names` judges (named like a credential by its words) or that
/// declares why it is public is left to that check, so one defect is reported once.
pub fn secret_names(m: &Manifest) -> CheckResult {
    let evidence = m
        .config
        .iter()
        .filter(|k| !k.secret && k.public_reason.is_none())
        .filter(|k| credential_words(&k.name).is_empty())
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

/// Words that name a credential by themselves.
const CREDENTIAL_WORDS: &[&str] = &[
    "pass",
    "passwd",
    "password",
    "passphrase",
    "key",
    "secret",
    "token",
    "pin",
];

/// Endings that make a compound word name a credential: `apikey`, `hashkey`, `accesstoken`,
/// `dbpassword`.
const CREDENTIAL_ENDINGS: &[&str] = &["password", "passwd", "secret", "token", "key"];

/// A config key's name as lower-case words: split at `_`, `-` and `.`, and where the case
/// changes (`apiKey` and `APIKey` are `api` + `key`; a digit ends a word as a lower-case letter
/// does: `v2Token` is `v2` + `token`).
pub fn name_words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '_' | '-' | '.') {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if boundary && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether one lower-case word of a name says "credential": it is one of [`CREDENTIAL_WORDS`]
/// or ends in one of [`CREDENTIAL_ENDINGS`].
pub fn suggests_credential(word: &str) -> bool {
    CREDENTIAL_WORDS.contains(&word) || CREDENTIAL_ENDINGS.iter().any(|e| word.ends_with(e))
}

/// The words of `name` that say "credential" (empty: the name suggests none).
pub fn credential_words(name: &str) -> Vec<String> {
    name_words(name)
        .into_iter()
        .filter(|w| suggests_credential(w))
        .collect()
}

/// `secrets.config-names`: a config key whose name suggests a credential is secret, or declares
/// why it is public (`ConfigKey::public_reason`). Such a key's value is otherwise echoed in
/// logs, errors and `renkei plugins show`. The keys accepted because of a reason are listed in
/// the result's reason, so a certifier reads each explanation.
pub fn config_names(m: &Manifest) -> CheckResult {
    let mut evidence = Vec::new();
    let mut explained = Vec::new();
    for k in m.config.iter().filter(|k| !k.secret) {
        let words = credential_words(&k.name);
        if words.is_empty() {
            continue;
        }
        match k.public_reason.as_deref().map(str::trim) {
            Some(reason) if !reason.is_empty() => {
                explained.push(format!("`{}` ({reason})", k.name));
            }
            _ => evidence.push(format!(
                "config key `{}` is named like a credential ({}) but is neither secret nor \
                 declared public with a reason (`public_reason`)",
                k.name,
                words
                    .iter()
                    .map(|w| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    let mut result = CheckResult::from_evidence(Check::SecretsConfigNames.id(), evidence);
    if !explained.is_empty() {
        result.reason = Some(format!(
            "named like credentials but declared public, with the manifest's reason: {}",
            explained.join("; ")
        ));
    }
    result
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
        PaymentState::AwaitingAuthorization | PaymentState::Registered => {
            &[OperationKind::Authorize]
        }
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
        } if caps.partial_refund.is_supported() => &[OperationKind::Refund],
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
    use crate::report::Verdict;
    use renkei_sdk::ConfigKey;

    #[test]
    fn wildcard_and_default_codes_are_catch_alls_and_real_codes_are_not() {
        for code in ["*", "default", "OTHER", " ", "9*"] {
            assert!(is_catch_all(code), "{code:?}");
        }
        for code in ["1", "captured", "A2-1-122", "pre_order"] {
            assert!(!is_catch_all(code), "{code:?}");
        }
    }

    #[test]
    fn names_split_into_words_at_separators_and_case_changes() {
        let table: &[(&str, &[&str])] = &[
            ("api_key", &["api", "key"]),
            ("api-key", &["api", "key"]),
            ("api.key", &["api", "key"]),
            ("apiKey", &["api", "key"]),
            ("APIKey", &["api", "key"]),
            ("accessToken", &["access", "token"]),
            ("HTTPBasicPassword", &["http", "basic", "password"]),
            ("v2Token", &["v2", "token"]),
            ("apikey", &["apikey"]),
            ("SHOP__ID", &["shop", "id"]),
            ("_x_", &["x"]),
            ("", &[]),
        ];
        for (name, words) in table {
            assert_eq!(name_words(name), *words, "{name:?}");
        }
    }

    #[test]
    fn credential_words_are_the_listed_words_and_compounds_ending_in_a_credential() {
        let table: &[(&str, bool)] = &[
            ("pass", true),
            ("passwd", true),
            ("password", true),
            ("passphrase", true),
            ("key", true),
            ("secret", true),
            ("token", true),
            ("pin", true),
            ("apikey", true),
            ("hashkey", true),
            ("accesstoken", true),
            ("dbpassword", true),
            ("clientsecret", true),
            ("rootpasswd", true),
            ("id", false),
            ("shop", false),
            ("passage", false),
            ("spin", false),
            ("pinned", false),
            ("tokens", false),
            ("keys", false),
            ("keyring", false),
            ("endpoint", false),
        ];
        for (word, expected) in table {
            assert_eq!(suggests_credential(word), *expected, "{word:?}");
        }
    }

    #[test]
    fn a_key_is_named_like_a_credential_when_any_of_its_words_is_one() {
        let table: &[(&str, &[&str])] = &[
            ("api_password", &["password"]),
            ("basic_password", &["password"]),
            ("hash_key", &["key"]),
            ("merchant_key_id", &["key"]),
            ("apiKey", &["key"]),
            ("shop.accessToken", &["token"]),
            ("card_pin", &["pin"]),
            ("shop_id", &[]),
            ("merchant_id", &[]),
            ("service_id", &[]),
            ("endpoint", &[]),
            ("limit_second", &[]),
            ("inquiry_url", &[]),
            ("monthly", &[]),
            ("store_card", &[]),
        ];
        for (name, words) in table {
            assert_eq!(credential_words(name), *words, "{name:?}");
        }
    }

    fn manifest_with(config: Vec<ConfigKey>) -> Manifest {
        Manifest {
            gateway_id: "sample".into(),
            display_name: "Sample".into(),
            plugin_version: semver::Version::new(1, 0, 0),
            sdk_version: semver::Version::parse(SDK_VERSION).unwrap(),
            capabilities: renkei_sdk::Capabilities {
                operations: vec![OperationKind::Capture],
                partial_capture: renkei_sdk::PartialCapture::Unsupported,
                partial_refund: renkei_sdk::PartialRefund::Unsupported,
                amount_change: renkei_sdk::AmountChange::Unsupported,
                inquiry: renkei_sdk::Inquiry::Unavailable,
                replay_safe: vec![],
                request_expiry: Default::default(),
                authorization_inquiry: false,
            },
            limits: renkei_sdk::Limits::yen(1, 100),
            config,
            statuses: vec![],
            errors: vec![],
            multi_error: renkei_sdk::MultiError::MostCautious,
        }
    }

    #[test]
    fn secrets_config_names_fails_an_unexplained_public_credential_and_lists_explained_ones() {
        let key = |name| ConfigKey::new(name, ConfigKind::String, "d");
        let m = manifest_with(vec![
            key("api_key").secret(),
            key("merchant_key_id").public("says which key is in use, not the key"),
            key("api_password"),
            key("shop_id"),
        ]);
        let r = config_names(&m);
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.evidence.len(), 1, "{r:?}");
        assert!(r.evidence[0].contains("`api_password`"), "{r:?}");
        assert!(
            r.reason.as_deref().is_some_and(
                |t| t.contains("`merchant_key_id` (says which key is in use, not the key)")
            ),
            "{r:?}"
        );
        // The advisory check leaves what this check judges alone: one defect, one failure.
        assert_eq!(secret_names(&m).verdict, Verdict::Pass);

        let r = config_names(&manifest_with(vec![
            key("api_key").secret(),
            key("merchant_key_id").public("an id"),
        ]));
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert!(r.reason.is_some());
        // A blank reason (which the manifest validation refuses too) explains nothing.
        let r = config_names(&manifest_with(vec![key("merchant_key_id").public(" ")]));
        assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
        let r = config_names(&manifest_with(vec![key("endpoint"), key("shop_id")]));
        assert_eq!((r.verdict, r.reason), (Verdict::Pass, None));
    }

    #[test]
    fn manifest_secret_names_still_warns_of_keys_only_it_reads_as_credentials() {
        let key = |name| ConfigKey::new(name, ConfigKind::String, "d");
        let r = secret_names(&manifest_with(vec![
            key("private_certificate"),
            key("shop_id"),
        ]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            config_names(&manifest_with(vec![key("private_certificate")])).verdict,
            Verdict::Pass
        );
    }
}
