//! The F-REGI side of the HTTP server: routing of F-REGI's paths and the control surface, and
//! the faults around a card request. The accept loop, hyper and the byte-level faults (reset,
//! cut, hold) are the emulator kit's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use renkei_emulator_kit::hyper::Request;
use renkei_emulator_kit::hyper::body::Incoming;
use renkei_emulator_kit::{
    BodyError, Collected, Conn, HttpResponse, ServeOptions, cut_point, error_status,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::control;
use crate::faults::{DEFAULT_GATEWAY_ERROR, FaultKind, Subject};
use crate::ops::{self, Ctx, Script};
use crate::reply::{FREGI_CONTENT_TYPE, Response};
use crate::state::{Environment, Origin, Shared};
use crate::wire::{Params, Reply, decode_form};

/// Largest request body accepted (F-REGI parameters are a few hundred bytes; `csvsalem` more).
const MAX_BODY: usize = 1024 * 1024;

/// What to do with the connection after a request.
pub(crate) enum Action {
    /// Write this response (then keep the connection if the client wants it).
    Reply(Response),
    /// Write the head (announcing the whole body) and this many bytes of the body, then close.
    CutBody(Response, usize),
    /// Reset the TCP connection without a response.
    Reset,
    /// Send nothing; hold the connection until the client closes it.
    NoReply,
    /// Send nothing; close the connection (FIN).
    Close,
}

/// Accepts connections until `shutdown` turns true; every connection stops with it.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    renkei_emulator_kit::run(
        listener,
        shutdown,
        ServeOptions::default(),
        move |request, conn| {
            let shared = Arc::clone(&shared);
            async move { serve(shared, request, conn).await }
        },
    )
    .await;
}

/// One request: read whole (as F-REGI's web server does before the CGI script runs), routed,
/// and its action carried out on the connection.
async fn serve(shared: Arc<Shared>, request: Request<Incoming>, conn: Conn) -> HttpResponse {
    let request = match Collected::read(request, MAX_BODY).await {
        Ok(request) => request,
        Err(error @ BodyError::TooLarge { .. }) => {
            tracing::debug!(%error, "request refused");
            return Response::html_error(413).into_http(true);
        }
        Err(error @ BodyError::Broken(_)) => {
            tracing::debug!(peer = %conn.peer(), %error, "malformed request");
            return Response::html_error(400).into_http(true);
        }
    };
    match route(&shared, &request, conn.peer(), &conn).await {
        Action::Reply(response) => response.into_http(false),
        Action::CutBody(response, sent) => conn.truncate(response.into_http(true), sent),
        Action::Reset => conn.reset(),
        Action::Close => conn.close_without_reply(),
        Action::NoReply => {
            let limit = Duration::from_secs(shared.config.no_reply_hold_secs);
            conn.hold_unanswered(limit).await
        }
    }
}

async fn route(shared: &Arc<Shared>, request: &Collected, peer: SocketAddr, conn: &Conn) -> Action {
    let path = request.path.as_str();
    if let Some(rest) = renkei_emulator_kit::control_route(path).and_then(|r| r.strip_prefix('/')) {
        return Action::Reply(control::handle(shared, request, rest));
    }
    let (env, name) = if let Some(name) = path.strip_prefix("/connect/") {
        (Environment::Production, name)
    } else if let Some(name) = path.strip_prefix("/connecttest/") {
        (Environment::Test, name)
    } else {
        return Action::Reply(Response::html_error(404));
    };
    let Some(script) = Script::from_file_name(name) else {
        return Action::Reply(Response::html_error(404));
    };
    if request.method != "GET" && request.method != "POST" {
        let mut response = Response::html_error(405);
        response.extra_headers.push(("Allow", "GET, POST".into()));
        return Action::Reply(response);
    }
    let allowed = &shared.config.allowed_ips;
    if !allowed.is_empty()
        && !allowed
            .iter()
            .any(|ip| ip.to_canonical() == peer.ip().to_canonical())
    {
        return Action::Reply(Response::empty(403));
    }
    card_request(shared, conn, script, env, card_params(request)).await
}

/// GET reads the query string; POST reads a form body and nothing else: any other content type
/// leaves every parameter missing (`docs/protocols/fregi.md` §11.1-2).
fn card_params(request: &Collected) -> Params {
    if request.method == "POST" {
        if is_form(request.content_type.as_deref()) {
            decode_form(&request.body)
        } else {
            Params::default()
        }
    } else {
        decode_form(request.query.as_bytes())
    }
}

pub(crate) fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn card_request(
    shared: &Arc<Shared>,
    conn: &Conn,
    script: Script,
    env: Environment,
    params: Params,
) -> Action {
    let Some(fault) = fire_fault(shared, script, env, &params) else {
        return Action::Reply(run_card(shared, script, env, &params));
    };
    tracing::debug!(?fault, ?script, "fault fired");
    let process = || run_card(shared, script, env, &params);
    match fault {
        // hyper drops a handler whose client hangs up, so the delayed work runs in a task of its
        // own: the request is processed after the delay all the same, as by a gateway.
        FaultKind::Latency { millis } => {
            let shared = Arc::clone(shared);
            let delay = Duration::from_millis(millis);
            let held = shared.faults.hold();
            let processed = conn
                .after_delay(delay, move || {
                    let response = run_card(&shared, script, env, &params);
                    drop(held);
                    response
                })
                .await;
            match processed {
                Some(response) => Action::Reply(response),
                // The emulator stopped while the request was held: it was never processed.
                None => Action::Close,
            }
        }
        FaultKind::NoReply => Action::NoReply,
        FaultKind::NoReplyAfterProcessing => {
            process();
            Action::NoReply
        }
        FaultKind::HttpStatus { status } => {
            Action::Reply(Response::html_error(error_status(status).as_u16()))
        }
        FaultKind::HttpStatusAfterProcessing { status } => {
            process();
            Action::Reply(Response::html_error(error_status(status).as_u16()))
        }
        FaultKind::GatewayError { code } => {
            Action::Reply(fregi_response(shared, &gateway_error(code.as_deref())))
        }
        FaultKind::GatewayErrorAfterProcessing { code } => {
            process();
            Action::Reply(fregi_response(shared, &gateway_error(code.as_deref())))
        }
        FaultKind::Malformed => {
            process();
            let page = "<html><head><title>F-REGI</title></head><body>システムエラーが発生しました</body></html>\n";
            let body = encoding_rs::EUC_JP.encode(page).0.into_owned();
            Action::Reply(Response::new(200, Some("text/html; charset=EUC-JP"), body))
        }
        FaultKind::CutBody { after_bytes } => {
            let response = process();
            let sent = cut_point(response.body.len(), after_bytes);
            Action::CutBody(response, sent)
        }
        FaultKind::Reset => Action::Reset,
        FaultKind::ReplyLost => {
            process();
            Action::Reset
        }
    }
}

/// Runs a card request against the book and answers it in F-REGI's format.
fn run_card(shared: &Shared, script: Script, env: Environment, params: &Params) -> Response {
    api_response(shared, env, |ctx| ops::run(script, params, ctx))
}

/// Runs `op` on the book as the shop's API (not an admin) and answers in F-REGI's format.
pub(crate) fn api_response(
    shared: &Shared,
    env: Environment,
    op: impl FnOnce(&mut Ctx) -> Reply,
) -> Response {
    let reply = shared.with_ledger(|ledger, config| {
        let mut ctx = Ctx {
            ledger,
            config,
            env,
            origin: Origin::Api,
        };
        op(&mut ctx)
    });
    fregi_response(shared, &reply)
}

/// The `NG` of a gateway-error fault: `code` as a reason line `CODE(message)`, a bare `CODE`
/// with the default message, or [`DEFAULT_GATEWAY_ERROR`].
fn gateway_error(code: Option<&str>) -> Reply {
    let (default_code, default_message) = split_reason(DEFAULT_GATEWAY_ERROR);
    let (code, message) = match code.map(split_reason) {
        Some((code, "")) => (code, default_message),
        Some(given) => given,
        None => (default_code, default_message),
    };
    Reply::ng(&crate::codes::Ng::custom(code, message))
}

/// `CODE(message)` into its parts; a bare `CODE` has an empty message.
fn split_reason(reason: &str) -> (&str, &str) {
    reason.split_once('(').map_or((reason, ""), |(code, rest)| {
        (code, rest.strip_suffix(')').unwrap_or(rest))
    })
}

/// An F-REGI reply: HTTP 200, EUC-JP text.
pub(crate) fn fregi_response(shared: &Shared, reply: &Reply) -> Response {
    Response::new(
        200,
        Some(FREGI_CONTENT_TYPE),
        reply.encode(shared.config.line_ending),
    )
}

/// Fires the first fault rule matching this request. The `ID` criterion also matches the `ID` of
/// the transaction a `SEQNO` names, so a fault "on order X" hits its sale and cancel too.
fn fire_fault(
    shared: &Shared,
    script: Script,
    env: Environment,
    params: &Params,
) -> Option<FaultKind> {
    if shared.faults.is_empty() {
        return None;
    }
    let seqno = script
        .seqno_param()
        .and_then(|name| params.get(name))
        .and_then(|s| s.parse::<u64>().ok());
    let mut ids: Vec<String> = params.get("ID").map(str::to_owned).into_iter().collect();
    if let (Some(seqno), Some(shop)) = (seqno, params.get("SHOPID")) {
        if let Some(id) =
            shared.with_ledger(|l, _| l.record(env, shop, seqno).map(|r| r.id.clone()))
        {
            ids.push(id);
        }
    }
    shared.faults.take(&Subject { script, seqno, ids })
}
