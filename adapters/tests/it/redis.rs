//! Redis adapter against the real server of `REDIS_URL` (default
//! redis://127.0.0.1:6379); each test uses its own key prefix.

use std::time::Duration;

use actors::MarketEvent;
use actors::ports::{CachedQuote, QuoteCache, ReadCache};
use adapters::redis::{MarketMirror, RedisStore};
use engine::{AccountId, Event, OrderId, Price, Side, Symbol, Timestamp, Trade};

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn store(test: &str) -> RedisStore {
    let prefix = format!("marketsim-test:{test}:{}", std::process::id());
    RedisStore::new(&url(), &prefix).unwrap()
}

fn acme() -> Symbol {
    Symbol::new("ACME").unwrap()
}

/// 09:00:00 UTC on some day, plus minutes and seconds.
fn at(min: i64, sec: i64) -> Timestamp {
    Timestamp((1_795_000_000 / 86_400 * 86_400 + 9 * 3_600 + min * 60 + sec) * 1_000_000_000)
}

fn tick(min: i64, sec: i64, cents: i64) -> MarketEvent {
    MarketEvent::Tick {
        symbol: acme(),
        price: Price::from_minor(cents),
        ts: at(min, sec),
    }
}

#[tokio::test]
async fn quotes_round_trip_as_a_hash() {
    let r = store("quotes");
    let q = CachedQuote {
        last: Price::from_minor(10_050),
        bid: Some(Price::from_minor(10_000)),
        ask: None,
        ts: Timestamp(42),
    };
    QuoteCache::put(&r, acme(), q).await.unwrap();
    assert_eq!(QuoteCache::get(&r, acme()).await.unwrap(), Some(q));
    assert_eq!(
        QuoteCache::get(&r, Symbol::new("NONE").unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn minute_history_keeps_the_last_price_per_minute_and_carries_forward() {
    let r = store("history");
    let mut m = MarketMirror::extending();
    let trade = MarketEvent::Order {
        symbol: acme(),
        event: Event::Trade(Trade {
            symbol: acme(),
            seq: 1,
            price: Price::from_minor(10_200),
            quantity: 3,
            maker_order: OrderId(1),
            maker_account: AccountId(1),
            taker_order: OrderId(2),
            taker_account: AccountId(2),
            taker_side: Side::Buy,
            ts: at(3, 30),
        }),
    };
    let batch = [
        tick(0, 5, 10_000),
        tick(0, 40, 10_010), // several prices in one minute: the last wins
        tick(1, 0, 10_020),
        trade,              // minutes 2 carried forward, 3 is the trade's price
        tick(2, 59, 9_999), // back to an earlier minute: refused
    ];
    m.apply(&r, &batch, &Default::default()).await.unwrap();
    assert_eq!(m.out_of_order, 1);
    let doc: serde_json::Value =
        serde_json::from_str(&r.history(acme()).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "time": ["090000", "090100", "090200", "090300"],
            "price": ["100.10", "100.20", "100.20", "102.00"],
        })
    );
    // The day's document is under its date too.
    let day = at(0, 0).day();
    let by_day = r
        .history_between(acme(), at(0, 0), at(59, 0))
        .await
        .unwrap();
    assert_eq!(by_day.len(), 1);
    assert_eq!(Some(&by_day[0]), m.history(acme(), day));
    // Minutes without data are carried forward when a later price comes.
    m.apply(&r, &[tick(5, 0, 10_500)], &Default::default())
        .await
        .unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&r.history(acme()).await.unwrap().unwrap()).unwrap();
    assert_eq!(doc["time"].as_array().unwrap().len(), 6);
    assert_eq!(doc["price"][4], "102.00");
    assert_eq!(doc["price"][5], "105.00");
    // The quote followed the last update.
    let q = QuoteCache::get(&r, acme()).await.unwrap().unwrap();
    assert_eq!(q.last, Price::from_minor(10_500));
    // A restarted mirror extends the stored day instead of starting over.
    let mut again = MarketMirror::extending();
    again
        .apply(&r, &[tick(7, 0, 10_700)], &Default::default())
        .await
        .unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&r.history(acme()).await.unwrap().unwrap()).unwrap();
    assert_eq!(doc["time"][0], "090000");
    assert_eq!(doc["time"].as_array().unwrap().len(), 8);
    assert_eq!(doc["price"][6], "105.00");
    assert_eq!(doc["price"][7], "107.00");
}

#[tokio::test]
async fn prices_of_another_day_go_to_that_days_history() {
    let r = store("days");
    let mut m = MarketMirror::extending();
    let next_day = |min: i64, cents: i64| MarketEvent::Tick {
        symbol: acme(),
        price: Price::from_minor(cents),
        ts: Timestamp(at(min, 0).nanos() + Timestamp::NANOS_PER_DAY),
    };
    // Today's live price, then a replay of the previous day's file, then
    // more of today: nothing is refused, each day keeps its own minutes.
    m.apply(&r, &[next_day(30, 20_000)], &Default::default())
        .await
        .unwrap();
    m.apply(
        &r,
        &[tick(0, 0, 10_000), tick(2, 0, 10_200)],
        &Default::default(),
    )
    .await
    .unwrap();
    m.apply(&r, &[next_day(31, 20_100)], &Default::default())
        .await
        .unwrap();
    assert_eq!(m.out_of_order, 0);
    let day = at(0, 0).day();
    assert_eq!(
        m.history(acme(), day).unwrap().times(),
        ["090000", "090100", "090200"]
    );
    assert_eq!(
        m.history(acme(), day + 1).unwrap().times(),
        ["093000", "093100"]
    );
    // `history:ACME` is the latest day's.
    let doc: serde_json::Value =
        serde_json::from_str(&r.history(acme()).await.unwrap().unwrap()).unwrap();
    assert_eq!(doc["time"], serde_json::json!(["093000", "093100"]));
}

#[tokio::test]
async fn cached_reads_expire_and_are_invalidated() {
    let r = store("cache");
    ReadCache::put(&r, "stocks:1", b"one".to_vec(), Duration::from_millis(300))
        .await
        .unwrap();
    ReadCache::put(&r, "movers:5", b"five".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        ReadCache::get(&r, "stocks:1").await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(ReadCache::get(&r, "stocks:1").await.unwrap(), None, "TTL");
    assert!(ReadCache::get(&r, "movers:5").await.unwrap().is_some());
    r.invalidate().await.unwrap();
    assert_eq!(ReadCache::get(&r, "movers:5").await.unwrap(), None);
}

#[tokio::test]
async fn ticks_and_trades_are_published_for_other_processes() {
    let r = store("pubsub");
    let client = ::redis::Client::open(url()).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.subscribe(r.key("ticks")).await.unwrap();
    sub.subscribe(r.key("trades")).await.unwrap();
    let mut m = MarketMirror::default();
    m.apply(
        &r,
        &[tick(0, 1, 10_000), tick(0, 2, 10_001)],
        &Default::default(),
    )
    .await
    .unwrap();
    let mut stream = sub.on_message();
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = tokio::time::timeout(
            Duration::from_secs(5),
            futures::StreamExt::next(&mut stream),
        )
        .await
        .unwrap()
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&msg.get_payload::<String>().unwrap()).unwrap();
        got.push(v["price"].as_str().unwrap().to_string());
    }
    assert_eq!(got, ["100.00", "100.01"], "in order");
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast_and_is_skipped_meanwhile() {
    // Nothing listens on port 1.
    let r = RedisStore::new("redis://127.0.0.1:1", "marketsim-test:down").unwrap();
    let t = std::time::Instant::now();
    assert!(r.ping().await.is_err());
    assert!(QuoteCache::get(&r, acme()).await.is_err());
    assert!(ReadCache::get(&r, "stocks").await.is_err());
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}: a request must not wait on Redis",
        t.elapsed()
    );
}
