//! `marketsim serve --kafka-brokers` against rdkafka's mock cluster.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

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
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/simulations/scenarios/live.toml"
    );
    let (mut child, base) = common::start_serve(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            scenario,
            "--tick-interval-ms",
            "50",
            "--kafka-brokers",
            &brokers,
        ],
        &[],
    );
    let http = reqwest::Client::new();

    // Reference prices move: the generator -> topic -> consumer -> ticker path works.
    let start_t = Instant::now();
    loop {
        let s: Value = http
            .get(format!("{base}/v1/stocks/ACME"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
    let key = common::register(&http, &base, "ann").await;
    let order_id =
        common::market_buy_until_filled(&http, &base, &key, "ACME", 3, Duration::from_secs(20))
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
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[test]
fn unreachable_brokers_are_a_clear_error_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_marketsim"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kafka-brokers",
            "127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no Kafka broker answered at 127.0.0.1:1"),
        "{err}"
    );
}
