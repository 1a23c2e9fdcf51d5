//! The stable ABI between the host and plugin libraries. abi_stable appears only in this module:
//! no other crate names its types, so replacing it is a change to `renkei-sdk` alone.
//!
//! Every plugin also exports a plain C handshake symbol naming its SDK version ([`handshake`]),
//! read before abi_stable is touched, so the host can pick the root-module type: its own, or the
//! frozen copy of an older SDK ([`v0_1`]).
//!
//! The root module exported by every plugin holds two functions: `manifest` (JSON) and `create`
//! (config JSON in, gateway object out). The gateway object is a `#[sabi_trait]` object with the
//! two sans-IO calls of the step protocol. Every entry point is wrapped in `catch_unwind` on the
//! plugin side ([`export`]), because a panic that reaches abi_stable's shims exits the process.
#![allow(non_local_definitions, unused_braces)]

pub mod convert;
pub mod export;
pub mod handshake;
pub mod load;
pub mod log;
pub mod types;
pub mod v0_1;

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec},
};
use types::{FfiContext, FfiError, FfiHttpResponse, FfiOperation, FfiStep};

/// The gateway object a plugin hands out: the FFI form of [`crate::Gateway`].
#[sabi_trait]
pub trait FfiGateway: Send + Sync {
    fn prepare(&self, op: &FfiOperation<'_>, ctx: &FfiContext<'_>) -> RResult<FfiStep, FfiError>;

    fn interpret(
        &self,
        op: &FfiOperation<'_>,
        ctx: &FfiContext<'_>,
        state: RSlice<'_, u8>,
        reply: &FfiHttpResponse<'_>,
    ) -> RResult<FfiStep, FfiError>;

    /// Since 0.2: the journal copy of a reply (`Gateway::journal_reply`): `None` for the body
    /// as received, else the redacted body.
    #[sabi(last_prefix_field)]
    fn journal_reply(
        &self,
        op: &FfiOperation<'_>,
        state: RSlice<'_, u8>,
        reply: &FfiHttpResponse<'_>,
    ) -> RResult<ROption<RVec<u8>>, FfiError>;
}

pub type FfiGatewayBox = FfiGateway_TO<'static, RBox<()>>;

/// The root module every plugin library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// The manifest as JSON.
    pub manifest: extern "C" fn() -> RResult<RString, FfiError>,
    /// Builds a gateway instance from validated config JSON; `log` forwards the plugin's
    /// `tracing` output to the host.
    #[sabi(last_prefix_field)]
    pub create:
        extern "C" fn(log: log::HostLog, config_json: RStr<'_>) -> RResult<FfiGatewayBox, FfiError>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "renkei_plugin";
    const NAME: &'static str = "renkei_plugin";
    /// The ABI version is the `renkei-sdk` package version.
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The symbol abi_stable looks for; `export_gateway!` writes a static by this name by hand so that
/// plugin crates need no direct abi_stable dependency.
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

#[cfg(test)]
mod tests {
    #[test]
    fn the_hand_written_export_symbol_is_the_one_abi_stable_loads() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            super::ROOT_MODULE_SYMBOL
        );
    }
}
