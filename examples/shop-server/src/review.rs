//! The operator's side of "never guess": the orders held for review with the evidence to decide
//! them, and the drift events (G-8) to adopt or dismiss.
//!
//! The operator reads the gateway's own tool and says what it shows: the state and the amount,
//! typed, never a free-form outcome. What they type is checked here against the operation in
//! review before the journal's money rules check it again, so that a decision that cannot be
//! right (a "captured" for a void, an amount on a void, a capture without its amount) is a 422
//! that names the mistake instead of a contradiction deep in the ledger. The name journaled with
//! each decision is the authenticated operator's ([`Operator`]); a body cannot name anyone.

use crate::api::{OrderView, label, view};
use crate::auth::Operator;
use crate::error::{ApiError, Body, Path, Query};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use renkei_host::journal::{
    Decision, DriftId, DriftRecord, JournalError, OperationId, OrderRecord, StoredOutcome,
};
use renkei_host::shop::{ReviewItem, ReviewedExchange};
use renkei_host::{Shop, ShopError};
use renkei_sdk::{
    Currency, Money, OperationKind, OrderRef, PaymentState, RefundExtent, Settlement, StepEffect,
    TransactionRef,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

type Shared = State<Arc<Shop>>;

/// The states an operator can read in a gateway's tool and report. Refund extents and
/// settlement are not asked: the journal's arithmetic decides the extent, and the gateway's
/// status code (`gateway_status`), when given, carries the settlement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeenState {
    Authorized,
    Captured,
    Voided,
    Refunded,
}

impl SeenState {
    fn name(self) -> &'static str {
        match self {
            SeenState::Authorized => "authorized",
            SeenState::Captured => "captured",
            SeenState::Voided => "voided",
            SeenState::Refunded => "refunded",
        }
    }

    /// The category of a gateway state, for matching a status code against the state given.
    fn of(state: &PaymentState) -> Option<SeenState> {
        match state {
            PaymentState::Authorized => Some(SeenState::Authorized),
            PaymentState::Captured { .. } => Some(SeenState::Captured),
            PaymentState::Voided => Some(SeenState::Voided),
            PaymentState::Refunded { .. } => Some(SeenState::Refunded),
            _ => None,
        }
    }

    /// The state an operation leaves when it took effect; `None` for an inquiry, which has
    /// none to decide.
    fn after(kind: OperationKind) -> Option<SeenState> {
        match kind {
            OperationKind::Authorize | OperationKind::ChangeAmount => Some(SeenState::Authorized),
            OperationKind::Capture => Some(SeenState::Captured),
            OperationKind::Void => Some(SeenState::Voided),
            OperationKind::Refund => Some(SeenState::Refunded),
            OperationKind::Inquire => None,
        }
    }

    fn payment_state(self) -> PaymentState {
        match self {
            SeenState::Authorized => PaymentState::Authorized,
            SeenState::Captured => PaymentState::Captured {
                settlement: Settlement::NotReported,
            },
            SeenState::Voided => PaymentState::Voided,
            SeenState::Refunded => PaymentState::Refunded {
                extent: RefundExtent::NotReported,
                settlement: Settlement::NotReported,
            },
        }
    }
}

/// What the operator read in the gateway's tool.
struct Seen {
    state: Option<SeenState>,
    amount: Option<i64>,
    transaction: Option<String>,
    gateway_status: Option<String>,
}

/// One row of the gateway's status table, for the page's select box.
#[derive(Clone, Debug, Serialize)]
pub struct StatusChoice {
    pub code: String,
    pub label: String,
    pub state: SeenState,
}

fn status_choices(shop: &Shop, gateway: &str, only: Option<SeenState>) -> Vec<StatusChoice> {
    let Ok(g) = shop.gateway(gateway) else {
        return vec![];
    };
    g.manifest()
        .statuses
        .iter()
        .filter_map(|s| {
            let state = SeenState::of(&s.state)?;
            (only.is_none_or(|o| o == state)).then(|| StatusChoice {
                code: s.code.clone(),
                label: s.label.clone(),
                state,
            })
        })
        .collect()
}

/// Builds the outcome the journal takes from what the operator saw. `fits` is the state the
/// operation in review leaves (a review) or `None` (a drift: any state the gateway can show).
fn outcome(
    shop: &Shop,
    gateway: &str,
    currency: Currency,
    fits: Option<SeenState>,
    seen: Seen,
) -> Result<StoredOutcome, ApiError> {
    let state = seen.state.ok_or_else(|| {
        ApiError::invalid_body(
            "`state` is required: the state the gateway's tool shows (authorized, captured, \
             voided, refunded)",
        )
    })?;
    if let Some(fits) = fits
        && fits != state
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "state_does_not_fit",
            format!(
                "an operation in review that took effect left the payment {}, not {}; if the \
                 gateway shows {} the operation did not take effect as sent: decide `no_effect` \
                 and look at the order's drift",
                fits.name(),
                state.name(),
                state.name()
            ),
        ));
    }
    let amount = match (state, seen.amount) {
        (SeenState::Voided, None) => None,
        (SeenState::Voided, Some(_)) => {
            return Err(ApiError::invalid_body(
                "a voided payment moves no money: leave `amount` out",
            ));
        }
        (_, Some(a)) if a > 0 => Some(Money::new(a, currency)),
        (_, Some(_)) => {
            return Err(ApiError::invalid_body(
                "`amount` is the positive amount the gateway's tool shows, in minor units",
            ));
        }
        (s, None) => {
            return Err(ApiError::invalid_body(format!(
                "`amount` is required for {}: the amount the gateway's tool shows",
                s.name()
            )));
        }
    };
    let transaction = match seen.transaction.map(|t| t.trim().to_owned()) {
        None => None,
        Some(t) if !t.is_empty() && t.len() <= 64 && !t.chars().any(char::is_control) => {
            Some(TransactionRef::new(t))
        }
        Some(_) => {
            return Err(ApiError::invalid_body(
                "`transaction` is the gateway's id, 1 to 64 printable characters",
            ));
        }
    };
    let mut payment_state = state.payment_state();
    let gateway_status = match seen.gateway_status {
        None => None,
        Some(code) => {
            let manifest = shop.gateway(gateway)?.manifest();
            let entry = manifest
                .statuses
                .iter()
                .find(|s| s.code == code)
                .ok_or_else(|| {
                    ApiError::invalid_body(format!(
                        "`gateway_status` {code:?} is not one of {gateway}'s status codes"
                    ))
                })?;
            if SeenState::of(&entry.state) != Some(state) {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "state_does_not_fit",
                    format!(
                        "{gateway}'s status {} ({}) is not {}",
                        entry.code,
                        entry.label,
                        state.name()
                    ),
                ));
            }
            payment_state = entry.state.clone();
            Some(code)
        }
    };
    Ok(StoredOutcome {
        state: payment_state,
        gateway_status,
        transaction,
        replaced: None,
        handle: None,
        authorization_code: None,
        authorized: amount.filter(|_| state == SeenState::Authorized),
        captured: amount.filter(|_| state == SeenState::Captured),
        refunded: amount.filter(|_| state == SeenState::Refunded),
        notes: vec!["reported by an operator from the gateway's tool".into()],
    })
}

/// An order held for review, with its evidence.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewView {
    #[serde(flatten)]
    pub item: ReviewItem,
    /// The last read (an inquiry) among `exchanges`, if any: the gateway's last
    /// word on the payment before the host gave up.
    pub last_inquiry: Option<ReviewedExchange>,
    /// The state the operation leaves if it took effect: the only state `took_effect` takes.
    pub took_effect_state: Option<SeenState>,
    /// The gateway's status codes in that state, for `gateway_status`.
    pub statuses: Vec<StatusChoice>,
    /// The journal has no transaction for the order: `took_effect` must name it.
    pub transaction_required: bool,
}

fn review_view(shop: &Shop, item: ReviewItem) -> ReviewView {
    let fits = SeenState::after(item.operation.kind);
    ReviewView {
        last_inquiry: item
            .exchanges
            .iter()
            .rev()
            .find(|x| x.effect == StepEffect::Reads.name())
            .cloned(),
        took_effect_state: fits,
        statuses: fits.map_or_else(Vec::new, |s| {
            status_choices(shop, &item.operation.gateway, Some(s))
        }),
        transaction_required: item
            .payment
            .as_ref()
            .is_none_or(|p| p.transaction.is_none()),
        item,
    }
}

/// The review queue, oldest first.
pub async fn list_reviews(State(shop): Shared) -> Result<Json<Vec<ReviewView>>, ApiError> {
    let items = shop.reviews().await?;
    Ok(Json(
        items.into_iter().map(|i| review_view(&shop, i)).collect(),
    ))
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// The gateway did what the operation asked (its tool shows it).
    TookEffect,
    /// The gateway did not act; the operation failed and may be tried again.
    NoEffect,
}

/// An operator's decision on an order in review. There is no operator field: the name is the
/// authenticated one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: DecisionKind,
    /// The operation the operator looked at (`operation.id` of the review list); refused if
    /// the order's review is now about another.
    #[serde(default)]
    pub operation: Option<i64>,
    #[serde(default)]
    pub state: Option<SeenState>,
    /// Minor units, in the order's currency.
    #[serde(default)]
    pub amount: Option<i64>,
    /// The gateway's id of the payment (SBPS tracking id, F-REGI SEQNO).
    #[serde(default)]
    pub transaction: Option<String>,
    /// The gateway's status code as its tool shows it; must be in the state given.
    #[serde(default)]
    pub gateway_status: Option<String>,
}

/// What a decision answers: who decided what, and the order as it stands after.
#[derive(Clone, Debug, Serialize)]
pub struct DecisionView {
    pub operator: String,
    pub decision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftId>,
    /// The journal's record after the decision.
    pub payment: OrderRecord,
    pub view: OrderView,
}

fn order_ref(code: &str) -> Result<OrderRef, ApiError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 64 || code.chars().any(char::is_control) {
        return Err(ApiError::invalid_body(
            "an order code is 1 to 64 printable characters",
        ));
    }
    Ok(OrderRef::new(code))
}

fn currency_of(payment: Option<&OrderRecord>, amount: Option<Money>) -> Currency {
    amount
        .map(|m| m.currency)
        .or(payment.map(|p| p.authorized.currency))
        .unwrap_or(Currency::JPY)
}

/// Someone else decided first: the journal refuses a second decision on the same operation.
fn decided_elsewhere(e: ShopError) -> ApiError {
    match e {
        ShopError::Journal(JournalError::WrongStatus { .. }) => ApiError::new(
            StatusCode::CONFLICT,
            "not_in_review",
            format!("the operation was decided meanwhile: {e}"),
        ),
        other => other.into(),
    }
}

pub async fn resolve(
    State(shop): Shared,
    Operator(operator): Operator,
    Path(code): Path<String>,
    Body(req): Body<ReviewRequest>,
) -> Result<Json<DecisionView>, ApiError> {
    let order = order_ref(&code)?;
    let item = match shop.reviews().await?.into_iter().find(|i| i.order == order) {
        Some(item) => item,
        None => {
            // 404 for an order the shop does not have, else 409.
            shop.order(&order).await?;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_in_review",
                format!("order {order} is not held for review"),
            ));
        }
    };
    if let Some(asked) = req.operation
        && asked != item.operation.id.0
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "review_changed",
            format!(
                "order {order}'s review is about operation {}, not {asked}: reload the evidence",
                item.operation.id.0
            ),
        ));
    }
    let decision = match req.decision {
        DecisionKind::NoEffect => {
            if req.state.is_some()
                || req.amount.is_some()
                || req.transaction.is_some()
                || req.gateway_status.is_some()
            {
                return Err(ApiError::invalid_body(
                    "`no_effect` takes no state, amount, transaction or gateway_status: \
                     nothing happened at the gateway",
                ));
            }
            Decision::NoEffect
        }
        DecisionKind::TookEffect => {
            let Some(fits) = SeenState::after(item.operation.kind) else {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "state_does_not_fit",
                    "an inquiry changes nothing at the gateway: decide `no_effect`",
                ));
            };
            if req.transaction.is_none()
                && item
                    .payment
                    .as_ref()
                    .is_none_or(|p| p.transaction.is_none())
            {
                return Err(ApiError::invalid_body(
                    "the journal has no transaction for this order: `transaction` is the id \
                     the gateway's tool shows",
                ));
            }
            let currency = currency_of(item.payment.as_ref(), item.operation.amount);
            let seen = Seen {
                state: req.state,
                amount: req.amount,
                transaction: req.transaction,
                gateway_status: req.gateway_status,
            };
            let outcome = outcome(&shop, &item.operation.gateway, currency, Some(fits), seen)?;
            Decision::TookEffect(Box::new(outcome))
        }
    };
    let operation = item.operation.id;
    tracing::info!(%order, operation = operation.0, decision = ?req.decision, %operator,
        "deciding a review");
    let who = operator.clone();
    let worker = shop.clone();
    let payment = tokio::spawn(async move { worker.decide(&item, decision, &who).await })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the decision's task failed: {e}"),
            )
        })?
        .map_err(decided_elsewhere)?;
    let view = view(&shop, shop.order(&order).await?).await?;
    Ok(Json(DecisionView {
        operator,
        decision: match req.decision {
            DecisionKind::TookEffect => "took_effect",
            DecisionKind::NoEffect => "no_effect",
        }
        .into(),
        operation: Some(operation),
        drift: None,
        payment,
        view,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftQuery {
    /// Closed events too (adopted, dismissed), with who closed them.
    #[serde(default)]
    pub all: bool,
}

/// A drift event with the labels an operator reads and the journal's money beside it.
#[derive(Clone, Debug, Serialize)]
pub struct DriftView {
    #[serde(flatten)]
    pub drift: DriftRecord,
    /// The gateway's label of `gateway_status` (返金済, 売上済…).
    pub gateway_label: Option<String>,
    /// The journal's record of the order's money now.
    pub payment: Option<OrderRecord>,
    /// The gateway's status codes an adoption may name.
    pub statuses: Vec<StatusChoice>,
}

pub async fn list_drifts(
    State(shop): Shared,
    Query(q): Query<DriftQuery>,
) -> Result<Json<Vec<DriftView>>, ApiError> {
    let mut views = vec![];
    for drift in shop.drifts(!q.all).await? {
        views.push(DriftView {
            gateway_label: label(&shop, &drift.gateway, drift.gateway_status.as_deref()),
            payment: shop.payment(&drift.order).await?,
            statuses: status_choices(&shop, &drift.gateway, None),
            drift,
        });
    }
    Ok(Json(views))
}

/// Adopting the gateway's state: what the operator read in its tool.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptRequest {
    pub state: SeenState,
    /// Authorized, captured or refunded (in total), as the state says; none for voided.
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub transaction: Option<String>,
    #[serde(default)]
    pub gateway_status: Option<String>,
}

async fn known_drift(shop: &Shop, id: i64) -> Result<DriftRecord, ApiError> {
    shop.drifts(false)
        .await?
        .into_iter()
        .find(|d| d.id == DriftId(id))
        .ok_or_else(|| ShopError::UnknownDrift(DriftId(id)).into())
}

async fn drift_decision(
    shop: &Arc<Shop>,
    operator: String,
    drift: &DriftRecord,
    decision: &'static str,
    payment: OrderRecord,
) -> Result<Json<DecisionView>, ApiError> {
    let view = view(shop, shop.order(&drift.order).await?).await?;
    Ok(Json(DecisionView {
        operator,
        decision: decision.into(),
        operation: None,
        drift: Some(drift.id),
        payment,
        view,
    }))
}

pub async fn adopt(
    State(shop): Shared,
    Operator(operator): Operator,
    Path(id): Path<i64>,
    Body(req): Body<AdoptRequest>,
) -> Result<Json<DecisionView>, ApiError> {
    let drift = known_drift(&shop, id).await?;
    let payment = shop.payment(&drift.order).await?;
    let currency = currency_of(payment.as_ref(), None);
    let seen = Seen {
        state: Some(req.state),
        amount: req.amount,
        transaction: req.transaction,
        gateway_status: req.gateway_status,
    };
    let outcome = outcome(&shop, &drift.gateway, currency, None, seen)?;
    tracing::info!(order = %drift.order, drift = id, %operator, "drift adopted");
    let (worker, who, drift_id) = (shop.clone(), operator.clone(), drift.id);
    let payment = tokio::spawn(async move { worker.adopt_drift(drift_id, outcome, &who).await })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the decision's task failed: {e}"),
            )
        })??;
    drift_decision(&shop, operator, &drift, "adopted", payment).await
}

/// Dismissing reads no body; like every change it is still sent as JSON (`{}` or empty).
pub async fn dismiss(
    State(shop): Shared,
    Operator(operator): Operator,
    Path(id): Path<i64>,
) -> Result<Json<DecisionView>, ApiError> {
    let drift = known_drift(&shop, id).await?;
    tracing::info!(order = %drift.order, drift = id, %operator, "drift dismissed");
    let (worker, who, drift_id) = (shop.clone(), operator.clone(), drift.id);
    let payment = tokio::spawn(async move { worker.dismiss_drift(drift_id, &who).await })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the decision's task failed: {e}"),
            )
        })??;
    drift_decision(&shop, operator, &drift, "dismissed", payment).await
}
