//! Cost of the plugin boundary: one capture translation (prepare + interpret) through the
//! template plugin loaded as a cdylib, against the same plugin code linked statically, in one
//! run. Also the time to load a plugin library.
//!
//! `cargo bench -p renkei-tests --bench ffi`

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use renkei_host::{GatewaySection, PluginRegistry};
use renkei_plugin_template::KumoPay;
use renkei_sdk::{
    Config, ConfigValue, Context, Gateway, HttpResponse, Money, Operation, OrderRef, Step,
    TransactionRef,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn values() -> BTreeMap<String, ConfigValue> {
    [
        ("endpoint", "http://127.0.0.1:9/v1"),
        ("merchant_id", "m_1"),
        ("api_key", "ak_bench"),
        ("signing_key", "sk_bench"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v.to_owned())))
    .collect()
}

fn capture() -> Operation {
    Operation::Capture {
        order: OrderRef::new("100000924506"),
        transaction: TransactionRef::new("pay_1"),
        authorized: Money::jpy(1080),
        amount: Some(Money::jpy(980)),
    }
}

fn reply() -> HttpResponse {
    HttpResponse::new(
        200,
        br#"{"id":"pay_1","status":"captured","currency":"JPY","amount":1080,"captured":980,"refunded":0}"#
            .to_vec(),
    )
}

fn bench(c: &mut Criterion) {
    let op = capture();
    let ctx = Context::fixed(1_700_000_000_000, "100000924506:capture:1");
    let reply = reply();

    let static_gw =
        KumoPay::from_config(&Config::validate(&KumoPay::manifest(), &values()).unwrap()).unwrap();
    let mut registry = PluginRegistry::new();
    registry
        .load_file(&renkei_tests::plugin_path("renkei-plugin-template"))
        .unwrap();
    let dynamic_gw = registry
        .instantiate(
            "bench",
            &GatewaySection {
                plugin: "kumopay".into(),
                values: values(),
            },
        )
        .unwrap();

    let mut group = c.benchmark_group("capture_translation");
    group.bench_function("static", |b| {
        b.iter(|| {
            let Step::Send(x) = static_gw.prepare(black_box(&op), &ctx).unwrap() else {
                unreachable!()
            };
            black_box(
                static_gw
                    .interpret(&op, &ctx, &x.state, black_box(&reply))
                    .unwrap(),
            )
        })
    });
    group.bench_function("dynamic_cdylib", |b| {
        b.iter(|| {
            let Step::Send(x) = dynamic_gw.prepare(black_box(&op), &ctx).unwrap() else {
                unreachable!()
            };
            black_box(
                dynamic_gw
                    .interpret(&op, &ctx, &x.state, black_box(&reply))
                    .unwrap(),
            )
        })
    });
    group.finish();

    // Loading: each copy is a distinct file, so the dynamic loader really maps it.
    let src = renkei_tests::plugin_path("renkei-plugin-template");
    let dir = std::env::temp_dir().join(format!("renkei-bench-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut times: Vec<Duration> = (0..20)
        .map(|i| {
            let path = dir.join(format!("libkumo{i}.{}", std::env::consts::DLL_EXTENSION));
            std::fs::copy(&src, &path).unwrap();
            let start = Instant::now();
            let plugin = renkei_host::loader::load_file(&path).unwrap();
            let took = start.elapsed();
            black_box(plugin);
            took
        })
        .collect();
    times.sort();
    println!(
        "plugin load (open + version + layout check + manifest), 20 fresh copies: \
         median {:?}, min {:?}, max {:?}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
