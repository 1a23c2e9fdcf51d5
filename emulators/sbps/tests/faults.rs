//! Fault injection seen from raw clients: each fault kind observed as specified, and for each
//! whether the emulator's book changed, which is what `processes_request()` promises. The ones
//! that matter most are "processed, then the client learns nothing (or something false)",
//! shown by a broken exchange followed by an inquiry that finds the new state.

mod support;

use std::time::{Duration, Instant};

use renkei_emulator_sbps::{ErrorCode, Fault, FaultKind, Function, PaymentStatus, SbpsEmulator};
use support::*;

/// Asserts what a fault kind promises and what the book shows: sold (processed) or still
/// authorized (not processed).
#[track_caller]
fn assert_book(emulator: &SbpsEmulator, tracking_id: &str, kind: &FaultKind) {
    let status = emulator.payment(tracking_id).unwrap().payment_status;
    let expected = if kind.processes_request() {
        PaymentStatus::Sold
    } else {
        PaymentStatus::Authorized
    };
    assert_eq!(status, expected, "{kind:?}");
}

/// A sales request dated `request_date`, valid for `limit_second`.
fn sales_dated(tracking_id: &str, request_date: &str, limit_second: &str) -> String {
    Req::head(SALES)
        .field("tracking_id", tracking_id)
        .field("processing_datetime", NOW)
        .field("request_date", request_date)
        .field("limit_second", limit_second)
        .signed()
}

/// A fresh emulator with one committed payment of 1000 for `order_id`.
async fn committed(order_id: &str) -> (SbpsEmulator, Client, String) {
    let (emulator, client) = started().await;
    let tracking_id = client.authorize_and_commit(order_id, 1000).await;
    (emulator, client, tracking_id)
}

/// Installs `fault` and returns its kind, for [`assert_book`].
fn install(emulator: &SbpsEmulator, fault: Fault) -> FaultKind {
    let kind = fault.kind.clone();
    emulator.install_fault(fault);
    kind
}

/// The sale of `tracking_id` through `client`, keeping reqwest's own error (timeout, reset).
async fn try_sale(client: &Client, tracking_id: &str) -> reqwest::Result<Reply> {
    let xml = on_payment(SALES, tracking_id).signed();
    client
        .try_send(sjis(&xml), Some((BASIC_USER, HASH_KEY)))
        .await
}

/// The sale of `tracking_id` from a raw TCP client.
async fn raw_sale(emulator: &SbpsEmulator, tracking_id: &str) -> RawExchange {
    raw_exchange(emulator.addr(), &on_payment(SALES, tracking_id).signed()).await
}

#[tokio::test]
async fn latency_processes_then_answers_late_once() {
    let (emulator, client, t) = committed("lat-1").await;
    let kind = install(&emulator, Fault::latency(300).on_function(Function::Sales));
    let started = Instant::now();
    client.send_on_payment(SALES, &t).await.ok();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_book(&emulator, &t, &kind);
    let started = Instant::now();
    client.send_inquiry(&t, "0").await.ok();
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "one-shot: the second reply is not delayed"
    );
}

/// SBPS does not notice a client hanging up: a held request is processed after its delay all
/// the same, and its reply is lost on the closed socket.
#[tokio::test]
async fn latency_processes_the_request_even_after_the_client_has_gone() {
    let (emulator, _, t) = committed("lat-gone").await;
    emulator.install_fault(Fault::latency(800).on_function(Function::Sales));
    let impatient = Client::with_timeout(&emulator, Duration::from_millis(150));
    let started = Instant::now();
    let error = try_sale(&impatient, &t).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    drop(impatient);
    assert_eq!(
        emulator.payment(&t).unwrap().payment_status,
        PaymentStatus::Authorized,
        "not yet: the request is still held"
    );
    let deadline = started + Duration::from_secs(10);
    while emulator.payment(&t).unwrap().payment_status != PaymentStatus::Sold {
        assert!(
            Instant::now() < deadline,
            "the held request was dropped with its client"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(800));
}

/// §10.3 step 8 is judged when the request is processed, after the delay: a request held past
/// `request_date + limit_second` is refused and changes nothing, so a client that waits out
/// the validity window before inquiring can trust what it finds.
#[tokio::test]
async fn latency_past_the_request_expiry_is_refused_and_changes_nothing() {
    let (emulator, client, t) = committed("lat-expired").await;
    // From here the clock runs, so the delay ages the request.
    emulator.use_system_clock();
    emulator.install_fault(Fault::latency(2_500).on_function(Function::Sales));
    let request_date = emulator.now().to_sbps();
    client
        .send(&sales_dated(&t, &request_date, "1"))
        .await
        .ng("10110999", None);
    let payment = emulator.payment(&t).unwrap();
    assert_eq!(payment.payment_status, PaymentStatus::Authorized);
    assert_eq!(payment.captured_amount, 0);
    // The same request, not held, is valid: only the wait expired it.
    let request_date = emulator.now().to_sbps();
    client.send(&sales_dated(&t, &request_date, "1")).await.ok();
    assert_eq!(
        emulator.payment(&t).unwrap().payment_status,
        PaymentStatus::Sold
    );
}

#[tokio::test]
async fn no_reply_holds_the_connection_until_the_client_gives_up() {
    let (emulator, client, t) = committed("hang-1").await;
    let kind = install(&emulator, Fault::no_reply().on_function(Function::Sales));
    let impatient = Client::with_timeout(&emulator, Duration::from_millis(300));
    let started = Instant::now();
    let error = try_sale(&impatient, &t).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        client.statuses(&t).await.1,
        "1",
        "the held request was not processed"
    );
    assert_book(&emulator, &t, &kind);
}

#[tokio::test]
async fn no_reply_after_processing_times_out_on_a_request_that_took_effect() {
    let (emulator, client, t) = committed("hang-2").await;
    let kind = install(
        &emulator,
        Fault::no_reply_after_processing().on_tracking_id(&t),
    );
    let impatient = Client::with_timeout(&emulator, Duration::from_millis(300));
    let error = try_sale(&impatient, &t).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(client.statuses(&t).await.1, "2", "processed");
    assert_book(&emulator, &t, &kind);
}

#[tokio::test]
async fn http_500_and_503_are_returned_without_processing() {
    let (emulator, client, t) = committed("http-1").await;
    for status in [500u16, 503] {
        let kind = install(&emulator, Fault::http_status(status).on_tracking_id(&t));
        let reply = client.send_on_payment(SALES, &t).await;
        assert_eq!(reply.status, status);
        assert!(
            reply.tag("res_result").is_none(),
            "no SBPS XML in an error page"
        );
        assert_eq!(client.statuses(&t).await.1, "1");
        assert_book(&emulator, &t, &kind);
    }
}

#[tokio::test]
async fn http_502_503_504_after_processing_hide_a_sale_that_happened() {
    let (emulator, client) = started().await;
    for status in [502u16, 503, 504] {
        let t = client
            .authorize_and_commit(&format!("http-after-{status}"), 1000)
            .await;
        let kind = install(
            &emulator,
            Fault::http_status_after_processing(status).on_function(Function::Sales),
        );
        let reply = client.send_on_payment(SALES, &t).await;
        assert_eq!(reply.status, status);
        assert!(
            reply
                .content_type
                .as_deref()
                .unwrap()
                .starts_with("text/html"),
            "{:?}",
            reply.content_type
        );
        assert!(reply.tag("res_result").is_none(), "{}", reply.text);
        assert_eq!(client.statuses(&t).await.1, "2", "processed");
        assert_book(&emulator, &t, &kind);
    }
}

#[tokio::test]
async fn gateway_error_answers_a_system_error_or_the_chosen_code_without_processing() {
    let (emulator, client, t) = committed("gw-1").await;
    let kind = install(
        &emulator,
        Fault::gateway_error().on_function(Function::Sales),
    );
    // Type 80, SBPS system error, with the request's method.
    client.refused_on_payment(SALES, &t, "10180999").await;
    assert_book(&emulator, &t, &kind);

    let code = ErrorCode::parse("10186999").unwrap();
    emulator.install_fault(Fault::gateway_error_with(code).on_function(Function::Sales));
    client.refused_on_payment(SALES, &t, "10186999").await;
    assert_eq!(client.statuses(&t).await.1, "1");
    assert_book(&emulator, &t, &kind);
}

#[tokio::test]
async fn gateway_error_after_processing_reports_a_failure_of_a_sale_that_happened() {
    let (emulator, client, t) = committed("gw-after-1").await;
    let kind = install(
        &emulator,
        Fault::gateway_error_after_processing().on_function(Function::Sales),
    );
    client.refused_with_amount(SALES, &t, 600, "10180999").await;
    assert_book(&emulator, &t, &kind);
    assert_eq!(emulator.payment(&t).unwrap().captured_amount, 600);

    let t2 = client.authorize_and_commit("gw-after-2", 1000).await;
    let code = ErrorCode::parse("10190999").unwrap();
    emulator.install_fault(Fault::gateway_error_after_processing_with(code).on_tracking_id(&t2));
    client.refused_on_payment(SALES, &t2, "10190999").await;
    assert_eq!(client.statuses(&t2).await.1, "2");
}

#[tokio::test]
async fn cut_body_is_cut_short_after_processing() {
    let (emulator, client, t) = committed("trunc-1").await;
    let kind = install(&emulator, Fault::cut_body().on_function(Function::Sales));
    let raw = raw_sale(&emulator, &t).await;
    let (head, body) = raw.head_and_body();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let announced = raw.content_length();
    assert!(
        !body.is_empty() && body.len() < announced,
        "got {} of {announced} bytes",
        body.len()
    );
    assert_eq!(
        client.statuses(&t).await.1,
        "2",
        "the sale was applied before the reply broke"
    );
    assert_book(&emulator, &t, &kind);
}

#[tokio::test]
async fn cut_body_after_n_bytes_sends_exactly_n() {
    let (emulator, client, t) = committed("trunc-2").await;
    let kind = install(
        &emulator,
        Fault::cut_body_after(12).on_function(Function::Sales),
    );
    let raw = raw_sale(&emulator, &t).await;
    let (_, body) = raw.head_and_body();
    assert_eq!(
        body, b"<?xml versio",
        "the first 12 bytes of the real reply"
    );
    assert!(raw.content_length() > 12);
    assert_eq!(raw.error, None, "closed with FIN, not reset");
    assert_book(&emulator, &t, &kind);
    // Asking for more than the body still cuts it.
    let t2 = client.authorize_and_commit("trunc-3", 1000).await;
    emulator.install_fault(Fault::cut_body_after(1 << 20).on_tracking_id(&t2));
    let raw = raw_sale(&emulator, &t2).await;
    let (_, body) = raw.head_and_body();
    assert_eq!(body.len(), raw.content_length() - 1);
    assert_eq!(client.statuses(&t2).await.1, "2");
}

#[tokio::test]
async fn malformed_is_a_complete_http_reply_that_is_not_xml() {
    let (emulator, client, t) = committed("mal-1").await;
    let kind = install(&emulator, Fault::malformed().on_function(Function::Sales));
    let raw = raw_sale(&emulator, &t).await;
    let (head, body) = raw.head_and_body();
    assert!(head.starts_with("HTTP/1.1 200"));
    assert_eq!(body.len(), raw.content_length(), "framing is intact");
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(
        !text.contains("</sps-api-response>"),
        "the document is cut: {text}"
    );
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    assert!(depth > 0, "an XML parser is left with unclosed elements");
    assert_eq!(client.statuses(&t).await.1, "2");
    assert_book(&emulator, &t, &kind);
}

#[tokio::test]
async fn reset_drops_the_request_unprocessed() {
    let (emulator, client, t) = committed("rst-1").await;
    let kind = install(&emulator, Fault::reset().on_function(Function::Sales));
    let raw = raw_sale(&emulator, &t).await;
    assert!(raw.bytes.is_empty(), "no reply bytes at all");
    assert_eq!(raw.error, Some(std::io::ErrorKind::ConnectionReset));
    assert_eq!(client.statuses(&t).await.1, "1", "not processed");
    assert_book(&emulator, &t, &kind);
}

#[tokio::test]
async fn reply_lost_applies_the_change_then_drops_the_connection() {
    let (emulator, client, t) = committed("lost-1").await;
    let kind = install(
        &emulator,
        Fault::reply_lost()
            .on_function(Function::Sales)
            .on_tracking_id(&t),
    );
    let raw = raw_exchange(emulator.addr(), &with_amount(SALES, &t, 700).signed()).await;
    assert!(raw.bytes.is_empty(), "the client got no reply");
    assert_eq!(raw.error, Some(std::io::ErrorKind::ConnectionReset));
    assert_book(&emulator, &t, &kind);
    // Reconciliation by inquiry finds the sale.
    assert_eq!(client.statuses(&t).await.1, "2");
    assert_eq!(emulator.payment(&t).unwrap().captured_amount, 700);
    // A blind retry now reports the double capture.
    client.refused_with_amount(SALES, &t, 700, "10141999").await;

    // The same through reqwest: an error, not a reply.
    let t2 = client.authorize_and_commit("lost-2", 1000).await;
    emulator.install_fault(Fault::reply_lost().on_tracking_id(&t2));
    let fresh = Client::new(&emulator);
    assert!(try_sale(&fresh, &t2).await.is_err());
    assert_eq!(client.statuses(&t2).await.1, "2");
}

#[tokio::test]
async fn matchers_lifetimes_and_the_http_fault_endpoints() {
    let (emulator, client) = started().await;
    let a = client.authorize_and_commit("match-a", 1000).await;
    let b = client.authorize_and_commit("match-b", 1000).await;
    // Persistent, for one payment only.
    let id = emulator.install_fault(Fault::http_status(503).on_tracking_id(&a).persistent());
    for _ in 0..3 {
        assert_eq!(client.send_inquiry(&a, "0").await.status, 503);
    }
    client.send_inquiry(&b, "0").await.ok();
    assert_eq!(emulator.faults()[0].fired, 3);
    assert!(emulator.remove_fault(id));
    client.send_inquiry(&a, "0").await.ok();
    // By order id, for an authorization.
    emulator.install_fault(Fault::http_status(500).on_order_id("match-c"));
    assert_eq!(
        client
            .send_token_auth("match-d", 100, "TOKEN-VISA")
            .await
            .status,
        200
    );
    assert_eq!(
        client
            .send_token_auth("match-c", 100, "TOKEN-VISA")
            .await
            .status,
        500
    );
    assert_eq!(
        client
            .send_token_auth("match-c", 100, "TOKEN-VISA")
            .await
            .status,
        200
    );

    // Over HTTP: install a two-shot 503 on commits, list, clear.
    let control = Control::new(&emulator);
    let spec = serde_json::json!({
        "match": { "function_id": "ST02-00101-101" },
        "fault": { "kind": "http_status", "status": 503 },
        "lifetime": { "times": 2 }
    });
    let installed: serde_json::Value = control.post_json("/faults", &spec).await;
    assert!(installed["id"].as_u64().is_some());
    let listed: serde_json::Value = control.get_json("/faults").await;
    assert_eq!(listed[0]["fault"]["kind"], "http_status");
    assert_eq!(listed[0]["lifetime"]["times"], 2);
    let c = client.authorize("match-e", 1000).await;
    let commit = on_payment(COMMIT, &c).signed();
    assert_eq!(client.send(&commit).await.status, 503);
    assert_eq!(client.send(&commit).await.status, 503);
    client.send(&commit).await.ok();
    let bad = control
        .post(
            "/faults",
            &serde_json::json!({ "fault": { "kind": "nonsense" } }),
        )
        .await;
    assert_eq!(bad.status(), 400);
    control.post("/faults", &spec).await;
    assert_eq!(control.delete("/faults").await.status(), 200);
    assert!(emulator.faults().is_empty());
    client.send_inquiry(&c, "0").await.ok();

    // An after-processing kind over HTTP, as a separate process's tests would install it.
    let d = client.authorize_and_commit("match-f", 1000).await;
    let spec = serde_json::json!({
        "match": { "tracking_id": d },
        "fault": { "kind": "gateway_error_after_processing" }
    });
    assert_eq!(control.post("/faults", &spec).await.status(), 200);
    client.refused_on_payment(SALES, &d, "10180999").await;
    assert_eq!(client.statuses(&d).await.1, "2");
}
