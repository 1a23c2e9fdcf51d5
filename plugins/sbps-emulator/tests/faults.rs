//! Fault injection seen from raw clients: each fault kind observed as specified, and the one
//! that matters most, "processed, then the reply is lost", shown by a dropped connection
//! followed by an inquiry that finds the new state.

mod support;

use std::time::{Duration, Instant};

use renkei_emulator_sbps::{ErrorCode, Fault, FaultSpec, Function};
use support::*;

#[tokio::test]
async fn latency_delays_the_reply_once() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let t = client.authorize("lat-1", 1000).await;
    emulator.install_fault(
        FaultSpec::once(Fault::Latency { millis: 300 }).for_function(Function::Inquiry),
    );
    let started = Instant::now();
    client.send(&inquiry(&t, "0").signed()).await.ok();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    client.send(&inquiry(&t, "0").signed()).await.ok();
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "one-shot: the second reply is not delayed"
    );
}

#[tokio::test]
async fn no_reply_holds_the_connection_until_the_client_gives_up() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let t = client.authorize_and_commit("hang-1", 1000).await;
    emulator.install_fault(FaultSpec::once(Fault::NoReply).for_function(Function::Sales));
    let impatient = Client::with_timeout(&emulator, Duration::from_millis(300));
    let started = Instant::now();
    let error = impatient
        .try_send(
            sjis(&on_payment(SALES, &t).signed()),
            Some((BASIC_USER, HASH_KEY)),
        )
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        client.statuses(&t).await.1,
        "1",
        "the held request was not processed"
    );
}

#[tokio::test]
async fn http_500_and_503_are_returned_without_processing() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let t = client.authorize_and_commit("http-1", 1000).await;
    for status in [500u16, 503] {
        emulator.install_fault(FaultSpec::once(Fault::HttpStatus { status }).for_tracking_id(&t));
        let reply = client.send(&on_payment(SALES, &t).signed()).await;
        assert_eq!(reply.status, status);
        assert!(
            reply.tag("res_result").is_none(),
            "no SBPS XML in an error page"
        );
        assert_eq!(client.statuses(&t).await.1, "1");
    }
}

#[tokio::test]
async fn truncated_body_is_cut_short_after_processing() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let t = client.authorize_and_commit("trunc-1", 1000).await;
    emulator.install_fault(FaultSpec::once(Fault::TruncatedBody).for_function(Function::Sales));
    let raw = raw_exchange(emulator.addr(), &on_payment(SALES, &t).signed()).await;
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
}

#[tokio::test]
async fn malformed_body_is_a_complete_http_reply_that_is_not_xml() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let t = client.authorize_and_commit("mal-1", 1000).await;
    emulator.install_fault(FaultSpec::once(Fault::MalformedBody).for_function(Function::Sales));
    let raw = raw_exchange(emulator.addr(), &on_payment(SALES, &t).signed()).await;
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
}

#[tokio::test]
async fn connection_reset_drops_the_request_unprocessed() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let t = client.authorize_and_commit("rst-1", 1000).await;
    emulator.install_fault(FaultSpec::once(Fault::ConnectionReset).for_function(Function::Sales));
    let raw = raw_exchange(emulator.addr(), &on_payment(SALES, &t).signed()).await;
    assert!(raw.bytes.is_empty(), "no reply bytes at all");
    assert_eq!(raw.error, Some(std::io::ErrorKind::ConnectionReset));
    assert_eq!(client.statuses(&t).await.1, "1", "not processed");
}

#[tokio::test]
async fn reply_lost_applies_the_change_then_drops_the_connection() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let t = client.authorize_and_commit("lost-1", 1000).await;
    emulator.install_fault(
        FaultSpec::once(Fault::ReplyLost)
            .for_function(Function::Sales)
            .for_tracking_id(&t),
    );
    let raw = raw_exchange(emulator.addr(), &with_amount(SALES, &t, 700).signed()).await;
    assert!(raw.bytes.is_empty(), "the client got no reply");
    assert_eq!(raw.error, Some(std::io::ErrorKind::ConnectionReset));
    // Reconciliation by inquiry finds the sale.
    assert_eq!(client.statuses(&t).await.1, "2");
    assert_eq!(emulator.payment(&t).unwrap().captured_amount, 700);
    // A blind retry now reports the double capture.
    client
        .send(&with_amount(SALES, &t, 700).signed())
        .await
        .ng("10141999", Some(SALES));

    // The same through reqwest: an error, not a reply.
    let t2 = client.authorize_and_commit("lost-2", 1000).await;
    emulator.install_fault(FaultSpec::once(Fault::ReplyLost).for_tracking_id(&t2));
    let fresh = Client::new(&emulator);
    assert!(
        fresh
            .try_send(
                sjis(&on_payment(SALES, &t2).signed()),
                Some((BASIC_USER, HASH_KEY))
            )
            .await
            .is_err()
    );
    assert_eq!(client.statuses(&t2).await.1, "2");
}

#[tokio::test]
async fn force_error_answers_the_chosen_code() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let t = client.authorize_and_commit("force-1", 1000).await;
    let code = ErrorCode::parse("10186999").unwrap();
    emulator.install_fault(
        FaultSpec::once(Fault::ForceError {
            code,
            with_id: true,
        })
        .for_function(Function::Sales),
    );
    client
        .send(&on_payment(SALES, &t).signed())
        .await
        .ng("10186999", Some(SALES));
    assert_eq!(client.statuses(&t).await.1, "1");
}

#[tokio::test]
async fn matchers_lifetimes_and_the_http_fault_endpoints() {
    let emulator = start().await;
    let client = Client::new(&emulator);
    let a = client.authorize_and_commit("match-a", 1000).await;
    let b = client.authorize_and_commit("match-b", 1000).await;
    // Persistent, for one payment only.
    let id = emulator.install_fault(
        FaultSpec::once(Fault::HttpStatus { status: 503 })
            .for_tracking_id(&a)
            .persistent(),
    );
    for _ in 0..3 {
        assert_eq!(client.send(&inquiry(&a, "0").signed()).await.status, 503);
    }
    client.send(&inquiry(&b, "0").signed()).await.ok();
    assert_eq!(emulator.faults()[0].fired, 3);
    assert!(emulator.remove_fault(id));
    client.send(&inquiry(&a, "0").signed()).await.ok();
    // By order id, for an authorization.
    emulator
        .install_fault(FaultSpec::once(Fault::HttpStatus { status: 500 }).for_order_id("match-c"));
    assert_eq!(
        client
            .send(&token_auth("match-d", 100, "TOKEN-VISA").signed())
            .await
            .status,
        200
    );
    assert_eq!(
        client
            .send(&token_auth("match-c", 100, "TOKEN-VISA").signed())
            .await
            .status,
        500
    );
    assert_eq!(
        client
            .send(&token_auth("match-c", 100, "TOKEN-VISA").signed())
            .await
            .status,
        200
    );

    // Over HTTP: install a two-shot 503 on commits, list, clear.
    let http = reqwest::Client::new();
    let url = format!("{}/faults", emulator.control_url());
    let spec = serde_json::json!({
        "match": { "function_id": "ST02-00101-101" },
        "fault": { "kind": "http_status", "status": 503 },
        "lifetime": { "times": 2 }
    });
    let installed: serde_json::Value = http
        .post(&url)
        .json(&spec)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(installed["id"].as_u64().is_some());
    let listed: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["fault"]["kind"], "http_status");
    let c = client.authorize("match-e", 1000).await;
    let commit = on_payment(COMMIT, &c).signed();
    assert_eq!(client.send(&commit).await.status, 503);
    assert_eq!(client.send(&commit).await.status, 503);
    client.send(&commit).await.ok();
    let bad = http
        .post(&url)
        .json(&serde_json::json!({ "fault": { "kind": "nonsense" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    http.post(&url).json(&spec).send().await.unwrap();
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 200);
    assert!(emulator.faults().is_empty());
    client.send(&inquiry(&c, "0").signed()).await.ok();
}
