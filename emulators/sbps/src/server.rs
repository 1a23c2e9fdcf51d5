//! The HTTP side of the sps-api endpoint (§10.2): routing and the fault injection around the
//! pipeline. The accept loop, hyper and the byte-level faults are the emulator kit's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use renkei_emulator_kit::{Conn, ServeOptions, control_route, cut_point, error_status, read_body};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::codes::{ErrorCode, reasons};
use crate::engine::Engine;
use crate::faults::{FaultKind, Probe};
use crate::function::method_code;
use crate::pipeline;
use crate::xml;

/// Path of the one SBPS endpoint (§1).
pub const API_PATH: &str = "/api/xmlapi.do";
/// Prefix of the emulator's own control endpoints, outside anything SBPS serves.
pub const CONTROL_PREFIX: &str = renkei_emulator_kit::CONTROL_PREFIX;

/// Larger request bodies are refused with 413; real requests are a few kilobytes.
const MAX_BODY_BYTES: usize = 1 << 20;

pub(crate) type HttpResponse = renkei_emulator_kit::HttpResponse;

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: watch::Receiver<bool>,
) {
    let options = ServeOptions {
        keep_alive: !engine.config.connection_close,
    };
    renkei_emulator_kit::run(listener, shutdown, options, move |request, conn| {
        let engine = Arc::clone(&engine);
        async move { route(&engine, &conn, request).await }
    })
    .await;
}

async fn route(engine: &Arc<Engine>, conn: &Conn, request: Request<Incoming>) -> HttpResponse {
    let path = request.uri().path().to_owned();
    if path == API_PATH && request.method() == Method::POST {
        return api(engine, conn, request).await;
    }
    if let Some(rest) = control_route(&path) {
        let method = request.method().clone();
        return match body(request).await {
            Ok(body) => crate::control::handle(engine, &method, rest, &body),
            Err(response) => response,
        };
    }
    html_status(StatusCode::NOT_FOUND)
}

/// `POST /api/xmlapi.do`: faults, Basic auth, then the pipeline.
async fn api(engine: &Arc<Engine>, conn: &Conn, request: Request<Incoming>) -> HttpResponse {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    let body = match body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let parsed = xml::parse_request(&body);
    let fault = match &parsed {
        Ok(r) => engine.faults.take(&Probe {
            function_id: Some(r.id.trim()),
            tracking_id: r.value(&["tracking_id"]),
            order_id: r.value(&["order_id"]),
        }),
        Err(_) => engine.faults.take(&Probe::default()),
    };
    if let Some(fault) = &fault {
        tracing::debug!(?fault, "injecting fault");
    }
    let function_id = parsed.as_ref().ok().map(|r| r.id.trim().to_owned());
    let hold = Duration::from_secs(engine.config.no_reply_hold_secs);

    // Faults that answer without processing the request.
    match &fault {
        Some(FaultKind::NoReply) => return conn.hold_unanswered(hold).await,
        Some(FaultKind::HttpStatus { status }) => return html_status(error_status(*status)),
        Some(FaultKind::GatewayError { code }) => {
            return gateway_error(engine, function_id.as_deref(), *code);
        }
        Some(FaultKind::Reset) => return conn.reset(),
        _ => {}
    }

    let reply = match &fault {
        // The pipeline reads the clock when it runs, so expiry (§10.3 step 8) is judged after
        // the delay.
        Some(FaultKind::Latency { millis }) => {
            let delay = Duration::from_millis(*millis);
            let engine = Arc::clone(engine);
            let held = engine.faults.hold();
            let processed = conn
                .after_delay(delay, move || {
                    let processed = process(&engine, authorization.as_deref(), parsed);
                    drop(held);
                    processed
                })
                .await;
            match processed {
                Some(processed) => processed,
                // The emulator stopped while the request was held: it was never processed.
                None => return conn.close_without_reply(),
            }
        }
        _ => process(engine, authorization.as_deref(), parsed),
    };
    let reply = match reply {
        Processed::Reply(reply) => reply,
        Processed::Unauthorized => return unauthorized(engine.config.rules.unauthorized_status),
    };

    // Faults that strike after the request was processed.
    match fault {
        Some(FaultKind::NoReplyAfterProcessing) => conn.hold_unanswered(hold).await,
        Some(FaultKind::HttpStatusAfterProcessing { status }) => html_status(error_status(status)),
        Some(FaultKind::GatewayErrorAfterProcessing { code }) => {
            gateway_error(engine, function_id.as_deref(), code)
        }
        Some(FaultKind::Malformed) => {
            let cut = reply.body.len() / 2;
            xml_reply(reply.body[..cut].to_vec())
        }
        Some(FaultKind::CutBody { after_bytes }) => {
            let cut = cut_point(reply.body.len(), after_bytes);
            conn.truncate(xml_reply(reply.body), cut)
        }
        Some(FaultKind::ReplyLost) => conn.reset(),
        _ => xml_reply(reply.body),
    }
}

/// What processing a request produced.
enum Processed {
    /// The Basic credentials matched no merchant; nothing was processed.
    Unauthorized,
    /// The pipeline's reply (OK or NG).
    Reply(pipeline::Reply),
}

fn process(
    engine: &Engine,
    authorization: Option<&[u8]>,
    parsed: Result<xml::Request, xml::ParseError>,
) -> Processed {
    match engine.authenticate(authorization) {
        Some(merchant) => Processed::Reply(pipeline::process(engine, merchant, parsed)),
        None => Processed::Unauthorized,
    }
}

/// The NG reply of a gateway-error fault: `code`, or the system error with the request's method.
fn gateway_error(
    engine: &Engine,
    function_id: Option<&str>,
    code: Option<ErrorCode>,
) -> HttpResponse {
    let code = code.unwrap_or_else(|| {
        reasons::SYSTEM_ERROR.with_method(function_id.map_or("999", method_code))
    });
    xml_reply(pipeline::ng(function_id, code, engine.clock.now()).body)
}

/// HTTP 200 with the headers the sandbox sends (§1).
fn xml_reply(body: Vec<u8>) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=Shift_JIS"),
    );
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static("ja"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache,no-store,max-age=0"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("No-cache"));
    headers.insert(
        header::EXPIRES,
        HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
    );
    response
}

/// Bad credentials: the status alone, no XML body (§10.2).
fn unauthorized(status: u16) -> HttpResponse {
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"sps-api\""),
    );
    response
}

/// A web-server error page, as a reverse proxy in front of SBPS would send.
fn html_status(status: StatusCode) -> HttpResponse {
    let reason = status.canonical_reason().unwrap_or("Error");
    let page = format!(
        "<html><head><title>{} {reason}</title></head><body><h1>{reason}</h1></body></html>\n",
        status.as_u16()
    );
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=iso-8859-1"),
    );
    response
}

async fn body(request: Request<Incoming>) -> Result<Bytes, HttpResponse> {
    read_body(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            tracing::debug!(%error, "request body refused");
            html_status(StatusCode::PAYLOAD_TOO_LARGE)
        })
}
