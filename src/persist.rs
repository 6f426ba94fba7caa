//! `marketsim serve` with PostgreSQL: open (connect, migrate, load), seed
//! the journal of a fresh database from the market as set up, or restore
//! the market from the journal (accounts, holdings, users, their order
//! records, resting orders back in their books).

use std::sync::Arc;
use std::time::Duration;

use actors::account::AccountCmd;
use actors::facts::Fact;
use actors::ports::FactJournal;
use actors::{Command, MarketHandle};
use adapters::pg::{self, Durable, OrderRow};
use engine::{
    AccountId, CancelReason, Event, Fees, OrderRequest, OrderType, RejectReason, Symbol,
    TimeInForce, Timestamp,
};
use sqlx::PgPool;

/// Connect, migrate and load the folded state. Errors say what to check.
pub async fn open(
    url: &str,
    fees: Fees,
    fee_account: AccountId,
) -> Result<(PgPool, Durable), String> {
    let pool = pg::connect(url, 4, Duration::from_secs(5))
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL at {}: {e}", redact(url)))?;
    pg::migrate(&pool).await.map_err(|e| e.to_string())?;
    let d = pg::load(&pool, fees, fee_account)
        .await
        .map_err(|e| format!("cannot recover from PostgreSQL: {e}"))?;
    Ok((pool, d))
}

/// `marketsim migrate`: apply the migrations and say where the schema is.
pub async fn migrate_only(url: &str) -> Result<String, String> {
    let pool = pg::connect(url, 1, Duration::from_secs(5))
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL at {}: {e}", redact(url)))?;
    pg::migrate(&pool).await.map_err(|e| e.to_string())?;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{}: schema up to date ({n} migrations applied)",
        redact(url)
    ))
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Facts describing every account as set up in the actors (fresh start).
pub async fn seed_facts(market: &MarketHandle) -> Result<Vec<Fact>, String> {
    let fee = market.fee_account();
    let mut facts = Vec::new();
    let mut fee_cash = 0i64;
    for h in market.directory().account_actors() {
        for (id, acc) in h.all().await.map_err(|e| e.to_string())? {
            if id == fee {
                fee_cash += acc.cash().minor();
                continue;
            }
            facts.push(Fact::Open { account: id });
            if acc.cash().minor() > 0 {
                facts.push(Fact::Deposit {
                    account: id,
                    amount: acc.cash(),
                });
            }
            for (symbol, h) in acc.holdings() {
                if h.quantity > 0 {
                    facts.push(Fact::Issue {
                        account: id,
                        symbol,
                        quantity: h.quantity,
                    });
                }
            }
        }
    }
    facts.push(Fact::Open { account: fee });
    if fee_cash > 0 {
        facts.push(Fact::Deposit {
            account: fee,
            amount: engine::Money::from_minor(fee_cash),
        });
    }
    Ok(facts)
}

/// Put restored cash and holdings into the account actors; registered
/// users get an actor of their own, as at registration.
pub async fn restore_accounts(market: &MarketHandle, d: &Durable) -> Result<(), String> {
    let fee = market.fee_account();
    let mut per_account: std::collections::BTreeMap<AccountId, Vec<AccountCmd>> =
        std::collections::BTreeMap::new();
    for (id, cash) in &d.cash {
        let cmds = per_account.entry(*id).or_default();
        if *id != fee {
            cmds.push(AccountCmd::Open(*id));
        }
        if *cash > 0 {
            cmds.push(AccountCmd::Deposit(*id, engine::Money::from_minor(*cash)));
        }
    }
    for ((id, symbol), q) in &d.holdings {
        if *q > 0 {
            per_account
                .entry(*id)
                .or_default()
                .push(AccountCmd::Issue(*id, *symbol, *q));
        }
    }
    let mut batches: Vec<(actors::AccountHandle, Vec<AccountCmd>)> = Vec::new();
    for (id, cmds) in per_account {
        let h = if d.users.contains_key(&id) {
            market.own_actor(id).await.map_err(|e| e.to_string())?
        } else {
            market.accounts_of(id)
        };
        match batches.iter_mut().find(|(g, _)| g.same(&h)) {
            Some((_, v)) => v.extend(cmds),
            None => batches.push((h, cmds)),
        }
    }
    for (h, cmds) in batches {
        for r in h.apply_batch(cmds).await.map_err(|e| e.to_string())? {
            r.map_err(|e| format!("restoring accounts: {e}"))?;
        }
    }
    Ok(())
}

/// Put resting orders back in their books, oldest first (time priority
/// kept). Orders `keep` refuses (agents' orders, whose agents do not
/// survive a restart) and orders whose price or side never reached the
/// journal are cancelled instead. Returns the facts to journal (the
/// cancellations and anything the books said other than the acceptance).
pub async fn restore_orders(
    market: &MarketHandle,
    open: &[OrderRow],
    keep: impl Fn(&OrderRow) -> bool,
    ts: Timestamp,
) -> Result<(Vec<Fact>, usize), String> {
    let dir = market.directory();
    let mut facts = Vec::new();
    let mut cmds = Vec::new();
    let cancel = |o: &OrderRow| Fact::Event {
        symbol: o.symbol,
        event: Event::Cancelled {
            order: o.id,
            account: o.account,
            remaining: o.remaining,
            reason: CancelReason::Requested,
            ts,
        },
    };
    for o in open {
        let order = match (o.side, o.limit_price, dir.ticker(o.symbol)) {
            (Some(side), Some(price), Some(t)) if keep(o) && o.remaining > 0 => engine::Order::new(
                OrderRequest {
                    id: o.id,
                    account: o.account,
                    symbol: o.symbol,
                    side,
                    order_type: OrderType::Limit,
                    quantity: o.remaining,
                    limit_price: Some(price),
                    collar: None,
                    time_in_force: match o.time_in_force {
                        Some(TimeInForce::Day) => TimeInForce::Day,
                        _ => TimeInForce::Gtc,
                    },
                    client_order_id: o.client_order_id,
                    ts,
                },
                t.tick_size(),
            )
            .ok(),
            _ => None,
        };
        match order {
            Some(order) => cmds.push(Command::Place(order)),
            None => facts.push(cancel(o)),
        }
    }
    let placed = cmds.len();
    let routed = actors::matcher::route(&dir, ts, cmds)
        .await
        .map_err(|e| e.to_string())?;
    for (symbol, e) in routed.events {
        if let Event::Rejected { reason, order, .. } = e {
            tracing::warn!(
                order = order.0,
                reason = reason.as_str(),
                "a restored order was refused"
            );
        }
        if !matches!(e, Event::Accepted { .. }) {
            facts.push(Fact::Event { symbol, event: e });
        }
    }
    Ok((facts, placed))
}

/// Users and their order records, from the tables (call after a
/// checkpoint so they are complete).
pub async fn restore_users(
    pool: &PgPool,
    d: &Durable,
    users: &api::Users,
    records: &api::records::Records,
    first_user: u64,
) -> Result<(), String> {
    for (id, u) in &d.users {
        let hash = api::auth::unhex(&u.key_hash)
            .ok_or_else(|| format!("user {}: stored key hash is not 64 hex digits", id.0))?;
        users.add(
            *id,
            hash,
            api::state::UserInfo {
                name: u.name.clone(),
                created_at: u.created_at,
            },
        );
        users.resume_after(*id);
        records.add_user(*id);
    }
    let orders = pg::user_orders(pool, first_user)
        .await
        .map_err(|e| e.to_string())?;
    let trades = pg::user_trades(pool, first_user)
        .await
        .map_err(|e| e.to_string())?;
    let recs = orders
        .into_iter()
        .filter(|o| d.users.contains_key(&o.account))
        .filter_map(|o| {
            Some(api::records::OrderRecord {
                id: o.id,
                account: o.account,
                client_order_id: o.client_order_id,
                symbol: o.symbol,
                side: o.side?,
                order_type: o.order_type.unwrap_or(OrderType::Limit),
                quantity: o.quantity,
                limit_price: o.limit_price,
                time_in_force: o.time_in_force.unwrap_or(TimeInForce::Gtc),
                status: api::records::OrderStatus::parse(o.status.as_str())?,
                filled: o.filled,
                filled_value: engine::Money::ZERO,
                reason: o.reason.as_deref().and_then(RejectReason::parse),
                created_at: o.created_at,
                updated_at: o.updated_at,
            })
        })
        .collect();
    let events: Vec<(Symbol, Event)> = trades
        .into_iter()
        .map(|t| (t.symbol, Event::Trade(t)))
        .collect();
    records.restore(recs, &events);
    Ok(())
}

/// Journal every reference tick the bus carries (best effort: a lagging
/// subscriber skips ticks, which only costs price history).
pub fn journal_ticks(bus: &actors::EventBus, journal: Arc<dyn FactJournal>) {
    let rx = bus.subscribe();
    tokio::spawn(actors::bus::follow(
        rx,
        "tick journal",
        async move |batch| {
            let facts: Vec<Fact> = batch
                .iter()
                .filter_map(|e| match *e {
                    actors::MarketEvent::Tick { symbol, price, ts } => {
                        Some(Fact::Tick { symbol, price, ts })
                    }
                    _ => None,
                })
                .collect();
            journal.append(facts);
        },
    ));
}

/// Keep Redis current from the bus: quotes, minute history (carried
/// forward every minute even without updates), pub/sub. Best effort: while
/// Redis is down the mirror keeps folding and writes again once it is back.
pub async fn mirror_to_redis(
    bus: &actors::EventBus,
    dir: Arc<actors::Directory>,
    redis: Arc<adapters::redis::RedisStore>,
    clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
) {
    let mut rx = bus.subscribe();
    let mut mirror = adapters::redis::MarketMirror::default();
    // Histories start at start-up with the current prices.
    let now = clock();
    let mut start = Vec::new();
    for t in dir.tickers() {
        if let Ok(snap) = t.snapshot().await {
            start.push(actors::MarketEvent::Tick {
                symbol: snap.symbol,
                price: snap.stats.last,
                ts: now,
            });
        }
    }
    tokio::spawn(async move {
        let quotes = |batch: Vec<actors::MarketEvent>| {
            let dir = dir.clone();
            async move {
                let mut q = std::collections::BTreeMap::new();
                for e in &batch {
                    let (actors::MarketEvent::Tick { symbol, .. }
                    | actors::MarketEvent::Order { symbol, .. }
                    | actors::MarketEvent::Candle { symbol, .. }) = e;
                    if q.contains_key(symbol) {
                        continue;
                    }
                    if let Some(t) = dir.ticker(*symbol) {
                        if let Ok(snap) = t.snapshot().await {
                            q.insert(
                                *symbol,
                                (snap.bid.map(|l| l.price), snap.ask.map(|l| l.price)),
                            );
                        }
                    }
                }
                (batch, q)
            }
        };
        let (b, q) = quotes(start).await;
        mirror.apply(&redis, &b, &q).await;
        let mut minute = tokio::time::interval(Duration::from_secs(60));
        minute.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Ok(batch) => {
                        let (b, q) = quotes(batch.to_vec()).await;
                        mirror.apply(&redis, &b, &q).await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(batches = n, "Redis mirror lagged; batches skipped");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = minute.tick() => {
                    for s in mirror.extend_to(clock()) {
                        if let Some(h) = mirror.history(s) {
                            if redis.put_history(s, h).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgres://h/db"), "postgres://h/db");
    }
}
