//! GMO-PG's error codes (`ErrInfo`, `docs/protocols/gmopg.md` §5) mapped to SDK error kinds, as
//! data, and the reading of a reply that lists several at once.
//!
//! Source of every code and meaning: S1, the `gmo` gem's `lib/gmo/const.rb`
//! (`API_ERROR_MESSAGES_EN`/`_JA`), which lists GMO-PG's codes with GMO-PG's own Japanese
//! messages; §5.3 of the protocol document picks the ones the plugin and the emulator use. The
//! *kind* of each code (what it means for the money) is this plugin's reading of the message;
//! where the message leaves the money open, the code is `Protocol` and the host resolves the
//! outcome. Readings that are inferences are marked [INF].
//!
//! Exact codes only, no prefix rows: a `42G…` code not listed here is not a decline the plugin
//! knows, and an undocumented code leaves the outcome open (`Protocol`), never a guess.

use renkei_sdk::{ErrorEntry, ErrorKind, GatewayError, MultiError, error_from_codes_by, error_row};

/// `ErrInfo` of a duplicate order id at `EntryTran` (§4.1).
pub const ORDER_ID_USED: &str = "E01040010";
/// `ErrInfo` of an `ExecTran` on a transaction already executed (§4.2).
pub const ALREADY_EXECUTED: &str = "E11010001";
/// `ErrInfo` of a `SearchTrade` for an order id GMO-PG has no transaction under ("指定された
/// IDとパスワードの取引が存在しません", §8, §10).
pub const NO_SUCH_TRADE: &str = "E01110002";

/// How a reply listing several codes gets its kind: GMO-PG lists every problem it found (§5.1)
/// and documents none as the cause of the others, so the most cautious code decides.
pub const MULTI_ERROR: MultiError = MultiError::MostCautious;

/// (ErrInfo, kind, meaning: S1's English, then GMO-PG's Japanese where it adds).
#[rustfmt::skip]
pub fn table() -> Vec<ErrorEntry> {
    use ErrorKind::*;
    vec![
        // Request checks (E0x): the gateway refused the request as written; nothing happened.
        error_row("E00000001", Rejected,       "The HTTP method is not POST (HTTPメソッドがPOSTではありません)"),
        error_row("E00000003", Rejected,       "The Content-type of the HTTP request is incorrect"),
        error_row("E00000010", Rejected,       "The HTTP content is empty or its format is incorrect"),
        error_row("E01010001", Rejected,       "Shop ID not specified (ショップIDが指定されていません)"),
        error_row("E01010008", Rejected,       "Shop ID contains invalid characters or is too long"),
        error_row("E01010010", Authentication, "Shop ID is invalid"),
        error_row("E01020001", Rejected,       "Shop password not specified (ショップパスワードが指定されていません)"),
        error_row("E01020008", Rejected,       "Shop password contains invalid characters or is too long"),
        error_row("E01030002", Authentication, "No shop with this ID and password (指定されたIDとパスワードのショップが存在しません)"),
        error_row("E01040001", Rejected,       "Order ID not specified"),
        error_row("E01040003", Rejected,       "Order ID too long"),
        error_row("E01040010", Rejected,       "Order ID previously used (既にオーダーIDが存在しています)"),
        error_row("E01040013", Rejected,       "Order ID has characters other than a-z, A-Z, 0-9 and -"),
        error_row("E01050001", Rejected,       "Process classification (JobCd) not specified"),
        error_row("E01050002", Rejected,       "Process classification (JobCd) is invalid"),
        error_row("E01050004", Rejected,       "This process classification cannot be executed (指定した処理区分の処理は実行出来ません)"),
        error_row("E01060001", Rejected,       "Amount not specified"),
        error_row("E01060005", Rejected,       "Amount exceeds the maximum allowed"),
        error_row("E01060006", Rejected,       "Amount contains non-numeric characters"),
        error_row("E01060010", Rejected,       "The amount does not match the transaction's amount (取引の利用金額と指定した利用金額が一致していません)"),
        error_row("E01070005", Rejected,       "Tax exceeds the maximum allowed"),
        error_row("E01070006", Rejected,       "Tax contains non-numeric characters"),
        error_row("E01490005", Rejected,       "Amount + Tax exceeds the maximum allowed"),
        error_row("E01090001", Rejected,       "Access ID not specified"),
        error_row("E01090008", Rejected,       "Access ID format (取引IDの書式が正しくありません)"),
        error_row("E01100001", Rejected,       "Access password not specified"),
        error_row("E01100008", Rejected,       "Access password format (取引パスワードの書式が正しくありません)"),
        error_row("E01110002", Rejected,       "No transaction with this ID and password (指定されたIDとパスワードの取引が存在しません)"),
        error_row("E01110010", Rejected,       "Transaction settlement is not complete"),
        // Card data the customer gave: refused before the card company; the card must change.
        error_row("E01170001", Declined,       "Card number not specified"),
        error_row("E01170003", Declined,       "Card number too long"),
        error_row("E01170006", Declined,       "Card number has non-digits (カード番号に数字以外の文字が含まれています)"),
        error_row("E01170011", Declined,       "Card number not 10-16 digits"),
        error_row("E01180001", Declined,       "Expiration date not specified"),
        error_row("E01180003", Declined,       "Expiration date is not 4 characters"),
        error_row("E01180008", Declined,       "Expiration date format incorrect (有効期限の書式が正しくありません)"),
        error_row("E01180011", Declined,       "Expiration date format incorrect"),
        // Transaction state (E11): refused, nothing happened; E11010001 says an earlier request
        // already did what this one asks.
        error_row("E11010001", AlreadyDone,    "Transaction settlement already complete (この取引は既に決済が終了しています)"),
        error_row("E11010002", Rejected,       "Transaction not settled, cannot be changed (取引エラー)"),
        error_row("E11010003", Rejected,       "This transaction cannot take this process classification (この取引は指定処理区分処理を行う事が出来ません)"),
        error_row("E11010010", Rejected,       "More than 180 days old, cannot be processed (180日超えの取引のため、処理を行う事が出来ません)"),
        error_row("E11010011", Rejected,       "More than 180 days old, cannot be processed"),
        error_row("E11010012", Rejected,       "More than 180 days old, cannot be processed"),
        error_row("E11010013", Rejected,       "More than 180 days old, cannot be processed"),
        error_row("E11010014", Rejected,       "More than 180 days old, cannot be processed"),
        error_row("E11010099", Declined,       "This card cannot be used (このカードはご利用になれません)"),
        error_row("E11010999", Declined,       "This card cannot be used"),
        // Processing (E6x, E9x). "Failed, try again" before the card company answered:
        // nothing happened [INF: §5.3]. A communication timeout, an internal error and "being
        // processed by another request" (E90010001, §7.7) leave the outcome open.
        error_row("E61010001", Unavailable,    "Settlement process failed, try again (決済処理に失敗しました) [INF: nothing happened]"),
        error_row("E61010002", Unavailable,    "Settlement process failed, try again [INF: nothing happened]"),
        error_row("E61010003", Unavailable,    "Settlement process failed, try again [INF: nothing happened]"),
        error_row("E90010001", Protocol,       "Being processed by another request (現在処理を行っているのでもうしばらくお待ち下さい): that request's outcome is open"),
        error_row("E91019999", Protocol,       "Settlement process failed, try again: where it failed is not said, the outcome is open"),
        error_row("E91020001", Protocol,       "Communication timeout (通信タイムアウトが発生しました): the outcome is open"),
        error_row("E91029999", Protocol,       "Settlement process failed, try again: where it failed is not said, the outcome is open"),
        error_row("E91099999", Protocol,       "Settlement process failed, try again: where it failed is not said, the outcome is open"),
        error_row("E91099997", Rejected,       "The requested API does not exist (リクエストされたAPIは存在しません): the URL is wrong, nothing was processed"),
        error_row("E92000001", Unavailable,    "Too busy to process, try again later (只今、大変込み合っています) [INF: refused before processing]"),
        error_row("E92000002", Unavailable,    "Too many requests processed at once [INF: refused before processing]"),
        // Card company declines (42G…, §5.2).
        error_row("42G020000", Declined,       "Card balance insufficient (カード残高が不足しているために、決済を完了する事が出来ませんでした)"),
        error_row("42G030000", Declined,       "Card limit exceeded"),
        error_row("42G040000", Declined,       "Card balance insufficient"),
        error_row("42G050000", Declined,       "Card limit exceeded"),
        error_row("42G060000", Declined,       "Debit card account balance insufficient"),
        error_row("42G070000", Declined,       "Card limit exceeded"),
        error_row("42G120000", Declined,       "Card not valid for transactions"),
        error_row("42G220000", Declined,       "Card not valid for transactions"),
        error_row("42G300000", Declined,       "Card not valid for transactions"),
        error_row("42G420000", Declined,       "PIN incorrect"),
        error_row("42G440000", Declined,       "Security code incorrect (セキュリティーコードが誤っていた為に、決済を完了する事が出来ませんでした)"),
        error_row("42G450000", Declined,       "Security code not provided"),
        error_row("42G540000", Declined,       "Card not valid for transactions"),
        error_row("42G550000", Declined,       "Card limit exceeded"),
        error_row("42G560000", Declined,       "Card not valid for transactions"),
        error_row("42G600000", Declined,       "Card not valid for transactions"),
        error_row("42G610000", Declined,       "Card not valid for transactions"),
        error_row("42G650000", Declined,       "Card number incorrect"),
        error_row("42G830000", Declined,       "Expiration date incorrect"),
        error_row("42G920000", Declined,       "Refused at the card company's discretion"),
        error_row("42G950000", Declined,       "Card not valid for transactions"),
        error_row("42G960000", Declined,       "Card not valid for transactions"),
        error_row("42G970000", Declined,       "Card not valid for transactions"),
        error_row("42G980000", Declined,       "Card not valid for transactions"),
        error_row("42G990000", Declined,       "Card not valid for transactions"),
    ]
}

/// The error of a reply listing `codes` (§5.1): every code kept, the kind the manifest's rule
/// picks. GMO-PG's replies carry codes only, no message.
pub fn refused(table: &[ErrorEntry], codes: &[String], what: &str) -> GatewayError {
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    match error_from_codes_by(MULTI_ERROR, table, &codes, None) {
        Some(mut e) => {
            e.message = format!("{what}: {}", e.message);
            e
        }
        None => GatewayError::protocol(format!("{what}: an error reply without a code")),
    }
}
