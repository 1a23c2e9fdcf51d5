//! Cost of the plugin boundary: one capture translation (prepare + interpret) through the
//! template plugin loaded as a cdylib, against the same plugin code linked statically, in one
//! run. Also the time to load a plugin library.
//!
//! `cargo bench -p renkei-tests --bench ffi`

#[path = "kumopay.rs"]
mod kumopay;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use kumopay::{capture, ctx, reply, values};
use renkei_plugin_template::KumoPay;
use renkei_sdk::{Config, Gateway, Step};
use std::time::{Duration, Instant};

fn bench(c: &mut Criterion) {
    let op = capture();
    let ctx = ctx();
    let reply = reply();

    let static_gw =
        KumoPay::from_config(&Config::validate(&KumoPay::manifest(), &values()).unwrap()).unwrap();
    let registry = renkei_tests::registry_of(&["renkei-plugin-template"]);
    let dynamic_gw = renkei_tests::instantiate(&registry, "bench", "kumopay", values());

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
