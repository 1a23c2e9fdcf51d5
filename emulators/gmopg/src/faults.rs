//! Fault injection: rules that make the emulator misbehave on chosen requests
//! (`docs/protocols/gmopg.md` §11.7).
//!
//! The vocabulary (kinds, their meaning, lifetimes, the JSON shape, first match wins) is the
//! emulator kit's ([`renkei_emulator_kit::FaultKind`]), shared with the SBPS and F-REGI
//! emulators. What is GMO-PG's own: the matcher ([`FaultMatch`]: endpoint and `OrderID`), the
//! error a gateway-error fault answers with (one `ErrInfo`, or several joined by `|`;
//! [`DEFAULT_GATEWAY_ERROR`] by default) and the `on_*` narrowing methods.

use serde::{Deserialize, Serialize};

use renkei_emulator_kit::Matches;

use crate::ops::Api;

pub use renkei_emulator_kit::{FaultId, FaultLifetime};

/// The `ErrInfo` a gateway-error fault answers by default (§10.9): invented, outside every code
/// GMO-PG publishes, so no client table knows it and its outcome must stay unknown.
pub const DEFAULT_GATEWAY_ERROR: &str = "E99999999";

/// What a fault does; see [`renkei_emulator_kit::FaultKind`]. The code of a gateway error is an
/// `ErrInfo` (`E61010001`) or several joined by `|`.
pub type FaultKind = renkei_emulator_kit::FaultKind<String>;

/// An installed rule and how often it has fired.
pub type InstalledFault = renkei_emulator_kit::InstalledFault<Fault>;

/// The installed rules, oldest first.
pub(crate) type FaultBook = renkei_emulator_kit::FaultBook<Fault>;

/// Which card requests a rule hits. Every field set must match; an empty matcher matches every
/// card request (never the control surface).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultMatch {
    /// Only this endpoint (`"ExecTran"`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    /// Only requests about this `OrderID`: the `OrderID` parameter, or the order of the
    /// transaction the request's `AccessID` names, so a rule "on order X" hits its `AlterTran`
    /// and `ChangeTran` too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

impl Matches<Subject> for FaultMatch {
    fn matches(&self, subject: &Subject) -> bool {
        self.api.is_none_or(|a| a == subject.api)
            && self
                .order_id
                .as_deref()
                .is_none_or(|want| subject.orders.iter().any(|o| o == want))
    }
}

renkei_emulator_kit::gateway_fault! {
    /// A fault rule: what ([`FaultKind`]), for which requests ([`FaultMatch`]), for how long
    /// ([`FaultLifetime`]):
    ///
    /// ```
    /// use renkei_emulator_gmopg::{Api, Fault};
    /// let fault = Fault::reply_lost().on_api(Api::ExecTran).on_order("order-1").times(2);
    /// assert!(fault.processes_request());
    /// ```
    ///
    /// JSON (`POST /__emulator__/faults`): `{"fault": {"kind": ...}, "match": {"api":
    /// "ExecTran", "order_id": "..."}, "lifetime": ...}`; `match` and `lifetime` may be left out.
    pub struct Fault(FaultMatch, String);
}

impl Fault {
    /// Only requests to `api`.
    pub fn on_api(self, api: Api) -> Fault {
        self.narrow(|m| m.api = Some(api))
    }

    /// Only requests about this `OrderID`.
    pub fn on_order(self, order_id: impl Into<String>) -> Fault {
        let order_id = order_id.into();
        self.narrow(|m| m.order_id = Some(order_id))
    }
}

/// What a request is about, for matching.
pub(crate) struct Subject {
    pub api: Api,
    pub orders: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(api: Api, order: &str) -> Subject {
        Subject {
            api,
            orders: vec![order.to_owned()],
        }
    }

    #[test]
    fn s11_7_first_match_wins_and_one_shot_rules_expire() {
        let book = FaultBook::default();
        book.install(Fault::reply_lost().on_api(Api::AlterTran).on_order("o-1"));
        book.install(Fault::http_status(503).on_order("o-2").times(2));
        assert_eq!(book.take(&subject(Api::AlterTran, "o-9")), None);
        assert_eq!(
            book.take(&subject(Api::AlterTran, "o-1")),
            Some(FaultKind::ReplyLost)
        );
        assert_eq!(book.take(&subject(Api::AlterTran, "o-1")), None);
        let five_oh_three = Some(FaultKind::HttpStatus { status: 503 });
        assert_eq!(book.take(&subject(Api::EntryTran, "o-2")), five_oh_three);
        assert_eq!(book.take(&subject(Api::SearchTrade, "o-2")), five_oh_three);
        assert!(book.is_empty());
    }

    #[test]
    fn s11_7_json_shape_is_the_kits() {
        let rule: Fault = serde_json::from_str(
            r#"{"fault": {"kind": "gateway_error", "code": "E61010001"}, "match": {"api": "ExecTran"}, "lifetime": {"times": 2}}"#,
        )
        .unwrap();
        assert_eq!(
            rule,
            Fault::gateway_error_with("E61010001")
                .on_api(Api::ExecTran)
                .times(2)
        );
        renkei_emulator_kit::assert_shared_json_shape!(
            Fault,
            match: r#"{"api": "AlterTran"}"#,
            narrow: |f: Fault| f.on_api(Api::AlterTran)
        );
        let foreign = r#"{"fault": {"kind": "reset"}, "match": {"seqno": "1"}}"#;
        assert!(serde_json::from_str::<Fault>(foreign).is_err(), "{foreign}");
    }

    #[test]
    fn s11_7_each_kind_says_whether_it_processes_the_request() {
        renkei_emulator_kit::assert_processing_split!(Fault);
    }

    #[test]
    fn s10_9_the_default_gateway_error_is_unknown() {
        assert!(crate::codes::message(DEFAULT_GATEWAY_ERROR).is_none());
    }
}
