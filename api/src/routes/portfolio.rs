//! The caller's holdings valued at the latest prices.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::auth::User;
use crate::dto::{HoldingDto, Portfolio, pct};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/portfolio", get(portfolio))
}

fn pnl_bps(pnl: i64, cost: i64) -> i64 {
    if cost == 0 {
        0
    } else {
        (i128::from(pnl) * 10_000 / i128::from(cost)) as i64
    }
}

/// Per holding: quantity, average cost, invested amount, current value,
/// unrealised P&L and %, and whether it is a gain or a loss; with totals.
#[utoipa::path(get, path = "/v1/portfolio", tag = "trading", security(("bearer" = [])),
    responses((status = 200, body = Portfolio), (status = 401, body = crate::error::Problem)))]
pub async fn portfolio(
    State(st): State<AppState>,
    User(account): User,
) -> Result<axum::Json<Portfolio>, ApiError> {
    let acc = st
        .market
        .accounts_of(account)
        .get(account)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such account".into()))?;
    let positions = st.records.positions_of(account);
    let (mut invested, mut value) = (0i64, 0i64);
    let mut holdings = Vec::new();
    for (symbol, h) in acc.holdings() {
        if h.quantity == 0 {
            continue;
        }
        let last = match st.market.directory().ticker(symbol) {
            Some(t) => t.snapshot().await?.stats.last,
            None => continue,
        };
        let cost = positions.get(&symbol).map_or(0, |p| p.cost.minor());
        let current = last.minor() * h.quantity as i64;
        let pnl = current - cost;
        invested += cost;
        value += current;
        holdings.push(HoldingDto {
            symbol: symbol.to_string(),
            quantity: h.quantity,
            average_cost: engine::Money::from_minor(cost / h.quantity as i64).to_string(),
            invested: engine::Money::from_minor(cost).to_string(),
            current_price: last.to_string(),
            current_value: engine::Money::from_minor(current).to_string(),
            unrealized_pnl: engine::Money::from_minor(pnl).to_string(),
            unrealized_pnl_pct: pct(pnl_bps(pnl, cost)),
            result: match pnl.signum() {
                1 => "gain",
                -1 => "loss",
                _ => "flat",
            }
            .to_string(),
        });
    }
    Ok(axum::Json(Portfolio {
        holdings,
        total_invested: engine::Money::from_minor(invested).to_string(),
        total_value: engine::Money::from_minor(value).to_string(),
        total_unrealized_pnl: engine::Money::from_minor(value - invested).to_string(),
        total_unrealized_pnl_pct: pct(pnl_bps(value - invested, invested)),
        cash: acc.cash().to_string(),
    }))
}
