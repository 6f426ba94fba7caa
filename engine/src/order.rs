//! Orders: the validated instruction a book accepts.
//!
//! Parse, don't validate: `Order::new` checks quantity, price positivity and
//! the symbol's tick grid, so an invalid order cannot be built.

use std::fmt;

use thiserror::Error;

use crate::money::Price;
use crate::types::{AccountId, OrderId, Quantity, Side, Symbol, Timestamp};

/// How long an order may rest.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub enum TimeInForce {
    /// Good till cancelled.
    #[default]
    Gtc,
    /// Immediate or cancel: whatever does not fill at once is cancelled.
    Ioc,
    /// Fill or kill: fills entirely at once or not at all.
    Fok,
    /// Rests until the end-of-day call expires it.
    Day,
}

impl TimeInForce {
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
            TimeInForce::Day => "day",
        }
    }
    /// The inverse of `as_str`.
    pub fn parse(s: &str) -> Option<TimeInForce> {
        [
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::Day,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
    /// Whether an unfilled remainder may rest on the book.
    pub const fn rests(self) -> bool {
        matches!(self, TimeInForce::Gtc | TimeInForce::Day)
    }
}

/// Market or limit.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OrderType {
    Market,
    Limit,
}

impl OrderType {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
        }
    }
    /// The inverse of `as_str`.
    pub fn parse(s: &str) -> Option<OrderType> {
        [OrderType::Market, OrderType::Limit]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A client's own id for an order (idempotency key): 1 to 36 printable ASCII
/// characters, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientOrderId {
    len: u8,
    bytes: [u8; ClientOrderId::MAX_LEN],
}

impl ClientOrderId {
    pub const MAX_LEN: usize = 36;

    pub fn new(s: &str) -> Result<Self, OrderError> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > Self::MAX_LEN || !b.iter().all(|c| c.is_ascii_graphic()) {
            return Err(OrderError::InvalidClientOrderId(s.to_string()));
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Ok(ClientOrderId {
            len: b.len() as u8,
            bytes,
        })
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientOrderId({})", self.as_str())
    }
}
impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an order request cannot become an order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderError {
    #[error("quantity must be at least 1 share")]
    ZeroQuantity,
    #[error("a limit order needs a limit price")]
    MissingLimitPrice,
    #[error("a market order needs a protection (collar) price")]
    MissingCollar,
    #[error("price {0} must be greater than zero")]
    NonPositivePrice(Price),
    #[error("price {price} is not on the tick grid of {tick}")]
    OffTickGrid { price: Price, tick: Price },
    #[error("client order id `{0}` must be 1 to 36 printable ASCII characters")]
    InvalidClientOrderId(String),
}

impl OrderError {
    /// The reason a denial carries for this error: the one mapping from
    /// validation errors to `RejectReason`.
    pub fn reason(&self) -> crate::RejectReason {
        use crate::RejectReason as R;
        match self {
            OrderError::ZeroQuantity => R::ZeroQuantity,
            OrderError::MissingLimitPrice | OrderError::MissingCollar => R::MissingPrice,
            OrderError::NonPositivePrice(_) => R::NonPositivePrice,
            OrderError::OffTickGrid { .. } => R::OffTickGrid,
            OrderError::InvalidClientOrderId(_) => R::InvalidClientOrderId,
        }
    }
}

/// An order request before validation.
#[derive(Clone, Copy, Debug)]
pub struct OrderRequest {
    pub id: OrderId,
    pub account: AccountId,
    pub symbol: Symbol,
    pub side: Side,
    pub order_type: OrderType,
    pub quantity: u64,
    /// Limit price; required for limit orders, ignored for market orders.
    pub limit_price: Option<Price>,
    /// For market orders: the worst price the order may trade at (a buy
    /// never pays more, a sell never takes less). The ledger reserves cash
    /// for a market buy at this price, so it is required.
    pub collar: Option<Price>,
    pub time_in_force: TimeInForce,
    pub client_order_id: Option<ClientOrderId>,
    pub ts: Timestamp,
}

/// A validated order. Fields are read-only outside the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    id: OrderId,
    account: AccountId,
    symbol: Symbol,
    side: Side,
    order_type: OrderType,
    quantity: Quantity,
    price: Price,
    time_in_force: TimeInForce,
    client_order_id: Option<ClientOrderId>,
    ts: Timestamp,
}

impl Order {
    /// Validate a request against the symbol's tick size.
    ///
    /// Market orders never rest: a market order with GTC or DAY behaves as
    /// IOC; FOK is kept.
    pub fn new(req: OrderRequest, tick: Price) -> Result<Order, OrderError> {
        let quantity = Quantity::new(req.quantity).ok_or(OrderError::ZeroQuantity)?;
        let (price, time_in_force) = match req.order_type {
            OrderType::Limit => {
                let p = req.limit_price.ok_or(OrderError::MissingLimitPrice)?;
                (p, req.time_in_force)
            }
            OrderType::Market => {
                let p = req.collar.ok_or(OrderError::MissingCollar)?;
                let tif = if req.time_in_force == TimeInForce::Fok {
                    TimeInForce::Fok
                } else {
                    TimeInForce::Ioc
                };
                (p, tif)
            }
        };
        if !price.is_positive() {
            return Err(OrderError::NonPositivePrice(price));
        }
        if req.order_type == OrderType::Limit && !price.is_on_grid(tick) {
            return Err(OrderError::OffTickGrid { price, tick });
        }
        Ok(Order {
            id: req.id,
            account: req.account,
            symbol: req.symbol,
            side: req.side,
            order_type: req.order_type,
            quantity,
            price,
            time_in_force,
            client_order_id: req.client_order_id,
            ts: req.ts,
        })
    }

    /// A limit order in one call (tests, agents, benches).
    #[allow(clippy::too_many_arguments)]
    pub fn limit(
        id: OrderId,
        account: AccountId,
        symbol: Symbol,
        side: Side,
        quantity: u64,
        price: Price,
        time_in_force: TimeInForce,
        tick: Price,
        ts: Timestamp,
    ) -> Result<Order, OrderError> {
        Order::new(
            OrderRequest {
                id,
                account,
                symbol,
                side,
                order_type: OrderType::Limit,
                quantity,
                limit_price: Some(price),
                collar: None,
                time_in_force,
                client_order_id: None,
                ts,
            },
            tick,
        )
    }

    /// A market order with its collar price.
    #[allow(clippy::too_many_arguments)]
    pub fn market(
        id: OrderId,
        account: AccountId,
        symbol: Symbol,
        side: Side,
        quantity: u64,
        collar: Price,
        tick: Price,
        ts: Timestamp,
    ) -> Result<Order, OrderError> {
        Order::new(
            OrderRequest {
                id,
                account,
                symbol,
                side,
                order_type: OrderType::Market,
                quantity,
                limit_price: None,
                collar: Some(collar),
                time_in_force: TimeInForce::Ioc,
                client_order_id: None,
                ts,
            },
            tick,
        )
    }

    pub fn id(&self) -> OrderId {
        self.id
    }
    pub fn account(&self) -> AccountId {
        self.account
    }
    pub fn symbol(&self) -> Symbol {
        self.symbol
    }
    pub fn side(&self) -> Side {
        self.side
    }
    pub fn order_type(&self) -> OrderType {
        self.order_type
    }
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }
    /// The limit price, or for a market order its collar.
    pub fn price(&self) -> Price {
        self.price
    }
    pub fn time_in_force(&self) -> TimeInForce {
        self.time_in_force
    }
    pub fn client_order_id(&self) -> Option<ClientOrderId> {
        self.client_order_id
    }
    pub fn ts(&self) -> Timestamp {
        self.ts
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ClientOrderId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ClientOrderId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ClientOrderId::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> OrderRequest {
        OrderRequest {
            id: OrderId(1),
            account: AccountId(1),
            symbol: Symbol::new("ABC").unwrap(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            quantity: 10,
            limit_price: Some(Price::from_minor(1005)),
            collar: None,
            time_in_force: TimeInForce::Gtc,
            client_order_id: None,
            ts: Timestamp(0),
        }
    }
    const TICK: Price = Price::from_minor(5);

    #[test]
    fn a_valid_limit_order_is_built() {
        let o = Order::new(req(), TICK).unwrap();
        assert_eq!(o.price(), Price::from_minor(1005));
        assert_eq!(o.quantity().get(), 10);
    }

    #[test]
    fn zero_quantity_is_refused() {
        assert_eq!(
            Order::new(
                OrderRequest {
                    quantity: 0,
                    ..req()
                },
                TICK
            ),
            Err(OrderError::ZeroQuantity)
        );
    }

    #[test]
    fn prices_off_the_tick_grid_are_refused() {
        let r = OrderRequest {
            limit_price: Some(Price::from_minor(1003)),
            ..req()
        };
        assert!(matches!(
            Order::new(r, TICK),
            Err(OrderError::OffTickGrid { .. })
        ));
    }

    #[test]
    fn zero_or_negative_prices_are_refused() {
        for p in [0, -5] {
            let r = OrderRequest {
                limit_price: Some(Price::from_minor(p)),
                ..req()
            };
            assert!(matches!(
                Order::new(r, TICK),
                Err(OrderError::NonPositivePrice(_))
            ));
        }
    }

    #[test]
    fn limit_orders_need_a_price_and_market_orders_a_collar() {
        let r = OrderRequest {
            limit_price: None,
            ..req()
        };
        assert_eq!(Order::new(r, TICK), Err(OrderError::MissingLimitPrice));
        let m = OrderRequest {
            order_type: OrderType::Market,
            ..req()
        };
        assert_eq!(Order::new(m, TICK), Err(OrderError::MissingCollar));
    }

    #[test]
    fn market_orders_never_rest() {
        for tif in [TimeInForce::Gtc, TimeInForce::Day, TimeInForce::Ioc] {
            let m = OrderRequest {
                order_type: OrderType::Market,
                collar: Some(Price::from_minor(2000)),
                time_in_force: tif,
                ..req()
            };
            assert_eq!(
                Order::new(m, TICK).unwrap().time_in_force(),
                TimeInForce::Ioc
            );
        }
    }

    #[test]
    fn client_order_ids_are_bounded_printable_ascii() {
        assert_eq!(ClientOrderId::new("abc-123").unwrap().as_str(), "abc-123");
        assert!(ClientOrderId::new("").is_err());
        assert!(ClientOrderId::new("has space").is_err());
        assert!(ClientOrderId::new(&"x".repeat(37)).is_err());
    }
}
