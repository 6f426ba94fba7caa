//! Background agents for a live market: the scenario's population trading
//! in wall-clock time against the same actors the HTTP API uses.
//!
//! Every `step_ms` of wall time the due agents wake (in wake-up order, ties
//! by agent index), read fresh snapshots, and their orders go through the
//! matcher's routing. Prices come from the live generator, so a
//! random-ticker agent's jump is sent to it as a shock.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actors::kernel::{Action, Population, WakeCtx};
use actors::{Clock, Command, GeneratorHandle, MarketHandle, OrderRouter, TickerSnapshot};
use engine::{AccountId, OrderId, Symbol};

use crate::agents::Agents;
use crate::runner::RunError;
use crate::scenario::Plan;

/// What the live driver needs from its host.
pub struct LiveHooks {
    /// Order ids, shared with every other order source.
    pub ids: Arc<AtomicU64>,
    /// Wall clock.
    pub clock: Clock,
    /// Where the agents' orders go: the market's order router, which
    /// publishes them (journal, records, stream) in book order with every
    /// other source's.
    pub router: OrderRouter,
    /// Where shocks go.
    pub generator: Option<GeneratorHandle>,
    /// The agents' accounts are already open (opened by the host, or
    /// restored): `run_live` does not open them.
    pub accounts_ready: bool,
    /// While this returns true the agents sit out (e.g. the journal cannot
    /// write): nothing is routed.
    pub paused: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl std::fmt::Debug for LiveHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHooks").finish()
    }
}

/// Open the agents' accounts, then trade until `stop` resolves.
pub async fn run_live(
    market: MarketHandle,
    plan: Plan,
    seed: u64,
    hooks: LiveHooks,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    let mut agents = Agents::new(&plan, seed);
    if !hooks.accounts_ready {
        crate::runner::open_accounts(&market, &plan, &agents).await?;
    }
    let dir = market.directory();
    let mut calendar: BinaryHeap<Reverse<(u64, u32)>> =
        agents.schedule().into_iter().map(Reverse).collect();
    let mut tick = tokio::time::interval(Duration::from_millis(plan.scenario.step_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(stop);
    let mut step = 0u64;
    let mut actions = Vec::new();
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(()),
            _ = tick.tick() => {}
        }
        if hooks.paused.as_ref().is_some_and(|p| p()) {
            continue;
        }
        step += 1;
        let ts = hooks.clock.now();
        let mut due = Vec::new();
        while let Some(Reverse((s, a))) = calendar.peek().copied() {
            if s > step {
                break;
            }
            calendar.pop();
            due.push(a);
        }
        if due.is_empty() {
            continue;
        }
        let mut market_view: BTreeMap<Symbol, TickerSnapshot> = BTreeMap::new();
        for t in dir.tickers() {
            market_view.insert(t.symbol(), t.snapshot().await?);
        }
        actions.clear();
        for a in due {
            let ctx = WakeCtx {
                step,
                day: 0,
                ts,
                market: &market_view,
            };
            if let Some(n) = agents.wake(a, &ctx, &mut actions) {
                calendar.push(Reverse((n.max(step + 1), a)));
            }
        }
        let mut cmds = Vec::new();
        for a in &actions {
            match *a {
                Action::Place { .. } => {
                    let id = OrderId(hooks.ids.fetch_add(1, Ordering::Relaxed));
                    // Orders the agent got wrong (off the grid, ...) are dropped.
                    if let Some(Ok(o)) = a.to_order(id, ts, &market_view) {
                        cmds.push(Command::Place(o));
                    }
                }
                Action::Cancel {
                    id,
                    account,
                    symbol,
                } => cmds.push(Command::Cancel {
                    id,
                    account,
                    symbol,
                }),
                Action::Shock { symbol, log_ret } => {
                    if let Some(g) = &hooks.generator {
                        let _ = g.shock(symbol, log_ret);
                    }
                }
            }
        }
        if cmds.is_empty() {
            continue;
        }
        // The agents' batch is one submission (they act in turn); the
        // batch it joins may hold users' orders too: agents read only
        // their own accounts' events.
        let batch = hooks
            .router
            .submit(AccountId::HOUSE, ts, Vec::new(), cmds)
            .await?;
        for (s, e) in &batch.routed.events {
            agents.on_event(*s, e);
        }
    }
}
