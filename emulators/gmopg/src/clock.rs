//! The emulator's clock and JST calendar are the kit's (`renkei_emulator_kit::clock`, shared
//! with the F-REGI emulator); GMO-PG's own date format is here.

pub use renkei_emulator_kit::clock::*;

/// `t` as GMO-PG writes dates (`ProcessDate`, `TranDate`): `yyyyMMddHHmmss` in JST.
pub fn gmo_datetime(t: Timestamp) -> String {
    let local = t + JST_OFFSET;
    let secs = local.rem_euclid(86_400);
    let date = jst_date(t);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        date.year,
        date.month,
        date.day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmo_dates_are_jst() {
        // 2013-03-01 02:59:32 UTC is 11:59:32 JST (S1's SearchTrade cassette).
        assert_eq!(gmo_datetime(1_362_106_772), "20130301115932");
    }
}
