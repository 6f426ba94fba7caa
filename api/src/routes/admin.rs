//! Administration: list symbols, set prices, pause the generator.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

use crate::auth::Admin;
use crate::dto::{NewStock, SetPrice, Stock, price};
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::routes::stocks::{stock, symbol};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/stocks", post(list_stock))
        .route("/v1/admin/stocks/{symbol}/price", post(set_price))
        .route("/v1/admin/generator/pause", post(pause))
        .route("/v1/admin/generator/resume", post(resume))
}

/// List a new symbol: its float goes to the house account.
#[utoipa::path(post, path = "/v1/admin/stocks", tag = "admin", security(("bearer" = [])), request_body = NewStock,
    responses((status = 201, body = Stock), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn list_stock(
    State(st): State<AppState>,
    _: Admin,
    Json(b): Json<NewStock>,
) -> Result<(StatusCode, axum::Json<Stock>), ApiError> {
    st.writable()?;
    let s = engine::Symbol::new(&b.symbol)
        .map_err(|e| ApiError::Unprocessable(format!("`symbol`: {e}")))?;
    if st.market.directory().ticker(s).is_some() {
        return Err(ApiError::Conflict(format!("{s} is already listed")));
    }
    let initial = price("initial_price", &b.initial_price)?;
    let tick = b
        .tick_size
        .as_deref()
        .map(|t| price("tick_size", t))
        .transpose()?
        .unwrap_or(actors::Listing::DEFAULT_TICK);
    if !initial.is_on_grid(tick) {
        return Err(ApiError::Unprocessable(format!(
            "`initial_price` {initial} is not a multiple of the tick size {tick}"
        )));
    }
    if b.float == 0 {
        return Err(ApiError::Unprocessable(
            "`float` must be at least 1 share".into(),
        ));
    }
    let mut listing = actors::Listing {
        tick,
        float: b.float,
        ..actors::Listing::new(s, initial)
    };
    if let Some(v) = b.volatility {
        listing.params.volatility = v;
    }
    let model = listing
        .model(initial)
        .map_err(|e| ApiError::Unprocessable(format!("`volatility`: {e}")))?;
    let h = st
        .market
        .list(listing.ticker(actors::TickerConfig {
            ticks_update_stats: true,
        }))
        .await?;
    st.market
        .accounts_of(st.house)
        .apply(actors::account::AccountCmd::Issue(st.house, s, b.float))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let ticket = st.publish(
        vec![
            actors::facts::Fact::Listed {
                symbol: s,
                tick,
                price: initial,
            },
            actors::facts::Fact::Issue {
                account: st.house,
                symbol: s,
                quantity: b.float,
            },
        ],
        &[],
    );
    st.commit(ticket).await?;
    if let Some(c) = &st.cache {
        // The listing changed: cached lists and movers are stale.
        let _ = c.invalidate().await;
    }
    if let Some(g) = &st.generator {
        let stream = st.market.directory().tickers().len() as u64;
        let _ = g.add(s, model, stream, stream);
    }
    Ok((StatusCode::CREATED, axum::Json(stock(&h.snapshot().await?))))
}

/// Set a symbol's reference price.
#[utoipa::path(post, path = "/v1/admin/stocks/{symbol}/price", tag = "admin", security(("bearer" = [])), request_body = SetPrice,
    params(("symbol" = String, Path, description = "Ticker symbol")),
    responses((status = 200, body = Stock), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn set_price(
    State(st): State<AppState>,
    _: Admin,
    Path(sym): Path<String>,
    Json(b): Json<SetPrice>,
) -> Result<axum::Json<Stock>, ApiError> {
    let s = symbol(&sym)?;
    let t = st
        .market
        .directory()
        .ticker(s)
        .ok_or_else(|| ApiError::NotFound(format!("unknown symbol `{sym}`")))?;
    let p = price("price", &b.price)?;
    if !p.is_on_grid(t.tick_size()) {
        return Err(ApiError::Unprocessable(format!(
            "`price` {p} is not a multiple of the tick size {}",
            t.tick_size()
        )));
    }
    match &st.generator {
        Some(g) => {
            let _ = g.set_price(s, p);
        }
        None => t.tick(p, st.now())?,
    }
    // The generator applies it asynchronously; apply here too so the
    // answer shows it (a repeated tick of the same price changes nothing).
    let now = st.now();
    t.tick(p, now)?;
    let ticket = st.publish(
        vec![actors::facts::Fact::Tick {
            symbol: s,
            price: p,
            ts: now,
        }],
        &[],
    );
    st.commit(ticket).await?;
    Ok(axum::Json(stock(&t.snapshot().await?)))
}

fn generator(st: &AppState) -> Result<&actors::GeneratorHandle, ApiError> {
    st.generator
        .as_ref()
        .ok_or_else(|| ApiError::Conflict("this market runs no price generator".into()))
}

/// Pause the random walk.
#[utoipa::path(post, path = "/v1/admin/generator/pause", tag = "admin", security(("bearer" = [])), responses((status = 204)))]
pub async fn pause(State(st): State<AppState>, _: Admin) -> Result<StatusCode, ApiError> {
    generator(&st)?.pause()?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resume the random walk.
#[utoipa::path(post, path = "/v1/admin/generator/resume", tag = "admin", security(("bearer" = [])), responses((status = 204)))]
pub async fn resume(State(st): State<AppState>, _: Admin) -> Result<StatusCode, ApiError> {
    generator(&st)?.resume()?;
    Ok(StatusCode::NO_CONTENT)
}
