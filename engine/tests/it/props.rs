//! Property tests: random sequences of place / cancel / replace / market /
//! expire across several accounts keep every invariant.

use std::collections::HashMap;

use engine::*;
use proptest::prelude::*;

const TICK: Price = Price::from_minor(5);
const FEE: AccountId = AccountId(0);
const ACCOUNTS: u64 = 5;

fn syms() -> [Symbol; 2] {
    [Symbol::new("AAA").unwrap(), Symbol::new("BBB").unwrap()]
}

#[derive(Clone, Debug)]
enum Op {
    Limit {
        acc: u64,
        sym: usize,
        buy: bool,
        qty: u64,
        ticks: i64,
        tif: u8,
    },
    Market {
        acc: u64,
        sym: usize,
        buy: bool,
        qty: u64,
        collar_ticks: i64,
    },
    Cancel {
        pick: usize,
        as_owner: bool,
    },
    Replace {
        pick: usize,
        ticks: Option<i64>,
        qty: Option<u64>,
    },
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1..=ACCOUNTS, 0..2usize, any::<bool>(), 1..60u64, 90..110i64, 0..4u8)
            .prop_map(|(acc, sym, buy, qty, ticks, tif)| Op::Limit { acc, sym, buy, qty, ticks, tif }),
        1 => (1..=ACCOUNTS, 0..2usize, any::<bool>(), 1..80u64, 85..115i64)
            .prop_map(|(acc, sym, buy, qty, collar_ticks)| Op::Market { acc, sym, buy, qty, collar_ticks }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, as_owner)| Op::Cancel { pick, as_owner }),
        2 => (any::<usize>(), proptest::option::of(90..110i64), proptest::option::of(1..60u64))
            .prop_map(|(pick, ticks, qty)| Op::Replace { pick, ticks, qty }),
        1 => Just(Op::Expire),
    ]
}

fn market() -> Exchange {
    let mut l = Ledger::new(Fees::new(7, 13).unwrap(), FEE);
    for a in 1..=ACCOUNTS {
        l.open(AccountId(a)).unwrap();
        l.deposit(AccountId(a), Money::from_major(3_000)).unwrap();
        for s in syms() {
            l.issue_shares(AccountId(a), s, 200).unwrap();
        }
    }
    let mut x = Exchange::new(l);
    for s in syms() {
        x.list(s, TICK);
    }
    x
}

/// Per order: (original, filled) as tracked from events.
#[derive(Default)]
struct Tracker {
    orders: HashMap<OrderId, (u64, u64)>,
    done: Vec<OrderId>,
}

impl Tracker {
    fn observe(&mut self, events: &[Event]) -> Result<(), TestCaseError> {
        for e in events {
            match *e {
                Event::Accepted {
                    order, quantity, ..
                } => {
                    self.orders.insert(order, (quantity, 0));
                }
                Event::Trade(t) => {
                    for id in [t.maker_order, t.taker_order] {
                        let o = self
                            .orders
                            .get_mut(&id)
                            .ok_or_else(|| TestCaseError::fail("trade of unknown order"))?;
                        o.1 += t.quantity;
                        prop_assert!(o.1 <= o.0, "order {id} overfilled");
                    }
                }
                Event::Replaced {
                    order, remaining, ..
                } => {
                    let o = self.orders.get_mut(&order).unwrap();
                    o.0 = o.1 + remaining;
                }
                Event::Filled { order, .. } => {
                    let (orig, filled) = self.orders[&order];
                    prop_assert_eq!(orig, filled, "filled order {} has a remainder", order);
                    self.done.push(order);
                }
                Event::Cancelled {
                    order, remaining, ..
                }
                | Event::Expired {
                    order, remaining, ..
                } => {
                    let (orig, filled) = self.orders[&order];
                    prop_assert_eq!(
                        filled + remaining,
                        orig,
                        "order {}: filled + remaining != original",
                        order
                    );
                    self.done.push(order);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_order_flow_keeps_every_invariant(ops in proptest::collection::vec(op(), 1..250)) {
        let mut x = market();
        let cash0 = x.ledger().total_cash();
        let shares0: Vec<u64> = syms().iter().map(|s| x.ledger().total_shares(*s)).collect();
        let mut tracker = Tracker::default();
        let mut ids: Vec<OrderId> = Vec::new();
        let mut next = 1u64;
        let mut ev = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let ts = Timestamp(step as i64);
            ev.clear();
            match op {
                Op::Limit { acc, sym, buy, qty, ticks, tif } => {
                    let tif = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok, TimeInForce::Day][tif as usize];
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let o = Order::limit(OrderId(next), AccountId(acc), syms()[sym], side, qty,
                        Price::from_minor(ticks * TICK.minor()), tif, TICK, ts).unwrap();
                    ids.push(OrderId(next));
                    next += 1;
                    x.submit(&o, ts, &mut ev);
                }
                Op::Market { acc, sym, buy, qty, collar_ticks } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let o = Order::market(OrderId(next), AccountId(acc), syms()[sym], side, qty,
                        Price::from_minor(collar_ticks * TICK.minor()), TICK, ts).unwrap();
                    next += 1;
                    x.submit(&o, ts, &mut ev);
                }
                Op::Cancel { pick, as_owner } => {
                    if ids.is_empty() { continue; }
                    let id = ids[pick % ids.len()];
                    let res = x.ledger().reservation(id);
                    let owner = if as_owner { res.map(|r| r.account) } else { Some(AccountId(99)) };
                    let before = res.and_then(|r| x.ledger().account(r.account).cloned());
                    let result = x.cancel(id, owner, ts, &mut ev);
                    if let (Ok(()), Some(r), Some(b)) = (result, res, before) {
                        // A cancel releases exactly what was reserved and not yet used.
                        let a = x.ledger().account(r.account).unwrap();
                        prop_assert_eq!(b.reserved_cash().minor() - a.reserved_cash().minor(), r.cash.minor());
                        prop_assert_eq!(b.holding(r.symbol).reserved - a.holding(r.symbol).reserved, r.shares);
                        prop_assert_eq!(a.cash(), b.cash());
                    } else {
                        prop_assert!(ev.is_empty(), "a refused cancel emitted events");
                        prop_assert!(!as_owner || res.is_none());
                    }
                }
                Op::Replace { pick, ticks, qty } => {
                    if ids.is_empty() { continue; }
                    let id = ids[pick % ids.len()];
                    let price = ticks.map(|t| Price::from_minor(t * TICK.minor()));
                    let _ = x.replace(id, None, price, qty.and_then(Quantity::new), ts, &mut ev);
                }
                Op::Expire => x.end_of_day(ts, &mut ev),
            }
            tracker.observe(&ev)?;
            for b in x.books() {
                b.check_invariants().map_err(TestCaseError::fail)?;
                if let (Some(bid), Some(ask)) = (b.best_bid(), b.best_ask()) {
                    prop_assert!(bid < ask, "book crossed");
                }
                for o in b.orders() {
                    prop_assert_eq!(tracker.orders[&o.id].0, o.original);
                    prop_assert_eq!(tracker.orders[&o.id].1, o.filled());
                }
            }
            x.ledger().check_invariants().map_err(TestCaseError::fail)?;
            prop_assert_eq!(x.ledger().total_cash(), cash0, "cash not conserved");
            for (s, s0) in syms().iter().zip(&shares0) {
                prop_assert_eq!(x.ledger().total_shares(*s), *s0, "shares not conserved");
            }
            // Every resting order still holds a reservation; no finished one does.
            let resting: usize = x.books().map(|b| b.len()).sum();
            prop_assert_eq!(x.ledger().open_reservations(), resting);
        }
        for id in tracker.done {
            prop_assert!(x.ledger().reservation(id).is_none());
        }
    }
}
