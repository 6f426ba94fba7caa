//! A whole market in one value: a book per symbol plus the ledger, with the
//! reservation lifecycle wired between them.
//!
//! This is the single-threaded reference composition: property tests,
//! benches and the simulation fast path drive it directly; the actors split
//! the same steps across tickers and account owners.

use std::collections::BTreeMap;

use crate::book::{BookError, OrderBook};
use crate::events::{Event, RejectReason};
use crate::ledger::Ledger;
use crate::money::Price;
use crate::order::Order;
use crate::types::{AccountId, OrderId, Quantity, Symbol, Timestamp};

/// Books and ledger together.
#[derive(Clone, Debug)]
pub struct Exchange {
    books: BTreeMap<Symbol, OrderBook>,
    ledger: Ledger,
}

impl Exchange {
    pub fn new(ledger: Ledger) -> Exchange {
        Exchange {
            books: BTreeMap::new(),
            ledger,
        }
    }

    /// List a symbol with its tick size. Listing twice keeps the first book.
    pub fn list(&mut self, symbol: Symbol, tick: Price) {
        self.books
            .entry(symbol)
            .or_insert_with(|| OrderBook::new(symbol, tick));
    }

    pub fn book(&self, symbol: Symbol) -> Option<&OrderBook> {
        self.books.get(&symbol)
    }
    pub fn books(&self) -> impl Iterator<Item = &OrderBook> {
        self.books.values()
    }
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// Reserve, place, settle every trade, release finished orders.
    pub fn submit(&mut self, order: &Order, ts: Timestamp, out: &mut Vec<Event>) {
        let reject = |reason| Event::Rejected {
            order: order.id(),
            account: order.account(),
            reason,
            ts,
        };
        let Some(book) = self.books.get_mut(&order.symbol()) else {
            out.push(reject(RejectReason::UnknownSymbol));
            return;
        };
        if !order.price().is_on_grid(book.tick())
            && order.order_type() == crate::order::OrderType::Limit
        {
            out.push(reject(RejectReason::OffTickGrid));
            return;
        }
        if book.order(order.id()).is_some() {
            out.push(reject(RejectReason::DuplicateOrderId));
            return;
        }
        if let Err(e) = self.ledger.reserve(order) {
            out.push(reject(e.reason()));
            return;
        }
        let start = out.len();
        book.place(order, ts, out);
        Self::apply(&mut self.ledger, &out[start..]);
    }

    /// Cancel a resting order; its reservation is released.
    pub fn cancel(
        &mut self,
        id: OrderId,
        owner: Option<AccountId>,
        ts: Timestamp,
        out: &mut Vec<Event>,
    ) -> Result<(), BookError> {
        let res = self
            .ledger
            .reservation(id)
            .ok_or(BookError::UnknownOrder(id))?;
        let book = self
            .books
            .get_mut(&res.symbol)
            .ok_or(BookError::UnknownOrder(id))?;
        let start = out.len();
        book.cancel(id, owner, ts, out)?;
        Self::apply(&mut self.ledger, &out[start..]);
        Ok(())
    }

    /// Replace a resting order's price and/or remaining quantity, resizing
    /// its reservation first (a replace the account cannot pay for is
    /// refused and changes nothing).
    pub fn replace(
        &mut self,
        id: OrderId,
        owner: Option<AccountId>,
        price: Option<Price>,
        remaining: Option<Quantity>,
        ts: Timestamp,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let res = self
            .ledger
            .reservation(id)
            .ok_or(RejectReason::UnknownOrder)?;
        let book = self
            .books
            .get_mut(&res.symbol)
            .ok_or(RejectReason::UnknownOrder)?;
        let state = book.order(id).ok_or(RejectReason::UnknownOrder)?;
        if owner.is_some_and(|o| o != state.account) {
            return Err(RejectReason::UnknownOrder);
        }
        let new_price = price.unwrap_or(state.price);
        if !new_price.is_positive() {
            return Err(RejectReason::NonPositivePrice);
        }
        if !new_price.is_on_grid(book.tick()) {
            return Err(RejectReason::OffTickGrid);
        }
        let new_remaining = remaining.map_or(state.remaining, Quantity::get);
        self.ledger
            .resize(id, new_price, new_remaining)
            .map_err(|e| e.reason())?;
        let start = out.len();
        book.replace(id, owner, price, remaining, ts, out)
            .map_err(|e| e.reason())?;
        Self::apply(&mut self.ledger, &out[start..]);
        Ok(())
    }

    /// End of day on every book: DAY orders expire, reservations released.
    pub fn end_of_day(&mut self, ts: Timestamp, out: &mut Vec<Event>) {
        for book in self.books.values_mut() {
            let start = out.len();
            book.expire_day_orders(ts, out);
            Self::apply(&mut self.ledger, &out[start..]);
        }
    }

    fn apply(ledger: &mut Ledger, events: &[Event]) {
        for e in events {
            match e {
                Event::Trade(t) => {
                    // Reservations always cover a fill (checked by the
                    // property tests); a failure here is a broken invariant.
                    let settled = ledger.settle(t);
                    debug_assert!(settled.is_ok(), "settlement failed: {settled:?} for {t:?}");
                }
                e if e.is_terminal() => {
                    // Rejected orders never got a reservation; ignore those.
                    let _ = ledger.release(e.order());
                }
                _ => {}
            }
        }
    }
}
