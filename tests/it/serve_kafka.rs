//! The live market with Kafka (`kafka_brokers`) against rdkafka's mock
//! cluster, in-process.

use std::time::{Duration, Instant};

use marketsim::settings::Overrides;

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_flow_through_kafka_and_trades_reach_the_events_topic() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("marketsim.ticks", 3, 1).unwrap();
    cluster.create_topic("marketsim.events", 3, 1).unwrap();
    let app = crate::spawn_app(
        &[("MARKETSIM_TICK_INTERVAL_MS", "50")],
        Overrides {
            scenario: Some(crate::live().into()),
            kafka_brokers: Some(brokers.clone()),
            ..Overrides::default()
        },
    )
    .await;
    let base = app.base.clone();
    let http = reqwest::Client::new();

    // Reference prices move: the generator -> topic -> consumer -> ticker path works.
    let start_t = Instant::now();
    loop {
        let s: Value = crate::get_json(&http, &format!("{base}/v1/stocks/ACME"), None).await;
        if s["timestamp"]
            .as_str()
            .is_some_and(|t| !t.starts_with("1970"))
            && s["last"] != "100.00"
        {
            break;
        }
        assert!(
            start_t.elapsed() < Duration::from_secs(20),
            "no tick arrived through Kafka: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A user's trade is published on the events topic, keyed by symbol.
    let events: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "test-events")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    events.subscribe(&["marketsim.events"]).unwrap();
    let key = crate::register(&http, &base, "ann").await;
    let order_id =
        crate::market_buy_until_filled(&http, &base, &key, "ACME", 3, Duration::from_secs(20))
            .await["id"]
            .as_u64()
            .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = tokio::time::timeout_at(deadline.into(), events.recv())
            .await
            .expect("no trade event")
            .unwrap();
        let v: Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
        if v["kind"] == "trade" && v["taker_order"] == order_id {
            assert_eq!(m.key(), Some(&b"ACME"[..]));
            assert_eq!(v["v"], 1);
            break;
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_brokers_are_a_clear_error_at_start() {
    let err = crate::try_spawn_app(
        &[],
        Overrides {
            kafka_brokers: Some("127.0.0.1:1".into()),
            ..Overrides::default()
        },
    )
    .await
    .expect_err("the market started without a broker");
    let err = format!("{err:#}");
    assert!(
        err.contains("no Kafka broker answered at 127.0.0.1:1"),
        "{err}"
    );
}
