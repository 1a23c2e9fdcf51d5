//! Operators: who may read the shop's orders and act on them, and the name every decision is
//! journaled with.
//!
//! Each operator is configured with a bearer token, an HTTP basic-auth password (the user name
//! is the operator's name), or both. Only SHA-256 digests are kept, from the moment the
//! configuration is read: a secret that is not held cannot reach a log, an error or a panic
//! message. A presented secret is hashed and compared with the digests in constant time, so the
//! time an answer takes says nothing about how much of a guess was right.
//!
//! [`guard`] runs before every `/api/` handler, in this order:
//!
//! 1. no credentials, or wrong ones: **401** `unauthorized`, nothing runs;
//! 2. a request that can change anything (any method but GET and HEAD) without the header
//!    [`CSRF_HEADER`]`: 1`: **403** `csrf_header_missing`. A page on another site can make a
//!    browser send a form POST (with whatever credentials the browser holds for this server),
//!    but it cannot set a custom header without a CORS preflight, which this server never
//!    answers;
//! 3. such a request without `Content-Type: application/json`: **415**. The HTML form encodings
//!    are refused before any handler reads a byte of the body.
//!
//! The operator's name then travels with the request ([`Operator`]); mutating requests are
//! logged with it.

use crate::error::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tracing::Instrument;

/// The header a state-changing request must carry (`X-Renkei-Operator: 1`).
pub const CSRF_HEADER: &str = "x-renkei-operator";

/// The shortest bearer token accepted in the configuration.
pub const MIN_TOKEN_LEN: usize = 16;
/// The shortest basic-auth password accepted in the configuration.
pub const MIN_PASSWORD_LEN: usize = 8;

type Sha = [u8; 32];

fn sha256(secret: &[u8]) -> Sha {
    Sha256::digest(secret).into()
}

/// One configured operator: the name recorded on their actions and the digests of their
/// secrets. `Debug` shows the name and which kinds of credential exist, never a digest.
#[derive(Clone)]
struct Entry {
    name: String,
    token: Option<Sha>,
    password: Option<Sha>,
}

/// The operators of this server.
#[derive(Clone, Default)]
pub struct Operators {
    entries: Vec<Entry>,
}

impl fmt::Debug for Operators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| {
                format!(
                    "{} (token: {}, password: {})",
                    e.name,
                    e.token.is_some(),
                    e.password.is_some()
                )
            }))
            .finish()
    }
}

/// A credential as the configuration gives it: the secret itself (hashed at once) or only its
/// SHA-256 digest in hex, so that the file need not hold the secret.
pub enum Credential {
    Secret(String),
    Sha256Hex(String),
}

/// Why an operator could not be added. Names the operator and the key, never a value.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("an operator needs a non-empty `name` of printable characters without ':'")]
    BadName,
    #[error("operator {0:?} is configured twice")]
    DuplicateName(String),
    #[error("operator {0:?} has neither `token` nor `password`: nobody could act as them")]
    NoCredential(String),
    #[error("operator {name:?}: `{key}` is too short (at least {min} characters)")]
    TooShort {
        name: String,
        key: &'static str,
        min: usize,
    },
    #[error("operator {name:?}: `{key}` is not 64 hexadecimal digits")]
    BadDigest { name: String, key: &'static str },
    #[error(
        "operator {name:?}: this token is already another operator's; actions would be \
         journaled under the wrong name"
    )]
    SharedToken { name: String },
}

fn digest_of(
    name: &str,
    credential: Credential,
    key: &'static str,
    min: usize,
) -> Result<Sha, OperatorError> {
    match credential {
        Credential::Secret(secret) => {
            if secret.chars().count() < min {
                return Err(OperatorError::TooShort {
                    name: name.to_owned(),
                    key,
                    min,
                });
            }
            Ok(sha256(secret.as_bytes()))
        }
        Credential::Sha256Hex(hex) => {
            let bad = || OperatorError::BadDigest {
                name: name.to_owned(),
                key,
            };
            let hex = hex.trim();
            if hex.len() != 64 || !hex.is_ascii() {
                return Err(bad());
            }
            let mut out = [0u8; 32];
            for (i, byte) in out.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
            }
            Ok(out)
        }
    }
}

/// Why a request was not authenticated. The answer never says whether a user name exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// A scheme other than Bearer or Basic, or a header that does not decode.
    Malformed,
    /// Credentials that match no operator.
    Rejected,
}

impl From<AuthFailure> for ApiError {
    fn from(f: AuthFailure) -> ApiError {
        let message = match f {
            AuthFailure::Missing => {
                "operator credentials are required: `Authorization: Bearer <token>` or HTTP \
                 basic auth"
            }
            AuthFailure::Malformed => {
                "the Authorization header is neither `Bearer <token>` nor basic auth"
            }
            AuthFailure::Rejected => "these credentials are not an operator's",
        };
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl Operators {
    pub fn new() -> Operators {
        Operators::default()
    }

    /// Adds an operator. The secrets are hashed here and dropped.
    pub fn add(
        &mut self,
        name: &str,
        token: Option<Credential>,
        password: Option<Credential>,
    ) -> Result<(), OperatorError> {
        let name = name.trim();
        if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
            return Err(OperatorError::BadName);
        }
        if self.entries.iter().any(|e| e.name == name) {
            return Err(OperatorError::DuplicateName(name.to_owned()));
        }
        if token.is_none() && password.is_none() {
            return Err(OperatorError::NoCredential(name.to_owned()));
        }
        let token = token
            .map(|t| digest_of(name, t, "token", MIN_TOKEN_LEN))
            .transpose()?;
        let password = password
            .map(|p| digest_of(name, p, "password", MIN_PASSWORD_LEN))
            .transpose()?;
        if let Some(t) = &token
            && self
                .entries
                .iter()
                .filter_map(|e| e.token.as_ref())
                .any(|other| bool::from(other.ct_eq(t)))
        {
            return Err(OperatorError::SharedToken {
                name: name.to_owned(),
            });
        }
        self.entries.push(Entry {
            name: name.to_owned(),
            token,
            password,
        });
        Ok(())
    }

    /// An operator with a bearer token only (the demo's, the tests').
    pub fn with_token(name: &str, token: &str) -> Result<Operators, OperatorError> {
        let mut ops = Operators::new();
        ops.add(name, Some(Credential::Secret(token.to_owned())), None)?;
        Ok(ops)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The operators' names, for a start banner.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The operator an `Authorization` header belongs to.
    pub fn authenticate(&self, authorization: Option<&HeaderValue>) -> Result<&str, AuthFailure> {
        let value = authorization.ok_or(AuthFailure::Missing)?;
        let value = value.to_str().map_err(|_| AuthFailure::Malformed)?.trim();
        let (scheme, rest) = value.split_once(' ').ok_or(AuthFailure::Malformed)?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if rest.is_empty() {
                return Err(AuthFailure::Malformed);
            }
            let presented = sha256(rest.as_bytes());
            // Every digest is compared, whichever matches.
            let mut found = None;
            for e in &self.entries {
                if let Some(t) = &e.token
                    && bool::from(t.ct_eq(&presented))
                {
                    found = Some(e.name.as_str());
                }
            }
            found.ok_or(AuthFailure::Rejected)
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| AuthFailure::Malformed)?;
            let decoded = String::from_utf8(decoded).map_err(|_| AuthFailure::Malformed)?;
            let (user, password) = decoded.split_once(':').ok_or(AuthFailure::Malformed)?;
            let presented = sha256(password.as_bytes());
            let entry = self.entries.iter().find(|e| e.name == user);
            // An unknown user costs the same comparison as a known one.
            let expected = entry.and_then(|e| e.password).unwrap_or([0xA5; 32]);
            let equal = bool::from(expected.ct_eq(&presented));
            match entry {
                Some(e) if equal && e.password.is_some() => Ok(e.name.as_str()),
                _ => Err(AuthFailure::Rejected),
            }
        } else {
            Err(AuthFailure::Malformed)
        }
    }
}

/// The authenticated operator of a request: the name their decisions are journaled with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only reachable without the guard, i.e. a router assembled by hand without it.
        parts
            .extensions
            .get::<Operator>()
            .cloned()
            .ok_or_else(|| AuthFailure::Missing.into())
    }
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The middleware in front of the API; see the module's documentation for the order of checks.
pub async fn guard(
    State(operators): State<Arc<Operators>>,
    mut req: Request,
    next: Next,
) -> Response {
    let name = match operators.authenticate(req.headers().get(header::AUTHORIZATION)) {
        Ok(name) => name.to_owned(),
        Err(failure) => {
            tracing::info!(
                method = %req.method(),
                path = req.uri().path(),
                ?failure,
                "request refused: not authenticated"
            );
            let mut response = ApiError::from(failure).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                // Bearer, not Basic: a browser would answer Basic with its own login dialog on
                // every failed fetch of the page's script.
                HeaderValue::from_static("Bearer realm=\"renkei-shop\""),
            );
            return response;
        }
    };
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if changes_state(&method) {
        if req.headers().get(CSRF_HEADER).map(HeaderValue::as_bytes) != Some(b"1") {
            tracing::info!(operator = %name, %method, path, "request refused: no {CSRF_HEADER}");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_header_missing",
                "a request that changes anything must carry the header `X-Renkei-Operator: 1`",
            )
            .into_response();
        }
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "a request that changes anything is sent as JSON with \
                 `Content-Type: application/json` (an empty body is fine where none is taken)",
            )
            .into_response();
        }
    }
    req.extensions_mut().insert(Operator(name.clone()));
    let span = tracing::info_span!("operator", operator = %name);
    async move {
        let response = next.run(req).await;
        if changes_state(&method) {
            tracing::info!(%method, path, status = response.status().as_u16(), "operator action");
        }
        response
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Operators {
        let mut ops = Operators::new();
        ops.add(
            "sato",
            Some(Credential::Secret("sato-token-0123456789".into())),
            None,
        )
        .unwrap();
        ops.add(
            "suzuki",
            None,
            Some(Credential::Secret("suzuki-password".into())),
        )
        .unwrap();
        ops
    }

    fn header(v: &str) -> HeaderValue {
        HeaderValue::from_str(v).unwrap()
    }

    fn basic(user: &str, password: &str) -> HeaderValue {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        header(&format!("Basic {b64}"))
    }

    #[test]
    fn a_token_or_a_password_names_its_operator_and_nothing_else_does() {
        let ops = ops();
        assert_eq!(
            ops.authenticate(Some(&header("Bearer sato-token-0123456789"))),
            Ok("sato")
        );
        assert_eq!(
            ops.authenticate(Some(&basic("suzuki", "suzuki-password"))),
            Ok("suzuki")
        );
        assert_eq!(ops.authenticate(None), Err(AuthFailure::Missing));
        for wrong in [
            header("Bearer sato-token-012345678"),
            header("Bearer sato-token-0123456789x"),
            basic("suzuki", "suzuki-passwor"),
            // sato has no password; suzuki's password is not sato's.
            basic("sato", "suzuki-password"),
            basic("nobody", "suzuki-password"),
        ] {
            assert_eq!(
                ops.authenticate(Some(&wrong)),
                Err(AuthFailure::Rejected),
                "{wrong:?}"
            );
        }
        for malformed in ["Bearer", "Token abc", "Basic %%%", "sato-token-0123456789"] {
            assert_eq!(
                ops.authenticate(Some(&header(malformed))),
                Err(AuthFailure::Malformed),
                "{malformed}"
            );
        }
    }

    #[test]
    fn configuration_refuses_what_would_blur_who_acted_and_never_shows_a_secret() {
        let mut o = ops();
        let shared = o.add(
            "tanaka",
            Some(Credential::Secret("sato-token-0123456789".into())),
            None,
        );
        assert!(matches!(shared, Err(OperatorError::SharedToken { .. })));
        assert!(matches!(
            o.add("sato", Some(Credential::Secret("x".repeat(20))), None),
            Err(OperatorError::DuplicateName(_))
        ));
        let short = o
            .add(
                "kato",
                Some(Credential::Secret("short-secret".into())),
                None,
            )
            .unwrap_err();
        assert!(!short.to_string().contains("short-secret"), "{short}");
        assert!(matches!(
            o.add("kato", None, None),
            Err(OperatorError::NoCredential(_))
        ));
        let digest = format!("{:x}", Sha256::digest(b"kato-token-0123456789"));
        o.add("kato", Some(Credential::Sha256Hex(digest)), None)
            .unwrap();
        assert_eq!(
            o.authenticate(Some(&header("Bearer kato-token-0123456789"))),
            Ok("kato")
        );
        let debug = format!("{o:?}");
        assert!(
            debug.contains("sato") && !debug.contains("0123456789"),
            "{debug}"
        );
    }
}
