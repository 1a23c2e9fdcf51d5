//! SBPS `res_err_code` types mapped to SDK error kinds, as data (§8).
//!
//! A code is method (3) + type (2) + item (3), and the type alone carries the meaning, so the
//! table has one `prefix*` row per method and type (`10141*`). The common types (§8.2) apply to
//! every method; this plugin only calls credit functions (`101`) but validation errors may come
//! back under the common method `999`, so common types are listed for both. The Japanese texts
//! are SBPS's own type names; English is ours.
//!
//! Kinds, and why:
//! - card-company refusals at authorization are `Declined`;
//! - state conflicts and field validation are `Rejected` (SBPS refused knowingly, nothing moved);
//! - 09 (hash) and 14 (unknown merchant/service) are `Authentication`: a configuration problem;
//! - SBPS and card-network system errors (80, 81, 83–86, 90, 92) are `Protocol`: SBPS says it failed
//!   but not whether it had already acted, and §9.3 warns that a retry after them can answer
//!   "already done" although the first attempt went through, so they must be resolved by inquiry;
//! - 96 (duplicate `order_id`) is `Protocol` for the same reason: this plugin derives every
//!   `order_id` from the shop action's idempotency key, so 96 means an earlier attempt of this
//!   very action reached SBPS and may have authorized;
//! - 41, 45/52, 46 are `AlreadyDone`, but only for the operation whose goal they state (a capture
//!   that hears "already sold", a void that hears "already cancelled", a full refund that hears
//!   "already refunded"); for any other operation they are a state conflict, `Rejected`.

use renkei_sdk::{ErrorEntry, ErrorKind, OperationKind};

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
const COMMON_TYPES: &[(&str, ErrorKind, Option<&str>, &str)] = &[
    (
        "00",
        ErrorKind::Rejected,
        Some("XML 形式エラー"),
        "malformed request XML",
    ),
    (
        "01",
        ErrorKind::Rejected,
        Some("支払方法有効性エラー"),
        "payment method not enabled",
    ),
    (
        "02",
        ErrorKind::Rejected,
        Some("API リクエスト ID 存在エラー"),
        "unknown function id",
    ),
    (
        "03",
        ErrorKind::Rejected,
        Some("必須エラー"),
        "a required field is missing",
    ),
    (
        "04",
        ErrorKind::Rejected,
        Some("属性エラー"),
        "a field has invalid characters",
    ),
    (
        "05",
        ErrorKind::Rejected,
        Some("桁数エラー"),
        "a field is too long",
    ),
    (
        "06",
        ErrorKind::Rejected,
        Some("形式エラー"),
        "a field has a bad format",
    ),
    (
        "07",
        ErrorKind::Rejected,
        Some("定義値エラー"),
        "a field value is not allowed",
    ),
    (
        "09",
        ErrorKind::Authentication,
        Some("ハッシュ値エラー"),
        "sps_hashcode mismatch: the configured hash key is wrong",
    ),
    (
        "10",
        ErrorKind::Rejected,
        Some("リクエスト有効期限エラー"),
        "request expired (request_date + limit_second passed): check the host clock",
    ),
    (
        "11",
        ErrorKind::Rejected,
        Some("処理対象 SBPS トランザクション ID エラー"),
        "no payment for this sps_transaction_id",
    ),
    (
        "12",
        ErrorKind::Rejected,
        Some("処理対象トラッキング ID エラー"),
        "no payment for this tracking id",
    ),
    (
        "13",
        ErrorKind::Rejected,
        Some("指定不可エラー"),
        "a parameter is not allowed here",
    ),
    (
        "14",
        ErrorKind::Authentication,
        Some("マーチャント ID・サービス ID 不正エラー"),
        "merchant_id / service_id unknown or not those of the credentials",
    ),
    (
        "80",
        ErrorKind::Protocol,
        Some("GW システムエラー"),
        "SBPS system error: the request may have been processed; resolve by inquiry",
    ),
    (
        "81",
        ErrorKind::Protocol,
        Some("API リクエストパラメータエラー"),
        "SBPS internal parameter error: the request may have been processed; resolve by inquiry",
    ),
    (
        "83",
        ErrorKind::Protocol,
        Some("GW レコード検索エラー"),
        "SBPS record lookup error: the request may have been processed; resolve by inquiry",
    ),
    (
        "84",
        ErrorKind::Protocol,
        Some("決済機関レスポンスパラメータエラー"),
        "bad response from the card network: may have been processed; resolve by inquiry",
    ),
    (
        "85",
        ErrorKind::Protocol,
        Some("決済機関接続エラー"),
        "card network unreachable: may have been processed; resolve by inquiry",
    ),
    (
        "86",
        ErrorKind::Protocol,
        Some("決済機関システムエラー"),
        "card network system error: may have been processed; resolve by inquiry",
    ),
    (
        "90",
        ErrorKind::Protocol,
        Some("API システムエラー"),
        "SBPS API system error: the request may have been processed; resolve by inquiry",
    ),
    (
        "92",
        ErrorKind::Protocol,
        Some("GW 接続エラー"),
        "SBPS gateway connection error: may have been processed; resolve by inquiry",
    ),
    (
        "93",
        ErrorKind::Declined,
        Some("再入力上限回数制限エラー"),
        "too many card entry attempts",
    ),
    (
        "94",
        ErrorKind::Rejected,
        Some("決済未完了エラー"),
        "payment not completed",
    ),
    (
        "95",
        ErrorKind::Rejected,
        Some("顧客情報整合性エラー"),
        "stored-customer state inconsistent (no card stored for this customer?)",
    ),
    (
        "96",
        ErrorKind::Protocol,
        Some("2 重リクエストエラー"),
        "duplicate order_id: an earlier attempt of this same action reached SBPS and may have \
         authorized; check the order in the SBPS tool",
    ),
    (
        "97",
        ErrorKind::Rejected,
        None,
        "duplicate request: same tracking id and refund row number",
    ),
    (
        "98",
        ErrorKind::Rejected,
        None,
        "permanent-token state inconsistent",
    ),
];

/// (type, kind, Japanese, English, proves): credit-card types (§8.3).
#[allow(clippy::type_complexity)]
const CREDIT_TYPES: &[(&str, ErrorKind, Option<&str>, &str, Option<OperationKind>)] = &[
    (
        "20",
        ErrorKind::Declined,
        Some("クレジットカード不正カードフィルタエラー"),
        "refused by the fraud filter",
        None,
    ),
    (
        "21",
        ErrorKind::Declined,
        Some("クレジットセンターエラー"),
        "refused by the credit center",
        None,
    ),
    (
        "22",
        ErrorKind::Declined,
        Some("クレジットカード利用限度額超過"),
        "card limit exceeded",
        None,
    ),
    (
        "23",
        ErrorKind::Declined,
        Some("クレジットカード使用不可"),
        "card cannot be used",
        None,
    ),
    (
        "24",
        ErrorKind::Declined,
        Some("暗証番号不正"),
        "wrong PIN",
        None,
    ),
    (
        "25",
        ErrorKind::Declined,
        Some("クレジットカード利用限度回数超過"),
        "card usage count exceeded",
        None,
    ),
    (
        "26",
        ErrorKind::Declined,
        Some("クレジットカード取扱不可"),
        "card not accepted",
        None,
    ),
    (
        "27",
        ErrorKind::Declined,
        Some("クレジットカード番号・有効期限誤り"),
        "wrong card number or expiry",
        None,
    ),
    (
        "28",
        ErrorKind::Declined,
        Some("取引内容取扱不可"),
        "transaction not accepted",
        None,
    ),
    (
        "29",
        ErrorKind::Declined,
        Some("指定ボーナス回数利用不可"),
        "bonus count not allowed",
        None,
    ),
    (
        "30",
        ErrorKind::Declined,
        Some("指定ボーナス月利用不可"),
        "bonus month not allowed",
        None,
    ),
    (
        "31",
        ErrorKind::Declined,
        Some("指定ボーナス金額利用不可"),
        "bonus amount not allowed",
        None,
    ),
    (
        "32",
        ErrorKind::Declined,
        Some("指定支払開始月利用不可"),
        "payment start month not allowed",
        None,
    ),
    (
        "33",
        ErrorKind::Declined,
        Some("指定分割回数利用不可"),
        "installment count not allowed",
        None,
    ),
    (
        "34",
        ErrorKind::Declined,
        Some("指定分割金額利用不可"),
        "installment amount not allowed",
        None,
    ),
    (
        "35",
        ErrorKind::Declined,
        Some("指定初回お支払い金額利用不可"),
        "first installment amount not allowed",
        None,
    ),
    (
        "36",
        ErrorKind::Declined,
        Some("その他与信エラー"),
        "authorization refused (other reason)",
        None,
    ),
    (
        "37",
        ErrorKind::Rejected,
        Some("自動売上が設定されているため、売上要求は不要です。"),
        "the merchant is on automatic sales: switch the SBPS contract to manual sales (指定売上)",
        None,
    ),
    (
        "38",
        ErrorKind::Rejected,
        Some("G 式の場合、ファイルにて売上処理を行ってください。"),
        "G-type merchant: sales go by file",
        None,
    ),
    (
        "39",
        ErrorKind::Rejected,
        Some("与信結果が存在しないため、売上処理を中止しました。"),
        "no authorization result to capture",
        None,
    ),
    (
        "40",
        ErrorKind::Rejected,
        Some("与信取消済みのため、売上処理を中止しました。"),
        "cannot capture: the authorization is already cancelled (G-5)",
        None,
    ),
    (
        "41",
        ErrorKind::AlreadyDone,
        Some("売上処理が完了済みのため、処理を中止しました。"),
        "already captured",
        Some(OperationKind::Capture),
    ),
    (
        "42",
        ErrorKind::Rejected,
        Some("売上処理の処理日時は、与信日から 3 ヶ月目末日まで有効です。"),
        "sales window closed (end of the 3rd month after authorization)",
        None,
    ),
    (
        "43",
        ErrorKind::Rejected,
        Some("G 式の場合、ファイルにて返金処理を行ってください。"),
        "G-type merchant: refunds go by file",
        None,
    ),
    (
        "44",
        ErrorKind::Rejected,
        Some("与信結果が存在しないため、返金処理を中止しました。"),
        "no authorization result to cancel or refund",
        None,
    ),
    (
        "45",
        ErrorKind::AlreadyDone,
        Some("与信取消済みのため、返金処理を中止しました。"),
        "already cancelled (authorization voided)",
        Some(OperationKind::Void),
    ),
    (
        "46",
        ErrorKind::AlreadyDone,
        Some("返金処理済みのため、返金処理を中止しました。"),
        "already refunded",
        Some(OperationKind::Refund),
    ),
    (
        "47",
        ErrorKind::Rejected,
        Some("継続課金中のため、返金処理を中止しました。"),
        "recurring billing in progress",
        None,
    ),
    (
        "49",
        ErrorKind::Rejected,
        Some("自動売上の場合、返金要求 API を使用して下さい。"),
        "automatic sales: use the refund function",
        None,
    ),
    (
        "50",
        ErrorKind::Rejected,
        Some("P 式の場合、返金要求 API を使用して下さい。"),
        "P-type merchant: use the refund function",
        None,
    ),
    (
        "51",
        ErrorKind::Rejected,
        Some("与信結果が存在しないため、与信取消処理を中止しました。"),
        "no authorization result to cancel",
        None,
    ),
    (
        "52",
        ErrorKind::AlreadyDone,
        Some("与信取消済みのため、与信取消処理を中止しました。"),
        "already cancelled (authorization voided)",
        Some(OperationKind::Void),
    ),
    (
        "54",
        ErrorKind::Rejected,
        Some("継続課金中のため、与信取消処理を中止しました。"),
        "recurring billing in progress",
        None,
    ),
    (
        "56",
        ErrorKind::Rejected,
        Some("返金処理は、売上日以降かつ、与信取消日から 3 ヶ月目 末日まで有効です。"),
        "refund window closed",
        None,
    ),
    (
        "57",
        ErrorKind::Rejected,
        Some("ご指定の継続課金は既に解約済みです。"),
        "recurring billing already ended",
        None,
    ),
    (
        "58",
        ErrorKind::Rejected,
        Some("継続課金使用中エラー"),
        "recurring billing in use",
        None,
    ),
    (
        "59",
        ErrorKind::Rejected,
        Some("自動売上(コミットフラグ適用)の場合、コミット実施後、返金処理を実施して下さい。"),
        "automatic sales: commit before refunding",
        None,
    ),
    (
        "60",
        ErrorKind::Rejected,
        Some("既に処理が完了しているため、コミット(取消)を実施出来ません。"),
        "commit not possible: already committed, sold or cancelled",
        None,
    ),
    (
        "61",
        ErrorKind::Declined,
        Some("セキュリティコード誤り"),
        "wrong security code",
        None,
    ),
    (
        "63",
        ErrorKind::Declined,
        Some("認証アシスト情報必須エラー (SmartLink 利用時対象)"),
        "SmartLink authentication data required",
        None,
    ),
    (
        "64",
        ErrorKind::Declined,
        Some("SmartLink センターエラー"),
        "SmartLink center error",
        None,
    ),
    (
        "65",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal (G12: card unusable)",
        None,
    ),
    (
        "66",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "67",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal (G44: security code)",
        None,
    ),
    (
        "68",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "69",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "70",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal (G60: lost or stolen card)",
        None,
    ),
    (
        "71",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal (G61: invalid card)",
        None,
    ),
    (
        "72",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "73",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal (G83: expiry)",
        None,
    ),
    (
        "74",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "75",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "76",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "77",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "78",
        ErrorKind::Rejected,
        Some("クレジットカード情報保存フラグ指定エラー"),
        "bad card-storage flag",
        None,
    ),
    (
        "79",
        ErrorKind::Rejected,
        Some("指定された金額が、与信時金額を越えているため、売上処理を中止しました。"),
        "capture amount exceeds the authorized amount",
        None,
    ),
    (
        "K0",
        ErrorKind::Rejected,
        Some("売上処理未実施のため、部分返金処理を中止しました。"),
        "partial refund before capture",
        None,
    ),
    (
        "K1",
        ErrorKind::Rejected,
        Some("返金金額の合計が、売上時金額を超えているため、部分返金処理を中止しました。"),
        "refunds would exceed the captured amount",
        None,
    ),
    (
        "K2",
        ErrorKind::Declined,
        Some("決済機関判定エラー"),
        "card company refusal",
        None,
    ),
    (
        "K3",
        ErrorKind::Rejected,
        Some("クレジットカードブランド返却フラグ指定エラー"),
        "bad card-brand return flag",
        None,
    ),
    (
        "K4",
        ErrorKind::Rejected,
        Some("与信結果が存在しないため、NG 与信情報変更処理を中止しました。"),
        "no authorization result to change",
        None,
    ),
    (
        "K5",
        ErrorKind::Rejected,
        Some("正常与信済みのため、NG 与信情報変更処理を中止しました。"),
        "authorization already succeeded; nothing to change",
        None,
    ),
    (
        "T1",
        ErrorKind::Rejected,
        None,
        "the card token could not be decrypted (bad or foreign token): ask for the card again",
        None,
    ),
    (
        "T2",
        ErrorKind::Rejected,
        None,
        "the card token has expired: ask for the card again",
        None,
    ),
    (
        "W0",
        ErrorKind::Rejected,
        None,
        "invalid sales, refund or cancel request (W0)",
        None,
    ),
    (
        "W1",
        ErrorKind::Rejected,
        None,
        "invalid sales, refund or cancel request (W1)",
        None,
    ),
    (
        "W2",
        ErrorKind::Rejected,
        None,
        "invalid sales, refund or cancel request (W2)",
        None,
    ),
    (
        "W3",
        ErrorKind::Rejected,
        None,
        "invalid sales, refund or cancel request (W3)",
        None,
    ),
    (
        "W4",
        ErrorKind::Rejected,
        None,
        "invalid sales, refund or cancel request (W4)",
        None,
    ),
    (
        "W5",
        ErrorKind::Rejected,
        None,
        "invalid sales, refund or cancel request (W5)",
        None,
    ),
    (
        "W6",
        ErrorKind::Rejected,
        None,
        "invalid sales, refund or cancel request (W6)",
        None,
    ),
];

/// Every row: credit types, common types under `101` and `999`, then a catch-all per method
/// for types SBPS lists as unused or adds later. An unknown type is still a refusal SBPS made
/// knowingly (it answered NG), so the catch-all is `Rejected` with the raw code kept.
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

/// The meaning of a type no table documents.
pub fn unknown() -> Row {
    Row {
        code: "*".into(),
        kind: ErrorKind::Rejected,
        ja: None,
        en: "SBPS error type not in the documented tables",
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
