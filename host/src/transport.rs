//! Sending a plugin's request description over HTTP. The only place the host touches the network.

use renkei_sdk::{HttpRequest, HttpResponse, Method};
use std::time::Duration;

/// Why no reply came back. Whether the gateway acted is unknown in every case but `Refused`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The connection could not be opened: the request never left the host.
    #[error("connection refused or unreachable: {0}")]
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
    /// True when the request certainly did not reach the gateway.
    pub fn certainly_not_sent(&self) -> bool {
        matches!(
            self,
            TransportError::Refused(_) | TransportError::BadRequest(_)
        )
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
            .connect_timeout(timeout.min(Duration::from_secs(10)))
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
        // reqwest's messages carry the URL but never headers or bodies.
        if e.is_timeout() {
            TransportError::Timeout(self.timeout)
        } else if e.is_connect() {
            TransportError::Refused(e.to_string())
        } else if e.is_builder() {
            TransportError::BadRequest(e.to_string())
        } else {
            TransportError::Lost(e.to_string())
        }
    }
}
