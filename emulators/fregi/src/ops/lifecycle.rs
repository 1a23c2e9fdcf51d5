//! Operations on an existing transaction: sale, the two cancels, the two amount changes
//! (`docs/protocols/fregi.md` §11.3–11.7), and the admin screen's cancel.

use super::{Ctx, parse_pay, parse_seqno, required, shop, state_refusal};
use crate::card::acquirer_decision;
use crate::codes::{Api, Ng, Problem};
use crate::config::RepeatSale;
use crate::state::{Draft, Origin, Seqno};
use crate::status::Status;
use crate::wire::Params;

/// `sale.cgi`: `10` → `20`. Returns the transaction's `SEQNO` (the same number, `docs/protocols/fregi.md` §4.2).
pub(crate) fn sale(p: &Params, ctx: &mut Ctx<'_>) -> Result<Seqno, Ng> {
    let api = Api::Sale;
    let shop = shop(p, api, ctx.config)?;
    let seqno = parse_seqno(required(p, "SEQNO", api, Problem::SeqnoMissing)?, api)?;
    let record = ctx.record(api, &shop, seqno)?;
    // A transaction without an authorization (declined, reserved) has no AUTHCODE to send; its
    // state answers instead.
    if ctx.config.require_sale_authcode
        && ctx.origin == Origin::Api
        && !record.authcode.is_empty()
        && p.get("AUTHCODE").is_none_or(str::is_empty)
    {
        return Err(Ng::of(api, Problem::AuthcodeMissing));
    }
    if ctx.config.check_sale_authcode
        && p.get("AUTHCODE")
            .is_some_and(|code| code != record.authcode)
    {
        return Err(Ng::of(api, Problem::NotFound));
    }
    let (seqno, status, authorized_at) = (record.seqno, record.status, record.authorized_at);
    match status {
        Status::Authorized => {
            if past_capture_window(ctx, authorized_at) {
                return Err(Ng::of(api, Problem::DeadlinePassed));
            }
            let now = ctx.now();
            ctx.update(seqno, |r| {
                r.status = Status::SoldPending;
                r.sold_at = Some(now);
            });
            Ok(seqno)
        }
        s if s.is_sold() && ctx.config.repeat_sale == RepeatSale::IdempotentOk => Ok(seqno),
        other => Err(state_refusal(api, other)),
    }
}

/// `authcancel.cgi`: `10` → `12` (also a reservation `40` → `12`: cancelling a pre-order that
/// was never authorized).
pub(crate) fn authcancel(p: &Params, ctx: &mut Ctx<'_>) -> Result<Seqno, Ng> {
    let api = Api::AuthCancel;
    let shop = shop(p, api, ctx.config)?;
    let seqno = parse_seqno(required(p, "CANCELSEQNO", api, Problem::SeqnoMissing)?, api)?;
    let record = ctx.record(api, &shop, seqno)?;
    let (seqno, status) = (record.seqno, record.status);
    match status {
        Status::Authorized | Status::Reserved => {
            let now = ctx.now();
            ctx.update(seqno, |r| {
                r.status = Status::AuthorizationCancelled;
                r.cancelled_at = Some(now);
            });
            Ok(seqno)
        }
        other => Err(state_refusal(api, other)),
    }
}

/// `salecancel.cgi`: `20`/`21` → `30` (a transmitted sale's cancellation still has to be
/// transmitted). Returns the cancelled `SEQNO`.
pub(crate) fn salecancel(p: &Params, ctx: &mut Ctx<'_>) -> Result<Seqno, Ng> {
    let api = Api::SaleCancel;
    let shop = shop(p, api, ctx.config)?;
    let seqno = parse_seqno(required(p, "CANCELSEQNO", api, Problem::SeqnoMissing)?, api)?;
    let record = ctx.record(api, &shop, seqno)?;
    let (seqno, status) = (record.seqno, record.status);
    match status {
        s if s.is_sold() => {
            let now = ctx.now();
            ctx.update(seqno, |r| {
                r.status = Status::SaleCancelledPending;
                r.cancelled_at = Some(now);
            });
            Ok(seqno)
        }
        Status::Reserved => Err(Ng::of(api, Problem::NotSold)),
        other => Err(state_refusal(api, other)),
    }
}

/// The admin screen's 取消: an authorization cancel before the sale, a sale cancel after
/// (rule F-6), on `SHOPID` + `SEQNO`.
pub(crate) fn admin_cancel(p: &Params, ctx: &mut Ctx<'_>) -> Result<Seqno, Ng> {
    let mut params = Params::from_pairs(p.iter().filter(|(k, _)| *k != "CANCELSEQNO"));
    if let Some(seqno) = p.get("SEQNO") {
        params.extend(Params::from_pairs([("CANCELSEQNO", seqno)]));
    }
    let sold = p
        .get("SHOPID")
        .zip(p.get("SEQNO").and_then(|s| s.parse::<Seqno>().ok()))
        .and_then(|(shop, seqno)| ctx.ledger.record(ctx.env, shop, seqno))
        .is_some_and(|r| r.status.is_sold());
    if sold {
        salecancel(&params, ctx)
    } else {
        authcancel(&params, ctx)
    }
}

/// Which amount change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Authorization,
    Sale,
}

/// `authchange.cgi`: re-authorize for the new `PAY`; the new transaction (`10`) replaces the old,
/// which becomes `12`. A decline leaves the old one as it was (unless `CANCELFIRST=1` was
/// permitted and sent). Returns the new `SEQNO` and `AUTHCODE`.
pub(crate) fn authchange(p: &Params, ctx: &mut Ctx<'_>) -> Result<(Seqno, String), Ng> {
    change(p, ctx, Change::Authorization)
}

/// `salechange.cgi`: as `authchange` on a sold transaction: the new one is `20`, the old `30`.
pub(crate) fn salechange(p: &Params, ctx: &mut Ctx<'_>) -> Result<(Seqno, String), Ng> {
    change(p, ctx, Change::Sale)
}

fn change(p: &Params, ctx: &mut Ctx<'_>, change: Change) -> Result<(Seqno, String), Ng> {
    let api = match change {
        Change::Authorization => Api::AuthChange,
        Change::Sale => Api::SaleChange,
    };
    let shop = shop(p, api, ctx.config)?;
    let raw_seqno = required(p, "SEQNO", api, Problem::SeqnoMissing)?;
    let raw_pay = required(p, "PAY", api, Problem::PayMissing)?;
    let seqno = parse_seqno(raw_seqno, api)?;
    let pay = parse_pay(raw_pay, api)?;
    let old = ctx.record(api, &shop, seqno)?.clone();

    match (change, old.status) {
        (Change::Authorization, Status::Authorized) => {
            if past_capture_window(ctx, old.authorized_at) {
                return Err(Ng::of(api, Problem::DeadlinePassed));
            }
        }
        (Change::Sale, s) if s.is_sold() => {
            if ctx.config.salechange_forbid_increase && pay > old.amount {
                return Err(Ng::of(api, Problem::PayTooLarge));
            }
        }
        (Change::Sale, Status::Reserved) => return Err(Ng::of(api, Problem::NotSold)),
        (_, other) => return Err(state_refusal(api, other)),
    }

    let (retired, created, failed) = match change {
        Change::Authorization => (
            Status::AuthorizationCancelled,
            Status::Authorized,
            Status::AuthorizationFailed,
        ),
        Change::Sale => (
            Status::SaleCancelledPending,
            Status::SoldPending,
            Status::SaleFailed,
        ),
    };
    let retire = |ctx: &mut Ctx<'_>| {
        let now = ctx.now();
        ctx.update(old.seqno, |r| {
            r.status = retired;
            r.cancelled_at = Some(now);
        });
    };
    let cancel_first = ctx.config.cancel_first_permitted && p.flag("CANCELFIRST");
    if cancel_first {
        retire(ctx);
    }

    let draft = |status: Status, failure: Option<Ng>| Draft {
        env: old.env,
        shop_id: shop.clone(),
        id: Some(old.id.clone()),
        amount: pay,
        status,
        card: old.card.clone(),
        customer_id: old.customer_id.clone(),
        replaces: failure.is_none().then_some(old.seqno),
        origin: ctx.origin,
        sale_date: None,
        free: old.free.clone(),
        failure,
    };
    let verdict = if old.card.valid_at(ctx.now()) {
        acquirer_decision(ctx.config, &old.card, None, pay)
    } else {
        Err(Ng::of(api, Problem::CardExpired))
    };
    if let Err(ng) = verdict {
        if ctx.config.record_declines {
            let failed_draft = draft(failed, Some(ng.clone()));
            ctx.ledger.insert(failed_draft);
        }
        return Err(ng);
    }
    let new_draft = draft(created, None);
    let new = ctx.ledger.insert(new_draft);
    if !cancel_first {
        retire(ctx);
    }
    ctx.update(old.seqno, |r| r.replaced_by = Some(new));
    let authcode = ctx
        .ledger
        .record_any(new)
        .map(|r| r.authcode.clone())
        .unwrap_or_default();
    Ok((new, authcode))
}

/// True when the capture window since `authorized_at` has passed (`-125`).
fn past_capture_window(ctx: &Ctx<'_>, authorized_at: Option<i64>) -> bool {
    let window = ctx.config.capture_window().as_secs() as i64;
    authorized_at.is_some_and(|t| ctx.now() - t > window)
}
