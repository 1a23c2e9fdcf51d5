//! The Kumo Pay emulator over loopback, driven with hand-made signed requests (not the plugin's
//! code), so that emulator and plugin cannot agree on a mistake.

use hmac::{Hmac, Mac};
use renkei_emulator_kumopay::{
    Config, DEFAULT_API_KEY, DEFAULT_MERCHANT_ID, DEFAULT_SIGNING_KEY, DEFAULT_TOLERANCE_SECONDS,
    Status, TEST_TOKEN_DECLINED, TEST_TOKEN_OK, TEST_TOKEN_TWO_ERRORS, TemplateEmulator,
};
use serde_json::{Value, json};
use sha2::Sha256;

struct Client {
    http: reqwest::Client,
    emulator: TemplateEmulator,
}

impl Client {
    async fn start() -> Client {
        Client {
            http: reqwest::Client::new(),
            emulator: TemplateEmulator::start(Config::default()).await.unwrap(),
        }
    }

    async fn call(&self, method: &str, route: &str, body: Value, key: &str) -> (u16, Value) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.call_at(method, route, body, key, now).await
    }

    /// A request stamped `timestamp` (Unix seconds).
    async fn call_at(
        &self,
        method: &str,
        route: &str,
        body: Value,
        key: &str,
        timestamp: u64,
    ) -> (u16, Value) {
        let body = if method == "GET" {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let path = format!("/v1{route}");
        let timestamp = timestamp.to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{method}\n{path}\n{timestamp}\n").as_bytes());
        mac.update(&body);
        let signature: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let url = format!("{}{route}", self.emulator.endpoint_url());
        let request = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        };
        let reply = request
            .header("Authorization", format!("Bearer {DEFAULT_API_KEY}"))
            .header("Kumo-Timestamp", &timestamp)
            .header("Kumo-Signature", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        (
            status,
            serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap(),
        )
    }

    async fn signed(&self, method: &str, route: &str, body: Value) -> (u16, Value) {
        self.call(method, route, body, DEFAULT_SIGNING_KEY).await
    }

    async fn authorize(&self, order: &str, amount: i64, token: &str) -> (u16, Value) {
        let body = json!({"merchant": DEFAULT_MERCHANT_ID, "order": order, "amount": amount,
                          "currency": "JPY", "token": token});
        self.signed("POST", "/payments", body).await
    }
}

fn code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn authorize_capture_part_then_refund_in_two_steps() {
    let c = Client::start().await;
    let (status, p) = c.authorize("o-1", 1000, TEST_TOKEN_OK).await;
    assert_eq!((status, p["status"].as_str()), (201, Some("authorized")));
    let id = p["id"].as_str().unwrap().to_owned();
    let (_, p) = c
        .signed(
            "POST",
            &format!("/payments/{id}/capture"),
            json!({"amount": 800}),
        )
        .await;
    assert_eq!(
        (p["status"].as_str(), p["captured"].as_i64()),
        (Some("captured"), Some(800))
    );
    let (_, p) = c
        .signed(
            "POST",
            &format!("/payments/{id}/refunds"),
            json!({"amount": 300}),
        )
        .await;
    assert_eq!(p["status"], "partially_refunded");
    let (status, e) = c
        .signed(
            "POST",
            &format!("/payments/{id}/refunds"),
            json!({"amount": 501}),
        )
        .await;
    assert_eq!((status, code(&e)), (400, "amount_too_large"));
    let (_, p) = c
        .signed("POST", &format!("/payments/{id}/refunds"), json!({}))
        .await;
    assert_eq!(
        (p["status"].as_str(), p["refunded"].as_i64()),
        (Some("refunded"), Some(800))
    );
    assert_eq!(c.emulator.payment(&id).unwrap().status, Status::Refunded);
}

#[tokio::test]
async fn repeated_and_impossible_operations_get_the_template_error_codes() {
    let c = Client::start().await;
    let (_, p) = c.authorize("o-2", 500, TEST_TOKEN_OK).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let (_, _) = c
        .signed("POST", &format!("/payments/{id}/void"), json!({}))
        .await;
    let (status, e) = c
        .signed("POST", &format!("/payments/{id}/void"), json!({}))
        .await;
    assert_eq!((status, code(&e)), (409, "already_voided"));
    let (_, e) = c
        .signed("POST", &format!("/payments/{id}/capture"), json!({}))
        .await;
    assert_eq!(code(&e), "not_capturable");
    let (_, e) = c.authorize("o-2", 500, TEST_TOKEN_OK).await;
    assert_eq!(code(&e), "duplicate_order");
    let (status, e) = c.authorize("o-3", 500, TEST_TOKEN_DECLINED).await;
    assert_eq!((status, code(&e)), (402, "card_declined"));
    let (status, e) = c.signed("GET", "/payments/pay_404", json!({})).await;
    assert_eq!((status, code(&e)), (404, "payment_not_found"));
}

#[tokio::test]
async fn a_request_signed_with_another_key_is_refused() {
    let c = Client::start().await;
    let body = json!({"merchant": DEFAULT_MERCHANT_ID, "order": "o-4", "amount": 100,
                      "currency": "JPY", "token": TEST_TOKEN_OK});
    let (status, e) = c.call("POST", "/payments", body, "sk_wrong").await;
    assert_eq!((status, code(&e)), (401, "bad_signature"));
    assert!(
        c.emulator.payment("pay_1").is_none(),
        "nothing was authorized"
    );
}

#[tokio::test]
async fn a_request_stamped_longer_ago_than_the_tolerance_is_refused_unprocessed() {
    let c = Client::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = json!({"merchant": DEFAULT_MERCHANT_ID, "order": "o-5", "amount": 100,
                      "currency": "JPY", "token": TEST_TOKEN_OK});
    for stamp in [
        now - DEFAULT_TOLERANCE_SECONDS - 1,
        now + DEFAULT_TOLERANCE_SECONDS + 1,
    ] {
        let (status, e) = c
            .call_at(
                "POST",
                "/payments",
                body.clone(),
                DEFAULT_SIGNING_KEY,
                stamp,
            )
            .await;
        assert_eq!((status, code(&e)), (401, "stale_request"));
    }
    assert!(c.emulator.payments().is_empty(), "nothing was authorized");
}

#[tokio::test]
async fn a_payment_is_found_by_its_order_id_and_an_unknown_one_is_not_found() {
    let c = Client::start().await;
    let (_, p) = c.authorize("o-6", 700, TEST_TOKEN_OK).await;
    let (status, found) = c.signed("GET", "/payments/by-order/o-6", json!({})).await;
    assert_eq!((status, &found["id"]), (200, &p["id"]));
    let (status, e) = c.signed("GET", "/payments/by-order/o-7", json!({})).await;
    assert_eq!((status, code(&e)), (404, "payment_not_found"));
}

#[tokio::test]
async fn a_card_failing_two_checks_gets_both_codes_in_one_reply_the_first_also_as_error() {
    let c = Client::start().await;
    let (status, e) = c.authorize("o-8", 700, TEST_TOKEN_TWO_ERRORS).await;
    assert_eq!(status, 402);
    assert_eq!(code(&e), "card_declined");
    let all: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    assert_eq!(all, ["card_declined", "amount_too_large"]);
    assert!(c.emulator.payments().is_empty());
}
