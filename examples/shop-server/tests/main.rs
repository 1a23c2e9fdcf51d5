//! The example shop server over HTTP: the JSON API with a real client, and the operator page in
//! a real headless Chromium. One binary (each file in `tests/` would relink everything).

mod support;

/// Every endpoint, the typed 4xx answers, and that a refused request changes nothing.
mod api;

/// The operator page, driven in headless Chromium.
mod browser;
