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

async fn stream(
    State(feed): State<Feed>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let events = BroadcastStream::new(feed.subscribe()).map(|m| {
        Ok(match m {
            Ok((kind, json)) => Event::default().event(kind).data(json),
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
        })
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The relay's routes over `feed`.
pub fn router(feed: Feed) -> Router {
    Router::new()
        .route("/v1/stream", get(stream))
        .route("/health", get(|| async { "ok" }))
        .with_state(feed)
}
