//! Serving Kumo Pay through the emulator kit: one request per connection (`Connection: close`),
//! the whole request read before the engine sees it, replies written in the configured wire.

use std::sync::Arc;

use renkei_emulator_kit::hyper::StatusCode;
use renkei_emulator_kit::{BodyError, Collected, HttpResponse, ServeOptions, reply};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{Answer, Engine, Wire, form, xml};

/// Requests larger than this are refused: the protocol's bodies are a few hundred bytes.
const MAX_REQUEST: usize = 64 * 1024;

pub(crate) async fn serve(listener: TcpListener, engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    let options = ServeOptions { keep_alive: false };
    renkei_emulator_kit::run(listener, stop, options, move |request, _conn| {
        let engine = Arc::clone(&engine);
        async move {
            let (status, answer) = match Collected::read(request, MAX_REQUEST).await {
                Ok(request) => match engine.take_fault(&request) {
                    Some(fault) => {
                        if fault.processed {
                            engine.handle(&request);
                        }
                        return proxy_page(fault.status);
                    }
                    None => engine.handle(&request),
                },
                Err(error) => {
                    tracing::debug!(%error, "Kumo Pay emulator refused a request");
                    let status = match error {
                        BodyError::TooLarge { .. } => 413,
                        BodyError::Broken(_) => 400,
                    };
                    (
                        status,
                        Answer::Problems(vec![("invalid_request", "unreadable request")]),
                    )
                }
            };
            written(engine.config.wire, status, &answer)
        }
    })
    .await;
}

/// What a proxy sends in place of the gateway's reply.
fn proxy_page(status: u16) -> HttpResponse {
    let body = format!("<html><body><h1>{status}</h1>upstream failed</body></html>");
    reply(
        renkei_emulator_kit::error_status(status),
        Some("text/html"),
        body.into_bytes(),
    )
}

/// The answer in `wire`: a JSON document under its HTTP status, or a form reply in its charset
/// under 200 (the form wire tells a refusal by `ErrCode`, not by the status), or an XML
/// document in its charset under 200 (a refusal is an `<errors>` document).
fn written(wire: Wire, status: u16, answer: &Answer) -> HttpResponse {
    match wire {
        Wire::Json => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = serde_json::to_vec(&crate::json_document(answer)).unwrap_or_default();
            reply(status, Some("application/json"), body)
        }
        Wire::Form(charset) => {
            let content_type = format!("text/plain; charset={}", charset.name());
            let body = form::encode(status, answer, charset);
            reply(StatusCode::OK, Some(&content_type), body)
        }
        Wire::Xml(charset) => {
            let content_type = format!("application/xml; charset={}", charset.name());
            reply(
                StatusCode::OK,
                Some(&content_type),
                xml::encode(answer, charset),
            )
        }
    }
}
