//! Trading sessions of the live market: when it is open, when the current
//! session closes, when the next one opens. Pure: the caller brings the
//! time.
//!
//! Two kinds: `Rolling` sessions of a fixed length aligned to 1970-01-01
//! UTC, back to back (the default: one 24-hour session rolling at midnight
//! UTC, so the market is always open and each UTC day is a trading day);
//! and a `Calendar`: open and close times of day in a time zone on some
//! weekdays (e.g. 09:30-16:00 America/New_York, Monday to Friday).

use engine::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

/// When the market trades.
#[derive(Clone, Debug, PartialEq)]
pub enum Sessions {
    /// Back-to-back sessions of `period` nanoseconds from the epoch.
    Rolling {
        period: i64,
    },
    Calendar(Calendar),
}

/// Open and close times in a time zone, on some weekdays.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    pub open: Time,
    pub close: Time,
    pub tz: TimeZone,
    /// Trading weekdays, Monday first.
    pub days: [bool; 7],
}

/// Where a moment falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Trading; the session closes at `closes_at`.
    Open { closes_at: Timestamp },
    /// Not trading; the next session opens at `opens_at`.
    Closed { opens_at: Timestamp },
}

/// A session description that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SessionError(pub String);

impl Default for Sessions {
    /// One 24-hour session rolling at midnight UTC.
    fn default() -> Self {
        Sessions::Rolling {
            period: Timestamp::NANOS_PER_DAY,
        }
    }
}

impl Sessions {
    /// Rolling sessions of `ms` milliseconds (at least 1 second).
    pub fn rolling_ms(ms: u64) -> Result<Sessions, SessionError> {
        if ms < 1_000 {
            return Err(SessionError(format!(
                "a session must last at least 1000 ms, not {ms}"
            )));
        }
        Ok(Sessions::Rolling {
            period: ms as i64 * 1_000_000,
        })
    }

    /// A calendar from `hours` (`09:30-16:00`, times `HH:MM` or
    /// `HH:MM:SS`, open before close), a time zone name (`UTC`,
    /// `America/New_York`) and `days` (`mon-fri`, `mon,wed,fri`, `all`).
    pub fn calendar(hours: &str, tz: &str, days: &str) -> Result<Sessions, SessionError> {
        let (open, close) = hours
            .split_once('-')
            .ok_or_else(|| SessionError(format!("hours `{hours}` must look like 09:30-16:00")))?;
        let time = |s: &str| -> Result<Time, SessionError> {
            s.trim()
                .parse::<Time>()
                .map_err(|_| SessionError(format!("`{s}` is not a time of day like 09:30")))
        };
        let (open, close) = (time(open)?, time(close)?);
        if open >= close {
            return Err(SessionError(format!(
                "hours `{hours}`: the open must come before the close (sessions over midnight are not supported)"
            )));
        }
        let tz = TimeZone::get(tz).map_err(|e| SessionError(format!("time zone `{tz}`: {e}")))?;
        Ok(Sessions::Calendar(Calendar {
            open,
            close,
            tz,
            days: parse_days(days)?,
        }))
    }

    /// Where `ts` falls: open until when, or closed until when.
    pub fn at(&self, ts: Timestamp) -> SessionState {
        match self {
            Sessions::Rolling { period } => SessionState::Open {
                closes_at: Timestamp((ts.nanos().div_euclid(*period) + 1) * period),
            },
            Sessions::Calendar(c) => c.at(ts),
        }
    }
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn parse_days(s: &str) -> Result<[bool; 7], SessionError> {
    let index = |d: &str| {
        DAYS.iter()
            .position(|(n, _)| *n == d.trim().to_ascii_lowercase())
            .ok_or_else(|| SessionError(format!("`{d}` is not a weekday (mon, tue, ..., sun)")))
    };
    let mut days = [false; 7];
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok([true; 7]);
    }
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (index(a)?, index(b)?);
                if a > b {
                    return Err(SessionError(format!(
                        "days `{part}`: write ranges Monday first"
                    )));
                }
                days[a..=b].iter_mut().for_each(|d| *d = true);
            }
            None => days[index(part)?] = true,
        }
    }
    Ok(days)
}

fn to_ts(z: &jiff::Zoned) -> Timestamp {
    Timestamp(z.timestamp().as_nanosecond() as i64)
}

impl Calendar {
    fn at(&self, ts: Timestamp) -> SessionState {
        let now = jiff::Timestamp::from_nanosecond(i128::from(ts.nanos()))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(self.tz.clone());
        let today = now.date();
        // The session of some day among the next eight that contains `ts`,
        // or the first that opens after it.
        for offset in 0..8 {
            let Ok(day) = today.checked_add(jiff::Span::new().days(offset)) else {
                break;
            };
            let weekday = day.weekday().to_monday_zero_offset() as usize;
            if !self.days[weekday] {
                continue;
            }
            let (Ok(open), Ok(close)) = (
                day.to_datetime(self.open).to_zoned(self.tz.clone()),
                day.to_datetime(self.close).to_zoned(self.tz.clone()),
            ) else {
                continue;
            };
            let (open, close) = (to_ts(&open), to_ts(&close));
            if ts < open {
                return SessionState::Closed { opens_at: open };
            }
            if ts < close {
                return SessionState::Open { closes_at: close };
            }
        }
        // No trading day at all in a week: never opens (a week from now).
        SessionState::Closed {
            opens_at: Timestamp(ts.nanos() + 7 * Timestamp::NANOS_PER_DAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        engine::time::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn the_default_is_always_open_and_rolls_at_midnight_utc() {
        let s = Sessions::default();
        assert_eq!(
            s.at(at("2026-11-23T23:59:59Z")),
            SessionState::Open {
                closes_at: at("2026-11-24T00:00:00Z")
            }
        );
        let short = Sessions::rolling_ms(3_000).unwrap();
        assert_eq!(
            short.at(at("2026-11-23T10:00:04Z")),
            SessionState::Open {
                closes_at: at("2026-11-23T10:00:06Z")
            }
        );
        assert!(Sessions::rolling_ms(10).is_err());
    }

    #[test]
    fn a_calendar_opens_on_its_days_in_its_time_zone() {
        let ny = Sessions::calendar("09:30-16:00", "America/New_York", "mon-fri").unwrap();
        // Monday 2026-11-23, 14:00 UTC = 09:00 in New York (EST, UTC-5).
        assert_eq!(
            ny.at(at("2026-11-23T14:00:00Z")),
            SessionState::Closed {
                opens_at: at("2026-11-23T14:30:00Z")
            }
        );
        assert_eq!(
            ny.at(at("2026-11-23T15:00:00Z")),
            SessionState::Open {
                closes_at: at("2026-11-23T21:00:00Z")
            }
        );
        // Friday after the close: Monday's open.
        assert_eq!(
            ny.at(at("2026-11-27T21:00:00Z")),
            SessionState::Closed {
                opens_at: at("2026-11-30T14:30:00Z")
            }
        );
        // Summer time: 09:30 EDT is 13:30 UTC.
        assert_eq!(
            ny.at(at("2026-07-01T12:00:00Z")),
            SessionState::Closed {
                opens_at: at("2026-07-01T13:30:00Z")
            }
        );
    }

    #[test]
    fn bad_calendars_are_clear_errors() {
        for (hours, tz, days, words) in [
            ("9:30", "UTC", "all", "09:30-16:00"),
            ("16:00-09:30", "UTC", "all", "before the close"),
            ("09:30-16:00", "Mars/Olympus", "all", "time zone"),
            ("09:30-16:00", "UTC", "mon-funday", "weekday"),
            ("noon-16:00", "UTC", "all", "time of day"),
        ] {
            let e = Sessions::calendar(hours, tz, days).unwrap_err();
            assert!(e.0.contains(words), "{hours} {tz} {days}: {e}");
        }
        let odd = Sessions::calendar("10:00:05-10:00:09", "UTC", "mon,wed").unwrap();
        let Sessions::Calendar(c) = odd else { panic!() };
        assert_eq!(c.days, [true, false, true, false, false, false, false]);
    }
}
