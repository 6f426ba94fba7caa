//! `serve --kafka-brokers`: the tick topic between the generator and the
//! engine (consumer group, commit after apply) and the events topic the
//! market's trades and order events go to.

use std::sync::Arc;
use std::time::Duration;

use adapters::kafka::{
    KafkaEventSink, KafkaTickSink, KafkaTickSource, check_brokers, ensure_topic,
};
use anyhow::Context;

use crate::settings::Settings;

/// The Kafka ends of a live market.
pub struct KafkaParts {
    pub sink: Arc<KafkaTickSink>,
    source: KafkaTickSource,
    events: KafkaEventSink,
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

/// Check the brokers answer, create the topics, open producer and consumer.
pub async fn connect(s: &Settings, brokers: &str) -> anyhow::Result<KafkaParts> {
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
        events: KafkaEventSink::new(brokers, &s.kafka_events_topic)
            .context("the events producer")?,
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
/// forwarder (bus -> events topic) as tasks on the current runtime.
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
    let events = k.events;
    tokio::spawn(actors::bus::follow(
        state.bus.subscribe(),
        "events forwarder",
        async move |batch| {
            use actors::ports::EventSink;
            if let Err(e) = events.write(&batch).await {
                tracing::warn!(error = %e, "events topic refused a batch");
            }
        },
    ));
}
