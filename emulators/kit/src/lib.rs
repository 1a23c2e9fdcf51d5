//! What the loopback gateway emulators (`renkei-emulator-sbps`, `-fregi`, `-gmopg`, `-kumopay`)
//! share, so each of them holds only its gateway's protocol and state:
//!
//! - `server`: the accept loop and hyper's HTTP/1.1 per connection ([`run`]), and the handle a
//!   request's handler gets on its connection ([`Conn`]: hold, reset, cut, delay);
//! - `transport`: the TCP stream under hyper that carries out those faults at the byte level
//!   ([`ConnControl`]);
//! - `fault`: the one fault vocabulary and lifetime model ([`FaultKind`], [`FaultLifetime`],
//!   [`Fault`], [`FaultBook`]), generic over each gateway's matcher and error code;
//! - `http` (reading a request whole, replies, fault statuses and cut points) and `control`
//!   (the `/__emulator__` surface's framing);
//! - `clock`: an adjustable clock and the JST calendar (F-REGI's and GMO-PG's date rules).
//!
//! The emulators share no code with the plugins on purpose: a bug mirrored on both sides would
//! make every test pass. This crate holds only transport and test machinery, no protocol.

pub mod clock;
mod control;
mod fault;
mod http;
mod server;
mod transport;

pub use control::{CONTROL_PREFIX, control_route, json, json_error, segments, with_json};
pub use fault::{
    Fault, FaultBook, FaultId, FaultKind, FaultLifetime, Held, InstalledFault, Matches, Rule,
};
pub use http::{BodyError, Collected, cut_point, error_status, read_body, reply};
pub use server::{Conn, HttpResponse, ServeOptions, run, stopped};
pub use transport::ConnControl;

/// The hyper types a handler names, so emulators need no hyper dependency of their own.
pub use hyper;

#[doc(hidden)]
pub use serde as __serde;
