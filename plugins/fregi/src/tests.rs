//! Translation tests from recorded bytes: no network, no host, no emulator.
//!
//! Test names cite the rule they guard where there is one.

use super::*;
use proptest::prelude::*;
use renkei_sdk::testing::{self, Payment, assert_gateway_said, assert_post, done, sent};
use renkei_sdk::{
    AmountChange, ConfigValue, Currency, CustomerRef, Effect, Exchange, Inquiry, OrderRef,
    PartialCapture, PartialRefund, Secret,
};
use std::collections::BTreeMap;

const SEQ1: &str = "00000000000001287483";
const SEQ2: &str = "00000000000001287484";
/// The reference the host keeps for SEQ1 authorized with AUTHCODE `EHcUBW`: `SEQNO-AUTHCODE`.
const REF1: &str = "00000000000001287483-EHcUBW";
const ORDER: &str = "100000924506";

/// 売上処理時の指定された取引は売上受付済みです, in EUC-JP (converted with iconv, not encoding_rs).
const ALREADY_SOLD_EUC: &[u8] = b"\xc7\xe4\xbe\xe5\xbd\xe8\xcd\xfd\xbb\xfe\xa4\xce\xbb\xd8\xc4\xea\xa4\xb5\xa4\xec\xa4\xbf\xbc\xe8\xb0\xfa\xa4\xcf\xc7\xe4\xbe\xe5\xbc\xf5\xc9\xd5\xba\xd1\xa4\xdf\xa4\xc7\xa4\xb9";
/// 売上処理時の指定された取引は承認取消済みです, in EUC-JP (iconv).
const ALREADY_VOIDED_EUC: &[u8] = b"\xc7\xe4\xbe\xe5\xbd\xe8\xcd\xfd\xbb\xfe\xa4\xce\xbb\xd8\xc4\xea\xa4\xb5\xa4\xec\xa4\xbf\xbc\xe8\xb0\xfa\xa4\xcf\xbe\xb5\xc7\xa7\xbc\xe8\xbe\xc3\xba\xd1\xa4\xdf\xa4\xc7\xa4\xb9";
/// 限度額オーバー in EUC-JP (iconv).
const OVER_LIMIT_EUC: &[u8] = b"\xb8\xc2\xc5\xd9\xb3\xdb\xa5\xaa\xa1\xbc\xa5\xd0\xa1\xbc";
/// 限度額オーバー in Shift_JIS (iconv): a reply in the wrong encoding.
const OVER_LIMIT_SJIS: &[u8] = b"\x8c\xc0\x93\x78\x8a\x7a\x83\x49\x81\x5b\x83\x6f\x81\x5b";

/// The payment the operations act on: SEQ1 authorized for ORDER.
const PAYMENT: Payment = Payment {
    order: ORDER,
    transaction: REF1,
};

fn gateway_with(extra: &[(&str, ConfigValue)]) -> Fregi {
    let base = testing::text(&[
        ("base_url", "http://127.0.0.1:9/connect/"),
        ("shop_id", "12345"),
    ]);
    testing::configure(base.into_iter().chain(extra.iter().cloned())).unwrap()
}

fn gateway() -> Fregi {
    gateway_with(&[])
}

fn with_inquiry() -> Fregi {
    gateway_with(&[(
        "inquiry_url",
        ConfigValue::Text("http://127.0.0.1:9/__emulator__/info".into()),
    )])
}

fn ctx() -> Context<'static> {
    Context::fixed(1_700_000_000_000, "100000924506:op:1")
}

fn order() -> OrderRef {
    OrderRef::new(ORDER)
}

fn authorize(amount: i64, source: PaymentSource, description: Option<&str>) -> Operation {
    Operation::Authorize {
        order: order(),
        amount: Money::jpy(amount),
        source,
        customer: None,
        description: description.map(str::to_owned),
    }
}

fn token(t: &str) -> PaymentSource {
    PaymentSource::Token {
        token: Secret::new(t),
        key: None,
    }
}

fn card(number: &str, scode: Option<&str>) -> PaymentSource {
    PaymentSource::Card(CardData {
        number: Secret::new(number),
        expiry: Secret::new("203012"),
        security_code: scode.map(Secret::new),
        holder: Some(Secret::new("TARO YAMADA")),
    })
}

fn capture(authorized: i64, amount: Option<i64>) -> Operation {
    PAYMENT.capture(authorized, amount)
}

fn void() -> Operation {
    PAYMENT.void(1080)
}

fn refund(captured: i64, amount: Option<i64>) -> Operation {
    PAYMENT.refund(captured, amount)
}

fn change(from: i64, to: i64) -> Operation {
    PAYMENT.change(from, to)
}

fn inquire() -> Operation {
    PAYMENT.inquire()
}

fn body(x: &Exchange) -> &str {
    std::str::from_utf8(&x.request.body).unwrap()
}

fn ok(body: &[u8]) -> HttpResponse {
    HttpResponse::new(200, body.to_vec())
}

/// Prepares `op`, answers its first exchange with `reply`.
fn answer(g: &Fregi, op: &Operation, reply: HttpResponse) -> Result<Step, GatewayError> {
    let x = sent(g.prepare(op, &ctx()).unwrap());
    g.interpret(op, &ctx(), &x.state, &reply)
}

/// The sale `op` sends once F-REGI approved its authchange (new SEQNO SEQ2, AUTHCODE 123456).
fn sale_after_change(g: &Fregi, op: &Operation) -> Exchange {
    let change = sent(g.prepare(op, &ctx()).unwrap());
    let approved = ok(format!("OK\n{SEQ2}\n123456\n").as_bytes());
    sent(g.interpret(op, &ctx(), &change.state, &approved).unwrap())
}

/// The error the plugin makes of F-REGI's `reply` to a capture of all 1080 yen.
fn capture_refused(reply: HttpResponse) -> GatewayError {
    answer(&gateway(), &capture(1080, None), reply).unwrap_err()
}

// ---- manifest and tables ----------------------------------------------------------------

#[test]
fn manifest_is_valid_and_declares_what_the_plugin_does() {
    let m = Fregi::manifest();
    m.validate().unwrap();
    assert_eq!(m.gateway_id, "fregi");
    let caps = &m.capabilities;
    assert_eq!(caps.amount_change, AmountChange::DeferredToCapture);
    assert_eq!(caps.inquiry, Inquiry::EmulatorOnly);
    // F-2: authchange then sale; a partial refund is salechange, a replaced sale.
    assert_eq!(caps.partial_capture, PartialCapture::ChangeThenCapture);
    assert_eq!(caps.partial_refund, PartialRefund::ChangeDown);
    // authchange must never be replayed blindly; a capture may start with authchange.
    assert!(!caps.is_replay_safe(OperationKind::ChangeAmount));
    assert!(!caps.is_replay_safe(OperationKind::Capture));
    assert!(!caps.is_replay_safe(OperationKind::Authorize));
    assert!(caps.is_replay_safe(OperationKind::Void));
    assert_eq!((m.limits.min_amount, m.limits.max_amount), (2, 9_999_999));
    assert!(
        m.config.iter().all(|k| !k.secret),
        "F-REGI calls carry no secret"
    );
    let base = m.config.iter().find(|k| k.name == "base_url").unwrap();
    assert_eq!(
        base.default.as_deref(),
        Some("https://ssl.f-regi.com/connect/")
    );
}

#[test]
fn f11_all_ten_statuses_map_to_one_state_each_with_the_manual_labels() {
    let m = Fregi::manifest();
    let expect = [
        ("10", "承認済", PaymentState::Authorized),
        ("12", "承認取消", PaymentState::Voided),
        ("11", "承認失敗", PaymentState::AuthorizationFailed),
        (
            "20",
            "売上済（未伝送）",
            PaymentState::Captured {
                settlement: Settlement::Pending,
            },
        ),
        (
            "21",
            "売上済（伝送済）",
            PaymentState::Captured {
                settlement: Settlement::Settled,
            },
        ),
        (
            "30",
            "売上取消（未伝送）",
            PaymentState::Refunded {
                extent: RefundExtent::Full,
                settlement: Settlement::Pending,
            },
        ),
        (
            "31",
            "売上取消（伝送済）",
            PaymentState::Refunded {
                extent: RefundExtent::Full,
                settlement: Settlement::Settled,
            },
        ),
        ("22", "売上失敗", PaymentState::CaptureFailed),
        (
            "40",
            "予約（未オーソリ）",
            PaymentState::AwaitingAuthorization,
        ),
        (
            "41",
            "通常処理（有効性確認済み）",
            PaymentState::AuthorizationFailed,
        ),
    ];
    assert_eq!(m.statuses.len(), 10);
    for (code, label, state) in expect {
        let s = m.status(code).unwrap_or_else(|| panic!("status {code}"));
        assert_eq!(s.label, label, "{code}");
        assert_eq!(s.state, state, "{code}");
    }
    // Cancellations can never be restored (F-12).
    for code in ["12", "30", "31"] {
        assert!(m.status(code).unwrap().terminal, "{code}");
    }
    assert_eq!(m.state_of("99"), PaymentState::Unknown { raw: "99".into() });
}

#[test]
fn error_table_separates_card_declines_from_operational_refusals() {
    let kind = |code: &str| errors::classify(&ERRORS, Some(code), None).0;
    for code in [
        "A1-1-31", "A1-1-52", "A1-1-132", "A1-1-171", "JCN-G12", "JCN-G55", "JCN-G77", "JCN-G99",
    ] {
        assert_eq!(kind(code), ErrorKind::Declined, "{code}");
    }
    for code in [
        "S1-1-125", "S1-1-120", "A1-1-60", "A3-1-21", "S3-1-22", "S2-1-124",
    ] {
        assert_eq!(kind(code), ErrorKind::Rejected, "{code}");
    }
    for code in ["A1-1-10", "S1-1-10", "A3-1-10"] {
        assert_eq!(kind(code), ErrorKind::Authentication, "{code}");
    }
    assert_eq!(kind("S1-1-121"), ErrorKind::AlreadyDone);
    assert_eq!(kind("A2-1-122"), ErrorKind::AlreadyDone);
    assert_eq!(kind("S2-1-123"), ErrorKind::AlreadyDone);
    assert_eq!(kind("JCN-G95"), ErrorKind::Unavailable);
    assert_eq!(
        errors::classify(&ERRORS, Some("Q9-9-9"), None),
        (
            ErrorKind::Protocol,
            "F-REGI error code Q9-9-9 is not documented: the request may have been processed"
                .into()
        )
    );
    // The manifest marks stand-ins so nobody searches F-REGI's list for them.
    let m = Fregi::manifest();
    assert!(m.error("S1-1-121").unwrap().message.contains("stand-in"));
    assert!(!m.error("S1-1-125").unwrap().message.contains("stand-in"));
}

#[test]
fn config_normalises_the_base_and_checks_the_shop_id() {
    let g = gateway_with(&[(
        "base_url",
        ConfigValue::Text("https://ssl.f-regi.com/connecttest".into()),
    )]);
    assert_eq!(g.base, "https://ssl.f-regi.com/connecttest/");
    let raw: BTreeMap<String, ConfigValue> =
        [("shop_id".to_owned(), ConfigValue::Text("12345".into()))].into();
    let g = Fregi::from_config(&Config::validate(&Fregi::manifest(), &raw).unwrap()).unwrap();
    assert_eq!(g.base, "https://ssl.f-regi.com/connect/");
    for bad in ["12a45", ""] {
        let raw: BTreeMap<String, ConfigValue> =
            [("shop_id".to_owned(), ConfigValue::Text(bad.into()))].into();
        let config = Config::validate(&Fregi::manifest(), &raw).unwrap();
        assert!(
            matches!(
                Fregi::from_config(&config),
                Err(ConfigError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
}

// ---- request encoding -------------------------------------------------------------------

#[test]
fn authorize_with_a_token_posts_a_form_to_authm_and_keeps_the_token_out_of_the_journal() {
    let x = sent(
        gateway()
            .prepare(&authorize(1080, token("tok+canary=/1"), None), &ctx())
            .unwrap(),
    );
    assert_post(
        &x,
        "authm",
        "http://127.0.0.1:9/connect/authm.cgi",
        "application/x-www-form-urlencoded",
    );
    // CHARCODE on every authm, naming the body's encoding (S4, S5, S6).
    assert_eq!(
        body(&x),
        "SHOPID=12345&PAY=1080&ID=100000924506&TOKEN=tok%2Bcanary%3D%2F1&CHARCODE=utf8"
    );
    let journal = x.journal_body.unwrap();
    assert_eq!(
        journal,
        "SHOPID=12345&PAY=1080&ID=100000924506&TOKEN=[redacted]&CHARCODE=utf8"
    );
}

#[test]
fn authorize_with_a_test_card_splits_the_number_and_redacts_every_card_field() {
    let x = sent(
        gateway()
            .prepare(
                &authorize(500, card("4980111111111111", Some("111")), None),
                &ctx(),
            )
            .unwrap(),
    );
    assert_eq!(
        body(&x),
        "SHOPID=12345&PAY=500&ID=100000924506&PAN1=4980&PAN2=1111&PAN3=1111&PAN4=1111\
         &CARDEXPIRY1=12&CARDEXPIRY2=30&CARDNAME=TARO%20YAMADA&SCODE=111&CHARCODE=utf8"
    );
    let journal = x.journal_body.unwrap();
    for secret in ["4980", "TARO", "SCODE=111", "CARDEXPIRY1=12"] {
        assert!(!journal.contains(secret), "{secret} in {journal}");
    }
    assert!(!format!("{:?}", x.request).contains("4980"));
    // 15-digit numbers are left-aligned in the four groups.
    let x = sent(
        gateway()
            .prepare(&authorize(500, card("378282246310005", None), None), &ctx())
            .unwrap(),
    );
    assert!(
        body(&x).contains("PAN1=3782&PAN2=8224&PAN3=6310&PAN4=005&"),
        "{}",
        body(&x)
    );
    assert!(!body(&x).contains("SCODE"));
}

#[test]
fn bad_card_data_is_refused_without_quoting_it() {
    for source in [
        card("4111-1111-1111-1111", None),
        card("4111111111111111", Some("12")),
        PaymentSource::Card(CardData {
            number: Secret::new("4111111111111111"),
            expiry: Secret::new("203013"),
            security_code: None,
            holder: Some(Secret::new("TARO")),
        }),
        PaymentSource::Card(CardData {
            number: Secret::new("4111111111111111"),
            expiry: Secret::new("203012"),
            security_code: None,
            holder: Some(Secret::new("山田太郎")),
        }),
    ] {
        let e = gateway()
            .prepare(&authorize(500, source, None), &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(!e.message.contains("4111"), "{}", e.message);
    }
}

#[test]
fn free_goes_half_width_with_full_width_ascii_and_the_ideographic_space_folded() {
    // Full-width ASCII (U+FF01..U+FF5E) and U+3000 have half-width forms; the body stays ASCII
    // and CHARCODE=utf8 names it truthfully.
    let x = sent(
        gateway()
            .prepare(
                &authorize(
                    1080,
                    token("t"),
                    Some("Ｔ－ｓｈｉｒｔ\u{3000}＆ ｓｈｉｐｐｉｎｇ"),
                ),
                &ctx(),
            )
            .unwrap(),
    );
    assert_eq!(
        body(&x),
        "SHOPID=12345&PAY=1080&ID=100000924506&TOKEN=t\
         &FREE=T-shirt%20%26%20shipping&CHARCODE=utf8"
    );
    // FREE holds 255 bytes: clipped.
    let long = "Ａ".repeat(300);
    let x = sent(
        gateway()
            .prepare(&authorize(1080, token("t"), Some(&long)), &ctx())
            .unwrap(),
    );
    let free = body(&x).split("FREE=").nth(1).unwrap();
    let free = free.split('&').next().unwrap();
    assert_eq!(free, "A".repeat(255));
}

#[test]
fn free_that_cannot_be_written_half_width_is_refused_before_anything_is_built() {
    for (text, reason) in [
        ("Tシャツ", "U+30B7"),
        ("送料", "U+9001"),
        // Half-width katakana: no evidence F-REGI accepts it in FREE, so it is refused too.
        ("ﾃｽﾄ", "half-width katakana"),
        ("bell\u{7}", "U+0007"),
    ] {
        let e = gateway()
            .prepare(&authorize(1080, token("t"), Some(text)), &ctx())
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{text}");
        assert!(e.message.contains("FREE"), "{}", e.message);
        assert!(e.message.contains(reason), "{}", e.message);
        assert_eq!(e.gateway_code, None);
    }
}

#[test]
fn authm_sends_ip_and_monthly_where_the_shop_configures_them() {
    let g = gateway_with(&[
        ("ip", ConfigValue::Text("203.0.113.7".into())),
        ("monthly", ConfigValue::Text("1".into())),
    ]);
    let x = sent(
        g.prepare(&authorize(1080, token("t"), None), &ctx())
            .unwrap(),
    );
    assert_eq!(
        body(&x),
        "SHOPID=12345&PAY=1080&ID=100000924506&IP=203.0.113.7&MONTHLY=1&TOKEN=t&CHARCODE=utf8"
    );
    // Only authm carries them.
    let x = sent(g.prepare(&capture(1080, None), &ctx()).unwrap());
    assert!(!body(&x).contains("IP=") && !body(&x).contains("MONTHLY"));
}

#[test]
fn ip_and_monthly_config_values_are_validated() {
    let raw = |k: &str, v: &str| -> BTreeMap<String, ConfigValue> {
        [("shop_id", "12345"), (k, v)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v.to_owned())))
            .collect()
    };
    for (k, v) in [
        ("ip", "not-an-ip"),
        ("ip", "1.2.3"),
        ("monthly", "2"),
        ("monthly", "yes"),
    ] {
        let config = Config::validate(&Fregi::manifest(), &raw(k, v)).unwrap();
        let Err(ConfigError::Invalid { key, reason }) = Fregi::from_config(&config) else {
            panic!("{k} = {v} was accepted");
        };
        assert_eq!(key, k);
        assert!(!reason.contains(v), "{reason}");
    }
    for (k, v) in [("ip", "2001:db8::1"), ("monthly", "0")] {
        let config = Config::validate(&Fregi::manifest(), &raw(k, v)).unwrap();
        assert!(Fregi::from_config(&config).is_ok(), "{k} = {v}");
    }
}

#[test]
fn a_stored_customer_is_charged_by_customerid_alone_with_skipscode() {
    let source = PaymentSource::StoredCustomer(CustomerRef::new("cust-42"));
    let x = sent(
        gateway()
            .prepare(&authorize(3000, source, None), &ctx())
            .unwrap(),
    );
    // SKIPSCODE=1: the security code is never stored (S5 sends it on every stored-card
    // authorization).
    assert_eq!(
        body(&x),
        "SHOPID=12345&PAY=3000&ID=100000924506&CUSTOMERID=cust-42&SKIPSCODE=1&CHARCODE=utf8"
    );
    // Card data or a token: the security code travels or the token stands for it.
    let x = sent(
        gateway()
            .prepare(&authorize(3000, token("t"), None), &ctx())
            .unwrap(),
    );
    assert!(!body(&x).contains("SKIPSCODE"), "{}", body(&x));
    let e = gateway()
        .prepare(
            &authorize(
                3000,
                PaymentSource::PreviousTransaction(TransactionRef::new(SEQ1)),
                None,
            ),
            &ctx(),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}

#[test]
fn an_order_code_that_cannot_be_an_id_is_refused_before_sending() {
    let op = Operation::Authorize {
        order: OrderRef::new("order/1&PAY=2"),
        amount: Money::jpy(1080),
        source: token("t"),
        customer: None,
        description: None,
    };
    assert_eq!(
        gateway().prepare(&op, &ctx()).unwrap_err().kind,
        ErrorKind::InvalidRequest
    );
}

#[test]
fn f1_capture_at_the_authorized_amount_is_one_sale_with_shopid_authcode_and_seqno() {
    // Every production client sends all three on every sale (S5, S6).
    for amount in [None, Some(1080)] {
        let x = sent(gateway().prepare(&capture(1080, amount), &ctx()).unwrap());
        assert_eq!(x.step, "sale");
        assert_eq!(x.request.url, "http://127.0.0.1:9/connect/sale.cgi");
        assert_eq!(
            body(&x),
            format!("SHOPID=12345&AUTHCODE=EHcUBW&SEQNO={SEQ1}")
        );
    }
}

#[test]
fn the_reference_is_seqno_dash_authcode_and_a_legacy_bare_seqno_still_works() {
    assert_eq!(
        Reference::parse(REF1),
        Some(Reference::new(SEQ1, Some("EHcUBW")))
    );
    assert_eq!(
        Reference::parse(SEQ1),
        Some(Reference::new(SEQ1, None::<&str>))
    );
    assert_eq!(Reference::parse(REF1).unwrap().to_string(), REF1);
    for bad in [
        "",
        "-EHcUBW",
        "123-",
        "123-ABCDEFG",
        "12a-EH",
        "123-EH-1",
        "123-EH&X",
    ] {
        assert_eq!(Reference::parse(bad), None, "{bad:?}");
    }
    // A legacy reference (written before the AUTHCODE was kept) captures without AUTHCODE, and
    // the outcome names it as the host knows it.
    let legacy = Payment {
        order: ORDER,
        transaction: SEQ1,
    };
    let op = legacy.capture(1080, None);
    let x = sent(gateway().prepare(&op, &ctx()).unwrap());
    assert_eq!(body(&x), format!("SHOPID=12345&SEQNO={SEQ1}"));
    let o = done(
        gateway()
            .interpret(
                &op,
                &ctx(),
                &x.state,
                &ok(format!("OK\n{SEQ1}\n").as_bytes()),
            )
            .unwrap(),
    );
    assert_eq!(o.transaction, Some(TransactionRef::new(SEQ1)));
}

#[test]
fn a_continuation_journaled_before_the_authcode_was_kept_still_decodes() {
    // The shape an older plugin journaled between authchange and sale.
    let old = br#"{"awaiting":"sale","seqno":"00000000000001287484","amount":1500,"changed":{"old_seqno":"00000000000001287483","old_amount":1080}}"#;
    let op = capture(1080, Some(1500));
    let o = done(
        gateway()
            .interpret(&op, &ctx(), old, &ok(format!("OK\n{SEQ2}\n").as_bytes()))
            .unwrap(),
    );
    assert_eq!(o.transaction, Some(TransactionRef::new(SEQ2)));
    assert_eq!(o.replaced, Some(TransactionRef::new(SEQ1)));
}

#[test]
fn void_is_authcancel_and_refunds_are_salecancel_or_salechange() {
    let x = sent(gateway().prepare(&void(), &ctx()).unwrap());
    assert_eq!(x.request.url, "http://127.0.0.1:9/connect/authcancel.cgi");
    assert_eq!(body(&x), format!("SHOPID=12345&CANCELSEQNO={SEQ1}"));

    for amount in [None, Some(1080)] {
        let x = sent(gateway().prepare(&refund(1080, amount), &ctx()).unwrap());
        assert_eq!(x.request.url, "http://127.0.0.1:9/connect/salecancel.cgi");
        assert_eq!(body(&x), format!("SHOPID=12345&CANCELSEQNO={SEQ1}"));
    }

    // A partial refund of 300 keeps a sale of 780.
    let x = sent(gateway().prepare(&refund(1080, Some(300)), &ctx()).unwrap());
    assert_eq!(x.request.url, "http://127.0.0.1:9/connect/salechange.cgi");
    assert_eq!(body(&x), format!("SHOPID=12345&SEQNO={SEQ1}&PAY=780"));
}

#[test]
fn quiet_adds_quiet_to_f_regi_scripts() {
    let g = gateway_with(&[("quiet", ConfigValue::Boolean(true))]);
    let x = sent(g.prepare(&void(), &ctx()).unwrap());
    assert_eq!(body(&x), format!("SHOPID=12345&QUIET=1&CANCELSEQNO={SEQ1}"));
}

#[test]
fn a_reference_that_is_not_a_seqno_is_refused_before_sending() {
    let op = Operation::Void {
        order: order(),
        transaction: TransactionRef::new("12&SHOPID=99999"),
        authorized: Money::jpy(5),
    };
    assert_eq!(
        gateway().prepare(&op, &ctx()).unwrap_err().kind,
        ErrorKind::InvalidRequest
    );
}

// ---- amounts (F-7, F-8) -----------------------------------------------------------------

#[test]
fn f7_one_yen_is_refused_before_anything_is_built() {
    for op in [
        capture(1080, Some(1)),
        capture(1, None),
        authorize(1, token("t"), None),
        change(1080, 1),
    ] {
        let e = gateway().prepare(&op, &ctx()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{op:?}");
        assert!(e.message.contains("F-7"), "{}", e.message);
        assert!(e.message.contains("2 yen"), "{}", e.message);
    }
    // A partial refund that would leave a 1-yen sale.
    let e = gateway()
        .prepare(&refund(1080, Some(1079)), &ctx())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.contains("F-7"), "{}", e.message);
}

#[test]
fn f8_zero_yen_is_no_payment_needed_and_points_to_a_void() {
    for op in [capture(1080, Some(0)), change(1080, 0)] {
        let e = gateway().prepare(&op, &ctx()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains("F-8"), "{}", e.message);
        assert!(e.message.contains("void"), "{}", e.message);
    }
    // Two yen is fine.
    assert!(gateway().prepare(&capture(1080, Some(2)), &ctx()).is_ok());
}

#[test]
fn amounts_out_of_range_or_currency_are_refused() {
    for op in [
        capture(1080, Some(10_000_000)),
        capture(1080, Some(-5)),
        refund(1080, Some(2000)),
        refund(1080, Some(0)),
        Operation::Capture {
            order: order(),
            transaction: TransactionRef::new(SEQ1),
            authorized: Money::new(1080, Currency::new("USD").unwrap()),
            amount: None,
        },
    ] {
        let e = gateway().prepare(&op, &ctx()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{op:?}");
    }
}

// ---- multi-step capture (F-2, F-3) ------------------------------------------------------

#[test]
fn f2_capture_at_a_changed_amount_reauthorizes_first_then_sells_the_new_seqno() {
    let g = gateway();
    for new_amount in [1500, 800] {
        let op = capture(1080, Some(new_amount));
        let first = sent(g.prepare(&op, &ctx()).unwrap());
        assert_eq!(first.step, "authchange");
        assert_eq!(
            first.request.url,
            "http://127.0.0.1:9/connect/authchange.cgi"
        );
        assert_eq!(
            body(&first),
            format!("SHOPID=12345&SEQNO={SEQ1}&PAY={new_amount}")
        );
        // authchange answers SEQNO first, then AUTHCODE; the sale carries the new pair.
        let reply = ok(format!("OK\n{SEQ2}\nXy12Z9\n").as_bytes());
        let second = sent(g.interpret(&op, &ctx(), &first.state, &reply).unwrap());
        assert_eq!(second.step, "sale");
        assert_eq!(
            body(&second),
            format!("SHOPID=12345&AUTHCODE=Xy12Z9&SEQNO={SEQ2}")
        );
        let o = done(
            g.interpret(
                &op,
                &ctx(),
                &second.state,
                &ok(format!("OK\n{SEQ2}\n").as_bytes()),
            )
            .unwrap(),
        );
        assert_eq!(
            o.state,
            PaymentState::Captured {
                settlement: Settlement::Pending
            }
        );
        // The reference follows the new authorization: new SEQNO and new AUTHCODE.
        assert_eq!(
            o.transaction,
            Some(TransactionRef::new(format!("{SEQ2}-Xy12Z9")))
        );
        assert_eq!(o.replaced, Some(TransactionRef::new(REF1)));
        assert_eq!(o.captured, Some(Money::jpy(new_amount)));
        assert_eq!(o.authorized, Some(Money::jpy(new_amount)));
        assert!(o.notes.iter().any(|n| n.contains("F-2")), "{:?}", o.notes);
    }
}

#[test]
fn f3_a_refused_amount_change_captures_nothing_and_offers_the_choices() {
    let g = gateway();
    let op = capture(1080, Some(12_000));
    let mut reply = b"NG\nJCN-G55(".to_vec();
    reply.extend_from_slice(OVER_LIMIT_EUC);
    reply.extend_from_slice(b")\n");
    let e = answer(&g, &op, ok(&reply)).unwrap_err();
    assert_gateway_said(&e, ErrorKind::Declined, Some("JCN-G55"), "限度額オーバー");
    for words in [
        "nothing was captured",
        "F-3",
        "capture the authorized 1080",
        "void",
    ] {
        assert!(e.message.contains(words), "{words:?} in {}", e.message);
    }
}

#[test]
fn a_sale_refused_after_a_changed_authorization_names_the_new_seqno() {
    let g = gateway();
    let op = capture(1080, Some(1500));
    let second = sale_after_change(&g, &op);
    let e = g
        .interpret(&op, &ctx(), &second.state, &ok(b"NG\nS1-1-125(x)\n"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
    // The whole new reference, so that the operator can capture or void it through the host.
    assert!(
        e.message.contains(&format!("{SEQ2}-123456")),
        "{}",
        e.message
    );
    // And an unreadable sale reply says the authorization was already replaced.
    let e = g
        .interpret(&op, &ctx(), &second.state, &ok(b"<html>"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains(SEQ2), "{}", e.message);
}

// ---- framing (docs/protocols/fregi.md §2) ------------------------------------------------------------

/// One complete reply per script, as (operation, LF body). No optional trailing line (authm's
/// additional info), so that no proper prefix is itself complete; the inquiry's replaced-by line
/// is always there, empty here.
fn complete_replies() -> Vec<(Operation, Script, String)> {
    vec![
        (
            authorize(1080, token("t"), None),
            Script::Authm,
            format!("OK\nEHcUBW\n{SEQ1}\n"),
        ),
        (capture(1080, None), Script::Sale, format!("OK\n{SEQ1}\n")),
        (void(), Script::AuthCancel, "OK\n".to_owned()),
        (
            refund(1080, None),
            Script::SaleCancel,
            format!("OK\n{SEQ1}\n"),
        ),
        (
            change(1080, 2000),
            Script::AuthChange,
            format!("OK\n{SEQ2}\nXy12Z9\n"),
        ),
        (
            refund(1080, Some(300)),
            Script::SaleChange,
            format!("OK\n{SEQ2}\nXy12Z9\n"),
        ),
        (
            inquire(),
            Script::Info,
            format!("OK\n{SEQ1}\n{ORDER}\n10\n1080\nEHcUBW\n0\n\n"),
        ),
        (
            capture(1080, None),
            Script::Sale,
            "NG\nS1-1-125(売上処理時の指定された取引は売上処理期限を超過しています)\n".to_owned(),
        ),
    ]
}

fn crlf(lf: &str) -> String {
    lf.replace('\n', "\r\n")
}

fn euc(text: &str) -> Vec<u8> {
    encoding_rs::EUC_JP.encode(text).0.into_owned()
}

#[test]
fn every_script_reads_its_complete_reply_with_lf_and_with_crlf() {
    for (op, script, lf) in complete_replies() {
        for text in [lf.clone(), crlf(&lf)] {
            let bytes = euc(&text);
            assert!(
                protocol::parse_reply(script, 200, &bytes).is_ok(),
                "{script:?} {text:?}"
            );
            let g = with_inquiry();
            let answered = answer(&g, &op, ok(&bytes));
            if lf.starts_with("OK") {
                assert!(
                    matches!(answered, Ok(Step::Done(_))),
                    "{text:?}: {answered:?}"
                );
            } else {
                assert_eq!(answered.unwrap_err().kind, ErrorKind::Rejected, "{text:?}");
            }
        }
    }
}

#[test]
fn a_reply_cut_at_any_byte_is_never_a_success_or_a_refusal() {
    // Property over every byte offset of every script's complete reply, LF and CRLF: a proper
    // prefix (`OK\r` of `OK\r\n`, a reply without its final line end, one missing a required
    // line) is a protocol error, which the host resolves; never Done, never Rejected.
    for (op, script, lf) in complete_replies() {
        for text in [lf.clone(), crlf(&lf)] {
            let bytes = euc(&text);
            for cut in 0..bytes.len() {
                let prefix = &bytes[..cut];
                assert!(
                    protocol::parse_reply(script, 200, prefix).is_err(),
                    "{script:?}: {:?} parsed",
                    String::from_utf8_lossy(prefix)
                );
                let e = answer(&with_inquiry(), &op, ok(prefix)).unwrap_err();
                assert_eq!(
                    e.kind,
                    ErrorKind::Protocol,
                    "{script:?} cut at {cut}: {}",
                    e.message
                );
                assert_eq!(e.kind.effect(), Effect::MayHaveApplied);
            }
        }
    }
}

#[test]
fn half_of_a_crlf_or_mixed_line_ends_are_not_a_complete_reply() {
    use protocol::WireError;
    let parse = |script, body: &str| protocol::parse_reply(script, 200, body.as_bytes());
    assert_eq!(
        parse(Script::AuthCancel, "OK\r"),
        Err(WireError::Unterminated)
    );
    assert_eq!(
        parse(Script::AuthCancel, "OK"),
        Err(WireError::Unterminated)
    );
    assert_eq!(
        parse(Script::Sale, &format!("OK\r\n{SEQ1}\n")),
        Err(WireError::MixedLineEnds)
    );
    assert_eq!(
        parse(Script::Sale, &format!("OK\n{SEQ1}\r\n")),
        Err(WireError::MixedLineEnds)
    );
    assert_eq!(
        parse(Script::AuthCancel, "OK\rNG\n"),
        Err(WireError::MixedLineEnds)
    );
    // A required line missing, though the framing is complete.
    assert!(matches!(
        parse(Script::Authm, "OK\nEHcUBW\n"),
        Err(WireError::MissingField { field: "SEQNO", .. })
    ));
    assert!(matches!(
        parse(Script::AuthChange, &format!("OK\r\n{SEQ2}\r\n")),
        Err(WireError::MissingField {
            field: "AUTHCODE",
            ..
        })
    ));
}

#[test]
fn authm_additional_info_is_optional_so_only_the_cut_before_it_reads_as_the_same_success() {
    // The one prefix of `OK/AUTHCODE/SEQNO/info` that parses is the reply without the optional
    // info line: the same AUTHCODE and SEQNO, so nothing about the money is guessed.
    for text in [
        format!("OK\nEHcUBW\n{SEQ1}\nvisa\n"),
        crlf(&format!("OK\nEHcUBW\n{SEQ1}\nvisa\n")),
    ] {
        let without_info = text.len() - if text.contains('\r') { 6 } else { 5 };
        for cut in 0..text.len() {
            match protocol::parse_reply(Script::Authm, 200, &text.as_bytes()[..cut]) {
                Ok(Reply::Ok(Approved::Authorized {
                    authcode,
                    seqno,
                    info: None,
                })) if cut == without_info => {
                    assert_eq!((authcode.as_str(), seqno.as_str()), ("EHcUBW", SEQ1));
                }
                Ok(other) => panic!("cut at {cut} parsed as {other:?}"),
                Err(_) => {}
            }
        }
    }
}

// ---- replies: OK per script -------------------------------------------------------------

#[test]
fn authm_ok_is_authcode_then_seqno_with_lf_or_crlf() {
    for reply in [
        format!("OK\nEHcUBW\n{SEQ1}\n\n"),
        format!("OK\r\nEHcUBW\r\n{SEQ1}\r\n\r\n"),
        format!("OK\nEHcUBW\n{SEQ1}\nvisa\n"),
        format!("OK\nEHcUBW\n{SEQ1}\n"),
        format!("OK\r\nEHcUBW\r\n{SEQ1}\r\n"),
    ] {
        let o = done(
            answer(
                &gateway(),
                &authorize(1080, token("t"), None),
                ok(reply.as_bytes()),
            )
            .unwrap(),
        );
        assert_eq!(o.state, PaymentState::Authorized);
        // The reference carries both halves: sale.cgi needs the AUTHCODE too.
        assert_eq!(o.transaction, Some(TransactionRef::new(REF1)));
        assert_eq!(o.authorization_code.as_deref(), Some("EHcUBW"));
        assert_eq!(o.authorized, Some(Money::jpy(1080)));
    }
}

#[test]
fn authchange_fields_are_seqno_then_authcode_and_the_authm_order_is_refused() {
    let op = change(1080, 2000);
    let o = done(
        answer(
            &gateway(),
            &op,
            ok(format!("OK\n{SEQ2}\n000123\n").as_bytes()),
        )
        .unwrap(),
    );
    assert_eq!(o.state, PaymentState::Authorized);
    // The reference follows: new SEQNO and new AUTHCODE.
    assert_eq!(
        o.transaction,
        Some(TransactionRef::new(format!("{SEQ2}-000123")))
    );
    assert_eq!(o.replaced, Some(TransactionRef::new(REF1)));
    assert_eq!(o.authorization_code.as_deref(), Some("000123"));
    assert_eq!(o.authorized, Some(Money::jpy(2000)));
    // The other order (authm's) must not be read as a success with swapped fields.
    let e = answer(
        &gateway(),
        &op,
        ok(format!("OK\n000123\n{SEQ2}\n").as_bytes()),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
}

#[test]
fn a_change_to_the_same_amount_sends_nothing() {
    let o = done(gateway().prepare(&change(1080, 1080), &ctx()).unwrap());
    assert_eq!(o.transaction, Some(TransactionRef::new(REF1)));
    assert_eq!(o.authorized, Some(Money::jpy(1080)));
}

#[test]
fn sale_authcancel_salecancel_and_salechange_ok_replies() {
    let g = gateway();
    let answered = |op: &Operation, reply: &[u8]| done(answer(&g, op, ok(reply)).unwrap());
    let o = answered(&capture(1080, None), format!("OK\r\n{SEQ1}\r\n").as_bytes());
    assert_eq!(
        o.state,
        PaymentState::Captured {
            settlement: Settlement::Pending
        }
    );
    assert_eq!(o.captured, Some(Money::jpy(1080)));
    assert_eq!(o.replaced, None);
    assert_eq!(o.transaction, Some(TransactionRef::new(REF1)));

    let o = answered(&void(), b"OK\n");
    assert_eq!(o.state, PaymentState::Voided);
    assert_eq!(o.transaction, Some(TransactionRef::new(REF1)));

    let o = answered(&refund(1080, None), format!("OK\n{SEQ1}\n").as_bytes());
    assert_eq!(
        o.state,
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: Settlement::Pending
        }
    );
    assert_eq!(o.refunded, Some(Money::jpy(1080)));
    assert_eq!(o.transaction, Some(TransactionRef::new(REF1)));

    let o = answered(
        &refund(1080, Some(300)),
        format!("OK\n{SEQ2}\nAb12\n").as_bytes(),
    );
    assert_eq!(
        o.state,
        PaymentState::Refunded {
            extent: RefundExtent::Partial,
            settlement: Settlement::Pending
        }
    );
    assert_eq!(
        o.transaction,
        Some(TransactionRef::new(format!("{SEQ2}-Ab12")))
    );
    assert_eq!(o.replaced, Some(TransactionRef::new(REF1)));
    assert_eq!(o.captured, Some(Money::jpy(780)));
    assert_eq!(o.refunded, Some(Money::jpy(300)));
}

#[test]
fn an_ok_about_another_seqno_is_not_a_success() {
    let e = capture_refused(ok(format!("OK\n{SEQ2}\n").as_bytes()));
    assert_eq!(e.kind, ErrorKind::Protocol);
    // Leading zeros are padding, not another transaction.
    let short = SEQ1.trim_start_matches('0');
    let op = Operation::Capture {
        order: order(),
        transaction: TransactionRef::new(short),
        authorized: Money::jpy(1080),
        amount: None,
    };
    assert!(answer(&gateway(), &op, ok(format!("OK\n{SEQ1}\n").as_bytes())).is_ok());
}

// ---- replies: NG ------------------------------------------------------------------------

fn ng(code: &str, message_euc: &[u8]) -> HttpResponse {
    let mut body = format!("NG\n{code}(").into_bytes();
    body.extend_from_slice(message_euc);
    body.extend_from_slice(b")\n");
    ok(&body)
}

#[test]
fn f10_capture_of_an_already_captured_transaction_is_already_done_with_the_manual_words() {
    let e = capture_refused(ng("S1-1-121", ALREADY_SOLD_EUC));
    assert_gateway_said(
        &e,
        ErrorKind::AlreadyDone,
        Some("S1-1-121"),
        "売上処理時の指定された取引は売上受付済みです",
    );
    assert_eq!(e.message, "already captured");
}

#[test]
fn f10_capture_of_a_voided_transaction_is_rejected_as_already_voided() {
    let e = capture_refused(ng("S1-1-122", ALREADY_VOIDED_EUC));
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert!(e.message.starts_with("already voided"), "{}", e.message);
    assert_eq!(
        e.gateway_message.as_deref(),
        Some("売上処理時の指定された取引は承認取消済みです")
    );
}

#[test]
fn f10_the_seed_messages_are_recognised_whatever_code_f_regi_really_uses() {
    // The codes are stand-ins: the message decides, even against a code that means otherwise.
    let e = capture_refused(ng("S1-1-120", ALREADY_SOLD_EUC));
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::AlreadyDone, "already captured")
    );
    let e = capture_refused(ng("S1-2-301", ALREADY_VOIDED_EUC));
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert!(e.message.starts_with("already voided"));
    // A reason line without any code, and the protocol notes' wording with 既に.
    let mut body = b"NG\n".to_vec();
    body.extend_from_slice(ALREADY_SOLD_EUC);
    body.push(b'\n');
    let e = capture_refused(ok(&body));
    assert_eq!(e.kind, ErrorKind::AlreadyDone);
    assert_eq!(e.gateway_code, None);
    assert_eq!(
        errors::classify(
            &ERRORS,
            Some("S1-1-999"),
            Some("売上処理時の指定された取引は既に売上受付済みです")
        )
        .0,
        ErrorKind::AlreadyDone
    );
}

#[test]
fn ng_replies_keep_code_and_message_verbatim_in_every_accepted_shape() {
    let op = authorize(1080, token("t"), None);
    // CODE(message) with parentheses inside the message, CRLF, EUC-JP.
    let (euc, _, _) = encoding_rs::EUC_JP
        .encode("NG\r\nA1-1-40(承認処理時の有効期限(月)が指定されていません)\r\n");
    let e = answer(&gateway(), &op, ok(&euc)).unwrap_err();
    assert_gateway_said(
        &e,
        ErrorKind::Declined,
        Some("A1-1-40"),
        "承認処理時の有効期限(月)が指定されていません",
    );
    let e = answer(
        &gateway(),
        &op,
        ok(b"NG\r\nA1-1-40(expiry (month) missing)\r\n"),
    )
    .unwrap_err();
    assert_gateway_said(
        &e,
        ErrorKind::Declined,
        Some("A1-1-40"),
        "expiry (month) missing",
    );
    // The redirect API's three-line form.
    let mut three = b"NG\nJCN-G55\n".to_vec();
    three.extend_from_slice(OVER_LIMIT_EUC);
    three.push(b'\n');
    let e = answer(&gateway(), &op, ok(&three)).unwrap_err();
    assert_gateway_said(&e, ErrorKind::Declined, Some("JCN-G55"), "限度額オーバー");
    // An unknown code is kept verbatim; it proves nothing (see the tests below).
    let e = capture_refused(ok(b"NG\nZZ-9-9(new)\n"));
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert_eq!(e.gateway_code.as_deref(), Some("ZZ-9-9"));
}

#[test]
fn f9_authchange_on_a_sold_transaction_says_the_change_is_not_linked() {
    let e = answer(&gateway(), &change(1080, 2000), ok(b"NG\nA3-1-121(x)\n")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert!(e.message.contains("not linked"), "{}", e.message);
    assert!(e.message.contains("F-9"), "{}", e.message);
}

#[test]
fn declines_and_shop_errors_are_typed() {
    let op = authorize(1080, token("t"), None);
    let e = answer(&gateway(), &op, ng("JCN-G44", b"x")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Declined);
    let e = answer(&gateway(), &op, ng("A1-1-170", b"x")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Declined);
    let e = answer(&gateway(), &op, ng("A1-1-10", b"x")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication);
    let e = answer(&gateway(), &void(), ng("A2-1-122", b"x")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::AlreadyDone);
    let e = answer(&gateway(), &void(), ng("A2-1-121", b"x")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert!(e.message.contains("refund"), "{}", e.message);
}

#[test]
fn every_row_states_its_effect_and_only_documented_codes_prove_nothing_happened() {
    for r in errors::ROWS {
        if r.code.ends_with('*') {
            // A catch-all stands for codes no source documents: they may follow processing.
            assert_eq!(r.kind, ErrorKind::Protocol, "{}", r.code);
            assert_eq!(r.source, errors::Source::Undocumented, "{}", r.code);
        } else {
            assert_eq!(r.kind.effect(), Effect::NotApplied, "{}", r.code);
            assert_ne!(r.source, errors::Source::Undocumented, "{}", r.code);
        }
    }
    // The manifest exports the same kinds (the conformance suite reads it).
    let m = Fregi::manifest();
    assert_eq!(m.errors.len(), errors::ROWS.len());
    for (e, r) in m.errors.iter().zip(errors::ROWS) {
        assert_eq!((e.code.as_str(), e.kind), (r.code, r.kind));
    }
    for code in [
        "A1-*", "S1-*", "A2-*", "S2-*", "A3-*", "S3-*", "X1-*", "JCN-G*",
    ] {
        let e = m.errors.iter().find(|e| e.code == code).unwrap();
        assert_eq!(e.kind, ErrorKind::Protocol, "{code}");
        assert!(e.message.contains("not documented"), "{}", e.message);
    }
}

#[test]
fn an_undocumented_ng_code_may_have_been_processed() {
    // Recorded-shape NG replies, one per script, with codes no source documents.
    let cases = [
        (authorize(1080, token("t"), None), "A1-1-999"),
        (authorize(1080, token("t"), None), "JCN-G01"),
        (capture(1080, None), "S1-9-1"),
        (void(), "A2-1-500"),
        (refund(1080, None), "S2-1-500"),
        (refund(1080, Some(80)), "S3-1-500"),
        (change(1080, 2000), "A3-1-500"),
        (capture(1080, None), "ZZ-9-9"),
    ];
    for (op, code) in cases {
        let e = answer(&gateway(), &op, ng(code, b"\xa5\xa8\xa5\xe9\xa1\xbc")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{code}");
        assert_eq!(e.effect(), Effect::MayHaveApplied, "{code}");
        assert_eq!(e.gateway_code.as_deref(), Some(code));
        assert_eq!(e.gateway_message.as_deref(), Some("エラー"));
        assert!(
            e.message.contains(&format!(
                "F-REGI error code {code} is not documented: the request may have been processed"
            )),
            "{code}: {}",
            e.message
        );
        assert!(!e.message.contains("unchanged"), "{code}: {}", e.message);
    }
    // A reason line with neither a code nor a documented message.
    let e = capture_refused(ok(b"NG\n\xa5\xa8\xa5\xe9\xa1\xbc\n"));
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(
        e.message.contains("may have been processed"),
        "{}",
        e.message
    );
    // The F-10 messages keep their documented meaning whatever code carries them.
    let e = capture_refused(ng("S1-9-1", ALREADY_SOLD_EUC));
    assert_eq!(e.kind, ErrorKind::AlreadyDone);
    let e = capture_refused(ng("S1-9-1", ALREADY_VOIDED_EUC));
    assert_eq!(e.kind, ErrorKind::Rejected);
}

/// F-2, F-3: a sale that fails after its authchange was answered OK reports what authchange
/// left, the new authorization replacing the old reference, so that the host can book it
/// instead of sending the order to review.
#[test]
fn f2_a_sale_failing_after_the_amount_change_reports_the_new_authorization() {
    let g = gateway();
    let op = capture(1080, Some(1500));
    let second = sale_after_change(&g, &op);
    let new_reference = TransactionRef::new(format!("{SEQ2}-123456"));
    let replies = [
        (ng("S1-1-125", b"x"), ErrorKind::Rejected),
        (ng("S1-9-1", b"x"), ErrorKind::Protocol),
        (ok(b"garbage\n"), ErrorKind::Protocol),
    ];
    for (reply, kind) in replies {
        let e = g.interpret(&op, &ctx(), &second.state, &reply).unwrap_err();
        assert_eq!(e.kind, kind, "{e}");
        let left = e.changed_before.as_deref().expect("authchange's result");
        assert_eq!(left.state, PaymentState::Authorized);
        assert_eq!(left.authorized, Some(Money::jpy(1500)));
        assert_eq!(left.transaction.as_ref(), Some(&new_reference));
        assert_eq!(left.replaced.as_ref(), op.transaction());
        assert_eq!(left.authorization_code.as_deref(), Some("123456"));
        assert_eq!((left.captured, left.refunded), (None, None));
    }
    // A refused authchange changed nothing, and a lone sale has no earlier step.
    let e = answer(&g, &op, ng("A3-1-500", b"x")).unwrap_err();
    assert_eq!(e.changed_before, None);
    let e = capture_refused(ng("S1-1-125", b"x"));
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.changed_before, None);
}

#[test]
fn an_undocumented_code_on_a_capture_with_an_amount_change_never_says_nothing_changed() {
    let g = gateway();
    let op = capture(1080, Some(1500));
    // authchange answered with an undocumented code: it may have replaced the authorization.
    let e = answer(&g, &op, ng("A3-1-500", b"x")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("may have replaced"), "{}", e.message);
    assert!(e.message.contains(SEQ1), "{}", e.message);
    assert!(!e.message.contains("unchanged"), "{}", e.message);
    // The sale after a successful authchange answered with an undocumented code.
    let second = sale_after_change(&g, &op);
    let e = g
        .interpret(&op, &ctx(), &second.state, &ng("S1-9-1", b"x"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains(SEQ2), "{}", e.message);
    assert!(!e.message.contains("was refused"), "{}", e.message);
    // A direct amount change.
    let e = answer(&g, &change(1080, 2000), ng("A3-1-500", b"x")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(!e.message.contains("unchanged"), "{}", e.message);
}

// ---- replies: malformed -----------------------------------------------------------------

#[test]
fn anything_but_a_well_formed_ok_or_ng_is_a_protocol_error() {
    let seq_half = &SEQ1[..10];
    let cases: Vec<(u16, Vec<u8>)> = vec![
        (200, b"".to_vec()),
        (200, b"\r\n\r\n".to_vec()),
        (
            200,
            b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>".to_vec(),
        ),
        (500, format!("OK\n{SEQ1}\n").into_bytes()),
        (500, b"<html>Internal Server Error</html>".to_vec()),
        (403, Vec::new()),
        (302, Vec::new()),
        (200, b"ok\n".to_vec()),
        (200, b"\nOK\n".to_vec()),
        (200, b"SUCCESS\n".to_vec()),
        (200, format!("OK\n{seq_half}").into_bytes()),
        (200, b"OK\n".to_vec()),
        (200, b"NG\n".to_vec()),
        (200, b"NG".to_vec()),
        (200, format!("OK\n{SEQ1}\nextra\n").into_bytes()),
        (
            200,
            [b"NG\nJCN-G55(".as_slice(), OVER_LIMIT_SJIS, b")\n"].concat(),
        ),
        (200, vec![0xff, 0xfe, 0x00]),
    ];
    for (status, bytes) in cases {
        let e = answer(
            &gateway(),
            &capture(1080, None),
            HttpResponse::new(status, bytes.clone()),
        )
        .unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Protocol,
            "HTTP {status} {:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(e.message.contains("sale.cgi"), "{}", e.message);
    }
}

#[test]
fn three_d_secure_output_is_a_protocol_error_with_a_reason() {
    let e = answer(
        &gateway(),
        &authorize(1080, token("t"), None),
        ok(b"OUTPUT\n<html><form>...</form></html>\n"),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("3-D Secure"), "{}", e.message);
}

#[test]
fn a_403_hints_at_the_ip_allow_list() {
    let e = answer(&gateway(), &void(), HttpResponse::new(403, Vec::new())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(e.message.contains("IP"), "{}", e.message);
}

#[test]
fn a_continuation_for_another_operation_is_an_internal_error() {
    let g = gateway();
    let x = sent(g.prepare(&void(), &ctx()).unwrap());
    let e = g
        .interpret(&capture(1080, None), &ctx(), &x.state, &ok(b"OK\n"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal);
    let e = g
        .interpret(&void(), &ctx(), b"not json", &ok(b"OK\n"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal);
}

// ---- inquiry (emulator extension) -------------------------------------------------------

#[test]
fn inquiry_without_an_inquiry_url_is_unsupported_and_builds_nothing() {
    let e = gateway().prepare(&inquire(), &ctx()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("inquiry_url"), "{}", e.message);
}

#[test]
fn inquiry_posts_to_the_extension_and_reads_every_status() {
    let g = with_inquiry();
    let x = sent(g.prepare(&inquire(), &ctx()).unwrap());
    assert_eq!(x.step, "info");
    assert_eq!(x.request.url, "http://127.0.0.1:9/__emulator__/info");
    assert_eq!(body(&x), format!("SHOPID=12345&SEQNO={SEQ1}"));
    for (code, transmitted, state) in [
        ("10", "0", PaymentState::Authorized),
        ("12", "0", PaymentState::Voided),
        (
            "20",
            "0",
            PaymentState::Captured {
                settlement: Settlement::Pending,
            },
        ),
        (
            "21",
            "1",
            PaymentState::Captured {
                settlement: Settlement::Settled,
            },
        ),
        (
            "31",
            "1",
            PaymentState::Refunded {
                extent: RefundExtent::Full,
                settlement: Settlement::Settled,
            },
        ),
        ("41", "0", PaymentState::AuthorizationFailed),
        ("99", "0", PaymentState::Unknown { raw: "99".into() }),
    ] {
        let reply = format!("OK\n{SEQ1}\n{ORDER}\n{code}\n1080\nEHcUBW\n{transmitted}\n\n");
        let o = done(
            g.interpret(&inquire(), &ctx(), &x.state, &ok(reply.as_bytes()))
                .unwrap(),
        );
        assert_eq!(o.state, state, "{code}");
        assert_eq!(o.gateway_status.as_deref(), Some(code));
        assert_eq!(o.authorization_code.as_deref(), Some("EHcUBW"));
        // The reference inquired about, exactly as the host keeps it.
        assert_eq!(o.transaction, Some(TransactionRef::new(REF1)));
    }
    // A replaced authorization (amount changed, F-5) says by what; empty AUTHCODE is allowed.
    let reply = format!("OK\r\n{SEQ1}\r\n{ORDER}\r\n12\r\n1080\r\n\r\n0\r\n{SEQ2}\r\n");
    let o = done(
        g.interpret(&inquire(), &ctx(), &x.state, &ok(reply.as_bytes()))
            .unwrap(),
    );
    // Not "voided": the payment lives on under the new SEQNO, so this one cannot say its state.
    assert!(
        matches!(&o.state, PaymentState::Unknown { raw } if raw.contains(SEQ2)),
        "{:?}",
        o.state
    );
    assert_eq!(o.authorization_code, None);
    assert!(o.notes.iter().any(|n| n.contains(SEQ2)), "{:?}", o.notes);
}

/// What conformance's `robustness.inquire.cut-anywhere` asks of the emulator's inquiry replies,
/// including one about a replaced authorization: every cut either fails as a protocol error or
/// answers exactly as the whole reply does. The replaced-by line is always sent, empty when
/// nothing replaced the payment (`docs/protocols/fregi.md` §10.3), so a reply that ends before
/// it was cut there: read as "not replaced", the old SEQNO would look voided (`12`) while the
/// payment lives on under the new one.
#[test]
fn an_inquiry_reply_cut_before_its_replaced_by_line_is_a_cut_reply_not_an_unreplaced_payment() {
    let g = with_inquiry();
    let x = sent(g.prepare(&inquire(), &ctx()).unwrap());
    for lf in [
        format!("OK\n{SEQ1}\n{ORDER}\n12\n1080\n\n0\n{SEQ2}\n"),
        format!("OK\n{SEQ1}\n{ORDER}\n10\n1080\nEHcUBW\n0\n\n"),
    ] {
        for text in [lf.clone(), crlf(&lf)] {
            let bytes = euc(&text);
            let whole = g.interpret(&inquire(), &ctx(), &x.state, &ok(&bytes));
            assert!(matches!(whole, Ok(Step::Done(_))), "{text:?}: {whole:?}");
            for cut in 0..bytes.len() {
                let prefix = &bytes[..cut];
                match g.interpret(&inquire(), &ctx(), &x.state, &ok(prefix)) {
                    Err(e) => assert_eq!(e.kind, ErrorKind::Protocol, "cut at {cut}: {e}"),
                    Ok(step) => assert_eq!(
                        Ok(&step),
                        whole.as_ref(),
                        "{:?} read as another answer",
                        String::from_utf8_lossy(prefix)
                    ),
                }
            }
        }
    }
}

#[test]
fn inquiry_refuses_inconsistent_or_foreign_answers() {
    let g = with_inquiry();
    let x = sent(g.prepare(&inquire(), &ctx()).unwrap());
    for reply in [
        // 伝送済 status with transmitted = 0.
        format!("OK\n{SEQ1}\n{ORDER}\n21\n1080\n123456\n0\n\n"),
        // Another transaction.
        format!("OK\n{SEQ2}\n{ORDER}\n10\n1080\n123456\n0\n\n"),
        // Transmitted flag missing.
        format!("OK\n{SEQ1}\n{ORDER}\n10\n1080\n123456\n"),
        // The SEQNO of the reference with another AUTHCODE than the reference's.
        format!("OK\n{SEQ1}\n{ORDER}\n10\n1080\nZZ9999\n0\n\n"),
        // Amount not a number.
        format!("OK\n{SEQ1}\n{ORDER}\n10\n1,080\n123456\n0\n\n"),
    ] {
        let e = g
            .interpret(&inquire(), &ctx(), &x.state, &ok(reply.as_bytes()))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{reply:?}");
    }
    let e = g
        .interpret(
            &inquire(),
            &ctx(),
            &x.state,
            &ok(b"NG\nX1-1-120(not found)\n"),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
}

// ---- properties -------------------------------------------------------------------------

/// A continuation for each kind of step, to feed arbitrary replies to.
fn every_continuation() -> Vec<(Operation, Vec<u8>)> {
    let g = with_inquiry();
    let mut out = Vec::new();
    for op in [
        authorize(1080, token("t"), None),
        capture(1080, None),
        capture(1080, Some(1500)),
        void(),
        refund(1080, None),
        refund(1080, Some(300)),
        change(1080, 2000),
        inquire(),
    ] {
        let x = sent(g.prepare(&op, &ctx()).unwrap());
        out.push((op.clone(), x.state.to_vec()));
    }
    // The second step of a changed-amount capture.
    let op = capture(1080, Some(1500));
    let second = sale_after_change(&g, &op);
    out.push((op, second.state.to_vec()));
    out
}

/// Bytes that look like F-REGI replies more often than uniform noise does.
fn reply_like() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just(b"OK".to_vec()),
        Just(b"NG".to_vec()),
        Just(b"OUTPUT".to_vec()),
        Just(SEQ1.as_bytes().to_vec()),
        Just(b"EHcUBW".to_vec()),
        Just(b"S1-1-121(".to_vec()),
        Just(ALREADY_SOLD_EUC.to_vec()),
        Just(b")".to_vec()),
        Just(b"".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..24),
    ];
    (
        proptest::collection::vec(line, 0..9),
        prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..])],
    )
        .prop_map(|(lines, sep)| lines.join(sep))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_parse_to_a_reply_or_a_typed_error(
        script in prop::sample::select(protocol::Script::ALL.to_vec()),
        status in prop_oneof![Just(200u16), 100u16..600],
        body in prop_oneof![proptest::collection::vec(any::<u8>(), 0..256), reply_like()],
    ) {
        let parsed = protocol::parse_reply(script, status, &body);
        if !(200..=299).contains(&status) {
            prop_assert!(parsed.is_err());
        }
        if let Ok(protocol::Reply::Ok(_)) = &parsed {
            // Only a first line of exactly OK can make a success.
            let text = encoding_rs::EUC_JP.decode(&body).0;
            prop_assert_eq!(text.lines().next().map(str::trim), Some("OK"));
        }
    }

    #[test]
    fn any_reply_to_any_step_is_an_outcome_a_step_or_a_typed_error(
        pick in any::<prop::sample::Index>(),
        status in prop_oneof![Just(200u16), 100u16..600],
        body in prop_oneof![proptest::collection::vec(any::<u8>(), 0..256), reply_like()],
    ) {
        let continuations = every_continuation();
        let (op, state) = &continuations[pick.index(continuations.len())];
        let g = with_inquiry();
        match g.interpret(op, &ctx(), state, &HttpResponse::new(status, body)) {
            Ok(_) => prop_assert!((200..=299).contains(&status)),
            Err(e) => prop_assert!(
                matches!(
                    e.kind,
                    ErrorKind::Protocol
                        | ErrorKind::Declined
                        | ErrorKind::Rejected
                        | ErrorKind::AlreadyDone
                        | ErrorKind::Authentication
                        | ErrorKind::Unavailable
                ),
                "{e}"
            ),
        }
    }

    #[test]
    fn percent_encoding_is_reversible_and_uses_only_safe_characters(value in ".{0,64}") {
        let mut encoded = String::new();
        protocol::percent_encode(&value, &mut encoded);
        prop_assert!(encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        // Decode independently of the encoder.
        let bytes = encoded.as_bytes();
        let mut decoded = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                decoded.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
        prop_assert_eq!(decoded, value.as_bytes());
    }

    #[test]
    fn amounts_outside_two_to_9999999_never_build_a_request(amount in -10i64..=2) {
        let step = gateway().prepare(&capture(1080, Some(amount)), &ctx());
        if amount == 2 {
            prop_assert!(step.is_ok());
        } else {
            prop_assert_eq!(step.unwrap_err().kind, ErrorKind::InvalidRequest);
        }
    }
}

/// The wire format alone: encoding vectors and strict parsing, below the operations.
mod wire {
    use super::protocol::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        let mut out = String::new();
        percent_encode("aZ09-._~ &=+/?%", &mut out);
        assert_eq!(out, "aZ09-._~%20%26%3D%2B%2F%3F%25");
        out.clear();
        // UTF-8 bytes of 承認 (E6 89 BF E8 AA 8D).
        percent_encode("承認", &mut out);
        assert_eq!(out, "%E6%89%BF%E8%AA%8D");
    }

    #[test]
    fn clip_never_splits_a_character() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("承認済", 4), "承");
        assert_eq!(clip("承認済", 6), "承認");
        assert_eq!(clip("", 0), "");
    }

    #[test]
    fn seqnos_compare_without_their_padding() {
        assert!(same_seqno("00000000000000001287", "1287"));
        assert!(!same_seqno("00000000000000001287", "12870"));
    }

    #[test]
    fn reason_lines_split_at_the_first_and_last_parenthesis() {
        assert_eq!(
            split_reason("A1-1-40(承認処理時の有効期限(月)が指定されていません)"),
            Some(("A1-1-40", "承認処理時の有効期限(月)が指定されていません"))
        );
        assert_eq!(
            split_reason("JCN-G55（限度額オーバー）"),
            Some(("JCN-G55", "限度額オーバー"))
        );
        assert_eq!(split_reason("限度額(オーバー)"), None);
        assert_eq!(split_reason("S1-1-125(unterminated"), None);
    }
}
