//! What the host hands a plugin besides the operation: time and unique ids, because a sans-IO
//! plugin may not read a clock or a random source itself.

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub unix_millis: i64,
}

/// Japan Standard Time is UTC+9 all year (no daylight saving), so it is plain arithmetic.
const JST_OFFSET_SECS: i64 = 9 * 3600;

impl Timestamp {
    pub const fn from_unix_millis(unix_millis: i64) -> Timestamp {
        Timestamp { unix_millis }
    }

    /// Civil date and time in JST: (year, month, day, hour, minute, second).
    pub fn jst_fields(self) -> (i64, u32, u32, u32, u32, u32) {
        let secs = self.unix_millis.div_euclid(1000) + JST_OFFSET_SECS;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (
            y,
            m,
            d,
            (rem / 3600) as u32,
            ((rem % 3600) / 60) as u32,
            (rem % 60) as u32,
        )
    }

    /// `YYYYMMDDhhmmss` in JST, the timestamp format of SBPS (`request_date`,
    /// `processing_datetime`).
    pub fn jst_compact(self) -> String {
        let (y, mo, d, h, mi, s) = self.jst_fields();
        format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Per-call inputs the host owns. Borrowed, because it lives only for one call and crossing the
/// plugin boundary should not cost allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context<'a> {
    /// The host's clock at the time the step is prepared.
    pub now: Timestamp,
    /// Unique per exchange; plugins may use it where a gateway wants a fresh request id.
    pub request_id: &'a str,
    /// Stable across retries of one operation: the same key means the same shop action.
    pub idempotency_key: &'a str,
    /// 1 for the first attempt of this step, higher for replays.
    pub attempt: u32,
}

impl<'a> Context<'a> {
    /// A first-attempt context for tests and benchmarks, using `key` as both ids.
    pub fn fixed(unix_millis: i64, key: &'a str) -> Context<'a> {
        Context {
            now: Timestamp::from_unix_millis(unix_millis),
            request_id: key,
            idempotency_key: key,
            attempt: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jst_is_utc_plus_nine_across_a_date_line() {
        // 2024-01-01T18:04:05Z is 2024-01-02 03:04:05 in Tokyo.
        let t = Timestamp::from_unix_millis(1_704_132_245_000);
        assert_eq!(t.jst_compact(), "20240102030405");
        assert_eq!(
            Timestamp::from_unix_millis(0).jst_compact(),
            "19700101090000"
        );
        // Leap day.
        assert_eq!(
            Timestamp::from_unix_millis(1_709_164_800_000).jst_compact(),
            "20240229090000"
        );
    }
}
