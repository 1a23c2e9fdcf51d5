//! Fixtures for a plugin's own translation tests. Every plugin's tests need the same few things:
//! an instance built from literal config, operations on one payment in yen, and a step unwrapped
//! as the request or the outcome the test expects; kept here so each plugin's tests say only
//! what is particular to its gateway.

use crate::{
    Config, ConfigError, ConfigValue, ErrorKind, Exchange, Gateway, GatewayError, Method, Money,
    Operation, OrderRef, Outcome, Step, TransactionRef,
};
use std::collections::BTreeMap;

/// `pairs` as text values, the form a shop's config file gives them in.
pub fn text<'k>(pairs: &[(&'k str, &str)]) -> Vec<(&'k str, ConfigValue)> {
    pairs
        .iter()
        .map(|&(k, v)| (k, ConfigValue::Text(v.to_owned())))
        .collect()
}

/// The plugin configured with `values`, a later value for a key replacing an earlier one. The
/// values must pass the manifest's checks (a test of those is not a plugin test); the plugin's
/// own checks in `from_config` answer.
pub fn configure<'k, G: Gateway>(
    values: impl IntoIterator<Item = (&'k str, ConfigValue)>,
) -> Result<G, ConfigError> {
    let raw: BTreeMap<String, ConfigValue> =
        values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let config = Config::validate(&G::manifest(), &raw).unwrap();
    G::from_config(&config)
}

/// One payment at a gateway, in yen: the order and the reference operations on it carry.
#[derive(Clone, Copy, Debug)]
pub struct Payment<'a> {
    pub order: &'a str,
    pub transaction: &'a str,
}

impl Payment<'_> {
    pub fn capture(self, authorized: i64, amount: Option<i64>) -> Operation {
        Operation::Capture {
            order: OrderRef::new(self.order),
            transaction: TransactionRef::new(self.transaction),
            authorized: Money::jpy(authorized),
            amount: amount.map(Money::jpy),
        }
    }

    pub fn void(self, authorized: i64) -> Operation {
        Operation::Void {
            order: OrderRef::new(self.order),
            transaction: TransactionRef::new(self.transaction),
            authorized: Money::jpy(authorized),
        }
    }

    pub fn refund(self, captured: i64, amount: Option<i64>) -> Operation {
        Operation::Refund {
            order: OrderRef::new(self.order),
            transaction: TransactionRef::new(self.transaction),
            captured: Money::jpy(captured),
            amount: amount.map(Money::jpy),
        }
    }

    pub fn change(self, authorized: i64, new_amount: i64) -> Operation {
        Operation::ChangeAmount {
            order: OrderRef::new(self.order),
            transaction: TransactionRef::new(self.transaction),
            authorized: Money::jpy(authorized),
            new_amount: Money::jpy(new_amount),
        }
    }

    pub fn inquire(self) -> Operation {
        Operation::Inquire {
            order: OrderRef::new(self.order),
            transaction: TransactionRef::new(self.transaction),
        }
    }
}

/// The request a step sends; panics, naming the outcome, when it is done instead.
pub fn sent(step: Step) -> Exchange {
    match step {
        Step::Send(x) => x,
        Step::Done(o) => panic!("expected a request, got {o:?}"),
    }
}

/// The outcome a step ends with; panics, naming the step, when it sends instead.
pub fn done(step: Step) -> Outcome {
    match step {
        Step::Done(o) => o,
        Step::Send(x) => panic!("expected an outcome, got step {}", x.step),
    }
}

/// `e` is of `kind` and carries the gateway's own code and words verbatim, as an operator
/// must read them.
#[track_caller]
pub fn assert_gateway_said(e: &GatewayError, kind: ErrorKind, code: Option<&str>, words: &str) {
    assert_eq!(e.kind, kind);
    assert_eq!(e.gateway_code.as_deref(), code);
    assert_eq!(e.gateway_message.as_deref(), Some(words));
}

/// `x` is the step named `step`: a POST of a `content_type` body to `url`.
#[track_caller]
pub fn assert_post(x: &Exchange, step: &str, url: &str, content_type: &str) {
    assert_eq!(x.step, step);
    assert_eq!(x.request.method, Method::Post);
    assert_eq!(x.request.url, url);
    assert_eq!(x.request.headers.get("Content-Type"), Some(content_type));
}
