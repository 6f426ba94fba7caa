//! The relay's HTTP face: another API process for a market, serving the
//! ticks and trades a `serve --redis-url` publishes as server-sent events
//! on `GET /v1/stream` (events `tick` and `trade`, the JSON of the Redis
//! channels), plus `GET /health`. The feed itself (Redis pub/sub) is wired
//! by the composition root.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Sse;
use axum::response::sse::{Event, KeepAlive};
use axum::routing::get;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Messages to stream: `(event kind, JSON payload)`.
pub type Feed = broadcast::Sender<(&'static str, String)>;

/// The relay's state: its feed, who may stream, and the shutdown watch
/// that ends every stream.
#[derive(Clone, Debug)]
pub struct RelayState {
    pub feed: Feed,
    /// The SHA-256 of the token clients must send as `Authorization:
    /// Bearer`; `None`: public (an explicit setting).
    pub token_hash: Option<[u8; 32]>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

async fn stream(
    State(st): State<RelayState>,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, crate::ApiError> {
    if let Some(want) = &st.token_hash {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(crate::auth::hash_key);
        if !given.is_some_and(|g| crate::auth::same_hash(&g, want)) {
            return Err(crate::ApiError::Unauthorized);
        }
    }
    let events = BroadcastStream::new(st.feed.subscribe()).map(|m| {
        Ok(match m {
            Ok((kind, json)) => Event::default().event(kind).data(json),
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
        })
    });
    let mut shutdown = st.shutdown.clone();
    let stop = async move {
        if shutdown.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    Ok(Sse::new(events.take_until(stop))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The relay's routes.
pub fn router(state: RelayState) -> Router {
    Router::new()
        .route("/v1/stream", get(stream))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}
