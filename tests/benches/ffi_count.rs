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

use renkei_host::{GatewaySection, PluginRegistry};
use renkei_plugin_template::KumoPay;
use renkei_sdk::{
    Config, ConfigValue, Context, Gateway, HttpResponse, Money, Operation, OrderRef, Step,
    TransactionRef,
};
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mode = args.next().unwrap_or_else(|| "static".into());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let values: std::collections::BTreeMap<_, _> = [
        ("endpoint", "http://127.0.0.1:9/v1"),
        ("merchant_id", "m_1"),
        ("api_key", "ak_bench"),
        ("signing_key", "sk_bench"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v.to_owned())))
    .collect();
    let op = Operation::Capture {
        order: OrderRef::new("100000924506"),
        transaction: TransactionRef::new("pay_1"),
        authorized: Money::jpy(1080),
        amount: Some(Money::jpy(980)),
    };
    let ctx = Context::fixed(1_700_000_000_000, "100000924506:capture:1");
    let reply = HttpResponse::new(
        200,
        br#"{"id":"pay_1","status":"captured","currency":"JPY","amount":1080,"captured":980,"refunded":0}"#
            .to_vec(),
    );
    // Both set up in every mode, so that N = 0 subtracts the same setup.
    let static_gw =
        KumoPay::from_config(&Config::validate(&KumoPay::manifest(), &values).unwrap()).unwrap();
    let mut registry = PluginRegistry::new();
    registry
        .load_file(&renkei_tests::plugin_path("renkei-plugin-template"))
        .unwrap();
    let dynamic_gw = registry
        .instantiate(
            "bench",
            &GatewaySection {
                plugin: "kumopay".into(),
                values,
            },
        )
        .unwrap();
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
