//! The XML envelope on the wire: request parsing (Shift_JIS → tree) and response writing.
//!
//! Requests are decoded from Shift_JIS and parsed with quick-xml into a small tree that keeps
//! document order, because the hash is defined over that order (§4.1). Responses are written by
//! hand in exactly the sandbox's layout (§1, §10.2): declaration with single quotes and a space
//! before `?>`, the root indented by two spaces, two more per level, `<x/>` for empty elements.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::codec::{decode_sjis, encode_sjis};

/// Root element of every request.
pub const REQUEST_ROOT: &str = "sps-api-request";
/// Root element of every response.
pub const RESPONSE_ROOT: &str = "sps-api-response";
/// The XML declaration the sandbox writes.
pub const RESPONSE_DECLARATION: &str = "<?xml version='1.0' encoding='Shift_JIS' ?>";

/// Deeper nesting than any SBPS request has (`dtls/dtl/x` is three levels) is refused, which
/// also bounds the recursion of the hash walk.
const MAX_DEPTH: usize = 8;

/// A request that is not a well-formed SBPS envelope (§10.3 step 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not valid Shift_JIS.
    #[error("body is not valid Shift_JIS")]
    NotShiftJis,
    /// The XML parser refused the document.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The root is not `sps-api-request`.
    #[error("root element is not sps-api-request")]
    WrongRoot,
    /// The root has no `id` attribute.
    #[error("root element has no id attribute")]
    MissingId,
    /// Text mixed with elements, a second root, nesting too deep, or no root at all.
    #[error("unexpected document structure: {0}")]
    Structure(&'static str),
}

/// One element of a request: a leaf with a value, or a group with children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Tag name.
    pub name: String,
    /// Text of a leaf (unescaped, untrimmed); empty for groups.
    pub value: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    fn new(name: String) -> Self {
        Self {
            name,
            value: String::new(),
            children: Vec::new(),
        }
    }
}

/// A parsed request: the function id from the root and the root's children in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The root `id` attribute, e.g. `ST02-00201-101`.
    pub id: String,
    /// Top-level elements.
    pub fields: Vec<Element>,
}

impl Request {
    /// The first element at `path` (e.g. `["pay_option_manage", "amount"]`).
    pub fn find(&self, path: &[&str]) -> Option<&Element> {
        let (first, rest) = path.split_first()?;
        let mut current = self.fields.iter().find(|e| e.name == *first)?;
        for segment in rest {
            current = current.children.iter().find(|e| e.name == *segment)?;
        }
        Some(current)
    }

    /// Every element at `path`, following repeated groups (`["dtls", "dtl", "dtl_amount"]`).
    pub fn find_all<'a>(&'a self, path: &[&str]) -> Vec<&'a Element> {
        let mut out = Vec::new();
        collect(&self.fields, path, &mut out);
        out
    }

    /// Value of the leaf at `path`, trimmed; `None` when absent or empty.
    pub fn value(&self, path: &[&str]) -> Option<&str> {
        self.find(path)
            .map(|e| e.value.trim())
            .filter(|v| !v.is_empty())
    }

    /// Mutable access to every leaf with its parent group's name (`None` at top level), in
    /// document order.
    pub fn for_each_leaf_mut(&mut self, mut f: impl FnMut(Option<&str>, &mut Element)) {
        fn walk(
            parent: Option<&str>,
            elements: &mut [Element],
            f: &mut dyn FnMut(Option<&str>, &mut Element),
        ) {
            for element in elements {
                if element.children.is_empty() {
                    f(parent, element);
                } else {
                    let name = std::mem::take(&mut element.name);
                    walk(Some(&name), &mut element.children, f);
                    element.name = name;
                }
            }
        }
        walk(None, &mut self.fields, &mut f);
    }
}

fn collect<'a>(elements: &'a [Element], path: &[&str], out: &mut Vec<&'a Element>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    for element in elements.iter().filter(|e| e.name == *first) {
        if rest.is_empty() {
            out.push(element);
        } else {
            collect(&element.children, rest, out);
        }
    }
}

/// Decodes a Shift_JIS body and parses it into a [`Request`]. The declared encoding is not
/// trusted: SBPS reads every body as Shift_JIS.
pub fn parse_request(body: &[u8]) -> Result<Request, ParseError> {
    let text = decode_sjis(body).ok_or(ParseError::NotShiftJis)?;
    parse_request_text(&text)
}

fn parse_request_text(text: &str) -> Result<Request, ParseError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let xml_err = |e: quick_xml::Error| ParseError::Xml(e.to_string());

    let mut id: Option<String> = None;
    let mut stack: Vec<Element> = Vec::with_capacity(MAX_DEPTH);
    let mut root: Option<Element> = None;

    loop {
        match reader.read_event().map_err(xml_err)? {
            Event::Start(start) => {
                open(&start, &mut id, &mut stack, root.is_some())?;
            }
            Event::Empty(start) => {
                open(&start, &mut id, &mut stack, root.is_some())?;
                close(&mut stack, &mut root)?;
            }
            Event::End(_) => close(&mut stack, &mut root)?,
            Event::Text(t) => {
                let unescaped = t.unescape().map_err(xml_err)?;
                append_text(&mut stack, &unescaped)?;
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                let s = std::str::from_utf8(&raw)
                    .map_err(|_| ParseError::Structure("CDATA is not text"))?;
                append_text(&mut stack, s)?;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(ParseError::Structure("unclosed element"));
    }
    let root = root.ok_or(ParseError::Structure("no root element"))?;
    let id = id.ok_or(ParseError::MissingId)?;
    Ok(Request {
        id,
        fields: root.children,
    })
}

fn open(
    start: &BytesStart<'_>,
    id: &mut Option<String>,
    stack: &mut Vec<Element>,
    root_done: bool,
) -> Result<(), ParseError> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| ParseError::Structure("tag name is not text"))?
        .to_owned();
    if stack.is_empty() {
        if root_done {
            return Err(ParseError::Structure("second root element"));
        }
        if name != REQUEST_ROOT {
            return Err(ParseError::WrongRoot);
        }
        let attr = start
            .try_get_attribute("id")
            .map_err(|e| ParseError::Xml(e.to_string()))?;
        let attr = attr.ok_or(ParseError::MissingId)?;
        let value = attr
            .unescape_value()
            .map_err(|e| ParseError::Xml(e.to_string()))?;
        *id = Some(value.into_owned());
    } else if stack.len() >= MAX_DEPTH {
        return Err(ParseError::Structure("nesting too deep"));
    }
    stack.push(Element::new(name));
    Ok(())
}

fn close(stack: &mut Vec<Element>, root: &mut Option<Element>) -> Result<(), ParseError> {
    let mut element = stack
        .pop()
        .ok_or(ParseError::Structure("end tag without start"))?;
    if !element.children.is_empty() {
        if !element.value.trim().is_empty() {
            return Err(ParseError::Structure("text mixed with elements"));
        }
        element.value.clear();
    }
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
    Ok(())
}

fn append_text(stack: &mut [Element], text: &str) -> Result<(), ParseError> {
    match stack.last_mut() {
        Some(top) => {
            top.value.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(ParseError::Structure("text outside the root element")),
    }
}

/// One element of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `<name>value</name>`, or `<name/>` when the value is empty.
    Leaf(&'static str, String),
    /// `<name>` + children + `</name>`.
    Group(&'static str, Vec<Node>),
    /// A line holding only indentation. The sandbox writes one after `recognized_no` in every
    /// recorded authorization reply; it is reproduced so that replies match byte for byte.
    BlankLine,
}

/// Writes a complete response document as Shift_JIS bytes. `id` is the root attribute, which
/// is absent on validation-stage errors (§7.3).
pub fn render_response(id: Option<&str>, nodes: &[Node]) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    out.push_str(RESPONSE_DECLARATION);
    out.push_str("\n  <");
    out.push_str(RESPONSE_ROOT);
    if let Some(id) = id {
        out.push_str(" id=\"");
        escape_into(&mut out, id);
        out.push('"');
    }
    out.push_str(">\n");
    for node in nodes {
        write_node(&mut out, node, 2);
    }
    out.push_str("  </");
    out.push_str(RESPONSE_ROOT);
    out.push_str(">\n");
    encode_sjis(&out).into_owned()
}

fn write_node(out: &mut String, node: &Node, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    match node {
        Node::Leaf(name, value) if value.is_empty() => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>\n");
        }
        Node::Leaf(name, value) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape_into(out, value);
            out.push_str("</");
            out.push_str(name);
            out.push_str(">\n");
        }
        Node::Group(name, children) if children.is_empty() => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>\n");
        }
        Node::Group(name, children) => {
            out.push('<');
            out.push_str(name);
            out.push_str(">\n");
            for child in children {
                write_node(out, child, depth + 1);
            }
            for _ in 0..depth {
                out.push_str("  ");
            }
            out.push_str("</");
            out.push_str(name);
            out.push_str(">\n");
        }
        Node::BlankLine => out.push('\n'),
    }
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_groups_in_document_order() {
        let body = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n<sps-api-request id=\"ST01-00131-101\">\
            <merchant_id>99999</merchant_id><dtls><dtl><dtl_rowno>1</dtl_rowno></dtl><dtl><dtl_rowno>2</dtl_rowno></dtl></dtls>\
            <pay_option_manage></pay_option_manage><item_name/><free1>a&amp;b</free1></sps-api-request>";
        let r = parse_request(body.as_bytes()).unwrap();
        assert_eq!(r.id, "ST01-00131-101");
        assert_eq!(r.value(&["merchant_id"]), Some("99999"));
        let rows: Vec<_> = r
            .find_all(&["dtls", "dtl", "dtl_rowno"])
            .iter()
            .map(|e| e.value.as_str())
            .collect();
        assert_eq!(rows, ["1", "2"]);
        assert_eq!(r.value(&["pay_option_manage"]), None);
        assert!(r.find(&["item_name"]).is_some());
        assert_eq!(r.value(&["free1"]), Some("a&b"));
    }

    #[test]
    fn refuses_what_is_not_an_sbps_request() {
        assert!(matches!(
            parse_request(b"<sps-api-request id='x'><a></b></sps-api-request>"),
            Err(ParseError::Xml(_))
        ));
        assert_eq!(
            parse_request(b"<other id='x'/>"),
            Err(ParseError::WrongRoot)
        );
        assert_eq!(
            parse_request(b"<sps-api-request><a>1</a></sps-api-request>"),
            Err(ParseError::MissingId)
        );
        assert!(parse_request(b"<sps-api-request id='x'><a>1<b/></a></sps-api-request>").is_err());
        assert!(
            parse_request(b"<sps-api-request id='x'></sps-api-request><sps-api-request id='y'/>")
                .is_err()
        );
        assert!(parse_request(b"<sps-api-request id='x'><a>").is_err());
        assert!(parse_request(b"").is_err());
        assert_eq!(
            parse_request(&[0x81, 0x20, 0xff]),
            Err(ParseError::NotShiftJis)
        );
    }

    #[test]
    fn decodes_shift_jis_bodies() {
        let mut body = b"<sps-api-request id='x'><cust_code>".to_vec();
        body.extend_from_slice(&encode_sjis("顧客"));
        body.extend_from_slice(b"</cust_code></sps-api-request>");
        assert_eq!(
            parse_request(&body).unwrap().value(&["cust_code"]),
            Some("顧客")
        );
    }

    #[test]
    fn writes_the_sandbox_layout() {
        let body = render_response(
            Some("ST02-00101-101"),
            &[
                Node::Leaf("res_result", "OK".into()),
                Node::Group(
                    "res_pay_method_info",
                    vec![
                        Node::Leaf("cc_company_code", "99665".into()),
                        Node::BlankLine,
                    ],
                ),
                Node::Leaf("res_err_code", String::new()),
            ],
        );
        let expected = "<?xml version='1.0' encoding='Shift_JIS' ?>\n  <sps-api-response id=\"ST02-00101-101\">\n    \
            <res_result>OK</res_result>\n    <res_pay_method_info>\n      <cc_company_code>99665</cc_company_code>\n      \n    \
            </res_pay_method_info>\n    <res_err_code/>\n  </sps-api-response>\n";
        assert_eq!(String::from_utf8(body).unwrap(), expected);
        let no_id = String::from_utf8(render_response(None, &[])).unwrap();
        assert!(no_id.contains("\n  <sps-api-response>\n"));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_request(&bytes);
        }

        #[test]
        fn escaped_values_survive_a_write_and_a_parse(value in "[ -~ぁ-んァ-ン一-龥]{0,40}") {
            // Write a reply-shaped document, rename its root, and read it back as a request.
            let body = render_response(Some("X"), &[Node::Leaf("v", value.clone())]);
            let text = decode_sjis(&body).unwrap().replace(RESPONSE_ROOT, REQUEST_ROOT);
            let parsed = parse_request(&encode_sjis(&text)).unwrap();
            proptest::prop_assert_eq!(&parsed.find(&["v"]).unwrap().value, &value);
        }
    }
}
