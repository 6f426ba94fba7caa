//! marketsim's pure domain.
//!
//! Owns money and prices (integer minor units), orders, the limit order book
//! and its matching, the ledger of accounts and reservations, price models,
//! candles and day statistics, and the events they emit.
//!
//! Never does IO, never awaits, never reads a clock, never draws from a
//! global RNG: timestamps and seeded RNGs are arguments. A test
//! (`tests/it/deps.rs`) keeps async and IO crates out of `Cargo.toml`.

pub mod book;
pub mod events;
pub mod exchange;
pub mod ledger;
pub mod money;
pub mod order;
pub mod price;
pub mod stats;
pub mod status;
pub mod time;
pub mod types;

pub use book::{BookError, DepthLevel, OrderBook, OrderState, Quote, SelfTrade};
pub use events::{CancelReason, Event, RejectReason, Trade};
pub use exchange::Exchange;
pub use ledger::{Account, Fees, Holding, Ledger, LedgerError, Released, Reservation};
pub use money::{Money, ParseAmountError, Price};
pub use order::{ClientOrderId, Order, OrderError, OrderRequest, OrderType, TimeInForce};
pub use price::{Gbm, GbmParams};
pub use stats::{Candle, Candles, DayStats, MinuteHistory};
pub use status::OrderStatus;
pub use types::{AccountId, OrderId, Quantity, Side, Symbol, Timestamp};
