//! # renkei-sdk
//!
//! The contract between Renkei's host and its payment-gateway plugins.
//!
//! A plugin author implements [`Gateway`] with ordinary Rust types and exports it with
//! [`export_gateway!`]. The plugin is a **pure translator** (sans-IO): it turns an [`Operation`]
//! into an HTTP request description and an HTTP reply into a typed [`Outcome`] or
//! [`GatewayError`]. Operations that need several exchanges use the step protocol of [`Step`]:
//! "send this, then call me back with the reply and this state". The host performs and journals
//! every exchange.
//!
//! The [`abi`] module holds the stable ABI (abi_stable) that the macro targets; plugin code never
//! needs to name its types.

pub mod abi;
mod buf;
mod config;
mod context;
mod error;
mod gateway;
mod handle;
mod http;
mod ids;
mod manifest;
mod money;
mod operation;
mod secret;
mod sent;
mod state;
mod step;
mod table;
pub mod testing;
pub mod wire;

pub use buf::{Bytes, Headers, Text};
pub use config::{Config, ConfigError, ConfigValue};
pub use context::{Context, PaymentDates, Timestamp};
pub use error::{Effect, ErrorKind, GatewayError, MultiError};
pub use gateway::Gateway;
pub use handle::Handle;
pub use http::{HttpRequest, HttpResponse, Method, ReplyCopy};
pub use ids::{CustomerRef, OrderIdRules, OrderRef, TransactionRef, attempt_tag};
pub use manifest::{
    AmountChange, Capabilities, ConfigKey, ConfigKind, ErrorEntry, Inquiry, Limits, Manifest,
    ManifestError, PartialCapture, PartialRefund, RequestExpiry, StatusEntry, error_entry,
};
pub use money::{Currency, Money};
pub use operation::{CardData, Operation, OperationKind, PaymentSource};
pub use secret::Secret;
pub use sent::{AfterSend, failed_exchange_effect, is_refusal};
pub use state::{PaymentState, RefundExtent, Settlement};
pub use step::{Exchange, Outcome, Step, StepEffect, decode_state};
pub use table::{
    code_kinds, error_from_codes, error_from_codes_by, error_row, state_by_code, status_entry,
    status_row,
};

/// The SDK (and ABI) version this crate was built as.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// [`SDK_VERSION`] parsed.
pub fn sdk_version() -> semver::Version {
    semver::Version::parse(SDK_VERSION).expect("the crate version is semver")
}

/// Re-exports the export macro needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::abi::export::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult, root_module,
    };
}

/// Exports a [`Gateway`] implementation as a Renkei plugin library.
///
/// Use it once, in a crate built with `crate-type = ["cdylib"]`:
///
/// ```ignore
/// renkei_sdk::export_gateway!(MyGateway);
/// ```
///
/// It writes the root-module symbol abi_stable loads (so the plugin crate needs no abi_stable
/// dependency) and the plain C handshake symbol the host reads the SDK version from first
/// ([`abi::handshake`]), and refuses to compile with `panic = "abort"`, under which a plugin panic could
/// not be caught and would take the host down.
#[macro_export]
macro_rules! export_gateway {
    ($gateway:ty) => {
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #[unsafe(no_mangle)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader = {
            extern "C" fn __renkei_root_module() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(
                    $crate::__private::root_module::<$gateway>,
                )
            }
            // SAFETY: the constructor returns the SDK's own `PluginModuleRef`, the type named here.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::abi::PluginModuleRef>(
                    __renkei_root_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };

        // The SDK version this plugin was built against, in the never-changing C layout the
        // host reads before anything else (`renkei_sdk::abi::handshake`, docs/abi.md).
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #[unsafe(no_mangle)]
        pub static renkei_plugin_handshake: $crate::abi::handshake::Handshake =
            $crate::abi::handshake::THIS_SDK;

        #[cfg(not(panic = "unwind"))]
        compile_error!(
            "Renkei plugins must be built with panic = \"unwind\": the SDK catches a plugin's \
             panics and returns them to the host as errors, which abort would prevent"
        );
    };
}
