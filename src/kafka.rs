//! `serve --kafka-brokers`: the tick topic between the generator and the
//! engine (consumer group, commit after apply) and the events topic the
//! market's trades and order events go to. With a database the events are
//! read from the durable journal after the position the broker keeps
//! (exactly once per partition, an outage delays them); in memory mode they
//! follow the event bus (best effort: nothing is durable there).

use std::sync::Arc;
use std::time::Duration;

use adapters::kafka::{
    KafkaEventLog, KafkaEventSink, KafkaTickSink, KafkaTickSource, Position, check_brokers,
    ensure_topic,
};
use adapters::pg::Database;
use anyhow::Context;

use crate::settings::Settings;

/// The Kafka ends of a live market.
pub struct KafkaParts {
    pub sink: Arc<KafkaTickSink>,
    source: KafkaTickSource,
    events: Events,
    /// Tick batches the consumer could not apply (`<tick topic>.dead-letter`).
    dead_letters: KafkaTickSink,
}

impl std::fmt::Debug for KafkaParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaParts").finish_non_exhaustive()
    }
}

/// Create a missing topic with the admin client. A broker that refuses
/// (or has no admin API) is a warning, not fatal: producing then reports a
/// missing topic clearly.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    if let Err(e) = ensure_topic(brokers, topic, partitions, 1, Duration::from_secs(3)).await {
        tracing::warn!(error = %e, topic, "could not create the topic; assuming it exists");
    }
}

/// Where the events topic's messages come from.
enum Events {
    /// The durable journal in PostgreSQL.
    Journal(KafkaEventLog, Database),
    /// The event bus (memory mode).
    Bus(KafkaEventSink),
}

/// Check the brokers answer, create the topics, open producer and consumer.
/// With `db`, the events topic is fed from its journal.
pub async fn connect(
    s: &Settings,
    brokers: &str,
    db: Option<&Database>,
) -> anyhow::Result<KafkaParts> {
    check_brokers(brokers, Duration::from_secs(5))?;
    let dead = dead_letter_topic(&s.kafka_tick_topic);
    for t in [&s.kafka_tick_topic, &s.kafka_events_topic, &dead] {
        create_topic(brokers, t, s.kafka_partitions).await;
    }
    Ok(KafkaParts {
        sink: Arc::new(
            KafkaTickSink::new(brokers, &s.kafka_tick_topic).context("the tick producer")?,
        ),
        source: KafkaTickSource::new(brokers, &s.kafka_group, &s.kafka_tick_topic)
            .context("the tick consumer")?,
        events: match db {
            Some(db) => Events::Journal(
                KafkaEventLog::new(brokers, &s.kafka_events_topic, Duration::from_secs(5))
                    .context("the events producer")?,
                db.clone(),
            ),
            None => Events::Bus(
                KafkaEventSink::new(brokers, &s.kafka_events_topic)
                    .context("the events producer")?,
            ),
        },
        dead_letters: KafkaTickSink::new(brokers, &dead).context("the dead-letter producer")?,
    })
}

/// Where tick batches the consumer could not apply go.
pub fn dead_letter_topic(tick_topic: &str) -> String {
    format!("{tick_topic}.dead-letter")
}

/// How serve's consumer treats unknown symbols and replayed prices: lists
/// them at first sight (unless `auto_list` is off) and takes replayed
/// symbols off the random walk.
struct Host {
    state: api::AppState,
    auto_list: bool,
    dead_letters: KafkaTickSink,
}

#[async_trait::async_trait]
impl adapters::kafka::TickHost for Host {
    async fn unknown(&self, tick: &actors::PriceTick) -> Option<actors::TickerHandle> {
        if !self.auto_list {
            tracing::warn!(symbol = %tick.symbol, "tick for a symbol this market does not list (auto_list is off): skipped");
            return None;
        }
        let listing = actors::Listing {
            float: tick
                .quantity
                .filter(|q| *q > 0)
                .unwrap_or(api::routes::admin::DEFAULT_FLOAT),
            ..actors::Listing::new(tick.symbol, tick.price)
        };
        match self.state.list(listing, tick.ts, true).await {
            Ok(h) => {
                tracing::info!(symbol = %tick.symbol, price = %tick.price, "listed at first sight (from the tick topic)");
                Some(h)
            }
            Err(e) => {
                tracing::warn!(symbol = %tick.symbol, error = %e, "could not list a symbol seen on the tick topic; its ticks are skipped");
                self.state.market.directory().ticker(tick.symbol)
            }
        }
    }
    fn outside(&self, tick: &actors::PriceTick) {
        if let Some(g) = &self.state.generator {
            let _ = g.hold(tick.symbol, tick.price, self.state.replay_hold);
        }
    }
    async fn dead_letter(&self, batch: &[actors::PriceTick], error: &actors::ports::PortError) {
        use actors::ports::TickSink;
        tracing::error!(ticks = batch.len(), %error, "a tick batch could not be applied; sent to the dead-letter topic");
        if let Err(e) = self.dead_letters.publish(batch).await {
            tracing::error!(error = %e, ticks = batch.len(), "the dead-letter topic refused the batch; its ticks are lost");
        }
    }
}

/// Start the consumer (ticks into the tickers, commit after apply; unknown
/// symbols listed at first sight unless `auto_list` is off) and the events
/// forwarder as tasks on the current runtime.
pub fn start(k: KafkaParts, state: &api::AppState, auto_list: bool) {
    let dir = state.market.directory();
    let tick_bus = state.bus.clone();
    let source = k.source;
    let mut stop = state.shutdown.clone();
    let host = Host {
        state: state.clone(),
        auto_list,
        dead_letters: k.dead_letters,
    };
    tokio::spawn(async move {
        let stop = async move {
            let _ = stop.wait_for(|v| *v).await;
        };
        match adapters::kafka::apply_ticks_with(&source, &dir, Some(&tick_bus), &host, stop).await {
            Ok(n) => tracing::info!(ticks = n, "tick consumer stopped"),
            Err(e) => tracing::error!(error = %e, "tick consumer stopped on an error"),
        }
    });
    match k.events {
        Events::Journal(log, db) => {
            tokio::spawn(forward_journal(db, log, state.shutdown.clone()));
        }
        Events::Bus(events) => {
            let stop = state.shutdown.clone();
            tokio::spawn(actors::bus::follow(
                state.bus.subscribe(),
                "events forwarder",
                async move |batch| {
                    use actors::ports::EventSink;
                    // Retried until it goes through or the market stops:
                    // meanwhile the bus may lag (and skip batches).
                    let mut backoff = Backoff::default();
                    while let Err(e) = events.write(&batch).await {
                        backoff.failed("events topic refused a batch", &e);
                        if backoff.wait(&stop).await {
                            return;
                        }
                    }
                },
            ));
        }
    }
}

/// Journal rows read per pass.
const READ_ROWS: u32 = 5_000;
/// How often an idle forwarder looks for new durable events.
const IDLE: Duration = Duration::from_millis(50);

/// The events forwarder with a journal (audit M6): each partition's position
/// is read off the broker, then the durable events after it are read from
/// PostgreSQL and sent, in journal order, each exactly once. A broker
/// outage stalls it (the producer never gives up on a message); a failed
/// read or send is retried after reading the positions again.
async fn forward_journal(
    db: Database,
    log: KafkaEventLog,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    let mut positions = loop {
        match resolve(&db, &log).await {
            Ok(p) => break p,
            Err(e) => backoff.failed("cannot read the events topic's position", &*e),
        }
        if backoff.wait(&stop).await {
            return;
        }
    };
    let mut cursor = positions.iter().copied().min().unwrap_or(0);
    tracing::info!(from = cursor, "events forwarder reads the journal");
    loop {
        if *stop.borrow() {
            return;
        }
        let read = match db.events_after(cursor, READ_ROWS).await {
            Ok(r) => {
                backoff = Backoff::default();
                r
            }
            Err(e) => {
                backoff.failed("cannot read the journal's events", &e);
                if backoff.wait(&stop).await {
                    return;
                }
                continue;
            }
        };
        if read.through == cursor {
            if sleep_or_stop(IDLE, &stop).await {
                return;
            }
            continue;
        }
        loop {
            let mut stopping = stop.clone();
            let sent = tokio::select! {
                r = log.publish(&read.events, &mut positions) => r,
                _ = stopping.wait_for(|v| *v) => return,
            };
            match sent {
                Ok(n) => {
                    metrics::counter!("marketsim_kafka_events_total").increment(n as u64);
                    break;
                }
                Err(e) => {
                    metrics::counter!("marketsim_kafka_event_errors_total").increment(1);
                    backoff.failed("events topic refused a send", &e);
                    if backoff.wait(&stop).await {
                        return;
                    }
                    if let Ok(p) = resolve(&db, &log).await {
                        positions = p;
                    }
                }
            }
        }
        cursor = read.through;
        metrics::gauge!("marketsim_kafka_events_journal_seq").set(cursor as f64);
    }
}

/// Each partition's position, an unknown one taken as the journal's end
/// now (its last message came from a market without a journal: whatever
/// this journal held before was sent before that).
async fn resolve(db: &Database, log: &KafkaEventLog) -> anyhow::Result<Vec<u64>> {
    let read = log.positions(Duration::from_secs(5)).await?;
    let mut end = None;
    let mut out = Vec::with_capacity(read.len());
    for (p, pos) in read.into_iter().enumerate() {
        out.push(match pos {
            Position::At(seq) => seq,
            Position::Unknown => {
                let e = match end {
                    Some(e) => e,
                    None => *end.insert(db.journal_end().await?),
                };
                tracing::warn!(partition = p, from = e,
                    "the events topic's partition has no journal position (written without a journal, or emptied by retention): sending from the journal's end");
                e
            }
        });
    }
    Ok(out)
}

/// Retry pacing: 100 ms doubling to 5 s; warns once per run of failures.
struct Backoff {
    wait: Duration,
    warned: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            wait: Duration::from_millis(100),
            warned: false,
        }
    }
}

impl Backoff {
    fn failed(&mut self, what: &str, e: &dyn std::fmt::Display) {
        if !self.warned {
            tracing::warn!(error = %e, "{what}; retrying");
            self.warned = true;
        }
    }
    /// Sleep for the current wait (then double it); true when the market
    /// stops meanwhile.
    async fn wait(&mut self, stop: &tokio::sync::watch::Receiver<bool>) -> bool {
        let w = self.wait;
        self.wait = (w * 2).min(Duration::from_secs(5));
        sleep_or_stop(w, stop).await
    }
}

/// Sleep for `d`; true when the market stops first.
async fn sleep_or_stop(d: Duration, stop: &tokio::sync::watch::Receiver<bool>) -> bool {
    let mut waiting = stop.clone();
    tokio::select! {
        () = tokio::time::sleep(d) => *stop.borrow(),
        _ = waiting.wait_for(|v| *v) => true,
    }
}
