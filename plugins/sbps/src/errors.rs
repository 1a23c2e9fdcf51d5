//! SBPS `res_err_code` types mapped to SDK error kinds, as data (`docs/protocols/sbps.md` §8).
//!
//! A code is method (3) + type (2) + item (3), and the type alone carries the meaning, so the
//! table has one `prefix*` row per method and type (`10141*`). The common types (§8.2) apply to
//! every method; this plugin only calls credit functions (`101`) but validation errors may come
//! back under the common method `999`, so common types are listed for both. The Japanese texts
//! are SBPS's own type names; English is ours.
//!
//! ## Each row's effect on the money
//!
//! After a request was sent, the host reads an error by its kind alone: `Declined`, `Rejected`,
//! `AlreadyDone`, `Authentication` and `Unavailable` prove that nothing happened; `Protocol`
//! means "may have applied" and sends the operation to resolution (MG01 inquiry once the request
//! has expired, a declared-safe replay, or an operator). So a row may prove nothing happened
//! only where SBPS documents the type as a refusal made before processing:
//!
//! - **Field and envelope validation** (00–07, 13, T1, T2, 78, K3): `Rejected`. SBPS checks the
//!   request before looking anything up; these come back without the root `id` (§7.3, observed
//!   for 05, 03, 09, 10) and per §10.3 before dispatch.
//! - **Credentials** (09 hash, 14 merchant): `Authentication` (§4.3, §8.2).
//! - **Request expired** (10): `Rejected`. SBPS refuses a request once `request_date +
//!   limit_second` has passed (§3.2, §8.2; observed without `id`, §7.3); the manifest's request
//!   expiry relies on it.
//! - **Unknown payment** (11, 12): `Rejected`: nothing to act on (§8.2).
//! - **Card declines at authorization** (20–36, 61, 63–77, K2, and 93, the re-entry limit):
//!   `Declined`. §8.3 lists them as the card company's refusals; no payment is created.
//! - **State refusals** (37–40, 42–44, 47, 49–51, 54, 56–60, 79, K0, K1, K4, K5): `Rejected`.
//!   SBPS's own texts say it stopped (「…のため、売上処理を中止しました」, §8.3), and §9.2 confirms
//!   the state does not change. 95 and 98 (stored-customer / permanent-token state
//!   inconsistent, §8.2) refuse a request whose stored data cannot be used: `Rejected`.
//! - **Already done** (41, 45/52, 46): `AlreadyDone`, but only for the operation whose goal
//!   they state (a capture that hears "already sold", a void that hears "already cancelled", a
//!   full refund that hears "already refunded"); for any other operation they are a state
//!   conflict, `Rejected` (§8.5, §9.2).
//! - **System errors** (80, 81, 83–86, 90, 92): `Protocol`. SBPS says it failed, not whether it
//!   had already acted; §9.3 warns that a retry after an 8x/9x error can answer "already done"
//!   although the first attempt went through.
//! - **Duplicates** (96, 97): `Protocol`. 96 (same `order_id`): this plugin derives every
//!   `order_id` from the shop action's idempotency key and attempt, so 96 means an earlier
//!   exchange of this very attempt reached SBPS and may have authorized. 97 (same tracking id
//!   and refund row number) likewise means an identical request reached SBPS before.
//! - **Not documented as a refusal** (94 決済未完了 "payment not completed", W0–W6 whose meaning
//!   §8.3 leaves unspecified, and any type no table lists): `Protocol`. They may follow
//!   processing, so they prove nothing.

use crate::protocol::{self, Acknowledged, Reply, Verdict};
use crate::{ERROR_ROWS, ERRORS, UNKNOWN_ERROR};
use ErrorKind::{AlreadyDone, Authentication, Declined, Protocol, Rejected};
use renkei_sdk::{
    ErrorEntry, ErrorKind, GatewayError, Money, Operation, OperationKind, error_entry,
};

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// `prefix*` (method + type).
    pub code: String,
    pub kind: ErrorKind,
    /// SBPS's own name of the type, where it has one.
    pub ja: Option<&'static str>,
    /// What it means for the shop, in our words.
    pub en: &'static str,
    /// For `AlreadyDone` rows: the operation whose goal the code confirms.
    pub proves: Option<OperationKind>,
}

const CREDIT: &str = "101";
const COMMON: &str = "999";

/// (type, kind, Japanese, English): types every method shares (§8.2).
#[rustfmt::skip]
const COMMON_TYPES: &[(&str, ErrorKind, Option<&str>, &str)] = &[
    ("00", Rejected, Some("XML 形式エラー"), "malformed request XML"),
    ("01", Rejected, Some("支払方法有効性エラー"), "payment method not enabled"),
    ("02", Rejected, Some("API リクエスト ID 存在エラー"), "unknown function id"),
    ("03", Rejected, Some("必須エラー"), "a required field is missing"),
    ("04", Rejected, Some("属性エラー"), "a field has invalid characters"),
    ("05", Rejected, Some("桁数エラー"), "a field is too long"),
    ("06", Rejected, Some("形式エラー"), "a field has a bad format"),
    ("07", Rejected, Some("定義値エラー"), "a field value is not allowed"),
    ("09", Authentication, Some("ハッシュ値エラー"), "sps_hashcode mismatch: the configured hash key is wrong"),
    ("10", Rejected, Some("リクエスト有効期限エラー"), "request expired (request_date + limit_second passed): check the host clock"),
    ("11", Rejected, Some("処理対象 SBPS トランザクション ID エラー"), "no payment for this sps_transaction_id"),
    ("12", Rejected, Some("処理対象トラッキング ID エラー"), "no payment for this tracking id"),
    ("13", Rejected, Some("指定不可エラー"), "a parameter is not allowed here"),
    ("14", Authentication, Some("マーチャント ID・サービス ID 不正エラー"), "merchant_id / service_id unknown or not those of the credentials"),
    ("80", Protocol, Some("GW システムエラー"), "SBPS system error: the request may have been processed; resolve by inquiry"),
    ("81", Protocol, Some("API リクエストパラメータエラー"), "SBPS internal parameter error: the request may have been processed; resolve by inquiry"),
    ("83", Protocol, Some("GW レコード検索エラー"), "SBPS record lookup error: the request may have been processed; resolve by inquiry"),
    ("84", Protocol, Some("決済機関レスポンスパラメータエラー"), "bad response from the card network: may have been processed; resolve by inquiry"),
    ("85", Protocol, Some("決済機関接続エラー"), "card network unreachable: may have been processed; resolve by inquiry"),
    ("86", Protocol, Some("決済機関システムエラー"), "card network system error: may have been processed; resolve by inquiry"),
    ("90", Protocol, Some("API システムエラー"), "SBPS API system error: the request may have been processed; resolve by inquiry"),
    ("92", Protocol, Some("GW 接続エラー"), "SBPS gateway connection error: may have been processed; resolve by inquiry"),
    ("93", Declined, Some("再入力上限回数制限エラー"), "too many card entry attempts"),
    // Not documented as a refusal: "not completed" may mean still being processed.
    ("94", Protocol, Some("決済未完了エラー"), "payment not completed: SBPS does not say whether it was processed; resolve by inquiry"),
    ("95", Rejected, Some("顧客情報整合性エラー"), "stored-customer state inconsistent (no card stored for this customer?)"),
    ("96", Protocol, Some("2 重リクエストエラー"), "duplicate order_id: an earlier request of this same attempt reached SBPS and may have authorized; check the order in the SBPS tool"),
    ("97", Protocol, None, "duplicate request (same tracking id and refund row number): an identical earlier request reached SBPS and may have been processed; resolve by inquiry"),
    ("98", Rejected, None, "permanent-token state inconsistent"),
];

/// (type, kind, Japanese, English, proves): credit-card types (§8.3).
#[allow(clippy::type_complexity)]
#[rustfmt::skip]
const CREDIT_TYPES: &[(&str, ErrorKind, Option<&str>, &str, Option<OperationKind>)] = &[
    ("20", Declined, Some("クレジットカード不正カードフィルタエラー"), "refused by the fraud filter", None),
    ("21", Declined, Some("クレジットセンターエラー"), "refused by the credit center", None),
    ("22", Declined, Some("クレジットカード利用限度額超過"), "card limit exceeded", None),
    ("23", Declined, Some("クレジットカード使用不可"), "card cannot be used", None),
    ("24", Declined, Some("暗証番号不正"), "wrong PIN", None),
    ("25", Declined, Some("クレジットカード利用限度回数超過"), "card usage count exceeded", None),
    ("26", Declined, Some("クレジットカード取扱不可"), "card not accepted", None),
    ("27", Declined, Some("クレジットカード番号・有効期限誤り"), "wrong card number or expiry", None),
    ("28", Declined, Some("取引内容取扱不可"), "transaction not accepted", None),
    ("29", Declined, Some("指定ボーナス回数利用不可"), "bonus count not allowed", None),
    ("30", Declined, Some("指定ボーナス月利用不可"), "bonus month not allowed", None),
    ("31", Declined, Some("指定ボーナス金額利用不可"), "bonus amount not allowed", None),
    ("32", Declined, Some("指定支払開始月利用不可"), "payment start month not allowed", None),
    ("33", Declined, Some("指定分割回数利用不可"), "installment count not allowed", None),
    ("34", Declined, Some("指定分割金額利用不可"), "installment amount not allowed", None),
    ("35", Declined, Some("指定初回お支払い金額利用不可"), "first installment amount not allowed", None),
    ("36", Declined, Some("その他与信エラー"), "authorization refused (other reason)", None),
    ("37", Rejected, Some("自動売上が設定されているため、売上要求は不要です。"), "the merchant is on automatic sales: switch the SBPS contract to manual sales (指定売上)", None),
    ("38", Rejected, Some("G 式の場合、ファイルにて売上処理を行ってください。"), "G-type merchant: sales go by file", None),
    ("39", Rejected, Some("与信結果が存在しないため、売上処理を中止しました。"), "no authorization result to capture", None),
    ("40", Rejected, Some("与信取消済みのため、売上処理を中止しました。"), "cannot capture: the authorization is already cancelled (G-5)", None),
    ("41", AlreadyDone, Some("売上処理が完了済みのため、処理を中止しました。"), "already captured", Some(OperationKind::Capture)),
    ("42", Rejected, Some("売上処理の処理日時は、与信日から 3 ヶ月目末日まで有効です。"), "sales window closed (end of the 3rd month after authorization)", None),
    ("43", Rejected, Some("G 式の場合、ファイルにて返金処理を行ってください。"), "G-type merchant: refunds go by file", None),
    ("44", Rejected, Some("与信結果が存在しないため、返金処理を中止しました。"), "no authorization result to cancel or refund", None),
    ("45", AlreadyDone, Some("与信取消済みのため、返金処理を中止しました。"), "already cancelled (authorization voided)", Some(OperationKind::Void)),
    ("46", AlreadyDone, Some("返金処理済みのため、返金処理を中止しました。"), "already refunded", Some(OperationKind::Refund)),
    ("47", Rejected, Some("継続課金中のため、返金処理を中止しました。"), "recurring billing in progress", None),
    ("49", Rejected, Some("自動売上の場合、返金要求 API を使用して下さい。"), "automatic sales: use the refund function", None),
    ("50", Rejected, Some("P 式の場合、返金要求 API を使用して下さい。"), "P-type merchant: use the refund function", None),
    ("51", Rejected, Some("与信結果が存在しないため、与信取消処理を中止しました。"), "no authorization result to cancel", None),
    ("52", AlreadyDone, Some("与信取消済みのため、与信取消処理を中止しました。"), "already cancelled (authorization voided)", Some(OperationKind::Void)),
    ("54", Rejected, Some("継続課金中のため、与信取消処理を中止しました。"), "recurring billing in progress", None),
    ("56", Rejected, Some("返金処理は、売上日以降かつ、与信取消日から 3 ヶ月目 末日まで有効です。"), "refund window closed", None),
    ("57", Rejected, Some("ご指定の継続課金は既に解約済みです。"), "recurring billing already ended", None),
    ("58", Rejected, Some("継続課金使用中エラー"), "recurring billing in use", None),
    ("59", Rejected, Some("自動売上(コミットフラグ適用)の場合、コミット実施後、返金処理を実施して下さい。"), "automatic sales: commit before refunding", None),
    ("60", Rejected, Some("既に処理が完了しているため、コミット(取消)を実施出来ません。"), "commit not possible: already committed, sold or cancelled", None),
    ("61", Declined, Some("セキュリティコード誤り"), "wrong security code", None),
    ("63", Declined, Some("認証アシスト情報必須エラー (SmartLink 利用時対象)"), "SmartLink authentication data required", None),
    ("64", Declined, Some("SmartLink センターエラー"), "SmartLink center error", None),
    ("65", Declined, Some("決済機関判定エラー"), "card company refusal (G12: card unusable)", None),
    ("66", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("67", Declined, Some("決済機関判定エラー"), "card company refusal (G44: security code)", None),
    ("68", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("69", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("70", Declined, Some("決済機関判定エラー"), "card company refusal (G60: lost or stolen card)", None),
    ("71", Declined, Some("決済機関判定エラー"), "card company refusal (G61: invalid card)", None),
    ("72", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("73", Declined, Some("決済機関判定エラー"), "card company refusal (G83: expiry)", None),
    ("74", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("75", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("76", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("77", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("78", Rejected, Some("クレジットカード情報保存フラグ指定エラー"), "bad card-storage flag", None),
    ("79", Rejected, Some("指定された金額が、与信時金額を越えているため、売上処理を中止しました。"), "capture amount exceeds the authorized amount", None),
    ("K0", Rejected, Some("売上処理未実施のため、部分返金処理を中止しました。"), "partial refund before capture", None),
    ("K1", Rejected, Some("返金金額の合計が、売上時金額を超えているため、部分返金処理を中止しました。"), "refunds would exceed the captured amount", None),
    ("K2", Declined, Some("決済機関判定エラー"), "card company refusal", None),
    ("K3", Rejected, Some("クレジットカードブランド返却フラグ指定エラー"), "bad card-brand return flag", None),
    ("K4", Rejected, Some("与信結果が存在しないため、NG 与信情報変更処理を中止しました。"), "no authorization result to change", None),
    ("K5", Rejected, Some("正常与信済みのため、NG 与信情報変更処理を中止しました。"), "authorization already succeeded; nothing to change", None),
    ("T1", Rejected, None, "the card token could not be decrypted (bad or foreign token): ask for the card again", None),
    ("T2", Rejected, None, "the card token has expired: ask for the card again", None),
    ("W0", Protocol, None, "sales, refund or cancel error W0, whose meaning is not documented: the request may have been processed; resolve by inquiry", None),
    ("W1", Protocol, None, "sales, refund or cancel error W1, whose meaning is not documented: the request may have been processed; resolve by inquiry", None),
    ("W2", Protocol, None, "sales, refund or cancel error W2, whose meaning is not documented: the request may have been processed; resolve by inquiry", None),
    ("W3", Protocol, None, "sales, refund or cancel error W3, whose meaning is not documented: the request may have been processed; resolve by inquiry", None),
    ("W4", Protocol, None, "sales, refund or cancel error W4, whose meaning is not documented: the request may have been processed; resolve by inquiry", None),
    ("W5", Protocol, None, "sales, refund or cancel error W5, whose meaning is not documented: the request may have been processed; resolve by inquiry", None),
    ("W6", Protocol, None, "sales, refund or cancel error W6, whose meaning is not documented: the request may have been processed; resolve by inquiry", None),
];

/// Every row: credit types, common types under `101` and `999`, then a catch-all per method
/// for types SBPS lists as unused or adds later. An undocumented type proves nothing (it may
/// follow processing), so the catch-all is `Protocol` with the raw code kept.
pub fn rows() -> Vec<Row> {
    let mut rows = Vec::with_capacity(CREDIT_TYPES.len() + 2 * COMMON_TYPES.len() + 2);
    for &(ty, kind, ja, en, proves) in CREDIT_TYPES {
        rows.push(Row {
            code: format!("{CREDIT}{ty}*"),
            kind,
            ja,
            en,
            proves,
        });
    }
    for method in [CREDIT, COMMON] {
        for &(ty, kind, ja, en) in COMMON_TYPES {
            rows.push(Row {
                code: format!("{method}{ty}*"),
                kind,
                ja,
                en,
                proves: None,
            });
        }
    }
    for method in [CREDIT, COMMON] {
        rows.push(Row {
            code: format!("{method}*"),
            ..unknown()
        });
    }
    rows
}

/// The meaning of a type no table documents: it may follow processing.
pub fn unknown() -> Row {
    Row {
        code: "*".into(),
        kind: ErrorKind::Protocol,
        ja: None,
        en: "SBPS error type not in the documented tables: the request may have been processed",
        proves: None,
    }
}

/// The manifest's view of the rows: the message is SBPS's name with ours beside it.
pub fn table(rows: &[Row]) -> Vec<ErrorEntry> {
    rows.iter()
        .map(|r| ErrorEntry {
            code: r.code.clone(),
            kind: r.kind,
            message: match r.ja {
                Some(ja) => format!("{ja} ({})", r.en),
                None => r.en.to_owned(),
            },
        })
        .collect()
}

// The classification of an NG reply, by the table above.

/// An OK reply, or the refusal it carries as a typed error. `own` says whether the step acts
/// on the operation's own payment towards the operation's own goal, the only case where
/// "already done" can be true for the operation.
pub fn accepted(
    op: &Operation,
    read: Result<Reply, GatewayError>,
    step: &str,
    own: bool,
) -> Result<Reply, GatewayError> {
    let reply = read.map_err(|e| context(step, e))?;
    match &reply.outcome {
        Verdict::Ok => Ok(reply),
        Verdict::Ng { code } => Err(refusal(op, code, step, own)),
    }
}

/// Reads an acknowledgement whose failure the operation survives (commit, void of a
/// replaced payment); the error keeps the SBPS code for the note.
pub fn acknowledged(read: Result<Reply, GatewayError>) -> Result<Acknowledged, GatewayError> {
    let reply = read?;
    match &reply.outcome {
        Verdict::Ok => protocol::acknowledged(&reply),
        Verdict::Ng { code } => {
            let row = row_of(code);
            Err(GatewayError::gateway(
                row.kind,
                code.clone(),
                row.ja.map(str::to_owned),
                row.en,
            ))
        }
    }
}

/// The error-table row of a code: the exported table decides (exact, then longest prefix),
/// falling back to the common method `999` for a type under another method.
pub fn row_of(code: &str) -> &'static Row {
    let entry = error_entry(&ERRORS, code).or_else(|| {
        let common = format!("999{}", code.get(3..).unwrap_or(""));
        error_entry(&ERRORS, &common)
    });
    entry
        .and_then(|e| ERROR_ROWS.iter().find(|r| r.code == e.code))
        .unwrap_or(&UNKNOWN_ERROR)
}

/// An NG reply as a typed error: the raw code, SBPS's Japanese meaning, ours in English. Only a
/// documented refusal is worded as one; a code that proves nothing says so.
fn refusal(op: &Operation, code: &str, step: &str, own: bool) -> GatewayError {
    let row = row_of(code);
    let mut kind = row.kind;
    if kind == ErrorKind::AlreadyDone && !(own && proves(row.proves, op)) {
        // "Already cancelled" is no success for a refund, "already sold" none for a void.
        kind = ErrorKind::Rejected;
    }
    let message = if row.code.trim_end_matches('*').len() <= 3 {
        // A catch-all: no table documents this type.
        format!("SBPS error code {code} is not documented: the {step} may have been processed")
    } else if kind == ErrorKind::Protocol {
        format!("SBPS answered the {step} with error {code}: {}", row.en)
    } else {
        format!("SBPS refused the {step}: {}", row.en)
    };
    GatewayError::gateway(kind, code, row.ja.map(str::to_owned), message)
}

fn proves(goal: Option<OperationKind>, op: &Operation) -> bool {
    match (goal, op) {
        (Some(OperationKind::Capture), Operation::Capture { .. }) => true,
        (Some(OperationKind::Void), Operation::Void { .. }) => true,
        // Only a full refund's goal is "everything refunded".
        (
            Some(OperationKind::Refund),
            Operation::Refund {
                captured, amount, ..
            },
        ) => amount.is_none_or(|a| a == *captured),
        _ => false,
    }
}

// The credit types control flow reads by name (rows of `CREDIT_TYPES`).
/// 60: the payment is already committed (or past it).
const TYPE_COMMIT_DONE: &str = "60";
/// K1: the refunds would exceed what SBPS has left of the sale.
const TYPE_OVER_REFUND: &str = "K1";
/// 45 (on a cancel-or-refund) and 52 (on a cancel): the authorization is already cancelled.
const TYPES_CANCEL_DONE: &[&str] = &["45", "52"];

/// Whether `code` is a credit-method code (`101` + type + item) of one of `types`.
fn is_credit_type(code: &str, types: &[&str]) -> bool {
    code.len() == 8 && types.iter().any(|ty| code[..5] == format!("{CREDIT}{ty}"))
}

/// 60: what a commit before sales wants.
pub fn is_commit_done(code: &str) -> bool {
    is_credit_type(code, &[TYPE_COMMIT_DONE])
}

/// K1: the refunds would exceed what SBPS has left of the sale.
pub fn is_over_refund(code: &str) -> bool {
    is_credit_type(code, &[TYPE_OVER_REFUND])
}

/// K1 on the refund of the remainder, after the inquiry showed 返金済: SBPS has less left than
/// the journal believes, so a refund was made in SBPS's own tool (G-8). A typed refusal
/// (nothing moved) that tells the operator where to look; SBPS's code and words are kept.
pub fn refunded_in_tool(mut e: GatewayError, captured: Money) -> GatewayError {
    e.kind = ErrorKind::Rejected;
    e.message = format!(
        "SBPS shows this payment already partly refunded (返金済), by more than the shop's \
         records know: refunding the {captured} the shop believes is left would exceed what \
         SBPS has left, so a refund was made in SBPS's tool (G-8). Check the payment there, \
         and refund the rest in SBPS's tool or reconcile the order; nothing was refunded now"
    );
    e
}

/// 45 / 52: the replaced authorization is already cancelled.
pub fn is_cancel_done(code: &str) -> bool {
    is_credit_type(code, TYPES_CANCEL_DONE)
}

/// Prefixes a reading error with the step it happened in.
pub fn context(step: &str, mut e: GatewayError) -> GatewayError {
    e.message = format!("{step}: {}", e.message);
    e
}
