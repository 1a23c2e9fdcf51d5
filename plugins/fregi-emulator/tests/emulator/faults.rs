//! Fault injection, each kind observed by a raw client (issue 3).

use std::time::{Duration, Instant};

use renkei_emulator_fregi::{Fault, Script};

use crate::support::*;

const PATIENCE: Duration = Duration::from_secs(5);

async fn authorized(client: &Client) -> String {
    client.authorize(1000).await.1
}

fn sale_request(seqno: &str) -> Vec<u8> {
    raw_post("/connect/sale.cgi", &[("SHOPID", SHOP), ("SEQNO", seqno)])
}

#[tokio::test]
async fn delay_adds_latency_then_answers_normally() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    emu.install_fault(Fault::delay(300).on_script(Script::Sale));
    let started = Instant::now();
    let reply = client.sale(&seqno).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert!(reply.is_ok());
    assert!(emu.faults().is_empty(), "one-shot: gone");
}

#[tokio::test]
async fn hang_holds_the_connection_until_the_client_gives_up_and_processes_nothing() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    emu.install_fault(Fault::hang().on_script(Script::Sale));
    let (bytes, ending) = raw_exchange(
        emu.addr(),
        &sale_request(&seqno),
        Duration::from_millis(400),
    )
    .await;
    assert_eq!(ending, Ending::TimedOut);
    assert!(bytes.is_empty());
    // The same through reqwest: a client timeout.
    emu.install_fault(Fault::hang().on_script(Script::Sale));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = http
        .post(format!("{}/connect/sale.cgi", client.origin()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("SHOPID", SHOP), ("SEQNO", &seqno)]))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(client.status(&seqno).await, "10", "not processed");
}

#[tokio::test]
async fn hang_after_processing_times_out_on_a_request_that_succeeded() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    emu.install_fault(Fault::hang_after_processing().on_seqno(seqno.clone()));
    let (bytes, ending) = raw_exchange(
        emu.addr(),
        &sale_request(&seqno),
        Duration::from_millis(400),
    )
    .await;
    assert_eq!((bytes.len(), ending), (0, Ending::TimedOut));
    assert_eq!(client.status(&seqno).await, "20", "processed");
}

#[tokio::test]
async fn http_500_and_503_are_sent_without_processing() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    for status in [500, 503] {
        emu.install_fault(Fault::http_status(status).on_script(Script::Sale));
        let (raw, _) = raw_exchange(emu.addr(), &sale_request(&seqno), PATIENCE).await;
        let (got, headers, body) = split_response(&raw);
        assert_eq!(got, status);
        assert!(
            header(&headers, "content-type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(!body.starts_with(b"OK") && !body.starts_with(b"NG"));
        assert_eq!(client.status(&seqno).await, "10");
    }
    assert!(client.sale(&seqno).await.is_ok(), "faults were one-shot");
}

#[tokio::test]
async fn malformed_body_is_not_the_line_format_but_the_request_was_processed() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    emu.install_fault(Fault::malformed().on_script(Script::Sale));
    let reply = client.sale(&seqno).await;
    assert_eq!(reply.status, 200);
    assert!(!reply.is_ok() && reply.line(0) != "NG", "{:?}", reply.lines);
    assert_eq!(client.status(&seqno).await, "20");
}

#[tokio::test]
async fn truncated_body_is_shorter_than_announced_then_the_connection_closes() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    emu.install_fault(Fault::truncated().on_script(Script::Sale));
    let (raw, ending) = raw_exchange(emu.addr(), &sale_request(&seqno), PATIENCE).await;
    assert_eq!(ending, Ending::Eof);
    let (status, headers, body) = split_response(&raw);
    assert_eq!(status, 200);
    let announced: usize = header(&headers, "content-length").unwrap().parse().unwrap();
    assert!(body.len() < announced, "{} of {announced}", body.len());
    assert!(!body.is_empty());
    assert_eq!(client.status(&seqno).await, "20", "processed");
    // reqwest sees an error reading the body.
    let (_, other) = client.authorize(100).await;
    emu.install_fault(Fault::truncated().on_seqno(other.clone()));
    let response = reqwest::Client::new()
        .post(format!("{}/connect/sale.cgi", client.origin()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("SHOPID", SHOP), ("SEQNO", &other)]))
        .send()
        .await
        .unwrap();
    assert!(response.bytes().await.is_err());
}

#[tokio::test]
async fn reset_drops_the_connection_without_processing() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    emu.install_fault(Fault::reset().on_script(Script::Sale));
    let (bytes, ending) = raw_exchange(emu.addr(), &sale_request(&seqno), PATIENCE).await;
    assert!(bytes.is_empty());
    assert_eq!(ending, Ending::Reset);
    assert_eq!(client.status(&seqno).await, "10");
}

/// The most important fault: the gateway did it, the shop never hears.
#[tokio::test]
async fn reply_lost_drops_the_connection_and_info_shows_the_new_state() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    emu.install_fault(
        Fault::reply_lost()
            .on_script(Script::Sale)
            .on_seqno(seqno.clone()),
    );
    let (bytes, ending) = raw_exchange(emu.addr(), &sale_request(&seqno), PATIENCE).await;
    assert!(bytes.is_empty(), "no byte of a response");
    assert_eq!(ending, Ending::Reset);
    assert_eq!(client.status(&seqno).await, "20", "the sale happened");
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
    let by_id = client
        .get_path(
            "/__emulator__/info",
            &form(&[("SHOPID", SHOP), ("ID", "lost-1")]),
        )
        .await;
    assert_eq!((by_id.line(3), by_id.line(4)), ("10", "800"));
}

#[tokio::test]
async fn forced_ng_answers_the_given_reason_without_processing() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
    emu.install_fault(
        Fault::ng("S1-1-999(売上処理時にシステムエラーが発生しました)").on_script(Script::Sale),
    );
    assert_eq!(
        client.sale(&seqno).await.ng(),
        "S1-1-999(売上処理時にシステムエラーが発生しました)"
    );
    assert_eq!(client.status(&seqno).await, "10");
}

#[tokio::test]
async fn faults_target_a_seqno_or_an_order_id_and_can_persist() {
    let emu = emulator().await;
    let client = Client::new(&emu);
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
    let first = raw_exchange(emu.addr(), &sale_request(&b), PATIENCE)
        .await
        .1;
    let second = raw_exchange(emu.addr(), &sale_request(&b), PATIENCE)
        .await
        .1;
    assert_eq!((first, second), (Ending::Reset, Ending::Reset));
    assert!(emu.faults().is_empty());
}

#[tokio::test]
async fn faults_over_http_form_and_json() {
    let emu = emulator().await;
    let client = Client::new(&emu);
    let seqno = authorized(&client).await;
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
    let (_, ending) = raw_exchange(emu.addr(), &sale_request(&seqno), PATIENCE).await;
    assert_eq!(ending, Ending::Reset);
    assert_eq!(client.status(&seqno).await, "20");

    let json =
        br#"{"kind":"http_status","status":503,"script":"salecancel","persistent":true}"#.to_vec();
    let reply = client
        .post_raw("/__emulator__/faults", "application/json", json)
        .await;
    assert_eq!(reply.status, 200);
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
}
