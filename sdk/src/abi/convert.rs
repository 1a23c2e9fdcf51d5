//! Conversions between the ergonomic SDK types and their FFI forms, used on both sides of the
//! boundary so that they cannot disagree.

use super::types::*;
use crate::{
    Bytes, CardData, Context, CustomerRef, ErrorKind, Exchange, GatewayError, Handle, Headers,
    HttpRequest, HttpResponse, Method, Operation, OperationKind, OrderRef, Outcome, PaymentDates,
    PaymentSource, PaymentState, RefundExtent, Secret, Settlement, Step, StepEffect, Text,
    Timestamp, TransactionRef,
};
use abi_stable::std_types::{ROption, RSlice, RStr, RString, RVec, Tuple2};

fn rs(s: &str) -> RString {
    RString::from(s)
}

fn ropt(s: Option<&str>) -> ROption<RStr<'_>> {
    s.map(RStr::from).into()
}

fn opt(s: &ROption<RString>) -> Option<String> {
    s.as_ref().map(|s| s.as_str().to_owned()).into_option()
}

fn opt_str(s: &ROption<RStr<'_>>) -> Option<String> {
    s.map(|s| s.as_str().to_owned()).into_option()
}

const OP_CODES: [(OperationKind, u8); 6] = [
    (OperationKind::Authorize, 1),
    (OperationKind::Capture, 2),
    (OperationKind::Void, 3),
    (OperationKind::Refund, 4),
    (OperationKind::ChangeAmount, 5),
    (OperationKind::Inquire, 6),
];

fn op_code(kind: OperationKind) -> u8 {
    OP_CODES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(0, |(_, c)| *c)
}

fn op_kind(code: u8) -> Option<OperationKind> {
    OP_CODES.iter().find(|(_, c)| *c == code).map(|(k, _)| *k)
}

const SOURCE_TOKEN: u8 = 1;
const SOURCE_CUSTOMER: u8 = 2;
const SOURCE_PREVIOUS: u8 = 3;
const SOURCE_CARD: u8 = 4;

pub fn operation_to_ffi(op: &Operation) -> FfiOperation<'_> {
    let mut ffi = FfiOperation {
        kind: op_code(op.kind()),
        order: op.order().as_str().into(),
        transaction: ropt(op.transaction().map(TransactionRef::as_str)),
        amount: ROption::RNone,
        reference: ROption::RNone,
        source_kind: 0,
        source: RVec::new(),
        customer: ROption::RNone,
        description: ROption::RNone,
    };
    match op {
        Operation::Authorize {
            amount,
            source,
            customer,
            description,
            ..
        } => {
            ffi.amount = ROption::RSome(*amount);
            ffi.customer = ropt(customer.as_ref().map(CustomerRef::as_str));
            ffi.description = ropt(description.as_deref());
            let (kind, values): (u8, Vec<&str>) = match source {
                PaymentSource::Token { token, key } => (
                    SOURCE_TOKEN,
                    vec![token.expose(), key.as_ref().map_or("", Secret::expose)],
                ),
                PaymentSource::StoredCustomer(c) => (SOURCE_CUSTOMER, vec![c.as_str()]),
                PaymentSource::PreviousTransaction(t) => (SOURCE_PREVIOUS, vec![t.as_str()]),
                PaymentSource::Card(card) => (
                    SOURCE_CARD,
                    vec![
                        card.number.expose(),
                        card.expiry.expose(),
                        card.security_code.as_ref().map_or("", Secret::expose),
                        card.holder.as_ref().map_or("", Secret::expose),
                    ],
                ),
            };
            ffi.source_kind = kind;
            ffi.source = values.into_iter().map(RStr::from).collect();
        }
        Operation::Capture {
            authorized, amount, ..
        } => {
            ffi.reference = ROption::RSome(*authorized);
            ffi.amount = (*amount).into();
        }
        Operation::Void { authorized, .. } => ffi.reference = ROption::RSome(*authorized),
        Operation::Refund {
            captured, amount, ..
        } => {
            ffi.reference = ROption::RSome(*captured);
            ffi.amount = (*amount).into();
        }
        Operation::ChangeAmount {
            authorized,
            new_amount,
            ..
        } => {
            ffi.reference = ROption::RSome(*authorized);
            ffi.amount = ROption::RSome(*new_amount);
        }
        Operation::Inquire { .. } => {}
        // An inquiry without a reference, with the amount sought: how a 0.1 plugin would see
        // it is moot, as only plugins declaring `authorization_inquiry` (0.2) are sent one.
        Operation::FindAuthorization { amount, .. } => ffi.amount = ROption::RSome(*amount),
    }
    ffi
}

pub fn operation_from_ffi(ffi: &FfiOperation<'_>) -> Result<Operation, GatewayError> {
    let bad = |what: &str| {
        GatewayError::new(
            ErrorKind::Internal,
            format!("malformed operation from host: {what}"),
        )
    };
    let kind = op_kind(ffi.kind).ok_or_else(|| {
        GatewayError::new(
            ErrorKind::Unsupported,
            format!("operation code {} is unknown to this plugin", ffi.kind),
        )
    })?;
    let order = OrderRef::new(ffi.order.as_str());
    let transaction = || {
        opt_str(&ffi.transaction)
            .map(TransactionRef::new)
            .ok_or_else(|| bad("missing transaction"))
    };
    let reference = || {
        ffi.reference
            .into_option()
            .ok_or_else(|| bad("missing reference amount"))
    };
    let amount = ffi.amount.into_option();
    Ok(match kind {
        OperationKind::Authorize => {
            let v = |i: usize| ffi.source.get(i).map(|s| s.as_str()).unwrap_or("");
            let nonempty = |i: usize| Some(v(i)).filter(|s| !s.is_empty()).map(Secret::new);
            let source = match ffi.source_kind {
                SOURCE_TOKEN => PaymentSource::Token {
                    token: Secret::new(v(0)),
                    key: nonempty(1),
                },
                SOURCE_CUSTOMER => PaymentSource::StoredCustomer(CustomerRef::new(v(0))),
                SOURCE_PREVIOUS => PaymentSource::PreviousTransaction(TransactionRef::new(v(0))),
                SOURCE_CARD => PaymentSource::Card(CardData {
                    number: Secret::new(v(0)),
                    expiry: Secret::new(v(1)),
                    security_code: nonempty(2),
                    holder: nonempty(3),
                }),
                other => {
                    return Err(GatewayError::new(
                        ErrorKind::Unsupported,
                        format!("payment source code {other} is unknown to this plugin"),
                    ));
                }
            };
            Operation::Authorize {
                order,
                amount: amount.ok_or_else(|| bad("missing amount"))?,
                source,
                customer: opt_str(&ffi.customer).map(CustomerRef::new),
                description: opt_str(&ffi.description),
            }
        }
        OperationKind::Capture => Operation::Capture {
            order,
            transaction: transaction()?,
            authorized: reference()?,
            amount,
        },
        OperationKind::Void => Operation::Void {
            order,
            transaction: transaction()?,
            authorized: reference()?,
        },
        OperationKind::Refund => Operation::Refund {
            order,
            transaction: transaction()?,
            captured: reference()?,
            amount,
        },
        OperationKind::ChangeAmount => Operation::ChangeAmount {
            order,
            transaction: transaction()?,
            authorized: reference()?,
            new_amount: amount.ok_or_else(|| bad("missing new amount"))?,
        },
        OperationKind::Inquire => match ffi.transaction {
            ROption::RSome(_) => Operation::Inquire {
                order,
                transaction: transaction()?,
            },
            ROption::RNone => Operation::FindAuthorization {
                order,
                amount: amount.ok_or_else(|| bad("missing amount of the authorization sought"))?,
            },
        },
    })
}

pub fn context_to_ffi<'a>(ctx: &Context<'a>) -> FfiContext<'a> {
    FfiContext {
        now_unix_millis: ctx.now.unix_millis,
        request_id: ctx.request_id.into(),
        idempotency_key: ctx.idempotency_key.into(),
        attempt: ctx.attempt,
        gateway_order_id: ctx.gateway_order_id.map(RStr::from).into(),
        handle: ctx.handle.map(handle_to_ffi).into(),
        authorized_at_ms: ctx.dates.authorized_at.map(|t| t.unix_millis).into(),
        captured_at_ms: ctx.dates.captured_at.map(|t| t.unix_millis).into(),
    }
}

pub fn handle_to_ffi(h: &Handle) -> FfiHandle {
    FfiHandle {
        public: h.public.iter().map(|(k, v)| Tuple2(rs(k), rs(v))).collect(),
        secret: h
            .secret
            .iter()
            .map(|(k, v)| Tuple2(rs(k), rs(v.expose())))
            .collect(),
    }
}

pub fn handle_from_ffi(h: &FfiHandle) -> Handle {
    Handle {
        public: h
            .public
            .iter()
            .map(|Tuple2(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        secret: h
            .secret
            .iter()
            .map(|Tuple2(k, v)| (k.to_string(), Secret::new(v.as_str())))
            .collect(),
    }
}

/// The context of a call; `handle` is the call's handle, converted from `ffi.handle` by the
/// caller (a `Context` borrows it).
pub fn context_from_ffi<'a>(ffi: &FfiContext<'a>, handle: Option<&'a Handle>) -> Context<'a> {
    Context {
        now: Timestamp::from_unix_millis(ffi.now_unix_millis),
        request_id: ffi.request_id.as_str(),
        idempotency_key: ffi.idempotency_key.as_str(),
        attempt: ffi.attempt,
        gateway_order_id: ffi
            .gateway_order_id
            .as_ref()
            .map(|s| s.as_str())
            .into_option(),
        handle,
        dates: PaymentDates {
            authorized_at: ffi
                .authorized_at_ms
                .into_option()
                .map(Timestamp::from_unix_millis),
            captured_at: ffi
                .captured_at_ms
                .into_option()
                .map(Timestamp::from_unix_millis),
        },
    }
}

/// The borrowed header list a [`FfiHttpResponse`] points into.
pub fn response_headers_to_ffi(r: &HttpResponse) -> Vec<Tuple2<RStr<'_>, RStr<'_>>> {
    r.headers
        .iter()
        .map(|(k, v)| Tuple2(k.as_str().into(), v.as_str().into()))
        .collect()
}

pub fn response_to_ffi<'a>(
    r: &'a HttpResponse,
    headers: &'a [Tuple2<RStr<'a>, RStr<'a>>],
) -> FfiHttpResponse<'a> {
    FfiHttpResponse {
        status: r.status,
        headers: RSlice::from_slice(headers),
        body: RSlice::from_slice(&r.body),
    }
}

pub fn response_from_ffi(r: &FfiHttpResponse<'_>) -> HttpResponse {
    HttpResponse {
        status: r.status,
        headers: r
            .headers
            .iter()
            .map(|Tuple2(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
            .collect(),
        body: r.body.as_slice().to_vec(),
    }
}

fn state_to_ffi(state: &PaymentState) -> FfiState {
    let settlement = |s: &Settlement| match s {
        Settlement::Pending => 1,
        Settlement::Settled => 2,
        Settlement::NotReported => 3,
    };
    let (code, settlement, extent, raw) = match state {
        PaymentState::AwaitingAuthorization => (1, 0, 0, ""),
        PaymentState::Authorized => (2, 0, 0, ""),
        PaymentState::AuthorizationFailed => (3, 0, 0, ""),
        PaymentState::Captured { settlement: s } => (4, settlement(s), 0, ""),
        PaymentState::CaptureFailed => (5, 0, 0, ""),
        PaymentState::Voided => (6, 0, 0, ""),
        PaymentState::Refunded {
            extent,
            settlement: s,
        } => (
            7,
            settlement(s),
            match extent {
                RefundExtent::Full => 1,
                RefundExtent::Partial => 2,
                RefundExtent::NotReported => 3,
            },
            "",
        ),
        PaymentState::Unknown { raw } => (8, 0, 0, raw.as_str()),
        // Since 0.2. The name rides as the raw code, so that a host that does not know the
        // code (0.1 reads it as `Unknown`) still shows what the plugin said.
        PaymentState::Registered => (9, 0, 0, "registered"),
        PaymentState::Verified => (10, 0, 0, "verified"),
    };
    FfiState {
        code,
        settlement,
        extent,
        raw: rs(raw),
    }
}

fn state_from_ffi(s: &FfiState) -> PaymentState {
    let settlement = match s.settlement {
        1 => Some(Settlement::Pending),
        2 => Some(Settlement::Settled),
        3 => Some(Settlement::NotReported),
        _ => None,
    };
    let extent = match s.extent {
        1 => Some(RefundExtent::Full),
        2 => Some(RefundExtent::Partial),
        3 => Some(RefundExtent::NotReported),
        _ => None,
    };
    let unknown = || PaymentState::Unknown {
        raw: if s.raw.is_empty() {
            format!("(unified state code {})", s.code)
        } else {
            s.raw.as_str().to_owned()
        },
    };
    match s.code {
        1 => PaymentState::AwaitingAuthorization,
        2 => PaymentState::Authorized,
        3 => PaymentState::AuthorizationFailed,
        4 => settlement.map_or_else(unknown, |settlement| PaymentState::Captured { settlement }),
        5 => PaymentState::CaptureFailed,
        6 => PaymentState::Voided,
        7 => match (extent, settlement) {
            (Some(extent), Some(settlement)) => PaymentState::Refunded { extent, settlement },
            _ => unknown(),
        },
        9 => PaymentState::Registered,
        10 => PaymentState::Verified,
        _ => unknown(),
    }
}

pub fn step_to_ffi(step: Step) -> FfiStep {
    match step {
        // Every buffer moves: nothing is copied on the way out of the plugin (see `buf`).
        Step::Send(x) => FfiStep::Send(FfiExchange {
            step: x.step.0,
            request: FfiHttpRequest {
                method: match x.request.method {
                    Method::Get => 1,
                    Method::Post => 2,
                },
                url: x.request.url.0,
                headers: x.request.headers.0,
                body: x.request.body.0,
            },
            journal_body: x.journal_body.map(|t| t.0).into(),
            state: x.state.0,
            effect: x.effect.code(),
        }),
        Step::Done(o) => FfiStep::Done(outcome_to_ffi(o)),
    }
}

fn outcome_to_ffi(o: Outcome) -> FfiOutcome {
    FfiOutcome {
        state: state_to_ffi(&o.state),
        gateway_status: o.gateway_status.map(RString::from).into(),
        transaction: o.transaction.map(|t| t.into_string().into()).into(),
        replaced: o.replaced.map(|t| t.into_string().into()).into(),
        handle: o.handle.as_ref().map(handle_to_ffi).into(),
        authorization_code: o.authorization_code.map(RString::from).into(),
        authorized: o.authorized.into(),
        captured: o.captured.into(),
        refunded: o.refunded.into(),
        notes: o.notes.into_iter().map(RString::from).collect(),
    }
}

fn outcome_from_ffi(o: FfiOutcome) -> Outcome {
    Outcome {
        state: state_from_ffi(&o.state),
        gateway_status: opt(&o.gateway_status),
        transaction: opt(&o.transaction).map(TransactionRef::new),
        replaced: opt(&o.replaced).map(TransactionRef::new),
        handle: o.handle.as_ref().map(handle_from_ffi).into_option(),
        authorization_code: opt(&o.authorization_code),
        authorized: o.authorized.into_option(),
        captured: o.captured.into_option(),
        refunded: o.refunded.into_option(),
        notes: o.notes.into_iter().map(RString::into_string).collect(),
    }
}

pub fn step_from_ffi(step: FfiStep) -> Result<Step, GatewayError> {
    Ok(match step {
        FfiStep::Send(x) => Step::Send(Exchange {
            step: Text(x.step),
            request: HttpRequest {
                method: match x.request.method {
                    1 => Method::Get,
                    2 => Method::Post,
                    other => {
                        return Err(GatewayError::new(
                            ErrorKind::Internal,
                            format!("plugin asked for HTTP method code {other}"),
                        ));
                    }
                },
                url: Text(x.request.url),
                headers: Headers(x.request.headers),
                body: Bytes(x.request.body),
            },
            journal_body: x.journal_body.into_option().map(Text),
            state: Bytes(x.state),
            effect: StepEffect::from_code(x.effect),
        }),
        FfiStep::Done(o) => Step::Done(outcome_from_ffi(o)),
    })
}

pub fn error_to_ffi(e: GatewayError) -> FfiError {
    FfiError {
        kind: ErrorKind::ALL
            .iter()
            .position(|k| *k == e.kind)
            .map_or(u8::MAX, |i| i as u8 + 1),
        message: e.message.into(),
        gateway_code: e.gateway_code.map(RString::from).into(),
        gateway_message: e.gateway_message.map(RString::from).into(),
        other_codes: e.other_codes.into_iter().map(RString::from).collect(),
        changed_before: e.changed_before.map(|o| outcome_to_ffi(*o)).into(),
    }
}

pub fn error_from_ffi(e: FfiError) -> GatewayError {
    let kind = (e.kind as usize)
        .checked_sub(1)
        .and_then(|i| ErrorKind::ALL.get(i).copied());
    let mut message = e.message.into_string();
    let kind = kind.unwrap_or_else(|| {
        message = format!("(error kind {} unknown to this host) {message}", e.kind);
        ErrorKind::Internal
    });
    GatewayError {
        kind,
        message,
        gateway_code: e.gateway_code.into_option().map(RString::into_string),
        gateway_message: e.gateway_message.into_option().map(RString::into_string),
        other_codes: e
            .other_codes
            .into_iter()
            .map(RString::into_string)
            .collect(),
        changed_before: e
            .changed_before
            .into_option()
            .map(|o| Box::new(outcome_from_ffi(o))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Money;

    #[test]
    fn every_operation_round_trips() {
        let order = OrderRef::new("100000924506");
        let t = TransactionRef::new("00000616307347");
        let ops = vec![
            Operation::Authorize {
                order: order.clone(),
                amount: Money::jpy(1080),
                source: PaymentSource::Token {
                    token: Secret::new("tok"),
                    key: Some(Secret::new("key")),
                },
                customer: Some(CustomerRef::new("cust01")),
                description: Some("テスト商品".into()),
            },
            Operation::Authorize {
                order: order.clone(),
                amount: Money::jpy(2),
                source: PaymentSource::Card(CardData {
                    number: Secret::new("4980111111111111"),
                    expiry: Secret::new("203012"),
                    security_code: Some(Secret::new("111")),
                    holder: None,
                }),
                customer: None,
                description: None,
            },
            Operation::Authorize {
                order: order.clone(),
                amount: Money::jpy(2),
                source: PaymentSource::PreviousTransaction(t.clone()),
                customer: None,
                description: None,
            },
            Operation::Capture {
                order: order.clone(),
                transaction: t.clone(),
                authorized: Money::jpy(1080),
                amount: Some(Money::jpy(980)),
            },
            Operation::Void {
                order: order.clone(),
                transaction: t.clone(),
                authorized: Money::jpy(1080),
            },
            Operation::Refund {
                order: order.clone(),
                transaction: t.clone(),
                captured: Money::jpy(1080),
                amount: None,
            },
            Operation::ChangeAmount {
                order: order.clone(),
                transaction: t.clone(),
                authorized: Money::jpy(1080),
                new_amount: Money::jpy(2000),
            },
            Operation::Inquire {
                order: order.clone(),
                transaction: t,
            },
            Operation::FindAuthorization {
                order,
                amount: Money::jpy(1080),
            },
        ];
        for op in ops {
            assert_eq!(operation_from_ffi(&operation_to_ffi(&op)).unwrap(), op);
        }
    }

    #[test]
    fn every_state_round_trips_and_unknown_codes_stay_unknown() {
        let states = [
            PaymentState::AwaitingAuthorization,
            PaymentState::Authorized,
            PaymentState::AuthorizationFailed,
            PaymentState::Captured {
                settlement: Settlement::Pending,
            },
            PaymentState::CaptureFailed,
            PaymentState::Voided,
            PaymentState::Refunded {
                extent: RefundExtent::Partial,
                settlement: Settlement::Settled,
            },
            PaymentState::Unknown { raw: "99".into() },
            PaymentState::Registered,
            PaymentState::Verified,
        ];
        for s in states {
            assert_eq!(state_from_ffi(&state_to_ffi(&s)), s);
        }
        // A host that does not know 0.2's states (0.1 reads codes 9 and 10 as unknown) still
        // gets the state's name as the raw code.
        assert_eq!(&*state_to_ffi(&PaymentState::Registered).raw, "registered");
        let future = FfiState {
            code: 42,
            settlement: 0,
            extent: 0,
            raw: RString::new(),
        };
        assert!(matches!(
            state_from_ffi(&future),
            PaymentState::Unknown { .. }
        ));
    }

    #[test]
    fn every_error_kind_round_trips_and_unknown_kinds_become_internal() {
        for kind in ErrorKind::ALL {
            let mut e = GatewayError::gateway(kind, "X1", Some("msg".into()), "m");
            assert_eq!(error_from_ffi(error_to_ffi(e.clone())), e);
            e.other_codes = vec!["X2".into(), "X3".into()];
            assert_eq!(error_from_ffi(error_to_ffi(e.clone())), e);
        }
        let mut future = error_to_ffi(GatewayError::new(ErrorKind::Declined, "m"));
        future.kind = 200;
        assert_eq!(error_from_ffi(future).kind, ErrorKind::Internal);
    }

    /// F-2: what authchange left when the sale was refused reaches the host whole.
    #[test]
    fn what_earlier_steps_changed_crosses_the_boundary_with_the_error() {
        let left = Outcome::new(PaymentState::Authorized)
            .gateway_status("10")
            .transaction(TransactionRef::new("222-B"))
            .replaced(TransactionRef::new("111-A"))
            .authorization_code("B")
            .authorized(Money::jpy(1500))
            .note("authchange OK");
        let e = GatewayError::gateway(ErrorKind::Rejected, "S1-1-125", None, "sale refused")
            .changed_before(left.clone());
        let back = error_from_ffi(error_to_ffi(e.clone()));
        assert_eq!(back, e);
        assert_eq!(back.changed_before.as_deref(), Some(&left));
        let plain = GatewayError::new(ErrorKind::Rejected, "m");
        assert_eq!(error_from_ffi(error_to_ffi(plain)).changed_before, None);
    }

    fn sent_step(effect: StepEffect) -> Step {
        let request = HttpRequest::new(Method::Post, "http://127.0.0.1:1/x");
        Step::send("s", request, None, &1u8).unwrap().effect(effect)
    }

    fn effect_of(step: Step) -> StepEffect {
        match step {
            Step::Send(x) => x.effect,
            Step::Done(_) => panic!("not a send"),
        }
    }

    #[test]
    fn every_step_effect_round_trips() {
        for effect in StepEffect::ALL {
            let back = step_from_ffi(step_to_ffi(sent_step(effect))).unwrap();
            assert_eq!(effect_of(back), effect);
        }
    }

    /// A later SDK's finer effect reaches an older host as a number it does not know; reading it
    /// as anything less than "may move money" could book moved money as unmoved.
    #[test]
    fn an_unknown_step_effect_is_read_as_moving_money() {
        for code in [3u8, 7, 200, 255] {
            let FfiStep::Send(mut x) = step_to_ffi(sent_step(StepEffect::Reads)) else {
                panic!("not a send")
            };
            x.effect = code;
            let back = step_from_ffi(FfiStep::Send(x)).unwrap();
            assert_eq!(effect_of(back), StepEffect::MayMoveMoney, "code {code}");
        }
    }
}
