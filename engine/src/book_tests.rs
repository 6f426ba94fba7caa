use super::*;

const TICK: Price = Price::from_minor(1);

fn sym() -> Symbol {
    Symbol::new("TEST").unwrap()
}
fn book() -> OrderBook {
    OrderBook::new(sym(), TICK)
}
fn limit(id: u64, acc: u64, side: Side, qty: u64, px: i64, tif: TimeInForce) -> Order {
    Order::limit(
        OrderId(id),
        AccountId(acc),
        sym(),
        side,
        qty,
        Price::from_minor(px),
        tif,
        TICK,
        Timestamp(id as i64),
    )
    .unwrap()
}
fn gtc(id: u64, side: Side, qty: u64, px: i64) -> Order {
    limit(id, id, side, qty, px, TimeInForce::Gtc)
}
fn market(id: u64, side: Side, qty: u64, collar: i64) -> Order {
    Order::market(
        OrderId(id),
        AccountId(id),
        sym(),
        side,
        qty,
        Price::from_minor(collar),
        TICK,
        Timestamp(0),
    )
    .unwrap()
}
fn place(b: &mut OrderBook, o: Order) -> Vec<Event> {
    let mut ev = Vec::new();
    b.place(&o, Timestamp(0), &mut ev);
    b.check_invariants().unwrap();
    ev
}
fn trades(ev: &[Event]) -> Vec<(u64, u64, i64, u64)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Trade(t) => Some((
                t.maker_order.0,
                t.taker_order.0,
                t.price.minor(),
                t.quantity,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_non_crossing_limit_order_rests_at_its_price() {
    let mut b = book();
    let ev = place(&mut b, gtc(1, Side::Buy, 10, 100));
    assert!(matches!(ev[..], [Event::Accepted { .. }]));
    assert_eq!(b.best_bid(), Some(Price::from_minor(100)));
    assert_eq!(b.order(OrderId(1)).unwrap().remaining, 10);
}

#[test]
fn price_priority_beats_time_priority() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 5, 102));
    place(&mut b, gtc(2, Side::Sell, 5, 101));
    let ev = place(&mut b, gtc(3, Side::Buy, 5, 105));
    assert_eq!(trades(&ev), [(2, 3, 101, 5)]);
}

#[test]
fn time_priority_orders_a_level_first_in_first_out() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 5, 101));
    place(&mut b, gtc(2, Side::Sell, 5, 101));
    place(&mut b, gtc(3, Side::Sell, 5, 101));
    let ev = place(&mut b, gtc(4, Side::Buy, 7, 101));
    assert_eq!(trades(&ev), [(1, 4, 101, 5), (2, 4, 101, 2)]);
    assert_eq!(b.order(OrderId(2)).unwrap().remaining, 3);
}

#[test]
fn trades_happen_at_the_makers_price() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Buy, 5, 110));
    let ev = place(&mut b, gtc(2, Side::Sell, 5, 100));
    assert_eq!(trades(&ev), [(1, 2, 110, 5)]);
}

#[test]
fn an_aggressive_limit_order_walks_levels_and_rests_the_rest() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 3, 101));
    place(&mut b, gtc(2, Side::Sell, 3, 102));
    place(&mut b, gtc(3, Side::Sell, 3, 104));
    let ev = place(&mut b, gtc(4, Side::Buy, 10, 103));
    assert_eq!(trades(&ev), [(1, 4, 101, 3), (2, 4, 102, 3)]);
    assert_eq!(b.best_bid(), Some(Price::from_minor(103)));
    assert_eq!(b.order(OrderId(4)).unwrap().remaining, 4);
    assert_eq!(b.best_ask(), Some(Price::from_minor(104)));
}

#[test]
fn fill_events_report_both_sides() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 10, 100));
    let ev = place(&mut b, gtc(2, Side::Buy, 4, 100));
    assert!(ev.contains(&Event::PartiallyFilled {
        order: OrderId(1),
        account: AccountId(1),
        filled: 4,
        remaining: 6,
        ts: Timestamp(0)
    }));
    assert!(ev.contains(&Event::Filled {
        order: OrderId(2),
        account: AccountId(2),
        ts: Timestamp(0)
    }));
    let ev = place(&mut b, gtc(3, Side::Buy, 6, 100));
    assert!(ev.contains(&Event::Filled {
        order: OrderId(1),
        account: AccountId(1),
        ts: Timestamp(0)
    }));
    assert!(b.is_empty());
}

#[test]
fn market_orders_walk_the_book_and_never_rest() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 3, 101));
    place(&mut b, gtc(2, Side::Sell, 3, 150));
    let ev = place(&mut b, market(3, Side::Buy, 10, 120));
    assert_eq!(trades(&ev), [(1, 3, 101, 3)]);
    assert!(matches!(
        ev.last(),
        Some(Event::Cancelled {
            remaining: 7,
            reason: CancelReason::Unfilled,
            ..
        })
    ));
    assert!(b.order(OrderId(3)).is_none());
    assert_eq!(b.best_bid(), None, "the market remainder must not rest");
}

#[test]
fn a_market_order_on_an_empty_side_is_cancelled_whole() {
    let mut b = book();
    let ev = place(&mut b, market(1, Side::Sell, 10, 1));
    assert!(matches!(
        ev.last(),
        Some(Event::Cancelled { remaining: 10, .. })
    ));
    assert!(b.is_empty());
}

#[test]
fn ioc_remainder_is_cancelled() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Buy, 4, 100));
    let ev = place(&mut b, limit(2, 2, Side::Sell, 10, 100, TimeInForce::Ioc));
    assert_eq!(trades(&ev), [(1, 2, 100, 4)]);
    assert!(matches!(
        ev.last(),
        Some(Event::Cancelled {
            remaining: 6,
            reason: CancelReason::Unfilled,
            ..
        })
    ));
    assert!(b.is_empty());
}

#[test]
fn fok_that_cannot_fill_entirely_leaves_the_book_untouched() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 4, 100));
    place(&mut b, gtc(2, Side::Sell, 4, 102));
    let before = b.orders();
    let ev = place(&mut b, limit(3, 3, Side::Buy, 9, 102, TimeInForce::Fok));
    assert!(trades(&ev).is_empty());
    assert!(matches!(
        ev.last(),
        Some(Event::Cancelled {
            remaining: 9,
            reason: CancelReason::Killed,
            ..
        })
    ));
    assert_eq!(b.orders(), before);
}

#[test]
fn fok_that_can_fill_fills_entirely() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 4, 100));
    place(&mut b, gtc(2, Side::Sell, 4, 102));
    let ev = place(&mut b, limit(3, 3, Side::Buy, 8, 102, TimeInForce::Fok));
    assert_eq!(trades(&ev), [(1, 3, 100, 4), (2, 3, 102, 4)]);
    assert!(b.is_empty());
}

#[test]
fn cancel_removes_the_order_and_reports_what_was_left() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Buy, 10, 100));
    place(&mut b, gtc(2, Side::Buy, 5, 100));
    let mut ev = Vec::new();
    let st = b.cancel(OrderId(1), None, Timestamp(5), &mut ev).unwrap();
    assert_eq!(st.remaining, 10);
    b.check_invariants().unwrap();
    assert_eq!(b.quote().bid.unwrap().quantity, 5);
    assert_eq!(
        b.cancel(OrderId(1), None, Timestamp(6), &mut ev),
        Err(BookError::UnknownOrder(OrderId(1)))
    );
}

#[test]
fn nobody_cancels_another_accounts_order() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Buy, 10, 100));
    let mut ev = Vec::new();
    assert_eq!(
        b.cancel(OrderId(1), Some(AccountId(99)), Timestamp(0), &mut ev),
        Err(BookError::NotOwner(OrderId(1)))
    );
    assert!(ev.is_empty());
    assert!(b.order(OrderId(1)).is_some());
}

#[test]
fn a_duplicate_order_id_is_rejected() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Buy, 10, 100));
    let ev = place(&mut b, gtc(1, Side::Buy, 10, 99));
    assert!(matches!(
        ev[..],
        [Event::Rejected {
            reason: RejectReason::DuplicateOrderId,
            ..
        }]
    ));
}

#[test]
fn reducing_quantity_keeps_queue_priority() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 10, 100));
    place(&mut b, gtc(2, Side::Sell, 10, 100));
    let mut ev = Vec::new();
    b.replace(
        OrderId(1),
        None,
        None,
        Quantity::new(4),
        Timestamp(0),
        &mut ev,
    )
    .unwrap();
    b.check_invariants().unwrap();
    let ev = place(&mut b, gtc(3, Side::Buy, 4, 100));
    assert_eq!(trades(&ev), [(1, 3, 100, 4)]);
}

#[test]
fn increasing_quantity_loses_queue_priority() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 10, 100));
    place(&mut b, gtc(2, Side::Sell, 10, 100));
    let mut ev = Vec::new();
    b.replace(
        OrderId(1),
        None,
        None,
        Quantity::new(12),
        Timestamp(0),
        &mut ev,
    )
    .unwrap();
    b.check_invariants().unwrap();
    let ev = place(&mut b, gtc(3, Side::Buy, 4, 100));
    assert_eq!(trades(&ev), [(2, 3, 100, 4)]);
    assert_eq!(b.order(OrderId(1)).unwrap().remaining, 12);
}

#[test]
fn moving_price_loses_priority_and_can_cross() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 10, 105));
    place(&mut b, gtc(2, Side::Buy, 4, 100));
    let mut ev = Vec::new();
    b.replace(
        OrderId(2),
        None,
        Some(Price::from_minor(105)),
        None,
        Timestamp(0),
        &mut ev,
    )
    .unwrap();
    b.check_invariants().unwrap();
    assert_eq!(trades(&ev), [(1, 2, 105, 4)]);
    assert!(b.order(OrderId(2)).is_none());
    assert_eq!(b.order(OrderId(1)).unwrap().remaining, 6);
}

#[test]
fn replace_keeps_filled_plus_remaining_equal_to_original() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 10, 100));
    place(&mut b, gtc(2, Side::Buy, 3, 100));
    let mut ev = Vec::new();
    b.replace(
        OrderId(1),
        None,
        Some(Price::from_minor(101)),
        Quantity::new(5),
        Timestamp(0),
        &mut ev,
    )
    .unwrap();
    let st = b.order(OrderId(1)).unwrap();
    assert_eq!((st.filled(), st.remaining, st.original), (3, 5, 8));
}

#[test]
fn replace_off_the_grid_or_of_an_unknown_order_is_refused() {
    let mut b = OrderBook::new(sym(), Price::from_minor(5));
    let o = Order::limit(
        OrderId(1),
        AccountId(1),
        sym(),
        Side::Buy,
        1,
        Price::from_minor(100),
        TimeInForce::Gtc,
        Price::from_minor(5),
        Timestamp(0),
    )
    .unwrap();
    place(&mut b, o);
    let mut ev = Vec::new();
    assert!(matches!(
        b.replace(
            OrderId(1),
            None,
            Some(Price::from_minor(101)),
            None,
            Timestamp(0),
            &mut ev
        ),
        Err(BookError::OffTickGrid { .. })
    ));
    assert_eq!(
        b.replace(OrderId(9), None, None, None, Timestamp(0), &mut ev),
        Err(BookError::UnknownOrder(OrderId(9)))
    );
    assert!(ev.is_empty());
}

#[test]
fn day_orders_expire_at_end_of_day_and_gtc_orders_stay() {
    let mut b = book();
    place(&mut b, limit(1, 1, Side::Buy, 5, 100, TimeInForce::Day));
    place(&mut b, limit(2, 2, Side::Buy, 5, 99, TimeInForce::Gtc));
    place(&mut b, limit(3, 3, Side::Sell, 5, 105, TimeInForce::Day));
    let mut ev = Vec::new();
    b.expire_day_orders(Timestamp(1), &mut ev);
    b.check_invariants().unwrap();
    let expired: Vec<u64> = ev
        .iter()
        .filter_map(|e| {
            if let Event::Expired { order, .. } = e {
                Some(order.0)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(expired, [1, 3]);
    assert_eq!(b.len(), 1);
    assert!(b.order(OrderId(2)).is_some());
}

#[test]
fn depth_lists_levels_best_first_with_totals() {
    let mut b = book();
    for (id, px, q) in [(1, 100, 5), (2, 99, 3), (3, 100, 2), (4, 98, 1)] {
        place(&mut b, gtc(id, Side::Buy, q, px));
    }
    for (id, px, q) in [(5, 101, 4), (6, 103, 4)] {
        place(&mut b, gtc(id, Side::Sell, q, px));
    }
    let (bids, asks) = b.depth(2);
    let b2: Vec<(i64, u64, u32)> = bids
        .iter()
        .map(|l| (l.price.minor(), l.quantity, l.orders))
        .collect();
    assert_eq!(b2, [(100, 7, 2), (99, 3, 1)]);
    assert_eq!(
        asks.iter().map(|l| l.price.minor()).collect::<Vec<_>>(),
        [101, 103]
    );
    let q = b.quote();
    assert_eq!(
        (q.bid.unwrap().price.minor(), q.ask.unwrap().price.minor()),
        (100, 101)
    );
}

#[test]
fn trade_sequence_numbers_are_gap_free() {
    let mut b = book();
    place(&mut b, gtc(1, Side::Sell, 1, 100));
    place(&mut b, gtc(2, Side::Sell, 1, 101));
    let ev = place(&mut b, gtc(3, Side::Buy, 2, 101));
    let seqs: Vec<u64> = ev
        .iter()
        .filter_map(|e| {
            if let Event::Trade(t) = e {
                Some(t.seq)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(b.trade_count(), 2);
}

#[test]
fn slots_are_reused_after_orders_leave() {
    let mut b = book();
    for i in 0..100 {
        place(&mut b, gtc(i * 2 + 1, Side::Sell, 1, 100));
        place(&mut b, gtc(i * 2 + 2, Side::Buy, 1, 100));
    }
    assert!(b.is_empty());
    assert!(b.nodes.len() <= 1, "slab grew to {}", b.nodes.len());
}

fn cancelled_self_trade(ev: &[Event]) -> Vec<(u64, u64)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Cancelled {
                order,
                remaining,
                reason: CancelReason::SelfTrade,
                ..
            } => Some((order.0, *remaining)),
            _ => None,
        })
        .collect()
}

/// Account 7 rests asks at 100 (id 1) and 101 (id 3) around another
/// account's ask at 100 (id 2); then account 7 buys 12 up to 101.
fn self_trade_book(rule: SelfTrade) -> (OrderBook, Vec<Event>) {
    let mut b = book();
    b.set_self_trade(rule);
    place(&mut b, limit(1, 7, Side::Sell, 5, 100, TimeInForce::Gtc));
    place(&mut b, limit(2, 8, Side::Sell, 5, 100, TimeInForce::Gtc));
    place(&mut b, limit(3, 7, Side::Sell, 5, 101, TimeInForce::Gtc));
    let ev = place(&mut b, limit(4, 7, Side::Buy, 12, 101, TimeInForce::Gtc));
    (b, ev)
}

#[test]
fn self_trades_are_allowed_unless_prevented() {
    let (b, ev) = self_trade_book(SelfTrade::Allow);
    assert_eq!(
        trades(&ev),
        [(1, 4, 100, 5), (2, 4, 100, 5), (3, 4, 101, 2)]
    );
    assert!(cancelled_self_trade(&ev).is_empty());
    assert_eq!(b.order(OrderId(3)).unwrap().remaining, 3);
}

#[test]
fn cancel_resting_cancels_own_orders_and_trades_past_them() {
    let (b, ev) = self_trade_book(SelfTrade::CancelResting);
    assert_eq!(trades(&ev), [(2, 4, 100, 5)]);
    assert_eq!(cancelled_self_trade(&ev), [(1, 5), (3, 5)]);
    // Nothing of its own left to cross: the rest of the buy rests.
    assert_eq!(b.order(OrderId(4)).unwrap().remaining, 7);
    assert_eq!(b.best_ask(), None);
    assert!(b.order(OrderId(1)).is_none() && b.order(OrderId(3)).is_none());
}

#[test]
fn cancel_incoming_stops_at_the_first_own_order_and_never_rests_crossed() {
    let (b, ev) = self_trade_book(SelfTrade::CancelIncoming);
    assert!(trades(&ev).is_empty(), "its own order is first in line");
    assert_eq!(cancelled_self_trade(&ev), [(4, 12)]);
    assert!(b.order(OrderId(4)).is_none());
    assert_eq!(b.order(OrderId(1)).unwrap().remaining, 5);
    // Another account's order ahead of the own one trades first.
    let mut b = book();
    b.set_self_trade(SelfTrade::CancelIncoming);
    place(&mut b, limit(1, 8, Side::Sell, 5, 100, TimeInForce::Gtc));
    place(&mut b, limit(2, 7, Side::Sell, 5, 100, TimeInForce::Gtc));
    let ev = place(&mut b, limit(3, 7, Side::Buy, 8, 100, TimeInForce::Gtc));
    assert_eq!(trades(&ev), [(1, 3, 100, 5)]);
    assert_eq!(cancelled_self_trade(&ev), [(3, 3)]);
    assert_eq!(b.best_bid(), None);
}

#[test]
fn fill_or_kill_counts_only_what_it_may_trade_with() {
    for (rule, fills) in [
        (SelfTrade::Allow, true),
        (SelfTrade::CancelResting, false),
        (SelfTrade::CancelIncoming, false),
    ] {
        let mut b = book();
        b.set_self_trade(rule);
        place(&mut b, limit(1, 7, Side::Sell, 5, 100, TimeInForce::Gtc));
        place(&mut b, limit(2, 8, Side::Sell, 5, 100, TimeInForce::Gtc));
        let ev = place(&mut b, limit(3, 7, Side::Buy, 10, 100, TimeInForce::Fok));
        assert_eq!(!trades(&ev).is_empty(), fills, "{rule:?}");
        if !fills {
            // Killed whole: nothing traded and nothing was cancelled.
            assert_eq!(b.order(OrderId(1)).unwrap().remaining, 5, "{rule:?}");
        }
    }
}

#[test]
fn a_replace_that_crosses_its_own_order_follows_the_rule() {
    let mut b = book();
    b.set_self_trade(SelfTrade::CancelResting);
    place(&mut b, limit(1, 7, Side::Sell, 5, 102, TimeInForce::Gtc));
    place(&mut b, limit(2, 7, Side::Buy, 5, 100, TimeInForce::Gtc));
    let mut ev = Vec::new();
    b.replace(
        OrderId(2),
        Some(AccountId(7)),
        Some(Price::from_minor(102)),
        None,
        Timestamp(1),
        &mut ev,
    )
    .unwrap();
    b.check_invariants().unwrap();
    assert!(trades(&ev).is_empty());
    assert_eq!(cancelled_self_trade(&ev), [(1, 5)]);
    assert_eq!(b.best_bid(), Some(Price::from_minor(102)));
}
