//! What a failure after a request was handed to the network means for the money.
//!
//! Every step loop (the host's bare driver, its journaled executor, the conformance suite's
//! probes) must read a failed exchange the same way, or one of them would settle as "not
//! applied" a request another treats as possibly processed. This is the one reading. It is plain
//! Rust, not part of the ABI: plugins never see it; they only choose the [`ErrorKind`] it reads.
//!
//! The rule behind it (the resolution rule in ARCHITECTURE.md): no answer that fails to settle
//! the outcome says the gateway is done with the request. Only a request that never left, or a
//! gateway's explicit refusal, proves nothing happened.

use crate::{Effect, ErrorKind, StepEffect};

/// What happened to one request after the host tried to send it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterSend {
    /// No connection was opened (refused, unreachable, a connect that timed out, a TLS
    /// handshake that failed): not a byte of the request left the host.
    NotConnected,
    /// The request description could not be turned into a request (bad URL, bad header), so
    /// nothing was sent.
    Unsendable,
    /// No complete reply within the deadline: the gateway may be processing it still.
    TimedOut,
    /// The connection broke once the request was (perhaps) sent, or mid-reply.
    ConnectionLost,
    /// A reply came with this HTTP status and the plugin read it as an error of this kind.
    Answered {
        /// The reply's HTTP status.
        status: u16,
        /// What the plugin read the reply as.
        kind: ErrorKind,
    },
}

impl AfterSend {
    /// What this request alone may have done at the gateway, were it one that can change the
    /// payment. After sending, only an explicit refusal by the gateway proves nothing happened:
    /// a reply the plugin could not read (`Protocol`), a panic, an internal error, and kinds
    /// that only make sense before sending (`InvalidRequest`, `Unsupported`, `Config`) do not.
    /// Nor does any reply with a 5xx status, whatever the plugin read it as: a load balancer
    /// or proxy answers 5xx for a request the gateway behind it may have processed, so a
    /// plugin's "refused" there is a guess the host does not take.
    pub fn effect(self) -> Effect {
        match self {
            AfterSend::NotConnected | AfterSend::Unsendable => Effect::NotApplied,
            AfterSend::TimedOut | AfterSend::ConnectionLost => Effect::MayHaveApplied,
            AfterSend::Answered { status, .. } if status >= 500 => Effect::MayHaveApplied,
            AfterSend::Answered { kind, .. } if is_refusal(kind) => Effect::NotApplied,
            AfterSend::Answered { .. } => Effect::MayHaveApplied,
        }
    }

    /// True when the request certainly never reached the gateway.
    pub fn certainly_not_sent(self) -> bool {
        matches!(self, AfterSend::NotConnected | AfterSend::Unsendable)
    }
}

/// True for the kinds that say the gateway refused knowingly, so nothing moved: declined,
/// rejected, already done, authentication refused, unavailable. A reply read as one of these
/// proves nothing happened unless its status says a proxy answered ([`AfterSend::effect`]).
pub fn is_refusal(kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::Declined
        | ErrorKind::Rejected
        | ErrorKind::AlreadyDone
        | ErrorKind::Authentication
        | ErrorKind::Unavailable => true,
        ErrorKind::InvalidRequest
        | ErrorKind::Unsupported
        | ErrorKind::Protocol
        | ErrorKind::Config
        | ErrorKind::Panicked
        | ErrorKind::Internal => false,
    }
}

/// What a failed exchange means for the whole operation.
///
/// `step` is the failed exchange's declared effect ([`crate::Exchange::effect`]); `changed`
/// says whether an earlier exchange of the operation that could move money was sent and
/// answered. Once one was, a later failure (even an explicit refusal) leaves that change in
/// place, so the operation may have taken effect. Until then, a failed step that moves no money
/// (a read, or a registration such as GMO-PG's `EntryTran`) leaves the payment as it was,
/// whatever became of the request, and a failed money step is read by [`AfterSend::effect`].
pub fn failed_exchange_effect(after: AfterSend, step: StepEffect, changed: bool) -> Effect {
    if changed {
        Effect::MayHaveApplied
    } else if !step.may_move_money() {
        Effect::NotApplied
    } else {
        after.effect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSALS: [ErrorKind; 5] = [
        ErrorKind::Declined,
        ErrorKind::Rejected,
        ErrorKind::AlreadyDone,
        ErrorKind::Authentication,
        ErrorKind::Unavailable,
    ];

    #[test]
    fn after_sending_only_explicit_refusals_prove_nothing_happened() {
        for kind in ErrorKind::ALL {
            let expected = if REFUSALS.contains(&kind) {
                Effect::NotApplied
            } else {
                Effect::MayHaveApplied
            };
            assert_eq!(
                AfterSend::Answered { status: 200, kind }.effect(),
                expected,
                "{kind}"
            );
        }
    }

    #[test]
    fn kinds_that_prove_nothing_before_sending_prove_nothing_after_it() {
        // `InvalidRequest`, `Unsupported` and `Config` read as "not applied" from `prepare`
        // (ErrorKind::effect); returned for a reply, the request has already gone.
        for kind in [
            ErrorKind::InvalidRequest,
            ErrorKind::Unsupported,
            ErrorKind::Config,
        ] {
            assert_eq!(kind.effect(), Effect::NotApplied, "{kind}");
            assert_eq!(
                AfterSend::Answered { status: 200, kind }.effect(),
                Effect::MayHaveApplied,
                "{kind}"
            );
        }
    }

    /// The resolution rule: a 5xx is an unknown outcome, even when the plugin reads the page as
    /// a refusal.
    #[test]
    fn a_5xx_reply_may_have_taken_effect_whatever_the_plugin_read() {
        for status in [500, 502, 503, 504, 599] {
            for kind in ErrorKind::ALL {
                let after = AfterSend::Answered { status, kind };
                assert_eq!(after.effect(), Effect::MayHaveApplied, "{status} {kind}");
                assert_eq!(
                    failed_exchange_effect(after, StepEffect::MayMoveMoney, false),
                    Effect::MayHaveApplied
                );
            }
        }
        for status in [200, 400, 409, 499] {
            let after = AfterSend::Answered {
                status,
                kind: ErrorKind::Declined,
            };
            assert_eq!(after.effect(), Effect::NotApplied, "{status}");
        }
    }

    #[test]
    fn a_request_that_never_left_did_not_take_effect() {
        for after in [AfterSend::NotConnected, AfterSend::Unsendable] {
            assert!(after.certainly_not_sent());
            assert_eq!(after.effect(), Effect::NotApplied);
        }
    }

    /// The resolution rule: a timeout or a lost connection does not say the gateway is done
    /// with the request.
    #[test]
    fn no_reply_after_sending_may_have_taken_effect() {
        for after in [AfterSend::TimedOut, AfterSend::ConnectionLost] {
            assert!(!after.certainly_not_sent());
            assert_eq!(after.effect(), Effect::MayHaveApplied);
        }
    }

    #[test]
    fn a_failed_step_that_moves_no_money_before_any_change_changes_nothing() {
        for after in [
            AfterSend::TimedOut,
            AfterSend::ConnectionLost,
            AfterSend::Answered {
                status: 200,
                kind: ErrorKind::Protocol,
            },
            AfterSend::Answered {
                status: 200,
                kind: ErrorKind::Panicked,
            },
        ] {
            for step in [StepEffect::Reads, StepEffect::Registers] {
                assert_eq!(
                    failed_exchange_effect(after, step, false),
                    Effect::NotApplied,
                    "{after:?} {step}"
                );
            }
        }
    }

    #[test]
    fn a_failure_after_an_earlier_change_may_have_taken_effect() {
        for after in [
            AfterSend::NotConnected,
            AfterSend::Unsendable,
            AfterSend::Answered {
                status: 200,
                kind: ErrorKind::Declined,
            },
            AfterSend::Answered {
                status: 200,
                kind: ErrorKind::AlreadyDone,
            },
        ] {
            for step in StepEffect::ALL {
                assert_eq!(
                    failed_exchange_effect(after, step, true),
                    Effect::MayHaveApplied,
                    "{after:?} {step}"
                );
            }
        }
    }

    #[test]
    fn a_failed_first_write_is_read_by_what_happened_to_it() {
        assert_eq!(
            failed_exchange_effect(AfterSend::NotConnected, StepEffect::MayMoveMoney, false),
            Effect::NotApplied
        );
        assert_eq!(
            failed_exchange_effect(
                AfterSend::Answered {
                    status: 200,
                    kind: ErrorKind::Rejected
                },
                StepEffect::MayMoveMoney,
                false
            ),
            Effect::NotApplied
        );
        assert_eq!(
            failed_exchange_effect(AfterSend::TimedOut, StepEffect::MayMoveMoney, false),
            Effect::MayHaveApplied
        );
        assert_eq!(
            failed_exchange_effect(
                AfterSend::Answered {
                    status: 200,
                    kind: ErrorKind::Protocol
                },
                StepEffect::MayMoveMoney,
                false
            ),
            Effect::MayHaveApplied
        );
    }
}
