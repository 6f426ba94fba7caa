//! The order router and the live generator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::GeneratorHandle;
use actors::generator::GeneratorArgs;
use actors::matcher::validate;
use actors::memory::tick_channel;
use actors::ports::TickSource;
use actors::{Command, MarketHandle, OrderRouter, PlaceError, PriceWalk};
use engine::{
    AccountId, Event, Gbm, GbmParams, OrderId, OrderRequest, OrderType, Price, Side, TimeInForce,
    Timestamp,
};

use crate::{limit, market, sym};

/// Every event a router published.
type Published = Arc<Mutex<Vec<(engine::Symbol, Event)>>>;

/// A router over `m` whose publish hook keeps every published event.
async fn router(m: &MarketHandle) -> (OrderRouter, Published) {
    let published = Arc::new(Mutex::new(Vec::new()));
    let p = published.clone();
    let tickets = Arc::new(AtomicU64::new(0));
    let r = OrderRouter::start(
        &tokio::runtime::Handle::current(),
        m.directory(),
        Arc::new(move |_facts, events| {
            p.lock().unwrap().extend_from_slice(events);
            tickets.fetch_add(1, Ordering::Relaxed) + 1
        }),
    )
    .await
    .unwrap();
    (r, published)
}

fn trades(events: &[(engine::Symbol, Event)]) -> Vec<engine::Trade> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Trade(t) => Some(*t),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_accounts_orders_are_applied_in_the_order_sent_and_published_once() {
    let m = market().await;
    let (router, published) = router(&m).await;
    // Send 50 sells from account 2 in order without waiting for replies
    // (join_all polls each future once, in order, before awaiting any).
    let sends = (0..50u64).map(|i| {
        router.submit(
            AccountId(2),
            Timestamp(i as i64),
            Vec::new(),
            vec![Command::Place(limit(i + 1, 2, Side::Sell, 1, 10_000))],
        )
    });
    for r in futures::future::join_all(sends).await {
        r.unwrap();
    }
    // A buy for 50 fills them in time priority: ids in the order they were sent.
    let b = router
        .submit(
            AccountId(1),
            Timestamp(99),
            Vec::new(),
            vec![Command::Place(limit(100, 1, Side::Buy, 50, 10_000))],
        )
        .await
        .unwrap();
    let makers: Vec<u64> = trades(&b.routed.events)
        .iter()
        .map(|t| t.maker_order.0)
        .collect();
    assert_eq!(makers, (1..=50).collect::<Vec<_>>());
    // Every trade was published exactly once, however the sends were batched.
    assert_eq!(trades(&published.lock().unwrap()).len(), 50);
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_close_is_published_after_every_order_sent_before_it() {
    let m = market().await;
    let (router, published) = router(&m).await;
    let day = |id, acc, side, qty| {
        engine::Order::limit(
            OrderId(id),
            AccountId(acc),
            sym(),
            side,
            qty,
            Price::from_minor(10_000),
            TimeInForce::Day,
            crate::TICK,
            Timestamp(0),
        )
        .unwrap()
    };
    router
        .submit(
            AccountId(2),
            Timestamp(1),
            Vec::new(),
            vec![Command::Place(day(1, 2, Side::Sell, 30))],
        )
        .await
        .unwrap();
    // A crossing buy and the close, sent together (each future is polled
    // once, in order, before any is awaited): the close comes second.
    let (buy, close) = futures::join!(
        router.submit(
            AccountId(1),
            Timestamp(2),
            Vec::new(),
            vec![Command::Place(limit(2, 1, Side::Buy, 10, 10_000))],
        ),
        router.close_session(Timestamp(3)),
    );
    buy.unwrap();
    let close = close.unwrap();
    assert!(
        close
            .routed
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Expired { order, remaining: 20, .. } if order.0 == 1)),
        "the DAY order expires with what the buy left"
    );
    let published = published.lock().unwrap().clone();
    let at = |f: &dyn Fn(&Event) -> bool| published.iter().position(|(_, e)| f(e)).unwrap();
    let fill = at(&|e| matches!(e, Event::PartiallyFilled { order, .. } if order.0 == 1));
    let expiry = at(&|e| matches!(e, Event::Expired { order, .. } if order.0 == 1));
    assert!(
        fill < expiry,
        "the journal must see the fill before the expiry"
    );
    drop(published);
    // The expiry released the rest of the seller's reservation.
    let h = m.accounts_of(AccountId(2));
    h.settle_wait(vec![]).await.unwrap();
    assert_eq!(h.reservation(OrderId(1)).await.unwrap(), None);
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_next_order_sees_the_fills_of_the_one_before() {
    let m = market().await;
    let (router, _) = router(&m).await;
    router
        .submit(
            AccountId(2),
            Timestamp(0),
            Vec::new(),
            vec![Command::Place(limit(1, 2, Side::Sell, 5, 10_000))],
        )
        .await
        .unwrap();
    // Account 1 has cash and no shares: it buys 5, and (sent before the
    // buy is answered) sells them again. Routed in one batch, the sell
    // would be reserved before the buy settled and refused.
    let (buy, sell) = futures::join!(
        router.submit(
            AccountId(1),
            Timestamp(1),
            Vec::new(),
            vec![Command::Place(limit(2, 1, Side::Buy, 5, 10_000))],
        ),
        router.submit(
            AccountId(1),
            Timestamp(2),
            Vec::new(),
            vec![Command::Place(limit(3, 1, Side::Sell, 5, 10_100))],
        ),
    );
    assert_eq!(trades(&buy.unwrap().routed.events).len(), 1);
    let sell = sell.unwrap();
    assert!(
        sell.routed.events.iter().all(|(_, e)| !matches!(
            e,
            Event::Rejected {
                order: OrderId(3),
                ..
            }
        )),
        "{:?}",
        sell.routed.events
    );
    m.shutdown();
}

fn market_buy(id: u64, collar: Option<Price>) -> OrderRequest {
    OrderRequest {
        id: OrderId(id),
        account: AccountId(1),
        symbol: sym(),
        side: Side::Buy,
        order_type: OrderType::Market,
        quantity: 10,
        limit_price: None,
        collar,
        time_in_force: TimeInForce::Ioc,
        client_order_id: None,
        ts: Timestamp(0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_order_without_a_collar_gets_one_from_the_current_price() {
    let m = market().await;
    let (router, _) = router(&m).await;
    for (id, px) in [(1, 10_300), (2, 10_600)] {
        router
            .submit(
                AccountId(2),
                Timestamp(0),
                Vec::new(),
                vec![Command::Place(limit(id, 2, Side::Sell, 5, px))],
            )
            .await
            .unwrap();
    }
    // Price 100.00 (the listing price; the book has no bid): collar 5% = 105.00.
    let dir = m.directory();
    let order = validate(&dir, market_buy(3, None), 500).await.unwrap();
    let batch = router
        .submit(
            order.account(),
            Timestamp(0),
            Vec::new(),
            vec![Command::Place(order)],
        )
        .await
        .unwrap();
    assert_eq!(order.price(), Price::from_minor(10_500));
    let filled: u64 = batch
        .routed
        .events
        .iter()
        .filter_map(|(_, e)| {
            if let Event::Trade(t) = e {
                Some(t.quantity)
            } else {
                None
            }
        })
        .sum();
    assert_eq!(filled, 5, "the 106.00 offer is beyond the collar");
    let err = validate(
        &dir,
        OrderRequest {
            quantity: 0,
            ..market_buy(4, None)
        },
        500,
    )
    .await
    .unwrap_err();
    assert_eq!(err, PlaceError::Invalid(engine::OrderError::ZeroQuantity));
    let err = validate(
        &dir,
        OrderRequest {
            symbol: engine::Symbol::new("NOPE").unwrap(),
            ..market_buy(5, None)
        },
        500,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PlaceError::UnknownSymbol(_)));
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_generator_ticks_on_its_interval_and_pauses() {
    let m = market().await;
    let (sink, source) = tick_channel(64);
    let mut walk = PriceWalk::default();
    walk.add(
        sym(),
        Gbm::new(
            Price::from_minor(10_000),
            Price::from_minor(1),
            GbmParams {
                volatility: 2.0,
                ..Default::default()
            },
        )
        .unwrap(),
        1,
        0,
    );
    let args = GeneratorArgs {
        walk,
        interval: Duration::from_millis(20),
        sink: Some(Arc::new(sink)),
        directory: Some(m.directory()),
        bus: None,
        clock: actors::Clock::from_fn(|| Timestamp(0)),
    };
    let generator = GeneratorHandle::spawn(args).await.unwrap();
    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        let batch = tokio::time::timeout(Duration::from_secs(5), source.next_batch())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seqs.extend(batch.iter().map(|t| t.seq));
    }
    assert_eq!(&seqs[..3], &[1, 2, 3]);
    generator
        .set_price(sym(), Price::from_minor(7_000))
        .unwrap();
    generator.pause().unwrap();
    // Drain what was sent before the pause; then nothing more arrives.
    let mut last = None;
    while let Ok(Ok(Some(b))) =
        tokio::time::timeout(Duration::from_millis(150), source.next_batch()).await
    {
        last = b.last().copied();
    }
    assert_eq!(
        last.map(|t| t.price),
        Some(Price::from_minor(7_000)),
        "the set price is the last tick while paused"
    );
    assert_eq!(
        m.ticker(sym()).unwrap().snapshot().await.unwrap().reference,
        Price::from_minor(7_000)
    );
    generator.resume().unwrap();
    let resumed = tokio::time::timeout(Duration::from_secs(5), source.next_batch())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!resumed.is_empty());
    generator.stop();
    m.shutdown();
}
