//! Implementations of the actors' ports for real services: Kafka (ticks
//! and events), PostgreSQL (the fact journal, checkpoints, recovery),
//! Redis (quotes, minute history, read caches, pub/sub) and the HTTP
//! client that sets prices on a running market. The only crate that knows
//! these services' protocols.

pub mod http;
pub mod kafka;
pub mod pg;
pub mod redis;
