//! Fault injection: rules that make the emulator misbehave on chosen requests (research
//! §11.1-8).
//!
//! A rule names what to do ([`FaultKind`]), which requests it hits ([`FaultMatch`]: script,
//! `SEQNO`, `ID`; unset criteria match everything) and how long it stays ([`FaultLifetime`]).
//! Rules fire in installation order and the first match wins. Each kind says whether the request
//! is applied to the state before the misbehaviour ([`FaultKind::processes_request`]): that is
//! the difference between "the gateway never saw it" and "the gateway did it but you will not
//! hear about it (or will hear it failed)", which is what a client's recovery must get right.
//!
//! The vocabulary (kind names, their meaning, lifetimes, the JSON shape) is the same in the SBPS
//! emulator, so that one test matrix reads the same on both gateways. Only the matcher fields
//! differ, because they name each gateway's own identifiers.

use serde::{Deserialize, Serialize};

use crate::ops::Script;

/// The reason line a gateway-error fault answers by default. F-REGI publishes no system-error
/// code; `Z9` is outside every API prefix F-REGI uses (`A1`–`A3`, `S1`–`S3`, `CSA1`, `JCN-G`)
/// and every one this emulator invents (`M1`, `C1`, `C2`, `X1`), so no client table can know
/// it: the reply tests how a client treats an `NG` it cannot classify.
pub const DEFAULT_GATEWAY_ERROR: &str = "Z9-9-999(システムエラーが発生しました)";

/// What a fault does.
///
/// JSON: `{"kind": "<snake_case name>", ...fields}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Processed, `millis` late, then answered normally. The request is processed after the
    /// delay even if the client has hung up meanwhile (a gateway does not notice a client
    /// leaving; the reply then goes to a closed socket).
    Latency {
        /// Added delay in milliseconds.
        millis: u64,
    },
    /// Not processed; no byte is sent and the connection stays open until the client closes it
    /// (or `no_reply_hold_secs` passes).
    NoReply,
    /// Processed, then as [`FaultKind::NoReply`]: the client times out on a request that took
    /// effect.
    NoReplyAfterProcessing,
    /// Not processed; this HTTP status (e.g. 502, 503, 504) with a small HTML page, as the web
    /// server in front of the CGI scripts would send. A status outside 400..=599 is sent as 500.
    HttpStatus {
        /// The status code, 400..=599.
        status: u16,
    },
    /// Processed, then answered with this HTTP status and an HTML page instead of the reply.
    HttpStatusAfterProcessing {
        /// The status code, 400..=599.
        status: u16,
    },
    /// Not processed; a normal `NG` reply with `code`: a reason line `CODE(message)`, or a bare
    /// `CODE` (sent with the message of [`DEFAULT_GATEWAY_ERROR`]); [`DEFAULT_GATEWAY_ERROR`]
    /// when `None`.
    GatewayError {
        /// The reason to send.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// Processed, then answered with the `NG` of [`FaultKind::GatewayError`]: F-REGI reports a
    /// failure of a request that in fact took effect.
    GatewayErrorAfterProcessing {
        /// The reason to send.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// Processed; HTTP 200, correctly framed, whose body is not in the line format (an HTML
    /// error page: a cut line reply could still parse as a short `OK`).
    Malformed,
    /// Processed; the headers announce the whole reply, `after_bytes` bytes of the body are sent
    /// (half of it when `None`; always fewer than the whole), the connection is closed.
    CutBody {
        /// Body bytes sent before the connection is closed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_bytes: Option<usize>,
    },
    /// Not processed; the TCP connection is reset (RST) without any response.
    Reset,
    /// Processed, then the TCP connection is reset without any response: "processed, then the
    /// reply is lost".
    ReplyLost,
}

impl FaultKind {
    /// True when the request is applied to the state (as it normally would be) before the fault
    /// shows.
    pub fn processes_request(&self) -> bool {
        match self {
            FaultKind::Latency { .. }
            | FaultKind::NoReplyAfterProcessing
            | FaultKind::HttpStatusAfterProcessing { .. }
            | FaultKind::GatewayErrorAfterProcessing { .. }
            | FaultKind::Malformed
            | FaultKind::CutBody { .. }
            | FaultKind::ReplyLost => true,
            FaultKind::NoReply
            | FaultKind::HttpStatus { .. }
            | FaultKind::GatewayError { .. }
            | FaultKind::Reset => false,
        }
    }
}

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

impl FaultMatch {
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

/// How long a rule stays installed.
///
/// JSON: `{"times": n}` or `"persistent"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultLifetime {
    /// Fires for the next `n` matching requests, then disappears (0 counts as 1).
    Times(u32),
    /// Fires for every matching request until removed.
    Persistent,
}

impl Default for FaultLifetime {
    /// The next matching request only.
    fn default() -> Self {
        FaultLifetime::Times(1)
    }
}

/// A fault rule: what ([`FaultKind`]), for which requests ([`FaultMatch`]), for how long
/// ([`FaultLifetime`]). Built with the constructors below, one per kind, then narrowed with
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// What happens.
    #[serde(rename = "fault")]
    pub kind: FaultKind,
    /// Requests it applies to; every card request by default.
    #[serde(rename = "match", default)]
    pub matcher: FaultMatch,
    /// The next matching request only, by default.
    #[serde(default)]
    pub lifetime: FaultLifetime,
}

impl Fault {
    /// A rule of `kind` for the next card request, whatever it is.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            matcher: FaultMatch::default(),
            lifetime: FaultLifetime::default(),
        }
    }

    /// [`FaultKind::Latency`].
    pub fn latency(millis: u64) -> Fault {
        Fault::new(FaultKind::Latency { millis })
    }

    /// [`FaultKind::NoReply`].
    pub fn no_reply() -> Fault {
        Fault::new(FaultKind::NoReply)
    }

    /// [`FaultKind::NoReplyAfterProcessing`].
    pub fn no_reply_after_processing() -> Fault {
        Fault::new(FaultKind::NoReplyAfterProcessing)
    }

    /// [`FaultKind::HttpStatus`].
    pub fn http_status(status: u16) -> Fault {
        Fault::new(FaultKind::HttpStatus { status })
    }

    /// [`FaultKind::HttpStatusAfterProcessing`].
    pub fn http_status_after_processing(status: u16) -> Fault {
        Fault::new(FaultKind::HttpStatusAfterProcessing { status })
    }

    /// [`FaultKind::GatewayError`] with [`DEFAULT_GATEWAY_ERROR`].
    pub fn gateway_error() -> Fault {
        Fault::new(FaultKind::GatewayError { code: None })
    }

    /// [`FaultKind::GatewayError`] with `code` (`CODE(message)` or `CODE`).
    pub fn gateway_error_with(code: impl Into<String>) -> Fault {
        Fault::new(FaultKind::GatewayError {
            code: Some(code.into()),
        })
    }

    /// [`FaultKind::GatewayErrorAfterProcessing`] with [`DEFAULT_GATEWAY_ERROR`].
    pub fn gateway_error_after_processing() -> Fault {
        Fault::new(FaultKind::GatewayErrorAfterProcessing { code: None })
    }

    /// [`FaultKind::GatewayErrorAfterProcessing`] with `code` (`CODE(message)` or `CODE`).
    pub fn gateway_error_after_processing_with(code: impl Into<String>) -> Fault {
        Fault::new(FaultKind::GatewayErrorAfterProcessing {
            code: Some(code.into()),
        })
    }

    /// [`FaultKind::Malformed`].
    pub fn malformed() -> Fault {
        Fault::new(FaultKind::Malformed)
    }

    /// [`FaultKind::CutBody`], cut in the middle.
    pub fn cut_body() -> Fault {
        Fault::new(FaultKind::CutBody { after_bytes: None })
    }

    /// [`FaultKind::CutBody`], cut after `bytes` bytes of the body.
    pub fn cut_body_after(bytes: usize) -> Fault {
        Fault::new(FaultKind::CutBody {
            after_bytes: Some(bytes),
        })
    }

    /// [`FaultKind::Reset`].
    pub fn reset() -> Fault {
        Fault::new(FaultKind::Reset)
    }

    /// [`FaultKind::ReplyLost`].
    pub fn reply_lost() -> Fault {
        Fault::new(FaultKind::ReplyLost)
    }

    /// Only requests to `script`.
    pub fn on_script(mut self, script: Script) -> Fault {
        self.matcher.script = Some(script);
        self
    }

    /// Only requests naming this `SEQNO`.
    pub fn on_seqno(mut self, seqno: impl Into<String>) -> Fault {
        self.matcher.seqno = Some(seqno.into());
        self
    }

    /// Only requests for this `ID`.
    pub fn on_id(mut self, id: impl Into<String>) -> Fault {
        self.matcher.id = Some(id.into());
        self
    }

    /// Fires for the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.lifetime = FaultLifetime::Times(n);
        self
    }

    /// Fires for every matching request until removed.
    pub fn persistent(mut self) -> Fault {
        self.lifetime = FaultLifetime::Persistent;
        self
    }

    /// Whether a request hit by this rule is processed; see [`FaultKind::processes_request`].
    pub fn processes_request(&self) -> bool {
        self.kind.processes_request()
    }
}

/// Handle of an installed rule, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultId(pub u64);

/// An installed rule and how often it has fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledFault {
    /// Its handle.
    pub id: FaultId,
    /// The rule; a counted `lifetime` counts down as it fires.
    #[serde(flatten)]
    pub fault: Fault,
    /// Times it has fired.
    pub fired: u64,
}

/// What a request is about, for matching.
pub(crate) struct Subject {
    pub script: Script,
    pub seqno: Option<u64>,
    pub ids: Vec<String>,
}

/// The installed rules, oldest first.
#[derive(Default)]
pub(crate) struct FaultBook {
    rules: Vec<InstalledFault>,
    next_id: u64,
}

impl FaultBook {
    pub fn install(&mut self, fault: Fault) -> FaultId {
        self.next_id += 1;
        let id = FaultId(self.next_id);
        self.rules.push(InstalledFault {
            id,
            fault,
            fired: 0,
        });
        id
    }

    pub fn remove(&mut self, id: FaultId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn list(&self) -> Vec<InstalledFault> {
        self.rules.clone()
    }

    /// Fires the first rule matching `subject`, counting one firing against its lifetime;
    /// used-up rules are removed.
    pub fn fire(&mut self, subject: &Subject) -> Option<FaultKind> {
        let index = self
            .rules
            .iter()
            .position(|r| r.fault.matcher.matches(subject))?;
        let rule = &mut self.rules[index];
        rule.fired += 1;
        let kind = rule.fault.kind.clone();
        if let FaultLifetime::Times(n) = &mut rule.fault.lifetime {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.rules.remove(index);
            }
        }
        Some(kind)
    }
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
        let mut book = FaultBook::default();
        book.install(
            Fault::reply_lost()
                .on_script(Script::Sale)
                .on_seqno("00000000000000000007"),
        );
        book.install(Fault::http_status(503).on_id("order-1").times(2));
        assert_eq!(book.fire(&subject(Script::Authm, None, "x")), None);
        assert_eq!(
            book.fire(&subject(Script::Sale, Some(7), "x")),
            Some(FaultKind::ReplyLost)
        );
        assert_eq!(book.fire(&subject(Script::Sale, Some(7), "x")), None);
        let five_oh_three = Some(FaultKind::HttpStatus { status: 503 });
        assert_eq!(
            book.fire(&subject(Script::Authm, None, "order-1")),
            five_oh_three
        );
        assert_eq!(
            book.fire(&subject(Script::Sale, Some(9), "order-1")),
            five_oh_three
        );
        assert!(book.is_empty());
    }

    #[test]
    fn persistent_rules_stay() {
        let mut book = FaultBook::default();
        let id = book.install(Fault::latency(5).persistent());
        for _ in 0..3 {
            assert!(book.fire(&subject(Script::Sale, None, "")).is_some());
        }
        assert_eq!(book.list()[0].fired, 3);
        assert!(book.remove(id));
        assert!(book.is_empty());
    }

    /// The JSON shape is shared with the SBPS emulator: `fault`, `match`, `lifetime`.
    #[test]
    fn json_shape() {
        let fault: Fault = serde_json::from_str(
            r#"{"fault": {"kind": "http_status_after_processing", "status": 504}, "match": {"script": "authcancel"}, "lifetime": "persistent"}"#,
        )
        .unwrap();
        assert_eq!(
            fault,
            Fault::http_status_after_processing(504)
                .on_script(Script::AuthCancel)
                .persistent()
        );
        let one: Fault = serde_json::from_str(r#"{"fault": {"kind": "reply_lost"}}"#).unwrap();
        assert_eq!(one, Fault::reply_lost());
        let forced: Fault = serde_json::from_str(
            r#"{"fault": {"kind": "gateway_error", "code": "S1-1-999(x)"}, "lifetime": {"times": 2}}"#,
        )
        .unwrap();
        assert_eq!(forced, Fault::gateway_error_with("S1-1-999(x)").times(2));
        let cut: Fault =
            serde_json::from_str(r#"{"fault": {"kind": "cut_body", "after_bytes": 10}}"#).unwrap();
        assert_eq!(cut, Fault::cut_body_after(10));
        assert_eq!(
            serde_json::to_value(Fault::gateway_error().on_id("o-1")).unwrap(),
            serde_json::json!({
                "fault": {"kind": "gateway_error"},
                "match": {"id": "o-1"},
                "lifetime": {"times": 1}
            })
        );
        for bad in [
            r#"{"fault": {"kind": "nonsense"}}"#,
            r#"{"fault": {"kind": "latency", "millis": 1, "status": 1}}"#,
            r#"{"fault": {"kind": "reset"}, "match": {"tracking_id": "1"}}"#,
        ] {
            assert!(serde_json::from_str::<Fault>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_says_whether_it_processes_the_request() {
        let processed = [
            Fault::latency(1),
            Fault::no_reply_after_processing(),
            Fault::http_status_after_processing(503),
            Fault::gateway_error_after_processing(),
            Fault::malformed(),
            Fault::cut_body(),
            Fault::reply_lost(),
        ];
        let not_processed = [
            Fault::no_reply(),
            Fault::http_status(503),
            Fault::gateway_error(),
            Fault::reset(),
        ];
        assert!(processed.iter().all(Fault::processes_request));
        assert!(!not_processed.iter().any(Fault::processes_request));
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
