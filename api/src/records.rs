//! What the API remembers about users' orders and fills: every order
//! (denied ones too), its status as events arrive, each fill, and each
//! position's cost basis (average cost).
//!
//! Records are updated from routed events by whoever routed them (the order
//! handlers, the background agents' driver), exactly once per event.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

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

/// One user's records, behind a lock of its own: reading or updating one
/// user's orders never waits on another's (audit M7).
#[derive(Debug, Default)]
struct UserRecords {
    orders: FxHashMap<OrderId, OrderRecord>,
    /// The orders its owner may see (revealed or restored), by id
    /// (creation order, see `Shared::next_order`).
    visible: BTreeSet<OrderId>,
    by_client: FxHashMap<ClientOrderId, OrderId>,
    fills: Vec<Fill>,
    positions: BTreeMap<Symbol, Position>,
}

type UserCell = Arc<Mutex<UserRecords>>;

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

/// Trades kept per symbol for `GET /v1/stocks/{symbol}/trades`.
pub const TAPE_LEN: usize = 200;

/// Records of the API's users (accounts not registered here are ignored),
/// kept per user.
#[derive(Debug, Default)]
pub struct Records {
    /// Written only when a user registers (or is restored).
    users: RwLock<FxHashMap<AccountId, UserCell>>,
    outcomes: Mutex<Outcomes>,
    /// The last `TAPE_LEN` trades of every symbol, newest last.
    tape: Mutex<FxHashMap<Symbol, std::collections::VecDeque<engine::Trade>>>,
    /// Woken whenever an outcome changes.
    pub outcome_changed: tokio::sync::Notify,
}

fn lock(u: &UserCell) -> std::sync::MutexGuard<'_, UserRecords> {
    u.lock().unwrap_or_else(|p| p.into_inner())
}

impl Records {
    fn user(&self, a: AccountId) -> Option<UserCell> {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&a)
            .cloned()
    }
    /// Track a user's account.
    pub fn add_user(&self, a: AccountId) {
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(a)
            .or_default();
    }

    /// The order a client already placed under this client order id.
    pub fn by_client_id(&self, a: AccountId, c: ClientOrderId) -> Option<OrderRecord> {
        let u = self.user(a)?;
        let g = lock(&u);
        g.by_client.get(&c).and_then(|id| g.orders.get(id)).cloned()
    }

    /// Record a new order, hidden from its owner's reads until `reveal`
    /// (its request is durable). `false` if the client order id is taken
    /// (the caller lost an idempotency race and must answer with the
    /// winner). An order with a client order id starts with the outcome
    /// `Pending`. The account must be a user's (`add_user`).
    pub fn insert(&self, r: OrderRecord) -> bool {
        self.add(r, false, true)
    }

    /// `insert` for an order no client waits on (a task's import): no
    /// outcome is kept; a later request with its client order id is
    /// answered from the record.
    pub fn insert_unanswered(&self, r: OrderRecord) -> bool {
        self.add(r, false, false)
    }

    /// `restored`: durable already, so visible at once and answered from
    /// its record; `answered`: a request waits for its outcome.
    fn add(&self, r: OrderRecord, restored: bool, answered: bool) -> bool {
        let Some(u) = self.user(r.account) else {
            tracing::error!(account = %r.account.0, order = r.id.0, "an order of an account that is no user's: not recorded");
            return true;
        };
        let mut g = lock(&u);
        if let Some(c) = r.client_order_id {
            if g.by_client.contains_key(&c) {
                return false;
            }
            g.by_client.insert(c, r.id);
            if !restored && answered {
                self.set_outcome(r.id, Outcome::Pending);
            }
        }
        if restored {
            g.visible.insert(r.id);
        }
        g.orders.insert(r.id, r);
        true
    }

    /// Show orders (account, id) to their owners' reads (their requests
    /// are durable).
    pub fn reveal(&self, orders: &[(AccountId, OrderId)]) {
        for (account, id) in orders {
            if let Some(u) = self.user(*account) {
                let mut g = lock(&u);
                if g.orders.contains_key(id) {
                    g.visible.insert(*id);
                }
            }
        }
    }

    /// An order its owner may see: revealed, and `account`'s.
    pub fn visible(&self, account: AccountId, id: OrderId) -> Option<OrderRecord> {
        let u = self.user(account)?;
        let g = lock(&u);
        g.visible
            .contains(&id)
            .then(|| g.orders.get(&id).cloned())
            .flatten()
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
            finals.push((r.account, r.id, r.status, r.reason, r.updated_at));
            self.add(
                OrderRecord {
                    status: OrderStatus::Accepted,
                    filled: 0,
                    filled_value: Money::ZERO,
                    ..r
                },
                true,
                false,
            );
        }
        self.apply(trades);
        for (account, id, status, reason, updated_at) in finals {
            let Some(u) = self.user(account) else {
                continue;
            };
            if let Some(r) = lock(&u).orders.get_mut(&id) {
                r.status = status;
                r.reason = reason;
                r.updated_at = updated_at;
            }
        }
    }

    /// `account`'s order `id`, revealed or not (for the handler placing it).
    pub fn get(&self, account: AccountId, id: OrderId) -> Option<OrderRecord> {
        let u = self.user(account)?;
        lock(&u).orders.get(&id).cloned()
    }

    /// One page of an account's orders, newest first (by id), with how many
    /// it has: reads only the page.
    pub fn newest_of(
        &self,
        a: AccountId,
        offset: usize,
        limit: usize,
    ) -> (Vec<OrderRecord>, usize) {
        let Some(u) = self.user(a) else {
            return (Vec::new(), 0);
        };
        let g = lock(&u);
        let ids = &g.visible;
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
        let Some(u) = self.user(a) else {
            return (Vec::new(), 0);
        };
        let g = lock(&u);
        let mut hits: Vec<&OrderRecord> = g
            .visible
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

    /// Every tracked account, in id order.
    pub fn accounts(&self) -> Vec<AccountId> {
        let mut a: Vec<AccountId> = self
            .users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect();
        a.sort();
        a
    }

    pub fn fills_of(&self, a: AccountId) -> Vec<Fill> {
        self.user(a)
            .map(|u| lock(&u).fills.clone())
            .unwrap_or_default()
    }

    pub fn positions_of(&self, a: AccountId) -> BTreeMap<Symbol, Position> {
        self.user(a)
            .map(|u| lock(&u).positions.clone())
            .unwrap_or_default()
    }

    /// A symbol's most recent trades (every account's), newest first.
    pub fn tape(&self, symbol: Symbol, limit: usize) -> Vec<engine::Trade> {
        self.tape
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&symbol)
            .map(|q| q.iter().rev().take(limit).copied().collect())
            .unwrap_or_default()
    }

    /// Apply routed events to the records of tracked accounts (and every
    /// trade to its symbol's tape).
    pub fn apply(&self, events: &[(Symbol, Event)]) {
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        let mut tape = self.tape.lock().unwrap_or_else(|p| p.into_inner());
        for (symbol, e) in events {
            let ts = e.ts();
            match *e {
                Event::Trade(t) => {
                    let q = tape.entry(*symbol).or_default();
                    if q.len() == TAPE_LEN {
                        q.pop_front();
                    }
                    q.push_back(t);
                    for (order, account, side, liquidity) in [
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
                        if let Some(u) = users.get(&account) {
                            lock(u).fill(Fill {
                                trade_seq: t.seq,
                                order,
                                symbol: *symbol,
                                side,
                                price: t.price,
                                quantity: t.quantity,
                                liquidity,
                                ts,
                            });
                        }
                    }
                }
                Event::Cancelled {
                    order,
                    account,
                    reason,
                    ..
                } => set_status(&users, account, order, ts, |r| {
                    r.status = r.status.after(e);
                    r.cancel_reason = Some(reason);
                }),
                Event::Expired { order, account, .. } => {
                    set_status(&users, account, order, ts, |r| r.status = r.status.after(e))
                }
                Event::Rejected {
                    order,
                    account,
                    reason,
                    ..
                } => set_status(&users, account, order, ts, |r| {
                    r.status = r.status.after(e);
                    r.reason = Some(reason);
                }),
                Event::Replaced {
                    order,
                    account,
                    price,
                    remaining,
                    ..
                } => set_status(&users, account, order, ts, |r| {
                    r.limit_price = Some(price);
                    r.quantity = r.filled + remaining;
                }),
                _ => {}
            }
        }
    }
}

impl UserRecords {
    /// A fill of one of this user's orders: the order, the fill list and
    /// the position (average cost).
    fn fill(&mut self, f: Fill) {
        let value = f.price.minor().saturating_mul(f.quantity as i64);
        if let Some(r) = self.orders.get_mut(&f.order) {
            r.filled += f.quantity;
            r.filled_value = Money::from_minor(r.filled_value.minor().saturating_add(value));
            r.status = r.status.after_fill(r.filled, r.quantity);
            r.updated_at = f.ts;
        }
        self.fills.push(f);
        let p = self.positions.entry(f.symbol).or_default();
        match f.side {
            Side::Buy => {
                p.quantity += f.quantity;
                p.cost = Money::from_minor(p.cost.minor().saturating_add(value));
            }
            Side::Sell => {
                // Average cost: the sold part takes its share of the basis.
                let q = p.quantity.max(1);
                let sold = f.quantity.min(p.quantity);
                let basis = (i128::from(p.cost.minor()) * i128::from(sold) / i128::from(q)) as i64;
                p.cost = Money::from_minor(p.cost.minor() - basis);
                p.quantity -= sold;
            }
        }
    }
}

fn set_status(
    users: &FxHashMap<AccountId, UserCell>,
    account: AccountId,
    order: OrderId,
    ts: Timestamp,
    f: impl FnOnce(&mut OrderRecord),
) {
    if let Some(r) = users.get(&account) {
        if let Some(r) = lock(r).orders.get_mut(&order) {
            f(r);
            r.updated_at = ts;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn order(account: u64, id: u64) -> OrderRecord {
        OrderRecord {
            id: OrderId(id),
            account: AccountId(account),
            client_order_id: None,
            symbol: Symbol::new("ACME").unwrap(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            quantity: 10,
            limit_price: Some(Price::from_minor(100)),
            time_in_force: TimeInForce::Gtc,
            status: OrderStatus::Accepted,
            filled: 0,
            filled_value: Money::ZERO,
            reason: None,
            cancel_reason: None,
            created_at: Timestamp(1),
            updated_at: Timestamp(1),
        }
    }

    /// Audit M7: a long read of one user's records (a user with very many
    /// orders) does not hold up another user's orders.
    #[test]
    fn one_users_long_read_never_holds_up_another_users_orders() {
        let records = Arc::new(Records::default());
        records.add_user(AccountId(1));
        records.add_user(AccountId(2));
        records.insert(order(1, 1));
        records.reveal(&[(AccountId(1), OrderId(1))]);

        let (inside_tx, inside) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let reader = {
            let records = records.clone();
            std::thread::spawn(move || {
                records.page_of(
                    AccountId(1),
                    |_| {
                        inside_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                        true
                    },
                    |a, b| a.id.cmp(&b.id),
                    0,
                    10,
                )
            })
        };
        inside.recv().unwrap();
        let (done_tx, done) = mpsc::channel();
        let writer = {
            let records = records.clone();
            std::thread::spawn(move || {
                records.insert(order(2, 2));
                records.reveal(&[(AccountId(2), OrderId(2))]);
                records.apply(&[(
                    Symbol::new("ACME").unwrap(),
                    Event::Cancelled {
                        order: OrderId(2),
                        account: AccountId(2),
                        remaining: 10,
                        reason: engine::CancelReason::Requested,
                        ts: Timestamp(2),
                    },
                )]);
                done_tx
                    .send(records.visible(AccountId(2), OrderId(2)))
                    .unwrap();
            })
        };
        let other = done.recv_timeout(Duration::from_secs(5));
        release.send(()).unwrap();
        let (page, total) = reader.join().unwrap();
        writer.join().unwrap();
        let other = other.expect("user 2's order waited for user 1's read");
        assert_eq!(other.map(|r| r.status), Some(OrderStatus::Cancelled));
        assert_eq!((page.len(), total), (1, 1));
    }

    #[test]
    fn an_order_is_hidden_from_its_owner_until_revealed_and_never_shown_to_others() {
        let records = Records::default();
        records.add_user(AccountId(1));
        records.add_user(AccountId(2));
        records.insert(order(1, 7));
        assert_eq!(records.visible(AccountId(1), OrderId(7)), None);
        assert!(records.get(AccountId(1), OrderId(7)).is_some());
        records.reveal(&[(AccountId(1), OrderId(7))]);
        assert_eq!(records.visible(AccountId(1), OrderId(7)), Some(order(1, 7)));
        assert_eq!(records.visible(AccountId(2), OrderId(7)), None);
        assert_eq!(records.newest_of(AccountId(2), 0, 10).1, 0);
    }
}
