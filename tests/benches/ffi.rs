//! Cost of the plugin boundary: one capture translation (prepare + interpret) through the
//! template plugin loaded as a cdylib, against the same plugin code linked statically, and
//! through the template plugin as shipped with SDK 0.1.0, which this host runs through the
//! compatibility path, all in one run. Also the time to load a plugin library, native and 0.1.0.
//!
//! `cargo bench -p renkei-tests --bench ffi`

#[path = "kumopay.rs"]
mod kumopay;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use kumopay::{capture, compat_0_1_instance, ctx, native_instance, reply, values};
use renkei_plugin_template::KumoPay;
use renkei_sdk::{Config, Gateway, Step};
use std::path::Path;
use std::time::{Duration, Instant};

fn bench(c: &mut Criterion) {
    let op = capture();
    let ctx = ctx();
    let reply = reply();

    let static_gw =
        KumoPay::from_config(&Config::validate(&KumoPay::manifest(), &values()).unwrap()).unwrap();
    let (_native, dynamic_gw) = native_instance();
    let (_compat, compat_gw) = compat_0_1_instance();

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
    for (name, gw) in [
        ("dynamic_cdylib", &dynamic_gw),
        ("compat_0_1_cdylib", &compat_gw),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let Step::Send(x) = gw.prepare(black_box(&op), &ctx).unwrap() else {
                    unreachable!()
                };
                black_box(
                    gw.interpret(&op, &ctx, &x.state, black_box(&reply))
                        .unwrap(),
                )
            })
        });
    }
    group.finish();

    load_times(
        "native",
        &renkei_tests::plugin_path("renkei-plugin-template"),
    );
    load_times(
        "0.1.0 via compat",
        renkei_tests::compat_0_1_release_template(),
    );
}

/// Prints the time to load the plugin library at `src`, over 20 fresh copies.
fn load_times(label: &str, src: &Path) {
    // Each copy is a distinct file, so the dynamic loader really maps it.
    let dir = std::env::temp_dir().join(format!("renkei-bench-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut times: Vec<Duration> = (0..20)
        .map(|i| {
            let path = dir.join(format!("libkumo{i}.{}", std::env::consts::DLL_EXTENSION));
            std::fs::copy(src, &path).unwrap();
            let start = Instant::now();
            let plugin = renkei_host::loader::load_file(&path).unwrap();
            let took = start.elapsed();
            black_box(plugin);
            took
        })
        .collect();
    times.sort();
    println!(
        "plugin load, {label} (open + version + layout check + manifest), 20 fresh copies: \
         median {:?}, min {:?}, max {:?}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
