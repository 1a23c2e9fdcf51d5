//! F-REGI's wire format: form-encoded requests to one CGI script per operation, EUC-JP replies of
//! one value per line (`shared/docs/protocols/fregi.md` §2, §4, §5, §10.3).
//!
//! Everything that touches bytes lives here, so `lib.rs` reads as the list of operations. This
//! module depends on nothing but `std` and `encoding_rs`, not on the SDK: the fuzz crate
//! (`fuzz/`) compiles this very file with `#[path]`, so what is fuzzed is what ships.
//!
//! Nothing here is shared with the F-REGI emulator: a bug mirrored in both would make every test
//! pass.

use encoding_rs::EUC_JP;
use std::fmt;

/// The F-REGI scripts this plugin calls, plus the emulator's inquiry extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Script {
    /// `authm.cgi`: authorize (オーソリ).
    Authm,
    /// `sale.cgi`: capture an authorization (売上処理).
    Sale,
    /// `authcancel.cgi`: void an authorization (承認取消).
    AuthCancel,
    /// `salecancel.cgi`: cancel a sale (売上取消).
    SaleCancel,
    /// `authchange.cgi`: re-authorize at a new amount before sale (承認金額変更).
    AuthChange,
    /// `salechange.cgi`: change the amount of a sale (売上金額変更).
    SaleChange,
    /// The emulator's `/__emulator__/info` (research §10.3). Not an F-REGI script: F-REGI has no
    /// public card-transaction inquiry.
    Info,
}

impl Script {
    /// Every script, for tests and the fuzz target.
    #[allow(dead_code)] // not used by the plugin itself
    pub const ALL: [Script; 7] = [
        Script::Authm,
        Script::Sale,
        Script::AuthCancel,
        Script::SaleCancel,
        Script::AuthChange,
        Script::SaleChange,
        Script::Info,
    ];

    /// The file name under the configured base URL. `Info` lives at its own configured URL; its
    /// name here is only used in messages.
    pub fn file(self) -> &'static str {
        match self {
            Script::Authm => "authm.cgi",
            Script::Sale => "sale.cgi",
            Script::AuthCancel => "authcancel.cgi",
            Script::SaleCancel => "salecancel.cgi",
            Script::AuthChange => "authchange.cgi",
            Script::SaleChange => "salechange.cgi",
            Script::Info => "__emulator__/info",
        }
    }

    /// The step name the host journals and shows to operators.
    pub fn step(self) -> &'static str {
        match self {
            Script::Authm => "authm",
            Script::Sale => "sale",
            Script::AuthCancel => "authcancel",
            Script::SaleCancel => "salecancel",
            Script::AuthChange => "authchange",
            Script::SaleChange => "salechange",
            Script::Info => "info",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// What the journal shows instead of a secret value. Same text as the SDK's
/// `Secret::PLACEHOLDER`, repeated here because this module must not depend on the SDK.
pub const REDACTED: &str = "«redacted»";

/// An `application/x-www-form-urlencoded` body under construction.
///
/// Values are percent-encoded byte by byte (RFC 3986 unreserved characters kept, everything
/// else `%XX`, a space as `%20`), so `&`, `=`, `+` and spaces in free text survive (research
/// §2). Values are UTF-8; when any value is not ASCII the body also declares `CHARCODE=utf8`,
/// because without it F-REGI guesses the encoding of full-width input.
#[derive(Clone, Debug, Default)]
pub struct Form {
    fields: Vec<(&'static str, String, bool)>,
}

/// A form ready to send, and its journal copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedForm {
    /// The body to send.
    pub body: String,
    /// The same body with every secret value replaced by [`REDACTED`]: no card number, security
    /// code, expiry, holder name or token.
    pub journal: String,
}

impl Form {
    pub fn new() -> Form {
        Form::default()
    }

    /// A plain field, journaled as is.
    pub fn field(mut self, name: &'static str, value: impl Into<String>) -> Form {
        self.fields.push((name, value.into(), false));
        self
    }

    /// A field whose value must never reach the journal.
    pub fn secret(mut self, name: &'static str, value: &str) -> Form {
        self.fields.push((name, value.to_owned(), true));
        self
    }

    /// True when some value is not ASCII, so `CHARCODE=utf8` must be declared.
    pub fn needs_charcode(&self) -> bool {
        self.fields.iter().any(|(_, value, _)| !value.is_ascii())
    }

    /// The body and its journal copy.
    pub fn encode(&self) -> EncodedForm {
        let charcode = self.needs_charcode().then_some(("CHARCODE", "utf8", false));
        let fields = self
            .fields
            .iter()
            .map(|(name, value, secret)| (*name, value.as_str(), *secret))
            .chain(charcode);
        let mut body = String::with_capacity(128);
        let mut journal = String::with_capacity(128);
        for (i, (name, value, secret)) in fields.enumerate() {
            if i > 0 {
                body.push('&');
                journal.push('&');
            }
            body.push_str(name);
            body.push('=');
            percent_encode(value, &mut body);
            journal.push_str(name);
            journal.push('=');
            if secret {
                journal.push_str(REDACTED);
            } else {
                percent_encode(value, &mut journal);
            }
        }
        EncodedForm { body, journal }
    }
}

/// Appends `value` percent-encoded: RFC 3986 unreserved characters as they are, every other byte
/// of its UTF-8 form as `%XX` (upper-case hex).
pub fn percent_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// A `SEQNO` as a request may carry it: 1 to 20 ASCII digits (F-REGI issues 20, zero-padded).
pub fn is_seqno_ref(s: &str) -> bool {
    (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether two `SEQNO`s name the same transaction: leading zeros are padding.
pub fn same_seqno(a: &str, b: &str) -> bool {
    a.trim_start_matches('0') == b.trim_start_matches('0')
}

/// An `ID` (伝票番号) or `CUSTOMERID`: 1 to 20 characters of `[A-Za-z0-9-]` (research §4).
pub fn is_reference(s: &str) -> bool {
    (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The longest prefix of `s` that fits in `max` bytes without splitting a character.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/// A well-formed reply: the first line was `OK` or `NG` and the rest had the expected shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Ok(Approved),
    Ng(Refusal),
}

/// The positional fields of an `OK`, per script (research §4, §8: authm is AUTHCODE then SEQNO,
/// authchange and salechange are SEQNO then AUTHCODE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approved {
    /// `authm.cgi`: `OK` / AUTHCODE / SEQNO / additional info (optional, may span lines).
    Authorized {
        authcode: String,
        seqno: String,
        info: Option<String>,
    },
    /// `sale.cgi`: `OK` / SEQNO.
    Sold { seqno: String },
    /// `authcancel.cgi`: `OK` alone.
    AuthCancelled,
    /// `salecancel.cgi`: `OK` / SEQNO of the cancelled sale.
    SaleCancelled { seqno: String },
    /// `authchange.cgi`: `OK` / new SEQNO / new AUTHCODE.
    AuthChanged { seqno: String, authcode: String },
    /// `salechange.cgi`: `OK` / new SEQNO / new AUTHCODE.
    SaleChanged { seqno: String, authcode: String },
    /// The emulator's inquiry extension.
    Info(InfoReply),
}

/// The inquiry extension's answer (research §10.3): `OK` / SEQNO / ID / status code / PAY /
/// AUTHCODE / transmitted `0|1` / replaced-by SEQNO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoReply {
    pub seqno: String,
    pub id: String,
    /// The status code, as sent; mapping it is the status table's business.
    pub status: String,
    pub amount: u32,
    /// Empty for transactions without an authorization (declined, reserved).
    pub authcode: Option<String>,
    pub transmitted: bool,
    pub replaced_by: Option<String>,
}

/// An `NG`: F-REGI refused. The code and message are verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `S1-1-125`, `JCN-G55`…; `None` when the reason line carries no recognisable code.
    pub code: Option<String>,
    /// The Japanese message, decoded from EUC-JP.
    pub message: Option<String>,
}

/// Why a reply is not a well-formed `OK` or `NG`. Every one of these means "the request may have
/// taken effect": nothing here may be read as a success or as a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// A non-2xx status: F-REGI answers refusals with 200 and `NG`, so this is a proxy, a crash
    /// or the IP allow-list (an unregistered caller may get 403 with an empty body).
    HttpStatus { status: u16 },
    /// No body, or only white space.
    Empty,
    /// The body is not valid EUC-JP.
    NotEucJp,
    /// `authm` answered `OUTPUT`: a 3-D Secure hand-off page, which a server-to-server plugin
    /// cannot complete.
    ThreeDSecure,
    /// The first line is neither `OK` nor `NG` (HTML, a proxy page, garbage).
    UnknownResult { first_line: String },
    /// `NG` without a reason line: the reply was cut.
    NgWithoutReason,
    /// A positional field is missing: the reply was cut or has another shape.
    MissingField { script: Script, field: &'static str },
    /// A positional field has the wrong form (e.g. a `SEQNO` that is not 20 digits).
    BadField {
        script: Script,
        field: &'static str,
        value: String,
    },
    /// More lines than the script's reply has.
    ExtraLines { script: Script, count: usize },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::HttpStatus { status: 403 } => write!(
                f,
                "HTTP 403 instead of an OK/NG reply (is this server's IP address registered \
                 with F-REGI?)"
            ),
            WireError::HttpStatus { status } => {
                write!(f, "HTTP {status} instead of an OK/NG reply")
            }
            WireError::Empty => f.write_str("empty reply"),
            WireError::NotEucJp => f.write_str("reply is not valid EUC-JP"),
            WireError::ThreeDSecure => f.write_str(
                "F-REGI asked for 3-D Secure (first line OUTPUT), which server-to-server \
                 authorization cannot complete",
            ),
            WireError::UnknownResult { first_line } => {
                write!(f, "first line is {first_line}, not OK or NG")
            }
            WireError::NgWithoutReason => f.write_str("NG without a reason line (cut reply)"),
            WireError::MissingField { script, field } => write!(
                f,
                "OK reply of {} lacks {field} (cut reply?)",
                script.file()
            ),
            WireError::BadField {
                script,
                field,
                value,
            } => write!(
                f,
                "OK reply of {} has a malformed {field}: {value}",
                script.file()
            ),
            WireError::ExtraLines { script, count } => write!(
                f,
                "OK reply of {} has {count} unexpected extra line(s)",
                script.file()
            ),
        }
    }
}

impl std::error::Error for WireError {}

/// Parses a reply strictly.
///
/// The body is decoded as EUC-JP whatever `CHARCODE` the request declared (research §2), split
/// into lines (`\n` or `\r\n`), each trimmed; trailing empty lines are dropped, since an empty
/// last field (authm's additional info, the inquiry's replaced-by) and a final newline look the
/// same. The first line decides: `OK` then the script's positional fields, `NG` then
/// `CODE(message)`. Anything else is a [`WireError`].
///
/// Never panics, whatever the bytes (property-tested and fuzzed).
pub fn parse_reply(script: Script, status: u16, body: &[u8]) -> Result<Reply, WireError> {
    if !(200..=299).contains(&status) {
        return Err(WireError::HttpStatus { status });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WireError::Empty);
    }
    let text = EUC_JP
        .decode_without_bom_handling_and_without_replacement(body)
        .ok_or(WireError::NotEucJp)?;
    let mut lines: Vec<&str> = text.lines().map(str::trim).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let (first, rest) = lines.split_first().ok_or(WireError::Empty)?;
    match *first {
        "OK" => parse_ok(script, rest).map(Reply::Ok),
        "NG" => parse_ng(rest).map(Reply::Ng),
        "OUTPUT" if script == Script::Authm => Err(WireError::ThreeDSecure),
        other => Err(WireError::UnknownResult {
            first_line: excerpt(other),
        }),
    }
}

fn parse_ok(script: Script, rest: &[&str]) -> Result<Approved, WireError> {
    let mut f = Fields {
        script,
        lines: rest.iter(),
    };
    let approved = match script {
        Script::Authm => {
            let authcode = f.authcode("AUTHCODE")?;
            let seqno = f.seqno("SEQNO")?;
            // Additional info (brand, IP area…, on request): free lines, kept verbatim.
            let info = f.lines.as_slice().join("\n");
            return Ok(Approved::Authorized {
                authcode,
                seqno,
                info: (!info.is_empty()).then_some(info),
            });
        }
        Script::Sale => Approved::Sold {
            seqno: f.seqno("SEQNO")?,
        },
        Script::AuthCancel => Approved::AuthCancelled,
        Script::SaleCancel => Approved::SaleCancelled {
            seqno: f.seqno("SEQNO")?,
        },
        Script::AuthChange => Approved::AuthChanged {
            seqno: f.seqno("SEQNO")?,
            authcode: f.authcode("AUTHCODE")?,
        },
        Script::SaleChange => Approved::SaleChanged {
            seqno: f.seqno("SEQNO")?,
            authcode: f.authcode("AUTHCODE")?,
        },
        Script::Info => Approved::Info(InfoReply {
            seqno: f.seqno("SEQNO")?,
            id: f.take("ID", |v| !v.is_empty() && v.len() <= 64)?.to_owned(),
            status: f
                .take("status", |v| {
                    (1..=8).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric())
                })?
                .to_owned(),
            amount: f
                .take("PAY", |v| {
                    (1..=7).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())
                })?
                .parse()
                .map_err(|_| WireError::MissingField {
                    script,
                    field: "PAY",
                })?,
            authcode: {
                let v = f.take("AUTHCODE", |v| v.is_empty() || is_authcode(v))?;
                (!v.is_empty()).then(|| v.to_owned())
            },
            transmitted: f.take("transmitted", |v| v == "0" || v == "1")? == "1",
            // The last field: when empty, it was dropped with the trailing empty lines.
            replaced_by: match f.lines.next() {
                None => None,
                Some(v) if is_seqno(v) => Some((*v).to_owned()),
                Some(v) => {
                    return Err(WireError::BadField {
                        script,
                        field: "replaced-by SEQNO",
                        value: excerpt(v),
                    });
                }
            },
        }),
    };
    f.end()?;
    Ok(approved)
}

/// `NG` / `CODE(message)` (card API, research §5.1). Also read: the redirect API's three-line
/// form `NG` / `CODE` / `message`, and a reason line with no code (kept whole as the message) —
/// an `NG` is an explicit refusal whatever its reason looks like.
fn parse_ng(rest: &[&str]) -> Result<Refusal, WireError> {
    let reason = *rest.first().ok_or(WireError::NgWithoutReason)?;
    if reason.is_empty() {
        // A blank line between NG and more text: not a shape F-REGI uses.
        return Err(WireError::NgWithoutReason);
    }
    if let Some((code, message)) = split_reason(reason) {
        return Ok(Refusal {
            code: Some(code.to_owned()),
            message: (!message.is_empty()).then(|| message.to_owned()),
        });
    }
    if is_code(reason) {
        return Ok(Refusal {
            code: Some(reason.to_owned()),
            message: rest
                .get(1)
                .filter(|m| !m.is_empty())
                .map(|m| (*m).to_owned()),
        });
    }
    Ok(Refusal {
        code: None,
        message: Some(reason.to_owned()),
    })
}

/// `CODE(message)`: the code up to the first opening parenthesis, the message up to the final
/// closing one (messages contain parentheses: `有効期限(月)`). Full-width parentheses are
/// accepted too.
fn split_reason(line: &str) -> Option<(&str, &str)> {
    let open = line.find(['(', '（'])?;
    let code = line[..open].trim();
    let after = &line[open..];
    let open_len = after.chars().next()?.len_utf8();
    let inner = after[open_len..]
        .strip_suffix(')')
        .or_else(|| after[open_len..].strip_suffix('）'))?;
    is_code(code).then_some((code, inner.trim()))
}

/// An F-REGI reason code: `A1-1-30`, `S1-1-125`, `JCN-G55`.
fn is_code(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A `SEQNO` in a reply: exactly 20 digits. The fixed width also catches a reply cut inside it.
fn is_seqno(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An `AUTHCODE`: 1 to 6 ASCII letters or digits (`000123`, `EHcUBW`; research §4).
fn is_authcode(s: &str) -> bool {
    (1..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A short, escaped excerpt of untrusted text for an error message.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().nth(40).is_some() {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// The positional fields after `OK`.
struct Fields<'a, 'b> {
    script: Script,
    lines: std::slice::Iter<'b, &'a str>,
}

impl<'a> Fields<'a, '_> {
    fn take(
        &mut self,
        field: &'static str,
        valid: impl Fn(&str) -> bool,
    ) -> Result<&'a str, WireError> {
        let script = self.script;
        let value = *self
            .lines
            .next()
            .ok_or(WireError::MissingField { script, field })?;
        if valid(value) {
            Ok(value)
        } else {
            Err(WireError::BadField {
                script,
                field,
                value: excerpt(value),
            })
        }
    }

    fn seqno(&mut self, field: &'static str) -> Result<String, WireError> {
        self.take(field, is_seqno).map(str::to_owned)
    }

    fn authcode(&mut self, field: &'static str) -> Result<String, WireError> {
        self.take(field, is_authcode).map(str::to_owned)
    }

    fn end(self) -> Result<(), WireError> {
        match self.lines.len() {
            0 => Ok(()),
            count => Err(WireError::ExtraLines {
                script: self.script,
                count,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        let mut out = String::new();
        percent_encode("aZ09-._~ &=+/?%", &mut out);
        assert_eq!(out, "aZ09-._~%20%26%3D%2B%2F%3F%25");
        out.clear();
        // UTF-8 bytes of 承認 (E6 89 BF E8 AA 8D).
        percent_encode("承認", &mut out);
        assert_eq!(out, "%E6%89%BF%E8%AA%8D");
    }

    #[test]
    fn clip_never_splits_a_character() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("承認済", 4), "承");
        assert_eq!(clip("承認済", 6), "承認");
        assert_eq!(clip("", 0), "");
    }

    #[test]
    fn seqnos_compare_without_their_padding() {
        assert!(same_seqno("00000000000000001287", "1287"));
        assert!(!same_seqno("00000000000000001287", "12870"));
    }

    #[test]
    fn reason_lines_split_at_the_first_and_last_parenthesis() {
        assert_eq!(
            split_reason("A1-1-40(承認処理時の有効期限(月)が指定されていません)"),
            Some(("A1-1-40", "承認処理時の有効期限(月)が指定されていません"))
        );
        assert_eq!(
            split_reason("JCN-G55（限度額オーバー）"),
            Some(("JCN-G55", "限度額オーバー"))
        );
        assert_eq!(split_reason("限度額(オーバー)"), None);
        assert_eq!(split_reason("S1-1-125(unterminated"), None);
    }
}
