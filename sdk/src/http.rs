//! Descriptions of HTTP exchanges. Plugins build and read them; only the host sends them.

use crate::{Bytes, Headers, Text};
use std::fmt;

/// The HTTP methods gateway protocols use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for the host to send. The body is bytes because gateways speak Shift_JIS, EUC-JP or
/// form encoding, which only the plugin understands.
///
/// `Debug` never prints header values or the body: they may hold credentials (SBPS Basic auth)
/// or card data. Use [`HttpRequest::redacted`] for journals.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: Text,
    pub headers: Headers,
    pub body: Bytes,
}

impl HttpRequest {
    pub fn new(method: Method, url: impl Into<Text>) -> HttpRequest {
        HttpRequest {
            method,
            url: url.into(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    pub fn header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> HttpRequest {
        self.headers.push(name, value);
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> HttpRequest {
        self.body = body.into();
        self
    }

    /// A copy safe to journal: `Authorization` and `Cookie` values replaced. Bodies are the
    /// plugin's business to redact (see `Exchange::journal_body`).
    pub fn redacted_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                let secret = k.eq_ignore_ascii_case("authorization")
                    || k.eq_ignore_ascii_case("cookie")
                    || k.eq_ignore_ascii_case("proxy-authorization");
                (
                    k.to_owned(),
                    if secret {
                        crate::Secret::PLACEHOLDER
                    } else {
                        v
                    }
                    .to_owned(),
                )
            })
            .collect()
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A reply as the host received it.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// The copy of a reply the host journals and shows operators, as the plugin decides it.
///
/// Replies can carry what must not rest in a journal in clear: a per-transaction secret the
/// gateway hands out (GMO-PG's `AccessPass`), card data. Only the plugin can read the gateway's
/// format, so only it can cut them out, as it already does for request bodies
/// ([`crate::Exchange::journal_body`]). The redacted copy must keep the reply's shape (replace
/// values, do not drop fields): the host may hand a journaled reply back to `interpret` to read
/// the payment's state from it, and shows it to an operator deciding a review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyCopy {
    /// Journal the body as received: it holds nothing secret.
    AsReceived,
    /// Journal this body instead, in the reply's own encoding.
    Redacted(Bytes),
}
