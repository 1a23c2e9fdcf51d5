//! The plugin side of the boundary: what `export_gateway!` expands to.

use super::convert::*;
use super::log::{self, HostLog};
use super::types::*;
use super::{FfiGateway, FfiGateway_TO, FfiGatewayBox, PluginModule, PluginModuleRef};
use crate::{Config, ErrorKind, Gateway, GatewayError, Manifest, ReplyCopy};
use abi_stable::{
    prefix_type::PrefixTypeTrait,
    sabi_trait::TD_Opaque,
    std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec},
};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs plugin code, turning both errors and panics into an FFI error value. A panic must never
/// unwind into abi_stable's shims: they exit the whole host process.
fn guard<T>(f: impl FnOnce() -> Result<T, GatewayError>) -> RResult<T, FfiError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => RResult::ROk(v),
        Ok(Err(e)) => RResult::RErr(error_to_ffi(e)),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            RResult::RErr(error_to_ffi(GatewayError::new(
                ErrorKind::Panicked,
                format!("plugin panicked: {what}"),
            )))
        }
    }
}

/// The manifest a plugin exports: the author's, with the SDK version filled in by the SDK the
/// plugin was built against (authors cannot get it wrong).
pub fn manifest_of<G: Gateway>() -> Manifest {
    let mut m = G::manifest();
    m.sdk_version = crate::sdk_version();
    m
}

struct Adapter<G>(G);

impl<G: Gateway> FfiGateway for Adapter<G> {
    fn prepare(&self, op: &FfiOperation<'_>, ctx: &FfiContext<'_>) -> RResult<FfiStep, FfiError> {
        guard(|| {
            let op = operation_from_ffi(op)?;
            let handle = ctx.handle.as_ref().map(handle_from_ffi).into_option();
            self.0
                .prepare(&op, &context_from_ffi(ctx, handle.as_ref()))
                .map(step_to_ffi)
        })
    }

    fn interpret(
        &self,
        op: &FfiOperation<'_>,
        ctx: &FfiContext<'_>,
        state: RSlice<'_, u8>,
        reply: &FfiHttpResponse<'_>,
    ) -> RResult<FfiStep, FfiError> {
        guard(|| {
            let op = operation_from_ffi(op)?;
            let handle = ctx.handle.as_ref().map(handle_from_ffi).into_option();
            self.0
                .interpret(
                    &op,
                    &context_from_ffi(ctx, handle.as_ref()),
                    state.as_slice(),
                    &response_from_ffi(reply),
                )
                .map(step_to_ffi)
        })
    }

    fn journal_reply(
        &self,
        op: &FfiOperation<'_>,
        state: RSlice<'_, u8>,
        reply: &FfiHttpResponse<'_>,
    ) -> RResult<ROption<RVec<u8>>, FfiError> {
        guard(|| {
            let op = operation_from_ffi(op)?;
            Ok(
                match self
                    .0
                    .journal_reply(&op, state.as_slice(), &response_from_ffi(reply))
                {
                    ReplyCopy::AsReceived => ROption::RNone,
                    ReplyCopy::Redacted(body) => ROption::RSome(body.0),
                },
            )
        })
    }
}

extern "C" fn manifest_fn<G: Gateway>() -> RResult<RString, FfiError> {
    log::install_panic_hook();
    guard(|| {
        serde_json::to_string(&manifest_of::<G>())
            .map(RString::from)
            .map_err(|e| GatewayError::new(ErrorKind::Internal, e.to_string()))
    })
}

extern "C" fn create_fn<G: Gateway>(
    host_log: HostLog,
    config_json: RStr<'_>,
) -> RResult<FfiGatewayBox, FfiError> {
    log::install(host_log);
    guard(|| {
        let config = Config::from_json(config_json.as_str())
            .map_err(|e| GatewayError::new(ErrorKind::Config, e.to_string()))?;
        let gateway = G::from_config(&config)
            .map_err(|e| GatewayError::new(ErrorKind::Config, e.to_string()))?;
        Ok(FfiGateway_TO::from_value(Adapter(gateway), TD_Opaque))
    })
}

/// The root module of a plugin library. Called once, by abi_stable, when the host loads it.
#[doc(hidden)]
pub fn root_module<G: Gateway>() -> PluginModuleRef {
    PluginModule {
        manifest: manifest_fn::<G>,
        create: create_fn::<G>,
    }
    .leak_into_prefix()
}

/// A gateway object built in-process from a [`Gateway`] type, exactly as a plugin library would
/// build it, but without a library. Used to compare static and dynamic dispatch in benchmarks and
/// to test plugin code through the FFI conversions.
///
/// Unlike a library's `create`, it installs no log forwarding: in-process code already logs to
/// the host's subscriber.
pub fn in_process<G: Gateway>(config: &Config) -> Result<super::load::DynGateway, GatewayError> {
    let gateway =
        G::from_config(config).map_err(|e| GatewayError::new(ErrorKind::Config, e.to_string()))?;
    Ok(super::load::DynGateway::new(FfiGateway_TO::from_value(
        Adapter(gateway),
        TD_Opaque,
    )))
}

#[doc(hidden)]
pub use abi_stable::library::{
    __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
};

#[doc(hidden)]
pub type RootModuleBox = RBox<()>;
