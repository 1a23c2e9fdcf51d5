//! The rig: both emulators, the two plugins built as cdylibs (by `renkei-tests`), a SQLite
//! journal, and the server's router on 127.0.0.1:0, reached with a real HTTP client.

use renkei_shop_server::auth::{Credential, Operators};
use renkei_shop_server::demo::{
    Demo, DemoOptions, FREGI, FREGI_TOKEN, SBPS, SBPS_TOKEN, SBPS_TOKEN_KEY,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The operator the tests act as by default (bearer token).
pub const OPERATOR: &str = "sato";
pub const TOKEN: &str = "test-token-sato-0123456789";
/// A second operator, who signs in with HTTP basic auth.
pub const BASIC_OPERATOR: &str = "suzuki";
pub const BASIC_PASSWORD: &str = "suzuki-password-01";
/// The header a state-changing request must carry.
pub const CSRF: (&str, &str) = ("X-Renkei-Operator", "1");

fn operators() -> Operators {
    let mut ops = Operators::new();
    ops.add(OPERATOR, Some(Credential::Secret(TOKEN.into())), None)
        .unwrap();
    ops.add(
        BASIC_OPERATOR,
        None,
        Some(Credential::Secret(BASIC_PASSWORD.into())),
    )
    .unwrap();
    ops
}

pub struct Server {
    pub demo: Demo,
    pub base: String,
    pub client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn journal_path() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!("renkei-shop-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("j{}.db", N.fetch_add(1, Ordering::Relaxed)))
}

/// An answer: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// Sends `req` and reads the answer, whose body must be JSON whatever the status.
    async fn read(req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
        Reply { status, body }
    }

    /// Asserts a typed error body with this status and code; answers the body.
    #[track_caller]
    pub fn error(&self, status: StatusCode, code: &str) -> &Value {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.body["error"], code, "{:#}", self.body);
        assert!(
            self.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{:#}",
            self.body
        );
        assert!(self.body["reason"].is_string(), "{:#}", self.body);
        &self.body
    }

    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "{}: {:#}", self.status, self.body);
        &self.body
    }
}

/// Everything a refused request must leave as it was: the shop's orders (with the journal's
/// view of their money), every order's gateway operations, the review queue, every drift event
/// with its resolution, and both emulators' books.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    orders: Value,
    histories: Vec<Value>,
    reviews: Value,
    drifts: Value,
    sbps: Value,
    fregi: Value,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(DemoOptions::default()).await
    }

    pub async fn start_with(options: DemoOptions) -> Server {
        let plugin_dir = tokio::task::spawn_blocking(|| renkei_tests::plugin_dir().to_path_buf())
            .await
            .unwrap();
        let demo = Demo::start_with(
            &plugin_dir,
            &journal_path(),
            Duration::from_secs(5),
            options,
        )
        .await
        .expect("demo rig");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = renkei_shop_server::router(demo.shop.clone(), operators().into());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server {
            demo,
            base,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            task,
        }
    }

    /// A request as the operator page sends it: the bearer token and, for anything but GET,
    /// the custom header and a JSON content type (also without a body).
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if method != Method::GET {
            req = req
                .header(CSRF.0, CSRF.1)
                .header("content-type", "application/json");
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Reply::read(req).await
    }

    /// A body sent as raw bytes with the given content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &'static str,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header(CSRF.0, CSRF.1)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let body = resp.json().await.expect("a JSON body");
        Reply { status, body }
    }

    /// A request with exactly these headers and body, nothing added: for the auth and CSRF
    /// checks.
    pub async fn send_bare(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&'static str>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        Reply::read(req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str) -> Reply {
        self.send(Method::POST, path, None).await
    }

    /// A card order authorized at checkout through the API.
    pub async fn checkout(&self, order: &str, gateway: &str, amount: i64) -> Value {
        let body = if gateway == SBPS {
            json!({"order": order, "gateway": gateway, "amount": amount,
                   "token": SBPS_TOKEN, "token_key": SBPS_TOKEN_KEY})
        } else {
            assert_eq!(gateway, FREGI);
            json!({"order": order, "gateway": gateway, "amount": amount, "token": FREGI_TOKEN})
        };
        let reply = self.post("/api/orders", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:#}", reply.body);
        reply.body
    }

    /// The review queue.
    pub async fn reviews(&self) -> Vec<Value> {
        self.get("/api/reviews")
            .await
            .ok()
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn order(&self, order: &str) -> Value {
        self.get(&format!("/api/orders/{order}")).await.ok().clone()
    }

    pub async fn snapshot(&self) -> Snapshot {
        let orders = self.get("/api/orders").await.ok().clone();
        let mut histories = vec![];
        for o in orders.as_array().unwrap() {
            let code = o["order"]["order"].as_str().unwrap();
            histories.push(
                self.get(&format!("/api/orders/{code}/history"))
                    .await
                    .ok()
                    .clone(),
            );
        }
        Snapshot {
            orders,
            histories,
            reviews: self.get("/api/reviews").await.ok().clone(),
            drifts: self.get("/api/drifts?all=true").await.ok().clone(),
            sbps: serde_json::to_value(self.demo.sbps.dump().payments).unwrap(),
            fregi: serde_json::to_value(self.demo.fregi.dump().transactions).unwrap(),
        }
    }
}

/// Asserts that the operation `op` of an order's history was resolved by [`OPERATOR`]'s
/// decision that it took effect.
#[track_caller]
pub fn assert_took_effect_by_operator(op: &Value) {
    assert_eq!(op["status"], "resolved");
    assert!(
        op["evidence"]
            .as_str()
            .unwrap()
            .ends_with(&format!("resolved by {OPERATOR}: took effect")),
        "{op:#}"
    );
}

/// The unpaid list's order codes.
pub async fn unpaid(server: &Server) -> Vec<String> {
    server
        .get("/api/orders?unpaid=true")
        .await
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order"]["order"].as_str().unwrap().to_owned())
        .collect()
}

/// The F-REGI `SEQNO` of the plugin's reference (`SEQNO-AUTHCODE`), for asking the emulator or
/// its admin screen about the transaction.
pub fn fregi_seqno(reference: &str) -> &str {
    reference
        .split_once('-')
        .map_or(reference, |(seqno, _)| seqno)
}
