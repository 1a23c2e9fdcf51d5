//! Recovery: the operations of hosts that stopped (their lease expired) are claimed one at a
//! time and settled as unknown outcomes, by what their journaled exchanges leave to settle
//! ([`ledger::resolution::stopped`]).

use super::{ExecError, Executor, blocking};
use crate::instance::GatewayInstance;
use crate::journal::ledger::{self, resolution::Stopped};
use crate::journal::{OperationId, OperationRecord, OrderRecord};
use renkei_sdk::{ErrorKind, GatewayError, Operation, OperationKind, StepEffect};
use std::sync::Arc;

impl Executor {
    /// Marks a claimed operation unknown, held for as long as resolving may take (the
    /// request's expiry first), so that no other host claims it meanwhile.
    async fn hold_for_resolution(
        &self,
        gw: &GatewayInstance,
        id: OperationId,
        evidence: &str,
    ) -> Result<(), ExecError> {
        let (ev, now, lease) = (
            evidence.to_owned(),
            self.now_ms(),
            self.resolving_lease_ms(gw),
        );
        blocking(&self.journal, move |j| {
            j.mark_unknown(id, None, &ev, now, lease)
        })
        .await?;
        Ok(())
    }

    /// Resolves the operations of hosts that died (their lease expired): each is settled as an
    /// unknown outcome, before new work is accepted for its order (the order stays held until
    /// then). `gateway` finds an instance by name.
    pub async fn recover(
        &self,
        gateway: &(dyn Fn(&str) -> Option<Arc<GatewayInstance>> + Sync),
    ) -> Result<RecoveryReport, ExecError> {
        let mut report = RecoveryReport::default();
        loop {
            // One at a time, each claimed just before it is resolved.
            let (now, lease) = (self.now_ms(), self.lease_ms());
            let claimed = blocking(&self.journal, move |j| j.claim_stale(now, lease)).await?;
            let Some(record) = claimed.into_iter().next() else {
                break;
            };
            let id = record.id;
            let exchanges = self.current_exchanges(&record).await?;
            let order = self.order_of(&record).await?;
            let effects: Vec<StepEffect> = exchanges.iter().map(|x| x.sent.effect).collect();
            let stopped = ledger::resolution::stopped(&effects);
            let result = match stopped {
                Stopped::NothingSent | Stopped::NoMoneyMoved => {
                    let why = if stopped == Stopped::NothingSent {
                        "host stopped before sending"
                    } else {
                        "host stopped after steps that move no money"
                    };
                    let error = GatewayError::new(ErrorKind::Unavailable, why);
                    self.fail(record.id, None, error, None).await
                }
                // An authorization cannot be rebuilt (its payment source is not journaled), but
                // where the gateway can find one by the attempt's order id, it needs no more
                // than the order and the amount.
                Stopped::Unknown { automatic: true }
                    if record.kind == OperationKind::Authorize
                        && record.amount.is_some()
                        && gateway(&record.gateway)
                            .is_some_and(|g| g.searches_authorizations()) =>
                {
                    let gw = gateway(&record.gateway).expect("checked just above");
                    let amount = record.amount.expect("checked just above");
                    let evidence = "host stopped after sending the authorization".to_owned();
                    self.hold_for_resolution(&gw, id, &evidence).await?;
                    self.search_authorization(&gw, amount, record, evidence)
                        .await
                }
                Stopped::Unknown { automatic } => {
                    match (gateway(&record.gateway), rebuild(&record, order.as_ref())) {
                        (Some(gw), Some(op)) => {
                            let evidence = format!(
                                "host stopped after sending step `{}`",
                                exchanges
                                    .last()
                                    .map(|x| x.sent.step.as_str())
                                    .unwrap_or("?")
                            );
                            self.hold_for_resolution(&gw, id, &evidence).await?;
                            self.resolve(&gw, &op, record, evidence, automatic).await
                        }
                        _ => {
                            self.review(
                                record.id,
                                "host stopped mid-operation; the operation cannot be rebuilt \
                                 for resolution"
                                    .into(),
                            )
                            .await
                        }
                    }
                }
            };
            match result {
                Ok(c) => report.applied.push(c.operation.id),
                Err(ExecError::Failed { operation, .. }) => report.not_applied.push(operation),
                Err(ExecError::NeedsReview { operation, .. }) => {
                    report.needs_review.push(operation)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

/// What recovery did with each stale operation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    pub applied: Vec<OperationId>,
    pub not_applied: Vec<OperationId>,
    pub needs_review: Vec<OperationId>,
}

/// The operation a journal record describes, for resolution after a restart. Authorizations
/// cannot be rebuilt (their payment source is not journaled: it may be a card).
pub fn rebuild(record: &OperationRecord, order: Option<&OrderRecord>) -> Option<Operation> {
    let order = order?;
    let transaction = order.transaction.clone()?;
    let o = record.order.clone();
    Some(match record.kind {
        OperationKind::Capture => Operation::Capture {
            order: o,
            transaction,
            authorized: order.authorized,
            amount: record.amount,
        },
        OperationKind::Void => Operation::Void {
            order: o,
            transaction,
            authorized: order.authorized,
        },
        OperationKind::Refund => Operation::Refund {
            order: o,
            transaction,
            // Captured and not yet refunded, as `Operation::Refund` defines it.
            captured: order.captured.checked_sub(order.refunded)?,
            amount: record.amount,
        },
        OperationKind::ChangeAmount => Operation::ChangeAmount {
            order: o,
            transaction,
            authorized: order.authorized,
            new_amount: record.amount?,
        },
        OperationKind::Inquire => Operation::Inquire {
            order: o,
            transaction,
        },
        OperationKind::Authorize => return None,
    })
}
