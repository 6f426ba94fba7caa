//! Adapter tests against real peers: rdkafka's mock cluster, PostgreSQL.
mod kafka;
mod pg;
