//! Cost of translating an F-REGI capture through the plugin loaded as a cdylib: form encoding,
//! continuation (de)serialisation, EUC-JP decoding and reply parsing, plus the plugin boundary.
//! No network: replies are recorded bytes.
//!
//! - `sale`: capture at the authorized amount (prepare + interpret: one exchange);
//! - `authchange_then_sale`: capture at a changed amount (F-2: prepare, interpret the authchange
//!   reply into the sale request, interpret the sale reply);
//! - `already_captured`: the sale refused with the seed manual's EUC-JP message (F-10).
//!
//! `cargo bench -p renkei-tests --bench fregi`

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use renkei_sdk::{
    ConfigValue, Context, HttpResponse, Money, Operation, OrderRef, Step, TransactionRef,
};
use std::collections::BTreeMap;

const OLD: &str = "00000000000001287483";
const NEW: &str = "00000000000001287484";

fn capture(amount: Option<i64>) -> Operation {
    Operation::Capture {
        order: OrderRef::new("100000924506"),
        transaction: TransactionRef::new(OLD),
        authorized: Money::jpy(1080),
        amount: amount.map(Money::jpy),
    }
}

fn bench(c: &mut Criterion) {
    let registry = renkei_tests::registry_of(&["renkei-plugin-fregi"]);
    let values: BTreeMap<String, ConfigValue> = [
        ("base_url", "http://127.0.0.1:9/connect/"),
        ("shop_id", "12345"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v.to_owned())))
    .collect();
    let gateway = renkei_tests::instantiate(&registry, "bench", "fregi", values);
    let ctx = Context::fixed(1_700_000_000_000, "100000924506:capture:1");
    let sold_old = HttpResponse::new(200, format!("OK\n{OLD}\n").into_bytes());
    let changed = HttpResponse::new(200, format!("OK\n{NEW}\nEHcUBW\n").into_bytes());
    let sold_new = HttpResponse::new(200, format!("OK\n{NEW}\n").into_bytes());
    // NG / S1-1-121(売上処理時の指定された取引は売上受付済みです), EUC-JP.
    let mut already = b"NG\nS1-1-121(".to_vec();
    already.extend_from_slice(b"\xc7\xe4\xbe\xe5\xbd\xe8\xcd\xfd\xbb\xfe\xa4\xce\xbb\xd8\xc4\xea\xa4\xb5\xa4\xec\xa4\xbf\xbc\xe8\xb0\xfa\xa4\xcf\xc7\xe4\xbe\xe5\xbc\xf5\xc9\xd5\xba\xd1\xa4\xdf\xa4\xc7\xa4\xb9");
    already.extend_from_slice(b")\n");
    let already = HttpResponse::new(200, already);

    let send = |step: Step| match step {
        Step::Send(x) => x,
        Step::Done(_) => unreachable!("a request was expected"),
    };

    let mut group = c.benchmark_group("fregi_capture_translation");
    let plain = capture(None);
    group.bench_function("sale", |b| {
        b.iter(|| {
            let x = send(gateway.prepare(black_box(&plain), &ctx).unwrap());
            black_box(
                gateway
                    .interpret(&plain, &ctx, &x.state, black_box(&sold_old))
                    .unwrap(),
            )
        })
    });
    let changed_op = capture(Some(1500));
    group.bench_function("authchange_then_sale", |b| {
        b.iter(|| {
            let first = send(gateway.prepare(black_box(&changed_op), &ctx).unwrap());
            let second = send(
                gateway
                    .interpret(&changed_op, &ctx, &first.state, black_box(&changed))
                    .unwrap(),
            );
            black_box(
                gateway
                    .interpret(&changed_op, &ctx, &second.state, black_box(&sold_new))
                    .unwrap(),
            )
        })
    });
    group.bench_function("already_captured", |b| {
        b.iter(|| {
            let x = send(gateway.prepare(black_box(&plain), &ctx).unwrap());
            black_box(
                gateway
                    .interpret(&plain, &ctx, &x.state, black_box(&already))
                    .unwrap_err(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
