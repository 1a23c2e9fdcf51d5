//! Translation tests from bytes written here in the shape `docs/protocols/gmopg.md` documents
//! (§4's fields in the order S1's cassettes show them; every value made up for these tests, no
//! recorded byte copied). Named after the document's sections. No network, no host.

use super::*;
use renkei_sdk::testing::{self, Payment, done, sent};
use renkei_sdk::{Exchange, Handle, OrderRef, PaymentDates, StepEffect, Timestamp, wire::Charset};

const SHOP_PASS: &str = "sp-canary-7Qx";
const ACCESS_ID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const ACCESS_PASS: &str = "f9e8d7c6b5a4938271605f4e3d2c1b0a";
const TOKEN: &str = "tok-canary-b8a1";
/// 2026-12-07 15:30:00 JST.
const NOW: i64 = 1_796_625_000_000;
const DAY: i64 = 86_400_000;

fn gateway() -> Gmopg {
    testing::configure(testing::text(&[
        ("endpoint", "http://127.0.0.1:9/payment/"),
        ("shop_id", "tshop00000001"),
        ("shop_pass", SHOP_PASS),
    ]))
    .unwrap()
}

/// The payment later operations act on: its reference is its order id.
const ORDER_ID: &str = "100000924506-3fa051f9c633";
const PAYMENT: Payment = Payment {
    order: "100000924506",
    transaction: ORDER_ID,
};

fn the_handle() -> Handle {
    Handle::new()
        .public("AccessID", ACCESS_ID)
        .secret("AccessPass", Secret::new(ACCESS_PASS))
}

/// A context as the host gives it for an operation on the payment: its handle, authorized
/// `authorized_days_ago`, captured `captured_days_ago` (days before `NOW`).
fn on_payment(
    handle: &Handle,
    authorized_days_ago: Option<i64>,
    captured_days_ago: Option<i64>,
) -> Context<'_> {
    let at = |d: Option<i64>| d.map(|d| Timestamp::from_unix_millis(NOW - d * DAY));
    Context {
        handle: Some(handle),
        dates: PaymentDates {
            authorized_at: at(authorized_days_ago),
            captured_at: at(captured_days_ago),
        },
        ..Context::fixed(NOW, "100000924506:op:1")
    }
}

fn authorize(amount: i64) -> Operation {
    authorize_with(
        "100000924506",
        amount,
        PaymentSource::Token {
            token: Secret::new(TOKEN),
            key: None,
        },
    )
}

fn authorize_with(order: &str, amount: i64, source: PaymentSource) -> Operation {
    Operation::Authorize {
        order: OrderRef::new(order),
        amount: Money::jpy(amount),
        source,
        customer: None,
        description: None,
    }
}

fn auth_ctx() -> Context<'static> {
    Context::fixed(NOW, "100000924506:authorize:1")
}

/// The order id the host would issue for `auth_ctx`'s attempt.
fn attempt_id() -> String {
    manifest::order_id_rules().attempt_id(
        &OrderRef::new("100000924506"),
        "100000924506:authorize:1",
        1,
    )
}

fn ok(body: &str) -> HttpResponse {
    HttpResponse::new(200, body.as_bytes().to_vec())
}

fn entry_reply() -> String {
    format!("AccessID={ACCESS_ID}&AccessPass={ACCESS_PASS}")
}

fn exec_reply(order_id: &str) -> String {
    format!(
        "ACS=0&OrderID={order_id}&Forward=2b31e07&Method=1&PayTimes=&Approve=0483127&\
         TranID=2612071530000000000000012345&TranDate=20261207153001&\
         CheckString=5e0c2f1a9b8d7c6e5f4a3b2c1d0e9f8a"
    )
}

fn search_reply(order_id: &str, status: &str, amount: &str) -> String {
    format!(
        "OrderID={order_id}&Status={status}&ProcessDate=20261207153001&JobCd={status}&\
         AccessID={ACCESS_ID}&AccessPass={ACCESS_PASS}&ItemCode=0000990&Amount={amount}&Tax=0&\
         SiteID=&MemberID=&CardNo=************1111&Expire=****&Method=1&PayTimes=&\
         Forward=2b31e07&TranID=2612071530000000000000012345&Approve=0483127&ClientField1=&\
         ClientField2=&ClientField3="
    )
}

fn altered_reply() -> String {
    format!(
        "AccessID={ACCESS_ID}&AccessPass={ACCESS_PASS}&Forward=2b31e07&Approve=0483128&\
         TranID=2612071535000000000000012346&TranDate=20261207153502"
    )
}

/// Runs `op` through the replies in order; returns every exchange and the final answer.
fn run(
    g: &Gmopg,
    op: &Operation,
    ctx: &Context<'_>,
    replies: &[HttpResponse],
) -> (Vec<Exchange>, Result<Step, GatewayError>) {
    let mut sent_steps = Vec::new();
    let mut step = g.prepare(op, ctx).unwrap();
    for reply in replies {
        let x = sent(step);
        let next = g.interpret(op, ctx, &x.state, reply);
        sent_steps.push(x);
        match next {
            Ok(s) => step = s,
            Err(e) => return (sent_steps, Err(e)),
        }
    }
    (sent_steps, Ok(step))
}

fn body(x: &Exchange) -> String {
    String::from_utf8(x.request.body.to_vec()).unwrap()
}

fn journal(x: &Exchange) -> String {
    x.journal_body.as_deref().unwrap().to_owned()
}

#[test]
fn s7_5_manifest_is_valid_and_declares_gmopg_s_order_ids() {
    let m = Gmopg::manifest();
    m.validate().unwrap();
    let rules = m.limits.order_id.unwrap();
    assert_eq!((rules.max_len, rules.symbols.as_str()), (27, "-"));
    assert!(m.capabilities.authorization_inquiry);
    assert!(m.capabilities.replay_safe.is_empty());
    assert!(m.config.iter().any(|k| k.name == "shop_pass" && k.secret));
}

#[test]
fn s6_the_status_table_lists_every_documented_status() {
    let m = Gmopg::manifest();
    for code in [
        "UNPROCESSED",
        "AUTHENTICATED",
        "CHECK",
        "CAPTURE",
        "AUTH",
        "SALES",
        "VOID",
        "RETURN",
        "RETURNX",
        "SAUTH",
    ] {
        assert!(m.status(code).is_some(), "{code}");
    }
    assert_eq!(m.state_of("AUTH"), PaymentState::Authorized);
    assert_eq!(m.state_of("UNPROCESSED"), PaymentState::Registered);
    assert_eq!(m.state_of("VOID"), PaymentState::Voided);
    assert!(matches!(
        m.state_of("RETURNX(SALES)"),
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            ..
        }
    ));
}

#[test]
fn s5_3_every_code_the_document_lists_is_in_the_error_table_with_its_reading() {
    let m = Gmopg::manifest();
    for (code, kind) in [
        ("E01010001", ErrorKind::Rejected),
        ("E01040010", ErrorKind::Rejected),
        ("E01090008", ErrorKind::Rejected),
        ("E01110002", ErrorKind::Rejected),
        ("E11010001", ErrorKind::AlreadyDone),
        ("E11010003", ErrorKind::Rejected),
        ("E11010010", ErrorKind::Rejected),
        ("E11010099", ErrorKind::Declined),
        ("E61010001", ErrorKind::Unavailable),
        ("E90010001", ErrorKind::Protocol),
        ("42G020000", ErrorKind::Declined),
        ("42G830000", ErrorKind::Declined),
    ] {
        assert_eq!(m.error(code).map(|e| e.kind), Some(kind), "{code}");
    }
    // Exact rows only: an unlisted 42G code is not a known decline.
    assert!(m.error("42G999999").is_none());
    assert!(m.errors.iter().all(|e| !e.code.contains('*')));
}

#[test]
fn s4_1_authorize_begins_with_entry_tran_registering_the_attempt_s_order_id() {
    let g = gateway();
    let x = sent(g.prepare(&authorize(1080), &auth_ctx()).unwrap());
    assert_eq!(x.step, "entry");
    assert_eq!(x.request.url, "http://127.0.0.1:9/payment/EntryTran.idPass");
    assert_eq!(
        x.request.headers.get("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(x.effect, StepEffect::Registers);
    let id = attempt_id();
    assert_eq!(
        body(&x),
        format!("ShopID=tshop00000001&ShopPass={SHOP_PASS}&OrderID={id}&JobCd=AUTH&Amount=1080")
    );
    assert_eq!(
        journal(&x),
        format!("ShopID=tshop00000001&ShopPass=[redacted]&OrderID={id}&JobCd=AUTH&Amount=1080")
    );
}

#[test]
fn s7_5_the_order_id_is_the_host_s_for_the_attempt_and_fits_gmopg_s_rules() {
    let g = gateway();
    let ctx = Context {
        gateway_order_id: Some("HOST-ISSUED-0001"),
        ..auth_ctx()
    };
    let x = sent(g.prepare(&authorize(1080), &ctx).unwrap());
    assert!(
        body(&x).contains("&OrderID=HOST-ISSUED-0001&"),
        "{}",
        body(&x)
    );
    // Without one (these tests), the same derivation: a long order code with symbols is cut
    // to leave room for the attempt tag, and only letters, digits and '-' stay.
    let long = authorize_with(
        "注文/2026-12-07/#100000924506-extra",
        1080,
        PaymentSource::Token {
            token: Secret::new(TOKEN),
            key: None,
        },
    );
    let x = sent(g.prepare(&long, &auth_ctx()).unwrap());
    let b = body(&x);
    let id = b
        .split("OrderID=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(id.len() <= 27 && protocol::order_id(id), "{id}");
    let second = Context {
        attempt: 2,
        ..auth_ctx()
    };
    let again = sent(g.prepare(&long, &second).unwrap());
    assert_ne!(body(&again), b, "a new attempt sends a new order id");
}

#[test]
fn s4_2_exec_tran_sends_the_token_as_a_secret_and_keeps_the_access_pass_out_of_the_continuation() {
    let g = gateway();
    let id = attempt_id();
    let (xs, next) = run(&g, &authorize(1080), &auth_ctx(), &[ok(&entry_reply())]);
    let exec = sent(next.unwrap());
    assert_eq!(exec.step, "exec");
    assert_eq!(exec.effect, StepEffect::MayMoveMoney);
    assert_eq!(
        exec.request.url,
        "http://127.0.0.1:9/payment/ExecTran.idPass"
    );
    assert_eq!(
        body(&exec),
        format!(
            "AccessID={ACCESS_ID}&AccessPass={ACCESS_PASS}&OrderID={id}&Method=1&Token={TOKEN}"
        )
    );
    assert_eq!(
        journal(&exec),
        format!(
            "AccessID={ACCESS_ID}&AccessPass=[redacted]&OrderID={id}&Method=1&Token=[redacted]"
        )
    );
    for x in xs.iter().chain([&exec]) {
        let state = String::from_utf8_lossy(&x.state);
        assert!(
            !state.contains(ACCESS_PASS) && !state.contains(TOKEN),
            "{state}"
        );
    }
}

#[test]
fn s4_5_an_authorization_ends_with_search_trade_and_a_handle_holding_the_access_pass() {
    let g = gateway();
    let id = attempt_id();
    let (xs, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[
            ok(&entry_reply()),
            ok(&exec_reply(&id)),
            ok(&search_reply(&id, "AUTH", "1080")),
        ],
    );
    assert_eq!(xs[2].step, "search_authorized");
    assert_eq!(xs[2].effect, StepEffect::Reads);
    assert_eq!(
        xs[2].request.url,
        "http://127.0.0.1:9/payment/SearchTrade.idPass"
    );
    let o = done(last.unwrap());
    assert_eq!(o.state, PaymentState::Authorized);
    assert_eq!(o.gateway_status.as_deref(), Some("AUTH"));
    assert_eq!(o.transaction, Some(TransactionRef::new(id)));
    assert_eq!(o.authorized, Some(Money::jpy(1080)));
    assert_eq!(o.authorization_code.as_deref(), Some("0483127"));
    let h = o.handle.unwrap();
    assert_eq!(h.get("AccessID"), Some(ACCESS_ID));
    assert_eq!(h.get_secret("AccessPass").unwrap().expose(), ACCESS_PASS);
    assert!(
        h.get("AccessPass").is_none(),
        "the pass is a secret part only"
    );
}

#[test]
fn s4_5_an_authorization_search_that_shows_another_amount_is_not_read_as_success() {
    let g = gateway();
    let id = attempt_id();
    let (_, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[
            ok(&entry_reply()),
            ok(&exec_reply(&id)),
            ok(&search_reply(&id, "AUTH", "1000")),
        ],
    );
    assert_eq!(last.unwrap_err().kind, ErrorKind::Protocol);
}

#[test]
fn s5_2_a_card_company_decline_at_exec_tran_is_a_clean_decline() {
    let g = gateway();
    let (xs, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[ok(&entry_reply()), ok("ErrCode=G02&ErrInfo=42G020000")],
    );
    let e = last.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Declined);
    assert_eq!(e.gateway_code.as_deref(), Some("42G020000"));
    // EntryTran registered only: the host reads the decline as nothing moved.
    assert_eq!(
        renkei_sdk::failed_exchange_effect(
            renkei_sdk::AfterSend::Answered {
                status: 200,
                kind: e.kind
            },
            xs[1].effect,
            xs[0].effect.may_move_money(),
        ),
        renkei_sdk::Effect::NotApplied
    );
}

#[test]
fn s5_1_several_errors_in_one_reply_keep_every_code_and_the_most_cautious_kind() {
    let g = gateway();
    let (_, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[
            ok(&entry_reply()),
            ok("ErrCode=E01|E01&ErrInfo=E01170006|E01180008"),
        ],
    );
    let e = last.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Declined);
    assert_eq!(e.gateway_code.as_deref(), Some("E01170006"));
    assert_eq!(e.other_codes, ["E01180008"]);
    // A refusal of the request beside a decline: the request's refusal decides.
    let (_, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[
            ok(&entry_reply()),
            ok("ErrCode=G02|E01&ErrInfo=42G020000|E01010001"),
        ],
    );
    let e = last.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.gateway_code.as_deref(), Some("E01010001"));
    assert_eq!(e.other_codes, ["42G020000"]);
    // Lists of different lengths cannot be paired: not understood.
    let (_, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[ok(&entry_reply()), ok("ErrCode=E01|E01&ErrInfo=E01170006")],
    );
    assert_eq!(last.unwrap_err().kind, ErrorKind::Protocol);
}

#[test]
fn s5_3_an_undocumented_code_or_e90010001_leaves_the_outcome_open() {
    let g = gateway();
    for reply in [
        "ErrCode=E99&ErrInfo=E99999999",
        "ErrCode=E90&ErrInfo=E90010001",
        "ErrCode=G02|E99&ErrInfo=42G020000|E99999999",
        "ErrCode=G02&ErrInfo=42G999999",
    ] {
        let (_, last) = run(
            &g,
            &authorize(1080),
            &auth_ctx(),
            &[ok(&entry_reply()), ok(reply)],
        );
        assert_eq!(last.unwrap_err().kind, ErrorKind::Protocol, "{reply}");
    }
}

#[test]
fn s6_an_undocumented_status_is_unknown_with_its_raw_code() {
    let g = gateway();
    let h = the_handle();
    let ctx = on_payment(&h, Some(0), None);
    let (_, last) = run(
        &g,
        &PAYMENT.inquire(),
        &ctx,
        &[ok(&search_reply(ORDER_ID, "PAYSTART", "1080"))],
    );
    let o = done(last.unwrap());
    assert_eq!(
        o.state,
        PaymentState::Unknown {
            raw: "PAYSTART".into()
        }
    );
    assert_eq!(o.gateway_status.as_deref(), Some("PAYSTART"));
    // Whatever its letters: never a refusal of the reply, never a guess.
    let (_, last) = run(
        &g,
        &PAYMENT.inquire(),
        &ctx,
        &[ok(&search_reply(ORDER_ID, "zqzq", "1080"))],
    );
    assert_eq!(
        done(last.unwrap()).state,
        PaymentState::Unknown { raw: "zqzq".into() }
    );
}

/// Every prefix of a real reply (cut anywhere, inside its last value too) is an error that
/// leaves the outcome open, or (a cut at the very end) the whole reply's own answer.
fn cut_everywhere(op: &Operation, ctx: &Context<'_>, before: &[HttpResponse], whole: &str) {
    let g = gateway();
    let (_, at) = run(&g, op, ctx, before);
    let x = sent(at.unwrap());
    let full = g.interpret(op, ctx, &x.state, &ok(whole));
    assert!(full.is_ok(), "the whole reply is read: {full:?}");
    for n in 0..whole.len() {
        let cut = HttpResponse::new(200, whole.as_bytes()[..n].to_vec());
        match g.interpret(op, ctx, &x.state, &cut) {
            Err(e) => assert_eq!(e.kind, ErrorKind::Protocol, "cut at {n}: {e}"),
            Ok(s) => panic!("a reply cut at byte {n} of {} was read: {s:?}", whole.len()),
        }
    }
}

#[test]
fn s2_3_a_reply_cut_anywhere_is_never_read_as_an_answer() {
    let id = attempt_id();
    let ctx = auth_ctx();
    cut_everywhere(&authorize(1080), &ctx, &[], &entry_reply());
    cut_everywhere(
        &authorize(1080),
        &ctx,
        &[ok(&entry_reply())],
        &exec_reply(&id),
    );
    cut_everywhere(
        &authorize(1080),
        &ctx,
        &[ok(&entry_reply()), ok(&exec_reply(&id))],
        &search_reply(&id, "AUTH", "1080"),
    );
    let h = the_handle();
    let pay = on_payment(&h, Some(0), Some(0));
    cut_everywhere(&PAYMENT.capture(1080, None), &pay, &[], &altered_reply());
    cut_everywhere(&PAYMENT.refund(1080, None), &pay, &[], &altered_reply());
    cut_everywhere(
        &PAYMENT.inquire(),
        &pay,
        &[],
        &search_reply(ORDER_ID, "SALES", "1080"),
    );
}

#[test]
fn s2_4_a_5xx_or_any_status_but_200_is_not_an_answer() {
    let g = gateway();
    for status in [500, 502, 503, 404] {
        let (_, last) = run(
            &g,
            &authorize(1080),
            &auth_ctx(),
            &[
                ok(&entry_reply()),
                HttpResponse::new(status, exec_reply(&attempt_id()).into_bytes()),
            ],
        );
        assert_eq!(last.unwrap_err().kind, ErrorKind::Protocol, "{status}");
    }
}

#[test]
fn s2_3_replies_are_read_in_windows_31j() {
    let g = gateway();
    let h = the_handle();
    let ctx = on_payment(&h, Some(0), None);
    // An item code and a client field in Shift_JIS (テスト, ①) come back as raw bytes (§2.3).
    let text = search_reply(ORDER_ID, "AUTH", "1080")
        .replace("ItemCode=0000990", "ItemCode=テスト")
        .replace("ClientField1=&", "ClientField1=①ほげ&");
    let bytes = Charset::ShiftJis.encode(&text).unwrap();
    assert!(
        bytes.windows(2).any(|w| w == [0x83, 0x65]),
        "テ in Shift_JIS"
    );
    assert!(
        bytes.windows(2).any(|w| w == [0x87, 0x40]),
        "① (NEC row 13)"
    );
    let (_, last) = run(
        &g,
        &PAYMENT.inquire(),
        &ctx,
        &[HttpResponse::new(200, bytes)],
    );
    assert_eq!(done(last.unwrap()).state, PaymentState::Authorized);
    // A byte that is not Windows-31J: not understood.
    let mut bad = search_reply(ORDER_ID, "AUTH", "1080").into_bytes();
    let at = bad.len() - 1;
    bad.splice(at..at, [0x83]);
    let (_, last) = run(&g, &PAYMENT.inquire(), &ctx, &[HttpResponse::new(200, bad)]);
    assert_eq!(last.unwrap_err().kind, ErrorKind::Protocol);
}

#[test]
fn s4_1_a_duplicate_order_id_is_this_attempt_s_own_and_is_looked_up_not_guessed() {
    let g = gateway();
    let id = attempt_id();
    // Registered by an earlier run of this attempt, never executed: execute it now.
    let (xs, next) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[
            ok("ErrCode=E01&ErrInfo=E01040010"),
            ok(&search_reply(&id, "UNPROCESSED", "1080")),
        ],
    );
    assert_eq!(xs[1].step, "search_registered");
    assert_eq!(xs[1].effect, StepEffect::Reads);
    let exec = sent(next.unwrap());
    assert_eq!(exec.step, "exec");
    assert!(body(&exec).contains(&format!("AccessPass={ACCESS_PASS}")));
    // Already executed by that earlier run: that run's authorization is this attempt's.
    let (_, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[
            ok("ErrCode=E01&ErrInfo=E01040010"),
            ok(&search_reply(&id, "AUTH", "1080")),
        ],
    );
    let o = done(last.unwrap());
    assert_eq!(o.state, PaymentState::Authorized);
    assert_eq!(o.transaction, Some(TransactionRef::new(id.clone())));
    // Something else under it: never reported as an authorization.
    let (_, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[
            ok("ErrCode=E01&ErrInfo=E01040010"),
            ok(&search_reply(&id, "VOID", "1080")),
        ],
    );
    assert_eq!(last.unwrap_err().kind, ErrorKind::Protocol);
}

#[test]
fn s4_2_exec_tran_already_executed_reads_the_transaction_instead_of_guessing() {
    let g = gateway();
    let id = attempt_id();
    let (xs, last) = run(
        &g,
        &authorize(1080),
        &auth_ctx(),
        &[
            ok(&entry_reply()),
            ok("ErrCode=E11&ErrInfo=E11010001"),
            ok(&search_reply(&id, "AUTH", "1080")),
        ],
    );
    assert_eq!(xs[2].effect, StepEffect::Reads);
    assert_eq!(done(last.unwrap()).state, PaymentState::Authorized);
}

#[test]
fn s4_3_capture_at_the_authorized_amount_is_alter_tran_sales_with_that_amount() {
    let g = gateway();
    let h = the_handle();
    let ctx = on_payment(&h, Some(0), None);
    let (xs, last) = run(
        &g,
        &PAYMENT.capture(1080, None),
        &ctx,
        &[ok(&altered_reply())],
    );
    assert_eq!(xs[0].step, "sales");
    assert_eq!(
        xs[0].request.url,
        "http://127.0.0.1:9/payment/AlterTran.idPass"
    );
    assert_eq!(
        body(&xs[0]),
        format!(
            "ShopID=tshop00000001&ShopPass={SHOP_PASS}&AccessID={ACCESS_ID}&\
             AccessPass={ACCESS_PASS}&JobCd=SALES&Amount=1080"
        )
    );
    assert!(!journal(&xs[0]).contains(ACCESS_PASS) && !journal(&xs[0]).contains(SHOP_PASS));
    let o = done(last.unwrap());
    assert!(matches!(o.state, PaymentState::Captured { .. }));
    assert_eq!(o.gateway_status.as_deref(), Some("SALES"));
    assert_eq!(o.captured, Some(Money::jpy(1080)));
    assert_eq!(o.transaction, Some(TransactionRef::new(ORDER_ID)));
}

#[test]
fn s7_2_capture_at_another_amount_changes_the_authorization_then_sells_it() {
    let g = gateway();
    let h = the_handle();
    let ctx = on_payment(&h, Some(0), None);
    let (xs, last) = run(
        &g,
        &PAYMENT.capture(1080, Some(864)),
        &ctx,
        &[ok(&altered_reply()), ok(&altered_reply())],
    );
    assert_eq!(xs[0].step, "change_auth");
    assert_eq!(
        xs[0].request.url,
        "http://127.0.0.1:9/payment/ChangeTran.idPass"
    );
    assert!(body(&xs[0]).ends_with("&JobCd=AUTH&Amount=864"));
    assert_eq!(xs[1].step, "sales");
    assert!(body(&xs[1]).ends_with("&JobCd=SALES&Amount=864"));
    let o = done(last.unwrap());
    assert_eq!(o.captured, Some(Money::jpy(864)));
    assert_eq!(o.authorized, Some(Money::jpy(864)));
    // Higher too: ChangeTran may raise an authorization (S1's cassette raises 100 to 1000).
    let (xs, _) = run(
        &g,
        &PAYMENT.capture(1080, Some(1296)),
        &ctx,
        &[ok(&altered_reply())],
    );
    assert!(body(&xs[0]).ends_with("&JobCd=AUTH&Amount=1296"));
}

#[test]
fn s7_2_a_sales_refused_after_the_change_reports_the_changed_authorization() {
    let g = gateway();
    let h = the_handle();
    let ctx = on_payment(&h, Some(0), None);
    let (_, last) = run(
        &g,
        &PAYMENT.capture(1080, Some(864)),
        &ctx,
        &[ok(&altered_reply()), ok("ErrCode=E01&ErrInfo=E01060010")],
    );
    let e = last.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Rejected);
    let left = e.changed_before.unwrap();
    assert_eq!(left.state, PaymentState::Authorized);
    assert_eq!(left.authorized, Some(Money::jpy(864)));
    assert_eq!(left.transaction, Some(TransactionRef::new(ORDER_ID)));
}

#[test]
fn s7_1_a_void_is_void_on_the_day_return_later_that_month_returnx_after_it() {
    let g = gateway();
    let h = the_handle();
    // NOW is 7 December (JST): 0 days ago is the day, 3 days ago the same month, 10 the
    // month before.
    for (days, job, status) in [
        (0, "VOID", "VOID"),
        (3, "RETURN", "RETURN"),
        (10, "RETURNX", "RETURNX"),
    ] {
        let ctx = on_payment(&h, Some(days), None);
        let (xs, last) = run(&g, &PAYMENT.void(1080), &ctx, &[ok(&altered_reply())]);
        assert!(
            body(&xs[0]).ends_with(&format!("&JobCd={job}")),
            "{}",
            body(&xs[0])
        );
        let o = done(last.unwrap());
        assert_eq!(o.state, PaymentState::Voided);
        assert_eq!(o.gateway_status.as_deref(), Some(status));
    }
}

#[test]
fn s7_1_a_full_refund_cancels_by_the_capture_s_date() {
    let g = gateway();
    let h = the_handle();
    // Authorized in November, captured today: VOID. Captured 3 days ago: RETURN.
    for (captured, job) in [(0, "VOID"), (3, "RETURN"), (10, "RETURNX")] {
        let ctx = on_payment(&h, Some(20), Some(captured));
        let (xs, last) = run(
            &g,
            &PAYMENT.refund(1080, None),
            &ctx,
            &[ok(&altered_reply())],
        );
        assert!(body(&xs[0]).ends_with(&format!("&JobCd={job}")));
        let o = done(last.unwrap());
        assert_eq!(
            o.state,
            PaymentState::Refunded {
                extent: RefundExtent::Full,
                settlement: Settlement::NotReported
            }
        );
        assert_eq!(o.gateway_status, Some(format!("{job}(SALES)")));
        assert_eq!(o.refunded, Some(Money::jpy(1080)));
    }
}

#[test]
fn s7_1_jst_decides_the_day_not_utc() {
    // 2026-12-07 00:30 JST is 2026-12-06 15:30 UTC; an authorization at 2026-12-06 23:30 JST
    // was yesterday in Japan although both are 6 December in UTC.
    let g = gateway();
    let h = the_handle();
    let now = 1_796_571_000_000; // 2026-12-07 00:30 JST
    let ctx = Context {
        now: Timestamp::from_unix_millis(now),
        ..on_payment(&h, None, None)
    };
    let ctx = Context {
        dates: PaymentDates {
            authorized_at: Some(Timestamp::from_unix_millis(now - 3_600_000)),
            captured_at: None,
        },
        ..ctx
    };
    let x = sent(g.prepare(&PAYMENT.void(1080), &ctx).unwrap());
    assert!(body(&x).ends_with("&JobCd=RETURN"), "{}", body(&x));
}

#[test]
fn s7_3_a_partial_refund_changes_the_sale_down_to_what_stays() {
    let g = gateway();
    let h = the_handle();
    let ctx = on_payment(&h, Some(0), Some(0));
    let (xs, last) = run(
        &g,
        &PAYMENT.refund(1080, Some(500)),
        &ctx,
        &[ok(&altered_reply())],
    );
    assert_eq!(xs[0].step, "change_capture");
    assert!(body(&xs[0]).ends_with("&JobCd=CAPTURE&Amount=580"));
    let o = done(last.unwrap());
    assert_eq!(o.captured, Some(Money::jpy(580)));
    assert_eq!(o.refunded, Some(Money::jpy(500)));
    assert!(matches!(
        o.state,
        PaymentState::Refunded {
            extent: RefundExtent::Partial,
            ..
        }
    ));
    // More than captured: refused before anything is sent.
    let e = g
        .prepare(&PAYMENT.refund(1080, Some(1081)), &ctx)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
}

#[test]
fn s4_4_an_amount_change_is_change_tran_auth_under_the_same_reference() {
    let g = gateway();
    let h = the_handle();
    let ctx = on_payment(&h, Some(0), None);
    let (xs, last) = run(
        &g,
        &PAYMENT.change(1080, 1200),
        &ctx,
        &[ok(&altered_reply())],
    );
    assert_eq!(xs[0].step, "change_auth");
    assert!(body(&xs[0]).ends_with("&JobCd=AUTH&Amount=1200"));
    let o = done(last.unwrap());
    assert_eq!(o.state, PaymentState::Authorized);
    assert_eq!(o.authorized, Some(Money::jpy(1200)));
    assert_eq!(o.transaction, Some(TransactionRef::new(ORDER_ID)));
    assert_eq!(o.replaced, None);
}

#[test]
fn s7_6_without_the_access_pass_or_the_dates_a_search_trade_comes_first() {
    let g = gateway();
    // A host without a sealing key hands back only the public part.
    let public_only = Handle::new().public("AccessID", ACCESS_ID);
    let ctx = on_payment(&public_only, Some(0), None);
    let (xs, last) = run(
        &g,
        &PAYMENT.capture(1080, None),
        &ctx,
        &[
            ok(&search_reply(ORDER_ID, "AUTH", "1080")),
            ok(&altered_reply()),
        ],
    );
    assert_eq!(xs[0].step, "search_before");
    assert_eq!(xs[0].effect, StepEffect::Reads);
    assert!(body(&xs[1]).contains(&format!("AccessPass={ACCESS_PASS}&JobCd=SALES")));
    assert!(!String::from_utf8_lossy(&xs[1].state).contains(ACCESS_PASS));
    assert!(matches!(
        done(last.unwrap()).state,
        PaymentState::Captured { .. }
    ));
    // A sale the host did not see captured: its refund reads the date first.
    let h = the_handle();
    let ctx = on_payment(&h, Some(20), None);
    let x = sent(g.prepare(&PAYMENT.refund(1080, None), &ctx).unwrap());
    assert_eq!(x.step, "search_before");
    // No dates: the cancel is chosen by GMO-PG's ProcessDate (20261207, the day of NOW).
    let h = the_handle();
    let ctx = on_payment(&h, None, None);
    let (xs, _) = run(
        &g,
        &PAYMENT.void(1080),
        &ctx,
        &[ok(&search_reply(ORDER_ID, "AUTH", "1080"))],
    );
    assert_eq!(xs[0].step, "search_before");
    let cancel = sent(
        g.interpret(
            &PAYMENT.void(1080),
            &ctx,
            &xs[0].state,
            &ok(&search_reply(ORDER_ID, "AUTH", "1080")),
        )
        .unwrap(),
    );
    assert!(body(&cancel).ends_with("&JobCd=VOID"));
}

#[test]
fn s4_5_an_inquiry_reads_the_status_and_a_cancel_of_a_sale_as_a_refund() {
    let g = gateway();
    let h = the_handle();
    let authorized = on_payment(&h, Some(0), None);
    let captured = on_payment(&h, Some(0), Some(0));
    let read = |ctx: &Context<'_>, status: &str| {
        let (xs, last) = run(
            &g,
            &PAYMENT.inquire(),
            ctx,
            &[ok(&search_reply(ORDER_ID, status, "1080"))],
        );
        assert_eq!(xs[0].effect, StepEffect::Reads);
        assert_eq!(
            body(&xs[0]),
            format!("ShopID=tshop00000001&ShopPass={SHOP_PASS}&OrderID={ORDER_ID}")
        );
        done(last.unwrap())
    };
    let o = read(&authorized, "AUTH");
    assert_eq!(o.state, PaymentState::Authorized);
    assert_eq!(o.authorized, Some(Money::jpy(1080)));
    let o = read(&captured, "SALES");
    assert!(matches!(o.state, PaymentState::Captured { .. }));
    assert_eq!(o.captured, Some(Money::jpy(1080)));
    assert_eq!(read(&authorized, "VOID").state, PaymentState::Voided);
    let o = read(&captured, "VOID");
    assert_eq!(o.gateway_status.as_deref(), Some("VOID(SALES)"));
    assert!(matches!(
        o.state,
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            ..
        }
    ));
    // Another order id in the reply is not this payment.
    let (_, last) = run(
        &g,
        &PAYMENT.inquire(),
        &authorized,
        &[ok(&search_reply("OTHER-ORDER-1", "AUTH", "1080"))],
    );
    assert_eq!(last.unwrap_err().kind, ErrorKind::Protocol);
}

#[test]
fn s8_find_authorization_searches_the_attempt_s_order_id_and_none_is_an_answer() {
    let g = gateway();
    let find = Operation::FindAuthorization {
        order: OrderRef::new("100000924506"),
        amount: Money::jpy(1080),
    };
    let ctx = Context {
        gateway_order_id: Some("100000924506-3fa051f9c633"),
        ..auth_ctx()
    };
    let (xs, last) = run(
        &g,
        &find,
        &ctx,
        &[ok(&search_reply(ORDER_ID, "AUTH", "1080"))],
    );
    assert_eq!(xs[0].step, "search_order_id");
    assert!(body(&xs[0]).ends_with(&format!("&OrderID={ORDER_ID}")));
    let o = done(last.unwrap());
    assert_eq!(o.state, PaymentState::Authorized);
    assert_eq!(o.transaction, Some(TransactionRef::new(ORDER_ID)));
    assert!(o.handle.unwrap().get_secret("AccessPass").is_some());
    // §10.2: no transaction under the id.
    let (_, last) = run(&g, &find, &ctx, &[ok("ErrCode=E01&ErrInfo=E01110002")]);
    assert_eq!(
        done(last.unwrap()).state,
        PaymentState::AwaitingAuthorization
    );
    // Registered only: awaits its authorization too.
    let (_, last) = run(
        &g,
        &find,
        &ctx,
        &[ok(&search_reply(ORDER_ID, "UNPROCESSED", "1080"))],
    );
    assert!(done(last.unwrap()).state.awaits_authorization());
    // The same code with another beside it proves nothing.
    let (_, last) = run(
        &g,
        &find,
        &ctx,
        &[ok("ErrCode=E01|E01&ErrInfo=E01110002|E01030002")],
    );
    assert!(last.is_err());
    // Without the host's id there is nothing to search for.
    assert_eq!(
        g.prepare(&find, &auth_ctx()).unwrap_err().kind,
        ErrorKind::InvalidRequest
    );
}

#[test]
fn s2_5_secrets_never_reach_a_journal_copy_a_continuation_an_error_or_debug_output() {
    let g = gateway();
    let id = attempt_id();
    let secrets = [SHOP_PASS, ACCESS_PASS, TOKEN];
    let clean = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} holds a secret: {text}");
        }
    };
    let op = authorize(1080);
    let replies = [
        ok(&entry_reply()),
        ok(&exec_reply(&id)),
        ok(&search_reply(&id, "AUTH", "1080")),
    ];
    let (xs, last) = run(&g, &op, &auth_ctx(), &replies);
    for (x, reply) in xs.iter().zip(&replies) {
        clean("journal body", &journal(x));
        clean("continuation", &String::from_utf8_lossy(&x.state));
        clean("step debug", &format!("{x:?}"));
        let copy = match g.journal_reply(&op, &x.state, reply) {
            ReplyCopy::Redacted(b) => String::from_utf8_lossy(&b).into_owned(),
            ReplyCopy::AsReceived => String::from_utf8_lossy(&reply.body).into_owned(),
        };
        clean("journaled reply", &copy);
    }
    let o = done(last.unwrap());
    clean("outcome debug", &format!("{o:?}"));
    // The reply copy keeps its shape: the same keys, the placeholder for the pass.
    let ReplyCopy::Redacted(copy) = g.journal_reply(&op, &xs[0].state, &replies[0]) else {
        panic!("EntryTran's reply carries the AccessPass");
    };
    assert_eq!(
        String::from_utf8_lossy(&copy),
        format!("AccessID={ACCESS_ID}&AccessPass=[redacted]")
    );
    // A reply cut inside the pass is redacted too.
    let cut = HttpResponse::new(200, entry_reply().as_bytes()[..60].to_vec());
    let ReplyCopy::Redacted(copy) = g.journal_reply(&op, &xs[0].state, &cut) else {
        panic!("a cut pass is still a secret");
    };
    clean("cut reply copy", &String::from_utf8_lossy(&copy));
    assert!(!String::from_utf8_lossy(&copy).contains(&ACCESS_PASS[..10]));
    // Errors, with card data too.
    let card = authorize_with(
        "100000924506",
        1080,
        PaymentSource::Card(CardData {
            number: Secret::new("4111111111111111"),
            expiry: Secret::new("203012"),
            security_code: Some(Secret::new("123")),
            holder: None,
        }),
    );
    let (xs, last) = run(
        &g,
        &card,
        &auth_ctx(),
        &[ok(&entry_reply()), ok("ErrCode=G02&ErrInfo=42G020000")],
    );
    let exec = &xs[1];
    assert!(body(exec).contains("CardNo=4111111111111111&Expire=3012&SecurityCode=123"));
    let j = journal(exec);
    assert!(!j.contains("4111111111111111") && !j.contains("3012") && !j.contains("=123"));
    let e = last.unwrap_err();
    clean("error", &format!("{e} {e:?}"));
    // The instance itself.
    let shown = format!("{:?}", g.shop_pass);
    clean("config debug", &shown);
}
