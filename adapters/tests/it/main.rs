//! Adapter tests against real peers: rdkafka's mock cluster, PostgreSQL, Redis.
mod kafka;
mod pg;
mod redis;
