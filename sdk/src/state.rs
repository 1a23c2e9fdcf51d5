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
    /// The gateway says "refunded" without saying how much (SBPS 返金済 after a full or a
    /// partial refund alike). Only the journal's arithmetic, never this, decides whether
    /// anything is left to refund.
    NotReported,
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
    /// Since 0.2: registered at the gateway but not executed: an order id entered before the
    /// card is charged (GMO-PG `UNPROCESSED` after `EntryTran`). Nothing is reserved; for the
    /// shop the order still awaits its authorization.
    Registered,
    /// Since 0.2: the card was checked and nothing more (a verification, GMO-PG `CHECK`).
    /// Nothing is reserved and nothing can be captured; final.
    Verified,
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
                | PaymentState::Verified
                | PaymentState::AuthorizationFailed
                | PaymentState::Refunded {
                    extent: RefundExtent::Full,
                    ..
                }
        )
    }

    /// No authorization yet: a pre-order, or an order id registered at the gateway and not
    /// executed. Both mean the same to the shop: nothing is reserved, an authorization may follow.
    pub fn awaits_authorization(&self) -> bool {
        matches!(
            self,
            PaymentState::AwaitingAuthorization | PaymentState::Registered
        )
    }

    /// A short stable name, used in logs, the CLI and the journal.
    pub fn name(&self) -> &'static str {
        match self {
            PaymentState::AwaitingAuthorization => "awaiting_authorization",
            PaymentState::Registered => "registered",
            PaymentState::Verified => "verified",
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
            PaymentState::Refunded {
                extent: RefundExtent::NotReported,
                ..
            } => "refunded_extent_not_reported",
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
