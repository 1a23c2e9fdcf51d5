//! The money rules of the journal, as pure functions shared by every backend.
//!
//! A backend locks the order's row, loads it, calls these, and writes the result in the same
//! transaction. Keeping the rules here (not in SQL) means SQLite and PostgreSQL cannot disagree.
//! What an answer settles for an operation whose outcome is unknown is in [`resolution`], beside
//! the rules that book it.

pub mod resolution;

use super::model::{OperationRecord, OrderRecord, StoredOutcome};
use renkei_sdk::{Money, OperationKind, PaymentState, RefundExtent};

/// Why the journal refuses to start an operation. Nothing is written and nothing is sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("order {0} is unknown to the journal")]
    UnknownOrder(String),
    #[error("order {order} needs an operator's review first: {reason}")]
    NeedsReview { order: String, reason: String },
    #[error(
        "order {order} is {state}: a cancelled gateway transaction can never be used again (G-5, F-12)"
    )]
    Final { order: String, state: String },
    #[error("order {order} is {state}: cannot {operation}")]
    IllegalTransition {
        order: String,
        state: String,
        operation: OperationKind,
    },
    #[error("order {order}: another gateway operation ({operation}) is in progress")]
    Busy {
        order: String,
        operation: OperationKind,
    },
    #[error("order {order}: {reason}")]
    Amount { order: String, reason: String },
    #[error("order {order} is at gateway {journal}, not {requested}")]
    WrongGateway {
        order: String,
        journal: String,
        requested: String,
    },
}

/// A reply that contradicts what the journal knows. It is not applied; the operation goes to
/// review with this as evidence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("reply contradicts the journal for order {order}: {reason}")]
pub struct Contradiction {
    pub order: String,
    pub reason: String,
}

/// A difference between the gateway's view (from an inquiry) and the journal's, e.g. a refund
/// made in the gateway's own tool (G-8). Reported, never written over the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    pub journal_state: PaymentState,
    pub gateway_state: PaymentState,
    pub gateway_status: Option<String>,
    pub detail: String,
}

fn state_name(s: &PaymentState) -> String {
    s.to_string()
}

/// Checks that `kind` may start on `order` (None: the journal has never seen it).
pub fn check_begin(
    order_ref: &str,
    gateway: &str,
    order: Option<&OrderRecord>,
    kind: OperationKind,
    amount: Option<Money>,
) -> Result<(), Refusal> {
    let Some(order) = order else {
        return if kind == OperationKind::Authorize {
            Ok(())
        } else {
            Err(Refusal::UnknownOrder(order_ref.to_owned()))
        };
    };
    if order.gateway != gateway {
        return Err(Refusal::WrongGateway {
            order: order_ref.to_owned(),
            journal: order.gateway.clone(),
            requested: gateway.to_owned(),
        });
    }
    if kind == OperationKind::Inquire {
        // Reading the gateway's view is always allowed, in review too: it is how drift and
        // reviews are settled.
        return Ok(());
    }
    if let Some(reason) = &order.review {
        return Err(Refusal::NeedsReview {
            order: order_ref.to_owned(),
            reason: reason.clone(),
        });
    }
    if order.state.is_final() {
        return Err(Refusal::Final {
            order: order_ref.to_owned(),
            state: state_name(&order.state),
        });
    }
    let illegal = || Refusal::IllegalTransition {
        order: order_ref.to_owned(),
        state: state_name(&order.state),
        operation: kind,
    };
    if let Some(a) = amount {
        if a.currency != order.authorized.currency {
            return Err(Refusal::Amount {
                order: order_ref.to_owned(),
                reason: format!(
                    "currency {} but the order is in {}",
                    a.currency, order.authorized.currency
                ),
            });
        }
        if a.minor_units <= 0 && kind != OperationKind::Void {
            return Err(Refusal::Amount {
                order: order_ref.to_owned(),
                reason: format!("amount {a} must be positive"),
            });
        }
    }
    match (kind, &order.state) {
        (OperationKind::Authorize, s) if s.awaits_authorization() => Ok(()),
        (
            OperationKind::Capture | OperationKind::Void | OperationKind::ChangeAmount,
            PaymentState::Authorized,
        ) => Ok(()),
        (
            OperationKind::Refund,
            PaymentState::Captured { .. }
            | PaymentState::Refunded {
                extent: RefundExtent::Partial,
                ..
            },
        ) => {
            let open = order.captured.minor_units - order.refunded.minor_units;
            match amount {
                Some(a) if a.minor_units > open => Err(Refusal::Amount {
                    order: order_ref.to_owned(),
                    reason: format!(
                        "refund of {a} exceeds what is captured and not refunded ({open})"
                    ),
                }),
                _ => Ok(()),
            }
        }
        _ => Err(illegal()),
    }
}

/// The order record after `op` succeeded with `outcome`, or why the outcome cannot be true.
/// `Drift` is returned for inquiries whose answer differs from the journal.
pub fn apply(
    order: Option<&OrderRecord>,
    op: &OperationRecord,
    outcome: &StoredOutcome,
) -> Result<(OrderRecord, Option<Drift>), Contradiction> {
    let contradiction = |reason: String| Contradiction {
        order: op.order.to_string(),
        reason,
    };
    let currency = op
        .amount
        .map(|a| a.currency)
        .or(order.map(|o| o.authorized.currency))
        .ok_or_else(|| contradiction("no currency known".into()))?;
    for m in [outcome.authorized, outcome.captured, outcome.refunded]
        .into_iter()
        .flatten()
    {
        if m.currency != currency {
            return Err(contradiction(format!(
                "reply in {} for an order in {currency}",
                m.currency
            )));
        }
    }
    let mut next = match order {
        Some(o) => o.clone(),
        None if op.kind == OperationKind::Authorize => {
            OrderRecord::awaiting(&op.order, &op.gateway, currency)
        }
        None => return Err(contradiction("no such order".into())),
    };

    // The reference: a reply about another payment is only acceptable when it says which one it
    // replaced (re-authorization, authchange).
    if let (Some(known), Some(said)) = (&next.transaction, &outcome.transaction)
        && known != said
        && outcome.replaced.as_ref() != Some(known)
        && op.kind != OperationKind::Authorize
    {
        return Err(contradiction(format!(
            "reply is about transaction {said}, the journal has {known}"
        )));
    }

    let expect_state = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(contradiction(format!(
                "{} answered with state {}, expected {what}",
                op.kind, outcome.state
            )))
        }
    };
    let mut drift = None;
    match op.kind {
        OperationKind::Authorize | OperationKind::ChangeAmount => {
            expect_state(
                matches!(outcome.state, PaymentState::Authorized),
                "authorized",
            )?;
            let amount = outcome
                .authorized
                .or(op.amount)
                .ok_or_else(|| contradiction("no authorized amount".into()))?;
            if let Some(asked) = op.amount
                && asked != amount
            {
                return Err(contradiction(format!(
                    "asked to authorize {asked}, reply says {amount}"
                )));
            }
            next.authorized = amount;
        }
        OperationKind::Capture => {
            expect_state(
                matches!(outcome.state, PaymentState::Captured { .. }),
                "captured",
            )?;
            let captured = outcome
                .captured
                .or(op.amount)
                .ok_or_else(|| contradiction("no captured amount".into()))?;
            if let Some(asked) = op.amount
                && asked != captured
            {
                return Err(contradiction(format!(
                    "asked to capture {asked}, reply says {captured}"
                )));
            }
            if let Some(a) = outcome.authorized {
                // A capture at another amount may re-authorize first (SBPS re-authorization,
                // F-REGI F-2); the plugin reports the new authorized amount. Without that report a
                // capture above the authorization is a contradiction (checked below).
                next.authorized = a;
            }
            next.captured = captured;
        }
        OperationKind::Void => {
            expect_state(matches!(outcome.state, PaymentState::Voided), "voided")?;
        }
        OperationKind::Refund => {
            expect_state(
                matches!(outcome.state, PaymentState::Refunded { .. }),
                "refunded",
            )?;
            let open = next.captured.minor_units - next.refunded.minor_units;
            let amount = op.amount.map_or(open, |a| a.minor_units);
            // `Outcome::refunded` of a refund is what this refund moved (see the SDK).
            if let Some(r) = outcome.refunded
                && r.minor_units != amount
            {
                return Err(contradiction(format!(
                    "a refund of {amount} answered as a refund of {r}"
                )));
            }
            next.refunded = Money::new(next.refunded.minor_units + amount, currency);
        }
        OperationKind::Inquire => {
            if outcome.state != next.state {
                drift = Some(Drift {
                    journal_state: next.state.clone(),
                    gateway_state: outcome.state.clone(),
                    gateway_status: outcome.gateway_status.clone(),
                    detail: format!(
                        "gateway says {} ({}), journal says {}",
                        outcome.state,
                        outcome
                            .gateway_status
                            .as_deref()
                            .unwrap_or("no status code"),
                        next.state
                    ),
                });
            }
            // An inquiry never rewrites the journal (G-8): drift is for an operator.
            return Ok((next, drift));
        }
    }
    amounts_hold(&next).map_err(contradiction)?;
    next.state = match (&outcome.state, op.kind) {
        (PaymentState::Refunded { settlement, .. }, OperationKind::Refund) => {
            PaymentState::Refunded {
                extent: extent(&next),
                settlement: *settlement,
            }
        }
        (s, _) => s.clone(),
    };
    // The payment's dates: the time the operation succeeded (its record's `updated_at`, set to
    // the success's time before this is called). A capture that re-authorized, or an amount
    // change that did, made a new authorization.
    let new_payment = outcome
        .transaction
        .as_ref()
        .is_some_and(|t| next.transaction.as_ref() != Some(t));
    match op.kind {
        OperationKind::Authorize => next.authorized_at_ms = Some(op.updated_at_ms),
        OperationKind::ChangeAmount if new_payment => {
            next.authorized_at_ms = Some(op.updated_at_ms)
        }
        OperationKind::Capture => {
            if new_payment {
                next.authorized_at_ms = Some(op.updated_at_ms);
            }
            next.captured_at_ms = Some(op.updated_at_ms);
        }
        _ => {}
    }
    // The plugin's handle belongs to one payment: the outcome's replaces it; an outcome that
    // moved the order to another payment without one leaves none (the old one's would be
    // handed to operations on the new payment).
    match (&outcome.handle, &outcome.transaction) {
        (Some(h), _) => next.handle = Some(h.clone()),
        (None, Some(t)) if next.transaction.as_ref() != Some(t) => next.handle = None,
        _ => {}
    }
    if let Some(t) = &outcome.transaction {
        next.transaction = Some(t.clone());
    }
    if outcome.gateway_status.is_some() {
        next.gateway_status = outcome.gateway_status.clone();
    }
    next.version += 1;
    Ok((next, drift))
}

/// The order record after an operation failed in a later step while its earlier steps changed
/// the payment as `left` says (F-2: F-REGI's authorization changed to the capture's amount, then
/// the sale refused): booked as an amount change to `left.authorized` would be (new reference
/// only with the one it replaced, authorized date, handle), nothing captured. The executor only
/// asks for it when `resolution::read_changed_before` says so; these checks repeat, under the
/// order's lock, what the booking itself needs.
pub fn apply_changed_before(
    order: Option<&OrderRecord>,
    op: &OperationRecord,
    left: &StoredOutcome,
) -> Result<OrderRecord, Contradiction> {
    let contradiction = |reason: String| Contradiction {
        order: op.order.to_string(),
        reason,
    };
    if op.kind != OperationKind::Capture {
        return Err(contradiction(format!(
            "a failed {} reports a change by earlier steps; only a capture's can be booked",
            op.kind
        )));
    }
    match order {
        Some(o) if o.state == PaymentState::Authorized => {}
        Some(o) => {
            return Err(contradiction(format!(
                "the earlier steps of a capture changed a payment the journal has {}",
                o.state
            )));
        }
        None => return Err(contradiction("no such order".into())),
    }
    if left.authorized.is_none() || left.authorized != op.amount {
        return Err(contradiction(format!(
            "the earlier steps left {} authorized; the capture was for {}",
            left.authorized
                .map_or("nothing".to_owned(), |a| a.to_string()),
            op.amount.map_or("?".to_owned(), |a| a.to_string())
        )));
    }
    if [left.captured, left.refunded]
        .into_iter()
        .flatten()
        .any(|m| m.minor_units != 0)
    {
        return Err(contradiction(
            "the earlier steps of a failed capture report money captured or refunded".into(),
        ));
    }
    let as_change = OperationRecord {
        kind: OperationKind::ChangeAmount,
        amount: left.authorized,
        ..op.clone()
    };
    apply(order, &as_change, left).map(|(next, _)| next)
}

/// The order record after an operator adopted the gateway's state (a drift event): the state,
/// status and the amounts the operator read in the gateway's tool. The money invariants still
/// hold: what the operator typed cannot make the journal say more was refunded than captured.
pub fn adopt(order: &OrderRecord, seen: &StoredOutcome) -> Result<OrderRecord, Contradiction> {
    let contradiction = |reason: String| Contradiction {
        order: order.order.to_string(),
        reason,
    };
    if matches!(seen.state, PaymentState::Unknown { .. }) {
        return Err(contradiction(format!(
            "cannot adopt {}: name the state the gateway shows",
            seen.state
        )));
    }
    let currency = order.authorized.currency;
    let mut next = order.clone();
    for (field, value) in [
        (&mut next.authorized, seen.authorized),
        (&mut next.captured, seen.captured),
        (&mut next.refunded, seen.refunded),
    ] {
        if let Some(m) = value {
            if m.currency != currency {
                return Err(contradiction(format!(
                    "amount in {} for an order in {currency}",
                    m.currency
                )));
            }
            *field = m;
        }
    }
    amounts_hold(&next).map_err(contradiction)?;
    next.state = match &seen.state {
        // The extent follows the journal's arithmetic, as for a refund of its own.
        PaymentState::Refunded { settlement, .. } => PaymentState::Refunded {
            extent: extent(&next),
            settlement: *settlement,
        },
        PaymentState::Captured { .. } if next.captured.minor_units == 0 => {
            return Err(contradiction(
                "captured at the gateway: say how much was captured".into(),
            ));
        }
        s => s.clone(),
    };
    if seen.gateway_status.is_some() {
        next.gateway_status = seen.gateway_status.clone();
    }
    if let Some(t) = &seen.transaction {
        next.transaction = Some(t.clone());
    }
    next.version += 1;
    Ok(next)
}

/// The money invariant every order record keeps: refunded ≤ captured ≤ authorized, none negative.
fn amounts_hold(next: &OrderRecord) -> Result<(), String> {
    if next.refunded.minor_units > next.captured.minor_units
        || next.captured.minor_units > next.authorized.minor_units
        || next.refunded.minor_units < 0
    {
        return Err(format!(
            "would break refunded ≤ captured ≤ authorized ({} ≤ {} ≤ {})",
            next.refunded, next.captured, next.authorized
        ));
    }
    Ok(())
}

/// A refund's extent is the journal's arithmetic, never a gateway's word (SBPS says 返金済 after
/// a partial refund too).
fn extent(next: &OrderRecord) -> RefundExtent {
    if next.refunded == next.captured {
        RefundExtent::Full
    } else {
        RefundExtent::Partial
    }
}

#[cfg(test)]
mod tests;
