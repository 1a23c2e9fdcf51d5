//! The step loop under the journal: each exchange is committed before it leaves, each reply is
//! interpreted by the plugin, and a failure is read by the SDK's one classification
//! ([`renkei_sdk::failed_exchange_effect`]), as the bare driver and the conformance suite read it.

use super::{ExecError, Executor, Payment, blocking};
use crate::defects::Defect;
use crate::instance::GatewayInstance;
use crate::journal::{ExchangeId, OperationRecord, ReplyRecord, SentExchange};
use renkei_sdk::{
    AfterSend, Context, Effect, ErrorKind, Exchange, GatewayError, Operation, Outcome, Step,
    StepEffect, failed_exchange_effect,
};

/// A drive's result and the last exchange's reply, still to be journaled with the outcome.
pub(super) struct Ran {
    pub(super) drive: Drive,
    pub(super) last: Option<(ExchangeId, ReplyRecord)>,
    /// The steps this drive sent, in order.
    pub(super) steps: Vec<String>,
}

/// What running the steps produced.
pub(super) enum Drive {
    Done(Outcome),
    /// Certainly nothing happened (refused before sending, or an explicit refusal to the first
    /// exchange).
    NotApplied(GatewayError),
    /// May have happened. `first` is true when no exchange before the unknown one could have
    /// changed the payment (it was the first, or all before it were read-only). Whatever the
    /// cause (no reply, a reset, a 5xx from a load balancer, a cut body, an undocumented error
    /// code), the gateway may still be working on the request: no answer that fails to settle
    /// the outcome says the gateway is done with it.
    Unknown {
        evidence: String,
        first: bool,
    },
    /// A later step failed after earlier ones changed the payment, and the plugin reported what
    /// they left (`GatewayError::changed_before`, taken out of `error` into `reported`). Whether
    /// that is booked or the outcome stays unknown is `resolution::read_changed_before`'s call,
    /// made in `settle` with the journal's order; `evidence` is the unknown outcome's evidence.
    FailedAfterChange {
        error: GatewayError,
        reported: Box<Outcome>,
        after: AfterSend,
        evidence: String,
    },
}

impl Executor {
    /// Sends `exchange` (already journaled as `exchange_id`, index `index`) and runs the steps
    /// that follow, journaling each before it is sent.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn drive(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: &OperationRecord,
        key: &str,
        payment: &Payment,
        mut exchange: Exchange,
        mut exchange_id: ExchangeId,
        mut index: u32,
    ) -> Result<Ran, ExecError> {
        let attempt = record.attempt;
        // The attempt's order id, whatever key the exchanges run under: an inquiry or a replay
        // during resolution (`…:resolve`, `…:replay`) is about the attempt's own order id.
        let order_id = gateway.order_id_for(op, &record.idempotency_key, attempt);
        let first_index = index;
        let transport = self.transport_for(gateway);
        // Whether an exchange of this drive that could change the payment has been sent. Until
        // one has, the payment is as it was, which is what lets an unknown outcome be settled.
        let mut changed = false;
        // Defect `SendBeforeWriteAhead`: the next step's reply, got before it was journaled.
        let mut sent_early = None;
        let mut steps = Vec::new();
        loop {
            let first = !changed;
            if self.defects.has(Defect::ReadOnlyMoneyStep) {
                exchange.effect = StepEffect::Reads;
            }
            steps.push(exchange.step.to_string());
            let sent = match sent_early.take() {
                Some(sent) => sent,
                None => transport.send(&exchange.request).await,
            };
            let reply = match sent {
                Ok(reply) => reply,
                Err(error) => {
                    let last = Some((
                        exchange_id,
                        ReplyRecord::NoReply {
                            error: error.to_string(),
                        },
                    ));
                    // Nothing that could move money was sent: a lost read or registration, or a request
                    // that never left.
                    let effect =
                        failed_exchange_effect(error.after_send(), exchange.effect, changed);
                    let drive = if effect == Effect::NotApplied {
                        Drive::NotApplied(GatewayError::new(
                            ErrorKind::Unavailable,
                            format!("step `{}`: {error}", exchange.step),
                        ))
                    } else {
                        Drive::Unknown {
                            evidence: format!("step `{}`: {error}", exchange.step),
                            first,
                        }
                    };
                    return Ok(Ran { drive, last, steps });
                }
            };
            let request_id = format!("{key}/{attempt}/{}", index + 2);
            let ctx = Context {
                now: (self.clock)(),
                request_id: &request_id,
                idempotency_key: key,
                attempt,
                gateway_order_id: order_id.as_deref(),
                handle: payment.handle.as_ref(),
                dates: payment.dates,
            };
            let reply_status = reply.status;
            let interpreted = gateway.interpret(op, &ctx, &exchange.state, &reply);
            let redacted = gateway.redacted_reply(op, &exchange.state, &reply);
            let last = Some((
                exchange_id,
                ReplyRecord::Reply {
                    status: reply.status,
                    body: redacted.unwrap_or(reply.body),
                },
            ));
            let next = match interpreted {
                Ok(Step::Done(outcome)) => {
                    return Ok(Ran {
                        drive: Drive::Done(outcome),
                        last,
                        steps,
                    });
                }
                Ok(Step::Send(next)) => next,
                Err(mut e) => {
                    let answered = AfterSend::Answered {
                        status: reply_status,
                        kind: e.kind,
                    };
                    let refused = answered.effect() == Effect::NotApplied;
                    let evidence = if refused && changed {
                        format!(
                            "step `{}` refused after earlier steps changed the payment: {e}",
                            exchange.step
                        )
                    } else {
                        format!("step `{}`: {e}", exchange.step)
                    };
                    let reported = e.changed_before.take();
                    let drive = if failed_exchange_effect(answered, exchange.effect, changed)
                        == Effect::NotApplied
                    {
                        // An explicit refusal, or an unreadable answer to a step that moves no money.
                        Drive::NotApplied(e)
                    } else if let Some(reported) = reported.filter(|_| changed) {
                        Drive::FailedAfterChange {
                            error: e,
                            reported,
                            after: answered,
                            evidence,
                        }
                    } else {
                        Drive::Unknown { evidence, first }
                    };
                    return Ok(Ran { drive, last, steps });
                }
            };
            changed |= exchange.effect.may_move_money();
            index += 1;
            if (index - first_index) as usize >= crate::driver::MAX_STEPS {
                return Ok(Ran {
                    drive: Drive::Unknown {
                        evidence: format!(
                            "plugin asked for more than {} exchanges",
                            crate::driver::MAX_STEPS
                        ),
                        first: false,
                    },
                    last,
                    steps,
                });
            }
            if self.defects.has(Defect::SendBeforeWriteAhead) {
                sent_early = Some(transport.send(&next.request).await);
            }
            let journaled = journal_copy(&next, index);
            let (id, now, lease) = (record.id, self.now_ms(), self.lease_ms_for(gateway));
            // The previous reply and this request, committed before the request leaves.
            exchange_id = blocking(&self.journal, move |j| {
                j.record_send(
                    id,
                    last.as_ref().map(|(x, r)| (*x, r)),
                    &journaled,
                    now,
                    lease,
                )
            })
            .await?;
            exchange = next;
        }
    }

    /// Prepares `op` and runs it as further exchanges of an existing operation (inquiry and
    /// replay during resolution).
    pub(super) async fn drive_more(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        record: &OperationRecord,
        key: &str,
    ) -> Result<Ran, ExecError> {
        let index = self.exchange_count(record.id).await?;
        let request_id = format!("{key}/{}/{}", record.attempt, index + 1);
        // The order id of the attempt being settled, not one for the resolution's own key.
        let order_id = gateway.order_id_for(op, &record.idempotency_key, record.attempt);
        let payment = self.payment_for(record).await?;
        let ctx = Context {
            now: (self.clock)(),
            request_id: &request_id,
            idempotency_key: key,
            attempt: record.attempt,
            gateway_order_id: order_id.as_deref(),
            handle: payment.handle.as_ref(),
            dates: payment.dates,
        };
        let exchange = match gateway.prepare(op, &ctx) {
            Ok(Step::Send(x)) => x,
            Ok(Step::Done(outcome)) => {
                return Ok(Ran {
                    drive: Drive::Done(outcome),
                    last: None,
                    steps: vec![],
                });
            }
            Err(e) => {
                return Ok(Ran {
                    drive: Drive::NotApplied(e),
                    last: None,
                    steps: vec![],
                });
            }
        };
        let journaled = journal_copy(&exchange, index);
        let (id, now, lease) = (record.id, self.now_ms(), self.lease_ms_for(gateway));
        let exchange_id = blocking(&self.journal, move |j| {
            j.record_send(id, None, &journaled, now, lease)
        })
        .await?;
        self.drive(
            gateway,
            op,
            record,
            key,
            &payment,
            exchange,
            exchange_id,
            index,
        )
        .await
    }
}

/// The journal's copy of an exchange: credentials and the plugin's unredacted body left out.
pub(super) fn journal_copy(x: &Exchange, index: u32) -> SentExchange {
    SentExchange {
        step_index: index,
        attempt: 0,
        step: x.step.to_string(),
        method: x.request.method.as_str().to_owned(),
        url: x.request.url.to_string(),
        headers: x.request.redacted_headers(),
        body: x.journal_body.as_ref().map(|b| b.to_string()),
        state: x.state.to_vec(),
        effect: x.effect,
    }
}
