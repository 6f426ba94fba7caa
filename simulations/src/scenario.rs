//! Scenario files: what a run simulates.
//!
//! A scenario is TOML. Unknown fields are errors; every semantic error names
//! the field (`symbols[1].tick_size`) and says what is wrong. Money and
//! prices are decimal strings ("100.00") or whole numbers; never floats.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use engine::{Money, Price, Symbol};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use thiserror::Error;

/// Why a scenario cannot be used.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: `{field}`: {message}")]
    Invalid {
        path: String,
        field: String,
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        path: String::new(),
        field: field.into(),
        message: message.into(),
    }
}

/// A price or amount written as "123.45" or 123.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal(pub i64);

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string like \"100.00\" or a whole number")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Decimal, E> {
                s.parse::<Money>()
                    .map(|m| Decimal(m.minor()))
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
                v.checked_mul(engine::money::SCALE)
                    .map(Decimal)
                    .ok_or_else(|| E::custom("amount too large"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom("amount too large"))
                    .and_then(|v| self.visit_i64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
                Err(E::custom(format!(
                    "write amounts as strings, e.g. \"{v:.2}\": floats are not exact"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Length of one step of market time, in milliseconds.
    #[serde(default = "default_step_ms")]
    pub step_ms: u64,
    #[serde(default = "default_days")]
    pub days: u32,
    #[serde(default)]
    pub session: Session,
    #[serde(default)]
    pub fees: FeesConfig,
    #[serde(default)]
    pub output: Output,
    pub symbols: Vec<SymbolConfig>,
    #[serde(default)]
    pub agents: Vec<AgentGroup>,
}

fn default_seed() -> u64 {
    1
}
fn default_step_ms() -> u64 {
    1_000
}
fn default_days() -> u32 {
    1
}

/// Trading hours.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// Calendar date of the first day, `YYYY-MM-DD`.
    #[serde(default = "default_date")]
    pub date: String,
    /// `HH:MM:SS`
    #[serde(default = "default_open")]
    pub open: String,
    #[serde(default = "default_close")]
    pub close: String,
}

fn default_date() -> String {
    "2026-01-05".into()
}
fn default_open() -> String {
    "09:30:00".into()
}
fn default_close() -> String {
    "16:00:00".into()
}

impl Default for Session {
    fn default() -> Self {
        Session {
            date: default_date(),
            open: default_open(),
            close: default_close(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeesConfig {
    #[serde(default)]
    pub maker_bps: u32,
    #[serde(default)]
    pub taker_bps: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Where files go; default `out/<name>`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default = "yes")]
    pub charts: bool,
    #[serde(default = "yes")]
    pub trades_csv: bool,
    #[serde(default = "yes")]
    pub candles_csv: bool,
    /// How many top gainers/losers to list.
    #[serde(default = "default_movers")]
    pub movers: usize,
}

fn yes() -> bool {
    true
}
fn default_movers() -> usize {
    5
}

impl Default for Output {
    fn default() -> Self {
        Output {
            dir: None,
            charts: true,
            trades_csv: true,
            candles_csv: true,
            movers: 5,
        }
    }
}

/// One listed symbol.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolConfig {
    pub symbol: String,
    pub initial_price: Decimal,
    #[serde(default = "default_tick")]
    pub tick_size: Decimal,
    /// Annualised drift of the reference price.
    #[serde(default)]
    pub drift: f64,
    /// Annualised volatility of the reference price.
    #[serde(default = "default_vol")]
    pub volatility: f64,
    /// Expected jumps per year.
    #[serde(default)]
    pub jump_intensity: f64,
    #[serde(default)]
    pub jump_mean: f64,
    #[serde(default)]
    pub jump_std: f64,
    /// Stochastic volatility of the reference price: the standard
    /// deviation of the log volatility multiplier (0: constant).
    #[serde(default)]
    pub vol_of_vol: f64,
    /// Half-life of its volatility shocks, seconds.
    #[serde(default = "default_vol_half_life")]
    pub vol_half_life_s: f64,
    /// Shares issued (the float); what agents do not start with stays with
    /// the house account (the "available quantity").
    pub float: u64,
}

fn default_tick() -> Decimal {
    Decimal(1)
}
fn default_vol_half_life() -> f64 {
    1_800.0
}
fn default_vol() -> f64 {
    actors::Listing::DEFAULT_VOLATILITY
}

/// A group of identical agents.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentGroup {
    #[serde(rename = "type")]
    pub agent_type: AgentType,
    pub count: u32,
    /// Starting cash per agent (default 100,000.00).
    #[serde(default)]
    pub cash: Option<Decimal>,
    /// Starting shares per agent per traded symbol (default depends on type).
    #[serde(default)]
    pub shares: Option<u64>,
    /// Symbols this group trades (default: all).
    #[serde(default)]
    pub symbols: Option<Vec<String>>,
    /// Each agent trades only this many of the group's symbols, drawn from
    /// its own seeded stream (default: all of them). Keeps large
    /// populations over many symbols small in memory.
    #[serde(default)]
    pub symbols_per_agent: Option<usize>,
    /// Type-specific parameters (`[agents.params]`); defaults fill the rest.
    #[serde(default)]
    pub params: toml::Table,
}

/// The agent types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentType {
    Noise,
    Value,
    Momentum,
    MarketMaker,
    RandomTicker,
}

impl AgentType {
    pub fn name(self) -> &'static str {
        match self {
            AgentType::Noise => "noise",
            AgentType::Value => "value",
            AgentType::Momentum => "momentum",
            AgentType::MarketMaker => "market_maker",
            AgentType::RandomTicker => "random_ticker",
        }
    }
}

/// Agent types with their parameters.
#[derive(Clone, Debug)]
pub enum AgentKind {
    Noise(NoiseParams),
    Value(ValueParams),
    Momentum(MomentumParams),
    MarketMaker(MarketMakerParams),
    RandomTicker(RandomTickerParams),
}

impl AgentKind {
    pub fn agent_type(&self) -> AgentType {
        match self {
            AgentKind::Noise(_) => AgentType::Noise,
            AgentKind::Value(_) => AgentType::Value,
            AgentKind::Momentum(_) => AgentType::Momentum,
            AgentKind::MarketMaker(_) => AgentType::MarketMaker,
            AgentKind::RandomTicker(_) => AgentType::RandomTicker,
        }
    }
    pub fn name(&self) -> &'static str {
        self.agent_type().name()
    }
    fn default_shares(&self) -> u64 {
        match self {
            AgentKind::Noise(_) => 100,
            AgentKind::Value(_) => 500,
            AgentKind::Momentum(_) => 200,
            AgentKind::MarketMaker(_) => 10_000,
            AgentKind::RandomTicker(_) => 0,
        }
    }
    fn from_params(t: AgentType, params: &toml::Table) -> Result<AgentKind, String> {
        let v = toml::Value::Table(params.clone());
        let r = match t {
            AgentType::Noise => v.try_into().map(AgentKind::Noise),
            AgentType::Value => v.try_into().map(AgentKind::Value),
            AgentType::Momentum => v.try_into().map(AgentKind::Momentum),
            AgentType::MarketMaker => v.try_into().map(AgentKind::MarketMaker),
            AgentType::RandomTicker => v.try_into().map(AgentKind::RandomTicker),
        };
        r.map_err(|e| e.to_string().trim().to_string())
    }
}

/// Random limit and market orders around the mid.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseParams {
    /// Mean seconds between wake-ups (exponential).
    #[serde(default = "d_noise_interval")]
    pub interval_s: f64,
    /// Probability an order is a market order.
    #[serde(default = "d_noise_market")]
    pub market_prob: f64,
    /// Limit prices fall within this many ticks of the mid.
    #[serde(default = "d_noise_offset")]
    pub max_offset_ticks: u32,
    #[serde(default = "d_one")]
    pub min_qty: u64,
    #[serde(default = "d_noise_qty")]
    pub max_qty: u64,
    /// Beyond this many open orders the oldest is cancelled.
    #[serde(default = "d_noise_open")]
    pub max_open: u32,
    /// How strongly activity follows volatility: the agent wakes
    /// (recent / usual absolute price moves)^this times as often (0: a
    /// constant rate). See `Agents::activity`.
    #[serde(default)]
    pub activity_feedback: f64,
    /// Probability a limit order is good-till-cancelled (rests over the
    /// close into the next day) rather than a DAY order.
    #[serde(default)]
    pub gtc_prob: f64,
}
fn d_noise_interval() -> f64 {
    600.0
}
fn d_noise_market() -> f64 {
    0.1
}
fn d_noise_offset() -> u32 {
    20
}
fn d_one() -> u64 {
    1
}
fn d_noise_qty() -> u64 {
    50
}
fn d_noise_open() -> u32 {
    2
}

/// Trades toward a noisy, mean-reverting belief about the fundamental.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueParams {
    #[serde(default = "d_value_interval")]
    pub interval_s: f64,
    /// Relative noise of each observation of the reference price.
    #[serde(default = "d_value_noise")]
    pub obs_noise: f64,
    /// Weight of a new observation in the belief (0..=1).
    #[serde(default = "d_value_kappa")]
    pub kappa: f64,
    /// Probability of crossing the spread instead of quoting passively.
    #[serde(default = "d_value_aggr")]
    pub aggressive_prob: f64,
    #[serde(default = "d_one")]
    pub min_qty: u64,
    #[serde(default = "d_value_qty")]
    pub max_qty: u64,
    /// Mispricing (belief against the mid, bps) at which it always crosses
    /// the spread; below it the crossing probability rises linearly from
    /// `aggressive_prob` (0: always `aggressive_prob`).
    #[serde(default)]
    pub urgency_bps: f64,
}
fn d_value_interval() -> f64 {
    300.0
}
fn d_value_noise() -> f64 {
    0.002
}
fn d_value_kappa() -> f64 {
    0.3
}
fn d_value_aggr() -> f64 {
    0.3
}
fn d_value_qty() -> u64 {
    100
}

/// Follows recent returns: short average above long average buys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomentumParams {
    #[serde(default = "d_mom_interval")]
    pub interval_s: f64,
    #[serde(default = "d_mom_short")]
    pub short_window: usize,
    #[serde(default = "d_mom_long")]
    pub long_window: usize,
    #[serde(default = "d_one")]
    pub min_qty: u64,
    #[serde(default = "d_value_qty")]
    pub max_qty: u64,
    /// Largest position (long or short of the start) it will build.
    #[serde(default = "d_mom_pos")]
    pub max_position: i64,
    /// As for noise agents: wake more often when prices move more.
    #[serde(default)]
    pub activity_feedback: f64,
}
fn d_mom_interval() -> f64 {
    60.0
}
fn d_mom_short() -> usize {
    20
}
fn d_mom_long() -> usize {
    50
}
fn d_mom_pos() -> i64 {
    1_000
}

/// Two-sided quotes with inventory limits, replenishing depth.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketMakerParams {
    #[serde(default = "d_mm_interval")]
    pub interval_s: f64,
    /// Quote levels per side.
    #[serde(default = "d_mm_levels")]
    pub levels: u32,
    /// Half-spread of the innermost level, in ticks.
    #[serde(default = "d_mm_spread")]
    pub half_spread_ticks: u32,
    /// Distance between levels, in ticks.
    #[serde(default = "d_one_u32")]
    pub level_spacing_ticks: u32,
    /// Shares per level: the depth it replenishes.
    #[serde(default = "d_mm_size")]
    pub size: u64,
    /// Beyond this inventory change it stops quoting the side that adds.
    #[serde(default = "d_mm_inv")]
    pub max_inventory: i64,
    /// Weight of the reference price (vs the book's mid) in its centre.
    #[serde(default = "d_mm_anchor")]
    pub anchor: f64,
    /// While its symbol's price moves more than usual (the activity ratio
    /// of noise agents' `activity_feedback`), it quotes ratio^`caution`
    /// times wider and that many times fewer shares a level (0: never).
    #[serde(default)]
    pub caution: f64,
}
fn d_mm_interval() -> f64 {
    10.0
}
fn d_mm_levels() -> u32 {
    3
}
fn d_mm_spread() -> u32 {
    2
}
fn d_one_u32() -> u32 {
    1
}
fn d_mm_size() -> u64 {
    100
}
fn d_mm_inv() -> i64 {
    5_000
}
fn d_mm_anchor() -> f64 {
    0.5
}

/// Every interval, one random symbol's reference price jumps.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomTickerParams {
    #[serde(default = "d_rt_interval")]
    pub interval_s: f64,
    /// Largest jump, in percent of the price.
    #[serde(default = "d_rt_jump")]
    pub max_jump_pct: f64,
}
fn d_rt_interval() -> f64 {
    300.0
}
fn d_rt_jump() -> f64 {
    2.0
}

/// A validated, ready-to-run scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    pub scenario: Scenario,
    pub symbols: Vec<actors::Listing>,
    pub groups: Vec<PlannedGroup>,
    /// Unix seconds of day 0's open.
    pub start_secs: i64,
    pub steps_per_day: u64,
}

#[derive(Clone, Debug)]
pub struct PlannedGroup {
    pub kind: AgentKind,
    pub count: u32,
    pub cash: Money,
    pub shares: u64,
    pub symbols: Vec<Symbol>,
    /// How many of `symbols` each agent trades.
    pub per_agent: usize,
}

/// Default starting cash of an agent.
pub const DEFAULT_CASH: Money = Money::from_major(100_000);

fn parse_hms(s: &str, field: &str) -> Result<i64, ScenarioError> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || invalid(field, format!("`{s}` is not a time like 09:30:00"));
    if parts.len() != 3 {
        return Err(bad());
    }
    let n: Vec<i64> = parts
        .iter()
        .map(|p| p.parse::<i64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if !(0..24).contains(&n[0]) || !(0..60).contains(&n[1]) || !(0..60).contains(&n[2]) {
        return Err(bad());
    }
    Ok(n[0] * 3600 + n[1] * 60 + n[2])
}

pub use engine::time::days_from_civil;

fn parse_date(s: &str) -> Result<i64, ScenarioError> {
    let bad = || {
        invalid(
            "session.date",
            format!("`{s}` is not a date like 2026-01-05"),
        )
    };
    let p: Vec<&str> = s.split('-').collect();
    if p.len() != 3 {
        return Err(bad());
    }
    let y: i64 = p[0].parse().map_err(|_| bad())?;
    let m: i64 = p[1].parse().map_err(|_| bad())?;
    let d: i64 = p[2].parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d))
}

fn check_f64(field: String, v: f64, lo: f64, hi: f64) -> Result<(), ScenarioError> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(invalid(
            field,
            format!("must be between {lo} and {hi}, got {v}"),
        ));
    }
    Ok(())
}

impl Scenario {
    /// Read and validate a scenario file.
    pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parse and validate scenario text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Plan, ScenarioError> {
        let sc: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        sc.validate().map_err(|e| match e {
            ScenarioError::Invalid { field, message, .. } => ScenarioError::Invalid {
                path: origin.to_string(),
                field,
                message,
            },
            other => other,
        })
    }

    fn validate(self) -> Result<Plan, ScenarioError> {
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if self.step_ms == 0 || self.step_ms > 3_600_000 {
            return Err(invalid(
                "step_ms",
                "must be between 1 and 3600000 (one hour)",
            ));
        }
        if self.days == 0 || self.days > 366 {
            return Err(invalid("days", "must be between 1 and 366"));
        }
        let open = parse_hms(&self.session.open, "session.open")?;
        let close = parse_hms(&self.session.close, "session.close")?;
        if close <= open {
            return Err(invalid("session.close", "must be after session.open"));
        }
        let date = parse_date(&self.session.date)?;
        let session_ms = (close - open) as u64 * 1_000;
        if session_ms % self.step_ms != 0 {
            return Err(invalid("step_ms", "must divide the session length exactly"));
        }
        let fees = engine::Fees::new(self.fees.maker_bps, self.fees.taker_bps);
        if fees.is_err() {
            return Err(invalid(
                "fees",
                "maker_bps and taker_bps must be at most 1000",
            ));
        }
        if self.symbols.is_empty() {
            return Err(invalid("symbols", "list at least one symbol"));
        }
        let mut listed = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, s) in self.symbols.iter().enumerate() {
            let f = |name: &str| format!("symbols[{i}].{name}");
            let symbol = Symbol::new(&s.symbol).map_err(|e| invalid(f("symbol"), e.to_string()))?;
            if !seen.insert(symbol) {
                return Err(invalid(f("symbol"), format!("{symbol} is listed twice")));
            }
            let tick = Price::from_minor(s.tick_size.0);
            if !tick.is_positive() {
                return Err(invalid(f("tick_size"), "must be greater than zero"));
            }
            let initial = Price::from_minor(s.initial_price.0);
            if !initial.is_positive() {
                return Err(invalid(f("initial_price"), "must be greater than zero"));
            }
            if !initial.is_on_grid(tick) {
                return Err(invalid(
                    f("initial_price"),
                    format!("{initial} is not a multiple of the tick size {tick}"),
                ));
            }
            check_f64(f("drift"), s.drift, -10.0, 10.0)?;
            check_f64(f("volatility"), s.volatility, 0.0, 10.0)?;
            check_f64(f("jump_intensity"), s.jump_intensity, 0.0, 1e6)?;
            check_f64(f("jump_mean"), s.jump_mean, -1.0, 1.0)?;
            check_f64(f("jump_std"), s.jump_std, 0.0, 1.0)?;
            check_f64(f("vol_of_vol"), s.vol_of_vol, 0.0, 3.0)?;
            check_f64(f("vol_half_life_s"), s.vol_half_life_s, 1.0, 1e7)?;
            if s.float == 0 {
                return Err(invalid(f("float"), "must be at least 1 share"));
            }
            let params = engine::GbmParams {
                drift: s.drift,
                volatility: s.volatility,
                jump_intensity: s.jump_intensity,
                jump_mean: s.jump_mean,
                jump_std: s.jump_std,
                vol_of_vol: s.vol_of_vol,
                vol_half_life_s: s.vol_half_life_s,
            };
            listed.push(actors::Listing {
                symbol,
                initial,
                tick,
                params,
                float: s.float,
            });
        }
        let mut groups = Vec::new();
        let mut issued: Vec<u64> = vec![0; listed.len()];
        for (i, g) in self.agents.iter().enumerate() {
            let f = |name: &str| format!("agents[{i}].{name}");
            if g.count == 0 {
                return Err(invalid(f("count"), "must be at least 1"));
            }
            let cash = Money::from_minor(g.cash.map_or(DEFAULT_CASH.minor(), |d| d.0));
            if cash.is_negative() {
                return Err(invalid(f("cash"), "must not be negative"));
            }
            let symbols: Vec<Symbol> = match &g.symbols {
                None => listed.iter().map(|l| l.symbol).collect(),
                Some(names) => {
                    let mut v = Vec::new();
                    for n in names {
                        let s = Symbol::new(n).map_err(|e| invalid(f("symbols"), e.to_string()))?;
                        if !seen.contains(&s) {
                            return Err(invalid(
                                f("symbols"),
                                format!("{s} is not a listed symbol"),
                            ));
                        }
                        v.push(s);
                    }
                    if v.is_empty() {
                        return Err(invalid(f("symbols"), "must name at least one symbol"));
                    }
                    v
                }
            };
            let kind = AgentKind::from_params(g.agent_type, &g.params)
                .map_err(|e| invalid(f("params"), e))?;
            let shares = g.shares.unwrap_or_else(|| kind.default_shares());
            for s in &symbols {
                let k = listed.iter().position(|l| l.symbol == *s).unwrap_or(0);
                issued[k] = issued[k].saturating_add(shares.saturating_mul(u64::from(g.count)));
            }
            validate_kind(&kind, &f)?;
            let per_agent = match g.symbols_per_agent {
                None => symbols.len(),
                Some(k) if k >= 1 && k <= symbols.len() => k,
                Some(k) => {
                    return Err(invalid(
                        f("symbols_per_agent"),
                        format!("must be between 1 and {}, got {k}", symbols.len()),
                    ));
                }
            };
            groups.push(PlannedGroup {
                kind,
                count: g.count,
                cash,
                shares,
                symbols,
                per_agent,
            });
        }
        for (k, l) in listed.iter().enumerate() {
            if issued[k] > l.float {
                return Err(invalid(
                    format!("symbols[{k}].float"),
                    format!(
                        "{} shares are too few: the agents start with {} in all",
                        l.float, issued[k]
                    ),
                ));
            }
        }
        let start_secs = date * 86_400 + open;
        let steps_per_day = session_ms / self.step_ms;
        Ok(Plan {
            scenario: self,
            symbols: listed,
            groups,
            start_secs,
            steps_per_day,
        })
    }
}

fn validate_kind(kind: &AgentKind, f: &dyn Fn(&str) -> String) -> Result<(), ScenarioError> {
    let f = |name: &str| f(&format!("params.{name}"));
    let interval = |v: f64| check_f64(f("interval_s"), v, 0.001, 86_400.0);
    let qty = |lo: u64, hi: u64| {
        if lo == 0 || hi < lo {
            Err(invalid(f("max_qty"), "need 1 <= min_qty <= max_qty"))
        } else {
            Ok(())
        }
    };
    match kind {
        AgentKind::Noise(p) => {
            interval(p.interval_s)?;
            check_f64(f("market_prob"), p.market_prob, 0.0, 1.0)?;
            check_f64(f("activity_feedback"), p.activity_feedback, 0.0, 4.0)?;
            check_f64(f("gtc_prob"), p.gtc_prob, 0.0, 1.0)?;
            qty(p.min_qty, p.max_qty)?;
        }
        AgentKind::Value(p) => {
            interval(p.interval_s)?;
            check_f64(f("obs_noise"), p.obs_noise, 0.0, 1.0)?;
            check_f64(f("kappa"), p.kappa, 0.0, 1.0)?;
            check_f64(f("aggressive_prob"), p.aggressive_prob, 0.0, 1.0)?;
            check_f64(f("urgency_bps"), p.urgency_bps, 0.0, 10_000.0)?;
            qty(p.min_qty, p.max_qty)?;
        }
        AgentKind::Momentum(p) => {
            interval(p.interval_s)?;
            if p.short_window == 0 || p.long_window <= p.short_window {
                return Err(invalid(
                    f("long_window"),
                    "need 1 <= short_window < long_window",
                ));
            }
            check_f64(f("activity_feedback"), p.activity_feedback, 0.0, 4.0)?;
            qty(p.min_qty, p.max_qty)?;
        }
        AgentKind::MarketMaker(p) => {
            interval(p.interval_s)?;
            if p.levels == 0 || p.size == 0 {
                return Err(invalid(f("levels"), "levels and size must be at least 1"));
            }
            if p.half_spread_ticks == 0 {
                return Err(invalid(f("half_spread_ticks"), "must be at least 1"));
            }
            check_f64(f("anchor"), p.anchor, 0.0, 1.0)?;
            check_f64(f("caution"), p.caution, 0.0, 4.0)?;
        }
        AgentKind::RandomTicker(p) => {
            interval(p.interval_s)?;
            check_f64(f("max_jump_pct"), p.max_jump_pct, 0.0, 50.0)?;
        }
    }
    Ok(())
}
