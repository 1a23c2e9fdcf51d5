//! Shift_JIS text and the base64 "M-type" multibyte fields (§5.1).
//!
//! `encoding_rs`'s Shift_JIS is the WHATWG one, i.e. Windows-31J (CP932): the variant the
//! reference clients use (`sjis-win`, Java's `Shift_JIS` with NEC/IBM extensions).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use encoding_rs::SHIFT_JIS;

/// Text that cannot be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Not valid base64.
    #[error("not valid base64")]
    Base64,
    /// The bytes are not valid Shift_JIS.
    #[error("not valid Shift_JIS")]
    ShiftJis,
}

/// Decodes Shift_JIS bytes; `None` if they are malformed.
pub fn decode_sjis(bytes: &[u8]) -> Option<Cow<'_, str>> {
    SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
}

/// Encodes text as Shift_JIS. Characters outside the character set become numeric character
/// references, which never happens for text that came in as Shift_JIS.
pub fn encode_sjis(text: &str) -> Cow<'_, [u8]> {
    SHIFT_JIS.encode(text).0
}

/// Decodes an M-type field: base64 of Shift_JIS bytes.
pub fn decode_multibyte(wire: &str) -> Result<String, CodecError> {
    let bytes = STANDARD
        .decode(wire.trim())
        .map_err(|_| CodecError::Base64)?;
    decode_sjis(&bytes)
        .map(Cow::into_owned)
        .ok_or(CodecError::ShiftJis)
}

/// Encodes an M-type field: base64 of the Shift_JIS bytes.
pub fn encode_multibyte(text: &str) -> String {
    STANDARD.encode(encode_sjis(text))
}

/// Number of Shift_JIS bytes of `text`: the unit in which SBPS counts multibyte lengths.
pub(crate) fn sjis_len(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        encode_sjis(text).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_field_matches_the_research_example() {
        // §4.5: テスト商品 travels as g2WDWINnj6SVaQ== (Shift_JIS 8365835883678fa49569).
        assert_eq!(encode_multibyte("テスト商品"), "g2WDWINnj6SVaQ==");
        assert_eq!(decode_multibyte("g2WDWINnj6SVaQ==").unwrap(), "テスト商品");
        assert_eq!(decode_multibyte("aXRlbQ==").unwrap(), "item");
        assert_eq!(sjis_len("テスト商品"), 10);
        assert_eq!(decode_multibyte("!!"), Err(CodecError::Base64));
        assert_eq!(decode_multibyte("gw=="), Err(CodecError::ShiftJis));
    }
}
