//! Operations on an existing payment: commit, sales, cancel, refunds (the ST02 family).

use super::{Call, Outcome, Refused, Success};
use crate::codes::reasons;
use crate::config::SalesMode;
use crate::state::{CommitStatus, Ids, Payment, PaymentStatus, Source, State};
use crate::time::JstDateTime;

/// Resolves the target payment of an ST02 request (§10.4).
fn target<'s>(
    call: &Call<'_>,
    state: &'s mut State,
) -> Result<(&'s mut Payment, &'s mut Ids), Refused> {
    state
        .target_mut(
            call.merchant_idx,
            call.value(&["tracking_id"]),
            call.value(&["sps_transaction_id"]),
            &call.config.rules,
        )
        .map_err(Refused::from)
}

fn auto_sales(call: &Call<'_>) -> bool {
    call.merchant.sales_mode == SalesMode::Auto
}

/// `res_process_date` of a refund of a sold payment: the business date at `000000` (§6.4), or
/// the actual time when that rule is switched off.
fn refund_process_date(call: &Call<'_>) -> JstDateTime {
    if call.config.rules.refund_process_date_is_date_only {
        call.processing_datetime()
            .unwrap_or(call.now)
            .start_of_day()
    } else {
        call.now
    }
}

fn finish(
    call: &Call<'_>,
    payment: &mut Payment,
    ids: &mut Ids,
    amount: Option<u32>,
    process_date: JstDateTime,
) -> Outcome {
    let txid = call.new_transaction_id(ids);
    payment.record(
        call.now,
        Source::Api,
        call.function.id(),
        Some(txid.clone()),
        amount,
    );
    Ok(Success::plain(txid, process_date))
}

/// `ST02-00101-101`.
pub(super) fn commit(call: &Call<'_>, state: &mut State) -> Outcome {
    let auto_sale_on = auto_sales(call).then_some(call.now);
    let (payment, ids) = target(call, state)?;
    payment.commit(auto_sale_on)?;
    let amount = auto_sale_on.map(|_| payment.captured_amount);
    finish(call, payment, ids, amount, call.now)
}

/// `ST02-00201-101`.
pub(super) fn sales(call: &Call<'_>, state: &mut State) -> Outcome {
    let rules = &call.config.rules;
    let (payment, ids) = target(call, state)?;
    if auto_sales(call) {
        return Err(reasons::AUTO_SALES.into());
    }
    if rules.require_commit_before_sales && payment.commit_status == CommitStatus::Uncommitted {
        return Err(rules.sales_before_commit.into());
    }
    let requested = call.number(&["pay_option_manage", "amount"]);
    payment.check_capture(requested)?;
    let sales_date = call.processing_datetime().unwrap_or(call.now);
    let window_end = rules
        .sales_window_months
        .map(|months| payment.auth_at.end_of_month_after(months));
    if window_end.is_some_and(|end| sales_date > end) {
        return Err(reasons::SALES_WINDOW.into());
    }
    let amount = payment.capture(requested, sales_date)?;
    finish(call, payment, ids, Some(amount), sales_date.start_of_day())
}

/// `ST02-00303-101`: cancel while unsold, full refund once sold.
pub(super) fn cancel_or_refund(call: &Call<'_>, state: &mut State) -> Outcome {
    let rules = &call.config.rules;
    let auto = auto_sales(call);
    let (payment, ids) = target(call, state)?;
    match payment.payment_status {
        PaymentStatus::Authorized => {
            if auto && payment.commit_status == CommitStatus::Uncommitted {
                return Err(reasons::AUTO_SALES_COMMIT_FIRST.into());
            }
            payment.cancel_authorization()?;
            finish(call, payment, ids, None, call.now)
        }
        PaymentStatus::Cancelled => Err(reasons::REFUND_ON_CANCELLED.into()),
        PaymentStatus::Sold | PaymentStatus::Refunded => {
            let amount = payment.refund_rest(rules.refund_after_partial_refund)?;
            finish(call, payment, ids, Some(amount), refund_process_date(call))
        }
    }
}

/// `ST02-00305-101`: cancel of an unsold authorization only.
pub(super) fn cancel(call: &Call<'_>, state: &mut State) -> Outcome {
    let rules = &call.config.rules;
    let (payment, ids) = target(call, state)?;
    match payment.payment_status {
        PaymentStatus::Sold | PaymentStatus::Refunded => Err(rules.cancel_on_sold.into()),
        PaymentStatus::Authorized | PaymentStatus::Cancelled => {
            payment.cancel_authorization()?;
            finish(call, payment, ids, None, call.now)
        }
    }
}

/// `ST02-00307-101`: refund `amount` of a sold payment; repeatable up to the sold amount.
pub(super) fn partial_refund(call: &Call<'_>, state: &mut State) -> Outcome {
    let rules = &call.config.rules;
    let amount = call.number(&["pay_option_manage", "amount"]).unwrap_or(0);
    let (payment, ids) = target(call, state)?;
    payment.refund_partial(amount, rules)?;
    finish(call, payment, ids, Some(amount), refund_process_date(call))
}
