//! The one capture both FFI benchmarks translate (`ffi` times it, `ffi_count` counts its
//! instructions): the template plugin's settings, the operation, its context and the reply; and
//! the loaded instances that translate it across the boundary.

use renkei_host::{GatewayInstance, PluginRegistry};
use renkei_sdk::abi::load::Abi;
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

/// A kumopay instance of the template plugin library at `path`, checked to run as `abi`, with the
/// registry that holds its library.
fn instance(path: &std::path::Path, abi: Abi) -> (PluginRegistry, GatewayInstance) {
    let mut registry = PluginRegistry::new();
    let plugin = registry.load_file(path).unwrap();
    assert_eq!(plugin.abi(), abi, "{}", path.display());
    let instance = renkei_tests::instantiate(&registry, "bench", "kumopay", values());
    (registry, instance)
}

/// Today's template plugin (SDK 0.2), loaded as a cdylib: the native path.
pub fn native_instance() -> (PluginRegistry, GatewayInstance) {
    instance(
        &renkei_tests::plugin_path("renkei-plugin-template"),
        Abi::Native,
    )
}

/// The template plugin as shipped with SDK 0.1.0 (`compat/`, release build), loaded by this host
/// through the compatibility path (`sdk/src/abi/v0_1.rs`).
pub fn compat_0_1_instance() -> (PluginRegistry, GatewayInstance) {
    instance(renkei_tests::compat_0_1_release_template(), Abi::V0_1)
}
