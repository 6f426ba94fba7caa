//! Kafka (rdkafka): the tick topic (generator -> engine) and the events
//! topic (`KafkaEventLog` from the journal, `KafkaEventSink` from the bus).
//!
//! Messages are keyed by symbol, so a symbol's ticks stay in one partition,
//! in order. The payload is JSON with a schema version:
//!
//! ```json
//! {"v":1,"symbol":"ACME","price":"100.25","ts":"2026-01-05T09:30:00.250Z","seq":42}
//! {"v":1,"symbol":"STOCK1","price":"10.00","ts":"2026-01-05T09:00:06Z","seq":1,"origin":"replay"}
//! ```
//!
//! `price` is a decimal string (never a float); `ts` is when the price
//! happened (event time); `symbol` is case-insensitive. `quantity`
//! (optional) is the number of shares a market issues if it lists the
//! symbol at first sight (`generate --symbols` gives its random tickers
//! 10,000-20,000). `origin` is absent
//! for a random walk's ticks and `"replay"` for a price file's (a market
//! takes such a symbol off its own walk). `seq` counts up per symbol and
//! origin (a price file's from 1; a live walk's from the clock in
//! microseconds at its start, so a restarted generator numbers above what
//! it sent before), and the consumer drops a tick whose `seq` it has
//! already seen for that symbol and origin (at-least-once in, no double
//! application). Malformed messages are counted and skipped, never fatal;
//! a batch the market cannot apply is retried, then sent to the
//! dead-letter topic (`TickHost::dead_letter`), and the consumer goes on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actors::ports::{PortError, TickSink, TickSource};
use actors::{Origin, PriceTick};
use async_trait::async_trait;
use engine::{Price, Symbol};
use futures::FutureExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

/// The tick payload's schema version.
pub const TICK_SCHEMA_VERSION: u32 = 1;

/// A tick on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickMessage {
    pub v: u32,
    pub symbol: String,
    pub price: String,
    pub ts: String,
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Shares to issue if a market lists the symbol at first sight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
}

/// Why a message is not a tick.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a tick message: {0}")]
    Json(String),
    #[error("unsupported schema version {0} (this build reads {TICK_SCHEMA_VERSION})")]
    Version(u32),
    #[error("bad symbol: {0}")]
    Symbol(String),
    #[error("bad price `{0}`")]
    Price(String),
    #[error("bad timestamp `{0}`")]
    Timestamp(String),
    #[error("bad origin `{0}` (walk or replay)")]
    Origin(String),
}

pub fn encode_tick(t: &PriceTick) -> Vec<u8> {
    let m = TickMessage {
        v: TICK_SCHEMA_VERSION,
        symbol: t.symbol.to_string(),
        price: t.price.to_string(),
        ts: engine::time::rfc3339(t.ts),
        seq: t.seq,
        origin: (t.origin != Origin::Walk).then(|| t.origin.as_str().to_string()),
        quantity: t.quantity,
    };
    serde_json::to_vec(&m).unwrap_or_default()
}

pub fn decode_tick(bytes: &[u8]) -> Result<PriceTick, DecodeError> {
    let m: TickMessage =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Json(e.to_string()))?;
    if m.v != TICK_SCHEMA_VERSION {
        return Err(DecodeError::Version(m.v));
    }
    let symbol = Symbol::new(&m.symbol).map_err(|e| DecodeError::Symbol(e.to_string()))?;
    let price = Price::parse_positive(&m.price).map_err(|_| DecodeError::Price(m.price.clone()))?;
    let ts =
        engine::time::parse_rfc3339(&m.ts).ok_or_else(|| DecodeError::Timestamp(m.ts.clone()))?;
    let origin = match m.origin.as_deref() {
        None => Origin::Walk,
        Some(o) => Origin::parse(o).ok_or_else(|| DecodeError::Origin(o.to_string()))?,
    };
    Ok(PriceTick {
        symbol,
        price,
        ts,
        seq: m.seq,
        origin,
        quantity: m.quantity,
    })
}

fn port_err(e: impl std::fmt::Display) -> PortError {
    PortError {
        port: "kafka",
        message: e.to_string(),
    }
}

/// Create `topic` with `partitions` partitions if it does not exist (some
/// brokers do not auto-create topics).
pub async fn ensure_topic(
    brokers: &str,
    topic: &str,
    partitions: i32,
    replication: i32,
    timeout: Duration,
) -> Result<(), PortError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(port_err)?;
    let t = NewTopic::new(
        topic,
        partitions.max(1),
        TopicReplication::Fixed(replication.max(1)),
    );
    let opts = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    for r in admin.create_topics([&t], &opts).await.map_err(port_err)? {
        match r {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(port_err(format!("cannot create topic {name}: {code}")));
            }
        }
    }
    Ok(())
}

/// Send `(key, payload)` pairs and wait until every one is acknowledged.
async fn send_keyed(
    producer: &FutureProducer,
    topic: &str,
    records: &[(String, Vec<u8>)],
) -> Result<(), PortError> {
    let deliveries = records.iter().map(|(key, payload)| {
        producer.send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(5),
        )
    });
    for d in futures::future::join_all(deliveries).await {
        d.map_err(|(e, _)| port_err(e))?;
    }
    Ok(())
}

/// Publishes ticks to a topic: idempotent producer, keyed by symbol.
pub struct KafkaTickSink {
    producer: FutureProducer,
    topic: String,
}

impl std::fmt::Debug for KafkaTickSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTickSink")
            .field("topic", &self.topic)
            .finish()
    }
}

/// The producer settings every tick producer uses (shared with the
/// benchmark's raw baseline so the comparison is like for like).
pub fn producer_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    c
}

/// The consumer settings of the engine's tick consumer.
pub fn consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // A replacement engine takes over within seconds of a crash.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    c
}

impl KafkaTickSink {
    pub fn new(brokers: &str, topic: &str) -> Result<KafkaTickSink, PortError> {
        let producer: FutureProducer = producer_config(brokers).create().map_err(port_err)?;
        Ok(KafkaTickSink {
            producer,
            topic: topic.to_string(),
        })
    }

    /// Wait until every message sent so far is delivered (or `timeout`).
    pub fn flush(&self, timeout: Duration) -> Result<(), PortError> {
        self.producer.flush(timeout).map_err(port_err)
    }
}

#[async_trait]
impl TickSink for KafkaTickSink {
    async fn publish(&self, ticks: &[PriceTick]) -> Result<(), PortError> {
        // Encode first: the delivery futures borrow keys and payloads.
        let encoded: Vec<(String, Vec<u8>)> = ticks
            .iter()
            .map(|t| (t.symbol.to_string(), encode_tick(t)))
            .collect();
        send_keyed(&self.producer, &self.topic, &encoded).await
    }
}

/// The tick consumer's client context: publishes its lag per partition
/// (`marketsim_kafka_consumer_lag_messages{topic, partition}`: messages on
/// the broker not yet consumed) from librdkafka's statistics, every second.
#[derive(Clone, Copy, Debug, Default)]
pub struct LagContext;

impl rdkafka::client::ClientContext for LagContext {
    fn stats(&self, s: rdkafka::statistics::Statistics) {
        for t in s.topics.values() {
            for p in t.partitions.values() {
                // Partition -1 is librdkafka's internal one; lag -1: not known yet.
                if p.partition >= 0 && p.consumer_lag >= 0 {
                    metrics::gauge!("marketsim_kafka_consumer_lag_messages",
                        "topic" => t.topic.clone(), "partition" => p.partition.to_string())
                    .set(p.consumer_lag as f64);
                }
            }
        }
    }
}

impl rdkafka::consumer::ConsumerContext for LagContext {}

/// Reads ticks from a topic in a consumer group. Offsets are committed only
/// by `commit`, after the caller has applied the ticks.
pub struct KafkaTickSource {
    consumer: StreamConsumer<LagContext>,
    topic: String,
    last_seq: Mutex<HashMap<(Symbol, Origin), u64>>,
    /// Highest offset read per partition, not yet committed.
    pending: Mutex<HashMap<i32, i64>>,
    malformed: AtomicU64,
    duplicates: AtomicU64,
    transient: AtomicU64,
    max_batch: usize,
}

impl std::fmt::Debug for KafkaTickSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTickSource")
            .field("topic", &self.topic)
            .finish()
    }
}

impl KafkaTickSource {
    pub fn new(brokers: &str, group: &str, topic: &str) -> Result<KafkaTickSource, PortError> {
        let consumer: StreamConsumer<LagContext> = consumer_config(brokers, group)
            .set("statistics.interval.ms", "1000")
            .create_with_context(LagContext)
            .map_err(port_err)?;
        consumer.subscribe(&[topic]).map_err(port_err)?;
        Ok(KafkaTickSource {
            consumer,
            topic: topic.to_string(),
            last_seq: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            malformed: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            transient: AtomicU64::new(0),
            max_batch: 1_024,
        })
    }
    /// Messages that were not ticks (skipped).
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }
    /// Transient consumption errors waited out (broker lost, ...).
    pub fn transient_errors(&self) -> u64 {
        self.transient.load(Ordering::Relaxed)
    }
    /// Ticks dropped as already applied (by per-symbol sequence).
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    fn take(&self, msg: &rdkafka::message::BorrowedMessage<'_>, out: &mut Vec<PriceTick>) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(msg.partition(), msg.offset());
        let tick = match msg.payload().map(decode_tick) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(partition = msg.partition(), offset = msg.offset(), error = %e, "skipping a malformed tick message");
                return;
            }
            None => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let mut seen = self.last_seq.lock().unwrap_or_else(|p| p.into_inner());
        let last = seen.entry((tick.symbol, tick.origin)).or_insert(0);
        if tick.seq <= *last {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = tick.seq;
        out.push(tick);
    }
}

impl Drop for KafkaTickSource {
    /// Leave the group at once, so a replacement gets the partitions without
    /// waiting for this member's session to time out.
    fn drop(&mut self) {
        self.consumer.unsubscribe();
    }
}

#[async_trait]
impl TickSource for KafkaTickSource {
    /// Waits for at least one message, then takes whatever else is ready
    /// (up to 1,024). Never ends on its own.
    async fn next_batch(&self) -> Result<Option<Vec<PriceTick>>, PortError> {
        let mut out = Vec::new();
        loop {
            let msg = match self.consumer.recv().await {
                Ok(m) => m,
                Err(e) => {
                    // Broker lost, rebalancing, ...: the client reconnects by
                    // itself; the market keeps its last prices meanwhile.
                    self.transient.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "tick consumer: transient Kafka error; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            self.take(&msg, &mut out);
            drop(msg);
            while out.len() < self.max_batch {
                match self.consumer.recv().now_or_never() {
                    Some(Ok(m)) => self.take(&m, &mut out),
                    Some(Err(_)) | None => break,
                }
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    async fn commit(&self) -> Result<(), PortError> {
        let pending: Vec<(i32, i64)> = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (partition, offset) in pending {
            // The committed offset is the next one to read.
            tpl.add_partition_offset(&self.topic, partition, Offset::Offset(offset + 1))
                .map_err(port_err)?;
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(port_err)
    }
}

/// The events topic's payload schema version.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

fn event_json(symbol: Symbol, e: &engine::Event) -> serde_json::Value {
    use engine::Event;
    let ts = engine::time::rfc3339(e.ts());
    match *e {
        Event::Trade(t) => {
            serde_json::json!({"v": EVENT_SCHEMA_VERSION, "kind": "trade", "symbol": symbol.as_str(),
            "trade_id": t.seq, "price": t.price.to_string(), "quantity": t.quantity, "taker_side": t.taker_side.as_str(),
            "maker_order": t.maker_order.0, "taker_order": t.taker_order.0, "ts": ts})
        }
        Event::Accepted {
            order,
            account,
            side,
            price,
            quantity,
            ..
        } => serde_json::json!({"v": EVENT_SCHEMA_VERSION,
            "kind": "accepted", "symbol": symbol.as_str(), "order": order.0, "account": account.0, "side": side.as_str(),
            "price": price.to_string(), "quantity": quantity, "ts": ts}),
        Event::Rejected {
            order,
            account,
            reason,
            ..
        } => serde_json::json!({"v": EVENT_SCHEMA_VERSION, "kind": "denied",
            "symbol": symbol.as_str(), "order": order.0, "account": account.0, "reason": reason.as_str(), "ts": ts}),
        Event::PartiallyFilled {
            order,
            account,
            filled,
            remaining,
            ..
        } => serde_json::json!({"v": EVENT_SCHEMA_VERSION,
            "kind": "partially_filled", "symbol": symbol.as_str(), "order": order.0, "account": account.0,
            "filled": filled, "remaining": remaining, "ts": ts}),
        Event::Filled { order, account, .. } => {
            serde_json::json!({"v": EVENT_SCHEMA_VERSION, "kind": "filled",
            "symbol": symbol.as_str(), "order": order.0, "account": account.0, "ts": ts})
        }
        Event::Cancelled {
            order,
            account,
            remaining,
            reason,
            ..
        } => serde_json::json!({"v": EVENT_SCHEMA_VERSION,
            "kind": "cancelled", "symbol": symbol.as_str(), "order": order.0, "account": account.0,
            "remaining": remaining, "reason": reason.as_str(), "ts": ts}),
        Event::Expired {
            order,
            account,
            remaining,
            ..
        } => serde_json::json!({"v": EVENT_SCHEMA_VERSION,
            "kind": "expired", "symbol": symbol.as_str(), "order": order.0, "account": account.0, "remaining": remaining, "ts": ts}),
        Event::Replaced {
            order,
            account,
            price,
            remaining,
            ..
        } => serde_json::json!({"v": EVENT_SCHEMA_VERSION,
            "kind": "replaced", "symbol": symbol.as_str(), "order": order.0, "account": account.0,
            "price": price.to_string(), "remaining": remaining, "ts": ts}),
    }
}

/// One market event as JSON (`kind`: trade, accepted, denied,
/// partially_filled, filled, cancelled, expired, replaced).
pub fn encode_event(symbol: Symbol, e: &engine::Event) -> Vec<u8> {
    serde_json::to_vec(&event_json(symbol, e)).unwrap_or_default()
}

/// `encode_event` with the event's place in the journal (`journal_seq`):
/// what the events topic carries when the market has a journal.
pub fn encode_journal_event(seq: u64, symbol: Symbol, e: &engine::Event) -> Vec<u8> {
    let mut v = event_json(symbol, e);
    v["journal_seq"] = seq.into();
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The `journal_seq` of an events-topic payload, if it has one.
pub fn journal_seq_of(payload: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()?
        .get("journal_seq")?
        .as_u64()
}

/// Trades and order events to a topic, keyed by symbol.
pub struct KafkaEventSink {
    producer: FutureProducer,
    topic: String,
}

impl std::fmt::Debug for KafkaEventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaEventSink")
            .field("topic", &self.topic)
            .finish()
    }
}

impl KafkaEventSink {
    pub fn new(brokers: &str, topic: &str) -> Result<KafkaEventSink, PortError> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .create()
            .map_err(port_err)?;
        Ok(KafkaEventSink {
            producer,
            topic: topic.to_string(),
        })
    }
}

#[async_trait]
impl actors::ports::EventSink for KafkaEventSink {
    async fn write(&self, batch: &[actors::MarketEvent]) -> Result<(), PortError> {
        let encoded: Vec<(String, Vec<u8>)> = batch
            .iter()
            .filter_map(|m| match m {
                actors::MarketEvent::Order { symbol, event } => {
                    Some((symbol.to_string(), encode_event(*symbol, event)))
                }
                _ => None,
            })
            .collect();
        send_keyed(&self.producer, &self.topic, &encoded).await
    }
}

/// The events topic fed from the durable journal (audit M6). Each book
/// event goes, in journal order, to the partition its symbol hashes to
/// (FNV-1a of the symbol, so a symbol's events stay in one partition) and
/// carries its journal `seq` as `journal_seq`. The position is kept in the
/// broker: the last message of each partition says how far that partition
/// got, so a restart, or a retry after an outage, sends exactly what each
/// partition is missing and nothing twice. The producer is idempotent and
/// never gives up on a message (`message.timeout.ms` 0): an outage delays
/// events and loses none.
pub struct KafkaEventLog {
    producer: FutureProducer,
    brokers: String,
    topic: String,
    partitions: i32,
}

impl std::fmt::Debug for KafkaEventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaEventLog")
            .field("topic", &self.topic)
            .field("partitions", &self.partitions)
            .finish()
    }
}

/// How far each partition of the events topic got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// The `journal_seq` of the partition's last message (0: never written).
    At(u64),
    /// The partition's last message carries no `journal_seq` (a market
    /// without a journal wrote it), or retention removed every message.
    Unknown,
}

impl KafkaEventLog {
    /// Connect to `topic` (which must exist) and learn its partitions.
    pub fn new(brokers: &str, topic: &str, timeout: Duration) -> Result<KafkaEventLog, PortError> {
        let producer: FutureProducer = producer_config(brokers)
            .set("message.timeout.ms", "0")
            .create()
            .map_err(port_err)?;
        let metadata = producer
            .client()
            .fetch_metadata(Some(topic), timeout)
            .map_err(port_err)?;
        let partitions = metadata
            .topics()
            .first()
            .map_or(0, |t| t.partitions().len());
        if partitions == 0 {
            return Err(port_err(format!(
                "the events topic {topic} has no partitions"
            )));
        }
        Ok(KafkaEventLog {
            producer,
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            partitions: partitions as i32,
        })
    }

    /// The partition a symbol's events go to.
    pub fn partition_of(&self, symbol: Symbol) -> i32 {
        let mut h: u32 = 0x811c_9dc5;
        for &b in symbol.as_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        (h % self.partitions as u32) as i32
    }

    /// Read each partition's position off the broker (its last message).
    pub async fn positions(&self, timeout: Duration) -> Result<Vec<Position>, PortError> {
        let (brokers, topic, n) = (self.brokers.clone(), self.topic.clone(), self.partitions);
        tokio::task::spawn_blocking(move || read_positions(&brokers, &topic, n, timeout))
            .await
            .map_err(port_err)?
    }

    /// Send each of `events` (journal seq, symbol, event) whose partition's
    /// position is before it, and wait until the broker has them all; each
    /// acknowledged send moves its partition's position. Waits through an
    /// outage; an error means the producer failed for good on a message
    /// (read the positions again before retrying). Returns how many were
    /// sent.
    pub async fn publish(
        &self,
        events: &[(u64, Symbol, engine::Event)],
        positions: &mut [u64],
    ) -> Result<usize, PortError> {
        let sends: Vec<_> = events
            .iter()
            .filter_map(|&(seq, symbol, ref event)| {
                let p = self.partition_of(symbol);
                (seq > positions[p as usize]).then_some((seq, symbol, event, p))
            })
            .map(|(seq, symbol, event, p)| {
                let payload = encode_journal_event(seq, symbol, event);
                let (producer, topic) = (&self.producer, &self.topic);
                async move {
                    let record = FutureRecord::to(topic)
                        .partition(p)
                        .key(symbol.as_str())
                        .payload(&payload);
                    (p, seq, producer.send(record, Timeout::Never).await)
                }
            })
            .collect();
        let n = sends.len();
        let mut failed = None;
        for (p, seq, sent) in futures::future::join_all(sends).await {
            match sent {
                Ok(_) => {
                    let at = &mut positions[p as usize];
                    *at = (*at).max(seq);
                }
                Err((e, _)) => failed = Some(e),
            }
        }
        match failed {
            None => Ok(n),
            Some(e) => Err(port_err(e)),
        }
    }
}

fn read_positions(
    brokers: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<Position>, PortError> {
    use rdkafka::consumer::BaseConsumer;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "marketsim-events-position")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(port_err)?;
    let mut out = Vec::with_capacity(partitions as usize);
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(port_err)?;
        if high <= 0 {
            out.push(Position::At(0));
            continue;
        }
        if high <= low {
            out.push(Position::Unknown);
            continue;
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Offset(high - 1))
            .map_err(port_err)?;
        consumer.assign(&tpl).map_err(port_err)?;
        let deadline = std::time::Instant::now() + timeout;
        let last = loop {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) if m.partition() == p && m.offset() >= high - 1 => {
                    break m.payload().and_then(journal_seq_of);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(port_err(e)),
                None if std::time::Instant::now() >= deadline => {
                    return Err(port_err(format!(
                        "could not read the last message of {topic}/{p} within {timeout:?}"
                    )));
                }
                None => {}
            }
        };
        out.push(last.map_or(Position::Unknown, Position::At));
    }
    Ok(out)
}

/// What the market does with consumed ticks beyond applying them to the
/// symbols it lists.
#[async_trait]
pub trait TickHost: Send + Sync {
    /// A tick for a symbol the market does not list: list it (with the
    /// tick's price, at the tick's time) and return its ticker, or `None`
    /// to skip the tick.
    async fn unknown(&self, _tick: &PriceTick) -> Option<actors::TickerHandle> {
        None
    }
    /// A tick from outside the market's own walk (a replay) is about to be
    /// applied.
    fn outside(&self, _tick: &PriceTick) {}
    /// A batch that could not be applied after `APPLY_TRIES` attempts:
    /// keep it somewhere (a dead-letter topic) before the consumer moves
    /// on. The default logs it.
    async fn dead_letter(&self, batch: &[PriceTick], error: &PortError) {
        tracing::error!(ticks = batch.len(), %error, "a tick batch could not be applied; skipped");
    }
}

/// Attempts at applying one batch before it is dead-lettered.
pub const APPLY_TRIES: u32 = 5;

/// Skips ticks of unknown symbols; nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;
impl TickHost for NoHost {}

/// Apply ticks from `source` to the market's tickers until `stop`: each
/// batch is applied (and the tickers have confirmed it) before its offsets
/// are committed, so a crash re-reads at most the last batch, and the
/// source's sequence check drops what was already applied.
pub async fn apply_ticks(
    source: &dyn TickSource,
    dir: &actors::Directory,
    bus: Option<&actors::EventBus>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<u64, PortError> {
    apply_ticks_with(source, dir, bus, &NoHost, stop).await
}

/// `apply_ticks`, with `host` deciding about unknown symbols and told of
/// outside prices.
pub async fn apply_ticks_with(
    source: &dyn TickSource,
    dir: &actors::Directory,
    bus: Option<&actors::EventBus>,
    host: &dyn TickHost,
    stop: impl std::future::Future<Output = ()>,
) -> Result<u64, PortError> {
    tokio::pin!(stop);
    let mut applied = 0u64;
    let mut backoff = Duration::from_millis(50);
    loop {
        // A failing broker delays the consumer; it never ends it.
        let batch = tokio::select! {
            () = &mut stop => return Ok(applied),
            b = source.next_batch() => match b {
                Ok(b) => {
                    backoff = Duration::from_millis(50);
                    b
                }
                Err(e) => {
                    metrics::counter!("marketsim_kafka_consume_errors_total").increment(1);
                    tracing::warn!(error = %e, "the tick topic could not be read; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        let Some(batch) = batch else {
            return Ok(applied);
        };
        // A batch that fails (an actor restarting) is retried; one that
        // keeps failing goes to the dead letters, and the consumer goes on.
        let mut tries = 0;
        while let Err(e) = apply_batch(&batch, dir, bus, host).await {
            tries += 1;
            metrics::counter!("marketsim_kafka_apply_errors_total").increment(1);
            if tries >= APPLY_TRIES {
                metrics::counter!("marketsim_kafka_dead_letters_total").increment(1);
                host.dead_letter(&batch, &e).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20 << tries)).await;
        }
        if let Err(e) = source.commit().await {
            // The next commit covers these offsets too.
            tracing::warn!(error = %e, "offsets not committed; retried with the next batch");
        }
        applied += batch.len() as u64;
    }
}

/// Apply one batch to the tickers (listing unknown symbols through `host`)
/// and wait until every touched ticker has it; publish its ticks.
async fn apply_batch(
    batch: &[PriceTick],
    dir: &actors::Directory,
    bus: Option<&actors::EventBus>,
    host: &dyn TickHost,
) -> Result<(), PortError> {
    let mut touched = Vec::new();
    let mut events = Vec::with_capacity(batch.len());
    for t in batch {
        let ticker = match dir.ticker(t.symbol) {
            Some(h) => Some(h),
            None => host.unknown(t).await,
        };
        if t.origin != Origin::Walk {
            host.outside(t);
        }
        match ticker {
            Some(h) => {
                h.tick(t.price, t.ts).await.map_err(port_err)?;
                events.push(actors::MarketEvent::Tick {
                    symbol: t.symbol,
                    price: t.price,
                    ts: t.ts,
                });
                if !touched
                    .iter()
                    .any(|x: &actors::TickerHandle| x.symbol() == t.symbol)
                {
                    touched.push(h);
                }
            }
            None => {
                tracing::debug!(symbol = %t.symbol, "tick for a symbol this market does not list")
            }
        }
    }
    // A ticker answers in mailbox order: once it answers, the ticks are in.
    for h in &touched {
        h.snapshot().await.map_err(port_err)?;
    }
    if let Some(bus) = bus {
        if !events.is_empty() {
            bus.publish(events);
        }
    }
    Ok(())
}

/// Fail fast with a clear error when no broker answers.
pub fn check_brokers(brokers: &str, timeout: Duration) -> Result<(), PortError> {
    let probe: rdkafka::producer::BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(port_err)?;
    probe
        .client()
        .fetch_metadata(None, timeout)
        .map(|_| ())
        .map_err(|e| {
            port_err(format!(
                "no Kafka broker answered at {brokers} within {timeout:?}: {e}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::Timestamp;

    fn tick() -> PriceTick {
        PriceTick {
            quantity: None,
            symbol: Symbol::new("ACME").unwrap(),
            price: Price::from_minor(10_025),
            ts: Timestamp(1_767_605_400_250_000_000),
            seq: 42,
            origin: Origin::Walk,
        }
    }

    #[test]
    fn ticks_encode_to_the_documented_schema_and_back() {
        let bytes = encode_tick(&tick());
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            r#"{"v":1,"symbol":"ACME","price":"100.25","ts":"2026-01-05T09:30:00.250Z","seq":42}"#
        );
        assert_eq!(decode_tick(&bytes).unwrap(), tick());
        let replayed = PriceTick {
            origin: Origin::Replay,
            ..tick()
        };
        let bytes = encode_tick(&replayed);
        assert!(String::from_utf8_lossy(&bytes).ends_with(r#","seq":42,"origin":"replay"}"#));
        assert_eq!(decode_tick(&bytes).unwrap(), replayed);
    }

    #[test]
    fn symbols_are_read_in_either_case() {
        let t = decode_tick(
            br#"{"v":1,"symbol":"stock2","price":"1.00","ts":"2026-01-05T09:30:00Z","seq":1}"#,
        )
        .unwrap();
        assert_eq!(t.symbol.as_str(), "STOCK2");
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        for bad in [
            &b"not json"[..],
            br#"{"v":2,"symbol":"ACME","price":"1.00","ts":"2026-01-05T09:30:00Z","seq":1}"#,
            br#"{"v":1,"symbol":"ac me","price":"1.00","ts":"2026-01-05T09:30:00Z","seq":1}"#,
            br#"{"v":1,"symbol":"ACME","price":"1.00","ts":"2026-01-05T09:30:00Z","seq":1,"origin":"moon"}"#,
            br#"{"v":1,"symbol":"ACME","price":1.0,"ts":"2026-01-05T09:30:00Z","seq":1}"#,
            br#"{"v":1,"symbol":"ACME","price":"-1.00","ts":"2026-01-05T09:30:00Z","seq":1}"#,
            br#"{"v":1,"symbol":"ACME","price":"1.00","ts":"yesterday","seq":1}"#,
            br#"{"v":1,"symbol":"ACME","price":"1.00","ts":"2026-01-05T09:30:00Z","seq":1,"extra":0}"#,
        ] {
            assert!(decode_tick(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
