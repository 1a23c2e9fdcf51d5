//! The five card endpoints (`docs/protocols/gmopg.md` §3–§4, §11.2–§11.6) and the management
//! screen's actions, on the book.
//!
//! Every endpoint checks in three phases: the request's own fields (all problems found are
//! listed, §5.1), then the transaction it names (found, not held by another request, its
//! state, its age, its date), then the card; the first phase that finds a problem answers and
//! nothing changes. Only a success changes the book.

use serde::{Deserialize, Serialize};

use crate::clock::{Date, Timestamp, gmo_datetime, jst_date};
use crate::codes::GmoError;
use crate::config::{CancelDateRule, Config};
use crate::state::{Event, Ledger, Origin, Record, Status, Transaction};
use crate::wire::{Params, sjis_len};

/// GMO-PG's largest amount, and largest amount + tax (§10.8).
pub const MAX_AMOUNT: u64 = 9_999_999;
/// The longest `OrderID` (§7.5).
pub const MAX_ORDER_ID: usize = 27;
/// The longest `ClientField1..3` in Windows-31J bytes [PROP].
pub const MAX_CLIENT_FIELD: usize = 100;
/// `Forward` (the acquirer's code) of every authorization, as S1's cassettes show it.
pub const FORWARD: &str = "2a99662";

/// A card endpoint (`/payment/NAME.idPass`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Api {
    /// `EntryTran.idPass`.
    EntryTran,
    /// `ExecTran.idPass`.
    ExecTran,
    /// `AlterTran.idPass`.
    AlterTran,
    /// `ChangeTran.idPass`.
    ChangeTran,
    /// `SearchTrade.idPass`.
    SearchTrade,
}

impl Api {
    /// Every endpoint.
    pub const ALL: [Api; 5] = [
        Api::EntryTran,
        Api::ExecTran,
        Api::AlterTran,
        Api::ChangeTran,
        Api::SearchTrade,
    ];

    /// `EntryTran`, …
    pub fn name(self) -> &'static str {
        match self {
            Api::EntryTran => "EntryTran",
            Api::ExecTran => "ExecTran",
            Api::AlterTran => "AlterTran",
            Api::ChangeTran => "ChangeTran",
            Api::SearchTrade => "SearchTrade",
        }
    }

    /// The endpoint a file name (`EntryTran.idPass`) names.
    pub fn from_file_name(name: &str) -> Option<Api> {
        let stem = name.strip_suffix(".idPass")?;
        Api::ALL.into_iter().find(|api| api.name() == stem)
    }

    /// Whether a request to it names its transaction by AccessID (else by OrderID).
    pub fn by_access_id(self) -> bool {
        matches!(self, Api::ExecTran | Api::AlterTran | Api::ChangeTran)
    }
}

/// The work of one request.
pub(crate) struct Ctx<'a> {
    pub ledger: &'a mut Ledger,
    pub config: &'a Config,
    pub origin: Origin,
}

type Answer = Result<Vec<(&'static str, String)>, GmoError>;

/// Runs `api` with `params`.
pub(crate) fn run(api: Api, params: &Params, ctx: &mut Ctx<'_>) -> Answer {
    match api {
        Api::EntryTran => entry_tran(params, ctx),
        Api::ExecTran => exec_tran(params, ctx),
        Api::AlterTran => alter_tran(params, ctx),
        Api::ChangeTran => change_tran(params, ctx),
        Api::SearchTrade => search_trade(params, ctx),
    }
}

// ---- field checks -------------------------------------------------------------------------

/// `ShopID` + `ShopPass` (§2.5): missing ones, then whether they name a shop. The shop id when
/// both are right.
fn check_shop(p: &Params, config: &Config, e: &mut GmoError) -> Option<String> {
    let (id, pass) = (p.get("ShopID"), p.get("ShopPass"));
    if id.is_none() {
        e.push("E01010001");
    }
    if pass.is_none() {
        e.push("E01020001");
    }
    let (id, pass) = (id?, pass?);
    match config.shop(id) {
        Some(shop) if shop.shop_pass == pass => Some(shop.shop_id.clone()),
        _ => {
            e.push("E01030002");
            None
        }
    }
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `AccessID` + `AccessPass`: their format, then the transaction they name (`E01110002` is
/// listed after format errors too, as S1's cassettes show).
fn check_access(p: &Params, ledger: &Ledger, e: &mut GmoError) -> Option<usize> {
    let (id, pass) = (p.get("AccessID"), p.get("AccessPass"));
    match id {
        None => e.push("E01090001"),
        Some(id) if !is_hex32(id) => e.push("E01090008"),
        Some(_) => {}
    }
    match pass {
        None => e.push("E01100001"),
        Some(pass) if !is_hex32(pass) => e.push("E01100008"),
        Some(_) => {}
    }
    let found = match (id, pass) {
        (Some(id), Some(pass)) => ledger.find_access(id, pass),
        _ => None,
    };
    if found.is_none() {
        e.push("E01110002");
    }
    found
}

/// `Amount`: required, digits, 1..=MAX (§10.8).
fn check_amount(p: &Params, e: &mut GmoError) -> Option<u64> {
    let Some(text) = p.get("Amount") else {
        e.push("E01060001");
        return None;
    };
    if !is_digits(text) {
        e.push("E01060006");
        return None;
    }
    match text.parse::<u64>() {
        Ok(0) => {
            e.push("E01060001");
            None
        }
        Ok(n) if n <= MAX_AMOUNT => Some(n),
        _ => {
            e.push("E01060005");
            None
        }
    }
}

/// `Tax`: optional (0), digits, at most MAX.
fn check_tax(p: &Params, e: &mut GmoError) -> Option<u64> {
    let Some(text) = p.get("Tax") else {
        return Some(0);
    };
    if !is_digits(text) {
        e.push("E01070006");
        return None;
    }
    match text.parse::<u64>() {
        Ok(n) if n <= MAX_AMOUNT => Some(n),
        _ => {
            e.push("E01070005");
            None
        }
    }
}

fn check_sum(amount: Option<u64>, tax: Option<u64>, e: &mut GmoError) {
    if let (Some(a), Some(t)) = (amount, tax) {
        if a + t > MAX_AMOUNT {
            e.push("E01490005");
        }
    }
}

/// The transaction must belong to the shop that asks.
fn check_owner(ledger: &Ledger, found: Option<usize>, shop: Option<&str>, e: &mut GmoError) {
    if let (Some(i), Some(shop)) = (found, shop) {
        if ledger.records[i].shop_id != shop {
            e.push("E01110002");
        }
    }
}

/// `E90010001` when a held request is processing this transaction (§7.7).
fn check_busy(ledger: &Ledger, i: usize) -> Result<(), GmoError> {
    let r = &ledger.records[i];
    if ledger.is_busy(&r.shop_id, &r.order_id) {
        return Err(GmoError::one("E90010001"));
    }
    Ok(())
}

/// `E11010010` when the transaction was executed more than `max_age_days` JST days ago (§7.4).
fn check_age(r: &Record, now: Timestamp, config: &Config) -> Result<(), GmoError> {
    let executed = r.executed_at.unwrap_or(r.entered_at);
    let age = jst_date(now).days_since_epoch() - jst_date(executed).days_since_epoch();
    if age > config.max_age_days {
        return Err(GmoError::one("E11010010"));
    }
    Ok(())
}

/// The cancel job code §7.1 asks for on `now` for a transaction whose reference time is
/// `reference`: `VOID` on its JST date, `RETURN` later in the same month, `RETURNX` after.
pub fn cancel_job_code(reference: Timestamp, now: Timestamp) -> &'static str {
    let (then, today): (Date, Date) = (jst_date(reference), jst_date(now));
    if today <= then {
        "VOID"
    } else if (today.year, today.month) == (then.year, then.month) {
        "RETURN"
    } else {
        "RETURNX"
    }
}

/// Whether a `YYMM` expiry is before the current JST month.
fn expired(expire: &str, now: Timestamp) -> bool {
    let (Some(yy), Some(mm)) = (expire.get(..2), expire.get(2..)) else {
        return true;
    };
    let (Ok(yy), Ok(mm)) = (yy.parse::<i32>(), mm.parse::<u8>()) else {
        return true;
    };
    let today = jst_date(now);
    (2000 + yy, mm) < (today.year, today.month)
}

fn log(r: &mut Record, at: Timestamp, what: String, by: Origin, result: &Result<(), GmoError>) {
    if result.is_ok() {
        r.updated_by = by;
    }
    r.history.push(Event {
        at,
        what,
        by,
        result: match result {
            Ok(()) => "ok".into(),
            Err(e) => e.line(),
        },
        amount: r.amount,
    });
}

// ---- endpoints ----------------------------------------------------------------------------

/// §4.1, §11.2.
fn entry_tran(p: &Params, ctx: &mut Ctx<'_>) -> Answer {
    let mut e = GmoError::default();
    let shop = check_shop(p, ctx.config, &mut e);
    let order = p.get("OrderID");
    match order {
        None => e.push("E01040001"),
        Some(o) => {
            if o.chars().count() > MAX_ORDER_ID {
                e.push("E01040003");
            }
            if !o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                e.push("E01040013");
            }
        }
    }
    let job = p.get("JobCd");
    match job {
        None => e.push("E01050001"),
        Some("AUTH" | "CAPTURE" | "CHECK" | "SAUTH") => {}
        Some(_) => e.push("E01050002"),
    }
    let (amount, tax) = if job == Some("CHECK") {
        (Some(0), Some(0))
    } else {
        let amount = check_amount(p, &mut e);
        let tax = check_tax(p, &mut e);
        check_sum(amount, tax, &mut e);
        (amount, tax)
    };
    e.check()?;
    let (Some(shop), Some(order), Some(job), Some(amount), Some(tax)) =
        (shop, order, job, amount, tax)
    else {
        return Err(GmoError::one("E00000010"));
    };
    if ctx.ledger.is_busy(&shop, order) {
        return Err(GmoError::one("E90010001"));
    }
    if ctx.ledger.find_order(&shop, order).is_some() {
        return Err(GmoError::one("E01040010"));
    }
    let now = ctx.ledger.now();
    let access_id = ctx.ledger.new_access_id();
    let access_pass = ctx.ledger.hex32();
    let mut record = Record {
        shop_id: shop,
        order_id: order.to_owned(),
        access_id: access_id.clone(),
        access_pass: access_pass.clone(),
        job_cd: job.to_owned(),
        status: Status::Unprocessed,
        amount,
        tax,
        card_no: String::new(),
        expire: String::new(),
        card_limit: None,
        method: String::new(),
        pay_times: String::new(),
        forward: String::new(),
        approve: String::new(),
        tran_id: String::new(),
        process_date: now,
        client_fields: Default::default(),
        entered_at: now,
        executed_at: None,
        captured_at: None,
        captured_amount: None,
        updated_by: ctx.origin,
        history: Vec::new(),
    };
    log(
        &mut record,
        now,
        format!("EntryTran {job}"),
        ctx.origin,
        &Ok(()),
    );
    ctx.ledger.insert(record);
    Ok(vec![("AccessID", access_id), ("AccessPass", access_pass)])
}

/// §4.2, §11.3.
fn exec_tran(p: &Params, ctx: &mut Ctx<'_>) -> Answer {
    let mut e = GmoError::default();
    // ShopID/ShopPass are optional here; when sent they must be right (§4.2).
    let shop = if p.get("ShopID").is_some() || p.get("ShopPass").is_some() {
        check_shop(p, ctx.config, &mut e)
    } else {
        None
    };
    let found = check_access(p, ctx.ledger, &mut e);
    check_owner(ctx.ledger, found, shop.as_deref(), &mut e);
    match p.get("OrderID") {
        None => e.push("E01040001"),
        Some(o) => {
            if found.is_some_and(|i| ctx.ledger.records[i].order_id != o) {
                e.push("E01110002");
            }
        }
    }
    let method = p.get("Method").unwrap_or("1");
    if !matches!(method, "1" | "2" | "3" | "4" | "5") {
        e.push("E01260002");
    }
    let pay_times = p.get("PayTimes");
    if matches!(method, "2" | "4") {
        match pay_times {
            None => e.push("E01270001"),
            Some(t) if !is_digits(t) => e.push("E01270006"),
            Some(_) => {}
        }
    }
    let token = p.get("Token");
    if token.is_none() {
        match p.get("CardNo") {
            None => e.push("E01170001"),
            Some(c) => {
                if !(10..=16).contains(&c.chars().count()) {
                    e.push("E01170011");
                }
                if !is_digits(c) {
                    e.push("E01170006");
                }
            }
        }
        match p.get("Expire") {
            None => e.push("E01180001"),
            Some(x) if x.chars().count() != 4 => e.push("E01180003"),
            Some(x) if !is_digits(x) => e.push("E01180006"),
            Some(x) if !matches!(x[2..].parse::<u8>(), Ok(1..=12)) => e.push("E01180008"),
            Some(_) => {}
        }
    }
    if let Some(code) = p.get("SecurityCode") {
        if !(is_digits(code) && (3..=4).contains(&code.len())) {
            e.push("E01460008");
        }
    }
    let field_codes = ["E01320012", "E01330012", "E01340012"];
    let mut client_fields: [String; 3] = Default::default();
    for (n, code) in field_codes.iter().enumerate() {
        let value = p.get(&format!("ClientField{}", n + 1)).unwrap_or("");
        if sjis_len(value) > MAX_CLIENT_FIELD {
            e.push(code);
        }
        client_fields[n] = value.to_owned();
    }
    let echo = match p.get("ClientFieldFlag") {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => {
            e.push("E01400007");
            false
        }
    };
    e.check()?;
    let Some(i) = found else {
        return Err(GmoError::one("E01110002"));
    };
    check_busy(ctx.ledger, i)?;
    if ctx.ledger.records[i].status != Status::Unprocessed {
        return Err(GmoError::one("E11010001"));
    }
    let now = ctx.ledger.now();
    // The card: a token stands for one; otherwise the number sent.
    let (card_no, expire) = match token {
        Some(token) => {
            let usable = ctx
                .ledger
                .tokens
                .get(token)
                .filter(|_| !ctx.ledger.used_tokens.contains(token))
                .cloned();
            let Some(t) = usable else {
                return Err(GmoError::one("E01170001"));
            };
            if ctx.config.single_use_tokens {
                ctx.ledger.used_tokens.insert(token.to_owned());
            }
            if !t.errors.is_empty() {
                return Err(GmoError {
                    infos: t.errors.clone(),
                });
            }
            (t.card_no, t.expire)
        }
        None => (
            p.get("CardNo").unwrap_or_default().to_owned(),
            p.get("Expire").unwrap_or_default().to_owned(),
        ),
    };
    let limit = ctx
        .config
        .card_limits
        .iter()
        .find(|l| l.card_no == card_no)
        .map(|l| l.limit);
    let r = &ctx.ledger.records[i];
    let decline = if expire.len() != 4 || expired(&expire, now) {
        Some("42G830000".to_owned())
    } else if let Some(rule) = ctx
        .config
        .decline_rules
        .iter()
        .find(|d| d.card_no == card_no)
    {
        Some(rule.code.clone())
    } else if limit.is_some_and(|l| r.amount + r.tax > l) {
        Some("42G550000".to_owned())
    } else {
        None
    };
    let job = r.job_cd.clone();
    if let Some(code) = decline {
        let refused = Err(GmoError::one(&code));
        let r = &mut ctx.ledger.records[i];
        log(r, now, format!("ExecTran {job}"), ctx.origin, &refused);
        return refused.map(|()| Vec::new());
    }
    let approve = ctx.ledger.approve();
    let tran_id = ctx.ledger.tran_id();
    let check_string = ctx.ledger.hex32();
    let r = &mut ctx.ledger.records[i];
    r.status = match job.as_str() {
        "CAPTURE" => Status::Capture,
        "CHECK" => Status::Check,
        "SAUTH" => Status::Sauth,
        _ => Status::Auth,
    };
    r.card_no = card_no;
    r.expire = expire;
    r.card_limit = limit;
    r.method = method.to_owned();
    r.pay_times = if matches!(method, "2" | "4") {
        pay_times.unwrap_or_default().to_owned()
    } else {
        String::new()
    };
    r.forward = FORWARD.to_owned();
    r.approve = approve;
    r.tran_id = tran_id;
    r.process_date = now;
    r.executed_at = Some(now);
    if r.status == Status::Capture {
        r.captured_at = Some(now);
        r.captured_amount = Some(r.amount);
    }
    r.client_fields = client_fields;
    log(r, now, format!("ExecTran {job}"), ctx.origin, &Ok(()));
    let mut reply = vec![
        ("ACS", "0".to_owned()),
        ("OrderID", r.order_id.clone()),
        ("Forward", r.forward.clone()),
        ("Method", r.method.clone()),
        ("PayTimes", r.pay_times.clone()),
        ("Approve", r.approve.clone()),
        ("TranID", r.tran_id.clone()),
        ("TranDate", gmo_datetime(now)),
        ("CheckString", check_string),
    ];
    if echo {
        let [f1, f2, f3] = r.client_fields.clone();
        reply.extend([
            ("ClientField1", f1),
            ("ClientField2", f2),
            ("ClientField3", f3),
        ]);
    }
    Ok(reply)
}

/// The reply of `AlterTran` and `ChangeTran` (§4.3, §4.4).
fn alter_reply(r: &Record, now: Timestamp) -> Vec<(&'static str, String)> {
    vec![
        ("AccessID", r.access_id.clone()),
        ("AccessPass", r.access_pass.clone()),
        ("Forward", r.forward.clone()),
        ("Approve", r.approve.clone()),
        ("TranID", r.tran_id.clone()),
        ("TranDate", gmo_datetime(now)),
    ]
}

/// §4.3, §11.4.
fn alter_tran(p: &Params, ctx: &mut Ctx<'_>) -> Answer {
    let mut e = GmoError::default();
    let shop = check_shop(p, ctx.config, &mut e);
    let found = check_access(p, ctx.ledger, &mut e);
    check_owner(ctx.ledger, found, shop.as_deref(), &mut e);
    let job = p.get("JobCd");
    match job {
        None => e.push("E01050001"),
        Some("SALES" | "VOID" | "RETURN" | "RETURNX") => {}
        Some(_) => e.push("E01050002"),
    }
    // S1's cassette: a SALES with bad ids and no amount lists only the id errors; the amount
    // is read once the transaction is found.
    let amount = if e.is_empty() && job == Some("SALES") {
        check_amount(p, &mut e)
    } else {
        None
    };
    e.check()?;
    let (Some(i), Some(job)) = (found, job) else {
        return Err(GmoError::one("E01110002"));
    };
    check_busy(ctx.ledger, i)?;
    let now = ctx.ledger.now();
    let what = format!("AlterTran {job}");
    let r = &ctx.ledger.records[i];
    let verdict = (|| {
        if r.status == Status::Unprocessed {
            return Err(GmoError::one("E11010002"));
        }
        if job == "SALES" {
            if r.status != Status::Auth {
                return Err(GmoError::one("E11010003"));
            }
            check_age(r, now, ctx.config)?;
            if amount != Some(r.amount) {
                return Err(GmoError::one("E01060010"));
            }
        } else {
            if !r.status.holds_money() {
                return Err(GmoError::one("E11010003"));
            }
            check_age(r, now, ctx.config)?;
            let reference = r.reference_time().unwrap_or(r.entered_at);
            if ctx.config.cancel_date_rule == CancelDateRule::Strict
                && cancel_job_code(reference, now) != job
            {
                return Err(GmoError::one("E11010003"));
            }
        }
        Ok(())
    })();
    if verdict.is_err() {
        let r = &mut ctx.ledger.records[i];
        log(r, now, what, ctx.origin, &verdict);
        return verdict.map(|()| Vec::new());
    }
    // SALES keeps the authorization's Approve and TranID (S1 cassette); a cancel gets new ones.
    let fresh = (job != "SALES").then(|| (ctx.ledger.approve(), ctx.ledger.tran_id()));
    let r = &mut ctx.ledger.records[i];
    if let Some((approve, tran_id)) = fresh {
        r.approve = approve;
        r.tran_id = tran_id;
    }
    r.status = match job {
        "SALES" => Status::Sales,
        "VOID" => Status::Void,
        "RETURN" => Status::Return,
        _ => Status::Returnx,
    };
    if job == "SALES" {
        r.captured_at = Some(now);
        r.captured_amount = Some(r.amount);
    }
    r.job_cd = job.to_owned();
    r.process_date = now;
    log(r, now, what, ctx.origin, &Ok(()));
    Ok(alter_reply(r, now))
}

/// §4.4, §11.5.
fn change_tran(p: &Params, ctx: &mut Ctx<'_>) -> Answer {
    let mut e = GmoError::default();
    let shop = check_shop(p, ctx.config, &mut e);
    let found = check_access(p, ctx.ledger, &mut e);
    check_owner(ctx.ledger, found, shop.as_deref(), &mut e);
    let job = p.get("JobCd");
    match job {
        None => e.push("E01050001"),
        Some("AUTH" | "CAPTURE" | "SAUTH") => {}
        Some(_) => e.push("E01050002"),
    }
    let (amount, tax) = if e.is_empty() {
        let amount = check_amount(p, &mut e);
        let tax = check_tax(p, &mut e);
        check_sum(amount, tax, &mut e);
        (amount, tax)
    } else {
        (None, None)
    };
    e.check()?;
    let (Some(i), Some(job), Some(amount), Some(tax)) = (found, job, amount, tax) else {
        return Err(GmoError::one("E01110002"));
    };
    check_busy(ctx.ledger, i)?;
    let now = ctx.ledger.now();
    let what = format!("ChangeTran {job} {amount}");
    let r = &ctx.ledger.records[i];
    let verdict = (|| {
        if r.status == Status::Unprocessed {
            return Err(GmoError::one("E11010002"));
        }
        let fits = match job {
            "AUTH" => r.status == Status::Auth,
            "CAPTURE" => matches!(r.status, Status::Sales | Status::Capture),
            _ => r.status == Status::Sauth,
        };
        if !fits {
            return Err(GmoError::one("E11010003"));
        }
        check_age(r, now, ctx.config)?;
        if r.card_limit.is_some_and(|l| amount + tax > l) {
            return Err(GmoError::one("42G550000"));
        }
        Ok(())
    })();
    if verdict.is_err() {
        let r = &mut ctx.ledger.records[i];
        log(r, now, what, ctx.origin, &verdict);
        return verdict.map(|()| Vec::new());
    }
    let approve = ctx.ledger.approve();
    let tran_id = ctx.ledger.tran_id();
    let r = &mut ctx.ledger.records[i];
    r.amount = amount;
    r.tax = tax;
    r.approve = approve;
    r.tran_id = tran_id;
    r.job_cd = job.to_owned();
    r.process_date = now;
    log(r, now, what, ctx.origin, &Ok(()));
    Ok(alter_reply(r, now))
}

/// §4.5, §11.6.
fn search_trade(p: &Params, ctx: &mut Ctx<'_>) -> Answer {
    let mut e = GmoError::default();
    let shop = check_shop(p, ctx.config, &mut e);
    let order = p.get("OrderID");
    if order.is_none() {
        e.push("E01040001");
    }
    e.check()?;
    let (Some(shop), Some(order)) = (shop, order) else {
        return Err(GmoError::one("E01110002"));
    };
    let Some(i) = ctx.ledger.find_order(&shop, order) else {
        return Err(GmoError::one("E01110002"));
    };
    let r = &ctx.ledger.records[i];
    let [f1, f2, f3] = r.client_fields.clone();
    Ok(vec![
        ("OrderID", r.order_id.clone()),
        ("Status", r.status.as_str().to_owned()),
        ("ProcessDate", gmo_datetime(r.process_date)),
        ("JobCd", r.job_cd.clone()),
        ("AccessID", r.access_id.clone()),
        ("AccessPass", r.access_pass.clone()),
        ("ItemCode", "0000990".to_owned()),
        ("Amount", r.amount.to_string()),
        ("Tax", r.tax.to_string()),
        ("SiteID", String::new()),
        ("MemberID", String::new()),
        ("CardNo", crate::config::mask(&r.card_no)),
        ("Expire", r.expire.clone()),
        ("Method", r.method.clone()),
        ("PayTimes", r.pay_times.clone()),
        ("Forward", r.forward.clone()),
        ("TranID", r.tran_id.clone()),
        ("Approve", r.approve.clone()),
        ("ClientField1", f1),
        ("ClientField2", f2),
        ("ClientField3", f3),
    ])
}

// ---- management screen --------------------------------------------------------------------

/// An action of GMO-PG's management screen (§11.8). The shop's system is not told; it finds
/// out with `SearchTrade`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// 実売上: capture an authorization at its amount (`AlterTran SALES`).
    Capture,
    /// 取消/返品: cancel, with the job code the date calls for (§7.1).
    Cancel,
    /// 金額変更: a new amount (`ChangeTran`, `AUTH` for an authorization, `CAPTURE` for a sale,
    /// `SAUTH` for a simple authorization).
    ChangeAmount,
}

impl AdminAction {
    /// The action a control route names (`capture`, `cancel`, `change_amount`).
    pub fn from_route(route: &str) -> Option<AdminAction> {
        Some(match route {
            "capture" => AdminAction::Capture,
            "cancel" => AdminAction::Cancel,
            "change_amount" => AdminAction::ChangeAmount,
            _ => return None,
        })
    }
}

/// Runs a management-screen action on the shop's order, as the API call it stands for with the
/// origin `admin`; refusals carry the code that call would answer.
pub(crate) fn admin(
    ctx: &mut Ctx<'_>,
    action: AdminAction,
    shop_id: &str,
    order_id: &str,
    amount: Option<u64>,
) -> Result<Transaction, GmoError> {
    let shop = ctx
        .config
        .shop(shop_id)
        .cloned()
        .ok_or_else(|| GmoError::one("E01030002"))?;
    let i = ctx
        .ledger
        .find_order(shop_id, order_id)
        .ok_or_else(|| GmoError::one("E01110002"))?;
    let r = &ctx.ledger.records[i];
    let now = ctx.ledger.now();
    let (api, job, amount) = match action {
        AdminAction::Capture => (Api::AlterTran, "SALES", Some(r.amount)),
        AdminAction::Cancel => {
            let reference = r.reference_time().unwrap_or(r.entered_at);
            (Api::AlterTran, cancel_job_code(reference, now), None)
        }
        AdminAction::ChangeAmount => {
            let job = match r.status {
                Status::Sales | Status::Capture => "CAPTURE",
                Status::Sauth => "SAUTH",
                _ => "AUTH",
            };
            (Api::ChangeTran, job, amount)
        }
    };
    let mut pairs = vec![
        ("ShopID", shop.shop_id.clone()),
        ("ShopPass", shop.shop_pass.clone()),
        ("AccessID", r.access_id.clone()),
        ("AccessPass", r.access_pass.clone()),
        ("JobCd", job.to_owned()),
    ];
    if let Some(amount) = amount {
        pairs.push(("Amount", amount.to_string()));
    }
    if api == Api::ChangeTran {
        pairs.push(("Tax", r.tax.to_string()));
    }
    run(api, &Params::from_pairs(pairs), ctx)?;
    Ok(Transaction::from(&ctx.ledger.records[i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_time;

    #[test]
    fn s7_1_cancel_code_by_jst_date() {
        let t = |s: &str| parse_time(s).unwrap();
        let auth = t("2026-01-15T23:59:00");
        assert_eq!(cancel_job_code(auth, t("2026-01-15T23:59:59")), "VOID");
        assert_eq!(cancel_job_code(auth, t("2026-01-16T00:00:00")), "RETURN");
        assert_eq!(cancel_job_code(auth, t("2026-01-31T23:59:59")), "RETURN");
        assert_eq!(cancel_job_code(auth, t("2026-02-01T00:00:00")), "RETURNX");
        // JST, not UTC: 2026-01-15T16:00Z is already the 16th in Japan.
        assert_eq!(cancel_job_code(auth, 1_768_492_800), "RETURN");
    }

    #[test]
    fn s10_5_an_odd_expiry_from_a_registered_token_is_expired_not_a_panic() {
        assert!(expired("ａ1", 0));
        assert!(expired("", 0));
        assert!(!expired("9912", 0));
    }

    #[test]
    fn api_names() {
        for api in Api::ALL {
            assert_eq!(
                Api::from_file_name(&format!("{}.idPass", api.name())),
                Some(api)
            );
        }
        assert_eq!(Api::from_file_name("EntryTran"), None);
        assert_eq!(Api::from_file_name("SaveMember.idPass"), None);
    }
}
