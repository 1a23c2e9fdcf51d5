//! Deterministic companion of the `ffi` benchmark: runs N capture translations, statically,
//! through the loaded cdylib (`dynamic`), or through the template plugin as shipped with SDK
//! 0.1.0, which this host runs through the compatibility path (`compat_0_1`), so that
//! `valgrind --tool=callgrind` can count instructions (timings on a shared 2-core machine are
//! noisy; instruction counts are not, but they follow the allocator's state: see BENCHMARKS.md,
//! "ABI crossing cost, SDK 0.1 → 0.2").
//!
//! ```sh
//! cargo bench -p renkei-tests --bench ffi_count --no-run
//! # the executable, not the `.d` file next to it (a bare glob passes that as the mode)
//! bin=$(ls -t target/release/deps/ffi_count-* | grep -v '\.d$' | head -1)
//! for m in static dynamic compat_0_1; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null $bin $m 20000 2>&1 | grep refs
//! done
//! ```
//! Subtract a run with N = 0 (setup and loading) from each to get the per-call figure.
//! The modes `static_journal`, `dynamic_journal` and `compat_0_1_journal` add what the 0.2 host
//! also does for every reply: ask the plugin for the reply's journal copy (`journal_reply`).

#[path = "kumopay.rs"]
mod kumopay;

use kumopay::{capture, compat_0_1_instance, ctx, native_instance, reply, values};
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
    // All set up in every mode, so that N = 0 subtracts the same setup.
    let static_gw =
        KumoPay::from_config(&Config::validate(&KumoPay::manifest(), &values).unwrap()).unwrap();
    let (_native, dynamic_gw) = native_instance();
    let (_compat, compat_gw) = compat_0_1_instance();
    let (base, journal) = match mode.strip_suffix("_journal") {
        Some(base) => (base, true),
        None => (mode.as_str(), false),
    };
    let loaded = match base {
        "static" => None,
        "dynamic" => Some(&dynamic_gw),
        "compat_0_1" => Some(&compat_gw),
        other => panic!(
            "unknown mode {other:?}: static, dynamic or compat_0_1, each optionally with _journal"
        ),
    };
    for _ in 0..n {
        match loaded {
            None => {
                let Step::Send(x) = static_gw.prepare(black_box(&op), &ctx).unwrap() else {
                    unreachable!()
                };
                black_box(static_gw.interpret(&op, &ctx, &x.state, &reply).unwrap());
                if journal {
                    black_box(static_gw.journal_reply(&op, &x.state, &reply));
                }
            }
            Some(gw) => {
                let Step::Send(x) = gw.prepare(black_box(&op), &ctx).unwrap() else {
                    unreachable!()
                };
                black_box(gw.interpret(&op, &ctx, &x.state, &reply).unwrap());
                if journal {
                    black_box(gw.redacted_reply(&op, &x.state, &reply));
                }
            }
        }
    }
}
