//! A crashed actor is restarted with its state rebuilt; the market keeps working.

use std::time::Duration;

use actors::Command;
use engine::{AccountId, OrderId, Side, Timestamp};

use crate::{limit, market, sym, totals};

async fn wait_for_restarts(m: &actors::MarketHandle, n: u64) {
    for _ in 0..200 {
        if m.supervisor().restarts().await.unwrap() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the supervisor did not restart the actor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_account_actor_restarts_with_every_figure_intact() {
    let m = market().await;
    m.submit(
        Timestamp(1),
        vec![Command::Place(limit(1, 2, Side::Sell, 100, 10_000))],
    )
    .await
    .unwrap();
    m.submit(
        Timestamp(2),
        vec![Command::Place(limit(2, 1, Side::Buy, 40, 10_000))],
    )
    .await
    .unwrap();
    m.submit(
        Timestamp(3),
        vec![Command::Place(limit(3, 1, Side::Buy, 10, 9_000))],
    )
    .await
    .unwrap();
    let h = m.accounts_of(AccountId(1));
    let before = (
        h.get(AccountId(1)).await.unwrap(),
        h.reservation(OrderId(3)).await.unwrap(),
    );
    assert!(before.1.is_some());

    h.crash();
    wait_for_restarts(&m, 1).await;

    let after = (
        h.get(AccountId(1)).await.unwrap(),
        h.reservation(OrderId(3)).await.unwrap(),
    );
    assert_eq!(after, before, "figures changed across the restart");
    // The market keeps working: the resting buy is still reserved and can fill.
    let r = m
        .submit(
            Timestamp(4),
            vec![Command::Place(limit(4, 2, Side::Sell, 10, 9_000))],
        )
        .await
        .unwrap();
    assert!(
        r.events
            .iter()
            .any(|(_, e)| matches!(e, engine::Event::Trade(_)))
    );
    h.settle_wait(vec![]).await.unwrap();
    assert_eq!(h.reservation(OrderId(3)).await.unwrap(), None);
    assert_eq!(
        totals(&m).await,
        (engine::Money::from_major(200_000), 1_000)
    );
    assert_eq!(h.check_invariants().await.unwrap(), Ok(()));
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_ticker_restarts_with_its_book_intact() {
    let m = market().await;
    let cmds = vec![
        Command::Place(limit(1, 2, Side::Sell, 10, 10_100)),
        Command::Place(limit(2, 2, Side::Sell, 20, 10_050)),
        Command::Place(limit(3, 1, Side::Buy, 5, 10_050)),
        Command::Place(limit(4, 1, Side::Buy, 7, 9_900)),
    ];
    m.submit(Timestamp(1), cmds).await.unwrap();
    let t = m.ticker(sym()).unwrap();
    let before = (t.depth(10).await.unwrap(), t.snapshot().await.unwrap());

    t.crash();
    wait_for_restarts(&m, 1).await;

    let after = (t.depth(10).await.unwrap(), t.snapshot().await.unwrap());
    assert_eq!(after, before, "the book changed across the restart");
    // Resting orders are still there and still matchable.
    let r = m
        .submit(
            Timestamp(2),
            vec![Command::Place(limit(5, 1, Side::Buy, 15, 10_050))],
        )
        .await
        .unwrap();
    let traded: u64 = r
        .events
        .iter()
        .filter_map(|(_, e)| {
            if let engine::Event::Trade(t) = e {
                Some(t.quantity)
            } else {
                None
            }
        })
        .sum();
    assert_eq!(traded, 15);
    m.shutdown();
}
