//! Black-box tests of the GMO-PG emulator over loopback HTTP, with hand-built requests.
//!
//! One test binary (modules below) keeps link time down. Test names cite the section of
//! `docs/protocols/gmopg.md` they guard (`s4_2_…` is §4.2).

mod support;

mod control;
mod endpoints;
mod faults;
mod lifecycle;
mod transport;
