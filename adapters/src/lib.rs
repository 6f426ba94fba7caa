//! Implementations of the actors' ports for real services: Kafka (ticks
//! and events), PostgreSQL (the fact journal, checkpoints, recovery) and
//! Redis (quotes, minute history, read caches, pub/sub), price files
//! (CSV), and the HTTP client that sets prices on a running market. The
//! only crate that knows these services' protocols.

pub mod csv;
pub mod http;
pub mod kafka;
pub mod pg;
pub mod redis;
pub mod sample;
