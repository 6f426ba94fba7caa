//! In-memory implementations of the ports the market needs without
//! services: no journal (memory mode) and an in-process tick channel.

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::facts::Fact;
use crate::ports::{FactJournal, PortError, TickSink, TickSource};
use crate::walk::PriceTick;

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
    fn immediate(&self) -> bool {
        true
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

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{Price, Symbol, Timestamp};

    #[tokio::test]
    async fn ticks_pass_through_the_channel_in_order() {
        let (sink, source) = tick_channel(4);
        let sym = Symbol::new("A").unwrap();
        let t = |n| PriceTick {
            symbol: sym,
            price: Price::from_minor(n),
            ts: Timestamp(n),
            seq: n as u64,
            origin: Default::default(),
            quantity: None,
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
}

type Files = rustc_hash::FxHashMap<(u64, String), std::sync::Arc<Vec<u8>>>;

/// An `Archive` in memory (memory mode: gone at exit).
#[derive(Debug, Default)]
pub struct MemoryArchive {
    files: std::sync::Mutex<Files>,
    prices: std::sync::Mutex<rustc_hash::FxHashMap<engine::Symbol, Vec<crate::ports::PriceEntry>>>,
}

#[async_trait]
impl crate::ports::Archive for MemoryArchive {
    async fn put_file(&self, task: u64, role: &str, bytes: Vec<u8>) -> Result<(), PortError> {
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((task, role.to_string()), std::sync::Arc::new(bytes));
        Ok(())
    }
    async fn file(&self, task: u64, role: &str) -> Result<Option<Vec<u8>>, PortError> {
        let f = self
            .files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(task, role.to_string()))
            .cloned();
        Ok(f.map(|b| b.as_ref().clone()))
    }
    async fn prices(
        &self,
        symbol: engine::Symbol,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<crate::ports::PriceEntry>, u64), PortError> {
        let all = self.prices.lock().unwrap_or_else(|p| p.into_inner());
        let list = all.get(&symbol).map_or(&[][..], Vec::as_slice);
        Ok((
            list.iter()
                .rev()
                .skip(offset)
                .take(limit)
                .copied()
                .collect(),
            list.len() as u64,
        ))
    }
    fn record_prices(&self, entries: &[(engine::Symbol, crate::ports::PriceEntry)]) {
        let mut all = self.prices.lock().unwrap_or_else(|p| p.into_inner());
        for (s, e) in entries {
            all.entry(*s).or_default().push(*e);
        }
    }
}
