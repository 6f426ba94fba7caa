//! The end-of-run report: printed, and written as `report.json`, with
//! `trades.csv`, `candles.csv` and one SVG price chart per symbol.

use std::fmt::Write as _;
use std::path::Path;

use engine::{Candle, Price, Symbol};
use serde::Serialize;

use crate::time::rfc3339;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub days: u32,
    pub step_ms: u64,
    pub agents: usize,
    pub symbols: Vec<SymbolReport>,
    pub top_gainers: Vec<Mover>,
    pub top_losers: Vec<Mover>,
    pub leaderboard: Vec<TypeReport>,
    pub totals: Totals,
    pub conservation: Conservation,
    pub performance: Performance,
    /// FNV-1a 64 of the event log, hex: equal for equal scenario and seed.
    pub log_hash: String,
    pub files: Vec<String>,
    /// Stylized facts per symbol, each checked against the literature.
    pub stylized_facts: Vec<crate::facts::SymbolFacts>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SymbolReport {
    pub symbol: String,
    pub initial: String,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: u64,
    pub trades: u64,
    pub change: String,
    pub change_pct: String,
    #[serde(skip)]
    pub change_bps: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Mover {
    pub symbol: String,
    pub close: String,
    pub change_pct: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TypeReport {
    pub agent_type: String,
    pub agents: usize,
    pub total_pnl: String,
    pub mean_pnl: String,
    pub best_pnl: String,
    pub worst_pnl: String,
    #[serde(skip)]
    pub mean_minor: i64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub orders: u64,
    pub limit_orders: u64,
    pub market_orders: u64,
    pub cancel_requests: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub denied: u64,
    pub trades: u64,
    pub fills: u64,
    pub volume: u64,
    pub shocks: u64,
    pub events: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Conservation {
    pub ok: bool,
    pub cash_start: String,
    pub cash_end: String,
    pub fees_collected: String,
    pub shares: Vec<ShareCheck>,
    pub invariants: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ShareCheck {
    pub symbol: String,
    pub issued: u64,
    pub held: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Performance {
    pub wall_seconds: f64,
    pub events_per_second: f64,
    pub simulated_seconds_per_wall_second: f64,
    pub active_steps: u64,
    pub total_steps: u64,
    pub worker_threads: usize,
    pub peak_rss_mib: Option<f64>,
}

/// `bps` as a percentage string with two decimals: 123 -> "1.23%".
pub fn pct(bps: i64) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let a = bps.unsigned_abs();
    format!("{sign}{}.{:02}%", a / 100, a % 100)
}

/// Peak resident memory of this process (Linux), MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

impl Report {
    /// The human-readable summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "marketsim run: {} (seed {}, {} day(s), {} agents)",
            self.scenario, self.seed, self.days, self.agents
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8}",
            "symbol", "initial", "open", "high", "low", "close", "volume", "trades", "change"
        );
        for r in &self.symbols {
            let _ = writeln!(
                s,
                "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8}",
                r.symbol,
                r.initial,
                r.open,
                r.high,
                r.low,
                r.close,
                r.volume,
                r.trades,
                r.change_pct
            );
        }
        let list = |v: &[Mover]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter()
                    .map(|m| format!("{} {}", m.symbol, m.change_pct))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = writeln!(s);
        let _ = writeln!(s, "top gainers: {}", list(&self.top_gainers));
        let _ = writeln!(s, "top losers:  {}", list(&self.top_losers));
        let _ = writeln!(s);
        let _ = writeln!(s, "P&L by agent type (marked to the close):");
        let _ = writeln!(
            s,
            "  {:<14} {:>7} {:>16} {:>14} {:>14} {:>14}",
            "type", "agents", "total", "mean", "best", "worst"
        );
        for t in &self.leaderboard {
            let _ = writeln!(
                s,
                "  {:<14} {:>7} {:>16} {:>14} {:>14} {:>14}",
                t.agent_type, t.agents, t.total_pnl, t.mean_pnl, t.best_pnl, t.worst_pnl
            );
        }
        if !self.stylized_facts.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "stylized facts (1-minute returns; literature in README):"
            );
            for f in &self.stylized_facts {
                let held = f.checks.iter().filter(|c| c.in_range == Some(true)).count();
                let judged = f.checks.iter().filter(|c| c.in_range.is_some()).count();
                let _ = writeln!(
                    s,
                    "  {} ({} returns, volatility {} bps/session, spread {} bps): {held}/{judged} in range",
                    f.symbol,
                    f.returns,
                    f.volatility_bps.map_or("n/a".into(), |v| format!("{v:.0}")),
                    f.mean_spread_bps
                        .map_or("n/a".into(), |v| format!("{v:.1}")),
                );
                for c in &f.checks {
                    let mark = match c.in_range {
                        Some(true) => "in ",
                        Some(false) => "OUT",
                        None => "n/a",
                    };
                    let _ = writeln!(s, "    [{mark}] {}: {}", c.fact, c.measured);
                }
            }
        }
        let t = &self.totals;
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "orders {} (limit {}, market {}), cancel requests {}, cancelled {}, expired {}, denied {}, trades {}, fills {}, volume {}",
            t.orders,
            t.limit_orders,
            t.market_orders,
            t.cancel_requests,
            t.cancelled,
            t.expired,
            t.denied,
            t.trades,
            t.fills,
            t.volume
        );
        let c = &self.conservation;
        let _ = writeln!(
            s,
            "conservation: {} (cash {} -> {}, fees {}; shares {}; ledger invariants {})",
            if c.ok { "ok" } else { "VIOLATED" },
            c.cash_start,
            c.cash_end,
            c.fees_collected,
            share_summary(&c.shares),
            c.invariants
        );
        let p = &self.performance;
        let _ = writeln!(
            s,
            "performance: {:.3} s wall, {:.0} events/s, {:.0} simulated s per wall s, {}/{} steps active, {} worker thread(s), peak RSS {}",
            p.wall_seconds,
            p.events_per_second,
            p.simulated_seconds_per_wall_second,
            p.active_steps,
            p.total_steps,
            p.worker_threads,
            p.peak_rss_mib
                .map_or("n/a".to_string(), |m| format!("{m:.1} MiB"))
        );
        let _ = writeln!(s, "event log hash: {}", self.log_hash);
        if !self.files.is_empty() {
            let _ = writeln!(s, "files: {}", self.files.join(", "));
        }
        s
    }
}

fn share_summary(shares: &[ShareCheck]) -> String {
    let bad: Vec<String> = shares
        .iter()
        .filter(|x| x.held != x.issued)
        .map(|x| format!("{} held {} of {}", x.symbol, x.held, x.issued))
        .collect();
    match (bad.is_empty(), shares) {
        (true, [one]) => format!("{} {}/{}", one.symbol, one.held, one.issued),
        (true, _) => format!("all {} symbols held = issued", shares.len()),
        (false, _) => bad.join(", "),
    }
}

/// Write `candles.csv`.
pub fn write_candles(path: &Path, candles: &[(Symbol, Vec<Candle>)]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "symbol", "start", "open", "high", "low", "close", "volume", "trades",
    ])?;
    for (s, cs) in candles {
        for c in cs {
            w.write_record([
                s.as_str().to_string(),
                rfc3339(c.start),
                c.open.to_string(),
                c.high.to_string(),
                c.low.to_string(),
                c.close.to_string(),
                c.volume.to_string(),
                c.trades.to_string(),
            ])?;
        }
    }
    w.flush()
}

/// One SVG chart of minute closes. Plotting converts prices to floats for
/// drawing only.
pub fn write_chart(
    path: &Path,
    symbol: Symbol,
    candles: &[Candle],
    initial: Price,
) -> Result<(), String> {
    use plotters::prelude::*;
    if candles.is_empty() {
        return Ok(());
    }
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let to_f = |p: Price| p.minor() as f64 / engine::money::SCALE as f64;
    let lo = candles
        .iter()
        .map(|c| c.low)
        .min()
        .unwrap_or(initial)
        .min(initial);
    let hi = candles
        .iter()
        .map(|c| c.high)
        .max()
        .unwrap_or(initial)
        .max(initial);
    let pad = ((to_f(hi) - to_f(lo)) * 0.05).max(0.01);
    let t0 = candles[0].start.nanos();
    let mins = |c: &Candle| (c.start.nanos() - t0) as f64 / 60e9;
    let xmax = candles.last().map_or(1.0, mins).max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{symbol}: minute close"), ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, (to_f(lo) - pad)..(to_f(hi) + pad))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("minutes since first trade")
        .y_desc("price")
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(
            candles.iter().map(|c| (mins(c), to_f(c.close))),
            &BLUE,
        ))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// The report as pretty JSON.
pub fn to_json(r: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(r)
}
