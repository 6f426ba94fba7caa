//! The exchange wires reservations through the order lifecycle.

use engine::*;

const TICK: Price = Price::from_minor(1);
const FEE: AccountId = AccountId(0);

fn sym() -> Symbol {
    Symbol::new("ACME").unwrap()
}

/// Buyer 1 has 1,000.00 cash; seller 2 has 100 shares.
fn exchange() -> Exchange {
    let mut l = Ledger::new(Fees::new(5, 10).unwrap(), FEE);
    l.open(AccountId(1)).unwrap();
    l.open(AccountId(2)).unwrap();
    l.deposit(AccountId(1), Money::from_major(1_000)).unwrap();
    l.issue_shares(AccountId(2), sym(), 100).unwrap();
    let mut x = Exchange::new(l);
    x.list(sym(), TICK);
    x
}

fn limit(id: u64, acc: u64, side: Side, qty: u64, px: i64) -> Order {
    Order::limit(
        OrderId(id),
        AccountId(acc),
        sym(),
        side,
        qty,
        Price::from_minor(px),
        TimeInForce::Gtc,
        TICK,
        Timestamp(0),
    )
    .unwrap()
}

#[test]
fn an_overspending_buy_is_rejected_with_insufficient_cash() {
    let mut x = exchange();
    let mut ev = Vec::new();
    x.submit(
        &limit(1, 1, Side::Buy, 1_000, 10_000),
        Timestamp(0),
        &mut ev,
    );
    assert!(matches!(
        ev[..],
        [Event::Rejected {
            reason: RejectReason::InsufficientCash,
            ..
        }]
    ));
    assert_eq!(
        x.ledger().account(AccountId(1)).unwrap().reserved_cash(),
        Money::ZERO
    );
    assert!(x.book(sym()).unwrap().is_empty());
}

#[test]
fn overselling_is_rejected_with_insufficient_holdings() {
    let mut x = exchange();
    let mut ev = Vec::new();
    x.submit(&limit(1, 2, Side::Sell, 101, 100), Timestamp(0), &mut ev);
    assert!(matches!(
        ev[..],
        [Event::Rejected {
            reason: RejectReason::InsufficientHoldings,
            ..
        }]
    ));
}

#[test]
fn an_unknown_symbol_is_rejected() {
    let mut x = exchange();
    let o = Order::limit(
        OrderId(1),
        AccountId(1),
        Symbol::new("NOPE").unwrap(),
        Side::Buy,
        1,
        Price::from_minor(100),
        TimeInForce::Gtc,
        TICK,
        Timestamp(0),
    )
    .unwrap();
    let mut ev = Vec::new();
    x.submit(&o, Timestamp(0), &mut ev);
    assert!(matches!(
        ev[..],
        [Event::Rejected {
            reason: RejectReason::UnknownSymbol,
            ..
        }]
    ));
}

#[test]
fn a_full_round_trip_settles_both_sides_and_releases_everything() {
    let mut x = exchange();
    let mut ev = Vec::new();
    x.submit(&limit(1, 2, Side::Sell, 10, 1_000), Timestamp(0), &mut ev);
    x.submit(&limit(2, 1, Side::Buy, 10, 1_100), Timestamp(1), &mut ev);
    let l = x.ledger();
    // Buyer took at the maker's 10.00: 100.00 + 10 bps taker fee.
    assert_eq!(
        l.account(AccountId(1)).unwrap().cash(),
        Money::from_minor(100_000 - 10_010)
    );
    assert_eq!(
        l.account(AccountId(1)).unwrap().reserved_cash(),
        Money::ZERO
    );
    assert_eq!(
        l.account(AccountId(2)).unwrap().cash(),
        Money::from_minor(10_000 - 5)
    );
    assert_eq!(l.account(FEE).unwrap().cash(), Money::from_minor(15));
    assert_eq!(l.open_reservations(), 0);
    assert_eq!(l.total_cash(), Money::from_major(1_000));
    l.check_invariants().unwrap();
}

#[test]
fn cancel_releases_the_reservation() {
    let mut x = exchange();
    let mut ev = Vec::new();
    x.submit(&limit(1, 1, Side::Buy, 10, 1_000), Timestamp(0), &mut ev);
    assert!(x.ledger().account(AccountId(1)).unwrap().reserved_cash() > Money::ZERO);
    x.cancel(OrderId(1), Some(AccountId(1)), Timestamp(1), &mut ev)
        .unwrap();
    assert_eq!(
        x.ledger().account(AccountId(1)).unwrap().reserved_cash(),
        Money::ZERO
    );
    assert!(x.cancel(OrderId(1), None, Timestamp(2), &mut ev).is_err());
}

#[test]
fn a_replace_the_account_cannot_afford_changes_nothing() {
    let mut x = exchange();
    let mut ev = Vec::new();
    x.submit(&limit(1, 1, Side::Buy, 10, 1_000), Timestamp(0), &mut ev);
    let before = x.ledger().account(AccountId(1)).unwrap().clone();
    let r = x.replace(
        OrderId(1),
        None,
        Some(Price::from_minor(1_000_000)),
        None,
        Timestamp(1),
        &mut ev,
    );
    assert_eq!(r, Err(RejectReason::InsufficientCash));
    assert_eq!(x.ledger().account(AccountId(1)).unwrap(), &before);
    assert_eq!(
        x.book(sym()).unwrap().order(OrderId(1)).unwrap().price,
        Price::from_minor(1_000)
    );
}

#[test]
fn a_market_buy_is_reserved_at_its_collar_and_never_pays_more() {
    let mut x = exchange();
    let mut ev = Vec::new();
    x.submit(&limit(1, 2, Side::Sell, 5, 1_000), Timestamp(0), &mut ev);
    x.submit(&limit(2, 2, Side::Sell, 5, 2_000), Timestamp(0), &mut ev);
    let m = Order::market(
        OrderId(3),
        AccountId(1),
        sym(),
        Side::Buy,
        10,
        Price::from_minor(1_500),
        TICK,
        Timestamp(0),
    )
    .unwrap();
    ev.clear();
    x.submit(&m, Timestamp(1), &mut ev);
    let traded: u64 = ev
        .iter()
        .filter_map(|e| {
            if let Event::Trade(t) = e {
                Some(t.quantity)
            } else {
                None
            }
        })
        .sum();
    assert_eq!(traded, 5);
    assert_eq!(
        x.ledger().account(AccountId(1)).unwrap().reserved_cash(),
        Money::ZERO
    );
    x.ledger().check_invariants().unwrap();
}

#[test]
fn end_of_day_expires_day_orders_and_releases_them() {
    let mut x = exchange();
    let mut ev = Vec::new();
    let o = Order::limit(
        OrderId(1),
        AccountId(1),
        sym(),
        Side::Buy,
        10,
        Price::from_minor(1_000),
        TimeInForce::Day,
        TICK,
        Timestamp(0),
    )
    .unwrap();
    x.submit(&o, Timestamp(0), &mut ev);
    x.end_of_day(Timestamp(10), &mut ev);
    assert!(matches!(
        ev.last(),
        Some(Event::Expired { remaining: 10, .. })
    ));
    assert_eq!(x.ledger().open_reservations(), 0);
}
