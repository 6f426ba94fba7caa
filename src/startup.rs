//! `Application`: the live market's composition root. `build` turns
//! `Settings` into running actors, adapters and a bound HTTP listener;
//! `run_until_stopped` serves until a shutdown future resolves, then
//! finishes in-flight work. This is the one place concrete adapters
//! (PostgreSQL, Redis, Kafka) are wired into the actors' ports.
//!
//! The market's actors run on a dedicated single-threaded "engine" runtime
//! on its own thread: their round trips never cross threads, and an HTTP
//! order crosses once each way (see ARCHITECTURE.md).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actors::account::AccountCmd;
use actors::generator::GeneratorArgs;
use actors::ports::{FactJournal, ReadCache, TickSink};
use actors::ticker::TickerConfig;
use actors::{GeneratorHandle, Listing, MarketHandle, PriceWalk};
use adapters::pg::{Database, Durable, WriterConfig};
use adapters::redis::RedisStore;
use anyhow::Context;
use engine::{AccountId, Fees};
use tokio::sync::watch;

use crate::recovery;
use crate::settings::Settings;

/// How long in-flight requests may take after shutdown begins, and how
/// long the journal may take to write what is left.
pub const GRACE: Duration = Duration::from_secs(5);
/// Account actors shared by accounts without an actor of their own.
const ACCOUNT_SHARDS: usize = 2;
/// How long start-up waits for the journal's first write.
const FIRST_WRITE: Duration = Duration::from_secs(30);

/// A built live market, bound to its port, not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: tokio::net::TcpListener,
    market: Market,
    engine: Engine,
    settings: Settings,
    stop: watch::Sender<bool>,
}

/// What `assemble` builds on the engine runtime.
#[derive(Debug)]
struct Market {
    state: api::AppState,
    market: MarketHandle,
    generator: GeneratorHandle,
    /// The background agents' scenario and seed.
    agents: Option<(simulations::Plan, u64)>,
    db: Option<Database>,
}

impl Application {
    /// Start the engine runtime with the market's actors on it, build the
    /// rest (restoring the market from PostgreSQL when configured) on the
    /// caller's runtime, and bind the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        // The recorder first: adapters register their metrics as they start.
        let _ = api::metrics_handle();
        let (stop, stop_rx) = watch::channel(false);
        let engine = Engine::start()?;
        let market = assemble(&settings, stop_rx, engine.handle.clone()).await?;
        let addr = settings.listen_addr();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Application {
            listener,
            market,
            engine,
            settings,
            stop,
        })
    }

    /// The port the listener is bound to (the one chosen for port 0).
    pub fn port(&self) -> u16 {
        self.address().port()
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.settings.listen_addr())
    }

    /// The API's shared state (tests read the market through it).
    pub fn state(&self) -> &api::AppState {
        &self.market.state
    }

    /// Serve until `shutdown` resolves. Then streams and background agents
    /// stop, in-flight requests get `GRACE` to finish, and the journal
    /// writes what is left before the actors stop.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            market,
            engine,
            settings,
            stop,
        } = self;
        let local = listener.local_addr()?;
        if settings.admin_key.is_none() {
            tracing::warn!(
                "no admin key configured (MARKETSIM_ADMIN_KEY): admin endpoints are refused"
            );
        }
        if let Some((plan, seed)) = market.agents.clone() {
            start_agents(&engine.handle, &market, plan, seed, stop.subscribe());
        }
        let detail = format!("{} ms interval", settings.tick_interval_ms);
        set_tasks(
            &market.db,
            "running",
            &[&detail, &format!("http://{local}")],
        )
        .await;
        tracing::info!("marketsim serving on http://{local} (API docs at http://{local}/docs)");
        let mut grace_rx = stop.subscribe();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            // Streams and background agents stop; in-flight requests finish.
            let _ = stop.send(true);
        };
        // A client that keeps a connection open must not hold the process up.
        let grace = async move {
            let _ = grace_rx.wait_for(|v| *v).await;
            tokio::time::sleep(GRACE).await;
            tracing::warn!("grace period over: closing the remaining connections");
        };
        let app = api::router(market.state.clone());
        let result = tokio::select! {
            r = api::serve_with(listener, app, signal, settings.timeouts()) => r.context("the HTTP server failed"),
            () = grace => Ok(()),
        };
        market.generator.stop();
        // What was acknowledged is durable already; wait for the rest (the
        // agents' and ticks' facts) before the process ends.
        let journal = &market.state.journal;
        if let Err(e) = journal.durable(journal.append(Vec::new()), GRACE).await {
            tracing::warn!(error = %e, "journal not fully written at shutdown");
        }
        set_tasks(&market.db, "stopped", &["", ""]).await;
        market.market.shutdown();
        drop(engine);
        result
    }
}

/// Record the generator's and the server's status in the `tasks` table.
async fn set_tasks(db: &Option<Database>, status: &str, details: &[&str; 2]) {
    let Some(db) = db else { return };
    for (task, detail) in ["generator", "server"].into_iter().zip(details) {
        if let Err(e) = db.task_status(task, status, detail).await {
            tracing::warn!(error = %e, task, "could not record the task");
        }
    }
}

/// The background agents, trading on the engine runtime until `stop`.
fn start_agents(
    engine: &tokio::runtime::Handle,
    m: &Market,
    plan: simulations::Plan,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let st = m.state.clone();
    let paused = m.state.clone();
    let hooks = simulations::live::LiveHooks {
        ids: st.ids.clone(),
        clock: st.clock.clone(),
        router: st.router().clone(),
        generator: Some(m.generator.clone()),
        accounts_ready: true,
        paused: Some(Arc::new(move || !paused.journal.healthy())),
    };
    let market = m.market.clone();
    let agents = plan.groups.iter().map(|g| u64::from(g.count)).sum::<u64>();
    engine.spawn(async move {
        let stop = async move {
            let _ = stop.wait_for(|v| *v).await;
        };
        if let Err(e) = simulations::live::run_live(market, plan, seed, hooks, stop).await {
            tracing::error!(error = %e, "background agents stopped");
        }
    });
    tracing::info!(agents, "background agents trading");
}

/// Build the market: actors (spawned on the engine runtime, which then
/// runs nothing else but the order router and the agents), listings,
/// accounts (fresh or restored), and on the caller's runtime the journal
/// writer and checkpointer, Redis, Kafka and the API state (audit M8).
async fn assemble(
    s: &Settings,
    shutdown: watch::Receiver<bool>,
    engine: tokio::runtime::Handle,
) -> anyhow::Result<Market> {
    let plan = s
        .scenario
        .as_deref()
        .map(simulations::Scenario::load)
        .transpose()?;
    let seed = s
        .seed
        .or(plan.as_ref().map(|p| p.scenario.seed))
        .unwrap_or(1);
    let fees = match &plan {
        Some(p) => Fees::new(p.scenario.fees.maker_bps, p.scenario.fees.taker_bps)?,
        None => Fees::default(),
    };
    let market = engine
        .spawn(MarketHandle::start(fees, AccountId::FEES, ACCOUNT_SHARDS))
        .await
        .context("start-up panicked")??
        .with_self_trade(s.self_trade());
    let db = match s.database_url() {
        Some(url) => {
            let db = Database::connect(url, 4, Duration::from_secs(5)).await?;
            db.migrate().await?;
            // Symbols from settings have rows before the journal is folded
            // (their trades may predate the first checkpoint).
            let known: Vec<_> = crate::listings::listings(plan.as_ref(), None)
                .iter()
                .map(|l| (l.symbol, l.tick, l.initial))
                .collect();
            let d = db
                .load_with(fees, AccountId::FEES, &known)
                .await
                .context("cannot recover from PostgreSQL")?;
            Some((db, d))
        }
        None => None,
    };
    let durable = db.as_ref().map(|(_, d)| d);
    let restored = durable.is_some_and(|d| !d.is_empty());
    let listings = crate::listings::listings(plan.as_ref(), durable);
    let walk = list(&market, &listings, durable, seed).await?;
    if let Some(d) = durable.filter(|_| restored) {
        recovery::restore_accounts(&market, d).await?;
    } else if let Some(p) = &plan {
        // Agents' accounts are opened here (not by the agents' driver) so
        // that a fresh journal starts with them. The runner's set-up issues
        // the floats: agents first, the rest to the house.
        let agents = simulations::agents::Agents::new(p, seed);
        simulations::runner::open_accounts(&market, p, &agents).await?;
    } else {
        issue_floats_to_house(&market, &listings).await?;
    }
    // Without agents, the house (the issuer) offers each fresh listing's
    // float at its initial price, so users have something to buy.
    let offerings = (plan.is_none() && !restored).then(|| listings.clone());
    let base = api::state::Shared::new(market.clone());
    let tasks: Vec<actors::task::Task> = durable
        .map(|d| d.tasks.values().cloned().collect())
        .unwrap_or_default();
    let (journal, db) = match db {
        Some((db, d)) => {
            let j = open_journal(&db, d, &listings, restored, plan.is_some(), &base).await?;
            (j, Some(db))
        }
        None => (base.journal.clone(), None),
    };
    let redis = match s.redis_url() {
        Some(url) => Some(connect_redis(url, &s.redis_prefix).await?),
        None => None,
    };
    let kafka = match &s.kafka_brokers {
        Some(b) => Some(crate::kafka::connect(s, b, db.as_ref()).await?),
        None => None,
    };
    let bus = base.bus.clone();
    // With Kafka the generator only publishes; the consumer applies.
    let generator = engine
        .spawn(GeneratorHandle::spawn(GeneratorArgs {
            walk,
            interval: s.tick_interval(),
            sink: kafka.as_ref().map(|k| k.sink.clone() as Arc<dyn TickSink>),
            directory: kafka.is_none().then(|| market.directory()),
            bus: kafka.is_none().then_some(bus),
            clock: base.clock.clone(),
        }))
        .await
        .context("start-up panicked")??;
    let state = api::AppState::new(api::state::Shared {
        admin_key_hash: s.admin_key().map(api::auth::hash_key),
        starting_cash: s.starting_cash(),
        collar_bps: s.collar_bps,
        generator: Some(generator.clone()),
        shutdown,
        engine: Some(engine),
        journal: journal.clone(),
        durable_timeout: s.durable_timeout(),
        cache: redis.clone().map(|r| r as Arc<dyn ReadCache>),
        cache_ttl: s.cache_ttl(),
        replay_hold: s.replay_hold(),
        sessions: s.sessions()?,
        limits: Arc::new(api::limits::Limits::new(s.limits())),
        tasks: Arc::new(api::tasks::Tasks::new(s.tasks())),
        archive: match &db {
            Some(db) => Arc::new(db.archive()),
            None => base.archive.clone(),
        },
        exports: db
            .as_ref()
            .map(|db| Arc::new(db.archive()) as Arc<dyn actors::ports::Exports>),
        history: redis
            .clone()
            .map(|r| r as Arc<dyn actors::ports::HistoryStore>),
        ..base
    })
    .await?;
    if let Some(r) = redis {
        adapters::redis::spawn_mirror(&state.bus, market.directory(), r);
    }
    if db.is_some() {
        recovery::journal_ticks(&state.bus, journal);
    }
    if let Some(k) = kafka {
        crate::kafka::start(k, &state, s.auto_list);
    }
    let offers: Vec<_> = offerings
        .iter()
        .flatten()
        .map(|l| (l.symbol, l.float, l.initial))
        .collect();
    state
        .offer_many(&offers, Vec::new())
        .await
        .context("the house's offerings")?;
    // Unfinished tasks carry on where the journal left them.
    state
        .restore_tasks(tasks)
        .await
        .context("restoring background tasks")?;
    keep_sessions(state.clone());
    // Idle rate-limit buckets are forgotten every minute.
    let limits = state.limits.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            limits.prune();
        }
    });
    Ok(Market {
        state,
        market,
        generator,
        agents: plan.map(|p| (p, seed)),
        db,
    })
}

/// List every symbol (restored ones with their statistics, candles and
/// trade numbering) and return the walk that moves their prices.
async fn list(
    market: &MarketHandle,
    listings: &[Listing],
    durable: Option<&Durable>,
    seed: u64,
) -> anyhow::Result<PriceWalk> {
    // Numbered from the clock: a restarted market's ticks are never taken
    // for ones a consumer already applied.
    let mut walk = PriceWalk::numbered_from(actors::Clock::system().now().0.max(0) as u64 / 1_000);
    for (i, l) in listings.iter().enumerate() {
        let mut core = l.ticker(TickerConfig {
            ticks_update_stats: true,
        });
        let mut start = l.initial;
        if let Some(st) = durable.and_then(|d| d.stocks.get(&l.symbol)) {
            core.stats = st.stats;
            core.candles = st.candles.clone();
            core.book.resume_trade_seq(st.trade_seq);
            start = st.stats.last;
        }
        market.list(core).await?;
        let model = l.model(start).with_context(|| l.symbol.to_string())?;
        walk.add(l.symbol, model, seed, i as u64);
    }
    Ok(walk)
}

/// Close each trading session as it ends (DAY orders expire, day
/// statistics roll) and log each open, until shutdown.
fn keep_sessions(state: api::AppState) {
    use actors::session::SessionState;
    tokio::spawn(async move {
        let mut stop = state.shutdown.clone();
        loop {
            let now = state.now();
            let (at, closing) = match state.sessions.at(now) {
                SessionState::Open { closes_at } => (closes_at, true),
                SessionState::Closed { opens_at } => (opens_at, false),
            };
            let wait = Duration::from_nanos((at.nanos() - now.nanos()).max(0) as u64);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|v| *v) => return,
            }
            if state.now() < at {
                continue; // woke before the wall clock got there
            }
            if closing {
                match state.close_session(at).await {
                    Ok(expired) => tracing::info!(
                        at = %engine::time::rfc3339(at),
                        expired,
                        "trading session closed: DAY orders expired, day statistics rolled"
                    ),
                    Err(e) => tracing::warn!(error = %e, "closing the trading session failed"),
                }
            } else {
                tracing::info!(at = %engine::time::rfc3339(at), "trading session open");
            }
        }
    });
}

/// Without agents, the house account holds each symbol's float.
async fn issue_floats_to_house(market: &MarketHandle, listings: &[Listing]) -> anyhow::Result<()> {
    let house = AccountId::HOUSE;
    let mut cmds = vec![AccountCmd::Open(house)];
    cmds.extend(
        listings
            .iter()
            .map(|l| AccountCmd::Issue(house, l.symbol, l.float)),
    );
    for r in market.accounts_of(house).apply_batch(cmds).await? {
        r.context("issuing the floats")?;
    }
    Ok(())
}

/// Start the PostgreSQL journal: after a restart, complete the tables,
/// restore users and their records and put resting orders back; on a fresh
/// database, journal the accounts as set up. Waits for that first write.
async fn open_journal(
    db: &Database,
    mut d: Durable,
    listings: &[Listing],
    restored: bool,
    with_agents: bool,
    base: &api::state::Shared,
) -> anyhow::Result<Arc<dyn FactJournal>> {
    for l in listings {
        d.ensure_stock(l.symbol, l.tick, l.initial);
    }
    let first = if restored {
        // Make the tables complete (the journal's tail folded in), then
        // read users' records from them.
        db.checkpoint(&mut d).await?;
        recovery::restore_users(
            db,
            &d,
            &base.users,
            &base.records,
            api::state::FIRST_USER_ID,
        )
        .await?;
        base.ids.store(d.max_order_id + 1, Ordering::Relaxed);
        let open: Vec<_> = d.open_orders().into_iter().cloned().collect();
        // Agents' orders are cancelled: their agents start afresh.
        let keep =
            |o: &adapters::pg::OrderRow| !with_agents || o.account.0 >= api::state::FIRST_USER_ID;
        let (facts, placed) =
            recovery::restore_orders(&base.market, &open, keep, base.clock.now()).await?;
        tracing::info!(
            users = d.users.len(),
            accounts = d.cash.len(),
            resting = placed,
            journal = d.seq,
            "market restored from PostgreSQL"
        );
        facts
    } else {
        recovery::seed_facts(&base.market).await?
    };
    // The writer runs until the process ends; its handle is not kept.
    let (journal, _writer) = db.start_journal(d, WriterConfig::default());
    let ticket = journal.append(first);
    journal
        .durable(ticket, FIRST_WRITE)
        .await
        .context("cannot write the journal")?;
    Ok(Arc::new(journal))
}

async fn connect_redis(url: &str, prefix: &str) -> anyhow::Result<Arc<RedisStore>> {
    let r = RedisStore::new(url, prefix).context("redis_url")?;
    if let Err(e) = r.ping().await {
        tracing::warn!(error = %e, "Redis does not answer yet; reads use engine state until it does");
    }
    Ok(Arc::new(r))
}

/// A current-thread runtime on its own OS thread, running until dropped.
#[derive(Debug)]
struct Engine {
    handle: tokio::runtime::Handle,
    _done: tokio::sync::oneshot::Sender<()>,
}

impl Engine {
    fn start() -> anyhow::Result<Engine> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the engine runtime")?;
        let handle = rt.handle().clone();
        let (done, done_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("marketsim-engine".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = done_rx.await;
                });
            })
            .context("cannot start the engine thread")?;
        Ok(Engine {
            handle,
            _done: done,
        })
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
