//! Running one operation's step protocol: prepare, send, interpret, until the plugin is done.
//!
//! This is the bare loop, with no journal: the journal layer wraps it so that every exchange is
//! recorded before it is sent. Tests and the conformance suite use it directly. A failed
//! exchange is read by the SDK's one classification ([`renkei_sdk::failed_exchange_effect`]),
//! as in the executor and the conformance suite.

use crate::instance::GatewayInstance;
use crate::transport::{Transport, TransportError};
use renkei_sdk::{
    AfterSend, Context, Effect, ErrorKind, GatewayError, HttpResponse, Operation, Outcome, Step,
    Timestamp, failed_exchange_effect,
};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A multi-step operation cannot legitimately need more exchanges than this; a plugin that asks
/// for more is looping.
pub const MAX_STEPS: usize = 16;

/// One exchange as it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeLog {
    pub step: String,
    /// HTTP status of the reply; `None` when no reply came.
    pub status: Option<u16>,
    pub elapsed: Duration,
}

/// A finished operation.
#[derive(Debug, Clone)]
pub struct Execution {
    pub outcome: Outcome,
    pub exchanges: Vec<ExchangeLog>,
}

/// A failed operation, with what it means for the money.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DriveError {
    /// The plugin or the gateway refused, or a reply could not be understood.
    #[error("{error}")]
    Gateway {
        error: GatewayError,
        /// After a request was sent, only a gateway's explicit answer proves nothing happened.
        effect: Effect,
        exchanges: Vec<ExchangeLog>,
    },
    /// No reply to step `step`.
    #[error("step `{step}`: {error}")]
    Transport {
        step: String,
        error: TransportError,
        effect: Effect,
        exchanges: Vec<ExchangeLog>,
    },
}

impl DriveError {
    pub fn effect(&self) -> Effect {
        match self {
            DriveError::Gateway { effect, .. } | DriveError::Transport { effect, .. } => *effect,
        }
    }

    pub fn exchanges(&self) -> &[ExchangeLog] {
        match self {
            DriveError::Gateway { exchanges, .. } | DriveError::Transport { exchanges, .. } => {
                exchanges
            }
        }
    }

    /// The gateway error, when there is one.
    pub fn gateway_error(&self) -> Option<&GatewayError> {
        match self {
            DriveError::Gateway { error, .. } => Some(error),
            DriveError::Transport { .. } => None,
        }
    }
}

/// The system clock in the SDK's terms: the driver's default clock, and the one a caller without
/// a journal (the conformance harness) hands plugins.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_unix_millis(ms)
}

/// Runs the step protocol over HTTP with no journal.
pub struct Driver {
    transport: Transport,
    clock: fn() -> Timestamp,
}

impl Driver {
    pub fn new(timeout: Duration) -> Driver {
        Driver {
            transport: Transport::new(timeout),
            clock: now,
        }
    }

    /// Uses `clock` instead of the system clock (tests of expiry rules).
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Driver {
        self.clock = clock;
        self
    }

    /// Runs `op` to completion. `idempotency_key` identifies the shop action; each exchange gets
    /// the request id `<key>/<n>`.
    ///
    /// Note on effects: in a multi-step operation an earlier step may have changed the gateway
    /// even when a later one is refused; `effect` then says `MayHaveApplied`.
    pub async fn execute(
        &self,
        gateway: &GatewayInstance,
        op: &Operation,
        idempotency_key: &str,
    ) -> Result<Execution, DriveError> {
        let mut exchanges: Vec<ExchangeLog> = Vec::new();
        let mut request_id = format!("{idempotency_key}/1");
        let order_id = gateway.order_id_for(op, idempotency_key, 1);
        let step = {
            let ctx = Context {
                now: (self.clock)(),
                request_id: &request_id,
                idempotency_key,
                attempt: 1,
                gateway_order_id: order_id.as_deref(),
                // The bare driver keeps no journal, so no handle or dates between operations.
                handle: None,
                dates: Default::default(),
            };
            gateway.prepare(op, &ctx)
        };
        let mut step = step.map_err(|error| DriveError::Gateway {
            effect: error.kind.effect(),
            error,
            exchanges: Vec::new(),
        })?;
        // Whether an exchange that could change the payment has been sent.
        let mut changed = false;
        loop {
            let exchange = match step {
                Step::Done(outcome) => return Ok(Execution { outcome, exchanges }),
                Step::Send(x) => x,
            };
            if exchanges.len() >= MAX_STEPS {
                return Err(DriveError::Gateway {
                    error: GatewayError::new(
                        ErrorKind::Internal,
                        format!("plugin asked for more than {MAX_STEPS} exchanges"),
                    ),
                    effect: Effect::MayHaveApplied,
                    exchanges,
                });
            }
            let started = Instant::now();
            let sent = self.transport.send(&exchange.request).await;
            let reply: HttpResponse = match sent {
                Ok(r) => r,
                Err(error) => {
                    exchanges.push(ExchangeLog {
                        step: exchange.step.to_string(),
                        status: None,
                        elapsed: started.elapsed(),
                    });
                    let effect =
                        failed_exchange_effect(error.after_send(), exchange.effect, changed);
                    return Err(DriveError::Transport {
                        step: exchange.step.to_string(),
                        error,
                        effect,
                        exchanges,
                    });
                }
            };
            exchanges.push(ExchangeLog {
                step: exchange.step.to_string(),
                status: Some(reply.status),
                elapsed: started.elapsed(),
            });
            request_id = format!("{idempotency_key}/{}", exchanges.len() + 1);
            let ctx = Context {
                now: (self.clock)(),
                request_id: &request_id,
                idempotency_key,
                attempt: 1,
                gateway_order_id: order_id.as_deref(),
                // The bare driver keeps no journal, so no handle or dates between operations.
                handle: None,
                dates: Default::default(),
            };
            let reply_status = reply.status;
            step = match gateway.interpret(op, &ctx, &exchange.state, &reply) {
                Ok(next) => {
                    changed |= exchange.effect.may_move_money();
                    next
                }
                Err(error) => {
                    // A refusal after an earlier step changed the payment leaves that change.
                    let effect = failed_exchange_effect(
                        AfterSend::Answered {
                            status: reply_status,
                            kind: error.kind,
                        },
                        exchange.effect,
                        changed,
                    );
                    return Err(DriveError::Gateway {
                        error,
                        effect,
                        exchanges,
                    });
                }
            };
        }
    }
}
