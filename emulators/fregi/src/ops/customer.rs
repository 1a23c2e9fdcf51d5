//! Registered-customer scripts (`docs/protocols/fregi.md` §4.7, §11.8): `customerinfo.cgi`, `leavecustomer.cgi`.

use super::{Ctx, reference_well_formed, required, shop};
use crate::codes::{Api, Ng, Problem};
use crate::wire::{Params, Reply};

fn customer_id<'p>(p: &'p Params, api: Api, ctx: &Ctx<'_>) -> Result<(String, &'p str), Ng> {
    let shop = shop(p, api, ctx.config)?;
    let customer = required(p, "CUSTOMERID", api, Problem::CustomerIdMissing)?;
    if !reference_well_formed(customer) {
        return Err(Ng::of(api, Problem::CustomerIdInvalid));
    }
    if ctx.ledger.customer(ctx.env, &shop, customer).is_none() {
        return Err(Ng::of(api, Problem::CustomerUnknown));
    }
    Ok((shop, customer))
}

/// `OK` / last four digits, plus expiry month / year (two digits each) when `GETEXPIRE=1`.
pub(super) fn customerinfo(p: &Params, ctx: &mut Ctx<'_>) -> Result<Reply, Ng> {
    let (shop, customer) = customer_id(p, Api::CustomerInfo, ctx)?;
    let card = ctx
        .ledger
        .customer(ctx.env, &shop, customer)
        .map(|c| c.card.clone());
    let card = card.ok_or_else(|| Ng::of(Api::CustomerInfo, Problem::CustomerUnknown))?;
    let mut lines = vec![card.last4().to_owned()];
    if p.flag("GETEXPIRE") {
        lines.push(card.month_2());
        lines.push(card.year_2());
    }
    Ok(Reply::ok(lines))
}

/// `OK` after deleting the customer; its past transactions are kept.
pub(super) fn leavecustomer(p: &Params, ctx: &mut Ctx<'_>) -> Result<Reply, Ng> {
    let (shop, customer) = customer_id(p, Api::LeaveCustomer, ctx)?;
    ctx.ledger.remove_customer(ctx.env, &shop, customer);
    Ok(Reply::ok(Vec::<String>::new()))
}
