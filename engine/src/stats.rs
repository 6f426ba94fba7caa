//! Minute OHLCV candles and day statistics per symbol.
//!
//! Both take trades (price and volume) and reference ticks (price only).
//! Timestamps must not go backwards: an out-of-order update is refused with
//! an error and changes nothing.

use thiserror::Error;

use crate::money::{Money, Price};
use crate::types::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("update at {at:?} is older than the current candle starting {current:?}")]
pub struct OutOfOrder {
    pub at: Timestamp,
    pub current: Timestamp,
}

/// One minute of prices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    /// Start of the minute.
    pub start: Timestamp,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Shares traded (reference ticks add none).
    pub volume: u64,
    pub trades: u32,
}

impl Candle {
    fn new(start: Timestamp, price: Price) -> Candle {
        Candle {
            start,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: 0,
            trades: 0,
        }
    }
    fn update(&mut self, price: Price, volume: u64, trade: bool) {
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        self.volume += volume;
        self.trades += u32::from(trade);
    }
}

/// Minute candles, oldest first. Minutes with no update have no candle.
#[derive(Clone, Debug, Default)]
pub struct Candles {
    closed: Vec<Candle>,
    current: Option<Candle>,
}

impl Candles {
    /// Candles restored from storage, oldest first; the last one stays open.
    pub fn restore(mut candles: Vec<Candle>) -> Candles {
        candles.sort_by_key(|c| c.start);
        candles.dedup_by_key(|c| c.start);
        let current = candles.pop();
        Candles {
            closed: candles,
            current,
        }
    }
    pub fn on_trade(&mut self, ts: Timestamp, price: Price, qty: u64) -> Result<(), OutOfOrder> {
        self.update(ts, price, qty, true)
    }
    pub fn on_tick(&mut self, ts: Timestamp, price: Price) -> Result<(), OutOfOrder> {
        self.update(ts, price, 0, false)
    }
    fn update(
        &mut self,
        ts: Timestamp,
        price: Price,
        qty: u64,
        trade: bool,
    ) -> Result<(), OutOfOrder> {
        let minute = ts.minute_floor();
        match &mut self.current {
            Some(c) if c.start == minute => c.update(price, qty, trade),
            Some(c) if minute < c.start => {
                return Err(OutOfOrder {
                    at: ts,
                    current: c.start,
                });
            }
            cur => {
                if let Some(done) = cur.take() {
                    self.closed.push(done);
                }
                let mut c = Candle::new(minute, price);
                c.update(price, qty, trade);
                *cur = Some(c);
            }
        }
        Ok(())
    }
    /// Every candle, the still-open one last.
    pub fn all(&self) -> Vec<Candle> {
        self.closed.iter().copied().chain(self.current).collect()
    }
    /// Candles whose start lies in `[from, to)`.
    pub fn range(&self, from: Timestamp, to: Timestamp) -> Vec<Candle> {
        self.all()
            .into_iter()
            .filter(|c| c.start >= from && c.start < to)
            .collect()
    }
    pub fn last(&self) -> Option<Candle> {
        self.current
    }
}

/// A symbol's day so far: what "top gainers / losers" ranks by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayStats {
    /// The previous close (or listing price): the base of the change.
    pub reference: Price,
    pub open: Option<Price>,
    pub high: Price,
    pub low: Price,
    pub last: Price,
    pub volume: u64,
    pub trades: u64,
    /// Traded value (sum of price x quantity).
    pub turnover: Money,
    pub last_update: Timestamp,
}

impl DayStats {
    pub fn new(reference: Price) -> DayStats {
        DayStats {
            reference,
            open: None,
            high: reference,
            low: reference,
            last: reference,
            volume: 0,
            trades: 0,
            turnover: Money::ZERO,
            last_update: Timestamp(0),
        }
    }
    fn touch(&mut self, ts: Timestamp, price: Price) {
        if self.open.is_none() {
            self.open = Some(price);
            self.high = price;
            self.low = price;
        }
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.last = price;
        self.last_update = self.last_update.max(ts);
    }
    pub fn on_trade(&mut self, ts: Timestamp, price: Price, qty: u64) {
        self.touch(ts, price);
        self.volume += qty;
        self.trades += 1;
        let q = crate::types::Quantity::new(qty);
        if let Some(v) = q.and_then(|q| price.checked_notional(q).ok()) {
            self.turnover = self.turnover.checked_add(v).unwrap_or(self.turnover);
        }
    }
    pub fn on_tick(&mut self, ts: Timestamp, price: Price) {
        self.touch(ts, price);
    }
    /// Start a new day: the last price becomes the reference.
    pub fn roll(&mut self) {
        *self = DayStats::new(self.last);
    }
    /// `last - reference` in minor units.
    pub fn change(&self) -> Money {
        Money::from_minor(self.last.minor() - self.reference.minor())
    }
    /// Change in basis points of the reference (1 bp = 0.01%), truncated.
    pub fn change_bps(&self) -> i64 {
        if self.reference.minor() == 0 {
            return 0;
        }
        ((i128::from(self.change().minor()) * 10_000) / i128::from(self.reference.minor())) as i64
    }
}

/// Symbols ranked one way, each with its day.
pub type Ranked<K> = Vec<(K, DayStats)>;

/// Rank symbols by day change: `(gainers best first, losers worst first)`,
/// each at most `n` long, ties broken by symbol for a stable order. Symbols
/// with no change are in neither list.
pub fn movers<K: Ord + Clone>(stats: &[(K, DayStats)], n: usize) -> (Ranked<K>, Ranked<K>) {
    let mut up: Ranked<K> = stats
        .iter()
        .filter(|(_, s)| s.change().minor() > 0)
        .cloned()
        .collect();
    let mut down: Ranked<K> = stats
        .iter()
        .filter(|(_, s)| s.change().minor() < 0)
        .cloned()
        .collect();
    up.sort_by(|a, b| {
        b.1.change_bps()
            .cmp(&a.1.change_bps())
            .then_with(|| a.0.cmp(&b.0))
    });
    down.sort_by(|a, b| {
        a.1.change_bps()
            .cmp(&b.1.change_bps())
            .then_with(|| a.0.cmp(&b.0))
    });
    up.truncate(n);
    down.truncate(n);
    (up, down)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(m: i64) -> Price {
        Price::from_minor(m)
    }
    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn candles_aggregate_ohlcv_within_a_minute() {
        let mut c = Candles::default();
        c.on_trade(t(0), p(100), 5).unwrap();
        c.on_tick(t(10), p(120)).unwrap();
        c.on_trade(t(20), p(90), 3).unwrap();
        c.on_trade(t(59), p(110), 2).unwrap();
        let all = c.all();
        assert_eq!(all.len(), 1);
        let k = all[0];
        assert_eq!(
            (k.open, k.high, k.low, k.close, k.volume, k.trades),
            (p(100), p(120), p(90), p(110), 10, 3)
        );
    }

    #[test]
    fn a_new_minute_closes_the_candle_and_empty_minutes_have_none() {
        let mut c = Candles::default();
        c.on_trade(t(0), p(100), 1).unwrap();
        c.on_trade(t(61), p(101), 1).unwrap();
        c.on_trade(t(300), p(102), 1).unwrap();
        let starts: Vec<i64> = c
            .all()
            .iter()
            .map(|k| k.start.nanos() / 1_000_000_000)
            .collect();
        assert_eq!(starts, [0, 60, 300]);
        assert_eq!(c.range(t(60), t(300)).len(), 1);
    }

    #[test]
    fn out_of_order_updates_are_refused_and_change_nothing() {
        let mut c = Candles::default();
        c.on_trade(t(120), p(100), 1).unwrap();
        let before = c.all();
        assert!(c.on_trade(t(30), p(500), 1).is_err());
        assert_eq!(c.all(), before);
        // Late within the same minute is fine.
        c.on_trade(t(121), p(101), 1).unwrap();
    }

    #[test]
    fn day_stats_track_open_high_low_last_volume_and_change() {
        let mut d = DayStats::new(p(1000));
        d.on_trade(t(1), p(1010), 5);
        d.on_tick(t(2), p(1100));
        d.on_trade(t(3), p(950), 5);
        assert_eq!(d.open, Some(p(1010)));
        assert_eq!(
            (d.high, d.low, d.last, d.volume, d.trades),
            (p(1100), p(950), p(950), 10, 2)
        );
        assert_eq!(d.change(), Money::from_minor(-50));
        assert_eq!(d.change_bps(), -500);
        assert_eq!(d.turnover, Money::from_minor(1010 * 5 + 950 * 5));
        d.roll();
        assert_eq!((d.reference, d.open, d.volume), (p(950), None, 0));
    }

    #[test]
    fn movers_rank_gainers_and_losers_by_percent_change() {
        let mk = |r: i64, l: i64| {
            let mut d = DayStats::new(p(r));
            d.on_tick(t(0), p(l));
            d
        };
        let stats = [
            ("A", mk(100, 110)),
            ("B", mk(100, 150)),
            ("C", mk(100, 80)),
            ("D", mk(100, 100)),
            ("E", mk(200, 190)),
        ];
        let (up, down) = movers(&stats, 5);
        assert_eq!(up.iter().map(|x| x.0).collect::<Vec<_>>(), ["B", "A"]);
        assert_eq!(down.iter().map(|x| x.0).collect::<Vec<_>>(), ["C", "E"]);
        let (up1, _) = movers(&stats, 1);
        assert_eq!(up1.len(), 1);
    }
}

/// A symbol's price per minute: `{"time": ["090000", ...], "price": [...]}`
/// in the code-challenge seed's layout. One entry per minute from the first
/// update, the last price within that minute, carried forward over minutes
/// without data. Updates must not go back to an earlier minute (refused);
/// a later update in the same minute replaces its price.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MinuteHistory {
    first: Option<Timestamp>,
    prices: Vec<Price>,
}

impl MinuteHistory {
    /// A history whose first minute starts at `first` (floored to the
    /// minute), one price per minute from there.
    pub fn from_minutes(first: Timestamp, prices: Vec<Price>) -> MinuteHistory {
        MinuteHistory {
            first: (!prices.is_empty()).then(|| first.minute_floor()),
            prices,
        }
    }
    /// Start of the first minute, if any.
    pub fn first(&self) -> Option<Timestamp> {
        self.first
    }
    /// The minutes from `from` to `to` (both inclusive, floored to the
    /// minute) as a history of their own.
    pub fn window(&self, from: Timestamp, to: Timestamp) -> MinuteHistory {
        let Some(first) = self.first else {
            return MinuteHistory::default();
        };
        let index =
            |t: Timestamp| (t.minute_floor().nanos() - first.nanos()) / Timestamp::NANOS_PER_MINUTE;
        let lo = index(from).clamp(0, self.prices.len() as i64) as usize;
        let hi = (index(to) + 1).clamp(0, self.prices.len() as i64) as usize;
        if lo >= hi {
            return MinuteHistory::default();
        }
        MinuteHistory::from_minutes(
            Timestamp(first.nanos() + lo as i64 * Timestamp::NANOS_PER_MINUTE),
            self.prices[lo..hi].to_vec(),
        )
    }
    pub fn record(&mut self, ts: Timestamp, price: Price) -> Result<(), OutOfOrder> {
        let minute = ts.minute_floor();
        let first = *self.first.get_or_insert(minute);
        if minute < first {
            return Err(OutOfOrder {
                at: ts,
                current: first,
            });
        }
        let index = ((minute.nanos() - first.nanos()) / Timestamp::NANOS_PER_MINUTE) as usize;
        if index + 1 < self.prices.len() {
            let current = Timestamp(
                first.nanos() + (self.prices.len() as i64 - 1) * Timestamp::NANOS_PER_MINUTE,
            );
            return Err(OutOfOrder { at: ts, current });
        }
        if let Some(&last) = self.prices.last() {
            while self.prices.len() < index {
                self.prices.push(last);
            }
        }
        if index < self.prices.len() {
            self.prices[index] = price;
        } else {
            self.prices.push(price);
        }
        Ok(())
    }
    /// Carry the last price forward up to and including `ts`'s minute.
    pub fn extend_to(&mut self, ts: Timestamp) {
        if let (Some(first), Some(&last)) = (self.first, self.prices.last()) {
            let index = ((ts.minute_floor().nanos() - first.nanos()) / Timestamp::NANOS_PER_MINUTE)
                as usize;
            while self.prices.len() <= index {
                self.prices.push(last);
            }
        }
    }
    /// Minute labels, `HHMMSS` of the UTC time of day.
    pub fn times(&self) -> Vec<String> {
        let Some(first) = self.first else {
            return Vec::new();
        };
        (0..self.prices.len())
            .map(|i| {
                let secs = (first.nanos() / 1_000_000_000 + i as i64 * 60).rem_euclid(86_400);
                format!("{:02}{:02}{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
            })
            .collect()
    }
    pub fn prices(&self) -> &[Price] {
        &self.prices
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    fn at(h: i64, m: i64, s: i64) -> Timestamp {
        Timestamp::from_secs(h * 3600 + m * 60 + s)
    }
    fn p(m: i64) -> Price {
        Price::from_minor(m)
    }

    #[test]
    fn the_last_price_in_a_minute_wins_and_gaps_carry_forward() {
        let mut h = MinuteHistory::default();
        h.record(at(9, 0, 5), p(100)).unwrap();
        h.record(at(9, 0, 50), p(101)).unwrap();
        h.record(at(9, 3, 0), p(104)).unwrap();
        assert_eq!(h.times(), ["090000", "090100", "090200", "090300"]);
        assert_eq!(h.prices(), [p(101), p(101), p(101), p(104)]);
        h.extend_to(at(9, 5, 59));
        assert_eq!(h.prices().len(), 6);
        assert_eq!(h.prices()[5], p(104));
    }

    #[test]
    fn a_window_keeps_the_minutes_in_range() {
        let mut h = MinuteHistory::default();
        h.record(at(9, 0, 5), p(100)).unwrap();
        h.record(at(9, 4, 0), p(104)).unwrap();
        let w = h.window(at(9, 1, 30), at(9, 2, 0));
        assert_eq!(w.times(), ["090100", "090200"]);
        assert_eq!(w.prices(), [p(100), p(100)]);
        assert_eq!(h.window(at(8, 0, 0), at(12, 0, 0)), h);
        assert!(h.window(at(10, 0, 0), at(11, 0, 0)).prices().is_empty());
        let back = MinuteHistory::from_minutes(at(9, 0, 0), h.prices().to_vec());
        assert_eq!(back, h);
    }

    #[test]
    fn an_update_for_an_earlier_minute_is_refused_and_changes_nothing() {
        let mut h = MinuteHistory::default();
        h.record(at(9, 2, 0), p(100)).unwrap();
        h.record(at(9, 4, 0), p(102)).unwrap();
        let before = h.clone();
        assert!(h.record(at(9, 3, 0), p(999)).is_err());
        assert!(h.record(at(9, 1, 0), p(999)).is_err());
        assert_eq!(h, before);
        // The current minute may still be updated.
        h.record(at(9, 4, 30), p(103)).unwrap();
        assert_eq!(h.prices().last(), Some(&p(103)));
    }
}
