//! The one capture both FFI benchmarks translate (`ffi` times it, `ffi_count` counts its
//! instructions): the template plugin's settings, the operation, its context and the reply.

use renkei_sdk::{ConfigValue, Context, HttpResponse, Money, Operation, OrderRef, TransactionRef};
use std::collections::BTreeMap;

pub fn values() -> BTreeMap<String, ConfigValue> {
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

pub fn capture() -> Operation {
    Operation::Capture {
        order: OrderRef::new("100000924506"),
        transaction: TransactionRef::new("pay_1"),
        authorized: Money::jpy(1080),
        amount: Some(Money::jpy(980)),
    }
}

pub fn ctx() -> Context<'static> {
    Context::fixed(1_700_000_000_000, "100000924506:capture:1")
}

pub fn reply() -> HttpResponse {
    HttpResponse::new(
        200,
        br#"{"id":"pay_1","status":"captured","currency":"JPY","amount":1080,"captured":980,"refunded":0}"#
            .to_vec(),
    )
}
