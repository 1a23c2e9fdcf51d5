//! JST wall-clock date-times in the form SBPS writes them (`YYYYMMDDhhmmss`).
//!
//! SBPS speaks Japan time only (§3.2: `request_date`, `res_date`, `res_process_date` are all JST),
//! and Japan has no daylight-saving time, so a plain count of seconds on the JST wall clock is
//! exact. The calendar (fields, month arithmetic, validity) is jiff's civil calendar, with no
//! time-zone database: the count of seconds is read as a civil date-time from 1970-01-01.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil::{self, DateTime};
use jiff::{SignedDuration, ToSpan};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const JST_OFFSET_SECS: i64 = 9 * 3600;
#[cfg(test)]
const SECS_PER_DAY: i64 = 86_400;
/// The origin of the JST wall-clock count.
const EPOCH: DateTime = civil::date(1970, 1, 1).at(0, 0, 0, 0);

/// A moment on the JST wall clock, to the second.
///
/// Stored as seconds since 1970-01-01 00:00:00 **JST** (that is, Unix time plus nine hours), so
/// that the calendar fields can be read off without a time-zone table.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct JstDateTime(i64);

/// A `YYYYMMDDhhmmss` (or `YYYYMM`) string that is not a real date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid JST date-time in the form YYYYMMDDhhmmss: {0:?}")]
pub struct TimeParseError(pub String);

impl JstDateTime {
    /// The current time of the host's clock, converted to JST.
    pub fn now_system() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self::from_unix(unix)
    }

    /// From Unix time (seconds since 1970-01-01 00:00:00 UTC).
    pub fn from_unix(unix_secs: i64) -> Self {
        Self(unix_secs + JST_OFFSET_SECS)
    }

    /// Unix time (seconds since 1970-01-01 00:00:00 UTC) of this moment.
    pub fn unix(self) -> i64 {
        self.0 - JST_OFFSET_SECS
    }

    /// Builds a date-time from calendar fields; `None` if any field is out of range
    /// (month 13, 31 February, hour 24, ...).
    pub fn from_parts(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        min: u32,
        sec: u32,
    ) -> Option<Self> {
        let field = |v: u32| i8::try_from(v).ok();
        let civil = DateTime::new(
            i16::try_from(year).ok()?,
            field(month)?,
            field(day)?,
            field(hour)?,
            field(min)?,
            field(sec)?,
            0,
        )
        .ok()?;
        Some(Self::from_civil(civil))
    }

    fn from_civil(civil: DateTime) -> Self {
        Self(civil.duration_since(EPOCH).as_secs())
    }

    /// The civil date-time on the JST wall clock. jiff's calendar spans the years -9999 to 9999;
    /// a moment pushed beyond (only by saturating arithmetic) reads as that range's end.
    fn civil(self) -> DateTime {
        EPOCH
            .checked_add(SignedDuration::from_secs(self.0))
            .unwrap_or(if self.0 < 0 {
                DateTime::MIN
            } else {
                DateTime::MAX
            })
    }

    /// Parses the 14-digit SBPS form `YYYYMMDDhhmmss`.
    pub fn parse(text: &str) -> Result<Self, TimeParseError> {
        let err = || TimeParseError(text.to_owned());
        let b = text.as_bytes();
        if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) {
            return Err(err());
        }
        let num = |from: usize, to: usize| -> u32 {
            b[from..to]
                .iter()
                .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        Self::from_parts(
            num(0, 4) as i32,
            num(4, 6),
            num(6, 8),
            num(8, 10),
            num(10, 12),
            num(12, 14),
        )
        .ok_or_else(err)
    }

    /// Calendar date `(year, month, day)`.
    pub fn date(self) -> (i32, u32, u32) {
        let civil = self.civil();
        (
            i32::from(civil.year()),
            civil.month().unsigned_abs().into(),
            civil.day().unsigned_abs().into(),
        )
    }

    /// Time of day `(hour, minute, second)`.
    pub fn time_of_day(self) -> (u32, u32, u32) {
        let civil = self.civil();
        (
            civil.hour().unsigned_abs().into(),
            civil.minute().unsigned_abs().into(),
            civil.second().unsigned_abs().into(),
        )
    }

    /// Midnight at the start of this day. SBPS reports the process date of a sale or refund
    /// as the business date with time `000000` (§6.3).
    pub fn start_of_day(self) -> Self {
        Self::from_civil(self.civil().start_of_day())
    }

    /// This moment moved by `secs` seconds (negative moves back).
    pub fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// Seconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn secs_since(self, earlier: Self) -> i64 {
        self.0 - earlier.0
    }

    /// The last second (23:59:59) of the month that lies `months` calendar months after this
    /// moment's month. `months = 3` on any day of January gives 30 April 23:59:59.
    pub fn end_of_month_after(self, months: u32) -> Self {
        let month = self.civil().date().first_of_month();
        let last_day = month
            .checked_add(i64::from(months).months())
            .unwrap_or(civil::Date::MAX)
            .last_of_month();
        Self::from_civil(last_day.at(23, 59, 59, 0))
    }

    /// `true` if a card whose expiry month is `year`/`month` (`YYYYMM`, valid through the end of
    /// that month) has expired at this moment.
    pub fn is_after_month(self, year: i32, month: u32) -> bool {
        let (y, m, _) = self.date();
        (y, m) > (year, month)
    }

    /// The 14-digit SBPS form `YYYYMMDDhhmmss`.
    pub fn to_sbps(self) -> String {
        let mut out = String::with_capacity(14);
        self.write_sbps(&mut out);
        out
    }

    /// The date as `YYYYMMDD`.
    pub fn to_sbps_date(self) -> String {
        let mut full = self.to_sbps();
        full.truncate(8);
        full
    }

    fn write_sbps(self, out: &mut String) {
        let (y, mo, d) = self.date();
        let (h, mi, s) = self.time_of_day();
        use fmt::Write;
        // Writing to a String cannot fail.
        let _ = write!(out, "{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}");
    }
}

impl fmt::Display for JstDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sbps())
    }
}

impl std::str::FromStr for JstDateTime {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for JstDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_sbps())
    }
}

impl<'de> Deserialize<'de> for JstDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses a card expiry `YYYYMM` into `(year, month)`.
pub(crate) fn parse_year_month(text: &str) -> Option<(i32, u32)> {
    let b = text.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year: i32 = text[..4].parse().ok()?;
    let month: u32 = text[4..].parse().ok()?;
    (1..=12).contains(&month).then_some((year, month))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
#[cfg(test)]
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = i32::try_from(year).expect("year in range");
    JstDateTime::from_parts(year, month, day, 0, 0, 0)
        .expect("a real date")
        .0
        .div_euclid(SECS_PER_DAY)
}

/// Inverse of [`days_from_civil`].
#[cfg(test)]
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let (year, month, day) = JstDateTime(days * SECS_PER_DAY).date();
    (i64::from(year), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        for text in [
            "20240102030405",
            "20000229235959",
            "19700101000000",
            "20991231235959",
        ] {
            assert_eq!(JstDateTime::parse(text).unwrap().to_sbps(), text);
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        for text in [
            "20230229000000",
            "20241301000000",
            "20240100000000",
            "20240101240000",
            "2024010100000",
            "2024010100000x",
        ] {
            assert!(JstDateTime::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn unix_epoch_is_nine_in_the_morning_in_japan() {
        assert_eq!(JstDateTime::from_unix(0).to_sbps(), "19700101090000");
        let t = JstDateTime::parse("20240102030405").unwrap();
        assert_eq!(JstDateTime::from_unix(t.unix()), t);
    }

    #[test]
    fn end_of_month_after_counts_calendar_months() {
        let jan = JstDateTime::parse("20240115120000").unwrap();
        assert_eq!(jan.end_of_month_after(3).to_sbps(), "20240430235959");
        let nov = JstDateTime::parse("20231130000000").unwrap();
        assert_eq!(nov.end_of_month_after(3).to_sbps(), "20240229235959");
    }

    #[test]
    fn start_of_day_and_expiry_months() {
        let t = JstDateTime::parse("20240102030405").unwrap();
        assert_eq!(t.start_of_day().to_sbps(), "20240102000000");
        assert!(t.is_after_month(2023, 12));
        assert!(!t.is_after_month(2024, 1));
        assert_eq!(parse_year_month("202412"), Some((2024, 12)));
        assert_eq!(parse_year_month("202413"), None);
    }

    #[test]
    fn civil_conversion_is_exact_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    proptest::proptest! {
        #[test]
        fn every_second_formats_and_parses_back(secs in 0i64..5_000_000_000) {
            let t = JstDateTime::from_unix(secs);
            proptest::prop_assert_eq!(JstDateTime::parse(&t.to_sbps()).unwrap(), t);
        }
    }
}
