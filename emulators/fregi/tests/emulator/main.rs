//! Black-box tests of the F-REGI emulator over loopback HTTP, with hand-built requests.
//!
//! One test binary (modules below) keeps link time down. Test names cite the rule they guard
//! (`docs/rules.md`) or the `docs/protocols/fregi.md` section (`§11.x`).

mod support;

mod authm;
mod control;
mod faults;
mod lifecycle;
mod parallel;
mod transport;
