//! The test cards the emulators accept, as the shop's checkout page would hand them over.

use crate::Gateway;
use renkei_sdk::{PaymentSource, Secret};

/// The F-REGI emulator's shop (`SHOPID`, its first configured shop).
pub const FREGI_SHOP_ID: &str = "12345";
/// F-REGI's test token that approves.
pub const FREGI_TOKEN: &str = "TESTTOKEN-OK";
/// SBPS's test token (a Visa card).
pub const SBPS_TOKEN: &str = renkei_emulator_sbps::TEST_TOKEN_VISA;
/// GMO-PG's test token that approves (`docs/protocols/gmopg.md` §10).
pub const GMOPG_TOKEN: &str = renkei_emulator_gmopg::TEST_TOKEN_OK;
/// Any token key: the SBPS emulator does not check it.
pub const SBPS_TOKEN_KEY: &str = "token-key";

/// A card token the gateway's emulator authorizes. SBPS takes a token with its key, F-REGI a
/// token alone, GMO-PG a token alone (`docs/protocols/sbps.md`, `docs/protocols/fregi.md`,
/// `docs/protocols/gmopg.md`).
pub fn source(gateway: Gateway) -> PaymentSource {
    match gateway {
        Gateway::Sbps => PaymentSource::Token {
            token: Secret::new(SBPS_TOKEN),
            key: Some(Secret::new(SBPS_TOKEN_KEY)),
        },
        Gateway::Fregi => PaymentSource::Token {
            token: Secret::new(FREGI_TOKEN),
            key: None,
        },
        Gateway::Gmopg => PaymentSource::Token {
            token: Secret::new(GMOPG_TOKEN),
            key: None,
        },
    }
}
