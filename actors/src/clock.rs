//! `Clock`: where live code reads the time. The engine never reads a clock
//! (time is an argument); the live market's wall clock is injected as a
//! `Clock` so tests can set it.

use std::sync::Arc;

use engine::Timestamp;

/// A source of timestamps (nanoseconds since the Unix epoch).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock(Arc::new(system_now))
    }
    /// A clock that asks `f` (tests: a settable time).
    pub fn from_fn(f: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }
    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now().nanos())
    }
}

fn system_now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_after_2020_and_a_set_clock_is_what_it_says() {
        assert!(Clock::system().now().nanos() > 1_577_836_800_000_000_000);
        assert_eq!(Clock::from_fn(|| Timestamp(7)).now(), Timestamp(7));
    }
}
