//! `serve --kafka-brokers`: the tick topic between the generator and the
//! engine (consumer group, commit after apply) and the events topic the
//! market's trades and order events go to.

use std::sync::Arc;
use std::time::Duration;

use actors::{EventBus, MarketHandle};
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
    for t in [&s.kafka_tick_topic, &s.kafka_events_topic] {
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
    })
}

/// Start the consumer (ticks into the tickers, commit after apply) and the
/// events forwarder (bus -> events topic) as tasks on the current runtime.
pub fn start(
    k: KafkaParts,
    market: &MarketHandle,
    bus: &EventBus,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let dir = market.directory();
    let tick_bus = bus.clone();
    let source = k.source;
    tokio::spawn(async move {
        let stop = async move {
            let _ = stop.wait_for(|v| *v).await;
        };
        match adapters::kafka::apply_ticks(&source, &dir, Some(&tick_bus), stop).await {
            Ok(n) => tracing::info!(ticks = n, "tick consumer stopped"),
            Err(e) => tracing::error!(error = %e, "tick consumer failed"),
        }
    });
    let events = k.events;
    tokio::spawn(actors::bus::follow(
        bus.subscribe(),
        "events forwarder",
        async move |batch| {
            use actors::ports::EventSink;
            if let Err(e) = events.write(&batch).await {
                tracing::warn!(error = %e, "events topic refused a batch");
            }
        },
    ));
}
