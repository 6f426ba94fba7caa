//! Server-sent events: ticks, trades, and the caller's own order updates.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Sse as SseResponse;
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::routing::get;
use engine::Event;
use futures::StreamExt;
use futures::stream::Stream;
use tokio_stream::wrappers::BroadcastStream;

use crate::auth::User;
use crate::dto::ts;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/stream", get(stream))
}

/// A stream of `tick`, `trade` and `order` events (the caller's orders
/// only), and `task` events (the progress of the caller's tasks and of
/// market-wide ones). A client that falls behind gets a `lagged` event with the count of
/// batches it missed.
#[utoipa::path(get, path = "/v1/stream", tag = "market", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream of tick, trade and order events")))]
pub async fn stream(
    State(st): State<AppState>,
    User(me): User,
) -> Result<SseResponse<impl Stream<Item = Result<Sse, Infallible>>>, crate::error::ApiError> {
    // Held by the stream: the slot is given back when it ends.
    let slot = st.limits.stream(me)?;
    let rx = BroadcastStream::new(st.bus.subscribe());
    let events = rx.flat_map(move |batch| {
        let _held = &slot;
        let out: Vec<Result<Sse, Infallible>> = match batch {
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                vec![Ok(Sse::default().event("lagged").data(n.to_string()))]
            }
            Ok(batch) => batch.iter().filter_map(|m| to_sse(m, me)).map(Ok).collect(),
        };
        futures::stream::iter(out)
    });
    // Progress of the caller's tasks and of market-wide ones.
    let tasks = BroadcastStream::new(st.tasks.subscribe()).filter_map(move |t| {
        let ev = match t {
            Ok(t) if t.owner.is_none() || t.owner == Some(me) => Some(Ok(task_event(&t))),
            _ => None,
        };
        std::future::ready(ev)
    });
    let events = futures::stream::select(events, tasks);
    let mut shutdown = st.shutdown.clone();
    let stop = async move {
        if shutdown.wait_for(|v| *v).await.is_err() {
            // No shutdown sender: the stream lives as long as the client.
            std::future::pending::<()>().await;
        }
    };
    Ok(SseResponse::new(events.take_until(stop))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn task_event(t: &actors::task::Task) -> Sse {
    let v = serde_json::json!({"id": t.id, "kind": t.kind.as_str(), "state": t.state.as_str(),
        "done": t.done, "total": t.total, "applied": t.applied, "refused": t.refused,
        "timestamp": ts(t.updated_at)});
    Sse::default().event("task").data(v.to_string())
}

fn to_sse(m: &actors::MarketEvent, me: engine::AccountId) -> Option<Sse> {
    let (kind, v) = match *m {
        actors::MarketEvent::Tick {
            symbol,
            price,
            ts: t,
        } => (
            "tick",
            serde_json::json!({"symbol": symbol.as_str(), "price": price.to_string(), "timestamp": ts(t)}),
        ),
        actors::MarketEvent::Order {
            symbol,
            event: Event::Trade(t),
        } => (
            "trade",
            serde_json::json!({"symbol": symbol.as_str(), "trade_id": t.seq, "price": t.price.to_string(),
                "quantity": t.quantity, "taker_side": t.taker_side.as_str(), "timestamp": ts(t.ts)}),
        ),
        actors::MarketEvent::Order { symbol, event } => {
            let (order, account, status, t) = match event {
                Event::Accepted {
                    order, account, ts, ..
                } => (order, account, "accepted", ts),
                Event::Rejected {
                    order, account, ts, ..
                } => (order, account, "denied", ts),
                Event::PartiallyFilled {
                    order, account, ts, ..
                } => (order, account, "partially_filled", ts),
                Event::Filled { order, account, ts } => (order, account, "filled", ts),
                Event::Cancelled {
                    order, account, ts, ..
                } => (order, account, "cancelled", ts),
                Event::Expired {
                    order, account, ts, ..
                } => (order, account, "expired", ts),
                Event::Replaced {
                    order, account, ts, ..
                } => (order, account, "replaced", ts),
                Event::Trade(_) => return None,
            };
            if account != me {
                return None;
            }
            (
                "order",
                serde_json::json!({"symbol": symbol.as_str(), "order_id": order.0, "status": status, "timestamp": ts(t)}),
            )
        }
        actors::MarketEvent::Candle { .. } => return None,
    };
    Some(Sse::default().event(kind).data(v.to_string()))
}
