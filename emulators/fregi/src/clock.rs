//! The emulator's clock and JST calendar: the kit's (`renkei_emulator_kit::clock`), shared with
//! the GMO-PG emulator.

pub use renkei_emulator_kit::clock::*;
