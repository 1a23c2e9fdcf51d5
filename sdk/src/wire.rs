//! Helpers for the wire formats Japanese card gateways speak: form POSTs in a declared charset,
//! and strict readers for `key=value&…` replies (GMO-PG) and line replies (F-REGI's `OK\n…`).
//!
//! Strict because a reply the plugin half-understands is a guess about money: every reader here
//! refuses (as `ErrorKind::Protocol`, which the host reads as "may have applied" after a request
//! that could move money) bytes that are not valid in the charset, a pair without `=`, a key
//! given twice, a required key that is missing, a value of the wrong shape, a line reply without
//! its final newline. A reply cut inside its last value is caught only by the value's shape:
//! give every value a check ([`KvReply::require_with`]) that a shorter value fails. Plain Rust:
//! nothing here crosses the ABI.

use crate::{ErrorKind, GatewayError, Secret};

/// The charset of a request's form values and of a reply's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Charset {
    Utf8,
    /// GMO-PG, SBPS.
    ShiftJis,
    /// F-REGI.
    EucJp,
}

impl Charset {
    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Charset::Utf8 => encoding_rs::UTF_8,
            Charset::ShiftJis => encoding_rs::SHIFT_JIS,
            Charset::EucJp => encoding_rs::EUC_JP,
        }
    }

    pub fn name(self) -> &'static str {
        self.encoding().name()
    }

    /// `text` in this charset; `None` when a character has no encoding in it (never replaced by
    /// a substitute: a changed value is a different request).
    pub fn encode(self, text: &str) -> Option<Vec<u8>> {
        let (bytes, _, unmappable) = self.encoding().encode(text);
        (!unmappable).then(|| bytes.into_owned())
    }

    /// `bytes` read in this charset; `None` when they are not valid in it.
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        self.encoding()
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|text| text.into_owned())
    }
}

/// An `application/x-www-form-urlencoded` body whose values are written in a charset: each value
/// is encoded in the charset, then percent-encoded byte by byte (RFC 3986 unreserved characters
/// kept, every other byte `%XX`, a space `%20`), so `&`, `=`, `+` and full-width text survive.
#[derive(Clone, Debug)]
pub struct FormBody {
    charset: Charset,
    fields: Vec<(String, Field)>,
}

#[derive(Clone, Debug)]
enum Field {
    Plain(String),
    Secret(Secret),
}

/// A form ready to send, and its journal copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedForm {
    /// The body to send (ASCII: every byte outside the unreserved set is percent-encoded).
    pub body: String,
    /// The same body with every secret value replaced by [`Secret::PLACEHOLDER`].
    pub journal: String,
}

impl FormBody {
    pub fn new(charset: Charset) -> FormBody {
        FormBody {
            charset,
            fields: Vec::new(),
        }
    }

    /// A field journaled as it is sent.
    pub fn field(mut self, name: &str, value: impl Into<String>) -> FormBody {
        self.fields
            .push((name.to_owned(), Field::Plain(value.into())));
        self
    }

    /// A field whose value never reaches the journal copy.
    pub fn secret(mut self, name: &str, value: &Secret) -> FormBody {
        self.fields
            .push((name.to_owned(), Field::Secret(value.clone())));
        self
    }

    /// The body and its journal copy. A value with a character the charset cannot write is
    /// refused before anything is sent (`InvalidRequest`, naming the field, never the value:
    /// it may be a secret).
    pub fn encode(&self) -> Result<EncodedForm, GatewayError> {
        let mut body = String::with_capacity(128);
        let mut journal = String::with_capacity(128);
        for (i, (name, field)) in self.fields.iter().enumerate() {
            if i > 0 {
                body.push('&');
                journal.push('&');
            }
            let value = match field {
                Field::Plain(v) => v.as_str(),
                Field::Secret(s) => s.expose(),
            };
            let bytes = self.charset.encode(value).ok_or_else(|| {
                GatewayError::invalid(format!(
                    "the value of `{name}` has a character {} cannot write",
                    self.charset.name()
                ))
            })?;
            percent_encode(name.as_bytes(), &mut body);
            body.push('=');
            percent_encode(&bytes, &mut body);
            percent_encode(name.as_bytes(), &mut journal);
            journal.push('=');
            match field {
                Field::Plain(_) => percent_encode(&bytes, &mut journal),
                Field::Secret(_) => journal.push_str(Secret::PLACEHOLDER),
            }
        }
        Ok(EncodedForm { body, journal })
    }
}

/// Appends `bytes` percent-encoded: RFC 3986 unreserved characters as they are, every other
/// byte as `%XX` (upper-case hex).
pub fn percent_encode(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// A `key=value&key=value` reply, read strictly (GMO-PG: `AccessID=…&AccessPass=…`, errors as
/// `ErrCode=E01|E01&ErrInfo=E01010001|E01020001`). Values are taken as the bytes say, not
/// percent-decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct KvReply {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for KvReply {
    // Values may be secrets (an access pass): keys only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvReply")
            .field(
                "keys",
                &self.pairs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn protocol(message: String) -> GatewayError {
    GatewayError::new(ErrorKind::Protocol, message)
}

impl KvReply {
    /// Reads `body` in `charset`. Refused: bytes not valid in the charset, an empty body, a
    /// pair without `=`, an empty key, a key given twice. A trailing line break is allowed.
    pub fn parse(body: &[u8], charset: Charset) -> Result<KvReply, GatewayError> {
        let text = charset
            .decode(body)
            .ok_or_else(|| protocol(format!("the reply is not valid {}", charset.name())))?;
        let text = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        if text.is_empty() {
            return Err(protocol("the reply is empty".into()));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (i, pair) in text.split('&').enumerate() {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(protocol(format!("pair {} of the reply has no `=`", i + 1)));
            };
            if key.is_empty() || key.contains(['\r', '\n']) {
                return Err(protocol(format!("pair {} of the reply has no key", i + 1)));
            }
            if pairs.iter().any(|(k, _)| k == key) {
                return Err(protocol(format!("the reply gives `{key}` twice")));
            }
            pairs.push((key.to_owned(), value.to_owned()));
        }
        Ok(KvReply { pairs })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, which the reply must carry.
    pub fn require(&self, key: &str) -> Result<&str, GatewayError> {
        self.get(key)
            .ok_or_else(|| protocol(format!("the reply has no `{key}`")))
    }

    /// The value of `key`, which must carry a value of the shape `ok` accepts (`what` names the
    /// shape in the error; the value itself is never quoted: it may be a secret).
    pub fn require_with(
        &self,
        key: &str,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Result<&str, GatewayError> {
        let value = self.require(key)?;
        if ok(value) {
            Ok(value)
        } else {
            Err(protocol(format!("`{key}` in the reply is not {what}")))
        }
    }

    /// The `|`-separated values of `key` (GMO-PG lists several errors so); empty when absent.
    pub fn list(&self, key: &str) -> Vec<&str> {
        self.get(key)
            .map(|v| v.split('|').collect())
            .unwrap_or_default()
    }

    /// The error codes of a reply that lists them in two parallel keys, a short code and a
    /// detailed one (GMO-PG `ErrCode=E01|E01&ErrInfo=E01010001|E01020001`): the detailed codes,
    /// in the gateway's order, for [`crate::error_from_codes_by`]. `None` when the reply has
    /// neither key (no error). Refused when only one is present, when they list different
    /// numbers of codes, or when a code is empty: a reply whose errors cannot be paired is not
    /// understood.
    pub fn error_codes(
        &self,
        code_key: &str,
        info_key: &str,
    ) -> Result<Option<Vec<&str>>, GatewayError> {
        let (codes, infos) = match (self.get(code_key), self.get(info_key)) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => (self.list(code_key), self.list(info_key)),
            _ => {
                return Err(protocol(format!(
                    "the reply gives one of `{code_key}` and `{info_key}` without the other"
                )));
            }
        };
        if codes.len() != infos.len() {
            return Err(protocol(format!(
                "the reply lists {} `{code_key}` and {} `{info_key}`",
                codes.len(),
                infos.len()
            )));
        }
        if codes.iter().chain(&infos).any(|c| c.is_empty()) {
            return Err(protocol(format!(
                "the reply lists an empty `{code_key}` or `{info_key}`"
            )));
        }
        Ok(Some(infos))
    }
}

/// The lines of a line reply (F-REGI: `OK\nSEQNO\nAUTHCODE\n`), read strictly: valid in the
/// charset, and ending with a line break, because a reply cut anywhere, inside its last value
/// too, then lacks it. `\r\n` and `\n` are both line breaks.
pub fn parse_lines(body: &[u8], charset: Charset) -> Result<Vec<String>, GatewayError> {
    let text = charset
        .decode(body)
        .ok_or_else(|| protocol(format!("the reply is not valid {}", charset.name())))?;
    let Some(text) = text.strip_suffix('\n') else {
        return Err(protocol(
            "the reply does not end with a line break: it may be cut short".into(),
        ));
    };
    Ok(text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line).to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_writes_values_in_its_charset_and_keeps_secrets_out_of_the_journal() {
        let form = FormBody::new(Charset::ShiftJis)
            .field("ShopID", "tshop0001")
            .field("ItemName", "テスト & 1+1")
            .secret("Token", &Secret::new("tok-canary"));
        let e = form.encode().unwrap();
        // テスト in Shift_JIS is 83 65 83 58 83 67.
        assert_eq!(
            e.body,
            "ShopID=tshop0001&ItemName=%83e%83X%83g%20%26%201%2B1&Token=tok-canary"
        );
        assert_eq!(
            e.journal,
            format!(
                "ShopID=tshop0001&ItemName=%83e%83X%83g%20%26%201%2B1&Token={}",
                Secret::PLACEHOLDER
            )
        );
        assert!(!e.journal.contains("canary"));
    }

    #[test]
    fn a_value_the_charset_cannot_write_is_refused_naming_the_field_only() {
        let e = FormBody::new(Charset::ShiftJis)
            .secret("HolderName", &Secret::new("😀-canary"))
            .encode()
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(e.message.contains("HolderName"), "{e}");
        assert!(!e.to_string().contains("canary"), "{e}");
    }

    #[test]
    fn a_kv_reply_is_read_strictly() {
        let r = KvReply::parse(b"AccessID=a1b2&AccessPass=p9\r\n", Charset::ShiftJis).unwrap();
        assert_eq!(r.require("AccessID").unwrap(), "a1b2");
        assert_eq!(r.get("Forward"), None);
        assert!(!format!("{r:?}").contains("p9"), "Debug shows keys only");
        for bad in [
            &b""[..],
            b"AccessID",
            b"AccessID=a&AccessID=b",
            b"=x",
            b"AccessID=a&",
            b"AccessID=\x83",
        ] {
            let e = KvReply::parse(bad, Charset::ShiftJis).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol, "{bad:?}");
        }
        let e = r.require("Approve").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
    }

    #[test]
    fn a_reply_cut_inside_its_last_value_fails_the_values_shape() {
        let digits7 = |v: &str| v.len() == 7 && v.bytes().all(|b| b.is_ascii_digit());
        let whole = b"Approve=1234567&TranID=9";
        let r = KvReply::parse(whole, Charset::Utf8).unwrap();
        r.require_with("Approve", "7 digits", digits7).unwrap();
        let cut = KvReply::parse(b"TranID=9&Approve=12345", Charset::Utf8).unwrap();
        let e = cut
            .require_with("Approve", "7 digits", digits7)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert!(!e.message.contains("12345"), "the value is never quoted");
    }

    #[test]
    fn several_errors_pair_their_short_and_detailed_codes_or_are_refused() {
        let r = KvReply::parse(
            b"ErrCode=E01|E01&ErrInfo=E01010001|E01020001",
            Charset::ShiftJis,
        )
        .unwrap();
        assert_eq!(
            r.error_codes("ErrCode", "ErrInfo").unwrap(),
            Some(vec!["E01010001", "E01020001"])
        );
        let ok = KvReply::parse(b"AccessID=a", Charset::Utf8).unwrap();
        assert_eq!(ok.error_codes("ErrCode", "ErrInfo").unwrap(), None);
        for bad in [
            &b"ErrCode=E01|E01&ErrInfo=E01010001"[..],
            b"ErrCode=E01",
            b"ErrCode=E01|&ErrInfo=E01010001|",
        ] {
            let r = KvReply::parse(bad, Charset::Utf8).unwrap();
            let e = r.error_codes("ErrCode", "ErrInfo").unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol, "{bad:?}");
        }
    }

    #[test]
    fn a_line_reply_needs_its_final_line_break() {
        assert_eq!(
            parse_lines(b"OK\r\n00000000000000000018\n123456\n", Charset::EucJp).unwrap(),
            ["OK", "00000000000000000018", "123456"]
        );
        for cut in [&b"OK\n0000000000000000001"[..], b"OK", b""] {
            let e = parse_lines(cut, Charset::EucJp).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol, "{cut:?}");
        }
        // Not EUC-JP: refused, never read with replacement characters.
        assert!(parse_lines(b"NG\n\xff\xff\n", Charset::EucJp).is_err());
    }
}
