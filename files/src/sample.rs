//! Sample data (`marketsim sample`): order files and price files of any
//! size that the imports accept, the seed upload service's dummy data
//! generator. The same seed gives the same file (ChaCha8).
//!
//! Symbols are `STOCK1` .. `STOCKn`. Each follows a random walk from a
//! starting price between 10.00 and 200.00, a step of at most 0.5% per row
//! that touches it, never below 0.01. Rows are spread evenly over the
//! trading day from 09:00:00 to 16:00:00 and come in time order.

use std::io::Write;

use engine::{Price, Side, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub rows: u64,
    pub symbols: u32,
    /// Order files: users `user1` .. `userN`.
    pub users: u32,
    pub seed: u64,
    /// Midnight (UTC) of the day the rows fall on (order files).
    pub day: Timestamp,
}

const OPEN: i64 = 9 * 3600;
const SPAN: i64 = 7 * 3600;

/// The walks of `n` symbols and the seeded stream that moves them.
struct Walks {
    rng: ChaCha8Rng,
    prices: Vec<i64>,
}

impl Walks {
    fn new(seed: u64, n: u32) -> Walks {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let prices = (0..n.max(1))
            .map(|_| rng.random_range(1_000..=20_000))
            .collect();
        Walks { rng, prices }
    }
    /// Pick a symbol, move its price one step; (symbol index, new price).
    fn step(&mut self) -> (usize, i64) {
        let i = self.rng.random_range(0..self.prices.len());
        let bps: i64 = self.rng.random_range(-50..=50);
        let p = &mut self.prices[i];
        *p = (*p + *p * bps / 10_000).max(1);
        (i, *p)
    }
    /// The second of the day of row `row` of `rows`.
    fn second(row: u64, rows: u64) -> i64 {
        OPEN + (i128::from(row) * i128::from(SPAN) / i128::from(rows.max(1))) as i64
    }
}

/// A price file: `Time,Stock,Price` (time `hhmmss`).
pub fn prices(s: &Sample, out: &mut impl Write) -> std::io::Result<()> {
    let mut w = Walks::new(s.seed, s.symbols);
    writeln!(out, "Time,Stock,Price")?;
    for row in 0..s.rows {
        let (i, p) = w.step();
        let t = Walks::second(row, s.rows);
        writeln!(
            out,
            "{:02}{:02}{:02},STOCK{},{}",
            t / 3600,
            t % 3600 / 60,
            t % 60,
            i + 1,
            Price::from_minor(p)
        )?;
    }
    Ok(())
}

/// An order file with a `user` column (an admin's import):
/// `time,user,symbol,side,type,quantity,limit_price`. A third are market
/// orders; limit prices lie within 2% of the symbol's walk, on the cent
/// grid; quantities 1-100.
pub fn orders(s: &Sample, out: &mut impl Write) -> std::io::Result<()> {
    let mut w = Walks::new(s.seed, s.symbols);
    writeln!(out, "time,user,symbol,side,type,quantity,limit_price")?;
    for row in 0..s.rows {
        let (i, p) = w.step();
        // Evenly spaced over the session, to the millisecond.
        let at = i128::from(row) * i128::from(SPAN) * 1_000 / i128::from(s.rows.max(1));
        let ts = Timestamp(s.day.nanos() + (OPEN * 1_000 + at as i64) * 1_000_000);
        let rng = &mut w.rng;
        let user = rng.random_range(1..=s.users.max(1));
        let side = if rng.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let quantity: u64 = rng.random_range(1..=100);
        let limit = if rng.random_range(0..3) == 0 {
            String::new()
        } else {
            let off: i64 = rng.random_range(-200..=200);
            Price::from_minor((p + p * off / 10_000).max(1)).to_string()
        };
        let kind = if limit.is_empty() { "market" } else { "limit" };
        writeln!(
            out,
            "{},user{user},STOCK{},{},{kind},{quantity},{limit}",
            engine::time::rfc3339(ts),
            i + 1,
            side.as_str()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rows: u64, seed: u64) -> Sample {
        Sample {
            rows,
            symbols: 10,
            users: 100,
            seed,
            day: engine::time::parse_rfc3339("2026-01-05").unwrap(),
        }
    }

    fn text(f: fn(&Sample, &mut Vec<u8>) -> std::io::Result<()>, s: &Sample) -> Vec<u8> {
        let mut out = Vec::new();
        f(s, &mut out).unwrap();
        out
    }

    #[test]
    fn a_price_file_is_read_back_whole_in_time_order() {
        let bytes = text(prices, &sample(20_000, 7));
        let f = crate::csv::read_prices(&bytes[..], true).unwrap();
        assert_eq!(f.rows.len(), 20_000);
        assert!(f.rows.windows(2).all(|w| w[0].time <= w[1].time));
        assert_eq!(f.rows[0].time, OPEN);
        assert!(f.rows.last().unwrap().time < OPEN + SPAN);
        let symbols: std::collections::BTreeSet<_> = f.rows.iter().map(|r| r.symbol).collect();
        assert_eq!(symbols.len(), 10);
        crate::csv::to_ticks(&f.rows, Timestamp(0), false).unwrap();
    }

    #[test]
    fn an_order_file_is_read_back_whole_with_both_kinds_and_sides() {
        let s = sample(5_000, 7);
        let f = crate::csv::read_orders(&text(orders, &s)[..], true).unwrap();
        assert!(f.has_user);
        assert_eq!(f.rows.len(), 5_000);
        assert!(f.rows.windows(2).all(|w| w[0].time < w[1].time));
        let market = f
            .rows
            .iter()
            .filter(|r| r.order_type == engine::OrderType::Market)
            .count();
        assert!((1_300..2_100).contains(&market), "{market} market orders");
        let buys = f.rows.iter().filter(|r| r.side == Side::Buy).count();
        assert!((2_200..2_800).contains(&buys), "{buys} buys");
        assert!(f.rows.iter().all(|r| (1..=100).contains(&r.quantity)));
        assert!(f.rows.iter().all(|r| r.time.nanos() >= s.day.nanos()));
    }

    #[test]
    fn the_same_seed_gives_the_same_file_and_another_seed_another() {
        let s = sample(1_000, 1);
        assert_eq!(text(orders, &s), text(orders, &s));
        assert_eq!(text(prices, &s), text(prices, &s));
        assert_ne!(text(prices, &s), text(prices, &sample(1_000, 2)));
    }
}
