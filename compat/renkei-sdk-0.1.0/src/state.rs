//! The unified payment state every gateway status maps to.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether a capture or refund has been transmitted to the card company.
///
/// F-REGI reports it (未伝送 / 伝送済); SBPS does not, hence `NotReported`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settlement {
    /// Accepted by the gateway, not yet sent to the card company.
    Pending,
    /// Sent to the card company.
    Settled,
    /// The gateway does not tell.
    NotReported,
}

/// Whether a refund covers the whole captured amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundExtent {
    Full,
    Partial,
}

/// The state of one gateway payment, in terms every gateway can be mapped to.
///
/// There is deliberately no catch-all: a status a plugin does not know is `Unknown` with the raw
/// code, so the host can refuse to act on it instead of acting on a guess.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PaymentState {
    /// A pre-order waiting for its authorization (SBPS 未オーソリ, F-REGI 予約(未オーソリ)).
    AwaitingAuthorization,
    /// The card limit is reserved; capture or void may follow.
    Authorized,
    /// The authorization was declined; nothing is reserved.
    AuthorizationFailed,
    /// Captured (sold).
    Captured { settlement: Settlement },
    /// The gateway tried to capture and failed.
    CaptureFailed,
    /// The authorization was cancelled before capture. Final (G-5, F-12).
    Voided,
    /// The capture was undone, fully or partly.
    Refunded {
        extent: RefundExtent,
        settlement: Settlement,
    },
    /// A gateway status the plugin does not know, carried verbatim.
    Unknown { raw: String },
}

impl PaymentState {
    /// Final states: no gateway operation may follow them from the shop side (G-5, F-12).
    /// A partial refund is not final: the rest may still be refunded.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            PaymentState::Voided
                | PaymentState::AuthorizationFailed
                | PaymentState::Refunded {
                    extent: RefundExtent::Full,
                    ..
                }
        )
    }

    /// A short stable name, used in logs, the CLI and the journal.
    pub fn name(&self) -> &'static str {
        match self {
            PaymentState::AwaitingAuthorization => "awaiting_authorization",
            PaymentState::Authorized => "authorized",
            PaymentState::AuthorizationFailed => "authorization_failed",
            PaymentState::Captured { .. } => "captured",
            PaymentState::CaptureFailed => "capture_failed",
            PaymentState::Voided => "voided",
            PaymentState::Refunded {
                extent: RefundExtent::Full,
                ..
            } => "refunded",
            PaymentState::Refunded {
                extent: RefundExtent::Partial,
                ..
            } => "partially_refunded",
            PaymentState::Unknown { .. } => "unknown",
        }
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentState::Captured { settlement } | PaymentState::Refunded { settlement, .. }
                if *settlement != Settlement::NotReported =>
            {
                write!(f, "{} ({:?})", self.name(), settlement)
            }
            PaymentState::Unknown { raw } => write!(f, "unknown (gateway status {raw:?})"),
            _ => f.write_str(self.name()),
        }
    }
}
