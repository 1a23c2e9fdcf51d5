//! The JSON API over HTTP, against both emulators: every endpoint, its typed 4xx answers, and
//! that a refused request changes nothing (not the shop, not the journal, not the gateway).

use crate::support::{
    BASIC_OPERATOR, BASIC_PASSWORD, CSRF, OPERATOR, Server, TOKEN, assert_took_effect_by_operator,
    fregi_seqno, unpaid,
};
use renkei_emulator_fregi::{Fault as FregiFault, Script};
use renkei_emulator_sbps::{Fault as SbpsFault, Function};
use renkei_shop_server::demo::{
    DemoOptions, FREGI, FREGI_SHOP_ID, FREGI_TOKEN, SBPS, SBPS_TOKEN, SBPS_TOKEN_KEY,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The F-REGI emulator's message for a sale on a cancelled authorization (F-10).
const FREGI_ALREADY_AUTH_CANCELLED: &str = "売上処理時の指定された取引は承認取消済みです";

fn kinds(result: &serde_json::Value) -> Vec<&str> {
    result["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["kind"].as_str().unwrap())
        .collect()
}

fn warnings(result: &serde_json::Value) -> Vec<&str> {
    result["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["warning"].as_str().unwrap())
        .collect()
}

fn transaction(view: &serde_json::Value) -> String {
    view["payment"]["transaction"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn g2_checkout_then_record_payment_captures_and_leaves_the_unpaid_list() {
    let s = Server::start().await;
    let created = s.checkout("100000924506", SBPS, 1_080).await;
    assert_eq!(created["action"], "checkout");
    assert_eq!(created["state"]["state"], "authorized");
    assert_eq!(created["gateway_label"], "与信済");
    assert_eq!(kinds(&created), ["authorize"]);
    assert_eq!(unpaid(&s).await, ["100000924506"]);

    let paid = s.post_empty("/api/orders/100000924506/payment").await;
    let paid = paid.ok();
    assert_eq!(paid["action"], "record_payment");
    assert_eq!(paid["order"]["paid"], true);
    assert_eq!(paid["state"]["state"], "captured");
    assert_eq!(paid["gateway_label"], "売上済");
    assert_eq!(kinds(paid), ["capture"]);
    assert!(unpaid(&s).await.is_empty());

    let view = s.order("100000924506").await;
    assert_eq!(view["order"]["paid"], true);
    assert_eq!(view["unpaid"], false);
    assert_eq!(view["payment"]["captured"]["minor_units"], 1_080);
    let tracking = transaction(&view);
    let at_gateway = s.demo.sbps.payment(&tracking).unwrap();
    assert_eq!(at_gateway.captured_amount, 1_080);

    // Idempotent from the shop's side: a second "record payment" captures nothing again.
    let again = s.post_empty("/api/orders/100000924506/payment").await;
    assert!(kinds(again.ok()).is_empty());
    assert_eq!(warnings(&again.body), ["already_paid"]);
    let history = s.get("/api/orders/100000924506/history").await;
    let history = history.ok().as_array().unwrap();
    assert_eq!(
        history
            .iter()
            .map(|op| (op["kind"].as_str().unwrap(), op["status"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [("authorize", "succeeded"), ("capture", "succeeded")]
    );
}

#[tokio::test]
async fn g3_f10_bulk_reports_each_failure_as_order_code_reason_and_goes_on() {
    let s = Server::start().await;
    for (order, yen) in [
        ("100000923701", 1_980),
        ("100000923702", 2_200),
        ("100000923704", 3_300),
    ] {
        s.checkout(order, FREGI, yen).await;
    }
    // Cancelled in F-REGI's admin screen; the shop is not told (G-8).
    let seqno = transaction(&s.order("100000923704").await);
    s.demo
        .fregi
        .admin_cancel(FREGI_SHOP_ID, fregi_seqno(&seqno))
        .unwrap();

    let report = s
        .post(
            "/api/bulk/payment",
            json!({"orders": ["100000923701", "100000923704", "100000923702", "100000929999"]}),
        )
        .await;
    let report = report.ok();
    assert_eq!(report["total"], 4);
    assert_eq!(report["succeeded"], 2);
    assert_eq!(report["failed"], 2);
    assert_eq!(
        report["failures"],
        json!([
            format!("100000923704: {FREGI_ALREADY_AUTH_CANCELLED}"),
            "100000929999: order 100000929999 is unknown to this shop",
        ])
    );
    let items = report["items"].as_array().unwrap();
    let codes: Vec<_> = items.iter().map(|i| i["order"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "100000923701",
            "100000923704",
            "100000923702",
            "100000929999"
        ]
    );
    assert_eq!(items[0]["ok"], true);
    assert_eq!(items[0]["result"]["gateway_label"], "売上済（未伝送）");
    assert_eq!(items[1]["ok"], false);
    assert_eq!(items[1]["error"]["error"], "gateway_refused");
    assert_eq!(
        items[1]["error"]["gateway"]["message"],
        FREGI_ALREADY_AUTH_CANCELLED
    );
    assert_eq!(items[3]["error"]["error"], "unknown_order");

    // Orders that succeed leave the unpaid list; the refused one stays, unpaid.
    assert_eq!(unpaid(&s).await, ["100000923704"]);
    assert_eq!(s.order("100000923704").await["order"]["paid"], false);
    for order in ["100000923701", "100000923702"] {
        let seqno = transaction(&s.order(order).await);
        assert_eq!(
            s.demo
                .fregi
                .transaction(fregi_seqno(&seqno))
                .unwrap()
                .status_label,
            "売上済（未伝送）"
        );
    }

    s.post("/api/bulk/payment", json!({"orders": []}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    s.post(
        "/api/bulk/payment",
        json!({"orders": ["100000923704"], "concurrency": 0}),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
}

#[tokio::test]
async fn g4_status_change_touches_the_gateway_only_with_the_checkbox() {
    let s = Server::start().await;
    s.checkout("100000930001", SBPS, 2_000).await;
    s.checkout("100000930002", SBPS, 3_000).await;
    s.checkout("100000930003", FREGI, 4_000).await;

    // Hold without the checkbox: nothing is sent, the operator is told.
    let held = s
        .post(
            "/api/orders/100000930001/status",
            json!({"status": "hold", "cancel_at_gateway": false}),
        )
        .await;
    let held = held.ok();
    assert_eq!(held["order"]["status"], "held");
    assert!(kinds(held).is_empty());
    assert_eq!(warnings(held), ["gateway_not_touched"]);
    assert_eq!(held["state"]["state"], "authorized");

    // Cancel with the checkbox before capture: the authorization is voided.
    let cancelled = s
        .post(
            "/api/orders/100000930001/status",
            json!({"status": "cancel", "cancel_at_gateway": true}),
        )
        .await;
    let cancelled = cancelled.ok();
    assert_eq!(cancelled["order"]["status"], "cancelled");
    assert_eq!(kinds(cancelled), ["void"]);
    assert_eq!(cancelled["gateway_label"], "与信取消済");

    // Return after capture with the checkbox: refunded (S-4).
    s.post_empty("/api/orders/100000930002/payment").await.ok();
    let returned = s
        .post(
            "/api/orders/100000930002/status",
            json!({"status": "return", "cancel_at_gateway": true}),
        )
        .await;
    let returned = returned.ok();
    assert_eq!(kinds(returned), ["refund"]);
    assert_eq!(returned["gateway_label"], "返金済");
    let tracking = transaction(&s.order("100000930002").await);
    assert_eq!(
        s.demo.sbps.payment(&tracking).unwrap().refunded_total,
        3_000
    );

    // F-REGI: uncollectible with the checkbox before capture is 承認取消 (F-6).
    let f = s
        .post(
            "/api/orders/100000930003/status",
            json!({"status": "uncollectible", "cancel_at_gateway": true}),
        )
        .await;
    assert_eq!(f.ok()["gateway_label"], "承認取消");

    // G-5: a cancelled gateway transaction is never used again; the refusal changes nothing.
    let before = s.snapshot().await;
    s.post(
        "/api/orders/100000930001/status",
        json!({"status": "return", "cancel_at_gateway": true}),
    )
    .await
    .error(StatusCode::CONFLICT, "gateway_transaction_cancelled");
    assert_eq!(s.snapshot().await, before);
}

#[tokio::test]
async fn refused_requests_get_a_typed_4xx_and_change_nothing() {
    let s = Server::start().await;
    s.checkout("100000940001", FREGI, 5_000).await;
    s.checkout("100000940002", SBPS, 6_000).await;
    s.post(
        "/api/orders",
        json!({"order": "100000940003", "gateway": FREGI, "amount": 7_000, "pre_order": true}),
    )
    .await
    .ok();
    let before = s.snapshot().await;

    // Unknown order: 404 on every order endpoint.
    for (method, path, body) in [
        (Method::GET, "/api/orders/nope", None),
        (Method::GET, "/api/orders/nope/history", None),
        (Method::POST, "/api/orders/nope/payment", None),
        (Method::DELETE, "/api/orders/nope/payment", None),
        (
            Method::POST,
            "/api/orders/nope/status",
            Some(json!({"status": "cancel", "cancel_at_gateway": true})),
        ),
        (
            Method::POST,
            "/api/orders/nope/amount",
            Some(json!({"amount": 100})),
        ),
        (
            Method::POST,
            "/api/orders/nope/method",
            Some(json!({"method": "cash_on_delivery", "cancel_at_gateway": true})),
        ),
        (
            Method::POST,
            "/api/orders/nope/no-payment-needed",
            Some(json!({"cancel_at_gateway": true})),
        ),
        (
            Method::POST,
            "/api/orders/nope/release",
            Some(json!({"token": FREGI_TOKEN})),
        ),
        (Method::POST, "/api/orders/nope/inquire", None),
    ] {
        let reply = s.send(method.clone(), path, body).await;
        let body = reply.error(StatusCode::NOT_FOUND, "unknown_order");
        assert_eq!(body["order"], "nope", "{method} {path}");
    }

    // Illegal transitions: 409.
    s.send(Method::DELETE, "/api/orders/100000940001/payment", None)
        .await
        .error(StatusCode::CONFLICT, "illegal_action");
    s.post_empty("/api/orders/100000940003/payment")
        .await
        .error(StatusCode::CONFLICT, "illegal_action");
    s.post(
        "/api/orders/100000940001/release",
        json!({"token": FREGI_TOKEN}),
    )
    .await
    .error(StatusCode::CONFLICT, "illegal_action");
    s.post(
        "/api/orders",
        json!({"order": "100000940002", "gateway": SBPS, "amount": 100, "pre_order": true}),
    )
    .await
    .error(StatusCode::CONFLICT, "order_exists");
    s.post_empty("/api/orders/100000940003/inquire")
        .await
        .error(StatusCode::CONFLICT, "illegal_action");

    // F-7: 1 yen cannot be paid by card at F-REGI, neither at checkout nor as a new amount.
    let one_yen = s
        .post(
            "/api/orders",
            json!({"order": "100000940009", "gateway": FREGI, "amount": 1, "token": FREGI_TOKEN}),
        )
        .await;
    one_yen.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    assert!(one_yen.body["message"].as_str().unwrap().contains("F-7"));
    s.post("/api/orders/100000940001/amount", json!({"amount": 1}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    s.post("/api/orders/100000940001/amount", json!({"amount": 0}))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    s.post(
        "/api/orders/100000940001/amount",
        json!({"amount": 500, "currency": "yen"}),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    s.post(
        "/api/orders",
        json!({"order": "100000940010", "gateway": "paypay", "amount": 500, "token": "t"}),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_gateway");

    // Malformed JSON and bodies that are not what the endpoint takes: 422 (415 without the
    // JSON content type), the same typed body.
    s.send_raw(
        Method::POST,
        "/api/orders/100000940001/status",
        Some("application/json"),
        "{\"status\": \"cancel\", \"cancel_at_gateway\": tru",
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "malformed_json");
    s.send_raw(
        Method::POST,
        "/api/orders/100000940001/status",
        None,
        "{\"status\": \"cancel\", \"cancel_at_gateway\": true}",
    )
    .await
    .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    for body in [
        json!({"status": "cancel"}),
        // A misspelt checkbox must not silently mean "leave the gateway alone".
        json!({"status": "cancel", "cancel_at_gatway": true}),
        json!({"status": "refund", "cancel_at_gateway": true}),
        json!(["cancel", true]),
    ] {
        s.post("/api/orders/100000940001/status", body)
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    }
    s.post(
        "/api/orders",
        json!({"order": "100000940011", "gateway": FREGI, "amount": 500}),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    s.post(
        "/api/orders",
        json!({"order": "", "gateway": FREGI, "amount": 500, "token": FREGI_TOKEN}),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    s.post(
        "/api/orders/100000940001/method",
        json!({"method": "card", "cancel_at_gateway": true}),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    s.get("/api/orders?unpaid=maybe")
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");

    // No such endpoint, or not with this method: typed too.
    s.get("/api/nothing-here")
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    s.send(Method::PUT, "/api/orders/100000940001/payment", None)
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");

    assert_eq!(s.snapshot().await, before);
}

#[tokio::test]
async fn g6_cancel_payment_date_after_capture_warns_and_never_refunds() {
    let s = Server::start().await;
    s.checkout("100000950001", FREGI, 3_000).await;
    s.post_empty("/api/orders/100000950001/payment").await.ok();
    let seqno = transaction(&s.order("100000950001").await);

    let undone = s
        .send(Method::DELETE, "/api/orders/100000950001/payment", None)
        .await;
    let undone = undone.ok();
    assert_eq!(undone["action"], "cancel_payment_date");
    assert_eq!(undone["order"]["paid"], false);
    assert_eq!(warnings(undone), ["gateway_stays_captured"]);
    assert!(undone["warning_lines"][0].as_str().unwrap().contains("G-6"));
    assert!(kinds(undone).is_empty());
    assert_eq!(unpaid(&s).await, ["100000950001"]);
    assert_eq!(
        s.demo
            .fregi
            .transaction(fregi_seqno(&seqno))
            .unwrap()
            .status_label,
        "売上済（未伝送）"
    );
}

#[tokio::test]
async fn f2_amount_changed_before_capture_is_captured_as_changed() {
    let s = Server::start().await;
    s.checkout("100000960001", FREGI, 5_000).await;
    let changed = s
        .post("/api/orders/100000960001/amount", json!({"amount": 4_200}))
        .await;
    let changed = changed.ok();
    assert_eq!(changed["action"], "change_amount");
    assert_eq!(changed["order"]["amount_due"]["minor_units"], 4_200);
    assert_eq!(warnings(changed), ["amount_held_until_capture"]);

    let paid = s.post_empty("/api/orders/100000960001/payment").await;
    let paid = paid.ok();
    assert_eq!(
        paid["operations"][0]["steps"],
        json!(["authchange", "sale"])
    );
    let view = s.order("100000960001").await;
    assert_eq!(view["payment"]["captured"]["minor_units"], 4_200);
    let seqno = transaction(&view);
    assert_eq!(
        s.demo
            .fregi
            .transaction(fregi_seqno(&seqno))
            .unwrap()
            .amount,
        4_200
    );

    // G-7: after capture the amount is not linked.
    let late = s
        .post("/api/orders/100000960001/amount", json!({"amount": 4_000}))
        .await;
    assert_eq!(warnings(late.ok()), ["amount_not_linked"]);
    assert_eq!(
        s.demo
            .fregi
            .transaction(fregi_seqno(&seqno))
            .unwrap()
            .amount,
        4_200
    );
}

#[tokio::test]
async fn g9_pre_order_is_authorized_on_release_once() {
    let s = Server::start().await;
    let created = s
        .post(
            "/api/orders",
            json!({"order": "100000970001", "gateway": FREGI, "amount": 8_800, "pre_order": true}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["action"], "register_pre_order");
    assert_eq!(created.body["order"]["status"], "pre_order");
    assert!(unpaid(&s).await.is_empty());

    let released = s
        .post(
            "/api/orders/100000970001/release",
            json!({"token": FREGI_TOKEN}),
        )
        .await;
    let released = released.ok();
    assert_eq!(released["order"]["status"], "normal");
    assert_eq!(kinds(released), ["authorize"]);
    assert_eq!(released["gateway_label"], "承認済");
    assert_eq!(unpaid(&s).await, ["100000970001"]);

    s.post(
        "/api/orders/100000970001/release",
        json!({"token": FREGI_TOKEN}),
    )
    .await
    .error(StatusCode::CONFLICT, "illegal_action");
}

#[tokio::test]
async fn g10_g11_leaving_the_card_voids_with_the_checkbox() {
    let s = Server::start().await;
    s.checkout("100000980001", SBPS, 1_500).await;
    s.checkout("100000980002", FREGI, 2_500).await;

    let cod = s
        .post(
            "/api/orders/100000980001/method",
            json!({"method": "cash_on_delivery", "cancel_at_gateway": true}),
        )
        .await;
    let cod = cod.ok();
    assert_eq!(cod["action"], "change_payment_method");
    assert_eq!(kinds(cod), ["void"]);
    assert_eq!(
        cod["order"]["method"],
        json!({"method": "other", "name": "cash_on_delivery"})
    );

    let free = s
        .post(
            "/api/orders/100000980002/no-payment-needed",
            json!({"cancel_at_gateway": true}),
        )
        .await;
    let free = free.ok();
    assert_eq!(free["action"], "no_payment_needed");
    assert_eq!(kinds(free), ["void"]);
    assert_eq!(free["order"]["amount_due"]["minor_units"], 0);
    let seqno = transaction(&s.order("100000980002").await);
    assert_eq!(
        s.demo
            .fregi
            .transaction(fregi_seqno(&seqno))
            .unwrap()
            .status_label,
        "承認取消"
    );
    assert!(!unpaid(&s).await.contains(&"100000980002".to_owned()));
}

#[tokio::test]
async fn g8_inquiry_and_reconcile_report_drift_and_leave_the_journal() {
    let s = Server::start().await;
    s.checkout("100000990001", SBPS, 7_700).await;
    s.checkout("100000990002", SBPS, 1_100).await;
    s.post_empty("/api/orders/100000990001/payment").await.ok();
    let tracking = transaction(&s.order("100000990001").await);
    // Refunded in SBPS's own tool; the shop is not told.
    s.demo.sbps.admin_refund(&tracking).unwrap();

    let inquiry = s.post_empty("/api/orders/100000990001/inquire").await;
    let inquiry = inquiry.ok();
    assert_eq!(inquiry["gateway"]["state"]["state"], "refunded");
    assert_eq!(inquiry["gateway_label"], "返金済");
    assert_eq!(inquiry["drift"]["kind"]["kind"], "refunded_at_gateway");
    assert!(inquiry["drift_line"].as_str().unwrap().contains("G-8"));
    let clean = s.post_empty("/api/orders/100000990002/inquire").await;
    assert!(clean.ok()["drift"].is_null());

    let report = s.post_empty("/api/reconcile").await;
    let report = report.ok();
    assert_eq!(report["checked"], 2);
    assert_eq!(report["drift"].as_array().unwrap().len(), 1);
    assert_eq!(report["drift"][0]["order"], "100000990001");
    assert!(report["errors"].as_array().unwrap().is_empty());

    // Reported, not written over: the journal still says captured.
    assert_eq!(s.order("100000990001").await["state"]["state"], "captured");
}

#[tokio::test]
async fn g1_with_linkage_off_the_shop_changes_and_the_gateway_is_not_touched() {
    let s = Server::start().await;
    s.checkout("100000910001", FREGI, 2_000).await;
    let gateways = s.get("/api/gateways").await;
    let gateways = gateways.ok().as_array().unwrap();
    // SBPS, F-REGI and GMO-PG.
    assert_eq!(gateways.len(), 3);
    let gmopg = gateways.iter().find(|g| g["name"] == "gmopg").unwrap();
    assert_eq!(gmopg["min_amount"], 1);
    let fregi = gateways.iter().find(|g| g["name"] == FREGI).unwrap();
    assert_eq!(fregi["linkage"], true);
    assert_eq!(fregi["min_amount"], 2);
    // F-REGI's screens offer four status changes, no "delete data" (F-6).
    assert_eq!(
        fregi["status_changes"],
        json!(["cancel", "return", "uncollectible", "hold"])
    );

    let off = s
        .send(
            Method::PUT,
            &format!("/api/gateways/{FREGI}/linkage"),
            Some(json!({"on": false})),
        )
        .await;
    assert_eq!(off.ok()["linkage"], false);
    let seqno = transaction(&s.order("100000910001").await);
    let paid = s.post_empty("/api/orders/100000910001/payment").await;
    let paid = paid.ok();
    assert_eq!(warnings(paid), ["linkage_off"]);
    assert!(kinds(paid).is_empty());
    assert_eq!(
        s.demo
            .fregi
            .transaction(fregi_seqno(&seqno))
            .unwrap()
            .status_label,
        "承認済"
    );

    s.post(
        "/api/orders",
        json!({"order": "100000910002", "gateway": FREGI, "amount": 900, "token": FREGI_TOKEN}),
    )
    .await
    .error(StatusCode::CONFLICT, "linkage_off");
    s.send(
        Method::PUT,
        "/api/gateways/paypay/linkage",
        Some(json!({"on": true})),
    )
    .await
    .error(StatusCode::NOT_FOUND, "unknown_gateway");
}

#[tokio::test]
async fn the_operator_page_is_served_at_the_root() {
    let s = Server::start().await;
    let resp = s.client.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("決済の取引情報を取り消す"));
    assert!(html.contains("入金済みにする"));
}

// ---- Operators: authentication, CSRF, the review queue and drift events ----

/// The endpoints an operator uses, reads and changes alike, each with a body it would take.
fn every_endpoint(order: &str) -> Vec<(Method, String, Option<serde_json::Value>)> {
    let o = |p: &str| format!("/api/orders/{order}{p}");
    vec![
        (Method::GET, "/api/gateways".into(), None),
        (Method::GET, "/api/orders".into(), None),
        (Method::GET, o(""), None),
        (Method::GET, o("/history"), None),
        (Method::GET, "/api/reviews".into(), None),
        (Method::GET, "/api/drifts?all=true".into(), None),
        (
            Method::PUT,
            format!("/api/gateways/{FREGI}/linkage"),
            Some(json!({"on": false})),
        ),
        (
            Method::POST,
            "/api/orders".into(),
            Some(
                json!({"order": "100000890099", "gateway": FREGI, "amount": 900, "token": FREGI_TOKEN}),
            ),
        ),
        (Method::POST, o("/payment"), None),
        (Method::DELETE, o("/payment"), None),
        (
            Method::POST,
            o("/status"),
            Some(json!({"status": "cancel", "cancel_at_gateway": true})),
        ),
        (Method::POST, o("/amount"), Some(json!({"amount": 600}))),
        (Method::POST, o("/inquire"), None),
        (
            Method::POST,
            "/api/bulk/payment".into(),
            Some(json!({"orders": [order]})),
        ),
        (Method::POST, "/api/reconcile".into(), None),
        (
            Method::POST,
            o("/review"),
            Some(json!({"decision": "took_effect", "state": "captured", "amount": 700})),
        ),
        (
            Method::POST,
            "/api/drifts/1/adopt".into(),
            Some(json!({"state": "voided"})),
        ),
        (
            Method::POST,
            "/api/drifts/1/dismiss".into(),
            Some(json!({})),
        ),
    ]
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// F-REGI without the emulator's inquiry extension, as against F-REGI itself: a capture whose
/// reply is lost after F-REGI processed it cannot be settled by the host and goes to review.
async fn fregi_capture_in_review(s: &Server, order: &str, yen: i64) -> String {
    s.checkout(order, FREGI, yen).await;
    let seqno = transaction(&s.order(order).await);
    s.demo
        .fregi
        .install_fault(FregiFault::reply_lost().on_script(Script::Sale));
    s.post_empty(&format!("/api/orders/{order}/payment"))
        .await
        .error(StatusCode::BAD_GATEWAY, "needs_review");
    // The first read of the order after the review brings the shop's bookkeeping in line with
    // the journal (`synced_version`); let it happen before anyone compares snapshots.
    s.snapshot().await;
    seqno
}

#[tokio::test]
async fn operators_401_without_or_with_wrong_credentials_and_nothing_changes() {
    let s = Server::start_with(DemoOptions {
        fregi_inquiry: false,
    })
    .await;
    s.checkout("100000890001", FREGI, 700).await;
    fregi_capture_in_review(&s, "100000890002", 800).await;
    let before = s.snapshot().await;

    let wrong_token = "Bearer test-token-sato-0123456788";
    for (method, path, body) in every_endpoint("100000890002") {
        let body_text = body.map(|b| &*b.to_string().leak());
        for authorization in [
            None,
            Some(wrong_token.to_owned()),
            Some(format!("Bearer {TOKEN}x")),
            Some(basic(BASIC_OPERATOR, "suzuki-password-02")),
            Some(basic("mallory", BASIC_PASSWORD)),
            // A token is not a password, nor the other way round.
            Some(basic(OPERATOR, TOKEN)),
            Some(format!("Bearer {BASIC_PASSWORD}")),
            Some(format!("Token {TOKEN}")),
        ] {
            let mut headers = vec![CSRF, ("content-type", "application/json")];
            if let Some(a) = &authorization {
                headers.push(("authorization", a));
            }
            let reply = s
                .send_bare(method.clone(), &path, &headers, body_text)
                .await;
            let what = format!("{method} {path} with {authorization:?}");
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{what}: {:#}",
                reply.body
            );
            assert_eq!(reply.body["error"], "unauthorized", "{what}");
            // The answer never repeats what was presented.
            let text = reply.body.to_string();
            for secret in [TOKEN, BASIC_PASSWORD, "0123456788", "suzuki-password-02"] {
                assert!(!text.contains(secret), "{what}: {text}");
            }
        }
    }
    // The 401 says how to authenticate, without inviting the browser's own login dialog.
    let resp = s
        .client
        .get(format!("{}/api/orders", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(s.snapshot().await, before);

    // The page itself holds no data and needs no credentials; both kinds of credential work.
    let page = s.client.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let me = s
        .send_bare(
            Method::GET,
            "/api/operator",
            &[("authorization", &basic(BASIC_OPERATOR, BASIC_PASSWORD))],
            None,
        )
        .await;
    assert_eq!(me.ok()["operator"], BASIC_OPERATOR);
    assert_eq!(s.get("/api/operator").await.ok()["operator"], OPERATOR);
}

#[tokio::test]
async fn changes_need_the_custom_header_403_and_json_415_and_nothing_changes() {
    let s = Server::start_with(DemoOptions {
        fregi_inquiry: false,
    })
    .await;
    s.checkout("100000891001", FREGI, 700).await;
    fregi_capture_in_review(&s, "100000891002", 800).await;
    let before = s.snapshot().await;
    let bearer = format!("Bearer {TOKEN}");
    let auth = ("authorization", bearer.as_str());

    for (method, path, body) in every_endpoint("100000891002") {
        if method == Method::GET {
            // Reads need no custom header: a cross-site page cannot read the answer anyway.
            let reply = s.send_bare(method, &path, &[auth], None).await;
            reply.ok();
            continue;
        }
        let body_text = body.map(|b| &*b.to_string().leak());
        let what = format!("{method} {path}");
        // What a plain HTML form can send: no custom header, a form encoding.
        for headers in [
            vec![auth, ("content-type", "application/json")],
            vec![auth, ("content-type", "application/x-www-form-urlencoded")],
            vec![
                auth,
                ("X-Renkei-Operator", "0"),
                ("content-type", "application/json"),
            ],
        ] {
            s.send_bare(method.clone(), &path, &headers, body_text)
                .await
                .error(StatusCode::FORBIDDEN, "csrf_header_missing");
        }
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
        ] {
            let mut headers = vec![auth, CSRF];
            if let Some(ct) = content_type {
                headers.push(("content-type", ct));
            }
            let reply = s
                .send_bare(method.clone(), &path, &headers, body_text)
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{what} {content_type:?}: {:#}",
                reply.body
            );
            assert_eq!(reply.body["error"], "unsupported_media_type", "{what}");
        }
    }
    assert_eq!(s.snapshot().await, before);
    // `application/json; charset=utf-8` is JSON.
    let reply = s
        .send_bare(
            Method::POST,
            "/api/orders/100000891001/amount",
            &[
                auth,
                CSRF,
                ("content-type", "application/json; charset=utf-8"),
            ],
            Some(r#"{"amount": 650}"#),
        )
        .await;
    assert_eq!(reply.ok()["order"]["amount_due"]["minor_units"], 650);
}

#[tokio::test]
async fn review_queue_shows_the_evidence_and_took_effect_is_journaled_with_the_operator() {
    let s = Server::start_with(DemoOptions {
        fregi_inquiry: false,
    })
    .await;
    let order = "100000892001";
    let seqno = fregi_capture_in_review(&s, order, 700).await;
    // F-REGI processed the sale; only its reply was lost.
    assert_eq!(
        s.demo
            .fregi
            .transaction(fregi_seqno(&seqno))
            .unwrap()
            .status_label,
        "売上済（未伝送）"
    );
    // The order refuses every operation but inquiry until an operator decides.
    s.post(
        &format!("/api/orders/{order}/status"),
        json!({"status": "cancel", "cancel_at_gateway": true}),
    )
    .await
    .error(StatusCode::CONFLICT, "needs_review");

    let queue = s.get("/api/reviews").await;
    let queue = queue.ok().as_array().unwrap();
    assert_eq!(queue.len(), 1, "{queue:#?}");
    let item = &queue[0];
    assert_eq!(item["order"], order);
    assert_eq!(item["operation"]["kind"], "capture");
    assert_eq!(item["operation"]["status"], "needs_review");
    assert_eq!(item["operation"]["amount"]["minor_units"], 700);
    assert_eq!(item["gateway_label"], "承認済");
    assert_eq!(item["payment"]["authorized"]["minor_units"], 700);
    assert_eq!(item["payment"]["captured"]["minor_units"], 0);
    assert_eq!(item["payment"]["transaction"], seqno.as_str());
    assert_eq!(item["took_effect_state"], "captured");
    assert_eq!(item["transaction_required"], false);
    assert!(
        item["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|st| st["state"] == "captured")
    );
    let exchanges = item["exchanges"].as_array().unwrap();
    let sale = exchanges.last().unwrap();
    assert_eq!(sale["step"], "sale", "{exchanges:#?}");
    assert!(sale["url"].as_str().unwrap().contains("sale"), "{sale:#}");
    assert!(
        sale["request_body"]
            .as_str()
            .unwrap()
            .contains(fregi_seqno(&seqno)),
        "{sale:#}"
    );
    assert!(sale["reply_status"].is_null());
    assert!(
        sale["no_reply"].as_str().is_some_and(|r| !r.is_empty()),
        "{sale:#}"
    );
    // Without F-REGI's inquiry there was no read-only exchange to show.
    assert!(item["last_inquiry"].is_null());
    let operation = item["operation"]["id"].as_i64().unwrap();

    // Nonsense is refused, and changes nothing.
    let before = s.snapshot().await;
    let path = format!("/api/orders/{order}/review");
    for (body, status, code) in [
        (
            json!({"decision": "took_effect", "state": "voided"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "state_does_not_fit",
        ),
        (
            json!({"decision": "took_effect", "state": "refunded", "amount": 700}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "state_does_not_fit",
        ),
        (
            json!({"decision": "took_effect", "state": "captured"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"decision": "took_effect", "amount": 700}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"decision": "took_effect", "state": "captured", "amount": -700}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"decision": "took_effect", "state": "captured", "amount": 700, "gateway_status": "999"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"decision": "no_effect", "state": "captured", "amount": 700}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"decision": "maybe"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        // The name journaled is the authenticated one; a body cannot name anyone.
        (
            json!({"decision": "took_effect", "state": "captured", "amount": 700, "operator": "mallory"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"decision": "no_effect", "operation": operation + 1}),
            StatusCode::CONFLICT,
            "review_changed",
        ),
        // The journal's money rules: F-REGI cannot have captured more than it authorized here.
        (
            json!({"decision": "took_effect", "state": "captured", "amount": 900}),
            StatusCode::CONFLICT,
            "contradiction",
        ),
    ] {
        s.post(&path, body.clone()).await.error(status, code);
    }
    s.post(
        "/api/orders/100000899999/review",
        json!({"decision": "no_effect"}),
    )
    .await
    .error(StatusCode::NOT_FOUND, "unknown_order");
    assert_eq!(s.snapshot().await, before);

    // What F-REGI's admin screen shows: 売上済（未伝送）, 700 yen.
    let status_code = item["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["label"] == "売上済（未伝送）")
        .map(|st| st["code"].as_str().unwrap().to_owned())
        .expect("F-REGI's table has 売上済（未伝送）");
    let decided = s
        .post(
            &path,
            json!({"decision": "took_effect", "operation": operation, "state": "captured",
                   "amount": 700, "gateway_status": status_code}),
        )
        .await;
    let decided = decided.ok();
    assert_eq!(decided["operator"], OPERATOR);
    assert_eq!(decided["decision"], "took_effect");
    assert_eq!(decided["payment"]["captured"]["minor_units"], 700);
    assert_eq!(decided["view"]["state"]["state"], "captured");
    assert_eq!(decided["view"]["gateway_label"], "売上済（未伝送）");
    assert_eq!(decided["view"]["order"]["paid"], true);
    assert!(s.reviews().await.is_empty());
    assert!(!unpaid(&s).await.contains(&order.to_owned()));
    let history = s.get(&format!("/api/orders/{order}/history")).await;
    let capture = history
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["id"] == operation)
        .unwrap()
        .clone();
    assert_took_effect_by_operator(&capture);
    // Decided once: a second decision is refused.
    s.post(&path, json!({"decision": "no_effect"}))
        .await
        .error(StatusCode::CONFLICT, "not_in_review");
    // The journal and F-REGI now agree, and the order can be returned from the shop.
    let returned = s
        .post(
            &format!("/api/orders/{order}/status"),
            json!({"status": "return", "cancel_at_gateway": true}),
        )
        .await;
    assert_eq!(kinds(returned.ok()), ["refund"]);
}

#[tokio::test]
async fn no_effect_by_a_basic_auth_operator_lets_the_order_be_captured_again() {
    let s = Server::start_with(DemoOptions {
        fregi_inquiry: false,
    })
    .await;
    let order = "100000893001";
    s.checkout(order, FREGI, 1_200).await;
    let seqno = transaction(&s.order(order).await);
    // Reset before F-REGI processed the sale: nothing happened there.
    s.demo
        .fregi
        .install_fault(FregiFault::reset().on_script(Script::Sale));
    s.post_empty(&format!("/api/orders/{order}/payment"))
        .await
        .error(StatusCode::BAD_GATEWAY, "needs_review");
    assert_eq!(
        s.demo
            .fregi
            .transaction(fregi_seqno(&seqno))
            .unwrap()
            .status_label,
        "承認済"
    );

    let authorization = basic(BASIC_OPERATOR, BASIC_PASSWORD);
    let decided = s
        .send_bare(
            Method::POST,
            &format!("/api/orders/{order}/review"),
            &[
                ("authorization", &authorization),
                CSRF,
                ("content-type", "application/json"),
            ],
            Some(r#"{"decision": "no_effect"}"#),
        )
        .await;
    let decided = decided.ok();
    assert_eq!(decided["operator"], BASIC_OPERATOR);
    assert_eq!(decided["view"]["state"]["state"], "authorized");
    assert_eq!(decided["view"]["order"]["paid"], false);
    let history = s.get(&format!("/api/orders/{order}/history")).await;
    let history = history.ok().as_array().unwrap().clone();
    assert!(
        history[1]["evidence"]
            .as_str()
            .unwrap()
            .ends_with(&format!("resolved by {BASIC_OPERATOR}: no effect")),
        "{history:#?}"
    );

    let paid = s.post_empty(&format!("/api/orders/{order}/payment")).await;
    assert_eq!(kinds(paid.ok()), ["capture"]);
    assert_eq!(
        s.demo
            .fregi
            .transaction(fregi_seqno(&seqno))
            .unwrap()
            .status_label,
        "売上済（未伝送）"
    );
}

#[tokio::test]
async fn an_sbps_authorization_in_review_takes_the_transaction_the_tool_shows() {
    let s = Server::start().await;
    let order = "100000894001";
    s.demo
        .sbps
        .install_fault(SbpsFault::reply_lost().on_function(Function::AuthorizeWithToken));
    let reply = s
        .post(
            "/api/orders",
            json!({"order": order, "gateway": SBPS, "amount": 3_000,
                   "token": SBPS_TOKEN, "token_key": SBPS_TOKEN_KEY}),
        )
        .await;
    reply.error(StatusCode::BAD_GATEWAY, "needs_review");
    let queue = s.get("/api/reviews").await;
    let item = &queue.ok()[0];
    assert_eq!(item["order"], order);
    assert_eq!(item["operation"]["kind"], "authorize");
    assert_eq!(item["took_effect_state"], "authorized");
    assert_eq!(item["transaction_required"], true);
    // The redacted body, as journaled: the card token never reached the journal.
    for x in item["exchanges"].as_array().unwrap() {
        let body = x["request_body"].as_str().unwrap_or("");
        assert!(!body.contains(SBPS_TOKEN), "{x:#}");
    }

    let path = format!("/api/orders/{order}/review");
    s.post(
        &path,
        json!({"decision": "took_effect", "state": "authorized", "amount": 3_000}),
    )
    .await
    .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let tracking = s
        .demo
        .sbps
        .dump()
        .payments
        .iter()
        .find(|p| p.authorized_amount == 3_000)
        .map(|p| p.tracking_id.clone())
        .expect("SBPS authorized it");
    let decided = s
        .post(
            &path,
            json!({"decision": "took_effect", "state": "authorized", "amount": 3_000,
                   "transaction": tracking}),
        )
        .await;
    let decided = decided.ok();
    assert_eq!(decided["operator"], OPERATOR);
    assert_eq!(decided["payment"]["transaction"], tracking.as_str());
    assert_eq!(decided["view"]["state"]["state"], "authorized");
    assert_eq!(unpaid(&s).await, [order]);
    let paid = s.post_empty(&format!("/api/orders/{order}/payment")).await;
    assert_eq!(kinds(paid.ok()), ["capture"]);
    assert_eq!(
        s.demo.sbps.payment(&tracking).unwrap().captured_amount,
        3_000
    );
}

#[tokio::test]
async fn g8_drift_events_are_adopted_or_dismissed_under_the_operators_name() {
    let s = Server::start().await;
    s.checkout("100000895001", SBPS, 7_700).await;
    s.post_empty("/api/orders/100000895001/payment").await.ok();
    s.checkout("100000895002", FREGI, 2_200).await;
    let tracking = transaction(&s.order("100000895001").await);
    let seqno = transaction(&s.order("100000895002").await);
    // Refunded in SBPS's tool, cancelled in F-REGI's admin screen; the shop is not told.
    s.demo.sbps.admin_refund(&tracking).unwrap();
    s.demo
        .fregi
        .admin_cancel(FREGI_SHOP_ID, fregi_seqno(&seqno))
        .unwrap();
    assert_eq!(
        s.post_empty("/api/reconcile").await.ok()["drift"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let open = s.get("/api/drifts").await;
    let open = open.ok().as_array().unwrap().clone();
    assert_eq!(open.len(), 2, "{open:#?}");
    let refunded = open.iter().find(|d| d["order"] == "100000895001").unwrap();
    assert_eq!(refunded["gateway_state"]["state"], "refunded");
    assert_eq!(refunded["journal_state"]["state"], "captured");
    assert_eq!(refunded["gateway_label"], "返金済");
    assert_eq!(refunded["payment"]["captured"]["minor_units"], 7_700);
    assert!(refunded["resolution"].is_null());
    let cancelled = open.iter().find(|d| d["order"] == "100000895002").unwrap();
    let (refund_id, cancel_id) = (
        refunded["id"].as_i64().unwrap(),
        cancelled["id"].as_i64().unwrap(),
    );

    let before = s.snapshot().await;
    let adopt = format!("/api/drifts/{refund_id}/adopt");
    for (body, code) in [
        (json!({"state": "refunded"}), "invalid_body"),
        (json!({"state": "voided", "amount": 7_700}), "invalid_body"),
        (json!({"state": "pending"}), "invalid_body"),
        (
            json!({"state": "refunded", "amount": 7_700, "operator": "mallory"}),
            "invalid_body",
        ),
        (
            json!({"state": "refunded", "amount": 7_700, "gateway_status": "1"}),
            "state_does_not_fit",
        ),
    ] {
        s.post(&adopt, body)
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    s.post("/api/drifts/99999/adopt", json!({"state": "voided"}))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_drift");
    s.post("/api/drifts/99999/dismiss", json!({}))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_drift");
    // More refunded than captured breaks the journal's money rules.
    s.post(&adopt, json!({"state": "refunded", "amount": 9_000}))
        .await
        .error(StatusCode::CONFLICT, "contradiction");
    assert_eq!(s.snapshot().await, before);

    let adopted = s
        .post(&adopt, json!({"state": "refunded", "amount": 7_700}))
        .await;
    let adopted = adopted.ok();
    assert_eq!(adopted["operator"], OPERATOR);
    assert_eq!(adopted["decision"], "adopted");
    assert_eq!(adopted["payment"]["refunded"]["minor_units"], 7_700);
    assert_eq!(adopted["view"]["state"]["state"], "refunded");

    let authorization = basic(BASIC_OPERATOR, BASIC_PASSWORD);
    let dismissed = s
        .send_bare(
            Method::POST,
            &format!("/api/drifts/{cancel_id}/dismiss"),
            &[
                ("authorization", &authorization),
                CSRF,
                ("content-type", "application/json"),
            ],
            None,
        )
        .await;
    let dismissed = dismissed.ok();
    assert_eq!(dismissed["operator"], BASIC_OPERATOR);
    // Dismissed: the journal keeps its own word.
    assert_eq!(dismissed["view"]["state"]["state"], "authorized");

    assert!(
        s.get("/api/drifts")
            .await
            .ok()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let all = s.get("/api/drifts?all=true").await;
    let all = all.ok().as_array().unwrap().clone();
    let closed: Vec<_> = all
        .iter()
        .map(|d| {
            (
                d["id"].as_i64().unwrap(),
                d["resolution"]["action"].as_str().unwrap(),
                d["resolution"]["operator"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        closed.contains(&(refund_id, "adopted", OPERATOR)),
        "{closed:?}"
    );
    assert!(
        closed.contains(&(cancel_id, "dismissed", BASIC_OPERATOR)),
        "{closed:?}"
    );
    // Closed once.
    s.post(&format!("/api/drifts/{cancel_id}/dismiss"), json!({}))
        .await
        .error(StatusCode::CONFLICT, "drift_closed");
    s.get("/api/drifts?all=maybe")
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");
}
