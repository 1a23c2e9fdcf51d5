//! The TCP server: accepts connections, serves F-REGI's paths and the control surface, and
//! carries out faults at the socket level.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::control;
use crate::faults::{DEFAULT_GATEWAY_ERROR, FaultKind, Subject};
use crate::http::{self, FREGI_CONTENT_TYPE, ReadError, Request, Response};
use crate::ops::{self, Ctx, Script};
use crate::state::{Environment, Origin, Shared, lock};
use crate::wire::{Params, Reply, decode_form};

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
}

/// Accepts connections until `shutdown` turns true, then stops every connection.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(stream, peer, Arc::clone(&shared), shutdown.clone()));
                }
                Err(error) => {
                    // Typically EMFILE under a connection flood: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = stopped(&mut stop) => break,
        }
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Replies are written in one piece; never wait for more.
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let request = tokio::select! {
            request = http::read_request(&mut stream, &mut buf) => request,
            _ = stopped(&mut shutdown) => return,
        };
        let request = match request {
            Ok(request) => request,
            Err(ReadError::Closed | ReadError::Io(_)) => return,
            Err(ReadError::Malformed(why)) => {
                tracing::debug!(%peer, why, "malformed request");
                let _ = stream
                    .write_all(&Response::html_error(400).to_bytes(false))
                    .await;
                return;
            }
            Err(ReadError::TooLarge(status)) => {
                let _ = stream
                    .write_all(&Response::html_error(status).to_bytes(false))
                    .await;
                return;
            }
        };
        let keep_alive = request.keep_alive;
        match route(&shared, &request, peer).await {
            Action::Reply(response) => {
                if stream
                    .write_all(&response.to_bytes(keep_alive))
                    .await
                    .is_err()
                    || !keep_alive
                {
                    return;
                }
            }
            Action::CutBody(response, sent) => {
                let mut bytes = response.head(false);
                bytes.extend_from_slice(&response.body[..sent]);
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                return;
            }
            Action::Reset => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                return;
            }
            Action::NoReply => {
                hold(
                    &mut stream,
                    Duration::from_secs(shared.config.no_reply_hold_secs),
                    &mut shutdown,
                )
                .await;
                return;
            }
        }
    }
}

/// Resolves once the emulator is told to stop (or its handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, not across the caller's awaits.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Keeps the connection open, reading and discarding, until the client closes it, the limit
/// passes, or the emulator stops.
async fn hold(stream: &mut TcpStream, limit: Duration, shutdown: &mut watch::Receiver<bool>) {
    let mut scratch = [0u8; 1024];
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            read = stream.read(&mut scratch) => if !matches!(read, Ok(n) if n > 0) { return },
            _ = &mut deadline => return,
            _ = stopped(shutdown) => return,
        }
    }
}

async fn route(shared: &Shared, request: &Request, peer: SocketAddr) -> Action {
    let path = request.path.as_str();
    if let Some(rest) = path.strip_prefix("/__emulator__/") {
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
    card_request(shared, script, env, &card_params(request)).await
}

/// GET reads the query string; POST reads a form body and nothing else: any other content type
/// leaves every parameter missing (research §11.1-2).
fn card_params(request: &Request) -> Params {
    if request.method == "POST" {
        if is_form(request.content_type.as_deref()) {
            decode_form(&request.body)
        } else {
            Params::default()
        }
    } else {
        decode_form(&request.query)
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
    shared: &Shared,
    script: Script,
    env: Environment,
    params: &Params,
) -> Action {
    let process = || {
        let reply = shared.with_ledger(|ledger, config| {
            let mut ctx = Ctx {
                ledger,
                config,
                env,
                origin: Origin::Api,
            };
            ops::run(script, params, &mut ctx)
        });
        fregi_response(shared, &reply)
    };
    let Some(fault) = fire_fault(shared, script, env, params) else {
        return Action::Reply(process());
    };
    tracing::debug!(?fault, ?script, "fault fired");
    match fault {
        // The connection task does not read while it waits, so a client that hangs up is not
        // noticed: the request is processed after the delay all the same, as by a gateway.
        FaultKind::Latency { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            Action::Reply(process())
        }
        FaultKind::NoReply => Action::NoReply,
        FaultKind::NoReplyAfterProcessing => {
            process();
            Action::NoReply
        }
        FaultKind::HttpStatus { status } => {
            Action::Reply(Response::html_error(error_status(status)))
        }
        FaultKind::HttpStatusAfterProcessing { status } => {
            process();
            Action::Reply(Response::html_error(error_status(status)))
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

/// An error status a fault may send: anything that is not an HTTP error becomes 500, so a fault
/// can never pass for a reply.
fn error_status(status: u16) -> u16 {
    if (400..=599).contains(&status) {
        status
    } else {
        500
    }
}

/// How many body bytes a cut reply sends: `after_bytes` (half by default), always fewer than
/// the whole body, so the reply is cut whatever was asked.
fn cut_point(body_len: usize, after_bytes: Option<usize>) -> usize {
    after_bytes
        .unwrap_or(body_len / 2)
        .min(body_len.saturating_sub(1))
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
    if lock(&shared.faults).is_empty() {
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
    lock(&shared.faults).fire(&Subject { script, seqno, ids })
}
