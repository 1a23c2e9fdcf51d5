//! Actions done in SBPS's own management tool (rules G-8, S-3): partial capture, refund,
//! partial refund, cancel. They change the stored payment exactly as the tool would, and the
//! shop is never told, so a host can only find out through an inquiry (MG01).

use serde::{Deserialize, Serialize};

use crate::codes::ErrorReason;
use crate::engine::Engine;
use crate::state::{Payment, Source};

/// One management-tool action on a stored payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdminAction {
    /// Capture `amount` (the authorized amount if `None`); less than authorized is a partial
    /// capture.
    Capture {
        /// Target payment.
        tracking_id: String,
        /// Amount to sell.
        #[serde(default)]
        amount: Option<u32>,
    },
    /// Refund everything not yet refunded.
    Refund {
        /// Target payment.
        tracking_id: String,
    },
    /// Refund `amount`.
    PartialRefund {
        /// Target payment.
        tracking_id: String,
        /// Amount to refund.
        amount: u32,
    },
    /// Cancel an unsold authorization.
    Cancel {
        /// Target payment.
        tracking_id: String,
    },
}

impl AdminAction {
    fn tracking_id(&self) -> &str {
        match self {
            AdminAction::Capture { tracking_id, .. }
            | AdminAction::Refund { tracking_id }
            | AdminAction::PartialRefund { tracking_id, .. }
            | AdminAction::Cancel { tracking_id } => tracking_id,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            AdminAction::Capture { .. } => "admin_capture",
            AdminAction::Refund { .. } => "admin_refund",
            AdminAction::PartialRefund { .. } => "admin_partial_refund",
            AdminAction::Cancel { .. } => "admin_cancel",
        }
    }
}

/// Why the management tool refused an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No payment has this tracking id.
    #[error("no payment with tracking_id {0}")]
    UnknownPayment(String),
    /// The payment's state does not allow the action; `reason` is the type + item the API
    /// would answer for the same operation (e.g. `41999` already sold).
    #[error("the payment's state refuses {action}: reason {reason}")]
    Refused {
        /// The action.
        action: &'static str,
        /// SBPS type + item.
        reason: ErrorReason,
    },
    /// Zero amount.
    #[error("amount must be at least 1 yen")]
    ZeroAmount,
}

impl Engine {
    /// Applies a management-tool action and returns the payment afterwards.
    pub(crate) fn admin(&self, action: &AdminAction) -> Result<Payment, AdminError> {
        let now = self.clock.now();
        let policy = self.config.rules.refund_after_partial_refund;
        let mut state = self.lock_state();
        let payment = state
            .payment_mut(action.tracking_id())
            .ok_or_else(|| AdminError::UnknownPayment(action.tracking_id().to_owned()))?;
        let refused = |reason| AdminError::Refused {
            action: action.name(),
            reason,
        };
        let amount = match action {
            AdminAction::Capture {
                amount: Some(0), ..
            }
            | AdminAction::PartialRefund { amount: 0, .. } => {
                return Err(AdminError::ZeroAmount);
            }
            AdminAction::Capture { amount, .. } => {
                Some(payment.capture(*amount, now).map_err(refused)?)
            }
            AdminAction::Refund { .. } => Some(payment.refund_rest(policy).map_err(refused)?),
            AdminAction::PartialRefund { amount, .. } => {
                payment
                    .refund_partial(*amount, &self.config.rules)
                    .map_err(refused)?;
                Some(*amount)
            }
            AdminAction::Cancel { .. } => {
                payment.cancel_authorization().map_err(refused)?;
                None
            }
        };
        payment.record(now, Source::Admin, action.name(), None, amount);
        Ok(payment.clone())
    }
}
