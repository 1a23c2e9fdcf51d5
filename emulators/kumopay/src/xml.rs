//! The XML wire: requests are XML documents in the account's charset, one `<request>` element
//! whose children are the fields (`<request><merchant>m_1</merchant><amount>1080</amount></request>`),
//! declared `<?xml version="1.0" encoding="Shift_JIS"?>` (the charset's name); replies are XML
//! documents in that charset, HTTP 200 for every answer of the gateway (SBPS's shape): a payment
//! `<payment>…</payment>`, an order entered `<entry><id>…</id>…</entry>`, a refusal listing every
//! problem as one `<error>` each:
//! `<errors><error><code>card_declined</code><message>declined</message></error>…</errors>`.
//! A payment or an entry writes its processing time (`processed_at`) last.
//!
//! Requests are read strictly: a body that is not well-formed XML, declares another encoding,
//! has bytes not valid in the charset, another root, an attribute, a nested element or a field
//! given twice is refused unprocessed with `invalid_request` (HTTP class 400), as the JSON and
//! form wires refuse an unreadable body.
//!
//! Written from the XML rules, not shared with the plugin, so that a mistake in one cannot hide
//! by being mirrored in the other.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::form::Charset;
use crate::{Answer, Payment};

/// The declaration every document in `charset` starts with.
fn declaration(charset: Charset) -> String {
    format!("<?xml version=\"1.0\" encoding=\"{}\"?>", charset.name())
}

/// A request document as fields (`<request>`'s children, by name). `None` for a body that is
/// not such a document in `charset`.
pub fn decode(body: &[u8], charset: Charset) -> Option<BTreeMap<String, String>> {
    let text = charset.decode(body)?;
    let mut reader = Reader::from_str(&text);
    reader.config_mut().check_end_names = true;
    let mut fields = BTreeMap::new();
    // Where the reader is: before the root, in it, in a field (its name, its text), after it.
    let mut declared = false;
    let mut in_root = false;
    let mut closed = false;
    let mut field: Option<(String, String)> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Decl(decl) => {
                let encoding = decl.encoding()?.ok()?;
                let encoding = std::str::from_utf8(&encoding).ok()?;
                if declared || in_root || closed || !encoding.eq_ignore_ascii_case(charset.name()) {
                    return None;
                }
                declared = true;
            }
            Event::Start(start) | Event::Empty(start) if start.attributes().next().is_some() => {
                return None;
            }
            Event::Start(start) => {
                let name = std::str::from_utf8(start.name().as_ref()).ok()?.to_owned();
                if !in_root && !closed && declared && name == "request" {
                    in_root = true;
                } else if in_root && field.is_none() {
                    field = Some((name, String::new()));
                } else {
                    return None;
                }
            }
            Event::Empty(start) => {
                let name = std::str::from_utf8(start.name().as_ref()).ok()?.to_owned();
                if !in_root && !closed && declared && name == "request" {
                    closed = true;
                } else if in_root && field.is_none() {
                    if fields.insert(name, String::new()).is_some() {
                        return None;
                    }
                } else {
                    return None;
                }
            }
            Event::Text(t) => {
                let t = t.unescape().ok()?;
                match &mut field {
                    Some((_, value)) => value.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return None,
                }
            }
            Event::End(_) => match field.take() {
                Some((name, value)) => {
                    if name.is_empty() || fields.insert(name, value).is_some() {
                        return None;
                    }
                }
                None if in_root => {
                    in_root = false;
                    closed = true;
                }
                None => return None,
            },
            Event::Eof => return (closed && !in_root).then_some(fields),
            // Comments are allowed between elements; CDATA, DOCTYPE and processing
            // instructions are not part of the protocol.
            Event::Comment(_) if field.is_none() => {}
            _ => return None,
        }
    }
}

/// `text` with the five XML special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn element(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(value));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// An answer as a reply document in `charset`.
pub fn encode(answer: &Answer, charset: Charset) -> Vec<u8> {
    let mut text = declaration(charset);
    match answer {
        Answer::Payment(p) => payment(&mut text, p),
        Answer::Entry(id) => {
            text.push_str("<entry>");
            element(&mut text, "id", id);
            element(&mut text, "processed_at", &crate::form::jst_now());
            text.push_str("</entry>");
        }
        Answer::Problems(problems) => {
            text.push_str("<errors>");
            for (code, message) in problems {
                text.push_str("<error>");
                element(&mut text, "code", code);
                element(&mut text, "message", message);
                text.push_str("</error>");
            }
            text.push_str("</errors>");
        }
    }
    charset.encode(&text)
}

fn payment(text: &mut String, p: &Payment) {
    text.push_str("<payment>");
    element(text, "id", &p.id);
    element(text, "status", p.status.code());
    element(text, "currency", "JPY");
    element(text, "amount", &p.amount.to_string());
    element(text, "captured", &p.captured.to_string());
    element(text, "refunded", &p.refunded.to_string());
    element(text, "authorization_code", &format!("A-{}", p.id));
    if let Some(customer) = &p.customer {
        element(text, "customer", customer);
    }
    element(text, "processed_at", &crate::form::jst_now());
    text.push_str("</payment>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_read_in_its_charset_strictly() {
        let mut body =
            b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n<request><customer>".to_vec();
        body.extend(Charset::ShiftJis.encode("ポール &amp;山田"));
        body.extend(b"</customer><amount>10</amount><note/></request>\n");
        let f = decode(&body, Charset::ShiftJis).unwrap();
        assert_eq!(f["customer"], "ポール &山田");
        assert_eq!(f["amount"], "10");
        assert_eq!(f["note"], "");
        assert!(decode(&body, Charset::EucJp).is_none());
        let utf8 = |s: &str| format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{s}");
        assert!(
            decode(
                utf8("<request><a>1</a></request>").as_bytes(),
                Charset::Utf8
            )
            .is_some()
        );
        for bad in [
            "<request><a>1</a><a>2</a></request>",
            "<request><a>1</a></request><request/>",
            "<request><a>1</a>",
            "<request><a>1</a></request>x",
            "<other><a>1</a></other>",
            "<request><a><b>1</b></a></request>",
            "<request id=\"1\"><a>1</a></request>",
            "<request><a>1</b></request>",
            "<request>text<a>1</a></request>",
            "<request><a>&unknown;</a></request>",
        ] {
            assert!(
                decode(utf8(bad).as_bytes(), Charset::Utf8).is_none(),
                "{bad}"
            );
        }
        assert!(decode(b"<request><a>1</a></request>", Charset::Utf8).is_none());
        assert!(decode(b"", Charset::Utf8).is_none());
    }

    #[test]
    fn a_refusal_lists_every_problem_escaped_in_the_charset() {
        let answer = Answer::Problems(vec![
            ("card_declined", "declined"),
            ("amount_too_large", "above <limit> & more"),
        ]);
        let text = String::from_utf8(encode(&answer, Charset::Utf8)).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><errors><error><code>card_declined</code><message>declined</message></error><error><code>amount_too_large</code><message>above &lt;limit&gt; &amp; more</message></error></errors>"
        );
    }
}
