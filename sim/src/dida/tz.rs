//! Hotel-local wall-clock time for cancellation deadlines, without a time-zone database: the
//! simulated world's zones (`world::DESTINATIONS`) with their standard offsets and EU / US
//! daylight-saving rules. Unknown zones are treated as UTC. Shared with the `derbysoft` simulator.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};

/// The wall-clock time in `tz` at the instant `now`.
pub(crate) fn local_now(tz: &str, now: DateTime<Utc>) -> NaiveDateTime {
    (now + Duration::seconds(offset_secs(tz, now))).naive_utc()
}

/// UTC offset of `tz` at `utc`, in seconds.
pub(crate) fn offset_secs(tz: &str, utc: DateTime<Utc>) -> i64 {
    const HOUR: i64 = 3600;
    match tz {
        "Europe/Lisbon" | "Europe/London" => HOUR * i64::from(eu_summer(utc)),
        "Europe/Madrid" | "Europe/Paris" | "Europe/Rome" | "Europe/Berlin" | "Europe/Amsterdam" => {
            HOUR + HOUR * i64::from(eu_summer(utc))
        }
        "America/New_York" => -5 * HOUR + HOUR * i64::from(us_summer(utc)),
        _ => 0,
    }
}

fn at(date: Option<NaiveDate>, hour: u32) -> Option<DateTime<Utc>> {
    Some(date?.and_hms_opt(hour, 0, 0)?.and_utc())
}

fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, 5)
        .or_else(|| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, 4))
}

/// EU summer time: last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC.
fn eu_summer(utc: DateTime<Utc>) -> bool {
    let y = utc.year();
    match (at(last_sunday(y, 3), 1), at(last_sunday(y, 10), 1)) {
        (Some(start), Some(end)) => start <= utc && utc < end,
        _ => false,
    }
}

/// US daylight time: second Sunday of March 02:00 EST (07:00 UTC) to first Sunday of November
/// 02:00 EDT (06:00 UTC).
fn us_summer(utc: DateTime<Utc>) -> bool {
    let y = utc.year();
    let start = at(
        NaiveDate::from_weekday_of_month_opt(y, 3, Weekday::Sun, 2),
        7,
    );
    let end = at(
        NaiveDate::from_weekday_of_month_opt(y, 11, Weekday::Sun, 1),
        6,
    );
    match (start, end) {
        (Some(start), Some(end)) => start <= utc && utc < end,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("RFC 3339 instant")
    }

    #[test]
    fn offsets_follow_standard_and_summer_time() {
        let cases = [
            ("Europe/Lisbon", "2027-01-15T12:00:00Z", 0),
            ("Europe/Lisbon", "2027-07-15T12:00:00Z", 3600),
            ("Europe/Paris", "2027-01-15T12:00:00Z", 3600),
            ("Europe/Paris", "2027-07-15T12:00:00Z", 7200),
            // 2027: EU summer time starts 28 March 01:00 UTC, ends 31 October 01:00 UTC.
            ("Europe/Berlin", "2027-03-28T00:59:59Z", 3600),
            ("Europe/Berlin", "2027-03-28T01:00:00Z", 7200),
            ("Europe/Berlin", "2027-10-31T00:59:59Z", 7200),
            ("Europe/Berlin", "2027-10-31T01:00:00Z", 3600),
            // 2027: US daylight time starts 14 March, ends 7 November.
            ("America/New_York", "2027-03-14T06:59:59Z", -18000),
            ("America/New_York", "2027-03-14T07:00:00Z", -14400),
            ("America/New_York", "2027-11-07T05:59:59Z", -14400),
            ("America/New_York", "2027-11-07T06:00:00Z", -18000),
            ("Mars/Olympus", "2027-07-15T12:00:00Z", 0),
        ];
        for (tz, instant, want) in cases {
            assert_eq!(offset_secs(tz, utc(instant)), want, "{tz} at {instant}");
        }
    }

    #[test]
    fn local_now_shifts_the_wall_clock() {
        let local = local_now("Europe/Madrid", utc("2027-01-15T23:30:00Z"));
        assert_eq!(local.to_string(), "2027-01-16 00:30:00");
    }
}
