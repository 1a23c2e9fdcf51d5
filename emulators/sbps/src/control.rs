//! The control surface over HTTP, under `/__emulator__/`, JSON in and out (the framing is the
//! emulator kit's). It mirrors the Rust handle ([`crate::SbpsEmulator`]) for tests that run the
//! emulator as a separate process.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/` | | this list |
//! | GET | `/config` | | the configuration in force |
//! | POST | `/reset` | | `{"reset": true}` |
//! | GET | `/dump` | | the [`crate::Snapshot`] |
//! | GET | `/payments/{tracking_id}` | | one [`crate::Payment`] or 404 |
//! | GET | `/faults` | | installed faults |
//! | POST | `/faults` | a [`crate::Fault`]: `{"fault": {"kind": ...}, "match": {...}, "lifetime": ...}` | `{"id": n}` |
//! | DELETE | `/faults` | | removes all |
//! | DELETE | `/faults/{id}` | | removes one, 404 if unknown |
//! | GET | `/clock` | | `{"now": "YYYYMMDDhhmmss", "mode": ...}` |
//! | POST | `/clock` | `{"set": "YYYYMMDDhhmmss"}`, `{"advance_secs": n}` or `{"system": true}` | the clock |
//! | POST | `/admin/capture` | `{"tracking_id": "...", "amount": n?}` | the payment after |
//! | POST | `/admin/refund` | `{"tracking_id": "..."}` | the payment after |
//! | POST | `/admin/partial_refund` | `{"tracking_id": "...", "amount": n}` | the payment after |
//! | POST | `/admin/cancel` | `{"tracking_id": "..."}` | the payment after |
//! | POST | `/tokens` | a [`crate::TestToken`] | `{"registered": "<token>"}` |
//!
//! Errors are `{"error": "..."}` with 400 (bad input), 404 (unknown) or 409 (refused by state).

use bytes::Bytes;
use hyper::{Method, StatusCode};
use renkei_emulator_kit::{json_error, segments};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::admin::{AdminAction, AdminError};
use crate::clock::ClockMode;
use crate::config::TestToken;
use crate::engine::Engine;
use crate::faults::{Fault, FaultId};
use crate::server::HttpResponse;
use crate::time::JstDateTime;

/// Body of `POST /__emulator__/clock`; the parts given apply in the order system, set, advance.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ClockCommand {
    system: bool,
    set: Option<JstDateTime>,
    advance_secs: Option<i64>,
}

/// Routes one control request; `path` is what follows `/__emulator__`.
pub(crate) fn handle(engine: &Engine, method: &Method, path: &str, body: &Bytes) -> HttpResponse {
    match (method, segments(path).as_slice()) {
        (&Method::GET, []) => ok(index()),
        (&Method::GET, ["config"]) => ok(json!(engine.config)),
        (&Method::POST, ["reset"]) => {
            engine.reset();
            ok(json!({ "reset": true }))
        }
        (&Method::GET, ["dump"]) => ok(json!(engine.snapshot())),
        (&Method::GET, ["payments", tracking_id]) => match engine.payment(tracking_id) {
            Some(payment) => ok(json!(payment)),
            None => error(
                StatusCode::NOT_FOUND,
                format!("no payment with tracking_id {tracking_id}"),
            ),
        },
        (&Method::GET, ["faults"]) => ok(json!(engine.faults.list())),
        (&Method::POST, ["faults"]) => with_json(body, |fault: Fault| {
            ok(json!({ "id": engine.faults.install(fault) }))
        }),
        (&Method::DELETE, ["faults"]) => {
            engine.faults.clear();
            ok(json!({ "cleared": true }))
        }
        (&Method::DELETE, ["faults", id]) => match id.parse::<u64>() {
            Ok(id) if engine.faults.remove(FaultId(id)) => ok(json!({ "removed": id })),
            _ => error(StatusCode::NOT_FOUND, format!("no fault with id {id}")),
        },
        (&Method::GET, ["clock"]) => ok(clock(engine)),
        (&Method::POST, ["clock"]) => with_json(body, |command: ClockCommand| {
            if command.system {
                engine.clock.use_system();
            }
            if let Some(at) = command.set {
                engine.clock.set(at);
            }
            if let Some(secs) = command.advance_secs {
                engine.clock.advance(secs);
            }
            ok(clock(engine))
        }),
        (&Method::POST, ["admin", action]) => admin(engine, action, body),
        (&Method::POST, ["tokens"]) => with_json(body, |token: TestToken| {
            let name = token.token.clone();
            match engine.register_token(token) {
                Ok(()) => ok(json!({ "registered": name })),
                Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }),
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no control endpoint {method} {path}"),
        ),
    }
}

fn admin(engine: &Engine, action: &str, body: &Bytes) -> HttpResponse {
    let mut value: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
        }
    };
    let Some(object) = value.as_object_mut() else {
        return error(
            StatusCode::BAD_REQUEST,
            "body must be a JSON object".to_owned(),
        );
    };
    object.insert("action".to_owned(), Value::String(action.replace('-', "_")));
    let action: AdminAction = match serde_json::from_value(value) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match engine.admin(&action) {
        Ok(payment) => ok(json!(payment)),
        Err(e @ AdminError::UnknownPayment(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ AdminError::ZeroAmount) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ AdminError::Refused { reason, .. }) => json_response(
            StatusCode::CONFLICT,
            &json!({ "error": e.to_string(), "reason": reason.as_str() }),
        ),
    }
}

fn clock(engine: &Engine) -> Value {
    let mode = engine.clock.mode();
    json!({ "now": engine.clock.now(), "frozen": matches!(mode, ClockMode::Frozen { .. }), "mode": mode })
}

fn index() -> Value {
    json!({
        "emulator": "SBPS sps-api",
        "api": crate::server::API_PATH,
        "endpoints": [
            "GET /config", "POST /reset", "GET /dump", "GET /payments/{tracking_id}",
            "GET /faults", "POST /faults", "DELETE /faults", "DELETE /faults/{id}",
            "GET /clock", "POST /clock",
            "POST /admin/capture", "POST /admin/refund", "POST /admin/partial_refund", "POST /admin/cancel",
            "POST /tokens",
        ],
    })
}

fn with_json<T: DeserializeOwned>(body: &Bytes, f: impl FnOnce(T) -> HttpResponse) -> HttpResponse {
    renkei_emulator_kit::with_json(body, f)
}

fn ok(value: Value) -> HttpResponse {
    json_response(StatusCode::OK, &value)
}

fn error(status: StatusCode, message: String) -> HttpResponse {
    json_error(status, message)
}

fn json_response(status: StatusCode, value: &Value) -> HttpResponse {
    renkei_emulator_kit::json(status, value)
}
