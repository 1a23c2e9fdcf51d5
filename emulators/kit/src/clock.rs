//! An emulator's clock and the calendar computations Japanese gateways' rules need (JST dates
//! for card expiry, F-REGI's `SALEDATE` and daily batch, GMO-PG's cancel date rule and 180-day
//! rule), on jiff's civil calendar. JST is a fixed UTC+9, so no time-zone database is read.
//!
//! The clock is the host's clock plus an offset that tests set or advance, so deadlines, batch
//! cut-offs, the next day or month can be reached without waiting. It never runs backwards on
//! its own. A protocol's own date formats stay in its emulator.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil;
use jiff::{SignedDuration, Unit};

/// Seconds since the Unix epoch (UTC), the emulator's timestamp.
pub type Timestamp = i64;

/// JST is UTC+9 with no daylight saving.
pub const JST_OFFSET: i64 = 9 * 3600;

/// Host time plus an adjustable offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: i64,
}

impl Clock {
    /// A clock reading `start` now (or the host time when `None`).
    pub fn starting_at(start: Option<Timestamp>) -> Clock {
        let mut clock = Clock::default();
        if let Some(t) = start {
            clock.set(t);
        }
        clock
    }

    /// Current emulator time.
    pub fn now(&self) -> Timestamp {
        host_now() + self.offset
    }

    /// Makes the clock read `t` now.
    pub fn set(&mut self, t: Timestamp) {
        self.offset = t - host_now();
    }

    /// Moves the clock forward by `seconds` (negative values move it back).
    pub fn advance(&mut self, seconds: i64) {
        self.offset += seconds;
    }
}

fn host_now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2026.
    pub year: i32,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
}

/// The origin of day counts.
const EPOCH: civil::Date = civil::date(1970, 1, 1);

impl Date {
    /// Builds a date, refusing impossible ones.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let civil = civil::Date::new(
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
        )
        .ok()?;
        Some(Date::from_civil(civil))
    }

    fn from_civil(civil: civil::Date) -> Date {
        Date {
            year: i32::from(civil.year()),
            month: civil.month().unsigned_abs(),
            day: civil.day().unsigned_abs(),
        }
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        // Every `Date` was built from a valid civil date, so both conversions hold.
        let civil = civil::Date::new(self.year as i16, self.month as i8, self.day as i8)
            .expect("a Date is a valid civil date");
        let span = EPOCH
            .until((Unit::Day, civil))
            .expect("days between two civil dates");
        i64::from(span.get_days())
    }

    /// The date `days` days after 1970-01-01. jiff's calendar spans the years -9999 to 9999;
    /// a count beyond reads as that range's end.
    pub fn from_days(days: i64) -> Date {
        let civil = EPOCH
            .checked_add(SignedDuration::from_hours(days.saturating_mul(24)))
            .unwrap_or(if days < 0 {
                civil::Date::MIN
            } else {
                civil::Date::MAX
            });
        Date::from_civil(civil)
    }

    /// Midnight JST at the start of this date.
    pub fn jst_midnight(self) -> Timestamp {
        self.days_since_epoch() * 86_400 - JST_OFFSET
    }

    /// Parses `YYYY/MM/DD`, `YYYYMMDD` (F-REGI's two `SALEDATE` forms) or `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let digits: String = match text.len() {
            8 => text.to_owned(),
            10 => {
                let sep = text.as_bytes()[4];
                if (sep != b'/' && sep != b'-') || text.as_bytes()[7] != sep {
                    return None;
                }
                text.chars().filter(|c| *c != char::from(sep)).collect()
            }
            _ => return None,
        };
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Date::new(
            digits[0..4].parse().ok()?,
            digits[4..6].parse().ok()?,
            digits[6..8].parse().ok()?,
        )
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The JST calendar date of `t`.
pub fn jst_date(t: Timestamp) -> Date {
    Date::from_days((t + JST_OFFSET).div_euclid(86_400))
}

/// `t` as `YYYY-MM-DDTHH:MM:SS+09:00`.
pub fn jst_string(t: Timestamp) -> String {
    let local = t + JST_OFFSET;
    let secs = local.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}+09:00",
        jst_date(t),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses Unix seconds, or `YYYY-MM-DDTHH:MM[:SS]` in JST (an optional `+09:00` suffix allowed).
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs);
    }
    let text = text.strip_suffix("+09:00").unwrap_or(text);
    let (date, time) = text.split_once('T').or_else(|| text.split_once(' '))?;
    let date = Date::parse(date)?;
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let s: i64 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(date.jst_midnight() + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            assert_eq!(Date::from_days(days).days_since_epoch(), days);
        }
        assert_eq!(
            Date::from_days(0),
            Date {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            Date::new(2024, 2, 29).map(Date::days_since_epoch),
            Some(19_782)
        );
        assert!(Date::new(2025, 2, 29).is_none());
    }

    #[test]
    fn jst_formatting_and_parsing() {
        // 2026-01-15 10:00 JST = 01:00 UTC.
        let t = parse_time("2026-01-15T10:00:00+09:00").unwrap();
        assert_eq!(t, 1_768_438_800);
        assert_eq!(jst_string(t), "2026-01-15T10:00:00+09:00");
        assert_eq!(
            jst_date(t - 10 * 3600 - 1),
            Date {
                year: 2026,
                month: 1,
                day: 14
            }
        );
        assert_eq!(parse_time("1768438800"), Some(t));
        assert_eq!(Date::parse("2026/01/15"), Date::new(2026, 1, 15));
        assert_eq!(Date::parse("20260115"), Date::new(2026, 1, 15));
        assert_eq!(Date::parse("2026/13/15"), None);
        assert_eq!(Date::parse("2026/01-15"), None);
    }

    #[test]
    fn clock_moves_by_offset() {
        let mut clock = Clock::starting_at(Some(1_000_000));
        assert!((clock.now() - 1_000_000).abs() <= 1);
        clock.advance(86_400);
        assert!((clock.now() - 1_086_400).abs() <= 1);
    }
}
