//! Just enough HTTP/1.1 to serve F-REGI's clients, written against the socket so that faults
//! can misbehave at the byte level: stop mid-body, reset the TCP connection, or hold it open
//! without answering. A framework would hide exactly the failures this emulator must produce.
//!
//! Supported: GET/POST with `Content-Length` or `chunked` bodies, `Expect: 100-continue`,
//! keep-alive (HTTP/1.1 default, HTTP/1.0 on request), pipelining. Request heads are parsed by
//! `httparse`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::clock::http_date;

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted (F-REGI parameters are a few hundred bytes; `csvsalem` more).
const MAX_BODY: usize = 1024 * 1024;

/// A parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Raw query string (after `?`), still percent-encoded.
    pub query: Vec<u8>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The client wants the connection kept open after the response.
    pub keep_alive: bool,
}

/// Why no request could be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The client closed the connection between requests: not an error.
    #[error("connection closed")]
    Closed,
    /// Not HTTP/1.x, or broken framing: answer 400 and close.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// Head or body beyond the limits: answer 431/413 and close.
    #[error("request too large")]
    TooLarge(u16),
    /// Socket error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one request from `io`. `buf` carries bytes already read past the previous request
/// (pipelining); on return it holds whatever follows this request.
pub(crate) async fn read_request<S>(io: &mut S, buf: &mut Vec<u8>) -> Result<Request, ReadError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (head_len, mut request, framing, expect_continue) = loop {
        if let Some(parsed) = parse_head(buf)? {
            break parsed;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::TooLarge(431));
        }
        if read_more(io, buf).await? == 0 {
            return Err(if buf.iter().all(u8::is_ascii_whitespace) {
                ReadError::Closed
            } else {
                ReadError::Malformed("connection closed inside the request head")
            });
        }
    };
    buf.drain(..head_len);

    match framing {
        Framing::None => {}
        Framing::Length(len) => {
            if len > MAX_BODY {
                return Err(ReadError::TooLarge(413));
            }
            if expect_continue && buf.len() < len {
                io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            }
            while buf.len() < len {
                if read_more(io, buf).await? == 0 {
                    return Err(ReadError::Malformed("connection closed inside the body"));
                }
            }
            request.body = buf.drain(..len).collect();
        }
        Framing::Chunked => {
            if expect_continue && buf.is_empty() {
                io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            }
            request.body = loop {
                match dechunk(buf)? {
                    Some((body, used)) => {
                        buf.drain(..used);
                        break body;
                    }
                    None if buf.len() > MAX_BODY + MAX_HEAD => {
                        return Err(ReadError::TooLarge(413));
                    }
                    None => {
                        if read_more(io, buf).await? == 0 {
                            return Err(ReadError::Malformed(
                                "connection closed inside a chunked body",
                            ));
                        }
                    }
                }
            };
        }
    }
    Ok(request)
}

async fn read_more<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.reserve(4096);
    io.read_buf(buf).await
}

enum Framing {
    None,
    Length(usize),
    Chunked,
}

type Head = (usize, Request, Framing, bool);

fn parse_head(buf: &[u8]) -> Result<Option<Head>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ReadError::TooLarge(431)),
        Err(_) => return Err(ReadError::Malformed("unparsable request head")),
    };
    let method = parsed.method.unwrap_or("GET").to_owned();
    let target = parsed.path.unwrap_or("/");
    let http10 = parsed.version == Some(0);

    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut content_type = None;
    let mut connection = String::new();
    let mut expect_continue = false;
    for header in parsed.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        match header.name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let len = value
                    .parse()
                    .map_err(|_| ReadError::Malformed("bad Content-Length"))?;
                if content_length.is_some_and(|l| l != len) {
                    return Err(ReadError::Malformed("conflicting Content-Length"));
                }
                content_length = Some(len);
            }
            "transfer-encoding" => {
                chunked = value
                    .to_ascii_lowercase()
                    .split(',')
                    .map(str::trim)
                    .any(|v| v == "chunked");
                if !chunked {
                    return Err(ReadError::Malformed("unsupported Transfer-Encoding"));
                }
            }
            "content-type" => content_type = Some(value.to_owned()),
            "connection" => connection = value.to_ascii_lowercase(),
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    let framing = match (chunked, content_length) {
        // RFC 9112 §6.3: chunked wins over Content-Length.
        (true, _) => Framing::Chunked,
        (false, Some(0) | None) => Framing::None,
        (false, Some(len)) => Framing::Length(len),
    };
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };

    // Absolute-form targets (`http://host/path`) as proxies send them.
    let target = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, query.as_bytes().to_vec()),
        None => (target, Vec::new()),
    };
    let request = Request {
        method,
        path: path.to_owned(),
        query,
        content_type,
        body: Vec::new(),
        keep_alive,
    };
    Ok(Some((head_len, request, framing, expect_continue)))
}

/// Decodes a complete chunked body at the start of `buf`: `(body, bytes used)`, or `None` when
/// more bytes are needed. Trailers are read and ignored.
fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ReadError> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(line_end) = find_crlf(&buf[pos..]) else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..pos + line_end])
            .map_err(|_| ReadError::Malformed("chunk size"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| ReadError::Malformed("chunk size"))?;
        pos += line_end + 2;
        if size == 0 {
            // Trailer section: lines until an empty one.
            loop {
                let Some(end) = find_crlf(&buf[pos..]) else {
                    return Ok(None);
                };
                pos += end + 2;
                if end == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if size > MAX_BODY || body.len() + size > MAX_BODY {
            return Err(ReadError::TooLarge(413));
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err(ReadError::Malformed("chunk not followed by CRLF"));
        }
        pos += size + 2;
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

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

    /// Status line and headers; `Content-Length` is always the full body length, which is what
    /// lets a truncation fault announce more than it sends.
    pub fn head(&self, keep_alive: bool) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nDate: {}\r\n",
            self.status,
            reason(self.status),
            http_date()
        );
        if let Some(ct) = self.content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        for (name, value) in &self.extra_headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        head.into_bytes()
    }

    /// Head and body in one buffer, so a reply is one write (and usually one segment).
    pub fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let mut bytes = self.head(keep_alive);
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(raw: &[u8]) -> Vec<Result<Request, ReadError>> {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        client.write_all(raw).await.unwrap();
        drop(client.shutdown().await);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let r = read_request(&mut server, &mut buf).await;
            let stop = r.is_err();
            out.push(r);
            if stop {
                break;
            }
        }
        out
    }

    #[tokio::test]
    async fn pipelined_length_and_chunked_bodies() {
        let raw = b"POST /connect/sale.cgi?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\n\r\nA=1&BGET /b HTTP/1.0\r\n\r\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nA=1\r\n2\r\n&B\r\n0\r\nX-Trailer: y\r\n\r\n";
        let results = read_all(raw).await;
        assert_eq!(results.len(), 4);
        let first = results[0].as_ref().unwrap();
        assert_eq!(
            (first.method.as_str(), first.path.as_str()),
            ("POST", "/connect/sale.cgi")
        );
        assert_eq!(first.query, b"x=1");
        assert_eq!(first.body, b"A=1&B");
        assert!(first.keep_alive);
        let second = results[1].as_ref().unwrap();
        assert!(!second.keep_alive, "HTTP/1.0 closes by default");
        assert_eq!(results[2].as_ref().unwrap().body, b"A=1&B");
        assert!(matches!(results[3], Err(ReadError::Closed)));
    }

    #[tokio::test]
    async fn broken_requests_are_refused() {
        assert!(matches!(
            read_all(b"NOT HTTP\r\n\r\n").await[0],
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            read_all(b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").await[0],
            Err(ReadError::TooLarge(413))
        ));
        assert!(matches!(
            read_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").await[0],
            Err(ReadError::Malformed(_))
        ));
    }

    #[test]
    fn head_announces_the_full_length() {
        let response = Response::new(200, Some(FREGI_CONTENT_TYPE), b"OK\n".to_vec());
        let head = String::from_utf8(response.head(true)).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("Content-Type: text/plain; charset=EUC-JP\r\n"));
        assert!(head.contains("Content-Length: 3\r\n"));
        assert!(head.ends_with("Connection: keep-alive\r\n\r\n"));
    }
}
