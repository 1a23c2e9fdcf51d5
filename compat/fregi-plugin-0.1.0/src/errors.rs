//! F-REGI's `NG` reasons mapped to SDK error kinds, as data.
//!
//! F-REGI's error list is only visible after login to its admin screen (research §5.1), so most
//! codes below are the research's **stand-ins** (`protocols/fregi.md` §10.1), following the
//! observed pattern `<API>-1-<nnn>` (`A1` authm, `S1` sale, `A2` authcancel, `S2` salecancel,
//! `A3` authchange, `S3` salechange, `X1` the emulator's inquiry). What is real: the codes marked
//! [`Source::Observed`], the `JCN-G` acquirer codes, and two messages of the seed manual (rule
//! F-10), which F-REGI prints without their code. Because the stand-in codes may be wrong, a
//! reason is matched **by its verbatim message first** where we know F-REGI's words, then by
//! code (exact, then the longest `prefix*`), so swapping in the real codes later cannot break the
//! two rules that matter most for bulk capture (G-3, F-10).
//!
//! The split that matters to the host:
//! - `Declined`: the card or the card company said no; the customer must use another card or
//!   fix the card data (`A1-1-*` card and token errors, `JCN-G*`), as F-REGI's own sample clients
//!   classify them;
//! - `Rejected`: an operational refusal (state, window, amount, reference);
//! - `AlreadyDone`: the transaction is already where the operation wanted it (already captured
//!   for a sale, already voided for an authorization cancel, already cancelled for a sale
//!   cancel);
//! - `Authentication`: F-REGI does not know the `SHOPID`;
//! - `Unavailable`: the card company could not be reached.
//!
//! Every `NG` is an explicit refusal: an unknown code is still `Rejected`, never a success.

use renkei_sdk::{ErrorEntry, ErrorKind, error_entry};

/// Where a code comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Seen in public F-REGI material (research §5.3) or the seed manual.
    Observed,
    /// Invented by the research to fill a gap (§10.1); to be replaced by F-REGI's real list.
    StandIn,
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

use ErrorKind::{AlreadyDone, Authentication, Declined, Rejected, Unavailable};
use Source::{Observed, StandIn};

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
    // Other authm reasons are card-data errors in F-REGI's numbering (research §5.2).
    row("A1-*", Declined, "card data refused at authorization", Observed),

    // ---- sale.cgi (S1) -------------------------------------------------------------------
    row("S1-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("S1-1-110", Rejected, "SEQNO missing or malformed", StandIn),
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
    row("S1-*", Rejected, "F-REGI refused the sale", StandIn),

    // ---- authcancel.cgi (A2) -------------------------------------------------------------
    row("A2-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("A2-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    row("A2-1-120", Rejected, "no such transaction", StandIn),
    row("A2-1-121", Rejected, "already captured: refund it (sale cancel) instead of voiding (F-6)", StandIn),
    row("A2-1-122", AlreadyDone, "already voided", StandIn),
    row("A2-1-123", Rejected, "already refunded (sale cancelled)", StandIn),
    row("A2-1-126", Rejected, "the authorization had failed: nothing to void", StandIn),
    row("A2-*", Rejected, "F-REGI refused the authorization cancel", StandIn),

    // ---- salecancel.cgi (S2) -------------------------------------------------------------
    row("S2-1-10", Authentication, "SHOPID missing or unknown to F-REGI", StandIn),
    row("S2-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    row("S2-1-120", Rejected, "no such transaction", StandIn),
    row("S2-1-122", Rejected, "voided before capture: nothing to refund", StandIn),
    row("S2-1-123", AlreadyDone, "already refunded (sale cancelled)", StandIn),
    row("S2-1-124", Rejected, "not captured: void the authorization instead of refunding (F-6)", StandIn),
    row("S2-1-126", Rejected, "the transaction had failed: nothing to refund", StandIn),
    row("S2-*", Rejected, "F-REGI refused the sale cancel", StandIn),

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
    row("A3-*", Rejected, "F-REGI refused the amount change", StandIn),

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
    row("S3-*", Rejected, "F-REGI refused the sale amount change", StandIn),

    // ---- the emulator's inquiry extension (X1) -------------------------------------------
    row("X1-1-10", Authentication, "SHOPID missing or unknown", StandIn),
    row("X1-1-110", Rejected, "SEQNO missing or malformed", StandIn),
    said("X1-1-120", Rejected, "no such transaction", "照会時の指定された取引は存在しません", StandIn),
    row("X1-*", Rejected, "the inquiry was refused", StandIn),

    // ---- card company (CAFIS-style codes, relayed by F-REGI) ------------------------------
    row("JCN-G12", Declined, "card unusable", Observed),
    row("JCN-G30", Declined, "held for the card company's review (treat as declined)", Observed),
    row("JCN-G42", Declined, "PIN error", Observed),
    row("JCN-G44", Declined, "security code wrong", Observed),
    row("JCN-G45", Declined, "security code wrong", Observed),
    row("JCN-G54", Declined, "usage count limit reached", Observed),
    row("JCN-G55", Declined, "over the card limit", Observed),
    row("JCN-G60", Declined, "accident card (reported lost or stolen)", Observed),
    row("JCN-G61", Declined, "card refused by the card company", Observed),
    row("JCN-G65", Declined, "card number error", Observed),
    row("JCN-G83", Declined, "card expiry error", Observed),
    row("JCN-G95", Unavailable, "card company unavailable: try again later", Observed),
    row("JCN-G*", Declined, "declined by the card company", Observed),
];

/// The table in the manifest's form: the message carries our meaning, F-REGI's words where we
/// have them, and whether the code is a stand-in an operator should not search F-REGI's list for.
pub fn table() -> Vec<ErrorEntry> {
    ROWS.iter()
        .map(|r| {
            let mut message = r.meaning.to_owned();
            if let Some(words) = r.verbatim {
                message.push_str(" (");
                message.push_str(words);
                message.push(')');
            }
            if r.source == Source::StandIn {
                message.push_str(" [stand-in code]");
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
/// exported table, so the table the host prints is the table used), else an unrecognised
/// refusal.
pub fn classify(
    entries: &[ErrorEntry],
    code: Option<&str>,
    message: Option<&str>,
) -> (ErrorKind, &'static str) {
    let by_message = message.and_then(|m| {
        // The research quoted these messages with 「既に」 ("already"); the manual prints them
        // without. Accept both.
        let m = m.trim().replace("既に", "");
        ROWS.iter().find(|r| r.verbatim == Some(m.as_str()))
    });
    let by_code = || {
        let entry = error_entry(entries, code?)?;
        ROWS.iter().find(|r| r.code == entry.code)
    };
    by_message
        .or_else(by_code)
        .map(|r| (r.kind, r.meaning))
        .unwrap_or((Rejected, "unrecognised F-REGI refusal"))
}
