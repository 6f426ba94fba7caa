//! The event bus: domain events fan out to any number of subscribers
//! (persistence, caches, streaming clients, metrics) in batches.
//!
//! A slow subscriber lags and is told how many batches it missed; it never
//! slows the market down.

use std::sync::Arc;

use engine::{Candle, Event, Price, Symbol, Timestamp};
use tokio::sync::broadcast;

/// Something that happened in the market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketEvent {
    /// An order event on a symbol's book (trades included).
    Order { symbol: Symbol, event: Event },
    /// A reference-price tick.
    Tick {
        symbol: Symbol,
        price: Price,
        ts: Timestamp,
    },
    /// A minute candle closed.
    Candle { symbol: Symbol, candle: Candle },
}

/// Fan-out of event batches.
#[derive(Clone, Debug)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Vec<MarketEvent>>>,
}

impl EventBus {
    /// A bus that keeps up to `capacity` batches for slow subscribers.
    pub fn new(capacity: usize) -> EventBus {
        let (tx, _) = broadcast::channel(capacity.max(1));
        EventBus { tx }
    }
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Vec<MarketEvent>>> {
        self.tx.subscribe()
    }
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
    /// Publish a batch; free when nobody listens.
    pub fn publish(&self, batch: Vec<MarketEvent>) {
        if !batch.is_empty() && self.tx.receiver_count() > 0 {
            let _ = self.tx.send(Arc::new(batch));
        }
    }
}

/// Hand every batch `rx` receives to `f` until the bus closes; a lag (the
/// subscriber fell behind and batches were dropped) is logged as `what`.
pub async fn follow(
    mut rx: broadcast::Receiver<Arc<Vec<MarketEvent>>>,
    what: &str,
    mut f: impl AsyncFnMut(Arc<Vec<MarketEvent>>),
) {
    loop {
        match rx.recv().await {
            Ok(batch) => f(batch).await,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(batches = n, "{what} lagged; batches skipped");
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(1_024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_gets_every_batch() {
        let bus = EventBus::new(8);
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        let sym = Symbol::new("X").unwrap();
        bus.publish(vec![MarketEvent::Tick {
            symbol: sym,
            price: Price::from_minor(1),
            ts: Timestamp(1),
        }]);
        assert_eq!(a.recv().await.unwrap().len(), 1);
        assert_eq!(b.recv().await.unwrap().len(), 1);
    }
}
