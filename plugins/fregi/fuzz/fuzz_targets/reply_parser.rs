//! Fuzzes F-REGI reply parsing: any bytes, as the reply of any script under any HTTP status, must
//! give a reply or a typed error, never a panic, and a success only from a first line `OK`.
//!
//! The plugin's own `src/protocol.rs` is compiled in with `#[path]` (it depends on nothing but
//! `std` and `encoding_rs`), so what is fuzzed is exactly what ships; the plugin stays a cdylib.
//!
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run reply_parser -- -max_total_time=60`

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/protocol.rs"]
#[allow(dead_code)] // the request half of the module is not fuzzed here
mod protocol;

use protocol::{Reply, Script, parse_reply};

fuzz_target!(|data: &[u8]| {
    // First byte: which script; second: 2xx or some other status; the rest: the body.
    let [selector, status, body @ ..] = data else {
        return;
    };
    let script = Script::ALL[usize::from(*selector) % Script::ALL.len()];
    let status = if *status < 224 {
        200
    } else {
        100 + u16::from(*status) * 2
    };
    match parse_reply(script, status, body) {
        Ok(Reply::Ok(_)) => {
            assert!((200..=299).contains(&status));
            let (text, _) = encoding_rs::EUC_JP.decode_without_bom_handling(body);
            assert_eq!(text.lines().next().map(str::trim), Some("OK"));
        }
        Ok(Reply::Ng(refusal)) => {
            assert!((200..=299).contains(&status));
            assert!(refusal.code.is_some() || refusal.message.is_some());
        }
        Err(e) => {
            // Every error has a message an operator can read.
            assert!(!e.to_string().is_empty());
        }
    }
});
