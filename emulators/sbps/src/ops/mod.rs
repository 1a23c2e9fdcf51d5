//! The functions themselves (§10.5): what each request does to the stored state and what the
//! OK reply carries. Everything here runs under the state lock, synchronously and briefly.

mod auth;
mod inquiry;
mod payment;

use crate::codes::ErrorReason;
use crate::config::{Config, MerchantConfig};
use crate::function::Function;
use crate::state::{Ids, State};
use crate::time::JstDateTime;
use crate::xml::{Node, Request};

/// One validated, decoded, authenticated request on its way to a function.
pub(crate) struct Call<'a> {
    pub function: Function,
    pub merchant_idx: usize,
    pub merchant: &'a MerchantConfig,
    pub request: &'a Request,
    pub now: JstDateTime,
    pub config: &'a Config,
}

impl Call<'_> {
    /// Trimmed, non-empty value at `path`.
    fn value(&self, path: &[&str]) -> Option<&str> {
        self.request.value(path)
    }

    /// Numeric value at `path` (validation already checked the digits).
    fn number(&self, path: &[&str]) -> Option<u32> {
        self.value(path).and_then(|v| v.parse().ok())
    }

    /// A `0`/`1` flag at `path`.
    fn flag(&self, path: &[&str]) -> bool {
        self.value(path) == Some("1")
    }

    /// `processing_datetime`, if given.
    fn processing_datetime(&self) -> Option<JstDateTime> {
        self.value(&["processing_datetime"])
            .and_then(|v| JstDateTime::parse(v).ok())
    }

    fn new_transaction_id(&self, ids: &mut Ids) -> String {
        ids.transaction_id(
            self.config.transaction_id_letter,
            self.merchant,
            self.function,
        )
    }
}

/// The function-specific part of an OK reply.
#[derive(Debug)]
pub(crate) struct Success {
    /// `res_sps_transaction_id`: new for every OK reply.
    pub sps_transaction_id: String,
    /// Elements between `res_sps_transaction_id` and `res_process_date`.
    pub body: Vec<Node>,
    /// `res_process_date`.
    pub process_date: JstDateTime,
}

impl Success {
    fn plain(sps_transaction_id: String, process_date: JstDateTime) -> Self {
        Self {
            sps_transaction_id,
            body: Vec::new(),
            process_date,
        }
    }
}

/// An NG reply decided by a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub reason: ErrorReason,
    /// Business errors carry the root `id`; request-shape errors do not (§7.3).
    pub with_id: bool,
}

impl Refused {
    fn without_id(reason: ErrorReason) -> Self {
        Self {
            reason,
            with_id: false,
        }
    }
}

impl From<ErrorReason> for Refused {
    fn from(reason: ErrorReason) -> Self {
        Self {
            reason,
            with_id: true,
        }
    }
}

pub(crate) type Outcome = Result<Success, Refused>;

/// Runs the function of `call` against `state`.
pub(crate) fn dispatch(call: &Call<'_>, state: &mut State) -> Outcome {
    match call.function {
        Function::AuthorizeWithToken | Function::AuthorizeWithCard | Function::AuthorizeLegacy => {
            auth::authorize(call, state)
        }
        Function::ReauthorizeWithToken | Function::ReauthorizeWithCard => {
            auth::reauthorize(call, state)
        }
        Function::Commit => payment::commit(call, state),
        Function::Sales => payment::sales(call, state),
        Function::CancelOrRefund => payment::cancel_or_refund(call, state),
        Function::Cancel => payment::cancel(call, state),
        Function::PartialRefund => payment::partial_refund(call, state),
        Function::Inquiry => inquiry::inquire(call, state),
    }
}
