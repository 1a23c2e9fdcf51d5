//! What the host asks a gateway to do.

use crate::{CustomerRef, Money, OrderRef, Secret, TransactionRef};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a gateway operation, as named in manifests, journals and capability lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Authorize,
    Capture,
    Void,
    Refund,
    ChangeAmount,
    Inquire,
}

impl OperationKind {
    pub const ALL: [OperationKind; 6] = [
        OperationKind::Authorize,
        OperationKind::Capture,
        OperationKind::Void,
        OperationKind::Refund,
        OperationKind::ChangeAmount,
        OperationKind::Inquire,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OperationKind::Authorize => "authorize",
            OperationKind::Capture => "capture",
            OperationKind::Void => "void",
            OperationKind::Refund => "refund",
            OperationKind::ChangeAmount => "change_amount",
            OperationKind::Inquire => "inquire",
        }
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the money for an authorization comes from.
///
/// Raw card data exists only because some gateways' test protocols need it; the host never
/// stores or logs it, and `Debug` shows only the last four digits.
#[derive(Clone, PartialEq, Eq)]
pub enum PaymentSource {
    /// A one-time token from the gateway's browser tokenizer (SBPS `token` + `token_key`,
    /// F-REGI `TOKEN` with no key).
    Token { token: Secret, key: Option<Secret> },
    /// The card the gateway stores for this customer.
    StoredCustomer(CustomerRef),
    /// The card of an earlier payment at the same gateway (SBPS re-authorization).
    PreviousTransaction(TransactionRef),
    /// Raw card data, for test protocols only.
    Card(CardData),
}

impl fmt::Debug for PaymentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentSource::Token { .. } => f.write_str("Token([redacted])"),
            PaymentSource::StoredCustomer(c) => write!(f, "StoredCustomer({c})"),
            PaymentSource::PreviousTransaction(t) => write!(f, "PreviousTransaction({t})"),
            PaymentSource::Card(card) => write!(f, "Card({card:?})"),
        }
    }
}

/// Raw card data. Every field is a [`Secret`]; `Debug` shows the last four digits only.
#[derive(Clone, PartialEq, Eq)]
pub struct CardData {
    pub number: Secret,
    /// `YYYYMM`.
    pub expiry: Secret,
    pub security_code: Option<Secret>,
    pub holder: Option<Secret>,
}

impl fmt::Debug for CardData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.number.expose();
        let last4 = digits
            .get(digits.len().saturating_sub(4)..)
            .filter(|_| digits.len() >= 12)
            .unwrap_or("????");
        write!(f, "CardData(****{last4})")
    }
}

/// One operation the host asks of a gateway, with everything the host's journal knows that the
/// gateway protocol may need. Plugins never look anything up themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Reserve `amount` on the card: at checkout, or when a pre-order is released (G-9).
    Authorize {
        order: OrderRef,
        amount: Money,
        source: PaymentSource,
        /// The shop's customer code (SBPS `cust_code` is mandatory).
        customer: Option<CustomerRef>,
        /// What is bought, for gateways that want an item name.
        description: Option<String>,
    },
    /// Capture an authorization. `amount` is the shop's current amount when it differs from
    /// `authorized` (S-1, F-2); `None` captures the authorized amount.
    Capture {
        order: OrderRef,
        transaction: TransactionRef,
        authorized: Money,
        amount: Option<Money>,
    },
    /// Cancel an authorization before capture.
    Void {
        order: OrderRef,
        transaction: TransactionRef,
        authorized: Money,
    },
    /// Undo a capture. `amount: None` refunds everything still captured.
    Refund {
        order: OrderRef,
        transaction: TransactionRef,
        /// What is captured and not yet refunded, per the host's journal.
        captured: Money,
        amount: Option<Money>,
    },
    /// Change the authorized amount before capture (a re-authorization at most gateways).
    ChangeAmount {
        order: OrderRef,
        transaction: TransactionRef,
        authorized: Money,
        new_amount: Money,
    },
    /// Ask the gateway for the payment's current state, to resolve an unknown outcome or to
    /// detect changes made in the gateway's own tool (G-8).
    Inquire {
        order: OrderRef,
        transaction: TransactionRef,
    },
    /// Since 0.2: look for the authorization that one attempt may have made, by the order id
    /// the host issued for that attempt (`Context::gateway_order_id`), when its reply was lost
    /// and so no reference is known. Sent only to plugins that declare
    /// `Capabilities::authorization_inquiry`. Answered with the payment found (its state,
    /// reference, amounts and handle), or with `PaymentState::AwaitingAuthorization` when the
    /// gateway has no payment under that id (an id only registered, GMO-PG's `UNPROCESSED`,
    /// is `Registered`). Its kind is `Inquire`: it only reads.
    FindAuthorization {
        order: OrderRef,
        /// The amount the lost authorization asked for.
        amount: Money,
    },
}

impl Operation {
    pub fn kind(&self) -> OperationKind {
        match self {
            Operation::Authorize { .. } => OperationKind::Authorize,
            Operation::Capture { .. } => OperationKind::Capture,
            Operation::Void { .. } => OperationKind::Void,
            Operation::Refund { .. } => OperationKind::Refund,
            Operation::ChangeAmount { .. } => OperationKind::ChangeAmount,
            Operation::Inquire { .. } | Operation::FindAuthorization { .. } => {
                OperationKind::Inquire
            }
        }
    }

    pub fn order(&self) -> &OrderRef {
        match self {
            Operation::Authorize { order, .. }
            | Operation::Capture { order, .. }
            | Operation::Void { order, .. }
            | Operation::Refund { order, .. }
            | Operation::ChangeAmount { order, .. }
            | Operation::Inquire { order, .. }
            | Operation::FindAuthorization { order, .. } => order,
        }
    }

    /// The gateway reference the operation acts on; `None` for a new authorization and for a
    /// search for one.
    pub fn transaction(&self) -> Option<&TransactionRef> {
        match self {
            Operation::Authorize { .. } | Operation::FindAuthorization { .. } => None,
            Operation::Capture { transaction, .. }
            | Operation::Void { transaction, .. }
            | Operation::Refund { transaction, .. }
            | Operation::ChangeAmount { transaction, .. }
            | Operation::Inquire { transaction, .. } => Some(transaction),
        }
    }

    /// The amount that would move if the operation succeeds, when it names one.
    pub fn amount(&self) -> Option<Money> {
        match self {
            Operation::Authorize { amount, .. } => Some(*amount),
            Operation::Capture {
                authorized, amount, ..
            } => Some(amount.unwrap_or(*authorized)),
            Operation::Void { authorized, .. } => Some(*authorized),
            Operation::Refund {
                captured, amount, ..
            } => Some(amount.unwrap_or(*captured)),
            Operation::ChangeAmount { new_amount, .. } => Some(*new_amount),
            Operation::Inquire { .. } | Operation::FindAuthorization { .. } => None,
        }
    }
}
