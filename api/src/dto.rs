//! Wire types: JSON in snake_case, money and prices as decimal strings,
//! timestamps RFC 3339.

use engine::time::rfc3339;
use engine::{DepthLevel, Money, Price, Side, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::records::{Fill, Liquidity, OrderRecord};

pub fn ts(t: Timestamp) -> String {
    rfc3339(t)
}

/// `bps` as a percentage with two decimals: 123 -> "1.23".
pub fn pct(bps: i64) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let a = bps.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "ann"}))]
pub struct NewUser {
    /// Display name, 1 to 64 characters, not all blank (white space is
    /// trimmed).
    #[schema(min_length = 1, max_length = 64, pattern = r"[^\s\u0085]")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub user_id: u64,
    pub name: String,
    /// Shown once: keep it. Send it as `Authorization: Bearer <api_key>`.
    pub api_key: String,
    pub cash: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub user_id: u64,
    pub name: String,
    /// Total cash, reserved part included.
    pub cash: String,
    /// Cash held back by open buy orders.
    pub reserved_cash: String,
    pub available_cash: String,
    /// Cash plus holdings at their last prices.
    pub equity: String,
    /// Holdings' change in value since the day's reference prices.
    pub day_pnl: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stock {
    pub symbol: String,
    pub last: String,
    pub change: String,
    /// Percent change from the day's reference price, e.g. "1.25".
    pub change_pct: String,
    pub open: Option<String>,
    pub high: String,
    pub low: String,
    pub volume: u64,
    pub bid: Option<String>,
    pub ask: Option<String>,
    /// Shares offered for sale on the book now (a new listing: the float
    /// the house offers at its initial price).
    pub available_quantity: u64,
    pub tick_size: String,
    pub timestamp: String,
}

/// A minute price history: parallel arrays, one entry per minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub symbol: String,
    /// UTC date of each entry, `YYYY-MM-DD`.
    pub date: Vec<String>,
    /// UTC time of day of each minute, `HHMMSS`.
    pub time: Vec<String>,
    /// Last price in that minute (carried forward), decimal string.
    pub price: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// Items per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Items to skip (at most 1,000,000,000).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Level {
    pub price: String,
    pub quantity: u64,
    pub orders: u32,
}

impl From<&DepthLevel> for Level {
    fn from(l: &DepthLevel) -> Self {
        Level {
            price: l.price.to_string(),
            quantity: l.quantity,
            orders: l.orders,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Book {
    pub symbol: String,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandleDto {
    pub start: String,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: u64,
    pub trades: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Mover {
    pub symbol: String,
    pub last: String,
    pub change_pct: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Movers {
    pub gainers: Vec<Mover>,
    pub losers: Vec<Mover>,
}

#[derive(Debug, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SideDto {
    Buy,
    Sell,
}

impl From<SideDto> for Side {
    fn from(s: SideDto) -> Side {
        match s {
            SideDto::Buy => Side::Buy,
            SideDto::Sell => Side::Sell,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum TypeDto {
    Market,
    Limit,
}

#[derive(Debug, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum TifDto {
    Gtc,
    Ioc,
    Fok,
    Day,
}

/// `POST /v1/orders` as read. Which fields a market and a limit order take
/// is stated by `NewOrder` (the documented schema); the handler enforces it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    pub symbol: String,
    pub side: SideDto,
    #[serde(rename = "type")]
    pub order_type: TypeDto,
    pub quantity: u64,
    /// Absent, `null`, or a price: `Some(None)` is an explicit `null`.
    #[serde(default, deserialize_with = "present")]
    pub limit_price: Option<Option<String>>,
    pub time_in_force: Option<TifDto>,
    pub client_order_id: Option<String>,
}

/// A field that is present (even as `null`) is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A new order: a market order (no `limit_price`) or a limit order
/// (`limit_price` required), told apart by `type`.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "type", mapping(
    ("market" = "#/components/schemas/MarketOrder"),
    ("limit" = "#/components/schemas/LimitOrder")
)))]
#[allow(dead_code)]
pub enum NewOrder {
    Market(MarketOrder),
    Limit(LimitOrder),
}

/// `market`.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum MarketKind {
    Market,
}

/// `limit`.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum LimitKind {
    Limit,
}

/// Trades now against the best resting prices, at most `collar_bps` through
/// the price; what cannot trade is cancelled (it never rests).
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "market", "symbol": "ACME", "side": "buy", "quantity": 10}))]
#[allow(dead_code)]
pub struct MarketOrder {
    #[serde(rename = "type")]
    pub kind: MarketKind,
    /// A ticker symbol, either case.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9.-]{0,14}$")]
    pub symbol: String,
    pub side: SideDto,
    /// Whole shares, at least 1.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub quantity: u64,
    /// Default `gtc`; a market order behaves as `ioc` (or `fok`).
    pub time_in_force: Option<TifDto>,
    /// Your own id: a retry with the same id places nothing and gets the
    /// first request's answer (same status and body) once it is durable.
    #[schema(min_length = 1, max_length = 36, pattern = r"^[!-~]+$")]
    pub client_order_id: Option<String>,
}

/// Trades at `limit_price` or better; what does not trade rests in the
/// book (`gtc`, `day`) or is cancelled (`ioc`, `fok`: all or nothing).
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "limit", "symbol": "ACME", "side": "buy", "quantity": 10, "limit_price": "101.00", "client_order_id": "my-order-1"}))]
#[allow(dead_code)]
pub struct LimitOrder {
    #[serde(rename = "type")]
    pub kind: LimitKind,
    /// A ticker symbol, either case.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9.-]{0,14}$")]
    pub symbol: String,
    pub side: SideDto,
    /// Whole shares, at least 1.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub quantity: u64,
    /// A positive decimal with at most two places, on the symbol's tick grid.
    #[schema(pattern = r"^(?=.*[1-9])[0-9]{1,12}(\.[0-9]{1,2})?$")]
    pub limit_price: String,
    /// Default `gtc`.
    pub time_in_force: Option<TifDto>,
    /// Your own id: a retry with the same id places nothing and gets the
    /// first request's answer (same status and body) once it is durable.
    #[schema(min_length = 1, max_length = 36, pattern = r"^[!-~]+$")]
    pub client_order_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema, Clone)]
pub struct FillDto {
    pub trade_id: u64,
    pub order_id: u64,
    pub symbol: String,
    pub side: String,
    pub price: String,
    pub quantity: u64,
    /// `maker` (your order rested) or `taker`.
    pub liquidity: String,
    pub timestamp: String,
}

impl From<&Fill> for FillDto {
    fn from(f: &Fill) -> Self {
        FillDto {
            trade_id: f.trade_seq,
            order_id: f.order.0,
            symbol: f.symbol.to_string(),
            side: f.side.as_str().to_string(),
            price: f.price.to_string(),
            quantity: f.quantity,
            liquidity: match f.liquidity {
                Liquidity::Maker => "maker",
                Liquidity::Taker => "taker",
            }
            .to_string(),
            timestamp: ts(f.ts),
        }
    }
}

#[derive(Debug, Serialize, ToSchema, Clone)]
pub struct OrderDto {
    pub id: u64,
    pub client_order_id: Option<String>,
    pub symbol: String,
    pub side: String,
    #[serde(rename = "type")]
    pub order_type: String,
    pub quantity: u64,
    pub limit_price: Option<String>,
    pub time_in_force: String,
    /// accepted, partially_filled, filled, cancelled, expired or denied.
    pub status: String,
    pub filled_quantity: u64,
    pub remaining_quantity: u64,
    pub average_price: Option<String>,
    /// Why a denied order was denied (e.g. `insufficient_cash`), or why a
    /// cancelled one was cancelled (`requested`, `unfilled`, `killed`,
    /// `self_trade`).
    pub reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Fills of this order made by this request (on create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fills: Option<Vec<FillDto>>,
}

impl From<&OrderRecord> for OrderDto {
    fn from(r: &OrderRecord) -> Self {
        let avg = (r.filled > 0)
            .then(|| Money::from_minor(r.filled_value.minor() / r.filled as i64).to_string());
        let open = r.status.is_open();
        OrderDto {
            id: r.id.0,
            client_order_id: r.client_order_id.map(|c| c.to_string()),
            symbol: r.symbol.to_string(),
            side: r.side.as_str().to_string(),
            order_type: r.order_type.as_str().to_string(),
            quantity: r.quantity,
            limit_price: r.limit_price.map(|p| p.to_string()),
            time_in_force: r.time_in_force.as_str().to_string(),
            status: r.status.as_str().to_string(),
            filled_quantity: r.filled,
            remaining_quantity: if open {
                r.quantity - r.filled.min(r.quantity)
            } else {
                0
            },
            average_price: avg,
            reason: r
                .reason
                .map(|x| x.as_str())
                .or(r.cancel_reason.map(|x| x.as_str()))
                .map(str::to_string),
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
            fills: None,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Comma-separated statuses to include, e.g. `accepted,partially_filled`.
    #[param(
        pattern = r"^(accepted|partially_filled|filled|cancelled|expired|denied)(,(accepted|partially_filled|filled|cancelled|expired|denied))*$"
    )]
    pub status: Option<String>,
    #[param(pattern = r"^[A-Za-z][A-Za-z0-9.-]{0,14}$")]
    pub symbol: Option<String>,
    /// `buy` or `sell`.
    #[param(pattern = r"^(buy|sell)$")]
    pub side: Option<String>,
    /// RFC 3339 time, a date, or `today` (start of the current UTC day).
    #[param(
        pattern = r"^today$|^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub created_from: Option<String>,
    /// RFC 3339 time, a date, or `today` (exclusive).
    #[param(
        pattern = r"^today$|^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub created_to: Option<String>,
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub min_quantity: Option<u64>,
    /// How `status` and the created range combine: `and` (default) or `or`.
    #[param(pattern = r"^(and|or)$")]
    pub combine: Option<String>,
    /// Comma-separated statuses to exclude when the quantity is below
    /// `exclude_quantity_below`.
    #[param(
        pattern = r"^(accepted|partially_filled|filled|cancelled|expired|denied)(,(accepted|partially_filled|filled|cancelled|expired|denied))*$"
    )]
    pub exclude_status: Option<String>,
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub exclude_quantity_below: Option<u64>,
    /// `created_at` or `-created_at` (default, newest first), `quantity`, `-quantity`.
    #[param(pattern = r"^-?(created_at|quantity)$")]
    pub sort: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldingDto {
    pub symbol: String,
    pub quantity: u64,
    pub average_cost: String,
    pub invested: String,
    pub current_price: String,
    pub current_value: String,
    pub unrealized_pnl: String,
    pub unrealized_pnl_pct: String,
    /// `gain`, `loss` or `flat`.
    pub result: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Portfolio {
    pub holdings: Vec<HoldingDto>,
    pub total_invested: String,
    pub total_value: String,
    pub total_unrealized_pnl: String,
    pub total_unrealized_pnl_pct: String,
    pub cash: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"symbol": "NEWCO", "initial_price": "10.00", "float": 10000}))]
pub struct NewStock {
    /// A new ticker symbol, either case.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9.-]{0,14}$")]
    pub symbol: String,
    /// A positive decimal with at most two places, a multiple of `tick_size`.
    #[schema(pattern = r"^(?=.*[1-9])[0-9]{1,12}(\.[0-9]{1,2})?$")]
    pub initial_price: String,
    /// Default "0.01".
    #[schema(pattern = r"^(?=.*[1-9])[0-9]{1,12}(\.[0-9]{1,2})?$")]
    pub tick_size: Option<String>,
    /// Shares issued into the house account and offered (default 10,000).
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub float: Option<u64>,
    /// When it is listed (RFC 3339; default now): its first price's time.
    #[schema(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub ts: Option<String>,
    /// Annualised volatility of its random walk (default 0.2, as for every listing).
    #[schema(minimum = 0.0, maximum = 10.0)]
    pub volatility: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"price": "101.25", "ts": "2026-01-05T09:30:00Z"}))]
pub struct SetPrice {
    /// A positive decimal with at most two places, on the symbol's tick grid.
    #[schema(pattern = r"^(?=.*[1-9])[0-9]{1,12}(\.[0-9]{1,2})?$")]
    pub price: String,
    /// When the price happened (RFC 3339), e.g. a price file's time: history,
    /// candles and day statistics use it, and the symbol leaves the random
    /// walk while such prices arrive (`replay_hold_ms`). Default: now.
    #[schema(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub ts: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub symbols: usize,
    pub users: usize,
}

/// Parse a positive decimal price for a field.
pub fn price(field: &str, s: &str) -> Result<Price, crate::error::ApiError> {
    Price::parse_positive(s)
        .map_err(|e| crate::error::ApiError::Unprocessable(format!("`{field}`: {e}")))
}
