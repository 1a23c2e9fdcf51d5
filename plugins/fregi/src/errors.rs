//! F-REGI's `NG` reasons mapped to SDK error kinds, as data.
//!
//! F-REGI's error list is only visible after login to its admin screen (`docs/protocols/fregi.md` §5.1), so most
//! codes below are the protocol notes' **stand-ins** (`docs/protocols/fregi.md` §10.1), following the
//! observed pattern `<API>-1-<nnn>` (`A1` authm, `S1` sale, `A2` authcancel, `S2` salecancel,
//! `A3` authchange, `S3` salechange, `X1` the emulator's inquiry). What is real: the codes marked
//! [`Source::Observed`], the `JCN-G` acquirer codes of §5.3, and two messages of the seed manual
//! (rule F-10), which F-REGI prints without their code. Because the stand-in codes may be wrong,
//! a reason is matched **by its verbatim message first** where we know F-REGI's words, then by
//! code (exact, then the longest `prefix*`), so swapping in the real codes later cannot break the
//! two rules that matter most for bulk capture (G-3, F-10).
//!
//! ## Each row's effect on the money
//!
//! The host reads a plugin error after a request was sent by its kind alone: `Declined`,
//! `Rejected`, `AlreadyDone`, `Authentication` and `Unavailable` prove that nothing happened;
//! `Protocol` means "may have applied" (for F-REGI, which has no real inquiry, that is operator
//! review). So every row's kind is a statement about the money:
//!
//! - `Declined` (nothing happened): the card or the card company said no; the customer must use
//!   another card or fix the card data. The `A1-1-*` card and token errors of §5.3 and the
//!   `JCN-G*` acquirer codes §5.3 lists, as F-REGI's own sample clients classify them (§5.3,
//!   last paragraph). A decline creates no authorization (§11.2).
//! - `Rejected` (nothing happened): a documented refusal of F-REGI's own checks: parameters
//!   (no transaction is created, §4.1 "Behaviour facts", §11.1 item 6), state, window, amount,
//!   reference (§10.1, §11.3–11.7: the record is left as it was).
//! - `AlreadyDone` (nothing happened now): the transaction is already where the operation wanted
//!   it (already captured for a sale, already voided for an authorization cancel, already
//!   cancelled for a sale cancel).
//! - `Authentication` (nothing happened): F-REGI does not know the `SHOPID`.
//! - `Unavailable` (nothing happened): the card company's online service is closed (`JCN-G95`).
//! - `Protocol` (**may have applied**): every code no source documents. Only a code documented
//!   to mean "not processed" proves that nothing happened; an unknown `NG` may follow
//!   processing (a system error after the card company approved, a failure while writing the
//!   record), so each API's `prefix*` catch-all and the final fallback of [`classify`] say
//!   "not documented: the request may have been processed".
//!
//! The F-10 messages (売上受付済み / 承認取消済み on a sale) keep their documented meaning whatever
//! code carries them.

use crate::protocol::Refusal;
use crate::{ERRORS, Pending, left_by_authchange, tref};
use renkei_sdk::{Effect, ErrorEntry, ErrorKind, GatewayError, error_entry};
use std::borrow::Cow;

/// Where a code comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Seen in public F-REGI material (`docs/protocols/fregi.md` §5.3) or the seed manual.
    Observed,
    /// Invented by the protocol notes to fill a gap (§10.1); to be replaced by F-REGI's real list.
    StandIn,
    /// A `prefix*` row: the codes of one API that no source documents.
    Undocumented,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The code, or a prefix ending in `*`.
    pub code: &'static str,
    pub kind: ErrorKind,
    /// What it means, in our words; becomes `GatewayError::message`.
    pub meaning: &'static str,
    /// F-REGI's own message where it is known verbatim: matched before the code.
    pub verbatim: Option<&'static str>,
    pub source: Source,
}

const fn row(code: &'static str, kind: ErrorKind, meaning: &'static str, source: Source) -> Row {
    Row {
        code,
        kind,
        meaning,
        verbatim: None,
        source,
    }
}

const fn said(
    code: &'static str,
    kind: ErrorKind,
    meaning: &'static str,
    verbatim: &'static str,
    source: Source,
) -> Row {
    Row {
        code,
        kind,
        meaning,
        verbatim: Some(verbatim),
        source,
    }
}

use ErrorKind::{AlreadyDone, Authentication, Declined, Protocol, Rejected, Unavailable};
use Source::{Observed, StandIn, Undocumented};

/// A `prefix*` row: codes of one API that no source documents, which may follow processing.
const fn undocumented(prefix: &'static str, meaning: &'static str) -> Row {
    row(prefix, Protocol, meaning, Undocumented)
}

/// The seed manual's words for a sale of an already captured transaction (F-10).
pub const ALREADY_SOLD: &str = "売上処理時の指定された取引は売上受付済みです";
/// The seed manual's words for a sale of an authorization-cancelled transaction (F-10).
pub const ALREADY_VOIDED_ON_SALE: &str = "売上処理時の指定された取引は承認取消済みです";

/// The table. Order does not matter for lookups (exact code, then longest prefix).
#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    // ---- authm.cgi (A1) ------------------------------------------------------------------
    row("A1-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("A1-1-20", Rejected, "amount missing", StandIn),
    row("A1-1-21", Rejected, "amount too large (card limit of F-REGI: 9,999,999 yen)", StandIn),
    row("A1-1-22", Rejected, "amount too small (card payments need 2 yen or more, F-7)", StandIn),
    row("A1-1-23", Rejected, "amount malformed", StandIn),
    row("A1-1-30", Declined, "card number missing", Observed),
    row("A1-1-31", Declined, "card number invalid", Observed),
    row("A1-1-32", Rejected, "card number and token sent together", StandIn),
    row("A1-1-40", Declined, "card expiry month missing", Observed),
    row("A1-1-41", Declined, "card expiry month invalid", Observed),
    row("A1-1-50", Declined, "card expiry year missing", Observed),
    row("A1-1-51", Declined, "card expiry year invalid", Observed),
    row("A1-1-52", Declined, "card expired", Observed),
    row("A1-1-60", Rejected, "order ID (伝票番号) already used by another transaction", StandIn),
    row("A1-1-61", Rejected, "order ID (伝票番号) malformed", StandIn),
    row("A1-1-70", Declined, "card holder name missing", StandIn),
    row("A1-1-71", Declined, "card holder name invalid", StandIn),
    row("A1-1-81", Declined, "card type cannot be identified", Observed),
    row("A1-1-82", Declined, "card cannot be authorized", Observed),
    row("A1-1-83", Declined, "debit cards are not accepted", Observed),
    row("A1-1-84", Declined, "prepaid cards are not accepted", Observed),
    row("A1-1-85", Declined, "foreign cards are not accepted", Observed),
    row("A1-1-130", Declined, "security code missing", Observed),
    row("A1-1-131", Declined, "security code too long", Observed),
    row("A1-1-132", Declined, "security code invalid", Observed),
    row("A1-1-160", Rejected, "stored customer (CUSTOMERID) missing", StandIn),
    row("A1-1-161", Rejected, "stored customer (CUSTOMERID) malformed", StandIn),
    row("A1-1-162", Rejected, "stored customer (CUSTOMERID) unknown", StandIn),
    row("A1-1-170", Declined, "card token invalid", Observed),
    row("A1-1-171", Declined, "card token expired", Observed),
    row("A1-1-190", Rejected, "FREE (the description) holds characters that are not half-width", StandIn),
    undocumented("A1-*", "authm.cgi error code not documented: the authorization may have been processed"),

    // ---- sale.cgi (S1) -------------------------------------------------------------------
    row("S1-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("S1-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    row("S1-1-111", Rejected, "AUTHCODE missing (a reference kept without its AUTHCODE cannot be captured where it is required)", StandIn),
    row("S1-1-120", Rejected, "no such transaction (or another shop's, or another AUTHCODE)", StandIn),
    said("S1-1-121", AlreadyDone, "already captured", ALREADY_SOLD, StandIn),
    said("S1-1-122", Rejected, "already voided (authorization cancelled): nothing to capture",
        ALREADY_VOIDED_ON_SALE, StandIn),
    row("S1-1-123", Rejected, "already refunded (sale cancelled): nothing to capture", StandIn),
    said("S1-1-125", Rejected,
        "the capture window has passed: capture from F-REGI's admin screen is no longer possible either; authorize again",
        "売上処理時の指定された取引は売上処理期限を超過しています", Observed),
    row("S1-1-126", Rejected, "the authorization had failed: nothing to capture", StandIn),
    row("S1-1-127", Rejected, "a reservation not yet authorized: nothing to capture", StandIn),
    undocumented("S1-*", "sale.cgi error code not documented: the sale may have been processed"),

    // ---- authcancel.cgi (A2) -------------------------------------------------------------
    row("A2-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("A2-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    row("A2-1-120", Rejected, "no such transaction", StandIn),
    row("A2-1-121", Rejected, "already captured: refund it (sale cancel) instead of voiding (F-6)", StandIn),
    row("A2-1-122", AlreadyDone, "already voided", StandIn),
    row("A2-1-123", Rejected, "already refunded (sale cancelled)", StandIn),
    row("A2-1-126", Rejected, "the authorization had failed: nothing to void", StandIn),
    undocumented("A2-*", "authcancel.cgi error code not documented: the authorization cancel may have been processed"),

    // ---- salecancel.cgi (S2) -------------------------------------------------------------
    row("S2-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("S2-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    row("S2-1-120", Rejected, "no such transaction", StandIn),
    row("S2-1-122", Rejected, "voided before capture: nothing to refund", StandIn),
    row("S2-1-123", AlreadyDone, "already refunded (sale cancelled)", StandIn),
    row("S2-1-124", Rejected, "not captured: void the authorization instead of refunding (F-6)", StandIn),
    row("S2-1-126", Rejected, "the transaction had failed: nothing to refund", StandIn),
    undocumented("S2-*", "salecancel.cgi error code not documented: the sale cancel may have been processed"),

    // ---- authchange.cgi (A3) -------------------------------------------------------------
    row("A3-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("A3-1-20", Rejected, "new amount missing", StandIn),
    row("A3-1-21", Rejected, "new amount above what may be authorized", Observed),
    row("A3-1-22", Rejected, "new amount too small (card payments need 2 yen or more, F-7)", Observed),
    row("A3-1-23", Rejected, "new amount malformed", StandIn),
    row("A3-1-52", Declined, "card expired", StandIn),
    row("A3-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    row("A3-1-120", Rejected, "no such transaction", StandIn),
    row("A3-1-121", Rejected,
        "already captured: F-REGI never changes a captured amount from the shop side, the change is not linked (F-9, G-7); use F-REGI's admin screen or a refund",
        StandIn),
    row("A3-1-122", Rejected,
        "authorization already cancelled or replaced (e.g. its amount was changed in F-REGI's admin screen, F-5): no longer linked",
        StandIn),
    row("A3-1-123", Rejected, "already refunded (sale cancelled)", StandIn),
    row("A3-1-125", Rejected, "the capture window has passed", StandIn),
    row("A3-1-126", Rejected, "the authorization had failed", StandIn),
    row("A3-1-127", Rejected, "a reservation not yet authorized", StandIn),
    undocumented("A3-*", "authchange.cgi error code not documented: the amount change may have been processed"),

    // ---- salechange.cgi (S3) -------------------------------------------------------------
    row("S3-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("S3-1-20", Rejected, "new sale amount missing", StandIn),
    said("S3-1-21", Rejected, "new sale amount too large", "売上金額変更時の金額が大きすぎます", Observed),
    row("S3-1-22", Rejected, "new sale amount too small (card payments need 2 yen or more, F-7)", Observed),
    row("S3-1-23", Rejected, "new sale amount malformed", StandIn),
    row("S3-1-52", Declined, "card expired", StandIn),
    row("S3-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    row("S3-1-120", Rejected, "no such transaction", StandIn),
    row("S3-1-122", Rejected, "voided before capture: nothing to refund", StandIn),
    row("S3-1-123", Rejected, "already refunded (sale cancelled)", StandIn),
    row("S3-1-124", Rejected, "not captured: nothing to refund", StandIn),
    row("S3-1-126", Rejected, "the transaction had failed", StandIn),
    undocumented("S3-*", "salechange.cgi error code not documented: the sale amount change may have been processed"),

    // ---- the emulator's inquiry extension (X1) -------------------------------------------
    row("X1-1-10", Authentication, "SHOPID missing or unknown", StandIn),
    row("X1-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    said("X1-1-120", Rejected, "no such transaction", "照会時の指定された取引は存在しません", StandIn),
    undocumented("X1-*", "inquiry error code not documented"),

    // ---- card company (CAFIS-style codes relayed by F-REGI, `docs/protocols/fregi.md` §5.3) ------------------
    // §5.3 lists these as acquirer/network declines: the card company refused the
    // authorization, so nothing is reserved. G95 alone says the card company is not taking
    // requests at all.
    row("JCN-G05", Declined, "declined by the card company", Observed),
    row("JCN-G12", Declined, "card unusable", Observed),
    row("JCN-G30", Declined, "held for the card company's review (treat as declined)", Observed),
    row("JCN-G42", Declined, "PIN error", Observed),
    row("JCN-G44", Declined, "security code wrong", Observed),
    row("JCN-G45", Declined, "security code wrong", Observed),
    row("JCN-G54", Declined, "usage count limit reached", Observed),
    row("JCN-G55", Declined, "over the card limit", Observed),
    row("JCN-G56", Declined, "declined by the card company", Observed),
    row("JCN-G60", Declined, "accident card (reported lost or stolen)", Observed),
    row("JCN-G61", Declined, "card refused by the card company", Observed),
    row("JCN-G65", Declined, "card number error", Observed),
    row("JCN-G67", Declined, "item code refused by the card company", Observed),
    row("JCN-G68", Declined, "amount refused by the card company", Observed),
    row("JCN-G69", Declined, "tax or shipping amount refused by the card company", Observed),
    row("JCN-G70", Declined, "bonus count refused by the card company", Observed),
    row("JCN-G71", Declined, "bonus month refused by the card company", Observed),
    row("JCN-G72", Declined, "bonus amount refused by the card company", Observed),
    row("JCN-G73", Declined, "payment start month refused by the card company", Observed),
    row("JCN-G74", Declined, "instalment count refused by the card company", Observed),
    row("JCN-G75", Declined, "instalment amount refused by the card company", Observed),
    row("JCN-G76", Declined, "first instalment amount refused by the card company", Observed),
    row("JCN-G77", Declined, "business type refused by the card company", Observed),
    row("JCN-G78", Declined, "payment method refused by the card company", Observed),
    row("JCN-G80", Declined, "declined by the card company", Observed),
    row("JCN-G81", Declined, "declined by the card company", Observed),
    row("JCN-G83", Declined, "card expiry error", Observed),
    row("JCN-G84", Declined, "approval number error", Observed),
    row("JCN-G85", Declined, "CAFIS stand-in processing refused the card", Observed),
    row("JCN-G92", Declined, "declined by the card company (its own reason)", Observed),
    row("JCN-G94", Declined, "cyclic serial number refused by the card company", Observed),
    row("JCN-G95", Unavailable, "card company unavailable: try again later", Observed),
    row("JCN-G97", Declined, "request denied by the card company", Observed),
    row("JCN-G98", Declined, "not a business the card company accepts", Observed),
    row("JCN-G99", Declined, "connection refused by the card company", Observed),
    undocumented("JCN-G*", "card company code not documented: the authorization may have been processed"),
];

/// The table in the manifest's form: the message carries our meaning, F-REGI's words where we
/// have them, and whether the code is a stand-in an operator should not search F-REGI's list for
/// or a catch-all for codes no source documents.
pub fn table() -> Vec<ErrorEntry> {
    ROWS.iter()
        .map(|r| {
            let mut message = r.meaning.to_owned();
            if let Some(words) = r.verbatim {
                message.push_str(" (");
                message.push_str(words);
                message.push(')');
            }
            match r.source {
                Source::Observed => {}
                Source::StandIn => message.push_str(" [stand-in code]"),
                Source::Undocumented => message.push_str(" [any undocumented code]"),
            }
            ErrorEntry {
                code: r.code.into(),
                kind: r.kind,
                message,
            }
        })
        .collect()
}

/// What an `NG` means: the row matched by F-REGI's verbatim message, else by code (through the
/// exported table, so the table the host prints is the table used). A code that only a `prefix*`
/// catch-all matches, an unknown prefix and a reason without any code are not documented, so
/// they may follow processing: `Protocol`, with the code named.
pub fn classify(
    entries: &[ErrorEntry],
    code: Option<&str>,
    message: Option<&str>,
) -> (ErrorKind, Cow<'static, str>) {
    let by_message = message.and_then(|m| {
        // the protocol notes quoted these messages with 「既に」 ("already"); the manual prints them
        // without. Accept both.
        let m = m.trim().replace("既に", "");
        ROWS.iter().find(|r| r.verbatim == Some(m.as_str()))
    });
    let by_code = || {
        let entry = error_entry(entries, code?)?;
        ROWS.iter().find(|r| r.code == entry.code)
    };
    match by_message.or_else(by_code) {
        Some(r) if r.source != Source::Undocumented => (r.kind, Cow::Borrowed(r.meaning)),
        _ => (Protocol, Cow::Owned(undocumented_message(code))),
    }
}

/// The message of an `NG` whose code no source documents.
fn undocumented_message(code: Option<&str>) -> String {
    match code {
        Some(code) => format!(
            "F-REGI error code {code} is not documented: the request may have been processed"
        ),
        None => "F-REGI's NG carries no error code and no documented message: the request may \
                 have been processed"
            .to_owned(),
    }
}

/// An `NG` as a typed error: F-REGI's code and message verbatim, our meaning, and what the
/// operator can do where the operation makes that clear. A code no source documents may follow
/// processing (`Protocol`), so the message then never says that nothing changed.
pub fn refused(pending: &Pending, refusal: Refusal) -> GatewayError {
    let (kind, meaning) = classify(&ERRORS, refusal.code.as_deref(), refusal.message.as_deref());
    let may_have_applied = kind.effect() == Effect::MayHaveApplied;
    let (kind, message) = match pending {
        Pending::CaptureAuthchange {
            seqno,
            authorized,
            amount,
            ..
        } if may_have_applied => (
            kind,
            format!(
                "{meaning}. F-REGI answered the change of the authorized amount from \
                 {authorized} to {amount} yen with an undocumented code, so the change may \
                 have replaced the authorization (SEQNO {seqno}) by a new one; nothing was \
                 captured. Check the transaction in F-REGI's admin screen before capturing or \
                 voiding"
            ),
        ),
        Pending::CaptureAuthchange {
            seqno,
            authorized,
            amount,
            ..
        } => (
            // An amount-change refusal never proves a capture happened.
            if kind == ErrorKind::AlreadyDone {
                ErrorKind::Rejected
            } else {
                kind
            },
            format!(
                "F-REGI refused to change the authorized amount from {authorized} to {amount} yen \
                 ({meaning}), so nothing was captured (F-3). The authorization of {authorized} \
                 yen (SEQNO {seqno}) is unchanged. Choose: capture the authorized {authorized} \
                 yen and settle the difference another way, or void it and bill by another \
                 method"
            ),
        ),
        Pending::Sale {
            seqno,
            amount,
            changed: Some(c),
            authcode,
        } => (
            kind,
            format!(
                "{meaning}: the authorized amount was changed first (SEQNO {} replaced by \
                 {seqno}, now {amount} yen) but the sale of {seqno} {}; the new authorization \
                 stands: {} SEQNO {seqno} (reference {})",
                c.old_seqno,
                if may_have_applied {
                    "was answered with an undocumented code"
                } else {
                    "was refused"
                },
                if may_have_applied {
                    "check in F-REGI's admin screen whether it was captured, then capture or void"
                } else {
                    "capture or void"
                },
                tref(seqno, authcode.as_deref()),
            ),
        ),
        Pending::Authchange { seqno, from, .. } if may_have_applied => (
            kind,
            format!(
                "{meaning}; the authorization of {from} yen (SEQNO {seqno}) may have been \
                 replaced: check it in F-REGI's admin screen"
            ),
        ),
        Pending::Authchange { seqno, from, .. } => (
            kind,
            format!("{meaning}; the authorization of {from} yen (SEQNO {seqno}) is unchanged"),
        ),
        _ => (kind, meaning.into_owned()),
    };
    let error = GatewayError {
        kind,
        message,
        gateway_code: refusal.code,
        gateway_message: refusal.message,
        // F-REGI answers one code per NG reply.
        other_codes: Vec::new(),
        changed_before: None,
    };
    // F-2: authchange answered OK before this sale failed; the host books the new authorization
    // when the sale was refused cleanly, and shows it to the operator otherwise.
    match pending {
        Pending::Sale {
            seqno,
            amount,
            changed: Some(c),
            authcode,
        } => error.changed_before(left_by_authchange(seqno, *amount, c, authcode.as_deref())),
        _ => error,
    }
}
