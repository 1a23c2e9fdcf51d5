//! Fault injection: rules that make the emulator misbehave on chosen requests
//! (`docs/protocols/fregi.md` §11.1-8).
//!
//! The vocabulary (kind names, their meaning, lifetimes, the JSON shape, the book that fires
//! rules in installation order, first match wins) is the emulator kit's
//! ([`renkei_emulator_kit::FaultKind`]), shared with the SBPS emulator so that one test matrix
//! reads the same on both gateways. What is F-REGI's own: the matcher ([`FaultMatch`]: script,
//! `SEQNO`, `ID`; unset criteria match everything), the error a gateway-error fault answers
//! with (a reason line `CODE(message)` or a bare `CODE`, [`DEFAULT_GATEWAY_ERROR`] by default)
//! and the `on_*` narrowing methods. A malformed reply is an HTML error page (a cut line reply
//! could still parse as a short `OK`).

use serde::{Deserialize, Serialize};

use renkei_emulator_kit::Matches;

use crate::ops::Script;

pub use renkei_emulator_kit::{FaultId, FaultLifetime};

/// The reason line a gateway-error fault answers by default. F-REGI publishes no system-error
/// code; `Z9` is outside every API prefix F-REGI uses (`A1`–`A3`, `S1`–`S3`, `CSA1`, `JCN-G`)
/// and every one this emulator invents (`M1`, `C1`, `C2`, `X1`), so no client table can know
/// it: the reply tests how a client treats an `NG` it cannot classify.
pub const DEFAULT_GATEWAY_ERROR: &str = "Z9-9-999(システムエラーが発生しました)";

/// What a fault does; see [`renkei_emulator_kit::FaultKind`]. The code of a gateway error is a
/// reason line `CODE(message)` or a bare `CODE` (sent with the message of
/// [`DEFAULT_GATEWAY_ERROR`]).
pub type FaultKind = renkei_emulator_kit::FaultKind<String>;

/// An installed rule and how often it has fired.
pub type InstalledFault = renkei_emulator_kit::InstalledFault<Fault>;

/// The installed rules, oldest first.
pub(crate) type FaultBook = renkei_emulator_kit::FaultBook<Fault>;

/// Which card requests a rule hits. Every field that is set must match; an empty matcher
/// matches every card request (never the control surface).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultMatch {
    /// Only this script (`authm`, `sale`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<Script>,
    /// Only requests naming this `SEQNO` (`SEQNO` or `CANCELSEQNO`; leading zeros optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seqno: Option<String>,
    /// Only requests for this `ID`: the `ID` parameter, or the `ID` of the transaction the
    /// request's `SEQNO` names, so a rule "on order X" hits its sale and cancel too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Matches<Subject> for FaultMatch {
    fn matches(&self, subject: &Subject) -> bool {
        self.script.is_none_or(|s| s == subject.script)
            && self.seqno.as_deref().is_none_or(|want| {
                let want = want.parse::<u128>().ok();
                want.is_some() && want == subject.seqno.map(u128::from)
            })
            && self
                .id
                .as_deref()
                .is_none_or(|want| subject.ids.iter().any(|id| id == want))
    }
}

renkei_emulator_kit::gateway_fault! {
    /// A fault rule: what ([`FaultKind`]), for which requests ([`FaultMatch`]), for how long
    /// ([`FaultLifetime`]). Built with the constructors, one per kind, then narrowed with
    /// `on_*` and given a lifetime with [`Fault::times`] or [`Fault::persistent`]:
    ///
    /// ```
    /// use renkei_emulator_fregi::{Fault, Script};
    /// let fault = Fault::reply_lost().on_script(Script::Sale).times(2);
    /// assert!(fault.processes_request());
    /// ```
    ///
    /// JSON (`POST /__emulator__/faults`): `{"fault": {"kind": ...}, "match": {...}, "lifetime":
    /// ...}`; `match` and `lifetime` may be left out.
    pub struct Fault(FaultMatch, String);
}

impl Fault {
    /// Only requests to `script`.
    pub fn on_script(self, script: Script) -> Fault {
        self.narrow(|m| m.script = Some(script))
    }

    /// Only requests naming this `SEQNO`.
    pub fn on_seqno(self, seqno: impl Into<String>) -> Fault {
        let seqno = seqno.into();
        self.narrow(|m| m.seqno = Some(seqno))
    }

    /// Only requests for this `ID`.
    pub fn on_id(self, id: impl Into<String>) -> Fault {
        let id = id.into();
        self.narrow(|m| m.id = Some(id))
    }
}

/// What a request is about, for matching.
pub(crate) struct Subject {
    pub script: Script,
    pub seqno: Option<u64>,
    pub ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(script: Script, seqno: Option<u64>, id: &str) -> Subject {
        Subject {
            script,
            seqno,
            ids: vec![id.to_owned()],
        }
    }

    #[test]
    fn first_match_wins_and_one_shot_rules_expire() {
        let book = FaultBook::default();
        book.install(
            Fault::reply_lost()
                .on_script(Script::Sale)
                .on_seqno("00000000000000000007"),
        );
        book.install(Fault::http_status(503).on_id("order-1").times(2));
        assert_eq!(book.take(&subject(Script::Authm, None, "x")), None);
        assert_eq!(
            book.take(&subject(Script::Sale, Some(7), "x")),
            Some(FaultKind::ReplyLost)
        );
        assert_eq!(book.take(&subject(Script::Sale, Some(7), "x")), None);
        let five_oh_three = Some(FaultKind::HttpStatus { status: 503 });
        assert_eq!(
            book.take(&subject(Script::Authm, None, "order-1")),
            five_oh_three
        );
        assert_eq!(
            book.take(&subject(Script::Sale, Some(9), "order-1")),
            five_oh_three
        );
        assert!(book.is_empty());
    }

    #[test]
    fn persistent_rules_stay() {
        let book = FaultBook::default();
        let id = book.install(Fault::latency(5).persistent());
        for _ in 0..3 {
            assert!(book.take(&subject(Script::Sale, None, "")).is_some());
        }
        assert_eq!(book.list()[0].fired, 3);
        assert!(book.remove(id));
        assert!(book.is_empty());
    }

    /// The JSON shape is shared with the SBPS emulator: `fault`, `match`, `lifetime`.
    #[test]
    fn json_shape() {
        let forced: Fault = serde_json::from_str(
            r#"{"fault": {"kind": "gateway_error", "code": "S1-1-999(x)"}, "lifetime": {"times": 2}}"#,
        )
        .unwrap();
        assert_eq!(forced, Fault::gateway_error_with("S1-1-999(x)").times(2));
        assert_eq!(
            serde_json::to_value(Fault::gateway_error().on_id("o-1")).unwrap(),
            serde_json::json!({
                "fault": {"kind": "gateway_error"},
                "match": {"id": "o-1"},
                "lifetime": {"times": 1}
            })
        );
        renkei_emulator_kit::assert_shared_json_shape!(
            Fault,
            match: r#"{"script": "authcancel"}"#,
            narrow: |f: Fault| f.on_script(Script::AuthCancel)
        );
        let foreign = r#"{"fault": {"kind": "reset"}, "match": {"tracking_id": "1"}}"#;
        assert!(serde_json::from_str::<Fault>(foreign).is_err(), "{foreign}");
    }

    #[test]
    fn each_kind_says_whether_it_processes_the_request() {
        renkei_emulator_kit::assert_processing_split!(Fault);
    }

    /// The default gateway error must stay unknown to every client table: not one of the API
    /// prefixes F-REGI uses or this emulator invents.
    #[test]
    fn the_default_gateway_error_is_outside_every_known_prefix() {
        let code = DEFAULT_GATEWAY_ERROR.split('(').next().unwrap();
        for known in [
            "A1-", "A2-", "A3-", "S1-", "S2-", "S3-", "CSA1-", "JCN-", "M1-", "C1-", "C2-", "X1-",
        ] {
            assert!(!code.starts_with(known), "{code} looks like {known}");
        }
    }
}
