//! Domain events emitted by books and the exchange.
//!
//! Events are plain `Copy` values pushed into a caller-owned `Vec`, so the
//! hot path allocates nothing. Every order that enters a book ends in exactly
//! one terminal event: `Filled`, `Cancelled`, `Expired` or `Rejected`.

use crate::money::Price;
use crate::types::{AccountId, OrderId, Side, Symbol, Timestamp};

/// Why an order was refused before it reached (or changed) a book.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RejectReason {
    InsufficientCash,
    InsufficientHoldings,
    UnknownSymbol,
    UnknownAccount,
    UnknownOrder,
    DuplicateOrderId,
    OffTickGrid,
    NonPositivePrice,
    ZeroQuantity,
    MissingPrice,
    InvalidClientOrderId,
    Overflow,
    /// A part of the market (an actor) failed while routing the order:
    /// nothing of it traded and its reservation was released.
    MarketUnavailable,
}

impl RejectReason {
    pub const ALL: [RejectReason; 13] = [
        RejectReason::InsufficientCash,
        RejectReason::InsufficientHoldings,
        RejectReason::UnknownSymbol,
        RejectReason::UnknownAccount,
        RejectReason::UnknownOrder,
        RejectReason::DuplicateOrderId,
        RejectReason::OffTickGrid,
        RejectReason::NonPositivePrice,
        RejectReason::ZeroQuantity,
        RejectReason::MissingPrice,
        RejectReason::InvalidClientOrderId,
        RejectReason::Overflow,
        RejectReason::MarketUnavailable,
    ];
    /// The inverse of `as_str`.
    pub fn parse(s: &str) -> Option<RejectReason> {
        RejectReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::InsufficientCash => "insufficient_cash",
            RejectReason::InsufficientHoldings => "insufficient_holdings",
            RejectReason::UnknownSymbol => "unknown_symbol",
            RejectReason::UnknownAccount => "unknown_account",
            RejectReason::UnknownOrder => "unknown_order",
            RejectReason::DuplicateOrderId => "duplicate_order_id",
            RejectReason::OffTickGrid => "off_tick_grid",
            RejectReason::NonPositivePrice => "non_positive_price",
            RejectReason::ZeroQuantity => "zero_quantity",
            RejectReason::MissingPrice => "missing_price",
            RejectReason::InvalidClientOrderId => "invalid_client_order_id",
            RejectReason::Overflow => "overflow",
            RejectReason::MarketUnavailable => "market_unavailable",
        }
    }
}

/// Why a live order left the book without filling.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CancelReason {
    /// The owner asked.
    Requested,
    /// IOC or market remainder that found nothing more to match.
    Unfilled,
    /// FOK that could not fill entirely.
    Killed,
    /// It would have traded with an order of its own account (self-trade
    /// prevention: the resting order, or the incoming one's remainder).
    SelfTrade,
}

impl CancelReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            CancelReason::Requested => "requested",
            CancelReason::Unfilled => "unfilled",
            CancelReason::Killed => "killed",
            CancelReason::SelfTrade => "self_trade",
        }
    }
    /// The inverse of `as_str`.
    pub fn parse(s: &str) -> Option<CancelReason> {
        [
            CancelReason::Requested,
            CancelReason::Unfilled,
            CancelReason::Killed,
            CancelReason::SelfTrade,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One execution between a resting (maker) and an incoming (taker) order.
/// The price is always the maker's.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Trade {
    pub symbol: Symbol,
    /// Per-book sequence, gap-free from 1.
    pub seq: u64,
    pub price: Price,
    pub quantity: u64,
    pub maker_order: OrderId,
    pub maker_account: AccountId,
    pub taker_order: OrderId,
    pub taker_account: AccountId,
    pub taker_side: Side,
    pub ts: Timestamp,
}

impl Trade {
    pub fn buyer(&self) -> (OrderId, AccountId) {
        match self.taker_side {
            Side::Buy => (self.taker_order, self.taker_account),
            Side::Sell => (self.maker_order, self.maker_account),
        }
    }
    pub fn seller(&self) -> (OrderId, AccountId) {
        match self.taker_side {
            Side::Sell => (self.taker_order, self.taker_account),
            Side::Buy => (self.maker_order, self.maker_account),
        }
    }
}

/// What happened to an order.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    Accepted {
        order: OrderId,
        account: AccountId,
        side: Side,
        price: Price,
        quantity: u64,
        ts: Timestamp,
    },
    Rejected {
        order: OrderId,
        account: AccountId,
        reason: RejectReason,
        ts: Timestamp,
    },
    Trade(Trade),
    PartiallyFilled {
        order: OrderId,
        account: AccountId,
        filled: u64,
        remaining: u64,
        ts: Timestamp,
    },
    Filled {
        order: OrderId,
        account: AccountId,
        ts: Timestamp,
    },
    Cancelled {
        order: OrderId,
        account: AccountId,
        remaining: u64,
        reason: CancelReason,
        ts: Timestamp,
    },
    Expired {
        order: OrderId,
        account: AccountId,
        remaining: u64,
        ts: Timestamp,
    },
    Replaced {
        order: OrderId,
        account: AccountId,
        price: Price,
        remaining: u64,
        ts: Timestamp,
    },
}

impl Event {
    /// The order this event is about (the taker's, for a trade).
    pub fn order(&self) -> OrderId {
        match *self {
            Event::Accepted { order, .. }
            | Event::Rejected { order, .. }
            | Event::PartiallyFilled { order, .. }
            | Event::Filled { order, .. }
            | Event::Cancelled { order, .. }
            | Event::Expired { order, .. }
            | Event::Replaced { order, .. } => order,
            Event::Trade(t) => t.taker_order,
        }
    }
    /// When it happened.
    pub fn ts(&self) -> Timestamp {
        match *self {
            Event::Accepted { ts, .. }
            | Event::Rejected { ts, .. }
            | Event::PartiallyFilled { ts, .. }
            | Event::Filled { ts, .. }
            | Event::Cancelled { ts, .. }
            | Event::Expired { ts, .. }
            | Event::Replaced { ts, .. } => ts,
            Event::Trade(t) => t.ts,
        }
    }
    /// Does this event end the order's life?
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Event::Filled { .. }
                | Event::Cancelled { .. }
                | Event::Expired { .. }
                | Event::Rejected { .. }
        )
    }
}
