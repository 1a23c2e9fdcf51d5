//! The GMO-PG side of the HTTP server: routing of `/payment/NAME.idPass` and the control
//! surface, the wire checks of §10.7, and the faults around a card request (§11.7). The accept
//! loop, hyper and the byte-level faults are the emulator kit's.

use std::sync::Arc;
use std::time::Duration;

use renkei_emulator_kit::hyper::body::Incoming;
use renkei_emulator_kit::hyper::header::{CONNECTION, HeaderValue};
use renkei_emulator_kit::hyper::{Request, StatusCode};
use renkei_emulator_kit::{
    BodyError, Collected, Conn, HttpResponse, ServeOptions, cut_point, error_status, reply,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::codes::GmoError;
use crate::control;
use crate::faults::{DEFAULT_GATEWAY_ERROR, FaultKind, Subject};
use crate::ops::{self, Api, Ctx};
use crate::state::{Origin, Shared};
use crate::wire::{Params, Reply, decode_form};

/// The Content-Type of every GMO-PG reply (§2.3, S1 cassettes).
pub const GMO_CONTENT_TYPE: &str = "text/plain;charset=Windows-31J";

/// The path the card endpoints sit under.
pub const PAYMENT_PREFIX: &str = "/payment/";

/// Largest request body accepted: GMO-PG's requests are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// Accepts connections until `shutdown` turns true.
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

/// A GMO-PG reply: HTTP 200, Windows-31J text.
pub(crate) fn gmo_reply(body: &Reply) -> HttpResponse {
    reply(StatusCode::OK, Some(GMO_CONTENT_TYPE), body.encode())
}

/// A short HTML page with an error status, as a web server or proxy in front of GMO-PG sends.
pub(crate) fn html_error(status: u16) -> HttpResponse {
    let status = error_status(status);
    let body = format!(
        "<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>\n"
    );
    reply(status, Some("text/html; charset=iso-8859-1"), body)
}

fn closing(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn serve(shared: Arc<Shared>, request: Request<Incoming>, conn: Conn) -> HttpResponse {
    let request = match Collected::read(request, MAX_BODY).await {
        Ok(request) => request,
        Err(error @ BodyError::TooLarge { .. }) => {
            tracing::debug!(%error, "request refused");
            return closing(html_error(413));
        }
        Err(error @ BodyError::Broken(_)) => {
            tracing::debug!(%error, "malformed request");
            return closing(html_error(400));
        }
    };
    let path = request.path.as_str();
    if let Some(route) = renkei_emulator_kit::control_route(path) {
        return control::handle(&shared, &request, route.trim_start_matches('/'));
    }
    let Some(name) = path.strip_prefix(PAYMENT_PREFIX) else {
        return html_error(404);
    };
    // §10.7: the wire errors, in GMO-PG's own reply format, no effect.
    let Some(api) = Api::from_file_name(name) else {
        return gmo_reply(&Reply::Err(GmoError::one("E91099997")));
    };
    if request.method != "POST" {
        return gmo_reply(&Reply::Err(GmoError::one("E00000001")));
    }
    if !is_form_or_absent(request.content_type.as_deref()) {
        return gmo_reply(&Reply::Err(GmoError::one("E00000003")));
    }
    let params = match decode_form(&request.body) {
        Ok(params) => params,
        Err(error) => return gmo_reply(&Reply::Err(error)),
    };
    card_request(&shared, &conn, api, params).await
}

/// A form body; a request without `Content-Type` is read as one too.
pub(crate) fn is_form_or_absent(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| {
        ct.split(';').next().is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

/// Runs a card request against the book.
fn run_card(shared: &Shared, api: Api, params: &Params) -> Reply {
    shared.with_ledger(|ledger, config| {
        let mut ctx = Ctx {
            ledger,
            config,
            origin: Origin::Api,
        };
        Reply::from(ops::run(api, params, &mut ctx))
    })
}

/// The order a request is about: its `OrderID`, else the order of the transaction its
/// `AccessID` names (with the shop).
fn orders_of(shared: &Shared, api: Api, params: &Params) -> Vec<(String, String)> {
    shared.with_ledger(|ledger, config| {
        let mut orders = Vec::new();
        if api.by_access_id() {
            if let Some(key) = params
                .get("AccessID")
                .and_then(|a| ledger.order_of_access(a))
            {
                orders.push(key);
            }
        }
        if let Some(order) = params.get("OrderID") {
            let shop = params
                .get("ShopID")
                .or_else(|| config.shops.first().map(|s| s.shop_id.as_str()))
                .unwrap_or_default();
            if !orders.iter().any(|(_, o)| o == order) {
                orders.push((shop.to_owned(), order.to_owned()));
            }
        }
        orders
    })
}

async fn card_request(shared: &Arc<Shared>, conn: &Conn, api: Api, params: Params) -> HttpResponse {
    let Some((fault, orders)) = fire_fault(shared, api, &params) else {
        return gmo_reply(&run_card(shared, api, &params));
    };
    tracing::debug!(?fault, api = api.name(), "fault fired");
    let process = || run_card(shared, api, &params);
    match fault {
        // The held request is processed after the delay in a task of its own, even if its
        // client hangs up, as by a gateway; meanwhile another request on its transaction is
        // refused with E90010001 (§7.7). A search is a read and is not held up.
        FaultKind::Latency { millis } => {
            let shared = Arc::clone(shared);
            let held = shared.faults.hold();
            let busy: Vec<(String, String)> = if api == Api::SearchTrade {
                Vec::new()
            } else {
                orders
            };
            shared.with_ledger(|ledger, _| {
                for key in &busy {
                    ledger.mark_busy(key.clone());
                }
            });
            let worker = Arc::clone(&shared);
            let processed = conn
                .after_delay(Duration::from_millis(millis), move || {
                    worker.with_ledger(|ledger, _| {
                        for key in &busy {
                            ledger.unmark_busy(key);
                        }
                    });
                    let reply = run_card(&worker, api, &params);
                    drop(held);
                    reply
                })
                .await;
            match processed {
                Some(reply) => gmo_reply(&reply),
                // The emulator stopped while the request was held: it was never processed.
                None => conn.close_without_reply(),
            }
        }
        FaultKind::NoReply => hold(shared, conn).await,
        FaultKind::NoReplyAfterProcessing => {
            process();
            hold(shared, conn).await
        }
        FaultKind::HttpStatus { status } => html_error(status),
        FaultKind::HttpStatusAfterProcessing { status } => {
            process();
            html_error(status)
        }
        FaultKind::GatewayError { code } => gmo_reply(&gateway_error(code.as_deref())),
        FaultKind::GatewayErrorAfterProcessing { code } => {
            process();
            gmo_reply(&gateway_error(code.as_deref()))
        }
        FaultKind::Malformed => {
            process();
            let page = "<html><head><title>GMO Payment Gateway</title></head><body>システムエラーが発生しました。</body></html>\n";
            let body = encoding_rs::SHIFT_JIS.encode(page).0.into_owned();
            reply(StatusCode::OK, Some("text/html;charset=Windows-31J"), body)
        }
        FaultKind::CutBody { after_bytes } => {
            let body = process().encode();
            let sent = cut_point(body.len(), after_bytes);
            conn.truncate(
                closing(reply(StatusCode::OK, Some(GMO_CONTENT_TYPE), body)),
                sent,
            )
        }
        FaultKind::Reset => conn.reset(),
        FaultKind::ReplyLost => {
            process();
            conn.reset()
        }
    }
}

async fn hold(shared: &Shared, conn: &Conn) -> HttpResponse {
    conn.hold_unanswered(Duration::from_secs(shared.config.no_reply_hold_secs))
        .await
}

/// The error reply of a gateway-error fault: the `ErrInfo` codes given (joined by `|`), or
/// [`DEFAULT_GATEWAY_ERROR`].
fn gateway_error(code: Option<&str>) -> Reply {
    let mut error = GmoError::default();
    for info in code
        .unwrap_or(DEFAULT_GATEWAY_ERROR)
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        error.push(info);
    }
    if error.is_empty() {
        error.push(DEFAULT_GATEWAY_ERROR);
    }
    Reply::Err(error)
}

/// Fires the first rule matching this request, and answers the orders it is about.
fn fire_fault(
    shared: &Shared,
    api: Api,
    params: &Params,
) -> Option<(FaultKind, Vec<(String, String)>)> {
    if shared.faults.is_empty() {
        return None;
    }
    let orders = orders_of(shared, api, params);
    let subject = Subject {
        api,
        orders: orders.iter().map(|(_, o)| o.clone()).collect(),
    };
    shared.faults.take(&subject).map(|kind| (kind, orders))
}
