//! Health and metrics.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::dto::Health;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
pub async fn health(State(st): State<AppState>) -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        symbols: st.market.directory().ticker_count(),
        users: st.users.len(),
    })
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics_text(State(st): State<AppState>) -> impl IntoResponse {
    let now = st.now();
    for t in st.market.directory().tickers() {
        let s = t.symbol().to_string();
        metrics::gauge!("marketsim_actor_mailbox_depth", "actor" => format!("ticker:{s}"))
            .set(t.in_flight() as f64);
        if let Ok(snap) = t.snapshot().await {
            if snap.stats.last_update.nanos() > 0 {
                let lag = (now.nanos() - snap.stats.last_update.nanos()) as f64 / 1e9;
                metrics::gauge!("marketsim_tick_lag_seconds", "symbol" => s).set(lag.max(0.0));
            }
        }
    }
    for (i, h) in st.market.directory().shards().iter().enumerate() {
        metrics::gauge!("marketsim_actor_mailbox_depth", "actor" => format!("accounts:{i}"))
            .set(h.in_flight() as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics_handle().render(),
    )
}
