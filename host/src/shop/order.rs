//! The shop's side of an order: what the order-management screen shows and edits.
//!
//! The journal's `OrderRecord` is the money at the gateway; this is the shop's intent (the amount
//! due, the payment method, the order status, whether a payment date is entered). The two differ
//! on purpose: an amount edited before capture is held here until capture (F-4), a payment date
//! cancelled after capture leaves the gateway captured (G-6).

use renkei_sdk::{Money, OrderRef};
use serde::{Deserialize, Serialize};

/// How the customer pays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum PaymentMethod {
    /// By card, through the order's gateway.
    Card,
    /// Another method (cash on delivery, bank transfer): no gateway is involved.
    Other { name: String },
    /// The amount due became 0 (points, coupons): nothing to collect (G-11, F-8).
    NoPaymentNeeded,
}

/// Where the order stands in the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// A reserved order whose authorization is deferred (予約).
    PreOrder,
    /// Normal processing (通常処理).
    Normal,
    Cancelled,
    Returned,
    Uncollectible,
    /// The order's data was deleted (SBPS screens only offer this action).
    Deleted,
    Held,
}

impl OrderStatus {
    /// Orders that are closed in the shop: no payment is recorded on them any more.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            OrderStatus::Cancelled
                | OrderStatus::Returned
                | OrderStatus::Uncollectible
                | OrderStatus::Deleted
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            OrderStatus::PreOrder => "pre_order",
            OrderStatus::Normal => "normal",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Returned => "returned",
            OrderStatus::Uncollectible => "uncollectible",
            OrderStatus::Deleted => "deleted",
            OrderStatus::Held => "held",
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The status changes of the order-management screen that may touch the gateway (G-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    /// 注文を取り消す
    Cancel,
    /// 返品処理をする
    Return,
    /// 未回収処理をする
    Uncollectible,
    /// データを削除する (offered by SBPS's screens; F-REGI's list has the other four, F-6)
    Delete,
    /// 保留にする
    Hold,
}

impl StatusChange {
    pub fn target(self) -> OrderStatus {
        match self {
            StatusChange::Cancel => OrderStatus::Cancelled,
            StatusChange::Return => OrderStatus::Returned,
            StatusChange::Uncollectible => OrderStatus::Uncollectible,
            StatusChange::Delete => OrderStatus::Deleted,
            StatusChange::Hold => OrderStatus::Held,
        }
    }
}

/// One order as the shop sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopOrder {
    pub order: OrderRef,
    pub shop: String,
    /// The gateway instance the card payment goes through.
    pub gateway: String,
    pub method: PaymentMethod,
    /// The shop's current amount due; captured as it is at capture time (S-1, F-2).
    pub amount_due: Money,
    pub status: OrderStatus,
    /// A payment date is entered (入金済).
    pub paid: bool,
    /// Last change, unix milliseconds.
    pub updated_ms: i64,
    /// The newest journal operation whose effect on this record has been applied (see
    /// `intent.rs`): operations after it that took effect are applied when the order is next
    /// loaded.
    #[serde(default)]
    pub synced_operation: i64,
    /// The journal's order version this record last caught up with; a different version means
    /// the journal may be ahead.
    #[serde(default)]
    pub synced_version: i64,
    /// The journal's version of this record (0: not written yet); kept out of the document.
    #[serde(skip)]
    pub version: i64,
}

impl ShopOrder {
    /// On the unpaid list of the order-management screen: open, not paid, something to collect.
    pub fn is_unpaid(&self) -> bool {
        !self.paid
            && matches!(self.status, OrderStatus::Normal | OrderStatus::Held)
            && self.method != PaymentMethod::NoPaymentNeeded
    }

    pub fn is_card(&self) -> bool {
        self.method == PaymentMethod::Card
    }
}
