//! The JSON API: one handler per shop action of `renkei_host::shop`, bodies in and out as JSON.
//!
//! Every action runs in its own task: a client that hangs up does not cancel a gateway
//! operation half-way (the journal would recover it, but only after its lease runs out).

use crate::auth::Operator;
use crate::error::{ApiError, Body, ErrorBody, Path, Query};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use renkei_host::Shop;
use renkei_host::ShopError;
use renkei_host::journal::{OperationRecord, OrderRecord};
use renkei_host::shop::{
    ActionResult, BulkOptions, DriftEvent, InquiryReport, ShopOrder, StatusChange,
};
use renkei_sdk::{Currency, CustomerRef, Money, OrderRef, PaymentSource, PaymentState, Secret};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

type Shared = State<Arc<Shop>>;

/// The most orders one bulk request may carry in flight at once.
pub const MAX_BULK_CONCURRENCY: usize = 64;

/// Runs a shop action to its end in its own task, whatever happens to the request.
async fn detached<T: Send + 'static>(
    action: impl Future<Output = Result<T, ShopError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(action)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the action's task failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
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

fn money(amount: i64, currency: Option<&str>, default: Currency) -> Result<Money, ApiError> {
    let currency = match currency {
        None => default,
        Some(c) => Currency::new(c).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_amount",
                format!("{c:?} is not an ISO 4217 currency code"),
            )
        })?,
    };
    Ok(Money::new(amount, currency))
}

/// The card as the payment page handed it over: the gateway's token (SBPS token and token key,
/// F-REGI `TOKEN`). Card numbers are not taken here: a shop server never sees them.
fn token_source(token: Option<String>, key: Option<String>) -> Result<PaymentSource, ApiError> {
    match token.filter(|t| !t.is_empty()) {
        Some(token) => Ok(PaymentSource::Token {
            token: Secret::new(token),
            key: key.map(Secret::new),
        }),
        None => Err(ApiError::invalid_body(
            "`token` (the gateway's card token) is required",
        )),
    }
}

/// A shop action's result, with its warnings also as text for an operator.
#[derive(Clone, Debug, Serialize)]
pub struct ActionResponse {
    #[serde(flatten)]
    pub result: ActionResult,
    /// `warnings`, as sentences (G-6 "the gateway stays captured", G-4 "not cancelled"…).
    pub warning_lines: Vec<String>,
}

impl From<ActionResult> for ActionResponse {
    fn from(result: ActionResult) -> ActionResponse {
        ActionResponse {
            warning_lines: result.warnings.iter().map(ToString::to_string).collect(),
            result,
        }
    }
}

/// An inquiry's result, with the drift (if any) also as text.
#[derive(Clone, Debug, Serialize)]
pub struct InquiryResponse {
    #[serde(flatten)]
    pub report: InquiryReport,
    pub drift_line: Option<String>,
}

/// One order as the operator page shows it: the shop's record and the gateway's side.
#[derive(Clone, Debug, Serialize)]
pub struct OrderView {
    pub order: ShopOrder,
    /// On the unpaid list (the bulk "mark as paid" screen).
    pub unpaid: bool,
    /// The unified state at the gateway, per the journal.
    pub state: Option<PaymentState>,
    /// The gateway's own status code and its label as the manual writes it (与信済, 承認取消…).
    pub gateway_status: Option<String>,
    pub gateway_label: Option<String>,
    /// The journal's record of the money at the gateway.
    pub payment: Option<OrderRecord>,
}

/// The gateway's own label of a status code, from its plugin's status table.
pub(crate) fn label(shop: &Shop, gateway: &str, code: Option<&str>) -> Option<String> {
    let code = code?;
    shop.gateway(gateway)
        .ok()?
        .manifest()
        .statuses
        .iter()
        .find(|s| s.code == code)
        .map(|s| s.label.clone())
}

pub(crate) async fn view(shop: &Shop, order: ShopOrder) -> Result<OrderView, ShopError> {
    let payment = shop.payment(&order.order).await?;
    let gateway_status = payment.as_ref().and_then(|p| p.gateway_status.clone());
    Ok(OrderView {
        unpaid: order.is_unpaid(),
        state: payment.as_ref().map(|p| p.state.clone()),
        gateway_label: label(shop, &order.gateway, gateway_status.as_deref()),
        gateway_status,
        payment,
        order,
    })
}

/// Who the credentials belong to: the page shows it, and checks a token with it at sign-in.
#[derive(Clone, Debug, Serialize)]
pub struct OperatorView {
    pub operator: String,
}

pub async fn operator(Operator(operator): Operator) -> Json<OperatorView> {
    Json(OperatorView { operator })
}

/// A configured gateway instance, for the page's select boxes.
#[derive(Clone, Debug, Serialize)]
pub struct GatewayView {
    /// The instance name orders refer to.
    pub name: String,
    /// The plugin's gateway id (`sbps`, `fregi`).
    pub plugin: String,
    pub display_name: String,
    /// Automatic linkage (G-1): off means the shop changes and the gateway is not touched.
    pub linkage: bool,
    pub min_amount: i64,
    pub max_amount: i64,
    /// The status changes its screens offer: F-REGI's list has no "delete data" (F-6).
    pub status_changes: Vec<StatusChange>,
}

pub async fn gateways(State(shop): Shared) -> Json<Vec<GatewayView>> {
    let mut list: Vec<GatewayView> = shop
        .gateways()
        .map(|g| {
            let m = g.manifest();
            let mut changes = vec![
                StatusChange::Cancel,
                StatusChange::Return,
                StatusChange::Uncollectible,
                StatusChange::Delete,
                StatusChange::Hold,
            ];
            if m.gateway_id == "fregi" {
                changes.retain(|c| *c != StatusChange::Delete);
            }
            GatewayView {
                name: g.name().to_owned(),
                plugin: m.gateway_id.clone(),
                display_name: m.display_name.clone(),
                linkage: shop.linkage(g.name()),
                min_amount: m.limits.min_amount,
                max_amount: m.limits.max_amount,
                status_changes: changes,
            }
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Json(list)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkageRequest {
    pub on: bool,
}

pub async fn set_linkage(
    State(shop): Shared,
    Path(name): Path<String>,
    Body(req): Body<LinkageRequest>,
) -> Result<Json<GatewayView>, ApiError> {
    shop.set_linkage(&name, req.on).map_err(|e| match e {
        ShopError::UnknownGateway(_) => ApiError {
            status: StatusCode::NOT_FOUND,
            body: Box::new(ErrorBody::from(&e)),
        },
        other => other.into(),
    })?;
    let Json(list) = gateways(State(shop)).await;
    Ok(Json(
        list.into_iter()
            .find(|g| g.name == name)
            .expect("the gateway was just found"),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only the unpaid list.
    #[serde(default)]
    pub unpaid: bool,
}

pub async fn list_orders(
    State(shop): Shared,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<OrderView>>, ApiError> {
    let mut views = vec![];
    for order in shop.orders(q.unpaid).await? {
        views.push(view(&shop, order).await?);
    }
    Ok(Json(views))
}

pub async fn get_order(
    State(shop): Shared,
    Path(code): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = shop.order(&order_ref(&code)?).await?;
    Ok(Json(view(&shop, order).await?))
}

pub async fn history(
    State(shop): Shared,
    Path(code): Path<String>,
) -> Result<Json<Vec<OperationRecord>>, ApiError> {
    Ok(Json(shop.history(&order_ref(&code)?).await?))
}

/// A new card order: authorized at once from the gateway's token, or registered as a pre-order
/// (予約) whose authorization waits for its release (G-9).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub order: String,
    /// The gateway instance name.
    pub gateway: String,
    /// Minor units (yen are whole yen).
    pub amount: i64,
    /// ISO 4217; JPY when absent.
    #[serde(default)]
    pub currency: Option<String>,
    /// The gateway's card token (required unless `pre_order`).
    #[serde(default)]
    pub token: Option<String>,
    /// SBPS's token key, sent with the token.
    #[serde(default)]
    pub token_key: Option<String>,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub pre_order: bool,
}

pub async fn checkout(
    State(shop): Shared,
    Body(req): Body<CheckoutRequest>,
) -> Result<(StatusCode, Json<ActionResponse>), ApiError> {
    let order = order_ref(&req.order)?;
    let amount = money(req.amount, req.currency.as_deref(), Currency::JPY)?;
    let gateway = req.gateway;
    let result = if req.pre_order {
        if req.token.is_some() {
            return Err(ApiError::invalid_body(
                "a pre-order takes no token: the card is given when it is released (G-9)",
            ));
        }
        detached(async move { shop.register_pre_order(&order, &gateway, amount).await }).await?
    } else {
        let source = token_source(req.token, req.token_key)?;
        let customer = req.customer.map(CustomerRef::new);
        detached(async move {
            shop.checkout(&order, &gateway, amount, source, customer)
                .await
        })
        .await?
    };
    Ok((StatusCode::CREATED, Json(result.into())))
}

pub async fn record_payment(
    State(shop): Shared,
    Path(code): Path<String>,
) -> Result<Json<ActionResponse>, ApiError> {
    let order = order_ref(&code)?;
    Ok(Json(ActionResponse::from(
        detached(async move { shop.record_payment(&order).await }).await?,
    )))
}

pub async fn cancel_payment_date(
    State(shop): Shared,
    Path(code): Path<String>,
) -> Result<Json<ActionResponse>, ApiError> {
    let order = order_ref(&code)?;
    Ok(Json(ActionResponse::from(
        detached(async move { shop.cancel_payment_date(&order).await }).await?,
    )))
}

/// A status change of the order-management screen. `cancel_at_gateway` is the checkbox
/// 「決済の取引情報を取り消す」 and must be given: a typo must not leave the gateway untouched
/// by default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: StatusChange,
    pub cancel_at_gateway: bool,
}

pub async fn change_status(
    State(shop): Shared,
    Path(code): Path<String>,
    Body(req): Body<StatusRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let order = order_ref(&code)?;
    Ok(Json(ActionResponse::from(
        detached(async move {
            shop.change_status(&order, req.status, req.cancel_at_gateway)
                .await
        })
        .await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// The new amount due, minor units.
    pub amount: i64,
    /// The order's own currency when absent.
    #[serde(default)]
    pub currency: Option<String>,
}

pub async fn change_amount(
    State(shop): Shared,
    Path(code): Path<String>,
    Body(req): Body<AmountRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let order = order_ref(&code)?;
    let current = shop.order(&order).await?;
    let amount = money(
        req.amount,
        req.currency.as_deref(),
        current.amount_due.currency,
    )?;
    Ok(Json(ActionResponse::from(
        detached(async move { shop.change_amount(&order, amount).await }).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodRequest {
    /// The new method's name (`cash_on_delivery`, `bank_transfer`…), anything but card.
    pub method: String,
    pub cancel_at_gateway: bool,
}

pub async fn change_method(
    State(shop): Shared,
    Path(code): Path<String>,
    Body(req): Body<MethodRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let order = order_ref(&code)?;
    let method = req.method.trim().to_owned();
    if method.is_empty() || method.eq_ignore_ascii_case("card") {
        return Err(ApiError::invalid_body(
            "`method` names the method replacing the card (a card payment is a new checkout)",
        ));
    }
    Ok(Json(ActionResponse::from(
        detached(async move {
            shop.change_payment_method(&order, &method, req.cancel_at_gateway)
                .await
        })
        .await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoPaymentRequest {
    pub cancel_at_gateway: bool,
}

pub async fn no_payment_needed(
    State(shop): Shared,
    Path(code): Path<String>,
    Body(req): Body<NoPaymentRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let order = order_ref(&code)?;
    Ok(Json(ActionResponse::from(
        detached(async move { shop.no_payment_needed(&order, req.cancel_at_gateway).await })
            .await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub token: String,
    #[serde(default)]
    pub token_key: Option<String>,
    #[serde(default)]
    pub customer: Option<String>,
}

pub async fn release(
    State(shop): Shared,
    Path(code): Path<String>,
    Body(req): Body<ReleaseRequest>,
) -> Result<Json<ActionResponse>, ApiError> {
    let order = order_ref(&code)?;
    let source = token_source(Some(req.token), req.token_key)?;
    let customer = req.customer.map(CustomerRef::new);
    Ok(Json(ActionResponse::from(
        detached(async move { shop.release_pre_order(&order, source, customer).await }).await?,
    )))
}

pub async fn inquire(
    State(shop): Shared,
    Path(code): Path<String>,
) -> Result<Json<InquiryResponse>, ApiError> {
    let order = order_ref(&code)?;
    let report = detached(async move { shop.inquire(&order).await }).await?;
    Ok(Json(InquiryResponse {
        drift_line: report.drift.as_ref().map(ToString::to_string),
        report,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// The ticked orders, in screen order.
    pub orders: Vec<String>,
    /// Orders in flight at once (default 16, at most [`MAX_BULK_CONCURRENCY`]).
    #[serde(default)]
    pub concurrency: Option<usize>,
}

/// One order of a bulk run: its result, or why it failed.
#[derive(Debug, Serialize)]
pub struct BulkItemView {
    pub order: OrderRef,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ActionResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Serialize)]
pub struct BulkView {
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub items: Vec<BulkItemView>,
    /// The failures as the manual shows them: `order code: reason` (G-3, F-10).
    pub failures: Vec<String>,
}

/// Bulk record payment (一括入金). Each order succeeds or fails on its own (G-3): the response
/// is 200 with the per-order results; only a request that names no order at all is refused.
pub async fn bulk_payment(
    State(shop): Shared,
    Body(req): Body<BulkRequest>,
) -> Result<Json<BulkView>, ApiError> {
    if req.orders.is_empty() {
        return Err(ApiError::invalid_body("`orders` lists no order"));
    }
    let orders = req
        .orders
        .iter()
        .map(|o| order_ref(o))
        .collect::<Result<Vec<_>, _>>()?;
    let concurrency = req
        .concurrency
        .unwrap_or(BulkOptions::default().concurrency);
    if concurrency == 0 || concurrency > MAX_BULK_CONCURRENCY {
        return Err(ApiError::invalid_body(format!(
            "`concurrency` is 1 to {MAX_BULK_CONCURRENCY}"
        )));
    }
    let view = tokio::spawn(async move {
        let report = shop
            .bulk_record_payment(&orders, BulkOptions { concurrency }, |_, _| {})
            .await;
        let failures = report.failure_lines();
        let succeeded = report.succeeded();
        let items: Vec<BulkItemView> = report
            .items
            .into_iter()
            .map(|item| match item.result {
                Ok(result) => BulkItemView {
                    order: item.order,
                    ok: true,
                    result: Some(result.into()),
                    error: None,
                },
                Err(e) => BulkItemView {
                    order: item.order,
                    ok: false,
                    result: None,
                    error: Some(ErrorBody::from(&e)),
                },
            })
            .collect();
        BulkView {
            total: items.len(),
            failed: items.len() - succeeded,
            succeeded,
            items,
            failures,
        }
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the bulk run's task failed: {e}"),
        )
    })?;
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileQuery {
    /// Closed payments changed within this many seconds are inquired too (default a day).
    #[serde(default)]
    pub recent_secs: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ReconcileError {
    pub order: OrderRef,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize)]
pub struct ReconcileView {
    pub checked: usize,
    pub drift: Vec<DriftEvent>,
    /// The drift as text, one line per order, for an operator.
    pub drift_lines: Vec<String>,
    pub errors: Vec<ReconcileError>,
}

/// Inquires the shop's open card orders and reports drift (G-8); the journal is not changed.
pub async fn reconcile(
    State(shop): Shared,
    Query(q): Query<ReconcileQuery>,
) -> Result<Json<ReconcileView>, ApiError> {
    let recent = Duration::from_secs(q.recent_secs.unwrap_or(86_400));
    let report = detached(async move { shop.reconcile(recent).await }).await?;
    Ok(Json(ReconcileView {
        checked: report.checked,
        drift_lines: report.drift.iter().map(ToString::to_string).collect(),
        drift: report.drift,
        errors: report
            .errors
            .iter()
            .map(|(order, e)| ReconcileError {
                order: order.clone(),
                error: ErrorBody::from(e),
            })
            .collect(),
    }))
}
