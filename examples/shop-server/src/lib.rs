//! # renkei-shop-server
//!
//! An example of `renkei-host` embedded in a shop's web server: the shop actions of
//! [`renkei_host::Shop`] as a JSON HTTP API ([`api`]), and one operator page in the spirit of
//! the manuals' order-management screens (the unpaid list with a bulk "mark as paid" button, an
//! order's status change with 「決済の取引情報を取り消す」), and the review queue and drift
//! events where an operator decides what the host would not guess ([`review`]).
//!
//! ```no_run
//! # async fn run(shop: std::sync::Arc<renkei_host::Shop>) -> std::io::Result<()> {
//! use renkei_shop_server::auth::Operators;
//! let operators = Operators::with_token("sato", "a-long-random-operator-token").unwrap();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, renkei_shop_server::router(shop, operators.into())).await
//! # }
//! ```
//!
//! Every `/api/` request is an operator's ([`auth`]): 401 without credentials, and a request
//! that can change anything needs `X-Renkei-Operator: 1` (403) and a JSON content type (415).
//! Every refused request gets a 4xx with one typed body ([`error::ErrorBody`]) and changes
//! nothing; see the crate's README for the endpoints.

pub mod api;
pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod review;

use auth::Operators;
use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post, put};
use error::ApiError;
use renkei_host::Shop;
use std::sync::Arc;

/// The operator page: static HTML and plain JavaScript calling the JSON API.
pub const PAGE: &str = include_str!("page.html");

/// The server's routes: the operator page at `/` (static, no data in it), the JSON API under
/// `/api/`, every request of which goes through [`auth::guard`] first.
pub fn router(shop: Arc<Shop>, operators: Arc<Operators>) -> Router {
    let api = Router::new()
        .route("/api/operator", get(api::operator))
        .route("/api/gateways", get(api::gateways))
        .route("/api/gateways/{name}/linkage", put(api::set_linkage))
        .route("/api/orders", get(api::list_orders).post(api::checkout))
        .route("/api/orders/{order}", get(api::get_order))
        .route("/api/orders/{order}/history", get(api::history))
        .route(
            "/api/orders/{order}/payment",
            post(api::record_payment).delete(api::cancel_payment_date),
        )
        .route("/api/orders/{order}/status", post(api::change_status))
        .route("/api/orders/{order}/amount", post(api::change_amount))
        .route("/api/orders/{order}/method", post(api::change_method))
        .route(
            "/api/orders/{order}/no-payment-needed",
            post(api::no_payment_needed),
        )
        .route("/api/orders/{order}/release", post(api::release))
        .route("/api/orders/{order}/inquire", post(api::inquire))
        .route("/api/bulk/payment", post(api::bulk_payment))
        .route("/api/reconcile", post(api::reconcile))
        .route("/api/reviews", get(review::list_reviews))
        .route("/api/orders/{order}/review", post(review::resolve))
        .route("/api/drifts", get(review::list_drifts))
        .route("/api/drifts/{id}/adopt", post(review::adopt))
        .route("/api/drifts/{id}/dismiss", post(review::dismiss))
        .layer(axum::middleware::from_fn_with_state(operators, auth::guard));
    Router::new()
        .route("/", get(page))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shop)
}

async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE))
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no endpoint at {}", uri.path()),
    )
}

async fn method_not_allowed(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take this method", uri.path()),
    )
}
