//! The state the journal folds into: what recovery rebuilds the market
//! from, and what a checkpoint writes to the tables. Pure (no IO), so the
//! fold is the same live and at recovery, and testable without a database.

use std::collections::BTreeMap;

use actors::facts::{Fact, OrderFact};
use engine::{
    AccountId, Candle, Candles, DayStats, Event, Fees, Money, OrderId, OrderStatus, OrderType,
    Price, Side, Symbol, TimeInForce, Timestamp, Trade,
};
use rustc_hash::{FxHashMap, FxHashSet};

/// A registered user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    pub key_hash: String,
    pub created_at: Timestamp,
}

/// One order as stored. Side, type and time in force are unknown (`None`)
/// only for an order whose request was never journaled and whose
/// acceptance has not been folded yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub id: OrderId,
    pub account: AccountId,
    pub symbol: Symbol,
    pub side: Option<Side>,
    pub order_type: Option<OrderType>,
    pub time_in_force: Option<TimeInForce>,
    pub quantity: u64,
    pub limit_price: Option<Price>,
    pub client_order_id: Option<engine::ClientOrderId>,
    pub status: OrderStatus,
    pub filled: u64,
    pub remaining: u64,
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl OrderRow {
    fn from_request(o: &OrderFact) -> OrderRow {
        OrderRow {
            id: o.id,
            account: o.account,
            symbol: o.symbol,
            side: Some(o.side),
            order_type: Some(o.order_type),
            time_in_force: Some(o.time_in_force),
            quantity: o.quantity,
            limit_price: o.limit_price,
            client_order_id: o.client_order_id,
            status: if o.denied.is_some() {
                OrderStatus::Denied
            } else {
                OrderStatus::Accepted
            },
            filled: 0,
            remaining: if o.denied.is_some() { 0 } else { o.quantity },
            reason: o.denied.map(|r| r.as_str().to_string()),
            created_at: o.at,
            updated_at: o.at,
        }
    }
    fn placeholder(id: OrderId, account: AccountId, symbol: Symbol, ts: Timestamp) -> OrderRow {
        OrderRow {
            id,
            account,
            symbol,
            side: None,
            order_type: None,
            time_in_force: None,
            quantity: 0,
            limit_price: None,
            client_order_id: None,
            status: OrderStatus::Accepted,
            filled: 0,
            remaining: 0,
            reason: None,
            created_at: ts,
            updated_at: ts,
        }
    }
    /// Statuses only move forward (`OrderOrderStatus::after`): a late
    /// acceptance never reopens an order that a fill or cancel closed.
    fn advance(&mut self, event: &Event, ts: Timestamp) {
        if !self.status.is_open() {
            return;
        }
        self.status = self.status.after(event);
        self.updated_at = self.updated_at.max(ts);
    }
}

/// A symbol's persisted state.
#[derive(Clone, Debug)]
pub struct StockRow {
    pub tick: Price,
    pub stats: DayStats,
    pub candles: Candles,
    /// The last trade's per-book sequence number.
    pub trade_seq: u64,
    /// Listed at run time (not from settings).
    pub listed: bool,
}

/// Everything folded from the journal, with what changed since the last
/// checkpoint.
#[derive(Debug)]
pub struct Durable {
    fees: Fees,
    fee_account: AccountId,
    /// Journal sequence number of the last folded fact.
    pub seq: u64,
    /// `seq` when the last snapshot was taken: a checkpoint is due even
    /// when the facts since changed no table, so that `checkpoint.seq`
    /// reaches the journal's end (exports wait for it).
    taken: u64,
    pub users: BTreeMap<AccountId, UserRow>,
    pub cash: FxHashMap<AccountId, i64>,
    pub holdings: FxHashMap<(AccountId, Symbol), u64>,
    /// Open orders, and closed ones not yet checkpointed.
    pub orders: FxHashMap<OrderId, OrderRow>,
    pub stocks: BTreeMap<Symbol, StockRow>,
    /// Trades not yet checkpointed.
    pub new_trades: Vec<Trade>,
    pub max_order_id: u64,
    /// Background tasks, each as last journaled.
    pub tasks: BTreeMap<u64, actors::task::Task>,
    pub(crate) dirty_tasks: FxHashSet<u64>,
    pub(crate) dirty_users: FxHashSet<AccountId>,
    pub(crate) dirty_cash: FxHashSet<AccountId>,
    pub(crate) dirty_holdings: FxHashSet<(AccountId, Symbol)>,
    pub(crate) dirty_orders: FxHashSet<OrderId>,
    /// Open orders with a row in `orders` (loaded, or in a checkpoint
    /// already taken): a checkpoint upserts these and inserts the others
    /// unchecked. Only a hint for speed: a wrong one costs a retry.
    pub(crate) stored_orders: FxHashSet<OrderId>,
    pub(crate) dirty_stocks: FxHashSet<Symbol>,
    pub(crate) dirty_candles: FxHashSet<(Symbol, Timestamp)>,
    /// Facts the fold could not apply (logged; counted for tests).
    pub anomalies: u64,
}

impl Durable {
    pub fn new(fees: Fees, fee_account: AccountId) -> Durable {
        Durable {
            fees,
            fee_account,
            seq: 0,
            taken: 0,
            users: BTreeMap::new(),
            cash: FxHashMap::default(),
            holdings: FxHashMap::default(),
            orders: FxHashMap::default(),
            stocks: BTreeMap::new(),
            new_trades: Vec::new(),
            max_order_id: 0,
            tasks: BTreeMap::new(),
            dirty_tasks: FxHashSet::default(),
            dirty_users: FxHashSet::default(),
            dirty_cash: FxHashSet::default(),
            dirty_holdings: FxHashSet::default(),
            dirty_orders: FxHashSet::default(),
            stored_orders: FxHashSet::default(),
            dirty_stocks: FxHashSet::default(),
            dirty_candles: FxHashSet::default(),
            anomalies: 0,
        }
    }

    pub fn fee_account(&self) -> AccountId {
        self.fee_account
    }

    /// Nothing has ever been journaled.
    pub fn is_empty(&self) -> bool {
        self.seq == 0 && self.cash.is_empty() && self.users.is_empty()
    }

    /// True when something changed since the last checkpoint.
    pub fn is_dirty(&self) -> bool {
        self.seq != self.taken
            || !(self.dirty_users.is_empty()
                && self.dirty_cash.is_empty()
                && self.dirty_holdings.is_empty()
                && self.dirty_orders.is_empty()
                && self.dirty_stocks.is_empty()
                && self.dirty_tasks.is_empty()
                && self.new_trades.is_empty())
    }

    /// Make sure a symbol has a row (symbols from settings are registered
    /// at start with their listing price).
    pub fn ensure_stock(&mut self, symbol: Symbol, tick: Price, reference: Price) {
        if let std::collections::btree_map::Entry::Vacant(e) = self.stocks.entry(symbol) {
            e.insert(StockRow {
                tick,
                stats: DayStats::new(reference),
                candles: Candles::default(),
                trade_seq: 0,
                listed: false,
            });
            self.dirty_stocks.insert(symbol);
        }
    }

    fn add_cash(&mut self, a: AccountId, delta: i64) {
        *self.cash.entry(a).or_default() += delta;
        self.dirty_cash.insert(a);
    }

    fn add_shares(&mut self, a: AccountId, s: Symbol, delta: i64) {
        let h = self.holdings.entry((a, s)).or_default();
        *h = h.saturating_add_signed(delta);
        self.dirty_holdings.insert((a, s));
    }

    fn order_mut(
        &mut self,
        id: OrderId,
        account: AccountId,
        symbol: Symbol,
        ts: Timestamp,
    ) -> &mut OrderRow {
        self.max_order_id = self.max_order_id.max(id.0);
        self.dirty_orders.insert(id);
        self.orders
            .entry(id)
            .or_insert_with(|| OrderRow::placeholder(id, account, symbol, ts))
    }

    /// Fold one fact (the journal's `seq` is advanced by the caller).
    pub fn apply(&mut self, fact: &Fact) {
        match fact {
            Fact::User {
                account,
                name,
                key_hash,
                at,
            } => {
                self.users.insert(
                    *account,
                    UserRow {
                        name: name.clone(),
                        key_hash: key_hash.clone(),
                        created_at: *at,
                    },
                );
                self.dirty_users.insert(*account);
            }
            Fact::Open { account } => self.add_cash(*account, 0),
            Fact::Deposit { account, amount } => self.add_cash(*account, amount.minor()),
            Fact::Issue {
                account,
                symbol,
                quantity,
            } => self.add_shares(*account, *symbol, *quantity as i64),
            Fact::Listed {
                symbol,
                tick,
                price,
            } => {
                self.ensure_stock(*symbol, *tick, *price);
                if let Some(s) = self.stocks.get_mut(symbol) {
                    s.listed = true;
                }
            }
            Fact::Order(o) => {
                self.max_order_id = self.max_order_id.max(o.id.0);
                self.dirty_orders.insert(o.id);
                match self.orders.get_mut(&o.id) {
                    // Events folded first (they can race the request).
                    Some(row) => {
                        let mut req = OrderRow::from_request(o);
                        req.status = row.status;
                        req.filled = row.filled;
                        req.remaining = row.remaining;
                        req.updated_at = row.updated_at;
                        *row = req;
                    }
                    None => {
                        self.orders.insert(o.id, OrderRow::from_request(o));
                    }
                }
            }
            Fact::Event { symbol, event } => self.apply_event(*symbol, event),
            Fact::Task(t) => {
                self.tasks.insert(t.id, (**t).clone());
                self.dirty_tasks.insert(t.id);
            }
            Fact::Tick {
                symbol, price, ts, ..
            } => {
                if let Some(s) = self.stocks.get_mut(symbol) {
                    s.stats.on_tick(*ts, *price);
                    if s.candles.on_tick(*ts, *price).is_ok() {
                        self.dirty_candles.insert((*symbol, ts.minute_floor()));
                    }
                    self.dirty_stocks.insert(*symbol);
                }
            }
        }
    }

    fn apply_event(&mut self, symbol: Symbol, event: &Event) {
        match *event {
            Event::Accepted {
                order,
                account,
                side,
                price,
                quantity,
                ts,
            } => {
                let row = self.order_mut(order, account, symbol, ts);
                if row.side.is_none() {
                    row.side = Some(side);
                    row.order_type = Some(OrderType::Limit);
                    row.time_in_force = Some(TimeInForce::Gtc);
                    row.limit_price = Some(price);
                    row.quantity = quantity;
                    if row.status.is_open() && row.filled == 0 {
                        row.remaining = quantity;
                    }
                }
                if row.limit_price.is_none() {
                    // A market order rests at (and is bounded by) its collar.
                    row.limit_price = Some(price);
                }
            }
            Event::Rejected {
                order,
                account,
                reason,
                ts,
            } => {
                let row = self.order_mut(order, account, symbol, ts);
                row.advance(event, ts);
                row.remaining = 0;
                row.reason = Some(reason.as_str().to_string());
            }
            Event::Trade(t) => self.apply_trade(symbol, &t),
            Event::PartiallyFilled {
                order,
                account,
                filled,
                remaining,
                ts,
            } => {
                let row = self.order_mut(order, account, symbol, ts);
                if row.status.is_open() && filled >= row.filled {
                    row.filled = filled;
                    row.remaining = remaining;
                    row.quantity = row.quantity.max(filled + remaining);
                }
                row.advance(event, ts);
            }
            Event::Filled { order, account, ts } => {
                let row = self.order_mut(order, account, symbol, ts);
                if row.status.is_open() {
                    row.filled += row.remaining;
                    row.remaining = 0;
                    row.quantity = row.quantity.max(row.filled);
                }
                row.advance(event, ts);
            }
            Event::Cancelled {
                order,
                account,
                remaining,
                reason,
                ts,
            } => {
                let row = self.order_mut(order, account, symbol, ts);
                if row.status.is_open() {
                    // Nothing remains to fill (as the API says); what was
                    // cancelled is quantity - filled.
                    row.remaining = 0;
                    row.quantity = row.quantity.max(row.filled + remaining);
                    row.reason = Some(reason.as_str().to_string());
                }
                row.advance(event, ts);
            }
            Event::Expired {
                order,
                account,
                remaining,
                ts,
            } => {
                let row = self.order_mut(order, account, symbol, ts);
                if row.status.is_open() {
                    row.remaining = 0;
                    row.quantity = row.quantity.max(row.filled + remaining);
                }
                row.advance(event, ts);
            }
            Event::Replaced {
                order,
                account,
                price,
                remaining,
                ts,
            } => {
                let row = self.order_mut(order, account, symbol, ts);
                if row.status.is_open() {
                    row.limit_price = Some(price);
                    row.remaining = remaining;
                    row.quantity = row.filled + remaining;
                    row.updated_at = row.updated_at.max(ts);
                }
            }
        }
    }

    fn apply_trade(&mut self, symbol: Symbol, t: &Trade) {
        let Ok((notional, buy_fee, sell_fee)) = self.fees.charges(t) else {
            self.anomalies += 1;
            tracing::error!(?t, "journal: a trade whose value overflows; not folded");
            return;
        };
        let (_, buyer) = t.buyer();
        let (_, seller) = t.seller();
        self.add_cash(buyer, -(notional.minor() + buy_fee.minor()));
        self.add_cash(seller, notional.minor() - sell_fee.minor());
        self.add_cash(
            self.fee_account,
            Money::from_minor(buy_fee.minor() + sell_fee.minor()).minor(),
        );
        self.add_shares(buyer, symbol, t.quantity as i64);
        self.add_shares(seller, symbol, -(t.quantity as i64));
        self.max_order_id = self.max_order_id.max(t.maker_order.0).max(t.taker_order.0);
        if let Some(s) = self.stocks.get_mut(&symbol) {
            s.stats.on_trade(t.ts, t.price, t.quantity);
            if s.candles.on_trade(t.ts, t.price, t.quantity).is_ok() {
                self.dirty_candles.insert((symbol, t.ts.minute_floor()));
            }
            s.trade_seq = s.trade_seq.max(t.seq);
            self.dirty_stocks.insert(symbol);
        }
        self.new_trades.push(*t);
    }

    /// Open orders, oldest first (their time priority).
    pub fn open_orders(&self) -> Vec<&OrderRow> {
        let mut v: Vec<&OrderRow> = self
            .orders
            .values()
            .filter(|o| o.status.is_open())
            .collect();
        v.sort_by_key(|o| o.id);
        v
    }

    /// A candle of a symbol by its start.
    pub fn candle(&self, symbol: Symbol, start: Timestamp) -> Option<Candle> {
        let s = self.stocks.get(&symbol)?;
        s.candles
            .last()
            .filter(|c| c.start == start)
            .or_else(|| s.candles.all().into_iter().rev().find(|c| c.start == start))
    }

    /// Move what changed since the last checkpoint into a snapshot (a
    /// `Durable` holding only those rows, with everything marked dirty) for
    /// a checkpoint to write; closed orders leave memory here.
    pub fn take_dirty(&mut self) -> Durable {
        let mut snap = Durable::new(self.fees, self.fee_account);
        snap.seq = self.seq;
        self.taken = self.seq;
        snap.max_order_id = self.max_order_id;
        for a in &self.dirty_users {
            if let Some(u) = self.users.get(a) {
                snap.users.insert(*a, u.clone());
            }
        }
        snap.dirty_users = std::mem::take(&mut self.dirty_users);
        for a in &self.dirty_cash {
            snap.cash.insert(*a, self.cash.get(a).copied().unwrap_or(0));
        }
        snap.dirty_cash = std::mem::take(&mut self.dirty_cash);
        for k in &self.dirty_holdings {
            snap.holdings
                .insert(*k, self.holdings.get(k).copied().unwrap_or(0));
        }
        snap.dirty_holdings = std::mem::take(&mut self.dirty_holdings);
        snap.dirty_stocks = std::mem::take(&mut self.dirty_stocks);
        snap.dirty_candles = std::mem::take(&mut self.dirty_candles);
        for sym in snap
            .dirty_stocks
            .iter()
            .chain(snap.dirty_candles.iter().map(|(s, _)| s))
        {
            if let Some(r) = self.stocks.get(sym) {
                snap.stocks.entry(*sym).or_insert_with(|| r.clone());
            }
        }
        for id in self.dirty_orders.drain() {
            let closed = self.orders.get(&id).is_some_and(|o| !o.status.is_open());
            let row = if closed {
                self.orders.remove(&id)
            } else {
                self.orders.get(&id).cloned()
            };
            let stored = if closed {
                self.stored_orders.remove(&id)
            } else {
                !self.stored_orders.insert(id)
            };
            if let Some(row) = row {
                snap.orders.insert(id, row);
                snap.dirty_orders.insert(id);
                if stored {
                    snap.stored_orders.insert(id);
                }
            }
        }
        for id in self.dirty_tasks.drain() {
            if let Some(t) = self.tasks.get(&id) {
                snap.tasks.insert(id, t.clone());
                snap.dirty_tasks.insert(id);
            }
        }
        snap.new_trades = std::mem::take(&mut self.new_trades);
        snap
    }

    /// Fold a later snapshot into this one (a checkpoint that was refused
    /// is retried with everything that changed since, so no row is lost):
    /// the later rows win, trades are kept in order.
    pub fn absorb(&mut self, later: Durable) {
        self.seq = later.seq;
        self.max_order_id = self.max_order_id.max(later.max_order_id);
        for a in later.dirty_users {
            if let Some(u) = later.users.get(&a) {
                self.users.insert(a, u.clone());
            }
            self.dirty_users.insert(a);
        }
        for a in later.dirty_cash {
            self.cash
                .insert(a, later.cash.get(&a).copied().unwrap_or(0));
            self.dirty_cash.insert(a);
        }
        for k in later.dirty_holdings {
            self.holdings
                .insert(k, later.holdings.get(&k).copied().unwrap_or(0));
            self.dirty_holdings.insert(k);
        }
        self.stocks.extend(later.stocks);
        self.dirty_stocks.extend(later.dirty_stocks);
        self.dirty_candles.extend(later.dirty_candles);
        for id in later.dirty_orders {
            if let Some(o) = later.orders.get(&id) {
                self.orders.insert(id, o.clone());
            }
            self.dirty_orders.insert(id);
        }
        self.stored_orders.extend(later.stored_orders);
        for id in later.dirty_tasks {
            if let Some(t) = later.tasks.get(&id) {
                self.tasks.insert(id, t.clone());
            }
            self.dirty_tasks.insert(id);
        }
        self.new_trades.extend(later.new_trades);
    }

    /// Sum of all cash (fee account included) and of each symbol's shares:
    /// what conservation checks compare against deposits and issues.
    pub fn totals(&self) -> (i64, BTreeMap<Symbol, u64>) {
        let cash = self.cash.values().sum();
        let mut shares = BTreeMap::new();
        for ((_, s), q) in &self.holdings {
            *shares.entry(*s).or_default() += q;
        }
        (cash, shares)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::RejectReason;

    fn sym() -> Symbol {
        Symbol::new("ACME").unwrap()
    }

    fn trade(seq: u64, maker: (u64, u64), taker: (u64, u64), side: Side) -> Trade {
        Trade {
            symbol: sym(),
            seq,
            price: Price::from_minor(1_000),
            quantity: 10,
            maker_order: OrderId(maker.0),
            maker_account: AccountId(maker.1),
            taker_order: OrderId(taker.0),
            taker_account: AccountId(taker.1),
            taker_side: side,
            ts: Timestamp(60_000_000_000),
        }
    }

    #[test]
    fn trades_move_cash_shares_and_fees_and_conserve_both() {
        let mut d = Durable::new(Fees::new(10, 20).unwrap(), AccountId(u64::MAX));
        d.ensure_stock(sym(), Price::from_minor(1), Price::from_minor(1_000));
        for f in [
            Fact::Open {
                account: AccountId(1),
            },
            Fact::Deposit {
                account: AccountId(1),
                amount: Money::from_minor(100_000),
            },
            Fact::Open {
                account: AccountId(2),
            },
            Fact::Issue {
                account: AccountId(2),
                symbol: sym(),
                quantity: 50,
            },
        ] {
            d.apply(&f);
        }
        // Account 2 rests a sell (maker), account 1 buys (taker).
        d.apply(&Fact::Event {
            symbol: sym(),
            event: Event::Trade(trade(1, (5, 2), (6, 1), Side::Buy)),
        });
        // notional 10,000; taker (buyer) 20 bps = 20, maker 10 bps = 10.
        assert_eq!(d.cash[&AccountId(1)], 100_000 - 10_000 - 20);
        assert_eq!(d.cash[&AccountId(2)], 10_000 - 10);
        assert_eq!(d.cash[&AccountId(u64::MAX)], 30);
        assert_eq!(d.holdings[&(AccountId(1), sym())], 10);
        assert_eq!(d.holdings[&(AccountId(2), sym())], 40);
        let (cash, shares) = d.totals();
        assert_eq!(cash, 100_000);
        assert_eq!(shares[&sym()], 50);
        let st = &d.stocks[&sym()];
        assert_eq!((st.stats.trades, st.stats.volume, st.trade_seq), (1, 10, 1));
        assert_eq!(st.candles.all().len(), 1);
        assert_eq!(d.new_trades.len(), 1);
    }

    #[test]
    fn order_lifecycle_and_late_acceptance() {
        let mut d = Durable::new(Fees::default(), AccountId(u64::MAX));
        let req = OrderFact {
            id: OrderId(7),
            account: AccountId(1),
            client_order_id: None,
            symbol: sym(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            quantity: 10,
            limit_price: Some(Price::from_minor(500)),
            time_in_force: TimeInForce::Gtc,
            denied: None,
            at: Timestamp(1),
        };
        // The fill of a resting order can be journaled before its
        // acceptance (different lanes): the order must still end filled.
        d.apply(&Fact::Event {
            symbol: sym(),
            event: Event::PartiallyFilled {
                order: OrderId(7),
                account: AccountId(1),
                filled: 4,
                remaining: 6,
                ts: Timestamp(3),
            },
        });
        d.apply(&Fact::Order(req));
        d.apply(&Fact::Event {
            symbol: sym(),
            event: Event::Accepted {
                order: OrderId(7),
                account: AccountId(1),
                side: Side::Buy,
                price: Price::from_minor(500),
                quantity: 10,
                ts: Timestamp(2),
            },
        });
        let row = &d.orders[&OrderId(7)];
        assert_eq!(
            (row.status, row.filled, row.remaining),
            (OrderStatus::PartiallyFilled, 4, 6)
        );
        assert_eq!(d.open_orders().len(), 1);
        d.apply(&Fact::Event {
            symbol: sym(),
            event: Event::Filled {
                order: OrderId(7),
                account: AccountId(1),
                ts: Timestamp(4),
            },
        });
        // A late acceptance never reopens a closed order.
        d.apply(&Fact::Event {
            symbol: sym(),
            event: Event::Accepted {
                order: OrderId(7),
                account: AccountId(1),
                side: Side::Buy,
                price: Price::from_minor(500),
                quantity: 10,
                ts: Timestamp(2),
            },
        });
        let row = &d.orders[&OrderId(7)];
        assert_eq!(
            (row.status, row.filled, row.remaining),
            (OrderStatus::Filled, 10, 0)
        );
        assert!(d.open_orders().is_empty());
        let snap = d.take_dirty();
        assert!(
            d.orders.is_empty(),
            "closed orders leave memory after a checkpoint"
        );
        assert_eq!(snap.orders.len(), 1, "and go to the checkpoint");
        assert!(!d.is_dirty());
        // Denied requests are recorded with their reason.
        d.apply(&Fact::Order(OrderFact {
            id: OrderId(8),
            denied: Some(RejectReason::InsufficientCash),
            ..req
        }));
        let row = &d.orders[&OrderId(8)];
        assert_eq!(row.status, OrderStatus::Denied);
        assert_eq!(row.reason.as_deref(), Some("insufficient_cash"));
        assert_eq!(d.max_order_id, 8);
    }
}
