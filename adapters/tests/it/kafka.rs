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
            origin: Default::default(),
            quantity: None,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_csv_gives_exactly_the_expected_minute_history() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("prices", 2, 1).unwrap();
    // Several prices in 09:00, nothing in 09:01 (carried forward), rows out
    // of time order in the file (sent in time order), one malformed row.
    let csv = "Time,Stock,Price\n090000,ACME,10\n090020,ACME,10.5\n090059,ACME,11\n090230,ACME,12\n090010,BETA,5\n090300,BETA,5.25\n090100,ACME,oops\n090015,BETA,6\n";
    let file = files::csv::read_prices(csv.as_bytes(), false).unwrap();
    assert_eq!(file.skipped.len(), 1);
    assert_eq!(file.skipped[0].line, 8);
    let ticks = files::csv::to_ticks(&file.rows, Timestamp(0), true).unwrap();
    let sink = KafkaTickSink::new(&brokers, "prices").unwrap();
    sink.publish(&ticks).await.unwrap();
    sink.flush(Duration::from_secs(5)).unwrap();

    let source = KafkaTickSource::new(&brokers, "history", "prices").unwrap();
    let got = read(&source, ticks.len()).await;
    let mut history: std::collections::BTreeMap<Symbol, engine::MinuteHistory> = Default::default();
    for t in &got {
        history
            .entry(t.symbol)
            .or_default()
            .record(t.ts, t.price)
            .unwrap();
    }
    let end = Timestamp::from_secs(9 * 3600 + 3 * 60);
    for h in history.values_mut() {
        h.extend_to(end);
    }
    let show = |s: &str| {
        let h = &history[&Symbol::new(s).unwrap()];
        (
            h.times(),
            h.prices().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        show("ACME"),
        (
            vec![
                "090000".to_string(),
                "090100".into(),
                "090200".into(),
                "090300".into()
            ],
            vec![
                "11.00".to_string(),
                "11.00".into(),
                "12.00".into(),
                "12.00".into()
            ]
        )
    );
    assert_eq!(
        show("BETA"),
        (
            vec![
                "090000".to_string(),
                "090100".into(),
                "090200".into(),
                "090300".into()
            ],
            vec![
                "6.00".to_string(),
                "6.00".into(),
                "6.00".into(),
                "5.25".into()
            ]
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_mid_stream_loses_nothing_and_applies_nothing_twice() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("ticks", 2, 1).unwrap();
    let sink = std::sync::Arc::new(KafkaTickSink::new(&brokers, "ticks").unwrap());
    let sent = ticks(300);
    let producer = {
        let sink = sink.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            for chunk in sent.chunks(10) {
                // The producer retries through the outage (idempotently).
                sink.publish(chunk).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let source = KafkaTickSource::new(&brokers, "engine", "ticks").unwrap();
    let mut got = Vec::new();
    let mut outage_done = false;
    while got.len() < sent.len() {
        let batch = tokio::time::timeout(Duration::from_secs(40), source.next_batch())
            .await
            .expect("ticks stopped for good")
            .unwrap()
            .unwrap();
        got.extend(batch);
        source.commit().await.ok();
        if !outage_done && got.len() >= 60 {
            cluster.broker_down(1).unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            cluster.broker_up(1).unwrap();
            outage_done = true;
        }
    }
    producer.await.unwrap();
    assert!(outage_done);
    assert_eq!(got.len(), sent.len(), "lost or duplicated ticks");
    for s in ["AAA", "BBB", "CCC"] {
        assert_eq!(by_symbol(&got, s), (1..=100).collect::<Vec<_>>(), "{s}");
    }
}

/// A source that fails once, then gives `batches` in turn, then ends.
struct Scripted {
    failed: std::sync::atomic::AtomicBool,
    batches: std::sync::Mutex<std::collections::VecDeque<Vec<PriceTick>>>,
    commits: std::sync::atomic::AtomicU32,
}

#[async_trait::async_trait]
impl TickSource for Scripted {
    async fn next_batch(&self) -> Result<Option<Vec<PriceTick>>, actors::ports::PortError> {
        if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(actors::ports::PortError {
                port: "kafka",
                message: "broker transport failure".into(),
            });
        }
        Ok(self.batches.lock().unwrap().pop_front())
    }
    async fn commit(&self) -> Result<(), actors::ports::PortError> {
        self.commits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// Lists unknown symbols on a market that is already stopped (so their
/// ticks can never be applied) and keeps what is dead-lettered.
struct DeadEnd {
    dead: actors::MarketHandle,
    letters: std::sync::Mutex<Vec<PriceTick>>,
}

#[async_trait::async_trait]
impl adapters::kafka::TickHost for DeadEnd {
    async fn unknown(&self, tick: &PriceTick) -> Option<actors::TickerHandle> {
        self.dead.ticker(tick.symbol).ok()
    }
    async fn dead_letter(&self, batch: &[PriceTick], _e: &actors::ports::PortError) {
        self.letters.lock().unwrap().extend_from_slice(batch);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_outlives_a_read_error_and_a_batch_it_cannot_apply() {
    use actors::ticker::{TickerConfig, TickerCore};
    let market = |symbol: &'static str| async move {
        let m = actors::MarketHandle::start(engine::Fees::default(), engine::AccountId::FEES, 1)
            .await
            .unwrap();
        m.list(TickerCore::new(
            Symbol::new(symbol).unwrap(),
            Price::from_minor(1),
            Price::from_minor(10_000),
            TickerConfig {
                ticks_update_stats: true,
            },
        ))
        .await
        .unwrap();
        m
    };
    let live = market("AAA").await;
    let dead = market("ZZZ").await;
    dead.shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let tick = |symbol: &str, minor| PriceTick {
        symbol: Symbol::new(symbol).unwrap(),
        price: Price::from_minor(minor),
        ts: Timestamp::from_secs(1_767_605_400),
        seq: 1,
        origin: Default::default(),
        quantity: None,
    };
    let source = Scripted {
        failed: Default::default(),
        batches: std::sync::Mutex::new([vec![tick("ZZZ", 1)], vec![tick("AAA", 12_345)]].into()),
        commits: Default::default(),
    };
    let host = DeadEnd {
        dead,
        letters: Default::default(),
    };
    let applied = adapters::kafka::apply_ticks_with(
        &source,
        &live.directory(),
        None,
        &host,
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(applied, 2, "both batches were consumed");
    assert_eq!(
        host.letters.lock().unwrap().len(),
        1,
        "the dead one was kept"
    );
    let snap = live
        .ticker(Symbol::new("AAA").unwrap())
        .unwrap()
        .snapshot()
        .await
        .unwrap();
    assert_eq!(
        snap.reference,
        Price::from_minor(12_345),
        "the next batch applied"
    );
    assert_eq!(source.commits.load(std::sync::atomic::Ordering::SeqCst), 2);
    live.shutdown();
}
