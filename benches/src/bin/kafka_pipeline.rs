//! Load driver: generator -> Kafka -> engine against raw produce + consume,
//! with the same client settings, on the same broker, in the same run.
//!
//! `cargo run --release -p benches --bin kafka_pipeline -- [TICKS] [SYMBOLS]`
//!
//! The broker is rdkafka's mock cluster (in process; no Kafka server is
//! installed here). Raw: pre-encoded tick payloads produced with the tick
//! producer's settings and consumed with the engine consumer's settings,
//! nothing decoded. Pipeline: the `PriceWalk` stepping as fast as possible
//! into `KafkaTickSink`, `KafkaTickSource` + `apply_ticks` into real ticker
//! actors (decode, dedupe, apply, confirm, commit). Both run produce and
//! consume concurrently; the figure is ticks fully consumed per second.

use std::time::{Duration, Instant};

use actors::ports::TickSink;
use actors::ticker::{TickerConfig, TickerCore};
use actors::{MarketHandle, PriceTick, PriceWalk};
use adapters::kafka::{
    KafkaTickSink, KafkaTickSource, apply_ticks, consumer_config, encode_tick, producer_config,
};
use engine::{AccountId, Fees, Gbm, GbmParams, Price, Symbol, Timestamp};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

const BATCH: usize = 1_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let symbols: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    // The mock cluster is not Send: it lives here, the work runs as a task.
    let cluster = MockCluster::new(1).unwrap_or_else(|e| panic!("{e}"));
    cluster
        .create_topic("raw", 3, 1)
        .unwrap_or_else(|e| panic!("{e}"));
    cluster
        .create_topic("ticks", 3, 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let brokers = cluster.bootstrap_servers();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async move {
        tokio::spawn(run(brokers, n, symbols))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    drop(cluster);
}

fn syms(k: usize) -> Vec<Symbol> {
    (0..k)
        .map(|i| Symbol::new(&format!("S{i:03}")).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

async fn raw(brokers: &str, n: usize, symbols: &[Symbol]) -> f64 {
    let payloads: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let s = symbols[i % symbols.len()];
            let t = PriceTick {
                symbol: s,
                price: Price::from_minor(10_000),
                ts: Timestamp(i as i64),
                seq: (i / symbols.len()) as u64 + 1,
            };
            (s.to_string(), encode_tick(&t))
        })
        .collect();
    let consumer: StreamConsumer = consumer_config(brokers, "raw")
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    consumer
        .subscribe(&["raw"])
        .unwrap_or_else(|e| panic!("{e}"));
    let producer: FutureProducer = producer_config(brokers)
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let consume = tokio::spawn(async move {
        let mut got = 0usize;
        while got < n {
            if consumer.recv().await.is_ok() {
                got += 1;
            }
        }
    });
    for chunk in payloads.chunks(BATCH) {
        let sends = chunk.iter().map(|(k, p)| {
            producer.send(
                FutureRecord::to("raw").key(k).payload(p),
                Duration::from_secs(30),
            )
        });
        for r in futures::future::join_all(sends).await {
            r.map_err(|(e, _)| e).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    consume.await.unwrap_or_else(|e| panic!("{e}"));
    n as f64 / start.elapsed().as_secs_f64()
}

async fn pipeline(brokers: &str, n: usize, symbols: &[Symbol]) -> f64 {
    let market = MarketHandle::start(Fees::default(), AccountId(u64::MAX), 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut walk = PriceWalk::default();
    for (i, s) in symbols.iter().enumerate() {
        market
            .list(TickerCore::new(
                *s,
                Price::from_minor(1),
                Price::from_minor(10_000),
                TickerConfig {
                    ticks_update_stats: true,
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        walk.add(
            *s,
            Gbm::new(
                Price::from_minor(10_000),
                Price::from_minor(1),
                GbmParams::default(),
            )
            .unwrap_or_else(|e| panic!("{e}")),
            1,
            i as u64,
        );
    }
    let sink = KafkaTickSink::new(brokers, "ticks").unwrap_or_else(|e| panic!("{e}"));
    let source = KafkaTickSource::new(brokers, "engine", "ticks").unwrap_or_else(|e| panic!("{e}"));
    let dir = market.directory();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let consume = tokio::spawn(async move {
        // Stop once every tick was applied.
        let stop = async move {
            let _ = done_rx.await;
        };
        apply_ticks(&source, &dir, None, stop)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let mut sent = 0usize;
    let mut ticks = Vec::new();
    while sent < n {
        ticks.clear();
        while ticks.len() < BATCH && sent + ticks.len() < n {
            walk.step(1.0, Timestamp(sent as i64), &mut ticks);
        }
        ticks.truncate(n - sent);
        sink.publish(&ticks).await.unwrap_or_else(|e| panic!("{e}"));
        sent += ticks.len();
    }
    eprintln!("pipeline: {sent} ticks produced");
    // Applied count is only known when the consumer stops; poll the tickers.
    let last = symbols
        .iter()
        .map(|s| (*s, walk.price(*s)))
        .collect::<Vec<_>>();
    loop {
        let mut all = true;
        for (s, p) in &last {
            let snap = market
                .ticker(*s)
                .unwrap_or_else(|e| panic!("{e}"))
                .snapshot()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            all &= Some(snap.reference) == *p;
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = done_tx.send(());
    let applied = consume.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        applied as usize >= n.saturating_sub(BATCH),
        "applied {applied} of {n}"
    );
    market.shutdown();
    rate
}

async fn run(brokers: String, n: usize, k: usize) {
    let symbols = syms(k);
    let raw_rate = raw(&brokers, n, &symbols).await;
    eprintln!("raw: {raw_rate:.0} msgs/s");
    let pipe_rate = pipeline(&brokers, n, &symbols).await;
    println!(
        "kafka: raw produce+consume {:.0} msgs/s; generator -> Kafka -> engine {:.0} ticks/s = {:.0}% of raw ({n} ticks, {k} symbols, mock cluster)",
        raw_rate,
        pipe_rate,
        100.0 * pipe_rate / raw_rate
    );
}
