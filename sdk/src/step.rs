//! The step/continuation protocol: how a plugin drives a multi-exchange operation without doing
//! I/O.
//!
//! `prepare` answers the first [`Step`]; after the host has journaled and sent the request it
//! calls `interpret` with the reply and the opaque state the plugin asked to get back. The plugin
//! answers the next `Step`, until `Step::Done`. Because the state is bytes the host journals, a
//! host that crashes mid-operation can resume or resolve it after a restart.

use crate::{Bytes, GatewayError, Handle, HttpRequest, Money, PaymentState, Text, TransactionRef};
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
    /// What the request can do at the gateway. The host settles failures and unknown outcomes
    /// with it: a failed step that moves no money leaves the payment as it was, and only when
    /// every earlier exchange of the operation moved no money does the payment's state alone
    /// tell what happened.
    pub effect: StepEffect,
}

/// What one exchange can do at the gateway, as the plugin declares it.
///
/// The host reads a failed or unanswered exchange by it. Declaring less than a request can do
/// is the one lie that loses money: the host would book as "nothing happened" a request that
/// may have moved money. Declaring more only costs an inquiry or an operator's review where a
/// clean refusal was possible (a GMO-PG `EntryTran` declared as moving money turned every
/// decline at the following `ExecTran` into "may have applied").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepEffect {
    /// Only reads (an inquiry): whatever happens to the request, the gateway is unchanged.
    Reads,
    /// May create or change a record at the gateway (an order id registered before the card
    /// is charged) but can neither move money nor change a payment's state.
    Registers,
    /// May move money or change a payment: authorize, capture, void, refund, change an amount.
    /// What a step is unless its plugin says otherwise.
    MayMoveMoney,
}

impl StepEffect {
    /// Every effect, least to most.
    pub const ALL: [StepEffect; 3] = [
        StepEffect::Reads,
        StepEffect::Registers,
        StepEffect::MayMoveMoney,
    ];

    /// Whether a request with this effect may have moved money or changed a payment.
    pub fn may_move_money(self) -> bool {
        self == StepEffect::MayMoveMoney
    }

    /// The name journaled and shown to operators (`reads`, `registers`, `may_move_money`).
    pub fn name(self) -> &'static str {
        match self {
            StepEffect::Reads => "reads",
            StepEffect::Registers => "registers",
            StepEffect::MayMoveMoney => "may_move_money",
        }
    }

    /// The effect named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<StepEffect> {
        StepEffect::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The number the effect crosses the ABI as.
    pub fn code(self) -> u8 {
        match self {
            StepEffect::Reads => 0,
            StepEffect::Registers => 1,
            StepEffect::MayMoveMoney => 2,
        }
    }

    /// The effect a number from across the ABI stands for. A number this SDK does not know (a
    /// later SDK's finer effect) is read as [`StepEffect::MayMoveMoney`], the one reading that
    /// can never book moved money as unmoved.
    pub fn from_code(code: u8) -> StepEffect {
        match code {
            0 => StepEffect::Reads,
            1 => StepEffect::Registers,
            _ => StepEffect::MayMoveMoney,
        }
    }
}

impl std::fmt::Display for StepEffect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
            effect: StepEffect::MayMoveMoney,
        }))
    }

    /// Declares what a `Send` step can do at the gateway (see [`StepEffect`]). Never declare
    /// less than the request can do: the host would then settle unknown outcomes wrongly.
    pub fn effect(self, effect: StepEffect) -> Step {
        match self {
            Step::Send(mut x) => {
                x.effect = effect;
                Step::Send(x)
            }
            done => done,
        }
    }

    /// Marks a `Send` step as an inquiry: [`StepEffect::Reads`].
    pub fn read_only(self) -> Step {
        self.effect(StepEffect::Reads)
    }

    /// Marks a `Send` step as one that registers but moves no money: [`StepEffect::Registers`].
    pub fn registers(self) -> Step {
        self.effect(StepEffect::Registers)
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
    /// Since 0.2: the payment's handle after the operation ([`Handle`]), replacing the one the
    /// host kept; `None` leaves it as it was.
    pub handle: Option<Handle>,
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
            handle: None,
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

    pub fn handle(mut self, handle: Handle) -> Outcome {
        self.handle = Some(handle);
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
