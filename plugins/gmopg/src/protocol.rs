//! GMO-PG's protocol-type wire (`docs/protocols/gmopg.md` §2–§4): form POSTs in Windows-31J to
//! `…/payment/NAME.idPass`, `Key=Value&…` replies read strictly, errors as parallel
//! `ErrCode`/`ErrInfo` lists (§5.1).
//!
//! Every reply value the plugin reads has a shape, and every key the document lists for the
//! reply is required: a reply cut anywhere then either misses a key or fails the shape of its
//! last value, which is how a cut is told from an answer (§2.3: no terminator). A value that
//! may be empty is accepted empty only when it is not the reply's last value, since a cut right
//! after its `=` would look the same.

use renkei_sdk::wire::{Charset, KvReply};
use renkei_sdk::{GatewayError, Secret};

/// Every request and reply is Windows-31J (§2.2, §2.3); `encoding_rs::SHIFT_JIS` is that table.
pub const CHARSET: Charset = Charset::ShiftJis;

/// The five endpoints of §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    EntryTran,
    ExecTran,
    AlterTran,
    ChangeTran,
    SearchTrade,
}

impl Api {
    /// The file name after the base URL (§2.1).
    pub fn file(self) -> &'static str {
        match self {
            Api::EntryTran => "EntryTran.idPass",
            Api::ExecTran => "ExecTran.idPass",
            Api::AlterTran => "AlterTran.idPass",
            Api::ChangeTran => "ChangeTran.idPass",
            Api::SearchTrade => "SearchTrade.idPass",
        }
    }
}

/// A reply that is well formed: either the endpoint's answer or the gateway's error codes
/// (`ErrInfo`, the detailed codes, in the gateway's order).
pub enum Read {
    Answer(Kv),
    Errors(Vec<String>),
}

/// A parsed `Key=Value&…` reply and the key of its last pair.
pub struct Kv {
    reply: KvReply,
    last_key: String,
}

/// Reads a reply: HTTP 200 only (§2.3; a 5xx is a server failure, not an answer, §2.4), valid
/// Windows-31J, pairs read strictly; error codes paired (§5.1) and each of the shape §5.1 gives
/// (`ErrCode` 3 characters, `ErrInfo` 9), so an error list cut inside its last code is not read
/// as a shorter code.
pub fn read(api: Api, status: u16, body: &[u8]) -> Result<Read, GatewayError> {
    if status != 200 {
        return Err(GatewayError::protocol(format!(
            "{} answered HTTP {status}: GMO-PG answers every request, success or error, with \
             200 (§2.3); it may have been processed",
            api.file()
        )));
    }
    let reply = KvReply::parse(body, CHARSET).map_err(|e| {
        GatewayError::protocol(format!(
            "{} reply unreadable ({}); it may have been processed",
            api.file(),
            e.message
        ))
    })?;
    if let Some(infos) = reply.error_codes("ErrCode", "ErrInfo")? {
        let codes = reply.list("ErrCode");
        let ok = codes.iter().all(|c| is_code(c, 3)) && infos.iter().all(|c| is_code(c, 9));
        if !ok {
            return Err(GatewayError::protocol(format!(
                "{} answered error codes that are not of GMO-PG's shape (3 and 9 characters, \
                 §5.1): the reply may be cut short",
                api.file()
            )));
        }
        return Ok(Read::Errors(infos.into_iter().map(str::to_owned).collect()));
    }
    let last_key = last_key(body);
    Ok(Read::Answer(Kv { reply, last_key }))
}

/// The key of the last pair of a reply (bytes before the last `=` after the last `&`).
fn last_key(body: &[u8]) -> String {
    let tail = match body.iter().rposition(|&b| b == b'&') {
        Some(at) => &body[at + 1..],
        None => body,
    };
    let key = tail.split(|&b| b == b'=').next().unwrap_or(&[]);
    String::from_utf8_lossy(key).into_owned()
}

fn is_code(c: &str, len: usize) -> bool {
    c.len() == len && c.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `n` ASCII digits.
pub fn digits(n: usize) -> impl Fn(&str) -> bool {
    move |v: &str| v.len() == n && v.bytes().all(|b| b.is_ascii_digit())
}

/// `n` ASCII letters or digits.
pub fn alnum(n: usize) -> impl Fn(&str) -> bool {
    move |v: &str| v.len() == n && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// AccessID and AccessPass: 32 hexadecimal digits in every recorded reply (§4.1, S1).
pub fn hex32(v: &str) -> bool {
    v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A yen amount: 1 to 10 digits, no sign, no leading zero unless 0.
pub fn amount(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 10
        && v.bytes().all(|b| b.is_ascii_digit())
        && (v == "0" || !v.starts_with('0'))
}

/// A status or job code: §6's are upper-case ASCII letters; any code of letters, digits and
/// `_` is read (an unseen one becomes `unknown` with its raw code, never a refusal).
pub fn code(v: &str) -> bool {
    !v.is_empty() && v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An order id under GMO-PG's rules (§7.5): 1 to 27 letters, digits or `-`.
pub fn order_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 27 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Approve (承認番号): 7 characters (§4.2, S1 cassettes).
const APPROVE_LEN: usize = 7;

/// Forward (仕向先コード): 7 letters and digits in every recorded reply (S1); not read, and
/// not documented further, so any 1 to 16 letters and digits.
fn forward(v: &str) -> bool {
    !v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_alphanumeric())
}
/// TranID: 28 digits; TranDate and ProcessDate: `yyyyMMddHHmmss` (S1 cassettes).
const TRAN_ID_LEN: usize = 28;
const DATE_LEN: usize = 14;

impl Kv {
    fn get(&self, key: &str, what: &str, ok: impl Fn(&str) -> bool) -> Result<&str, GatewayError> {
        self.reply.require_with(key, what, ok)
    }

    /// A value that may be empty, but not when it is the last value (a cut right after `=`).
    fn maybe(
        &self,
        key: &str,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Result<Option<&str>, GatewayError> {
        let last = self.last_key == key;
        let v = self
            .reply
            .require_with(key, what, |v| (v.is_empty() && !last) || ok(v))?;
        Ok((!v.is_empty()).then_some(v))
    }

    /// A value that may be anything (free text: `ClientField1..3`, `ItemCode`), but must be
    /// present; as the last value it cannot show a cut, so it is refused there.
    fn free(&self, key: &str) -> Result<&str, GatewayError> {
        let last = self.last_key == key;
        self.reply
            .require_with(key, "followed by further fields", |v| !last || v.is_empty())
    }
}

/// `EntryTran` (§4.1): the transaction's access id and pass.
pub struct Entry {
    pub access_id: String,
    pub access_pass: Secret,
}

impl Entry {
    pub fn read(kv: &Kv) -> Result<Entry, GatewayError> {
        Ok(Entry {
            access_id: kv.get("AccessID", "32 hex digits", hex32)?.to_owned(),
            access_pass: Secret::new(kv.get("AccessPass", "32 hex digits", hex32)?),
        })
    }
}

/// `ExecTran` (§4.2).
pub struct Exec {
    pub order_id: String,
    pub approve: String,
    pub tran_id: String,
}

impl Exec {
    pub fn read(kv: &Kv) -> Result<Exec, GatewayError> {
        // ACS=0: no 3-D Secure step. Anything else is not an authorization this plugin made
        // (it never asks for 3-D Secure), so it is not read as one.
        kv.get("ACS", "0 (no 3-D Secure step)", |v| v == "0")?;
        let order_id = kv.get("OrderID", "an order id", order_id)?.to_owned();
        kv.maybe("Forward", "a forwarding code", forward)?;
        kv.get("Method", "1 (one payment)", |v| v == "1")?;
        kv.maybe("PayTimes", "digits", |v| {
            v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit())
        })?;
        let approve = kv
            .get("Approve", "7 letters or digits", alnum(APPROVE_LEN))?
            .to_owned();
        let tran_id = kv
            .get("TranID", "28 digits", digits(TRAN_ID_LEN))?
            .to_owned();
        kv.get("TranDate", "yyyyMMddHHmmss", digits(DATE_LEN))?;
        kv.get("CheckString", "32 hex digits", hex32)?;
        Ok(Exec {
            order_id,
            approve,
            tran_id,
        })
    }
}

/// `AlterTran` and `ChangeTran` (§4.3, §4.4): the same access id and pass, a new TranID.
pub struct Altered {
    pub access_id: String,
    pub access_pass: Secret,
    pub approve: Option<String>,
    pub tran_id: String,
}

impl Altered {
    pub fn read(kv: &Kv) -> Result<Altered, GatewayError> {
        let access_id = kv.get("AccessID", "32 hex digits", hex32)?.to_owned();
        let access_pass = Secret::new(kv.get("AccessPass", "32 hex digits", hex32)?);
        kv.maybe("Forward", "a forwarding code", forward)?;
        // A cancel may carry no approval number: not documented either way.
        let approve = kv
            .maybe("Approve", "7 letters or digits", alnum(APPROVE_LEN))?
            .map(str::to_owned);
        let tran_id = kv
            .get("TranID", "28 digits", digits(TRAN_ID_LEN))?
            .to_owned();
        kv.get("TranDate", "yyyyMMddHHmmss", digits(DATE_LEN))?;
        Ok(Altered {
            access_id,
            access_pass,
            approve,
            tran_id,
        })
    }
}

/// `SearchTrade` (§4.5): the transaction under an order id.
pub struct Trade {
    pub order_id: String,
    pub status: String,
    /// `yyyyMMddHHmmss`, GMO-PG's time (JST).
    pub process_date: String,
    pub access_id: String,
    pub access_pass: Secret,
    pub amount: Option<i64>,
    pub approve: Option<String>,
    pub tran_id: Option<String>,
}

impl Trade {
    pub fn read(kv: &Kv) -> Result<Trade, GatewayError> {
        let order_id = kv.get("OrderID", "an order id", order_id)?.to_owned();
        let status = kv.get("Status", "a status code", code)?.to_owned();
        let process_date = kv
            .get("ProcessDate", "yyyyMMddHHmmss", digits(DATE_LEN))?
            .to_owned();
        kv.get("JobCd", "a job code", code)?;
        let access_id = kv.get("AccessID", "32 hex digits", hex32)?.to_owned();
        let access_pass = Secret::new(kv.get("AccessPass", "32 hex digits", hex32)?);
        kv.free("ItemCode")?;
        let amount = kv
            .maybe("Amount", "an amount", self::amount)?
            .map(|v| v.parse::<i64>())
            .transpose()
            .map_err(|_| GatewayError::protocol("`Amount` in the reply is not an amount"))?;
        kv.maybe("Tax", "an amount", self::amount)?;
        for key in ["SiteID", "MemberID", "CardNo", "Expire"] {
            kv.free(key)?;
        }
        kv.maybe("Method", "a payment method digit", |v| {
            v.len() == 1 && v.bytes().all(|b| b.is_ascii_digit())
        })?;
        kv.maybe("PayTimes", "digits", |v| {
            v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit())
        })?;
        kv.maybe("Forward", "a forwarding code", forward)?;
        let tran_id = kv
            .maybe("TranID", "28 digits", digits(TRAN_ID_LEN))?
            .map(str::to_owned);
        let approve = kv
            .maybe("Approve", "7 letters or digits", alnum(APPROVE_LEN))?
            .map(str::to_owned);
        for key in ["ClientField1", "ClientField2", "ClientField3"] {
            kv.free(key)?;
        }
        Ok(Trade {
            order_id,
            status,
            process_date,
            access_id,
            access_pass,
            amount,
            approve,
            tran_id,
        })
    }

    /// The civil date (year, month, day) of `ProcessDate`.
    pub fn process_day(&self) -> (i64, u32, u32) {
        let n = |r: std::ops::Range<usize>| self.process_date[r].parse::<u32>().unwrap_or(0);
        (i64::from(n(0..4)), n(4..6), n(6..8))
    }
}

/// The journal copy of a reply: every `AccessPass` value (a per-transaction secret, §2.5) and
/// card data (`CardNo`, `Expire`, masked by GMO-PG but not ours to keep) replaced by the
/// placeholder, byte by byte, the reply's shape kept. Works on any bytes, also a reply it
/// cannot read: a pair is cut at `&`, its key at the first `=`.
pub fn redact_reply(body: &[u8]) -> Option<Vec<u8>> {
    const SECRET_KEYS: [&[u8]; 3] = [b"AccessPass", b"CardNo", b"Expire"];
    let mut out = Vec::with_capacity(body.len());
    let mut changed = false;
    for (i, pair) in body.split(|&b| b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match pair.iter().position(|&b| b == b'=') {
            Some(eq)
                if SECRET_KEYS.contains(&&pair[..eq])
                    && !pair[eq + 1..].is_empty()
                    && &pair[eq + 1..] != Secret::PLACEHOLDER.as_bytes() =>
            {
                out.extend_from_slice(&pair[..=eq]);
                out.extend_from_slice(Secret::PLACEHOLDER.as_bytes());
                changed = true;
            }
            _ => out.extend_from_slice(pair),
        }
    }
    changed.then_some(out)
}
