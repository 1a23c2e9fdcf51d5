//! Fault injection, each kind observed by a raw client, and for each whether the
//! emulator's book changed, which is what `processes_request()` promises.

use std::time::{Duration, Instant};

use renkei_emulator_fregi::{
    DEFAULT_GATEWAY_ERROR, Fault, FaultKind, FregiEmulator, Script, Status,
};

use crate::support::*;

const PATIENCE: Duration = Duration::from_secs(5);

async fn authorized(client: &Client) -> String {
    client.authorize(1000).await.1
}

/// Asserts what a fault kind promises for a sale and what the book shows: sold (processed) or
/// still authorized (not processed).
#[track_caller]
fn assert_book(emu: &FregiEmulator, seqno: &str, kind: &FaultKind) {
    let status = emu.transaction(seqno).unwrap().status;
    let expected = if kind.processes_request() {
        Status::SoldPending
    } else {
        Status::Authorized
    };
    assert_eq!(status, expected, "{kind:?}");
}

/// A sale's form as production clients send it: with the transaction's AUTHCODE.
fn sale_pairs(emu: &FregiEmulator, seqno: &str) -> Pairs {
    let authcode = emu.transaction(seqno).expect("known SEQNO").authcode;
    owned(&[("SHOPID", SHOP), ("AUTHCODE", &authcode), ("SEQNO", seqno)])
}

/// A sale as production clients send it, hand-built.
fn sale_request(emu: &FregiEmulator, seqno: &str) -> Vec<u8> {
    raw_post("/connect/sale.cgi", &borrowed(&sale_pairs(emu, seqno)))
}

/// A sale through reqwest, so its own errors (timeout, broken body) can be observed.
fn reqwest_sale(
    http: &reqwest::Client,
    client: &Client,
    emu: &FregiEmulator,
    seqno: &str,
) -> reqwest::RequestBuilder {
    http.post(format!("{}/connect/sale.cgi", client.origin()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&borrowed(&sale_pairs(emu, seqno))))
}

/// Sends the hand-built sale of `seqno` on a fresh connection.
async fn exchange_sale(emu: &FregiEmulator, seqno: &str, patience: Duration) -> (Vec<u8>, Ending) {
    raw_exchange(emu.addr(), &sale_request(emu, seqno), patience).await
}

/// A fresh emulator with one authorized transaction.
async fn with_authorized() -> (FregiEmulator, Client, String) {
    let (emu, client) = started().await;
    let seqno = authorized(&client).await;
    (emu, client, seqno)
}

/// Installs `fault` and returns its kind, for [`assert_book`].
fn install(emu: &FregiEmulator, fault: Fault) -> FaultKind {
    let kind = fault.kind.clone();
    emu.install_fault(fault);
    kind
}

fn announced_length(headers: &[(String, String)]) -> usize {
    header(headers, "content-length").unwrap().parse().unwrap()
}

/// An HTTP error page of `status` in place of the line format.
#[track_caller]
fn assert_error_page(raw: &[u8], status: u16) {
    let (got, headers, body) = split_response(raw);
    assert_eq!(got, status);
    assert!(
        header(&headers, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!body.starts_with(b"OK") && !body.starts_with(b"NG"));
}

#[tokio::test]
async fn latency_processes_then_answers_normally() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(&emu, Fault::latency(300).on_script(Script::Sale));
    let started = Instant::now();
    let reply = client.sale(&seqno).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert!(reply.is_ok());
    assert_book(&emu, &seqno, &kind);
    assert!(emu.faults().is_empty(), "one-shot: gone");
}

/// F-REGI does not notice a client hanging up: a held request is processed after its delay all
/// the same, and its reply is lost on the closed socket.
#[tokio::test]
async fn latency_processes_the_request_even_after_the_client_has_gone() {
    let (emu, _, seqno) = with_authorized().await;
    emu.install_fault(Fault::latency(600).on_seqno(seqno.clone()));
    let started = Instant::now();
    // The client gives up after 100 ms and closes its connection.
    let (bytes, ending) = exchange_sale(&emu, &seqno, Duration::from_millis(100)).await;
    assert_eq!((bytes.len(), ending), (0, Ending::TimedOut));
    assert_eq!(
        emu.transaction(&seqno).unwrap().status,
        Status::Authorized,
        "not yet: the request is still held"
    );
    let deadline = started + Duration::from_secs(10);
    while emu.transaction(&seqno).unwrap().status != Status::SoldPending {
        assert!(
            Instant::now() < deadline,
            "the held request was dropped with its client"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn no_reply_holds_the_connection_until_the_client_gives_up_and_processes_nothing() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(&emu, Fault::no_reply().on_script(Script::Sale));
    let (bytes, ending) = exchange_sale(&emu, &seqno, Duration::from_millis(400)).await;
    assert_eq!(ending, Ending::TimedOut);
    assert!(bytes.is_empty());
    // The same through reqwest: a client timeout.
    emu.install_fault(Fault::no_reply().on_script(Script::Sale));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = reqwest_sale(&http, &client, &emu, &seqno)
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(client.status(&seqno).await, "10", "not processed");
    assert_book(&emu, &seqno, &kind);
}

#[tokio::test]
async fn no_reply_after_processing_times_out_on_a_request_that_succeeded() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(
        &emu,
        Fault::no_reply_after_processing().on_seqno(seqno.clone()),
    );
    let (bytes, ending) = exchange_sale(&emu, &seqno, Duration::from_millis(400)).await;
    assert_eq!((bytes.len(), ending), (0, Ending::TimedOut));
    assert_eq!(client.status(&seqno).await, "20", "processed");
    assert_book(&emu, &seqno, &kind);
}

#[tokio::test]
async fn http_500_and_503_are_sent_without_processing() {
    let (emu, client, seqno) = with_authorized().await;
    for status in [500, 503] {
        let kind = install(&emu, Fault::http_status(status).on_script(Script::Sale));
        let (raw, _) = exchange_sale(&emu, &seqno, PATIENCE).await;
        assert_error_page(&raw, status);
        assert_eq!(client.status(&seqno).await, "10");
        assert_book(&emu, &seqno, &kind);
    }
    assert!(client.sale(&seqno).await.is_ok(), "faults were one-shot");
}

#[tokio::test]
async fn http_502_503_504_after_processing_hide_a_sale_that_happened() {
    let (emu, client) = started().await;
    for status in [502, 503, 504] {
        let seqno = authorized(&client).await;
        let kind = install(
            &emu,
            Fault::http_status_after_processing(status).on_script(Script::Sale),
        );
        let (raw, _) = exchange_sale(&emu, &seqno, PATIENCE).await;
        assert_error_page(&raw, status);
        assert_eq!(client.status(&seqno).await, "20", "processed");
        assert_book(&emu, &seqno, &kind);
    }
}

#[tokio::test]
async fn malformed_is_not_the_line_format_but_the_request_was_processed() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(&emu, Fault::malformed().on_script(Script::Sale));
    let (raw, ending) = exchange_sale(&emu, &seqno, PATIENCE).await;
    assert_eq!(ending, Ending::Eof);
    let (status, headers, body) = split_response(&raw);
    assert_eq!(status, 200);
    let announced = announced_length(&headers);
    assert_eq!(body.len(), announced, "framing is intact");
    assert!(!body.starts_with(b"OK") && !body.starts_with(b"NG"));
    assert_eq!(client.status(&seqno).await, "20");
    assert_book(&emu, &seqno, &kind);
}

#[tokio::test]
async fn cut_body_is_shorter_than_announced_then_the_connection_closes() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(&emu, Fault::cut_body().on_script(Script::Sale));
    let (raw, ending) = exchange_sale(&emu, &seqno, PATIENCE).await;
    assert_eq!(ending, Ending::Eof);
    let (status, headers, body) = split_response(&raw);
    assert_eq!(status, 200);
    let announced = announced_length(&headers);
    assert!(body.len() < announced, "{} of {announced}", body.len());
    assert!(!body.is_empty());
    assert_eq!(client.status(&seqno).await, "20", "processed");
    assert_book(&emu, &seqno, &kind);
    // reqwest sees an error reading the body.
    let (_, other) = client.authorize(100).await;
    emu.install_fault(Fault::cut_body().on_seqno(other.clone()));
    let response = reqwest_sale(&reqwest::Client::new(), &client, &emu, &other)
        .send()
        .await
        .unwrap();
    assert!(response.bytes().await.is_err());
}

/// A reply cut after its first line can look like a complete `OK`: only the announced length
/// says otherwise.
#[tokio::test]
async fn cut_body_after_n_bytes_sends_exactly_n() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(&emu, Fault::cut_body_after(3).on_seqno(seqno.clone()));
    let (raw, ending) = exchange_sale(&emu, &seqno, PATIENCE).await;
    assert_eq!(ending, Ending::Eof);
    let (_, headers, body) = split_response(&raw);
    assert_eq!(body, b"OK\n");
    let announced = announced_length(&headers);
    assert!(announced > 3, "{announced}");
    assert_book(&emu, &seqno, &kind);
    // Asking for more than the body still cuts it.
    let other = authorized(&client).await;
    emu.install_fault(Fault::cut_body_after(1 << 20).on_seqno(other.clone()));
    let (raw, _) = exchange_sale(&emu, &other, PATIENCE).await;
    let (_, headers, body) = split_response(&raw);
    let announced = announced_length(&headers);
    assert_eq!(body.len(), announced - 1);
    assert_eq!(client.status(&other).await, "20");
}

#[tokio::test]
async fn reset_drops_the_connection_without_processing() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(&emu, Fault::reset().on_script(Script::Sale));
    let (bytes, ending) = exchange_sale(&emu, &seqno, PATIENCE).await;
    assert!(bytes.is_empty());
    assert_eq!(ending, Ending::Reset);
    assert_eq!(client.status(&seqno).await, "10");
    assert_book(&emu, &seqno, &kind);
}

/// The most important fault: the gateway did it, the shop never hears.
#[tokio::test]
async fn reply_lost_drops_the_connection_and_info_shows_the_new_state() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(
        &emu,
        Fault::reply_lost()
            .on_script(Script::Sale)
            .on_seqno(seqno.clone()),
    );
    let (bytes, ending) = exchange_sale(&emu, &seqno, PATIENCE).await;
    assert!(bytes.is_empty(), "no byte of a response");
    assert_eq!(ending, Ending::Reset);
    assert_eq!(client.status(&seqno).await, "20", "the sale happened");
    assert_book(&emu, &seqno, &kind);
    // A blind retry now meets the already-sold refusal.
    assert_eq!(client.sale(&seqno).await.ng_code(), "S1-1-121");

    // An authorization whose reply is lost exists only for whoever asks by ID.
    emu.install_fault(Fault::reply_lost().on_script(Script::Authm));
    let error = reqwest::Client::new()
        .post(format!("{}/connect/authm.cgi", client.origin()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&borrowed(&with(
            card_auth(VISA, 800),
            &[("ID", "lost-1")],
        ))))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error:?}");
    let by_id = client.info_by_id("lost-1").await;
    assert_eq!((by_id.line(3), by_id.line(4)), ("10", "800"));
}

#[tokio::test]
async fn gateway_error_answers_an_unknown_code_or_the_given_reason_without_processing() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(&emu, Fault::gateway_error().on_script(Script::Sale));
    let reply = client.sale(&seqno).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.ng(), DEFAULT_GATEWAY_ERROR);
    assert_eq!(reply.ng_code(), "Z9-9-999");
    assert_book(&emu, &seqno, &kind);

    emu.install_fault(
        Fault::gateway_error_with("S1-1-999(売上処理時にシステムエラーが発生しました)")
            .on_script(Script::Sale),
    );
    assert_eq!(
        client.sale(&seqno).await.ng(),
        "S1-1-999(売上処理時にシステムエラーが発生しました)"
    );
    // A bare code gets the default message.
    emu.install_fault(Fault::gateway_error_with("S1-1-998").on_script(Script::Sale));
    assert_eq!(
        client.sale(&seqno).await.ng(),
        "S1-1-998(システムエラーが発生しました)"
    );
    assert_eq!(client.status(&seqno).await, "10");
    assert_book(&emu, &seqno, &kind);
}

#[tokio::test]
async fn gateway_error_after_processing_reports_a_failure_of_a_sale_that_happened() {
    let (emu, client, seqno) = with_authorized().await;
    let kind = install(
        &emu,
        Fault::gateway_error_after_processing().on_seqno(seqno.clone()),
    );
    assert_eq!(client.sale(&seqno).await.ng(), DEFAULT_GATEWAY_ERROR);
    assert_eq!(client.status(&seqno).await, "20", "processed");
    assert_book(&emu, &seqno, &kind);

    let other = authorized(&client).await;
    emu.install_fault(
        Fault::gateway_error_after_processing_with("A2-1-999(一時的なエラーです)")
            .on_script(Script::AuthCancel),
    );
    assert_eq!(
        client.authcancel(&other).await.ng(),
        "A2-1-999(一時的なエラーです)"
    );
    assert_eq!(client.status(&other).await, "12", "voided all the same");
}

#[tokio::test]
async fn faults_target_a_seqno_or_an_order_id_and_can_persist() {
    let (emu, client) = started().await;
    let (_, a) = client
        .authorize_with(with(card_auth(VISA, 100), &[("ID", "order-a")]))
        .await;
    let (_, b) = client
        .authorize_with(with(card_auth(VISA, 100), &[("ID", "order-b")]))
        .await;
    let id = emu.install_fault(Fault::http_status(503).on_id("order-a").persistent());
    assert!(client.sale(&b).await.is_ok(), "other order untouched");
    for _ in 0..3 {
        assert_eq!(
            client.sale(&a).await.status,
            503,
            "the SEQNO's order matches the ID rule"
        );
    }
    assert_eq!(client.authcancel(&a).await.status, 503);
    assert!(emu.remove_fault(id));
    assert!(client.sale(&a).await.is_ok());

    emu.install_fault(Fault::reset().times(2));
    let first = exchange_sale(&emu, &b, PATIENCE).await.1;
    let second = exchange_sale(&emu, &b, PATIENCE).await.1;
    assert_eq!((first, second), (Ending::Reset, Ending::Reset));
    assert!(emu.faults().is_empty());
}

#[tokio::test]
async fn faults_over_http_form_and_json() {
    let (emu, client, seqno) = with_authorized().await;
    let (status, installed) = client
        .control(
            "POST",
            "faults",
            &[
                ("kind", "reply_lost"),
                ("script", "sale"),
                ("seqno", &seqno),
            ],
        )
        .await;
    assert_eq!(status, 200, "{installed}");
    let (_, listed) = client.control("GET", "faults", &[]).await;
    assert_eq!(listed[0]["fault"]["kind"], "reply_lost");
    let (_, ending) = exchange_sale(&emu, &seqno, PATIENCE).await;
    assert_eq!(ending, Ending::Reset);
    assert_eq!(client.status(&seqno).await, "20");

    assert_eq!(listed[0]["match"]["script"], "sale");
    assert_eq!(listed[0]["lifetime"]["times"], 1);

    // The JSON shape shared with the SBPS emulator.
    let json = br#"{"fault":{"kind":"http_status","status":503},"match":{"script":"salecancel"},"lifetime":"persistent"}"#.to_vec();
    let reply = client
        .post_raw("/__emulator__/faults", "application/json", json)
        .await;
    assert_eq!(reply.status, 200);
    let flat = br#"{"kind":"http_status","status":503}"#.to_vec();
    let refused = client
        .post_raw("/__emulator__/faults", "application/json", flat)
        .await;
    assert_eq!(refused.status, 400, "one shape only");
    assert_eq!(client.salecancel(&seqno).await.status, 503);
    assert_eq!(client.salecancel(&seqno).await.status, 503);
    assert_eq!(client.control("DELETE", "faults", &[]).await.0, 200);
    assert!(client.salecancel(&seqno).await.is_ok());
    assert_eq!(
        client
            .control("POST", "faults", &[("kind", "explode")])
            .await
            .0,
        400
    );
    assert_eq!(
        client
            .control("POST", "faults", &[("kind", "reset"), ("scrip", "sale")])
            .await
            .0,
        400,
        "a misspelt matcher is refused, not read as \"every request\""
    );

    // An after-processing kind with a count, as form parameters.
    let other = authorized(&client).await;
    let (status, _) = client
        .control(
            "POST",
            "faults",
            &[
                ("kind", "http_status_after_processing"),
                ("status", "502"),
                ("seqno", &other),
                ("times", "2"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(client.sale(&other).await.status, 502);
    assert_eq!(client.status(&other).await, "20", "processed");
    assert_eq!(client.salecancel(&other).await.status, 502);
    assert_eq!(client.status(&other).await, "30", "processed");
    assert!(emu.faults().is_empty(), "used up after two");
}
