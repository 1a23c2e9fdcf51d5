//! # Kumo Pay emulator
//!
//! A tiny loopback server speaking Kumo Pay, the made-up JSON-over-HTTP protocol of
//! `examples/template-plugin`, so that a vendor who copies the template sees a green
//! `renkei conformance … --emulator template` run on day one, and the conformance suite's own
//! broken fixtures have something real to fail against.
//!
//! The protocol, as the template plugin speaks it:
//!
//! | request | effect |
//! | --- | --- |
//! | `POST {base}/payments` `{merchant, order, amount, currency, token}` | authorize (201) |
//! | `POST {base}/payments/{id}/capture` `{amount?}` | capture all, or less (S-1 style) |
//! | `POST {base}/payments/{id}/void` `{}` | cancel an authorization |
//! | `POST {base}/payments/{id}/refunds` `{amount?}` | refund all that remains, or part |
//! | `GET {base}/payments/{id}` | the payment |
//! | `GET {base}/payments/by-order/{order}` | the payment authorized under that order id, or 404 `payment_not_found` |
//!
//! Every request carries `Authorization: Bearer <api key>` and `Kumo-Signature`, the hex
//! HMAC-SHA256 under the signing key of `METHOD\npath\ntimestamp\nbody` (`path` including the
//! base path, `timestamp` the `Kumo-Timestamp` header). A request whose timestamp is more than
//! the tolerance (`Config::tolerance_seconds`, 300 by default) away from the gateway's clock is
//! refused unprocessed (401 `stale_request`): so a request held anywhere on the way can no
//! longer take effect once that long has passed since it was made. Successes answer the payment document
//! `{id, status, currency, amount, captured, refunded, authorization_code}`; refusals answer 4xx
//! with `{"error": {"code", "message"}, "errors": [{"code", "message"}, …]}`, using the codes of
//! the template's error table: `error` is the first problem found, `errors` lists every one
//! (a request can fail several checks at once, as GMO-PG's `ErrCode=E01|E01` replies do; the
//! card [`TEST_TOKEN_TWO_ERRORS`] fails two).
//!
//! With [`Config::wire`] set to [`Wire::Form`], the same routes, book and faults speak a form
//! wire instead (the `form` module: form requests and `key=value&` replies in a charset, errors
//! as `ErrCode`/`ErrInfo` lists), and an authorization takes two steps, as GMO-PG's `EntryTran`
//! and `ExecTran`: `POST {base}/entries` `{merchant, order, amount, currency}` enters the order
//! (its id is refused if seen before; nothing is charged, the book does not change), then
//! `POST {base}/payments` `{merchant, entry, token, customer?}` charges the card under it.
//!
//! With [`Wire::Xml`], the same routes, book, faults and two-step authorization speak an XML
//! wire (the `xml` module: `<request>` documents in a charset, replies `<payment>`, `<entry>` or
//! `<errors>` with one `<error>` per problem, every answer HTTP 200).
//!
//! Like the other emulators it shares no code with its plugin: the signature is checked here
//! from the HMAC primitives. It serves through `renkei-emulator-kit`, as the SBPS and F-REGI
//! emulators do.

mod form;
mod server;
mod xml;

pub use form::Charset;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Merchant id of the default configuration.
pub const DEFAULT_MERCHANT_ID: &str = "m_test";
/// Bearer API key of the default configuration.
pub const DEFAULT_API_KEY: &str = "ak_test_0123456789";
/// HMAC signing key of the default configuration.
pub const DEFAULT_SIGNING_KEY: &str = "sk_test_0123456789";
/// A card token that is approved.
pub const TEST_TOKEN_OK: &str = "tok_visa";
/// A card token that is declined (`card_declined`).
pub const TEST_TOKEN_DECLINED: &str = "tok_declined";
/// A card token that fails two checks at once: declined by the card company
/// (`card_declined`) and for an amount above what the card may pay (`amount_too_large`), both
/// listed in one reply, the decline first.
pub const TEST_TOKEN_TWO_ERRORS: &str = "tok_declined_over_limit";
/// The path every route sits under: `endpoint_url()` ends with it.
pub const BASE_PATH: &str = "/v1";
/// Kumo Pay's amount limits, in yen.
pub const MAX_AMOUNT: i64 = 99_999_999;

/// Who may call the emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub merchant_id: String,
    pub api_key: String,
    pub signing_key: String,
    /// How far a request's `Kumo-Timestamp` may be from the gateway's clock, in seconds.
    pub tolerance_seconds: u64,
    /// How requests and replies are written.
    pub wire: Wire,
}

/// The wire an emulator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// JSON documents, UTF-8, the HTTP status telling success from refusal.
    Json,
    /// Form requests and `key=value&` replies in a charset, every answer HTTP 200.
    Form(Charset),
    /// XML request and reply documents in a charset, every answer HTTP 200.
    Xml(Charset),
}

/// The default of [`Config::tolerance_seconds`], as the template plugin's manifest declares it.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;

impl Default for Config {
    fn default() -> Config {
        Config {
            merchant_id: DEFAULT_MERCHANT_ID.into(),
            api_key: DEFAULT_API_KEY.into(),
            signing_key: DEFAULT_SIGNING_KEY.into(),
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
            wire: Wire::Json,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// One payment as the emulator keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    pub id: String,
    pub order: String,
    pub status: Status,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    /// The customer the authorization named, as the gateway read it.
    pub customer: Option<String>,
}

/// The payment statuses Kumo Pay reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Authorized,
    Captured,
    Voided,
    PartiallyRefunded,
    Refunded,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Authorized => "authorized",
            Status::Captured => "captured",
            Status::Voided => "voided",
            Status::PartiallyRefunded => "partially_refunded",
            Status::Refunded => "refunded",
        }
    }
}

#[derive(Debug, Default)]
struct State {
    payments: BTreeMap<String, Payment>,
    next_id: u64,
    /// Orders entered on the form wire, not yet charged or charged: by entry id.
    entries: BTreeMap<String, Entry>,
    next_entry: u64,
    faults: Vec<Fault>,
}

/// An order entered on the form wire: what its charge will authorize.
#[derive(Debug)]
struct Entry {
    order: String,
    amount: i64,
}

/// A failure of the next request to one route, as a proxy in front of Kumo Pay produces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `POST`, `GET`.
    pub method: String,
    /// The route under the base path, e.g. `/payments`.
    pub route: String,
    /// The HTTP status the client gets instead of the reply (an HTML page, not Kumo's JSON).
    pub status: u16,
    /// Whether Kumo Pay processed the request before the proxy failed it: true, the reply
    /// was lost; false, the request never reached the gateway.
    pub processed: bool,
}

struct Engine {
    config: Config,
    state: Mutex<State>,
}

/// A running emulator on 127.0.0.1. Dropping it stops the server.
pub struct TemplateEmulator {
    engine: Arc<Engine>,
    addr: SocketAddr,
    _stop: watch::Sender<bool>,
}

impl std::fmt::Debug for TemplateEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateEmulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TemplateEmulator {
    /// Starts on an ephemeral port of 127.0.0.1, on the current tokio runtime.
    pub async fn start(config: Config) -> Result<TemplateEmulator, StartError> {
        Self::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts on `listen` (port 0 picks a free one).
    pub async fn bind(listen: SocketAddr, config: Config) -> Result<TemplateEmulator, StartError> {
        let bind_error = |source| StartError::Bind {
            addr: listen,
            source,
        };
        let listener = TcpListener::bind(listen).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let engine = Arc::new(Engine {
            config,
            state: Mutex::new(State::default()),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(server::serve(listener, Arc::clone(&engine), stopped));
        tracing::info!(%addr, "Kumo Pay emulator listening");
        Ok(TemplateEmulator {
            engine,
            addr,
            _stop: stop,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The plugin's `endpoint` value: `http://127.0.0.1:PORT/v1`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.addr)
    }

    /// The emulator's own record of a payment, for tests that check the gateway side.
    pub fn payment(&self, id: &str) -> Option<Payment> {
        self.engine.lock().payments.get(id).cloned()
    }

    /// Fails the next request matching `fault`'s method and route, once.
    pub fn fail_next(&self, fault: Fault) {
        self.engine.lock().faults.push(fault);
    }

    /// Every payment in the emulator's book, by id.
    pub fn payments(&self) -> Vec<Payment> {
        self.engine.lock().payments.values().cloned().collect()
    }
}

/// A request as the HTTP layer read it, body and all.
pub(crate) type Request = renkei_emulator_kit::Collected;

/// What the gateway answers, before a wire writes it.
pub(crate) enum Answer {
    Payment(Payment),
    /// An order entered (form wire): its entry id.
    Entry(String),
    /// Every problem found (code of the error table, words), in the order found; never empty.
    Problems(Vec<(&'static str, &'static str)>),
}

/// A reply: HTTP status and answer.
pub(crate) type Reply = (u16, Answer);

fn refuse(status: u16, code: &'static str, message: &'static str) -> Reply {
    refuse_all(status, &[(code, message)])
}

/// A refusal listing every problem found, in the order they were found.
fn refuse_all(status: u16, problems: &[(&'static str, &'static str)]) -> Reply {
    (status, Answer::Problems(problems.to_vec()))
}

fn document(p: &Payment) -> Reply {
    (200, Answer::Payment(p.clone()))
}

/// An answer as a JSON document.
pub(crate) fn json_document(answer: &Answer) -> serde_json::Value {
    match answer {
        Answer::Payment(p) => json!({
            "id": p.id,
            "status": p.status.code(),
            "currency": "JPY",
            "amount": p.amount,
            "captured": p.captured,
            "refunded": p.refunded,
            "authorization_code": format!("A-{}", p.id),
        }),
        Answer::Entry(id) => json!({ "entry": id }),
        Answer::Problems(problems) => {
            let errors: Vec<serde_json::Value> = problems
                .iter()
                .map(|(code, message)| json!({"code": code, "message": message}))
                .collect();
            json!({"error": errors[0], "errors": errors})
        }
    }
}

#[derive(Deserialize)]
struct AuthorizeBody {
    merchant: String,
    order: String,
    amount: i64,
    currency: String,
    token: String,
    #[serde(default)]
    customer: Option<String>,
}

/// A positive whole number written in ASCII digits only.
fn digits(v: &str) -> Option<i64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[derive(Deserialize)]
struct AmountBody {
    amount: Option<i64>,
}

impl Engine {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the request's timestamp is within the tolerance of the gateway's clock. The
    /// timestamp is whole seconds, truncated, so the request was made at or after it: refusing
    /// from `timestamp + tolerance` on refuses every request older than the tolerance, which is
    /// what the plugin declares as its expiry.
    fn fresh(&self, r: &Request) -> bool {
        let Some(stamp_ms) = r
            .header("kumo-timestamp")
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|s| s.checked_mul(1000))
        else {
            return false;
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let tolerance_ms = self.config.tolerance_seconds.saturating_mul(1000) as i64;
        now_ms < stamp_ms.saturating_add(tolerance_ms)
            && stamp_ms < now_ms.saturating_add(tolerance_ms)
    }

    /// The fault installed for this request, taken (it strikes once).
    pub(crate) fn take_fault(&self, r: &Request) -> Option<Fault> {
        let route = r.path.strip_prefix(BASE_PATH)?;
        let mut state = self.lock();
        let at = state
            .faults
            .iter()
            .position(|f| f.method == r.method.as_str() && f.route == route)?;
        Some(state.faults.remove(at))
    }

    fn authentic(&self, r: &Request) -> bool {
        let bearer = r
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer != Some(self.config.api_key.as_str()) {
            return false;
        }
        let (Some(timestamp), Some(signature)) =
            (r.header("kumo-timestamp"), r.header("kumo-signature"))
        else {
            return false;
        };
        let Ok(signature) = hex::decode(signature) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.config.signing_key.as_bytes()) else {
            return false;
        };
        for part in [
            r.method.as_str().as_bytes(),
            r.path.as_bytes(),
            timestamp.as_bytes(),
        ] {
            mac.update(part);
            mac.update(b"\n");
        }
        mac.update(&r.body);
        mac.verify_slice(&signature).is_ok()
    }

    pub(crate) fn handle(&self, r: &Request) -> Reply {
        if !self.authentic(r) {
            return refuse(401, "bad_signature", "signature or API key is wrong");
        }
        if !self.fresh(r) {
            return refuse(
                401,
                "stale_request",
                "the request's timestamp is too far from now",
            );
        }
        let Some(route) = r.path.strip_prefix(BASE_PATH) else {
            return refuse(404, "not_found", "no such route");
        };
        let segments: Vec<&str> = route.trim_start_matches('/').split('/').collect();
        match (r.method.as_str(), segments.as_slice()) {
            ("POST", ["payments"]) => self.authorize(&r.body),
            ("POST", ["entries"]) => self.enter(&r.body),
            ("GET", ["payments", "by-order", order]) => self.by_order(order),
            ("GET", ["payments", id]) => self.with_payment(id, |p| Ok(document(p))),
            ("POST", ["payments", id, "capture"]) => match self.amount(&r.body) {
                Ok(a) => self.with_payment(id, |p| capture(p, a)),
                Err(e) => e,
            },
            ("POST", ["payments", id, "void"]) => self.with_payment(id, void),
            ("POST", ["payments", id, "refunds"]) => match self.amount(&r.body) {
                Ok(a) => self.with_payment(id, |p| refund(p, a)),
                Err(e) => e,
            },
            _ => refuse(404, "not_found", "no such route"),
        }
    }

    fn authorize(&self, body: &[u8]) -> Reply {
        let read = match self.config.wire {
            Wire::Json => serde_json::from_slice::<AuthorizeBody>(body).ok(),
            Wire::Form(_) | Wire::Xml(_) => self.fields(body).and_then(|f| self.entered(f)),
        };
        let Some(b) = read else {
            return refuse(400, "invalid_request", "unreadable authorization");
        };
        if matches!(self.config.wire, Wire::Form(_))
            && !b.customer.as_deref().is_none_or(form::fits_a_reply)
        {
            return refuse(400, "invalid_request", "the customer has a reply separator");
        }
        if b.merchant != self.config.merchant_id {
            return refuse(401, "bad_signature", "unknown merchant");
        }
        if b.currency != "JPY" || b.amount < 1 || b.order.is_empty() {
            return refuse(400, "invalid_request", "bad amount, currency or order");
        }
        if b.amount > MAX_AMOUNT {
            return refuse(400, "amount_too_large", "amount above the limit");
        }
        match b.token.as_str() {
            TEST_TOKEN_OK => {}
            TEST_TOKEN_DECLINED => return refuse(402, "card_declined", "declined"),
            TEST_TOKEN_TWO_ERRORS => {
                return refuse_all(
                    402,
                    &[
                        ("card_declined", "declined"),
                        ("amount_too_large", "above this card's limit"),
                    ],
                );
            }
            _ => return refuse(402, "card_declined", "unknown token"),
        }
        let mut state = self.lock();
        if state.payments.values().any(|p| p.order == b.order) {
            return refuse(409, "duplicate_order", "order already authorized");
        }
        state.next_id += 1;
        let p = Payment {
            id: format!("pay_{}", state.next_id),
            order: b.order,
            status: Status::Authorized,
            amount: b.amount,
            captured: 0,
            refunded: 0,
            customer: b.customer,
        };
        state.payments.insert(p.id.clone(), p.clone());
        (201, Answer::Payment(p))
    }

    /// A form or XML request's fields, by name; `None` for a body its wire cannot read (the
    /// JSON wire has no fields).
    fn fields(&self, body: &[u8]) -> Option<BTreeMap<String, String>> {
        match self.config.wire {
            Wire::Json => None,
            Wire::Form(charset) => form::decode(body, charset),
            Wire::Xml(charset) => xml::decode(body, charset),
        }
    }

    /// The form and XML wires' first step of an authorization: the order is entered (its id refused if
    /// seen before), nothing is charged and the book does not change.
    fn enter(&self, body: &[u8]) -> Reply {
        if self.config.wire == Wire::Json {
            return refuse(404, "not_found", "no such route");
        }
        let unreadable = || refuse(400, "invalid_request", "unreadable entry");
        let Some(mut f) = self.fields(body) else {
            return unreadable();
        };
        let (Some(merchant), Some(order), Some(amount), Some(currency)) = (
            f.remove("merchant"),
            f.remove("order"),
            f.remove("amount").as_deref().and_then(digits),
            f.remove("currency"),
        ) else {
            return unreadable();
        };
        if merchant != self.config.merchant_id {
            return refuse(401, "bad_signature", "unknown merchant");
        }
        if currency != "JPY" || amount < 1 || order.is_empty() {
            return refuse(400, "invalid_request", "bad amount, currency or order");
        }
        if amount > MAX_AMOUNT {
            return refuse(400, "amount_too_large", "amount above the limit");
        }
        let mut state = self.lock();
        if state.entries.values().any(|e| e.order == order)
            || state.payments.values().any(|p| p.order == order)
        {
            return refuse(409, "duplicate_order", "order already entered");
        }
        state.next_entry += 1;
        let id = format!("entry_{}", state.next_entry);
        state.entries.insert(id.clone(), Entry { order, amount });
        (201, Answer::Entry(id))
    }

    /// A form authorization's fields: it names an entry, whose order and amount it charges.
    fn entered(&self, mut f: BTreeMap<String, String>) -> Option<AuthorizeBody> {
        let (order, amount) = {
            let state = self.lock();
            let e = state.entries.get(&f.remove("entry")?)?;
            (e.order.clone(), e.amount)
        };
        Some(AuthorizeBody {
            merchant: f.remove("merchant")?,
            order,
            amount,
            currency: "JPY".into(),
            token: f.remove("token")?,
            customer: f.remove("customer"),
        })
    }

    fn by_order(&self, order: &str) -> Reply {
        let state = self.lock();
        match state.payments.values().find(|p| p.order == order) {
            Some(p) => document(p),
            None => refuse(404, "payment_not_found", "no payment under that order id"),
        }
    }

    fn with_payment(
        &self,
        id: &str,
        act: impl FnOnce(&mut Payment) -> Result<Reply, Reply>,
    ) -> Reply {
        let mut state = self.lock();
        match state.payments.get_mut(id) {
            None => refuse(404, "payment_not_found", "no such payment"),
            Some(p) => act(p).unwrap_or_else(|e| e),
        }
    }
}

impl Engine {
    /// The amount of a capture or refund body; `None`: all of it.
    fn amount(&self, body: &[u8]) -> Result<Option<i64>, Reply> {
        let unreadable = || refuse(400, "invalid_request", "unreadable amount");
        let amount = match self.config.wire {
            Wire::Json => {
                let body = if body.is_empty() {
                    b"{}" as &[u8]
                } else {
                    body
                };
                let b: AmountBody = serde_json::from_slice(body).map_err(|_| unreadable())?;
                b.amount
            }
            Wire::Form(_) | Wire::Xml(_) => {
                let mut f = self.fields(body).ok_or_else(unreadable)?;
                match f.remove("amount") {
                    None => None,
                    Some(a) => Some(digits(&a).ok_or_else(unreadable)?),
                }
            }
        };
        match amount {
            Some(a) if a < 1 => Err(refuse(400, "invalid_request", "amount must be positive")),
            a => Ok(a),
        }
    }
}

fn capture(p: &mut Payment, amount: Option<i64>) -> Result<Reply, Reply> {
    match p.status {
        Status::Authorized => {}
        Status::Captured | Status::PartiallyRefunded | Status::Refunded => {
            return Err(refuse(409, "already_captured", "already captured"));
        }
        Status::Voided => return Err(refuse(409, "not_capturable", "the payment is voided")),
    }
    let amount = amount.unwrap_or(p.amount);
    if amount > p.amount {
        return Err(refuse(400, "amount_too_large", "above the authorization"));
    }
    p.status = Status::Captured;
    p.captured = amount;
    Ok(document(p))
}

fn void(p: &mut Payment) -> Result<Reply, Reply> {
    match p.status {
        Status::Authorized => {
            p.status = Status::Voided;
            Ok(document(p))
        }
        Status::Voided => Err(refuse(409, "already_voided", "already voided")),
        _ => Err(refuse(
            409,
            "not_voidable",
            "captured payments are refunded",
        )),
    }
}

fn refund(p: &mut Payment, amount: Option<i64>) -> Result<Reply, Reply> {
    if !matches!(p.status, Status::Captured | Status::PartiallyRefunded) {
        return Err(refuse(409, "not_refundable", "nothing captured to refund"));
    }
    let remaining = p.captured - p.refunded;
    let amount = amount.unwrap_or(remaining);
    if amount > remaining {
        return Err(refuse(
            400,
            "amount_too_large",
            "above what remains captured",
        ));
    }
    p.refunded += amount;
    p.status = if p.refunded == p.captured {
        Status::Refunded
    } else {
        Status::PartiallyRefunded
    };
    Ok(document(p))
}
