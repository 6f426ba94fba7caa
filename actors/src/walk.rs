//! `PriceWalk`: the pure random-walk price source (one GBM model and one
//! ChaCha stream per symbol) and the `PriceTick`s it produces. The
//! simulation kernel steps it per step; the live `MarketGenerator` steps it
//! on a wall-clock interval; `marketsim generate` publishes its ticks.

use std::collections::BTreeMap;

use engine::{Gbm, GbmParams, Price, Symbol, Timestamp};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A reference-price tick. `ts` is when the price happened (event time):
/// the generator's clock for walk ticks, the file's time for a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceTick {
    pub symbol: Symbol,
    pub price: Price,
    pub ts: Timestamp,
    /// Per-symbol sequence number, from 1, per origin; consumers drop
    /// duplicates by it.
    pub seq: u64,
    pub origin: Origin,
    /// Shares a market issues when it lists this symbol at first sight
    /// (random tickers carry 10,000-20,000); `None`: the market's default.
    pub quantity: Option<u64>,
}

/// Where a tick comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A random walk (the live generator, `marketsim generate`).
    #[default]
    Walk,
    /// A price file or another outside source: a live market takes the
    /// symbol off its own walk while these arrive.
    Replay,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Walk => "walk",
            Origin::Replay => "replay",
        }
    }
    /// The inverse of `as_str`.
    pub fn parse(s: &str) -> Option<Origin> {
        [Origin::Walk, Origin::Replay]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

#[derive(Clone, Debug)]
struct Walker {
    model: Gbm,
    rng: ChaCha8Rng,
    seq: u64,
    /// Off the walk: its price comes from outside (a replay).
    held: bool,
}

/// A GBM walk per symbol, each with its own seeded stream.
#[derive(Clone, Debug, Default)]
pub struct PriceWalk {
    walkers: BTreeMap<Symbol, Walker>,
    /// Sequence numbers of symbols added from now on start after this.
    seq_base: u64,
}

impl PriceWalk {
    /// A walk whose sequence numbers start after `base`. A live generator
    /// passes the wall clock in microseconds at its start: a restarted
    /// generator then numbers above everything it sent before, and a
    /// consumer that drops already-seen numbers drops only true duplicates
    /// (audit M6).
    pub fn numbered_from(base: u64) -> PriceWalk {
        PriceWalk {
            seq_base: base,
            ..PriceWalk::default()
        }
    }
    /// Add a symbol. Its stream is `stream` of the ChaCha generator seeded
    /// with `seed`, so adding symbols never changes another's path.
    pub fn add(&mut self, symbol: Symbol, model: Gbm, seed: u64, stream: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        self.walkers.insert(
            symbol,
            Walker {
                model,
                rng,
                seq: self.seq_base,
                held: false,
            },
        );
    }
    /// Take a symbol off the walk (`step` skips it) or put it back; it
    /// walks on from its price then (see `set`).
    pub fn hold(&mut self, symbol: Symbol, held: bool) {
        if let Some(w) = self.walkers.get_mut(&symbol) {
            w.held = held;
        }
    }
    pub fn is_held(&self, symbol: Symbol) -> bool {
        self.walkers.get(&symbol).is_some_and(|w| w.held)
    }
    pub fn price(&self, symbol: Symbol) -> Option<Price> {
        self.walkers.get(&symbol).map(|w| w.model.price())
    }
    pub fn params(&self, symbol: Symbol) -> Option<GbmParams> {
        self.walkers.get(&symbol).map(|w| w.model.params())
    }
    pub fn symbols(&self) -> impl Iterator<Item = Symbol> + '_ {
        self.walkers.keys().copied()
    }
    pub fn len(&self) -> usize {
        self.walkers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.walkers.is_empty()
    }
    /// Advance every symbol not held by `dt_secs` of trading time.
    pub fn step(&mut self, dt_secs: f64, ts: Timestamp, out: &mut Vec<PriceTick>) {
        for (s, w) in self.walkers.iter_mut().filter(|(_, w)| !w.held) {
            let price = w.model.step(dt_secs, &mut w.rng);
            w.seq += 1;
            out.push(PriceTick {
                symbol: *s,
                price,
                ts,
                seq: w.seq,
                origin: Origin::Walk,
                quantity: None,
            });
        }
    }
    /// Set a symbol's price (admin or replay); returns the tick.
    pub fn set(&mut self, symbol: Symbol, price: Price, ts: Timestamp) -> Option<PriceTick> {
        let w = self.walkers.get_mut(&symbol)?;
        w.model.set_price(price);
        w.seq += 1;
        Some(PriceTick {
            symbol,
            price: w.model.price(),
            ts,
            seq: w.seq,
            origin: Origin::Walk,
            quantity: None,
        })
    }
    /// Shock a symbol by a log-return (the random-ticker agent's jump).
    pub fn shock(&mut self, symbol: Symbol, log_ret: f64, ts: Timestamp) -> Option<PriceTick> {
        let w = self.walkers.get_mut(&symbol)?;
        let price = w.model.jump_by(log_ret);
        w.seq += 1;
        Some(PriceTick {
            symbol,
            price,
            ts,
            seq: w.seq,
            origin: Origin::Walk,
            quantity: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk() -> PriceWalk {
        let mut w = PriceWalk::default();
        for (i, s) in ["AAA", "BBB"].iter().enumerate() {
            let gbm = Gbm::new(
                Price::from_minor(10_000),
                Price::from_minor(1),
                GbmParams {
                    volatility: 0.4,
                    ..Default::default()
                },
            )
            .unwrap();
            w.add(Symbol::new(s).unwrap(), gbm, 9, i as u64);
        }
        w
    }

    #[test]
    fn a_walk_numbered_from_a_base_continues_above_it() {
        let mut w = PriceWalk::numbered_from(1_000);
        let gbm = Gbm::new(
            Price::from_minor(10_000),
            Price::from_minor(1),
            GbmParams::default(),
        )
        .unwrap();
        w.add(Symbol::new("ACME").unwrap(), gbm, 1, 0);
        let mut out = Vec::new();
        w.step(60.0, Timestamp(1), &mut out);
        w.step(60.0, Timestamp(2), &mut out);
        let seqs: Vec<u64> = out.iter().map(|t| t.seq).collect();
        assert_eq!(seqs, [1_001, 1_002]);
    }

    #[test]
    fn each_symbol_has_its_own_stream_and_sequence() {
        let mut w = walk();
        let mut out = Vec::new();
        for k in 0..100 {
            w.step(60.0, Timestamp(k), &mut out);
        }
        let a: Vec<Price> = out
            .iter()
            .filter(|t| t.symbol.as_str() == "AAA")
            .map(|t| t.price)
            .collect();
        let b: Vec<Price> = out
            .iter()
            .filter(|t| t.symbol.as_str() == "BBB")
            .map(|t| t.price)
            .collect();
        assert_ne!(a, b);
        assert_eq!(
            out.iter()
                .filter(|t| t.symbol.as_str() == "AAA")
                .map(|t| t.seq)
                .collect::<Vec<_>>(),
            (1..=100).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_held_symbol_stays_where_it_was_set_and_walks_on_from_there() {
        let mut w = walk();
        let (a, b) = (Symbol::new("AAA").unwrap(), Symbol::new("BBB").unwrap());
        w.hold(a, true);
        w.set(a, Price::from_minor(4_200), Timestamp(0));
        let mut out = Vec::new();
        for k in 0..10 {
            w.step(60.0, Timestamp(k), &mut out);
        }
        assert!(out.iter().all(|t| t.symbol == b), "a held symbol ticked");
        assert_eq!(w.price(a), Some(Price::from_minor(4_200)));
        w.hold(a, false);
        out.clear();
        w.step(60.0, Timestamp(11), &mut out);
        assert!(out.iter().any(|t| t.symbol == a));
    }

    #[test]
    fn the_same_seed_gives_the_same_ticks() {
        let run = || {
            let mut w = walk();
            let mut out = Vec::new();
            w.step(1.0, Timestamp(0), &mut out);
            w.shock(Symbol::new("AAA").unwrap(), 0.1, Timestamp(1));
            w.step(1.0, Timestamp(2), &mut out);
            out
        };
        assert_eq!(run(), run());
    }
}
