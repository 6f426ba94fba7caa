//! Integration tests of the engine crate.
mod deps;
mod exchange;
mod props;
