//! The matcher's routing: reservations, denials, settlement across actors.

use actors::Command;
use engine::{AccountId, Event, Money, RejectReason, Side, Symbol, Timestamp};

use crate::{limit, market, sym, totals};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_beyond_the_cash_is_denied_and_nothing_changes() {
    let m = market().await;
    let before = totals(&m).await;
    let r = m
        .submit(
            Timestamp(1),
            vec![Command::Place(limit(1, 1, Side::Buy, 1_000_000, 10_000))],
        )
        .await
        .unwrap();
    assert!(matches!(
        r.events[..],
        [(
            _,
            Event::Rejected {
                reason: RejectReason::InsufficientCash,
                ..
            }
        )]
    ));
    let a = m
        .accounts_of(AccountId(1))
        .get(AccountId(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.reserved_cash(), Money::ZERO);
    assert_eq!(totals(&m).await, before);
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_symbol_is_denied() {
    let m = market().await;
    let o = engine::Order::limit(
        engine::OrderId(1),
        AccountId(1),
        Symbol::new("NOPE").unwrap(),
        Side::Buy,
        1,
        engine::Price::from_minor(100),
        engine::TimeInForce::Gtc,
        crate::TICK,
        Timestamp(0),
    )
    .unwrap();
    let r = m
        .submit(Timestamp(1), vec![Command::Place(o)])
        .await
        .unwrap();
    assert!(matches!(
        r.events[..],
        [(
            _,
            Event::Rejected {
                reason: RejectReason::UnknownSymbol,
                ..
            }
        )]
    ));
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_in_their_own_actors_settle_each_side_and_conserve_totals() {
    let m = market().await;
    // Users 10 and 11 get actors of their own, as HTTP users do.
    for id in [AccountId(10), AccountId(11)] {
        let h = m.own_actor(id).await.unwrap();
        h.open(id, Money::from_major(5_000)).await.unwrap().unwrap();
    }
    m.accounts_of(AccountId(11))
        .apply(actors::account::AccountCmd::Issue(AccountId(11), sym(), 50))
        .await
        .unwrap()
        .unwrap();
    let before = totals(&m).await;
    m.submit(
        Timestamp(1),
        vec![Command::Place(limit(1, 11, Side::Sell, 30, 10_000))],
    )
    .await
    .unwrap();
    let r = m
        .submit(
            Timestamp(2),
            vec![Command::Place(limit(2, 10, Side::Buy, 20, 10_500))],
        )
        .await
        .unwrap();
    assert!(r.events.iter().any(
        |(_, e)| matches!(e, Event::Trade(t) if t.price.minor() == 10_000 && t.quantity == 20)
    ));
    for h in m.directory().account_actors() {
        h.settle_wait(vec![]).await.unwrap();
    }
    let buyer = m
        .accounts_of(AccountId(10))
        .get(AccountId(10))
        .await
        .unwrap()
        .unwrap();
    let seller = m
        .accounts_of(AccountId(11))
        .get(AccountId(11))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buyer.holding(sym()).quantity, 20);
    assert_eq!(
        buyer.reserved_cash(),
        Money::ZERO,
        "the filled buy's surplus must be released"
    );
    // 2,000.00 notional; taker fee 4 bps = 0.80, maker fee 2 bps = 0.40.
    assert_eq!(buyer.cash(), Money::from_minor(500_000 - 200_000 - 80));
    assert_eq!(seller.cash(), Money::from_minor(500_000 + 200_000 - 40));
    assert_eq!(seller.holding(sym()).quantity, 50 - 20);
    assert_eq!(seller.holding(sym()).reserved, 10);
    assert_eq!(totals(&m).await, before);
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_anothers_order_is_refused() {
    let m = market().await;
    m.submit(
        Timestamp(1),
        vec![Command::Place(limit(1, 1, Side::Buy, 5, 9_000))],
    )
    .await
    .unwrap();
    let r = m
        .submit(
            Timestamp(2),
            vec![Command::Cancel {
                id: engine::OrderId(1),
                account: AccountId(2),
                symbol: sym(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(r.refused.len(), 1);
    assert!(
        m.ticker(sym())
            .unwrap()
            .order(engine::OrderId(1))
            .await
            .unwrap()
            .is_some()
    );
    m.shutdown();
}
