//! The `repr(C)` types that cross the plugin boundary, layout-checked by abi_stable at load.
//!
//! Codes (operation kind, state, error kind) are plain integers rather than Rust enums, so that a
//! value from a newer plugin reaches the host as an unknown number instead of undefined behaviour.

use crate::Money;
use abi_stable::{
    StableAbi,
    std_types::{ROption, RSlice, RStr, RString, RVec, Tuple2},
};

/// Inputs borrow from the caller: the host allocates nothing to make a call.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiOperation<'a> {
    /// `OperationKind` code, see `convert`.
    pub kind: u8,
    pub order: RStr<'a>,
    pub transaction: ROption<RStr<'a>>,
    /// authorize: amount; capture: shop amount; refund: amount; change: new amount.
    pub amount: ROption<Money>,
    /// capture, void, change: authorized; refund: captured.
    pub reference: ROption<Money>,
    /// `PaymentSource` code (0 = none), with its values in `source` by position.
    pub source_kind: u8,
    pub source: RVec<RStr<'a>>,
    pub customer: ROption<RStr<'a>>,
    pub description: ROption<RStr<'a>>,
}

#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiContext<'a> {
    pub now_unix_millis: i64,
    pub request_id: RStr<'a>,
    pub idempotency_key: RStr<'a>,
    pub attempt: u32,
    /// Since 0.2: the host-issued order id of this attempt.
    pub gateway_order_id: ROption<RStr<'a>>,
    /// Since 0.2: the payment's handle.
    pub handle: ROption<FfiHandle>,
    /// Since 0.2: when the payment was authorized and captured (Unix milliseconds).
    pub authorized_at_ms: ROption<i64>,
    pub captured_at_ms: ROption<i64>,
}

/// A `Handle` across the boundary: public and secret parts as name/value pairs.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiHandle {
    pub public: RVec<Tuple2<RString, RString>>,
    pub secret: RVec<Tuple2<RString, RString>>,
}

#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiHttpRequest {
    /// 1 = GET, 2 = POST.
    pub method: u8,
    pub url: RString,
    pub headers: RVec<Tuple2<RString, RString>>,
    pub body: RVec<u8>,
}

#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiHttpResponse<'a> {
    pub status: u16,
    pub headers: RSlice<'a, Tuple2<RStr<'a>, RStr<'a>>>,
    pub body: RSlice<'a, u8>,
}

#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiState {
    pub code: u8,
    pub settlement: u8,
    pub extent: u8,
    /// The raw gateway code for `Unknown`.
    pub raw: RString,
}

#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiOutcome {
    pub state: FfiState,
    pub gateway_status: ROption<RString>,
    pub transaction: ROption<RString>,
    pub replaced: ROption<RString>,
    /// Since 0.2.
    pub handle: ROption<FfiHandle>,
    pub authorization_code: ROption<RString>,
    pub authorized: ROption<Money>,
    pub captured: ROption<Money>,
    pub refunded: ROption<Money>,
    pub notes: RVec<RString>,
}

#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiExchange {
    pub step: RString,
    pub request: FfiHttpRequest,
    pub journal_body: ROption<RString>,
    pub state: RVec<u8>,
    /// Since 0.2 (0.1 had `read_only: bool`): a `StepEffect` code. A code the reader does not
    /// know is read as "may move money".
    pub effect: u8,
}

#[repr(u8)]
#[derive(StableAbi, Clone)]
pub enum FfiStep {
    Send(FfiExchange),
    Done(FfiOutcome),
}

#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct FfiError {
    pub kind: u8,
    pub message: RString,
    pub gateway_code: ROption<RString>,
    pub gateway_message: ROption<RString>,
    /// Since 0.2: the reply's further codes (see `GatewayError::other_codes`).
    pub other_codes: RVec<RString>,
    /// Since 0.2: what the operation's earlier steps left (see `GatewayError::changed_before`).
    pub changed_before: ROption<FfiOutcome>,
}
