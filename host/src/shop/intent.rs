//! What a shop action does to its own record once its gateway operation took effect.
//!
//! The gateway operation runs first and the shop's record is written after it, so a host that
//! dies in between leaves the journal ahead of the shop. The intent is journaled with the
//! operation (`NewOperation::intent`); whoever next loads the order, or recovery, applies the
//! intents of operations that took effect since the record last caught up
//! (`ShopOrder::synced_operation`). Applying one twice changes nothing.

use super::order::{OrderStatus, PaymentMethod, ShopOrder};
use renkei_sdk::Money;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "then", rename_all = "snake_case")]
pub(crate) enum Intent {
    /// Checkout or pre-order release: a normal card order of `shop` at `gateway`.
    Authorized {
        shop: String,
        gateway: String,
        amount_due: Money,
    },
    /// Record payment: the order is paid.
    Paid { shop: String },
    /// A status change (cancel, return, …).
    Status { shop: String, status: OrderStatus },
    /// A change of payment method away from card, or to "no payment needed".
    Method { shop: String, method: PaymentMethod },
    /// An amount change sent to the gateway at once.
    Amount { shop: String, amount_due: Money },
}

impl Intent {
    pub(crate) fn shop(&self) -> &str {
        match self {
            Intent::Authorized { shop, .. }
            | Intent::Paid { shop }
            | Intent::Status { shop, .. }
            | Intent::Method { shop, .. }
            | Intent::Amount { shop, .. } => shop,
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an intent serialises")
    }

    /// `None` for an operation journaled without a shop intent (or by another caller).
    pub(crate) fn parse(json: Option<&str>) -> Option<Intent> {
        serde_json::from_str(json?).ok()
    }

    /// The change to the shop's record. Idempotent.
    pub(crate) fn apply(&self, order: &mut ShopOrder) {
        match self {
            Intent::Authorized { .. } => {
                if order.status == OrderStatus::PreOrder {
                    order.status = OrderStatus::Normal;
                }
            }
            Intent::Paid { .. } => order.paid = true,
            Intent::Status { status, .. } => order.status = *status,
            Intent::Method { method, .. } => {
                if *method == PaymentMethod::NoPaymentNeeded {
                    order.amount_due = Money::new(0, order.amount_due.currency);
                }
                order.method = method.clone();
            }
            Intent::Amount { amount_due, .. } => order.amount_due = *amount_due,
        }
    }
}
