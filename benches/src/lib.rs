//! Workloads shared by the criterion benches and the load drivers.
//!
//! `exchange_core_mix` reproduces the order-flow mix of exchange-core's
//! published single-book benchmark: about 1,000 resting orders from 1,000
//! accounts, then 9% new GTC limit orders, 3% IOC orders, 6% cancels and 82%
//! replaces that move an order to a new price. As in exchange-core, some
//! new GTC orders are marketable (a quarter of them: they trade, and rest what is
//! left), so about 6% of commands trade (`Workload::trade_share`).
//! Commands are generated once (against a live book, so cancels and moves
//! name orders that still rest) and replayed on a copy of the starting book.

use engine::{
    AccountId, Event, Order, OrderBook, OrderId, Price, Side, Symbol, TimeInForce, Timestamp,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;

pub const TICK: Price = Price::from_minor(1);
pub const MID: i64 = 10_000;

pub fn symbol() -> Symbol {
    Symbol::new("BENCH").unwrap_or_else(|e| panic!("{e}"))
}

/// One book operation.
#[derive(Clone, Copy, Debug)]
pub enum Cmd {
    Place(Order),
    Cancel(OrderId),
    Move(OrderId, Price),
}

/// Realised counts of a generated mix.
#[derive(Clone, Copy, Debug, Default)]
pub struct MixCounts {
    pub gtc: u64,
    pub ioc: u64,
    pub cancel: u64,
    pub replace: u64,
}

/// A starting book and a command stream to replay on it.
#[derive(Debug)]
pub struct Workload {
    pub start: OrderBook,
    pub cmds: Vec<Cmd>,
    pub counts: MixCounts,
    /// Share of commands that made at least one trade.
    pub trade_share: f64,
}

/// Share of new GTC orders priced through the touch.
const MARKETABLE_GTC: f64 = 0.25;

/// Live orders, with O(1) random pick and removal.
#[derive(Default)]
struct Live {
    ids: Vec<(OrderId, Side)>,
    pos: FxHashMap<OrderId, usize>,
}

impl Live {
    fn add(&mut self, id: OrderId, side: Side) {
        self.pos.insert(id, self.ids.len());
        self.ids.push((id, side));
    }
    fn remove(&mut self, id: OrderId) {
        if let Some(i) = self.pos.remove(&id) {
            self.ids.swap_remove(i);
            if let Some(&(moved, _)) = self.ids.get(i) {
                self.pos.insert(moved, i);
            }
        }
    }
    fn pick(&self, rng: &mut ChaCha8Rng) -> Option<(OrderId, Side)> {
        (!self.ids.is_empty()).then(|| self.ids[rng.random_range(0..self.ids.len())])
    }
}

struct Gen {
    rng: ChaCha8Rng,
    book: OrderBook,
    live: Live,
    next_id: u64,
    accounts: u64,
    events: Vec<Event>,
}

impl Gen {
    fn passive_price(&mut self, side: Side) -> Price {
        let off = 1 + self.rng.random_range(0..40i64);
        // Centre on the current touch so the book keeps a tight spread.
        let bid = self.book.best_bid().map_or(MID - 1, Price::minor);
        let ask = self.book.best_ask().map_or(MID + 1, Price::minor);
        let mid = (bid + ask) / 2;
        Price::from_minor(match side {
            Side::Buy => (mid - off).max(1),
            Side::Sell => mid + off,
        })
    }
    fn new_order(&mut self, tif: TimeInForce) -> Order {
        let side = if self.rng.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let marketable = tif == TimeInForce::Ioc || self.rng.random_bool(MARKETABLE_GTC);
        let price = if marketable {
            // Aggressive: reaches a few ticks through the touch.
            let reach = self.rng.random_range(0..5i64);
            match side {
                Side::Buy => {
                    Price::from_minor(self.book.best_ask().map_or(MID, Price::minor) + reach)
                }
                Side::Sell => Price::from_minor(
                    (self.book.best_bid().map_or(MID, Price::minor) - reach).max(1),
                ),
            }
        } else {
            self.passive_price(side)
        };
        let id = OrderId(self.next_id);
        self.next_id += 1;
        let acc = AccountId(self.rng.random_range(0..self.accounts));
        // Marketable orders take a small part of the touch, as in
        // exchange-core, so the book keeps its depth.
        let qty = if marketable {
            self.rng.random_range(1..=20u64)
        } else {
            self.rng.random_range(1..=100u64)
        };
        Order::limit(id, acc, symbol(), side, qty, price, tif, TICK, Timestamp(0))
            .unwrap_or_else(|e| panic!("{e}"))
    }
    /// Apply a command; true if it traded.
    fn apply(&mut self, cmd: Cmd) -> bool {
        self.events.clear();
        match cmd {
            Cmd::Place(o) => self.book.place(&o, Timestamp(0), &mut self.events),
            Cmd::Cancel(id) => {
                let _ = self.book.cancel(id, None, Timestamp(0), &mut self.events);
            }
            Cmd::Move(id, p) => {
                let _ = self
                    .book
                    .replace(id, None, Some(p), None, Timestamp(0), &mut self.events);
            }
        }
        if let Cmd::Place(o) = cmd {
            if self.book.order(o.id()).is_some() {
                self.live.add(o.id(), o.side());
            }
        }
        for e in &self.events {
            if e.is_terminal() {
                self.live.remove(e.order());
            }
        }
        self.events.iter().any(|e| matches!(e, Event::Trade(_)))
    }
}

/// Generate the exchange-core mix: `target` resting orders, then `n` commands.
pub fn exchange_core_mix(n: usize, target: usize, accounts: u64, seed: u64) -> Workload {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        book: OrderBook::new(symbol(), TICK),
        live: Live::default(),
        next_id: 1,
        accounts,
        events: Vec::new(),
    };
    while g.book.len() < target {
        let side = if g.rng.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = g.passive_price(side);
        let id = OrderId(g.next_id);
        g.next_id += 1;
        let acc = AccountId(g.rng.random_range(0..accounts));
        let qty = g.rng.random_range(1..=100u64);
        let o = Order::limit(
            id,
            acc,
            symbol(),
            side,
            qty,
            price,
            TimeInForce::Gtc,
            TICK,
            Timestamp(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        g.apply(Cmd::Place(o));
    }
    let start = g.book.clone();
    let mut cmds = Vec::with_capacity(n);
    let mut counts = MixCounts::default();
    let mut traded = 0u64;
    let lo = target * 9 / 10;
    let hi = target * 11 / 10;
    for _ in 0..n {
        let r = g.rng.random_range(0..100u32);
        let live = g.book.len();
        let cmd = if (r < 9 && live < hi) || live < lo {
            counts.gtc += 1;
            Cmd::Place(g.new_order(TimeInForce::Gtc))
        } else if r < 12 {
            counts.ioc += 1;
            Cmd::Place(g.new_order(TimeInForce::Ioc))
        } else if r < 18 || (r < 9 && live >= hi) {
            let Some((id, _)) = g.live.pick(&mut g.rng) else {
                continue;
            };
            counts.cancel += 1;
            Cmd::Cancel(id)
        } else {
            let Some((id, side)) = g.live.pick(&mut g.rng) else {
                continue;
            };
            counts.replace += 1;
            Cmd::Move(id, g.passive_price(side))
        };
        traded += u64::from(g.apply(cmd));
        cmds.push(cmd);
    }
    let trade_share = traded as f64 / cmds.len().max(1) as f64;
    Workload {
        start,
        cmds,
        counts,
        trade_share,
    }
}

/// Replay one command; returns the number of events it produced.
#[inline]
pub fn replay(book: &mut OrderBook, cmd: &Cmd, events: &mut Vec<Event>) -> usize {
    events.clear();
    match *cmd {
        Cmd::Place(ref o) => book.place(o, Timestamp(0), events),
        Cmd::Cancel(id) => {
            let _ = book.cancel(id, None, Timestamp(0), events);
        }
        Cmd::Move(id, p) => {
            let _ = book.replace(id, None, Some(p), None, Timestamp(0), events);
        }
    }
    events.len()
}
