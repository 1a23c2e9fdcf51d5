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

use crate::engine::Engine;
use crate::faults::{Fault, Probe};
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

/// `POST /api/xmlapi.do`: Basic auth, faults, then the pipeline.
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

    // Faults that strike before the request is processed.
    match &fault {
        Some(Fault::Latency { millis }) => tokio::time::sleep(Duration::from_millis(*millis)).await,
        Some(Fault::NoReply) => {
            let hold = Duration::from_secs(engine.config.no_reply_hold_secs);
            let mut shutdown = ctx.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                () = stopped(&mut shutdown) => {}
            }
            control.close_without_reply();
            return Response::new(Full::default());
        }
        Some(Fault::HttpStatus { status }) => {
            return html_status(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
        Some(Fault::ConnectionReset) => {
            control.reset();
            return Response::new(Full::default());
        }
        Some(Fault::ForceError { code, with_id }) => {
            let id = parsed
                .as_ref()
                .ok()
                .filter(|_| *with_id)
                .map(|r| r.id.trim().to_owned());
            let reply = pipeline::ng(id.as_deref(), *code, engine.clock.now());
            return xml_reply(reply.body);
        }
        _ => {}
    }

    let Some(merchant) = engine.authenticate(authorization.as_deref()) else {
        return unauthorized(engine.config.rules.unauthorized_status);
    };
    let reply = pipeline::process(engine, merchant, parsed);

    // Faults that strike after the request was processed.
    match fault {
        Some(Fault::ReplyLost) => {
            control.reset();
            Response::new(Full::default())
        }
        Some(Fault::MalformedBody) => {
            let cut = reply.body.len() / 2;
            xml_reply(reply.body[..cut].to_vec())
        }
        Some(Fault::TruncatedBody) => {
            control.truncate_body_after(reply.body.len() / 2);
            xml_reply(reply.body)
        }
        _ => xml_reply(reply.body),
    }
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
