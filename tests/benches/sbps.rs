//! Cost of SBPS translation through the loaded cdylib: building requests (Shift_JIS XML, SHA-1
//! `sps_hashcode`) and parsing recorded replies, with no network.
//!
//! - `sbps_capture/two_exchanges`: a whole capture, as the plugin runs it: prepare (MG01 inquiry),
//!   interpret the inquiry reply (builds the sales request), interpret the sales reply.
//! - `sbps_capture/one_exchange`: one request and one reply (an inquiry), the unit cost.
//!
//! `cargo bench -p renkei-tests --bench sbps`

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use renkei_sdk::{
    ConfigValue, Context, HttpResponse, Money, Operation, OrderRef, Step, TransactionRef,
};
use std::collections::BTreeMap;

fn values() -> BTreeMap<String, ConfigValue> {
    [
        ("endpoint", "http://127.0.0.1:9/api/xmlapi.do"),
        ("merchant_id", "99999"),
        ("service_id", "001"),
        ("hash_key", "TESTHASHKEY0123456789"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v.to_owned())))
    .collect()
}

fn sjis_reply(body: &str) -> HttpResponse {
    // The recorded replies are ASCII, so their UTF-8 bytes are their Shift_JIS bytes.
    HttpResponse::new(200, body.as_bytes().to_vec())
}

fn inquiry_reply() -> HttpResponse {
    sjis_reply(
        "<?xml version='1.0' encoding='Shift_JIS' ?>\n<sps-api-response id=\"MG01-00101-101\">\n  <res_result>OK</res_result>\n  <res_sps_transaction_id>C99999001MG010010110100000000003</res_sps_transaction_id>\n  <res_status>0</res_status>\n  <res_pay_method_info>\n    <res_pay_method_info_detail>\n      <cc_expiration>203012</cc_expiration>\n      <dealings_type>10</dealings_type>\n      <divide_times/>\n      <bonus_details_times/>\n    </res_pay_method_info_detail>\n    <cc_company_code>99665</cc_company_code>\n    <cardbrand_code/>\n    <recognized_no>123456</recognized_no>\n    <commit_status>1</commit_status>\n    <payment_status>1</payment_status>\n  </res_pay_method_info>\n  <res_process_date>20240102030406</res_process_date>\n  <res_err_code/>\n  <res_date>20240102030406</res_date>\n</sps-api-response>\n",
    )
}

fn sales_reply() -> HttpResponse {
    sjis_reply(
        "<?xml version='1.0' encoding='Shift_JIS' ?>\n<sps-api-response id=\"ST02-00201-101\">\n  <res_result>OK</res_result>\n  <res_sps_transaction_id>C99999001ST020020110100000000004</res_sps_transaction_id>\n  <res_process_date>20240102000000</res_process_date>\n  <res_err_code/>\n  <res_date>20240102030406</res_date>\n</sps-api-response>\n",
    )
}

fn bench(c: &mut Criterion) {
    let registry = renkei_tests::registry_of(&["renkei-plugin-sbps"]);
    let gw = renkei_tests::instantiate(&registry, "bench", "sbps", values());
    let ctx = Context::fixed(1_704_132_245_000, "100000924506:capture:1");
    let capture = Operation::Capture {
        order: OrderRef::new("100000924506"),
        transaction: TransactionRef::new("00000000000001"),
        authorized: Money::jpy(1080),
        amount: Some(Money::jpy(980)),
    };
    let inquire = Operation::Inquire {
        order: OrderRef::new("100000924506"),
        transaction: TransactionRef::new("00000000000001"),
    };
    let (inquiry, sales) = (inquiry_reply(), sales_reply());

    // Check once that the recorded replies drive the capture to its end.
    let Step::Send(x) = gw.prepare(&capture, &ctx).unwrap() else {
        panic!("capture starts with a request")
    };
    let Step::Send(x) = gw.interpret(&capture, &ctx, &x.state, &inquiry).unwrap() else {
        panic!("the inquiry leads to the sale")
    };
    assert!(matches!(
        gw.interpret(&capture, &ctx, &x.state, &sales).unwrap(),
        Step::Done(_)
    ));

    let mut group = c.benchmark_group("sbps_capture");
    group.bench_function("two_exchanges", |b| {
        b.iter(|| {
            let Step::Send(x) = gw.prepare(black_box(&capture), &ctx).unwrap() else {
                unreachable!()
            };
            let Step::Send(x) = gw
                .interpret(&capture, &ctx, &x.state, black_box(&inquiry))
                .unwrap()
            else {
                unreachable!()
            };
            black_box(
                gw.interpret(&capture, &ctx, &x.state, black_box(&sales))
                    .unwrap(),
            )
        })
    });
    group.bench_function("one_exchange", |b| {
        b.iter(|| {
            let Step::Send(x) = gw.prepare(black_box(&inquire), &ctx).unwrap() else {
                unreachable!()
            };
            black_box(
                gw.interpret(&inquire, &ctx, &x.state, black_box(&inquiry))
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
