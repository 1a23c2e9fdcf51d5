//! Translation tests from recorded bytes: no network, no host.

use super::*;
use renkei_sdk::testing::{self, Payment, assert_gateway_said, sent};
use renkei_sdk::{ErrorKind, Money, OrderRef, PaymentState, Settlement, TransactionRef};

fn gateway() -> Gmopg {
    testing::configure(testing::text(&[
        ("endpoint", "http://127.0.0.1:9/v1"),
        ("merchant_id", "m_1"),
        ("api_key", "ak_canary"),
        ("signing_key", "sk_test"),
    ]))
    .unwrap()
}

fn ctx() -> Context<'static> {
    Context::fixed(1_700_000_000_000, "order-1:capture:1")
}

/// The payment the operations act on: pay_1, authorized at 1080 yen.
const PAYMENT: Payment = Payment {
    order: "order-1",
    transaction: "pay_1",
};

fn capture(amount: Option<i64>) -> Operation {
    PAYMENT.capture(1080, amount)
}

/// How the plugin reads Gmopg's answer (HTTP `status`, `body`) to a capture of all of it.
fn capture_answered(status: u16, body: &[u8]) -> Result<Step, GatewayError> {
    let g = gateway();
    let x = sent(g.prepare(&capture(None), &ctx()).unwrap());
    let reply = HttpResponse::new(status, body.to_vec());
    g.interpret(&capture(None), &ctx(), &x.state, &reply)
}

#[test]
fn manifest_is_valid() {
    Gmopg::manifest().validate().unwrap();
}

#[test]
fn capture_request_is_signed_over_the_full_path() {
    let x = sent(gateway().prepare(&capture(None), &ctx()).unwrap());
    assert_eq!(x.request.method, Method::Post);
    assert_eq!(
        x.request.url,
        "http://127.0.0.1:9/v1/payments/pay_1/capture"
    );
    assert_eq!(x.request.body, b"{}");
    let header = |n: &str| x.request.headers.get(n).unwrap().to_owned();
    assert_eq!(header("Gmopg-Timestamp"), "1700000000");
    // Same vector as `wire::signature_matches_a_vector_computed_independently` (openssl).
    assert_eq!(
        header("Gmopg-Signature"),
        "5f73f301ddfce943fd21ec85ab5215e3d3541a2999203f460008c71ccd920329"
    );
    assert_eq!(header("Idempotency-Key"), "order-1:capture:1");
}

#[test]
fn capture_sends_the_amount_only_when_it_differs() {
    let x = sent(gateway().prepare(&capture(Some(1080)), &ctx()).unwrap());
    assert_eq!(x.request.body, b"{}");
    let x = sent(gateway().prepare(&capture(Some(980)), &ctx()).unwrap());
    assert_eq!(x.request.body, br#"{"amount":980}"#);
}

#[test]
fn captured_reply_becomes_a_captured_outcome() {
    let Step::Done(o) = capture_answered(
        200,
        br#"{"id":"pay_1","status":"captured","currency":"JPY","amount":1080,"captured":1080,"refunded":0}"#,
    )
    .unwrap() else {
        panic!("capture is one exchange");
    };
    assert_eq!(
        o.state,
        PaymentState::Captured {
            settlement: Settlement::NotReported
        }
    );
    assert_eq!(o.captured, Some(Money::jpy(1080)));
}

#[test]
fn a_reply_capturing_another_amount_is_a_protocol_error_not_a_success() {
    let e = capture_answered(
        200,
        br#"{"id":"pay_1","status":"captured","currency":"JPY","amount":1080,"captured":10,"refunded":0}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
}

#[test]
fn already_captured_is_already_done_with_the_gateway_words() {
    let e = capture_answered(
        409,
        br#"{"error":{"code":"already_captured","message":"payment pay_1 is captured"}}"#,
    )
    .unwrap_err();
    assert_gateway_said(
        &e,
        ErrorKind::AlreadyDone,
        Some("already_captured"),
        "payment pay_1 is captured",
    );
}

#[test]
fn a_reply_listing_several_codes_keeps_them_all_and_takes_the_declared_rules_kind() {
    // As the emulator answers `tok_declined_over_limit`: the decline first, then the limit.
    let e = capture_answered(
        402,
        br#"{"error":{"code":"card_declined","message":"declined"},"errors":[{"code":"card_declined","message":"declined"},{"code":"amount_too_large","message":"above this card's limit"}]}"#,
    )
    .unwrap_err();
    // Most cautious (the manifest's rule): the gateway's refusal outweighs the card's decline.
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.gateway_code.as_deref(), Some("amount_too_large"));
    assert_eq!(e.other_codes, ["card_declined"]);
    assert_eq!(Gmopg::manifest().multi_error, MULTI_ERROR);
}

#[test]
fn an_undocumented_error_code_is_never_taken_for_a_refusal() {
    let e = capture_answered(
        409,
        br#"{"error":{"code":"ledger_locked","message":"try later"}}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert_eq!(e.gateway_code.as_deref(), Some("ledger_locked"));
}

#[test]
fn bad_replies_are_protocol_errors() {
    for (status, body) in [
        (200, &b""[..]),
        (200, &br#"{"id":"pay_1","status":"capt"#[..]),
        (500, &br#"{"id":"pay_1"}"#[..]),
        (502, &b"<html>Bad gateway</html>"[..]),
        (200, &[0xff, 0xfe, 0x00][..]),
        (404, &b"not json"[..]),
    ] {
        let e = capture_answered(status, body).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "HTTP {status}");
    }
}

#[test]
fn an_unseen_status_is_unknown_with_its_raw_code() {
    let g = gateway();
    let op = PAYMENT.inquire();
    let x = sent(g.prepare(&op, &ctx()).unwrap());
    let reply = HttpResponse::new(
        200,
        br#"{"id":"pay_1","status":"disputed","currency":"JPY","amount":1080}"#.to_vec(),
    );
    let Step::Done(o) = g.interpret(&op, &ctx(), &x.state, &reply).unwrap() else {
        panic!()
    };
    assert_eq!(
        o.state,
        PaymentState::Unknown {
            raw: "disputed".into()
        }
    );
}

#[test]
fn the_token_never_reaches_the_journal_copy() {
    let op = Operation::Authorize {
        order: OrderRef::new("order-1"),
        amount: Money::jpy(1080),
        source: PaymentSource::Token {
            token: Secret::new("tok_canary"),
            key: None,
        },
        customer: None,
        description: None,
    };
    let x = sent(gateway().prepare(&op, &ctx()).unwrap());
    assert!(String::from_utf8_lossy(&x.request.body).contains("tok_canary"));
    let journal = x.journal_body.unwrap();
    assert!(!journal.contains("tok_canary"), "{journal}");
    assert!(!format!("{:?}", x.request).contains("ak_canary"));
}

#[test]
fn amounts_outside_the_limits_are_refused_before_sending() {
    let e = gateway().prepare(&capture(Some(0)), &ctx()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
}

#[test]
fn a_reference_cannot_escape_the_url_path() {
    let op = Operation::Void {
        order: OrderRef::new("o"),
        transaction: TransactionRef::new("../admin"),
        authorized: Money::jpy(5),
    };
    assert_eq!(
        gateway().prepare(&op, &ctx()).unwrap_err().kind,
        ErrorKind::InvalidRequest
    );
}

/// The wire format alone: encoding vectors and strict parsing, below the operations.
mod wire {
    use super::*;
    // Through `super`, not `crate`: the conformance fixtures compile this file inside their own
    // crate (`#[path]`), where `crate::protocol` does not exist.
    use super::protocol::*;

    #[test]
    fn signature_matches_a_vector_computed_independently() {
        // printf 'POST\n/v1/payments/pay_1/capture\n1700000000\n{}' |
        //   openssl dgst -sha256 -hmac 'sk_test'
        let sig = signature(
            &Secret::new("sk_test"),
            "POST",
            "/v1/payments/pay_1/capture",
            1_700_000_000,
            b"{}",
        );
        assert_eq!(
            sig,
            "5f73f301ddfce943fd21ec85ab5215e3d3541a2999203f460008c71ccd920329"
        );
    }
}
