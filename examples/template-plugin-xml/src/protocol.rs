//! Kumo Pay's XML wire: requests are XML documents in the gateway's charset, declared so
//! (`<?xml version="1.0" encoding="Shift_JIS"?>`), one `<request>` element whose children are the
//! fields; replies are XML documents in that charset under HTTP 200: a payment
//! `<payment><id>…</id>…<processed_at>…</processed_at></payment>`, an order entered
//! `<entry><id>…</id><processed_at>…</processed_at></entry>`, or a refusal listing every problem,
//! one `<error>` each: `<errors><error><code>card_declined</code><message>…</message></error>…</errors>`
//! (the shape of SBPS). Each request is signed as on the JSON wire (`signing.rs`).
//!
//! Everything that touches bytes lives here, so `lib.rs` reads as the list of operations. Values
//! are escaped on write; replies are read strictly with quick-xml (well-formed, end tags
//! matched, one root, nothing after it, the declared encoding the gateway's charset), so a reply
//! cut anywhere, inside its last value too, is refused rather than read as a success.

use quick_xml::events::Event;
use renkei_sdk::wire::Charset;
use renkei_sdk::{GatewayError, HttpResponse, Secret, TransactionRef};

/// The charset of every request and every reply, as the gateway's manual fixes it.
pub const CHARSET: Charset = Charset::ShiftJis;

/// The `Content-Type` of every request body.
pub fn content_type() -> String {
    format!("application/xml; charset={}", CHARSET.name())
}

/// The declaration every document starts with: it names the charset.
fn declaration(charset: Charset) -> String {
    format!("<?xml version=\"1.0\" encoding=\"{}\"?>", charset.name())
}

/// A request document: `<request>` and its fields, each an element, in the order given.
#[derive(Clone, Debug)]
pub struct XmlBody {
    charset: Charset,
    fields: Vec<(&'static str, Field)>,
}

#[derive(Clone, Debug)]
enum Field {
    Plain(String),
    Secret(Secret),
}

/// A document ready to send, and its journal copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedXml {
    /// The bytes to send, in the charset.
    pub body: Vec<u8>,
    /// The same document as text, every secret value replaced by [`Secret::PLACEHOLDER`].
    pub journal: String,
}

/// A new request document in the gateway's charset.
pub fn document() -> XmlBody {
    XmlBody::new(CHARSET)
}

impl XmlBody {
    /// A document in `charset`.
    pub fn new(charset: Charset) -> XmlBody {
        XmlBody {
            charset,
            fields: Vec::new(),
        }
    }

    /// A field journaled as it is sent.
    pub fn field(mut self, name: &'static str, value: impl Into<String>) -> XmlBody {
        self.fields.push((name, Field::Plain(value.into())));
        self
    }

    /// A field whose value never reaches the journal copy.
    pub fn secret(mut self, name: &'static str, value: &Secret) -> XmlBody {
        self.fields.push((name, Field::Secret(value.clone())));
        self
    }

    /// The document and its journal copy. A value the charset cannot write, or with a
    /// character XML 1.0 cannot carry, is refused before anything is sent (`InvalidRequest`,
    /// naming the field, never the value: it may be a secret).
    pub fn encode(&self) -> Result<EncodedXml, GatewayError> {
        let mut body = declaration(self.charset);
        body.push_str("<request>");
        let mut journal = body.clone();
        for (name, field) in &self.fields {
            let value = match field {
                Field::Plain(v) => v.as_str(),
                Field::Secret(s) => s.expose(),
            };
            let refused = |why: &str| {
                GatewayError::invalid(format!("the value of `{name}` has a character {why}"))
            };
            if !value.chars().all(xml_char) {
                return Err(refused("XML cannot carry"));
            }
            if self.charset.encode(value).is_none() {
                return Err(refused(&format!("{} cannot write", self.charset.name())));
            }
            let escaped = quick_xml::escape::escape(value);
            body.push_str(&format!("<{name}>{escaped}</{name}>"));
            match field {
                Field::Plain(_) => journal.push_str(&format!("<{name}>{escaped}</{name}>")),
                Field::Secret(_) => {
                    journal.push_str(&format!("<{name}>{}</{name}>", Secret::PLACEHOLDER))
                }
            }
        }
        body.push_str("</request>");
        journal.push_str("</request>");
        let body = self
            .charset
            .encode(&body)
            .ok_or_else(|| GatewayError::invalid("the request cannot be written in its charset"))?;
        Ok(EncodedXml { body, journal })
    }
}

/// Whether XML 1.0 can carry `c` (its `Char` production, less what no gateway sends).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// A successful reply: the payment as the gateway now sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct PaymentReply {
    pub id: String,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
    pub authorization_code: Option<String>,
}

/// An answer that is no refusal: its root's name and its fields (each a child element with
/// text only, each given once), read by [`payment`] or [`entry`].
#[derive(Debug)]
pub struct XmlReply {
    root: String,
    fields: Vec<(String, String)>,
}

impl XmlReply {
    /// The value of a field, if the reply has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a required field, which must pass `ok` (a check a shorter value fails).
    pub fn require_with(
        &self,
        key: &str,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Result<&str, GatewayError> {
        let v = self
            .get(key)
            .ok_or_else(|| GatewayError::protocol(format!("the reply has no `{key}` ({what})")))?;
        if ok(v) {
            Ok(v)
        } else {
            Err(GatewayError::protocol(format!(
                "`{key}` in the reply is not {what}"
            )))
        }
    }

    fn expect_root(&self, root: &str) -> Result<(), GatewayError> {
        if self.root == root {
            Ok(())
        } else {
            Err(GatewayError::protocol(format!(
                "expected a <{root}> reply, got <{}>",
                truncated(&self.root)
            )))
        }
    }
}

/// What a reply says, before the operation decides what it means.
pub enum Reply {
    /// An answer that is no refusal.
    Fields(XmlReply),
    /// Every code of a refusal, in the gateway's order (never empty), and its words.
    Error {
        codes: Vec<String>,
        message: Option<String>,
    },
}

/// A reference goes into a URL path, so it must not be able to change the path.
pub fn path_id(t: &TransactionRef) -> Result<&str, GatewayError> {
    let id = t.as_str();
    if id_shaped(id) {
        Ok(id)
    } else {
        Err(GatewayError::invalid(format!(
            "malformed Kumo Pay payment id {id:?}"
        )))
    }
}

fn id_shaped(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn digits(v: &str) -> bool {
    !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit())
}

fn code_shaped(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// At most 32 characters of something the gateway sent, for an error message.
fn truncated(v: &str) -> String {
    v.chars().take(32).collect()
}

fn xml_error(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::protocol(format!("the reply is not well-formed XML: {e}"))
}

/// An element of a reply: its name, its text, its children.
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

/// A reply's elements: deeper than this or more than this many is no Kumo Pay reply.
const MAX_DEPTH: usize = 3;
const MAX_ELEMENTS: usize = 256;

/// The root element of a whole document in `charset`: declared in it, well-formed, one root,
/// nothing but white space and comments after it. A document cut anywhere fails here.
fn tree(body: &[u8], charset: Charset) -> Result<Element, GatewayError> {
    let text = charset.decode(body).ok_or_else(|| {
        GatewayError::protocol(format!("the reply is not valid {}", charset.name()))
    })?;
    let mut reader = quick_xml::Reader::from_str(&text);
    reader.config_mut().check_end_names = true;
    let mut declared = false;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(xml_error)?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Decl(decl) => {
                if declared || root.is_some() || !stack.is_empty() {
                    return Err(xml_error("misplaced XML declaration"));
                }
                let encoding = match decl.encoding() {
                    Some(Ok(e)) => String::from_utf8_lossy(&e).into_owned(),
                    Some(Err(e)) => return Err(xml_error(e)),
                    None => String::new(),
                };
                if !encoding.eq_ignore_ascii_case(charset.name()) {
                    return Err(GatewayError::protocol(format!(
                        "the reply declares encoding {:?}, not {}",
                        truncated(&encoding),
                        charset.name()
                    )));
                }
                declared = true;
            }
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(xml_error("a second root element"));
            }
            Event::Start(start) | Event::Empty(start) => {
                if !declared {
                    return Err(GatewayError::protocol(format!(
                        "the reply has no XML declaration of {}",
                        charset.name()
                    )));
                }
                elements += 1;
                if elements > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(GatewayError::protocol("the reply has too many elements"));
                }
                if start.attributes().next().is_some() {
                    return Err(xml_error("an element with attributes"));
                }
                if let Some(parent) = stack.last()
                    && !parent.text.trim().is_empty()
                {
                    return Err(xml_error("an element mixing text and elements"));
                }
                let element = Element {
                    name: std::str::from_utf8(start.name().as_ref())
                        .map_err(xml_error)?
                        .to_owned(),
                    text: String::new(),
                    children: Vec::new(),
                };
                if empty {
                    close(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| xml_error("an unopened end tag"))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let t = t.unescape().map_err(xml_error)?;
                match stack.last_mut() {
                    Some(e) if e.children.is_empty() || t.trim().is_empty() => e.text.push_str(&t),
                    Some(_) => return Err(xml_error("an element mixing text and elements")),
                    None if t.trim().is_empty() => {}
                    None => return Err(xml_error("text outside the root element")),
                }
            }
            Event::Comment(_) => {}
            Event::Eof => {
                return match root {
                    Some(root) if stack.is_empty() => Ok(root),
                    _ => Err(GatewayError::protocol(
                        "the reply ends before its document does (cut short)",
                    )),
                };
            }
            // CDATA, DOCTYPE, processing instructions: not in the gateway's replies.
            _ => return Err(xml_error("markup the gateway never sends")),
        }
    }
}

/// An element whose end was read: its parent's child, or the root.
fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// A leaf's fields: every child text only, each name once.
fn leaves(parent: &Element) -> Result<Vec<(String, String)>, GatewayError> {
    let mut fields: Vec<(String, String)> = Vec::with_capacity(parent.children.len());
    for child in &parent.children {
        if !child.children.is_empty() {
            return Err(GatewayError::protocol(format!(
                "<{}> in the reply has elements, not a value",
                truncated(&child.name)
            )));
        }
        if fields.iter().any(|(k, _)| *k == child.name) {
            return Err(GatewayError::protocol(format!(
                "<{}> is given twice in the reply",
                truncated(&child.name)
            )));
        }
        fields.push((child.name.clone(), child.text.clone()));
    }
    Ok(fields)
}

/// Reads a reply strictly, in `charset`: only HTTP 200 is the gateway's answer; it must be a
/// whole XML document in the charset (so a reply cut anywhere, inside its last value too, is
/// refused); a refusal (`<errors>`) must list at least one `<error>`, each with a documented
/// shape of code; any other answer must end with `processed_at` (`yyyyMMddHHmmss`), and
/// [`payment`] and [`entry`] check every other field's shape. Anything else (5xx, HTML from a
/// proxy, bytes not valid in the charset) is a protocol error, because the request may have
/// been processed and nothing here may guess otherwise.
pub fn parse(reply: &HttpResponse, charset: Charset) -> Result<Reply, GatewayError> {
    if reply.status != 200 {
        return Err(GatewayError::protocol(format!(
            "HTTP {}: the gateway's answer is unknown",
            reply.status
        )));
    }
    let root = tree(&reply.body, charset)?;
    if root.name == "errors" {
        let mut codes = Vec::new();
        let mut messages = Vec::new();
        for error in &root.children {
            if error.name != "error" {
                return Err(GatewayError::protocol(format!(
                    "<{}> in an error reply",
                    truncated(&error.name)
                )));
            }
            let fields = leaves(error)?;
            if let Some((k, _)) = fields.iter().find(|(k, _)| k != "code" && k != "message") {
                return Err(GatewayError::protocol(format!(
                    "<{}> in an <error>",
                    truncated(k)
                )));
            }
            let error = XmlReply {
                root: "error".into(),
                fields,
            };
            codes.push(
                error
                    .require_with("code", "an error code", code_shaped)?
                    .to_owned(),
            );
            if let Some(m) = error.get("message") {
                messages.push(m.to_owned());
            }
        }
        if codes.is_empty() {
            return Err(GatewayError::protocol("an error reply without an <error>"));
        }
        let message = (!messages.is_empty()).then(|| messages.join("; "));
        return Ok(Reply::Error { codes, message });
    }
    let fields = XmlReply {
        fields: leaves(&root)?,
        root: root.name,
    };
    fields.require_with("processed_at", "14 digits (yyyyMMddHHmmss)", |v| {
        v.len() == 14 && v.bytes().all(|b| b.is_ascii_digit())
    })?;
    Ok(Reply::Fields(fields))
}

/// The entry id of an order entry's answer (`<entry><id>…</id>…</entry>`).
pub fn entry(reply: &XmlReply) -> Result<&str, GatewayError> {
    reply.expect_root("entry")?;
    reply.require_with("id", "an entry id", id_shaped)
}

/// The payment of a payment's answer, every field in its shape.
pub fn payment(reply: &XmlReply) -> Result<PaymentReply, GatewayError> {
    reply.expect_root("payment")?;
    let number = |key: &str| -> Result<i64, GatewayError> {
        reply
            .require_with(key, "a whole number", digits)?
            .parse()
            .map_err(|_| GatewayError::protocol(format!("`{key}` in the reply is too large")))
    };
    Ok(PaymentReply {
        id: reply
            .require_with("id", "a payment id", id_shaped)?
            .to_owned(),
        status: reply
            .require_with("status", "a status code", |v| {
                !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })?
            .to_owned(),
        currency: reply
            .require_with("currency", "a currency code", |v| {
                v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase())
            })?
            .to_owned(),
        amount: number("amount")?,
        captured: number("captured")?,
        refunded: number("refunded")?,
        authorization_code: reply.get("authorization_code").map(str::to_owned),
    })
}
