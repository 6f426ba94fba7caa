//! What each kind of task does, a step at a time.

use std::collections::BTreeMap;

use actors::facts::{Fact, PriceSource};
use actors::ports::PriceEntry;
use actors::task::{RowProblem, Task, TaskKind};
use engine::{AccountId, ClientOrderId, OrderStatus, Price, RejectReason, Symbol, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::orders::{OrderSpec, new_order, reject_text};
use crate::state::AppState;

/// What a task is asked to do, as the API takes it (`kind` names the
/// variant) and as the journal keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Params {
    /// List `count` new symbols (`<prefix>00001`...) with random prices
    /// between `min_price` and `max_price` and `float` shares each,
    /// offered by the house.
    CreateShares {
        count: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_price: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_price: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        float: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
    },
    /// A new price for each symbol: `prices` gives them, or a random step
    /// of at most `step_bps` (default 200: 2%) from each of `symbols`'
    /// reference price (`"all"`: every symbol listed when the task starts).
    UpdatePrices {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        symbols: Option<Selection>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prices: Option<BTreeMap<String, String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_bps: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
    },
    /// Place each row of the uploaded order file as an order.
    ImportOrders {
        #[serde(default)]
        strict: bool,
    },
    /// Apply each row of the uploaded price file (`Time,Stock,Price`) as
    /// a price at that time of `date` (default: the day the task starts).
    ImportPrices {
        #[serde(default)]
        strict: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        date: Option<String>,
    },
    /// Write orders, trades or prices in `[from, to]` (of one `symbol`, or
    /// all) to a CSV file, downloaded at `GET /v1/tasks/{id}/file`: a
    /// user's own orders and trades, or everyone's for the admin.
    Export {
        what: actors::ports::ExportWhat,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        symbol: Option<String>,
    },
}

/// `"all"` or a list of symbols.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Selection {
    Word(String),
    Symbols(Vec<String>),
}

impl Params {
    pub fn kind(&self) -> TaskKind {
        match self {
            Params::CreateShares { .. } => TaskKind::CreateShares,
            Params::UpdatePrices { .. } => TaskKind::UpdatePrices,
            Params::ImportOrders { .. } => TaskKind::ImportOrders,
            Params::ImportPrices { .. } => TaskKind::ImportPrices,
            Params::Export { .. } => TaskKind::Export,
        }
    }
}

/// A step that did not go through.
#[derive(Debug)]
pub enum StepError {
    /// Nothing was applied; try again later (the database is away).
    Retry(String),
    /// The task cannot go on.
    Fail(String),
}

impl From<ApiError> for StepError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unavailable(m) => StepError::Retry(m),
            ApiError::Internal(m) => StepError::Fail(m),
            e => StepError::Fail(e.to_string()),
        }
    }
}

/// One kind's work.
#[async_trait::async_trait]
pub trait Work: Send + Sync {
    /// Apply at most `budget` items from `task.done`, advance `task`'s
    /// progress and journal the items' facts with `task` in one append:
    /// `Ok(Some(ticket))`, durable once `ticket` is (a step that waited
    /// itself may answer 0); `Ok(None)` when nothing was left.
    async fn step(
        &mut self,
        st: &AppState,
        task: &mut Task,
        budget: usize,
    ) -> Result<Option<u64>, StepError>;
}

/// A task ready to run.
pub struct Prepared {
    pub total: u64,
    /// Problems known before the first step (bad rows of a file).
    pub problems: Vec<RowProblem>,
    pub work: Box<dyn Work>,
    /// What a restart needs besides the parameters (`update_prices` of
    /// `"all"`: the symbols it started with), kept as the task's file.
    pub keep: Option<Vec<u8>>,
}

/// The most symbols one `create_shares` task lists.
pub const MAX_SHARES: u64 = 100_000;

/// Check `params` (and the upload) and make the task's work. Errors are
/// the caller's (422), before anything is kept.
pub fn prepare(
    st: &AppState,
    id: u64,
    owner: Option<AccountId>,
    params: &Params,
    upload: Option<&[u8]>,
) -> Result<Prepared, ApiError> {
    let bad = |m: String| ApiError::Unprocessable(m);
    if params.kind().market_wide() && owner.is_some() {
        return Err(ApiError::Forbidden);
    }
    match params {
        Params::CreateShares {
            count,
            prefix,
            min_price,
            max_price,
            float,
            seed,
        } => {
            if !(1..=MAX_SHARES).contains(count) {
                return Err(bad(format!("`count` must be 1 to {MAX_SHARES}")));
            }
            let prefix = prefix.clone().unwrap_or_else(|| format!("T{id}S"));
            let width = count.to_string().len().max(5);
            let last = format!("{prefix}{count:0width$}");
            Symbol::new(&last).map_err(|e| bad(format!("`prefix`: {e}")))?;
            let price = |f: &str, v: &Option<String>, d: i64| {
                v.as_deref()
                    .map(|s| crate::dto::price(f, s))
                    .transpose()
                    .map(|p| p.unwrap_or(Price::from_minor(d)))
            };
            let (lo, hi) = (
                price("min_price", min_price, 1_000)?,
                price("max_price", max_price, 50_000)?,
            );
            if lo > hi {
                return Err(bad("`min_price` must not be above `max_price`".into()));
            }
            let float = float.unwrap_or(crate::routes::admin::DEFAULT_FLOAT);
            if float == 0 || float > i64::MAX as u64 {
                return Err(bad("`float` must be at least 1".into()));
            }
            Ok(Prepared {
                total: *count,
                problems: Vec::new(),
                keep: None,
                work: Box::new(CreateShares {
                    prefix,
                    width,
                    lo,
                    hi,
                    float,
                    seed: seed.unwrap_or(id),
                }),
            })
        }
        Params::UpdatePrices {
            symbols,
            prices,
            step_bps,
            seed,
        } => {
            let dir = st.market.directory();
            let known = |s: &str| {
                let sym = Symbol::new(s).map_err(|e| bad(format!("`symbols`: {e}")))?;
                dir.ticker(sym)
                    .map(|_| sym)
                    .ok_or_else(|| bad(format!("`symbols`: unknown symbol `{s}`")))
            };
            let (list, given) = match (symbols, prices) {
                (Some(_), Some(_)) => {
                    return Err(bad("give `symbols` or `prices`, not both".into()));
                }
                (None, None) => return Err(bad("give `symbols` (or \"all\") or `prices`".into())),
                (Some(Selection::Word(w)), None) if w == "all" => match upload {
                    // After a restart: the list it started with (kept).
                    Some(kept) => (
                        String::from_utf8_lossy(kept)
                            .lines()
                            .filter_map(|s| Symbol::new(s).ok())
                            .collect(),
                        None,
                    ),
                    // Every symbol listed now, in order.
                    None => {
                        let mut all: Vec<Symbol> =
                            dir.tickers().iter().map(|t| t.symbol()).collect();
                        all.sort();
                        (all, None)
                    }
                },
                (Some(Selection::Word(w)), None) => {
                    return Err(bad(format!(
                        "`symbols` must be \"all\" or a list of symbols, not `{w}`"
                    )));
                }
                (Some(Selection::Symbols(v)), None) => (
                    v.iter().map(|s| known(s)).collect::<Result<Vec<_>, _>>()?,
                    None,
                ),
                (None, Some(m)) => {
                    let mut syms = Vec::with_capacity(m.len());
                    let mut ps = Vec::with_capacity(m.len());
                    for (s, p) in m {
                        syms.push(known(s)?);
                        ps.push(crate::dto::price(&format!("prices.{s}"), p)?);
                    }
                    (syms, Some(ps))
                }
            };
            if list.is_empty() {
                return Err(bad("no symbols to update".into()));
            }
            let step_bps = step_bps.unwrap_or(200);
            if step_bps > 5_000 {
                return Err(bad("`step_bps` must be at most 5000 (50%)".into()));
            }
            let keep = matches!(symbols, Some(Selection::Word(_))).then(|| {
                list.iter()
                    .map(|s| format!("{s}\n"))
                    .collect::<String>()
                    .into_bytes()
            });
            Ok(Prepared {
                total: list.len() as u64,
                problems: Vec::new(),
                keep,
                work: Box::new(UpdatePrices {
                    symbols: list,
                    given,
                    step_bps,
                    seed: seed.unwrap_or(id),
                }),
            })
        }
        Params::ImportOrders { strict } => {
            let bytes = upload.ok_or_else(|| bad("an import needs a `file`".into()))?;
            let file = files::csv::read_orders(bytes, false)
                .map_err(|e| bad(format!("the file's header: {e}")))?;
            match (owner, file.has_user) {
                (Some(_), true) => {
                    return Err(bad(
                        "the `user` column is only for the admin key: a user's import places \
                         the caller's own orders"
                            .into(),
                    ));
                }
                (None, false) => {
                    return Err(bad(
                        "an admin's import needs the `user` column (time,user,symbol,side,type,\
                         quantity,limit_price)"
                            .into(),
                    ));
                }
                _ => {}
            }
            let (rows, problems, stop) = cut(file.rows, |r| r.line, file.skipped, *strict);
            Ok(Prepared {
                total: rows.len() as u64,
                problems,
                keep: None,
                work: Box::new(ImportOrders {
                    id,
                    owner,
                    rows,
                    stop,
                }),
            })
        }
        Params::Export {
            what,
            from,
            to,
            symbol,
        } => {
            let q = crate::routes::export::ExportParams {
                from: from.clone(),
                to: to.clone(),
                symbol: symbol.clone(),
            }
            .query(*what, owner)?;
            Ok(Prepared {
                total: 0,
                problems: Vec::new(),
                keep: None,
                work: Box::new(Export {
                    q,
                    rows: tokio::sync::Mutex::new(None),
                    buf: String::new(),
                    part: 0,
                    ended: false,
                }),
            })
        }
        Params::ImportPrices { strict, date } => {
            let bytes = upload.ok_or_else(|| bad("an import needs a `file`".into()))?;
            let file = files::csv::read_prices(bytes, false)
                .map_err(|e| bad(format!("the file's header: {e}")))?;
            let day = match date {
                Some(d) => {
                    crate::routes::stocks::parse_time("date", d).map_err(|e| bad(e.to_string()))?
                }
                None => st.now(),
            };
            let midnight = Timestamp(day.day() * Timestamp::NANOS_PER_DAY);
            let (rows, problems, stop) = cut(file.rows, |r| r.line, file.skipped, *strict);
            Ok(Prepared {
                total: rows.len() as u64,
                problems,
                keep: None,
                work: Box::new(ImportPrices {
                    id,
                    rows,
                    midnight,
                    stop,
                }),
            })
        }
    }
}

/// A file's good rows and its bad ones' problems; in strict mode only the
/// rows before the first bad one, and that one's problem to stop with.
fn cut<R>(
    mut rows: Vec<R>,
    line: impl Fn(&R) -> u64,
    skipped: Vec<files::csv::RowError>,
    strict: bool,
) -> (Vec<R>, Vec<RowProblem>, Option<RowProblem>) {
    let problems: Vec<RowProblem> = skipped
        .into_iter()
        .map(|e| RowProblem {
            line: e.line,
            message: e.message,
        })
        .collect();
    if !strict {
        return (rows, problems, None);
    }
    match problems.into_iter().next() {
        None => (rows, Vec::new(), None),
        Some(first) => {
            rows.retain(|r| line(r) < first.line);
            (rows, Vec::new(), Some(first))
        }
    }
}

/// Append `facts` and `task` (its progress) as one journal write and wait
/// until durable, however long the database is away: the facts are
/// applied in memory already, so the step must not be run again.
async fn journal(st: &AppState, facts: Vec<Fact>, task: &Task) -> u64 {
    let ticket = publish(st, facts, task);
    durable(st, ticket).await;
    ticket
}

/// Append `facts` and `task` (its progress) as one journal write; durable
/// once the ticket is.
fn publish(st: &AppState, mut facts: Vec<Fact>, task: &Task) -> u64 {
    facts.push(Fact::Task(Box::new(task.clone())));
    st.publish(facts, &[])
}

pub(super) async fn durable(st: &AppState, ticket: u64) {
    let started = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(50);
    while let Err(e) = st.commit(ticket).await {
        tracing::warn!(error = %e, "a task waits for the database");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(std::time::Duration::from_secs(2));
    }
    let _ = WAITED.try_with(|w| w.set(w.get() + started.elapsed()));
}

tokio::task_local! {
    /// The time a step has spent waiting for durability (see `timed`).
    static WAITED: std::cell::Cell<std::time::Duration>;
}

/// Run `step` and measure its own work: its time less what it spent
/// waiting for the journal.
pub(super) async fn timed<T>(step: impl Future<Output = T>) -> (T, std::time::Duration) {
    let started = std::time::Instant::now();
    WAITED
        .scope(std::cell::Cell::new(std::time::Duration::ZERO), async {
            let out = step.await;
            let waited = WAITED.with(std::cell::Cell::get);
            (out, started.elapsed().saturating_sub(waited))
        })
        .await
}

/// The chunk `[done, done + budget)` of `total` items, or `None` at the end.
fn chunk(task: &Task, budget: usize) -> Option<std::ops::Range<usize>> {
    let from = task.done as usize;
    let to = (task.total as usize).min(from + budget.max(1));
    (from < to).then_some(from..to)
}

/// A file's next chunk of rows; at the end, a strict import's first bad
/// row fails the task.
fn file_chunk(
    task: &Task,
    budget: usize,
    stop: &mut Option<RowProblem>,
) -> Result<Option<std::ops::Range<usize>>, StepError> {
    match (chunk(task, budget), stop.take()) {
        (Some(items), stop_later) => {
            *stop = stop_later;
            Ok(Some(items))
        }
        (None, Some(p)) => Err(StepError::Fail(format!(
            "stopped at the first bad row (strict): line {}: {}",
            p.line, p.message
        ))),
        (None, None) => Ok(None),
    }
}

/// Why a price is refused: off its symbol's tick grid.
fn off_grid(price: Price, symbol: Symbol, tick: Price) -> String {
    format!("{price} is not a multiple of {symbol}'s tick size {tick}")
}

/// Each item's own random stream: the same prices whatever the steps.
fn rng(seed: u64, item: usize) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(item as u64);
    r
}

struct CreateShares {
    prefix: String,
    width: usize,
    lo: Price,
    hi: Price,
    float: u64,
    seed: u64,
}

#[async_trait::async_trait]
impl Work for CreateShares {
    async fn step(
        &mut self,
        st: &AppState,
        task: &mut Task,
        budget: usize,
    ) -> Result<Option<u64>, StepError> {
        let Some(items) = chunk(task, budget) else {
            return Ok(None);
        };
        st.writable()?;
        let mut listings = Vec::with_capacity(items.len());
        for i in items.clone() {
            let name = format!("{}{:0w$}", self.prefix, i + 1, w = self.width);
            let symbol = Symbol::new(&name).map_err(|e| StepError::Fail(e.to_string()))?;
            let price = Price::from_minor(
                rng(self.seed, i).random_range(self.lo.minor()..=self.hi.minor()),
            );
            listings.push(actors::Listing {
                float: self.float,
                ..actors::Listing::new(symbol, price)
            });
        }
        task.done = items.end as u64;
        task.applied += items.len() as u64;
        // The progress goes with the house's offerings, the listing's last
        // write: a restart mid-chunk lists again only what is not listed.
        st.list_many(
            listings,
            st.now(),
            false,
            vec![Fact::Task(Box::new(task.clone()))],
        )
        .await?;
        // Durable already: listing waits for its writes.
        Ok(Some(0))
    }
}

struct UpdatePrices {
    symbols: Vec<Symbol>,
    given: Option<Vec<Price>>,
    step_bps: u32,
    seed: u64,
}

#[async_trait::async_trait]
impl Work for UpdatePrices {
    async fn step(
        &mut self,
        st: &AppState,
        task: &mut Task,
        budget: usize,
    ) -> Result<Option<u64>, StepError> {
        let Some(items) = chunk(task, budget) else {
            return Ok(None);
        };
        st.writable()?;
        let dir = st.market.directory();
        let now = st.now();
        let tickers: Vec<_> = items
            .clone()
            .map(|i| (i, dir.ticker(self.symbols[i])))
            .collect();
        let snaps = futures::future::join_all(
            tickers
                .iter()
                .map(|(_, t)| async move { t.as_ref()?.snapshot().await.ok() }),
        )
        .await;
        let mut facts = Vec::with_capacity(items.len());
        let mut ticks = Vec::with_capacity(items.len());
        let mut sets = Vec::with_capacity(items.len());
        for ((i, t), snap) in tickers.iter().zip(snaps) {
            let (Some(t), Some(snap)) = (t, snap) else {
                task.refuse(
                    *i as u64 + 1,
                    format!("{} is no longer listed", self.symbols[*i]),
                );
                continue;
            };
            let price = match &self.given {
                Some(p) => p[*i],
                None => {
                    let bps = rng(self.seed, *i)
                        .random_range(-i64::from(self.step_bps)..=i64::from(self.step_bps));
                    let r = snap.reference.minor();
                    let moved = r + r * bps / 10_000;
                    let tick = snap.tick.minor().max(1);
                    Price::from_minor((moved / tick * tick).max(tick))
                }
            };
            if !price.is_on_grid(t.tick_size()) {
                task.refuse(*i as u64 + 1, off_grid(price, snap.symbol, t.tick_size()));
                continue;
            }
            sets.push((t.clone(), price));
        }
        let applied = futures::future::join_all(sets.iter().map(|(t, p)| t.tick(*p, now))).await;
        for ((t, p), r) in sets.iter().zip(applied) {
            let s = t.symbol();
            if let Err(e) = r {
                task.refuse(0, format!("{s}: {e}"));
                continue;
            }
            if let Some(g) = &st.generator {
                // The walk goes on from the new price.
                let _ = g.set_price(s, *p);
            }
            facts.push(Fact::Tick {
                symbol: s,
                price: *p,
                ts: now,
                source: Some(PriceSource::Task(task.id)),
            });
            ticks.push((s, *p, now));
            task.applied += 1;
        }
        task.done = items.end as u64;
        let ticket = journal(st, facts, task).await;
        prices_changed(st, task.id, &ticks).await;
        Ok(Some(ticket))
    }
}

/// After a step's prices are durable: the stream, the price list and the
/// read cache hear of them.
async fn prices_changed(st: &AppState, task: u64, ticks: &[(Symbol, Price, Timestamp)]) {
    if ticks.is_empty() {
        return;
    }
    st.bus.publish(
        ticks
            .iter()
            .map(|&(symbol, price, ts)| actors::MarketEvent::Tick { symbol, price, ts })
            .collect(),
    );
    let entries: Vec<(Symbol, PriceEntry)> = ticks
        .iter()
        .map(|&(s, price, ts)| {
            (
                s,
                PriceEntry {
                    ts,
                    price,
                    source: PriceSource::Task(task),
                },
            )
        })
        .collect();
    st.archive.record_prices(&entries);
    if let Some(c) = &st.cache {
        let _ = c.invalidate().await;
    }
}

struct ImportPrices {
    id: u64,
    rows: Vec<files::csv::PriceRow>,
    midnight: Timestamp,
    stop: Option<RowProblem>,
}

#[async_trait::async_trait]
impl Work for ImportPrices {
    async fn step(
        &mut self,
        st: &AppState,
        task: &mut Task,
        budget: usize,
    ) -> Result<Option<u64>, StepError> {
        let Some(items) = file_chunk(task, budget, &mut self.stop)? else {
            return Ok(None);
        };
        st.writable()?;
        let rows = &self.rows[items.clone()];
        let at = |r: &files::csv::PriceRow| {
            Timestamp(self.midnight.0 + r.time * Timestamp::NANOS_PER_SEC)
        };
        // Symbols seen for the first time are listed at their first price.
        let dir = st.market.directory();
        let mut new: BTreeMap<Symbol, &files::csv::PriceRow> = BTreeMap::new();
        for r in rows {
            if dir.ticker(r.symbol).is_none() {
                new.entry(r.symbol).or_insert(r);
            }
        }
        if let Some(first) = new.values().next() {
            let when = at(first);
            st.list_many(
                new.values()
                    .map(|r| actors::Listing::new(r.symbol, r.price))
                    .collect(),
                when,
                true,
                Vec::new(),
            )
            .await?;
        }
        let mut facts = Vec::with_capacity(rows.len());
        let mut ticks = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(t) = dir.ticker(r.symbol) else {
                task.refuse(r.line, format!("{} could not be listed", r.symbol));
                continue;
            };
            if !r.price.is_on_grid(t.tick_size()) {
                task.refuse(r.line, off_grid(r.price, r.symbol, t.tick_size()));
                continue;
            }
            let ts = at(r);
            if let Err(e) = t.tick(r.price, ts).await {
                task.refuse(r.line, format!("{}: {e}", r.symbol));
                continue;
            }
            if let Some(g) = &st.generator {
                let _ = g.hold(r.symbol, r.price, st.replay_hold);
            }
            facts.push(Fact::Tick {
                symbol: r.symbol,
                price: r.price,
                ts,
                source: Some(PriceSource::Task(self.id)),
            });
            ticks.push((r.symbol, r.price, ts));
            task.applied += 1;
        }
        task.done = items.end as u64;
        let ticket = journal(st, facts, task).await;
        prices_changed(st, self.id, &ticks).await;
        Ok(Some(ticket))
    }
}

struct ImportOrders {
    id: u64,
    owner: Option<AccountId>,
    rows: Vec<files::csv::OrderRow>,
    stop: Option<RowProblem>,
}

#[async_trait::async_trait]
impl Work for ImportOrders {
    async fn step(
        &mut self,
        st: &AppState,
        task: &mut Task,
        budget: usize,
    ) -> Result<Option<u64>, StepError> {
        let Some(items) = file_chunk(task, budget, &mut self.stop)? else {
            return Ok(None);
        };
        st.writable()?;
        let closed = match st.sessions.at(st.now()) {
            actors::session::SessionState::Closed { opens_at } => Some(format!(
                "the market is closed: the next session opens at {}",
                engine::time::rfc3339(opens_at)
            )),
            _ => None,
        };
        let names = if self.owner.is_none() {
            st.users.names()
        } else {
            Default::default()
        };
        let dir = st.market.directory();
        // Market orders' collars: one look at each symbol's book per step.
        let mut market: Vec<Symbol> = self.rows[items.clone()]
            .iter()
            .filter(|r| r.order_type == engine::OrderType::Market)
            .map(|r| r.symbol)
            .collect();
        market.sort();
        market.dedup();
        let snaps = futures::future::join_all(market.iter().map(|s| {
            let t = dir.ticker(*s);
            async move { t?.snapshot().await.ok() }
        }))
        .await;
        let books: rustc_hash::FxHashMap<Symbol, actors::TickerSnapshot> = market
            .into_iter()
            .zip(snaps)
            .filter_map(|(s, snap)| Some((s, snap?)))
            .collect();
        // A step's rows of one account go to the router as one submission,
        // in file order (the router takes one submission per account per
        // batch: grouped, a step is one batch). Rows of different users
        // within a step may trade in another order than the file's.
        // Denials are journaled with the progress.
        let mut runs: Vec<(AccountId, Vec<actors::facts::Fact>, Vec<actors::Command>)> = Vec::new();
        let mut run_of: rustc_hash::FxHashMap<AccountId, usize> = Default::default();
        let mut placed: Vec<(u64, AccountId, engine::OrderId)> = Vec::new();
        let mut denied = Vec::new();
        for r in &self.rows[items.clone()] {
            let account = match (self.owner, &r.user) {
                (Some(a), _) => a,
                (None, Some(u)) => match names.get(u.as_str()) {
                    Some(a) => *a,
                    None => {
                        task.refuse(r.line, format!("unknown user `{u}`"));
                        continue;
                    }
                },
                (None, None) => {
                    task.refuse(r.line, "no user".into());
                    continue;
                }
            };
            if let Some(why) = &closed {
                task.refuse(r.line, why.clone());
                continue;
            }
            let coid = ClientOrderId::new(&format!("t{}-{}", self.id, r.line))
                .map_err(|e| StepError::Fail(e.to_string()))?;
            if let Some(rec) = st.records.by_client_id(account, coid) {
                // Placed before a restart: not again.
                placed.push((r.line, account, rec.id));
                continue;
            }
            let (mut req, mut record) = new_order(
                st,
                account,
                OrderSpec {
                    symbol: r.symbol,
                    side: r.side,
                    order_type: r.order_type,
                    quantity: r.quantity,
                    limit_price: r.limit_price,
                    time_in_force: engine::TimeInForce::Gtc,
                    client_order_id: Some(coid),
                },
            );
            if let Some(b) = books.get(&r.symbol).filter(|_| r.limit_price.is_none()) {
                req.collar = Some(actors::matcher::market_collar(b, r.side, st.collar_bps));
            }
            match actors::matcher::validate(&dir, req, st.collar_bps).await {
                Ok(order) => {
                    let fact = record.fact();
                    if !st.records.insert_unanswered(record.clone()) {
                        continue;
                    }
                    placed.push((r.line, account, record.id));
                    let i = *run_of.entry(account).or_insert_with(|| {
                        runs.push((account, Vec::new(), Vec::new()));
                        runs.len() - 1
                    });
                    runs[i].1.push(fact);
                    runs[i].2.push(actors::Command::Place(order));
                }
                Err(actors::PlaceError::Actor(e)) => return Err(ApiError::from(e).into()),
                Err(e) => {
                    let reason = e.reason().unwrap_or(RejectReason::UnknownSymbol);
                    record.status = OrderStatus::Denied;
                    record.reason = Some(reason);
                    if st.records.insert_unanswered(record.clone()) {
                        denied.push(record.fact());
                    }
                    task.refuse(r.line, format!("{}: {e}", reject_text(reason)));
                }
            }
        }
        let now = st.now();
        let batches = futures::future::join_all(
            runs.into_iter()
                .map(|(a, facts, cmds)| st.submit(a, now, facts, cmds)),
        )
        .await;
        for b in batches {
            // The router has stopped: its rows' records exist, so they
            // cannot be sent again; the task fails and says so.
            b.map_err(|e| StepError::Fail(format!("the order router: {e}")))?;
        }
        for (line, account, id) in placed {
            match st.records.get(account, id) {
                Some(r) if r.status == OrderStatus::Denied => task.refuse(
                    line,
                    reject_text(r.reason.unwrap_or(RejectReason::Overflow)).to_string(),
                ),
                _ => task.applied += 1,
            }
        }
        task.done = items.end as u64;
        // Not waited for: the runner shows this progress once durable and
        // meanwhile runs the next step (the database writes one step
        // while the market applies the next). A restart finds each row
        // placed or not by its client order id.
        Ok(Some(publish(st, denied, task)))
    }
}

type ExportRows =
    futures::stream::BoxStream<'static, Result<actors::ports::ExportRow, actors::ports::PortError>>;

/// Largest part of an export kept in one piece.
const PART: usize = 4 * 1024 * 1024;

struct Export {
    q: actors::ports::ExportQuery,
    /// Open once the first step of this run began (a restart starts over:
    /// an export changes nothing, so running it again is safe).
    /// (Behind a lock only to be `Sync`: one step uses it at a time.)
    rows: tokio::sync::Mutex<Option<ExportRows>>,
    buf: String,
    part: usize,
    ended: bool,
}

impl Export {
    async fn keep(&mut self, st: &AppState, id: u64) -> Result<(), StepError> {
        let bytes = std::mem::take(&mut self.buf).into_bytes();
        st.archive
            .put_file(id, &format!("export.{}", self.part), bytes)
            .await
            .map_err(|e| StepError::Fail(format!("the export could not be kept: {e}")))?;
        self.part += 1;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Work for Export {
    async fn step(
        &mut self,
        st: &AppState,
        task: &mut Task,
        budget: usize,
    ) -> Result<Option<u64>, StepError> {
        use futures::StreamExt;
        if self.ended {
            return Ok(None);
        }
        let mut guard = self.rows.lock().await;
        if guard.is_none() {
            *guard = Some(crate::export::rows(st, self.q));
            self.buf = crate::export::header(self.q.what).to_string();
            self.part = 0;
            task.done = 0;
            task.applied = 0;
            task.total = 0;
        }
        let rows = guard
            .as_mut()
            .ok_or_else(|| StepError::Fail("no rows".into()))?;
        let mut n = 0;
        while n < budget.max(1) {
            match rows.next().await {
                Some(Ok(r)) => {
                    crate::export::line(&r, &mut self.buf);
                    n += 1;
                }
                Some(Err(e)) => return Err(StepError::Fail(format!("the export stopped: {e}"))),
                None => {
                    self.ended = true;
                    break;
                }
            }
        }
        if self.buf.len() >= PART || self.ended {
            drop(guard);
            self.keep(st, task.id).await?;
        }
        task.done += n as u64;
        task.applied += n as u64;
        if self.ended {
            task.total = task.done;
            task.detail = Some(format!(
                "{} rows; download at /v1/tasks/{}/file",
                task.done, task.id
            ));
        }
        Ok(Some(journal(st, Vec::new(), task).await))
    }
}
