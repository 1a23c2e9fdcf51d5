//! Deterministic companion of the `ffi` benchmark: runs N capture translations, statically or
//! through the loaded cdylib, so that `valgrind --tool=callgrind` can count instructions (timings
//! on a shared 2-core machine are noisy; instruction counts are not).
//!
//! ```sh
//! cargo bench -p renkei-tests --bench ffi_count --no-run
//! for m in static dynamic; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/deps/ffi_count-* $m 20000 2>&1 | grep refs
//! done
//! ```
//! Subtract a run with N = 0 (setup and loading) from each to get the per-call figure.

#[path = "kumopay.rs"]
mod kumopay;

use kumopay::{capture, ctx, reply, values};
use renkei_plugin_template::KumoPay;
use renkei_sdk::{Config, Gateway, Step};
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mode = args.next().unwrap_or_else(|| "static".into());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let values = values();
    let op = capture();
    let ctx = ctx();
    let reply = reply();
    // Both set up in every mode, so that N = 0 subtracts the same setup.
    let static_gw =
        KumoPay::from_config(&Config::validate(&KumoPay::manifest(), &values).unwrap()).unwrap();
    let registry = renkei_tests::registry_of(&["renkei-plugin-template"]);
    let dynamic_gw = renkei_tests::instantiate(&registry, "bench", "kumopay", values);
    for _ in 0..n {
        match mode.as_str() {
            "static" => {
                let Step::Send(x) = static_gw.prepare(black_box(&op), &ctx).unwrap() else {
                    unreachable!()
                };
                black_box(static_gw.interpret(&op, &ctx, &x.state, &reply).unwrap());
            }
            _ => {
                let Step::Send(x) = dynamic_gw.prepare(black_box(&op), &ctx).unwrap() else {
                    unreachable!()
                };
                black_box(dynamic_gw.interpret(&op, &ctx, &x.state, &reply).unwrap());
            }
        }
    }
}
