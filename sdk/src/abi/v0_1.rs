//! Plugins built against SDK 0.1.0, opened through the frozen 0.1.0 SDK (`compat/README.md`).
//!
//! abi_stable accepts a 0.1.0 plugin's root module only as a type of package `renkei-sdk`
//! version 0.1.0, so the host initialises it with the frozen crate's own `PluginModuleRef` and
//! calls the gateway object through the frozen crate's FFI types. The 0.1.0 FFI types have the
//! same fields and codes as today's, so each conversion here is a field copy; the host then
//! reads the result with today's converters, exactly as for a native plugin.
//!
//! Defaults for what 0.1.0 cannot say: its manifest's later fields take their serde defaults
//! (no request expiry, no config-dependent operations), and each step it declares not read-only
//! is read as one that may move money, as in 0.1.0 itself.

use super::log::HostLog;
use super::types::{
    FfiContext, FfiError, FfiExchange, FfiHttpRequest, FfiHttpResponse, FfiOperation, FfiOutcome,
    FfiState, FfiStep,
};
use crate::{Currency, ErrorKind, GatewayError, Money, StepEffect};
use abi_stable::std_types::{ROption, RString};
use renkei_sdk_v0_1::abi::{log as old_log, types as old};

/// The SDK version of the frozen copy.
pub const VERSION: semver::Version = semver::Version::new(0, 1, 0);

pub(crate) use renkei_sdk_v0_1::abi::{FfiGatewayBox, PluginModuleRef};

pub(crate) fn host_log(log: HostLog) -> old_log::HostLog {
    old_log::HostLog {
        context: log.context,
        enabled: log.enabled,
        event: log.event,
        span_new: log.span_new,
        span_enter: log.span_enter,
        span_exit: log.span_exit,
        span_close: log.span_close,
    }
}

fn money_to(m: Money) -> renkei_sdk_v0_1::Money {
    let currency = renkei_sdk_v0_1::Currency::new(m.currency.as_str())
        .expect("both SDKs accept the same three upper-case letters");
    renkei_sdk_v0_1::Money::new(m.minor_units, currency)
}

fn money_from(m: renkei_sdk_v0_1::Money) -> Result<Money, GatewayError> {
    let code = m.currency.as_str();
    let currency = Currency::new(code).ok_or_else(|| {
        GatewayError::new(
            ErrorKind::Protocol,
            format!("the 0.1.0 plugin returned an invalid currency {code:?}"),
        )
    })?;
    Ok(Money::new(m.minor_units, currency))
}

fn money_option_from(m: ROption<renkei_sdk_v0_1::Money>) -> Result<ROption<Money>, GatewayError> {
    Ok(match m.into_option() {
        Some(m) => ROption::RSome(money_from(m)?),
        None => ROption::RNone,
    })
}

pub(crate) fn operation(op: FfiOperation<'_>) -> old::FfiOperation<'_> {
    old::FfiOperation {
        kind: op.kind,
        order: op.order,
        transaction: op.transaction,
        amount: op.amount.map(money_to),
        reference: op.reference.map(money_to),
        source_kind: op.source_kind,
        source: op.source,
        customer: op.customer,
        description: op.description,
    }
}

pub(crate) fn context(ctx: FfiContext<'_>) -> old::FfiContext<'_> {
    old::FfiContext {
        now_unix_millis: ctx.now_unix_millis,
        request_id: ctx.request_id,
        idempotency_key: ctx.idempotency_key,
        attempt: ctx.attempt,
    }
}

pub(crate) fn response(r: FfiHttpResponse<'_>) -> old::FfiHttpResponse<'_> {
    old::FfiHttpResponse {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

fn request(r: old::FfiHttpRequest) -> FfiHttpRequest {
    FfiHttpRequest {
        method: r.method,
        url: r.url,
        headers: r.headers,
        body: r.body,
    }
}

fn state(s: old::FfiState) -> FfiState {
    FfiState {
        code: s.code,
        settlement: s.settlement,
        extent: s.extent,
        raw: s.raw,
    }
}

pub(crate) fn step(s: old::FfiStep) -> Result<FfiStep, GatewayError> {
    Ok(match s {
        old::FfiStep::Send(x) => FfiStep::Send(FfiExchange {
            step: x.step,
            request: request(x.request),
            journal_body: x.journal_body,
            state: x.state,
            // 0.1 knew only "read-only or not": anything not read-only may move money.
            effect: if x.read_only {
                StepEffect::Reads.code()
            } else {
                StepEffect::MayMoveMoney.code()
            },
        }),
        old::FfiStep::Done(o) => FfiStep::Done(FfiOutcome {
            state: state(o.state),
            gateway_status: o.gateway_status,
            transaction: o.transaction,
            replaced: o.replaced,
            // 0.1 had no handles: the host keeps none for a 0.1 plugin's payments.
            handle: ROption::RNone,
            authorization_code: o.authorization_code,
            authorized: money_option_from(o.authorized)?,
            captured: money_option_from(o.captured)?,
            refunded: money_option_from(o.refunded)?,
            notes: o.notes,
        }),
    })
}

pub(crate) fn error(e: old::FfiError) -> FfiError {
    FfiError {
        kind: e.kind,
        message: e.message,
        gateway_code: e.gateway_code,
        gateway_message: e.gateway_message,
        // 0.1.0 had one code per error.
        other_codes: abi_stable::std_types::RVec::new(),
        // 0.1.0 could not say what earlier steps changed: a failure after one stays "may have
        // applied", as it was.
        changed_before: ROption::RNone,
    }
}

/// The manifest JSON of a 0.1.0 root module, or its error.
pub(crate) fn manifest_json(
    module: PluginModuleRef,
) -> abi_stable::std_types::RResult<RString, FfiError> {
    (module.manifest())().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::convert::{operation_to_ffi, step_from_ffi};
    use crate::{Operation, OrderRef, PaymentState, Settlement, Step, TransactionRef};

    #[test]
    fn an_operation_reaches_a_0_1_plugin_as_0_1_reads_it() {
        let op = Operation::Capture {
            order: OrderRef::new("o-1"),
            transaction: TransactionRef::new("t-1"),
            authorized: Money::jpy(1080),
            amount: Some(Money::jpy(1000)),
        };
        let old_op = operation(operation_to_ffi(&op));
        let read = renkei_sdk_v0_1::abi::convert::operation_from_ffi(&old_op).unwrap();
        let renkei_sdk_v0_1::Operation::Capture {
            order,
            transaction,
            authorized,
            amount,
        } = read
        else {
            panic!("not a capture: {read:?}")
        };
        assert_eq!(order.as_str(), "o-1");
        assert_eq!(transaction.as_str(), "t-1");
        assert_eq!(authorized.minor_units, 1080);
        assert_eq!(authorized.currency.as_str(), "JPY");
        assert_eq!(amount.map(|m| m.minor_units), Some(1000));
    }

    #[test]
    fn a_0_1_outcome_reads_as_todays_outcome() {
        let old_outcome = renkei_sdk_v0_1::Outcome {
            state: renkei_sdk_v0_1::PaymentState::Captured {
                settlement: renkei_sdk_v0_1::Settlement::Pending,
            },
            captured: Some(renkei_sdk_v0_1::Money::jpy(500)),
            ..renkei_sdk_v0_1::Outcome::new(renkei_sdk_v0_1::PaymentState::Authorized)
        };
        let old_step =
            renkei_sdk_v0_1::abi::convert::step_to_ffi(renkei_sdk_v0_1::Step::Done(old_outcome));
        let Step::Done(o) = step_from_ffi(step(old_step).unwrap()).unwrap() else {
            panic!("not done")
        };
        assert_eq!(
            o.state,
            PaymentState::Captured {
                settlement: Settlement::Pending
            }
        );
        assert_eq!(o.captured, Some(Money::jpy(500)));
    }

    /// A 0.1 plugin's error never reports what earlier steps changed, so the host keeps reading
    /// a failure after one as "may have applied".
    #[test]
    fn a_0_1_error_reports_no_earlier_change() {
        let old = renkei_sdk_v0_1::abi::convert::error_to_ffi(renkei_sdk_v0_1::GatewayError::new(
            renkei_sdk_v0_1::ErrorKind::Rejected,
            "sale refused",
        ));
        let e = crate::abi::convert::error_from_ffi(error(old));
        assert_eq!(e.kind, crate::ErrorKind::Rejected);
        assert_eq!(e.changed_before, None);
    }

    /// A 0.1 plugin could only say "read-only or not": every step it did not mark read-only
    /// may move money, and none of its steps is taken as a mere registration.
    #[test]
    fn a_0_1_step_that_is_not_read_only_may_move_money() {
        for (read_only, expected) in [
            (true, crate::StepEffect::Reads),
            (false, crate::StepEffect::MayMoveMoney),
        ] {
            let request =
                renkei_sdk_v0_1::HttpRequest::new(renkei_sdk_v0_1::Method::Post, "http://x/");
            let old = renkei_sdk_v0_1::Step::send("s", request, None, &1u8).unwrap();
            let old = if read_only { old.read_only() } else { old };
            let old_step = renkei_sdk_v0_1::abi::convert::step_to_ffi(old);
            let Step::Send(x) = step_from_ffi(step(old_step).unwrap()).unwrap() else {
                panic!("not a send")
            };
            assert_eq!(x.effect, expected, "read_only = {read_only}");
        }
    }
}
