//! Fault injection (§11.7): every kind of the kit, and whether it processed the request.

use std::time::Duration;

use renkei_emulator_gmopg::{Api, Fault, Status};

use crate::support::*;

/// Installs `fault` on ExecTran, executes a fresh order with it, and answers what the client got
/// and whether the book shows the authorization.
async fn exec_with(fault: Fault, timeout: Duration) -> (Result<Reply, reqwest::Error>, bool) {
    let emu = emulator_with(|c| c.no_reply_hold_secs = 5).await;
    let client = Client::with_timeout(&emu, timeout);
    let ids = client.entered("f-1", "AUTH", 100).await;
    emu.install_fault(fault.on_api(Api::ExecTran));
    let reply = client
        .try_post(
            "ExecTran",
            &[
                ("AccessID", &ids.access_id),
                ("AccessPass", &ids.access_pass),
                ("OrderID", "f-1"),
                ("Token", "TESTTOKEN-OK"),
            ],
        )
        .await;
    for _ in 0..200 {
        if emu.held_requests() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let authorized = emu.transaction("f-1").unwrap().status == Status::Auth;
    assert!(emu.faults().is_empty(), "a one-shot rule is used up");
    (reply, authorized)
}

const SHORT: Duration = Duration::from_millis(400);
const LONG: Duration = Duration::from_secs(10);

#[tokio::test]
async fn s11_7_latency_answers_late_and_processes() {
    let started = std::time::Instant::now();
    let (reply, authorized) = exec_with(Fault::latency(300), LONG).await;
    reply.unwrap().assert_ok();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(authorized);
}

#[tokio::test]
async fn s11_7_latency_past_the_client_timeout_still_processes() {
    let (reply, authorized) = exec_with(Fault::latency(700), Duration::from_millis(200)).await;
    assert!(reply.unwrap_err().is_timeout());
    assert!(
        authorized,
        "the gateway processes what it holds, whoever still listens"
    );
}

#[tokio::test]
async fn s11_7_no_reply_before_and_after_processing() {
    let (reply, authorized) = exec_with(Fault::no_reply(), SHORT).await;
    assert!(reply.unwrap_err().is_timeout());
    assert!(!authorized);
    let (reply, authorized) = exec_with(Fault::no_reply_after_processing(), SHORT).await;
    assert!(reply.unwrap_err().is_timeout());
    assert!(authorized);
}

#[tokio::test]
async fn s11_7_http_5xx_before_and_after_processing() {
    let (reply, authorized) = exec_with(Fault::http_status(503), LONG).await;
    let reply = reply.unwrap();
    assert_eq!(reply.status, 503);
    assert!(reply.content_type.starts_with("text/html"));
    assert!(!authorized);
    let (reply, authorized) = exec_with(Fault::http_status_after_processing(504), LONG).await;
    assert_eq!(reply.unwrap().status, 504);
    assert!(authorized);
}

#[tokio::test]
async fn s11_7_gateway_errors_before_and_after_processing() {
    let (reply, authorized) = exec_with(Fault::gateway_error(), LONG).await;
    let reply = reply.unwrap();
    reply.assert_errors(&["E99999999"]);
    assert_eq!(reply.get("ErrCode"), Some("E99"));
    assert!(!authorized);
    let (reply, authorized) = exec_with(
        Fault::gateway_error_after_processing_with("E61010001"),
        LONG,
    )
    .await;
    reply.unwrap().assert_errors(&["E61010001"]);
    assert!(authorized, "the gateway said it failed, but it did it");
    let (reply, _) = exec_with(Fault::gateway_error_with("E01090008|42G020000"), LONG).await;
    let reply = reply.unwrap();
    reply.assert_errors(&["E01090008", "42G020000"]);
    assert_eq!(reply.get("ErrCode"), Some("E01|G02"));
}

#[tokio::test]
async fn s11_7_malformed_is_a_200_that_does_not_parse() {
    let (reply, authorized) = exec_with(Fault::malformed(), LONG).await;
    let reply = reply.unwrap();
    assert_eq!(reply.status, 200);
    assert!(
        reply.get("ACS").is_none() && reply.get("ErrCode").is_none(),
        "{}",
        reply.text()
    );
    assert!(authorized);
}

#[tokio::test]
async fn s11_7_cut_body_reset_and_reply_lost() {
    let (reply, authorized) = exec_with(Fault::cut_body(), LONG).await;
    assert!(reply.is_err(), "a cut body is not a reply: {reply:?}");
    assert!(authorized);
    let (reply, authorized) = exec_with(Fault::reset(), LONG).await;
    assert!(reply.is_err());
    assert!(!authorized);
    let (reply, authorized) = exec_with(Fault::reply_lost(), LONG).await;
    assert!(reply.is_err());
    assert!(authorized, "processed, the reply lost");
}

#[tokio::test]
async fn s11_7_on_order_hits_the_requests_that_name_it_by_access_id() {
    let (emu, client) = started().await;
    let a = client.authorized("ord-a", "AUTH", 100).await;
    let b = client.authorized("ord-b", "AUTH", 100).await;
    emu.install_fault(Fault::http_status(502).on_order("ord-b").persistent());
    client.alter(&a, "SALES", Some(100)).await.assert_ok();
    assert_eq!(client.alter(&b, "SALES", Some(100)).await.status, 502);
    assert_eq!(client.search("ord-b").await.status, 502);
    assert_eq!(emu.transaction("ord-b").unwrap().status, Status::Auth);
    assert_eq!(emu.faults()[0].fired, 2);
    emu.clear_faults();
    client.alter(&b, "SALES", Some(100)).await.assert_ok();
}

#[tokio::test]
async fn s11_7_faults_over_http_in_the_kits_json_and_as_form_fields() {
    let (emu, client) = started().await;
    let (status, body) = client
        .control_post(
            "faults",
            Some(serde_json::json!({
                "fault": {"kind": "gateway_error", "code": "E61010001"},
                "match": {"api": "EntryTran"},
                "lifetime": {"times": 2}
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_u64().unwrap();
    client
        .entry("fj-1", "AUTH", 1)
        .await
        .assert_errors(&["E61010001"]);
    let (_, list) = client.control_get("faults").await;
    assert_eq!(list[0]["fired"], 1);
    assert_eq!(list[0]["match"]["api"], "EntryTran");
    let deleted = client
        .http
        .delete(format!("{}faults/{id}", client.control))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    client.entry("fj-1", "AUTH", 1).await.assert_ok();
    let form = client
        .http
        .post(format!("{}faults", client.control))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("kind=http_status&status=503&api=SearchTrade&persistent=1")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 200);
    assert_eq!(client.search("fj-1").await.status, 503);
    assert_eq!(client.search("fj-1").await.status, 503);
    let bad = client
        .control_post(
            "faults",
            Some(serde_json::json!({"fault": {"kind": "nonsense"}})),
        )
        .await;
    assert_eq!(bad.0, 400);
    assert_eq!(emu.faults().len(), 1);
}
