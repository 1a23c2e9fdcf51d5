//! SBPS payment statuses, as data: exported in the manifest, used to read inquiries (S-2).

use renkei_sdk::{
    ErrorKind, GatewayError, PaymentState, RefundExtent, Settlement, StatusEntry, status_entry,
    status_row,
};

/// MG01's `payment_status` (§6.8), by name: control flow reads these, never the digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    /// `1` 与信済.
    Authorized,
    /// `2` 売上済.
    Sold,
    /// `3` 与信取消済.
    Cancelled,
    /// `4` 返金済, after a partial refund as after a full one.
    Refunded,
}

impl PaymentStatus {
    /// SBPS's code.
    pub const fn code(self) -> &'static str {
        match self {
            PaymentStatus::Authorized => "1",
            PaymentStatus::Sold => "2",
            PaymentStatus::Cancelled => "3",
            PaymentStatus::Refunded => "4",
        }
    }

    /// The status of a code SBPS reported; `None` for a code this plugin does not know.
    pub fn parse(code: &str) -> Option<PaymentStatus> {
        [
            PaymentStatus::Authorized,
            PaymentStatus::Sold,
            PaymentStatus::Cancelled,
            PaymentStatus::Refunded,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// MG01's `commit_status` (§6.8): `0` not committed; `1` committed (2, 3 per one client).
pub const NOT_COMMITTED: &str = "0";
pub const COMMITTED: &str = "1";

/// The code of the shop-side pre-order state 未オーソリ. SBPS has no API code for it (no payment
/// exists at SBPS until the pre-order is released, G-9), so the code is a word that can never
/// collide with a numeric `payment_status` SBPS reports.
pub const PRE_ORDER: &str = "pre_order";

/// (code, label, unified state, terminal).
///
/// - `1`..`4` are MG01's `payment_status` (§6.8), labelled as the operator manual writes them.
/// - `4` 返金済 is "refunded" **without an extent**: SBPS reports it after a full refund (S-4, a
///   cancel after capture) and after a partial one alike (§6.6: 4 after a 100-yen refund of
///   1080), with no amounts (§6.8). So it maps to `RefundExtent::NotReported`, never to `Full`
///   or `Partial`: only the host's journal (or SBPS's tool) knows how much is left. Not
///   terminal: the rest of a partially refunded payment may still be refunded.
/// - SBPS reports neither settlement nor transmission to the card company, hence
///   `Settlement::NotReported`.
#[rustfmt::skip]
pub fn table() -> Vec<StatusEntry> {
    use PaymentState::*;
    use PaymentStatus as S;
    let captured = Captured { settlement: Settlement::NotReported };
    let refunded = Refunded { extent: RefundExtent::NotReported, settlement: Settlement::NotReported };
    vec![
        status_row(PRE_ORDER,            "未オーソリ", AwaitingAuthorization, false),
        status_row(S::Authorized.code(), "与信済",     Authorized,            false),
        status_row(S::Sold.code(),       "売上済",     captured,              false),
        status_row(S::Cancelled.code(),  "与信取消済", Voided,                true),
        status_row(S::Refunded.code(),   "返金済",     refunded,              false),
    ]
}

pub fn captured_state() -> PaymentState {
    PaymentState::Captured {
        settlement: Settlement::NotReported,
    }
}

pub fn refunded_state(extent: RefundExtent) -> PaymentState {
    PaymentState::Refunded {
        extent,
        settlement: Settlement::NotReported,
    }
}

pub fn commit_note(commit_status: &str) -> String {
    match commit_status {
        NOT_COMMITTED => "commit_status 0: not committed".into(),
        COMMITTED => "commit_status 1: committed".into(),
        other => format!("commit_status {other}"),
    }
}

/// A refusal based on the inquiry: SBPS's state disagrees with what the operation assumes.
pub fn drift(
    statuses: &[StatusEntry],
    kind: ErrorKind,
    status: &str,
    message: &str,
) -> GatewayError {
    let label = status_entry(statuses, status).map(|s| s.label.clone());
    GatewayError::gateway(kind, format!("payment_status={status}"), label, message)
}

pub fn unknown_status(status: &str) -> GatewayError {
    GatewayError::gateway(
        ErrorKind::Protocol,
        format!("payment_status={status}"),
        None,
        "SBPS reports a payment status this plugin does not know; nothing was changed",
    )
}
