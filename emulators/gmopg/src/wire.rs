//! GMO-PG's wire format (`docs/protocols/gmopg.md` §2): a Windows-31J form body in, decoded
//! strictly; `Key=Value&…` out, values raw (not percent-encoded) in Windows-31J.
//!
//! Independent of the GMO-PG plugin's encoder on purpose: a bug mirrored in both would make
//! every test pass.

use encoding_rs::SHIFT_JIS;

use crate::codes::GmoError;

/// Decoded request parameters, in request order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The first value of `name`, if present and not empty (an empty field counts as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Parameters from already-decoded pairs (the control surface, admin actions).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Params {
        Params {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// Decodes an `application/x-www-form-urlencoded` body whose bytes are Windows-31J, strictly:
/// a `%` not followed by two hex digits, or bytes that are not valid Windows-31J once
/// percent-decoded, refuse the whole body with `E00000010` (§10.7), never a guess.
pub fn decode_form(raw: &[u8]) -> Result<Params, GmoError> {
    let bad = || GmoError::one("E00000010");
    let mut pairs = Vec::new();
    for part in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match part.iter().position(|b| *b == b'=') {
            Some(eq) => (&part[..eq], &part[eq + 1..]),
            None => (part, &b""[..]),
        };
        let key = sjis(&percent_decode(key).ok_or_else(bad)?).ok_or_else(bad)?;
        let value = sjis(&percent_decode(value).ok_or_else(bad)?).ok_or_else(bad)?;
        pairs.push((key, value));
    }
    Ok(Params { pairs })
}

/// Windows-31J bytes to text, `None` if they are not valid Windows-31J.
fn sjis(bytes: &[u8]) -> Option<String> {
    SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
}

/// Percent-decoding with `+` as a space; `None` on a broken escape.
fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// The length of `text` in Windows-31J bytes (GMO-PG's field limits count bytes).
pub fn sjis_len(text: &str) -> usize {
    SHIFT_JIS.encode(text).0.len()
}

/// A reply body: the success pairs, or the error lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `Key=Value&…` in this order.
    Ok(Vec<(&'static str, String)>),
    /// `ErrCode=…&ErrInfo=…`.
    Err(GmoError),
}

impl Reply {
    /// The body in Windows-31J, values raw, no trailing line break (§2.3).
    pub fn encode(&self) -> Vec<u8> {
        let text = match self {
            Reply::Ok(pairs) => pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
            Reply::Err(error) => error.line(),
        };
        SHIFT_JIS.encode(&text).0.into_owned()
    }
}

impl From<Result<Vec<(&'static str, String)>, GmoError>> for Reply {
    fn from(result: Result<Vec<(&'static str, String)>, GmoError>) -> Reply {
        match result {
            Ok(pairs) => Reply::Ok(pairs),
            Err(error) => Reply::Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s2_2_windows_31j_values_decode() {
        // ～ (FULLWIDTH TILDE in Windows-31J's table) and ① are Windows-31J, not plain Shift_JIS.
        let params = decode_form(b"ClientField1=%81%60%87%40%82%D9&A=1&A=2&B=").unwrap();
        assert_eq!(params.get("ClientField1"), Some("～①ほ"));
        assert_eq!(params.get("A"), Some("1"));
        assert_eq!(params.get("B"), None);
    }

    #[test]
    fn s10_7_broken_bodies_are_refused_not_guessed() {
        for body in [&b"A=%8"[..], b"A=%ZZ", b"A=%82", b"A=%FF%FF", b"A=\x82"] {
            assert_eq!(
                decode_form(body),
                Err(GmoError::one("E00000010")),
                "{body:?}"
            );
        }
    }

    #[test]
    fn s2_3_replies_are_raw_windows_31j() {
        let reply = Reply::Ok(vec![("A", "1".into()), ("ClientField1", "ほげ".into())]);
        assert_eq!(
            reply.encode(),
            b"A=1&ClientField1=\x82\xd9\x82\xb0".to_vec()
        );
    }
}
