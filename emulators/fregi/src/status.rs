//! The card-transaction status table (rule F-11), as data.
//!
//! F-REGI documents no status codes for card transactions (`docs/protocols/fregi.md` §6.2). The labels
//! are the ten of the seed manual, verbatim (full-width parentheses as the manual prints them);
//! the two-digit codes are the protocol notes' proposal (§10.2) plus `41` for the tenth status,
//! 通常処理（有効性確認済み）, which §10.2 does not list. The codes only appear on the
//! emulator's own inquiry extension and in dumps, never on F-REGI's own paths.

use serde::{Deserialize, Serialize};

/// Status of one card transaction (one `SEQNO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// `10` 承認済: authorized, the limit is reserved, capturable.
    #[serde(rename = "10")]
    Authorized,
    /// `11` 承認失敗: the authorization was declined (recorded only when `record_declines`).
    #[serde(rename = "11")]
    AuthorizationFailed,
    /// `12` 承認取消: voided by `authcancel`, or replaced by an amount change.
    #[serde(rename = "12")]
    AuthorizationCancelled,
    /// `20` 売上済（未伝送）: captured, not yet sent to the card company.
    #[serde(rename = "20")]
    SoldPending,
    /// `21` 売上済（伝送済）: captured and sent to the card company by the batch.
    #[serde(rename = "21")]
    SoldTransmitted,
    /// `22` 売上失敗: a combined authorize-and-sell (`salem`, due reservation) was declined.
    #[serde(rename = "22")]
    SaleFailed,
    /// `30` 売上取消（未伝送）: sale cancelled, the cancellation not yet sent.
    #[serde(rename = "30")]
    SaleCancelledPending,
    /// `31` 売上取消（伝送済）: sale cancellation sent by the batch.
    #[serde(rename = "31")]
    SaleCancelledTransmitted,
    /// `40` 予約（未オーソリ）: a reserved order waiting for its authorization.
    #[serde(rename = "40")]
    Reserved,
    /// `41` 通常処理（有効性確認済み）: a reservation whose authorization failed on release.
    #[serde(rename = "41")]
    ReleaseFailed,
}

/// One row of the status table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StatusInfo {
    /// The status.
    pub status: Status,
    /// Two-digit code used by the inquiry extension (`/__emulator__/info`, line 4).
    pub code: &'static str,
    /// The seed manual's label, verbatim.
    pub label: &'static str,
    /// Position in the seed manual's numbered list (1..=10).
    pub manual_no: u8,
    /// What the status means, in English.
    pub meaning: &'static str,
}

/// The ten statuses of the seed manual, in the manual's order.
#[rustfmt::skip]
pub const STATUSES: [StatusInfo; 10] = [
    row(Status::Authorized, "10", "承認済", 1, "authorized, capturable"),
    row(Status::AuthorizationCancelled, "12", "承認取消", 2, "authorization voided or replaced"),
    row(Status::AuthorizationFailed, "11", "承認失敗", 3, "authorization declined"),
    row(Status::SoldPending, "20", "売上済（未伝送）", 4, "captured, not yet transmitted"),
    row(Status::SoldTransmitted, "21", "売上済（伝送済）", 5, "captured and transmitted"),
    row(Status::SaleCancelledPending, "30", "売上取消（未伝送）", 6, "sale cancelled, not yet transmitted"),
    row(Status::SaleCancelledTransmitted, "31", "売上取消（伝送済）", 7, "sale cancellation transmitted"),
    row(Status::SaleFailed, "22", "売上失敗", 8, "authorize-and-sell declined"),
    row(Status::Reserved, "40", "予約（未オーソリ）", 9, "reservation awaiting authorization"),
    row(Status::ReleaseFailed, "41", "通常処理（有効性確認済み）", 10, "authorization failed on release"),
];

const fn row(
    status: Status,
    code: &'static str,
    label: &'static str,
    manual_no: u8,
    meaning: &'static str,
) -> StatusInfo {
    StatusInfo {
        status,
        code,
        label,
        manual_no,
        meaning,
    }
}

impl Status {
    /// Every status, in the seed manual's order.
    pub const ALL: [Status; 10] = [
        Status::Authorized,
        Status::AuthorizationCancelled,
        Status::AuthorizationFailed,
        Status::SoldPending,
        Status::SoldTransmitted,
        Status::SaleCancelledPending,
        Status::SaleCancelledTransmitted,
        Status::SaleFailed,
        Status::Reserved,
        Status::ReleaseFailed,
    ];

    /// The table row of this status.
    pub fn info(self) -> &'static StatusInfo {
        // The table holds every variant exactly once (checked by a unit test).
        STATUSES
            .iter()
            .find(|row| row.status == self)
            .unwrap_or(&STATUSES[0])
    }

    /// Two-digit code (`"10"` … `"41"`).
    pub fn code(self) -> &'static str {
        self.info().code
    }

    /// The seed manual's label.
    pub fn label(self) -> &'static str {
        self.info().label
    }

    /// Parses a two-digit code.
    pub fn from_code(code: &str) -> Option<Status> {
        STATUSES
            .iter()
            .find(|row| row.code == code)
            .map(|row| row.status)
    }

    /// True for the sold states (`20`, `21`).
    pub fn is_sold(self) -> bool {
        matches!(self, Status::SoldPending | Status::SoldTransmitted)
    }

    /// True for the sale-cancelled states (`30`, `31`).
    pub fn is_sale_cancelled(self) -> bool {
        matches!(
            self,
            Status::SaleCancelledPending | Status::SaleCancelledTransmitted
        )
    }

    /// True for the states that mean "the gateway refused" (`11`, `22`, `41`): such a
    /// transaction does not hold its `ID` against reuse.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Status::AuthorizationFailed | Status::SaleFailed | Status::ReleaseFailed
        )
    }

    /// True when this state's data has reached the card company (`21`, `31`).
    pub fn is_transmitted(self) -> bool {
        matches!(
            self,
            Status::SoldTransmitted | Status::SaleCancelledTransmitted
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f11_table_has_the_ten_manual_statuses_once_each() {
        assert_eq!(STATUSES.len(), 10);
        for (i, row) in STATUSES.iter().enumerate() {
            assert_eq!(usize::from(row.manual_no), i + 1);
            assert_eq!(Status::ALL[i], row.status);
            assert_eq!(Status::from_code(row.code), Some(row.status));
            assert_eq!(row.status.info(), row);
        }
        let mut codes: Vec<_> = STATUSES.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 10);
    }
}
