//! Why a shop action did nothing. Every variant means: nothing changed in the shop, and nothing
//! happened at the gateway (except `NeedsReview`, where that is exactly what is not known).

use crate::journal::{DriftId, JournalError, OperationId, Refusal};
use renkei_sdk::{GatewayError, OrderRef};

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("order {0} is unknown to this shop")]
    UnknownOrder(OrderRef),
    #[error("order {0} already exists")]
    OrderExists(OrderRef),
    #[error("no gateway named {0} is configured")]
    UnknownGateway(String),
    /// The action does not apply to the order as it stands.
    #[error("order {order}: cannot {action}: {reason}")]
    IllegalAction {
        order: OrderRef,
        action: &'static str,
        reason: String,
    },
    #[error("order {order}: {reason}")]
    InvalidAmount { order: OrderRef, reason: String },
    /// Automatic linkage is off for the gateway and the action cannot happen without it.
    #[error("automatic linkage with {gateway} is off (G-1)")]
    LinkageOff { gateway: String },
    /// The journal refused before anything was sent (final state G-5/F-12, busy, in review…).
    #[error(transparent)]
    Refused(Refusal),
    /// The plugin refused before anything was sent (amount out of the gateway's range…).
    #[error("order {order}: refused before sending: {error}")]
    Rejected {
        order: OrderRef,
        error: Box<GatewayError>,
    },
    /// The gateway refused; nothing happened there.
    #[error("order {order}: {error}{}", hint.map(|h| format!(" — {h}")).unwrap_or_default())]
    Gateway {
        order: OrderRef,
        operation: OperationId,
        error: Box<GatewayError>,
        /// What the operator can do next, where the manual says (F-3).
        hint: Option<&'static str>,
    },
    /// The outcome at the gateway is not known; an operator must decide (the order is held).
    #[error("order {order} needs review (operation {}): {evidence}", operation.0)]
    NeedsReview {
        order: OrderRef,
        operation: OperationId,
        evidence: String,
    },
    /// No drift event with this id.
    #[error("no drift event {}", .0.0)]
    UnknownDrift(DriftId),
    /// A decision must name the operator who took it.
    #[error("an operator's decision must name the operator")]
    NoOperator,
    #[error(transparent)]
    Journal(JournalError),
}

impl ShopError {
    /// The reason as the bulk result shows it after the order code (G-3): the gateway's own
    /// message where it gave one (F-10 messages verbatim), else this error's text.
    pub fn reason(&self) -> String {
        match self {
            ShopError::Gateway { error, .. } | ShopError::Rejected { error, .. } => error
                .gateway_message
                .clone()
                .unwrap_or_else(|| error.message.clone()),
            other => other.to_string(),
        }
    }

    /// A short stable name for the error, for JSON bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ShopError::UnknownOrder(_) => "unknown_order",
            ShopError::OrderExists(_) => "order_exists",
            ShopError::UnknownGateway(_) => "unknown_gateway",
            ShopError::IllegalAction { .. } => "illegal_action",
            ShopError::InvalidAmount { .. } => "invalid_amount",
            ShopError::LinkageOff { .. } => "linkage_off",
            ShopError::Refused(Refusal::UnknownOrder(_)) => "unknown_order",
            ShopError::Refused(Refusal::Final { .. }) => "gateway_transaction_cancelled",
            ShopError::Refused(Refusal::NeedsReview { .. }) => "needs_review",
            ShopError::Refused(Refusal::Busy { .. }) => "busy",
            ShopError::Refused(Refusal::Amount { .. }) => "invalid_amount",
            ShopError::Refused(_) => "illegal_transition",
            ShopError::Rejected { .. } => "rejected",
            ShopError::Gateway { .. } => "gateway_refused",
            ShopError::NeedsReview { .. } => "needs_review",
            ShopError::UnknownDrift(_) => "unknown_drift",
            ShopError::NoOperator => "no_operator",
            ShopError::Journal(JournalError::DriftClosed(_)) => "drift_closed",
            ShopError::Journal(JournalError::Contradiction(_)) => "contradiction",
            ShopError::Journal(_) => "journal",
        }
    }
}

impl From<JournalError> for ShopError {
    fn from(e: JournalError) -> ShopError {
        match e {
            JournalError::Refused(r) => ShopError::Refused(r),
            other => ShopError::Journal(other),
        }
    }
}
