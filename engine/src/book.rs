//! A limit order book for one symbol: price-time priority.
//!
//! Layout, chosen for speed (see `benches/README.md`):
//! - orders live in a slab (`Vec<Node>` plus a free list) and are linked
//!   into a FIFO per price level, so cancel is O(1) after the id lookup;
//! - an id map (`FxHashMap<OrderId, u32>`) finds an order's slot;
//! - each side is a `Vec<Level>` sorted so the best price is at the end:
//!   activity clusters at the touch, where inserting or removing a level
//!   moves few elements, and matching pops from the end.
//!
//! Invariants: the book is never crossed after an operation returns; every
//! level's `qty` is the sum of its orders' remaining quantities; a level
//! exists only while it holds an order.

use rustc_hash::FxHashMap;
use thiserror::Error;

use crate::events::{CancelReason, Event, RejectReason, Trade};
use crate::money::Price;
use crate::order::{Order, TimeInForce};
use crate::types::{AccountId, OrderId, Quantity, Side, Symbol, Timestamp};

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    id: OrderId,
    account: AccountId,
    price: Price,
    original: u64,
    remaining: u64,
    side: Side,
    tif: TimeInForce,
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy, Debug)]
struct Level {
    /// `price` for bids, `-price` for asks: ascending keys put the best
    /// price at the end of the vector on both sides.
    key: i64,
    price: Price,
    qty: u64,
    count: u32,
    head: u32,
    tail: u32,
}

#[derive(Clone, Debug, Default)]
struct Ladder {
    levels: Vec<Level>,
}

impl Ladder {
    #[inline]
    fn find(&self, key: i64) -> Result<usize, usize> {
        // Most operations are near the touch (the end): look there first.
        let n = self.levels.len();
        let mut i = n;
        let stop = n.saturating_sub(4);
        while i > stop {
            let k = self.levels[i - 1].key;
            if k == key {
                return Ok(i - 1);
            }
            if k < key {
                return Err(i);
            }
            i -= 1;
        }
        self.levels[..stop].binary_search_by_key(&key, |l| l.key)
    }
    fn best(&self) -> Option<&Level> {
        self.levels.last()
    }
}

/// Take the head order `i` off `level` (its slot goes to the free list);
/// returns the next order's slot.
#[inline]
fn pop_head(level: &mut Level, nodes: &mut [Node], free: &mut Vec<u32>, i: u32) -> u32 {
    let next = nodes[i as usize].next;
    free.push(i);
    level.count -= 1;
    level.head = next;
    if next != NIL {
        nodes[next as usize].prev = NIL;
    } else {
        level.tail = NIL;
    }
    next
}

#[inline]
fn key_of(side: Side, price: Price) -> i64 {
    match side {
        Side::Buy => price.minor(),
        Side::Sell => -price.minor(),
    }
}

/// One level of depth.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DepthLevel {
    pub price: Price,
    pub quantity: u64,
    pub orders: u32,
}

/// Best bid and offer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Quote {
    pub bid: Option<DepthLevel>,
    pub ask: Option<DepthLevel>,
}

/// A resting order's state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderState {
    pub id: OrderId,
    pub account: AccountId,
    pub side: Side,
    pub price: Price,
    pub original: u64,
    pub remaining: u64,
    pub time_in_force: TimeInForce,
}

impl OrderState {
    pub fn filled(&self) -> u64 {
        self.original - self.remaining
    }
}

/// Self-trade prevention: what happens when an incoming order would trade
/// with a resting order of the same account.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum SelfTrade {
    /// They trade (simulations, where one agent's two orders are two
    /// decisions).
    #[default]
    Allow,
    /// The resting order is cancelled (reason `self_trade`) and matching
    /// goes on past it.
    CancelResting,
    /// The incoming order's remainder is cancelled (reason `self_trade`)
    /// at the first own order it meets; what it traded before stays.
    CancelIncoming,
}

impl SelfTrade {
    pub const fn as_str(self) -> &'static str {
        match self {
            SelfTrade::Allow => "allow",
            SelfTrade::CancelResting => "cancel_resting",
            SelfTrade::CancelIncoming => "cancel_incoming",
        }
    }
}

impl std::str::FromStr for SelfTrade {
    type Err = String;
    fn from_str(s: &str) -> Result<SelfTrade, String> {
        [
            SelfTrade::Allow,
            SelfTrade::CancelResting,
            SelfTrade::CancelIncoming,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| format!("`{s}`: expected allow, cancel_resting or cancel_incoming"))
    }
}

/// Why a cancel or replace did nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Error)]
pub enum BookError {
    #[error("order {0} is not resting in this book")]
    UnknownOrder(OrderId),
    #[error("order {0} belongs to another account")]
    NotOwner(OrderId),
    #[error("price {price} is not on the tick grid of {tick}")]
    OffTickGrid { price: Price, tick: Price },
    #[error("price must be greater than zero")]
    NonPositivePrice,
}

impl BookError {
    pub fn reason(&self) -> RejectReason {
        match self {
            BookError::UnknownOrder(_) | BookError::NotOwner(_) => RejectReason::UnknownOrder,
            BookError::OffTickGrid { .. } => RejectReason::OffTickGrid,
            BookError::NonPositivePrice => RejectReason::NonPositivePrice,
        }
    }
}

/// The order book of one symbol.
#[derive(Clone, Debug)]
pub struct OrderBook {
    symbol: Symbol,
    tick: Price,
    bids: Ladder,
    asks: Ladder,
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: FxHashMap<OrderId, u32>,
    trade_seq: u64,
    self_trade: SelfTrade,
}

impl OrderBook {
    /// An empty book. `tick` must be positive.
    pub fn new(symbol: Symbol, tick: Price) -> Self {
        assert!(tick.is_positive(), "tick size must be positive");
        OrderBook {
            symbol,
            tick,
            bids: Ladder::default(),
            asks: Ladder::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            index: FxHashMap::default(),
            trade_seq: 0,
            self_trade: SelfTrade::Allow,
        }
    }

    /// Set the self-trade prevention rule for orders placed from now on.
    pub fn set_self_trade(&mut self, rule: SelfTrade) {
        self.self_trade = rule;
    }
    pub fn self_trade(&self) -> SelfTrade {
        self.self_trade
    }

    pub fn symbol(&self) -> Symbol {
        self.symbol
    }
    pub fn tick(&self) -> Price {
        self.tick
    }
    /// Number of resting orders.
    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
    /// Trades executed so far (the last trade's sequence number).
    pub fn trade_count(&self) -> u64 {
        self.trade_seq
    }
    /// Continue trade numbering after `seq` (a book restored from a
    /// journal must not reuse trade ids). Never moves it back.
    pub fn resume_trade_seq(&mut self, seq: u64) {
        self.trade_seq = self.trade_seq.max(seq);
    }

    pub fn best_bid(&self) -> Option<Price> {
        self.bids.best().map(|l| l.price)
    }
    pub fn best_ask(&self) -> Option<Price> {
        self.asks.best().map(|l| l.price)
    }
    /// L1: best bid and offer with their sizes.
    pub fn quote(&self) -> Quote {
        let lv = |l: &Level| DepthLevel {
            price: l.price,
            quantity: l.qty,
            orders: l.count,
        };
        Quote {
            bid: self.bids.best().map(lv),
            ask: self.asks.best().map(lv),
        }
    }
    /// L2: up to `levels` price levels per side, best first.
    pub fn depth(&self, levels: usize) -> (Vec<DepthLevel>, Vec<DepthLevel>) {
        let side = |l: &Ladder| {
            l.levels
                .iter()
                .rev()
                .take(levels)
                .map(|l| DepthLevel {
                    price: l.price,
                    quantity: l.qty,
                    orders: l.count,
                })
                .collect()
        };
        (side(&self.bids), side(&self.asks))
    }
    /// Total resting quantity on one side.
    pub fn side_quantity(&self, side: Side) -> u64 {
        self.ladder(side).levels.iter().map(|l| l.qty).sum()
    }
    /// A resting order's state; `None` once it has filled, been cancelled or
    /// expired (those outcomes are reported through events).
    pub fn order(&self, id: OrderId) -> Option<OrderState> {
        self.index.get(&id).map(|&i| {
            let n = &self.nodes[i as usize];
            OrderState {
                id: n.id,
                account: n.account,
                side: n.side,
                price: n.price,
                original: n.original,
                remaining: n.remaining,
                time_in_force: n.tif,
            }
        })
    }
    /// Every resting order, bids then asks, each best price first and in
    /// time priority within a level.
    pub fn orders(&self) -> Vec<OrderState> {
        let mut out = Vec::with_capacity(self.len());
        for ladder in [&self.bids, &self.asks] {
            for level in ladder.levels.iter().rev() {
                let mut i = level.head;
                while i != NIL {
                    let n = &self.nodes[i as usize];
                    if let Some(s) = self.order(n.id) {
                        out.push(s);
                    }
                    i = n.next;
                }
            }
        }
        out
    }

    /// Place a validated order. Emits `Accepted`, then any trades with fill
    /// events for both sides, then a terminal event for the incoming order
    /// unless it rests. An id already resting is `Rejected`.
    pub fn place(&mut self, order: &Order, ts: Timestamp, events: &mut Vec<Event>) {
        let id = order.id();
        let account = order.account();
        if self.index.contains_key(&id) {
            events.push(Event::Rejected {
                order: id,
                account,
                reason: RejectReason::DuplicateOrderId,
                ts,
            });
            return;
        }
        if order.symbol() != self.symbol {
            events.push(Event::Rejected {
                order: id,
                account,
                reason: RejectReason::UnknownSymbol,
                ts,
            });
            return;
        }
        let qty = order.quantity().get();
        let side = order.side();
        let limit = order.price();
        events.push(Event::Accepted {
            order: id,
            account,
            side,
            price: limit,
            quantity: qty,
            ts,
        });
        let tif = order.time_in_force();
        if tif == TimeInForce::Fok && self.fillable(side, limit, account, qty) < qty {
            events.push(Event::Cancelled {
                order: id,
                account,
                remaining: qty,
                reason: CancelReason::Killed,
                ts,
            });
            return;
        }
        let (remaining, stopped) =
            self.match_incoming(id, account, side, limit, qty, qty, ts, events);
        if remaining == 0 {
            return;
        }
        if stopped {
            events.push(Event::Cancelled {
                order: id,
                account,
                remaining,
                reason: CancelReason::SelfTrade,
                ts,
            });
        } else if tif.rests() {
            self.rest(Node {
                id,
                account,
                price: limit,
                original: qty,
                remaining,
                side,
                tif,
                prev: NIL,
                next: NIL,
            });
        } else {
            events.push(Event::Cancelled {
                order: id,
                account,
                remaining,
                reason: CancelReason::Unfilled,
                ts,
            });
        }
    }

    /// Cancel a resting order. With `owner`, only that account's order.
    pub fn cancel(
        &mut self,
        id: OrderId,
        owner: Option<AccountId>,
        ts: Timestamp,
        events: &mut Vec<Event>,
    ) -> Result<OrderState, BookError> {
        let state = self.order(id).ok_or(BookError::UnknownOrder(id))?;
        if owner.is_some_and(|o| o != state.account) {
            return Err(BookError::NotOwner(id));
        }
        self.unlink(id);
        events.push(Event::Cancelled {
            order: id,
            account: state.account,
            remaining: state.remaining,
            reason: CancelReason::Requested,
            ts,
        });
        Ok(state)
    }

    /// Replace a resting order's price and/or remaining quantity.
    ///
    /// A pure reduction of quantity at the same price keeps queue priority;
    /// anything else moves the order to the back of its (new) level, and a
    /// new price that crosses the book matches at once as a taker.
    pub fn replace(
        &mut self,
        id: OrderId,
        owner: Option<AccountId>,
        new_price: Option<Price>,
        new_remaining: Option<Quantity>,
        ts: Timestamp,
        events: &mut Vec<Event>,
    ) -> Result<(), BookError> {
        let &slot = self.index.get(&id).ok_or(BookError::UnknownOrder(id))?;
        let node = self.nodes[slot as usize];
        if owner.is_some_and(|o| o != node.account) {
            return Err(BookError::NotOwner(id));
        }
        let price = new_price.unwrap_or(node.price);
        if !price.is_positive() {
            return Err(BookError::NonPositivePrice);
        }
        if !price.is_on_grid(self.tick) {
            return Err(BookError::OffTickGrid {
                price,
                tick: self.tick,
            });
        }
        let remaining = new_remaining.map_or(node.remaining, Quantity::get);
        let filled = node.original - node.remaining;
        let original = filled + remaining;
        if price == node.price && remaining <= node.remaining {
            // Keeps its place in the queue.
            let ladder = match node.side {
                Side::Buy => &mut self.bids,
                Side::Sell => &mut self.asks,
            };
            if let Ok(li) = ladder.find(key_of(node.side, price)) {
                ladder.levels[li].qty -= node.remaining - remaining;
            }
            let n = &mut self.nodes[slot as usize];
            n.remaining = remaining;
            n.original = original;
            events.push(Event::Replaced {
                order: id,
                account: node.account,
                price,
                remaining,
                ts,
            });
            return Ok(());
        }
        self.unlink(id);
        events.push(Event::Replaced {
            order: id,
            account: node.account,
            price,
            remaining,
            ts,
        });
        let (left, stopped) = self.match_incoming(
            id,
            node.account,
            node.side,
            price,
            remaining,
            original,
            ts,
            events,
        );
        if left > 0 && stopped {
            events.push(Event::Cancelled {
                order: id,
                account: node.account,
                remaining: left,
                reason: CancelReason::SelfTrade,
                ts,
            });
        } else if left > 0 {
            self.rest(Node {
                price,
                original,
                remaining: left,
                prev: NIL,
                next: NIL,
                ..node
            });
        }
        Ok(())
    }

    /// End of day: every resting DAY order expires.
    pub fn expire_day_orders(&mut self, ts: Timestamp, events: &mut Vec<Event>) {
        let day: Vec<OrderId> = self
            .orders()
            .into_iter()
            .filter(|o| o.time_in_force == TimeInForce::Day)
            .map(|o| o.id)
            .collect();
        for id in day {
            if let Some(state) = self.order(id) {
                self.unlink(id);
                events.push(Event::Expired {
                    order: id,
                    account: state.account,
                    remaining: state.remaining,
                    ts,
                });
            }
        }
    }

    /// Quantity available to `account`'s taker on `side` at `limit` or
    /// better (under the self-trade rule), counted up to `want`.
    fn fillable(&self, side: Side, limit: Price, account: AccountId, want: u64) -> u64 {
        let mut total = 0u64;
        for l in self.ladder(side.opposite()).levels.iter().rev() {
            if !crosses(side, limit, l.price) || total >= want {
                break;
            }
            if self.self_trade == SelfTrade::Allow {
                total += l.qty;
                continue;
            }
            let mut i = l.head;
            while i != NIL {
                let n = &self.nodes[i as usize];
                if n.account != account {
                    total += n.remaining;
                } else if self.self_trade == SelfTrade::CancelIncoming {
                    return total;
                }
                i = n.next;
            }
        }
        total
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Match an incoming order against the opposite side; returns what is
    /// left, and whether matching stopped at an own order (self-trade rule
    /// `CancelIncoming`: the caller cancels the rest). `original` is the
    /// taker's total size (for fill events).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn match_incoming(
        &mut self,
        id: OrderId,
        account: AccountId,
        side: Side,
        limit: Price,
        qty: u64,
        original: u64,
        ts: Timestamp,
        events: &mut Vec<Event>,
    ) -> (u64, bool) {
        let mut remaining = qty;
        let rule = self.self_trade;
        let opp = match side {
            Side::Buy => &mut self.asks,
            Side::Sell => &mut self.bids,
        };
        while remaining > 0 {
            let Some(level) = opp.levels.last_mut() else {
                break;
            };
            if !crosses(side, limit, level.price) {
                break;
            }
            let mut i = level.head;
            while i != NIL && remaining > 0 {
                let maker = &mut self.nodes[i as usize];
                if maker.account == account && rule != SelfTrade::Allow {
                    if rule == SelfTrade::CancelIncoming {
                        return (remaining, true);
                    }
                    events.push(Event::Cancelled {
                        order: maker.id,
                        account,
                        remaining: maker.remaining,
                        reason: CancelReason::SelfTrade,
                        ts,
                    });
                    level.qty -= maker.remaining;
                    maker.remaining = 0;
                    let id = maker.id;
                    i = pop_head(level, &mut self.nodes, &mut self.free, i);
                    self.index.remove(&id);
                    continue;
                }
                let q = maker.remaining.min(remaining);
                maker.remaining -= q;
                remaining -= q;
                level.qty -= q;
                self.trade_seq += 1;
                events.push(Event::Trade(Trade {
                    symbol: self.symbol,
                    seq: self.trade_seq,
                    price: maker.price,
                    quantity: q,
                    maker_order: maker.id,
                    maker_account: maker.account,
                    taker_order: id,
                    taker_account: account,
                    taker_side: side,
                    ts,
                }));
                if maker.remaining == 0 {
                    events.push(Event::Filled {
                        order: maker.id,
                        account: maker.account,
                        ts,
                    });
                    let id = maker.id;
                    i = pop_head(level, &mut self.nodes, &mut self.free, i);
                    self.index.remove(&id);
                } else {
                    events.push(Event::PartiallyFilled {
                        order: maker.id,
                        account: maker.account,
                        filled: maker.original - maker.remaining,
                        remaining: maker.remaining,
                        ts,
                    });
                }
                if remaining == 0 {
                    events.push(Event::Filled {
                        order: id,
                        account,
                        ts,
                    });
                } else {
                    events.push(Event::PartiallyFilled {
                        order: id,
                        account,
                        filled: original - remaining,
                        remaining,
                        ts,
                    });
                }
            }
            if level.count == 0 {
                opp.levels.pop();
            }
        }
        (remaining, false)
    }

    fn rest(&mut self, mut node: Node) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let ladder = match node.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let key = key_of(node.side, node.price);
        match ladder.find(key) {
            Ok(li) => {
                let level = &mut ladder.levels[li];
                node.prev = level.tail;
                node.next = NIL;
                if level.tail != NIL {
                    self.nodes[level.tail as usize].next = slot;
                } else {
                    level.head = slot;
                }
                level.tail = slot;
                level.qty += node.remaining;
                level.count += 1;
            }
            Err(li) => {
                node.prev = NIL;
                node.next = NIL;
                ladder.levels.insert(
                    li,
                    Level {
                        key,
                        price: node.price,
                        qty: node.remaining,
                        count: 1,
                        head: slot,
                        tail: slot,
                    },
                );
            }
        }
        self.nodes[slot as usize] = node;
        self.index.insert(node.id, slot);
    }

    /// Take a resting order out of its level and free its slot.
    fn unlink(&mut self, id: OrderId) {
        let Some(slot) = self.index.remove(&id) else {
            return;
        };
        let node = self.nodes[slot as usize];
        let ladder = match node.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if let Ok(li) = ladder.find(key_of(node.side, node.price)) {
            let level = &mut ladder.levels[li];
            if node.prev != NIL {
                self.nodes[node.prev as usize].next = node.next;
            } else {
                level.head = node.next;
            }
            if node.next != NIL {
                self.nodes[node.next as usize].prev = node.prev;
            } else {
                level.tail = node.prev;
            }
            level.qty -= node.remaining;
            level.count -= 1;
            if level.count == 0 {
                ladder.levels.remove(li);
            }
        }
        self.free.push(slot);
    }

    /// Check the book's structural invariants; `Err` names the first broken
    /// one. Used by tests and debug assertions.
    pub fn check_invariants(&self) -> Result<(), String> {
        if let (Some(b), Some(a)) = (self.best_bid(), self.best_ask()) {
            if b >= a {
                return Err(format!("crossed: bid {b} >= ask {a}"));
            }
        }
        let mut seen = 0usize;
        for (side, ladder) in [(Side::Buy, &self.bids), (Side::Sell, &self.asks)] {
            for w in ladder.levels.windows(2) {
                if w[0].key >= w[1].key {
                    return Err(format!("{side:?} levels out of order"));
                }
            }
            for l in &ladder.levels {
                let (mut q, mut c, mut i, mut prev) = (0u64, 0u32, l.head, NIL);
                while i != NIL {
                    let n = &self.nodes[i as usize];
                    if n.price != l.price || n.side != side || n.prev != prev || n.remaining == 0 {
                        return Err(format!("bad node {:?} in level {}", n.id, l.price));
                    }
                    q += n.remaining;
                    c += 1;
                    prev = i;
                    i = n.next;
                }
                if q != l.qty || c != l.count || prev != l.tail || c == 0 {
                    return Err(format!("level {} totals disagree", l.price));
                }
                seen += c as usize;
            }
        }
        if seen != self.index.len() {
            return Err(format!(
                "{seen} linked orders but {} indexed",
                self.index.len()
            ));
        }
        Ok(())
    }
}

#[inline]
fn crosses(taker: Side, limit: Price, resting: Price) -> bool {
    match taker {
        Side::Buy => resting <= limit,
        Side::Sell => resting >= limit,
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
