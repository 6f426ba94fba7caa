//! CSV exports of the caller's own orders and trades, streamed.

use actors::ports::{ExportQuery, ExportWhat};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::User;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/export/orders.csv", get(orders))
        .route("/v1/export/trades.csv", get(trades))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// RFC 3339 time or a date (inclusive); default: the beginning.
    #[param(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub from: Option<String>,
    /// RFC 3339 time or a date (the whole day, inclusive); default: now.
    #[param(
        pattern = r"^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
    )]
    pub to: Option<String>,
    /// Only this symbol.
    #[param(pattern = r"^[A-Za-z][A-Za-z0-9.-]{0,14}$")]
    pub symbol: Option<String>,
}

impl ExportParams {
    pub fn query(
        &self,
        what: ExportWhat,
        account: Option<engine::AccountId>,
    ) -> Result<ExportQuery, ApiError> {
        let (from, to) = crate::export::range(self.from.as_deref(), self.to.as_deref())?;
        let symbol = self
            .symbol
            .as_deref()
            .map(crate::routes::stocks::symbol)
            .transpose()?;
        Ok(ExportQuery {
            what,
            account,
            from,
            to,
            symbol,
        })
    }
}

/// A streamed CSV body; an error mid-way ends the body early (the client
/// sees a cut transfer, never a partial file passed off as whole).
pub fn csv_response(
    stream: futures::stream::BoxStream<'static, Result<String, actors::ports::PortError>>,
    name: &str,
) -> Response {
    let body = axum::body::Body::from_stream(stream.map(|r| {
        r.map_err(|e| {
            tracing::warn!(error = %e, "an export stopped");
            std::io::Error::other(e.to_string())
        })
    }));
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The caller's orders created in `[from, to]`, oldest first, as CSV
/// (streamed from the database with PostgreSQL, once its tables hold
/// everything durable when the request came: a checkpoint follows the
/// journal by a few seconds).
#[utoipa::path(get, path = "/v1/export/orders.csv", tag = "trading", security(("bearer" = [])), params(ExportParams),
    responses((status = 200, content_type = "text/csv", description = "id,time,user,symbol,side,type,time_in_force,quantity,limit_price,status,filled,remaining,reason,client_order_id,updated_at")))]
pub async fn orders(
    State(st): State<AppState>,
    User(me): User,
    Query(p): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let q = p.query(ExportWhat::Orders, Some(me))?;
    Ok(csv_response(crate::export::csv(&st, q), "orders.csv"))
}

/// The caller's trades in `[from, to]`, oldest first, as CSV.
#[utoipa::path(get, path = "/v1/export/trades.csv", tag = "trading", security(("bearer" = [])), params(ExportParams),
    responses((status = 200, content_type = "text/csv", description = "trade_id,time,symbol,price,quantity,taker_side,maker_order,maker_account,taker_order,taker_account")))]
pub async fn trades(
    State(st): State<AppState>,
    User(me): User,
    Query(p): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let q = p.query(ExportWhat::Trades, Some(me))?;
    Ok(csv_response(crate::export::csv(&st, q), "trades.csv"))
}
