//! Ports: what the actors need from the outside world, as traits.
//!
//! Adapters implement them (PostgreSQL, Redis, Kafka in `adapters`); an
//! in-memory implementation of each lives in `memory`, so everything runs
//! with no services. Writes are batched and async; state is restored at start.

use async_trait::async_trait;
use engine::{Price, Symbol, Timestamp};

use crate::bus::MarketEvent;
use crate::facts::Fact;
use crate::walk::PriceTick;

/// A port failure (the service is down, a write was refused, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{port}: {message}")]
pub struct PortError {
    pub port: &'static str,
    pub message: String,
}

/// Where domain events go to be kept (journal, event topic, ...).
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Write one batch; returns once it is durable for this sink.
    async fn write(&self, batch: &[MarketEvent]) -> Result<(), PortError>;
}

/// Where price ticks are published (a Kafka topic or an in-process channel).
#[async_trait]
pub trait TickSink: Send + Sync {
    async fn publish(&self, ticks: &[PriceTick]) -> Result<(), PortError>;
}

/// Where the engine reads price ticks from.
#[async_trait]
pub trait TickSource: Send + Sync {
    /// The next batch, or `None` when the source has ended.
    async fn next_batch(&self) -> Result<Option<Vec<PriceTick>>, PortError>;
    /// Everything returned so far has been applied: a durable source may
    /// commit its position now (at-least-once: a crash before this call
    /// means the batch is read again).
    async fn commit(&self) -> Result<(), PortError> {
        Ok(())
    }
}

/// Latest quote per symbol, for fast reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedQuote {
    pub last: Price,
    pub bid: Option<Price>,
    pub ask: Option<Price>,
    pub ts: Timestamp,
}

/// A read cache of quotes.
#[async_trait]
pub trait QuoteCache: Send + Sync {
    async fn put(&self, symbol: Symbol, quote: CachedQuote) -> Result<(), PortError>;
    async fn get(&self, symbol: Symbol) -> Result<Option<CachedQuote>, PortError>;
}

/// The durable journal of facts (PostgreSQL, or nothing in memory mode).
/// Appends are queued in call order and written in batches (group commit);
/// a caller that must not acknowledge before its facts are durable waits
/// for its ticket.
#[async_trait]
pub trait FactJournal: Send + Sync + std::fmt::Debug {
    /// Queue facts; returns the ticket `durable` waits for.
    fn append(&self, facts: Vec<Fact>) -> u64;
    /// Resolves once everything appended up to `ticket` is durable; fails
    /// when that takes longer than `timeout` (the store is down).
    async fn durable(&self, ticket: u64, timeout: std::time::Duration) -> Result<(), PortError>;
    /// False while writes are failing: new trading is refused meanwhile.
    fn healthy(&self) -> bool;
    /// True when appended facts are as durable as they will ever be (no
    /// store: memory mode), so their effects need not wait.
    fn immediate(&self) -> bool {
        false
    }
}

/// Where minute price histories are kept (by each price's own time).
#[async_trait]
pub trait HistoryStore: Send + Sync + std::fmt::Debug {
    /// `symbol`'s history of each day from `from`'s to `to`'s, clipped to
    /// `[from, to]`; days without one are left out.
    async fn minutes(
        &self,
        symbol: engine::Symbol,
        from: engine::Timestamp,
        to: engine::Timestamp,
    ) -> Result<Vec<engine::MinuteHistory>, PortError>;
}

/// A short-lived cache of rendered reads (e.g. `GET /v1/stocks`), shared by
/// every API process of a market.
#[async_trait]
pub trait ReadCache: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError>;
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: std::time::Duration,
    ) -> Result<(), PortError>;
    /// Drop every cached read (something they show has changed).
    async fn invalidate(&self) -> Result<(), PortError>;
}

/// A price from outside the random walk, as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceEntry {
    pub ts: Timestamp,
    pub price: Price,
    pub source: crate::facts::PriceSource,
}

/// Durable things the API reads back that are not actor state: the files
/// of background tasks (uploads, exports) and each symbol's list of
/// prices from outside the walk. PostgreSQL keeps them (prices are read
/// from the journal itself); `memory::MemoryArchive` keeps them until exit.
#[async_trait]
pub trait Archive: Send + Sync + std::fmt::Debug {
    /// Keep `bytes` as task `task`'s file `role` (`upload`, `export`),
    /// durably, before the caller journals anything that needs it.
    async fn put_file(&self, task: u64, role: &str, bytes: Vec<u8>) -> Result<(), PortError>;
    async fn file(&self, task: u64, role: &str) -> Result<Option<Vec<u8>>, PortError>;
    /// `symbol`'s prices from outside the walk, newest first, and how many
    /// there are in all.
    async fn prices(
        &self,
        symbol: Symbol,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<PriceEntry>, u64), PortError>;
    /// Prices just made durable (a journal-backed archive reads them from
    /// the journal and ignores this).
    fn record_prices(&self, _entries: &[(Symbol, PriceEntry)]) {}
}

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportWhat {
    Orders,
    Trades,
    /// Prices from outside the walk (the price list).
    Prices,
}

/// The rows an export asks for: `account`'s own (or everyone's), in
/// `[from, to]` by their time, of one symbol or all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportQuery {
    pub what: ExportWhat,
    pub account: Option<engine::AccountId>,
    pub from: Timestamp,
    pub to: Timestamp,
    pub symbol: Option<Symbol>,
}

/// An order as exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOrder {
    pub id: engine::OrderId,
    pub account: engine::AccountId,
    pub symbol: Symbol,
    pub side: Option<engine::Side>,
    pub order_type: Option<engine::OrderType>,
    pub time_in_force: Option<engine::TimeInForce>,
    pub quantity: u64,
    pub limit_price: Option<Price>,
    pub status: engine::OrderStatus,
    pub filled: u64,
    pub remaining: u64,
    pub reason: Option<String>,
    pub client_order_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One exported row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportRow {
    Order(ExportOrder),
    Trade(engine::Trade),
    /// A trade as one side saw it (memory mode keeps only users' fills:
    /// the other side is not known).
    Fill {
        trade: engine::Trade,
        /// The side this fill is of: maker or taker.
        maker: bool,
    },
    Price(Symbol, PriceEntry),
}

/// Where exports read from, in time order, a row at a time (PostgreSQL
/// streams its tables through a cursor: memory stays flat whatever the
/// range).
pub trait Exports: Send + Sync + std::fmt::Debug {
    fn export(
        &self,
        q: ExportQuery,
    ) -> futures::stream::BoxStream<'static, Result<ExportRow, PortError>>;
}
