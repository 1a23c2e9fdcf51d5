use super::*;
use crate::journal::model::{OperationId, OperationStatus};
use renkei_sdk::{Money, OrderRef, Settlement, TransactionRef};

fn op(kind: OperationKind, amount: Option<i64>) -> OperationRecord {
    OperationRecord {
        id: OperationId(1),
        order: OrderRef::new("o"),
        gateway: "g".into(),
        kind,
        amount: amount.map(Money::jpy),
        idempotency_key: "k".into(),
        plugin_id: "p".into(),
        plugin_version: "1".into(),
        status: OperationStatus::Pending,
        owner: None,
        attempt: 1,
        outcome: None,
        evidence: None,
        created_at_ms: 0,
        updated_at_ms: 0,
        intent: None,
    }
}

fn authorized_order() -> OrderRecord {
    let mut o = OrderRecord::awaiting(&OrderRef::new("o"), "g", renkei_sdk::Currency::JPY);
    o.state = PaymentState::Authorized;
    o.authorized = Money::jpy(1000);
    o.transaction = Some(TransactionRef::new("OLD"));
    o
}

fn out(state: PaymentState, t: &str) -> StoredOutcome {
    StoredOutcome {
        gateway_status: None,
        ..crate::journal::suite::outcome(state, t)
    }
}

const CAPTURED: PaymentState = PaymentState::Captured {
    settlement: Settlement::Pending,
};

#[test]
fn a_capture_above_the_authorization_needs_the_new_authorized_amount() {
    let o = authorized_order();
    let mut reply = out(CAPTURED, "NEW");
    reply.replaced = Some(TransactionRef::new("OLD"));
    reply.captured = Some(Money::jpy(1500));
    // Without the re-authorized amount: captured > authorized cannot be true.
    assert!(apply(Some(&o), &op(OperationKind::Capture, Some(1500)), &reply).is_err());
    reply.authorized = Some(Money::jpy(1500));
    let (next, _) = apply(Some(&o), &op(OperationKind::Capture, Some(1500)), &reply).unwrap();
    assert_eq!(next.transaction, Some(TransactionRef::new("NEW")));
    assert_eq!(
        (next.authorized, next.captured),
        (Money::jpy(1500), Money::jpy(1500))
    );
}

#[test]
fn a_new_reference_without_saying_what_it_replaced_is_a_contradiction() {
    let o = authorized_order();
    let mut reply = out(CAPTURED, "NEW");
    reply.captured = Some(Money::jpy(1000));
    assert!(apply(Some(&o), &op(OperationKind::Capture, Some(1000)), &reply).is_err());
}

#[test]
fn an_answer_in_the_wrong_state_is_a_contradiction() {
    let o = authorized_order();
    let reply = out(PaymentState::Authorized, "OLD");
    assert!(apply(Some(&o), &op(OperationKind::Void, Some(1000)), &reply).is_err());
}

#[test]
fn check_begin_refuses_nonpositive_amounts_and_other_gateways() {
    let o = authorized_order();
    let capture = |yen| {
        check_begin(
            "o",
            "g",
            Some(&o),
            OperationKind::Capture,
            Some(Money::jpy(yen)),
        )
    };
    assert!(capture(0).is_err());
    assert!(matches!(
        check_begin("o", "other", Some(&o), OperationKind::Capture, None),
        Err(Refusal::WrongGateway { .. })
    ));
    assert!(capture(1).is_ok());
}

fn stored_handle(access_id: &str) -> crate::journal::model::StoredHandle {
    crate::journal::model::StoredHandle {
        public: [("AccessID".to_owned(), access_id.to_owned())].into(),
        secret_names: vec!["AccessPass".into()],
        sealed: Some("01abcdef".into()),
    }
}

/// A handle belongs to one payment: an outcome's handle replaces the order's; an outcome about
/// the same payment without one keeps it; one that moved the order to a new payment without a
/// handle leaves none, so the old payment's is never handed to operations on the new one.
#[test]
fn the_orders_handle_follows_its_payment() {
    let mut order = authorized_order();
    order.handle = Some(stored_handle("A-OLD"));
    let capture = op(OperationKind::Capture, Some(1000));
    let mut same = out(CAPTURED, "OLD");
    same.captured = Some(Money::jpy(1000));
    let (next, _) = apply(Some(&order), &capture, &same).unwrap();
    assert_eq!(next.handle, Some(stored_handle("A-OLD")));

    let mut renewed = same.clone();
    renewed.handle = Some(stored_handle("A-NEW"));
    let (next, _) = apply(Some(&order), &capture, &renewed).unwrap();
    assert_eq!(next.handle, Some(stored_handle("A-NEW")));

    // A capture above the authorization re-authorized under a new reference, with no handle.
    let higher = op(OperationKind::Capture, Some(1200));
    let mut moved = out(CAPTURED, "NEW");
    moved.replaced = Some(TransactionRef::new("OLD"));
    moved.authorized = Some(Money::jpy(1200));
    moved.captured = Some(Money::jpy(1200));
    let (next, _) = apply(Some(&order), &higher, &moved).unwrap();
    assert_eq!(next.transaction, Some(TransactionRef::new("NEW")));
    assert_eq!(next.handle, None);
}

/// An order id registered at the gateway and not executed (SDK 0.2 `Registered`) awaits its
/// authorization like a pre-order; a card check (`Verified`) is final.
#[test]
fn a_registered_order_may_be_authorized_and_a_verified_card_is_final() {
    let mut order = OrderRecord::awaiting(&OrderRef::new("o"), "g", renkei_sdk::Currency::JPY);
    order.state = PaymentState::Registered;
    assert!(
        check_begin(
            "o",
            "g",
            Some(&order),
            OperationKind::Authorize,
            Some(Money::jpy(100))
        )
        .is_ok()
    );
    assert!(check_begin("o", "g", Some(&order), OperationKind::Capture, None).is_err());
    order.state = PaymentState::Verified;
    assert!(matches!(
        check_begin(
            "o",
            "g",
            Some(&order),
            OperationKind::Authorize,
            Some(Money::jpy(100))
        ),
        Err(Refusal::Final { .. })
    ));
}

/// The payment's dates are the times its operations succeeded (the record's `updated_at`): an
/// authorization's, a capture's, and both for a capture that re-authorized; a refund keeps them.
#[test]
fn the_orders_dates_are_when_its_authorization_and_capture_succeeded() {
    let at = |kind, amount, ms| {
        let mut o = op(kind, amount);
        o.updated_at_ms = ms;
        o
    };
    let awaiting = OrderRecord::awaiting(&OrderRef::new("o"), "g", renkei_sdk::Currency::JPY);
    let mut authorized = out(PaymentState::Authorized, "T1");
    authorized.authorized = Some(Money::jpy(1000));
    let (order, _) = apply(
        Some(&awaiting),
        &at(OperationKind::Authorize, Some(1000), 100),
        &authorized,
    )
    .unwrap();
    assert_eq!(
        (order.authorized_at_ms, order.captured_at_ms),
        (Some(100), None)
    );

    let mut captured = out(CAPTURED, "T1");
    captured.captured = Some(Money::jpy(1000));
    let (order, _) = apply(
        Some(&order),
        &at(OperationKind::Capture, Some(1000), 200),
        &captured,
    )
    .unwrap();
    assert_eq!(
        (order.authorized_at_ms, order.captured_at_ms),
        (Some(100), Some(200))
    );

    let mut refunded = out(
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: Settlement::Pending,
        },
        "T1",
    );
    refunded.refunded = Some(Money::jpy(1000));
    let (after_refund, _) = apply(
        Some(&order),
        &at(OperationKind::Refund, Some(1000), 300),
        &refunded,
    )
    .unwrap();
    assert_eq!(
        (after_refund.authorized_at_ms, after_refund.captured_at_ms),
        (Some(100), Some(200))
    );

    // A capture above the authorization that re-authorized under a new reference.
    let mut authorized_order = authorized_order();
    authorized_order.authorized_at_ms = Some(100);
    let mut moved = out(CAPTURED, "NEW");
    moved.replaced = Some(TransactionRef::new("OLD"));
    moved.authorized = Some(Money::jpy(1200));
    moved.captured = Some(Money::jpy(1200));
    let (order, _) = apply(
        Some(&authorized_order),
        &at(OperationKind::Capture, Some(1200), 400),
        &moved,
    )
    .unwrap();
    assert_eq!(
        (order.authorized_at_ms, order.captured_at_ms),
        (Some(400), Some(400))
    );
}
