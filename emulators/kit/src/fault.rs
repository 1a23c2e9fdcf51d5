//! The fault vocabulary every emulator speaks: what a rule does ([`FaultKind`]), which requests
//! it hits (the gateway's own matcher `M`), how long it stays ([`FaultLifetime`]), and the book
//! that fires rules in installation order, first match wins.
//!
//! The faults model what a payment client must survive: a slow gateway, a gateway that never
//! answers, maintenance pages, error replies, broken bodies, dropped connections. Each kind says
//! whether the gateway **did the request** before misbehaving ([`FaultKind::processes_request`]):
//! "the gateway never saw it" and "the gateway did it, but you will not hear about it" look
//! alike to a client, and telling them apart by inquiry is exactly what a client's recovery must
//! get right (rule G-8).
//!
//! Two things differ between gateways and are type parameters: the matcher `M` (each gateway
//! names its own identifiers) and the error code `C` a gateway-error fault answers with. An
//! emulator wraps [`Fault`] in a type of its own with [`crate::gateway_fault!`], so that it can
//! add its `on_*` narrowing methods; the JSON shape (`{"fault": {"kind": ...}, "match": {...},
//! "lifetime": ...}`) is the same for all.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

/// What happens to a matching request; `C` is the gateway's error code.
///
/// JSON: `{"kind": "<snake_case name>", ...fields}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    bound(serialize = "C: Serialize", deserialize = "C: Deserialize<'de>")
)]
pub enum FaultKind<C> {
    /// Processed, `millis` late, then answered normally. The request is processed after the delay
    /// even if the client has hung up meanwhile (a gateway does not notice a client leaving; the
    /// reply then goes to a closed socket), and a gateway that judges request expiry judges it at
    /// that moment.
    Latency {
        /// Added delay in milliseconds.
        millis: u64,
    },
    /// Not processed; no byte is sent and the connection stays open until the client gives up
    /// (or the emulator's hold limit passes, after which it is closed unanswered).
    NoReply,
    /// Processed, then as [`FaultKind::NoReply`]: the client times out on a request that took
    /// effect.
    NoReplyAfterProcessing,
    /// Not processed; this HTTP status (e.g. 502, 503, 504) with a short HTML page, as a proxy
    /// or a maintenance page in front of the gateway would send. A status outside 400..=599 is
    /// sent as 500.
    HttpStatus {
        /// Status code, 400..=599.
        status: u16,
    },
    /// Processed, then answered with this HTTP status and an HTML page instead of the reply: a
    /// proxy that timed out on, or lost, a reply the gateway had produced.
    HttpStatusAfterProcessing {
        /// Status code, 400..=599.
        status: u16,
    },
    /// Not processed; the gateway's error reply with `code`, or the emulator's default error
    /// when `None`.
    GatewayError {
        /// The error to send; `None` for the emulator's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<C>,
    },
    /// Processed, then answered with the error reply of [`FaultKind::GatewayError`]: the gateway
    /// reports a failure of a request that in fact took effect.
    GatewayErrorAfterProcessing {
        /// The error to send; `None` for the emulator's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<C>,
    },
    /// Processed; HTTP 200, correctly framed, whose body is not a parsable reply.
    Malformed,
    /// Processed; the reply announces its full `Content-Length`, sends `after_bytes` bytes of the
    /// body (half of it when `None`; always fewer than the whole) and closes the connection.
    CutBody {
        /// Body bytes sent before the connection is closed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_bytes: Option<usize>,
    },
    /// Not processed; the TCP connection is reset (RST) without any reply.
    Reset,
    /// Processed, then the TCP connection is reset without any reply. The client cannot tell
    /// whether its request took effect.
    ReplyLost,
}

impl<C> FaultKind<C> {
    /// Whether the request is processed (state changed as it normally would) before the fault
    /// strikes.
    pub fn processes_request(&self) -> bool {
        match self {
            FaultKind::Latency { .. }
            | FaultKind::NoReplyAfterProcessing
            | FaultKind::HttpStatusAfterProcessing { .. }
            | FaultKind::GatewayErrorAfterProcessing { .. }
            | FaultKind::Malformed
            | FaultKind::CutBody { .. }
            | FaultKind::ReplyLost => true,
            FaultKind::NoReply
            | FaultKind::HttpStatus { .. }
            | FaultKind::GatewayError { .. }
            | FaultKind::Reset => false,
        }
    }
}

/// How long a fault stays installed.
///
/// JSON: `{"times": n}` or `"persistent"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultLifetime {
    /// Fires for the next `n` matching requests, then disappears (0 counts as 1).
    Times(u32),
    /// Fires for every matching request until removed.
    Persistent,
}

impl Default for FaultLifetime {
    /// The next matching request only.
    fn default() -> Self {
        FaultLifetime::Times(1)
    }
}

/// Whether a gateway's matcher hits a request, described as `S` (the gateway's view of it).
pub trait Matches<S: ?Sized> {
    /// True when every criterion the matcher sets holds for `subject`.
    fn matches(&self, subject: &S) -> bool;
}

/// A fault rule: what ([`FaultKind`]), for which requests (`M`), for how long
/// ([`FaultLifetime`]).
///
/// JSON: `{"fault": {"kind": ...}, "match": {...}, "lifetime": ...}`; `match` and `lifetime` may
/// be left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(
        serialize = "M: Serialize, C: Serialize",
        deserialize = "M: Deserialize<'de> + Default, C: Deserialize<'de>"
    )
)]
pub struct Fault<M, C> {
    /// What happens.
    #[serde(rename = "fault")]
    pub kind: FaultKind<C>,
    /// Requests it applies to; every request by default.
    #[serde(rename = "match", default)]
    pub matcher: M,
    /// The next matching request only, by default.
    #[serde(default)]
    pub lifetime: FaultLifetime,
}

impl<M: Default, C> Fault<M, C> {
    /// A rule of `kind` for the next request, whatever it is.
    pub fn new(kind: FaultKind<C>) -> Self {
        Self {
            kind,
            matcher: M::default(),
            lifetime: FaultLifetime::default(),
        }
    }

    /// [`FaultKind::Latency`].
    pub fn latency(millis: u64) -> Self {
        Self::new(FaultKind::Latency { millis })
    }

    /// [`FaultKind::NoReply`].
    pub fn no_reply() -> Self {
        Self::new(FaultKind::NoReply)
    }

    /// [`FaultKind::NoReplyAfterProcessing`].
    pub fn no_reply_after_processing() -> Self {
        Self::new(FaultKind::NoReplyAfterProcessing)
    }

    /// [`FaultKind::HttpStatus`].
    pub fn http_status(status: u16) -> Self {
        Self::new(FaultKind::HttpStatus { status })
    }

    /// [`FaultKind::HttpStatusAfterProcessing`].
    pub fn http_status_after_processing(status: u16) -> Self {
        Self::new(FaultKind::HttpStatusAfterProcessing { status })
    }

    /// [`FaultKind::GatewayError`] with the emulator's default error.
    pub fn gateway_error() -> Self {
        Self::new(FaultKind::GatewayError { code: None })
    }

    /// [`FaultKind::GatewayError`] with `code`.
    pub fn gateway_error_with(code: impl Into<C>) -> Self {
        Self::new(FaultKind::GatewayError {
            code: Some(code.into()),
        })
    }

    /// [`FaultKind::GatewayErrorAfterProcessing`] with the emulator's default error.
    pub fn gateway_error_after_processing() -> Self {
        Self::new(FaultKind::GatewayErrorAfterProcessing { code: None })
    }

    /// [`FaultKind::GatewayErrorAfterProcessing`] with `code`.
    pub fn gateway_error_after_processing_with(code: impl Into<C>) -> Self {
        Self::new(FaultKind::GatewayErrorAfterProcessing {
            code: Some(code.into()),
        })
    }

    /// [`FaultKind::Malformed`].
    pub fn malformed() -> Self {
        Self::new(FaultKind::Malformed)
    }

    /// [`FaultKind::CutBody`], cut in the middle.
    pub fn cut_body() -> Self {
        Self::new(FaultKind::CutBody { after_bytes: None })
    }

    /// [`FaultKind::CutBody`], cut after `bytes` bytes of the body.
    pub fn cut_body_after(bytes: usize) -> Self {
        Self::new(FaultKind::CutBody {
            after_bytes: Some(bytes),
        })
    }

    /// [`FaultKind::Reset`].
    pub fn reset() -> Self {
        Self::new(FaultKind::Reset)
    }

    /// [`FaultKind::ReplyLost`].
    pub fn reply_lost() -> Self {
        Self::new(FaultKind::ReplyLost)
    }
}

impl<M, C> Fault<M, C> {
    /// Narrows the rule's matcher; the gateways' `on_*` methods are written with this.
    pub fn narrow(mut self, criterion: impl FnOnce(&mut M)) -> Self {
        criterion(&mut self.matcher);
        self
    }

    /// Fires for the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.lifetime = FaultLifetime::Times(n);
        self
    }

    /// Fires for every matching request until removed.
    pub fn persistent(mut self) -> Self {
        self.lifetime = FaultLifetime::Persistent;
        self
    }

    /// Whether a request hit by this rule is processed; see [`FaultKind::processes_request`].
    pub fn processes_request(&self) -> bool {
        self.kind.processes_request()
    }
}

/// A gateway's rule type: [`Fault`] itself, or the emulator's wrapper of it made by
/// [`crate::gateway_fault!`]. The book works on this so that it lists rules in the emulator's
/// own type.
pub trait Rule: Clone {
    /// The gateway's matcher.
    type Match;
    /// The gateway's error code.
    type Code: Clone;

    /// The rule.
    fn fault(&self) -> &Fault<Self::Match, Self::Code>;

    /// The rule, to count down its lifetime.
    fn fault_mut(&mut self) -> &mut Fault<Self::Match, Self::Code>;
}

impl<M: Clone, C: Clone> Rule for Fault<M, C> {
    type Match = M;
    type Code = C;

    fn fault(&self) -> &Fault<M, C> {
        self
    }

    fn fault_mut(&mut self) -> &mut Fault<M, C> {
        self
    }
}

/// Handle of an installed fault, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultId(pub u64);

/// An installed fault and how often it has fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledFault<F> {
    /// Its handle.
    pub id: FaultId,
    /// What was installed; a counted `lifetime` counts down as it fires.
    #[serde(flatten)]
    pub fault: F,
    /// Times fired so far.
    pub fired: u64,
}

/// The installed faults, oldest first. The first match wins. Shared by every connection: the
/// lock is held only to find and count down a rule.
#[derive(Debug)]
pub struct FaultBook<F> {
    faults: Mutex<Vec<InstalledFault<F>>>,
    next_id: AtomicU64,
    /// Lets the hot path skip the lock when nothing is installed.
    armed: AtomicBool,
    /// Requests a latency fault holds, not yet processed (see [`FaultBook::hold`]).
    held: Arc<AtomicUsize>,
}

impl<F> Default for FaultBook<F> {
    fn default() -> Self {
        Self {
            faults: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            armed: AtomicBool::new(false),
            held: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// A request a latency fault holds: counted in [`FaultBook::held`] until dropped. Move it into
/// the work that processes the request, so the count falls once the gateway's book shows the
/// request's effect (or once the work is dropped unrun because the emulator stopped).
#[derive(Debug)]
#[must_use = "the request counts as held only while this lives"]
pub struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<F> FaultBook<F> {
    /// Counts a request as held until the returned guard drops.
    pub fn hold(&self) -> Held {
        self.held.fetch_add(1, Ordering::AcqRel);
        Held(Arc::clone(&self.held))
    }

    /// Requests held by a latency fault and not yet processed. A test that compares its
    /// client's belief with the gateway's book waits for zero first: a held request is the
    /// gateway's pending word on an outcome, which it gives whether or not the client still
    /// listens.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

impl<F: Rule> FaultBook<F> {
    /// Installs `fault` behind every rule already installed.
    pub fn install(&self, fault: impl Into<F>) -> FaultId {
        let id = FaultId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let mut faults = self.lock();
        faults.push(InstalledFault {
            id,
            fault: fault.into(),
            fired: 0,
        });
        self.armed.store(true, Ordering::Release);
        id
    }

    /// Removes one rule; false if `id` is not installed.
    pub fn remove(&self, id: FaultId) -> bool {
        let mut faults = self.lock();
        let before = faults.len();
        faults.retain(|f| f.id != id);
        self.armed.store(!faults.is_empty(), Ordering::Release);
        faults.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        let mut faults = self.lock();
        faults.clear();
        self.armed.store(false, Ordering::Release);
    }

    /// No rule is installed.
    pub fn is_empty(&self) -> bool {
        !self.armed.load(Ordering::Acquire)
    }

    /// The installed rules, oldest first.
    pub fn list(&self) -> Vec<InstalledFault<F>> {
        self.lock().clone()
    }

    /// Takes the first rule matching `subject`, counting one firing against its lifetime;
    /// used-up rules are removed.
    pub fn take<S: ?Sized>(&self, subject: &S) -> Option<FaultKind<F::Code>>
    where
        F::Match: Matches<S>,
    {
        if self.is_empty() {
            return None;
        }
        let mut faults = self.lock();
        let index = faults
            .iter()
            .position(|f| f.fault.fault().matcher.matches(subject))?;
        let entry = &mut faults[index];
        entry.fired += 1;
        let rule = entry.fault.fault_mut();
        let kind = rule.kind.clone();
        if let FaultLifetime::Times(n) = &mut rule.lifetime {
            *n = n.saturating_sub(1);
            if *n == 0 {
                faults.remove(index);
            }
        }
        self.armed.store(!faults.is_empty(), Ordering::Release);
        Some(kind)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<InstalledFault<F>>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Asserts the parts of the JSON shape every fault type reads alike, whatever its matcher and
/// code: `fault`, `match` and `lifetime` are read together, a kind alone is a one-shot rule for
/// every request, a kind's own fields are read, and an unknown kind or a field of another kind
/// is refused.
///
/// `match` is the type's JSON for one matcher and `narrow` the same matcher applied to a rule.
#[macro_export]
macro_rules! assert_shared_json_shape {
    ($fault:ty, match: $matcher:literal, narrow: $narrow:expr) => {{
        let text = format!(
            r#"{{"fault": {{"kind": "http_status_after_processing", "status": 504}}, "match": {}, "lifetime": "persistent"}}"#,
            $matcher
        );
        let fault: $fault = serde_json::from_str(&text).unwrap();
        let narrow = $narrow;
        assert_eq!(
            fault,
            narrow(<$fault>::http_status_after_processing(504)).persistent()
        );
        let one: $fault = serde_json::from_str(r#"{"fault": {"kind": "reply_lost"}}"#).unwrap();
        assert_eq!(one, <$fault>::reply_lost());
        let cut: $fault =
            serde_json::from_str(r#"{"fault": {"kind": "cut_body", "after_bytes": 10}}"#).unwrap();
        assert_eq!(cut, <$fault>::cut_body_after(10));
        for bad in [
            r#"{"fault": {"kind": "nonsense"}}"#,
            r#"{"fault": {"kind": "latency", "millis": 1, "status": 1}}"#,
        ] {
            assert!(serde_json::from_str::<$fault>(bad).is_err(), "{bad}");
        }
    }};
}

/// Asserts which kinds of a fault type (the kit's [`Fault`] or a [`gateway_fault!`] wrapper)
/// process the request before they misbehave and which do not, built with the type's own
/// constructors: every emulator's fault tests lean on that split, so each type is held to this
/// one table.
#[macro_export]
macro_rules! assert_processing_split {
    ($fault:ty) => {{
        let processed = [
            <$fault>::latency(1),
            <$fault>::no_reply_after_processing(),
            <$fault>::http_status_after_processing(503),
            <$fault>::gateway_error_after_processing(),
            <$fault>::malformed(),
            <$fault>::cut_body(),
            <$fault>::reply_lost(),
        ];
        let not_processed = [
            <$fault>::no_reply(),
            <$fault>::http_status(503),
            <$fault>::gateway_error(),
            <$fault>::reset(),
        ];
        assert!(processed.iter().all(<$fault>::processes_request));
        assert!(!not_processed.iter().any(<$fault>::processes_request));
    }};
}

/// Declares an emulator's fault rule type: a wrapper of [`Fault`] over the gateway's matcher and
/// error code, with every constructor of the shared vocabulary, so that the emulator can add
/// its own `on_*` narrowing methods in an `impl` of its own. It reads and serializes as the
/// [`Fault`] it wraps.
///
/// ```
/// use renkei_emulator_kit::{Matches, gateway_fault};
///
/// #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
/// pub struct Match {
///     #[serde(skip_serializing_if = "Option::is_none")]
///     pub order: Option<String>,
/// }
///
/// impl Matches<str> for Match {
///     fn matches(&self, order: &str) -> bool {
///         self.order.as_deref().is_none_or(|want| want == order)
///     }
/// }
///
/// gateway_fault! {
///     /// The made-up gateway's fault rule.
///     pub struct Fault(Match, String);
/// }
///
/// impl Fault {
///     pub fn on_order(self, order: &str) -> Fault {
///         self.narrow(|m| m.order = Some(order.to_owned()))
///     }
/// }
///
/// let fault = Fault::reply_lost().on_order("o-1").times(2);
/// assert!(fault.processes_request());
/// assert_eq!(fault.lifetime, renkei_emulator_kit::FaultLifetime::Times(2));
/// ```
#[macro_export]
macro_rules! gateway_fault {
    ($(#[$meta:meta])* $vis:vis struct $name:ident($matcher:ty, $code:ty);) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        $vis struct $name($crate::Fault<$matcher, $code>);

        impl $name {
            /// A rule of `kind` for the next request, whatever it is.
            pub fn new(kind: $crate::FaultKind<$code>) -> $name {
                $name($crate::Fault::new(kind))
            }

            /// `FaultKind::Latency`.
            pub fn latency(millis: u64) -> $name {
                $name($crate::Fault::latency(millis))
            }

            /// `FaultKind::NoReply`.
            pub fn no_reply() -> $name {
                $name($crate::Fault::no_reply())
            }

            /// `FaultKind::NoReplyAfterProcessing`.
            pub fn no_reply_after_processing() -> $name {
                $name($crate::Fault::no_reply_after_processing())
            }

            /// `FaultKind::HttpStatus`.
            pub fn http_status(status: u16) -> $name {
                $name($crate::Fault::http_status(status))
            }

            /// `FaultKind::HttpStatusAfterProcessing`.
            pub fn http_status_after_processing(status: u16) -> $name {
                $name($crate::Fault::http_status_after_processing(status))
            }

            /// `FaultKind::GatewayError` with the default error.
            pub fn gateway_error() -> $name {
                $name($crate::Fault::gateway_error())
            }

            /// `FaultKind::GatewayError` with `code`.
            pub fn gateway_error_with(code: impl Into<$code>) -> $name {
                $name($crate::Fault::gateway_error_with(code))
            }

            /// `FaultKind::GatewayErrorAfterProcessing` with the default error.
            pub fn gateway_error_after_processing() -> $name {
                $name($crate::Fault::gateway_error_after_processing())
            }

            /// `FaultKind::GatewayErrorAfterProcessing` with `code`.
            pub fn gateway_error_after_processing_with(code: impl Into<$code>) -> $name {
                $name($crate::Fault::gateway_error_after_processing_with(code))
            }

            /// `FaultKind::Malformed`.
            pub fn malformed() -> $name {
                $name($crate::Fault::malformed())
            }

            /// `FaultKind::CutBody`, cut in the middle.
            pub fn cut_body() -> $name {
                $name($crate::Fault::cut_body())
            }

            /// `FaultKind::CutBody`, cut after `bytes` bytes.
            pub fn cut_body_after(bytes: usize) -> $name {
                $name($crate::Fault::cut_body_after(bytes))
            }

            /// `FaultKind::Reset`.
            pub fn reset() -> $name {
                $name($crate::Fault::reset())
            }

            /// `FaultKind::ReplyLost`.
            pub fn reply_lost() -> $name {
                $name($crate::Fault::reply_lost())
            }

            /// Narrows the matcher; the `on_*` methods are written with this.
            pub fn narrow(self, criterion: impl FnOnce(&mut $matcher)) -> $name {
                $name(self.0.narrow(criterion))
            }

            /// Fires for the next `n` matching requests.
            pub fn times(self, n: u32) -> $name {
                $name(self.0.times(n))
            }

            /// Fires for every matching request until removed.
            pub fn persistent(self) -> $name {
                $name(self.0.persistent())
            }

            /// Whether a request hit by this rule is processed.
            pub fn processes_request(&self) -> bool {
                self.0.processes_request()
            }

            /// The shared rule this wraps.
            pub fn into_inner(self) -> $crate::Fault<$matcher, $code> {
                self.0
            }
        }

        impl ::core::ops::Deref for $name {
            type Target = $crate::Fault<$matcher, $code>;

            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl ::core::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }

        impl ::core::convert::From<$crate::Fault<$matcher, $code>> for $name {
            fn from(fault: $crate::Fault<$matcher, $code>) -> $name {
                $name(fault)
            }
        }

        impl $crate::Rule for $name {
            type Match = $matcher;
            type Code = $code;

            fn fault(&self) -> &$crate::Fault<$matcher, $code> {
                &self.0
            }

            fn fault_mut(&mut self) -> &mut $crate::Fault<$matcher, $code> {
                &mut self.0
            }
        }

        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                $crate::__serde::Serialize::serialize(&self.0, serializer)
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<$name, D::Error> {
                <$crate::Fault<$matcher, $code> as $crate::__serde::Deserialize<'de>>::deserialize(
                    deserializer,
                )
                .map($name)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Match {
        #[serde(skip_serializing_if = "Option::is_none")]
        op: Option<String>,
    }

    impl Matches<str> for Match {
        fn matches(&self, op: &str) -> bool {
            self.op.as_deref().is_none_or(|want| want == op)
        }
    }

    type TestFault = Fault<Match, String>;

    fn on(op: &str) -> impl FnOnce(&mut Match) {
        let op = op.to_owned();
        move |m| m.op = Some(op)
    }

    #[test]
    fn one_shot_faults_fire_once_and_matchers_filter() {
        let book = FaultBook::<TestFault>::default();
        book.install(TestFault::reset().narrow(on("sale")));
        assert_eq!(book.take("auth"), None);
        assert_eq!(book.take("sale"), Some(FaultKind::Reset));
        assert_eq!(book.take("sale"), None);
        assert!(book.is_empty());
    }

    #[test]
    fn first_match_wins_and_counted_rules_count_down() {
        let book = FaultBook::<TestFault>::default();
        book.install(TestFault::http_status(503).narrow(on("sale")).times(2));
        book.install(TestFault::reply_lost());
        let five_oh_three = Some(FaultKind::HttpStatus { status: 503 });
        assert_eq!(book.take("sale"), five_oh_three);
        assert_eq!(book.list()[0].fault.lifetime, FaultLifetime::Times(1));
        assert_eq!(book.take("sale"), five_oh_three);
        assert_eq!(book.take("sale"), Some(FaultKind::ReplyLost));
        assert!(book.is_empty());
    }

    #[test]
    fn a_request_counts_as_held_until_its_work_drops_the_guard() {
        let book = FaultBook::<TestFault>::default();
        let first = book.hold();
        let second = book.hold();
        assert_eq!(book.held(), 2);
        drop(first);
        assert_eq!(book.held(), 1);
        // Work that never runs (the emulator stopped) drops its guard all the same.
        let work = move || drop(second);
        std::mem::drop(work);
        assert_eq!(book.held(), 0);
    }

    #[test]
    fn persistent_rules_stay_until_removed() {
        let book = FaultBook::<TestFault>::default();
        let id = book.install(TestFault::latency(5).persistent());
        for _ in 0..3 {
            assert!(book.take("x").is_some());
        }
        assert_eq!(book.list()[0].fired, 3);
        assert!(book.remove(id));
        assert!(!book.remove(id));
        assert!(book.is_empty());
        book.install(TestFault::no_reply().persistent());
        book.clear();
        assert_eq!(book.take("x"), None);
    }

    #[test]
    fn zero_times_counts_as_one() {
        let book = FaultBook::<TestFault>::default();
        book.install(TestFault::malformed().times(0));
        assert_eq!(book.take("x"), Some(FaultKind::Malformed));
        assert!(book.is_empty());
    }

    #[test]
    fn json_shape() {
        assert_eq!(
            serde_json::to_value(TestFault::gateway_error_with("E1").narrow(on("o"))).unwrap(),
            serde_json::json!({
                "fault": {"kind": "gateway_error", "code": "E1"},
                "match": {"op": "o"},
                "lifetime": {"times": 1}
            })
        );
        crate::assert_shared_json_shape!(
            TestFault,
            match: r#"{"op": "void"}"#,
            narrow: |f: TestFault| f.narrow(on("void"))
        );
        for bad in [
            r#"{"fault": {"kind": "reset"}, "match": {"other": "1"}}"#,
            r#"{"fault": {"kind": "reset"}, "extra": 1}"#,
        ] {
            assert!(serde_json::from_str::<TestFault>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_says_whether_it_processes_the_request() {
        crate::assert_processing_split!(TestFault);
    }
}
