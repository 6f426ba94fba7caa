//! Redis: the latest quote per symbol (a hash), each symbol's minute price
//! history (one JSON document per day), short-TTL read caches, and pub/sub
//! of ticks and trades. Every key is under a configurable prefix
//! (`redis_prefix`, default `marketsim`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{prefix}:quote:{SYMBOL}` | hash | `last`, `bid`, `ask` (decimal strings, empty when absent), `ts` (ns since 1970, UTC) |
//! | `{prefix}:history:{SYMBOL}:{YYYY-MM-DD}` | string | that UTC day's minute history `{"time": ["090000", ...], "price": ["10.25", ...]}` |
//! | `{prefix}:history:{SYMBOL}` | string | the same document for the symbol's latest day (the price updater seed's key) |
//! | `{prefix}:cache:{name}` | string | cached `GET /v1/stocks` pages and movers (TTL `cache_ttl_ms`) |
//! | `{prefix}:ticks`, `{prefix}:trades` | pub/sub | one JSON message per tick / trade |
//!
//! Symbols are always upper case. A minute history goes by each price's own
//! time (event time: the file's time for a replay, the generator's clock for
//! live ticks): the last price in each minute, carried forward over minutes
//! without prices between the first and the last; a price for an earlier
//! minute than the day's last is refused and counted.
//!
//! Redis is never in the way of trading: calls time out fast, and after a
//! failure Redis is skipped for a second (a warning is logged once, and
//! `marketsim_redis_errors_total` counts failures and skipped calls) so
//! readers fall back to engine state at once. The connection manager
//! reconnects by itself; the first call that succeeds logs the recovery.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actors::MarketEvent;
use actors::ports::{CachedQuote, PortError, QuoteCache, ReadCache};
use async_trait::async_trait;
use engine::{Event, MinuteHistory, Price, Symbol, Timestamp};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long Redis is skipped after a failure.
const BACKOFF: Duration = Duration::from_secs(1);

/// A Redis connection with a key prefix and a circuit breaker.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    epoch: Instant,
    /// Milliseconds since `epoch` before which calls are skipped.
    skip_until: AtomicU64,
    down: AtomicBool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn err(e: impl std::fmt::Display) -> PortError {
    PortError {
        port: "redis",
        message: e.to_string(),
    }
}

impl RedisStore {
    /// A store on `url` (not connected yet: Redis may come up later). Fails
    /// only on a malformed URL.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, PortError> {
        let client = redis::Client::open(url).map_err(err)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(250)))
            .set_response_timeout(Some(Duration::from_millis(250)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(err)?;
        // Exported at zero from the start, so a rate over it reads 0, not "no data".
        for kind in ["failed", "skipped"] {
            metrics::counter!("marketsim_redis_errors_total", "kind" => kind).increment(0);
        }
        Ok(RedisStore {
            conn,
            prefix: prefix.trim_end_matches(':').to_string(),
            epoch: Instant::now(),
            skip_until: AtomicU64::new(0),
            down: AtomicBool::new(false),
        })
    }

    /// `prefix:part`.
    pub fn key(&self, part: &str) -> String {
        format!("{}:{part}", self.prefix)
    }

    /// Run one call unless Redis is being skipped; trip the breaker on
    /// failure.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, PortError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let now = self.epoch.elapsed().as_millis() as u64;
        if now < self.skip_until.load(Ordering::Relaxed) {
            metrics::counter!("marketsim_redis_errors_total", "kind" => "skipped").increment(1);
            return Err(err("Redis is unavailable (retrying shortly)"));
        }
        match f(self.conn.clone()).await {
            Ok(v) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis answers again");
                }
                Ok(v)
            }
            Err(e) => {
                metrics::counter!("marketsim_redis_errors_total", "kind" => "failed").increment(1);
                self.skip_until
                    .store(now + BACKOFF.as_millis() as u64, Ordering::Relaxed);
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "Redis failed: reads fall back to the engine, trading is unaffected");
                }
                Err(err(e))
            }
        }
    }

    /// Check the connection (at start: a clear message, never fatal).
    pub async fn ping(&self) -> Result<(), PortError> {
        self.call(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }

    /// A symbol's latest day's minute history document, as stored.
    pub async fn history(&self, symbol: Symbol) -> Result<Option<String>, PortError> {
        let key = self.key(&format!("history:{symbol}"));
        self.call(|mut c| async move { c.get::<_, Option<String>>(key).await })
            .await
    }
}

/// `{"time": ["090000", ...], "price": ["100.50", ...]}`: one entry per
/// minute, prices as exact decimal strings (as everywhere in the API).
pub fn history_json(h: &MinuteHistory) -> String {
    serde_json::json!({
        "time": h.times(),
        "price": h.prices().iter().map(Price::to_string).collect::<Vec<_>>(),
    })
    .to_string()
}

/// A quote as the fields of its hash (absent sides are empty strings).
fn quote_fields(q: &CachedQuote) -> [(&'static str, String); 4] {
    [
        ("last", q.last.to_string()),
        ("bid", q.bid.map(|p| p.to_string()).unwrap_or_default()),
        ("ask", q.ask.map(|p| p.to_string()).unwrap_or_default()),
        ("ts", q.ts.0.to_string()),
    ]
}

#[async_trait]
impl QuoteCache for RedisStore {
    async fn put(&self, symbol: Symbol, q: CachedQuote) -> Result<(), PortError> {
        let key = self.key(&format!("quote:{symbol}"));
        let fields = quote_fields(&q);
        self.call(|mut c| async move { c.hset_multiple::<_, _, _, ()>(key, &fields).await })
            .await
    }

    async fn get(&self, symbol: Symbol) -> Result<Option<CachedQuote>, PortError> {
        let key = self.key(&format!("quote:{symbol}"));
        let m: BTreeMap<String, String> = self
            .call(|mut c| async move { c.hgetall(key).await })
            .await?;
        let price = |f: &str| m.get(f).and_then(|v| v.parse::<Price>().ok());
        let Some(last) = price("last") else {
            return Ok(None);
        };
        Ok(Some(CachedQuote {
            last,
            bid: price("bid"),
            ask: price("ask"),
            ts: Timestamp(m.get("ts").and_then(|v| v.parse().ok()).unwrap_or(0)),
        }))
    }
}

#[async_trait]
impl ReadCache for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        let key = self.key(&format!("cache:{key}"));
        self.call(|mut c| async move { c.get::<_, Option<Vec<u8>>>(key).await })
            .await
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), PortError> {
        let key = self.key(&format!("cache:{key}"));
        let ms = ttl.as_millis().max(1) as u64;
        self.call(|mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ms)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    async fn invalidate(&self) -> Result<(), PortError> {
        let pattern = self.key("cache:*");
        self.call(|mut c| async move {
            let keys: Vec<String> = {
                let mut it = c.scan_match::<_, String>(pattern).await?;
                let mut v = Vec::new();
                while let Some(k) = futures::StreamExt::next(&mut it).await {
                    v.push(k?);
                }
                v
            };
            if !keys.is_empty() {
                c.del::<_, ()>(keys).await?;
            }
            Ok(())
        })
        .await
    }
}

/// Keeps Redis current from the market's events: quotes, minute history
/// per symbol and day (by each price's own time), and pub/sub of ticks
/// (`prefix:ticks`) and trades (`prefix:trades`).
#[derive(Debug, Default)]
pub struct MarketMirror {
    history: BTreeMap<(Symbol, i64), MinuteHistory>,
    /// Read a (symbol, day) history already in Redis before extending it
    /// (a restarted server keeps the day's history); off: the mirror's
    /// histories replace what is there (a replay that owns the day).
    load_existing: bool,
    /// Updates refused because they went back to an earlier minute.
    pub out_of_order: u64,
}

/// A price update of one batch, per symbol: the last price and its time.
type Latest = BTreeMap<Symbol, (Price, Timestamp)>;

/// Days of a symbol's history kept in memory (older days are read back
/// from Redis if a late price arrives).
const DAYS_IN_MEMORY: usize = 2;

/// The (symbol, UTC day) of every price in `batch` (ticks and trades).
fn days_of(batch: &[MarketEvent]) -> BTreeSet<(Symbol, i64)> {
    batch
        .iter()
        .filter_map(|e| match *e {
            MarketEvent::Tick { symbol, ts, .. } => Some((symbol, ts.day())),
            MarketEvent::Order {
                symbol,
                event: Event::Trade(t),
            } => Some((symbol, t.ts.day())),
            _ => None,
        })
        .collect()
}

/// `history:SYMBOL:2026-01-05`, the key part of a symbol's day.
pub fn history_key(symbol: Symbol, day: i64) -> String {
    format!("history:{symbol}:{}", engine::time::date(day))
}

impl MarketMirror {
    /// A mirror that extends the histories already in Redis (`serve`).
    pub fn extending() -> MarketMirror {
        MarketMirror {
            load_existing: true,
            ..MarketMirror::default()
        }
    }

    /// Fold a batch into the in-memory histories; returns each changed
    /// symbol's latest price and the messages to publish.
    pub fn fold(&mut self, batch: &[MarketEvent]) -> (Latest, Vec<(&'static str, String)>) {
        let mut latest = Latest::new();
        let mut out = Vec::new();
        for e in batch {
            let (symbol, price, ts) = match *e {
                MarketEvent::Tick { symbol, price, ts } => {
                    out.push((
                        "ticks",
                        serde_json::json!({"symbol": symbol.as_str(), "price": price.to_string(), "ts": ts.0})
                            .to_string(),
                    ));
                    (symbol, price, ts)
                }
                MarketEvent::Order {
                    symbol,
                    event: Event::Trade(t),
                } => {
                    out.push((
                        "trades",
                        serde_json::json!({"symbol": symbol.as_str(), "seq": t.seq,
                            "price": t.price.to_string(), "quantity": t.quantity,
                            "taker_side": t.taker_side.as_str(), "ts": t.ts.0})
                        .to_string(),
                    ));
                    (symbol, t.price, t.ts)
                }
                _ => continue,
            };
            if self.record(symbol, ts, price) && latest.get(&symbol).is_none_or(|(_, at)| *at <= ts)
            {
                latest.insert(symbol, (price, ts));
            }
        }
        (latest, out)
    }

    /// Record one price in its day's history; false (and counted) when it
    /// goes back to an earlier minute of that day.
    pub fn record(&mut self, symbol: Symbol, ts: Timestamp, price: Price) -> bool {
        match self
            .history
            .entry((symbol, ts.day()))
            .or_default()
            .record(ts, price)
        {
            Ok(()) => true,
            Err(e) => {
                self.out_of_order += 1;
                tracing::debug!(%symbol, ?e, "minute history: an update for an earlier minute was refused");
                false
            }
        }
    }

    /// A symbol's history of the day `day` (days since 1970-01-01).
    pub fn history(&self, symbol: Symbol, day: i64) -> Option<&MinuteHistory> {
        self.history.get(&(symbol, day))
    }

    /// Read back from Redis the (symbol, day) histories in `days` that are
    /// not in memory yet.
    async fn load(&mut self, redis: &RedisStore, days: &BTreeSet<(Symbol, i64)>) {
        let wanted: Vec<(Symbol, i64)> = days
            .iter()
            .filter(|k| !self.history.contains_key(k))
            .copied()
            .collect();
        for (symbol, day) in wanted {
            let key = redis.key(&history_key(symbol, day));
            let doc = redis
                .call(|mut c| async move { c.get::<_, Option<String>>(key).await })
                .await;
            if let Ok(Some(doc)) = doc {
                if let Some(h) = parse_history(&doc, day) {
                    self.history.insert((symbol, day), h);
                }
            }
        }
    }

    /// The days of `symbol` in memory, oldest first.
    fn days(&self, symbol: Symbol) -> impl DoubleEndedIterator<Item = i64> + '_ {
        self.history
            .range((symbol, i64::MIN)..=(symbol, i64::MAX))
            .map(|((_, d), _)| *d)
    }

    /// Forget all but `symbol`'s latest days.
    fn prune(&mut self, symbol: Symbol) {
        let old: Vec<i64> = self.days(symbol).rev().skip(DAYS_IN_MEMORY).collect();
        for d in old {
            self.history.remove(&(symbol, d));
        }
    }

    /// Fold a batch and write what changed to Redis in one pipelined
    /// round trip: the pub/sub messages, then each changed symbol's quote
    /// and the histories of the days it touched. The in-memory histories
    /// keep the batch either way; an error says Redis did not get it.
    pub async fn apply(
        &mut self,
        redis: &RedisStore,
        batch: &[MarketEvent],
        quotes: &BTreeMap<Symbol, (Option<Price>, Option<Price>)>,
    ) -> Result<(), PortError> {
        let touched = days_of(batch);
        if self.load_existing {
            self.load(redis, &touched).await;
        }
        let (latest, messages) = self.fold(batch);
        if latest.is_empty() && messages.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (channel, m) in messages {
            pipe.publish(redis.key(channel), m).ignore();
        }
        for (symbol, (last, ts)) in &latest {
            let (bid, ask) = quotes.get(symbol).copied().unwrap_or((None, None));
            let q = CachedQuote {
                last: *last,
                bid,
                ask,
                ts: *ts,
            };
            pipe.hset_multiple(redis.key(&format!("quote:{symbol}")), &quote_fields(&q))
                .ignore();
        }
        for &(symbol, day) in &touched {
            let Some(h) = self.history.get(&(symbol, day)) else {
                continue;
            };
            let doc = history_json(h);
            // `history:SYMBOL` is the symbol's latest day (the seed's key).
            if self.days(symbol).next_back() == Some(day) {
                pipe.set(redis.key(&format!("history:{symbol}")), &doc)
                    .ignore();
            }
            pipe.set(redis.key(&history_key(symbol, day)), doc).ignore();
        }
        let symbols: BTreeSet<Symbol> = touched.iter().map(|(s, _)| *s).collect();
        for s in symbols {
            self.prune(s);
        }
        redis
            .call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }
}

/// A history document back as a `MinuteHistory` of day `day`.
pub fn parse_history(doc: &str, day: i64) -> Option<MinuteHistory> {
    #[derive(serde::Deserialize)]
    struct Doc {
        time: Vec<String>,
        price: Vec<String>,
    }
    let d: Doc = serde_json::from_str(doc).ok()?;
    let first = d.time.first()?;
    let secs = |r: std::ops::Range<usize>| first.get(r)?.parse::<i64>().ok();
    let first =
        Timestamp::from_secs(day * 86_400 + secs(0..2)? * 3600 + secs(2..4)? * 60 + secs(4..6)?);
    let prices = d
        .price
        .iter()
        .map(|p| p.parse::<Price>().ok())
        .collect::<Option<Vec<_>>>()?;
    (prices.len() == d.time.len()).then(|| MinuteHistory::from_minutes(first, prices))
}

#[async_trait]
impl actors::ports::HistoryStore for RedisStore {
    async fn minutes(
        &self,
        symbol: Symbol,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<MinuteHistory>, PortError> {
        self.history_between(symbol, from, to).await
    }
}

impl RedisStore {
    /// A symbol's minute history of each day from `from`'s to `to`'s
    /// (inclusive), clipped to that window, as stored; days without one are
    /// left out.
    pub async fn history_between(
        &self,
        symbol: Symbol,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<MinuteHistory>, PortError> {
        let mut out = Vec::new();
        for day in from.day()..=to.day() {
            let key = self.key(&history_key(symbol, day));
            let doc = self
                .call(|mut c| async move { c.get::<_, Option<String>>(key).await })
                .await?;
            if let Some(h) = doc.and_then(|d| parse_history(&d, day)) {
                let w = h.window(from, to);
                if !w.prices().is_empty() {
                    out.push(w);
                }
            }
        }
        Ok(out)
    }
}

/// Keep Redis current from the market's bus: quotes, minute history (by
/// each price's own time, extending what is already stored for the day)
/// and pub/sub. Best effort: while Redis is down the mirror keeps folding
/// and writes again once it is back. Spawns the mirror task on the current
/// runtime; it runs until the bus closes.
pub fn spawn_mirror(
    bus: &actors::EventBus,
    dir: std::sync::Arc<actors::Directory>,
    redis: std::sync::Arc<RedisStore>,
) {
    let mut rx = bus.subscribe();
    let mut mirror = MarketMirror::extending();
    tokio::spawn(async move {
        let quotes = |batch: Vec<MarketEvent>| {
            let dir = dir.clone();
            async move {
                let mut q = BTreeMap::new();
                for e in &batch {
                    let (MarketEvent::Tick { symbol, .. }
                    | MarketEvent::Order { symbol, .. }
                    | MarketEvent::Candle { symbol, .. }) = e;
                    if q.contains_key(symbol) {
                        continue;
                    }
                    if let Some(t) = dir.ticker(*symbol) {
                        if let Ok(snap) = t.snapshot().await {
                            q.insert(
                                *symbol,
                                (snap.bid.map(|l| l.price), snap.ask.map(|l| l.price)),
                            );
                        }
                    }
                }
                (batch, q)
            }
        };
        loop {
            match rx.recv().await {
                Ok(batch) => {
                    let (b, q) = quotes(batch.to_vec()).await;
                    // Best effort: the breaker counts and logs a failure.
                    let _ = mirror.apply(&redis, &b, &q).await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(batches = n, "Redis mirror lagged; batches skipped");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// The standalone price updater's sink: ticks become minute histories in
/// Redis (`replay --redis-url`, `marketsim history`), with no market.
pub struct HistoryWriter {
    redis: RedisStore,
    mirror: tokio::sync::Mutex<MarketMirror>,
}

impl HistoryWriter {
    /// A writer whose histories replace the stored days they touch (a
    /// replay owns the days of its file).
    pub async fn new(url: &str, prefix: &str) -> Result<HistoryWriter, PortError> {
        Self::with(url, prefix, MarketMirror::default()).await
    }
    /// A writer that extends the stored days (a consumer that restarts).
    pub async fn extending(url: &str, prefix: &str) -> Result<HistoryWriter, PortError> {
        Self::with(url, prefix, MarketMirror::extending()).await
    }
    async fn with(
        url: &str,
        prefix: &str,
        mirror: MarketMirror,
    ) -> Result<HistoryWriter, PortError> {
        let redis = RedisStore::new(url, prefix)?;
        redis.ping().await?;
        Ok(HistoryWriter {
            redis,
            mirror: tokio::sync::Mutex::new(mirror),
        })
    }
    /// Prices refused because they went back to an earlier minute.
    pub async fn out_of_order(&self) -> u64 {
        self.mirror.lock().await.out_of_order
    }
}

impl std::fmt::Debug for HistoryWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryWriter")
            .field("prefix", &self.redis.prefix)
            .finish()
    }
}

#[async_trait]
impl actors::ports::TickSink for HistoryWriter {
    /// Returns once Redis has the batch (an error if Redis is down, so a
    /// caller knows the histories are not complete).
    async fn publish(&self, ticks: &[actors::PriceTick]) -> Result<(), PortError> {
        let batch: Vec<MarketEvent> = ticks
            .iter()
            .map(|t| MarketEvent::Tick {
                symbol: t.symbol,
                price: t.price,
                ts: t.ts,
            })
            .collect();
        let mut m = self.mirror.lock().await;
        m.apply(&self.redis, &batch, &Default::default()).await
    }
}

/// Check that `url` is a Redis URL this client can use (no connection).
pub fn check_url(url: &str) -> Result<(), PortError> {
    redis::Client::open(url).map(drop).map_err(|e| PortError {
        port: "redis",
        message: format!("redis_url: {e}"),
    })
}

/// Relay the market's ticks and trades from Redis pub/sub
/// (`prefix:ticks`, `prefix:trades`) into `tx` as `(kind, json)` with kind
/// `tick` or `trade`, reconnecting (with backoff) whenever Redis goes away.
/// Runs until its task is dropped.
pub async fn relay(
    url: String,
    prefix: String,
    tx: tokio::sync::broadcast::Sender<(&'static str, String)>,
) {
    let prefix = prefix.trim_end_matches(':').to_string();
    let (ticks, trades) = (format!("{prefix}:ticks"), format!("{prefix}:trades"));
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = async {
            let client = redis::Client::open(url.as_str())?;
            let mut sub = client.get_async_pubsub().await?;
            sub.subscribe(&ticks).await?;
            sub.subscribe(&trades).await?;
            Ok::<_, redis::RedisError>(sub)
        };
        match attempt.await {
            Ok(mut sub) => {
                tracing::info!(%prefix, "relaying ticks and trades from Redis");
                backoff = Duration::from_millis(100);
                let mut stream = sub.on_message();
                while let Some(msg) = futures::StreamExt::next(&mut stream).await {
                    let kind = if msg.get_channel_name() == ticks {
                        "tick"
                    } else {
                        "trade"
                    };
                    if let Ok(payload) = msg.get_payload::<String>() {
                        let _ = tx.send((kind, payload));
                    }
                }
                tracing::warn!("Redis subscription ended; reconnecting");
            }
            Err(e) => {
                metrics::counter!("marketsim_redis_errors_total", "kind" => "failed").increment(1);
                tracing::warn!(error = %e, "cannot subscribe on Redis; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
