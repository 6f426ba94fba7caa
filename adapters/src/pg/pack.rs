//! Packed journal rows: a run of order and book-event facts (what trading
//! produces, about 4.5 facts per order) written as one row of compact
//! binary (postcard) instead of a JSON row each. PostgreSQL's cost of a
//! journal write is mostly per byte and per row; a trade is about 250
//! bytes of JSON and 40 of postcard.
//!
//! The encoding is postcard's for `Vec<Fact>`: an enum variant is its
//! index, so `Fact`, `Event`, `OrderFact` and the types in them only ever
//! gain variants and fields at the end (the test `encoding_is_pinned`
//! fails on a change that would misread rows already written). Facts with
//! optional or free-form fields (ticks, tasks, users) stay JSON rows.

use actors::facts::Fact;

/// The `kind` of a packed row.
pub const KIND: &str = "packed";

/// Whether `fact` goes in a packed row.
pub fn packable(fact: &Fact) -> bool {
    matches!(fact, Fact::Order(_) | Fact::Event { .. })
}

/// The bytes of a packed row.
pub fn encode(facts: &[Fact]) -> Vec<u8> {
    debug_assert!(facts.iter().all(packable));
    postcard::to_allocvec(facts).expect("order and event facts always encode")
}

/// The facts of a packed row; `Err` says what is wrong with it.
pub fn decode(bytes: &[u8]) -> Result<Vec<Fact>, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("a packed row does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actors::facts::OrderFact;
    use engine::{
        AccountId, CancelReason, ClientOrderId, Event, OrderId, OrderType, Price, RejectReason,
        Side, Symbol, TimeInForce, Timestamp, Trade,
    };

    fn acme() -> Symbol {
        Symbol::new("ACME").unwrap()
    }

    fn sample() -> Vec<Fact> {
        let (order, account, ts) = (
            OrderId(70_001),
            AccountId(1_000_002),
            Timestamp(1_767_600_000_123_456_789),
        );
        let mut facts = vec![Fact::Order(OrderFact {
            id: order,
            account,
            client_order_id: Some(ClientOrderId::new("c-1").unwrap()),
            symbol: acme(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            quantity: 30,
            limit_price: Some(Price::from_minor(10_025)),
            time_in_force: TimeInForce::Gtc,
            denied: Some(RejectReason::InsufficientCash),
            at: ts,
        })];
        let events = [
            Event::Accepted {
                order,
                account,
                side: Side::Buy,
                price: Price::from_minor(10_025),
                quantity: 30,
                ts,
            },
            Event::Rejected {
                order,
                account,
                reason: RejectReason::MarketUnavailable,
                ts,
            },
            Event::Trade(Trade {
                symbol: acme(),
                seq: 9,
                maker_order: OrderId(3),
                taker_order: order,
                maker_account: AccountId::HOUSE,
                taker_account: account,
                taker_side: Side::Buy,
                price: Price::from_minor(10_000),
                quantity: 10,
                ts,
            }),
            Event::PartiallyFilled {
                order,
                account,
                filled: 10,
                remaining: 20,
                ts,
            },
            Event::Filled { order, account, ts },
            Event::Cancelled {
                order,
                account,
                remaining: 20,
                reason: CancelReason::SelfTrade,
                ts,
            },
            Event::Expired {
                order,
                account,
                remaining: 20,
                ts,
            },
            Event::Replaced {
                order,
                account,
                price: Price::from_minor(9_900),
                remaining: 20,
                ts,
            },
        ];
        facts.extend(events.into_iter().map(|event| Fact::Event {
            symbol: acme(),
            event,
        }));
        facts
    }

    #[test]
    fn every_packable_fact_comes_back_as_it_went_in() {
        let facts = sample();
        assert!(facts.iter().all(packable));
        assert_eq!(decode(&encode(&facts)).unwrap(), facts);
    }

    #[test]
    fn a_trade_takes_a_fraction_of_its_json() {
        let trade = &sample()[3];
        let (packed, json) = (
            encode(std::slice::from_ref(trade)).len(),
            serde_json::to_string(trade).unwrap().len(),
        );
        assert!(
            packed * 4 < json,
            "{packed} bytes packed against {json} of JSON"
        );
    }

    #[test]
    fn ticks_tasks_and_accounts_stay_json() {
        assert!(!packable(&Fact::Tick {
            symbol: acme(),
            price: Price::from_minor(1),
            ts: Timestamp(1),
            source: None
        }));
        assert!(!packable(&Fact::Open {
            account: AccountId(1)
        }));
    }

    /// Rows already written must read the same after any change to the
    /// facts' types: this is the sample's encoding, byte for byte.
    #[test]
    fn encoding_is_pinned() {
        let hex: String = encode(&sample())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, PINNED);
    }

    const PINNED: &str = concat!(
        "0905f1a204c2843d0103632d310441434d4500011e01d29c01000100aab4b685",
        "b8b5e38731060441434d4500f1a204c2843d00d29c011eaab4b685b8b5e38731",
        "060441434d4501f1a204c2843d0caab4b685b8b5e38731060441434d45020441",
        "434d4509a09c010a03feffffffffffffffff01f1a204c2843d00aab4b685b8b5",
        "e38731060441434d4503f1a204c2843d0a14aab4b685b8b5e38731060441434d",
        "4504f1a204c2843daab4b685b8b5e38731060441434d4505f1a204c2843d1403",
        "aab4b685b8b5e38731060441434d4506f1a204c2843d14aab4b685b8b5e38731",
        "060441434d4507f1a204c2843dd89a0114aab4b685b8b5e38731",
    );

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(&[0xff, 0xff, 0xff]).is_err());
        assert!(decode(&encode(&sample())[..20]).is_err());
    }
}
