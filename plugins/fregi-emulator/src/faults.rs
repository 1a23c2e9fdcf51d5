//! Fault injection: rules that make the emulator misbehave on chosen requests (issue 3, research
//! §11.1-8).
//!
//! A rule names what to do ([`FaultKind`]) and which requests it hits (script, `SEQNO`, `ID`;
//! unset criteria match everything). Rules fire in installation order, the first match wins, and a
//! rule fires `times` times (one by default) unless it is `persistent`. Each kind says whether the
//! request is applied to the state before the misbehaviour: that is the difference between "the
//! gateway never saw it" and "the gateway did it but you will not hear about it", which is what a
//! client's retry logic must get right.

use serde::{Deserialize, Serialize};

use crate::ops::Script;

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Wait `millis` before processing and replying normally. The request is processed even if
    /// the client gives up meanwhile (the gateway does not know it did).
    Delay {
        /// Added latency in milliseconds.
        millis: u64,
    },
    /// Not processed; no byte is sent and the connection stays open until the client closes it
    /// (or `hang_limit_secs` passes).
    Hang,
    /// Processed; then as [`FaultKind::Hang`]: the client times out on a request that succeeded.
    HangAfterProcessing,
    /// Not processed; an HTTP error status (e.g. 500, 503) with a small HTML body.
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// Processed; HTTP 200 whose body is not in the line format (an HTML error page).
    Malformed,
    /// Processed; the headers announce the whole reply, half the body is sent, the connection
    /// is closed.
    Truncated,
    /// Not processed; the TCP connection is reset (RST) without any response.
    Reset,
    /// Processed, then the TCP connection is reset without any response: "processed, then the
    /// reply is lost".
    ReplyLost,
    /// Not processed; a normal `NG` reply with this reason line (`CODE(message)`).
    Ng {
        /// The reason line.
        reason: String,
    },
}

impl FaultKind {
    /// True when the request is applied to the state before the fault shows.
    pub fn processes_request(&self) -> bool {
        matches!(
            self,
            FaultKind::Delay { .. }
                | FaultKind::HangAfterProcessing
                | FaultKind::Malformed
                | FaultKind::Truncated
                | FaultKind::ReplyLost
        )
    }
}

/// A fault rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// What to do.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Only this script (`authm`, `sale`, …).
    #[serde(default)]
    pub script: Option<Script>,
    /// Only requests naming this `SEQNO` (`SEQNO` or `CANCELSEQNO`; leading zeros optional).
    #[serde(default)]
    pub seqno: Option<String>,
    /// Only requests for this `ID`: the `ID` parameter, or the `ID` of the transaction the
    /// request's `SEQNO` names.
    #[serde(default)]
    pub id: Option<String>,
    /// How many matching requests it hits (ignored when persistent).
    #[serde(default = "one")]
    pub times: u32,
    /// Hits every matching request until removed.
    #[serde(default)]
    pub persistent: bool,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A one-shot rule of `kind` matching every card request.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            script: None,
            seqno: None,
            id: None,
            times: 1,
            persistent: false,
        }
    }

    /// Added latency (then processed and answered normally).
    pub fn delay(millis: u64) -> Fault {
        Fault::new(FaultKind::Delay { millis })
    }

    /// No reply until the client gives up; not processed.
    pub fn hang() -> Fault {
        Fault::new(FaultKind::Hang)
    }

    /// Processed, then no reply until the client gives up.
    pub fn hang_after_processing() -> Fault {
        Fault::new(FaultKind::HangAfterProcessing)
    }

    /// HTTP error status; not processed.
    pub fn http_status(status: u16) -> Fault {
        Fault::new(FaultKind::HttpStatus { status })
    }

    /// Processed; garbage body.
    pub fn malformed() -> Fault {
        Fault::new(FaultKind::Malformed)
    }

    /// Processed; body cut in half.
    pub fn truncated() -> Fault {
        Fault::new(FaultKind::Truncated)
    }

    /// TCP reset; not processed.
    pub fn reset() -> Fault {
        Fault::new(FaultKind::Reset)
    }

    /// Processed, then TCP reset.
    pub fn reply_lost() -> Fault {
        Fault::new(FaultKind::ReplyLost)
    }

    /// A forced `NG` with `reason` (`CODE(message)`); not processed.
    pub fn ng(reason: impl Into<String>) -> Fault {
        Fault::new(FaultKind::Ng {
            reason: reason.into(),
        })
    }

    /// Restricts the rule to one script.
    pub fn on_script(mut self, script: Script) -> Fault {
        self.script = Some(script);
        self
    }

    /// Restricts the rule to one `SEQNO`.
    pub fn on_seqno(mut self, seqno: impl Into<String>) -> Fault {
        self.seqno = Some(seqno.into());
        self
    }

    /// Restricts the rule to one `ID`.
    pub fn on_id(mut self, id: impl Into<String>) -> Fault {
        self.id = Some(id.into());
        self
    }

    /// Fires `n` times.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }

    /// Fires until removed.
    pub fn persistent(mut self) -> Fault {
        self.persistent = true;
        self
    }

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

/// Identifier of an installed rule, for removal.
pub type FaultId = u64;

/// An installed rule and how often it has fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledFault {
    /// Its id.
    pub id: FaultId,
    /// The rule.
    pub fault: Fault,
    /// Times it has fired.
    pub fired: u32,
}

/// What a request is about, for matching.
pub(crate) struct Subject {
    pub script: Script,
    pub seqno: Option<u64>,
    pub ids: Vec<String>,
}

/// The installed rules.
#[derive(Default)]
pub(crate) struct FaultBook {
    rules: Vec<InstalledFault>,
    next_id: FaultId,
}

impl FaultBook {
    pub fn install(&mut self, fault: Fault) -> FaultId {
        self.next_id += 1;
        self.rules.push(InstalledFault {
            id: self.next_id,
            fault,
            fired: 0,
        });
        self.next_id
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

    /// Fires the first rule matching `subject`, consuming one use; exhausted rules are removed.
    pub fn fire(&mut self, subject: &Subject) -> Option<FaultKind> {
        let index = self.rules.iter().position(|r| r.fault.matches(subject))?;
        let rule = &mut self.rules[index];
        rule.fired += 1;
        let kind = rule.fault.kind.clone();
        if !rule.fault.persistent && rule.fired >= rule.fault.times {
            self.rules.remove(index);
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
    fn persistent_rules_stay_and_json_round_trips() {
        let mut book = FaultBook::default();
        let id = book.install(Fault::delay(5).persistent());
        for _ in 0..3 {
            assert!(book.fire(&subject(Script::Sale, None, "")).is_some());
        }
        assert!(book.remove(id));
        let json = r#"{"kind":"http_status","status":500,"script":"authcancel"}"#;
        let fault: Fault = serde_json::from_str(json).unwrap();
        assert_eq!(fault, Fault::http_status(500).on_script(Script::AuthCancel));
        let back: Fault = serde_json::from_str(&serde_json::to_string(&fault).unwrap()).unwrap();
        assert_eq!(back, fault);
    }
}
