//! A raw GMO-PG client for the tests: bodies are encoded to Windows-31J and percent-encoded by
//! hand here, and replies decoded here, never with the emulator's own code.

#![allow(dead_code)]

use std::time::Duration;

use encoding_rs::SHIFT_JIS;
use renkei_emulator_gmopg::{Config, GmopgEmulator};
use serde_json::Value;

pub use renkei_emulator_gmopg::{DEFAULT_SHOP_ID as SHOP, DEFAULT_SHOP_PASS as PASS};

/// 2026-01-15T10:00:00+09:00.
pub const T0: i64 = 1_768_438_800;
pub const DAY: u64 = 86_400;

pub async fn emulator_with(change: impl FnOnce(&mut Config)) -> GmopgEmulator {
    let mut config = Config {
        clock_start: Some(T0),
        seed: Some(7),
        ..Config::default()
    };
    change(&mut config);
    GmopgEmulator::start(config).await.expect("emulator starts")
}

/// A fresh emulator and a client of it.
pub async fn started() -> (GmopgEmulator, Client) {
    let emu = emulator_with(|_| {}).await;
    let client = Client::new(&emu);
    (emu, client)
}

/// One reply as a client sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub raw: Vec<u8>,
    pub pairs: Vec<(String, String)>,
}

impl Reply {
    fn parse(status: u16, content_type: String, raw: Vec<u8>) -> Reply {
        let (text, _, malformed) = SHIFT_JIS.decode(&raw);
        let pairs = if malformed || raw.is_empty() {
            Vec::new()
        } else {
            text.split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (kv.to_owned(), String::new()),
                })
                .collect()
        };
        Reply {
            status,
            content_type,
            raw,
            pairs,
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn must(&self, key: &str) -> String {
        self.get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.text()))
            .to_owned()
    }

    pub fn keys(&self) -> Vec<&str> {
        self.pairs.iter().map(|(k, _)| k.as_str()).collect()
    }

    pub fn is_error(&self) -> bool {
        self.get("ErrCode").is_some()
    }

    /// The `ErrInfo` list (empty on success).
    pub fn infos(&self) -> Vec<String> {
        self.get("ErrInfo")
            .map(|v| v.split('|').map(str::to_owned).collect())
            .unwrap_or_default()
    }

    pub fn codes(&self) -> Vec<String> {
        self.get("ErrCode")
            .map(|v| v.split('|').map(str::to_owned).collect())
            .unwrap_or_default()
    }

    pub fn text(&self) -> String {
        SHIFT_JIS.decode(&self.raw).0.into_owned()
    }

    /// Asserts a GMO-PG reply (HTTP 200, Windows-31J) that is exactly this one error list.
    #[track_caller]
    pub fn assert_errors(&self, infos: &[&str]) {
        assert_eq!(self.status, 200, "{}", self.text());
        assert_eq!(self.infos(), infos, "{}", self.text());
        assert_eq!(self.codes().len(), infos.len(), "{}", self.text());
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{}", self.text());
        assert!(!self.is_error(), "unexpected error: {}", self.text());
    }
}

/// Windows-31J, then percent-encoding of everything but ASCII letters, digits and `-_.*`.
pub fn encode_form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let enc = |s: &str| {
        let bytes = SHIFT_JIS.encode(s).0.into_owned();
        let mut out = String::new();
        for b in bytes {
            if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The ids of a registered transaction.
#[derive(Clone, Debug)]
pub struct Ids {
    pub order: String,
    pub access_id: String,
    pub access_pass: String,
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub control: String,
}

impl Client {
    pub fn new(emu: &GmopgEmulator) -> Client {
        Client::with_timeout(emu, Duration::from_secs(10))
    }

    pub fn with_timeout(emu: &GmopgEmulator, timeout: Duration) -> Client {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Client {
            http,
            base: emu.base_url(),
            control: emu.control_url(),
        }
    }

    pub async fn try_raw(
        &self,
        api: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self
            .http
            .post(format!("{}{api}.idPass", self.base))
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let raw = response.bytes().await?.to_vec();
        Ok(Reply::parse(status, content_type, raw))
    }

    pub async fn try_post(
        &self,
        api: &str,
        pairs: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        self.try_raw(
            api,
            encode_form(pairs),
            Some("application/x-www-form-urlencoded"),
        )
        .await
    }

    pub async fn post(&self, api: &str, pairs: &[(&str, &str)]) -> Reply {
        self.try_post(api, pairs).await.expect("a reply")
    }

    pub async fn entry(&self, order: &str, job: &str, amount: u64) -> Reply {
        let amount = amount.to_string();
        self.post(
            "EntryTran",
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", order),
                ("JobCd", job),
                ("Amount", &amount),
            ],
        )
        .await
    }

    /// EntryTran that must succeed.
    pub async fn entered(&self, order: &str, job: &str, amount: u64) -> Ids {
        let reply = self.entry(order, job, amount).await;
        reply.assert_ok();
        Ids {
            order: order.to_owned(),
            access_id: reply.must("AccessID"),
            access_pass: reply.must("AccessPass"),
        }
    }

    pub async fn exec_token(&self, ids: &Ids, token: &str) -> Reply {
        self.post(
            "ExecTran",
            &[
                ("AccessID", &ids.access_id),
                ("AccessPass", &ids.access_pass),
                ("OrderID", &ids.order),
                ("Method", "1"),
                ("Token", token),
            ],
        )
        .await
    }

    /// EntryTran + ExecTran with the good token.
    pub async fn authorized(&self, order: &str, job: &str, amount: u64) -> Ids {
        let ids = self.entered(order, job, amount).await;
        self.exec_token(&ids, "TESTTOKEN-OK").await.assert_ok();
        ids
    }

    pub async fn alter(&self, ids: &Ids, job: &str, amount: Option<u64>) -> Reply {
        let amount = amount.map(|a| a.to_string());
        let mut pairs = vec![
            ("ShopID", SHOP),
            ("ShopPass", PASS),
            ("AccessID", ids.access_id.as_str()),
            ("AccessPass", ids.access_pass.as_str()),
            ("JobCd", job),
        ];
        if let Some(amount) = &amount {
            pairs.push(("Amount", amount));
        }
        self.post("AlterTran", &pairs).await
    }

    pub async fn change(&self, ids: &Ids, job: &str, amount: u64) -> Reply {
        let amount = amount.to_string();
        self.post(
            "ChangeTran",
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("AccessID", &ids.access_id),
                ("AccessPass", &ids.access_pass),
                ("JobCd", job),
                ("Amount", &amount),
            ],
        )
        .await
    }

    pub async fn search(&self, order: &str) -> Reply {
        self.post(
            "SearchTrade",
            &[("ShopID", SHOP), ("ShopPass", PASS), ("OrderID", order)],
        )
        .await
    }

    pub async fn control_get(&self, route: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{route}", self.control))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
        )
    }

    pub async fn control_post(&self, route: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{route}", self.control));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
        )
    }
}
