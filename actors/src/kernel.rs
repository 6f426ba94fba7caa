//! The simulation kernel: a virtual clock advanced in steps.
//!
//! Each active step: reference prices move (exact GBM over the time since
//! the last move); tickers receive the ticks; due agents decide from the
//! market snapshot in a seeded per-step shuffle order; their orders go
//! through the matcher's routing (reserve, match per ticker, settle); fills
//! and order events go back to the agents. The kernel waits for every reply
//! before the next step. Steps where no agent wakes are skipped, except that
//! prices are recorded at least every `record_every` steps; so an idle
//! stretch of the day costs next to nothing.
//!
//! Determinism: the same population, scenario and seed give the same event
//! log (which `Observer`s see in order; `simulations` hashes it) on any
//! number of worker threads, because
//! every decision uses per-agent or per-symbol seeded streams and every
//! reply is consumed in a fixed order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use engine::{
    AccountId, Event, Order, OrderError, OrderId, OrderRequest, OrderType, Price, Side, Symbol,
    TimeInForce, Timestamp,
};

use crate::ActorError;
use crate::bus::{EventBus, MarketEvent};
use crate::directory::Directory;
use crate::matcher::{Command, route, settle};
use crate::ticker::TickerSnapshot;
use crate::walk::{PriceTick, PriceWalk};

/// Clock and seed of a run.
#[derive(Clone, Copy, Debug)]
pub struct KernelConfig {
    /// Session open of day 0.
    pub start: Timestamp,
    pub step_nanos: i64,
    pub steps_per_day: u64,
    pub days: u32,
    /// Distance between two days' session opens.
    pub day_nanos: i64,
    pub seed: u64,
    /// Prices are moved and recorded at least every this many steps.
    pub record_every: u64,
}

/// What an agent may do when it wakes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    Place {
        account: AccountId,
        symbol: Symbol,
        side: Side,
        order_type: OrderType,
        quantity: u64,
        limit_price: Option<Price>,
        collar: Option<Price>,
        time_in_force: TimeInForce,
    },
    Cancel {
        id: OrderId,
        account: AccountId,
        symbol: Symbol,
    },
    /// Move a symbol's reference price by a log-return (a news jump).
    Shock { symbol: Symbol, log_ret: f64 },
}

impl Action {
    /// For a placement: the order it asks for, as order `id` at `ts`,
    /// validated against the symbol's tick size (one tick if unknown).
    pub fn to_order(
        &self,
        id: OrderId,
        ts: Timestamp,
        market: &BTreeMap<Symbol, TickerSnapshot>,
    ) -> Option<Result<Order, OrderError>> {
        let Action::Place {
            account,
            symbol,
            side,
            order_type,
            quantity,
            limit_price,
            collar,
            time_in_force,
        } = *self
        else {
            return None;
        };
        let tick = market.get(&symbol).map_or(Price::from_minor(1), |m| m.tick);
        let req = OrderRequest {
            id,
            account,
            symbol,
            side,
            order_type,
            quantity,
            limit_price,
            collar,
            time_in_force,
            client_order_id: None,
            ts,
        };
        Some(Order::new(req, tick))
    }
}

/// What a waking agent sees.
#[derive(Debug)]
pub struct WakeCtx<'a> {
    /// Global step number (across days).
    pub step: u64,
    pub day: u32,
    pub ts: Timestamp,
    pub market: &'a BTreeMap<Symbol, TickerSnapshot>,
}

/// A population of agents driven by the kernel.
pub trait Population {
    /// Agents' first wake-ups: `(global step, agent index)`.
    fn schedule(&mut self) -> Vec<(u64, u32)>;
    /// Agent `agent` wakes: push its actions, return its next wake step.
    fn wake(&mut self, agent: u32, ctx: &WakeCtx<'_>, out: &mut Vec<Action>) -> Option<u64>;
    /// An order event for one of the population's accounts.
    fn on_event(&mut self, symbol: Symbol, event: &Event);
}

/// Receives everything that happens, in log order.
pub trait Observer {
    fn on_events(&mut self, _ts: Timestamp, _events: &[(Symbol, Event)]) {}
    fn on_ticks(&mut self, _ticks: &[PriceTick]) {}
    /// Called after each active step with the global step number.
    fn on_progress(&mut self, _step: u64, _total: u64) {}
    /// Called at each day's close with every symbol's state before the
    /// day's statistics roll over.
    fn on_day_close(&mut self, _day: u32, _market: &BTreeMap<Symbol, TickerSnapshot>) {}
    /// Called after each active step with its time and every symbol's
    /// state as the agents see it (book touch, reference price).
    fn on_market(&mut self, _ts: Timestamp, _market: &BTreeMap<Symbol, TickerSnapshot>) {}
}

/// Counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    pub active_steps: u64,
    pub total_steps: u64,
    pub orders: u64,
    pub limit_orders: u64,
    pub market_orders: u64,
    pub denied: u64,
    pub cancel_requests: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub trades: u64,
    pub volume: u64,
    pub fills: u64,
    pub events: u64,
    pub ticks: u64,
    pub shocks: u64,
}

/// SplitMix64: the per-step shuffle key of an agent.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The kernel: a directory of live actors, the price walk and a clock.
#[derive(Debug)]
pub struct Kernel {
    dir: Arc<Directory>,
    walk: PriceWalk,
    cfg: KernelConfig,
    bus: Option<EventBus>,
    next_order: u64,
}

impl Kernel {
    pub fn new(dir: Arc<Directory>, walk: PriceWalk, cfg: KernelConfig) -> Kernel {
        Kernel {
            dir,
            walk,
            cfg,
            bus: None,
            next_order: 1,
        }
    }
    /// Also publish every event on `bus`.
    pub fn with_bus(mut self, bus: EventBus) -> Kernel {
        self.bus = Some(bus);
        self
    }
    pub fn walk(&self) -> &PriceWalk {
        &self.walk
    }

    fn ts_of(&self, step: u64) -> Timestamp {
        let day = step / self.cfg.steps_per_day;
        let s = step % self.cfg.steps_per_day;
        Timestamp(
            self.cfg.start.nanos()
                + day as i64 * self.cfg.day_nanos
                + s as i64 * self.cfg.step_nanos,
        )
    }

    /// Run every day of the scenario.
    pub async fn run<P: Population, O: Observer>(
        &mut self,
        pop: &mut P,
        obs: &mut O,
    ) -> Result<RunStats, ActorError> {
        let mut stats = RunStats::default();
        let mut market: BTreeMap<Symbol, TickerSnapshot> = BTreeMap::new();
        for t in self.dir.tickers() {
            market.insert(t.symbol(), t.snapshot().await?);
        }
        let total = self.cfg.steps_per_day * u64::from(self.cfg.days);
        stats.total_steps = total;
        let mut calendar: BinaryHeap<Reverse<(u64, u32)>> =
            pop.schedule().into_iter().map(Reverse).collect();
        let record = self.cfg.record_every.max(1);
        let step_secs = self.cfg.step_nanos as f64 / 1e9;
        let mut last_move = 0u64;
        let mut due: Vec<(u64, u32)> = Vec::new();
        let mut actions: Vec<Action> = Vec::new();
        let mut ticks: Vec<PriceTick> = Vec::new();

        for day in 0..self.cfg.days {
            let day_start = u64::from(day) * self.cfg.steps_per_day;
            let day_end = day_start + self.cfg.steps_per_day;
            let mut step = day_start;
            loop {
                // Next step with something to do.
                let next_record = if step == day_start {
                    step
                } else {
                    (step / record + 1) * record
                };
                let next_wake = calendar.peek().map_or(u64::MAX, |Reverse((s, _))| *s);
                let next = next_record.min(next_wake).max(step);
                if next >= day_end {
                    break;
                }
                step = next;
                let ts = self.ts_of(step);
                stats.active_steps += 1;

                // Prices move over the time since they last moved.
                ticks.clear();
                let dt = (step - last_move) as f64 * step_secs;
                if step > last_move || step == 0 {
                    self.walk.step(dt, ts, &mut ticks);
                    last_move = step;
                }

                // Due agents, in a seeded per-step shuffle.
                due.clear();
                while let Some(Reverse((s, a))) = calendar.peek().copied() {
                    if s > step {
                        break;
                    }
                    calendar.pop();
                    due.push((
                        mix(self.cfg.seed ^ mix(step) ^ u64::from(a).rotate_left(32)),
                        a,
                    ));
                }
                due.sort_unstable();
                actions.clear();
                for &(_, agent) in &due {
                    let ctx = WakeCtx {
                        step,
                        day,
                        ts,
                        market: &market,
                    };
                    let before = actions.len();
                    let next = pop.wake(agent, &ctx, &mut actions);
                    if let Some(n) = next {
                        calendar.push(Reverse((n.max(step + 1), agent)));
                    }
                    // Shocks apply at once so later agents see them.
                    for a in &actions[before..] {
                        if let Action::Shock { symbol, log_ret } = *a {
                            if let Some(t) = self.walk.shock(symbol, log_ret, ts) {
                                stats.shocks += 1;
                                if let Some(m) = market.get_mut(&symbol) {
                                    m.reference = t.price;
                                }
                                ticks.push(t);
                            }
                        }
                    }
                }
                for t in &ticks {
                    if let Some(h) = self.dir.ticker(t.symbol) {
                        h.tick(t.price, t.ts).await?;
                    }
                    if let Some(m) = market.get_mut(&t.symbol) {
                        m.reference = t.price;
                    }
                }
                stats.ticks += ticks.len() as u64;
                if !ticks.is_empty() {
                    obs.on_ticks(&ticks);
                    if let Some(bus) = &self.bus {
                        bus.publish(
                            ticks
                                .iter()
                                .map(|t| MarketEvent::Tick {
                                    symbol: t.symbol,
                                    price: t.price,
                                    ts: t.ts,
                                })
                                .collect(),
                        );
                    }
                }

                // Orders through the matcher.
                let mut cmds = Vec::with_capacity(actions.len());
                let mut invalid: Vec<(Symbol, Event)> = Vec::new();
                for a in &actions {
                    match *a {
                        Action::Place {
                            account,
                            symbol,
                            order_type,
                            ..
                        } => {
                            let id = OrderId(self.next_order);
                            self.next_order += 1;
                            stats.orders += 1;
                            match order_type {
                                OrderType::Limit => stats.limit_orders += 1,
                                OrderType::Market => stats.market_orders += 1,
                            }
                            match a.to_order(id, ts, &market) {
                                Some(Ok(o)) => cmds.push(Command::Place(o)),
                                Some(Err(e)) => invalid.push((
                                    symbol,
                                    Event::Rejected {
                                        order: id,
                                        account,
                                        reason: e.reason(),
                                        ts,
                                    },
                                )),
                                None => {}
                            }
                        }
                        Action::Cancel {
                            id,
                            account,
                            symbol,
                        } => {
                            stats.cancel_requests += 1;
                            cmds.push(Command::Cancel {
                                id,
                                account,
                                symbol,
                            });
                        }
                        Action::Shock { .. } => {}
                    }
                }
                let mut events = invalid;
                if !cmds.is_empty() {
                    let routed = route(&self.dir, ts, cmds).await;
                    for s in routed.snapshots {
                        let reference = market.get(&s.symbol).map_or(s.reference, |m| m.reference);
                        market.insert(s.symbol, TickerSnapshot { reference, ..s });
                    }
                    events.extend(routed.events);
                }
                self.absorb(&events, pop, obs, &mut stats);
                obs.on_market(ts, &market);
                obs.on_progress(step, total);
                step += 1;
            }

            // Close: DAY orders expire, reservations are released.
            for t in self.dir.tickers() {
                let s = t.snapshot().await?;
                let reference = market.get(&s.symbol).map_or(s.reference, |m| m.reference);
                market.insert(s.symbol, TickerSnapshot { reference, ..s });
            }
            obs.on_day_close(day, &market);
            let close = self.ts_of(day_end - 1);
            let mut events = Vec::new();
            for t in self.dir.tickers() {
                let evs = t.end_of_day(close).await?;
                events.extend(evs.into_iter().map(|e| (t.symbol(), e)));
            }
            settle(&self.dir, &events).await;
            self.absorb(&events, pop, obs, &mut stats);
            for t in self.dir.tickers() {
                market.insert(t.symbol(), t.snapshot().await?);
            }
        }
        // Wait until every settlement is applied before anyone reads accounts.
        for h in self.dir.account_actors() {
            h.settle_wait(Vec::new()).await?;
        }
        Ok(stats)
    }

    fn absorb<P: Population, O: Observer>(
        &self,
        events: &[(Symbol, Event)],
        pop: &mut P,
        obs: &mut O,
        stats: &mut RunStats,
    ) {
        if events.is_empty() {
            return;
        }
        for (s, e) in events {
            match e {
                Event::Rejected { .. } => stats.denied += 1,
                Event::Trade(t) => {
                    stats.trades += 1;
                    stats.volume += t.quantity;
                }
                Event::PartiallyFilled { .. } | Event::Filled { .. } => stats.fills += 1,
                Event::Cancelled { .. } => stats.cancelled += 1,
                Event::Expired { .. } => stats.expired += 1,
                _ => {}
            }
            pop.on_event(*s, e);
        }
        stats.events += events.len() as u64;
        obs.on_events(events[0].1.ts(), events);
        if let Some(bus) = &self.bus {
            bus.publish(
                events
                    .iter()
                    .map(|(s, e)| MarketEvent::Order {
                        symbol: *s,
                        event: *e,
                    })
                    .collect(),
            );
        }
    }
}
