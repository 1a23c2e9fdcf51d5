//! Operations that create transactions: `authm.cgi` (`docs/protocols/fregi.md` §11.2), `salem.cgi` (§11.8), and
//! the admin screen's reservation and release (statuses `40` and `41`).

use super::{Ctx, parse_pay, parse_seqno, reference_well_formed, required, shop, state_refusal};
use crate::card::{Card, acquirer_decision, luhn_valid, pan_well_formed};
use crate::clock::{Date, jst_date};
use crate::codes::{Api, Ng, Problem};
use crate::state::{Draft, Seqno, seqno_text};
use crate::status::Status;
use crate::wire::{Params, Reply};

/// A validated request to authorize (everything up to the acquirer's decision).
struct Authorization {
    shop: String,
    pay: u32,
    id: Option<String>,
    card: Card,
    /// Only for a card number sent in clear: tokens carry their own, stored cards skip it.
    scode: Option<String>,
    /// The customer the record belongs to (stored-card charge, or registration).
    customer_id: Option<String>,
    /// Register (or replace) this customer's card when the authorization succeeds.
    register: Option<String>,
    token: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Pan,
    Token,
    StoredCard,
}

const PAN_FIELDS: [&str; 4] = ["PAN1", "PAN2", "PAN3", "PAN4"];

/// Checks an authorization request in the order of `docs/protocols/fregi.md` §11.1-6, up to and including the
/// duplicate-`ID` rule. Card expiry and the acquirer come after, in the caller.
fn authorization(p: &Params, api: Api, ctx: &Ctx<'_>) -> Result<Authorization, Ng> {
    let config = ctx.config;
    let ng = |problem| Ng::of(api, problem);
    let shop = shop(p, api, config)?;

    // Required fields.
    let raw_pay = required(p, "PAY", api, Problem::PayMissing)?;
    let pan_groups: Vec<&str> = PAN_FIELDS.iter().filter_map(|f| p.get(f)).collect();
    let token = p.get("TOKEN");
    let customer = p.get("CUSTOMERID");
    let monthly = p.flag("MONTHLY");
    let source = match (!pan_groups.is_empty(), token.is_some(), customer.is_some()) {
        (true, true, _) => return Err(ng(Problem::CardAmbiguous)),
        (true, false, _) => Source::Pan,
        (false, true, _) => Source::Token,
        (false, false, true) => Source::StoredCard,
        (false, false, false) => return Err(ng(Problem::CardMissing)),
    };
    if source == Source::Pan {
        required(p, "CARDEXPIRY1", api, Problem::MonthMissing)?;
        required(p, "CARDEXPIRY2", api, Problem::YearMissing)?;
        if config.require_card_name {
            required(p, "CARDNAME", api, Problem::NameMissing)?;
        }
        if config.require_scode {
            required(p, "SCODE", api, Problem::ScodeMissing)?;
        }
    }
    if monthly && customer.is_none() {
        return Err(ng(Problem::CustomerIdMissing));
    }

    // Formats and ranges.
    let pay = parse_pay(raw_pay, api)?;
    let id = p.get("ID");
    if id.is_some_and(|id| !reference_well_formed(id)) {
        return Err(ng(Problem::IdInvalid));
    }
    // FREE takes half-width characters only (F-REGI spec §1.2); the decoded text must be printable
    // ASCII, whatever CHARCODE carried it.
    if p.get("FREE")
        .is_some_and(|f| !f.bytes().all(|b| (0x20..=0x7e).contains(&b)))
    {
        return Err(ng(Problem::FreeInvalid));
    }
    // With MONTHLY 0/absent a CUSTOMERID next to card data is ignored (`docs/protocols/fregi.md` §4.1).
    let customer_used = monthly || source == Source::StoredCard;
    if customer_used && customer.is_some_and(|c| !reference_well_formed(c)) {
        return Err(ng(Problem::CustomerIdInvalid));
    }
    let mut scode = None;
    let clear_card = if source == Source::Pan {
        let pan = pan_groups.concat();
        let luhn_ok = !config.luhn_check || luhn_valid(&pan) || config.luhn_exempt.contains(&pan);
        if !pan_well_formed(&pan) || !luhn_ok {
            return Err(ng(Problem::CardInvalid));
        }
        let month = p
            .get("CARDEXPIRY1")
            .filter(|m| (1..=2).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|m| m.parse::<u8>().ok())
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(|| ng(Problem::MonthInvalid))?;
        let year = p
            .get("CARDEXPIRY2")
            .filter(|y| y.len() == 2 && y.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|y| y.parse::<u8>().ok())
            .ok_or_else(|| ng(Problem::YearInvalid))?;
        if p.get("CARDNAME")
            .is_some_and(|n| n.len() > 45 || !n.bytes().all(|b| (0x20..=0x7e).contains(&b)))
        {
            return Err(ng(Problem::NameInvalid));
        }
        if let Some(code) = p.get("SCODE") {
            if code.len() > 4 {
                return Err(ng(Problem::ScodeTooLong));
            }
            if code.len() < 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ng(Problem::ScodeInvalid));
            }
            scode = Some(code.to_owned());
        }
        Some(Card::new(pan, month, year))
    } else {
        None
    };

    // Lookups.
    let card = match (source, clear_card) {
        (Source::Pan, Some(card)) => card,
        (Source::Token, _) => {
            let token = token.unwrap_or_default();
            let known = ctx
                .ledger
                .tokens
                .get(token)
                .filter(|_| !ctx.ledger.used_tokens.contains(token));
            let known = known.ok_or_else(|| ng(Problem::TokenInvalid))?;
            if known.expired {
                return Err(ng(Problem::TokenExpired));
            }
            Card::new(known.pan.clone(), known.exp_month, known.exp_year)
        }
        _ => {
            let customer = customer.unwrap_or_default();
            let stored = ctx
                .ledger
                .customer(ctx.env, &shop, customer)
                .ok_or_else(|| ng(Problem::CustomerUnknown))?;
            stored.card.clone()
        }
    };
    if config.reject_duplicate_id && id.is_some_and(|id| ctx.ledger.id_in_use(ctx.env, &shop, id)) {
        return Err(ng(Problem::DuplicateId));
    }

    Ok(Authorization {
        shop,
        pay,
        id: id.map(str::to_owned),
        card,
        scode,
        customer_id: customer.filter(|_| customer_used).map(str::to_owned),
        register: customer
            .filter(|_| monthly && source != Source::StoredCard)
            .map(str::to_owned),
        token: token.filter(|_| source == Source::Token).map(str::to_owned),
    })
}

impl Authorization {
    fn draft(&self, ctx: &Ctx<'_>, p: &Params, status: Status, failure: Option<Ng>) -> Draft {
        Draft {
            env: ctx.env,
            shop_id: self.shop.clone(),
            id: self.id.clone(),
            amount: self.pay,
            status,
            card: self.card.clone(),
            customer_id: self.customer_id.clone(),
            replaces: None,
            origin: ctx.origin,
            sale_date: None,
            free: p.get("FREE").map(str::to_owned),
            failure,
        }
    }
}

/// `authm.cgi`. Success: `OK` / `AUTHCODE` / `SEQNO` / additional info (the brand when
/// `REQUIRECOM=1`, else empty). `SALETOGETHER=1` sells at once (`20`); `MONTHLY=1` registers
/// the card under `CUSTOMERID` on success.
pub(super) fn authm(p: &Params, ctx: &mut Ctx<'_>) -> Result<Reply, Ng> {
    let api = Api::Authm;
    let auth = authorization(p, api, ctx)?;
    if let Some(token) = auth.token.as_ref().filter(|_| ctx.config.single_use_tokens) {
        ctx.ledger.used_tokens.insert(token.clone());
    }
    let verdict = if auth.card.valid_at(ctx.now()) {
        acquirer_decision(ctx.config, &auth.card, auth.scode.as_deref(), auth.pay)
    } else {
        Err(Ng::of(api, Problem::CardExpired))
    };
    if let Err(ng) = verdict {
        // An expired card is F-REGI's own check, not an acquirer decline: no record.
        if ctx.config.record_declines && ng.code.starts_with("JCN-") {
            let draft = auth.draft(ctx, p, Status::AuthorizationFailed, Some(ng.clone()));
            ctx.ledger.insert(draft);
        }
        return Err(ng);
    }
    let status = if p.flag("SALETOGETHER") {
        Status::SoldPending
    } else {
        Status::Authorized
    };
    let draft = auth.draft(ctx, p, status, None);
    let seqno = ctx.ledger.insert(draft);
    if let Some(customer) = &auth.register {
        ctx.ledger
            .register_customer(ctx.env, &auth.shop, customer, auth.card.clone());
    }
    let authcode = ctx
        .ledger
        .record_any(seqno)
        .map(|r| r.authcode.clone())
        .unwrap_or_default();
    let info = if p.flag("REQUIRECOM") {
        auth.card.brand().name()
    } else {
        ""
    };
    Ok(Reply::ok([authcode, seqno_text(seqno), info.to_owned()]))
}

/// `salem.cgi`: charge a registered customer. A `SALEDATE` after today (JST) makes a
/// reservation (`40`, answered with an empty `AUTHCODE`) that the batch authorizes and sells on
/// that date; otherwise authorize and sell now (`20`), or `22` on decline.
pub(super) fn salem(p: &Params, ctx: &mut Ctx<'_>) -> Result<Reply, Ng> {
    let api = Api::Salem;
    let ng = |problem| Ng::of(api, problem);
    let shop = shop(p, api, ctx.config)?;
    let customer = required(p, "CUSTOMERID", api, Problem::CustomerIdMissing)?;
    let raw_pay = required(p, "PAY", api, Problem::PayMissing)?;
    let pay = parse_pay(raw_pay, api)?;
    if !reference_well_formed(customer) {
        return Err(ng(Problem::CustomerIdInvalid));
    }
    let today = jst_date(ctx.now());
    let sale_date = match p.get("SALEDATE") {
        Some(raw) => Date::parse(raw).ok_or_else(|| ng(Problem::SaleDateInvalid))?,
        None => Date { day: 1, ..today },
    };
    let id = p.get("ID");
    if id.is_some_and(|id| !reference_well_formed(id)) {
        return Err(ng(Problem::IdInvalid));
    }
    let card = ctx
        .ledger
        .customer(ctx.env, &shop, customer)
        .ok_or_else(|| ng(Problem::CustomerUnknown))?
        .card
        .clone();
    if ctx.config.reject_duplicate_id
        && id.is_some_and(|id| ctx.ledger.id_in_use(ctx.env, &shop, id))
    {
        return Err(ng(Problem::DuplicateId));
    }
    let draft = |status, sale_date, failure| Draft {
        env: ctx.env,
        shop_id: shop.clone(),
        id: id.map(str::to_owned),
        amount: pay,
        status,
        card: card.clone(),
        customer_id: Some(customer.to_owned()),
        replaces: None,
        origin: ctx.origin,
        sale_date,
        free: p.get("FREE").map(str::to_owned),
        failure,
    };
    if sale_date > today {
        let seqno = ctx
            .ledger
            .insert(draft(Status::Reserved, Some(sale_date), None));
        return Ok(Reply::ok([String::new(), seqno_text(seqno)]));
    }
    if !card.valid_at(ctx.now()) {
        return Err(ng(Problem::CardExpired));
    }
    if let Err(decline) = acquirer_decision(ctx.config, &card, None, pay) {
        if ctx.config.record_declines {
            let failed = draft(Status::SaleFailed, None, Some(decline.clone()));
            ctx.ledger.insert(failed);
        }
        return Err(decline);
    }
    let seqno = ctx.ledger.insert(draft(Status::SoldPending, None, None));
    let authcode = ctx
        .ledger
        .record_any(seqno)
        .map(|r| r.authcode.clone())
        .unwrap_or_default();
    Ok(Reply::ok([authcode, seqno_text(seqno)]))
}

/// Admin screen: register a reserved order (予約) whose card has been validity-checked but not
/// authorized: status `40`. Takes `authm`'s parameters and answers with `authm`'s codes.
pub(crate) fn reserve(p: &Params, ctx: &mut Ctx<'_>) -> Result<Seqno, Ng> {
    let api = Api::Authm;
    let auth = authorization(p, api, ctx)?;
    if !auth.card.valid_at(ctx.now()) {
        return Err(Ng::of(api, Problem::CardExpired));
    }
    let draft = auth.draft(ctx, p, Status::Reserved, None);
    Ok(ctx.ledger.insert(draft))
}

/// Admin screen / shop: release a reservation into normal processing, which requests its
/// authorization (rule G-9): `40` → `10` with a new `AUTHCODE`, or `40` → `41`
/// 通常処理（有効性確認済み） when declined, in which case the decline is the error.
pub(crate) fn release(p: &Params, ctx: &mut Ctx<'_>) -> Result<(Seqno, String), Ng> {
    let api = Api::Authm;
    let shop = shop(p, api, ctx.config)?;
    let seqno = parse_seqno(required(p, "SEQNO", api, Problem::SeqnoMissing)?, api)?;
    let record = ctx.record(api, &shop, seqno)?;
    if record.status != Status::Reserved {
        return Err(state_refusal(api, record.status));
    }
    let (seqno, card, amount) = (record.seqno, record.card.clone(), record.amount);
    let verdict = if card.valid_at(ctx.now()) {
        acquirer_decision(ctx.config, &card, None, amount)
    } else {
        Err(Ng::of(api, Problem::CardExpired))
    };
    match verdict {
        Ok(()) => {
            ctx.ledger.authorize_existing(seqno, Status::Authorized);
            // Nothing else changes; this records who released it.
            ctx.update(seqno, |_| {});
            let authcode = ctx
                .ledger
                .record_any(seqno)
                .map(|r| r.authcode.clone())
                .unwrap_or_default();
            Ok((seqno, authcode))
        }
        Err(ng) => {
            let failure = ng.clone();
            ctx.update(seqno, |r| {
                r.status = Status::ReleaseFailed;
                r.failure = Some(failure);
            });
            Err(ng)
        }
    }
}
