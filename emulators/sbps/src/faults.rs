//! Fault injection: make the next matching request (or every one) misbehave on the wire.
//!
//! The faults model what a payment client must survive: a slow gateway, a gateway that never
//! answers, maintenance pages, error replies, broken bodies, dropped connections. Each kind says
//! whether the gateway **did the request** before misbehaving ([`FaultKind::processes_request`]):
//! "SBPS never saw it" and "SBPS did it, but you will not hear about it" look alike to a client,
//! and telling them apart by inquiry (§9.3) is exactly what a client's recovery must get right.
//!
//! The vocabulary (kind names, their meaning, lifetimes, the JSON shape) is the same in the
//! F-REGI emulator, so that one test matrix reads the same on both gateways. Only the matcher
//! fields differ, because they name each gateway's own identifiers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::function::Function;

/// What happens to a matching request.
///
/// JSON: `{"kind": "<snake_case name>", ...fields}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Processed, `millis` late, then answered normally. The request is processed after the delay
    /// even if the client has hung up meanwhile (a gateway does not notice a client leaving; the
    /// reply then goes to a closed socket), and request expiry is judged at that moment, so a
    /// request held past `request_date + limit_second` is refused, not applied.
    Latency {
        /// Added delay in milliseconds.
        millis: u64,
    },
    /// Not processed; the connection stays open with no reply until the client gives up (or
    /// `no_reply_hold_secs` passes, after which it is closed unanswered).
    NoReply,
    /// Processed, then as [`FaultKind::NoReply`]: the client times out on a request that took
    /// effect.
    NoReplyAfterProcessing,
    /// Not processed; this HTTP status (e.g. 502, 503, 504) with a short HTML page, as a proxy
    /// or a maintenance page in front of SBPS would send. A status outside 400..=599 is sent as
    /// 500.
    HttpStatus {
        /// Status code, 400..=599.
        status: u16,
    },
    /// Processed, then answered with this HTTP status and an HTML page instead of the reply: a
    /// proxy that timed out on, or lost, a reply SBPS had produced.
    HttpStatusAfterProcessing {
        /// Status code, 400..=599.
        status: u16,
    },
    /// Not processed; an NG reply with `code`, by default a system error (type 80, item 999, the
    /// method taken from the request: `10180999` for credit). The root carries the request's
    /// `id`, as errors raised past validation do (§7.3).
    GatewayError {
        /// The `res_err_code` to send; `None` for the system error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<ErrorCode>,
    },
    /// Processed, then answered with the NG reply of [`FaultKind::GatewayError`]: SBPS reports a
    /// failure of a request that in fact took effect, which is why §9.3 says to inquire after 8x
    /// and 9x errors before retrying.
    GatewayErrorAfterProcessing {
        /// The `res_err_code` to send; `None` for the system error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<ErrorCode>,
    },
    /// Processed; HTTP 200, correctly framed, whose body is not a parsable reply (the real reply
    /// cut in half: not well-formed XML).
    Malformed,
    /// Processed; the reply announces its full `Content-Length`, sends `after_bytes` bytes of the
    /// body (half of it when `None`; always fewer than the whole) and closes the connection.
    CutBody {
        /// Body bytes sent before the connection is closed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_bytes: Option<usize>,
    },
    /// Not processed; the TCP connection is reset (RST) without any reply.
    Reset,
    /// Processed, then the TCP connection is reset without any reply. The client cannot tell
    /// whether its request took effect.
    ReplyLost,
}

impl FaultKind {
    /// Whether the request is processed (state changed as it normally would) before the fault
    /// strikes.
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

/// Which requests a fault applies to. Every field that is set must match; an empty matcher
/// matches every request to the API endpoint. Matching happens before the Basic credentials are
/// checked; a body that does not parse only matches the empty matcher.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultMatch {
    /// Root `id`, e.g. `ST02-00201-101`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_id: Option<String>,
    /// The request's `tracking_id` element.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    /// The request's `order_id` element (authorizations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

impl FaultMatch {
    fn matches(&self, probe: &Probe<'_>) -> bool {
        let field = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        field(&self.function_id, probe.function_id)
            && field(&self.tracking_id, probe.tracking_id)
            && field(&self.order_id, probe.order_id)
    }
}

/// How long a fault stays installed.
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
/// use renkei_emulator_sbps::{Fault, Function};
/// let fault = Fault::reply_lost().on_function(Function::Sales).times(2);
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
    /// Requests it applies to; every request by default.
    #[serde(rename = "match", default)]
    pub matcher: FaultMatch,
    /// The next matching request only, by default.
    #[serde(default)]
    pub lifetime: FaultLifetime,
}

impl Fault {
    /// A rule of `kind` for the next request, whatever it is.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            matcher: FaultMatch::default(),
            lifetime: FaultLifetime::default(),
        }
    }

    /// [`FaultKind::Latency`].
    pub fn latency(millis: u64) -> Self {
        Self::new(FaultKind::Latency { millis })
    }

    /// [`FaultKind::NoReply`].
    pub fn no_reply() -> Self {
        Self::new(FaultKind::NoReply)
    }

    /// [`FaultKind::NoReplyAfterProcessing`].
    pub fn no_reply_after_processing() -> Self {
        Self::new(FaultKind::NoReplyAfterProcessing)
    }

    /// [`FaultKind::HttpStatus`].
    pub fn http_status(status: u16) -> Self {
        Self::new(FaultKind::HttpStatus { status })
    }

    /// [`FaultKind::HttpStatusAfterProcessing`].
    pub fn http_status_after_processing(status: u16) -> Self {
        Self::new(FaultKind::HttpStatusAfterProcessing { status })
    }

    /// [`FaultKind::GatewayError`] with the system error.
    pub fn gateway_error() -> Self {
        Self::new(FaultKind::GatewayError { code: None })
    }

    /// [`FaultKind::GatewayError`] with `code`.
    pub fn gateway_error_with(code: ErrorCode) -> Self {
        Self::new(FaultKind::GatewayError { code: Some(code) })
    }

    /// [`FaultKind::GatewayErrorAfterProcessing`] with the system error.
    pub fn gateway_error_after_processing() -> Self {
        Self::new(FaultKind::GatewayErrorAfterProcessing { code: None })
    }

    /// [`FaultKind::GatewayErrorAfterProcessing`] with `code`.
    pub fn gateway_error_after_processing_with(code: ErrorCode) -> Self {
        Self::new(FaultKind::GatewayErrorAfterProcessing { code: Some(code) })
    }

    /// [`FaultKind::Malformed`].
    pub fn malformed() -> Self {
        Self::new(FaultKind::Malformed)
    }

    /// [`FaultKind::CutBody`], cut in the middle.
    pub fn cut_body() -> Self {
        Self::new(FaultKind::CutBody { after_bytes: None })
    }

    /// [`FaultKind::CutBody`], cut after `bytes` bytes of the body.
    pub fn cut_body_after(bytes: usize) -> Self {
        Self::new(FaultKind::CutBody {
            after_bytes: Some(bytes),
        })
    }

    /// [`FaultKind::Reset`].
    pub fn reset() -> Self {
        Self::new(FaultKind::Reset)
    }

    /// [`FaultKind::ReplyLost`].
    pub fn reply_lost() -> Self {
        Self::new(FaultKind::ReplyLost)
    }

    /// Only requests to `function`.
    pub fn on_function(mut self, function: Function) -> Self {
        self.matcher.function_id = Some(function.id().to_owned());
        self
    }

    /// Only requests naming this `tracking_id`.
    pub fn on_tracking_id(mut self, tracking_id: &str) -> Self {
        self.matcher.tracking_id = Some(tracking_id.to_owned());
        self
    }

    /// Only requests carrying this `order_id`.
    pub fn on_order_id(mut self, order_id: &str) -> Self {
        self.matcher.order_id = Some(order_id.to_owned());
        self
    }

    /// Fires for the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.lifetime = FaultLifetime::Times(n);
        self
    }

    /// Fires for every matching request until removed.
    pub fn persistent(mut self) -> Self {
        self.lifetime = FaultLifetime::Persistent;
        self
    }

    /// Whether a request hit by this rule is processed; see [`FaultKind::processes_request`].
    pub fn processes_request(&self) -> bool {
        self.kind.processes_request()
    }
}

/// Handle of an installed fault, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultId(pub u64);

/// An installed fault and how often it has fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledFault {
    /// Its handle.
    pub id: FaultId,
    /// What was installed; a counted `lifetime` counts down as it fires.
    #[serde(flatten)]
    pub fault: Fault,
    /// Times fired so far.
    pub fired: u64,
}

/// What a request looks like to the fault matcher.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Probe<'a> {
    pub function_id: Option<&'a str>,
    pub tracking_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
}

/// The installed faults, oldest first. The first match wins.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    faults: Mutex<Vec<InstalledFault>>,
    next_id: AtomicU64,
    /// Lets the hot path skip the lock when nothing is installed.
    armed: AtomicBool,
}

impl FaultBook {
    pub(crate) fn install(&self, fault: Fault) -> FaultId {
        let id = FaultId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let mut faults = self.lock();
        faults.push(InstalledFault {
            id,
            fault,
            fired: 0,
        });
        self.armed.store(true, Ordering::Release);
        id
    }

    pub(crate) fn remove(&self, id: FaultId) -> bool {
        let mut faults = self.lock();
        let before = faults.len();
        faults.retain(|f| f.id != id);
        self.armed.store(!faults.is_empty(), Ordering::Release);
        faults.len() != before
    }

    pub(crate) fn clear(&self) {
        let mut faults = self.lock();
        faults.clear();
        self.armed.store(false, Ordering::Release);
    }

    pub(crate) fn list(&self) -> Vec<InstalledFault> {
        self.lock().clone()
    }

    /// Takes the first fault matching `probe`, counting one firing against its lifetime.
    pub(crate) fn take(&self, probe: &Probe<'_>) -> Option<FaultKind> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut faults = self.lock();
        let index = faults.iter().position(|f| f.fault.matcher.matches(probe))?;
        let entry = &mut faults[index];
        entry.fired += 1;
        let kind = entry.fault.kind.clone();
        if let FaultLifetime::Times(n) = &mut entry.fault.lifetime {
            *n = n.saturating_sub(1);
            if *n == 0 {
                faults.remove(index);
            }
        }
        self.armed.store(!faults.is_empty(), Ordering::Release);
        Some(kind)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<InstalledFault>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_faults_fire_once_and_matchers_filter() {
        let book = FaultBook::default();
        book.install(
            Fault::reset()
                .on_function(Function::Sales)
                .on_tracking_id("1"),
        );
        let other = Probe {
            function_id: Some("ST02-00101-101"),
            tracking_id: Some("1"),
            order_id: None,
        };
        let sales = Probe {
            function_id: Some("ST02-00201-101"),
            tracking_id: Some("1"),
            order_id: None,
        };
        assert_eq!(book.take(&other), None);
        assert_eq!(book.take(&sales), Some(FaultKind::Reset));
        assert_eq!(book.take(&sales), None);
    }

    #[test]
    fn persistent_and_counted_faults() {
        let book = FaultBook::default();
        let id = book.install(Fault::http_status(503).persistent());
        for _ in 0..3 {
            assert_eq!(
                book.take(&Probe::default()),
                Some(FaultKind::HttpStatus { status: 503 })
            );
        }
        assert_eq!(book.list()[0].fired, 3);
        assert!(book.remove(id));
        book.install(Fault::no_reply().times(2));
        assert!(book.take(&Probe::default()).is_some());
        assert!(book.take(&Probe::default()).is_some());
        assert!(book.take(&Probe::default()).is_none());
    }

    /// The JSON shape is shared with the F-REGI emulator: `fault`, `match`, `lifetime`.
    #[test]
    fn json_shape() {
        let fault: Fault = serde_json::from_str(
            r#"{"fault": {"kind": "http_status_after_processing", "status": 504}, "match": {"function_id": "ST02-00201-101"}, "lifetime": "persistent"}"#,
        )
        .unwrap();
        assert_eq!(
            fault,
            Fault::http_status_after_processing(504)
                .on_function(Function::Sales)
                .persistent()
        );
        let one: Fault = serde_json::from_str(r#"{"fault": {"kind": "reply_lost"}}"#).unwrap();
        assert_eq!(one, Fault::reply_lost());
        let forced: Fault = serde_json::from_str(
            r#"{"fault": {"kind": "gateway_error", "code": "10186999"}, "lifetime": {"times": 2}}"#,
        )
        .unwrap();
        assert_eq!(
            forced,
            Fault::gateway_error_with(ErrorCode::parse("10186999").unwrap()).times(2)
        );
        let cut: Fault =
            serde_json::from_str(r#"{"fault": {"kind": "cut_body", "after_bytes": 10}}"#).unwrap();
        assert_eq!(cut, Fault::cut_body_after(10));
        assert_eq!(
            serde_json::to_value(Fault::gateway_error().on_order_id("o-1")).unwrap(),
            serde_json::json!({
                "fault": {"kind": "gateway_error"},
                "match": {"order_id": "o-1"},
                "lifetime": {"times": 1}
            })
        );
        for bad in [
            r#"{"fault": {"kind": "nonsense"}}"#,
            r#"{"fault": {"kind": "latency", "millis": 1, "status": 1}}"#,
            r#"{"fault": {"kind": "reset"}, "match": {"seqno": "1"}}"#,
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
}
