//! Reading a request whole and writing the replies every emulator sends the same way.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::server::HttpResponse;

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Longer than the emulator accepts: answer 413.
    #[error("request body over {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// The client broke off or sent broken framing.
    #[error("request body unreadable: {0}")]
    Broken(String),
}

/// A request read whole: gateway requests and control requests are a few kilobytes.
#[derive(Debug)]
pub struct Collected {
    /// The request method.
    pub method: Method,
    /// Path without the query string.
    pub path: String,
    /// Raw query string (after `?`), still percent-encoded; empty when there is none.
    pub query: String,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The `Content-Type` header, if it is text.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

impl Collected {
    /// Reads `request` and its body, refusing bodies over `limit` bytes.
    pub async fn read(request: Request<Incoming>, limit: usize) -> Result<Collected, BodyError> {
        let (parts, body) = request.into_parts();
        let body = read_body(body, limit).await?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned());
        Ok(Collected {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            headers: parts.headers,
            content_type,
            body,
        })
    }

    /// A header's value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Reads a body whole, refusing more than `limit` bytes.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    // A `Content-Length` over the limit is refused before waiting for a body that may never come.
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(BodyError::TooLarge { limit })
        }
        Err(error) => Err(BodyError::Broken(error.to_string())),
    }
}

/// A reply with `status`, a `Content-Type` when given, and `body`.
pub fn reply(
    status: StatusCode,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> HttpResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Some(content_type) = content_type.and_then(|ct| HeaderValue::from_str(ct).ok()) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}

/// An error status a fault may send: anything that is not an HTTP error becomes 500, so a fault
/// can never pass for a reply.
pub fn error_status(status: u16) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// How many body bytes a cut reply sends: `after_bytes` (half by default), always fewer than
/// the whole body, so the reply is cut whatever was asked.
pub fn cut_point(body_len: usize, after_bytes: Option<usize>) -> usize {
    after_bytes
        .unwrap_or(body_len / 2)
        .min(body_len.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_statuses_are_always_errors() {
        assert_eq!(error_status(503), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error_status(404), StatusCode::NOT_FOUND);
        for not_an_error in [200, 302, 99, 600, 1000] {
            assert_eq!(
                error_status(not_an_error),
                StatusCode::INTERNAL_SERVER_ERROR
            );
        }
    }

    #[test]
    fn a_cut_body_is_always_shorter_than_the_whole() {
        assert_eq!(cut_point(10, None), 5);
        assert_eq!(cut_point(10, Some(3)), 3);
        assert_eq!(cut_point(10, Some(10)), 9);
        assert_eq!(cut_point(10, Some(1 << 20)), 9);
        assert_eq!(cut_point(0, None), 0);
    }
}
