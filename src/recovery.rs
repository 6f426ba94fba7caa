//! Recovery of the live market from PostgreSQL, and the journal's first
//! facts: seed a fresh journal from the market as set up, or restore the
//! market from the folded journal (accounts, holdings, users, their order
//! records, resting orders back in their books).

use std::collections::BTreeMap;
use std::sync::Arc;

use actors::account::AccountCmd;
use actors::facts::Fact;
use actors::ports::FactJournal;
use actors::{Command, MarketHandle};
use adapters::pg::{Database, Durable, OrderRow};
use anyhow::Context;
use engine::{
    AccountId, CancelReason, Event, OrderRequest, OrderType, RejectReason, Symbol, TimeInForce,
    Timestamp,
};

/// Facts describing every account as set up in the actors (fresh start).
pub async fn seed_facts(market: &MarketHandle) -> anyhow::Result<Vec<Fact>> {
    let fee = market.fee_account();
    let mut facts = Vec::new();
    let mut fee_cash = 0i64;
    for h in market.directory().account_actors() {
        for (id, acc) in h.all().await? {
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
pub async fn restore_accounts(market: &MarketHandle, d: &Durable) -> anyhow::Result<()> {
    let fee = market.fee_account();
    let mut per_account: BTreeMap<AccountId, Vec<AccountCmd>> = BTreeMap::new();
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
    let mut handles = Vec::with_capacity(per_account.len());
    for (id, cmds) in per_account {
        let h = if d.users.contains_key(&id) {
            market.own_actor(id).await?
        } else {
            market.accounts_of(id)
        };
        handles.extend(cmds.into_iter().map(|c| (h.clone(), c)));
    }
    for (h, cmds) in actors::account::group_by_actor(handles) {
        for r in h.apply_batch(cmds).await? {
            r.context("restoring accounts")?;
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
) -> anyhow::Result<(Vec<Fact>, usize)> {
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
    let routed = market.submit(ts, cmds).await?;
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
    db: &Database,
    d: &Durable,
    users: &api::Users,
    records: &api::records::Records,
    first_user: u64,
) -> anyhow::Result<()> {
    for (id, u) in &d.users {
        let hash = api::auth::unhex(&u.key_hash)
            .with_context(|| format!("user {}: stored key hash is not 64 hex digits", id.0))?;
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
    let orders = db.user_orders(first_user).await?;
    let trades = db.user_trades(first_user).await?;
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
                status: o.status,
                filled: o.filled,
                filled_value: engine::Money::ZERO,
                reason: o.reason.as_deref().and_then(RejectReason::parse),
                cancel_reason: o.reason.as_deref().and_then(engine::CancelReason::parse),
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
/// subscriber skips ticks, and ticks are skipped while the journal cannot
/// keep up or write, which only costs price history).
pub fn journal_ticks(bus: &actors::EventBus, journal: Arc<dyn FactJournal>) {
    let rx = bus.subscribe();
    tokio::spawn(actors::bus::follow(
        rx,
        "tick journal",
        async move |batch| {
            let facts: Vec<Fact> = batch
                .iter()
                .filter_map(|e| match *e {
                    actors::MarketEvent::Tick { symbol, price, ts } => Some(Fact::Tick {
                        symbol,
                        price,
                        ts,
                        source: None,
                    }),
                    _ => None,
                })
                .collect();
            if journal.healthy() {
                journal.append(facts);
            } else if !facts.is_empty() {
                metrics::counter!("marketsim_ticks_unjournaled_total")
                    .increment(facts.len() as u64);
            }
        },
    ));
}
