//! Implementations of the actors' ports for real services. The only crate
//! that knows Kafka (and, with the persistence issue, SQL and Redis).

pub mod csv;
pub mod kafka;
