//! Errors as the API returns them: an HTTP status and one typed JSON body,
//! `{"error": code, "message": …, "reason": …}`, whatever refused the request (the shop rules,
//! the gateway, or a body that is not the JSON an endpoint takes).
//!
//! Every error here means the request changed nothing, except `needs_review`, where the outcome
//! at the gateway is exactly what is not known (the order is then held for an operator).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use renkei_host::ShopError;
use renkei_host::journal::{JournalError, Refusal};
use renkei_sdk::{ErrorKind, GatewayError, OrderRef};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code to match on: [`ShopError::code`] (`unknown_order`, `illegal_action`,
    /// `invalid_amount`, `gateway_refused`…) or one of the API's own (`malformed_json`,
    /// `invalid_body`, `unsupported_media_type`, `invalid_query`).
    pub error: String,
    /// The whole explanation.
    pub message: String,
    /// What the bulk result shows after the order code (G-3): the gateway's own message where it
    /// gave one (F-10), else the explanation.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderRef>,
    /// The gateway's refusal, verbatim, when the gateway (or its plugin) refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayErrorBody>,
    /// What the operator can do next, where the manual says (F-3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// A gateway's refusal: the SDK's stable kind and the gateway's own code and message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayErrorBody {
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: Option<String>,
    /// The reply's further codes when it carried several (the kind is read from `code`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_codes: Vec<String>,
}

impl From<&GatewayError> for GatewayErrorBody {
    fn from(e: &GatewayError) -> GatewayErrorBody {
        GatewayErrorBody {
            kind: e.kind,
            code: e.gateway_code.clone(),
            message: e.gateway_message.clone(),
            other_codes: e.other_codes.clone(),
        }
    }
}

/// An error response.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Box<ErrorBody>,
}

impl ApiError {
    /// An error of the API itself (not of the shop rules).
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: code.to_owned(),
                reason: message.clone(),
                message,
                order: None,
                gateway: None,
                hint: None,
            }),
        }
    }

    /// A request body that is well-formed JSON but not what the endpoint takes.
    pub fn invalid_body(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
    }
}

/// The HTTP status of a shop error: 404 for an order the shop does not have, 409 for an action
/// the order's state (or the gateway) refuses, 422 for input no order could take, 502/503 when
/// the gateway failed us, 500 for the journal.
pub fn status_of(e: &ShopError) -> StatusCode {
    match e {
        ShopError::UnknownOrder(_) | ShopError::Refused(Refusal::UnknownOrder(_)) => {
            StatusCode::NOT_FOUND
        }
        ShopError::UnknownGateway(_)
        | ShopError::InvalidAmount { .. }
        | ShopError::Refused(Refusal::Amount { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
        ShopError::OrderExists(_)
        | ShopError::IllegalAction { .. }
        | ShopError::LinkageOff { .. }
        | ShopError::Refused(_) => StatusCode::CONFLICT,
        ShopError::Rejected { error, .. } | ShopError::Gateway { error, .. } => match error.kind {
            ErrorKind::InvalidRequest => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unsupported
            | ErrorKind::Declined
            | ErrorKind::Rejected
            | ErrorKind::AlreadyDone => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Authentication
            | ErrorKind::Protocol
            | ErrorKind::Config
            | ErrorKind::Panicked
            | ErrorKind::Internal => StatusCode::BAD_GATEWAY,
        },
        // The gateway's answer could not be known: the order is held for an operator.
        ShopError::NeedsReview { .. } => StatusCode::BAD_GATEWAY,
        ShopError::UnknownDrift(_) => StatusCode::NOT_FOUND,
        ShopError::NoOperator => StatusCode::UNPROCESSABLE_ENTITY,
        // An operator's decision that the journal's money rules refuse, or a drift already
        // closed by someone else.
        ShopError::Journal(
            JournalError::Contradiction(_)
            | JournalError::DriftClosed(_)
            | JournalError::WrongStatus { .. },
        ) => StatusCode::CONFLICT,
        ShopError::Journal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The order an error is about, where it names one.
fn order_of(e: &ShopError) -> Option<OrderRef> {
    match e {
        ShopError::UnknownOrder(o) | ShopError::OrderExists(o) => Some(o.clone()),
        ShopError::IllegalAction { order, .. }
        | ShopError::InvalidAmount { order, .. }
        | ShopError::Rejected { order, .. }
        | ShopError::Gateway { order, .. }
        | ShopError::NeedsReview { order, .. } => Some(order.clone()),
        ShopError::Refused(
            Refusal::UnknownOrder(order)
            | Refusal::NeedsReview { order, .. }
            | Refusal::Final { order, .. }
            | Refusal::IllegalTransition { order, .. }
            | Refusal::Busy { order, .. }
            | Refusal::Amount { order, .. }
            | Refusal::WrongGateway { order, .. },
        ) => Some(OrderRef::new(order.as_str())),
        _ => None,
    }
}

impl From<&ShopError> for ErrorBody {
    fn from(e: &ShopError) -> ErrorBody {
        let (gateway, hint) = match e {
            ShopError::Gateway { error, hint, .. } => {
                (Some((&**error).into()), hint.map(str::to_owned))
            }
            ShopError::Rejected { error, .. } => (Some((&**error).into()), None),
            _ => (None, None),
        };
        ErrorBody {
            error: e.code().to_owned(),
            message: e.to_string(),
            reason: e.reason(),
            order: order_of(e),
            gateway,
            hint,
        }
    }
}

impl From<ShopError> for ApiError {
    fn from(e: ShopError) -> ApiError {
        ApiError {
            status: status_of(&e),
            body: Box::new(ErrorBody::from(&e)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(*self.body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => ApiError::invalid_body(e.body_text()),
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_json",
                other.body_text(),
            ),
        }
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s, so a malformed body gets the same typed body
/// as every other error. The body must be a JSON object: serde would otherwise also read a
/// struct from an array, by position.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(ApiError::invalid_body("the body must be a JSON object"));
        }
        serde_json::from_value(value).map(Body).map_err(|e| {
            ApiError::invalid_body(format!("the body is not what this endpoint takes: {e}"))
        })
    }
}

/// `Query<T>` whose rejections are [`ApiError`]s.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|r: QueryRejection| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_query",
                        r.body_text(),
                    )
                })?;
        Ok(Query(value))
    }
}

/// `Path<T>` whose rejections are [`ApiError`]s.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|r: PathRejection| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text())
            })?;
        Ok(Path(value))
    }
}
