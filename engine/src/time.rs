//! Timestamps as calendar text (UTC, RFC 3339). Pure conversions: the
//! engine still never reads a clock.

use crate::types::Timestamp;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

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

/// A day count since 1970-01-01 as `2026-01-05`.
pub fn date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 in UTC with millisecond precision when there is a fraction:
/// `2026-01-05T09:30:00Z`, `2026-01-05T09:30:00.250Z`.
pub fn rfc3339(ts: Timestamp) -> String {
    let mut s = String::with_capacity(24);
    push_rfc3339(&mut s, ts);
    s
}

/// Append `rfc3339(ts)` to `out` without allocating (exports write a
/// million of them).
pub fn push_rfc3339(out: &mut String, ts: Timestamp) {
    let n = ts.nanos();
    let secs = n.div_euclid(1_000_000_000);
    let ms = n.rem_euclid(1_000_000_000) / 1_000_000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    // Digits of `v`, at least `width` of them.
    let digits = |out: &mut String, v: i64, width: usize| {
        let mut buf = [b'0'; 20];
        let (mut v, mut i) = (v.unsigned_abs(), buf.len());
        while v > 0 || buf.len() - i < width {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend(buf[i..].iter().map(|&b| b as char));
    };
    // `i64` nanoseconds span the years 1677 to 2262: never negative.
    digits(out, y, 4);
    out.push('-');
    digits(out, i64::from(m), 2);
    out.push('-');
    digits(out, i64::from(d), 2);
    out.push('T');
    digits(out, rem / 3600, 2);
    out.push(':');
    digits(out, rem % 3600 / 60, 2);
    out.push(':');
    digits(out, rem % 60, 2);
    if ms > 0 {
        out.push('.');
        digits(out, ms, 3);
    }
    out.push('Z');
}

/// Parse RFC 3339 (`2026-01-05T09:30:00Z`, fractions and `+hh:mm` offsets
/// allowed) or a bare date (`2026-01-05`, midnight UTC).
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let day = days_from_civil(y, mo, d);
    if b.len() == 10 {
        return day.checked_mul(Timestamp::NANOS_PER_DAY).map(Timestamp);
    }
    if b.len() < 20
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut f: String = digits.chars().take(9).collect();
        while f.len() < 9 {
            f.push('0');
        }
        nanos = f.parse().ok()?;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        b'+' | b'-' if i + 6 == b.len() && b[i + 3] == b':' => {
            let sign = if b[i] == b'+' { 1 } else { -1 };
            sign * (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60)
        }
        _ => return None,
    };
    let secs = day * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(Timestamp(
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_beyond_the_nanosecond_range_are_refused_not_overflowed() {
        for s in [
            "0000-01-01",
            "9999-12-31",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }

    #[test]
    fn dates_round_trip_through_day_counts() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2026, 1, 5), (2026, 12, 31)] {
            assert_eq!(
                civil_from_days(days_from_civil(y, m, d)),
                (y, m as u32, d as u32)
            );
        }
    }

    #[test]
    fn timestamps_format_and_parse_back() {
        let t = Timestamp::from_secs(days_from_civil(2026, 1, 5) * 86_400 + 34_200);
        assert_eq!(rfc3339(t), "2026-01-05T09:30:00Z");
        assert_eq!(parse_rfc3339("2026-01-05T09:30:00Z"), Some(t));
        let t2 = Timestamp(t.nanos() + 250_000_000);
        assert_eq!(rfc3339(t2), "2026-01-05T09:30:00.250Z");
        assert_eq!(parse_rfc3339("2026-01-05T09:30:00.25Z"), Some(t2));
        assert_eq!(parse_rfc3339("2026-01-05T10:30:00+01:00"), Some(t));
        assert_eq!(
            parse_rfc3339("2026-01-05"),
            Some(Timestamp::from_secs(days_from_civil(2026, 1, 5) * 86_400))
        );
    }

    proptest::proptest! {
        /// The text is the one a plain `format!` gives, and parses back to
        /// the millisecond (years 1684 to 2255: all of `i64` nanoseconds,
        /// bar the edges a floor to milliseconds would overflow).
        #[test]
        fn any_timestamp_round_trips(n in -9_000_000_000_000_000_000i64..9_000_000_000_000_000_000) {
            let secs = n.div_euclid(1_000_000_000);
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            let rem = secs.rem_euclid(86_400);
            let ms = n.rem_euclid(1_000_000_000) / 1_000_000;
            let frac = if ms > 0 { format!(".{ms:03}") } else { String::new() };
            let want = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            );
            let text = rfc3339(Timestamp(n));
            proptest::prop_assert_eq!(&text, &want);
            proptest::prop_assert_eq!(
                parse_rfc3339(&text),
                Some(Timestamp(n.div_euclid(1_000_000) * 1_000_000))
            );
        }
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for s in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-01-05T25:00:00Z",
            "2026-01-05T09:30:00",
            "2026-01-05T09:30:00.Z",
            "2026-01-05T09:30:00+0100",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s:?} parsed");
        }
    }
}
