//! A deliberately naive SBPS client, written from the protocol notes and sharing no code with
//! the emulator: requests are XML text built by hand, the hash and the 3DES fields are computed
//! here with the primitive crates, and replies are read with plain string searches.
#![allow(dead_code)] // each test binary uses a different part of it

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use renkei_emulator_sbps::{Config, JstDateTime, SbpsEmulator};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const MERCHANT_ID: &str = "99999";
pub const SERVICE_ID: &str = "001";
pub const HASH_KEY: &str = "TESTHASHKEY0123456789";
pub const BASIC_USER: &str = "99999001";
pub const DES_KEY: &[u8; 24] = b"ABCDEFGHIJKLMNOPQRSTUVWX";
pub const DES_IV: &[u8; 8] = b"12345678";
/// The emulator clock in these tests starts frozen here, so request dates can be literals.
pub const NOW: &str = "20240102030405";

pub const AUTH_TOKEN: &str = "ST01-00131-101";
pub const AUTH_CARD: &str = "ST01-00111-101";
pub const AUTH_LEGACY: &str = "ST01-00101-101";
pub const REAUTH_TOKEN: &str = "ST01-00133-101";
pub const COMMIT: &str = "ST02-00101-101";
pub const SALES: &str = "ST02-00201-101";
pub const CANCEL_REFUND: &str = "ST02-00303-101";
pub const CANCEL: &str = "ST02-00305-101";
pub const PARTIAL_REFUND: &str = "ST02-00307-101";
pub const INQUIRY: &str = "MG01-00101-101";

pub fn test_config() -> Config {
    Config {
        start_clock: Some(JstDateTime::parse(NOW).unwrap()),
        ..Config::default()
    }
}

pub async fn start() -> SbpsEmulator {
    SbpsEmulator::start(test_config()).await.unwrap()
}

/// A fresh emulator and a client of it, as most tests begin.
pub async fn started() -> (SbpsEmulator, Client) {
    let emulator = start().await;
    let client = Client::new(&emulator);
    (emulator, client)
}

pub async fn start_with(config: Config) -> SbpsEmulator {
    SbpsEmulator::start(config).await.unwrap()
}

/// `sps_hashcode` per the `docs/protocols/sbps.md` §4.1, computed independently of the emulator.
pub fn hashcode(values: &[String], key: &str) -> String {
    let mut joined: String = values.iter().map(|v| v.trim()).collect();
    joined.push_str(key);
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(&joined);
    Sha1::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sjis(text: &str) -> Vec<u8> {
    encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
}

/// 3DES-CBC, space padding, base64 (§5.2).
pub fn des_encrypt(text: &str) -> String {
    let mut buf = sjis(text);
    while buf.len() % 8 != 0 {
        buf.push(b' ');
    }
    let len = buf.len();
    let enc = cbc::Encryptor::<des::TdesEde3>::new(DES_KEY.into(), DES_IV.into());
    let out = enc
        .encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .unwrap()
        .to_vec();
    STANDARD.encode(out)
}

pub fn des_decrypt(wire: &str) -> String {
    let mut buf = STANDARD.decode(wire).unwrap();
    let dec = cbc::Decryptor::<des::TdesEde3>::new(DES_KEY.into(), DES_IV.into());
    let plain = dec.decrypt_padded_mut::<NoPadding>(&mut buf).unwrap();
    let text = encoding_rs::SHIFT_JIS.decode(plain).0.into_owned();
    text.trim_end_matches(' ').to_owned()
}

fn escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A request written element by element; the hash input is collected alongside.
#[derive(Clone, Debug)]
pub struct Req {
    id: String,
    xml: String,
    hashed: Vec<String>,
}

impl Req {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            xml: String::new(),
            hashed: Vec::new(),
        }
    }

    /// `merchant_id` and `service_id` of the default merchant.
    pub fn head(id: &str) -> Self {
        Self::new(id)
            .field("merchant_id", MERCHANT_ID)
            .field("service_id", SERVICE_ID)
    }

    /// A plain element.
    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.xml
            .push_str(&format!("<{name}>{}</{name}>", escape(value)));
        self.hashed.push(value.to_owned());
        self
    }

    /// An M-type element: base64 of Shift_JIS on the wire, the text in the hash.
    pub fn multibyte(mut self, name: &str, text: &str) -> Self {
        self.xml
            .push_str(&format!("<{name}>{}</{name}>", STANDARD.encode(sjis(text))));
        self.hashed.push(text.to_owned());
        self
    }

    /// A 3DES element: ciphertext on the wire, the plaintext in the hash.
    pub fn encrypted(mut self, name: &str, text: &str) -> Self {
        self.xml
            .push_str(&format!("<{name}>{}</{name}>", des_encrypt(text)));
        self.hashed.push(text.to_owned());
        self
    }

    /// A group of elements.
    pub fn group(mut self, name: &str, build: impl FnOnce(Self) -> Self) -> Self {
        self.xml.push_str(&format!("<{name}>"));
        let inner = build(Self {
            id: self.id.clone(),
            xml: String::new(),
            hashed: Vec::new(),
        });
        self.xml.push_str(&inner.xml);
        self.hashed.extend(inner.hashed);
        self.xml.push_str(&format!("</{name}>"));
        self
    }

    /// `request_date` = [`NOW`].
    pub fn dated(self) -> Self {
        self.field("request_date", NOW)
    }

    /// The hash this request should carry.
    pub fn hash(&self) -> String {
        self.hash_with(HASH_KEY)
    }

    /// The hash under another merchant's key.
    pub fn hash_with(&self, key: &str) -> String {
        hashcode(&self.hashed, key)
    }

    /// The finished document with its correct hash.
    pub fn signed(self) -> String {
        let hash = self.hash();
        self.signed_with(&hash)
    }

    /// The finished document with the given hash.
    pub fn signed_with(self, hash: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><sps-api-request id=\"{}\">{}<sps_hashcode>{hash}</sps_hashcode></sps-api-request>",
            self.id, self.xml
        )
    }
}

/// Token authorization (00131) with the default Visa test token.
pub fn token_auth(order_id: &str, amount: u32, token: &str) -> Req {
    Req::head(AUTH_TOKEN)
        .field("cust_code", "cust01")
        .field("order_id", order_id)
        .field("item_id", "item01")
        .multibyte("item_name", "テスト商品")
        .field("amount", &amount.to_string())
        .field("sps_cust_info_return_flg", "0")
        .group("pay_method_info", |g| g.field("dealings_type", "10"))
        .group("pay_option_manage", |g| {
            g.field("token", token)
                .field("token_key", "KEY")
                .field("cust_manage_flg", "0")
                .field("cardbrand_return_flg", "1")
        })
        .field("encrypted_flg", "0")
        .dated()
        .field("limit_second", "600")
}

/// Card-data authorization (00111) in plaintext.
pub fn card_auth(
    id: &str,
    order_id: &str,
    amount: u32,
    number: &str,
    expiration: &str,
    security_code: &str,
) -> Req {
    Req::head(id)
        .field("cust_code", "cust01")
        .field("order_id", order_id)
        .field("item_id", "item01")
        .field("amount", &amount.to_string())
        .group("pay_method_info", |g| {
            g.field("cc_number", number)
                .field("cc_expiration", expiration)
                .field("security_code", security_code)
                .field("dealings_type", "10")
        })
        .group("pay_option_manage", |g| {
            g.field("cust_manage_flg", "0")
                .field("cardbrand_return_flg", "1")
        })
        .field("encrypted_flg", "0")
        .dated()
}

/// An ST02 request on `tracking_id` (commit, sales without amount, 00303, 00305).
pub fn on_payment(id: &str, tracking_id: &str) -> Req {
    Req::head(id)
        .field("tracking_id", tracking_id)
        .field("processing_datetime", NOW)
        .dated()
}

/// An ST02 request carrying `pay_option_manage/amount` (sales, 00307).
pub fn with_amount(id: &str, tracking_id: &str, amount: u32) -> Req {
    Req::head(id)
        .field("tracking_id", tracking_id)
        .field("processing_datetime", NOW)
        .group("pay_option_manage", |g| {
            g.field("amount", &amount.to_string())
        })
        .dated()
}

/// MG01 with `response_info_type` and brand requested.
pub fn inquiry(tracking_id: &str, response_info_type: &str) -> Req {
    Req::head(INQUIRY)
        .field("tracking_id", tracking_id)
        .field("response_info_type", response_info_type)
        .group("pay_option_manage", |g| {
            g.field("cardbrand_return_flg", "1")
        })
        .field("encrypted_flg", "0")
        .dated()
}

/// A reply, read naively.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub raw: Vec<u8>,
    pub text: String,
}

impl Reply {
    /// Text of the first `<name>` element; `Some("")` for `<name/>`.
    pub fn tag(&self, name: &str) -> Option<String> {
        if self.text.contains(&format!("<{name}/>")) {
            return Some(String::new());
        }
        let open = format!("<{name}>");
        let start = self.text.find(&open)? + open.len();
        let end = self.text[start..].find(&format!("</{name}>"))? + start;
        Some(self.text[start..end].to_owned())
    }

    /// The root's `id` attribute, if any.
    pub fn root_id(&self) -> Option<String> {
        let start = self.text.find("<sps-api-response")?;
        let end = self.text[start..].find('>')? + start;
        let root = &self.text[start..end];
        let at = root.find("id=\"")? + 4;
        Some(root[at..].split('"').next()?.to_owned())
    }

    pub fn result(&self) -> String {
        self.tag("res_result").unwrap_or_default()
    }

    pub fn err_code(&self) -> String {
        self.tag("res_err_code").unwrap_or_default()
    }

    /// Asserts an OK reply and returns it.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.result(), "OK", "expected OK, got {}", self.text);
        assert_eq!(self.err_code(), "");
        self
    }

    /// Asserts an NG reply with `code`, and whether the root carries `id`.
    #[track_caller]
    pub fn ng(&self, code: &str, id: Option<&str>) {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.result(), "NG", "expected NG {code}, got {}", self.text);
        assert_eq!(self.err_code(), code, "{}", self.text);
        assert_eq!(self.root_id().as_deref(), id, "root id of {}", self.text);
        assert!(
            self.tag("res_sps_transaction_id").is_none(),
            "NG carries no transaction id"
        );
    }
}

/// A keep-alive HTTP client with the default Basic credentials.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
}

impl Client {
    pub fn new(emulator: &SbpsEmulator) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: emulator.endpoint_url(),
        }
    }

    pub fn with_timeout(emulator: &SbpsEmulator, timeout: Duration) -> Self {
        Self {
            http: reqwest::Client::builder().timeout(timeout).build().unwrap(),
            url: emulator.endpoint_url(),
        }
    }

    /// Sends a document, Shift_JIS-encoded, with the default credentials.
    pub async fn send(&self, xml: &str) -> Reply {
        self.send_as(xml, BASIC_USER, HASH_KEY).await
    }

    pub async fn send_as(&self, xml: &str, user: &str, password: &str) -> Reply {
        self.try_send(sjis(xml), Some((user, password)))
            .await
            .expect("HTTP exchange failed")
    }

    pub async fn try_send(
        &self,
        body: Vec<u8>,
        auth: Option<(&str, &str)>,
    ) -> reqwest::Result<Reply> {
        let mut request = self
            .http
            .post(&self.url)
            .header("Content-Type", "text/xml")
            .body(body);
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let raw = response.bytes().await?.to_vec();
        let text = encoding_rs::SHIFT_JIS.decode(&raw).0.into_owned();
        Ok(Reply {
            status,
            content_type,
            raw,
            text,
        })
    }

    /// Sends a signed [`token_auth`].
    pub async fn send_token_auth(&self, order_id: &str, amount: u32, token: &str) -> Reply {
        self.send(&token_auth(order_id, amount, token).signed())
            .await
    }

    /// Sends a signed [`on_payment`].
    pub async fn send_on_payment(&self, id: &str, tracking_id: &str) -> Reply {
        self.send(&on_payment(id, tracking_id).signed()).await
    }

    /// Sends a signed [`with_amount`].
    pub async fn send_with_amount(&self, id: &str, tracking_id: &str, amount: u32) -> Reply {
        self.send(&with_amount(id, tracking_id, amount).signed())
            .await
    }

    /// Sends a signed [`on_payment`] and asserts it is refused with `code` under its own id.
    pub async fn refused_on_payment(&self, id: &str, tracking_id: &str, code: &str) {
        self.send_on_payment(id, tracking_id)
            .await
            .ng(code, Some(id));
    }

    /// Sends a signed [`with_amount`] and asserts it is refused with `code` under its own id.
    pub async fn refused_with_amount(&self, id: &str, tracking_id: &str, amount: u32, code: &str) {
        self.send_with_amount(id, tracking_id, amount)
            .await
            .ng(code, Some(id));
    }

    /// Sends a signed [`token_auth`] and asserts it is refused with `code` under 00131.
    pub async fn refused_token_auth(&self, order_id: &str, amount: u32, token: &str, code: &str) {
        self.send_token_auth(order_id, amount, token)
            .await
            .ng(code, Some(AUTH_TOKEN));
    }

    /// Sends a signed [`inquiry`].
    pub async fn send_inquiry(&self, tracking_id: &str, response_info_type: &str) -> Reply {
        self.send(&inquiry(tracking_id, response_info_type).signed())
            .await
    }

    /// Authorizes `amount` with the Visa test token; returns the tracking id.
    pub async fn authorize(&self, order_id: &str, amount: u32) -> String {
        let reply = self
            .send_token_auth(order_id, amount, "TOKEN-VISA")
            .await
            .ok();
        reply.tag("res_tracking_id").unwrap()
    }

    /// Authorizes and commits; returns the tracking id.
    pub async fn authorize_and_commit(&self, order_id: &str, amount: u32) -> String {
        let tracking_id = self.authorize(order_id, amount).await;
        self.send_on_payment(COMMIT, &tracking_id).await.ok();
        tracking_id
    }

    /// `(commit_status, payment_status)` from MG01.
    pub async fn statuses(&self, tracking_id: &str) -> (String, String) {
        let reply = self.send_inquiry(tracking_id, "2").await.ok();
        (
            reply.tag("commit_status").unwrap(),
            reply.tag("payment_status").unwrap(),
        )
    }
}

/// The control endpoints over plain HTTP, as a test in another process would reach them.
pub struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    pub fn new(emulator: &SbpsEmulator) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: emulator.control_url(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.http.get(url).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.http.post(url).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.http.delete(url).send().await.unwrap()
    }

    /// A POST without a body, as the action endpoints take it.
    pub async fn post_empty(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.http.post(url).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.get(path).await.json().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        self.post(path, body).await.json().await.unwrap()
    }
}

/// What a raw TCP client saw.
#[derive(Debug)]
pub struct RawExchange {
    pub bytes: Vec<u8>,
    pub error: Option<std::io::ErrorKind>,
}

impl RawExchange {
    pub fn head_and_body(&self) -> (String, Vec<u8>) {
        let split = self
            .bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("no header end");
        (
            String::from_utf8_lossy(&self.bytes[..split]).into_owned(),
            self.bytes[split + 4..].to_vec(),
        )
    }

    pub fn content_length(&self) -> usize {
        let (head, _) = self.head_and_body();
        head.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .expect("no content-length")
    }
}

/// One request over a fresh TCP connection, reading until the server closes or resets it.
pub async fn raw_exchange(addr: SocketAddr, xml: &str) -> RawExchange {
    let body = sjis(xml);
    let auth = STANDARD.encode(format!("{BASIC_USER}:{HASH_KEY}"));
    let head = format!(
        "POST /api/xmlapi.do HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let error = loop {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk));
        match read.await.expect("server neither answered nor closed") {
            Ok(0) => break None,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) => break Some(e.kind()),
        }
    };
    RawExchange { bytes, error }
}
