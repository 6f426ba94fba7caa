//! The outbox: what the market publishes (users' order records, the event
//! stream that SSE, Redis and Kafka follow, trade metrics) becomes visible
//! only once its facts are durable in the journal, in journal order (audit
//! M3). The journal is the outbox: every append queues its events under
//! the append's ticket, and one task applies them as the journal's durable
//! watermark passes each ticket. A crash can erase only facts that nobody
//! saw.
//!
//! Without a store (memory mode) facts are "durable" when appended, and
//! their effects are applied at once, with no hop.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::EventBus;
use actors::facts::Fact;
use actors::ports::FactJournal;
use engine::{AccountId, Event, OrderId, Symbol};
use tokio::sync::{Notify, watch};

use crate::records::Records;

struct Entry {
    ticket: u64,
    /// Orders (owner, id) whose requests are in the entry's facts: they
    /// become visible to their owners' reads.
    orders: Vec<(AccountId, OrderId)>,
    events: Vec<(Symbol, Event)>,
}

/// See the module documentation.
pub struct Outbox {
    journal: Arc<dyn FactJournal>,
    records: Arc<Records>,
    bus: EventBus,
    queue: Mutex<VecDeque<Entry>>,
    wake: Arc<Notify>,
    visible: watch::Sender<u64>,
    immediate: bool,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("visible", &*self.visible.borrow())
            .finish()
    }
}

impl Outbox {
    /// An outbox over `journal`; with a store, its task runs on `runtime`.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        journal: Arc<dyn FactJournal>,
        records: Arc<Records>,
        bus: EventBus,
    ) -> Arc<Outbox> {
        let immediate = journal.immediate();
        let outbox = Arc::new(Outbox {
            journal,
            records,
            bus,
            queue: Mutex::new(VecDeque::new()),
            wake: Arc::new(Notify::new()),
            visible: watch::channel(0).0,
            immediate,
        });
        if !immediate {
            runtime.spawn(run(Arc::downgrade(&outbox), outbox.wake.clone()));
        }
        outbox
    }

    /// Journal `facts` then `events`, and queue the events' effects until
    /// they are durable. Returns the journal ticket.
    pub fn publish(&self, mut facts: Vec<Fact>, events: &[(Symbol, Event)]) -> u64 {
        let orders: Vec<(AccountId, OrderId)> = facts
            .iter()
            .filter_map(|f| match f {
                Fact::Order(o) => Some((o.account, o.id)),
                _ => None,
            })
            .collect();
        facts.extend(actors::facts::events(events));
        if self.immediate {
            let ticket = self.journal.append(facts);
            self.apply(&orders, events);
            return ticket;
        }
        // Append and queue under one lock: the queue is in ticket order.
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = self.journal.append(facts);
        q.push_back(Entry {
            ticket,
            orders,
            events: events.to_vec(),
        });
        drop(q);
        self.wake.notify_one();
        ticket
    }

    /// Resolves once everything up to `ticket` is visible; `false` if that
    /// takes longer than `timeout`.
    pub async fn visible(&self, ticket: u64, timeout: Duration) -> bool {
        if self.immediate {
            return true;
        }
        let mut rx = self.visible.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(|v| *v >= ticket)).await,
            Ok(Ok(_))
        )
    }

    fn apply(&self, orders: &[(AccountId, OrderId)], events: &[(Symbol, Event)]) {
        self.records.reveal(orders);
        if events.is_empty() {
            return;
        }
        self.records.apply(events);
        let trades = events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Trade(_)))
            .count();
        if trades > 0 {
            metrics::counter!("marketsim_trades_total").increment(trades as u64);
        }
        self.bus.publish(
            events
                .iter()
                .map(|(s, e)| actors::MarketEvent::Order {
                    symbol: *s,
                    event: *e,
                })
                .collect(),
        );
    }
}

/// Apply queued entries as they become durable, in order. Ends when the
/// outbox is dropped.
async fn run(outbox: std::sync::Weak<Outbox>, wake: Arc<Notify>) {
    let mut waiting_since: Option<std::time::Instant> = None;
    loop {
        let Some(o) = outbox.upgrade() else { return };
        let batch: Vec<Entry> = o
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        let Some(last) = batch.last().map(|e| e.ticket) else {
            // Wait for work without keeping the outbox alive.
            drop(o);
            let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
            continue;
        };
        // During an outage this waits: nothing of the batch is seen.
        while o
            .journal
            .durable(last, Duration::from_secs(1))
            .await
            .is_err()
        {
            if waiting_since.is_none() {
                waiting_since = Some(std::time::Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(t) = waiting_since.take() {
            tracing::info!(
                waited_ms = t.elapsed().as_millis() as u64,
                "the outbox caught up with the journal"
            );
        }
        for e in &batch {
            o.apply(&e.orders, &e.events);
        }
        o.visible.send_replace(last);
    }
}
