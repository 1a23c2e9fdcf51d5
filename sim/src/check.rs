//! The invariants, checked after every step on the orders it touched and on every order at the
//! end. Each returns the invariant's name and what was wrong.
//!
//! 1. `no_double_money`: the gateway never holds more for an order than the order ever asked
//!    for, and never two live transactions for one order.
//! 2. `journal_matches_gateway`: the journal's money equals the gateway's book, or the order is
//!    in review, or a drift event names it, or the gateway's tool acted since the host last
//!    looked. Never a silent difference. With it, `drift_has_an_outside_cause`: a drift event
//!    names only an order the gateway's tool acted on; drift on any other order is the host
//!    losing track of its own operation.
//! 3. `shop_matches_journal`: the shop shows what the actions that succeeded said (paid, amount
//!    due); a card order shown paid is captured in the journal; captured ≠ due is flagged.
//! 4. `refusal_changed_nothing`: an action refused (or declined by the gateway) changed neither
//!    the journal's money, nor the shop's record, nor the gateway's book.
//! 5. `nothing_left_pending`: after recovery no operation is pending or unknown.
//! 6. `no_secret_leaked`: the canary inside every configured secret appears in no log line, no
//!    error and no journal row.

use crate::book::{Book, journal_money};
use crate::model::ModelOrder;
use renkei_host::journal::OrderRecord;
use renkei_host::shop::{OrderStatus, PaymentMethod, ShopOrder};

pub type Broken = (&'static str, String);

/// Exemptions for invariant 2, from the journal.
#[derive(Clone, Debug, Default)]
pub struct Excused {
    pub in_review: bool,
    pub open_drift: bool,
    /// A drift event between journal and gateway kept for the order, open or closed.
    pub gateway_drift: Option<String>,
}

/// Drift between the journal and the gateway has one outside cause: an action in the gateway's
/// own tool (G-8). Drift on an order the tool never touched means the host lost track of its
/// own operation (an unknown outcome guessed, a step it forgot it sent), however well the
/// drift event then explains the difference. The one other cause is an operation whose review
/// found it took effect in part, which the operator reports as drift.
pub fn drift_has_an_outside_cause(model: &ModelOrder, excused: &Excused) -> Result<(), Broken> {
    match &excused.gateway_drift {
        Some(d) if !model.tool_touched && !model.partial_effect => Err((
            "drift_has_an_outside_cause",
            format!("drift on an order the gateway's tool never touched: {d}"),
        )),
        _ => Ok(()),
    }
}

pub fn no_double_money(model: &ModelOrder, book: &Book, excused: &Excused) -> Result<(), Broken> {
    // An operation that replaces the payment (SBPS re-authorizes above the authorization, then
    // sells the new payment and cancels the old) may stop half-way; while it is in review the
    // old authorization may still be open, and the operator cancels it in the gateway's tool.
    // A second capture is never excused.
    let stale_authorization = excused.in_review && book.live - book.open_authorizations.len() <= 1;
    if book.live > 1 && !stale_authorization {
        return Err((
            "no_double_money",
            format!("{} live transactions at the gateway: {book:?}", book.live),
        ));
    }
    if book.captured > model.max_amount
        || (book.open_auth > model.max_amount && !stale_authorization)
    {
        return Err((
            "no_double_money",
            format!(
                "the gateway holds more than the order ever asked for ({}): {book:?}",
                model.max_amount
            ),
        ));
    }
    Ok(())
}

pub fn journal_matches_gateway(
    model: &ModelOrder,
    journal: Option<&OrderRecord>,
    book: &Book,
    excused: &Excused,
) -> Result<(), Broken> {
    if model.tool_unseen || excused.in_review || excused.open_drift {
        return Ok(());
    }
    let stated = match journal {
        Some(r) => journal_money(r),
        None => Some((0, 0)),
    };
    if stated == Some(book.money()) {
        return Ok(());
    }
    Err((
        "journal_matches_gateway",
        format!(
            "journal says (open authorization, net captured) = {stated:?} ({}), the gateway's \
             book {:?} ({book:?}); no review, no drift event",
            journal.map_or("no record".to_owned(), |r| format!(
                "{} authorized {} captured {} refunded {}",
                r.state.name(),
                r.authorized.minor_units,
                r.captured.minor_units,
                r.refunded.minor_units
            )),
            book.money()
        ),
    ))
}

pub fn shop_matches_journal(
    model: &ModelOrder,
    shop: Option<&ShopOrder>,
    journal: Option<&OrderRecord>,
    excused: &Excused,
) -> Result<(), Broken> {
    let Some(shop) = shop else {
        return Ok(());
    };
    if !model.uncertain {
        if shop.paid != model.paid {
            return Err((
                "shop_matches_journal",
                format!(
                    "the shop shows paid = {}, the actions that succeeded say {}",
                    shop.paid, model.paid
                ),
            ));
        }
        if shop.amount_due.minor_units != model.due {
            return Err((
                "shop_matches_journal",
                format!(
                    "the shop shows {} due, the actions that succeeded say {}",
                    shop.amount_due.minor_units, model.due
                ),
            ));
        }
    }
    if excused.in_review || model.tool_unseen {
        return Ok(());
    }
    let card_open = shop.method == PaymentMethod::Card
        && !matches!(
            shop.status,
            OrderStatus::Cancelled | OrderStatus::Returned | OrderStatus::Deleted
        );
    let captured = journal.map_or(0, |r| r.captured.minor_units);
    if shop.paid && card_open && captured == 0 && !excused.open_drift {
        return Err((
            "shop_matches_journal",
            "the shop shows a card order paid that the journal never captured".to_owned(),
        ));
    }
    if let Some(r) = journal
        && shop.paid
        && card_open
        && matches!(r.state, renkei_sdk::PaymentState::Captured { .. })
        && r.captured.minor_units != shop.amount_due.minor_units
        && !model.flagged_due
        && !excused.open_drift
    {
        return Err((
            "shop_matches_journal",
            format!(
                "captured {} but {} due, and nothing flagged it",
                r.captured.minor_units, shop.amount_due.minor_units
            ),
        ));
    }
    Ok(())
}

/// What an action must leave alone when it is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub journal: Option<(i64, i64)>,
    pub shop: Option<(bool, i64, String, String)>,
    pub book: (i64, i64, usize),
}

pub fn snapshot(journal: Option<&OrderRecord>, shop: Option<&ShopOrder>, book: &Book) -> Snapshot {
    Snapshot {
        journal: journal.and_then(journal_money),
        shop: shop.map(|s| {
            (
                s.paid,
                s.amount_due.minor_units,
                s.status.name().to_owned(),
                format!("{:?}", s.method),
            )
        }),
        book: (book.open_auth, book.net_captured, book.live),
    }
}

pub fn refusal_changed_nothing(
    what: &str,
    before: &Snapshot,
    after: &Snapshot,
) -> Result<(), Broken> {
    let mut after = after.clone();
    // A declined first checkout may leave a record of the failed attempt; no money either way.
    if before.shop.is_none() {
        after.shop = None;
    }
    if before.journal.is_none() && after.journal == Some((0, 0)) {
        after.journal = None;
    }
    if *before == after {
        return Ok(());
    }
    Err((
        "refusal_changed_nothing",
        format!("{what}, yet before {before:?} after {after:?}"),
    ))
}

pub fn no_secret(what: &str, text: &str, canary: &str) -> Result<(), Broken> {
    if text.contains(canary) {
        return Err((
            "no_secret_leaked",
            format!("a configured secret appears in {what}: {text}"),
        ));
    }
    Ok(())
}
