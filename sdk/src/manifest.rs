//! The plugin manifest: everything the host, the CLI and the conformance suite need to know about
//! a gateway, exported by the plugin as data.

use crate::{Currency, ErrorKind, MultiError, OperationKind, OrderIdRules, PaymentState};
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

/// When a request sent to the gateway can no longer take effect there.
///
/// The host settles an unknown outcome by inquiry only once the request it is unsure of can no
/// longer be processed: before that, "the payment is unchanged" proves nothing, because a
/// request held by a load balancer or a slow gateway may still be applied after the inquiry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestExpiry {
    /// The gateway documents no validity window: a request whose outcome is unknown may still
    /// be processed at any later time, so an unchanged payment never proves it was not.
    #[default]
    Never,
    /// Each request carries its own validity (SBPS `request_date` + `limit_second`): the gateway
    /// refuses it once `seconds` have passed since the request's own time. `seconds` is the
    /// value of the integer config key `key`, or `default_seconds` when it is not set.
    ConfigSeconds { key: String, default_seconds: u32 },
}

/// How a gateway captures less than the authorized amount.
///
/// The host needs the *way*, not only a yes: an unknown outcome of a capture that acts on the
/// authorization the journal knows can be settled by asking about that authorization, but one
/// that first replaces the authorization (a new reference, a new amount) cannot, since an
/// inquiry about the old reference no longer describes the payment
/// (`ledger::resolution::acts_in_place` in the host).
///
/// In JSON, the variant's snake_case name. A manifest from SDK 0.1 (or JSON written before 0.2)
/// carries a boolean, read by [`PartialCapture::from_legacy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartialCapture {
    /// A capture can only take the whole authorized amount.
    Unsupported,
    /// The capture request itself names a smaller amount, on the same transaction; the rest of
    /// the authorization is released (SBPS sales with `amount`, S-1).
    InPlace,
    /// The plugin first changes the authorized amount, possibly under a new reference, then
    /// captures the whole new amount (F-REGI authchange.cgi then sale.cgi, F-2). Two
    /// money-moving steps: the first can succeed while the second fails.
    ChangeThenCapture,
}

impl PartialCapture {
    /// Whether a capture below the authorized amount can be asked for at all.
    pub fn is_supported(self) -> bool {
        self != PartialCapture::Unsupported
    }

    /// Whether it acts on the authorization as it is, under the same reference.
    pub fn is_in_place(self) -> bool {
        self == PartialCapture::InPlace
    }

    /// The reading of a 0.1 boolean. `true` said "possible" without saying how, so it is read
    /// as the way under which the host settles less by itself: a change first, which an inquiry
    /// about the old reference cannot account for. Reading it as in place could let the host
    /// book an inquiry's answer about a replaced authorization as this capture's outcome.
    pub fn from_legacy(supported: bool) -> PartialCapture {
        if supported {
            PartialCapture::ChangeThenCapture
        } else {
            PartialCapture::Unsupported
        }
    }

    /// How the CLI and reports say it.
    pub fn describe(self) -> &'static str {
        match self {
            PartialCapture::Unsupported => "no partial capture",
            PartialCapture::InPlace => "partial capture (in place)",
            PartialCapture::ChangeThenCapture => "partial capture (change, then capture)",
        }
    }
}

/// How a gateway refunds part of a captured amount.
///
/// As with [`PartialCapture`], the way decides what the host can settle by itself: a partial
/// refund on the same sale leaves a payment an inquiry can describe; one that replaces the sale
/// by a smaller one under a new reference does not.
///
/// In JSON, the variant's snake_case name; a 0.1 boolean is read by
/// [`PartialRefund::from_legacy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartialRefund {
    /// Only the whole captured amount can be refunded.
    Unsupported,
    /// A refund of part of the amount on the same sale, which stays under its reference
    /// (SBPS `ST02-00307`).
    InPlace,
    /// The sale is replaced by one at the reduced amount, possibly under a new reference
    /// (F-REGI salechange.cgi).
    ChangeDown,
}

impl PartialRefund {
    /// Whether a refund of part of the captured amount can be asked for at all.
    pub fn is_supported(self) -> bool {
        self != PartialRefund::Unsupported
    }

    /// Whether it acts on the sale as it is, under the same reference.
    pub fn is_in_place(self) -> bool {
        self == PartialRefund::InPlace
    }

    /// The reading of a 0.1 boolean: `true` is read as a change down, the way under which the
    /// host settles less by itself (see [`PartialCapture::from_legacy`]).
    pub fn from_legacy(supported: bool) -> PartialRefund {
        if supported {
            PartialRefund::ChangeDown
        } else {
            PartialRefund::Unsupported
        }
    }

    /// How the CLI and reports say it.
    pub fn describe(self) -> &'static str {
        match self {
            PartialRefund::Unsupported => "no partial refund",
            PartialRefund::InPlace => "partial refund (in place)",
            PartialRefund::ChangeDown => "partial refund (change down: a smaller sale replaces it)",
        }
    }
}

/// Reads either the 0.2 name or a 0.1 boolean (`from_legacy`), so that manifests of plugins
/// built against 0.1 and JSON written by older code still parse.
macro_rules! deserialize_bool_or_name {
    ($ty:ident { $($name:literal => $variant:ident),+ $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Wire {
                    Legacy(bool),
                    Name(String),
                }
                match Wire::deserialize(d)? {
                    Wire::Legacy(b) => Ok($ty::from_legacy(b)),
                    Wire::Name(name) => match name.as_str() {
                        $($name => Ok($ty::$variant),)+
                        other => Err(serde::de::Error::unknown_variant(other, &[$($name),+])),
                    },
                }
            }
        }
    };
}

deserialize_bool_or_name!(PartialCapture {
    "unsupported" => Unsupported,
    "in_place" => InPlace,
    "change_then_capture" => ChangeThenCapture,
});
deserialize_bool_or_name!(PartialRefund {
    "unsupported" => Unsupported,
    "in_place" => InPlace,
    "change_down" => ChangeDown,
});

/// What the plugin can do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub operations: Vec<OperationKind>,
    /// How a capture below the authorized amount is done, if at all (a boolean in 0.1).
    pub partial_capture: PartialCapture,
    /// How part of a captured amount is refunded, if at all (a boolean in 0.1).
    pub partial_refund: PartialRefund,
    pub amount_change: AmountChange,
    pub inquiry: Inquiry,
    /// Operations whose replay is safe because a replay's "already done" answer
    /// (`ErrorKind::AlreadyDone`) proves that the first attempt went through.
    pub replay_safe: Vec<OperationKind>,
    /// When a sent request can no longer take effect (absent in older manifests: never).
    #[serde(default)]
    pub request_expiry: RequestExpiry,
    /// Since 0.2: the gateway can look an authorization up by the order id the host issued
    /// for its attempt (`Operation::FindAuthorization`), so an authorization whose reply was
    /// lost is settled by asking instead of by an operator. Needs `limits.order_id` (the host
    /// must issue the id it looks for) and inquiry. Absent in older manifests: cannot.
    #[serde(default)]
    pub authorization_inquiry: bool,
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
    /// Since 0.2: the rules of the gateway's order ids. Declared, the host issues an id per
    /// attempt that fits them (`Context::gateway_order_id`); absent, the plugin sends what it
    /// likes (F-REGI sends the shop's order code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderIdRules>,
}

impl Limits {
    /// Yen only, from `min_amount` to `max_amount`: what a Japanese card gateway accepts.
    pub fn yen(min_amount: i64, max_amount: i64) -> Limits {
        Limits {
            min_amount,
            max_amount,
            currencies: vec![Currency::JPY],
            order_id: None,
        }
    }

    /// The same limits, with the gateway's order-id rules.
    pub fn with_order_ids(mut self, rules: OrderIdRules) -> Limits {
        self.order_id = Some(rules);
        self
    }
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
    /// Operations that only work when this key is set: the plugin declares them in
    /// `Capabilities::operations`, and a configured instance offers them only when the key has a
    /// value (F-REGI's inquiry exists only at the emulator's `inquiry_url`). Without this, a
    /// manifest would have to declare the operation for every shop or for none, and the
    /// conformance suite would hold a real-shaped endpoint to a capability it cannot have.
    /// Absent in older manifests: the key enables nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enables: Vec<OperationKind>,
    /// Why a key whose name suggests a credential is not secret: a `merchant_key_id` that says
    /// which key is in use, not the key itself. A non-secret value is echoed in logs, errors and
    /// `renkei plugins show`, so the conformance check `secrets.config-names` fails a key named
    /// like a credential that is neither secret nor explained here, and lists each explanation
    /// it accepts. Only on non-secret keys, and never blank (`Manifest::validate`). Absent in
    /// older manifests: no key is explained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_reason: Option<String>,
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
    /// Since 0.2: how the kind of a reply with several error codes is picked. Absent (0.1
    /// manifests): the most cautious code's kind.
    #[serde(default)]
    pub multi_error: MultiError,
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
    #[error("limits.order_id: {0}")]
    BadOrderIdRules(String),
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
    #[error(
        "authorization inquiry needs authorization, inquiry and `limits.order_id` (the host-issued \
         order id is what it looks for)"
    )]
    AuthorizationInquiryWithoutOrderIds,
    #[error("request expiry names config key {0:?}, which is not a declared integer key")]
    BadRequestExpiry(String),
    #[error("config key {key:?} enables {operation}, which the manifest does not declare")]
    EnablesUndeclared {
        key: String,
        operation: OperationKind,
    },
    #[error(
        "config key {0:?} enables operations but is required or has a default, so it is always \
         set and the operations are not config-dependent: declare them plainly"
    )]
    EnablingKeyAlwaysSet(String),
    #[error("config key {0:?} is secret, so it cannot also give a reason for being public")]
    PublicReasonOnSecretKey(String),
    #[error("config key {0:?} gives a blank reason for being public")]
    BlankPublicReason(String),
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
            if let Some(reason) = &k.public_reason {
                if k.secret {
                    return Err(ManifestError::PublicReasonOnSecretKey(k.name.clone()));
                }
                if reason.trim().is_empty() {
                    return Err(ManifestError::BlankPublicReason(k.name.clone()));
                }
            }
            if !k.enables.is_empty() && (k.required || k.default.is_some()) {
                return Err(ManifestError::EnablingKeyAlwaysSet(k.name.clone()));
            }
            if let Some(op) = k
                .enables
                .iter()
                .find(|op| !self.capabilities.supports(**op))
            {
                return Err(ManifestError::EnablesUndeclared {
                    key: k.name.clone(),
                    operation: *op,
                });
            }
        }
        let l = &self.limits;
        if l.min_amount < 1 || l.max_amount < l.min_amount || l.currencies.is_empty() {
            return Err(ManifestError::BadLimits {
                min: l.min_amount,
                max: l.max_amount,
            });
        }
        if let Some(problem) = l.order_id.as_ref().and_then(OrderIdRules::problem) {
            return Err(ManifestError::BadOrderIdRules(problem));
        }
        let caps = &self.capabilities;
        if let Some(op) = caps.replay_safe.iter().find(|op| !caps.supports(**op)) {
            return Err(ManifestError::ReplaySafeUnsupported(*op));
        }
        if let RequestExpiry::ConfigSeconds { key, .. } = &caps.request_expiry
            && !self
                .config
                .iter()
                .any(|k| &k.name == key && k.kind == ConfigKind::Integer)
        {
            return Err(ManifestError::BadRequestExpiry(key.clone()));
        }
        let inquires = caps.supports(OperationKind::Inquire);
        if inquires == (caps.inquiry == Inquiry::Unavailable) {
            return Err(ManifestError::InquiryMismatch {
                inquiry: caps.inquiry,
            });
        }
        if caps.authorization_inquiry
            && !(inquires
                && caps.supports(OperationKind::Authorize)
                && self.limits.order_id.is_some())
        {
            return Err(ManifestError::AuthorizationInquiryWithoutOrderIds);
        }
        Ok(())
    }

    /// The config keys an operation depends on: empty when the operation does not depend on
    /// configuration (it is offered whenever it is declared).
    pub fn enabling_keys(&self, kind: OperationKind) -> Vec<&str> {
        self.config
            .iter()
            .filter(|k| k.enables.contains(&kind))
            .map(|k| k.name.as_str())
            .collect()
    }

    /// What an instance configured with the keys `is_set` answers true for can do: the declared
    /// capabilities minus every operation whose enabling keys (any one suffices) are all unset.
    /// Replay safety follows the operations, and an instance without inquiry has
    /// `Inquiry::Unavailable`, so the result passes the same consistency rules as the manifest.
    pub fn configured_capabilities(&self, is_set: impl Fn(&str) -> bool) -> Capabilities {
        let mut caps = self.capabilities.clone();
        caps.operations.retain(|op| {
            let keys = self.enabling_keys(*op);
            keys.is_empty() || keys.iter().any(|k| is_set(k))
        });
        let offered = caps.operations.clone();
        caps.replay_safe.retain(|op| offered.contains(op));
        if !caps.supports(OperationKind::Inquire) {
            caps.inquiry = Inquiry::Unavailable;
        }
        caps
    }

    /// The status table row of a gateway code.
    pub fn status(&self, code: &str) -> Option<&StatusEntry> {
        crate::table::status_entry(&self.statuses, code)
    }

    /// Maps a gateway status code to the unified state; an unknown code becomes
    /// `PaymentState::Unknown` with the raw code, never a guess.
    pub fn state_of(&self, code: &str) -> PaymentState {
        crate::table::state_by_code(&self.statuses, code)
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
                partial_capture: PartialCapture::Unsupported,
                partial_refund: PartialRefund::Unsupported,
                amount_change: AmountChange::Unsupported,
                inquiry: Inquiry::Available,
                replay_safe: vec![OperationKind::Capture],
                request_expiry: RequestExpiry::Never,
                authorization_inquiry: false,
            },
            limits: Limits::yen(1, 100),
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
            multi_error: MultiError::MostCautious,
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
    fn a_0_1_manifest_with_boolean_partial_capabilities_reads_them_cautiously() {
        let mut json = serde_json::to_value(sample()).unwrap();
        for (capture, refund, way) in [
            (
                false,
                false,
                (PartialCapture::Unsupported, PartialRefund::Unsupported),
            ),
            (
                true,
                true,
                (PartialCapture::ChangeThenCapture, PartialRefund::ChangeDown),
            ),
        ] {
            json["capabilities"]["partial_capture"] = serde_json::json!(capture);
            json["capabilities"]["partial_refund"] = serde_json::json!(refund);
            let old: Manifest = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(
                (
                    old.capabilities.partial_capture,
                    old.capabilities.partial_refund
                ),
                way
            );
            // A boolean `true` is never read as acting in place.
            assert!(!old.capabilities.partial_capture.is_in_place());
            assert!(!old.capabilities.partial_refund.is_in_place());
            assert_eq!(old.capabilities.partial_capture.is_supported(), capture);
            assert_eq!(old.capabilities.partial_refund.is_supported(), refund);
        }
    }

    #[test]
    fn partial_capabilities_are_written_by_name_and_read_back() {
        for capture in [
            PartialCapture::Unsupported,
            PartialCapture::InPlace,
            PartialCapture::ChangeThenCapture,
        ] {
            for refund in [
                PartialRefund::Unsupported,
                PartialRefund::InPlace,
                PartialRefund::ChangeDown,
            ] {
                let mut m = sample();
                m.capabilities.partial_capture = capture;
                m.capabilities.partial_refund = refund;
                let json = serde_json::to_value(&m).unwrap();
                assert!(
                    json["capabilities"]["partial_capture"].is_string(),
                    "{json}"
                );
                assert!(json["capabilities"]["partial_refund"].is_string(), "{json}");
                assert_eq!(serde_json::from_value::<Manifest>(json).unwrap(), m);
            }
        }
        assert_eq!(
            serde_json::to_value(PartialCapture::ChangeThenCapture).unwrap(),
            "change_then_capture"
        );
        assert_eq!(
            serde_json::to_value(PartialRefund::InPlace).unwrap(),
            "in_place"
        );
        let mut json = serde_json::to_value(sample()).unwrap();
        json["capabilities"]["partial_refund"] = serde_json::json!("sometimes");
        assert!(serde_json::from_value::<Manifest>(json.clone()).is_err());
        json["capabilities"]["partial_refund"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Manifest>(json).is_err());
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
    fn a_request_expiry_must_name_a_declared_integer_key() {
        let mut m = sample();
        m.capabilities.request_expiry = RequestExpiry::ConfigSeconds {
            key: "limit_second".into(),
            default_seconds: 60,
        };
        assert!(matches!(
            m.validate(),
            Err(ManifestError::BadRequestExpiry(k)) if k == "limit_second"
        ));
        // A manifest from before the field existed reads as "never expires".
        let mut json: serde_json::Value = serde_json::to_value(sample()).unwrap();
        json["capabilities"]
            .as_object_mut()
            .unwrap()
            .remove("request_expiry");
        let old: Manifest = serde_json::from_value(json).unwrap();
        assert_eq!(old.capabilities.request_expiry, RequestExpiry::Never);
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
    fn inquiry_url_key() -> ConfigKey {
        ConfigKey {
            name: "inquiry_url".into(),
            kind: ConfigKind::Url,
            secret: false,
            required: false,
            default: None,
            description: "where inquiries go".into(),
            enables: vec![OperationKind::Inquire],
            public_reason: None,
        }
    }

    #[test]
    fn an_operation_enabled_by_an_unset_key_is_not_offered_by_the_configured_instance() {
        let mut m = sample();
        m.config.push(inquiry_url_key());
        m.validate().unwrap();
        let unset = m.configured_capabilities(|_| false);
        assert_eq!(unset.operations, vec![OperationKind::Capture]);
        assert_eq!(unset.inquiry, Inquiry::Unavailable);
        let set = m.configured_capabilities(|k| k == "inquiry_url");
        assert_eq!(set, m.capabilities);
        assert_eq!(m.enabling_keys(OperationKind::Inquire), vec!["inquiry_url"]);
        assert!(m.enabling_keys(OperationKind::Capture).is_empty());
    }

    #[test]
    fn replay_safety_follows_the_configured_operations() {
        let mut m = sample();
        let mut key = inquiry_url_key();
        key.enables = vec![OperationKind::Capture];
        m.config.push(key);
        m.validate().unwrap();
        let caps = m.configured_capabilities(|_| false);
        assert_eq!(caps.operations, vec![OperationKind::Inquire]);
        assert!(caps.replay_safe.is_empty());
    }

    #[test]
    fn an_enabling_key_must_be_optional_and_name_declared_operations() {
        let mut m = sample();
        let mut key = inquiry_url_key();
        key.enables = vec![OperationKind::Void];
        m.config = vec![key];
        assert!(matches!(
            m.validate(),
            Err(ManifestError::EnablesUndeclared {
                operation: OperationKind::Void,
                ..
            })
        ));
        let mut key = inquiry_url_key();
        key.default = Some("http://127.0.0.1/".into());
        m.config = vec![key];
        assert_eq!(
            m.validate(),
            Err(ManifestError::EnablingKeyAlwaysSet("inquiry_url".into()))
        );
    }

    #[test]
    fn a_config_key_without_enables_reads_from_an_older_manifest() {
        let mut json: serde_json::Value = serde_json::to_value(sample()).unwrap();
        json["config"] = serde_json::json!([{
            "name": "k", "kind": "string", "secret": false, "required": false,
            "description": "d"
        }]);
        let old: Manifest = serde_json::from_value(json).unwrap();
        assert!(old.config[0].enables.is_empty());
        assert_eq!(old.configured_capabilities(|_| false), old.capabilities);
    }

    #[test]
    fn a_public_reason_is_only_for_non_secret_keys_and_never_blank() {
        let mut m = sample();
        let key = ConfigKey::new(
            "merchant_key_id",
            ConfigKind::String,
            "names the key in use",
        );
        m.config = vec![
            key.clone()
                .public("an id naming the key, not the key itself"),
        ];
        m.validate().unwrap();
        m.config = vec![key.clone().public("the id").secret()];
        assert_eq!(
            m.validate(),
            Err(ManifestError::PublicReasonOnSecretKey(
                "merchant_key_id".into()
            ))
        );
        for blank in ["", "  \t"] {
            m.config = vec![key.clone().public(blank)];
            assert_eq!(
                m.validate(),
                Err(ManifestError::BlankPublicReason("merchant_key_id".into()))
            );
        }
    }

    #[test]
    fn a_config_key_without_a_public_reason_reads_from_an_older_manifest_and_writes_none() {
        let mut json: serde_json::Value = serde_json::to_value(sample()).unwrap();
        json["config"] = serde_json::json!([{
            "name": "api_key", "kind": "string", "secret": true, "required": true,
            "description": "d"
        }]);
        let old: Manifest = serde_json::from_value(json).unwrap();
        assert_eq!(old.config[0].public_reason, None);
        let written = serde_json::to_value(&old).unwrap();
        assert!(
            written["config"][0].get("public_reason").is_none(),
            "{written}"
        );
        let mut explained = old.clone();
        explained.config[0].secret = false;
        explained.config[0].public_reason = Some("a public id".into());
        let json = serde_json::to_string(&explained).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), explained);
    }
}
