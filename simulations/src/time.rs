//! Timestamps to calendar text (UTC), for reports and CSV files.

use engine::Timestamp;

/// (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 3339 in UTC, whole seconds: `2026-01-05T09:30:00Z`.
pub fn rfc3339(ts: Timestamp) -> String {
    let secs = ts.nanos().div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::days_from_civil;

    #[test]
    fn dates_round_trip_through_day_counts() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2026, 1, 5), (2026, 12, 31)] {
            assert_eq!(
                civil_from_days(days_from_civil(y, m, d)),
                (y, m as u32, d as u32)
            );
        }
        assert_eq!(
            rfc3339(Timestamp::from_secs(
                days_from_civil(2026, 1, 5) * 86_400 + 34_200
            )),
            "2026-01-05T09:30:00Z"
        );
    }
}
