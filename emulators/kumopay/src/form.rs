//! The form wire: requests `application/x-www-form-urlencoded` with their values written in the
//! account's charset, replies `key=value&key=value` in that charset, HTTP 200 for every answer
//! of the gateway (GMO-PG's shape). A refusal lists its problems in two parallel `|`-separated
//! keys, `ErrCode` (the class of the problem, `E` and the HTTP status the JSON wire would
//! answer) and `ErrInfo` (the code of the error table): `ErrCode=E402|E400&ErrInfo=card_declined|amount_too_large`.
//!
//! Written from the form and charset rules, not shared with the plugin's SDK helpers, so that a
//! mistake in one cannot hide by being mirrored in the other.

use std::collections::BTreeMap;

use crate::{Answer, Payment};

/// The charset of a form account: of the values of its requests and of its replies' bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    ShiftJis,
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

    /// The name for a `Content-Type` parameter (`Shift_JIS`).
    pub fn name(self) -> &'static str {
        self.encoding().name()
    }

    /// `bytes` in this charset; `None` when they are not valid in it.
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        self.encoding()
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|t| t.into_owned())
    }

    /// `text` in this charset; characters it cannot write become `?` (the emulator only
    /// writes back what it could read).
    pub fn encode(self, text: &str) -> Vec<u8> {
        self.encoding().encode(text).0.into_owned()
    }
}

/// A form body as fields: each name and value percent-decoded (`+` is a space), then read in
/// `charset`. `None` for a body that is not a form in that charset, or names a field twice.
pub fn decode(body: &[u8], charset: Charset) -> Option<BTreeMap<String, String>> {
    let mut fields = BTreeMap::new();
    if body.is_empty() {
        return Some(fields);
    }
    for pair in body.split(|b| *b == b'&') {
        let at = pair.iter().position(|b| *b == b'=')?;
        let name = charset.decode(&unpercent(&pair[..at])?)?;
        let value = charset.decode(&unpercent(&pair[at + 1..])?)?;
        if name.is_empty() || fields.insert(name, value).is_some() {
            return None;
        }
    }
    Some(fields)
}

fn unpercent(bytes: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (hi, lo) = (*bytes.get(i + 1)?, *bytes.get(i + 2)?);
                out.push(hex(hi)? << 4 | hex(lo)?);
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

/// Whether a value can travel in a reply: the reply's separators cannot be escaped.
pub fn fits_a_reply(value: &str) -> bool {
    !value.contains(['&', '=', '|', '\r', '\n'])
}

/// An answer as reply bytes in `charset`. A payment or an entry lists its fields, the
/// processing time (`processed_at`, `yyyyMMddHHmmss` in JST) last, so a reply cut anywhere
/// either lacks a field or has a `processed_at` shorter than 14 digits.
pub fn encode(status: u16, answer: &Answer, charset: Charset) -> Vec<u8> {
    let text = match answer {
        Answer::Payment(p) => payment(p),
        Answer::Entry(id) => format!("entry={id}&processed_at={}", jst_now()),
        Answer::Problems(problems) => {
            let class = format!("E{status}");
            let codes: Vec<&str> = problems.iter().map(|_| class.as_str()).collect();
            let infos: Vec<&str> = problems.iter().map(|(code, _)| *code).collect();
            format!("ErrCode={}&ErrInfo={}", codes.join("|"), infos.join("|"))
        }
    };
    charset.encode(&text)
}

fn payment(p: &Payment) -> String {
    let mut text = format!(
        "id={}&status={}&currency=JPY&amount={}&captured={}&refunded={}&authorization_code=A-{}",
        p.id,
        p.status.code(),
        p.amount,
        p.captured,
        p.refunded,
        p.id
    );
    if let Some(customer) = &p.customer {
        text.push_str("&customer=");
        text.push_str(customer);
    }
    text.push_str("&processed_at=");
    text.push_str(&jst_now());
    text
}

/// Now in JST (UTC+9, no daylight saving), as `yyyyMMddHHmmss`.
pub(crate) fn jst_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
        + 9 * 3600;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_value_is_read_in_its_charset() {
        // ポール in Shift_JIS: 83 7C 81 5B 83 8B (the 7C is `|`, inside a character).
        let f = decode(b"customer=%83%7C%81%5B%83%8B&amount=10", Charset::ShiftJis).unwrap();
        assert_eq!(f["customer"], "ポール");
        assert_eq!(f["amount"], "10");
        assert!(decode(b"customer=%83%7C%81%5B%83%8B", Charset::EucJp).is_none());
        for bad in [&b"a=1&a=2"[..], b"a", b"=1", b"a=%8"] {
            assert!(decode(bad, Charset::Utf8).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_processing_time_has_fourteen_digits() {
        let t = jst_now();
        assert_eq!(t.len(), 14, "{t}");
        assert!(
            t.bytes().all(|b| b.is_ascii_digit()) && t.starts_with("20"),
            "{t}"
        );
    }
}
