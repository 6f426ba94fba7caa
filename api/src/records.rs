//! What the API remembers about users' orders and fills: every order
//! (denied ones too), its status as events arrive, each fill, and each
//! position's cost basis (average cost).
//!
//! Records are updated from routed events by whoever routed them (the order
//! handlers, the background agents' driver), exactly once per event.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use engine::{
    AccountId, ClientOrderId, Event, Money, OrderId, OrderStatus, OrderType, Price, RejectReason,
    Side, Symbol, TimeInForce, Timestamp,
};
use rustc_hash::FxHashMap;

/// One order as the API keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: OrderId,
    pub account: AccountId,
    pub client_order_id: Option<ClientOrderId>,
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub quantity: u64,
    pub limit_price: Option<Price>,
    pub time_in_force: TimeInForce,
    pub status: OrderStatus,
    pub filled: u64,
    /// Sum of price x quantity over fills.
    pub filled_value: Money,
    pub reason: Option<RejectReason>,
    /// Why it was cancelled (the owner asked, self-trade prevention, ...).
    pub cancel_reason: Option<engine::CancelReason>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl OrderRecord {
    /// The request as a journal fact.
    pub fn fact(&self) -> actors::facts::Fact {
        actors::facts::Fact::Order(actors::facts::OrderFact {
            id: self.id,
            account: self.account,
            client_order_id: self.client_order_id,
            symbol: self.symbol,
            side: self.side,
            order_type: self.order_type,
            quantity: self.quantity,
            limit_price: self.limit_price,
            time_in_force: self.time_in_force,
            denied: if self.status == OrderStatus::Denied {
                self.reason
            } else {
                None
            },
            at: self.created_at,
        })
    }
}

/// One fill of one user's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub trade_seq: u64,
    pub order: OrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub price: Price,
    pub quantity: u64,
    pub liquidity: Liquidity,
    pub ts: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liquidity {
    Maker,
    Taker,
}

/// Quantity and cost basis of a position (average-cost method).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub quantity: u64,
    pub cost: Money,
}

#[derive(Debug, Default)]
struct Inner {
    orders: FxHashMap<OrderId, OrderRecord>,
    /// Each account's orders by id (creation order, see `Shared::next_order`).
    by_account: FxHashMap<AccountId, BTreeSet<OrderId>>,
    by_client: FxHashMap<(AccountId, ClientOrderId), OrderId>,
    fills: FxHashMap<AccountId, Vec<Fill>>,
    positions: FxHashMap<AccountId, BTreeMap<Symbol, Position>>,
}

/// What the first request with a `client_order_id` answered, for its
/// retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still being placed.
    Pending,
    /// Answered once its facts were durable: status, whether the body is a
    /// problem document, and the body.
    Answered {
        status: u16,
        problem: bool,
        body: axum::body::Bytes,
    },
    /// Answered 503: its facts (journal ticket `ticket`) were not durable in
    /// time; they will be once the database is back.
    NotDurable { ticket: u64 },
}

/// Outcomes kept for retries; older ones are answered from the record.
const OUTCOMES_KEPT: usize = 100_000;

#[derive(Debug, Default)]
struct Outcomes {
    by_order: FxHashMap<OrderId, Outcome>,
    order: std::collections::VecDeque<OrderId>,
}

/// Records of the API's users (accounts not registered here are ignored).
#[derive(Debug, Default)]
pub struct Records {
    inner: Mutex<Inner>,
    users: Mutex<rustc_hash::FxHashSet<AccountId>>,
    outcomes: Mutex<Outcomes>,
    /// Woken whenever an outcome changes.
    pub outcome_changed: tokio::sync::Notify,
}

impl Records {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn tracked(&self, a: AccountId) -> bool {
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&a)
    }
    /// Track a user's account.
    pub fn add_user(&self, a: AccountId) {
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(a);
    }

    /// The order a client already placed under this client order id.
    pub fn by_client_id(&self, a: AccountId, c: ClientOrderId) -> Option<OrderRecord> {
        let g = self.lock();
        g.by_client
            .get(&(a, c))
            .and_then(|id| g.orders.get(id))
            .cloned()
    }

    /// Record a new order, hidden from its owner's reads until `reveal`
    /// (its request is durable). `false` if the client order id is taken
    /// (the caller lost an idempotency race and must answer with the
    /// winner). An order with a client order id starts with the outcome
    /// `Pending`.
    pub fn insert(&self, r: OrderRecord) -> bool {
        self.add(r, false)
    }

    /// `restored`: durable already, so visible at once and answered from
    /// its record (no pending outcome).
    fn add(&self, r: OrderRecord, restored: bool) -> bool {
        let mut g = self.lock();
        if let Some(c) = r.client_order_id {
            if g.by_client.contains_key(&(r.account, c)) {
                return false;
            }
            g.by_client.insert((r.account, c), r.id);
            if !restored {
                self.set_outcome(r.id, Outcome::Pending);
            }
        }
        if restored {
            g.by_account.entry(r.account).or_default().insert(r.id);
        }
        g.orders.insert(r.id, r);
        true
    }

    /// Show orders to their owners' reads (their requests are durable).
    pub fn reveal(&self, ids: &[OrderId]) {
        if ids.is_empty() {
            return;
        }
        let mut g = self.lock();
        for id in ids {
            if let Some(account) = g.orders.get(id).map(|r| r.account) {
                g.by_account.entry(account).or_default().insert(*id);
            }
        }
    }

    /// An order its owner may see: revealed, and `account`'s.
    pub fn visible(&self, account: AccountId, id: OrderId) -> Option<OrderRecord> {
        let g = self.lock();
        g.by_account
            .get(&account)
            .filter(|ids| ids.contains(&id))
            .and_then(|_| g.orders.get(&id))
            .cloned()
    }

    /// The outcome of an order placed with a client order id by this
    /// process (`None`: restored, or old enough to be forgotten: durable).
    pub fn outcome(&self, id: OrderId) -> Option<Outcome> {
        self.outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_order
            .get(&id)
            .cloned()
    }

    /// Set an order's outcome and wake its waiting retries.
    pub fn set_outcome(&self, id: OrderId, o: Outcome) {
        {
            let mut g = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
            if g.by_order.insert(id, o).is_none() {
                g.order.push_back(id);
                while g.order.len() > OUTCOMES_KEPT {
                    if let Some(old) = g.order.pop_front() {
                        g.by_order.remove(&old);
                    }
                }
            }
        }
        self.outcome_changed.notify_waiters();
    }

    /// Rebuild users' records after a restart: their orders as stored, and
    /// their trades in execution order (which give fills, filled values and
    /// positions); each order's stored status is kept.
    pub fn restore(&self, orders: Vec<OrderRecord>, trades: &[(Symbol, Event)]) {
        let mut finals = Vec::with_capacity(orders.len());
        for r in orders {
            self.add_user(r.account);
            finals.push((r.id, r.status, r.reason, r.updated_at));
            self.add(
                OrderRecord {
                    status: OrderStatus::Accepted,
                    filled: 0,
                    filled_value: Money::ZERO,
                    ..r
                },
                true,
            );
        }
        self.apply(trades);
        let mut g = self.lock();
        for (id, status, reason, updated_at) in finals {
            if let Some(r) = g.orders.get_mut(&id) {
                r.status = status;
                r.reason = reason;
                r.updated_at = updated_at;
            }
        }
    }

    pub fn get(&self, id: OrderId) -> Option<OrderRecord> {
        self.lock().orders.get(&id).cloned()
    }

    /// One page of an account's orders, newest first (by id), with how many
    /// it has: reads only the page.
    pub fn newest_of(
        &self,
        a: AccountId,
        offset: usize,
        limit: usize,
    ) -> (Vec<OrderRecord>, usize) {
        let g = self.lock();
        let Some(ids) = g.by_account.get(&a) else {
            return (Vec::new(), 0);
        };
        let page = ids
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .filter_map(|i| g.orders.get(i).cloned())
            .collect();
        (page, ids.len())
    }

    /// One page of an account's orders: those `keep` accepts, sorted by
    /// `cmp`, `limit` from `offset`; with how many `keep` accepts in all.
    /// Filters and sorts references under the lock and clones only the
    /// page, so a read costs little even for an account with many orders.
    pub fn page_of(
        &self,
        a: AccountId,
        keep: impl Fn(&OrderRecord) -> bool,
        cmp: impl Fn(&OrderRecord, &OrderRecord) -> std::cmp::Ordering,
        offset: usize,
        limit: usize,
    ) -> (Vec<OrderRecord>, usize) {
        let g = self.lock();
        let Some(ids) = g.by_account.get(&a) else {
            return (Vec::new(), 0);
        };
        let mut hits: Vec<&OrderRecord> = ids
            .iter()
            .filter_map(|i| g.orders.get(i))
            .filter(|r| keep(r))
            .collect();
        hits.sort_unstable_by(|x, y| cmp(x, y));
        let page = hits
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| (*r).clone())
            .collect();
        (page, hits.len())
    }

    pub fn fills_of(&self, a: AccountId) -> Vec<Fill> {
        self.lock().fills.get(&a).cloned().unwrap_or_default()
    }

    pub fn positions_of(&self, a: AccountId) -> BTreeMap<Symbol, Position> {
        self.lock().positions.get(&a).cloned().unwrap_or_default()
    }

    /// Apply routed events to the records of tracked accounts.
    pub fn apply(&self, events: &[(Symbol, Event)]) {
        let mut g = self.lock();
        for (symbol, e) in events {
            let ts = e.ts();
            match *e {
                Event::Trade(t) => {
                    for (order, account, side, liq) in [
                        (
                            t.maker_order,
                            t.maker_account,
                            t.taker_side.opposite(),
                            Liquidity::Maker,
                        ),
                        (
                            t.taker_order,
                            t.taker_account,
                            t.taker_side,
                            Liquidity::Taker,
                        ),
                    ] {
                        if !self.tracked(account) {
                            continue;
                        }
                        let value = t.price.minor().saturating_mul(t.quantity as i64);
                        if let Some(r) = g.orders.get_mut(&order) {
                            r.filled += t.quantity;
                            r.filled_value = Money::from_minor(r.filled_value.minor() + value);
                            r.status = r.status.after_fill(r.filled, r.quantity);
                            r.updated_at = ts;
                        }
                        g.fills.entry(account).or_default().push(Fill {
                            trade_seq: t.seq,
                            order,
                            symbol: *symbol,
                            side,
                            price: t.price,
                            quantity: t.quantity,
                            liquidity: liq,
                            ts,
                        });
                        let p = g
                            .positions
                            .entry(account)
                            .or_default()
                            .entry(*symbol)
                            .or_default();
                        match side {
                            Side::Buy => {
                                p.quantity += t.quantity;
                                p.cost = Money::from_minor(p.cost.minor() + value);
                            }
                            Side::Sell => {
                                // Average cost: the sold part takes its share of the basis.
                                let q = p.quantity.max(1);
                                let sold = t.quantity.min(p.quantity);
                                let basis = (i128::from(p.cost.minor()) * i128::from(sold)
                                    / i128::from(q))
                                    as i64;
                                p.cost = Money::from_minor(p.cost.minor() - basis);
                                p.quantity -= sold;
                            }
                        }
                    }
                }
                Event::Cancelled { order, reason, .. } => set_status(&mut g, order, ts, |r| {
                    r.status = r.status.after(e);
                    r.cancel_reason = Some(reason);
                }),
                Event::Expired { order, .. } => {
                    set_status(&mut g, order, ts, |r| r.status = r.status.after(e))
                }
                Event::Rejected { order, reason, .. } => set_status(&mut g, order, ts, |r| {
                    r.status = r.status.after(e);
                    r.reason = Some(reason);
                }),
                Event::Replaced {
                    order,
                    price,
                    remaining,
                    ..
                } => set_status(&mut g, order, ts, |r| {
                    r.limit_price = Some(price);
                    r.quantity = r.filled + remaining;
                }),
                _ => {}
            }
        }
    }
}

fn set_status(g: &mut Inner, order: OrderId, ts: Timestamp, f: impl FnOnce(&mut OrderRecord)) {
    if let Some(r) = g.orders.get_mut(&order) {
        f(r);
        r.updated_at = ts;
    }
}
