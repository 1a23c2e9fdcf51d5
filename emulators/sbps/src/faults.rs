//! Fault injection: make the next matching request (or every one) misbehave on the wire.
//!
//! The vocabulary (kind names, their meaning, lifetimes, the JSON shape, the book that fires
//! rules in installation order) is the emulator kit's ([`renkei_emulator_kit::FaultKind`]),
//! shared with the F-REGI emulator so that one test matrix reads the same on both gateways.
//! What is SBPS's own: the matcher ([`FaultMatch`], SBPS's identifiers), the error code a
//! gateway-error fault answers with ([`ErrorCode`]; by default the system error, type 80,
//! item 999, with the request's method: `10180999` for credit, the root carrying the request's
//! `id` as errors raised past validation do, `docs/protocols/sbps.md` §7.3), and the `on_*`
//! narrowing methods. A gateway error after processing is why §9.3 says to inquire after 8x and
//! 9x errors before retrying; a latency fault is judged against request expiry after the delay,
//! so a request held past `request_date + limit_second` is refused, not applied.

use serde::{Deserialize, Serialize};

use renkei_emulator_kit::Matches;

use crate::codes::ErrorCode;
use crate::function::Function;

pub use renkei_emulator_kit::{FaultId, FaultLifetime};

/// What happens to a matching request; see [`renkei_emulator_kit::FaultKind`].
pub type FaultKind = renkei_emulator_kit::FaultKind<ErrorCode>;

/// An installed fault and how often it has fired.
pub type InstalledFault = renkei_emulator_kit::InstalledFault<Fault>;

/// The installed faults, oldest first. The first match wins.
pub(crate) type FaultBook = renkei_emulator_kit::FaultBook<Fault>;

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

impl<'a> Matches<Probe<'a>> for FaultMatch {
    fn matches(&self, probe: &Probe<'a>) -> bool {
        let field = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        field(&self.function_id, probe.function_id)
            && field(&self.tracking_id, probe.tracking_id)
            && field(&self.order_id, probe.order_id)
    }
}

renkei_emulator_kit::gateway_fault! {
    /// A fault rule: what ([`FaultKind`]), for which requests ([`FaultMatch`]), for how long
    /// ([`FaultLifetime`]). Built with the constructors, one per kind, then narrowed with
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
    pub struct Fault(FaultMatch, ErrorCode);
}

impl Fault {
    /// Only requests to `function`.
    pub fn on_function(self, function: Function) -> Self {
        self.narrow(|m| m.function_id = Some(function.id().to_owned()))
    }

    /// Only requests naming this `tracking_id`.
    pub fn on_tracking_id(self, tracking_id: &str) -> Self {
        self.narrow(|m| m.tracking_id = Some(tracking_id.to_owned()))
    }

    /// Only requests carrying this `order_id`.
    pub fn on_order_id(self, order_id: &str) -> Self {
        self.narrow(|m| m.order_id = Some(order_id.to_owned()))
    }
}

/// What a request looks like to the fault matcher.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Probe<'a> {
    pub function_id: Option<&'a str>,
    pub tracking_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
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
        let forced: Fault = serde_json::from_str(
            r#"{"fault": {"kind": "gateway_error", "code": "10186999"}, "lifetime": {"times": 2}}"#,
        )
        .unwrap();
        assert_eq!(
            forced,
            Fault::gateway_error_with(ErrorCode::parse("10186999").unwrap()).times(2)
        );
        assert_eq!(
            serde_json::to_value(Fault::gateway_error().on_order_id("o-1")).unwrap(),
            serde_json::json!({
                "fault": {"kind": "gateway_error"},
                "match": {"order_id": "o-1"},
                "lifetime": {"times": 1}
            })
        );
        renkei_emulator_kit::assert_shared_json_shape!(
            Fault,
            match: r#"{"function_id": "ST02-00201-101"}"#,
            narrow: |f: Fault| f.on_function(Function::Sales)
        );
        let foreign = r#"{"fault": {"kind": "reset"}, "match": {"seqno": "1"}}"#;
        assert!(serde_json::from_str::<Fault>(foreign).is_err(), "{foreign}");
    }

    #[test]
    fn each_kind_says_whether_it_processes_the_request() {
        renkei_emulator_kit::assert_processing_split!(Fault);
    }
}
