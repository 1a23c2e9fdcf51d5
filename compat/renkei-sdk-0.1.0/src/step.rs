//! The step/continuation protocol: how a plugin drives a multi-exchange operation without doing
//! I/O.
//!
//! `prepare` answers the first [`Step`]; after the host has journaled and sent the request it
//! calls `interpret` with the reply and the opaque state the plugin asked to get back. The plugin
//! answers the next `Step`, until `Step::Done`. Because the state is bytes the host journals, a
//! host that crashes mid-operation can resume or resolve it after a restart.

use crate::{Bytes, GatewayError, HttpRequest, Money, PaymentState, Text, TransactionRef};
use serde::{Serialize, de::DeserializeOwned};

/// What the plugin wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this request, then call `interpret` with the reply and `state`.
    Send(Exchange),
    /// The operation is finished.
    Done(Outcome),
}

/// One HTTP exchange of an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The gateway-level step name (`commit`, `sales`, `authchange`…), journaled and shown to
    /// operators.
    pub step: Text,
    pub request: HttpRequest,
    /// A copy of the request body fit for the journal: no secret, no card number. `None` means
    /// the body must not be journaled at all.
    pub journal_body: Option<Text>,
    /// Opaque continuation: given back verbatim to `interpret`.
    pub state: Bytes,
    /// The request only reads (an inquiry): whatever happens to it, the payment is unchanged.
    /// The host relies on this to settle a later step's unknown outcome: only when every earlier
    /// exchange of the operation was read-only does the payment's state alone tell what happened.
    pub read_only: bool,
}

impl Step {
    /// A `Send` step whose continuation is `state` serialised as JSON.
    pub fn send<S: Serialize>(
        step: impl Into<Text>,
        request: HttpRequest,
        journal_body: Option<String>,
        state: &S,
    ) -> Result<Step, GatewayError> {
        let state = serde_json::to_vec(state).map_err(|e| {
            GatewayError::new(
                crate::ErrorKind::Internal,
                format!("cannot encode continuation: {e}"),
            )
        })?;
        Ok(Step::Send(Exchange {
            step: step.into(),
            request,
            journal_body: journal_body.map(Text::from),
            state: state.into(),
            read_only: false,
        }))
    }

    /// Marks a `Send` step as read-only (see [`Exchange::read_only`]). Never mark a request that
    /// could change anything at the gateway: the host would then settle unknown outcomes wrongly.
    pub fn read_only(self) -> Step {
        match self {
            Step::Send(mut x) => {
                x.read_only = true;
                Step::Send(x)
            }
            done => done,
        }
    }
}

/// Decodes a continuation written by [`Step::send`]. A state the plugin cannot read is an
/// internal error, never a guess.
pub fn decode_state<S: DeserializeOwned>(state: &[u8]) -> Result<S, GatewayError> {
    serde_json::from_slice(state).map_err(|e| {
        GatewayError::new(
            crate::ErrorKind::Internal,
            format!("unreadable continuation: {e}"),
        )
    })
}

/// The result of a finished operation, as the gateway reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub state: PaymentState,
    /// The gateway's own status code, when it reported one (looked up in the manifest's table).
    pub gateway_status: Option<String>,
    /// The payment's reference after the operation (new after a re-authorization).
    pub transaction: Option<TransactionRef>,
    /// A reference the operation made obsolete (the old authorization after a re-authorization).
    pub replaced: Option<TransactionRef>,
    pub authorization_code: Option<String>,
    /// Amounts the gateway confirmed; `None` where it does not say. `authorized` and `captured`
    /// are the payment's amounts after the operation; `refunded` is, for a refund, what this
    /// refund moved, and for an inquiry the payment's refunded total.
    pub authorized: Option<Money>,
    pub captured: Option<Money>,
    pub refunded: Option<Money>,
    /// Gateway steps worth telling the operator about (e.g. "authorized amount changed first").
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn new(state: PaymentState) -> Outcome {
        Outcome {
            state,
            gateway_status: None,
            transaction: None,
            replaced: None,
            authorization_code: None,
            authorized: None,
            captured: None,
            refunded: None,
            notes: Vec::new(),
        }
    }

    pub fn gateway_status(mut self, code: impl Into<String>) -> Outcome {
        self.gateway_status = Some(code.into());
        self
    }

    pub fn transaction(mut self, reference: TransactionRef) -> Outcome {
        self.transaction = Some(reference);
        self
    }

    pub fn replaced(mut self, reference: TransactionRef) -> Outcome {
        self.replaced = Some(reference);
        self
    }

    pub fn authorization_code(mut self, code: impl Into<String>) -> Outcome {
        self.authorization_code = Some(code.into());
        self
    }

    pub fn authorized(mut self, amount: Money) -> Outcome {
        self.authorized = Some(amount);
        self
    }

    pub fn captured(mut self, amount: Money) -> Outcome {
        self.captured = Some(amount);
        self
    }

    pub fn refunded(mut self, amount: Money) -> Outcome {
        self.refunded = Some(amount);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Outcome {
        self.notes.push(note.into());
        self
    }
}
