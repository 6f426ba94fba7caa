//! `marketsim relay`: another API process streaming the same market. It
//! subscribes to the ticks and trades a `serve --redis-url` publishes and
//! serves them as server-sent events on `GET /v1/stream` (events `tick` and
//! `trade`, the same JSON as on the Redis channels), so streaming clients
//! can be spread over any number of processes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Sse;
use axum::response::sse::{Event, KeepAlive};
use axum::routing::get;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

type Feed = broadcast::Sender<(&'static str, String)>;

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

/// Run the relay until SIGINT/SIGTERM.
pub async fn run(redis_url: String, prefix: String, listen: String) -> Result<(), String> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| format!("listen: `{listen}` is not an address like 127.0.0.1:8081"))?;
    redis::Client::open(redis_url.as_str()).map_err(|e| format!("redis_url: {e}"))?;
    let (tx, _) = broadcast::channel(4_096);
    tokio::spawn(adapters::redis::relay(redis_url, prefix, tx.clone()));
    let app = Router::new()
        .route("/v1/stream", get(stream))
        .route("/health", get(|| async { "ok" }))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("marketsim relay serving on http://{local} (GET /v1/stream)");
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::serve::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}
