//! Implementations of the actors' ports for real services: Kafka (ticks
//! and events), PostgreSQL (the fact journal, checkpoints, recovery) and
//! Redis (quotes, minute history, read caches, pub/sub). The only crate
//! that knows these services.

pub mod csv;
pub mod kafka;
pub mod pg;
pub mod redis;
