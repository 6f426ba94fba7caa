//! `OrderStatus`: an order's lifecycle as users see it, and its one
//! transition rule. The API's records, the PostgreSQL fold and recovery all
//! use this type, so a status means the same thing everywhere.
//!
//! Invariant: a status only moves forward (in declaration order) and never
//! leaves a closed state, so events folded out of order (a fill journaled
//! before its order's acceptance) give the same final status.

use crate::events::Event;

/// An order's status.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    /// Accepted and working (resting, or about to match).
    Accepted,
    PartiallyFilled,
    Filled,
    Cancelled,
    Expired,
    /// Refused before it reached a book, or rejected by the book.
    Denied,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Accepted,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::Denied,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Accepted => "accepted",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::Denied => "denied",
        }
    }

    /// The inverse of `as_str`.
    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still working: it may trade, be cancelled or expire.
    pub const fn is_open(self) -> bool {
        matches!(self, OrderStatus::Accepted | OrderStatus::PartiallyFilled)
    }

    /// Move to `to` if that is forward and this order is still open.
    pub fn advance(self, to: OrderStatus) -> OrderStatus {
        if self.is_open() && to > self {
            to
        } else {
            self
        }
    }

    /// The status after a fill that brought the order to `filled` of
    /// `quantity` shares.
    pub fn after_fill(self, filled: u64, quantity: u64) -> OrderStatus {
        self.advance(if filled >= quantity {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        })
    }

    /// The status after `event`, an event about this order. Trades are
    /// counted by `after_fill` (they concern two orders); acceptances and
    /// replacements leave the status as it is.
    pub fn after(self, event: &Event) -> OrderStatus {
        self.advance(match event {
            Event::Rejected { .. } => OrderStatus::Denied,
            Event::PartiallyFilled { .. } => OrderStatus::PartiallyFilled,
            Event::Filled { .. } => OrderStatus::Filled,
            Event::Cancelled { .. } => OrderStatus::Cancelled,
            Event::Expired { .. } => OrderStatus::Expired,
            Event::Accepted { .. } | Event::Trade(_) | Event::Replaced { .. } => return self,
        })
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::{self, *};
    use crate::{AccountId, CancelReason, Event, OrderId, Timestamp};

    fn cancelled() -> Event {
        Event::Cancelled {
            order: OrderId(1),
            account: AccountId(1),
            remaining: 1,
            reason: CancelReason::Requested,
            ts: Timestamp(0),
        }
    }

    #[test]
    fn names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderStatus::parse("done"), None);
    }

    #[test]
    fn a_closed_order_never_reopens_or_changes() {
        for closed in [Filled, Cancelled, Expired, Denied] {
            assert_eq!(closed.after(&cancelled()), closed);
            assert_eq!(closed.after_fill(1, 2), closed);
            assert_eq!(closed.advance(Accepted), closed);
        }
    }

    #[test]
    fn open_orders_move_forward_only() {
        assert_eq!(Accepted.after_fill(1, 2), PartiallyFilled);
        assert_eq!(PartiallyFilled.after_fill(2, 2), Filled);
        assert_eq!(PartiallyFilled.advance(Accepted), PartiallyFilled);
        assert_eq!(PartiallyFilled.after(&cancelled()), Cancelled);
    }
}
