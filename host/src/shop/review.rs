//! The operator's side of "never guess": the orders whose gateway outcome is in review, with
//! the evidence an operator needs to decide from the gateway's own screen, and the drift events
//! (G-8) waiting to be adopted or dismissed. Every decision is journaled with the operator's
//! name.

use super::{Shop, ShopError, ShopOrder, blocking, decode};
use crate::journal::{
    Decision, DriftDecision, DriftId, DriftRecord, ExchangeRecord, OperationRecord, OrderRecord,
    ReplyRecord, StoredOutcome,
};
use renkei_sdk::{OrderRef, StepEffect};
use serde::Serialize;

/// One exchange of an operation in review, as journaled: the plugin's redacted request body,
/// credentials replaced in the headers, and what came back.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewedExchange {
    pub step: String,
    pub method: String,
    pub url: String,
    pub request_body: Option<String>,
    /// What the plugin declared the request can do: `reads`, `registers` (moves no money) or
    /// `may_move_money`.
    pub effect: &'static str,
    pub attempt: u32,
    pub sent_at_ms: i64,
    pub reply_status: Option<u16>,
    /// The reply as text (lossy for non-UTF-8 bodies such as Shift_JIS or EUC-JP).
    pub reply_body: Option<String>,
    /// Why no reply came (timeout, reset) when none did.
    pub no_reply: Option<String>,
}

impl From<ExchangeRecord> for ReviewedExchange {
    fn from(x: ExchangeRecord) -> ReviewedExchange {
        let (reply_status, reply_body, no_reply) = match x.reply {
            Some(ReplyRecord::Reply { status, body }) => {
                (Some(status), Some(decode_reply(&body)), None)
            }
            Some(ReplyRecord::NoReply { error }) => (None, None, Some(error)),
            None => (
                None,
                None,
                Some("no reply recorded (the host stopped)".into()),
            ),
        };
        ReviewedExchange {
            step: x.sent.step,
            method: x.sent.method,
            url: x.sent.url,
            request_body: x.sent.body,
            effect: x.sent.effect.name(),
            attempt: x.sent.attempt,
            sent_at_ms: x.sent_at_ms,
            reply_status,
            reply_body,
            no_reply,
        }
    }
}

/// Gateways answer in Shift_JIS (SBPS) or EUC-JP (F-REGI); a reviewer should read the words.
fn decode_reply(body: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(body) {
        return s.to_owned();
    }
    for encoding in [encoding_rs::SHIFT_JIS, encoding_rs::EUC_JP] {
        let (text, _, bad) = encoding.decode(body);
        if !bad {
            return text.into_owned();
        }
    }
    String::from_utf8_lossy(body).into_owned()
}

/// An order whose gateway outcome an operator must decide.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewItem {
    pub order: OrderRef,
    /// The shop's record (absent only for an order of another caller of the same journal).
    pub shop_order: Option<ShopOrder>,
    /// The journal's money at the gateway, as it stands before the decision.
    pub payment: Option<OrderRecord>,
    /// The operation in review, with the evidence gathered by the host.
    pub operation: OperationRecord,
    /// Its exchanges, oldest first, including the inquiries made while resolving.
    pub exchanges: Vec<ReviewedExchange>,
    /// The last read-only exchange (an inquiry, or the plugin's read before acting) that got a
    /// reply: the freshest view of the payment the host has.
    pub last_inquiry: Option<ReviewedExchange>,
    /// The gateway's label of the journal's last known status (与信済, 承認済…).
    pub gateway_label: Option<String>,
}

impl Shop {
    /// Every order of this shop in review, oldest first, with its evidence.
    pub async fn reviews(&self) -> Result<Vec<ReviewItem>, ShopError> {
        let ops = blocking(self.executor.journal(), |j| j.operations_in_review()).await?;
        let mut items = Vec::new();
        for operation in ops {
            let o = operation.order.clone();
            let id = operation.id;
            let (row, payment, exchanges) = blocking(self.executor.journal(), move |j| {
                Ok((j.shop_row(&o)?, j.order(&o)?, j.exchanges(id)?))
            })
            .await?;
            let ours_by_intent = super::Intent::parse(operation.intent.as_deref())
                .is_some_and(|i| i.shop() == self.id);
            let shop_order = match row {
                Some(row) if row.shop == self.id => Some(decode(&row)?),
                Some(_) => continue,
                None if ours_by_intent => None,
                None => continue,
            };
            let gateway_label = payment
                .as_ref()
                .and_then(|p| self.label(&p.gateway, p.gateway_status.as_deref()));
            let exchanges: Vec<ReviewedExchange> =
                exchanges.into_iter().map(ReviewedExchange::from).collect();
            let last_inquiry = exchanges
                .iter()
                .rev()
                .find(|x| x.effect == StepEffect::Reads.name() && x.reply_status.is_some())
                .cloned();
            items.push(ReviewItem {
                order: operation.order.clone(),
                shop_order,
                payment,
                operation,
                exchanges,
                last_inquiry,
                gateway_label,
            });
        }
        Ok(items)
    }

    /// This shop's drift events, oldest first; only the open ones when `open_only`.
    pub async fn drifts(&self, open_only: bool) -> Result<Vec<DriftRecord>, ShopError> {
        let all = blocking(self.executor.journal(), move |j| j.drifts(open_only)).await?;
        let mut mine = Vec::new();
        for d in all {
            let o = d.order.clone();
            let row = blocking(self.executor.journal(), move |j| j.shop_row(&o)).await?;
            if row.is_some_and(|r| r.shop == self.id) {
                mine.push(d);
            }
        }
        Ok(mine)
    }

    /// An operator reports what the gateway's own screen shows for an order, where the host
    /// cannot ask (F-REGI has no inquiry): kept as a drift event if it differs from the
    /// journal, to be adopted or dismissed like any other. Returns the event, or `None` when the
    /// screen agrees with the journal.
    pub async fn report_drift(
        &self,
        order: &OrderRef,
        seen: StoredOutcome,
        operator: &str,
    ) -> Result<Option<DriftRecord>, ShopError> {
        require_operator(operator)?;
        let (shop, payment) = self.load(order).await?;
        let payment = payment.ok_or_else(|| ShopError::UnknownOrder(order.clone()))?;
        let Some(kind) = super::compare(&payment, &seen) else {
            return Ok(None);
        };
        let event = super::DriftEvent {
            order: order.clone(),
            gateway: shop.gateway.clone(),
            kind,
            journal_state: payment.state.clone(),
            gateway_state: seen.state.clone(),
            gateway_status: seen.gateway_status.clone(),
            gateway_label: self.label(&shop.gateway, seen.gateway_status.as_deref()),
        };
        let drift = crate::journal::NewDrift {
            order: order.clone(),
            gateway: shop.gateway.clone(),
            kind: event.kind.name().to_owned(),
            detail: format!("{event} (reported by {operator} from the gateway's screen)"),
            journal_state: event.journal_state.clone(),
            gateway_state: event.gateway_state.clone(),
            gateway_status: event.gateway_status.clone(),
        };
        let now = super::now_ms();
        let kept = blocking(self.executor.journal(), move |j| {
            j.record_drift(&drift, now)
        })
        .await?;
        tracing::warn!(order = %order, operator, "drift reported from the gateway's screen: {}", kept.detail);
        Ok(Some(kept))
    }

    /// An operator adopts the gateway's state (what they read in its tool) into the journal.
    pub async fn adopt_drift(
        &self,
        drift: DriftId,
        seen: StoredOutcome,
        operator: &str,
    ) -> Result<OrderRecord, ShopError> {
        self.close_drift(drift, DriftDecision::Adopt(Box::new(seen)), operator)
            .await
    }

    /// An operator closes a drift event without changing the journal.
    pub async fn dismiss_drift(
        &self,
        drift: DriftId,
        operator: &str,
    ) -> Result<OrderRecord, ShopError> {
        self.close_drift(drift, DriftDecision::Dismiss, operator)
            .await
    }

    async fn close_drift(
        &self,
        drift: DriftId,
        decision: DriftDecision,
        operator: &str,
    ) -> Result<OrderRecord, ShopError> {
        require_operator(operator)?;
        let known = blocking(self.executor.journal(), |j| j.drifts(false))
            .await?
            .into_iter()
            .find(|d| d.id == drift)
            .ok_or(ShopError::UnknownDrift(drift))?;
        // Only this shop's orders.
        self.load(&known.order).await?;
        let (who, now) = (operator.to_owned(), super::now_ms());
        let order = blocking(self.executor.journal(), move |j| {
            j.resolve_drift(drift, &decision, &who, now)
        })
        .await?;
        tracing::info!(order = %known.order, drift = drift.0, operator, "drift closed");
        self.load(&known.order).await?;
        Ok(order)
    }

    /// Shorthand for [`Shop::resolve_review`] from a review item.
    pub async fn decide(
        &self,
        item: &ReviewItem,
        decision: Decision,
        operator: &str,
    ) -> Result<OrderRecord, ShopError> {
        require_operator(operator)?;
        self.resolve_review(&item.order, item.operation.id, decision, operator)
            .await
    }
}

/// Decisions are journaled with the operator's name; an anonymous one is refused.
pub(super) fn require_operator(operator: &str) -> Result<(), ShopError> {
    if operator.trim().is_empty() {
        return Err(ShopError::NoOperator);
    }
    Ok(())
}
