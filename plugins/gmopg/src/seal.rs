//! The AccessPass, sealed for the one continuation that must carry it: between `EntryTran`,
//! whose reply hands it out, and `ExecTran`, after whose reply it goes into the handle.
//!
//! Why: the SDK gives a step no way to hand a secret to a later step but the continuation,
//! which the host journals in clear, and `ExecTran`'s reply does not repeat the AccessPass
//! (§4.2). The handle must hold it (every later call needs it, §2.5). Sealing it under the
//! shop's `ShopPass` exposes nothing the journal's reader could not already get with that
//! password: `SearchTrade` answers any order's AccessPass to whoever has `ShopID`, `ShopPass`
//! and the `OrderID` (§4.5). Without the password, the sealed value is noise.
//!
//! The pad is HMAC-SHA256 keyed with the `ShopPass` over a label, the AccessID and the order id
//! (unique per transaction, so a pad never serves two passes), block by block with a counter;
//! the pass is XORed with it and written as hex. Deterministic (no randomness in a plugin), so
//! the same step gives the same continuation. A tampered or foreign value opens to garbage,
//! which is refused (`open` checks the AccessPass's shape); GMO-PG would refuse a wrong pass
//! anyway (`E01110002`).

use hmac::{Hmac, Mac};
use renkei_sdk::Secret;
use sha2::Sha256;

const LABEL: &[u8] = b"renkei-gmopg access pass v1";

fn pad(shop_pass: &Secret, access_id: &str, order_id: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block: u32 = 0;
    while out.len() < len {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(shop_pass.expose().as_bytes()) else {
            // HMAC takes a key of any length; unreachable, and a zero pad would still not leak
            // the pass into the journal in a way this module promises against: refuse instead.
            return Vec::new();
        };
        mac.update(LABEL);
        mac.update(&[0]);
        mac.update(access_id.as_bytes());
        mac.update(&[0]);
        mac.update(order_id.as_bytes());
        mac.update(&block.to_be_bytes());
        out.extend_from_slice(&mac.finalize().into_bytes());
        block += 1;
    }
    out.truncate(len);
    out
}

/// `pass` sealed for the continuation of the transaction `access_id` of `order_id`, as hex.
pub fn seal(shop_pass: &Secret, access_id: &str, order_id: &str, pass: &Secret) -> String {
    let bytes = pass.expose().as_bytes();
    let pad = pad(shop_pass, access_id, order_id, bytes.len());
    bytes
        .iter()
        .zip(pad.iter().chain(std::iter::repeat(&0)))
        .map(|(b, p)| format!("{:02x}", b ^ p))
        .collect()
}

/// The pass `sealed` holds, when it opens to an AccessPass (32 hex digits, §4.1).
pub fn open(shop_pass: &Secret, access_id: &str, order_id: &str, sealed: &str) -> Option<Secret> {
    if sealed.len() & 1 == 1 || !sealed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..sealed.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&sealed[i..i + 2], 16).ok())
        .collect::<Option<_>>()?;
    let pad = pad(shop_pass, access_id, order_id, bytes.len());
    if pad.len() != bytes.len() {
        return None;
    }
    let clear: Vec<u8> = bytes.iter().zip(&pad).map(|(b, p)| b ^ p).collect();
    let text = String::from_utf8(clear).ok()?;
    crate::protocol::hex32(&text).then(|| Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s2_5_a_sealed_pass_opens_only_with_the_shop_pass_and_its_transaction() {
        let shop = Secret::new("shop-pass");
        let pass = Secret::new("f9e8d7c6b5a4938271605f4e3d2c1b0a");
        let sealed = seal(&shop, "0a1b", "ORDER-1", &pass);
        assert_eq!(sealed.len(), 64);
        assert!(!sealed.contains(pass.expose()));
        assert_eq!(
            seal(&shop, "0a1b", "ORDER-1", &pass),
            sealed,
            "deterministic"
        );
        assert_eq!(open(&shop, "0a1b", "ORDER-1", &sealed), Some(pass.clone()));
        assert_eq!(
            open(&Secret::new("other"), "0a1b", "ORDER-1", &sealed),
            None
        );
        assert_eq!(open(&shop, "0a1c", "ORDER-1", &sealed), None);
        assert_eq!(open(&shop, "0a1b", "ORDER-2", &sealed), None);
        assert_eq!(open(&shop, "0a1b", "ORDER-1", "zz"), None);
        assert_ne!(
            seal(&shop, "0a1c", "ORDER-1", &pass),
            sealed,
            "a pad per transaction"
        );
    }
}
