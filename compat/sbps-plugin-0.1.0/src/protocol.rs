//! The sps-api wire format (`shared/docs/protocols/sbps.md`): Shift_JIS XML documents, the
//! `sps_hashcode` checksum, base64 multibyte fields, 3DES field encryption, and strict reply
//! parsing.
//!
//! Everything that touches bytes lives here, so `lib.rs` reads as the list of operations. This
//! file depends on external crates only (never on `crate::…`): the fuzz target compiles it on its
//! own by `#[path]`, because the plugin itself is a cdylib that nothing can link.
//!
//! The codecs are written here from the protocol notes, deliberately without looking at the
//! emulator's: a misreading shared by both sides would make every integration test pass.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use encoding_rs::SHIFT_JIS;
use quick_xml::events::Event;
use renkei_sdk::{GatewayError, HttpResponse, Secret};
use sha1::{Digest, Sha1};
use std::borrow::Cow;
use std::fmt;

/// The shared public sandbox (§1).
pub const SANDBOX_ENDPOINT: &str = "https://stbfep.sps-system.com/api/xmlapi.do";
/// Production (§1). Never a default: a merchant opts into it explicitly.
pub const PRODUCTION_ENDPOINT: &str = "https://api.sps-system.com/api/xmlapi.do";

/// Function ids (the root `id` attribute) of the credit-card functions this plugin speaks (§6).
pub mod function {
    /// Authorization with a token, or with the card stored for `cust_code`.
    pub const AUTHORIZE_TOKEN: &str = "ST01-00131-101";
    /// Authorization with raw card data (sandbox and test cards only).
    pub const AUTHORIZE_CARD: &str = "ST01-00111-101";
    /// Re-authorization from an earlier payment: a new payment, the old one untouched.
    pub const REAUTHORIZE: &str = "ST01-00133-101";
    /// Commit (確定) of a fresh authorization.
    pub const COMMIT: &str = "ST02-00101-101";
    /// Sales (売上): capture.
    pub const SALES: &str = "ST02-00201-101";
    /// Cancel-or-refund (取消返金): cancels an unsold payment, refunds a sold one in full.
    pub const CANCEL_OR_REFUND: &str = "ST02-00303-101";
    /// Partial refund (部分返金) of `amount`.
    pub const PARTIAL_REFUND: &str = "ST02-00307-101";
    /// Payment inquiry (決済結果参照).
    pub const INQUIRY: &str = "MG01-00101-101";
}

/// The element that carries the checksum; always last, never part of the hash (§4.1).
pub const HASHCODE: &str = "sps_hashcode";

/// Replies are a few hundred bytes; anything much larger is not an sps-api reply, and a bound
/// keeps a hostile or broken peer from making the parser allocate without limit.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The deepest observed reply nests three levels (`res_pay_method_info_detail`).
const MAX_DEPTH: usize = 8;
const MAX_ELEMENTS: usize = 512;

// ---------------------------------------------------------------------------------------------
// Text encodings

/// Encodes `text` as Shift_JIS, refusing characters Shift_JIS cannot represent (encoding_rs would
/// otherwise write an HTML numeric reference, which SBPS would hash and show verbatim).
pub fn encode_sjis(text: &str) -> Option<Vec<u8>> {
    let (bytes, _, unmappable) = SHIFT_JIS.encode(text);
    (!unmappable).then(|| bytes.into_owned())
}

/// Decodes Shift_JIS strictly: a malformed byte sequence is an error, never a replacement
/// character that could turn a garbled reply into plausible text.
pub fn decode_sjis(bytes: &[u8]) -> Option<Cow<'_, str>> {
    SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
}

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// `sps_hashcode` over plain values already in document order (§4.1): each value trimmed,
/// concatenated without separator, the hash key appended, Shift_JIS, SHA-1, lowercase hex.
pub fn sps_hashcode<'v>(
    values: impl IntoIterator<Item = &'v str>,
    hash_key: &Secret,
) -> Result<String, GatewayError> {
    let mut input = String::with_capacity(256);
    for v in values {
        input.push_str(v.trim());
    }
    input.push_str(hash_key.expose());
    let bytes = encode_sjis(&input).ok_or_else(|| {
        // Values were checked one by one before; only the key itself can get here.
        GatewayError::new(
            renkei_sdk::ErrorKind::Config,
            "the hash key contains characters Shift_JIS cannot represent",
        )
    })?;
    Ok(lower_hex(&Sha1::digest(&bytes)))
}

// ---------------------------------------------------------------------------------------------
// 3DES field encryption (§5.2)

type TdesCbcEnc = cbc::Encryptor<des::TdesEde3>;
type TdesCbcDec = cbc::Decryptor<des::TdesEde3>;

/// The merchant's 3DES key and IV, for `encrypted_flg=1`: DES-EDE3 in CBC mode, plaintext
/// right-padded with ASCII spaces to a multiple of 8 bytes (no PKCS padding), base64 on the wire.
///
/// `Debug` never shows the key material.
#[derive(Clone)]
pub struct FieldCipher {
    key: [u8; 24],
    iv: [u8; 8],
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FieldCipher(«redacted»)")
    }
}

/// Why a 3DES key or IV was refused. Says what is wrong, never the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherKeyError {
    KeyLength,
    IvLength,
}

impl FieldCipher {
    /// SBPS issues a 24-byte key ("3DES暗号化キー") and an 8-byte IV ("3DES初期化キー"). One
    /// Java client zero-pads shorter keys; this plugin refuses them instead, because a short key
    /// is far more likely a copy-paste accident than a real key, and would only surface as
    /// garbled card data at SBPS.
    pub fn new(key: &Secret, iv: &Secret) -> Result<FieldCipher, CipherKeyError> {
        let key: [u8; 24] = key
            .expose()
            .as_bytes()
            .try_into()
            .map_err(|_| CipherKeyError::KeyLength)?;
        let iv: [u8; 8] = iv
            .expose()
            .as_bytes()
            .try_into()
            .map_err(|_| CipherKeyError::IvLength)?;
        Ok(FieldCipher { key, iv })
    }

    /// Encrypts one field value: Shift_JIS, space padding, 3DES-CBC, base64.
    pub fn encrypt(&self, plain: &str) -> Result<String, GatewayError> {
        let mut buf = encode_sjis(plain).ok_or_else(|| {
            GatewayError::invalid("a value to encrypt has characters Shift_JIS cannot represent")
        })?;
        let padded = buf.len().div_ceil(8) * 8;
        buf.resize(padded, b' ');
        let len = buf.len();
        let cipher = TdesCbcEnc::new(&self.key.into(), &self.iv.into());
        let out = cipher
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .map_err(|_| GatewayError::new(renkei_sdk::ErrorKind::Internal, "3DES padding"))?;
        Ok(BASE64.encode(out))
    }

    /// Decrypts one field value from a reply: base64, 3DES-CBC, trailing spaces removed,
    /// Shift_JIS. Anything that does not decode cleanly is a protocol error: a wrong key would
    /// otherwise yield plausible-looking garbage.
    pub fn decrypt(&self, wire: &str) -> Result<String, GatewayError> {
        let mut buf = BASE64
            .decode(wire.trim())
            .map_err(|_| GatewayError::protocol("an encrypted reply field is not base64"))?;
        if buf.len() % 8 != 0 {
            return Err(GatewayError::protocol(
                "an encrypted reply field is not a whole number of 3DES blocks",
            ));
        }
        let cipher = TdesCbcDec::new(&self.key.into(), &self.iv.into());
        let plain = cipher
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| GatewayError::protocol("an encrypted reply field does not decrypt"))?;
        let end = plain.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        let text = decode_sjis(&plain[..end]).ok_or_else(|| {
            GatewayError::protocol(
                "an encrypted reply field decrypts to bytes that are not Shift_JIS \
                 (wrong 3DES key or IV?)",
            )
        })?;
        if text.chars().any(char::is_control) {
            return Err(GatewayError::protocol(
                "an encrypted reply field decrypts to control characters (wrong 3DES key or IV?)",
            ));
        }
        Ok(text.into_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// How a leaf value travels on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// As is (XML-escaped).
    Plain,
    /// "M" type (§5.1): base64 of the Shift_JIS bytes.
    Multibyte,
    /// A `pay_method_info` child (§5.2): 3DES-encrypted when the merchant has a cipher
    /// (`encrypted_flg=1`), plain otherwise.
    Card,
}

/// One element of a request document.
#[derive(Clone, Debug)]
pub enum Node {
    Leaf {
        name: &'static str,
        value: String,
        wire: Wire,
        /// Replaced by a placeholder in the journal copy (token, card data).
        sensitive: bool,
    },
    Group {
        name: &'static str,
        children: Vec<Node>,
    },
}

impl Node {
    pub fn plain(name: &'static str, value: impl Into<String>) -> Node {
        Node::Leaf {
            name,
            value: value.into(),
            wire: Wire::Plain,
            sensitive: false,
        }
    }

    pub fn multibyte(name: &'static str, value: impl Into<String>) -> Node {
        Node::Leaf {
            name,
            value: value.into(),
            wire: Wire::Multibyte,
            sensitive: false,
        }
    }

    /// A `pay_method_info` child; `sensitive` for card number, expiry and security code.
    pub fn card(name: &'static str, value: impl Into<String>, sensitive: bool) -> Node {
        Node::Leaf {
            name,
            value: value.into(),
            wire: Wire::Card,
            sensitive,
        }
    }

    /// A plain value kept out of the journal (token, token key).
    pub fn secret(name: &'static str, value: impl Into<String>) -> Node {
        Node::Leaf {
            name,
            value: value.into(),
            wire: Wire::Plain,
            sensitive: true,
        }
    }

    pub fn group(name: &'static str, children: Vec<Node>) -> Node {
        Node::Group { name, children }
    }
}

/// An sps-api request before it is hashed and encoded: the function id and its elements in the
/// order they must be sent (element order is part of the contract: it is the hash order).
#[derive(Clone, Debug)]
pub struct Request {
    pub function: &'static str,
    pub nodes: Vec<Node>,
}

/// The merchant-wide part of every request.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    pub merchant_id: &'a str,
    pub service_id: &'a str,
    /// `YYYYMMDDhhmmss`, JST, from the host's clock.
    pub request_date: &'a str,
    /// `None` leaves the element out (SBPS then allows 600 s).
    pub limit_second: Option<u32>,
}

/// A request ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The Shift_JIS document.
    pub body: Vec<u8>,
    /// The same document as text with the token, card data and checksum replaced by a
    /// placeholder: what the host may journal.
    pub journal: String,
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoded")
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Request {
    /// `merchant_id`, `service_id`, then `body`, then `encrypted_flg` when the function has it,
    /// `request_date` and `limit_second` (§3.2).
    pub fn new(
        function: &'static str,
        envelope: &Envelope<'_>,
        body: Vec<Node>,
        encrypted_flg: Option<bool>,
    ) -> Request {
        let mut nodes = Vec::with_capacity(body.len() + 5);
        nodes.push(Node::plain("merchant_id", envelope.merchant_id));
        nodes.push(Node::plain("service_id", envelope.service_id));
        nodes.extend(body);
        if let Some(flag) = encrypted_flg {
            nodes.push(Node::plain("encrypted_flg", if flag { "1" } else { "0" }));
        }
        nodes.push(Node::plain("request_date", envelope.request_date));
        if let Some(limit) = envelope.limit_second {
            nodes.push(Node::plain("limit_second", limit.to_string()));
        }
        Request { function, nodes }
    }

    /// The plain values in document order, as they are hashed.
    fn hash_values(&self) -> Vec<&str> {
        fn walk<'n>(nodes: &'n [Node], out: &mut Vec<&'n str>) {
            for n in nodes {
                match n {
                    Node::Leaf { value, .. } => out.push(value),
                    Node::Group { children, .. } => walk(children, out),
                }
            }
        }
        let mut out = Vec::with_capacity(24);
        walk(&self.nodes, &mut out);
        out
    }

    /// Hashes, encodes and serialises the document. `cipher` is the merchant's 3DES cipher when
    /// `encrypted_flg=1`; the caller must have set the flag to match.
    pub fn encode(
        &self,
        hash_key: &Secret,
        cipher: Option<&FieldCipher>,
    ) -> Result<Encoded, GatewayError> {
        check_values(&self.nodes)?;
        let hashcode = sps_hashcode(self.hash_values(), hash_key)?;
        let mut body = String::with_capacity(1024);
        let mut journal = String::with_capacity(1024);
        let head = format!(
            "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n<sps-api-request id=\"{}\">\n",
            self.function
        );
        body.push_str(&head);
        journal.push_str(&head);
        write_nodes(&self.nodes, 1, cipher, &mut body, &mut journal)?;
        let hash_line = format!("  <{HASHCODE}>{hashcode}</{HASHCODE}>\n");
        body.push_str(&hash_line);
        journal.push_str(&format!(
            "  <{HASHCODE}>{}</{HASHCODE}>\n",
            Secret::PLACEHOLDER
        ));
        body.push_str("</sps-api-request>\n");
        journal.push_str("</sps-api-request>\n");
        let body = encode_sjis(&body).ok_or_else(|| {
            GatewayError::invalid("the request has characters Shift_JIS cannot represent")
        })?;
        Ok(Encoded { body, journal })
    }
}

/// The DOC rules (§3.1): no tab, LF or CR inside a value, and every value representable in
/// Shift_JIS (so that what is hashed is what is sent). Errors name the element, never the value.
fn check_values(nodes: &[Node]) -> Result<(), GatewayError> {
    for n in nodes {
        match n {
            Node::Leaf { name, value, .. } => {
                if value.chars().any(char::is_control) {
                    return Err(GatewayError::invalid(format!(
                        "SBPS element <{name}> may not contain control characters"
                    )));
                }
                if !value.is_ascii() && encode_sjis(value).is_none() {
                    return Err(GatewayError::invalid(format!(
                        "SBPS element <{name}> has characters Shift_JIS cannot represent"
                    )));
                }
            }
            Node::Group { children, .. } => check_values(children)?,
        }
    }
    Ok(())
}

fn escape_into(out: &mut String, text: &str) {
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
}

fn write_nodes(
    nodes: &[Node],
    depth: usize,
    cipher: Option<&FieldCipher>,
    body: &mut String,
    journal: &mut String,
) -> Result<(), GatewayError> {
    for n in nodes {
        for _ in 0..depth {
            body.push_str("  ");
            journal.push_str("  ");
        }
        match n {
            Node::Leaf {
                name,
                value,
                wire,
                sensitive,
            } => {
                // Values are trimmed for the hash (§4.1); send exactly what was hashed.
                let plain = value.trim();
                let wire_value: Cow<'_, str> = match (wire, cipher) {
                    (_, _) if plain.is_empty() => Cow::Borrowed(""),
                    (Wire::Plain, _) | (Wire::Card, None) => Cow::Borrowed(plain),
                    (Wire::Multibyte, _) => {
                        // Checked by `check_values`; the fallback is unreachable.
                        let sjis = encode_sjis(plain).unwrap_or_default();
                        Cow::Owned(BASE64.encode(sjis))
                    }
                    (Wire::Card, Some(c)) => Cow::Owned(c.encrypt(plain)?),
                };
                for (out, value) in [
                    (&mut *body, wire_value.as_ref()),
                    (
                        &mut *journal,
                        if *sensitive {
                            Secret::PLACEHOLDER
                        } else {
                            wire_value.as_ref()
                        },
                    ),
                ] {
                    out.push('<');
                    out.push_str(name);
                    out.push('>');
                    escape_into(out, value);
                    out.push_str("</");
                    out.push_str(name);
                    out.push_str(">\n");
                }
            }
            Node::Group { name, children } => {
                for out in [&mut *body, &mut *journal] {
                    out.push('<');
                    out.push_str(name);
                    out.push_str(">\n");
                }
                write_nodes(children, depth + 1, cipher, body, journal)?;
                for out in [&mut *body, &mut *journal] {
                    for _ in 0..depth {
                        out.push_str("  ");
                    }
                    out.push_str("</");
                    out.push_str(name);
                    out.push_str(">\n");
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Request builders, one per function, fields in the order of §6

/// The commit (§6.2) and cancel-or-refund (§6.4) share one layout. `sps_transaction_id` is
/// optional and left out: the payment is named by `tracking_id`, as EC, WC and JV do.
fn target(tracking_id: &str, processing_datetime: &str) -> Vec<Node> {
    vec![
        Node::plain("tracking_id", tracking_id),
        Node::plain("processing_datetime", processing_datetime),
    ]
}

pub fn commit(env: &Envelope<'_>, tracking_id: &str, processing_datetime: &str) -> Request {
    Request::new(
        function::COMMIT,
        env,
        target(tracking_id, processing_datetime),
        None,
    )
}

/// Sales (§6.3): `amount` only for a capture below the authorized amount (S-1); without it SBPS
/// sells the full authorization.
pub fn sales(
    env: &Envelope<'_>,
    tracking_id: &str,
    processing_datetime: &str,
    amount: Option<i64>,
) -> Request {
    let mut body = target(tracking_id, processing_datetime);
    if let Some(amount) = amount {
        body.push(Node::group(
            "pay_option_manage",
            vec![Node::plain("amount", amount.to_string())],
        ));
    }
    Request::new(function::SALES, env, body, None)
}

pub fn cancel_or_refund(
    env: &Envelope<'_>,
    tracking_id: &str,
    processing_datetime: &str,
) -> Request {
    Request::new(
        function::CANCEL_OR_REFUND,
        env,
        target(tracking_id, processing_datetime),
        None,
    )
}

/// Partial refund (§6.6): `amount` is what to refund now, not the new total.
pub fn partial_refund(
    env: &Envelope<'_>,
    tracking_id: &str,
    processing_datetime: &str,
    amount: i64,
) -> Request {
    let mut body = target(tracking_id, processing_datetime);
    body.push(Node::group(
        "pay_option_manage",
        vec![Node::plain("amount", amount.to_string())],
    ));
    Request::new(function::PARTIAL_REFUND, env, body, None)
}

/// Inquiry (§6.8). No `response_info_type`: the plugin has no use for even a masked card number.
pub fn inquiry(env: &Envelope<'_>, tracking_id: &str, encrypted: bool) -> Request {
    Request::new(
        function::INQUIRY,
        env,
        vec![Node::plain("tracking_id", tracking_id)],
        Some(encrypted),
    )
}

/// Where the card of an authorization comes from.
#[derive(Clone, Copy, Debug)]
pub enum CardSource<'a> {
    /// `ST01-00131-101` with a browser token.
    Token { token: &'a str, token_key: &'a str },
    /// `ST01-00131-101` without token: the card stored for `cust_code`.
    Stored,
    /// `ST01-00111-101` with raw card data (test cards).
    Card {
        number: &'a str,
        expiry: &'a str,
        security_code: Option<&'a str>,
    },
    /// `ST01-00133-101`: the card and payment details of the payment `tracking_id` (control
    /// types B/B).
    Previous { tracking_id: &'a str },
}

/// The order part of an authorization.
#[derive(Clone, Copy, Debug)]
pub struct Order<'a> {
    pub cust_code: &'a str,
    pub order_id: &'a str,
    pub item_id: &'a str,
    pub item_name: Option<&'a str>,
    pub amount: i64,
    /// `cust_manage_flg`: store this card for `cust_code`.
    pub store_card: bool,
}

/// 10 = lump-sum payment (一括). Installments and bonus payments are not offered.
pub const DEALINGS_LUMP_SUM: &str = "10";

/// An authorization or re-authorization (§6.1, §6.7). Field order follows §6.1; optional fields
/// the plugin never fills (tax, free1..3, order_rowno, dtls) are left out, which the hash treats
/// exactly like empty elements.
pub fn authorization(
    env: &Envelope<'_>,
    order: &Order<'_>,
    source: CardSource<'_>,
    encrypted: bool,
) -> Request {
    let function = match source {
        CardSource::Token { .. } | CardSource::Stored => function::AUTHORIZE_TOKEN,
        CardSource::Card { .. } => function::AUTHORIZE_CARD,
        CardSource::Previous { .. } => function::REAUTHORIZE,
    };
    let mut body = Vec::with_capacity(12);
    if let CardSource::Previous { tracking_id } = source {
        body.push(Node::plain("tracking_id", tracking_id));
    }
    body.push(Node::plain("cust_code", order.cust_code));
    body.push(Node::plain("order_id", order.order_id));
    body.push(Node::plain("item_id", order.item_id));
    if let Some(name) = order.item_name {
        body.push(Node::multibyte("item_name", name));
    }
    body.push(Node::plain("amount", order.amount.to_string()));
    body.push(Node::plain("sps_cust_info_return_flg", "0"));
    let store = Node::plain("cust_manage_flg", if order.store_card { "1" } else { "0" });
    let brand = Node::plain("cardbrand_return_flg", "1");
    match source {
        CardSource::Token { token, token_key } => {
            body.push(Node::group(
                "pay_method_info",
                vec![Node::card("dealings_type", DEALINGS_LUMP_SUM, false)],
            ));
            body.push(Node::group(
                "pay_option_manage",
                vec![
                    Node::secret("token", token),
                    Node::secret("token_key", token_key),
                    store,
                    brand,
                ],
            ));
        }
        CardSource::Stored => {
            body.push(Node::group(
                "pay_method_info",
                vec![Node::card("dealings_type", DEALINGS_LUMP_SUM, false)],
            ));
            body.push(Node::group("pay_option_manage", vec![store, brand]));
        }
        CardSource::Card {
            number,
            expiry,
            security_code,
        } => {
            let mut card = vec![
                Node::card("cc_number", number, true),
                Node::card("cc_expiration", expiry, true),
            ];
            if let Some(code) = security_code {
                card.push(Node::card("security_code", code, true));
            }
            card.push(Node::card("dealings_type", DEALINGS_LUMP_SUM, false));
            body.push(Node::group("pay_method_info", card));
            body.push(Node::group("pay_option_manage", vec![store, brand]));
        }
        CardSource::Previous { .. } => {
            // B/B: the previous payment's card and its payment details (dealings type), so no
            // pay_method_info at all; SBPS refuses card data alongside B.
            body.push(Node::group(
                "pay_option_manage",
                vec![
                    store,
                    brand,
                    Node::plain("pay_info_control_type", "B"),
                    Node::plain("pay_info_detail_control_type", "B"),
                ],
            ));
        }
    }
    Request::new(function, env, body, Some(encrypted))
}

// ---------------------------------------------------------------------------------------------
// Replies

/// One element of a reply: text for leaves, children for groups (never both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The only child called `name`; `None` when absent. Duplicates are refused at parse time.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text at `path` (leaf names below this element), trimmed.
    pub fn text_at(&self, path: &[&str]) -> Option<&str> {
        let mut e = self;
        for name in path {
            e = e.child(name)?;
        }
        e.children.is_empty().then_some(e.text.trim())
    }
}

/// What a reply says, before an operation decides what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The root `id`; absent on some NG replies (§7.3).
    pub id: Option<String>,
    pub outcome: Verdict,
    /// `res_date`, the SBPS clock (JST).
    pub date: String,
    pub root: Element,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// `res_err_code`: method (3) + type (2) + item (3).
    Ng {
        code: String,
    },
}

impl Reply {
    pub fn text(&self, path: &[&str]) -> Option<&str> {
        self.root.text_at(path)
    }

    /// A required, non-empty leaf.
    pub fn require(&self, path: &[&str]) -> Result<&str, GatewayError> {
        self.text(path).filter(|t| !t.is_empty()).ok_or_else(|| {
            GatewayError::protocol(format!(
                "SBPS {} reply lacks <{}>",
                self.id.as_deref().unwrap_or("(no id)"),
                path.join("/")
            ))
        })
    }
}

/// Reads an HTTP reply to a request for `function`: status, encoding, XML, envelope.
///
/// Tolerant of what SBPS is observed to send (a root without `id` on validation errors, empty
/// elements as `<x/>`, indentation, a single-quoted declaration) and strict about everything
/// else: a wrong status, a body that is not Shift_JIS, malformed or truncated XML, a foreign
/// root, an `id` for another function, or a missing or contradictory result is a protocol error,
/// because the request may have been processed and nothing here may guess otherwise.
pub fn read_reply(reply: &HttpResponse, function: &str) -> Result<Reply, GatewayError> {
    match reply.status {
        200 => {}
        // §10.2: Basic-auth failures are answered before any processing, without a body.
        401 | 403 => {
            return Err(GatewayError::gateway(
                renkei_sdk::ErrorKind::Authentication,
                format!("HTTP {}", reply.status),
                None,
                "SBPS refused the HTTP Basic credentials (basic_user / basic_password)",
            ));
        }
        status => {
            return Err(GatewayError::protocol(format!(
                "HTTP {status} from SBPS: the outcome of the request is unknown"
            )));
        }
    }
    let parsed = parse_document(&reply.body)?;
    if let Some(id) = &parsed.id
        && id != function
    {
        return Err(GatewayError::protocol(format!(
            "SBPS answered for function {id:?} to a {function} request"
        )));
    }
    Ok(parsed)
}

/// Parses a reply body: the part of [`read_reply`] that does not depend on the request.
/// Exposed for the fuzz target and property tests.
pub fn parse_document(body: &[u8]) -> Result<Reply, GatewayError> {
    if body.len() > MAX_REPLY_BYTES {
        return Err(GatewayError::protocol(format!(
            "SBPS reply of {} bytes is too large to be an sps-api reply",
            body.len()
        )));
    }
    let text = decode_sjis(body)
        .ok_or_else(|| GatewayError::protocol("SBPS reply body is not valid Shift_JIS"))?;
    let (root_id, root) = parse_tree(&text)?;
    if root.name != "sps-api-response" {
        return Err(GatewayError::protocol(format!(
            "SBPS reply root is <{}>, not <sps-api-response>",
            truncated(&root.name)
        )));
    }
    let result = root
        .text_at(&["res_result"])
        .ok_or_else(|| GatewayError::protocol("SBPS reply has no <res_result>"))?;
    let code = root.text_at(&["res_err_code"]).unwrap_or("");
    let date = root
        .text_at(&["res_date"])
        .filter(|d| is_compact_datetime(d))
        .ok_or_else(|| GatewayError::protocol("SBPS reply has no valid <res_date>"))?
        .to_owned();
    let outcome = match result {
        "OK" if code.is_empty() => Verdict::Ok,
        "OK" => {
            return Err(GatewayError::protocol(format!(
                "SBPS reply says OK and error {} at once",
                truncated(code)
            )));
        }
        "NG" if is_error_code(code) => Verdict::Ng {
            code: code.to_owned(),
        },
        "NG" => {
            return Err(GatewayError::protocol(format!(
                "SBPS NG reply has a malformed <res_err_code> {:?}",
                truncated(code)
            )));
        }
        other => {
            return Err(GatewayError::protocol(format!(
                "SBPS reply has an unknown <res_result> {:?}",
                truncated(other)
            )));
        }
    };
    Ok(Reply {
        id: root_id,
        outcome,
        date,
        root,
    })
}

/// `res_err_code`: 3 + 2 + 3 characters, digits or upper-case letters (`101K1999`, §8.1).
pub fn is_error_code(code: &str) -> bool {
    code.len() == 8
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// `YYYYMMDDhhmmss`.
pub fn is_compact_datetime(text: &str) -> bool {
    text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Reply text quoted in an error message, bounded (a hostile reply could be long).
fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
}

fn xml_error(e: impl fmt::Display) -> GatewayError {
    GatewayError::protocol(format!("SBPS reply is not well-formed XML: {e}"))
}

/// The encodings a reply may declare: Shift_JIS and its Microsoft superset, which encoding_rs
/// decodes identically.
fn is_sjis_label(label: &str) -> bool {
    [
        "shift_jis",
        "shift-jis",
        "sjis",
        "windows-31j",
        "ms932",
        "cp932",
    ]
    .iter()
    .any(|l| label.eq_ignore_ascii_case(l))
}

/// Builds the element tree. Returns the root's `id` attribute and the root.
fn parse_tree(text: &str) -> Result<(Option<String>, Element), GatewayError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<(Option<String>, Element)> = None;
    let mut root_id: Option<String> = None;
    let mut declared = false;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(xml_error)?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Decl(decl) => {
                if declared || !stack.is_empty() || root.is_some() {
                    return Err(xml_error("misplaced XML declaration"));
                }
                let encoding = match decl.encoding() {
                    Some(Ok(e)) => String::from_utf8_lossy(&e).into_owned(),
                    Some(Err(e)) => return Err(xml_error(e)),
                    None => String::new(),
                };
                if !is_sjis_label(&encoding) {
                    return Err(GatewayError::protocol(format!(
                        "SBPS reply declares encoding {:?}, not Shift_JIS",
                        truncated(&encoding)
                    )));
                }
                declared = true;
            }
            Event::Start(start) | Event::Empty(start) if root.is_none() => {
                if !declared {
                    // Without a declaration an XML document is UTF-8 by definition, which an
                    // sps-api reply never is.
                    return Err(GatewayError::protocol(
                        "SBPS reply has no Shift_JIS XML declaration",
                    ));
                }
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(GatewayError::protocol("SBPS reply has too many elements"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(GatewayError::protocol("SBPS reply is nested too deeply"));
                }
                let name = std::str::from_utf8(start.name().as_ref())
                    .map_err(xml_error)?
                    .to_owned();
                let mut id = None;
                if stack.is_empty() {
                    for attr in start.attributes() {
                        let attr = attr.map_err(xml_error)?;
                        if attr.key.as_ref() == b"id" {
                            if id.is_some() {
                                return Err(xml_error("duplicate id attribute"));
                            }
                            id = Some(attr.unescape_value().map_err(xml_error)?.into_owned());
                        }
                    }
                } else if let Some(parent) = stack.last()
                    && !parent.text.trim().is_empty()
                {
                    return Err(GatewayError::protocol(format!(
                        "SBPS reply element <{}> mixes text and elements",
                        truncated(&parent.name)
                    )));
                }
                let element = Element {
                    name,
                    text: String::new(),
                    children: Vec::new(),
                };
                if stack.is_empty() {
                    if empty {
                        root = Some((id, element));
                    } else {
                        root_id = id;
                        stack.push(element);
                    }
                } else if empty {
                    attach(&mut stack, element)?;
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| xml_error("closing tag without an opening one"))?;
                if stack.is_empty() {
                    root = Some((root_id.take(), element));
                } else {
                    attach(&mut stack, element)?;
                }
            }
            Event::Text(t) => {
                let t = t.unescape().map_err(xml_error)?;
                append_text(&mut stack, &t, root.is_some())?;
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                let t = std::str::from_utf8(&raw).map_err(xml_error)?;
                append_text(&mut stack, t, root.is_some())?;
            }
            Event::Comment(_) => {}
            Event::Eof => break,
            Event::Start(_) | Event::Empty(_) => {
                return Err(xml_error("content after the root element"));
            }
            Event::DocType(_) | Event::PI(_) => {
                return Err(GatewayError::protocol(
                    "SBPS reply carries a DOCTYPE or processing instruction",
                ));
            }
        }
    }
    if !stack.is_empty() {
        return Err(GatewayError::protocol(
            "SBPS reply is truncated: the document ends inside an element",
        ));
    }
    root.ok_or_else(|| GatewayError::protocol("SBPS reply has no XML document"))
}

fn append_text(stack: &mut [Element], text: &str, after_root: bool) -> Result<(), GatewayError> {
    match stack.last_mut() {
        Some(e) => {
            if !e.children.is_empty() && !text.trim().is_empty() {
                return Err(GatewayError::protocol(format!(
                    "SBPS reply element <{}> mixes text and elements",
                    truncated(&e.name)
                )));
            }
            e.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None if after_root => Err(xml_error("text after the root element")),
        None => Err(xml_error("text before the root element")),
    }
}

/// Adds a finished element to its parent. Repeated names are refused except for `dtl` rows:
/// two `<res_result>` would make the reply mean whatever the reader picks.
fn attach(stack: &mut [Element], element: Element) -> Result<(), GatewayError> {
    let parent = stack
        .last_mut()
        .ok_or_else(|| xml_error("element outside the root"))?;
    if element.name != "dtl" && parent.children.iter().any(|c| c.name == element.name) {
        return Err(GatewayError::protocol(format!(
            "SBPS reply repeats <{}>",
            truncated(&element.name)
        )));
    }
    if !parent.text.trim().is_empty() {
        return Err(GatewayError::protocol(format!(
            "SBPS reply element <{}> mixes text and elements",
            truncated(&parent.name)
        )));
    }
    parent.text.clear();
    parent.children.push(element);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Typed replies

/// An OK authorization (§6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorized {
    pub tracking_id: String,
    pub sps_transaction_id: String,
    /// Approval number (`recognized_no`), when it could be read.
    pub recognized_no: Option<String>,
    /// `cardbrand_code` (J, V, M, A, D, X), when it could be read.
    pub brand: Option<String>,
    /// Why an informational field could not be read (wrong 3DES key…). The authorization
    /// itself stands: its reference must never be lost over a cosmetic field.
    pub unreadable: Option<String>,
}

/// `res_tracking_id`: up to 14 characters, observed as 14 zero-padded digits (§3.2).
pub fn is_tracking_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 14 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn authorized(reply: &Reply, cipher: Option<&FieldCipher>) -> Result<Authorized, GatewayError> {
    let tracking_id = reply.require(&["res_tracking_id"])?;
    if !is_tracking_id(tracking_id) {
        return Err(GatewayError::protocol(format!(
            "SBPS authorization reply has a malformed tracking id {:?}",
            truncated(tracking_id)
        )));
    }
    let sps_transaction_id = reply.require(&["res_sps_transaction_id"])?.to_owned();
    let mut unreadable = None;
    let mut field = |name: &str| -> Option<String> {
        let wire = reply.text(&["res_pay_method_info", name])?;
        if wire.is_empty() {
            return None;
        }
        match cipher {
            None => Some(wire.to_owned()),
            Some(c) => match c.decrypt(wire) {
                Ok(v) => Some(v),
                Err(e) => {
                    unreadable = Some(format!("<{name}>: {}", e.message));
                    None
                }
            },
        }
    };
    let recognized_no = field("recognized_no");
    let brand = field("cardbrand_code");
    Ok(Authorized {
        tracking_id: tracking_id.to_owned(),
        sps_transaction_id,
        recognized_no,
        brand,
        unreadable,
    })
}

/// An OK commit, sales, cancel-or-refund or partial refund: a new transaction id and the
/// processing date (§6.2–6.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    pub sps_transaction_id: String,
    pub process_date: String,
}

pub fn acknowledged(reply: &Reply) -> Result<Acknowledged, GatewayError> {
    let sps_transaction_id = reply.require(&["res_sps_transaction_id"])?.to_owned();
    let process_date = reply.require(&["res_process_date"])?;
    if !is_compact_datetime(process_date) {
        return Err(GatewayError::protocol(format!(
            "SBPS reply has a malformed <res_process_date> {:?}",
            truncated(process_date)
        )));
    }
    Ok(Acknowledged {
        sps_transaction_id,
        process_date: process_date.to_owned(),
    })
}

/// An OK inquiry (§6.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inquired {
    /// 1 与信済, 2 売上済, 3 与信取消済, 4 返金済; anything else is kept verbatim.
    pub payment_status: String,
    /// 0 not committed, 1 committed (2, 3 per one client).
    pub commit_status: String,
}

pub fn inquired(reply: &Reply, cipher: Option<&FieldCipher>) -> Result<Inquired, GatewayError> {
    reply.require(&["res_sps_transaction_id"])?;
    match reply.text(&["res_status"]) {
        Some("0") => {}
        other => {
            return Err(GatewayError::protocol(format!(
                "SBPS inquiry reply has res_status {:?}, not 0",
                other.map(truncated)
            )));
        }
    }
    let read = |name: &str| -> Result<String, GatewayError> {
        let wire = reply.require(&["res_pay_method_info", name])?;
        let value = match cipher {
            None => wire.to_owned(),
            Some(c) => c.decrypt(wire)?,
        };
        // A status is a short code; anything else means a wrong key or a foreign reply.
        if value.is_empty() || value.len() > 2 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GatewayError::protocol(format!(
                "SBPS inquiry reply has a malformed <{name}> {:?}",
                truncated(&value)
            )));
        }
        Ok(value)
    };
    Ok(Inquired {
        payment_status: read("payment_status")?,
        commit_status: read("commit_status")?,
    })
}

/// The `Authorization: Basic` credentials: base64 of `user:password` (RFC 7617).
pub fn basic_credentials(user: &str, password: &Secret) -> String {
    BASE64.encode(format!("{user}:{}", password.expose()))
}

/// A short, stable tag of a shop action: the first 8 hex digits of SHA-1 of its idempotency key.
/// Deterministic (no clock, no randomness), so every replay of one action derives the same tag.
pub fn action_tag(idempotency_key: &str) -> String {
    let digest = Sha1::digest(idempotency_key.as_bytes());
    lower_hex(&digest[..4])
}

/// Everything the plugin does with reply bytes, for the fuzz target and property tests: parse
/// the envelope, then read it as every kind of reply, with and without a 3DES key. Returns
/// whether the envelope parsed; it must never panic.
#[doc(hidden)]
#[allow(dead_code)] // used by `fuzz/` (which compiles this file by path) and the tests
pub fn fuzz_reply(body: &[u8]) -> bool {
    let cipher = FieldCipher {
        key: *b"ABCDEFGHIJKLMNOPQRSTUVWX",
        iv: *b"12345678",
    };
    let reply = HttpResponse::new(200, body.to_vec());
    let _ = read_reply(&reply, function::SALES);
    let Ok(parsed) = parse_document(body) else {
        return false;
    };
    for c in [None, Some(&cipher)] {
        let _ = authorized(&parsed, c);
        let _ = inquired(&parsed, c);
    }
    let _ = acknowledged(&parsed);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "TESTHASHKEY0123456789";

    fn env(limit_second: Option<u32>) -> Envelope<'static> {
        Envelope {
            merchant_id: "99999",
            service_id: "001",
            request_date: "20240102030405",
            limit_second,
        }
    }

    fn hash_of(body: &[u8]) -> String {
        let text = decode_sjis(body).unwrap();
        let start = text.find("<sps_hashcode>").unwrap() + "<sps_hashcode>".len();
        text[start..start + 40].to_owned()
    }

    #[test]
    fn sales_vector_of_section_4_5() {
        let r = sales(&env(None), "00000000000001", "20240102030405", Some(1000));
        let e = r.encode(&Secret::new(KEY), None).unwrap();
        assert_eq!(hash_of(&e.body), "e05ff8a73a9f293ca287e7ddbcf4bb187866dc24");
    }

    #[test]
    fn commit_vector_of_section_4_5_with_an_empty_processing_datetime() {
        let r = commit(&env(Some(600)), "00000000000001", "");
        let e = r.encode(&Secret::new(KEY), None).unwrap();
        assert_eq!(hash_of(&e.body), "8974f4bcd9df4c4005cc3daee32aeaa7f95f18d5");
        assert!(
            decode_sjis(&e.body)
                .unwrap()
                .contains("<processing_datetime></processing_datetime>")
        );
    }

    #[test]
    fn token_authorization_vector_of_section_4_5_hashes_the_decoded_item_name() {
        let order = Order {
            cust_code: "cust01",
            order_id: "order-0001",
            item_id: "item01",
            item_name: Some("テスト商品"),
            amount: 1080,
            store_card: false,
        };
        let r = authorization(
            &env(Some(600)),
            &order,
            CardSource::Token {
                token: "TOKENVALUE",
                token_key: "TOKENKEYVALUE",
            },
            false,
        );
        let e = r.encode(&Secret::new(KEY), None).unwrap();
        assert_eq!(hash_of(&e.body), "468da3b81edc11a27ffa1a4206488ec0a7702ba9");
        let text = decode_sjis(&e.body).unwrap();
        assert!(
            text.contains("<item_name>g2WDWINnj6SVaQ==</item_name>"),
            "{text}"
        );
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n"));
        assert!(text.contains("<sps-api-request id=\"ST01-00131-101\">"));
    }

    #[test]
    fn shift_jis_bytes_of_the_vector_item_name() {
        assert_eq!(
            encode_sjis("テスト商品").unwrap(),
            [0x83, 0x65, 0x83, 0x58, 0x83, 0x67, 0x8f, 0xa4, 0x95, 0x69]
        );
        assert!(encode_sjis("🍣").is_none());
    }

    fn vector_cipher() -> FieldCipher {
        FieldCipher::new(
            &Secret::new("ABCDEFGHIJKLMNOPQRSTUVWX"),
            &Secret::new("12345678"),
        )
        .unwrap()
    }

    #[test]
    fn triple_des_vectors_of_section_5_2() {
        let c = vector_cipher();
        for (plain, wire) in [
            ("4242424242424242", "5vT/EfuukW1PQxa2WH9DMg=="),
            ("202412", "QwPNqQ7RkLk="),
            ("V", "LkNTJ4t+niI="),
            ("2", "OHgSV6AnY+U="),
        ] {
            assert_eq!(c.encrypt(plain).unwrap(), wire, "{plain}");
            assert_eq!(c.decrypt(wire).unwrap(), plain, "{wire}");
        }
    }

    #[test]
    fn cipher_keys_of_the_wrong_length_are_refused_and_never_printed() {
        let short = FieldCipher::new(&Secret::new("SHORTKEY"), &Secret::new("12345678"));
        assert_eq!(short.unwrap_err(), CipherKeyError::KeyLength);
        let iv = FieldCipher::new(
            &Secret::new("ABCDEFGHIJKLMNOPQRSTUVWX"),
            &Secret::new("1234"),
        );
        assert_eq!(iv.unwrap_err(), CipherKeyError::IvLength);
        assert!(!format!("{:?}", vector_cipher()).contains("ABCDEF"));
    }

    #[test]
    fn garbage_does_not_decrypt_to_a_value() {
        let c = vector_cipher();
        for wire in [
            "not base64!",
            "QUJD",
            "5vT/EfuukW1PQxa2WH9DMg",
            "AAAAAAAAAAA=",
        ] {
            assert!(c.decrypt(wire).is_err(), "{wire}");
        }
        // An empty element is an empty value, not an error.
        assert_eq!(c.decrypt("").unwrap(), "");
    }

    #[test]
    fn control_characters_and_unmappable_text_are_refused_before_sending() {
        let r = sales(&env(None), "0000\n0001", "20240102030405", None);
        let e = r.encode(&Secret::new(KEY), None).unwrap_err();
        assert_eq!(e.kind, renkei_sdk::ErrorKind::InvalidRequest);
        assert!(e.message.contains("tracking_id"));
    }

    #[test]
    fn values_are_escaped() {
        let r = Request::new(
            function::INQUIRY,
            &env(None),
            vec![Node::plain("tracking_id", "a<b&'\"")],
            None,
        );
        let e = r.encode(&Secret::new(KEY), None).unwrap();
        assert!(
            decode_sjis(&e.body)
                .unwrap()
                .contains("<tracking_id>a&lt;b&amp;&apos;&quot;</tracking_id>")
        );
    }
}
