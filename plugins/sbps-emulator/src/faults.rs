//! Fault injection: make the next matching request (or every one) misbehave on the wire.
//!
//! The faults model what a payment client must survive: a slow gateway, a gateway that never
//! answers, maintenance pages, broken bodies, dropped connections, and above all a request that
//! **was processed but whose reply was lost**, the case that forces reconciliation by inquiry
//! (§9.3).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::function::Function;

/// What happens to a matching request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Wait `millis` before processing normally.
    Latency {
        /// Added delay in milliseconds.
        millis: u64,
    },
    /// Not processed; the connection stays open with no reply until the client gives up (or the
    /// configured hold time passes, after which it is closed unanswered).
    NoReply,
    /// Not processed; an HTTP error status (500, 503, ...) with a short HTML body.
    HttpStatus {
        /// Status code, 400..=599.
        status: u16,
    },
    /// Processed; HTTP 200 whose body is the real reply cut in the middle, correctly framed,
    /// so the client receives a complete HTTP message that is not well-formed XML.
    MalformedBody,
    /// Processed; the reply announces its full `Content-Length`, sends half the body and
    /// closes the connection.
    TruncatedBody,
    /// Not processed; the TCP connection is reset (RST) without any reply.
    ConnectionReset,
    /// Processed — the state change is applied — then the TCP connection is reset without any
    /// reply. The client cannot tell whether its request took effect.
    ReplyLost,
    /// Not processed; answered with this NG code instead (§10.6).
    ForceError {
        /// The `res_err_code` to send.
        code: ErrorCode,
        /// Whether the reply root carries the `id` attribute.
        #[serde(default = "yes")]
        with_id: bool,
    },
}

fn yes() -> bool {
    true
}

impl Fault {
    /// Whether the request is processed (state changed) before the fault strikes.
    pub fn processes_request(&self) -> bool {
        matches!(
            self,
            Fault::Latency { .. } | Fault::MalformedBody | Fault::TruncatedBody | Fault::ReplyLost
        )
    }
}

/// Which requests a fault applies to. Every field that is set must match; an empty matcher
/// matches every request to the API endpoint. Matching happens before the Basic credentials are
/// checked; a body that does not parse only matches the empty matcher.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultMatch {
    /// Root `id`, e.g. `ST02-00201-101`.
    pub function_id: Option<String>,
    /// The request's `tracking_id` element.
    pub tracking_id: Option<String>,
    /// The request's `order_id` element (authorizations).
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultLifetime {
    /// Fires for the next `n` matching requests, then disappears. `{"times": 1}` is one-shot.
    Times(u32),
    /// Fires for every matching request until removed.
    Persistent,
}

impl Default for FaultLifetime {
    fn default() -> Self {
        FaultLifetime::Times(1)
    }
}

/// A fault to install: what, for which requests, for how long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Requests it applies to.
    #[serde(rename = "match", default)]
    pub matcher: FaultMatch,
    /// The fault.
    pub fault: Fault,
    /// One-shot by default.
    #[serde(default)]
    pub lifetime: FaultLifetime,
}

impl FaultSpec {
    /// A one-shot fault for the next API request, whatever it is.
    pub fn once(fault: Fault) -> Self {
        Self {
            matcher: FaultMatch::default(),
            fault,
            lifetime: FaultLifetime::Times(1),
        }
    }

    /// Fires for every matching request until removed.
    pub fn persistent(mut self) -> Self {
        self.lifetime = FaultLifetime::Persistent;
        self
    }

    /// Fires for the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.lifetime = FaultLifetime::Times(n);
        self
    }

    /// Only requests to `function`.
    pub fn for_function(mut self, function: Function) -> Self {
        self.matcher.function_id = Some(function.id().to_owned());
        self
    }

    /// Only requests naming this `tracking_id`.
    pub fn for_tracking_id(mut self, tracking_id: &str) -> Self {
        self.matcher.tracking_id = Some(tracking_id.to_owned());
        self
    }

    /// Only requests carrying this `order_id`.
    pub fn for_order_id(mut self, order_id: &str) -> Self {
        self.matcher.order_id = Some(order_id.to_owned());
        self
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
    /// What was installed; `lifetime` counts down as it fires.
    #[serde(flatten)]
    pub spec: FaultSpec,
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
    pub(crate) fn install(&self, spec: FaultSpec) -> FaultId {
        let id = FaultId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let mut faults = self.lock();
        faults.push(InstalledFault { id, spec, fired: 0 });
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
    pub(crate) fn take(&self, probe: &Probe<'_>) -> Option<Fault> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut faults = self.lock();
        let index = faults.iter().position(|f| f.spec.matcher.matches(probe))?;
        let entry = &mut faults[index];
        entry.fired += 1;
        let fault = entry.spec.fault.clone();
        if let FaultLifetime::Times(n) = &mut entry.spec.lifetime {
            *n = n.saturating_sub(1);
            if *n == 0 {
                faults.remove(index);
            }
        }
        self.armed.store(!faults.is_empty(), Ordering::Release);
        Some(fault)
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
            FaultSpec::once(Fault::ConnectionReset)
                .for_function(Function::Sales)
                .for_tracking_id("1"),
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
        assert_eq!(book.take(&sales), Some(Fault::ConnectionReset));
        assert_eq!(book.take(&sales), None);
    }

    #[test]
    fn persistent_and_counted_faults() {
        let book = FaultBook::default();
        let id = book.install(FaultSpec::once(Fault::HttpStatus { status: 503 }).persistent());
        for _ in 0..3 {
            assert_eq!(
                book.take(&Probe::default()),
                Some(Fault::HttpStatus { status: 503 })
            );
        }
        assert_eq!(book.list()[0].fired, 3);
        assert!(book.remove(id));
        book.install(FaultSpec::once(Fault::NoReply).times(2));
        assert!(book.take(&Probe::default()).is_some());
        assert!(book.take(&Probe::default()).is_some());
        assert!(book.take(&Probe::default()).is_none());
    }

    #[test]
    fn json_shape() {
        let spec: FaultSpec = serde_json::from_str(
            r#"{"match": {"function_id": "ST02-00201-101"}, "fault": {"kind": "http_status", "status": 503}, "lifetime": "persistent"}"#,
        )
        .unwrap();
        assert_eq!(spec.lifetime, FaultLifetime::Persistent);
        let one: FaultSpec = serde_json::from_str(r#"{"fault": {"kind": "reply_lost"}}"#).unwrap();
        assert_eq!(one.lifetime, FaultLifetime::Times(1));
        let forced: FaultSpec = serde_json::from_str(
            r#"{"fault": {"kind": "force_error", "code": "10186999"}, "lifetime": {"times": 2}}"#,
        )
        .unwrap();
        assert_eq!(
            forced.fault,
            Fault::ForceError {
                code: ErrorCode::parse("10186999").unwrap(),
                with_id: true
            }
        );
    }
}
