//! F-REGI's wire format: form-encoded requests to one CGI script per operation, EUC-JP replies of
//! one value per line (`docs/protocols/fregi.md` §2, §4, §5, §10.3).
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
    /// The emulator's `/__emulator__/info` (`docs/protocols/fregi.md` §10.3). Not an F-REGI script: F-REGI has no
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
pub const REDACTED: &str = "[redacted]";

/// An `application/x-www-form-urlencoded` body under construction.
///
/// Values are percent-encoded byte by byte (RFC 3986 unreserved characters kept, everything
/// else `%XX`, a space as `%20`), so `&`, `=`, `+` and spaces in free text survive
/// (`docs/protocols/fregi.md` §2). Values are UTF-8, and the body declares `CHARCODE=utf8` when asked to
/// ([`Form::charcode`], authm always: S4 and S5, the layouts F-REGI is known to have answered,
/// send it on every authm) or when any value is not ASCII, because without it F-REGI guesses the
/// encoding of full-width input (`docs/protocols/fregi.md` §2).
#[derive(Clone, Debug, Default)]
pub struct Form {
    fields: Vec<(&'static str, String, bool)>,
    charcode: bool,
}

/// The `CHARCODE` value naming the encoding [`Form::encode`] writes values in (UTF-8).
pub const CHARCODE_UTF8: &str = "utf8";

/// The values of F-REGI's yes/no fields (`QUIET`, `SKIPSCODE`, `MONTHLY`, the inquiry
/// extension's `transmitted`).
pub const FLAG_ON: &str = "1";
pub const FLAG_OFF: &str = "0";

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

    /// Declares `CHARCODE` whatever the values are.
    pub fn charcode(mut self) -> Form {
        self.charcode = true;
        self
    }

    /// True when the body will declare `CHARCODE=utf8`: asked for, or some value is not ASCII.
    pub fn needs_charcode(&self) -> bool {
        self.charcode || self.fields.iter().any(|(_, value, _)| !value.is_ascii())
    }

    /// The body and its journal copy.
    pub fn encode(&self) -> EncodedForm {
        let charcode = self
            .needs_charcode()
            .then_some(("CHARCODE", CHARCODE_UTF8, false));
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

/// What the plugin keeps of an F-REGI transaction in the host's one printable reference:
/// `SEQNO-AUTHCODE`, or a bare `SEQNO` (legacy references, written before the AUTHCODE was
/// kept). Both parts are needed later: `sale.cgi` takes `SEQNO` and `AUTHCODE` (every production
/// client sends both, S5 and S6), and `authchange`/`salechange` replace both (`docs/protocols/fregi.md` §4.5,
/// §4.6). `-` cannot occur in either part, so the split is unambiguous.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub seqno: String,
    /// `None` for a legacy reference: then no `AUTHCODE` can be sent.
    pub authcode: Option<String>,
}

impl Reference {
    pub fn new(seqno: impl Into<String>, authcode: Option<impl Into<String>>) -> Reference {
        Reference {
            seqno: seqno.into(),
            authcode: authcode.map(Into::into),
        }
    }

    /// `SEQNO` (1 to 20 digits) optionally followed by `-AUTHCODE` (1 to 6 letters or digits).
    pub fn parse(s: &str) -> Option<Reference> {
        let (seqno, authcode) = match s.split_once('-') {
            Some((seqno, code)) => (seqno, Some(code)),
            None => (s, None),
        };
        if !is_seqno_ref(seqno) || authcode.is_some_and(|c| !is_authcode(c)) {
            return None;
        }
        Some(Reference::new(seqno, authcode))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.authcode {
            Some(code) => write!(f, "{}-{code}", self.seqno),
            None => f.write_str(&self.seqno),
        }
    }
}

/// Why a description cannot go out as `FREE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FreeTextError {
    /// Half-width katakana (U+FF61–U+FF9F): single-byte in Shift_JIS but not ASCII, and no
    /// public source shows F-REGI accepting it in `FREE`.
    HalfWidthKana { position: usize },
    /// A character with no half-width form (kanji, kana, symbols, control characters).
    NotHalfWidth { position: usize, code_point: u32 },
}

impl fmt::Display for FreeTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FreeTextError::HalfWidthKana { position } => write!(
                f,
                "FREE (the description) cannot carry half-width katakana (character {position}): \
                 F-REGI's FREE takes half-width characters only, and nothing shows it accepts \
                 half-width kana"
            ),
            FreeTextError::NotHalfWidth {
                position,
                code_point,
            } => write!(
                f,
                "FREE (the description) takes half-width (ASCII) characters only; character \
                 {position} (U+{code_point:04X}) has no half-width form"
            ),
        }
    }
}

impl std::error::Error for FreeTextError {}

/// A description as F-REGI's `FREE` takes it: half-width (printable ASCII) only. Full-width ASCII
/// (U+FF01–U+FF5E) folds to its half-width form, the ideographic space U+3000 and ASCII white
/// space to a space; anything else is refused, because the spec allows half-width characters only
/// in `FREE` and no production client sends it at all (`docs/protocols/fregi.md` §4.1). Positions count
/// characters from 1.
pub fn half_width(text: &str) -> Result<String, FreeTextError> {
    text.chars()
        .enumerate()
        .map(|(i, c)| match c {
            ' '..='~' => Ok(c),
            '\t' | '\n' | '\r' | '\u{3000}' => Ok(' '),
            '\u{FF01}'..='\u{FF5E}' => Ok(char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(' ')),
            '\u{FF61}'..='\u{FF9F}' => Err(FreeTextError::HalfWidthKana { position: i + 1 }),
            _ => Err(FreeTextError::NotHalfWidth {
                position: i + 1,
                code_point: u32::from(c),
            }),
        })
        .collect()
}

/// Whether two `SEQNO`s name the same transaction: leading zeros are padding.
pub fn same_seqno(a: &str, b: &str) -> bool {
    a.trim_start_matches('0') == b.trim_start_matches('0')
}

/// An `ID` (伝票番号) or `CUSTOMERID`: 1 to 20 characters of `[A-Za-z0-9-]` (`docs/protocols/fregi.md` §4).
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

/// The positional fields of an `OK`, per script (`docs/protocols/fregi.md` §4, §8: authm is AUTHCODE then SEQNO,
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

/// The inquiry extension's answer (`docs/protocols/fregi.md` §10.3): `OK` / SEQNO / ID / status code / PAY /
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
    /// The body does not end with a line end: the reply was cut (`OK` may be the first half of
    /// `OK\r\n`, an `AUTHCODE` the first half of itself).
    Unterminated,
    /// CRLF and LF (or a stray CR) in one reply: not one consistently framed reply.
    MixedLineEnds,
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
            WireError::Unterminated => {
                f.write_str("reply does not end with a line end (cut reply)")
            }
            WireError::MixedLineEnds => {
                f.write_str("reply mixes CRLF and LF line ends (not one complete reply)")
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
/// The body is decoded as EUC-JP whatever `CHARCODE` the request declared (`docs/protocols/fregi.md` §2). It
/// must be framed completely (docs/protocols/fregi.md §2): every line, the last one too, ends with the same
/// line end, LF or CRLF (`docs/protocols/fregi.md` §9.5: which one F-REGI uses is not public, so both are
/// read). A body without its final line end was cut, whatever it looks like (`OK` is half of
/// `OK\r\n`), and a body mixing line ends is not one reply; both are [`WireError`]s, which the
/// plugin reports as "may have taken effect". Lines are then trimmed; trailing empty lines are
/// dropped (authm's additional info is optional, and nothing is read from it), except in the
/// inquiry's `OK` reply, whose last field, replaced-by, is always sent and empty when nothing
/// replaced the payment (§10.3): a reply that ends before that line was cut there, and read as
/// "not replaced" it would show a replaced authorization as voided. The first line decides: `OK`
/// then every line the script's reply must have, `NG` then `CODE(message)`. Anything else is a
/// [`WireError`].
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
    let framed = text.strip_suffix('\n').ok_or(WireError::Unterminated)?;
    let crlf = framed.ends_with('\r');
    let mut lines = Vec::new();
    for line in framed.split('\n') {
        let line = if crlf {
            line.strip_suffix('\r').ok_or(WireError::MixedLineEnds)?
        } else {
            line
        };
        if line.contains('\r') {
            return Err(WireError::MixedLineEnds);
        }
        lines.push(line.trim());
    }
    // Up to the last non-empty line.
    let kept = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    let first = *lines[..kept].first().ok_or(WireError::Empty)?;
    match first {
        // The inquiry's empty last field is a line of its own (see above).
        "OK" if script == Script::Info => parse_ok(script, &lines[1..]).map(Reply::Ok),
        "OK" => parse_ok(script, &lines[1..kept]).map(Reply::Ok),
        "NG" => parse_ng(&lines[1..kept]).map(Reply::Ng),
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
            transmitted: f.take("transmitted", |v| v == FLAG_OFF || v == FLAG_ON)? == FLAG_ON,
            // The last field, always sent: empty when nothing replaced the payment.
            replaced_by: {
                let v = f.take("replaced-by SEQNO", |v| v.is_empty() || is_seqno(v))?;
                (!v.is_empty()).then(|| v.to_owned())
            },
        }),
    };
    f.end()?;
    Ok(approved)
}

/// `NG` / `CODE(message)` (card API, `docs/protocols/fregi.md` §5.1). Also read: the redirect API's three-line
/// form `NG` / `CODE` / `message`, and a reason line with no code (kept whole as the message).
/// What the reason means for the money is `errors.rs`'s to say: only a documented reason proves
/// that nothing happened.
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
pub(crate) fn split_reason(line: &str) -> Option<(&str, &str)> {
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

/// An `AUTHCODE`: 1 to 6 ASCII letters or digits (`000123`, `EHcUBW`; `docs/protocols/fregi.md` §4).
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
