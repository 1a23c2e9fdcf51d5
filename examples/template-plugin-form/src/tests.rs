//! Translation tests from recorded bytes: no network, no host.

use super::*;
use renkei_sdk::testing::{self, Payment, assert_post, sent};
use renkei_sdk::wire::Charset;
use renkei_sdk::{
    AfterSend, CustomerRef, Effect, ErrorKind, Money, OrderRef, PaymentState, Settlement,
    StepEffect, failed_exchange_effect,
};

fn gateway() -> KumoPay {
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

/// ポール山田: ポ is `83 7C` in Shift_JIS, a `|` byte inside a character.
const CUSTOMER: &str = "ポール山田";

fn authorize(customer: &str) -> Operation {
    Operation::Authorize {
        order: OrderRef::new("order-1"),
        amount: Money::jpy(1080),
        source: PaymentSource::Token {
            token: Secret::new("tok_canary"),
            key: None,
        },
        customer: Some(CustomerRef::new(customer)),
        description: None,
    }
}

/// How the plugin reads the gateway's answer (HTTP `status`, `body`) to `op`.
fn answered(op: &Operation, status: u16, body: &[u8]) -> Result<Step, GatewayError> {
    let g = gateway();
    let x = sent(g.prepare(op, &ctx()).unwrap());
    g.interpret(
        op,
        &ctx(),
        &x.state,
        &HttpResponse::new(status, body.to_vec()),
    )
}

fn capture_answered(body: &[u8]) -> Result<Step, GatewayError> {
    answered(&PAYMENT.capture(1080, None), 200, body)
}

/// The gateway's answer to an order's entry, the first step of an authorization.
const ENTERED: &[u8] = b"entry=entry_1&processed_at=20231115073319";

/// The second step of an authorization of ポール山田's order, once entered: the charge.
fn charge() -> renkei_sdk::Exchange {
    let g = gateway();
    let op = authorize(CUSTOMER);
    let x = sent(g.prepare(&op, &ctx()).unwrap());
    let entered = HttpResponse::new(200, ENTERED.to_vec());
    sent(g.interpret(&op, &ctx(), &x.state, &entered).unwrap())
}

/// How the plugin reads the gateway's answer `body` to the charge.
fn charge_answered(body: &[u8]) -> Result<Step, GatewayError> {
    let x = charge();
    let reply = HttpResponse::new(200, body.to_vec());
    gateway().interpret(&authorize(CUSTOMER), &ctx(), &x.state, &reply)
}

/// A captured pay_1, as the gateway writes it: `processed_at` last.
const CAPTURED: &[u8] = b"id=pay_1&status=captured&currency=JPY&amount=1080&captured=1080&refunded=0&authorization_code=A-pay_1&processed_at=20231115073320";

#[test]
fn manifest_is_valid() {
    let m = KumoPay::manifest();
    m.validate().unwrap();
    assert_eq!(m.gateway_id, "kumopay-form");
}

/// Two steps, as GMO-PG's `EntryTran` and `ExecTran`: the entry registers the order id and is
/// declared so (the host then knows a failed entry moved no money); the charge carries the card
/// token, which its journal copy and the continuation never hold.
#[test]
fn authorize_enters_the_order_then_charges_the_card_in_the_charset() {
    let x = sent(gateway().prepare(&authorize(CUSTOMER), &ctx()).unwrap());
    let content_type = format!(
        "application/x-www-form-urlencoded; charset={}",
        protocol::CHARSET.name()
    );
    assert_post(&x, "entry", "http://127.0.0.1:9/v1/entries", &content_type);
    assert_eq!(x.effect, StepEffect::Registers);
    // The order id the host's rules give this attempt.
    let order = ctx().order_id(&manifest::order_id_rules(), &OrderRef::new("order-1"));
    let entry = format!("merchant=m_1&order={order}&amount=1080&currency=JPY");
    assert_eq!(String::from_utf8(x.request.body.to_vec()).unwrap(), entry);
    assert_eq!(x.journal_body.as_deref(), Some(entry.as_str()));

    let x = charge();
    assert_post(
        &x,
        "authorize",
        "http://127.0.0.1:9/v1/payments",
        &content_type,
    );
    assert_eq!(x.effect, StepEffect::MayMoveMoney);
    // ポール山田 in the gateway's charset, percent-encoded (unreserved bytes kept).
    let customer = match protocol::CHARSET {
        Charset::ShiftJis => "customer=%83%7C%81%5B%83%8B%8ER%93c",
        Charset::EucJp => "customer=%A5%DD%A1%BC%A5%EB%BB%B3%C5%C4",
        Charset::Utf8 => "customer=%E3%83%9D%E3%83%BC%E3%83%AB%E5%B1%B1%E7%94%B0",
    };
    assert_eq!(
        String::from_utf8(x.request.body.to_vec()).unwrap(),
        format!("merchant=m_1&entry=entry_1&token=tok_canary&{customer}")
    );
    let journal = x.journal_body.unwrap();
    assert_eq!(
        journal.as_str(),
        format!(
            "merchant=m_1&entry=entry_1&token={}&{customer}",
            Secret::PLACEHOLDER
        )
    );
    assert!(!String::from_utf8_lossy(&x.state).contains("tok_canary"));
    assert!(!format!("{:?}", x.request).contains("ak_canary"));
}

#[test]
fn a_customer_the_charset_cannot_write_is_refused_before_sending() {
    let r = gateway().prepare(&authorize("Ｐａｕｌ 😀"), &ctx());
    if protocol::CHARSET == Charset::Utf8 {
        // UTF-8 writes every character (a `--charset utf-8` scaffold): the customer is sent.
        assert!(r.is_ok(), "{r:?}");
        return;
    }
    // The Japanese charsets have no emoji.
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("customer"), "{e}");
}

#[test]
fn capture_sends_the_amount_only_when_it_differs() {
    let x = sent(
        gateway()
            .prepare(&PAYMENT.capture(1080, Some(1080)), &ctx())
            .unwrap(),
    );
    assert_eq!(x.request.body.to_vec(), b"");
    let x = sent(
        gateway()
            .prepare(&PAYMENT.capture(1080, Some(980)), &ctx())
            .unwrap(),
    );
    assert_eq!(x.request.body.to_vec(), b"amount=980");
    // Signed over the form as sent, as the JSON wire signs its document.
    let sig = signing::signature(
        &Secret::new("sk_test"),
        "POST",
        "/v1/payments/pay_1/capture",
        1_700_000_000,
        b"amount=980",
    );
    assert_eq!(x.request.headers.get("Kumo-Signature"), Some(sig.as_str()));
}

#[test]
fn captured_reply_becomes_a_captured_outcome() {
    let Step::Done(o) = capture_answered(CAPTURED).unwrap() else {
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
fn a_decline_is_declined_with_the_gateway_code() {
    let e = charge_answered(b"ErrCode=E402&ErrInfo=card_declined").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Declined);
    assert_eq!(e.gateway_code.as_deref(), Some("card_declined"));
    assert!(e.other_codes.is_empty());
}

#[test]
fn a_reply_listing_several_codes_keeps_them_all_and_takes_the_declared_rules_kind() {
    // As the emulator answers `tok_declined_over_limit`: the decline first, then the limit.
    let e =
        charge_answered(b"ErrCode=E402|E402&ErrInfo=card_declined|amount_too_large").unwrap_err();
    // Most cautious (the manifest's rule): the gateway's refusal outweighs the card's decline.
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.gateway_code.as_deref(), Some("amount_too_large"));
    assert_eq!(e.other_codes, ["card_declined"]);
    assert_eq!(KumoPay::manifest().multi_error, MULTI_ERROR);
}

/// A reply cut anywhere, inside its last value too, is never a success: the last value
/// (`processed_at`) has a fixed shape, every earlier one is required. The same for a refusal:
/// its lists no longer pair, or its last code is one nobody documented.
#[test]
fn a_reply_cut_inside_its_last_value_is_refused_never_read() {
    let cut = &CAPTURED[..CAPTURED.len() - 3];
    assert!(cut.ends_with(b"&processed_at=20231115073"));
    assert_eq!(capture_answered(cut).unwrap_err().kind, ErrorKind::Protocol);
    let refusal = b"ErrCode=E402|E402&ErrInfo=card_declined|amount_too_large";
    for whole in [CAPTURED, &refusal[..]] {
        for len in 1..whole.len() {
            let e = capture_answered(&whole[..len]).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::Protocol,
                "{:?}",
                String::from_utf8_lossy(&whole[..len])
            );
        }
    }
    // The entry's answer too: a cut entry id is never charged under.
    for len in 1..ENTERED.len() {
        let e = answered(&authorize(CUSTOMER), 200, &ENTERED[..len]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{len}");
    }
}

/// The gateway refuses an order id it has seen, at the entry. The host issues one per
/// attempt, so this is a refusal of this request, which applied nothing: `Rejected` (not
/// `AlreadyDone`, which would claim the authorization exists), and the host reads it as
/// nothing moved, as it reads any failure of a step declared to move no money.
#[test]
fn a_duplicate_order_id_is_a_refusal_that_moved_nothing() {
    let e = answered(
        &authorize(CUSTOMER),
        200,
        b"ErrCode=E409&ErrInfo=duplicate_order",
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.gateway_code.as_deref(), Some("duplicate_order"));
    let after = AfterSend::Answered {
        status: 200,
        kind: e.kind,
    };
    assert_eq!(after.effect(), Effect::NotApplied);
    assert_eq!(
        failed_exchange_effect(after, StepEffect::Registers, false),
        Effect::NotApplied
    );
    // The same code at the charge (an entry charged twice) is a refusal as well.
    let e = charge_answered(b"ErrCode=E409&ErrInfo=duplicate_order").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
}

#[test]
fn an_undocumented_error_code_is_never_taken_for_a_refusal() {
    let e = capture_answered(b"ErrCode=E409&ErrInfo=ledger_locked").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert_eq!(e.gateway_code.as_deref(), Some("ledger_locked"));
}

#[test]
fn bad_replies_are_protocol_errors() {
    for (status, body) in [
        (200, &b""[..]),
        (201, CAPTURED),
        (500, CAPTURED),
        (502, &b"<html>Bad gateway</html>"[..]),
        (200, &b"<html>ok</html>"[..]),
        (200, &b"ErrCode=E402"[..]),
        (200, &b"id=pay_1&id=pay_1"[..]),
        (200, &[0x83, 0x7c, 0x83][..]),
    ] {
        let e = answered(&PAYMENT.capture(1080, None), status, body).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "HTTP {status} {body:?}");
    }
}

#[test]
fn a_reply_about_another_payment_or_amount_is_a_protocol_error() {
    let other = b"id=pay_2&status=captured&currency=JPY&amount=1080&captured=1080&refunded=0&authorization_code=A-pay_2&processed_at=20231115073320";
    assert_eq!(
        capture_answered(other).unwrap_err().kind,
        ErrorKind::Protocol
    );
    let less = b"id=pay_1&status=captured&currency=JPY&amount=1080&captured=10&refunded=0&authorization_code=A-pay_1&processed_at=20231115073320";
    assert_eq!(
        capture_answered(less).unwrap_err().kind,
        ErrorKind::Protocol
    );
}

#[test]
fn a_lost_authorization_not_found_is_awaiting_authorization() {
    let g = gateway();
    let op = Operation::FindAuthorization {
        order: OrderRef::new("order-1"),
        amount: Money::jpy(1080),
    };
    let ctx = Context {
        gateway_order_id: Some("order-1-a1"),
        ..ctx()
    };
    let x = sent(g.prepare(&op, &ctx).unwrap());
    assert_eq!(
        x.request.url,
        "http://127.0.0.1:9/v1/payments/by-order/order-1-a1"
    );
    let reply = HttpResponse::new(200, b"ErrCode=E404&ErrInfo=payment_not_found".to_vec());
    let Step::Done(o) = g.interpret(&op, &ctx, &x.state, &reply).unwrap() else {
        panic!()
    };
    assert_eq!(o.state, PaymentState::AwaitingAuthorization);
}

/// The wire alone, below the operations: the charset is a parameter of the reader.
mod wire {
    use super::protocol::*;
    use super::*;

    #[test]
    fn a_reply_is_read_in_its_charset_only() {
        // ポール山田 in EUC-JP, then in Shift_JIS, echoed after the payment's fields.
        let head = b"id=pay_1&status=authorized&currency=JPY&amount=1080&captured=0&refunded=0&authorization_code=A-pay_1&customer=";
        let euc: &[u8] = b"\xa5\xdd\xa1\xbc\xa5\xeb\xbb\xb3\xc5\xc4";
        let sjis: &[u8] = b"\x83\x7c\x81\x5b\x83\x8b\x8e\x52\x93\x63";
        let reply = |name: &[u8]| {
            let mut body = head.to_vec();
            body.extend_from_slice(name);
            body.extend_from_slice(b"&processed_at=20231115073320");
            HttpResponse::new(200, body)
        };
        for (charset, name) in [(Charset::EucJp, euc), (Charset::ShiftJis, sjis)] {
            let Reply::Fields(kv) = parse(&reply(name), charset).unwrap() else {
                panic!("{charset:?}: a refusal");
            };
            let p = payment(&kv).unwrap();
            assert_eq!((p.id.as_str(), p.amount), ("pay_1", 1080));
        }
        // Shift_JIS read as EUC-JP: not valid there, refused rather than guessed.
        let e = parse(&reply(sjis), Charset::EucJp).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Protocol);
    }

    #[test]
    fn a_form_is_written_in_its_charset() {
        use renkei_sdk::wire::FormBody;
        let e = FormBody::new(Charset::EucJp)
            .field("customer", CUSTOMER)
            .encode()
            .unwrap();
        assert_eq!(e.body, "customer=%A5%DD%A1%BC%A5%EB%BB%B3%C5%C4");
        let e = FormBody::new(Charset::ShiftJis).field("customer", "ポ");
        assert_eq!(e.encode().unwrap().body, "customer=%83%7C");
    }
}
