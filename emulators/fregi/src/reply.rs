//! The replies the F-REGI emulator writes, before they become hyper responses: F-REGI's own
//! EUC-JP text, JSON for the control surface, and the web server's HTML error pages.

use renkei_emulator_kit::hyper::StatusCode;
use renkei_emulator_kit::hyper::header::{CONNECTION, HeaderName, HeaderValue};
use renkei_emulator_kit::{HttpResponse, reply};

/// A response about to be written.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub extra_headers: Vec<(&'static str, String)>,
}

/// The Content-Type of every F-REGI reply [PROP: undocumented publicly].
pub(crate) const FREGI_CONTENT_TYPE: &str = "text/plain; charset=EUC-JP";

impl Response {
    pub fn new(status: u16, content_type: Option<&'static str>, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type,
            body,
            extra_headers: Vec::new(),
        }
    }

    pub fn json(status: u16, value: &impl serde::Serialize) -> Response {
        let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
        body.push(b'\n');
        Response::new(status, Some("application/json"), body)
    }

    pub fn empty(status: u16) -> Response {
        Response::new(status, None, Vec::new())
    }

    /// A small HTML error page, as a web server in front of CGI scripts would send.
    pub fn html_error(status: u16) -> Response {
        let reason = reason(status);
        let body = format!(
            "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>{status} {reason}</title>\n</head><body>\n<h1>{reason}</h1>\n</body></html>\n"
        );
        Response::new(
            status,
            Some("text/html; charset=iso-8859-1"),
            body.into_bytes(),
        )
    }

    /// The hyper response; `Content-Length` is always the full body length, which is what lets a
    /// truncation fault announce more than it sends. `close` asks hyper to close the connection
    /// after it.
    pub fn into_http(self, close: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = reply(status, self.content_type, self.body);
        let headers = response.headers_mut();
        for (name, value) in self.extra_headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.append(name, value);
            }
        }
        if close {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// The reason phrase of the error pages' text.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
