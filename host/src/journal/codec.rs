//! Column encodings shared by the SQL backends: the same text in SQLite and PostgreSQL.

use super::model::*;
use super::store::JournalError;
use renkei_sdk::{
    Currency, Money, OperationKind, OrderRef, PaymentState, StepEffect, TransactionRef,
};

pub(crate) fn corrupt(what: &str, value: &str) -> JournalError {
    JournalError::Corrupt(format!("{what}: {value:?}"))
}

pub(crate) fn kind_name(kind: OperationKind) -> &'static str {
    kind.name()
}

pub(crate) fn kind(s: &str) -> Result<OperationKind, JournalError> {
    OperationKind::ALL
        .into_iter()
        .find(|k| k.name() == s)
        .ok_or_else(|| corrupt("operation kind", s))
}

pub(crate) fn status(s: &str) -> Result<OperationStatus, JournalError> {
    OperationStatus::parse(s).ok_or_else(|| corrupt("operation status", s))
}

pub(crate) fn currency(s: &str) -> Result<Currency, JournalError> {
    Currency::new(s).ok_or_else(|| corrupt("currency", s))
}

pub(crate) fn state_json(s: &PaymentState) -> String {
    serde_json::to_string(s).expect("PaymentState serialises")
}

pub(crate) fn state(s: &str) -> Result<PaymentState, JournalError> {
    serde_json::from_str(s).map_err(|_| corrupt("payment state", s))
}

pub(crate) fn outcome_json(o: &StoredOutcome) -> String {
    serde_json::to_string(o).expect("StoredOutcome serialises")
}

pub(crate) fn outcome(s: &str) -> Result<StoredOutcome, JournalError> {
    serde_json::from_str(s).map_err(|_| corrupt("outcome", s))
}

pub(crate) fn handle_json(h: &StoredHandle) -> String {
    serde_json::to_string(h).expect("StoredHandle serialises")
}

pub(crate) fn headers_json(h: &[(String, String)]) -> String {
    serde_json::to_string(h).expect("headers serialise")
}

pub(crate) fn headers(s: &str) -> Result<Vec<(String, String)>, JournalError> {
    serde_json::from_str(s).map_err(|_| corrupt("headers", s))
}

/// An operation row as plain column values.
pub(crate) struct OpRow {
    pub id: i64,
    pub order_ref: String,
    pub gateway: String,
    pub kind: String,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub idempotency_key: String,
    pub plugin_id: String,
    pub plugin_version: String,
    pub status: String,
    pub owner: Option<String>,
    pub attempt: i64,
    pub outcome: Option<String>,
    pub evidence: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub intent: Option<String>,
}

impl OpRow {
    pub fn into_record(self) -> Result<OperationRecord, JournalError> {
        let amount = match (self.amount, self.currency) {
            (Some(a), Some(c)) => Some(Money::new(a, currency(&c)?)),
            (None, None) => None,
            _ => return Err(corrupt("operation amount", &self.idempotency_key)),
        };
        Ok(OperationRecord {
            id: OperationId(self.id),
            order: OrderRef::new(self.order_ref),
            gateway: self.gateway,
            kind: kind(&self.kind)?,
            amount,
            idempotency_key: self.idempotency_key,
            plugin_id: self.plugin_id,
            plugin_version: self.plugin_version,
            status: status(&self.status)?,
            owner: self.owner,
            attempt: u32::try_from(self.attempt).map_err(|_| corrupt("attempt", "negative"))?,
            outcome: self.outcome.as_deref().map(outcome).transpose()?,
            evidence: self.evidence,
            created_at_ms: self.created_at,
            updated_at_ms: self.updated_at,
            intent: self.intent,
        })
    }
}

/// An order row as plain column values.
pub(crate) struct OrderRow {
    pub order_ref: String,
    pub gateway: String,
    pub transaction_ref: Option<String>,
    pub state: String,
    pub gateway_status: Option<String>,
    pub currency: String,
    pub authorized: i64,
    pub captured: i64,
    pub refunded: i64,
    pub review: Option<String>,
    pub version: i64,
    /// The handle as JSON (`StoredHandle`).
    pub handle: Option<String>,
    pub authorized_at: Option<i64>,
    pub captured_at: Option<i64>,
}

impl OrderRow {
    pub fn into_record(self) -> Result<OrderRecord, JournalError> {
        let c = currency(&self.currency)?;
        Ok(OrderRecord {
            order: OrderRef::new(self.order_ref),
            gateway: self.gateway,
            transaction: self.transaction_ref.map(TransactionRef::new),
            handle: self
                .handle
                .map(|h| serde_json::from_str(&h).map_err(|_| corrupt("handle", &h)))
                .transpose()?,
            authorized_at_ms: self.authorized_at,
            captured_at_ms: self.captured_at,
            state: state(&self.state)?,
            gateway_status: self.gateway_status,
            authorized: Money::new(self.authorized, c),
            captured: Money::new(self.captured, c),
            refunded: Money::new(self.refunded, c),
            review: self.review,
            version: self.version,
        })
    }
}

/// An exchange row as plain column values.
pub(crate) struct ExchangeRow {
    pub id: i64,
    pub operation_id: i64,
    pub step_index: i64,
    pub step: String,
    pub method: String,
    pub url: String,
    pub headers: String,
    pub body: Option<String>,
    pub state: Vec<u8>,
    pub effect: String,
    pub sent_at: i64,
    pub reply_status: Option<i64>,
    pub reply_body: Option<Vec<u8>>,
    pub transport_error: Option<String>,
    pub attempt: i64,
}

impl ExchangeRow {
    pub fn into_record(self) -> Result<ExchangeRecord, JournalError> {
        let reply = match (self.reply_status, self.reply_body, self.transport_error) {
            (Some(status), body, None) => Some(ReplyRecord::Reply {
                status: u16::try_from(status).map_err(|_| corrupt("reply status", "range"))?,
                body: body.unwrap_or_default(),
            }),
            (None, None, Some(error)) => Some(ReplyRecord::NoReply { error }),
            (None, None, None) => None,
            _ => return Err(corrupt("exchange reply", &self.step)),
        };
        Ok(ExchangeRecord {
            id: ExchangeId(self.id),
            operation: OperationId(self.operation_id),
            sent: SentExchange {
                step_index: u32::try_from(self.step_index)
                    .map_err(|_| corrupt("step index", "range"))?,
                attempt: u32::try_from(self.attempt).map_err(|_| corrupt("attempt", "range"))?,
                step: self.step,
                method: self.method,
                url: self.url,
                headers: headers(&self.headers)?,
                body: self.body,
                state: self.state,
                effect: StepEffect::from_name(&self.effect)
                    .ok_or_else(|| corrupt("exchange effect", &self.effect))?,
            },
            sent_at_ms: self.sent_at,
            reply,
        })
    }
}

/// A drift event row as plain column values.
pub(crate) struct DriftRow {
    pub id: i64,
    pub order_ref: String,
    pub gateway: String,
    pub kind: String,
    pub detail: String,
    pub journal_state: String,
    pub gateway_state: String,
    pub gateway_status: Option<String>,
    pub found_at: i64,
    pub resolution: Option<String>,
    pub operator: Option<String>,
    pub resolved_at: Option<i64>,
}

pub(crate) const DRIFT_COLUMNS: &str = "id, order_ref, gateway, kind, detail, journal_state, \
    gateway_state, gateway_status, found_at, resolution, operator, resolved_at";

impl DriftRow {
    pub fn into_record(self) -> Result<DriftRecord, JournalError> {
        let resolution = match (self.resolution, self.operator, self.resolved_at) {
            (Some(action), Some(operator), Some(at_ms)) => Some(DriftResolution {
                action,
                operator,
                at_ms,
            }),
            (None, None, None) => None,
            _ => return Err(corrupt("drift resolution", &self.order_ref)),
        };
        Ok(DriftRecord {
            id: DriftId(self.id),
            order: OrderRef::new(self.order_ref),
            gateway: self.gateway,
            kind: self.kind,
            detail: self.detail,
            journal_state: state(&self.journal_state)?,
            gateway_state: state(&self.gateway_state)?,
            gateway_status: self.gateway_status,
            found_at_ms: self.found_at,
            resolution,
        })
    }
}
