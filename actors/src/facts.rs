//! Facts: everything the live market must remember to be rebuilt after a
//! crash, in the order it happened. A journal port (`ports::FactJournal`)
//! makes them durable; folding them in order gives back accounts,
//! holdings, orders, trades, prices, day statistics and candles.

use engine::{
    AccountId, ClientOrderId, Event, Money, OrderId, OrderType, Price, RejectReason, Side, Symbol,
    TimeInForce, Timestamp,
};
use serde::{Deserialize, Serialize};

/// One journaled fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// A user registered; `key_hash` is the SHA-256 of the API key, in hex.
    User {
        account: AccountId,
        name: String,
        key_hash: String,
        at: Timestamp,
    },
    /// An account was opened (empty).
    Open { account: AccountId },
    /// Cash came into the market.
    Deposit { account: AccountId, amount: Money },
    /// Shares came into the market (a listing's float).
    Issue {
        account: AccountId,
        symbol: Symbol,
        quantity: u64,
    },
    /// A symbol was listed at run time (symbols from settings are listed at
    /// every start and need no fact).
    Listed {
        symbol: Symbol,
        tick: Price,
        price: Price,
    },
    /// An order as a user requested it; denied before reaching a book when
    /// `denied` is set.
    Order(OrderFact),
    /// Something that happened on a book (trades included).
    Event { symbol: Symbol, event: Event },
    /// A reference-price tick; `source` is set for prices from outside the
    /// random walk (the price list of `GET /v1/stocks/{symbol}/prices`).
    Tick {
        symbol: Symbol,
        price: Price,
        ts: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<PriceSource>,
    },
    /// A background task was created or changed (its whole new state).
    Task(Box<crate::task::Task>),
}

/// Where a price that is not the random walk's came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// Set through the admin API.
    Admin,
    /// A replayed price (a price file or a tick topic).
    Replay,
    /// Set by a background task (its id).
    Task(u64),
}

impl PriceSource {
    /// `admin`, `replay` or `task:<id>`.
    pub fn label(self) -> String {
        match self {
            PriceSource::Admin => "admin".into(),
            PriceSource::Replay => "replay".into(),
            PriceSource::Task(id) => format!("task:{id}"),
        }
    }
}

impl Fact {
    /// The kinds of `Fact::Event` (book events, trades included), as
    /// `kind` names them.
    pub const EVENT_KINDS: [&'static str; 8] = [
        "accepted",
        "rejected",
        "trade",
        "partially_filled",
        "filled",
        "cancelled",
        "expired",
        "replaced",
    ];

    /// A short name of the kind, for the journal's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Fact::User { .. } => "user",
            Fact::Open { .. } => "open",
            Fact::Deposit { .. } => "deposit",
            Fact::Issue { .. } => "issue",
            Fact::Listed { .. } => "listed",
            Fact::Order(_) => "order",
            Fact::Event { event, .. } => match event {
                Event::Accepted { .. } => "accepted",
                Event::Rejected { .. } => "rejected",
                Event::Trade(_) => "trade",
                Event::PartiallyFilled { .. } => "partially_filled",
                Event::Filled { .. } => "filled",
                Event::Cancelled { .. } => "cancelled",
                Event::Expired { .. } => "expired",
                Event::Replaced { .. } => "replaced",
            },
            Fact::Tick { .. } => "tick",
            Fact::Task(_) => "task",
        }
    }
}

/// An order's request, as journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFact {
    pub id: OrderId,
    pub account: AccountId,
    pub client_order_id: Option<ClientOrderId>,
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub quantity: u64,
    pub limit_price: Option<Price>,
    pub time_in_force: TimeInForce,
    pub denied: Option<RejectReason>,
    pub at: Timestamp,
}

/// Routed events as facts.
pub fn events(events: &[(Symbol, Event)]) -> impl Iterator<Item = Fact> + '_ {
    events.iter().map(|(symbol, event)| Fact::Event {
        symbol: *symbol,
        event: *event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::Trade;

    #[test]
    fn event_kinds_are_exactly_the_book_events_kinds() {
        let (order, account, ts) = (OrderId(1), AccountId(2), Timestamp(3));
        let events = [
            Event::Accepted {
                order,
                account,
                side: Side::Buy,
                price: Price::from_minor(1),
                quantity: 1,
                ts,
            },
            Event::Rejected {
                order,
                account,
                reason: engine::RejectReason::UnknownSymbol,
                ts,
            },
            Event::Trade(Trade {
                symbol: Symbol::new("ACME").unwrap(),
                seq: 1,
                maker_order: order,
                taker_order: OrderId(2),
                maker_account: account,
                taker_account: AccountId(4),
                taker_side: Side::Buy,
                price: Price::from_minor(1),
                quantity: 1,
                ts,
            }),
            Event::PartiallyFilled {
                order,
                account,
                filled: 1,
                remaining: 1,
                ts,
            },
            Event::Filled { order, account, ts },
            Event::Cancelled {
                order,
                account,
                remaining: 1,
                reason: engine::CancelReason::Requested,
                ts,
            },
            Event::Expired {
                order,
                account,
                remaining: 1,
                ts,
            },
            Event::Replaced {
                order,
                account,
                price: Price::from_minor(2),
                remaining: 1,
                ts,
            },
        ];
        let symbol = Symbol::new("ACME").unwrap();
        let kinds: Vec<&str> = events
            .into_iter()
            .map(|event| Fact::Event { symbol, event }.kind())
            .collect();
        assert_eq!(kinds, Fact::EVENT_KINDS);
        assert!(!Fact::EVENT_KINDS.contains(&Fact::Open { account }.kind()));
    }

    #[test]
    fn facts_round_trip_through_json() {
        let sym = Symbol::new("ACME").unwrap();
        let facts = vec![
            Fact::User {
                account: AccountId(1_000_000_000),
                name: "ann".into(),
                key_hash: "ab".repeat(32),
                at: Timestamp(5),
            },
            Fact::Deposit {
                account: AccountId(7),
                amount: Money::from_minor(12_345),
            },
            Fact::Order(OrderFact {
                id: OrderId(9),
                account: AccountId(7),
                client_order_id: Some(ClientOrderId::new("c-1").unwrap()),
                symbol: sym,
                side: Side::Buy,
                order_type: OrderType::Limit,
                quantity: 10,
                limit_price: Some(Price::from_minor(100)),
                time_in_force: TimeInForce::Gtc,
                denied: Some(RejectReason::InsufficientCash),
                at: Timestamp(6),
            }),
            Fact::Event {
                symbol: sym,
                event: Event::Trade(Trade {
                    symbol: sym,
                    seq: 3,
                    price: Price::from_minor(101),
                    quantity: 4,
                    maker_order: OrderId(1),
                    maker_account: AccountId(2),
                    taker_order: OrderId(9),
                    taker_account: AccountId(7),
                    taker_side: Side::Buy,
                    ts: Timestamp(7),
                }),
            },
        ];
        for f in facts {
            let text = serde_json::to_string(&f).unwrap();
            let back: Fact = serde_json::from_str(&text).unwrap();
            assert_eq!(back, f, "{text}");
        }
        let t = serde_json::to_string(&Fact::Open {
            account: AccountId(3),
        })
        .unwrap();
        assert_eq!(t, r#"{"open":{"account":3}}"#);
    }
}
