//! The `NG` reason table, as data.
//!
//! F-REGI's authoritative error list is only visible after login (`docs/protocols/fregi.md` §5.1). Reasons follow
//! the observed pattern `<API>-1-<nnn>(<operation>時の<subject>は<problem>)`; the few codes seen in
//! public sources are marked [`observed`](CodeEntry::observed), every other code is an invented
//! placeholder (`docs/protocols/fregi.md` §10.1) to be swapped for the real one when it is known. Everything the
//! emulator can answer with is in [`catalogue()`] so that the swap happens in one place.
//!
//! Two messages are verbatim from the seed manual (rule F-10) and must never change:
//! `売上処理時の指定された取引は売上受付済みです` and `売上処理時の指定された取引は承認取消済みです`.
//! The manual quotes the real screen without 「既に」, so no message here adds it.

use serde::{Deserialize, Serialize};

/// The API a reason belongs to: it names the code prefix and the operation word of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `authm.cgi` (`A1`, observed).
    Authm,
    /// `sale.cgi` (`S1`, observed).
    Sale,
    /// `authcancel.cgi` (`A2`, inferred by elimination).
    AuthCancel,
    /// `salecancel.cgi` (`S2`, inferred by elimination).
    SaleCancel,
    /// `authchange.cgi` (`A3`, observed).
    AuthChange,
    /// `salechange.cgi` (`S3`, observed).
    SaleChange,
    /// `salem.cgi` (`M1`, invented).
    Salem,
    /// `customerinfo.cgi` (`C1`, invented).
    CustomerInfo,
    /// `leavecustomer.cgi` (`C2`, invented).
    LeaveCustomer,
    /// The emulator's inquiry extension `/__emulator__/info` (`X1`, `docs/protocols/fregi.md` §10.3).
    Inquiry,
}

impl Api {
    /// Code prefix, e.g. `S1`.
    pub fn prefix(self) -> &'static str {
        match self {
            Api::Authm => "A1",
            Api::Sale => "S1",
            Api::AuthCancel => "A2",
            Api::SaleCancel => "S2",
            Api::AuthChange => "A3",
            Api::SaleChange => "S3",
            Api::Salem => "M1",
            Api::CustomerInfo => "C1",
            Api::LeaveCustomer => "C2",
            Api::Inquiry => "X1",
        }
    }

    /// The operation word that opens every message (`<operation>時の…`).
    pub fn operation(self) -> &'static str {
        match self {
            Api::Authm => "承認処理",
            Api::Sale => "売上処理",
            Api::AuthCancel => "承認取消",
            Api::SaleCancel => "売上取消",
            Api::AuthChange => "承認金額変更",
            Api::SaleChange => "売上金額変更",
            Api::Salem => "月次売上処理",
            Api::CustomerInfo => "顧客情報取得",
            Api::LeaveCustomer => "顧客ID削除",
            Api::Inquiry => "照会",
        }
    }

    /// Every API, for the catalogue.
    pub const ALL: [Api; 10] = [
        Api::Authm,
        Api::Sale,
        Api::AuthCancel,
        Api::SaleCancel,
        Api::AuthChange,
        Api::SaleChange,
        Api::Salem,
        Api::CustomerInfo,
        Api::LeaveCustomer,
        Api::Inquiry,
    ];
}

/// Why a request was refused by F-REGI's own checks (acquirer declines are separate: they carry
/// a configured `JCN-Gxx` reason, see [`crate::config::DeclineRule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// `SHOPID` absent.
    ShopIdMissing,
    /// `SHOPID` not a configured shop.
    ShopIdUnknown,
    /// `PAY` absent.
    PayMissing,
    /// `PAY` above 9,999,999 (or above the current amount when `salechange_forbid_increase`).
    PayTooLarge,
    /// `PAY` below 2 (rule F-7).
    PayTooSmall,
    /// `PAY` not plain digits (e.g. with commas).
    PayMalformed,
    /// No card source (PAN, `TOKEN`, or a stored `CUSTOMERID`).
    CardMissing,
    /// Card number not 14–16 digits or failing the Luhn check.
    CardInvalid,
    /// Both a PAN and a `TOKEN` were sent.
    CardAmbiguous,
    /// `CARDEXPIRY1` absent.
    MonthMissing,
    /// `CARDEXPIRY1` not 01–12.
    MonthInvalid,
    /// `CARDEXPIRY2` absent.
    YearMissing,
    /// `CARDEXPIRY2` not two digits.
    YearInvalid,
    /// Expiry before the current month (emulator clock, JST).
    CardExpired,
    /// `ID` already used by a transaction that did not fail.
    DuplicateId,
    /// `ID` longer than 20 characters or outside `[A-Za-z0-9-]`.
    IdInvalid,
    /// `CARDNAME` absent (when `require_card_name`).
    NameMissing,
    /// `CARDNAME` not ASCII or longer than 45 characters.
    NameInvalid,
    /// `SCODE` absent (when `require_scode`).
    ScodeMissing,
    /// `SCODE` longer than 4 digits.
    ScodeTooLong,
    /// `SCODE` not 3–4 digits.
    ScodeInvalid,
    /// `CUSTOMERID` absent where required.
    CustomerIdMissing,
    /// `CUSTOMERID` longer than 20 characters or outside `[A-Za-z0-9-]`.
    CustomerIdInvalid,
    /// `CUSTOMERID` not registered.
    CustomerUnknown,
    /// `TOKEN` unknown (or already used, when `single_use_tokens`).
    TokenInvalid,
    /// `TOKEN` expired.
    TokenExpired,
    /// `SALEDATE` not `YYYY/MM/DD` or `YYYYMMDD`.
    SaleDateInvalid,
    /// `SEQNO` / `CANCELSEQNO` absent or not 1–20 digits.
    SeqnoMissing,
    /// `sale.cgi` without `AUTHCODE` (when `require_sale_authcode`). A stand-in: F-REGI's own
    /// answer is not public; every production client sends it (`docs/protocols/fregi.md` §4.2).
    AuthcodeMissing,
    /// `FREE` with a character that is not half-width (printable ASCII). A stand-in: the spec
    /// allows half-width characters only (F-REGI spec §1.2), F-REGI's code for it is not public.
    FreeInvalid,
    /// No such transaction for this shop (or `AUTHCODE` does not match it).
    NotFound,
    /// The transaction is already sold (`20`/`21`).
    AlreadySold,
    /// The transaction is already authorization-cancelled (`12`).
    AlreadyAuthCancelled,
    /// The transaction is already sale-cancelled (`30`/`31`).
    AlreadySaleCancelled,
    /// A sale-side operation on a transaction that was never sold.
    NotSold,
    /// The capture window has passed.
    DeadlinePassed,
    /// The transaction failed (`11`, `22`, `41`).
    FailedTransaction,
    /// The transaction is a reservation not yet authorized (`40`).
    NotAuthorizedYet,
}

/// Number and message text (after `<operation>時の`) of each problem, and which APIs are known
/// to use that code in public sources.
#[rustfmt::skip]
const TABLE: &[(Problem, u16, &str, &[Api])] = &[
    (Problem::ShopIdMissing, 10, "店舗IDが指定されていません", &[]),
    (Problem::ShopIdUnknown, 10, "店舗IDが正しくありません", &[]),
    (Problem::PayMissing, 20, "金額が指定されていません", &[]),
    (Problem::PayTooLarge, 21, "金額が大きすぎます", &[Api::AuthChange, Api::SaleChange]),
    (Problem::PayTooSmall, 22, "金額が小さすぎます", &[Api::AuthChange, Api::SaleChange]),
    (Problem::PayMalformed, 23, "金額が正しくありません", &[]),
    (Problem::CardMissing, 30, "カード番号が指定されていません", &[Api::Authm]),
    (Problem::CardInvalid, 31, "カード番号が正しくありません", &[Api::Authm]),
    (Problem::CardAmbiguous, 32, "カード番号とトークンが同時に指定されています", &[]),
    (Problem::MonthMissing, 40, "有効期限(月)が指定されていません", &[Api::Authm]),
    (Problem::MonthInvalid, 41, "有効期限(月)が正しくありません", &[Api::Authm]),
    (Problem::YearMissing, 50, "有効期限(年)が指定されていません", &[Api::Authm]),
    (Problem::YearInvalid, 51, "有効期限(年)が正しくありません", &[Api::Authm]),
    (Problem::CardExpired, 52, "カードは有効期限切れです", &[Api::Authm]),
    (Problem::DuplicateId, 60, "伝票番号は既に使用されています", &[]),
    (Problem::IdInvalid, 61, "伝票番号が正しくありません", &[]),
    (Problem::NameMissing, 70, "カード名義が指定されていません", &[]),
    (Problem::NameInvalid, 71, "カード名義が正しくありません", &[]),
    (Problem::ScodeMissing, 130, "セキュリティコードが指定されていません", &[Api::Authm]),
    (Problem::ScodeTooLong, 131, "セキュリティコードが長すぎます", &[Api::Authm]),
    (Problem::ScodeInvalid, 132, "セキュリティコードが正しくありません", &[Api::Authm]),
    (Problem::CustomerIdMissing, 160, "顧客番号が指定されていません", &[]),
    (Problem::CustomerIdInvalid, 161, "顧客番号が正しくありません", &[]),
    (Problem::CustomerUnknown, 162, "指定された顧客番号は存在しません", &[]),
    (Problem::TokenInvalid, 170, "トークンが正しくありません", &[Api::Authm]),
    (Problem::TokenExpired, 171, "トークンの有効期限が切れています", &[Api::Authm]),
    (Problem::SaleDateInvalid, 180, "売上日が正しくありません", &[]),
    (Problem::SeqnoMissing, 110, "取引番号が正しくありません", &[]),
    (Problem::AuthcodeMissing, 111, "承認番号が指定されていません", &[]),
    (Problem::FreeInvalid, 190, "フリー項目に半角以外の文字が含まれています", &[]),
    (Problem::NotFound, 120, "指定された取引は存在しません", &[]),
    (Problem::AlreadySold, 121, "指定された取引は売上受付済みです", &[]),
    (Problem::AlreadyAuthCancelled, 122, "指定された取引は承認取消済みです", &[]),
    (Problem::AlreadySaleCancelled, 123, "指定された取引は売上取消済みです", &[]),
    (Problem::NotSold, 124, "指定された取引は売上処理されていません", &[]),
    (Problem::DeadlinePassed, 125, "指定された取引は売上処理期限を超過しています", &[Api::Sale]),
    (Problem::FailedTransaction, 126, "指定された取引は処理に失敗しています", &[]),
    (Problem::NotAuthorizedYet, 127, "指定された取引は承認されていません", &[]),
];

/// Codes whose message text (not only the code) is verbatim from a public source.
const VERBATIM: &[(Api, Problem)] = &[
    (Api::Sale, Problem::AlreadySold),
    (Api::Sale, Problem::AlreadyAuthCancelled),
    (Api::Sale, Problem::DeadlinePassed),
    (Api::SaleChange, Problem::PayTooLarge),
];

fn row(problem: Problem) -> (u16, &'static str, &'static [Api]) {
    TABLE
        .iter()
        .find(|(p, ..)| *p == problem)
        .map(|(_, n, text, seen)| (*n, *text, *seen))
        // Every variant has a row (checked by a unit test).
        .unwrap_or((0, "", &[]))
}

/// One `NG` reason line: `CODE(message)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}({message})")]
pub struct Ng {
    /// The code, e.g. `S1-1-121` or `JCN-G55`.
    pub code: String,
    /// The Japanese message, without parentheses.
    pub message: String,
}

impl Ng {
    /// The reason `api` gives for `problem`.
    pub fn of(api: Api, problem: Problem) -> Ng {
        let (number, text, _) = row(problem);
        Ng {
            code: format!("{}-1-{}", api.prefix(), number),
            message: format!("{}時の{}", api.operation(), text),
        }
    }

    /// A reason with a free code and message (acquirer declines, forced faults).
    pub fn custom(code: impl Into<String>, message: impl Into<String>) -> Ng {
        Ng {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The reason line as it goes on the wire (`CODE(message)`).
    pub fn line(&self) -> String {
        self.to_string()
    }
}

/// One entry of [`catalogue()`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeEntry {
    /// API the code belongs to.
    pub api: Api,
    /// Problem it reports.
    pub problem: Problem,
    /// The reason as sent.
    pub ng: Ng,
    /// The code was seen in a public source for this API.
    pub observed: bool,
    /// The message text, too, is verbatim from a public source.
    pub verbatim: bool,
}

/// Which problems each API can report (the emulator never answers with another pair).
#[rustfmt::skip]
const USED: &[(Api, &[Problem])] = {
    use Problem::*;
    &[
        (Api::Authm, &[
            ShopIdMissing, ShopIdUnknown, PayMissing, PayTooLarge, PayTooSmall, PayMalformed, CardMissing,
            CardInvalid, CardAmbiguous, MonthMissing, MonthInvalid, YearMissing, YearInvalid, CardExpired,
            DuplicateId, IdInvalid, NameMissing, NameInvalid, ScodeMissing, ScodeTooLong, ScodeInvalid,
            CustomerIdMissing, CustomerIdInvalid, CustomerUnknown, TokenInvalid, TokenExpired, FreeInvalid,
        ]),
        (Api::Sale, &[
            ShopIdMissing, ShopIdUnknown, SeqnoMissing, AuthcodeMissing, NotFound, AlreadySold,
            AlreadyAuthCancelled, AlreadySaleCancelled, DeadlinePassed, FailedTransaction, NotAuthorizedYet,
        ]),
        (Api::AuthCancel, &[
            ShopIdMissing, ShopIdUnknown, SeqnoMissing, NotFound, AlreadySold, AlreadyAuthCancelled,
            AlreadySaleCancelled, FailedTransaction,
        ]),
        (Api::SaleCancel, &[
            ShopIdMissing, ShopIdUnknown, SeqnoMissing, NotFound, AlreadyAuthCancelled, AlreadySaleCancelled,
            NotSold, FailedTransaction,
        ]),
        (Api::AuthChange, &[
            ShopIdMissing, ShopIdUnknown, PayMissing, PayTooLarge, PayTooSmall, PayMalformed, SeqnoMissing,
            NotFound, AlreadySold, AlreadyAuthCancelled, AlreadySaleCancelled, DeadlinePassed,
            FailedTransaction, NotAuthorizedYet, CardExpired,
        ]),
        (Api::SaleChange, &[
            ShopIdMissing, ShopIdUnknown, PayMissing, PayTooLarge, PayTooSmall, PayMalformed, SeqnoMissing,
            NotFound, AlreadyAuthCancelled, AlreadySaleCancelled, NotSold, FailedTransaction, CardExpired,
        ]),
        (Api::Salem, &[
            ShopIdMissing, ShopIdUnknown, PayMissing, PayTooLarge, PayTooSmall, PayMalformed, CustomerIdMissing,
            CustomerIdInvalid, CustomerUnknown, SaleDateInvalid, DuplicateId, IdInvalid, CardExpired,
        ]),
        (Api::CustomerInfo, &[ShopIdMissing, ShopIdUnknown, CustomerIdMissing, CustomerIdInvalid, CustomerUnknown]),
        (Api::LeaveCustomer, &[ShopIdMissing, ShopIdUnknown, CustomerIdMissing, CustomerIdInvalid, CustomerUnknown]),
        (Api::Inquiry, &[ShopIdMissing, ShopIdUnknown, SeqnoMissing, NotFound]),
    ]
};

/// Every reason the emulator's own checks can produce, with its provenance. Printed by the CLI,
/// listed in the README; acquirer declines come from the configuration instead.
pub fn catalogue() -> Vec<CodeEntry> {
    USED.iter()
        .flat_map(|(api, problems)| {
            problems.iter().map(move |&problem| {
                let (_, _, seen) = row(problem);
                CodeEntry {
                    api: *api,
                    problem,
                    ng: Ng::of(*api, problem),
                    observed: seen.contains(api),
                    verbatim: VERBATIM.contains(&(*api, problem)),
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f10_sale_messages_are_the_manuals_words() {
        assert_eq!(
            Ng::of(Api::Sale, Problem::AlreadySold).line(),
            "S1-1-121(売上処理時の指定された取引は売上受付済みです)"
        );
        assert_eq!(
            Ng::of(Api::Sale, Problem::AlreadyAuthCancelled).line(),
            "S1-1-122(売上処理時の指定された取引は承認取消済みです)"
        );
    }

    #[test]
    fn observed_texts_are_reproduced() {
        assert_eq!(
            Ng::of(Api::Sale, Problem::DeadlinePassed).line(),
            "S1-1-125(売上処理時の指定された取引は売上処理期限を超過しています)"
        );
        assert_eq!(
            Ng::of(Api::SaleChange, Problem::PayTooLarge).line(),
            "S3-1-21(売上金額変更時の金額が大きすぎます)"
        );
        assert_eq!(
            Ng::of(Api::Inquiry, Problem::NotFound).line(),
            "X1-1-120(照会時の指定された取引は存在しません)"
        );
    }

    #[test]
    fn every_problem_has_a_row_and_no_message_says_kisoni() {
        for entry in catalogue() {
            assert!(row(entry.problem).0 != 0, "{:?} has no row", entry.problem);
            assert!(!entry.ng.message.contains("既に指定された取引"));
            assert!(
                !entry.ng.message.contains("取引は既に"),
                "{}",
                entry.ng.message
            );
        }
    }

    #[test]
    fn codes_are_unique_per_api_and_problem_text() {
        let all = catalogue();
        for a in &all {
            for b in &all {
                if a.ng.code == b.ng.code && a.problem != b.problem {
                    // Only the SHOPID pair and nothing else shares a code.
                    assert!(
                        matches!(a.problem, Problem::ShopIdMissing | Problem::ShopIdUnknown),
                        "{a:?} / {b:?}"
                    );
                }
            }
        }
    }
}
