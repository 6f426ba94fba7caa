//! Agent strategies and the population the kernel drives.
//!
//! Each agent owns one account and its own ChaCha stream, so its choices
//! never depend on the order other agents are processed in. Agents learn
//! their orders' fate from events (accepted, fills, cancels), as a real
//! trading program learns from execution reports; the ledger stays the
//! authority and denies what an agent cannot afford.

mod market_maker;
mod momentum;
mod noise;
mod random_ticker;
mod value;

use std::collections::{BTreeMap, VecDeque};

use actors::TickerSnapshot;
use actors::kernel::{Action, Population, WakeCtx};
use engine::{AccountId, Event, Money, OrderId, OrderType, Price, Side, Symbol, TimeInForce};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use rustc_hash::FxHashMap;

use crate::scenario::{AgentKind, AgentType, Plan};

/// An order an agent has working.
#[derive(Clone, Copy, Debug)]
pub struct OpenOrder {
    pub symbol: Symbol,
    pub side: Side,
    pub price: Price,
    pub remaining: u64,
}

/// Strategy memory.
#[derive(Clone, Debug, Default)]
pub enum Memory {
    #[default]
    None,
    /// Value agents: belief about each symbol's fundamental (minor units).
    Beliefs(BTreeMap<Symbol, f64>),
    /// Momentum agents: recent mids per symbol.
    History(BTreeMap<Symbol, VecDeque<i64>>),
}

/// One agent.
#[derive(Clone, Debug)]
pub struct Agent {
    pub kind: AgentKind,
    pub group: usize,
    pub account: AccountId,
    pub symbols: Vec<Symbol>,
    pub start_cash: Money,
    pub start_shares: u64,
    pub rng: ChaCha8Rng,
    pub open: BTreeMap<OrderId, OpenOrder>,
    /// Shares bought minus sold since the start, per symbol.
    pub position: BTreeMap<Symbol, i64>,
    /// Cash received minus paid since the start (fees excluded).
    pub cash_delta: i64,
    pub memory: Memory,
}

impl Agent {
    pub fn position(&self, s: Symbol) -> i64 {
        self.position.get(&s).copied().unwrap_or(0)
    }
    /// Shares it can still offer: held minus what open sells already offer.
    pub fn sellable(&self, s: Symbol) -> u64 {
        let held = self.start_shares as i64 + self.position(s);
        let offered: u64 = self
            .open
            .values()
            .filter(|o| o.symbol == s && o.side == Side::Sell)
            .map(|o| o.remaining)
            .sum();
        (held - offered as i64).max(0) as u64
    }
    /// Cash it can still commit: cash minus what open buys already hold.
    pub fn spendable(&self) -> i64 {
        let committed: i64 = self
            .open
            .values()
            .filter(|o| o.side == Side::Buy)
            .map(|o| o.price.minor().saturating_mul(o.remaining as i64))
            .sum();
        self.start_cash.minor() + self.cash_delta - committed
    }
    pub fn pick_symbol(&mut self) -> Symbol {
        let i = self.rng.random_range(0..self.symbols.len());
        self.symbols[i]
    }
    /// Cancel every open order.
    pub fn cancel_all(&self, out: &mut Vec<Action>) {
        for (id, o) in &self.open {
            out.push(Action::Cancel {
                id: *id,
                account: self.account,
                symbol: o.symbol,
            });
        }
    }
    /// A DAY limit order, if affordable by the agent's own books.
    pub fn limit(
        &self,
        symbol: Symbol,
        side: Side,
        qty: u64,
        price: Price,
        out: &mut Vec<Action>,
    ) -> bool {
        self.limit_tif(symbol, side, qty, price, TimeInForce::Day, out)
    }
    /// A limit order with `tif` (a GTC order rests over the close into the
    /// next day), if affordable by the agent's own books.
    pub fn limit_tif(
        &self,
        symbol: Symbol,
        side: Side,
        qty: u64,
        price: Price,
        tif: TimeInForce,
        out: &mut Vec<Action>,
    ) -> bool {
        let ok = match side {
            Side::Buy => price.minor().saturating_mul(qty as i64) <= self.spendable(),
            Side::Sell => qty <= self.sellable(symbol),
        };
        if ok && qty > 0 && price.is_positive() {
            out.push(Action::Place {
                account: self.account,
                symbol,
                side,
                order_type: OrderType::Limit,
                quantity: qty,
                limit_price: Some(price),
                collar: None,
                time_in_force: tif,
            });
        }
        ok
    }
    /// A market order protected by a collar `collar_pct` % through the mid.
    pub fn market(
        &self,
        m: &TickerSnapshot,
        side: Side,
        qty: u64,
        collar_pct: i64,
        out: &mut Vec<Action>,
    ) {
        let mid = m.mid().minor();
        let collar = match side {
            Side::Buy => mid + mid * collar_pct / 100,
            Side::Sell => (mid - mid * collar_pct / 100).max(m.tick.minor()),
        };
        let ok = match side {
            Side::Buy => collar.saturating_mul(qty as i64) <= self.spendable(),
            Side::Sell => qty <= self.sellable(m.symbol),
        };
        if ok && qty > 0 {
            out.push(Action::Place {
                account: self.account,
                symbol: m.symbol,
                side,
                order_type: OrderType::Market,
                quantity: qty,
                limit_price: None,
                collar: Some(Price::from_minor(collar)),
                time_in_force: TimeInForce::Ioc,
            });
        }
    }

    fn on_event(&mut self, symbol: Symbol, e: &Event) {
        match *e {
            Event::Accepted {
                order,
                side,
                price,
                quantity,
                ..
            } => {
                self.open.insert(
                    order,
                    OpenOrder {
                        symbol,
                        side,
                        price,
                        remaining: quantity,
                    },
                );
            }
            Event::Trade(t) => {
                let notional = t.price.minor().saturating_mul(t.quantity as i64);
                for (order, account, side) in [
                    (t.buyer().0, t.buyer().1, Side::Buy),
                    (t.seller().0, t.seller().1, Side::Sell),
                ] {
                    if account != self.account {
                        continue;
                    }
                    let sign = if side == Side::Buy { 1 } else { -1 };
                    *self.position.entry(symbol).or_default() += sign * t.quantity as i64;
                    self.cash_delta -= sign * notional;
                    if let Some(o) = self.open.get_mut(&order) {
                        o.remaining = o.remaining.saturating_sub(t.quantity);
                    }
                }
            }
            ref e if e.is_terminal() => {
                self.open.remove(&e.order());
            }
            _ => {}
        }
    }
}

/// Round a level (minor units, maybe fractional) to the tick grid, at least one tick.
pub fn to_tick(level: f64, tick: Price) -> Price {
    let t = tick.minor();
    let ticks = (level / t as f64).round();
    let ticks = if ticks.is_finite() {
        (ticks as i64).max(1)
    } else {
        1
    };
    Price::from_minor(ticks.saturating_mul(t))
}

/// How much prices of one symbol have been moving: exponential averages
/// of absolute log price changes from trade to trade, over about the last
/// 20 trades (`recent`) and the last 2,000 (`usual`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Activity {
    last: i64,
    recent: f64,
    usual: f64,
}

impl Activity {
    const RECENT: f64 = 1.0 / 20.0;
    const USUAL: f64 = 1.0 / 2_000.0;
    /// Bounds of the ratio, so one burst cannot stall or flood the day.
    const MIN: f64 = 0.25;
    const MAX: f64 = 8.0;

    fn trade(&mut self, price: i64) {
        if self.last > 0 && price > 0 {
            let r = (price as f64 / self.last as f64).ln().abs();
            self.recent += Self::RECENT * (r - self.recent);
            self.usual += Self::USUAL * (r - self.usual);
        }
        self.last = price;
    }
    /// Recent moves over usual ones (1 until both are known).
    pub fn ratio(&self) -> f64 {
        if self.usual > 0.0 {
            (self.recent / self.usual).clamp(Self::MIN, Self::MAX)
        } else {
            1.0
        }
    }
}

/// Every agent of a run.
#[derive(Debug)]
pub struct Agents {
    pub agents: Vec<Agent>,
    by_account: FxHashMap<AccountId, u32>,
    step_secs: f64,
    /// Per symbol: how much its price has been moving (activity feedback;
    /// kept only when some agent uses it).
    activity: Option<BTreeMap<Symbol, Activity>>,
}

/// Account of agent `i` (agents are numbered from 0; account 0 is unused).
pub fn account_of(i: usize) -> AccountId {
    AccountId(i as u64 + 1)
}

impl Agents {
    /// Build the population of a plan with `seed`.
    pub fn new(plan: &Plan, seed: u64) -> Agents {
        let mut agents = Vec::new();
        for (g, group) in plan.groups.iter().enumerate() {
            for _ in 0..group.count {
                let i = agents.len();
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_a6e7_0000_0000);
                rng.set_stream(i as u64);
                let mut symbols = group.symbols.clone();
                if group.per_agent < symbols.len() {
                    // Partial Fisher-Yates: the first `per_agent` are a uniform subset.
                    for k in 0..group.per_agent {
                        let j = rng.random_range(k..symbols.len());
                        symbols.swap(k, j);
                    }
                    symbols.truncate(group.per_agent);
                    symbols.sort();
                }
                let memory = match group.kind {
                    AgentKind::Value(_) => Memory::Beliefs(BTreeMap::new()),
                    AgentKind::Momentum(_) => Memory::History(BTreeMap::new()),
                    _ => Memory::None,
                };
                agents.push(Agent {
                    kind: group.kind.clone(),
                    group: g,
                    account: account_of(i),
                    symbols,
                    start_cash: group.cash,
                    start_shares: group.shares,
                    rng,
                    open: BTreeMap::new(),
                    position: BTreeMap::new(),
                    cash_delta: 0,
                    memory,
                });
            }
        }
        let by_account = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.account, i as u32))
            .collect();
        let activity = agents
            .iter()
            .any(|a| Self::feedback(&a.kind) > 0.0 || Self::caution(&a.kind) > 0.0)
            .then(BTreeMap::new);
        Agents {
            agents,
            by_account,
            step_secs: plan.scenario.step_ms as f64 / 1_000.0,
            activity,
        }
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }
    pub fn agent_type(&self, i: usize) -> AgentType {
        self.agents[i].kind.agent_type()
    }

    fn interval_s(kind: &AgentKind) -> f64 {
        match kind {
            AgentKind::Noise(p) => p.interval_s,
            AgentKind::Value(p) => p.interval_s,
            AgentKind::Momentum(p) => p.interval_s,
            AgentKind::MarketMaker(p) => p.interval_s,
            AgentKind::RandomTicker(p) => p.interval_s,
        }
    }
    fn feedback(kind: &AgentKind) -> f64 {
        match kind {
            AgentKind::Noise(p) => p.activity_feedback,
            AgentKind::Momentum(p) => p.activity_feedback,
            _ => 0.0,
        }
    }
    fn caution(kind: &AgentKind) -> f64 {
        match kind {
            AgentKind::MarketMaker(p) => p.caution,
            _ => 0.0,
        }
    }
    /// How much `s`'s price has been moving against usual (1 when not kept).
    fn activity_ratio(activity: Option<&BTreeMap<Symbol, Activity>>, s: Symbol) -> f64 {
        activity
            .and_then(|m| m.get(&s))
            .map_or(1.0, Activity::ratio)
    }
    /// Steps until the agent's next wake: exponential with the type's mean,
    /// except market makers, which requote on a fixed clock. With activity
    /// feedback the mean shrinks while the agent's symbols move more than
    /// usual (and grows while they are quiet): traders watch the market
    /// more closely when it moves, so busy spells follow big moves and
    /// volatility clusters.
    fn next_gap(&mut self, i: usize) -> u64 {
        let step_secs = self.step_secs;
        let a = &mut self.agents[i];
        let mut mean = Self::interval_s(&a.kind) / step_secs;
        let feedback = Self::feedback(&a.kind);
        if feedback > 0.0 && !a.symbols.is_empty() {
            let ratio = a
                .symbols
                .iter()
                .map(|s| Self::activity_ratio(self.activity.as_ref(), *s))
                .sum::<f64>()
                / a.symbols.len() as f64;
            mean /= ratio.powf(feedback);
        }
        let gap = match a.kind {
            AgentKind::MarketMaker(_) => mean,
            _ => Exp::new(1.0 / mean.max(1e-9)).map_or(mean, |d| d.sample(&mut a.rng)),
        };
        (gap.round() as u64).max(1)
    }
}

impl Population for Agents {
    fn schedule(&mut self) -> Vec<(u64, u32)> {
        (0..self.agents.len())
            .map(|i| {
                let mean = (Self::interval_s(&self.agents[i].kind) / self.step_secs).max(1.0);
                let first = self.agents[i].rng.random_range(0.0..mean) as u64;
                (first, i as u32)
            })
            .collect()
    }

    fn wake(&mut self, agent: u32, ctx: &WakeCtx<'_>, out: &mut Vec<Action>) -> Option<u64> {
        let i = agent as usize;
        let a = &mut self.agents[i];
        match a.kind.clone() {
            AgentKind::Noise(p) => noise::wake(a, &p, ctx, out),
            AgentKind::Value(p) => value::wake(a, &p, ctx, out),
            AgentKind::Momentum(p) => momentum::wake(a, &p, ctx, out),
            AgentKind::MarketMaker(p) => {
                let activity = self.activity.as_ref();
                let ratio = |s| Self::activity_ratio(activity, s);
                market_maker::wake(a, &p, ctx, ratio, out)
            }
            AgentKind::RandomTicker(p) => random_ticker::wake(a, &p, ctx, out),
        }
        Some(ctx.step + self.next_gap(i))
    }

    fn on_event(&mut self, symbol: Symbol, event: &Event) {
        if let (Event::Trade(t), Some(activity)) = (event, self.activity.as_mut()) {
            activity.entry(symbol).or_default().trade(t.price.minor());
        }
        let accounts: [Option<AccountId>; 2] = match event {
            Event::Trade(t) => [
                Some(t.maker_account),
                (t.taker_account != t.maker_account).then_some(t.taker_account),
            ],
            Event::Accepted { account, .. }
            | Event::Rejected { account, .. }
            | Event::PartiallyFilled { account, .. }
            | Event::Filled { account, .. }
            | Event::Cancelled { account, .. }
            | Event::Expired { account, .. }
            | Event::Replaced { account, .. } => [Some(*account), None],
        };
        for acc in accounts.into_iter().flatten() {
            if let Some(&i) = self.by_account.get(&acc) {
                self.agents[i as usize].on_event(symbol, event);
            }
        }
    }
}

#[cfg(test)]
mod activity_tests {
    use super::Activity;

    #[test]
    fn the_ratio_rises_after_big_moves_and_falls_back_when_quiet() {
        let mut a = Activity::default();
        assert!((a.ratio() - 1.0).abs() < f64::EPSILON, "unknown yet: 1");
        // A long calm spell: one-tick moves around 100.00.
        for i in 0..5_000 {
            a.trade(10_000 + i % 2);
        }
        let calm = a.ratio();
        assert!((0.8..1.25).contains(&calm), "calm {calm}");
        // A burst of 1% moves: recent moves far above usual ones.
        for i in 0..40 {
            a.trade(if i % 2 == 0 { 10_100 } else { 10_000 });
        }
        assert!(a.ratio() > 4.0, "burst {}", a.ratio());
        // Quiet again: flat trades bring the ratio below one.
        for _ in 0..200 {
            a.trade(10_000);
        }
        assert!(a.ratio() < calm, "after {}", a.ratio());
        assert!(a.ratio() >= Activity::MIN);
    }
}
