//! The tick topic over rdkafka's mock cluster (a real Kafka protocol peer).

use std::time::Duration;

use actors::PriceTick;
use actors::ports::{TickSink, TickSource};
use adapters::kafka::{KafkaTickSink, KafkaTickSource};
use engine::{Price, Symbol, Timestamp};
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

fn ticks(n: u64) -> Vec<PriceTick> {
    let syms: Vec<Symbol> = ["AAA", "BBB", "CCC"]
        .iter()
        .map(|s| Symbol::new(s).unwrap())
        .collect();
    (0..n)
        .map(|i| PriceTick {
            symbol: syms[(i % 3) as usize],
            price: Price::from_minor(10_000 + i as i64),
            ts: Timestamp::from_secs(1_767_605_400 + i as i64),
            seq: i / 3 + 1,
        })
        .collect()
}

/// Read until `n` ticks arrived (or time runs out).
async fn read(source: &KafkaTickSource, n: usize) -> Vec<PriceTick> {
    let mut got = Vec::new();
    while got.len() < n {
        let batch = tokio::time::timeout(Duration::from_secs(20), source.next_batch())
            .await
            .expect("ticks did not arrive")
            .unwrap()
            .unwrap();
        got.extend(batch);
    }
    got
}

fn by_symbol(ts: &[PriceTick], s: &str) -> Vec<u64> {
    ts.iter()
        .filter(|t| t.symbol.as_str() == s)
        .map(|t| t.seq)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_round_trip_in_order_per_symbol() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("ticks", 3, 1).unwrap();
    let sink = KafkaTickSink::new(&brokers, "ticks").unwrap();
    let sent = ticks(90);
    sink.publish(&sent).await.unwrap();
    let source = KafkaTickSource::new(&brokers, "engine", "ticks").unwrap();
    let got = read(&source, 90).await;
    assert_eq!(got.len(), 90);
    for s in ["AAA", "BBB", "CCC"] {
        assert_eq!(
            by_symbol(&got, s),
            (1..=30).collect::<Vec<_>>(),
            "{s} out of order"
        );
    }
    let mut a = got.clone();
    a.sort_by_key(|t| (t.symbol, t.seq));
    let mut b = sent.clone();
    b.sort_by_key(|t| (t.symbol, t.seq));
    assert_eq!(a, b, "payloads changed on the way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_duplicate_messages_are_counted_and_skipped() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("ticks", 1, 1).unwrap();
    let raw: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let sink = KafkaTickSink::new(&brokers, "ticks").unwrap();
    let t = ticks(3);
    sink.publish(&t[..1]).await.unwrap();
    for junk in [
        &b"garbage"[..],
        br#"{"v":9,"symbol":"AAA","price":"1.00","ts":"2026-01-05T09:30:00Z","seq":7}"#,
    ] {
        raw.send(
            FutureRecord::to("ticks").key("AAA").payload(junk),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    }
    sink.publish(&t[..1]).await.unwrap(); // a redelivery: same symbol and seq
    sink.publish(&t[1..]).await.unwrap();
    let source = KafkaTickSource::new(&brokers, "engine", "ticks").unwrap();
    let got = read(&source, 3).await;
    assert_eq!(got, t);
    assert_eq!(source.malformed(), 2);
    assert_eq!(source.duplicates(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_consumer_resumes_from_its_committed_offsets() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("ticks", 1, 1).unwrap();
    let sink = KafkaTickSink::new(&brokers, "ticks").unwrap();
    let sent = ticks(60);
    sink.publish(&sent[..30]).await.unwrap();
    {
        let first = KafkaTickSource::new(&brokers, "engine", "ticks").unwrap();
        let got = read(&first, 30).await;
        assert_eq!(got, sent[..30].to_vec());
        first.commit().await.unwrap();
    }
    sink.publish(&sent[30..]).await.unwrap();
    let second = KafkaTickSource::new(&brokers, "engine", "ticks").unwrap();
    let got = read(&second, 30).await;
    assert_eq!(
        got,
        sent[30..].to_vec(),
        "lost or re-applied ticks across the restart"
    );
    // Nothing more is pending.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), second.next_batch())
            .await
            .is_err()
    );
}
