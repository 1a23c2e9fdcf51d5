//! What the host hands a plugin besides the operation: time and unique ids, because a sans-IO
//! plugin may not read a clock or a random source itself.

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub unix_millis: i64,
}

/// Japan Standard Time is UTC+9 all year (no daylight saving): a fixed offset, no zone database.
const JST: jiff::tz::TimeZone = jiff::tz::TimeZone::fixed(jiff::tz::offset(9));

impl Timestamp {
    pub const fn from_unix_millis(unix_millis: i64) -> Timestamp {
        Timestamp { unix_millis }
    }

    /// Civil date and time in JST: (year, month, day, hour, minute, second). Calendar arithmetic
    /// is jiff's; a time outside its range (years -9999 to 9999) reads as the range's edge.
    pub fn jst_fields(self) -> (i64, u32, u32, u32, u32, u32) {
        let t = jiff::Timestamp::from_millisecond(self.unix_millis).unwrap_or(
            if self.unix_millis < 0 {
                jiff::Timestamp::MIN
            } else {
                jiff::Timestamp::MAX
            },
        );
        let dt = t.to_zoned(JST).datetime();
        (
            i64::from(dt.year()),
            dt.month() as u32,
            dt.day() as u32,
            dt.hour() as u32,
            dt.minute() as u32,
            dt.second() as u32,
        )
    }

    /// `YYYYMMDDhhmmss` in JST, the timestamp format of SBPS (`request_date`,
    /// `processing_datetime`).
    pub fn jst_compact(self) -> String {
        let (y, mo, d, h, mi, s) = self.jst_fields();
        format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
    }
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
    /// Since 0.2: the order id this attempt sends, issued by the host under the manifest's
    /// `limits.order_id` rules ([`crate::OrderIdRules::attempt_id`]); `None` when the manifest
    /// declares none.
    pub gateway_order_id: Option<&'a str>,
    /// Since 0.2: the handle the host kept for the payment the operation acts on (the last one
    /// an outcome returned, [`crate::Handle`]); `None` when there is none.
    pub handle: Option<&'a crate::Handle>,
    /// Since 0.2: when the payment the operation acts on was authorized and captured, as the
    /// host journaled them. A gateway that decides by date (GMO-PG refunds a sale of the
    /// current month with `RETURN`, an older one with `RETURNX`) reads them here.
    pub dates: PaymentDates,
}

/// When the host saw a payment authorized and captured: the time each operation succeeded,
/// by the host's clock (for a capture that re-authorized, both are the capture's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PaymentDates {
    pub authorized_at: Option<Timestamp>,
    pub captured_at: Option<Timestamp>,
}

impl<'a> Context<'a> {
    /// A first-attempt context for tests and benchmarks, using `key` as both ids.
    pub fn fixed(unix_millis: i64, key: &'a str) -> Context<'a> {
        Context {
            now: Timestamp::from_unix_millis(unix_millis),
            request_id: key,
            idempotency_key: key,
            attempt: 1,
            gateway_order_id: None,
            handle: None,
            dates: PaymentDates::default(),
        }
    }

    /// The order id to send for `order`: the host's ([`Context::gateway_order_id`]), or, where
    /// the caller issued none (a plugin's own unit tests), the same id derived under `rules`.
    pub fn order_id(&self, rules: &crate::OrderIdRules, order: &crate::OrderRef) -> String {
        match self.gateway_order_id {
            Some(id) => id.to_owned(),
            None => rules.attempt_id(order, self.idempotency_key, self.attempt),
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
        // A millisecond before the epoch floors to the second before it.
        assert_eq!(
            Timestamp::from_unix_millis(-1).jst_compact(),
            "19700101085959"
        );
        // Leap day.
        assert_eq!(
            Timestamp::from_unix_millis(1_709_164_800_000).jst_compact(),
            "20240229090000"
        );
    }
}
