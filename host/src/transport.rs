//! Sending a plugin's request description over HTTP. The only place the host touches the network.

use renkei_sdk::{AfterSend, HttpRequest, HttpResponse, Method};
use std::time::Duration;

/// Why no reply came back. Whether the gateway acted is unknown in every case but `Refused`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The connection could not be opened (refused, unreachable, a connect that timed out, a
    /// TLS handshake that failed): the request never left the host.
    #[error("connection could not be opened: {0}")]
    Refused(String),
    /// No complete reply within the timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The connection broke after the request was (perhaps) sent.
    #[error("connection lost: {0}")]
    Lost(String),
    /// The request description itself is unusable (bad URL, bad header).
    #[error("unusable request: {0}")]
    BadRequest(String),
}

impl TransportError {
    /// What this failure was, in the SDK's one vocabulary for reading it
    /// ([`renkei_sdk::AfterSend`]).
    pub fn after_send(&self) -> AfterSend {
        match self {
            TransportError::Refused(_) => AfterSend::NotConnected,
            TransportError::BadRequest(_) => AfterSend::Unsendable,
            TransportError::Timeout(_) => AfterSend::TimedOut,
            // A reply cut mid-body arrives here too: reqwest reports it as a broken connection.
            TransportError::Lost(_) => AfterSend::ConnectionLost,
        }
    }

    /// True when the request certainly did not reach the gateway.
    pub fn certainly_not_sent(&self) -> bool {
        self.after_send().certainly_not_sent()
    }
}

/// An HTTP client with a per-request timeout.
#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
    timeout: Duration,
}

impl Transport {
    pub fn new(timeout: Duration) -> Transport {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // Shorter than the whole deadline, so that a gateway that cannot even be reached
            // is told apart from one that took the request and went silent: the first never
            // saw a byte of the request.
            .connect_timeout((timeout / 2).min(Duration::from_secs(10)))
            // Gateways answer errors with 200 and bodies; redirects would only hide them.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with static settings builds");
        Transport { client, timeout }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| TransportError::BadRequest(format!("URL: {e}")))?;
        let mut builder = self.client.request(method, url);
        for (name, value) in request.headers.iter() {
            builder = builder.header(name, value);
        }
        let reply = builder
            .body(request.body.to_vec())
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = reply.status().as_u16();
        let headers = reply
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = reply.bytes().await.map_err(|e| self.classify(e))?;
        Ok(HttpResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }

    fn classify(&self, e: reqwest::Error) -> TransportError {
        // reqwest's messages carry the URL but never headers or bodies. A connect error comes
        // first: a connect that timed out is also a timeout, but nothing of the request left.
        if e.is_connect() {
            TransportError::Refused(e.to_string())
        } else if e.is_timeout() {
            TransportError::Timeout(self.timeout)
        } else if e.is_builder() {
            TransportError::BadRequest(e.to_string())
        } else {
            TransportError::Lost(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use renkei_sdk::{Bytes, Headers, Text};

    /// A loopback listener that never accepts, its accept queue filled: further connection
    /// attempts get no answer to their SYN, like a black-holed gateway.
    async fn black_hole() -> (tokio::net::TcpListener, Vec<std::net::TcpStream>, String) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut filled = vec![];
        // The kernel completes up to backlog + 1 handshakes on its own; then SYNs are dropped.
        for _ in 0..4 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => filled.push(s),
                Err(_) => break,
            }
        }
        (listener, filled, format!("http://{addr}/api"))
    }

    /// The resolution rule: only a request that never left is "not sent"; a timeout or a
    /// connection lost (a reply cut mid-body included) may have been processed.
    #[test]
    fn only_failures_before_the_request_left_are_not_sent() {
        for (error, after) in [
            (TransportError::Refused("x".into()), AfterSend::NotConnected),
            (
                TransportError::BadRequest("x".into()),
                AfterSend::Unsendable,
            ),
            (
                TransportError::Timeout(Duration::from_secs(1)),
                AfterSend::TimedOut,
            ),
            (TransportError::Lost("x".into()), AfterSend::ConnectionLost),
        ] {
            assert_eq!(error.after_send(), after, "{error:?}");
            assert_eq!(
                error.certainly_not_sent(),
                matches!(
                    error,
                    TransportError::Refused(_) | TransportError::BadRequest(_)
                ),
                "{error:?}"
            );
        }
    }

    /// Breach 9: a connect that timed out never sent a byte of the request, so it is "not
    /// sent", not an unknown outcome (a bulk run against a black-holed gateway must not send
    /// every order to review).
    #[tokio::test]
    async fn breach09_a_connect_that_times_out_is_certainly_not_sent() {
        let (_listener, _filled, url) = black_hole().await;
        let transport = Transport::new(Duration::from_millis(600));
        let request = HttpRequest {
            method: Method::Post,
            url: Text::from(url.as_str()),
            headers: Headers::default(),
            body: Bytes::from(b"x=1".to_vec()),
        };
        let error = transport.send(&request).await.unwrap_err();
        assert!(error.certainly_not_sent(), "{error:?}");
    }
}
