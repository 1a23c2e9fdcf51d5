//! What a shop action returns: the order's new state, the gateway operations it took, and the
//! warnings an operator must see.

use super::order::ShopOrder;
use crate::executor::Resolution;
use crate::journal::OperationId;
use renkei_sdk::{Money, OperationKind, PaymentState};
use serde::Serialize;

/// The operator actions of the order-management screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopAction {
    Checkout,
    RegisterPreOrder,
    RegisterAuthorized,
    RecordPayment,
    CancelPaymentDate,
    ChangeStatus,
    ChangePaymentMethod,
    NoPaymentNeeded,
    ReleasePreOrder,
    ChangeAmount,
    Inquire,
}

impl ShopAction {
    pub fn name(self) -> &'static str {
        match self {
            ShopAction::Checkout => "checkout",
            ShopAction::RegisterPreOrder => "register pre-order",
            ShopAction::RegisterAuthorized => "register authorized order",
            ShopAction::RecordPayment => "record payment",
            ShopAction::CancelPaymentDate => "cancel payment date",
            ShopAction::ChangeStatus => "change status",
            ShopAction::ChangePaymentMethod => "change payment method",
            ShopAction::NoPaymentNeeded => "no payment needed",
            ShopAction::ReleasePreOrder => "release pre-order",
            ShopAction::ChangeAmount => "change amount",
            ShopAction::Inquire => "inquire",
        }
    }
}

impl std::fmt::Display for ShopAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One gateway operation an action performed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GatewayOp {
    pub operation: OperationId,
    pub kind: OperationKind,
    pub amount: Option<Money>,
    /// The protocol steps sent, in order (e.g. SBPS `MG01-00101`, `ST02-00101`; F-REGI
    /// `authchange`, `sale`).
    pub steps: Vec<String>,
    /// The result came from the journal (a retried action): nothing was sent this time.
    pub from_journal: bool,
    /// How an unknown outcome was settled, if one was.
    pub resolution: Option<Resolution>,
}

/// Something the operator must know although the action succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// Automatic linkage is off for this gateway: the shop changed, the gateway was not touched
    /// (G-1).
    LinkageOff { gateway: String },
    /// The payment date was removed but the gateway stays captured; nothing was refunded (G-6,
    /// F-9).
    GatewayStaysCaptured { captured: Money },
    /// The amount changed after capture: not sent to the gateway (G-7, F-9). Settle the
    /// difference in the gateway's own tool or by another method.
    AmountNotLinked { captured: Money, amount_due: Money },
    /// The new amount is sent at capture time, not now (F-4; S-1).
    AmountHeldUntilCapture {
        authorized: Money,
        amount_due: Money,
    },
    /// "Also cancel the gateway transaction" was not ticked: the gateway keeps its
    /// authorization or capture.
    GatewayNotTouched { state: PaymentState },
    /// The order was already paid: nothing was done again.
    AlreadyPaid,
    /// Nothing at the gateway to cancel (a pre-order never authorized).
    NothingToCancel,
    /// The gateway captured another amount than the shop now bills: the amount due was edited
    /// while the capture was in flight. Inquire and reconcile report it until it is settled
    /// (in the gateway's tool, or by changing the amount due back).
    CapturedDiffersFromDue { captured: Money, amount_due: Money },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::LinkageOff { gateway } => write!(
                f,
                "automatic linkage with {gateway} is off: the gateway was not touched (G-1)"
            ),
            Warning::GatewayStaysCaptured { captured } => write!(
                f,
                "the gateway stays captured ({captured}); nothing was refunded (G-6)"
            ),
            Warning::AmountNotLinked {
                captured,
                amount_due,
            } => write!(
                f,
                "not linked: the gateway captured {captured} and never changes a captured \
                 amount; the shop now bills {amount_due} (G-7, F-9)"
            ),
            Warning::AmountHeldUntilCapture {
                authorized,
                amount_due,
            } => write!(
                f,
                "{amount_due} will be sent at capture; the gateway still holds {authorized} \
                 (F-4, S-1)"
            ),
            Warning::GatewayNotTouched { state } => write!(
                f,
                "the gateway transaction was not cancelled and is still {state} (G-4)"
            ),
            Warning::AlreadyPaid => f.write_str("already paid: nothing was done again"),
            Warning::NothingToCancel => {
                f.write_str("no authorization at the gateway: nothing to cancel")
            }
            Warning::CapturedDiffersFromDue {
                captured,
                amount_due,
            } => write!(
                f,
                "the gateway captured {captured} but the shop now bills {amount_due}: the \
                 amount was edited while the capture was in flight"
            ),
        }
    }
}

/// The result of a shop action.
#[derive(Clone, Debug, Serialize)]
pub struct ActionResult {
    pub action: ShopAction,
    /// The shop's record after the action.
    pub order: ShopOrder,
    /// The unified state at the gateway, per the journal (`None`: no card payment).
    pub state: Option<PaymentState>,
    /// The gateway's own status code and its label as the manual writes it (与信済, 承認取消…).
    pub gateway_status: Option<String>,
    pub gateway_label: Option<String>,
    pub operations: Vec<GatewayOp>,
    pub warnings: Vec<Warning>,
}
