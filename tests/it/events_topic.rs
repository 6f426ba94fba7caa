//! The events topic is fed from the durable journal (issue 11, audit M6):
//! against a real broker (Tansu, keeping its messages on disk), every book
//! event the journal holds reaches the topic exactly once, in journal order
//! per partition, through a broker outage longer than the old 5 s send
//! timeout, a SIGKILL of the market while the broker is down, and a
//! restart (which must not send again what the broker already has).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;

use crate::tansu::Tansu;
use crate::{Server, fresh_database, market_buy_until_filled, register, start_serve};

const TOPIC: &str = "marketsim.events";

fn serve(db: &str, brokers: &str) -> (Server, String) {
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        db,
        "--kafka-brokers",
        brokers,
    ];
    let (child, base) = start_serve(&args, &[("MARKETSIM_TICK_INTERVAL_MS", "100")]);
    (Server(Some(child)), base)
}

async fn buy(http: &reqwest::Client, base: &str, key: &str, times: usize) {
    for _ in 0..times {
        market_buy_until_filled(http, base, key, "ACME", 1, Duration::from_secs(20)).await;
    }
}

/// The journal's book events (trades included), by `seq`.
async fn journaled_events(db: &str) -> Vec<u64> {
    let db = adapters::pg::Database::connect(db, 1, Duration::from_secs(10))
        .await
        .unwrap();
    let (mut seqs, mut after) = (Vec::new(), 0);
    loop {
        let read = db.events_after(after, 1_000).await.unwrap();
        if read.through == after {
            return seqs;
        }
        seqs.extend(read.events.iter().map(|(seq, _, _)| *seq));
        after = read.through;
    }
}

/// What the topic held: journal seq -> times seen, and the last seq seen
/// on each partition.
#[derive(Default)]
struct Seen {
    times: BTreeMap<u64, usize>,
    last_on: BTreeMap<i32, u64>,
}

/// Read the topic until it holds every event the journal has (failing
/// after a minute); checks order per partition on the way.
async fn drain(consumer: &StreamConsumer, db: &str, seen: &mut Seen) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let want = journaled_events(db).await;
        if seen.times.keys().copied().collect::<Vec<_>>() == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the topic has {} of the journal's {} events; missing {:?}",
            seen.times.len(),
            want.len(),
            want.iter()
                .filter(|s| !seen.times.contains_key(s))
                .take(10)
                .collect::<Vec<_>>()
        );
        let Ok(m) = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await else {
            continue;
        };
        // The broker's restart shows here as transient errors.
        let Ok(m) = m else { continue };
        let seq = adapters::kafka::journal_seq_of(m.payload().unwrap())
            .expect("every event carries its journal seq");
        *seen.times.entry(seq).or_default() += 1;
        let last = seen.last_on.entry(m.partition()).or_default();
        assert!(
            *last < seq,
            "partition {} went back (or repeated): {seq} after {last}",
            m.partition()
        );
        *last = seq;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_journaled_event_reaches_the_events_topic_once_through_an_outage_and_a_crash() {
    let mut tansu = Tansu::start_on_disk();
    let db = fresh_database("events_topic").await;
    let http = reqwest::Client::new();
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &tansu.brokers)
        .set("group.id", "events-topic-test")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    let mut seen = Seen::default();

    // Trades while the broker is up reach the topic.
    let (server, base) = serve(&db, &tansu.brokers);
    consumer.subscribe(&[TOPIC]).unwrap();
    let key = register(&http, &base, "ann").await;
    buy(&http, &base, &key, 3).await;
    drain(&consumer, &db, &mut seen).await;
    let before_outage = seen.times.len();
    assert!(before_outage >= 6, "three trades' events: {before_outage}");

    // The broker goes away for longer than the old send timeout; trading
    // goes on (the journal is the market's record), then the market is
    // killed before it could send those events.
    tansu.kill();
    buy(&http, &base, &key, 3).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    drop(server);
    let during_outage = journaled_events(&db).await.len();
    assert!(
        during_outage > before_outage,
        "the outage's trades are journaled"
    );

    // Broker and market back: the missing events arrive, and what the
    // broker had is not sent again.
    tansu.restart();
    let (server, base) = serve(&db, &tansu.brokers);
    buy(&http, &base, &key, 2).await;
    drain(&consumer, &db, &mut seen).await;
    let twice: Vec<_> = seen.times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "events sent more than once: {twice:?}");
    assert!(
        seen.times.len() > during_outage,
        "events after the restart arrived too"
    );
    drop(server);
}
