//! What an answer settles for an operation whose outcome is unknown, as pure functions: an
//! inquiry's answer, a replay's answer, the request's expiry, and what a dead host's journaled
//! exchanges leave to settle. No I/O and no clock: times are passed in. The executor gathers the
//! answers (`executor/resolve.rs`) and acts on what these say.
//!
//! The resolution rule (ARCHITECTURE.md): no answer that fails to settle the outcome says the
//! gateway is done with the request. So a payment found *changed as the operation would change
//! it* settles the operation whenever it is seen, but one found *unchanged* proves "not applied"
//! only once the request can no longer take effect ([`expiry`]).

use crate::journal::model::OrderRecord;
use renkei_sdk::{
    AfterSend, AmountChange, Capabilities, Effect, ErrorKind, Money, Operation, OperationKind,
    Outcome, PaymentState, RefundExtent, Settlement, StepEffect,
};
#[cfg(doc)]
use renkei_sdk::{PartialCapture, PartialRefund};
use std::time::Duration;

/// What an inquiry's answer shows about the operation, judged by [`judge`].
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The payment changed as this operation alone would change it, with this outcome.
    TookEffect(Box<Outcome>),
    /// The payment is as the journal had it before the operation.
    NoEffect,
    /// Something else, which only an operator can read.
    Unclear(String),
}

/// What an inquiry settles, once the request's expiry is taken into account.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// The operation took effect, with this outcome (a late success is still a success).
    TookEffect(Box<Outcome>),
    /// The payment is unchanged and the request can no longer take effect: not applied.
    NotApplied,
    /// The payment is unchanged, but the gateway declares no expiry for a request, so it may
    /// still be processed: the next resolution (a declared-safe replay, an operator) decides.
    StillPossible,
    /// The payment shows something the operation alone does not explain: review.
    Unclear(String),
}

/// Reads an inquiry after an unknown outcome ([`judge`]) and whether the request had expired
/// when it was made.
pub fn read_inquiry(
    op: &Operation,
    before: Option<&OrderRecord>,
    guard: Option<&PaymentState>,
    seen: &Outcome,
    expired: bool,
) -> Finding {
    match judge(op, before, guard, seen) {
        Verdict::TookEffect(outcome) => Finding::TookEffect(outcome),
        Verdict::NoEffect if expired => Finding::NotApplied,
        Verdict::NoEffect => Finding::StillPossible,
        Verdict::Unclear(why) => Finding::Unclear(why),
    }
}

/// Reads what a search for a lost authorization found under the attempt's order id
/// (`Operation::FindAuthorization`). Found authorized, with a reference, at the amount asked
/// (or no amount stated): the authorization took effect, whenever it is seen. Nothing found (or
/// an id only registered, which reserves nothing) proves it was not applied only once the
/// request can no longer take effect, as an unchanged payment does for an inquiry. Found
/// declined: the gateway processed the request and refused it, which no later moment changes.
/// Anything else (another amount, no reference, captured or voided since, a state nobody
/// knows) is for an operator: the attempt's payment exists, but the authorization alone does
/// not explain it.
///
/// `amount` is what the lost authorization asked for.
pub fn read_authorization_search(amount: Money, seen: &Outcome, expired: bool) -> Finding {
    match &seen.state {
        PaymentState::Authorized => match (&seen.transaction, seen.authorized) {
            (None, _) => Finding::Unclear(
                "the search found an authorization but the plugin reported no reference for it"
                    .into(),
            ),
            (Some(_), Some(found)) if found != amount => Finding::Unclear(format!(
                "the search found an authorization of {found} under the attempt's order id; \
                 the attempt asked for {amount}"
            )),
            (Some(_), _) => Finding::TookEffect(Box::new(seen.clone())),
        },
        PaymentState::AuthorizationFailed => Finding::NotApplied,
        state if state.awaits_authorization() => {
            if expired {
                Finding::NotApplied
            } else {
                Finding::StillPossible
            }
        }
        state => Finding::Unclear(format!(
            "the search found the attempt's payment {state}: the authorization took effect \
             and something else happened since"
        )),
    }
}

/// When an unchanged payment becomes proof that the operation's requests were not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The gateway declares no expiry for a request: never, by waiting.
    Never,
    /// Only reads left the host: nothing can take effect later, so already.
    Now,
    /// At this time (Unix milliseconds): the last request that could change the payment, as
    /// journaled, plus the gateway's declared expiry and the clock-skew margin.
    At(i64),
}

/// When the operation's last request that could change the payment can no longer take effect
/// at the gateway (SBPS refuses one after `request_date + limit_second`,
/// `docs/protocols/sbps.md`). Counted from when it was journaled, which is just after the plugin
/// stamped it, so never earlier than the request's own time; `skew` covers the gateway's clock
/// running behind ours.
///
/// `last_write_ms` is the latest journal time of an exchange that was not read-only, if any.
pub fn expiry(declared: Option<Duration>, skew: Duration, last_write_ms: Option<i64>) -> Expiry {
    let Some(declared) = declared else {
        return Expiry::Never;
    };
    match last_write_ms {
        None => Expiry::Now,
        Some(sent) => Expiry::At(sent + (declared + skew).as_millis() as i64),
    }
}

/// What a replay of a declared replay-safe operation answered.
#[derive(Debug, Clone, Copy)]
pub enum ReplayAnswer<'a> {
    /// It went through now, with this outcome.
    Succeeded(&'a Outcome),
    /// It was refused with this kind before or after sending.
    Failed(ErrorKind),
    /// Its own outcome is unknown.
    Unknown,
}

/// The outcome a replay of a replay-safe operation proves the first attempt had, if any. A
/// success is the operation's outcome; "already done" is the manifest's promise that the first
/// attempt went through. Any other answer proves nothing about the first attempt: a lost read, a
/// gateway that is unavailable, or a refusal based on a state the first attempt (or the
/// gateway's own tool) may have caused.
pub fn read_replay(
    op: &Operation,
    before: Option<&OrderRecord>,
    answer: ReplayAnswer<'_>,
) -> Option<Outcome> {
    match answer {
        ReplayAnswer::Succeeded(outcome) => Some(outcome.clone()),
        ReplayAnswer::Failed(ErrorKind::AlreadyDone) => Some(expected_outcome(op, before)),
        ReplayAnswer::Failed(_) | ReplayAnswer::Unknown => None,
    }
}

/// What an operation left by a host that stopped leaves to settle, from the declared effects
/// of the exchanges it journaled in its current attempt, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Nothing left the host: not applied.
    NothingSent,
    /// Only requests that move no money were sent (reads, registrations): the payment is as it
    /// was, so not applied.
    NoMoneyMoved,
    /// A request that could move money was sent; its outcome is unknown. `automatic` is true
    /// when no exchange before the last could move money, so that the payment's state alone can
    /// tell what happened.
    Unknown { automatic: bool },
}

pub fn stopped(effects: &[StepEffect]) -> Stopped {
    match effects.split_last() {
        None => Stopped::NothingSent,
        Some(_) if !effects.iter().any(|e| e.may_move_money()) => Stopped::NoMoneyMoved,
        Some((_, earlier)) => Stopped::Unknown {
            automatic: !earlier.iter().any(|e| e.may_move_money()),
        },
    }
}

/// Which journaled exchange was the operation's own read before acting (SBPS reads the payment
/// with MG01 before it captures, voids or refunds, G-8): the last read before the first exchange
/// that could move money. None when no exchange could move money or none read first.
pub fn guard_index(effects: &[StepEffect]) -> Option<usize> {
    let acting = effects.iter().position(|e| e.may_move_money())?;
    effects[..acting]
        .iter()
        .rposition(|e| *e == StepEffect::Reads)
}

/// Whether the operation's first exchange acts on the payment the journal knows (so that an
/// inquiry about that payment can tell whether it happened, and a replay cannot create a second
/// payment), as the manifest declares it. Re-authorizing gateways create a new payment to raise
/// an amount; a capture below the authorization, or a partial refund, acts in place only where
/// the manifest says so ([`PartialCapture::InPlace`], [`PartialRefund::InPlace`]): a gateway
/// that first changes the authorization, or replaces the sale by a smaller one, may leave the
/// payment under a new reference that an inquiry about the old one cannot see.
pub fn acts_in_place(op: &Operation, caps: &Capabilities) -> bool {
    match op {
        Operation::Capture {
            authorized,
            amount: Some(amount),
            ..
        } if amount.minor_units > authorized.minor_units => {
            caps.amount_change != AmountChange::Reauthorization
        }
        Operation::Capture {
            authorized,
            amount: Some(amount),
            ..
        } if amount.minor_units < authorized.minor_units => caps.partial_capture.is_in_place(),
        // F-REGI's authchange cancels the old SEQNO, which an inquiry about it shows.
        Operation::ChangeAmount { .. } => caps.amount_change != AmountChange::Reauthorization,
        Operation::Authorize { .. } => false,
        Operation::Refund {
            captured,
            amount: Some(amount),
            ..
        } if amount.minor_units < captured.minor_units => caps.partial_refund.is_in_place(),
        _ => true,
    }
}

/// What a later step's failure leaves, when an earlier step of the same operation had already
/// changed the payment and the plugin reported how (`GatewayError::changed_before`): judged by
/// [`read_changed_before`].
#[derive(Debug, Clone, PartialEq)]
pub enum ChangedBefore {
    /// The failed step was refused cleanly and the reported outcome is one this operation's
    /// earlier steps can have left: the order books it as a success's outcome would be booked,
    /// and the operation fails with the gateway's error.
    Book(Box<Outcome>),
    /// The operation's outcome stays unknown (review); why, for the evidence, naming what the
    /// plugin reported.
    Unknown(String),
}

/// Reads what a plugin reports its earlier steps left when a later step failed (F-2: F-REGI's
/// `authchange.cgi` answered OK, then `sale.cgi` failed).
///
/// Booked only when both hold, because money is never guessed:
/// - the failed step itself certainly did nothing: an explicit refusal by the gateway
///   ([`AfterSend::effect`] is not applied), and not "already done", which a payment the
///   operation had just changed cannot explain;
/// - the report fits the operation: a capture at a changed amount whose order the journal has
///   authorized, left authorized at exactly the capture's amount, nothing captured or refunded,
///   and a new reference only with the reference it replaced ([`changed_before_unclear`]).
///
/// Otherwise the outcome is unknown as before (review), and the evidence says what was
/// reported.
pub fn read_changed_before(
    op: &Operation,
    before: Option<&OrderRecord>,
    failed: AfterSend,
    reported: &Outcome,
) -> ChangedBefore {
    let said = describe_left(reported);
    if failed.effect() != Effect::NotApplied {
        return ChangedBefore::Unknown(format!(
            "the plugin reports that the earlier steps left {said}, but the failed step's own \
             outcome is unknown"
        ));
    }
    if let AfterSend::Answered {
        kind: ErrorKind::AlreadyDone,
        ..
    } = failed
    {
        return ChangedBefore::Unknown(format!(
            "the plugin reports that the earlier steps left {said}, but the failed step was \
             answered \"already done\", which a payment the operation had just changed cannot \
             explain"
        ));
    }
    match changed_before_unclear(op, before, reported) {
        Some(why) => ChangedBefore::Unknown(format!(
            "the plugin reports that the earlier steps left {said}, which the journal cannot \
             book: {why}"
        )),
        None => ChangedBefore::Book(Box::new(reported.clone())),
    }
}

/// Why a reported partial outcome cannot be what `op`'s earlier steps left, or None when it
/// can. Only a capture at a changed amount has a money-moving step before its last one that the
/// host can book on its own (the change of the authorization, F-2); the ledger repeats the
/// checks it needs under the order's lock (`ledger::apply_changed_before`).
pub fn changed_before_unclear(
    op: &Operation,
    before: Option<&OrderRecord>,
    reported: &Outcome,
) -> Option<String> {
    let Operation::Capture {
        authorized,
        amount: Some(amount),
        ..
    } = op
    else {
        return Some(format!(
            "only a capture at a changed amount has an earlier step the journal can book; this \
             is a {} without one",
            op.kind()
        ));
    };
    if amount == authorized {
        return Some(format!(
            "this capture of {amount} did not change the authorized amount"
        ));
    }
    let Some(order) = before else {
        return Some("the journal has no order to book it on".to_owned());
    };
    if order.state != PaymentState::Authorized {
        return Some(format!("the journal has the payment {}", order.state));
    }
    if reported.state != PaymentState::Authorized {
        return Some(format!(
            "it says {}; a change of the authorization leaves it authorized",
            reported.state
        ));
    }
    if reported.authorized != Some(*amount) {
        return Some(format!(
            "it says {} authorized; the capture was for {amount}",
            reported
                .authorized
                .map_or("nothing".to_owned(), |a| a.to_string())
        ));
    }
    if [reported.captured, reported.refunded]
        .into_iter()
        .flatten()
        .any(|m| m.minor_units != 0)
    {
        return Some("it says money was captured or refunded".to_owned());
    }
    if let (Some(known), Some(said)) = (&order.transaction, &reported.transaction)
        && known != said
        && reported.replaced.as_ref() != Some(known)
    {
        return Some(format!(
            "it names transaction {said} without saying that it replaced {known}"
        ));
    }
    None
}

/// A reported partial outcome in a few words, for evidence: state, amount and references (no
/// handle, which may hold secrets).
pub fn describe_left(o: &Outcome) -> String {
    let mut s = o.state.to_string();
    if let Some(a) = o.authorized {
        s.push_str(&format!(" at {a}"));
    }
    if let Some(t) = &o.transaction {
        s.push_str(&format!(" under {t}"));
    }
    if let Some(r) = &o.replaced {
        s.push_str(&format!(", replacing {r}"));
    }
    s
}

/// The state an operation leads to, if it succeeds.
fn reached(kind: OperationKind, state: &PaymentState) -> bool {
    match kind {
        OperationKind::Capture => matches!(state, PaymentState::Captured { .. }),
        OperationKind::Void => matches!(state, PaymentState::Voided),
        OperationKind::Refund => matches!(state, PaymentState::Refunded { .. }),
        OperationKind::Authorize | OperationKind::ChangeAmount | OperationKind::Inquire => false,
    }
}

/// Reads an inquiry after an unknown outcome. Only state changes that the operation alone can
/// explain count, and only amounts the gateway states: where it states none, a change made in
/// its own tool (G-8) could look the same, so the answer is unclear rather than ours.
///
/// `guard` is what the operation's own read before acting showed, if it made one: a refund the
/// gateway reports without an amount is this refund's only if the payment was captured and
/// unrefunded just before it was sent and the journal knows of no earlier refund.
pub fn judge(
    op: &Operation,
    before: Option<&OrderRecord>,
    guard: Option<&PaymentState>,
    seen: &Outcome,
) -> Verdict {
    let kind = op.kind();
    let was = before.map(|o| &o.state);
    if matches!(seen.state, PaymentState::Unknown { .. }) {
        return Verdict::Unclear(format!("the gateway reports {}", seen.state));
    }
    if reached(kind, &seen.state) {
        let mut outcome = seen.clone();
        match op {
            Operation::Capture { .. } => {
                let asked = op.amount();
                match outcome.captured {
                    Some(c) if Some(c) != asked => {
                        return Verdict::Unclear(format!(
                            "the gateway shows {c} captured, this capture was for {}",
                            asked.map_or("?".to_owned(), |a| a.to_string())
                        ));
                    }
                    Some(_) => {}
                    None => outcome.captured = asked,
                }
            }
            Operation::Refund {
                captured: open,
                amount,
                ..
            } => {
                if let Some(why) = refund_unclear(*open, *amount, before, guard, seen) {
                    return Verdict::Unclear(why);
                }
                // The ledger books what this refund moved.
                outcome.refunded = None;
            }
            _ => {}
        }
        return Verdict::TookEffect(Box::new(outcome));
    }
    if Some(&seen.state) == was {
        return Verdict::NoEffect;
    }
    Verdict::Unclear(format!(
        "the payment moved from {} to {}",
        was.map_or("unknown".to_owned(), |s| s.to_string()),
        seen.state
    ))
}

/// The refund-extent rule: why a refunded state an inquiry shows cannot be booked as this refund
/// of `amount` (all of `open` when `None`), or None when it can. A stated total must be the
/// journal's refunds plus this one; a stated extent must fit; with neither (SBPS's 返金済 after a
/// partial refund reads as after a full one, S-3), only a full refund whose own read just before
/// showed the payment captured, with nothing refunded before, is this refund's (G-8).
fn refund_unclear(
    open: Money,
    amount: Option<Money>,
    before: Option<&OrderRecord>,
    guard: Option<&PaymentState>,
    seen: &Outcome,
) -> Option<String> {
    let was = before.map(|o| &o.state);
    let moved = amount.unwrap_or(open);
    let full = moved == open;
    let refunded_before = before.map_or(0, |o| o.refunded.minor_units);
    match (seen.refunded, &seen.state) {
        (Some(total), _) if total.minor_units != refunded_before + moved.minor_units => {
            Some(format!(
                "the gateway shows {total} refunded in all; with this refund the journal would \
                 have {}",
                refunded_before + moved.minor_units
            ))
        }
        (Some(_), _) => None,
        (None, _) if matches!(was, Some(PaymentState::Refunded { .. })) => {
            Some("already refunded before; the gateway reports no amounts".to_owned())
        }
        (
            None,
            PaymentState::Refunded {
                extent: RefundExtent::NotReported,
                ..
            },
        ) if !(full
            && refunded_before == 0
            && matches!(guard, Some(PaymentState::Captured { .. }))) =>
        {
            Some(format!(
                "the gateway says refunded without saying how much, and {}, so this refund \
                 cannot be told from one made in the gateway's own tool (G-8)",
                match guard {
                    Some(s) => format!("its read just before this refund showed {s}"),
                    None => "nothing showed the payment unrefunded just before it".to_owned(),
                }
            ))
        }
        (
            None,
            PaymentState::Refunded {
                extent: RefundExtent::Full,
                ..
            },
        ) if !full => Some(format!(
            "the gateway shows the payment refunded in full; this refund was for {moved} of \
             {open}"
        )),
        (
            None,
            PaymentState::Refunded {
                extent: RefundExtent::Partial,
                ..
            },
        ) if full => Some(format!(
            "the gateway shows the payment partly refunded; this refund was for all of {open}"
        )),
        (None, _) => None,
    }
}

/// The outcome a replay-safe operation had when its replay answers "already done".
pub fn expected_outcome(op: &Operation, before: Option<&OrderRecord>) -> Outcome {
    let state = match op.kind() {
        OperationKind::Capture => PaymentState::Captured {
            settlement: Settlement::NotReported,
        },
        OperationKind::Void => PaymentState::Voided,
        OperationKind::Refund => PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: Settlement::NotReported,
        },
        OperationKind::Authorize | OperationKind::ChangeAmount => PaymentState::Authorized,
        OperationKind::Inquire => before
            .map_or(PaymentState::Unknown { raw: String::new() }, |o| {
                o.state.clone()
            }),
    };
    let mut outcome = Outcome::new(state).note("settled by a replay answering \"already done\"");
    outcome.transaction = op.transaction().cloned();
    if op.kind() == OperationKind::Capture {
        outcome.captured = op.amount();
    }
    outcome
}

#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod tests;
