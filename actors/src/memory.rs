//! In-memory implementations of every port.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use engine::Symbol;
use tokio::sync::mpsc;

use crate::bus::MarketEvent;
use crate::facts::Fact;
use crate::generator::PriceTick;
use crate::ports::{
    CachedQuote, EventSink, FactJournal, PortError, QuoteCache, StateStore, TickSink, TickSource,
};

/// No journal: the market's state lives in its actors only (memory mode).
#[derive(Debug, Default)]
pub struct NoJournal;

#[async_trait]
impl FactJournal for NoJournal {
    fn append(&self, _facts: Vec<Fact>) -> u64 {
        0
    }
    async fn durable(&self, _ticket: u64, _timeout: std::time::Duration) -> Result<(), PortError> {
        Ok(())
    }
    fn healthy(&self) -> bool {
        true
    }
}

/// Keeps every event in order.
#[derive(Debug, Default)]
pub struct MemoryEventSink {
    events: Mutex<Vec<MarketEvent>>,
}

impl MemoryEventSink {
    pub fn events(&self) -> Vec<MarketEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl EventSink for MemoryEventSink {
    async fn write(&self, batch: &[MarketEvent]) -> Result<(), PortError> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(batch);
        Ok(())
    }
}

/// An in-process channel of tick batches.
#[derive(Debug)]
pub struct ChannelTickSink {
    tx: mpsc::Sender<Vec<PriceTick>>,
}

/// The receiving end of a `ChannelTickSink`.
#[derive(Debug)]
pub struct ChannelTickSource {
    rx: tokio::sync::Mutex<mpsc::Receiver<Vec<PriceTick>>>,
}

/// A bounded tick channel: the producer waits when the consumer lags.
pub fn tick_channel(capacity: usize) -> (ChannelTickSink, ChannelTickSource) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (
        ChannelTickSink { tx },
        ChannelTickSource {
            rx: tokio::sync::Mutex::new(rx),
        },
    )
}

#[async_trait]
impl TickSink for ChannelTickSink {
    async fn publish(&self, ticks: &[PriceTick]) -> Result<(), PortError> {
        self.tx.send(ticks.to_vec()).await.map_err(|_| PortError {
            port: "tick channel",
            message: "the consumer has stopped".into(),
        })
    }
}

#[async_trait]
impl TickSource for ChannelTickSource {
    async fn next_batch(&self) -> Result<Option<Vec<PriceTick>>, PortError> {
        Ok(self.rx.lock().await.recv().await)
    }
}

/// Quotes in a map.
#[derive(Debug, Default)]
pub struct MemoryQuoteCache {
    quotes: Mutex<BTreeMap<Symbol, CachedQuote>>,
}

#[async_trait]
impl QuoteCache for MemoryQuoteCache {
    async fn put(&self, symbol: Symbol, quote: CachedQuote) -> Result<(), PortError> {
        self.quotes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(symbol, quote);
        Ok(())
    }
    async fn get(&self, symbol: Symbol) -> Result<Option<CachedQuote>, PortError> {
        Ok(self
            .quotes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&symbol)
            .copied())
    }
}

/// Snapshots in a map.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    blobs: Mutex<HashMap<String, Vec<u8>>>,
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn save(&self, key: &str, bytes: Vec<u8>) -> Result<(), PortError> {
        self.blobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), bytes);
        Ok(())
    }
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(self
            .blobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{Price, Timestamp};

    #[tokio::test]
    async fn ticks_pass_through_the_channel_in_order() {
        let (sink, source) = tick_channel(4);
        let sym = Symbol::new("A").unwrap();
        let t = |n| PriceTick {
            symbol: sym,
            price: Price::from_minor(n),
            ts: Timestamp(n),
            seq: n as u64,
        };
        sink.publish(&[t(1), t(2)]).await.unwrap();
        sink.publish(&[t(3)]).await.unwrap();
        drop(sink);
        let mut got = Vec::new();
        while let Some(b) = source.next_batch().await.unwrap() {
            got.extend(b.into_iter().map(|t| t.seq));
        }
        assert_eq!(got, [1, 2, 3]);
    }

    #[tokio::test]
    async fn quotes_and_snapshots_round_trip() {
        let c = MemoryQuoteCache::default();
        let sym = Symbol::new("A").unwrap();
        let q = CachedQuote {
            last: Price::from_minor(5),
            bid: None,
            ask: None,
            ts: Timestamp(0),
        };
        c.put(sym, q).await.unwrap();
        assert_eq!(c.get(sym).await.unwrap(), Some(q));
        let s = MemoryStateStore::default();
        s.save("k", vec![1, 2]).await.unwrap();
        assert_eq!(s.load("k").await.unwrap(), Some(vec![1, 2]));
        assert_eq!(s.load("other").await.unwrap(), None);
    }
}
