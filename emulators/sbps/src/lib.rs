//! Loopback emulator of the SBPS (SB Payment Service) credit-card XML API, `sps-api`.
//!
//! This is Renkei's stripe-mock for SBPS: an HTTP server that speaks the real wire protocol
//! (`POST /api/xmlapi.do`, Shift_JIS XML, Basic auth, `sps_hashcode`, 3DES fields, base64
//! multibyte fields, request expiry), keeps per-merchant payment state, and misbehaves on
//! request so that clients can be tested against timeouts, error replies, broken replies and
//! lost replies (with the F-REGI emulator's fault vocabulary).
//! The behaviour follows `docs/protocols/sbps.md` §10; every inferred rule is a switch
//! in [`Rules`].
//!
//! It shares no code with the SBPS plugin on purpose: a bug mirrored in both would make every
//! test pass. The crate README documents the defaults, test cards, tokens, switches and faults.
//!
//! Code map:
//! - `server` (routing and the HTTP layer of §10.2, with the faults around the pipeline); the
//!   accept loop, hyper and the byte-level faults (reset, cut, hold) are `renkei-emulator-kit`'s;
//! - `pipeline` (§10.3, parse to reply), `xml` (request tree, reply writer), `fields`
//!   (per-function validation), `hash` (`sps_hashcode`), `crypto` (3DES fields), `codec`
//!   (Shift_JIS, base64 M-type fields), `codes` (error codes);
//! - `ops` (the functions of §10.5), `state` (payments and ids, §10.4), `cards` (brands, Luhn,
//!   the decline script), `admin` (management-tool actions);
//! - `engine` (everything shared), `faults` (SBPS's matcher on the kit's fault vocabulary),
//!   `clock`, `time` (JST date-times on jiff's calendar), `control` (`/__emulator__/`),
//!   `emulator` (the public handle, [`serve`], [`banner`]); `config` (defaults and switches).
//!
//! Invariant: the state lives behind one mutex, taken only for synchronous work and never
//! across an await, so no two requests can both move one payment.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use renkei_emulator_sbps::{Config, Fault, Function, SbpsEmulator};
//!
//! let emulator = SbpsEmulator::start(Config::default()).await?;
//! let url = emulator.endpoint_url(); // http://127.0.0.1:PORT/api/xmlapi.do
//! // The next capture is applied, then its reply is lost.
//! emulator.install_fault(Fault::reply_lost().on_function(Function::Sales));
//! # let _ = url; Ok(()) }
//! ```

mod admin;
mod cards;
mod clock;
mod codec;
mod codes;
mod config;
mod control;
mod crypto;
mod emulator;
mod engine;
mod faults;
mod fields;
mod function;
mod hash;
mod ops;
mod pipeline;
mod server;
mod state;
mod time;
mod xml;

pub use admin::{AdminAction, AdminError};
pub use cards::Brand;
pub use clock::ClockMode;
pub use codec::{CodecError, decode_multibyte, decode_sjis, encode_multibyte, encode_sjis};
pub use codes::{CodeError, ErrorCode, ErrorReason};
pub use config::*;
pub use crypto::{CipherError, FieldCipher};
pub use emulator::{SbpsEmulator, StartError, banner, serve, serve_until};
pub use faults::{Fault, FaultId, FaultKind, FaultLifetime, FaultMatch, InstalledFault};
pub use function::Function;
pub use hash::{HASHCODE_FIELD, sps_hashcode};
pub use server::{API_PATH, CONTROL_PREFIX};
pub use state::{
    CardSummary, CommitStatus, HistoryEntry, Payment, PaymentStatus, Snapshot, Source, StoredCard,
    TokenSummary, UsedOrderIds,
};
pub use time::{JstDateTime, TimeParseError};
