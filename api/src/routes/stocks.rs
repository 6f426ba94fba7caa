//! Market data: stocks, books, candles, movers.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use engine::{Candle, Symbol, Timestamp};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::dto::{Book, CandleDto, History, Level, Mover, Movers, Page, Paging, Stock, pct, ts};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/stocks", get(list))
        .route("/v1/stocks/{symbol}", get(one))
        .route("/v1/stocks/{symbol}/book", get(book))
        .route("/v1/stocks/{symbol}/candles", get(candles))
        .route("/v1/stocks/{symbol}/history", get(history))
        .route("/v1/stocks/{symbol}/prices", get(prices))
        .route("/v1/stocks/{symbol}/trades", get(tape))
        .route("/v1/market/movers", get(movers))
}

pub fn symbol(s: &str) -> Result<Symbol, ApiError> {
    Symbol::new(s).map_err(|_| ApiError::NotFound(format!("unknown symbol `{s}`")))
}

fn ticker(st: &AppState, s: &str) -> Result<actors::TickerHandle, ApiError> {
    st.market
        .directory()
        .ticker(symbol(s)?)
        .ok_or_else(|| ApiError::NotFound(format!("unknown symbol `{s}`")))
}

pub fn stock(snap: &actors::TickerSnapshot) -> Stock {
    let s = &snap.stats;
    Stock {
        symbol: snap.symbol.to_string(),
        last: s.last.to_string(),
        change: s.change().to_string(),
        change_pct: pct(s.change_bps()),
        open: s.open.map(|p| p.to_string()),
        high: s.high.to_string(),
        low: s.low.to_string(),
        volume: s.volume,
        bid: snap.bid.map(|l| l.price.to_string()),
        ask: snap.ask.map(|l| l.price.to_string()),
        available_quantity: snap.ask_quantity,
        tick_size: snap.tick.to_string(),
        timestamp: ts(s.last_update),
    }
}

async fn snapshots(st: &AppState) -> Result<Vec<actors::TickerSnapshot>, ApiError> {
    let tickers = st.market.directory().tickers();
    let snaps = futures::future::join_all(tickers.iter().map(|t| t.snapshot())).await;
    snaps
        .into_iter()
        .map(|r| r.map_err(ApiError::from))
        .collect()
}

/// Page bounds: limit 1..=1000 (default 100).
pub fn page_bounds(
    limit: Option<usize>,
    offset: Option<usize>,
) -> Result<(usize, usize), ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(
            "`limit` must be between 1 and 1000".into(),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset > 1_000_000_000 {
        return Err(ApiError::BadRequest(
            "`offset` must be at most 1000000000".into(),
        ));
    }
    Ok((limit, offset))
}

/// Every listed symbol with its day so far.
#[utoipa::path(get, path = "/v1/stocks", tag = "market", params(Paging), responses((status = 200, body = Page<Stock>)))]
pub async fn list(
    State(st): State<AppState>,
    Query(p): Query<Paging>,
) -> Result<axum::response::Response, ApiError> {
    let (limit, offset) = page_bounds(p.limit, p.offset)?;
    st.cached(&format!("stocks:{limit}:{offset}"), async {
        let all: Vec<Stock> = snapshots(&st).await?.iter().map(stock).collect();
        let total = all.len();
        Ok(Page {
            items: all.into_iter().skip(offset).take(limit).collect(),
            total,
            limit,
            offset,
        })
    })
    .await
}

/// One symbol.
#[utoipa::path(get, path = "/v1/stocks/{symbol}", tag = "market",
    params(("symbol" = String, Path, description = "Ticker symbol")),
    responses((status = 200, body = Stock), (status = 404, body = crate::error::Problem)))]
pub async fn one(
    State(st): State<AppState>,
    Path(s): Path<String>,
) -> Result<axum::Json<Stock>, ApiError> {
    Ok(axum::Json(stock(&ticker(&st, &s)?.snapshot().await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DepthQuery {
    /// Levels per side (1 to 100, default 10).
    #[param(minimum = 1, maximum = 100)]
    pub depth: Option<usize>,
}

/// Level-2 depth.
#[utoipa::path(get, path = "/v1/stocks/{symbol}/book", tag = "market",
    params(("symbol" = String, Path, description = "Ticker symbol"), DepthQuery),
    responses((status = 200, body = Book), (status = 404, body = crate::error::Problem)))]
pub async fn book(
    State(st): State<AppState>,
    Path(s): Path<String>,
    Query(q): Query<DepthQuery>,
) -> Result<axum::Json<Book>, ApiError> {
    let depth = q.depth.unwrap_or(10);
    if !(1..=100).contains(&depth) {
        return Err(ApiError::BadRequest(
            "`depth` must be between 1 and 100".into(),
        ));
    }
    let t = ticker(&st, &s)?;
    let (bids, asks) = t.depth(depth).await?;
    Ok(axum::Json(Book {
        symbol: t.symbol().to_string(),
        bids: bids.iter().map(Level::from).collect(),
        asks: asks.iter().map(Level::from).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CandleQuery {
    /// `1m` (default), `5m`, `15m` or `1h`.
    #[param(pattern = r"^(1m|5m|15m|1h)$")]
    pub interval: Option<String>,
    /// RFC 3339 start (inclusive).
    #[param(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub from: Option<String>,
    /// RFC 3339 end (exclusive).
    #[param(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub to: Option<String>,
}

/// An RFC 3339 time or a date in the years 1970 to 2199.
pub fn parse_time(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    const LAST: i64 = 84_006; // 2200-01-01 in days since 1970-01-01
    engine::time::parse_rfc3339(s)
        .filter(|t| (0..LAST).contains(&t.day()))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{field}`: `{s}` is not an RFC 3339 time like 2026-01-05T09:30:00Z (or a date) in the years 1970 to 2199"
            ))
        })
}

/// Merge minute candles into `minutes`-long ones.
fn aggregate(candles: &[Candle], minutes: i64) -> Vec<Candle> {
    let span = minutes * Timestamp::NANOS_PER_MINUTE;
    let mut out: Vec<Candle> = Vec::new();
    for c in candles {
        let start = Timestamp(c.start.nanos().div_euclid(span) * span);
        match out.last_mut() {
            Some(o) if o.start == start => {
                o.high = o.high.max(c.high);
                o.low = o.low.min(c.low);
                o.close = c.close;
                o.volume += c.volume;
                o.trades += c.trades;
            }
            _ => out.push(Candle { start, ..*c }),
        }
    }
    out
}

/// OHLCV candles.
#[utoipa::path(get, path = "/v1/stocks/{symbol}/candles", tag = "market",
    params(("symbol" = String, Path, description = "Ticker symbol"), CandleQuery),
    responses((status = 200, body = [CandleDto]), (status = 400, body = crate::error::Problem)))]
pub async fn candles(
    State(st): State<AppState>,
    Path(s): Path<String>,
    Query(q): Query<CandleQuery>,
) -> Result<axum::Json<Vec<CandleDto>>, ApiError> {
    let minutes = match q.interval.as_deref().unwrap_or("1m") {
        "1m" => 1,
        "5m" => 5,
        "15m" => 15,
        "1h" => 60,
        other => {
            return Err(ApiError::BadRequest(format!(
                "`interval`: `{other}` is not one of 1m, 5m, 15m, 1h"
            )));
        }
    };
    let from = q
        .from
        .as_deref()
        .map(|v| parse_time("from", v))
        .transpose()?
        .unwrap_or(Timestamp(i64::MIN));
    let to =
        q.to.as_deref()
            .map(|v| parse_time("to", v))
            .transpose()?
            .unwrap_or(Timestamp(i64::MAX));
    let t = ticker(&st, &s)?;
    let all = aggregate(&t.candles().await?, minutes);
    Ok(axum::Json(
        all.iter()
            .filter(|c| c.start >= from && c.start < to)
            .map(|c| CandleDto {
                start: ts(c.start),
                open: c.open.to_string(),
                high: c.high.to_string(),
                low: c.low.to_string(),
                close: c.close.to_string(),
                volume: c.volume,
                trades: c.trades,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// RFC 3339 time or a date (inclusive); default: the start of the day
    /// of the symbol's last price.
    #[param(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub from: Option<String>,
    /// RFC 3339 time or a date (inclusive); default: the end of `from`'s
    /// day. Clipped to 31 days after `from`; before `from`: nothing.
    #[param(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub to: Option<String>,
}

/// The end of a range: an RFC 3339 time, or a bare date meaning the whole
/// day.
pub fn parse_until(field: &str, v: &str) -> Result<Timestamp, ApiError> {
    let t = parse_time(field, v)?;
    Ok(if v.len() == 10 {
        Timestamp(t.nanos() + Timestamp::NANOS_PER_DAY - 1)
    } else {
        t
    })
}

/// The longest range one history request may cover.
const HISTORY_MAX_DAYS: i64 = 31;

/// The price per minute by each price's own time: the last price in each
/// minute, carried forward over minutes without one. In the price updater
/// seed's shape (`time` as `HHMMSS`, UTC), with the date of each entry.
#[utoipa::path(get, path = "/v1/stocks/{symbol}/history", tag = "market",
    params(("symbol" = String, Path, description = "Ticker symbol (either case)"), HistoryQuery),
    responses((status = 200, body = History), (status = 400, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn history(
    State(st): State<AppState>,
    Path(s): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<axum::Json<History>, ApiError> {
    let t = ticker(&st, &s)?;
    let from = match q.from.as_deref() {
        Some(v) => parse_time("from", v)?,
        None => {
            let last = t.snapshot().await?.stats.last_update;
            Timestamp(last.day() * Timestamp::NANOS_PER_DAY)
        }
    };
    let to = match q.to.as_deref() {
        Some(v) => parse_until("to", v)?,
        None => Timestamp((from.day() + 1) * Timestamp::NANOS_PER_DAY - 1),
    };
    // At most 31 days from `from`; a `to` before `from` is an empty range.
    let to = to.min(Timestamp(
        (from.day() + HISTORY_MAX_DAYS) * Timestamp::NANOS_PER_DAY - 1,
    ));
    let days = match &st.history {
        Some(h) => match h.minutes(t.symbol(), from, to).await {
            Ok(days) => days,
            // Redis is down: the engine's candles answer.
            Err(_) => from_candles(&t.candles().await?, from, to),
        },
        None => from_candles(&t.candles().await?, from, to),
    };
    let mut out = History {
        symbol: t.symbol().to_string(),
        date: Vec::new(),
        time: Vec::new(),
        price: Vec::new(),
    };
    for h in &days {
        let date = h
            .first()
            .map(|f| engine::time::date(f.day()))
            .unwrap_or_default();
        for (time, price) in h.times().into_iter().zip(h.prices()) {
            out.date.push(date.clone());
            out.time.push(time);
            out.price.push(price.to_string());
        }
    }
    Ok(axum::Json(out))
}

/// A price set from outside the random walk.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PriceDto {
    /// When the price took effect (its own time, RFC 3339).
    pub timestamp: String,
    pub price: String,
    /// `admin`, `replay`, or `task:<id>` (an update or import task).
    pub source: String,
}

/// Every price set from outside the random walk (the admin API, replays,
/// price-update and import tasks), newest first: the share-price-update
/// list. The walk's own moves are in `candles` and `history`.
#[utoipa::path(get, path = "/v1/stocks/{symbol}/prices", tag = "market",
    params(("symbol" = String, Path, description = "Ticker symbol (either case)"), Paging),
    responses((status = 200, body = Page<PriceDto>), (status = 404, body = crate::error::Problem)))]
pub async fn prices(
    State(st): State<AppState>,
    Path(s): Path<String>,
    Query(p): Query<Paging>,
) -> Result<axum::Json<Page<PriceDto>>, ApiError> {
    let (limit, offset) = page_bounds(p.limit, p.offset)?;
    let t = ticker(&st, &s)?;
    let (items, total) = st
        .archive
        .prices(t.symbol(), limit, offset)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(axum::Json(Page {
        items: items
            .into_iter()
            .map(|e| PriceDto {
                timestamp: crate::dto::ts(e.ts),
                price: e.price.to_string(),
                source: e.source.label(),
            })
            .collect(),
        total: total as usize,
        limit,
        offset,
    }))
}

/// Minute histories per day from minute candles (the close of each
/// minute), clipped to `[from, to]`.
fn from_candles(candles: &[Candle], from: Timestamp, to: Timestamp) -> Vec<engine::MinuteHistory> {
    let mut days: Vec<engine::MinuteHistory> = Vec::new();
    let mut day = i64::MIN;
    for c in candles {
        if c.start.day() != day {
            day = c.start.day();
            days.push(engine::MinuteHistory::default());
        }
        if let Some(h) = days.last_mut() {
            let _ = h.record(c.start, c.close);
        }
    }
    days.into_iter()
        .map(|h| h.window(from, to))
        .filter(|h| !h.prices().is_empty())
        .collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TapeQuery {
    /// How many (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

/// One trade on a symbol's tape (no order or account: anyone may read it).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TapeTrade {
    /// The symbol's trade sequence number (gap-free from 1).
    pub trade_id: u64,
    pub price: String,
    pub quantity: u64,
    /// `buy` (the buyer crossed the spread) or `sell`.
    pub taker_side: String,
    pub timestamp: String,
}

/// The symbol's most recent trades, every participant's, newest first
/// (the last 200 are kept; after a restart, those of registered users).
#[utoipa::path(get, path = "/v1/stocks/{symbol}/trades", tag = "market",
    params(("symbol" = String, Path, description = "Ticker symbol (either case)"), TapeQuery),
    responses((status = 200, body = Vec<TapeTrade>), (status = 400, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn tape(
    State(st): State<AppState>,
    Path(s): Path<String>,
    Query(q): Query<TapeQuery>,
) -> Result<axum::Json<Vec<TapeTrade>>, ApiError> {
    let n = q.limit.unwrap_or(50);
    if !(1..=crate::records::TAPE_LEN).contains(&n) {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {}",
            crate::records::TAPE_LEN
        )));
    }
    let t = ticker(&st, &s)?;
    Ok(axum::Json(
        st.records
            .tape(t.symbol(), n)
            .into_iter()
            .map(|t| TapeTrade {
                trade_id: t.seq,
                price: t.price.to_string(),
                quantity: t.quantity,
                taker_side: t.taker_side.as_str().to_string(),
                timestamp: ts(t.ts),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MoversQuery {
    /// How many of each (1 to 100, default 5).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// Top gainers and losers of the day by percent change.
#[utoipa::path(get, path = "/v1/market/movers", tag = "market", params(MoversQuery), responses((status = 200, body = Movers)))]
pub async fn movers(
    State(st): State<AppState>,
    Query(q): Query<MoversQuery>,
) -> Result<axum::response::Response, ApiError> {
    let n = q.limit.unwrap_or(5);
    if !(1..=100).contains(&n) {
        return Err(ApiError::BadRequest(
            "`limit` must be between 1 and 100".into(),
        ));
    }
    st.cached(&format!("movers:{n}"), async {
        let stats: Vec<(Symbol, engine::DayStats)> = snapshots(&st)
            .await?
            .iter()
            .map(|s| (s.symbol, s.stats))
            .collect();
        let (up, down) = engine::stats::movers(&stats, n);
        let m = |(s, d): (Symbol, engine::DayStats)| Mover {
            symbol: s.to_string(),
            last: d.last.to_string(),
            change_pct: pct(d.change_bps()),
        };
        Ok(Movers {
            gainers: up.into_iter().map(m).collect(),
            losers: down.into_iter().map(m).collect(),
        })
    })
    .await
}
