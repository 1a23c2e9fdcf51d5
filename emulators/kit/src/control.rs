//! The framing of the control surface every emulator serves under [`CONTROL_PREFIX`], outside
//! every path the gateway serves so that no client reaches it by accident: routing by method
//! and path segments, JSON bodies in, JSON answers and `{"error": "..."}` out. What each route
//! does (faults, clock, tool actions, the book) stays with its emulator.

use bytes::Bytes;
use hyper::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::reply;
use crate::server::HttpResponse;

/// Prefix of the emulators' own control endpoints.
pub const CONTROL_PREFIX: &str = "/__emulator__";

/// The route under [`CONTROL_PREFIX`], or `None` if `path` is not a control path. The route
/// keeps its leading `/` (`""` for the index).
pub fn control_route(path: &str) -> Option<&str> {
    path.strip_prefix(CONTROL_PREFIX)
}

/// The route's non-empty path segments: `/faults/3` is `["faults", "3"]`.
pub fn segments(route: &str) -> Vec<&str> {
    route.split('/').filter(|s| !s.is_empty()).collect()
}

/// A JSON answer, pretty-printed.
pub fn json(status: StatusCode, value: &impl Serialize) -> HttpResponse {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    reply(status, Some("application/json"), body)
}

/// `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    json(status, &serde_json::json!({ "error": message.into() }))
}

/// Answers with `f` of the parsed JSON body, or with a 400 if the body does not parse as `T`.
pub fn with_json<T: DeserializeOwned>(
    body: &Bytes,
    f: impl FnOnce(T) -> HttpResponse,
) -> HttpResponse {
    match serde_json::from_slice::<T>(body) {
        Ok(value) => f(value),
        Err(e) => json_error(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_segments() {
        assert_eq!(control_route("/__emulator__/faults/3"), Some("/faults/3"));
        assert_eq!(control_route("/__emulator__"), Some(""));
        assert_eq!(control_route("/api/xmlapi.do"), None);
        assert_eq!(segments("/faults/3/"), ["faults", "3"]);
        assert!(segments("").is_empty());
    }

    #[test]
    fn bad_json_is_a_400_with_an_error_document() {
        let answer = |n: u32| json(StatusCode::CREATED, &n);
        let refused = with_json(&Bytes::from_static(b"{"), answer);
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let taken = with_json(&Bytes::from_static(b"7"), answer);
        assert_eq!(taken.status(), StatusCode::CREATED);
    }
}
