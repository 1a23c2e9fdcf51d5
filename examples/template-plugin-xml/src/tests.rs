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

/// `text` as the gateway writes it: declared and encoded in its charset.
fn reply(text: &str) -> Vec<u8> {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"{}\"?>\n",
        protocol::CHARSET.name()
    )
    .into_bytes();
    body.extend(protocol::CHARSET.encode(text).unwrap());
    body
}

/// A refusal listing `codes` (each with some words), as the gateway writes it.
fn refusal(codes: &[&str]) -> Vec<u8> {
    let errors: String = codes
        .iter()
        .map(|c| format!("<error><code>{c}</code><message>about {c}</message></error>"))
        .collect();
    reply(&format!("<errors>{errors}</errors>"))
}

/// The gateway's answer to an order's entry, the first step of an authorization.
fn entered() -> Vec<u8> {
    reply("<entry><id>entry_1</id><processed_at>20231115073319</processed_at></entry>")
}

/// The second step of an authorization of ポール山田's order, once entered: the charge.
fn charge() -> renkei_sdk::Exchange {
    let g = gateway();
    let op = authorize(CUSTOMER);
    let x = sent(g.prepare(&op, &ctx()).unwrap());
    let entered = HttpResponse::new(200, entered());
    sent(g.interpret(&op, &ctx(), &x.state, &entered).unwrap())
}

/// How the plugin reads the gateway's answer `body` to the charge.
fn charge_answered(body: &[u8]) -> Result<Step, GatewayError> {
    let x = charge();
    let reply = HttpResponse::new(200, body.to_vec());
    gateway().interpret(&authorize(CUSTOMER), &ctx(), &x.state, &reply)
}

/// A captured pay_1 (`captured` yen of 1080), as the gateway writes it: `processed_at` last.
fn payment_reply(id: &str, captured: u32) -> Vec<u8> {
    reply(&format!(
        "<payment>\n  <id>{id}</id>\n  <status>captured</status>\n  <currency>JPY</currency>\n  <amount>1080</amount>\n  <captured>{captured}</captured>\n  <refunded>0</refunded>\n  <authorization_code>A-{id}</authorization_code>\n  <processed_at>20231115073320</processed_at>\n</payment>\n"
    ))
}

fn captured() -> Vec<u8> {
    payment_reply("pay_1", 1080)
}

#[test]
fn manifest_is_valid() {
    let m = KumoPay::manifest();
    m.validate().unwrap();
    assert_eq!(m.gateway_id, "kumopay-xml");
}

/// Two steps, as GMO-PG's `EntryTran` and `ExecTran`: the entry registers the order id and is
/// declared so (the host then knows a failed entry moved no money); the charge carries the card
/// token, which its journal copy and the continuation never hold.
#[test]
fn authorize_enters_the_order_then_charges_the_card_in_the_charset() {
    let x = sent(gateway().prepare(&authorize(CUSTOMER), &ctx()).unwrap());
    let content_type = format!("application/xml; charset={}", protocol::CHARSET.name());
    assert_post(&x, "entry", "http://127.0.0.1:9/v1/entries", &content_type);
    assert_eq!(x.effect, StepEffect::Registers);
    // The order id the host's rules give this attempt.
    let order = ctx().order_id(&manifest::order_id_rules(), &OrderRef::new("order-1"));
    let head = format!(
        "<?xml version=\"1.0\" encoding=\"{}\"?>",
        protocol::CHARSET.name()
    );
    let entry = format!(
        "{head}<request><merchant>m_1</merchant><order>{order}</order><amount>1080</amount><currency>JPY</currency></request>"
    );
    assert_eq!(x.request.body.to_vec(), entry.as_bytes());
    assert_eq!(x.journal_body.as_deref(), Some(entry.as_str()));

    let x = charge();
    assert_post(
        &x,
        "authorize",
        "http://127.0.0.1:9/v1/payments",
        &content_type,
    );
    assert_eq!(x.effect, StepEffect::MayMoveMoney);
    // ポール山田 in the gateway's charset, as bytes.
    let customer: &[u8] = match protocol::CHARSET {
        Charset::ShiftJis => b"\x83\x7c\x81\x5b\x83\x8b\x8e\x52\x93\x63",
        Charset::EucJp => b"\xa5\xdd\xa1\xbc\xa5\xeb\xbb\xb3\xc5\xc4",
        Charset::Utf8 => CUSTOMER.as_bytes(),
    };
    let mut body = format!(
        "{head}<request><merchant>m_1</merchant><entry>entry_1</entry><token>tok_canary</token><customer>"
    )
    .into_bytes();
    body.extend(customer);
    body.extend(b"</customer></request>");
    assert_eq!(x.request.body.to_vec(), body);
    let journal = x.journal_body.unwrap();
    assert_eq!(
        journal,
        format!(
            "{head}<request><merchant>m_1</merchant><entry>entry_1</entry><token>{}</token><customer>{CUSTOMER}</customer></request>",
            Secret::PLACEHOLDER
        )
    );
    assert!(!journal.contains("tok_canary"));
    assert!(!String::from_utf8_lossy(&x.state).contains("tok_canary"));
    assert!(!format!("{:?}", x.request).contains("ak_canary"));
}

/// Markup in a value is escaped: a customer named `<b>&` cannot add an element.
#[test]
fn a_value_is_escaped_never_markup() {
    let x = sent(gateway().prepare(&authorize("ポール"), &ctx()).unwrap());
    let entered = HttpResponse::new(200, entered());
    let op = authorize("<token>x</token>&");
    let x = sent(
        gateway()
            .interpret(&op, &ctx(), &x.state, &entered)
            .unwrap(),
    );
    let journal = x.journal_body.unwrap();
    assert!(
        journal.contains("<customer>&lt;token&gt;x&lt;/token&gt;&amp;</customer>"),
        "{journal}"
    );
    assert_eq!(journal.matches("<token>").count(), 1, "{journal}");
}

#[test]
fn a_customer_the_charset_cannot_write_is_refused_before_sending() {
    // UTF-8 writes every character; the Japanese charsets have no emoji.
    if protocol::CHARSET != Charset::Utf8 {
        let e = gateway()
            .prepare(&authorize("Ｐａｕｌ 😀"), &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains("customer"), "{e}");
    }
    // A character XML cannot carry at all.
    let e = gateway()
        .prepare(&authorize("Paul\u{1}"), &ctx())
        .unwrap_err();
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
    let head = format!(
        "<?xml version=\"1.0\" encoding=\"{}\"?>",
        protocol::CHARSET.name()
    );
    assert_eq!(
        x.request.body.to_vec(),
        format!("{head}<request></request>").as_bytes()
    );
    let x = sent(
        gateway()
            .prepare(&PAYMENT.capture(1080, Some(980)), &ctx())
            .unwrap(),
    );
    let body = format!("{head}<request><amount>980</amount></request>");
    assert_eq!(x.request.body.to_vec(), body.as_bytes());
    // Signed over the document as sent, as the JSON wire signs its document.
    let sig = signing::signature(
        &Secret::new("sk_test"),
        "POST",
        "/v1/payments/pay_1/capture",
        1_700_000_000,
        body.as_bytes(),
    );
    assert_eq!(x.request.headers.get("Kumo-Signature"), Some(sig.as_str()));
}

#[test]
fn captured_reply_becomes_a_captured_outcome() {
    let Step::Done(o) = capture_answered(&captured()).unwrap() else {
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
    let e = charge_answered(&refusal(&["card_declined"])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Declined);
    assert_eq!(e.gateway_code.as_deref(), Some("card_declined"));
    assert!(e.other_codes.is_empty());
    // The gateway's words, verbatim.
    assert_eq!(e.gateway_message.as_deref(), Some("about card_declined"));
}

#[test]
fn a_reply_listing_several_codes_keeps_them_all_and_takes_the_declared_rules_kind() {
    // As the emulator answers `tok_declined_over_limit`: the decline first, then the limit.
    let e = charge_answered(&refusal(&["card_declined", "amount_too_large"])).unwrap_err();
    // Most cautious (the manifest's rule): the gateway's refusal outweighs the card's decline.
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.gateway_code.as_deref(), Some("amount_too_large"));
    assert_eq!(e.other_codes, ["card_declined"]);
    assert_eq!(KumoPay::manifest().multi_error, MULTI_ERROR);
}

/// A reply cut anywhere, inside its last value too, is never a success: the document is no
/// longer whole (its end tags are missing), whatever the cut leaves of the value. The same for a
/// refusal and for the entry's answer (a cut entry id is never charged under).
#[test]
fn a_reply_cut_inside_its_last_value_is_refused_never_read() {
    let whole = captured();
    let at = whole.windows(8).position(|w| w == b"20231115").unwrap();
    let cut = &whole[..at + 11];
    assert!(cut.ends_with(b"<processed_at>20231115073"));
    assert_eq!(capture_answered(cut).unwrap_err().kind, ErrorKind::Protocol);
    // A well-formed document whose last value is short is refused by its shape.
    let short = String::from_utf8(whole.clone())
        .unwrap()
        .replace("20231115073320", "2023111507");
    assert_eq!(
        capture_answered(short.as_bytes()).unwrap_err().kind,
        ErrorKind::Protocol
    );
    let two = refusal(&["card_declined", "amount_too_large"]);
    // The trailing newline is white space after the root: a cut only there leaves it whole.
    let whole = &whole[..whole.len() - 1];
    for whole in [whole, &two[..]] {
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
    let entered = entered();
    for len in 1..entered.len() {
        let e = answered(&authorize(CUSTOMER), 200, &entered[..len]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{len}");
    }
}

/// The gateway refuses an order id it has seen, at the entry. The host issues one per
/// attempt, so this is a refusal of this request, which applied nothing: `Rejected` (not
/// `AlreadyDone`, which would claim the authorization exists), and the host reads it as
/// nothing moved, as it reads any failure of a step declared to move no money.
#[test]
fn a_duplicate_order_id_is_a_refusal_that_moved_nothing() {
    let e = answered(&authorize(CUSTOMER), 200, &refusal(&["duplicate_order"])).unwrap_err();
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
    let e = charge_answered(&refusal(&["duplicate_order"])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
}

#[test]
fn an_undocumented_error_code_is_never_taken_for_a_refusal() {
    let e = capture_answered(&refusal(&["ledger_locked"])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert_eq!(e.gateway_code.as_deref(), Some("ledger_locked"));
}

#[test]
fn bad_replies_are_protocol_errors() {
    let whole = String::from_utf8(captured()).unwrap();
    let payment = |from: &str, to: &str| whole.replacen(from, to, 1).into_bytes();
    for (status, body) in [
        (200, Vec::new()),
        (201, captured()),
        (500, captured()),
        (502, b"<html>Bad gateway</html>".to_vec()),
        (200, reply("<html>ok</html>")),
        // No declaration, another encoding declared.
        (200, b"<payment><id>pay_1</id></payment>".to_vec()),
        (200, payment("encoding=\"", "encoding=\"x")),
        // Not well-formed, or more than one document.
        (200, payment("</id>", "</od>")),
        (200, payment("</payment>", "</payment><payment/>")),
        (200, payment("</payment>", "</payment>trailing")),
        (200, payment("<id>", "<id>&unknown;")),
        (200, payment("<id>", "<id><![CDATA[x]]>")),
        // A field twice, nested, with attributes; text beside elements.
        (200, payment("<status>", "<id>pay_1</id><status>")),
        (200, payment("<id>pay_1</id>", "<id><x>pay_1</x></id>")),
        (200, payment("<id>", "<id kind=\"a\">")),
        (200, payment("<id>", "loose<id>")),
        // Value shapes.
        (200, payment("<amount>1080", "<amount>-1080")),
        (200, payment("<currency>JPY", "<currency>jpy")),
        (200, payment("<id>pay_1", "<id>pay/1")),
        (200, payment("<captured>1080", "<captured>")),
        // Another answer than a payment: an entry.
        (200, entered()),
        // Refusals without a documented shape.
        (200, reply("<errors></errors>")),
        (
            200,
            reply("<errors><error><message>x</message></error></errors>"),
        ),
        (
            200,
            reply("<errors><error><code>Card Declined</code></error></errors>"),
        ),
        (
            200,
            reply("<errors><fault><code>card_declined</code></fault></errors>"),
        ),
        // Bytes not valid in the charset.
        (
            200,
            [&reply("<payment>")[..], &[0x83, 0x7c, 0x83][..]].concat(),
        ),
    ] {
        let e = answered(&PAYMENT.capture(1080, None), status, &body).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Protocol,
            "HTTP {status} {:?}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn a_reply_about_another_payment_or_amount_is_a_protocol_error() {
    assert_eq!(
        capture_answered(&payment_reply("pay_2", 1080))
            .unwrap_err()
            .kind,
        ErrorKind::Protocol
    );
    assert_eq!(
        capture_answered(&payment_reply("pay_1", 10))
            .unwrap_err()
            .kind,
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
    let reply = HttpResponse::new(200, refusal(&["payment_not_found"]));
    let Step::Done(o) = g.interpret(&op, &ctx, &x.state, &reply).unwrap() else {
        panic!()
    };
    assert_eq!(o.state, PaymentState::AwaitingAuthorization);
}

/// The wire alone, below the operations: the charset is a parameter of the reader.
mod wire {
    use super::protocol::*;
    use super::*;

    /// ポール山田 in EUC-JP, then in Shift_JIS (`83 7C`: a `|` byte inside a character), echoed
    /// after the payment's fields, each reply declared in its charset.
    #[test]
    fn a_reply_is_read_in_its_charset_only() {
        let euc: &[u8] = b"\xa5\xdd\xa1\xbc\xa5\xeb\xbb\xb3\xc5\xc4";
        let sjis: &[u8] = b"\x83\x7c\x81\x5b\x83\x8b\x8e\x52\x93\x63";
        let reply = |label: &str, name: &[u8]| {
            let mut body = format!("<?xml version=\"1.0\" encoding=\"{label}\"?><payment><id>pay_1</id><status>authorized</status><currency>JPY</currency><amount>1080</amount><captured>0</captured><refunded>0</refunded><authorization_code>A-pay_1</authorization_code><customer>").into_bytes();
            body.extend_from_slice(name);
            body.extend_from_slice(
                b"</customer><processed_at>20231115073320</processed_at></payment>",
            );
            HttpResponse::new(200, body)
        };
        for (charset, label, name) in [
            (Charset::EucJp, "EUC-JP", euc),
            (Charset::ShiftJis, "Shift_JIS", sjis),
        ] {
            let Reply::Fields(fields) = parse(&reply(label, name), charset).unwrap() else {
                panic!("{charset:?}: a refusal");
            };
            assert_eq!(fields.get("customer"), Some(CUSTOMER));
            let p = payment(&fields).unwrap();
            assert_eq!((p.id.as_str(), p.amount), ("pay_1", 1080));
        }
        // Shift_JIS read as EUC-JP: not valid there, refused rather than guessed; and a
        // document declared in another charset than the gateway's.
        let e = parse(&reply("EUC-JP", sjis), Charset::EucJp).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Protocol);
        let e = parse(&reply("EUC-JP", euc), Charset::ShiftJis)
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Protocol);
    }

    #[test]
    fn a_document_is_written_in_its_charset() {
        let e = XmlBody::new(Charset::EucJp)
            .field("customer", CUSTOMER)
            .encode()
            .unwrap();
        let mut body = b"<?xml version=\"1.0\" encoding=\"EUC-JP\"?><request><customer>".to_vec();
        body.extend(b"\xa5\xdd\xa1\xbc\xa5\xeb\xbb\xb3\xc5\xc4");
        body.extend(b"</customer></request>");
        assert_eq!(e.body, body);
        let e = XmlBody::new(Charset::ShiftJis)
            .field("customer", "ポ")
            .secret("token", &Secret::new("tok_canary"))
            .encode()
            .unwrap();
        assert!(
            e.body
                .ends_with(b"<customer>\x83\x7c</customer><token>tok_canary</token></request>")
        );
        assert!(e.journal.ends_with(&format!(
            "<customer>ポ</customer><token>{}</token></request>",
            Secret::PLACEHOLDER
        )));
    }
}
