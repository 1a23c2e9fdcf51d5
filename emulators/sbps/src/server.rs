//! The HTTP server: accept loop, routing, and the HTTP layer of the sps-api endpoint (§10.2)
//! with the fault injection around it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::codes::{ErrorCode, reasons};
use crate::engine::Engine;
use crate::faults::{FaultKind, Probe};
use crate::function::method_code;
use crate::pipeline;
use crate::transport::{ConnControl, FaultStream};
use crate::xml;

/// Path of the one SBPS endpoint (§1).
pub const API_PATH: &str = "/api/xmlapi.do";
/// Prefix of the emulator's own control endpoints, outside anything SBPS serves.
pub const CONTROL_PREFIX: &str = "/__emulator__";

/// Larger request bodies are refused with 413; real requests are a few kilobytes.
const MAX_BODY_BYTES: usize = 1 << 20;

pub(crate) type HttpResponse = Response<Full<Bytes>>;

/// What every connection task needs.
#[derive(Clone)]
struct Ctx {
    engine: Arc<Engine>,
    shutdown: watch::Receiver<bool>,
}

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    mut shutdown: watch::Receiver<bool>,
) {
    let ctx = Ctx {
        engine,
        shutdown: shutdown.clone(),
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Small request/reply exchanges: do not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, ctx.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            () = stopped(&mut shutdown) => break,
        }
    }
}

/// Resolves once the emulator is told to stop (or its handle is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard returned by `wait_for` is not Send; drop it before returning.
    let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
}

async fn serve_connection(stream: tokio::net::TcpStream, ctx: Ctx) {
    let control = Arc::new(ConnControl::default());
    let io = TokioIo::new(FaultStream::new(stream, Arc::clone(&control)));
    let keep_alive = !ctx.engine.config.connection_close;
    let mut shutdown = ctx.shutdown.clone();
    let service = service_fn(move |request| {
        let ctx = ctx.clone();
        let control = Arc::clone(&control);
        async move { Ok::<_, Infallible>(route(&ctx, &control, request).await) }
    });
    let connection = http1::Builder::new()
        .keep_alive(keep_alive)
        .serve_connection(io, service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::trace!(%error, "connection ended with an error");
            }
        }
        () = stopped(&mut shutdown) => {}
    }
}

async fn route(ctx: &Ctx, control: &ConnControl, request: Request<Incoming>) -> HttpResponse {
    let path = request.uri().path().to_owned();
    if path == API_PATH && request.method() == Method::POST {
        return api(ctx, control, request).await;
    }
    if let Some(rest) = path.strip_prefix(CONTROL_PREFIX) {
        let method = request.method().clone();
        return match read_body(request.into_body()).await {
            Ok(body) => crate::control::handle(&ctx.engine, &method, rest, &body),
            Err(response) => response,
        };
    }
    html_status(StatusCode::NOT_FOUND)
}

/// `POST /api/xmlapi.do`: faults, Basic auth, then the pipeline.
async fn api(ctx: &Ctx, control: &ConnControl, request: Request<Incoming>) -> HttpResponse {
    let engine = &ctx.engine;
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    let body = match read_body(request.into_body()).await {
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

    // Faults that answer without processing the request.
    match &fault {
        Some(FaultKind::NoReply) => return hold_unanswered(ctx, control).await,
        Some(FaultKind::HttpStatus { status }) => return html_status(error_status(*status)),
        Some(FaultKind::GatewayError { code }) => {
            return gateway_error(engine, function_id.as_deref(), *code);
        }
        Some(FaultKind::Reset) => {
            control.reset();
            return Response::new(Full::default());
        }
        _ => {}
    }

    let reply = match &fault {
        Some(FaultKind::Latency { millis }) => {
            let delay = Duration::from_millis(*millis);
            match process_detached(ctx, authorization, parsed, delay).await {
                Some(processed) => processed,
                None => {
                    // The emulator stopped while the request was held: it was never processed.
                    control.close_without_reply();
                    return Response::new(Full::default());
                }
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
        Some(FaultKind::NoReplyAfterProcessing) => hold_unanswered(ctx, control).await,
        Some(FaultKind::HttpStatusAfterProcessing { status }) => html_status(error_status(status)),
        Some(FaultKind::GatewayErrorAfterProcessing { code }) => {
            gateway_error(engine, function_id.as_deref(), code)
        }
        Some(FaultKind::Malformed) => {
            let cut = reply.body.len() / 2;
            xml_reply(reply.body[..cut].to_vec())
        }
        Some(FaultKind::CutBody { after_bytes }) => {
            control.truncate_body_after(cut_point(reply.body.len(), after_bytes));
            xml_reply(reply.body)
        }
        Some(FaultKind::ReplyLost) => {
            control.reset();
            Response::new(Full::default())
        }
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

/// Processes a request after `delay` in a task of its own. A gateway does not notice a client
/// hanging up: the request it holds is processed after the delay all the same, and the reply
/// goes to a closed socket. hyper drops this handler when the client disconnects, so the work
/// must not live in it. The pipeline reads the clock when it runs, so expiry (§10.3 step 8) is
/// judged after the delay. `None` if the emulator stopped first.
async fn process_detached(
    ctx: &Ctx,
    authorization: Option<Vec<u8>>,
    parsed: Result<xml::Request, xml::ParseError>,
    delay: Duration,
) -> Option<Processed> {
    let engine = Arc::clone(&ctx.engine);
    let mut shutdown = ctx.shutdown.clone();
    let task = tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut shutdown) => return None,
        }
        Some(process(&engine, authorization.as_deref(), parsed))
    });
    task.await.ok().flatten()
}

/// No reply: hold the connection until the client gives up, `no_reply_hold_secs` pass or the
/// emulator stops, then close it unanswered.
async fn hold_unanswered(ctx: &Ctx, control: &ConnControl) -> HttpResponse {
    let hold = Duration::from_secs(ctx.engine.config.no_reply_hold_secs);
    let mut shutdown = ctx.shutdown.clone();
    tokio::select! {
        () = tokio::time::sleep(hold) => {}
        () = stopped(&mut shutdown) => {}
    }
    control.close_without_reply();
    Response::new(Full::default())
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

/// An error status a fault may send: anything that is not an HTTP error becomes 500, so a fault
/// can never pass for a reply.
fn error_status(status: u16) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// How many body bytes a cut reply sends: `after_bytes` (half by default), always fewer than
/// the whole body, so the reply is cut whatever was asked.
fn cut_point(body_len: usize, after_bytes: Option<usize>) -> usize {
    after_bytes
        .unwrap_or(body_len / 2)
        .min(body_len.saturating_sub(1))
}

async fn read_body(body: Incoming) -> Result<Bytes, HttpResponse> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            tracing::debug!(%error, "request body refused");
            Err(html_status(StatusCode::PAYLOAD_TOO_LARGE))
        }
    }
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
