//! F-REGI's wire format: URL-encoded parameters in a declared or guessed character set in,
//! EUC-JP `OK`/`NG` lines out (`docs/protocols/fregi.md` §2, §5.1, §11.1).
//!
//! Deliberately independent of the F-REGI plugin's own encoder ("Independence", ARCHITECTURE.md): a bug
//! mirrored in both would make every test pass.

use encoding_rs::{EUC_JP, Encoding, SHIFT_JIS, UTF_8};

use crate::codes::Ng;
use crate::config::LineEnding;

/// Decoded request parameters, in request order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The first value of `name`, if present and non-empty (an empty form field counts as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// True when `name` has the value `1`.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("1")
    }

    /// Builds parameters from already-decoded pairs (control API).
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

    /// Appends the pairs of `other` (its values lose to ours, as only the first occurrence counts).
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// Iterates over all pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Percent-decodes `application/x-www-form-urlencoded` bytes and decodes the values by `CHARCODE`
/// (`euc`, `sjis`, `utf8`); without a recognised `CHARCODE` the whole request is read as UTF-8
/// if it is valid UTF-8 and as EUC-JP otherwise [PROP, `docs/protocols/fregi.md` §11.1-3]. Bytes invalid in the
/// chosen set become U+FFFD rather than failing the request.
pub fn decode_form(raw: &[u8]) -> Params {
    let raw_pairs: Vec<(Vec<u8>, Vec<u8>)> = raw
        .split(|b| *b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.iter().position(|b| *b == b'=') {
            Some(eq) => (percent_decode(&part[..eq]), percent_decode(&part[eq + 1..])),
            None => (percent_decode(part), Vec::new()),
        })
        .collect();

    let declared = raw_pairs
        .iter()
        .find(|(k, _)| k == b"CHARCODE")
        .and_then(|(_, v)| charset(v));
    let encoding = declared.unwrap_or_else(|| {
        let all_utf8 = raw_pairs
            .iter()
            .all(|(k, v)| std::str::from_utf8(k).is_ok() && std::str::from_utf8(v).is_ok());
        if all_utf8 { UTF_8 } else { EUC_JP }
    });
    let text = |bytes: &[u8]| encoding.decode_without_bom_handling(bytes).0.into_owned();
    Params {
        pairs: raw_pairs.iter().map(|(k, v)| (text(k), text(v))).collect(),
    }
}

fn charset(value: &[u8]) -> Option<&'static Encoding> {
    match value.to_ascii_lowercase().as_slice() {
        b"euc" => Some(EUC_JP),
        b"sjis" => Some(SHIFT_JIS),
        b"utf8" => Some(UTF_8),
        _ => None,
    }
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex(input[i + 1]), hex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                // A stray `%` is kept literally, as lenient CGI decoders do.
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A reply in F-REGI's line format: the result word, then one value per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    lines: Vec<String>,
}

impl Reply {
    /// `OK` followed by `fields`.
    pub fn ok<I: IntoIterator<Item = S>, S: Into<String>>(fields: I) -> Reply {
        let mut lines = vec!["OK".to_owned()];
        lines.extend(fields.into_iter().map(Into::into));
        Reply { lines }
    }

    /// `NG` followed by the reason line `CODE(message)`.
    pub fn ng(reason: &Ng) -> Reply {
        Reply {
            lines: vec!["NG".to_owned(), reason.line()],
        }
    }

    /// The body: every line terminated (the last one too) and encoded as EUC-JP, whatever the
    /// request's `CHARCODE` (`docs/protocols/fregi.md` §2, observed in three clients). Characters outside EUC-JP
    /// become numeric character references, as encoding_rs does for HTML forms.
    pub fn encode(&self, ending: LineEnding) -> Vec<u8> {
        let mut text = String::with_capacity(self.lines.iter().map(|l| l.len() + 2).sum());
        for line in &self.lines {
            text.push_str(line);
            text.push_str(ending.as_str());
        }
        if text.is_ascii() {
            return text.into_bytes();
        }
        EUC_JP.encode(&text).0.into_owned()
    }
}

impl From<Result<Reply, Ng>> for Reply {
    fn from(result: Result<Reply, Ng>) -> Reply {
        result.unwrap_or_else(|ng| Reply::ng(&ng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_and_plus_decoding() {
        let p = decode_form(b"A=1+2&B=%41%2b%3D&C=&D&E=50%&E=second");
        assert_eq!(p.get("A"), Some("1 2"));
        assert_eq!(p.get("B"), Some("A+="));
        assert_eq!(p.get("C"), None);
        assert_eq!(p.get("D"), None);
        assert_eq!(p.get("E"), Some("50%"));
    }

    #[test]
    fn charcode_selects_the_charset() {
        // 「テスト」 in each charset.
        assert_eq!(
            decode_form(b"CHARCODE=euc&FREE=%A5%C6%A5%B9%A5%C8").get("FREE"),
            Some("テスト")
        );
        assert_eq!(
            decode_form(b"CHARCODE=sjis&FREE=%83e%83X%83g").get("FREE"),
            Some("テスト")
        );
        assert_eq!(
            decode_form(b"FREE=%E3%83%86%E3%82%B9%E3%83%88&CHARCODE=utf8").get("FREE"),
            Some("テスト")
        );
        // Absent: UTF-8 when valid, EUC-JP otherwise.
        assert_eq!(
            decode_form(b"FREE=%E3%83%86%E3%82%B9%E3%83%88").get("FREE"),
            Some("テスト")
        );
        assert_eq!(
            decode_form(b"FREE=%A5%C6%A5%B9%A5%C8").get("FREE"),
            Some("テスト")
        );
    }

    #[test]
    fn replies_are_euc_jp_with_chosen_terminator() {
        let reply = Reply::ng(&Ng::custom(
            "S1-1-121",
            "売上処理時の指定された取引は売上受付済みです",
        ));
        let lf = reply.encode(LineEnding::Lf);
        let (text, _, bad) = EUC_JP.decode(&lf);
        assert!(!bad);
        assert_eq!(
            text,
            "NG\nS1-1-121(売上処理時の指定された取引は売上受付済みです)\n"
        );
        assert!(std::str::from_utf8(&lf).is_err(), "must not be UTF-8");
        let crlf = Reply::ok(["00000000000000000001"]).encode(LineEnding::CrLf);
        assert_eq!(crlf, b"OK\r\n00000000000000000001\r\n");
    }
}
