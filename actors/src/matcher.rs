//! The order matcher's routing: validate, reserve with the owning account,
//! route to the symbol's ticker, route fills back to both sides for
//! settlement, release what is left.
//!
//! Batches flow through three phases, each one message per actor involved:
//! reserve (per account actor), match (per ticker, tickers in parallel),
//! settle (per account actor, without waiting: mailboxes are FIFO, so any
//! later request sees the settlement). Output order is deterministic: the
//! commands' order within a ticker, tickers in symbol order.

use std::collections::BTreeMap;

use engine::{
    AccountId, BookError, Event, Order, OrderId, Price, Quantity, RejectReason, Symbol, Timestamp,
};
use futures::future::join_all;

use crate::ActorError;
use crate::account::{AccountCmd, AccountHandle};
use crate::directory::Directory;
use crate::ticker::{BookCmd, TickerSnapshot};

/// One instruction to the market.
#[derive(Clone, Copy, Debug)]
pub enum Command {
    Place(Order),
    Cancel {
        id: OrderId,
        account: AccountId,
        symbol: Symbol,
    },
}

/// What a batch produced.
#[derive(Debug, Default)]
pub struct Routed {
    /// Events with their symbol, in deterministic order: rejections first
    /// (in command order), then each ticker's events in symbol order.
    pub events: Vec<(Symbol, Event)>,
    /// Cancels the book refused (not resting, or not the caller's).
    pub refused: Vec<(OrderId, BookError)>,
    /// Each touched ticker's state after the batch.
    pub snapshots: Vec<TickerSnapshot>,
    /// Actors that failed during the batch. Their commands were not
    /// applied: placements are rejected (`market_unavailable`) with their
    /// reservations released, cancels refused; everything else in the
    /// batch was routed, settled and is in `events`.
    pub failures: Vec<ActorError>,
}

fn group_by_actor<T>(dir: &Directory, items: Vec<(AccountId, T)>) -> Vec<(AccountHandle, Vec<T>)> {
    crate::account::group_by_actor(items.into_iter().map(|(acc, t)| (dir.account(acc), t)))
}

/// Route one batch of commands at time `ts`.
///
/// A failing actor costs only its own commands (audit M4): an account
/// actor that fails in phase 1 made no reservations (its orders are
/// rejected); a ticker that fails in phase 2 applied none of its batch
/// (its placements are rejected and their reservations released through
/// settlement); settlement in phase 3 is retried until the restarted actor
/// takes it, so trades that matched are always settled and returned.
pub async fn route(dir: &Directory, ts: Timestamp, cmds: Vec<Command>) -> Routed {
    let mut out = Routed::default();

    // Phase 1: reserve every placement with its account's actor.
    let mut accepted = vec![true; cmds.len()];
    let mut rejections: Vec<(usize, (Symbol, Event))> = Vec::new();
    let mut places = Vec::with_capacity(cmds.len());
    for (i, c) in cmds.iter().enumerate() {
        if let Command::Place(o) = c {
            if dir.ticker(o.symbol()).is_none() {
                accepted[i] = false;
                rejections.push((i, (o.symbol(), reject(o, RejectReason::UnknownSymbol, ts))));
            } else {
                places.push((o.account(), (i, *o)));
            }
        }
    }
    let groups = group_by_actor(dir, places);
    let replies = join_all(
        groups
            .iter()
            .map(|(h, items)| h.reserve(items.iter().map(|(_, o)| *o).collect())),
    )
    .await;
    for ((_, items), reply) in groups.iter().zip(replies) {
        let results = match reply {
            Ok(r) => r.into_iter().map(|r| r.err().map(|e| e.reason())).collect(),
            Err(e) => {
                out.failures.push(e);
                vec![Some(RejectReason::MarketUnavailable); items.len()]
            }
        };
        for ((i, o), refused) in items.iter().zip(results) {
            if let Some(reason) = refused {
                accepted[*i] = false;
                rejections.push((*i, (o.symbol(), reject(o, reason, ts))));
            }
        }
    }
    rejections.sort_by_key(|(i, _)| *i);
    out.events.extend(rejections.into_iter().map(|(_, e)| e));

    // Phase 2: match, one batch per ticker, tickers in parallel.
    let mut per_symbol: BTreeMap<Symbol, Vec<BookCmd>> = BTreeMap::new();
    for (i, c) in cmds.iter().enumerate() {
        match *c {
            Command::Place(o) if accepted[i] => per_symbol
                .entry(o.symbol())
                .or_default()
                .push(BookCmd::Place(o)),
            Command::Cancel {
                id,
                account,
                symbol,
            } => {
                if dir.ticker(symbol).is_some() {
                    per_symbol.entry(symbol).or_default().push(BookCmd::Cancel {
                        id,
                        owner: Some(account),
                    });
                } else {
                    out.refused.push((id, BookError::UnknownOrder(id)));
                }
            }
            Command::Place(_) => {}
        }
    }
    let calls = per_symbol.into_iter().filter_map(|(s, batch)| {
        let t = dir.ticker(s)?;
        Some(async move { (s, batch.clone(), t.batch(ts, batch).await) })
    });
    let start = out.events.len();
    for (symbol, batch, reply) in join_all(calls).await {
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                // The ticker applied none of the batch.
                out.failures.push(e);
                for cmd in &batch {
                    match cmd {
                        BookCmd::Place(o) => out
                            .events
                            .push((symbol, reject(o, RejectReason::MarketUnavailable, ts))),
                        BookCmd::Cancel { id, .. } | BookCmd::Replace { id, .. } => {
                            out.refused.push((*id, BookError::UnknownOrder(*id)));
                        }
                    }
                }
                continue;
            }
        };
        for (cmd, r) in batch.iter().zip(&reply.results) {
            if let (BookCmd::Cancel { id, .. }, Err(e)) = (cmd, r) {
                out.refused.push((*id, *e));
            }
        }
        out.events
            .extend(reply.events.into_iter().map(|e| (symbol, e)));
        out.snapshots.push(reply.snapshot);
    }
    for e in &out.failures {
        metrics::counter!("marketsim_route_failures_total").increment(1);
        tracing::warn!(error = %e, "an actor failed while routing; its commands were not applied");
    }

    // Phase 3: settlement and releases go to the actors that hold them
    // (book rejections included: they release what phase 1 reserved).
    settle(dir, &out.events[start..]).await;
    out
}

/// How often a settlement an actor lost (it died first) is sent again.
const SETTLE_RETRIES: u32 = 200;

/// Send trades and terminal events to the account actors they concern.
/// Each actor's settlement is queued at once, in order (a later request
/// of the same actor sees it); its confirmation is awaited off the
/// caller's path, and a settlement an actor lost by failing is sent again
/// once the supervisor has restarted it (from its journal, which never got
/// it), so a matched trade is never left unsettled. Resolves once queued.
pub async fn settle(dir: &Directory, events: &[(Symbol, Event)]) {
    let mut items = Vec::with_capacity(events.len() + events.len() / 2);
    for (_, e) in events {
        match e {
            Event::Trade(t) => {
                items.push((t.buyer().1, *e));
                if t.seller().1 != t.buyer().1 {
                    items.push((t.seller().1, *e));
                }
            }
            Event::Filled { account, .. }
            | Event::Cancelled { account, .. }
            | Event::Expired { account, .. }
            | Event::Rejected { account, .. } => items.push((*account, *e)),
            _ => {}
        }
    }
    let mut pending = Vec::new();
    for (h, mut evs) in group_by_actor(dir, items) {
        // A trade between two accounts of one actor appears once per side.
        evs.dedup();
        let queued = h.settle_queued(evs.clone()).await;
        pending.push((h, evs, queued));
    }
    if pending.is_empty() {
        return;
    }
    // One task confirms the batch's settlements (and re-sends a lost one).
    tokio::spawn(join_all(pending.into_iter().map(
        |(h, evs, queued)| async move {
            let first = match queued {
                Ok(done) => done.await,
                Err(e) => Err(e),
            };
            if first.is_ok() {
                return;
            }
            metrics::counter!("marketsim_settle_retries_total").increment(1);
            for _ in 0..SETTLE_RETRIES {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                if h.settle_wait(evs.clone()).await.is_ok() {
                    return;
                }
            }
            metrics::counter!("marketsim_settle_failures_total").increment(1);
            tracing::error!(events = evs.len(), "settlement could not be delivered");
        },
    )));
}

/// Replace a resting order: resize its reservation with the owner's
/// account, then move it on the book. Refused replaces change nothing.
pub async fn replace(
    dir: &Directory,
    ts: Timestamp,
    id: OrderId,
    account: AccountId,
    symbol: Symbol,
    price: Option<Price>,
    quantity: Option<Quantity>,
) -> Result<Result<Vec<(Symbol, Event)>, RejectReason>, ActorError> {
    let Some(ticker) = dir.ticker(symbol) else {
        return Ok(Err(RejectReason::UnknownSymbol));
    };
    let Some(state) = ticker.order(id).await? else {
        return Ok(Err(RejectReason::UnknownOrder));
    };
    if state.account != account {
        return Ok(Err(RejectReason::UnknownOrder));
    }
    let new_price = price.unwrap_or(state.price);
    if !new_price.is_positive() {
        return Ok(Err(RejectReason::NonPositivePrice));
    }
    if !new_price.is_on_grid(ticker.tick_size()) {
        return Ok(Err(RejectReason::OffTickGrid));
    }
    let remaining = quantity.map_or(state.remaining, Quantity::get);
    let owner = dir.account(account);
    if let Err(e) = owner
        .apply(AccountCmd::Resize(id, new_price, remaining))
        .await?
    {
        return Ok(Err(e.reason()));
    }
    let reply = ticker
        .batch(
            ts,
            vec![BookCmd::Replace {
                id,
                owner: Some(account),
                price,
                quantity,
            }],
        )
        .await?;
    let events: Vec<(Symbol, Event)> = reply.events.into_iter().map(|e| (symbol, e)).collect();
    settle(dir, &events).await;
    match reply.results.first() {
        Some(Err(e)) => Ok(Err(e.reason())),
        _ => Ok(Ok(events)),
    }
}

fn reject(o: &Order, reason: RejectReason, ts: Timestamp) -> Event {
    Event::Rejected {
        order: o.id(),
        account: o.account(),
        reason,
        ts,
    }
}

/// Why a request never became an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("unknown symbol {0}")]
    UnknownSymbol(Symbol),
    #[error(transparent)]
    Invalid(#[from] engine::OrderError),
    #[error(transparent)]
    Actor(#[from] ActorError),
}

impl PlaceError {
    /// The reason a denial records, or `None` when the market failed (an
    /// actor error is not the order's fault and is not a denial).
    pub fn reason(&self) -> Option<engine::RejectReason> {
        match self {
            PlaceError::UnknownSymbol(_) => Some(engine::RejectReason::UnknownSymbol),
            PlaceError::Invalid(e) => Some(e.reason()),
            PlaceError::Actor(_) => None,
        }
    }
}

/// A market order's collar: `delta` through `base`, on the tick grid and
/// never beyond the band: a buy's limit rounds down, a sell's up (at least
/// one tick).
fn collar(side: engine::Side, base: i64, delta: i64, tick: i64) -> Price {
    let raw = match side {
        engine::Side::Buy => base.saturating_add(delta) / tick * tick,
        engine::Side::Sell => {
            let low = (base - delta).max(tick);
            (low + tick - 1) / tick * tick
        }
    };
    Price::from_minor(raw.max(tick))
}

/// Validate a request against its symbol: tick grid, quantity, and a collar
/// for market orders (the worst price the order may trade at).
pub async fn validate(
    dir: &Directory,
    req: engine::OrderRequest,
    collar_bps: u32,
) -> Result<Order, PlaceError> {
    let ticker = dir
        .ticker(req.symbol)
        .ok_or(PlaceError::UnknownSymbol(req.symbol))?;
    let mut req = req;
    if req.order_type == engine::OrderType::Market && req.collar.is_none() {
        let snap = ticker.snapshot().await?;
        req.collar = Some(market_collar(&snap, req.side, collar_bps));
    }
    Ok(Order::new(req, ticker.tick_size())?)
}

/// The furthest price a market order on `side` may trade at: `collar_bps`
/// through the middle of `snap`'s book, on its tick grid. (`validate`
/// asks the ticker for it; a caller validating many orders of a symbol
/// asks once and sets `OrderRequest::collar`.)
pub fn market_collar(snap: &crate::TickerSnapshot, side: engine::Side, collar_bps: u32) -> Price {
    let base = snap.mid().minor();
    let delta = (i128::from(base) * i128::from(collar_bps) / 10_000) as i64;
    collar(side, base, delta, snap.tick.minor())
}

#[cfg(test)]
mod tests {
    use super::collar;
    use engine::{Price, Side};

    #[test]
    fn collars_round_inside_the_band() {
        // 5% of 10.07 is 0.5035 -> 0.50; band [9.57, 10.57] on a 0.05 grid.
        let (base, delta, tick) = (1_007, 50, 5);
        assert_eq!(
            collar(Side::Buy, base, delta, tick),
            Price::from_minor(1_055)
        );
        assert_eq!(
            collar(Side::Sell, base, delta, tick),
            Price::from_minor(960)
        );
        // On the grid already: unchanged.
        assert_eq!(collar(Side::Sell, 1_000, 50, 5), Price::from_minor(950));
        // Never below one tick.
        assert_eq!(collar(Side::Sell, 3, 50, 5), Price::from_minor(5));
    }
}
