//! GMO-PG's transaction statuses (`SearchTrade` `Status`, `docs/protocols/gmopg.md` §6), as
//! data: exported in the manifest, used to read every inquiry.
//!
//! Sources: the ten codes and their Japanese names are S4's (JavaScript/TypeScript clients'
//! `STATUS_CREDIT_*` constants with 未決済 … 簡易オーソリ); `UNPROCESSED` is also in S1's recorded
//! `SearchTrade` reply. What each means for the money is §6's reading, inferred where marked.
//!
//! `VOID`, `RETURN` and `RETURNX` do not say what was cancelled (§6): an authorization (for
//! the shop, voided) or a sale (refunded). GMO-PG's reply does not tell them apart, so the
//! plugin reads them with what the host knows: a payment the host saw captured
//! (`Context::dates.captured_at`) was a sale, and its cancel is reported under the code
//! `STATUS(SALES)` (`VOID(SALES)` …), a row of its own so that the table, not the plugin,
//! says what each reading means. The bare code is the cancel of an authorization. These three
//! `(SALES)` codes are the plugin's, not GMO-PG's; they never appear on the wire.

use renkei_sdk::{PaymentState, RefundExtent, Settlement, StatusEntry, status_row};

pub const UNPROCESSED: &str = "UNPROCESSED";
pub const AUTHENTICATED: &str = "AUTHENTICATED";
pub const CHECK: &str = "CHECK";
pub const CAPTURE: &str = "CAPTURE";
pub const AUTH: &str = "AUTH";
pub const SALES: &str = "SALES";
pub const VOID: &str = "VOID";
pub const RETURN: &str = "RETURN";
pub const RETURNX: &str = "RETURNX";
pub const SAUTH: &str = "SAUTH";
/// The cancels of a sale (see the module's documentation).
pub const VOID_SALE: &str = "VOID(SALES)";
pub const RETURN_SALE: &str = "RETURN(SALES)";
pub const RETURNX_SALE: &str = "RETURNX(SALES)";

/// (code, label, unified state, terminal), in §6's order. GMO-PG does not report settlement
/// (transmission to the card company), hence `Settlement::NotReported`.
///
/// - `UNPROCESSED`, `AUTHENTICATED`: an order id registered (and 3-D Secure authenticated),
///   not executed: nothing reserved; an `ExecTran` may follow. `AUTHENTICATED` as
///   `Registered` is inferred from its name 未決済(3D登録済) ([INF]).
/// - `CHECK`: a card check (有効性チェック), no money, nothing can follow.
/// - `CAPTURE` (即時売上) and `SALES` (実売上): captured.
/// - `AUTH` (仮売上): authorized. `SAUTH` (簡易オーソリ): an authorization without a card
///   company's full check, read as authorized ([INF]: §6 gives only its name).
/// - `VOID`/`RETURN`/`RETURNX` of an authorization: voided, final. Of a sale: refunded in
///   full, final (a partial refund is a `ChangeTran` down that leaves the sale `SALES`, §7.3).
#[rustfmt::skip]
pub fn table() -> Vec<StatusEntry> {
    use PaymentState::*;
    let captured = Captured { settlement: Settlement::NotReported };
    let refunded = Refunded { extent: RefundExtent::Full, settlement: Settlement::NotReported };
    vec![
        status_row(UNPROCESSED,   "未決済",                      Registered,       false),
        status_row(AUTHENTICATED, "未決済(3D登録済)",            Registered,       false),
        status_row(CHECK,         "有効性チェック",              Verified,         true),
        status_row(CAPTURE,       "即時売上",                    captured.clone(), false),
        status_row(AUTH,          "仮売上",                      Authorized,       false),
        status_row(SALES,         "実売上",                      captured,         false),
        status_row(VOID,          "取消 (仮売上の取消)",         Voided,           true),
        status_row(RETURN,        "返品 (仮売上の取消)",         Voided,           true),
        status_row(RETURNX,       "月跨り返品 (仮売上の取消)",   Voided,           true),
        status_row(SAUTH,         "簡易オーソリ",                Authorized,       false),
        status_row(VOID_SALE,     "取消 (売上の取消)",           refunded.clone(), true),
        status_row(RETURN_SALE,   "返品 (売上の取消)",           refunded.clone(), true),
        status_row(RETURNX_SALE,  "月跨り返品 (売上の取消)",     refunded,         true),
    ]
}

/// The code an inquiry reports for GMO-PG's `status`: a cancel of a payment the host saw
/// captured is the cancel of a sale; every other status is reported as GMO-PG wrote it (an
/// unseen one too, which the table then reads as `Unknown` with the raw code).
pub fn reported(status: &str, captured: bool) -> String {
    match (status, captured) {
        (VOID, true) => VOID_SALE.to_owned(),
        (RETURN, true) => RETURN_SALE.to_owned(),
        (RETURNX, true) => RETURNX_SALE.to_owned(),
        (other, _) => other.to_owned(),
    }
}

/// The three cancels of §7.1, by when the cancel is sent relative to the transaction's date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Cancel {
    /// The same day (Japan's date).
    Void,
    /// A later day of the same month.
    Return,
    /// A later month.
    ReturnX,
}

impl Cancel {
    /// The cancel to send on `today` for a transaction of `day` (civil dates in JST, §7.1).
    /// A day after `today` (a clock behind the gateway's) is read as today.
    pub fn on(today: (i64, u32, u32), day: (i64, u32, u32)) -> Cancel {
        if today <= day {
            Cancel::Void
        } else if (today.0, today.1) == (day.0, day.1) {
            Cancel::Return
        } else {
            Cancel::ReturnX
        }
    }

    /// The `JobCd` sent to `AlterTran`.
    pub fn job(self) -> &'static str {
        match self {
            Cancel::Void => VOID,
            Cancel::Return => RETURN,
            Cancel::ReturnX => RETURNX,
        }
    }

    /// The status code the cancel leaves, of a sale or of an authorization.
    pub fn status(self, of_sale: bool) -> &'static str {
        match (self, of_sale) {
            (Cancel::Void, false) => VOID,
            (Cancel::Return, false) => RETURN,
            (Cancel::ReturnX, false) => RETURNX,
            (Cancel::Void, true) => VOID_SALE,
            (Cancel::Return, true) => RETURN_SALE,
            (Cancel::ReturnX, true) => RETURNX_SALE,
        }
    }
}
