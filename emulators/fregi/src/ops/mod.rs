//! The F-REGI scripts (`docs/protocols/fregi.md` §11.2–11.8), the inquiry extension (§10.3) and the admin-screen
//! actions, as pure functions over the [`Ledger`].
//!
//! Each operation runs entirely under the ledger lock and checks in the order of
//! `docs/protocols/fregi.md` §11.1-6: `SHOPID` → required fields → formats and ranges → transaction lookup (same shop only)
//! → state rules → deadline → card checks. The first failure wins and nothing is recorded for a
//! validation failure; only an acquirer decline leaves a record (`11`/`22`, when
//! `record_declines`).

mod authorize;
mod customer;
mod lifecycle;

use serde::{Deserialize, Serialize};

pub(crate) use authorize::{release, reserve};
pub(crate) use lifecycle::{admin_cancel, authchange, sale, salechange};

use crate::clock::Timestamp;
use crate::codes::{Api, Ng, Problem};
use crate::config::Config;
use crate::state::{Environment, Ledger, Origin, Record, Seqno, seqno_text};
use crate::wire::{Params, Reply};

/// A card-API script under `/connect/` and `/connecttest/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    /// `authm.cgi`: authorize (optionally register the card, optionally sell at once).
    Authm,
    /// `sale.cgi`: capture an authorization.
    Sale,
    /// `authcancel.cgi`: void an authorization.
    AuthCancel,
    /// `salecancel.cgi`: cancel a sale.
    SaleCancel,
    /// `authchange.cgi`: re-authorize with a new amount before the sale.
    AuthChange,
    /// `salechange.cgi`: change the amount of a sale.
    SaleChange,
    /// `salem.cgi`: charge a registered customer (authorize and sell), possibly on a later date.
    Salem,
    /// `customerinfo.cgi`: last four digits (and expiry) of a registered card.
    CustomerInfo,
    /// `leavecustomer.cgi`: delete a registered customer.
    LeaveCustomer,
}

impl Script {
    /// Every script.
    pub const ALL: [Script; 9] = [
        Script::Authm,
        Script::Sale,
        Script::AuthCancel,
        Script::SaleCancel,
        Script::AuthChange,
        Script::SaleChange,
        Script::Salem,
        Script::CustomerInfo,
        Script::LeaveCustomer,
    ];

    /// The file name, e.g. `authm.cgi`.
    pub fn file_name(self) -> &'static str {
        match self {
            Script::Authm => "authm.cgi",
            Script::Sale => "sale.cgi",
            Script::AuthCancel => "authcancel.cgi",
            Script::SaleCancel => "salecancel.cgi",
            Script::AuthChange => "authchange.cgi",
            Script::SaleChange => "salechange.cgi",
            Script::Salem => "salem.cgi",
            Script::CustomerInfo => "customerinfo.cgi",
            Script::LeaveCustomer => "leavecustomer.cgi",
        }
    }

    /// The script a file name names.
    pub fn from_file_name(name: &str) -> Option<Script> {
        Script::ALL.into_iter().find(|s| s.file_name() == name)
    }

    /// The API whose reason codes it answers with.
    pub fn api(self) -> Api {
        match self {
            Script::Authm => Api::Authm,
            Script::Sale => Api::Sale,
            Script::AuthCancel => Api::AuthCancel,
            Script::SaleCancel => Api::SaleCancel,
            Script::AuthChange => Api::AuthChange,
            Script::SaleChange => Api::SaleChange,
            Script::Salem => Api::Salem,
            Script::CustomerInfo => Api::CustomerInfo,
            Script::LeaveCustomer => Api::LeaveCustomer,
        }
    }

    /// The parameter naming the target transaction, if the script has one.
    pub(crate) fn seqno_param(self) -> Option<&'static str> {
        match self {
            Script::Sale | Script::AuthChange | Script::SaleChange => Some("SEQNO"),
            Script::AuthCancel | Script::SaleCancel => Some("CANCELSEQNO"),
            _ => None,
        }
    }
}

/// What an operation works on.
pub(crate) struct Ctx<'a> {
    pub ledger: &'a mut Ledger,
    pub config: &'a Config,
    pub env: Environment,
    pub origin: Origin,
}

impl Ctx<'_> {
    fn now(&self) -> Timestamp {
        self.ledger.now()
    }

    /// The transaction `seqno` of `shop`, or `api`'s "not found".
    fn record(&self, api: Api, shop: &str, seqno: Option<Seqno>) -> Result<&Record, Ng> {
        seqno
            .and_then(|s| self.ledger.record(self.env, shop, s))
            .ok_or_else(|| Ng::of(api, Problem::NotFound))
    }

    /// Changes a record found by [`Ctx::record`] under the same lock, noting who changed it.
    fn update(&mut self, seqno: Seqno, change: impl FnOnce(&mut Record)) {
        let origin = self.origin;
        if let Some(record) = self.ledger.record_mut_any(seqno) {
            change(record);
            record.updated_by = origin;
        }
    }
}

/// Runs one card-API script.
pub(crate) fn run(script: Script, params: &Params, ctx: &mut Ctx<'_>) -> Reply {
    let result = match script {
        Script::Authm => authorize::authm(params, ctx),
        Script::Salem => authorize::salem(params, ctx),
        Script::Sale => lifecycle::sale(params, ctx).map(|s| Reply::ok([seqno_text(s)])),
        Script::AuthCancel => {
            lifecycle::authcancel(params, ctx).map(|_| Reply::ok(Vec::<String>::new()))
        }
        Script::SaleCancel => {
            lifecycle::salecancel(params, ctx).map(|s| Reply::ok([seqno_text(s)]))
        }
        Script::AuthChange => {
            lifecycle::authchange(params, ctx).map(|(s, code)| Reply::ok([seqno_text(s), code]))
        }
        Script::SaleChange => {
            lifecycle::salechange(params, ctx).map(|(s, code)| Reply::ok([seqno_text(s), code]))
        }
        Script::CustomerInfo => customer::customerinfo(params, ctx),
        Script::LeaveCustomer => customer::leavecustomer(params, ctx),
    };
    result.into()
}

/// The inquiry extension (`/__emulator__/info`, `docs/protocols/fregi.md` §10.3): `OK` / `SEQNO` / `ID` / status
/// code / `PAY` / `AUTHCODE` / transmitted `0|1` / replaced-by `SEQNO`.
pub(crate) fn inquiry(params: &Params, ctx: &mut Ctx<'_>) -> Reply {
    let api = Api::Inquiry;
    let result = (|| {
        let shop = shop(params, api, ctx.config)?;
        let (seqno, id) = (params.get("SEQNO"), params.get("ID"));
        if seqno.is_none() && id.is_none() {
            return Err(Ng::of(api, Problem::SeqnoMissing));
        }
        let record = match seqno {
            Some(raw) => {
                let seqno = parse_seqno(raw, api)?;
                ctx.record(api, &shop, seqno)?
            }
            None => ctx
                .ledger
                .record_by_id(ctx.env, &shop, id.unwrap_or_default())
                .ok_or_else(|| Ng::of(api, Problem::NotFound))?,
        };
        Ok(Reply::ok([
            seqno_text(record.seqno),
            record.id.clone(),
            record.status.code().to_owned(),
            record.amount.to_string(),
            record.authcode.clone(),
            if record.status.is_transmitted() {
                "1"
            } else {
                "0"
            }
            .to_owned(),
            record.replaced_by.map(seqno_text).unwrap_or_default(),
        ]))
    })();
    result.into()
}

/// `SHOPID`: present and configured (code `-10`).
fn shop(p: &Params, api: Api, config: &Config) -> Result<String, Ng> {
    let shop = p
        .get("SHOPID")
        .ok_or_else(|| Ng::of(api, Problem::ShopIdMissing))?;
    if !config.shops.iter().any(|s| s == shop) {
        return Err(Ng::of(api, Problem::ShopIdUnknown));
    }
    Ok(shop.to_owned())
}

/// A required parameter.
fn required<'p>(p: &'p Params, name: &str, api: Api, missing: Problem) -> Result<&'p str, Ng> {
    p.get(name).ok_or_else(|| Ng::of(api, missing))
}

/// Card amount: digits only, 2..=9,999,999 yen (rule F-7; codes `-21` too large, `-22` too
/// small, `-23` not a number).
fn parse_pay(raw: &str, api: Api) -> Result<u32, Ng> {
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Ng::of(api, Problem::PayMalformed));
    }
    let digits = raw.trim_start_matches('0');
    if digits.len() > 7 {
        return Err(Ng::of(api, Problem::PayTooLarge));
    }
    let pay: u32 = digits.parse().unwrap_or(0);
    match pay {
        0..=1 => Err(Ng::of(api, Problem::PayTooSmall)),
        2..=9_999_999 => Ok(pay),
        _ => Err(Ng::of(api, Problem::PayTooLarge)),
    }
}

/// `SEQNO`: 1–20 digits (code `-110`). `None` when well-formed but beyond any issued number.
fn parse_seqno(raw: &str, api: Api) -> Result<Option<Seqno>, Ng> {
    if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Ng::of(api, Problem::SeqnoMissing));
    }
    Ok(raw
        .parse::<u128>()
        .ok()
        .and_then(|n| Seqno::try_from(n).ok()))
}

/// `ID` and `CUSTOMERID` syntax: 1–20 of `[A-Za-z0-9-]`.
fn reference_well_formed(value: &str) -> bool {
    (1..=20).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Maps a state that an operation does not accept to its reason.
fn state_refusal(api: Api, status: crate::status::Status) -> Ng {
    use crate::status::Status::*;
    let problem = match status {
        Authorized => Problem::NotSold,
        AuthorizationCancelled => Problem::AlreadyAuthCancelled,
        SoldPending | SoldTransmitted => Problem::AlreadySold,
        SaleCancelledPending | SaleCancelledTransmitted => Problem::AlreadySaleCancelled,
        AuthorizationFailed | SaleFailed | ReleaseFailed => Problem::FailedTransaction,
        Reserved => Problem::NotAuthorizedYet,
    };
    Ng::of(api, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f7_amount_bounds() {
        let api = Api::Authm;
        assert_eq!(parse_pay("1", api).unwrap_err().code, "A1-1-22");
        assert_eq!(parse_pay("0", api).unwrap_err().code, "A1-1-22");
        assert_eq!(parse_pay("2", api), Ok(2));
        assert_eq!(parse_pay("0002", api), Ok(2));
        assert_eq!(parse_pay("9999999", api), Ok(9_999_999));
        assert_eq!(parse_pay("10000000", api).unwrap_err().code, "A1-1-21");
        assert_eq!(
            parse_pay("99999999999999999999999", api).unwrap_err().code,
            "A1-1-21"
        );
        assert_eq!(parse_pay("1,000", api).unwrap_err().code, "A1-1-23");
        assert_eq!(parse_pay("-5", api).unwrap_err().code, "A1-1-23");
    }

    #[test]
    fn seqno_syntax() {
        assert_eq!(parse_seqno("00000000000000000001", Api::Sale), Ok(Some(1)));
        assert_eq!(parse_seqno("99999999999999999999", Api::Sale), Ok(None));
        assert!(parse_seqno("000000000000000000001", Api::Sale).is_err());
        assert!(parse_seqno("12a", Api::Sale).is_err());
    }

    #[test]
    fn script_names_round_trip() {
        for script in Script::ALL {
            assert_eq!(Script::from_file_name(script.file_name()), Some(script));
        }
        assert_eq!(Script::from_file_name("compsettleapply.cgi"), None);
    }
}
