//! The search for a lost authorization by its attempt's order id (`FindAuthorization`).

use super::*;
use renkei_sdk::{Money, Settlement, TransactionRef};

fn found(state: PaymentState, reference: Option<&str>, authorized: Option<i64>) -> Outcome {
    let mut o = Outcome::new(state);
    o.transaction = reference.map(TransactionRef::new);
    o.authorized = authorized.map(Money::jpy);
    o
}

#[test]
fn an_authorization_found_at_the_amount_asked_took_effect_whenever_it_is_seen() {
    let seen = found(PaymentState::Authorized, Some("pay_1"), Some(1000));
    for expired in [false, true] {
        assert_eq!(
            read_authorization_search(Money::jpy(1000), &seen, expired),
            Finding::TookEffect(Box::new(seen.clone()))
        );
    }
    // A gateway that states no amount: the reference under the attempt's own id is enough.
    let seen = found(PaymentState::Authorized, Some("pay_1"), None);
    assert!(matches!(
        read_authorization_search(Money::jpy(1000), &seen, false),
        Finding::TookEffect(_)
    ));
}

#[test]
fn nothing_found_proves_not_applied_only_once_the_request_has_expired() {
    for state in [
        PaymentState::AwaitingAuthorization,
        PaymentState::Registered,
    ] {
        let seen = found(state, None, None);
        assert_eq!(
            read_authorization_search(Money::jpy(1000), &seen, false),
            Finding::StillPossible
        );
        assert_eq!(
            read_authorization_search(Money::jpy(1000), &seen, true),
            Finding::NotApplied
        );
    }
    // Declined: processed and refused, which no later moment changes.
    let seen = found(PaymentState::AuthorizationFailed, Some("pay_1"), None);
    assert_eq!(
        read_authorization_search(Money::jpy(1000), &seen, false),
        Finding::NotApplied
    );
}

#[test]
fn another_amount_no_reference_or_a_later_state_is_for_an_operator() {
    for seen in [
        found(PaymentState::Authorized, Some("pay_1"), Some(900)),
        found(PaymentState::Authorized, None, Some(1000)),
        found(PaymentState::Voided, Some("pay_1"), Some(1000)),
        found(
            PaymentState::Captured {
                settlement: Settlement::NotReported,
            },
            Some("pay_1"),
            Some(1000),
        ),
        found(
            PaymentState::Unknown { raw: "ZZ".into() },
            Some("pay_1"),
            None,
        ),
    ] {
        assert!(
            matches!(
                read_authorization_search(Money::jpy(1000), &seen, true),
                Finding::Unclear(_)
            ),
            "{seen:?}"
        );
    }
}
