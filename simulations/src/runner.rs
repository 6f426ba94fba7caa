//! The runner: builds a market from a plan, runs the kernel with the
//! plan's agents, checks conservation and writes the report.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use actors::account::{AccountCmd, Totals as LedgerTotals};
use actors::kernel::{KernelConfig, Observer, RunStats};

use crate::log_hash::LogHasher;
use actors::ticker::TickerConfig;
use actors::{Kernel, MarketHandle, PriceWalk, TickerSnapshot};
use engine::{AccountId, DayStats, Event, Fees, Money, Price, Symbol, Timestamp};
use indicatif::{ProgressBar, ProgressStyle};
use thiserror::Error;

use crate::agents::Agents;
use crate::report::{
    self, Conservation, Mover, Performance, Report, ShareCheck, SymbolReport, Totals, TypeReport,
    pct,
};
use crate::scenario::Plan;
use crate::time::rfc3339;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("actor failure: {0}")]
    Actor(#[from] actors::ActorError),
    #[error("cannot set up the market: {0}")]
    Setup(String),
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Progress {
    /// A bar on a terminal, log lines otherwise.
    #[default]
    Auto,
    Bar,
    Log,
    Quiet,
}

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Output directory (default: the scenario's, else `out/<name>`).
    pub out: Option<PathBuf>,
    /// Write no files at all (benchmarks, tests).
    pub no_files: bool,
    pub progress: Progress,
    /// Account actors the agents are spread over (default 1).
    pub account_shards: usize,
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub stats: RunStats,
}

struct RunObserver {
    hash: LogHasher,
    trades: Option<csv::Writer<BufWriter<File>>>,
    write_error: Option<String>,
    days: Vec<BTreeMap<Symbol, DayStats>>,
    bar: Option<ProgressBar>,
    log_every: Duration,
    last_log: Instant,
    started: Instant,
    facts: crate::facts::Collector,
}

impl Observer for RunObserver {
    fn on_ticks(&mut self, ticks: &[actors::PriceTick]) {
        for t in ticks {
            self.hash.tick(t);
        }
    }
    fn on_events(&mut self, _ts: Timestamp, events: &[(Symbol, Event)]) {
        for (s, e) in events {
            self.hash.event(*s, e);
        }
        self.facts.on_events(events);
        let Some(w) = self.trades.as_mut() else {
            return;
        };
        for (s, e) in events {
            if let Event::Trade(t) = e {
                let r = w.write_record([
                    rfc3339(t.ts),
                    s.as_str().to_string(),
                    t.price.to_string(),
                    t.quantity.to_string(),
                    if t.taker_side == engine::Side::Buy {
                        "buy"
                    } else {
                        "sell"
                    }
                    .to_string(),
                    t.maker_order.to_string(),
                    t.maker_account.to_string(),
                    t.taker_order.to_string(),
                    t.taker_account.to_string(),
                ]);
                if let Err(e) = r {
                    self.write_error.get_or_insert(e.to_string());
                }
            }
        }
    }
    fn on_progress(&mut self, step: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(step + 1);
        } else if self.last_log.elapsed() >= self.log_every {
            self.last_log = Instant::now();
            tracing::info!(
                "step {}/{} ({:.0}%), {:.1} s elapsed",
                step + 1,
                total,
                100.0 * (step + 1) as f64 / total.max(1) as f64,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
    fn on_day_close(&mut self, _day: u32, market: &BTreeMap<Symbol, TickerSnapshot>) {
        self.days
            .push(market.iter().map(|(s, m)| (*s, m.stats)).collect());
        self.facts.on_day_close();
    }
    fn on_market(&mut self, ts: Timestamp, market: &BTreeMap<Symbol, TickerSnapshot>) {
        self.facts.on_market(ts, market);
    }
}

fn write_err(path: &std::path::Path, e: impl std::fmt::Display) -> RunError {
    RunError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Open every agent's account with its cash and shares, and issue the rest
/// of each symbol's float to the house account. Returns the cash deposited.
pub async fn open_accounts(
    market: &MarketHandle,
    plan: &Plan,
    agents: &Agents,
) -> Result<Money, RunError> {
    let mut cmds: Vec<(actors::AccountHandle, AccountCmd)> = Vec::new();
    let mut push = |id: AccountId, cmd: AccountCmd| cmds.push((market.accounts_of(id), cmd));
    let mut cash_start = Money::ZERO;
    let mut given: BTreeMap<Symbol, u64> = BTreeMap::new();
    for a in &agents.agents {
        push(a.account, AccountCmd::Open(a.account));
        if a.start_cash.minor() > 0 {
            push(a.account, AccountCmd::Deposit(a.account, a.start_cash));
            cash_start = Money::from_minor(cash_start.minor() + a.start_cash.minor());
        }
        if a.start_shares > 0 {
            for s in &a.symbols {
                push(a.account, AccountCmd::Issue(a.account, *s, a.start_shares));
                *given.entry(*s).or_default() += a.start_shares;
            }
        }
    }
    push(AccountId::HOUSE, AccountCmd::Open(AccountId::HOUSE));
    for l in &plan.symbols {
        let given = given.get(&l.symbol).copied().unwrap_or(0);
        if given > l.float {
            return Err(RunError::Setup(format!(
                "{}: agents start with {given} shares but the float is {}",
                l.symbol, l.float
            )));
        }
        let rest = l.float - given;
        if rest > 0 {
            push(
                AccountId::HOUSE,
                AccountCmd::Issue(AccountId::HOUSE, l.symbol, rest),
            );
        }
    }
    for (h, cmds) in actors::account::group_by_actor(cmds) {
        for r in h.apply_batch(cmds).await? {
            r.map_err(|e| RunError::Setup(e.to_string()))?;
        }
    }
    Ok(cash_start)
}

/// Run a plan to the end and build its report. Call it from a task on the
/// runtime (not from `block_on` directly): actor round trips are far
/// cheaper between tasks.
pub async fn run(plan: &Plan, opts: &RunOptions) -> Result<Outcome, RunError> {
    let started = Instant::now();
    let sc = &plan.scenario;
    let seed = opts.seed.unwrap_or(sc.seed);
    let fees = Fees::new(sc.fees.maker_bps, sc.fees.taker_bps)
        .map_err(|e| RunError::Setup(e.to_string()))?;
    let market = MarketHandle::start(fees, AccountId::FEES, opts.account_shards.max(1)).await?;
    let result = run_on(&market, plan, opts, seed, started).await;
    market.shutdown();
    result
}

async fn run_on(
    market: &MarketHandle,
    plan: &Plan,
    opts: &RunOptions,
    seed: u64,
    started: Instant,
) -> Result<Outcome, RunError> {
    let sc = &plan.scenario;
    let mut walk = PriceWalk::default();
    for (i, l) in plan.symbols.iter().enumerate() {
        market
            .list(l.ticker(TickerConfig {
                ticks_update_stats: false,
            }))
            .await?;
        let gbm = l
            .model(l.initial)
            .map_err(|e| RunError::Setup(format!("{}: {e}", l.symbol)))?;
        walk.add(l.symbol, gbm, seed, i as u64);
    }

    let mut agents = Agents::new(plan, seed);
    let cash_start = open_accounts(market, plan, &agents).await?;

    // Output files.
    let out_dir = opts
        .out
        .clone()
        .or_else(|| sc.output.dir.clone())
        .unwrap_or_else(|| PathBuf::from("out").join(&sc.name));
    let mut files = Vec::new();
    let trades = if !opts.no_files && sc.output.trades_csv {
        std::fs::create_dir_all(&out_dir).map_err(|e| write_err(&out_dir, e))?;
        let path = out_dir.join("trades.csv");
        let f = File::create(&path).map_err(|e| write_err(&path, e))?;
        let mut w = csv::Writer::from_writer(BufWriter::new(f));
        w.write_record([
            "time",
            "symbol",
            "price",
            "quantity",
            "taker_side",
            "maker_order",
            "maker_account",
            "taker_order",
            "taker_account",
        ])
        .map_err(|e| write_err(&path, e))?;
        files.push(path.display().to_string());
        Some(w)
    } else {
        None
    };

    let total_steps = plan.steps_per_day * u64::from(sc.days);
    let progress = match opts.progress {
        Progress::Auto if std::io::stdout().is_terminal() => Progress::Bar,
        Progress::Auto => Progress::Log,
        p => p,
    };
    let bar = (progress == Progress::Bar).then(|| {
        let b = ProgressBar::new(total_steps);
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} steps ({percent}%)",
        ) {
            b.set_style(style.progress_chars("=> "));
        }
        b
    });
    let mut obs = RunObserver {
        hash: LogHasher::default(),
        trades,
        write_error: None,
        days: Vec::new(),
        bar,
        log_every: if progress == Progress::Log {
            Duration::from_secs(2)
        } else {
            Duration::MAX
        },
        last_log: Instant::now(),
        started,
        facts: crate::facts::Collector::default(),
    };

    let cfg = KernelConfig {
        start: Timestamp::from_secs(plan.start_secs),
        step_nanos: sc.step_ms as i64 * 1_000_000,
        steps_per_day: plan.steps_per_day,
        days: sc.days,
        day_nanos: 86_400 * 1_000_000_000,
        seed,
        record_every: (60_000 / sc.step_ms).max(1),
    };
    let mut kernel = Kernel::new(market.directory(), walk, cfg);
    let sim_started = Instant::now();
    let stats = kernel.run(&mut agents, &mut obs).await?;
    let wall = sim_started.elapsed().as_secs_f64();
    if let Some(b) = &obs.bar {
        b.finish_and_clear();
    }
    if let Some(mut w) = obs.trades.take() {
        w.flush()
            .map_err(|e| write_err(&out_dir.join("trades.csv"), e))?;
    }
    if let Some(e) = obs.write_error {
        return Err(write_err(&out_dir.join("trades.csv"), e));
    }

    // Ledger totals over every account actor, and each account's figures.
    let mut totals = LedgerTotals::default();
    let mut accounts = BTreeMap::new();
    let mut invariants = Ok(());
    for h in market.directory().account_actors() {
        let t = h.totals().await?;
        totals.cash = Money::from_minor(totals.cash.minor() + t.cash.minor());
        for (s, q) in t.shares {
            *totals.shares.entry(s).or_default() += q;
        }
        for (id, a) in h.all().await? {
            accounts.insert(id, a);
        }
        if let Err(e) = h.check_invariants().await? {
            invariants = Err(e);
        }
    }
    let fees_collected = accounts
        .get(&AccountId::FEES)
        .map_or(Money::ZERO, |a| a.cash());

    // Per symbol over all days.
    let mut closes: BTreeMap<Symbol, Price> = BTreeMap::new();
    let mut symbols = Vec::new();
    for l in &plan.symbols {
        let days: Vec<DayStats> = obs
            .days
            .iter()
            .filter_map(|d| d.get(&l.symbol).copied())
            .collect();
        let traded: Vec<&DayStats> = days.iter().filter(|d| d.trades > 0).collect();
        let open = traded.first().and_then(|d| d.open).unwrap_or(l.initial);
        let close = traded.last().map_or(l.initial, |d| d.last);
        let high = traded.iter().map(|d| d.high).max().unwrap_or(l.initial);
        let low = traded.iter().map(|d| d.low).min().unwrap_or(l.initial);
        let mut whole = DayStats::new(l.initial);
        whole.last = close;
        closes.insert(l.symbol, close);
        symbols.push(SymbolReport {
            symbol: l.symbol.to_string(),
            initial: l.initial.to_string(),
            open: open.to_string(),
            high: high.to_string(),
            low: low.to_string(),
            close: close.to_string(),
            volume: days.iter().map(|d| d.volume).sum(),
            trades: days.iter().map(|d| d.trades).sum(),
            change: whole.change().to_string(),
            change_pct: pct(whole.change_bps()),
            change_bps: whole.change_bps(),
        });
    }
    let mut per_day = Vec::new();
    for (i, day) in obs.days.iter().enumerate() {
        let date = crate::time::rfc3339(Timestamp::from_secs(plan.start_secs + i as i64 * 86_400))
            [..10]
            .to_string();
        for l in &plan.symbols {
            let Some(d) = day.get(&l.symbol) else {
                continue;
            };
            per_day.push(report::DayRow {
                day: i as u32 + 1,
                date: date.clone(),
                symbol: l.symbol.to_string(),
                previous_close: d.reference.to_string(),
                open: d.open.map(|p| p.to_string()),
                high: d.high.to_string(),
                low: d.low.to_string(),
                close: d.last.to_string(),
                volume: d.volume,
                trades: d.trades,
                change_pct: pct(d.change_bps()),
            });
        }
    }
    let ranked: Vec<(String, engine::DayStats)> = plan
        .symbols
        .iter()
        .map(|l| {
            let mut d = DayStats::new(l.initial);
            d.last = closes[&l.symbol];
            (l.symbol.to_string(), d)
        })
        .collect();
    let (up, down) = engine::stats::movers(&ranked, sc.output.movers);
    let mover = |(s, d): (String, DayStats)| Mover {
        symbol: s,
        close: d.last.to_string(),
        change_pct: pct(d.change_bps()),
    };
    let top_gainers = up.into_iter().map(mover).collect();
    let top_losers = down.into_iter().map(mover).collect();

    // P&L by agent type, marked to each symbol's close.
    let initial: BTreeMap<Symbol, Price> =
        plan.symbols.iter().map(|l| (l.symbol, l.initial)).collect();
    let mut by_type: BTreeMap<&'static str, Vec<i64>> = BTreeMap::new();
    for a in &agents.agents {
        let Some(acc) = accounts.get(&a.account) else {
            continue;
        };
        let mut start = a.start_cash.minor();
        for s in &a.symbols {
            start += initial[s].minor() * a.start_shares as i64;
        }
        let mut end = acc.cash().minor();
        for (s, h) in acc.holdings() {
            end += closes.get(&s).map_or(0, |p| p.minor()) * h.quantity as i64;
        }
        by_type.entry(a.kind.name()).or_default().push(end - start);
    }
    let mut leaderboard: Vec<TypeReport> = by_type
        .into_iter()
        .map(|(t, v)| {
            let total: i64 = v.iter().sum();
            let mean = total / v.len().max(1) as i64;
            TypeReport {
                agent_type: t.to_string(),
                agents: v.len(),
                total_pnl: Money::from_minor(total).to_string(),
                mean_pnl: Money::from_minor(mean).to_string(),
                best_pnl: Money::from_minor(v.iter().copied().max().unwrap_or(0)).to_string(),
                worst_pnl: Money::from_minor(v.iter().copied().min().unwrap_or(0)).to_string(),
                mean_minor: mean,
            }
        })
        .collect();
    leaderboard.sort_by_key(|t| std::cmp::Reverse(t.mean_minor));

    let shares: Vec<ShareCheck> = plan
        .symbols
        .iter()
        .map(|l| ShareCheck {
            symbol: l.symbol.to_string(),
            issued: l.float,
            held: totals.shares.get(&l.symbol).copied().unwrap_or(0),
        })
        .collect();
    let ok = totals.cash == cash_start
        && shares.iter().all(|s| s.issued == s.held)
        && invariants.is_ok();
    let conservation = Conservation {
        ok,
        cash_start: cash_start.to_string(),
        cash_end: totals.cash.to_string(),
        fees_collected: fees_collected.to_string(),
        shares,
        invariants: match &invariants {
            Ok(()) => "hold".to_string(),
            Err(e) => e.clone(),
        },
    };

    let minutes = obs.facts.minutes();
    let (stylized_facts, stylized_facts_pooled) = obs
        .facts
        .finish(plan.steps_per_day as f64 * sc.step_ms as f64 / 60_000.0);

    // Files: candles and charts.
    if !opts.no_files {
        std::fs::create_dir_all(&out_dir).map_err(|e| write_err(&out_dir, e))?;
        let mut candles = Vec::new();
        for t in market.directory().tickers() {
            candles.push((t.symbol(), t.candles().await?));
        }
        if sc.output.candles_csv {
            let path = out_dir.join("candles.csv");
            report::write_candles(&path, &candles).map_err(|e| write_err(&path, e))?;
            files.push(path.display().to_string());
        }
        if sc.output.charts {
            for (s, days) in &minutes {
                let path = out_dir.join(format!("{}.svg", s.as_str()));
                if crate::charts::candles(&path, s.as_str(), days)
                    .map_err(|e| write_err(&path, e))?
                {
                    files.push(path.display().to_string());
                }
            }
            for f in &stylized_facts {
                let path = out_dir.join(format!("{}-facts.svg", f.symbol));
                if crate::charts::facts(&path, f).map_err(|e| write_err(&path, e))? {
                    files.push(path.display().to_string());
                }
            }
        }
        files.push(out_dir.join("report.json").display().to_string());
        files.push(out_dir.join("index.html").display().to_string());
    }

    let sim_secs = total_steps as f64 * sc.step_ms as f64 / 1_000.0;
    let performance = Performance {
        wall_seconds: wall,
        events_per_second: stats.events as f64 / wall.max(1e-9),
        simulated_seconds_per_wall_second: sim_secs / wall.max(1e-9),
        active_steps: stats.active_steps,
        total_steps: stats.total_steps,
        worker_threads: tokio::runtime::Handle::try_current()
            .map_or(1, |h| h.metrics().num_workers()),
        peak_rss_mib: report::peak_rss_mib(),
    };
    let report = Report {
        scenario: sc.name.clone(),
        seed,
        days: sc.days,
        step_ms: sc.step_ms,
        agents: agents.len(),
        symbols,
        top_gainers,
        top_losers,
        leaderboard,
        totals: Totals {
            orders: stats.orders,
            limit_orders: stats.limit_orders,
            market_orders: stats.market_orders,
            cancel_requests: stats.cancel_requests,
            cancelled: stats.cancelled,
            expired: stats.expired,
            denied: stats.denied,
            trades: stats.trades,
            fills: stats.fills,
            volume: stats.volume,
            shocks: stats.shocks,
            events: stats.events,
        },
        conservation,
        performance,
        log_hash: format!("{:016x}", obs.hash.finish()),
        files,
        stylized_facts,
        stylized_facts_pooled,
        per_day,
        closes: minutes
            .into_iter()
            .map(|(s, days)| {
                let mut last = initial.get(&s).map_or(0, |p| p.minor());
                let path = days
                    .iter()
                    .flatten()
                    .map(|(_, m)| {
                        last = m.close.unwrap_or(last);
                        last
                    })
                    .collect();
                (s.to_string(), path)
            })
            .collect(),
    };
    if !opts.no_files {
        let charts: Vec<PathBuf> = report
            .files
            .iter()
            .filter(|f| f.ends_with(".svg"))
            .map(PathBuf::from)
            .collect();
        let index = out_dir.join("index.html");
        report
            .write_index(&index, &charts)
            .map_err(|e| write_err(&index, e))?;
        let path = out_dir.join("report.json");
        let json = serde_json::to_string_pretty(&report).map_err(|e| write_err(&path, e))?;
        std::fs::write(&path, json).map_err(|e| write_err(&path, e))?;
    }
    Ok(Outcome { report, stats })
}
