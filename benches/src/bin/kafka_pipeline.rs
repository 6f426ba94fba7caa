//! Load driver: generator -> Kafka -> engine against raw consume from the
//! same broker, with the same client settings, in the same run.
//!
//! `cargo run --release -p benches --bin kafka_pipeline -- [TICKS] [SYMBOLS] [ROUNDS] [BROKERS]`
//!
//! Without BROKERS the broker is rdkafka's mock cluster (in process); with
//! it, a real Kafka-protocol broker (e.g. Tansu: `tansu broker
//! --listener-url tcp://127.0.0.1:19092 --advertised-listener-url
//! tcp://127.0.0.1:19092 --storage-engine memory://tansu/`), topics created
//! with the admin client. Each round uses fresh topics and runs both
//! measurements, alternating which goes first:
//!
//! - raw: TICKS encoded ticks are produced first (untimed), then consumed
//!   with the engine consumer's settings, nothing decoded;
//! - pipeline: the `PriceWalk` steps as fast as it can into
//!   `KafkaTickSink` (the generator's producer; its rate is printed too),
//!   then `KafkaTickSource` + `apply_ticks` feed real ticker actors
//!   (decode, dedupe, apply, confirm, commit).
//!
//! Consumption is timed from the first consumed message to the last, so
//! the consumer group's join is not in the figure, and producing is timed
//! apart (it awaits each batch's acknowledgement, so it is bound by the
//! broker's round trip, not by the engine). Prints each round and the
//! median and range of the rates and of the consume ratio.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors::ports::{PortError, TickSink, TickSource};
use actors::ticker::TickerConfig;
use actors::{Listing, MarketHandle, PriceTick, PriceWalk};
use adapters::kafka::{
    KafkaTickSink, KafkaTickSource, apply_ticks, consumer_config, encode_tick, ensure_topic,
    producer_config,
};
use async_trait::async_trait;
use engine::{AccountId, Fees, Price, Symbol, Timestamp};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

const BATCH: usize = 1_000;
const PARTITIONS: i32 = 3;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let symbols: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let real = args.next();
    // The mock cluster is not Send: it lives here, the work runs as a task.
    let cluster = match real {
        Some(_) => None,
        None => Some(MockCluster::new(1).unwrap_or_else(|e| panic!("{e}"))),
    };
    let brokers = match (&real, &cluster) {
        (Some(b), _) => b.clone(),
        (None, Some(c)) => c.bootstrap_servers(),
        (None, None) => unreachable!("one of the two is set"),
    };
    let topics: Vec<String> = (0..rounds)
        .flat_map(|r| [format!("raw-{r}"), format!("ticks-{r}")])
        .collect();
    if let Some(c) = &cluster {
        for t in &topics {
            c.create_topic(t, PARTITIONS, 1)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let what = if real.is_some() {
        format!("broker {brokers}")
    } else {
        "mock cluster".to_string()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async move {
        tokio::spawn(async move {
            if real.is_some() {
                for t in &topics {
                    ensure_topic(&brokers, t, PARTITIONS, 1, Duration::from_secs(10))
                        .await
                        .unwrap_or_else(|e| panic!("{t}: {e}"));
                }
            }
            run(brokers, n, symbols, rounds, what).await
        })
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

/// Produce pre-encoded ticks (untimed), then time consuming them.
async fn raw(brokers: &str, topic: &str, n: usize, symbols: &[Symbol]) -> f64 {
    let producer: FutureProducer = producer_config(brokers)
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    let payloads: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let s = symbols[i % symbols.len()];
            let t = PriceTick {
                symbol: s,
                price: Price::from_minor(10_000),
                ts: Timestamp(i as i64),
                seq: (i / symbols.len()) as u64 + 1,
                origin: Default::default(),
                quantity: None,
            };
            (s.to_string(), encode_tick(&t))
        })
        .collect();
    for chunk in payloads.chunks(BATCH) {
        let sends = chunk.iter().map(|(k, p)| {
            producer.send(
                FutureRecord::to(topic).key(k).payload(p),
                Duration::from_secs(30),
            )
        });
        for r in futures::future::join_all(sends).await {
            r.map_err(|(e, _)| e).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let consumer: StreamConsumer = consumer_config(brokers, &format!("{topic}-group"))
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    consumer
        .subscribe(&[topic])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut first = None;
    let mut got = 0usize;
    while got < n {
        if consumer.recv().await.is_ok() {
            first.get_or_insert_with(Instant::now);
            got += 1;
        }
    }
    let secs = first.map_or(f64::MAX, |f: Instant| f.elapsed().as_secs_f64());
    n as f64 / secs
}

/// A tick source that notes when the first tick arrived and signals once
/// `target` ticks were applied and committed.
struct Timed {
    inner: KafkaTickSource,
    first: Mutex<Option<Instant>>,
    taken: AtomicU64,
    target: u64,
    done: tokio::sync::Notify,
}

#[async_trait]
impl TickSource for Timed {
    async fn next_batch(&self) -> Result<Option<Vec<PriceTick>>, PortError> {
        let b = self.inner.next_batch().await?;
        if let Some(b) = &b {
            self.first
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(Instant::now);
            self.taken.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        Ok(b)
    }
    async fn commit(&self) -> Result<(), PortError> {
        self.inner.commit().await?;
        if self.taken.load(Ordering::Relaxed) >= self.target {
            self.done.notify_one();
        }
        Ok(())
    }
}

/// The generator producing into `topic`, then the engine consuming it;
/// returns (consumed ticks/s, produced ticks/s).
async fn pipeline(brokers: &str, topic: &str, n: usize, symbols: &[Symbol]) -> (f64, f64) {
    let market = MarketHandle::start(Fees::default(), AccountId::FEES, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut walk = PriceWalk::default();
    for (i, s) in symbols.iter().enumerate() {
        let l = Listing::new(*s, Price::from_minor(10_000));
        market
            .list(l.ticker(TickerConfig {
                ticks_update_stats: true,
            }))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        walk.add(
            *s,
            l.model(l.initial).unwrap_or_else(|e| panic!("{e}")),
            1,
            i as u64,
        );
    }
    let sink = KafkaTickSink::new(brokers, topic).unwrap_or_else(|e| panic!("{e}"));
    let source = Arc::new(Timed {
        inner: KafkaTickSource::new(brokers, &format!("{topic}-engine"), topic)
            .unwrap_or_else(|e| panic!("{e}")),
        first: Mutex::new(None),
        taken: AtomicU64::new(0),
        target: n as u64,
        done: tokio::sync::Notify::new(),
    });
    let mut sent = 0usize;
    let mut ticks = Vec::new();
    let produce = Instant::now();
    while sent < n {
        ticks.clear();
        while ticks.len() < BATCH && sent + ticks.len() < n {
            walk.step(1.0, Timestamp(sent as i64), &mut ticks);
        }
        ticks.truncate(n - sent);
        sink.publish(&ticks).await.unwrap_or_else(|e| panic!("{e}"));
        sent += ticks.len();
    }
    let produced = n as f64 / produce.elapsed().as_secs_f64();
    let dir = market.directory();
    let src = source.clone();
    let consume = tokio::spawn(async move {
        let stop = src.done.notified();
        apply_ticks(&*src, &dir, None, stop)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let applied = consume.await.unwrap_or_else(|e| panic!("{e}"));
    let end = Instant::now();
    let first = source
        .first
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .unwrap_or(end);
    assert_eq!(applied as usize, n, "every tick applied exactly once");
    market.shutdown();
    (n as f64 / (end - first).as_secs_f64(), produced)
}

async fn run(brokers: String, n: usize, k: usize, rounds: usize, what: String) {
    let symbols = syms(k);
    let (mut raws, mut pipes, mut ratios, mut prods) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (raw_t, pipe_t) = (format!("raw-{r}"), format!("ticks-{r}"));
        let (raw_rate, (pipe_rate, prod_rate)) = if r % 2 == 0 {
            let a = raw(&brokers, &raw_t, n, &symbols).await;
            (a, pipeline(&brokers, &pipe_t, n, &symbols).await)
        } else {
            let b = pipeline(&brokers, &pipe_t, n, &symbols).await;
            (raw(&brokers, &raw_t, n, &symbols).await, b)
        };
        prods.push(prod_rate);
        println!(
            "round {}: raw consume {raw_rate:.0} msgs/s, engine consume {pipe_rate:.0} ticks/s = {:.0}%, generator produce {prod_rate:.0} ticks/s ({})",
            r + 1,
            100.0 * pipe_rate / raw_rate,
            if r % 2 == 0 {
                "raw first"
            } else {
                "pipeline first"
            }
        );
        raws.push(raw_rate);
        pipes.push(pipe_rate);
        ratios.push(pipe_rate / raw_rate);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (rm, rl, rh) = med(&mut raws);
    let (pm, pl, ph) = med(&mut pipes);
    let (qm, ql, qh) = med(&mut ratios);
    let (gm, gl, gh) = med(&mut prods);
    println!(
        "kafka ({what}, {n} ticks, {k} symbols, {rounds} rounds): raw consume median {rm:.0} msgs/s ({rl:.0}-{rh:.0}); engine consume (decode, dedupe, apply, commit) median {pm:.0} ticks/s ({pl:.0}-{ph:.0}); ratio median {:.0}% ({:.0}-{:.0}%); generator produce median {gm:.0} ticks/s ({gl:.0}-{gh:.0})",
        100.0 * qm,
        100.0 * ql,
        100.0 * qh
    );
}
