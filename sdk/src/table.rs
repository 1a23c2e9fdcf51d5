//! Helpers for writing a plugin's manifest tables as data, one row a line.
//!
//! Every plugin declares config keys, a status table and an error table, and reads its own status
//! table back when a reply names a gateway status. Written out as struct literals, a row takes
//! six lines and the table stops reading as a table; these constructors keep a row on one line
//! and the lookups keep the table a plugin exports the table it uses. Plain Rust: nothing here
//! crosses the ABI (the manifest travels as the types of `manifest.rs`).

use crate::{
    ConfigKey, ConfigKind, ErrorEntry, ErrorKind, GatewayError, MultiError, OperationKind,
    PaymentState, StatusEntry, error_entry,
};

impl ConfigKey {
    /// An optional, non-secret key without a default that enables nothing: the common case,
    /// refined by the builder methods below.
    pub fn new(name: &str, kind: ConfigKind, description: &str) -> ConfigKey {
        ConfigKey {
            name: name.into(),
            kind,
            secret: false,
            required: false,
            default: None,
            description: description.into(),
            enables: vec![],
            public_reason: None,
        }
    }

    /// The host refuses a config without this key.
    pub fn required(mut self) -> ConfigKey {
        self.required = true;
        self
    }

    /// A credential: never echoed by the host, the CLI or any error.
    pub fn secret(mut self) -> ConfigKey {
        self.secret = true;
        self
    }

    /// The value the plugin uses when the key is unset, shown by `renkei plugins show`.
    pub fn default_value(mut self, value: &str) -> ConfigKey {
        self.default = Some(value.into());
        self
    }

    /// Operations offered only when this key is set (see `ConfigKey::enables`).
    pub fn enabling(mut self, operations: &[OperationKind]) -> ConfigKey {
        self.enables = operations.to_vec();
        self
    }

    /// Why a key named like a credential is not secret (see `ConfigKey::public_reason`).
    pub fn public(mut self, reason: &str) -> ConfigKey {
        self.public_reason = Some(reason.into());
        self
    }
}

/// One status-table row: the gateway's code and label, the unified state, and whether a shop
/// operation can still follow.
pub fn status_row(code: &str, label: &str, state: PaymentState, terminal: bool) -> StatusEntry {
    StatusEntry {
        code: code.into(),
        label: label.into(),
        state,
        terminal,
    }
}

/// One error-table row: the gateway's code (or `prefix*`), its kind, and what it means.
pub fn error_row(code: &str, kind: ErrorKind, message: &str) -> ErrorEntry {
    ErrorEntry {
        code: code.into(),
        kind,
        message: message.into(),
    }
}

/// The error of a reply that carried several codes at once (or one), under the SDK's default
/// rule ([`MultiError::MostCautious`]); see [`error_from_codes_by`].
pub fn error_from_codes(
    table: &[ErrorEntry],
    codes: &[&str],
    gateway_message: Option<String>,
) -> Option<GatewayError> {
    error_from_codes_by(MultiError::MostCautious, table, codes, gateway_message)
}

/// The kind of each code through the error table: a code the table does not list is `Protocol`
/// (an undocumented code is never taken for a refusal).
pub fn code_kinds(table: &[ErrorEntry], codes: &[&str]) -> Vec<ErrorKind> {
    codes
        .iter()
        .map(|code| error_entry(table, code).map_or(ErrorKind::Protocol, |e| e.kind))
        .collect()
}

/// The error of a reply that carried several codes at once (or one): each code is read through
/// the error table ([`code_kinds`]) and the error takes the kind `rule` picks (the rule the
/// manifest declares in `multi_error`). `gateway_code` is the picked code, the others keep the
/// gateway's order in `other_codes`, and `message` gets the table's meaning of the picked code.
/// `None` when `codes` is empty.
pub fn error_from_codes_by(
    rule: MultiError,
    table: &[ErrorEntry],
    codes: &[&str],
    gateway_message: Option<String>,
) -> Option<GatewayError> {
    let read: Vec<(&str, ErrorKind, String)> = codes
        .iter()
        .map(|code| match error_entry(table, code) {
            Some(e) => (*code, e.kind, e.message.clone()),
            None => (
                *code,
                ErrorKind::Protocol,
                format!("error code {code} is not documented: the request may have been processed"),
            ),
        })
        .collect();
    let kinds: Vec<ErrorKind> = read.iter().map(|(_, k, _)| *k).collect();
    let chosen = rule.pick(&kinds)?;
    let kind = kinds[chosen];
    let (code, _, message) = &read[chosen];
    let mut error = GatewayError::gateway(kind, *code, gateway_message, message.clone());
    error.other_codes = read
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != chosen)
        .map(|(_, (c, _, _))| (*c).to_owned())
        .collect();
    Some(error)
}

/// The status-table row of a gateway code.
pub fn status_entry<'t>(table: &'t [StatusEntry], code: &str) -> Option<&'t StatusEntry> {
    table.iter().find(|s| s.code == code)
}

/// The unified state of a gateway status code; a code the table does not list becomes
/// `PaymentState::Unknown` with the raw code, never a guess (the host then resolves it).
pub fn state_by_code(table: &[StatusEntry], code: &str) -> PaymentState {
    status_entry(table, code)
        .map(|s| s.state.clone())
        .unwrap_or_else(|| PaymentState::Unknown {
            raw: code.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<StatusEntry> {
        vec![
            status_row("1", "与信済", PaymentState::Authorized, false),
            status_row("3", "与信取消済", PaymentState::Voided, true),
        ]
    }

    #[test]
    fn a_key_starts_optional_public_and_plain_and_the_builder_sets_each_field() {
        let plain = ConfigKey::new("endpoint", ConfigKind::Url, "API base URL");
        assert_eq!(
            plain,
            ConfigKey {
                name: "endpoint".into(),
                kind: ConfigKind::Url,
                secret: false,
                required: false,
                default: None,
                description: "API base URL".into(),
                enables: vec![],
                public_reason: None,
            }
        );
        let built = ConfigKey::new("api_key", ConfigKind::String, "Bearer API key")
            .required()
            .secret();
        assert!(built.required && built.secret);
        assert_eq!(built.default, None);
        let defaulted = plain.clone().default_value("https://example.test/");
        assert_eq!(defaulted.default.as_deref(), Some("https://example.test/"));
        assert!(!defaulted.required && !defaulted.secret);
        let enabling = ConfigKey::new("inquiry_url", ConfigKind::Url, "where inquiries go")
            .enabling(&[OperationKind::Inquire]);
        assert_eq!(enabling.enables, vec![OperationKind::Inquire]);
        let public = ConfigKey::new("merchant_key_id", ConfigKind::String, "which key")
            .public("names the key in use, not the key");
        assert_eq!(
            public.public_reason.as_deref(),
            Some("names the key in use, not the key")
        );
    }

    #[test]
    fn rows_keep_every_field() {
        let s = status_row("2", "売上済", PaymentState::Authorized, true);
        assert_eq!(
            (s.code.as_str(), s.label.as_str(), s.terminal),
            ("2", "売上済", true)
        );
        assert_eq!(s.state, PaymentState::Authorized);
        let e = error_row("10141*", ErrorKind::AlreadyDone, "already sold");
        assert_eq!(
            e,
            ErrorEntry {
                code: "10141*".into(),
                kind: ErrorKind::AlreadyDone,
                message: "already sold".into(),
            }
        );
    }

    #[test]
    fn a_multi_error_reply_takes_its_most_cautious_code_and_keeps_the_others_in_order() {
        let table = vec![
            error_row("E01010001", ErrorKind::InvalidRequest, "shop id missing"),
            error_row("E01*", ErrorKind::Rejected, "input error"),
            error_row("42G02*", ErrorKind::Declined, "card declined"),
            error_row("E01240002", ErrorKind::AlreadyDone, "already sold"),
        ];
        let e = error_from_codes(&table, &["42G020000", "E01020001", "E01010001"], None).unwrap();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.gateway_code.as_deref(), Some("E01010001"));
        assert_eq!(e.other_codes, ["42G020000", "E01020001"]);
        assert_eq!(e.message, "shop id missing");

        // "Already done" beside a decline is not taken for a success.
        let e = error_from_codes(&table, &["E01240002", "42G020000"], None).unwrap();
        assert_eq!(e.kind, ErrorKind::Declined);

        // An undocumented code beside a refusal leaves the outcome open.
        let e = error_from_codes(&table, &["42G020000", "ZZZ"], Some("?".into())).unwrap();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert_eq!(e.gateway_code.as_deref(), Some("ZZZ"));
        assert_eq!(e.gateway_message.as_deref(), Some("?"));
        assert!(error_from_codes(&table, &[], None).is_none());
    }

    #[test]
    fn under_first_listed_the_first_refusal_decides_and_an_undocumented_code_still_wins() {
        let table = vec![
            error_row("E01010001", ErrorKind::InvalidRequest, "shop id missing"),
            error_row("42G020000", ErrorKind::Declined, "insufficient balance"),
        ];
        let rule = MultiError::FirstListed;
        let e = error_from_codes_by(rule, &table, &["42G020000", "E01010001"], None).unwrap();
        assert_eq!(e.kind, ErrorKind::Declined);
        assert_eq!(e.gateway_code.as_deref(), Some("42G020000"));
        assert_eq!(e.other_codes, ["E01010001"]);
        let e = error_from_codes_by(rule, &table, &["42G020000", "ZZZ"], None).unwrap();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert_eq!(
            code_kinds(&table, &["E01010001", "ZZZ"]),
            [ErrorKind::InvalidRequest, ErrorKind::Protocol]
        );
    }

    #[test]
    fn a_listed_code_has_its_state_and_an_unlisted_one_is_unknown_with_the_raw_code() {
        let t = table();
        assert_eq!(state_by_code(&t, "1"), PaymentState::Authorized);
        assert_eq!(state_by_code(&t, "3"), PaymentState::Voided);
        assert_eq!(
            state_by_code(&t, "7"),
            PaymentState::Unknown { raw: "7".into() }
        );
        assert_eq!(
            status_entry(&t, "3").map(|s| s.label.as_str()),
            Some("与信取消済")
        );
        assert!(status_entry(&t, "").is_none());
    }
}
