//! A raw F-REGI client for the tests: requests are built by hand (percent-encoding included) and
//! replies decoded from EUC-JP here, never with the emulator's own code.

use std::net::SocketAddr;
use std::time::Duration;

use encoding_rs::EUC_JP;
use renkei_emulator_fregi::{Config, FregiEmulator};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const SHOP: &str = "12345";
/// 2026-01-15T10:00:00+09:00: a morning, so no automatic 21:00 batch runs during a test.
pub const T0: i64 = 1_768_438_800;
/// A Luhn-valid Visa that approves.
pub const VISA: &str = "4111111111111111";

/// Request parameters, owned.
pub type Pairs = Vec<(String, String)>;

pub async fn emulator() -> FregiEmulator {
    emulator_with(|_| {}).await
}

/// A fresh emulator and a client of it, as most tests begin.
pub async fn started() -> (FregiEmulator, Client) {
    let emu = emulator().await;
    let client = Client::new(&emu);
    (emu, client)
}

pub async fn emulator_with(change: impl FnOnce(&mut Config)) -> FregiEmulator {
    let mut config = Config {
        clock_start: Some(T0),
        seed: Some(7),
        ..Config::default()
    };
    change(&mut config);
    FregiEmulator::start(config).await.expect("emulator starts")
}

/// One F-REGI reply as a client sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub raw: Vec<u8>,
    pub lines: Vec<String>,
}

impl Reply {
    fn from_parts(status: u16, content_type: String, raw: Vec<u8>) -> Reply {
        let (text, _, malformed) = EUC_JP.decode(&raw);
        assert!(!malformed, "reply is not valid EUC-JP: {raw:?}");
        let text = text.into_owned();
        let mut lines: Vec<String> = text
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_owned())
            .collect();
        // The body ends with a terminator: drop the empty piece after it.
        if lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        Reply {
            status,
            content_type,
            raw,
            lines,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.lines.first().map(String::as_str) == Some("OK")
    }

    pub fn line(&self, i: usize) -> &str {
        self.lines.get(i).map_or("", String::as_str)
    }

    /// The `NG` reason line, asserting the reply is an `NG`.
    #[track_caller]
    pub fn ng(&self) -> &str {
        assert_eq!(self.line(0), "NG", "expected NG, got {:?}", self.lines);
        assert_eq!(self.lines.len(), 2, "NG has two lines: {:?}", self.lines);
        self.line(1)
    }

    /// The code of the `NG` reason line (before the parenthesis).
    #[track_caller]
    pub fn ng_code(&self) -> &str {
        let reason = self.ng();
        &reason[..reason.find('(').unwrap_or(reason.len())]
    }
}

/// Percent-encodes everything outside RFC 3986 unreserved characters.
pub fn encode_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_bytes(k.as_bytes()),
                encode_bytes(v.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The parameters of an `authm` with a clear card number.
pub fn card_auth(pan: &str, pay: u32) -> Vec<(String, String)> {
    let pay = pay.to_string();
    owned(&[
        ("SHOPID", SHOP),
        ("PAY", &pay),
        ("PAN1", &pan[0..4]),
        ("PAN2", &pan[4..8]),
        ("PAN3", &pan[8..12]),
        ("PAN4", &pan[12..]),
        ("CARDEXPIRY1", "12"),
        ("CARDEXPIRY2", "30"),
        ("CARDNAME", "TARO YAMADA"),
    ])
}

pub fn with(mut pairs: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    pairs
}

pub fn without(mut pairs: Vec<(String, String)>, names: &[&str]) -> Vec<(String, String)> {
    pairs.retain(|(k, _)| !names.contains(&k.as_str()));
    pairs
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    origin: String,
}

impl Client {
    pub fn new(emulator: &FregiEmulator) -> Client {
        Client::for_addr(emulator.addr())
    }

    pub fn for_addr(addr: SocketAddr) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Client {
            http,
            origin: format!("http://{addr}"),
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let raw = response.bytes().await.expect("body").to_vec();
        Reply::from_parts(status, content_type, raw)
    }

    /// `GET /connect/<script>?<query>`.
    pub async fn get(&self, script: &str, pairs: &[(&str, &str)]) -> Reply {
        self.get_path(&format!("/connect/{script}"), &form(pairs))
            .await
    }

    pub async fn get_path(&self, path: &str, query: &str) -> Reply {
        let response = self
            .http
            .get(format!("{}{path}?{query}", self.origin))
            .send()
            .await
            .expect("GET");
        Client::reply(response).await
    }

    /// `POST /connect/<script>` with a form body.
    pub async fn post(&self, script: &str, pairs: &[(&str, &str)]) -> Reply {
        self.post_raw(
            &format!("/connect/{script}"),
            "application/x-www-form-urlencoded",
            form(pairs).into_bytes(),
        )
        .await
    }

    pub async fn post_owned(&self, script: &str, pairs: &[(String, String)]) -> Reply {
        self.post(script, &borrowed(pairs)).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let response = self
            .http
            .post(format!("{}{path}", self.origin))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST");
        Client::reply(response).await
    }

    /// Authorizes `pay` yen on the default Visa: `(AUTHCODE, SEQNO)`.
    pub async fn authorize(&self, pay: u32) -> (String, String) {
        self.authorize_with(card_auth(VISA, pay)).await
    }

    pub async fn authorize_with(&self, pairs: Vec<(String, String)>) -> (String, String) {
        let reply = self.post_owned("authm.cgi", &pairs).await;
        assert!(reply.is_ok(), "authm refused: {:?}", reply.lines);
        (reply.line(1).to_owned(), reply.line(2).to_owned())
    }

    /// `sale.cgi` as production clients send it: `SHOPID`, `AUTHCODE`, `SEQNO`. The AUTHCODE
    /// is the transaction's, read through the inquiry extension as a client would have kept it
    /// from authm; for a SEQNO the emulator does not know, any well-formed code.
    pub async fn sale(&self, seqno: &str) -> Reply {
        let info = self.info(seqno).await;
        let authcode = if info.is_ok() {
            info.line(5).to_owned()
        } else {
            "000000".to_owned()
        };
        self.post(
            "sale.cgi",
            &[("SHOPID", SHOP), ("AUTHCODE", &authcode), ("SEQNO", seqno)],
        )
        .await
    }

    pub async fn authcancel(&self, seqno: &str) -> Reply {
        self.post(
            "authcancel.cgi",
            &[("SHOPID", SHOP), ("CANCELSEQNO", seqno)],
        )
        .await
    }

    pub async fn salecancel(&self, seqno: &str) -> Reply {
        self.post(
            "salecancel.cgi",
            &[("SHOPID", SHOP), ("CANCELSEQNO", seqno)],
        )
        .await
    }

    pub async fn authchange(&self, seqno: &str, pay: u32) -> Reply {
        self.change("authchange.cgi", seqno, pay).await
    }

    pub async fn salechange(&self, seqno: &str, pay: u32) -> Reply {
        self.change("salechange.cgi", seqno, pay).await
    }

    /// An amount change (`authchange`, `salechange`): `SHOPID`, `SEQNO`, `PAY`.
    async fn change(&self, script: &str, seqno: &str, pay: u32) -> Reply {
        let pay = pay.to_string();
        let params = [("SHOPID", SHOP), ("SEQNO", seqno), ("PAY", pay.as_str())];
        self.post(script, &params).await
    }

    /// The inquiry extension's lines for `SEQNO`.
    pub async fn info(&self, seqno: &str) -> Reply {
        self.info_where("SEQNO", seqno).await
    }

    /// The inquiry extension's lines for the transaction the shop's order `ID` stands for.
    pub async fn info_by_id(&self, id: &str) -> Reply {
        self.info_where("ID", id).await
    }

    async fn info_where(&self, key: &str, value: &str) -> Reply {
        let query = form(&[("SHOPID", SHOP), (key, value)]);
        self.get_path("/__emulator__/info", &query).await
    }

    /// Status code (inquiry line 4) of `SEQNO`.
    pub async fn status(&self, seqno: &str) -> String {
        let info = self.info(seqno).await;
        assert!(info.is_ok(), "info refused: {:?}", info.lines);
        info.line(3).to_owned()
    }

    /// A control endpoint answering JSON: `(HTTP status, JSON)`.
    pub async fn control(&self, method: &str, route: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{}/__emulator__/{route}", self.origin);
        let request = match method {
            "GET" => self.http.get(format!("{url}?{}", form(pairs))),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(pairs)),
        };
        let response = request.send().await.expect("control request");
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

/// How a raw exchange ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The server closed the connection normally (FIN).
    Eof,
    /// The connection was reset (RST).
    Reset,
    /// Nothing more arrived before the client gave up.
    TimedOut,
}

/// Sends `request` on a fresh TCP connection and reads until the connection ends or `patience`
/// passes without the exchange ending.
pub async fn raw_exchange(
    addr: SocketAddr,
    request: &[u8],
    patience: Duration,
) -> (Vec<u8>, Ending) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return (received, Ending::TimedOut),
            Ok(Ok(0)) => return (received, Ending::Eof),
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (received, Ending::Reset);
            }
            Ok(Err(e)) => panic!("unexpected socket error {e}"),
        }
    }
}

/// A hand-built `Connection: close` form POST.
pub fn raw_post(path: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
    let body = form(pairs);
    format!(
        "POST {path} HTTP/1.1\r\nHost: fregi\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Splits a raw HTTP/1.1 response into (status, headers in lower case, body).
pub fn split_response(raw: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete head");
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    (status, headers, raw[end + 4..].to_vec())
}

pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
