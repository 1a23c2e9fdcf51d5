//! Fuzzes the SBPS reply parser: whatever bytes come back from the network, the plugin must
//! answer a typed result, never panic (a panic in a plugin is caught by the SDK, but it is still
//! a bug), never loop, never allocate without bound.
//!
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run reply_parser -- -max_total_time=60` from `plugins/sbps`.

#![no_main]

// Only the reply side is exercised; the request builders are unused here.
#[allow(dead_code)]
#[path = "../../src/protocol.rs"]
mod protocol;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    protocol::fuzz_reply(data);
});
