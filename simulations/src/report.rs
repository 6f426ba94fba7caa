//! The end-of-run report: printed, and written as `report.json`, with
//! `trades.csv`, `candles.csv` and one SVG price chart per symbol.

use std::fmt::Write as _;
use std::path::Path;

use engine::{Candle, Symbol};
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
    /// The return facts of every symbol's returns together (two or more
    /// symbols with returns).
    pub stylized_facts_pooled: Option<crate::facts::Pooled>,
    /// A row per day and symbol (positions and resting GTC orders carry
    /// over from day to day; DAY orders expire at each close).
    pub per_day: Vec<DayRow>,
    /// Per symbol: the close of every minute of every session (minor
    /// units, carried over quiet minutes; sweeps draw fan charts from it).
    #[serde(skip)]
    pub closes: std::collections::BTreeMap<String, Vec<i64>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DayRow {
    /// 1 for the first day.
    pub day: u32,
    pub date: String,
    pub symbol: String,
    /// The previous day's close (the listing price on day 1).
    pub previous_close: String,
    pub open: Option<String>,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: u64,
    pub trades: u64,
    pub change_pct: String,
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
        // A row of the per-symbol and per-day tables: a name, then eight
        // right-aligned columns.
        let row = |s: &mut String, c: [&str; 9]| {
            let _ = writeln!(
                s,
                "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8}",
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
            );
        };
        row(
            &mut s,
            [
                "symbol", "initial", "open", "high", "low", "close", "volume", "trades", "change",
            ],
        );
        for r in &self.symbols {
            row(
                &mut s,
                [
                    &r.symbol,
                    &r.initial,
                    &r.open,
                    &r.high,
                    &r.low,
                    &r.close,
                    &r.volume.to_string(),
                    &r.trades.to_string(),
                    &r.change_pct,
                ],
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
        if self.days > 1 {
            let _ = writeln!(s);
            row(
                &mut s,
                [
                    "day date       symbol    ",
                    "prev",
                    "open",
                    "high",
                    "low",
                    "close",
                    "volume",
                    "trades",
                    "change",
                ],
            );
            for d in &self.per_day {
                row(
                    &mut s,
                    [
                        &format!("{:<3} {} {:<10}", d.day, d.date, d.symbol),
                        &d.previous_close,
                        d.open.as_deref().unwrap_or("-"),
                        &d.high,
                        &d.low,
                        &d.close,
                        &d.volume.to_string(),
                        &d.trades.to_string(),
                        &d.change_pct,
                    ],
                );
            }
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
                    f.stats.returns,
                    f.volatility_bps.map_or("n/a".into(), |v| format!("{v:.0}")),
                    f.mean_spread_bps
                        .map_or("n/a".into(), |v| format!("{v:.1}")),
                );
                checks_text(&mut s, &f.checks);
            }
            if let Some(p) = &self.stylized_facts_pooled {
                let held = p.checks.iter().filter(|c| c.in_range == Some(true)).count();
                let _ = writeln!(
                    s,
                    "  all {} symbols pooled ({} returns): {held}/{} in range",
                    p.symbols,
                    p.stats.returns,
                    p.checks.len()
                );
                checks_text(&mut s, &p.checks);
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

fn checks_text(s: &mut String, checks: &[crate::facts::Check]) {
    for c in checks {
        let mark = match c.in_range {
            Some(true) => "in ",
            Some(false) => "OUT",
            None => "n/a",
        };
        let _ = writeln!(s, "    [{mark}] {}: {}", c.fact, c.measured);
    }
}

fn checks_rows(checks: &[crate::facts::Check]) -> Vec<Vec<(&'static str, String)>> {
    checks
        .iter()
        .map(|c| {
            let (class, mark) = match c.in_range {
                Some(true) => ("in", "in range"),
                Some(false) => ("out", "out of range"),
                None => ("na", "n/a"),
            };
            vec![
                ("text", c.fact.clone()),
                ("", c.measured.clone()),
                ("text", c.literature.clone()),
                (class, mark.to_string()),
            ]
        })
        .collect()
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

/// The report as pretty JSON.
pub fn to_json(r: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(r)
}

/// `s` with HTML's special characters escaped.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The head of a self-contained page (styles inline, nothing fetched).
pub fn page_head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font:15px/1.45 system-ui,sans-serif;color:#1b1f24;margin:1.5rem;max-width:1100px}}\
table{{border-collapse:collapse;margin:.5rem 0 1.2rem;font-variant-numeric:tabular-nums}}\
th,td{{padding:.25rem .6rem;border-bottom:1px solid #d0d7de;text-align:right}}\
th:first-child,td:first-child{{text-align:left}}th{{background:#f4f6f8}}\
td.in{{color:#0a7a32;font-weight:600}}td.out{{color:#b3261e;font-weight:600}}td.na{{color:#4b5563}}\
td.text{{text-align:left}}figure{{margin:1rem 0}}svg{{max-width:100%;height:auto}}\
</style></head><body>\n",
        esc(title)
    )
}

/// A table: a header row and rows of cells (`(class, text)`; the class may
/// be empty).
pub fn html_table(head: &[&str], rows: &[Vec<(&str, String)>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for (class, text) in r {
            if class.is_empty() {
                let _ = write!(s, "<td>{}</td>", esc(text));
            } else {
                let _ = write!(s, "<td class=\"{class}\">{}</td>", esc(text));
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>\n");
    s
}

/// Cells without a class.
pub fn plain<const N: usize>(cells: [String; N]) -> Vec<(&'static str, String)> {
    cells.into_iter().map(|c| ("", c)).collect()
}

/// An SVG file's markup, to inline in a page.
pub fn inline_svg(path: &Path) -> std::io::Result<String> {
    let svg = std::fs::read_to_string(path)?;
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    })
}

impl Report {
    /// `index.html`: every table and chart of the run in one file that
    /// needs nothing else (charts inlined).
    pub fn write_index(&self, path: &Path, charts: &[std::path::PathBuf]) -> std::io::Result<()> {
        let mut s = page_head(&format!(
            "marketsim: {} (seed {})",
            self.scenario, self.seed
        ));
        let _ = writeln!(
            s,
            "<h1>{} <small>seed {}, {} day(s), {} agents</small></h1>",
            esc(&self.scenario),
            self.seed,
            self.days,
            self.agents
        );
        let c = &self.conservation;
        let p = &self.performance;
        let _ = writeln!(
            s,
            "<p>Conservation {} (cash {} to {}, fees {}; ledger invariants {}). {:.3} s wall, {:.0} events/s. Event log hash <code>{}</code>.</p>",
            if c.ok { "ok" } else { "VIOLATED" },
            esc(&c.cash_start),
            esc(&c.cash_end),
            esc(&c.fees_collected),
            esc(&c.invariants),
            p.wall_seconds,
            p.events_per_second,
            esc(&self.log_hash)
        );
        s.push_str("<h2>Symbols</h2>");
        let rows: Vec<Vec<(&str, String)>> = self
            .symbols
            .iter()
            .map(|r| {
                let mut row = plain([
                    r.symbol.clone(),
                    r.initial.clone(),
                    r.open.clone(),
                    r.high.clone(),
                    r.low.clone(),
                    r.close.clone(),
                    r.volume.to_string(),
                    r.trades.to_string(),
                ]);
                let class = if r.change_bps < 0 { "out" } else { "in" };
                row.push((class, r.change_pct.clone()));
                row
            })
            .collect();
        s.push_str(&html_table(
            &[
                "symbol", "initial", "open", "high", "low", "close", "volume", "trades", "change",
            ],
            &rows,
        ));
        if self.days > 1 {
            s.push_str("<h2>Day by day</h2>");
            let rows: Vec<Vec<(&str, String)>> = self
                .per_day
                .iter()
                .map(|d| {
                    plain([
                        d.day.to_string(),
                        d.date.clone(),
                        d.symbol.clone(),
                        d.previous_close.clone(),
                        d.open.clone().unwrap_or_else(|| "-".into()),
                        d.high.clone(),
                        d.low.clone(),
                        d.close.clone(),
                        d.volume.to_string(),
                        d.trades.to_string(),
                        d.change_pct.clone(),
                    ])
                })
                .collect();
            s.push_str(&html_table(
                &[
                    "day",
                    "date",
                    "symbol",
                    "previous close",
                    "open",
                    "high",
                    "low",
                    "close",
                    "volume",
                    "trades",
                    "change",
                ],
                &rows,
            ));
        }
        s.push_str("<h2>P&amp;L by agent type (marked to the close)</h2>");
        let rows: Vec<Vec<(&str, String)>> = self
            .leaderboard
            .iter()
            .map(|t| {
                plain([
                    t.agent_type.clone(),
                    t.agents.to_string(),
                    t.total_pnl.clone(),
                    t.mean_pnl.clone(),
                    t.best_pnl.clone(),
                    t.worst_pnl.clone(),
                ])
            })
            .collect();
        s.push_str(&html_table(
            &["type", "agents", "total", "mean", "best", "worst"],
            &rows,
        ));
        let t = &self.totals;
        let _ = writeln!(
            s,
            "<p>Orders {} (limit {}, market {}), cancel requests {}, cancelled {}, expired {}, denied {}, trades {}, fills {}, volume {}.</p>",
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
        s.push_str("<h2>Stylized facts</h2><p>Each fact against the range the literature reports (sources in the README).</p>");
        for f in &self.stylized_facts {
            let _ = writeln!(
                s,
                "<h3>{}</h3><p>{} one-minute returns; volatility {} bps per session; mean spread {} bps.</p>",
                esc(&f.symbol),
                f.stats.returns,
                f.volatility_bps.map_or("n/a".into(), |v| format!("{v:.0}")),
                f.mean_spread_bps
                    .map_or("n/a".into(), |v| format!("{v:.2}"))
            );
            let rows = checks_rows(&f.checks);
            s.push_str(&html_table(&["fact", "measured", "literature", ""], &rows));
        }
        if let Some(p) = &self.stylized_facts_pooled {
            let _ = writeln!(
                s,
                "<h3>All {} symbols pooled</h3><p>{} one-minute returns (each symbol's scaled by its own standard deviation; autocorrelations averaged).</p>",
                p.symbols, p.stats.returns
            );
            s.push_str(&html_table(
                &["fact", "measured", "literature", ""],
                &checks_rows(&p.checks),
            ));
        }
        s.push_str("<h2>Charts</h2>");
        for c in charts {
            let _ = writeln!(s, "<figure>{}</figure>", inline_svg(c)?);
        }
        s.push_str("</body></html>\n");
        std::fs::write(path, s)
    }
}
