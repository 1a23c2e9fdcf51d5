//! Typed gateway errors whose kind tells the host whether money may have moved.

use crate::Outcome;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a failed operation means for the money. The host's journal acts on this alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Certainly nothing happened at the gateway: safe to report as a failure.
    NotApplied,
    /// The gateway may have acted: resolve by inquiry, a declared-safe replay, or an operator.
    MayHaveApplied,
}

/// The stable kind of a [`GatewayError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request was refused before anything was sent (bad amount, missing data).
    InvalidRequest,
    /// The plugin does not offer this operation.
    Unsupported,
    /// The card or the card company declined.
    Declined,
    /// The gateway refused the request (state conflict, validation, expired window).
    Rejected,
    /// The gateway says the payment is already in the state the operation aims for (e.g.
    /// "already captured"). Proof of an earlier success only where the manifest declares the
    /// operation replay-safe.
    AlreadyDone,
    /// The gateway refused the merchant's credentials or signature.
    Authentication,
    /// The gateway said it could not process now, before processing (maintenance).
    Unavailable,
    /// The reply could not be understood (malformed, truncated, unexpected status): the request
    /// may have taken effect.
    Protocol,
    /// The plugin's configuration is invalid.
    Config,
    /// The plugin panicked; the message is redacted by the host.
    Panicked,
    /// A bug or an impossible state inside the plugin.
    Internal,
}

impl ErrorKind {
    /// The default reading of this kind for the money. An error raised while interpreting a
    /// reply is read by [`crate::AfterSend`] instead (the request was sent, so only `Declined`,
    /// `Rejected`, `AlreadyDone`, `Authentication` and `Unavailable` can still prove nothing
    /// happened).
    pub fn effect(self) -> Effect {
        match self {
            ErrorKind::Protocol | ErrorKind::Panicked | ErrorKind::Internal => {
                Effect::MayHaveApplied
            }
            _ => Effect::NotApplied,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Declined => "declined",
            ErrorKind::Rejected => "rejected",
            ErrorKind::AlreadyDone => "already_done",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Config => "config",
            ErrorKind::Panicked => "panicked",
            ErrorKind::Internal => "internal",
        }
    }

    /// Where this kind stands when one reply carries several codes of different kinds: the
    /// lower, the more cautious, and the most cautious kind is the error's
    /// ([`ErrorKind::most_cautious`]). Kinds that leave the outcome open come first, then those
    /// that blame the request or the setup, then the gateway's refusals; `AlreadyDone`, the one
    /// kind that can stand for a success, comes last, so another code in the same reply always
    /// outweighs it.
    pub fn caution_rank(self) -> u8 {
        match self {
            ErrorKind::Internal => 0,
            ErrorKind::Panicked => 1,
            ErrorKind::Protocol => 2,
            ErrorKind::Config => 3,
            ErrorKind::Unsupported => 4,
            ErrorKind::InvalidRequest => 5,
            ErrorKind::Authentication => 6,
            ErrorKind::Rejected => 7,
            ErrorKind::Unavailable => 8,
            ErrorKind::Declined => 9,
            ErrorKind::AlreadyDone => 10,
        }
    }

    /// The kind of a reply carrying codes of `kinds` (the SDK's one rule for multi-error
    /// replies, so that no plugin picks the convenient one): the most cautious. `None` when
    /// there is none.
    pub fn most_cautious(kinds: impl IntoIterator<Item = ErrorKind>) -> Option<ErrorKind> {
        kinds.into_iter().min_by_key(|k| k.caution_rank())
    }

    /// Every kind, for tables and conformance checks.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::InvalidRequest,
        ErrorKind::Unsupported,
        ErrorKind::Declined,
        ErrorKind::Rejected,
        ErrorKind::AlreadyDone,
        ErrorKind::Authentication,
        ErrorKind::Unavailable,
        ErrorKind::Protocol,
        ErrorKind::Config,
        ErrorKind::Panicked,
        ErrorKind::Internal,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the kind of a reply that carries several error codes at once is picked, as the manifest
/// declares it (`Manifest::multi_error`). The host holds every multi-code error to it: a plugin
/// that reports a kind less cautious than its declared rule gives is read by the rule's kind
/// instead, so no plugin can pick the convenient code of a reply.
///
/// Under either rule, a code the error table does not list makes the reply `Protocol` (an
/// undocumented code is never taken for a refusal), and `AlreadyDone` stands only when every
/// code says it: "already done" is the one kind that can prove a success, and a reply that also
/// says something else proves nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiError {
    /// The most cautious kind of all the codes ([`ErrorKind::most_cautious`]). The default, and
    /// what a manifest written before 0.2 gets.
    #[default]
    MostCautious,
    /// The first code's kind: for gateways whose documentation says the first code is the
    /// cause and the others follow from it.
    FirstListed,
}

impl MultiError {
    pub fn name(self) -> &'static str {
        match self {
            MultiError::MostCautious => "most_cautious",
            MultiError::FirstListed => "first_listed",
        }
    }

    /// Which of `kinds` (the kinds of a reply's codes, in the gateway's order) gives the reply
    /// its kind; `None` when there is none.
    pub fn pick(self, kinds: &[ErrorKind]) -> Option<usize> {
        let first = kinds.first()?;
        let cautious = (0..kinds.len()).min_by_key(|&i| kinds[i].caution_rank())?;
        let open = |k: ErrorKind| k.effect() == Effect::MayHaveApplied;
        Some(match self {
            MultiError::MostCautious => cautious,
            // The order decides among the gateway's refusals only: an undocumented or unreadable
            // code still leaves the outcome open, and "already done" must be unanimous.
            MultiError::FirstListed if open(kinds[cautious]) => cautious,
            MultiError::FirstListed if *first == ErrorKind::AlreadyDone => cautious,
            MultiError::FirstListed => 0,
        })
    }

    /// The kind a reply with codes of `kinds` has under this rule.
    pub fn kind(self, kinds: &[ErrorKind]) -> Option<ErrorKind> {
        self.pick(kinds).map(|i| kinds[i])
    }
}

impl fmt::Display for MultiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed gateway operation: a stable kind, our explanation, and the gateway's own code and
/// message kept verbatim (operators search the gateway's manual for them).
///
/// Plugins must never put a secret in `message`; the host also scrubs known secret values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct GatewayError {
    pub kind: ErrorKind,
    pub message: String,
    pub gateway_code: Option<String>,
    pub gateway_message: Option<String>,
    /// The reply's further codes, in the gateway's order, when it carried several at once
    /// (GMO-PG: `ErrCode=E01|E01&ErrInfo=E01010001|E01020001`). `gateway_code` is the one the
    /// kind was read from ([`crate::error_from_codes`]).
    pub other_codes: Vec<String>,
    /// Since 0.2: what the operation's earlier steps had changed at the gateway when this later
    /// step failed, as an outcome (F-REGI, F-2: `authchange.cgi` answered OK, so the
    /// authorization is at the new amount under a new SEQNO, then `sale.cgi` was refused).
    /// `None`: nothing to report, or a plugin that does not report it (every 0.1 plugin).
    ///
    /// Only the plugin knows what each of its steps changed. Without this, a host must read any
    /// failure after an earlier money-moving step as "may have applied" and send the operation
    /// to review ([`crate::failed_exchange_effect`]). With it, when the failed step itself was
    /// refused cleanly, the host books this outcome as it would book a success's (new
    /// reference, authorized amount, handle) and fails the operation with this error; when the
    /// failed step's own outcome is unknown, it stays unknown and this is evidence for the
    /// operator. The host books it only if it is consistent with the operation (otherwise:
    /// review), so a plugin reports what the gateway answered, never a guess.
    ///
    /// It rides on the error, not on [`crate::Step`], because it is part of *this* failure:
    /// the step loop's one return type stays `Result<Step, GatewayError>`, and every reader of
    /// failures that does not know it (an older host, a bare driver) keeps the cautious
    /// reading.
    pub changed_before: Option<Box<Outcome>>,
}

impl GatewayError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> GatewayError {
        GatewayError {
            kind,
            message: message.into(),
            gateway_code: None,
            gateway_message: None,
            other_codes: Vec::new(),
            changed_before: None,
        }
    }

    /// An error reported by the gateway itself, with its code and message verbatim.
    pub fn gateway(
        kind: ErrorKind,
        code: impl Into<String>,
        gateway_message: Option<String>,
        message: impl Into<String>,
    ) -> GatewayError {
        GatewayError {
            kind,
            message: message.into(),
            gateway_code: Some(code.into()),
            gateway_message,
            other_codes: Vec::new(),
            changed_before: None,
        }
    }

    /// The error, reporting what the operation's earlier steps left at the gateway
    /// ([`GatewayError::changed_before`]).
    pub fn changed_before(mut self, outcome: Outcome) -> GatewayError {
        self.changed_before = Some(Box::new(outcome));
        self
    }

    pub fn unsupported(what: impl fmt::Display) -> GatewayError {
        GatewayError::new(ErrorKind::Unsupported, format!("{what} is not supported"))
    }

    pub fn protocol(message: impl Into<String>) -> GatewayError {
        GatewayError::new(ErrorKind::Protocol, message)
    }

    pub fn invalid(message: impl Into<String>) -> GatewayError {
        GatewayError::new(ErrorKind::InvalidRequest, message)
    }

    pub fn effect(&self) -> Effect {
        self.kind.effect()
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        let others = if self.other_codes.is_empty() {
            String::new()
        } else {
            format!(", also {}", self.other_codes.join(", "))
        };
        match (&self.gateway_code, &self.gateway_message) {
            (Some(code), Some(msg)) => write!(f, " (gateway {code}{others}: {msg})"),
            (Some(code), None) => write!(f, " (gateway {code}{others})"),
            (None, Some(msg)) => write!(f, " (gateway: {msg})"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreadable_outcomes_may_have_applied() {
        for kind in ErrorKind::ALL {
            let expected = matches!(
                kind,
                ErrorKind::Protocol | ErrorKind::Panicked | ErrorKind::Internal
            );
            assert_eq!(kind.effect() == Effect::MayHaveApplied, expected, "{kind}");
        }
    }

    #[test]
    fn the_most_cautious_kind_wins_and_already_done_never_outweighs_another() {
        let ranks: std::collections::BTreeSet<u8> =
            ErrorKind::ALL.iter().map(|k| k.caution_rank()).collect();
        assert_eq!(ranks.len(), ErrorKind::ALL.len(), "one rank per kind");
        for kind in ErrorKind::ALL {
            // A kind that may have applied outweighs every refusal.
            if kind.effect() == Effect::MayHaveApplied {
                for refusal in [
                    ErrorKind::Declined,
                    ErrorKind::Rejected,
                    ErrorKind::AlreadyDone,
                ] {
                    assert_eq!(ErrorKind::most_cautious([refusal, kind]), Some(kind));
                }
            }
            if kind != ErrorKind::AlreadyDone {
                assert_eq!(
                    ErrorKind::most_cautious([ErrorKind::AlreadyDone, kind]),
                    Some(kind)
                );
            }
        }
        assert_eq!(
            ErrorKind::most_cautious([ErrorKind::Declined, ErrorKind::InvalidRequest]),
            Some(ErrorKind::InvalidRequest)
        );
        assert_eq!(ErrorKind::most_cautious([]), None);
    }

    #[test]
    fn first_listed_decides_among_refusals_only() {
        use ErrorKind::*;
        let first = MultiError::FirstListed;
        assert_eq!(first.kind(&[Declined, Rejected]), Some(Declined));
        assert_eq!(
            first.kind(&[InvalidRequest, Declined]),
            Some(InvalidRequest)
        );
        // An undocumented code (read as `Protocol`) anywhere leaves the outcome open.
        assert_eq!(first.kind(&[Declined, Protocol]), Some(Protocol));
        // "Already done" proves a success only when every code says it.
        assert_eq!(first.kind(&[AlreadyDone, Rejected]), Some(Rejected));
        assert_eq!(first.kind(&[AlreadyDone, AlreadyDone]), Some(AlreadyDone));
        assert_eq!(first.kind(&[Rejected, AlreadyDone]), Some(Rejected));
        assert_eq!(first.pick(&[]), None);
    }

    #[test]
    fn most_cautious_is_the_default_rule_and_picks_the_first_code_of_its_kind() {
        use ErrorKind::*;
        assert_eq!(MultiError::default(), MultiError::MostCautious);
        let rule = MultiError::MostCautious;
        assert_eq!(rule.pick(&[Declined, Rejected, Rejected]), Some(1));
        assert_eq!(rule.kind(&[AlreadyDone, Declined]), Some(Declined));
        assert_eq!(
            serde_json::from_str::<MultiError>("\"first_listed\"").unwrap(),
            MultiError::FirstListed
        );
    }

    #[test]
    fn display_keeps_every_code_of_a_multi_error_reply() {
        let mut e = GatewayError::gateway(ErrorKind::InvalidRequest, "E01010001", None, "bad");
        e.other_codes = vec!["E01020001".into()];
        assert_eq!(
            e.to_string(),
            "invalid_request: bad (gateway E01010001, also E01020001)"
        );
    }

    #[test]
    fn display_keeps_the_gateway_code_and_message_verbatim() {
        let e = GatewayError::gateway(
            ErrorKind::AlreadyDone,
            "S1-1-121",
            Some("売上処理時の指定された取引は売上受付済みです".into()),
            "already captured",
        );
        assert_eq!(
            e.to_string(),
            "already_done: already captured (gateway S1-1-121: 売上処理時の指定された取引は売上受付済みです)"
        );
    }
}
