//! Settling an unknown outcome: an inquiry, then a declared-safe replay, then an operator's
//! review; and the operator's decision. This module asks the gateway and waits; what each answer
//! proves is decided by the pure rules of [`crate::journal::ledger::resolution`].

use super::drive::Drive;
use super::{Completed, ExecError, Executor, Resolution, blocking};
use crate::defects::Defect;
use crate::instance::GatewayInstance;
use crate::journal::ledger::resolution::{self, Expiry, Finding, ReplayAnswer};
use crate::journal::{Decision, OperationId, OperationRecord, OrderRecord, ReplyRecord};
use renkei_sdk::{
    Context, ErrorKind, GatewayError, Inquiry, Money, Operation, OperationKind, PaymentState, Step,
    StepEffect,
};
use std::time::Duration;

impl Executor {
    /// What the operation's own read before acting showed (SBPS reads the payment with MG01
    /// before it captures, voids or refunds): the gateway's state just before the request whose
    /// outcome is unknown, which tells a change this request made from one made earlier in the
    /// gateway's own tool. Read by asking the plugin to interpret that reply as the answer to an
    /// inquiry, which it is only when the plugin's inquiry sends the same request (same step,
    /// same URL); otherwise nothing is assumed.
    async fn guard_read(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: &OperationRecord,
    ) -> Result<Option<PaymentState>, ExecError> {
        let Some(transaction) = op.transaction() else {
            return Ok(None);
        };
        let exchanges = self.current_exchanges(record).await?;
        let effects: Vec<StepEffect> = exchanges.iter().map(|x| x.sent.effect).collect();
        let Some(guard) = resolution::guard_index(&effects).map(|i| &exchanges[i]) else {
            return Ok(None);
        };
        let Some(ReplyRecord::Reply { status, body }) = &guard.reply else {
            return Ok(None);
        };
        let inquiry = Operation::Inquire {
            order: op.order().clone(),
            transaction: transaction.clone(),
        };
        let request_id = format!("{}:guard", record.idempotency_key);
        let order_id = gateway.order_id_for(&inquiry, &record.idempotency_key, record.attempt);
        let payment = self.payment_for(record).await?;
        let ctx = Context {
            now: (self.clock)(),
            request_id: &request_id,
            idempotency_key: &record.idempotency_key,
            attempt: record.attempt,
            gateway_order_id: order_id.as_deref(),
            handle: payment.handle.as_ref(),
            dates: payment.dates,
        };
        let Ok(Step::Send(ask)) = gateway.prepare(&inquiry, &ctx) else {
            return Ok(None);
        };
        if ask.effect != StepEffect::Reads
            || ask.step.as_str() != guard.sent.step
            || ask.request.url.as_str() != guard.sent.url
        {
            return Ok(None);
        }
        let reply = renkei_sdk::HttpResponse {
            status: *status,
            headers: vec![],
            body: body.clone(),
        };
        Ok(
            match gateway.interpret(&inquiry, &ctx, &ask.state, &reply) {
                Ok(Step::Done(seen)) => Some(seen.state),
                _ => None,
            },
        )
    }

    /// The lease of an operation whose outcome is being resolved: long enough to wait for the
    /// request's expiry and then inquire.
    pub(super) fn resolving_lease_ms(&self, gateway: &GatewayInstance) -> i64 {
        let wait = gateway
            .request_expiry()
            .map_or(Duration::ZERO, |e| e + gateway.clock_skew());
        self.lease_ms_for(gateway) + wait.as_millis() as i64
    }

    /// Waits until the operation's last request that could change the payment can no longer
    /// take effect at the gateway: its declared expiry plus the clock-skew margin, counted from
    /// when it was journaled (just after the plugin stamped it, so never earlier than the
    /// request's own time). Returns false when the gateway declares no expiry: then no wait
    /// makes an unchanged payment conclusive.
    async fn await_expiry(
        &self,
        gateway: &GatewayInstance,
        record: &OperationRecord,
    ) -> Result<bool, ExecError> {
        let Some(declared) = gateway.request_expiry() else {
            return Ok(false);
        };
        if self.defects.has(Defect::InquireBeforeExpiry) {
            return Ok(true);
        }
        let id = record.id;
        let exchanges = blocking(&self.journal, move |j| j.exchanges(id)).await?;
        let last_write = exchanges
            .iter()
            .filter(|x| x.sent.effect.may_move_money())
            .map(|x| x.sent_at_ms)
            .max();
        let settle_at = match resolution::expiry(Some(declared), gateway.clock_skew(), last_write) {
            Expiry::Never => return Ok(false),
            // Nothing that can move money left the host: nothing can take effect later.
            Expiry::Now => return Ok(true),
            Expiry::At(at) => at,
        };
        let now = self.now_ms();
        if settle_at > now {
            tracing::info!(
                operation = id.0,
                wait_ms = settle_at - now,
                "waiting for the request to expire before inquiring"
            );
            tokio::time::sleep(Duration::from_millis((settle_at - now) as u64)).await;
        }
        Ok(true)
    }

    /// Settles an unknown outcome: inquiry, then declared-safe replay, then review.
    ///
    /// An inquiry that finds the operation's target state proves it took effect whenever it is
    /// made. One that finds the payment unchanged proves nothing until the request can no
    /// longer take effect: until the gateway's declared expiry (SBPS: `request_date` +
    /// `limit_second`) plus the clock-skew margin has passed since the request was made. A
    /// gateway that declares no expiry (F-REGI) can therefore never be shown "not applied" by
    /// an inquiry; a declared-safe replay or an operator settles it.
    pub(super) async fn resolve(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: OperationRecord,
        evidence: String,
        first: bool,
    ) -> Result<Completed, ExecError> {
        if !first {
            return self.review(record.id, evidence).await;
        }
        let caps = gateway.capabilities();
        if let Operation::Authorize { amount, .. } = op
            && gateway.searches_authorizations()
        {
            return self
                .search_authorization(gateway, *amount, record, evidence)
                .await;
        }
        let before = self.order_of(&record).await?;
        if !resolution::acts_in_place(op, caps) {
            return self
                .review(
                    record.id,
                    format!(
                        "{evidence}; the operation may replace the payment (a \
                         re-authorization, an authorization changed before capture, or a sale \
                         replaced by a smaller one, as the manifest declares), which neither \
                         an inquiry on the old one nor a replay can account for"
                    ),
                )
                .await;
        }
        let guard = self.guard_read(gateway, op, &record).await?;
        let expired = self.await_expiry(gateway, &record).await?;
        let mut inquiry_said = None;
        let mut inquired = false;

        if caps.supports(OperationKind::Inquire)
            && caps.inquiry != Inquiry::Unavailable
            && let Some(transaction) = op.transaction()
        {
            if !expired {
                // No expiry to wait for; one more deadline still lets a late success show as
                // one to the inquiry.
                tokio::time::sleep(self.transport_for(gateway).timeout()).await;
            }
            let inquiry = Operation::Inquire {
                order: op.order().clone(),
                transaction: transaction.clone(),
            };
            let key = format!("{}:resolve", record.idempotency_key);
            inquired = true;
            let ran = self.drive_more(gateway, &inquiry, &record, &key).await?;
            self.record_last(ran.last).await?;
            match ran.drive {
                Drive::Done(seen) => {
                    match resolution::read_inquiry(
                        op,
                        before.as_ref(),
                        guard.as_ref(),
                        &seen,
                        expired,
                    ) {
                        Finding::TookEffect(outcome) => {
                            return self
                                .succeed(record, None, &outcome, Some(Resolution::Inquiry), None)
                                .await;
                        }
                        Finding::NotApplied => {
                            let error = GatewayError::new(
                                ErrorKind::Rejected,
                                format!(
                                    "not applied: after the request expired, an inquiry shows \
                                     the payment still {}",
                                    seen.state
                                ),
                            );
                            return self
                                .fail(record.id, None, error, Some(Resolution::Inquiry))
                                .await;
                        }
                        Finding::StillPossible => {
                            // Unchanged now is not unchanged for good: the gateway declares no
                            // expiry, so the request may still be processed.
                            inquiry_said = Some(format!(
                                "an inquiry shows the payment still {}, but {} declares no \
                                 expiry for a request, so it may still be processed",
                                seen.state,
                                gateway.name()
                            ));
                        }
                        Finding::Unclear(why) => {
                            return self
                                .review(record.id, format!("{evidence}; inquiry: {why}"))
                                .await;
                        }
                    }
                }
                Drive::NotApplied(e) => {
                    tracing::warn!(order = %op.order(), error = %e, "inquiry refused; trying the next resolution");
                }
                // An inquiry that changes nothing cannot leave a change; read as failed.
                Drive::Unknown { evidence: why, .. }
                | Drive::FailedAfterChange { evidence: why, .. } => {
                    tracing::warn!(order = %op.order(), %why, "inquiry failed; trying the next resolution");
                }
            }
        }
        let evidence = match inquiry_said {
            Some(said) => format!("{evidence}; {said}"),
            None => evidence,
        };

        if caps.is_replay_safe(op.kind()) {
            let key = format!("{}:replay", record.idempotency_key);
            let ran = self.drive_more(gateway, op, &record, &key).await?;
            let last = ran.last;
            let (answer, why) = match &ran.drive {
                Drive::Done(outcome) => (ReplayAnswer::Succeeded(outcome), String::new()),
                Drive::NotApplied(e) => (ReplayAnswer::Failed(e.kind), e.to_string()),
                // A replay that changed the payment before failing proves nothing about the
                // first attempt.
                Drive::Unknown {
                    evidence: again, ..
                }
                | Drive::FailedAfterChange {
                    evidence: again, ..
                } => (ReplayAnswer::Unknown, again.clone()),
            };
            // The manifest's promise: "already done" after a replay proves the first attempt
            // went through.
            if let Some(outcome) = resolution::read_replay(op, before.as_ref(), answer) {
                return self
                    .succeed(record, last, &outcome, Some(Resolution::Replay), None)
                    .await;
            }
            // Any other answer proves nothing about the first attempt: a lost read, a gateway
            // that is unavailable, or a refusal based on a state the first attempt (or the
            // gateway's own tool) may have caused.
            self.record_last(last).await?;
            return self
                .review(record.id, format!("{evidence}; replay: {why}"))
                .await;
        }
        // Say what was tried: an operator reading "no inquiry" after one was made would distrust
        // the rest of the evidence.
        let tried = if inquired {
            "the inquiry did not settle it and the operation is not replay-safe"
        } else {
            "no inquiry is available and the operation is not replay-safe"
        };
        self.review(
            record.id,
            format!("{evidence}; {tried}: an operator must check the gateway"),
        )
        .await
    }

    /// Settles an authorization whose outcome is unknown by looking for it at the gateway under
    /// the order id its attempt sent (`Operation::FindAuthorization`), where the plugin declares
    /// it can (`Capabilities::authorization_inquiry`). Found: it took effect, with the reference
    /// and handle found. Not found: not applied, once the request can no longer take effect
    /// (the same wait as for an inquiry); before that, or where the gateway declares no expiry,
    /// an operator decides. A new attempt then gets a new order id, so nothing found under this
    /// one can later be mistaken for it.
    ///
    /// It needs only the order and the amount, not the payment source (which is never
    /// journaled), so it also settles an authorization left in flight by a host that stopped.
    pub(super) async fn search_authorization(
        &self,
        gateway: &GatewayInstance,
        amount: Money,
        record: OperationRecord,
        evidence: String,
    ) -> Result<Completed, ExecError> {
        let expired = self.await_expiry(gateway, &record).await?;
        if !expired {
            // No expiry to wait for; one more deadline still lets a late success show.
            tokio::time::sleep(self.transport_for(gateway).timeout()).await;
        }
        let search = Operation::FindAuthorization {
            order: record.order.clone(),
            amount,
        };
        let key = format!("{}:resolve", record.idempotency_key);
        let ran = self.drive_more(gateway, &search, &record, &key).await?;
        self.record_last(ran.last).await?;
        let seen = match ran.drive {
            Drive::Done(seen) => seen,
            Drive::NotApplied(e) => {
                return self
                    .review(
                        record.id,
                        format!("{evidence}; the search for the authorization was refused: {e}"),
                    )
                    .await;
            }
            Drive::Unknown { evidence: why, .. }
            | Drive::FailedAfterChange { evidence: why, .. } => {
                return self
                    .review(
                        record.id,
                        format!("{evidence}; the search for the authorization failed: {why}"),
                    )
                    .await;
            }
        };
        let order_id = gateway
            .order_id_for(&search, &record.idempotency_key, record.attempt)
            .unwrap_or_default();
        match resolution::read_authorization_search(amount, &seen, expired) {
            Finding::TookEffect(outcome) => {
                self.succeed(record, None, &outcome, Some(Resolution::Inquiry), None)
                    .await
            }
            Finding::NotApplied => {
                let error = if seen.state == PaymentState::AuthorizationFailed {
                    GatewayError::new(
                        ErrorKind::Declined,
                        format!(
                            "declined: the gateway's record of order id {order_id} shows the \
                             authorization refused"
                        ),
                    )
                } else {
                    GatewayError::new(
                        ErrorKind::Rejected,
                        format!(
                            "not applied: after the request expired, the gateway has no \
                             authorization under order id {order_id} ({})",
                            seen.state
                        ),
                    )
                };
                self.fail(record.id, None, error, Some(Resolution::Inquiry))
                    .await
            }
            Finding::StillPossible => {
                self.review(
                    record.id,
                    format!(
                        "{evidence}; the gateway has no authorization under order id \
                         {order_id} yet, but {} declares no expiry for a request, so it may \
                         still be processed: an operator must check the gateway",
                        gateway.name()
                    ),
                )
                .await
            }
            Finding::Unclear(why) => {
                self.review(record.id, format!("{evidence}; search: {why}"))
                    .await
            }
        }
    }

    /// An operator's decision on an operation in review.
    pub async fn resolve_review(
        &self,
        operation: OperationId,
        decision: Decision,
        operator: &str,
    ) -> Result<OrderRecord, ExecError> {
        let (now, who) = (self.now_ms(), operator.to_owned());
        Ok(blocking(&self.journal, move |j| {
            j.resolve(operation, &decision, &who, now)
        })
        .await?)
    }
}
