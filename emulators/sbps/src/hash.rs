//! `sps_hashcode`: SHA-1 over the request's plain values and the merchant's hash key (§4.1).

use sha1::{Digest, Sha1};

use crate::codec::encode_sjis;
use crate::xml::{Element, Request};

/// Name of the element that carries the checksum; it is left out of its own hash.
pub const HASHCODE_FIELD: &str = "sps_hashcode";

/// Computes an `sps_hashcode` from plain values in document order.
///
/// Each value is trimmed, the values are concatenated without separator, the hash key is
/// appended, and the Shift_JIS bytes of the whole are hashed with SHA-1, written as 40
/// lowercase hex characters. Callers pass M-type fields decoded and encrypted fields in
/// plaintext: the hash is always over what the merchant meant, not what travelled.
pub fn sps_hashcode<'a>(values: impl IntoIterator<Item = &'a str>, hash_key: &str) -> String {
    let mut joined = String::with_capacity(256);
    for value in values {
        joined.push_str(trim_value(value));
    }
    joined.push_str(hash_key);
    let digest = Sha1::digest(encode_sjis(&joined));
    to_lower_hex(&digest)
}

/// The hash a request should carry, over its (already decoded) leaf values in document order,
/// nested groups depth-first, without `sps_hashcode` and without the root `id` (§4.1 step 1).
pub(crate) fn request_hashcode(request: &Request, hash_key: &str) -> String {
    let mut leaves = Vec::with_capacity(32);
    for element in &request.fields {
        if element.name != HASHCODE_FIELD {
            collect_leaves(element, &mut leaves);
        }
    }
    sps_hashcode(leaves, hash_key)
}

fn collect_leaves<'a>(element: &'a Element, out: &mut Vec<&'a str>) {
    if element.children.is_empty() {
        out.push(&element.value);
    } else {
        for child in &element.children {
            collect_leaves(child, out);
        }
    }
}

/// Java's `String.trim` and Ruby's `strip` both drop ASCII control characters and spaces at the
/// ends; full-width spaces stay.
fn trim_value(value: &str) -> &str {
    value.trim_matches(|c: char| c <= ' ')
}

fn to_lower_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "TESTHASHKEY0123456789";

    #[test]
    fn research_vector_1_sales_request() {
        let values = [
            "99999",
            "001",
            "00000000000001",
            "20240102030405",
            "1000",
            "20240102030405",
        ];
        assert_eq!(
            sps_hashcode(values, KEY),
            "e05ff8a73a9f293ca287e7ddbcf4bb187866dc24"
        );
    }

    #[test]
    fn research_vector_2_commit_with_empty_processing_datetime() {
        let values = [
            "99999",
            "001",
            "00000000000001",
            "",
            "20240102030405",
            "600",
        ];
        assert_eq!(
            sps_hashcode(values, KEY),
            "8974f4bcd9df4c4005cc3daee32aeaa7f95f18d5"
        );
    }

    #[test]
    fn research_vector_3_token_authorization_with_multibyte_item_name() {
        let values = [
            "99999",
            "001",
            "cust01",
            "order-0001",
            "item01",
            "テスト商品",
            "1080",
            "0",
            "10",
            "TOKENVALUE",
            "TOKENKEYVALUE",
            "0",
            "1",
            "0",
            "20240102030405",
            "600",
        ];
        assert_eq!(
            sps_hashcode(values, KEY),
            "468da3b81edc11a27ffa1a4206488ec0a7702ba9"
        );
    }

    #[test]
    fn values_are_trimmed_before_hashing() {
        let plain = sps_hashcode(["99999", "001"], KEY);
        assert_eq!(sps_hashcode([" 99999 ", "001\t"], KEY), plain);
        assert_ne!(sps_hashcode(["99999", "0 01"], KEY), plain);
    }
}
