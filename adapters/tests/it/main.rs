//! Adapter tests against real protocol peers: rdkafka's mock cluster.
mod kafka;
