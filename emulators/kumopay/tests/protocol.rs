//! The Kumo Pay emulator over loopback, driven with hand-made signed requests (not the plugin's
//! code), so that emulator and plugin cannot agree on a mistake.

use hmac::{Hmac, Mac};
use renkei_emulator_kumopay::{
    Charset, Config, DEFAULT_API_KEY, DEFAULT_MERCHANT_ID, DEFAULT_SIGNING_KEY,
    DEFAULT_TOLERANCE_SECONDS, Status, TEST_TOKEN_DECLINED, TEST_TOKEN_OK, TEST_TOKEN_TWO_ERRORS,
    TemplateEmulator, Wire,
};
use serde_json::{Value, json};
use sha2::Sha256;

struct Client {
    http: reqwest::Client,
    emulator: TemplateEmulator,
}

impl Client {
    async fn start() -> Client {
        Client::speaking(Wire::Json).await
    }

    async fn speaking(wire: Wire) -> Client {
        let config = Config {
            wire,
            ..Config::default()
        };
        Client {
            http: reqwest::Client::new(),
            emulator: TemplateEmulator::start(config).await.unwrap(),
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
        let (status, reply) = self.send(method, route, body, key, timestamp).await;
        (status, serde_json::from_slice(&reply).unwrap())
    }

    /// `body` as it is, signed with `key` and stamped `timestamp`: the HTTP status and the
    /// reply's bytes.
    async fn send(
        &self,
        method: &str,
        route: &str,
        body: Vec<u8>,
        key: &str,
        timestamp: u64,
    ) -> (u16, Vec<u8>) {
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
        (status, reply.bytes().await.unwrap().to_vec())
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

/// A form body, written by hand: every byte of each value in `%XX`.
fn form(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let pairs: Vec<String> = fields
        .iter()
        .map(|(name, value)| {
            let value: String = value.iter().map(|b| format!("%{b:02X}")).collect();
            format!("{name}={value}")
        })
        .collect();
    pairs.join("&").into_bytes()
}

/// The entry of an order of 1080 yen, the first step of a form authorization.
fn entry(order: &str) -> Vec<u8> {
    form(&[
        ("merchant", DEFAULT_MERCHANT_ID.as_bytes()),
        ("order", order.as_bytes()),
        ("amount", b"1080"),
        ("currency", b"JPY"),
    ])
}

/// The charge of an entered order, naming `customer` (bytes in some charset).
fn authorization(entry: &str, token: &str, customer: &[u8]) -> Vec<u8> {
    form(&[
        ("merchant", DEFAULT_MERCHANT_ID.as_bytes()),
        ("entry", entry.as_bytes()),
        ("token", token.as_bytes()),
        ("customer", customer),
    ])
}

impl Client {
    /// `body` signed and stamped now, POSTed to `route`: the HTTP status and the reply's bytes.
    async fn post_form(&self, route: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.send("POST", route, body, DEFAULT_SIGNING_KEY, now)
            .await
    }
}

/// The form wire in Shift_JIS and EUC-JP: a customer name is read in the account's charset
/// (ポ is `83 7C` in Shift_JIS: a `|` byte inside a character) and written back in it, with
/// the processing time last; a refusal lists its codes in `ErrCode`/`ErrInfo`, under HTTP 200.
#[tokio::test]
async fn the_form_wire_reads_and_writes_the_accounts_charset() {
    // ポール山田, by hand: Shift_JIS and EUC-JP.
    let name_sjis: &[u8] = b"\x83\x7c\x81\x5b\x83\x8b\x8e\x52\x93\x63";
    let name_euc: &[u8] = b"\xa5\xdd\xa1\xbc\xa5\xeb\xbb\xb3\xc5\xc4";
    for (charset, name) in [(Charset::ShiftJis, name_sjis), (Charset::EucJp, name_euc)] {
        let c = Client::speaking(Wire::Form(charset)).await;
        for (order, entered) in [
            ("o-f1", &b"entry=entry_1&"[..]),
            ("o-f2", b"entry=entry_2&"),
        ] {
            let (status, reply) = c.post_form("/entries", entry(order)).await;
            assert_eq!(status, 200);
            assert!(reply.starts_with(entered), "{reply:?}");
        }
        assert!(c.emulator.payments().is_empty(), "an entry charges nothing");
        let (_, reply) = c.post_form("/entries", entry("o-f1")).await;
        assert_eq!(reply, b"ErrCode=E409&ErrInfo=duplicate_order");
        let (status, reply) = c
            .post_form("/payments", authorization("entry_1", TEST_TOKEN_OK, name))
            .await;
        assert_eq!(status, 200, "{charset:?}");
        let head = b"id=pay_1&status=authorized&currency=JPY&amount=1080&captured=0&refunded=0&authorization_code=A-pay_1&customer=";
        assert!(reply.starts_with(head), "{charset:?}: {reply:?}");
        let rest = &reply[head.len()..];
        assert_eq!(&rest[..name.len()], name, "{charset:?}");
        let stamp = rest[name.len()..].strip_prefix(b"&processed_at=").unwrap();
        assert!(stamp.len() == 14 && stamp.iter().all(u8::is_ascii_digit));
        let p = c.emulator.payment("pay_1").unwrap();
        assert_eq!(p.customer.as_deref(), Some("ポール山田"), "{charset:?}");

        let (status, reply) = c
            .post_form(
                "/payments",
                authorization("entry_2", TEST_TOKEN_TWO_ERRORS, name),
            )
            .await;
        assert_eq!(
            (status, reply.as_slice()),
            (
                200,
                &b"ErrCode=E402|E402&ErrInfo=card_declined|amount_too_large"[..]
            )
        );
        let (_, reply) = c
            .post_form("/payments", authorization("entry_1", TEST_TOKEN_OK, name))
            .await;
        assert_eq!(reply, b"ErrCode=E409&ErrInfo=duplicate_order");
        let (_, reply) = c
            .post_form("/payments/pay_1/capture", form(&[("amount", b"980")]))
            .await;
        assert!(
            reply.starts_with(b"id=pay_1&status=captured&currency=JPY&amount=1080&captured=980&")
        );
    }
    // Read in the wrong charset, the name is not a form value: refused, nothing authorized.
    let c = Client::speaking(Wire::Form(Charset::EucJp)).await;
    c.post_form("/entries", entry("o-f3")).await;
    let (_, reply) = c
        .post_form(
            "/payments",
            authorization("entry_1", TEST_TOKEN_OK, name_sjis),
        )
        .await;
    assert_eq!(reply, b"ErrCode=E400&ErrInfo=invalid_request");
    assert!(c.emulator.payments().is_empty());
}

/// An XML request document in a charset, written by hand: the declaration names the charset,
/// each field one element (values here need no escaping).
fn xml(charset: &str, fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body =
        format!("<?xml version=\"1.0\" encoding=\"{charset}\"?>\n<request>").into_bytes();
    for (name, value) in fields {
        body.extend(format!("<{name}>").bytes());
        body.extend(*value);
        body.extend(format!("</{name}>").bytes());
    }
    body.extend(b"</request>");
    body
}

/// The XML wire in Shift_JIS and EUC-JP: the same engine (two-step authorization, book, order
/// ids) behind XML documents in the account's charset; a refusal lists every problem as one
/// `<error>`, under HTTP 200; a malformed document is refused unprocessed (`invalid_request`).
#[tokio::test]
async fn the_xml_wire_reads_and_writes_the_accounts_charset() {
    let name_sjis: &[u8] = b"\x83\x7c\x81\x5b\x83\x8b\x8e\x52\x93\x63";
    let name_euc: &[u8] = b"\xa5\xdd\xa1\xbc\xa5\xeb\xbb\xb3\xc5\xc4";
    for (charset, label, name) in [
        (Charset::ShiftJis, "Shift_JIS", name_sjis),
        (Charset::EucJp, "EUC-JP", name_euc),
    ] {
        let c = Client::speaking(Wire::Xml(charset)).await;
        let head = format!("<?xml version=\"1.0\" encoding=\"{label}\"?>");
        let entry = |order: &str| {
            xml(
                label,
                &[
                    ("merchant", DEFAULT_MERCHANT_ID.as_bytes()),
                    ("order", order.as_bytes()),
                    ("amount", b"1080"),
                    ("currency", b"JPY"),
                ],
            )
        };
        let (status, reply) = c.post_form("/entries", entry("o-x1")).await;
        assert_eq!(status, 200);
        let entered = format!("{head}<entry><id>entry_1</id><processed_at>");
        assert!(reply.starts_with(entered.as_bytes()), "{reply:?}");
        assert!(reply.ends_with(b"</processed_at></entry>"), "{reply:?}");
        let (_, reply) = c.post_form("/entries", entry("o-x1")).await;
        let duplicate = format!(
            "{head}<errors><error><code>duplicate_order</code><message>order already entered</message></error></errors>"
        );
        assert_eq!(reply, duplicate.as_bytes());
        c.post_form("/entries", entry("o-x2")).await;
        assert!(c.emulator.payments().is_empty(), "an entry charges nothing");

        let charge = |entry: &str, token: &str| {
            xml(
                label,
                &[
                    ("merchant", DEFAULT_MERCHANT_ID.as_bytes()),
                    ("entry", entry.as_bytes()),
                    ("token", token.as_bytes()),
                    ("customer", name),
                ],
            )
        };
        let (status, reply) = c
            .post_form("/payments", charge("entry_1", TEST_TOKEN_OK))
            .await;
        assert_eq!(status, 200);
        let mut paid = format!("{head}<payment><id>pay_1</id><status>authorized</status><currency>JPY</currency><amount>1080</amount><captured>0</captured><refunded>0</refunded><authorization_code>A-pay_1</authorization_code><customer>").into_bytes();
        paid.extend(name);
        paid.extend(b"</customer><processed_at>");
        assert!(reply.starts_with(&paid), "{charset:?}: {reply:?}");
        let p = c.emulator.payment("pay_1").unwrap();
        assert_eq!(p.customer.as_deref(), Some("ポール山田"), "{charset:?}");

        let (_, reply) = c
            .post_form("/payments", charge("entry_2", TEST_TOKEN_TWO_ERRORS))
            .await;
        let both = format!(
            "{head}<errors><error><code>card_declined</code><message>declined</message></error><error><code>amount_too_large</code><message>above this card&apos;s limit</message></error></errors>"
        );
        assert_eq!(reply, both.as_bytes());
        let (_, reply) = c
            .post_form("/payments/pay_1/capture", xml(label, &[("amount", b"980")]))
            .await;
        let captured = format!(
            "{head}<payment><id>pay_1</id><status>captured</status><currency>JPY</currency><amount>1080</amount><captured>980</captured>"
        );
        assert!(reply.starts_with(captured.as_bytes()), "{reply:?}");

        // Malformed: cut, another encoding declared, a field twice: refused, nothing done.
        let unreadable = |what: &str| {
            format!(
                "{head}<errors><error><code>invalid_request</code><message>unreadable {what}</message></error></errors>"
            )
        };
        let mut cut = entry("o-x3");
        cut.truncate(cut.len() - 3);
        let mut twice = xml(label, &[("amount", b"1"), ("amount", b"2")]);
        let (_, reply) = c.post_form("/entries", cut).await;
        assert_eq!(reply, unreadable("entry").as_bytes());
        let other = xml("UTF-8", &[("merchant", DEFAULT_MERCHANT_ID.as_bytes())]);
        let (_, reply) = c.post_form("/entries", other).await;
        assert_eq!(reply, unreadable("entry").as_bytes());
        twice.extend(b"\n");
        let (_, reply) = c.post_form("/payments/pay_1/refunds", twice).await;
        assert_eq!(reply, unreadable("amount").as_bytes());
        assert_eq!(c.emulator.payment("pay_1").unwrap().refunded, 0);
    }
}
