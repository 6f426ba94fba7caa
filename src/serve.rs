//! Start-up of the live market (`marketsim serve`): settings, the actors,
//! the price generator, background agents, and the HTTP server. This is
//! where concrete ports are wired into the actors.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use actors::generator::GeneratorArgs;
use actors::ports::FactJournal;
use actors::ticker::{TickerConfig, TickerCore};
use actors::{EventBus, MarketHandle, MatcherPool, PriceWalk};
use engine::{AccountId, Fees, Gbm, GbmParams, Money, Price, Symbol};
use serde::Deserialize;

/// Settings of `marketsim serve`: a TOML file, then `MARKETSIM_*`
/// environment variables, then command-line flags, each overriding the last.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (default 127.0.0.1:8080).
    pub listen: Option<String>,
    /// The admin key (admin endpoints are refused without one).
    pub admin_key: Option<String>,
    /// New users' cash (default "100000.00").
    pub starting_cash: Option<String>,
    /// Generator interval (default 500 ms).
    pub tick_interval_ms: Option<u64>,
    /// Market orders trade at most this far through the price (default 500 bps).
    pub collar_bps: Option<u32>,
    /// Symbols and background agents from a scenario file.
    pub scenario: Option<PathBuf>,
    pub seed: Option<u64>,
    /// Matcher lanes (default 64): one account's orders share a lane.
    pub matchers: Option<usize>,
    /// Kafka bootstrap servers: ticks then flow generator -> topic -> engine,
    /// and trades and order events go to the events topic.
    pub kafka_brokers: Option<String>,
    /// Tick topic (default `marketsim.ticks`).
    pub kafka_tick_topic: Option<String>,
    /// Events topic (default `marketsim.events`).
    pub kafka_events_topic: Option<String>,
    /// Consumer group of the engine (default `marketsim-engine`).
    pub kafka_group: Option<String>,
    /// Partitions of topics this server creates (default 3).
    pub kafka_partitions: Option<i32>,
    /// PostgreSQL URL: facts are journaled there, orders are acknowledged
    /// once durable, and the market is restored from it at start.
    pub database_url: Option<String>,
    /// How long a request waits for durability before answering 503
    /// (default 2000 ms).
    pub durable_timeout_ms: Option<u64>,
    /// Redis URL: latest quotes, minute price history, read caches and
    /// pub/sub of ticks and trades.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel (default `marketsim`).
    pub redis_prefix: Option<String>,
    /// Time to live of cached reads (`GET /v1/stocks`, movers; default 1000 ms).
    pub cache_ttl_ms: Option<u64>,
}

impl Settings {
    pub fn load(file: Option<&std::path::Path>) -> Result<Settings, String> {
        let mut s = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
            }
            None => Settings::default(),
        };
        let env = |k: &str| {
            std::env::var(format!("MARKETSIM_{k}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let num = |k: &str| -> Result<Option<u64>, String> {
            env(k)
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("MARKETSIM_{k}: `{v}` is not a whole number"))
                })
                .transpose()
        };
        if let Some(v) = env("LISTEN") {
            s.listen = Some(v);
        }
        if let Some(v) = env("ADMIN_KEY") {
            s.admin_key = Some(v);
        }
        if let Some(v) = env("STARTING_CASH") {
            s.starting_cash = Some(v);
        }
        if let Some(v) = num("TICK_INTERVAL_MS")? {
            s.tick_interval_ms = Some(v);
        }
        if let Some(v) = env("SCENARIO") {
            s.scenario = Some(PathBuf::from(v));
        }
        if let Some(v) = env("KAFKA_BROKERS") {
            s.kafka_brokers = Some(v);
        }
        if let Some(v) = env("DATABASE_URL") {
            s.database_url = Some(v);
        }
        if let Some(v) = num("DURABLE_TIMEOUT_MS")? {
            s.durable_timeout_ms = Some(v);
        }
        if let Some(v) = env("REDIS_URL") {
            s.redis_url = Some(v);
        }
        if let Some(v) = env("REDIS_PREFIX") {
            s.redis_prefix = Some(v);
        }
        if let Some(v) = num("CACHE_TTL_MS")? {
            s.cache_ttl_ms = Some(v);
        }
        Ok(s)
    }
}

/// Symbols listed when no scenario is given: (symbol, price, float).
const DEFAULT_SYMBOLS: [(&str, i64, u64); 5] = [
    ("ACME", 10_000, 1_000_000),
    ("GLOBEX", 4_250, 1_000_000),
    ("INITECH", 1_200, 1_000_000),
    ("UMBRELLA", 25_000, 1_000_000),
    ("HOOLI", 6_700, 1_000_000),
];

pub const FEE_ACCOUNT: AccountId = AccountId(u64::MAX);
/// How long in-flight requests may take after SIGINT/SIGTERM.
const GRACE: Duration = Duration::from_secs(5);
pub const HOUSE_ACCOUNT: AccountId = AccountId(u64::MAX - 1);

/// A built market, ready to serve.
pub struct Built {
    pub app: api::Router,
    pub state: api::AppState,
    pub market: MarketHandle,
    pub agents: Option<(simulations::Plan, u64)>,
    pub generator: actors::ActorRef<actors::generator::GeneratorMsg>,
    /// PostgreSQL, when configured.
    pub db: Option<sqlx::PgPool>,
}

/// Build the market and the app from settings.
pub async fn build(
    s: &Settings,
    shutdown: tokio::sync::watch::Receiver<bool>,
    engine: Option<tokio::runtime::Handle>,
) -> Result<Built, String> {
    let starting_cash = match &s.starting_cash {
        Some(c) => c
            .parse::<Money>()
            .map_err(|e| format!("starting_cash: {e}"))?,
        None => Money::from_major(100_000),
    };
    if starting_cash.is_negative() {
        return Err("starting_cash must not be negative".into());
    }
    let interval = Duration::from_millis(s.tick_interval_ms.unwrap_or(500).max(1));
    let plan = s
        .scenario
        .as_deref()
        .map(simulations::Scenario::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    let seed = s
        .seed
        .or(plan.as_ref().map(|p| p.scenario.seed))
        .unwrap_or(1);
    let fees = match &plan {
        Some(p) => Fees::new(p.scenario.fees.maker_bps, p.scenario.fees.taker_bps)
            .map_err(|e| e.to_string())?,
        None => Fees::default(),
    };
    let market = MarketHandle::start(fees, FEE_ACCOUNT, 2)
        .await
        .map_err(|e| e.to_string())?;
    let mut walk = PriceWalk::default();
    let listings: Vec<(Symbol, Price, Price, GbmParams, u64)> = match &plan {
        Some(p) => p
            .symbols
            .iter()
            .map(|l| (l.symbol, l.initial, l.tick, l.params, l.float))
            .collect(),
        None => DEFAULT_SYMBOLS
            .iter()
            .filter_map(|(s, p, f)| {
                Some((
                    Symbol::new(s).ok()?,
                    Price::from_minor(*p),
                    Price::from_minor(1),
                    GbmParams {
                        volatility: 0.3,
                        ..Default::default()
                    },
                    *f,
                ))
            })
            .collect(),
    };
    let mut listings = listings;
    let db = match &s.database_url {
        Some(url) => Some(crate::persist::open(url, fees, FEE_ACCOUNT).await?),
        None => None,
    };
    let durable = db.as_ref().map(|(_, d)| d);
    // Symbols listed at run time (admin API) come back from the database.
    if let Some(d) = durable {
        for (symbol, st) in &d.stocks {
            if st.listed && !listings.iter().any(|l| l.0 == *symbol) {
                listings.push((
                    *symbol,
                    st.stats.reference,
                    st.tick,
                    GbmParams {
                        volatility: 0.2,
                        ..Default::default()
                    },
                    0,
                ));
            }
        }
    }
    let restored = durable.is_some_and(|d| !d.is_empty());
    for (i, (symbol, initial, tick, params, _)) in listings.iter().enumerate() {
        let mut core = TickerCore::new(
            *symbol,
            *tick,
            *initial,
            TickerConfig {
                ticks_update_stats: true,
            },
        );
        let mut start = *initial;
        if let Some(st) = durable.and_then(|d| d.stocks.get(symbol)) {
            core.stats = st.stats;
            core.candles = st.candles.clone();
            core.book.resume_trade_seq(st.trade_seq);
            start = st.stats.last;
        }
        market.list(core).await.map_err(|e| e.to_string())?;
        walk.add(
            *symbol,
            Gbm::new(start, *tick, *params).map_err(|e| format!("{symbol}: {e}"))?,
            seed,
            i as u64,
        );
    }
    if let Some(d) = durable.filter(|_| restored) {
        crate::persist::restore_accounts(&market, d).await?;
    } else if let Some(p) = &plan {
        // Agents' accounts are opened here (not by the agents' driver) so
        // that a fresh journal starts with them.
        simulations::runner::open_accounts(&market, p, &simulations::agents::Agents::new(p, seed))
            .await
            .map_err(|e| e.to_string())?;
    }
    // With agents, the runner's account set-up issues the floats (agents
    // first, the rest to the house); without, the house holds each float.
    if plan.is_none() && !restored {
        let h = market.accounts_of(HOUSE_ACCOUNT);
        let mut cmds = vec![actors::account::AccountCmd::Open(HOUSE_ACCOUNT)];
        cmds.extend(
            listings
                .iter()
                .map(|(s, _, _, _, f)| actors::account::AccountCmd::Issue(HOUSE_ACCOUNT, *s, *f)),
        );
        for r in h.apply_batch(cmds).await.map_err(|e| e.to_string())? {
            r.map_err(|e| e.to_string())?;
        }
    }
    let bus = EventBus::new(4_096);
    let clock = api::state::system_clock();
    let ids = Arc::new(AtomicU64::new(1));
    let users = Arc::new(api::Users::default());
    let records = Arc::new(api::records::Records::default());
    let redis = match &s.redis_url {
        Some(url) => {
            let r = adapters::redis::RedisStore::new(
                url,
                s.redis_prefix.as_deref().unwrap_or("marketsim"),
            )
            .map_err(|e| format!("redis_url: {e}"))?;
            if let Err(e) = r.ping().await {
                tracing::warn!(error = %e, "Redis does not answer yet; reads use engine state until it does");
            }
            Some(Arc::new(r))
        }
        None => None,
    };
    let (journal, pg_pool): (Arc<dyn actors::ports::FactJournal>, _) = match db {
        Some((pool, mut d)) => {
            for (symbol, initial, tick, _, _) in &listings {
                d.ensure_stock(*symbol, *tick, *initial);
            }
            let first = if restored {
                // Make the tables complete (the journal's tail folded in),
                // then read users' records from them.
                adapters::pg::checkpoint(&pool, &mut d)
                    .await
                    .map_err(|e| e.to_string())?;
                crate::persist::restore_users(
                    &pool,
                    &d,
                    &users,
                    &records,
                    api::state::FIRST_USER_ID,
                )
                .await?;
                ids.store(d.max_order_id + 1, std::sync::atomic::Ordering::Relaxed);
                let open: Vec<adapters::pg::OrderRow> =
                    d.open_orders().into_iter().cloned().collect();
                let with_agents = plan.is_some();
                let (facts, placed) = crate::persist::restore_orders(
                    &market,
                    &open,
                    |o| !with_agents || o.account.0 >= api::state::FIRST_USER_ID,
                    clock(),
                )
                .await?;
                tracing::info!(
                    users = d.users.len(),
                    accounts = d.cash.len(),
                    resting = placed,
                    journal = d.seq,
                    "market restored from PostgreSQL"
                );
                facts
            } else {
                crate::persist::seed_facts(&market).await?
            };
            let (j, writer) = adapters::pg::PgJournal::start(
                pool.clone(),
                d,
                adapters::pg::WriterConfig::default(),
            );
            // The writer runs until the process ends; its handle is not kept.
            drop(writer);
            let ticket = j.append(first);
            j.durable(ticket, Duration::from_secs(30))
                .await
                .map_err(|e| format!("cannot write the journal: {e}"))?;
            (Arc::new(j), Some(pool))
        }
        None => (Arc::new(actors::memory::NoJournal), None),
    };
    let kafka = match &s.kafka_brokers {
        Some(b) => Some(kafka_setup(s, b).await?),
        None => None,
    };
    let generator = actors::generator::spawn(GeneratorArgs {
        walk,
        interval,
        // With Kafka the generator only publishes; the consumer applies.
        sink: kafka
            .as_ref()
            .map(|k| k.sink.clone() as Arc<dyn actors::ports::TickSink>),
        directory: if kafka.is_some() {
            None
        } else {
            Some(market.directory())
        },
        bus: if kafka.is_some() {
            None
        } else {
            Some(bus.clone())
        },
        clock: clock.clone(),
    })
    .await
    .map_err(|e| e.to_string())?;
    let pool = MatcherPool::start(
        market.directory(),
        s.matchers.unwrap_or(64),
        s.collar_bps.unwrap_or(500),
    )
    .await
    .map_err(|e| e.to_string())?;
    let state = api::AppState::new(api::state::Shared {
        market: market.clone(),
        pool,
        users,
        records,
        bus,
        ids,
        clock,
        admin_key_hash: s.admin_key.as_deref().map(api::auth::hash_key),
        starting_cash,
        collar_bps: s.collar_bps.unwrap_or(500),
        house: HOUSE_ACCOUNT,
        generator: Some(generator.clone()),
        shutdown,
        engine,
        journal: journal.clone(),
        durable_timeout: Duration::from_millis(s.durable_timeout_ms.unwrap_or(2_000).max(1)),
        cache: redis
            .clone()
            .map(|r| r as Arc<dyn actors::ports::ReadCache>),
        cache_ttl: Duration::from_millis(s.cache_ttl_ms.unwrap_or(1_000).max(1)),
    });
    if let Some(r) = redis {
        crate::persist::mirror_to_redis(&state.bus, market.directory(), r, state.clock.clone())
            .await;
    }
    if pg_pool.is_some() {
        crate::persist::journal_ticks(&state.bus, journal);
    }
    if let Some(k) = kafka {
        start_kafka(k, &market, &state.bus, state.shutdown.clone());
    }
    let app = api::router(state.clone());
    Ok(Built {
        app,
        state,
        market,
        agents: plan.map(|p| (p, seed)),
        generator,
        db: pg_pool,
    })
}

struct KafkaParts {
    sink: Arc<adapters::kafka::KafkaTickSink>,
    source: adapters::kafka::KafkaTickSource,
    events: adapters::kafka::KafkaEventSink,
}

async fn kafka_setup(s: &Settings, brokers: &str) -> Result<KafkaParts, String> {
    use adapters::kafka::{
        KafkaEventSink, KafkaTickSink, KafkaTickSource, check_brokers, ensure_topic,
    };
    check_brokers(brokers, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let ticks = s
        .kafka_tick_topic
        .clone()
        .unwrap_or_else(|| "marketsim.ticks".into());
    let events = s
        .kafka_events_topic
        .clone()
        .unwrap_or_else(|| "marketsim.events".into());
    for t in [&ticks, &events] {
        if let Err(e) = ensure_topic(
            brokers,
            t,
            s.kafka_partitions.unwrap_or(3),
            1,
            Duration::from_secs(3),
        )
        .await
        {
            tracing::warn!(error = %e, topic = %t, "could not create the topic; assuming it exists");
        }
    }
    let group = s
        .kafka_group
        .clone()
        .unwrap_or_else(|| "marketsim-engine".into());
    Ok(KafkaParts {
        sink: Arc::new(KafkaTickSink::new(brokers, &ticks).map_err(|e| e.to_string())?),
        source: KafkaTickSource::new(brokers, &group, &ticks).map_err(|e| e.to_string())?,
        events: KafkaEventSink::new(brokers, &events).map_err(|e| e.to_string())?,
    })
}

/// The consumer (ticks into the tickers, commit after apply) and the events
/// forwarder (bus -> events topic), as tasks on the current (engine) runtime.
fn start_kafka(
    k: KafkaParts,
    market: &MarketHandle,
    bus: &EventBus,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let dir = market.directory();
    let tick_bus = bus.clone();
    let mut stop1 = stop.clone();
    let source = k.source;
    tokio::spawn(async move {
        let stop = async move {
            let _ = stop1.wait_for(|v| *v).await;
        };
        match adapters::kafka::apply_ticks(&source, &dir, Some(&tick_bus), stop).await {
            Ok(n) => tracing::info!(ticks = n, "tick consumer stopped"),
            Err(e) => tracing::error!(error = %e, "tick consumer failed"),
        }
    });
    let rx = bus.subscribe();
    let events = k.events;
    tokio::spawn(actors::bus::follow(
        rx,
        "events forwarder",
        async move |batch| {
            use actors::ports::EventSink;
            if let Err(e) = events.write(&batch).await {
                tracing::warn!(error = %e, "events topic refused a batch");
            }
        },
    ));
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
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Run `marketsim serve` until a signal arrives.
pub async fn run(s: Settings) -> Result<(), String> {
    let listen = s.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| format!("listen: `{listen}` is not an address like 127.0.0.1:8080"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The market's actors run on a dedicated single-threaded runtime: their
    // round trips never cross threads, and each HTTP order crosses once
    // each way (see ARCHITECTURE.md, "How an HTTP order flows").
    let (engine, engine_done) = start_engine()?;
    let settings = s.clone();
    let rx = stop_rx.clone();
    let h = engine.clone();
    let built = engine
        .spawn(async move { build(&settings, rx, Some(h)).await })
        .await
        .map_err(|e| format!("start-up failed: {e}"))??;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    if s.admin_key.is_none() {
        tracing::warn!(
            "no admin key configured (MARKETSIM_ADMIN_KEY): admin endpoints are refused"
        );
    }
    if let Some((plan, seed)) = built.agents {
        let st = built.state.clone();
        let hooks = simulations::live::LiveHooks {
            ids: st.ids.clone(),
            clock: st.clock.clone(),
            on_events: Arc::new(move |evs| {
                api::state::record_events(&st.records, &st.bus, &*st.journal, Vec::new(), evs);
            }),
            generator: Some(built.generator.clone()),
            accounts_ready: true,
            paused: {
                let st = built.state.clone();
                Some(Arc::new(move || !st.journal.healthy()))
            },
        };
        let market = built.market.clone();
        let agents = plan.groups.iter().map(|g| g.count as u64).sum::<u64>();
        let mut rx = stop_rx.clone();
        engine.spawn(async move {
            let stop = async move {
                let _ = rx.changed().await;
            };
            if let Err(e) = simulations::live::run_live(market, plan, seed, hooks, stop).await {
                tracing::error!(error = %e, "background agents stopped");
            }
        });
        tracing::info!(agents, "background agents trading");
    }
    if let Some(db) = &built.db {
        for (task, detail) in [
            (
                "generator",
                format!("{} ms interval", s.tick_interval_ms.unwrap_or(500)),
            ),
            ("server", format!("http://{local}")),
        ] {
            if let Err(e) = adapters::pg::task_status(db, task, "running", &detail).await {
                tracing::warn!(error = %e, task, "could not record the task");
            }
        }
    }
    tracing::info!("marketsim serving on http://{local} (API docs at http://{local}/docs)");
    let signal = async move {
        shutdown_signal().await;
        // Streams and background agents stop; in-flight requests finish.
        let _ = stop_tx.send(true);
    };
    // In-flight requests get a bounded grace period: a client that keeps a
    // connection open must not hold the process up.
    let mut grace_rx = stop_rx.clone();
    let grace = async move {
        let _ = grace_rx.wait_for(|v| *v).await;
        tokio::time::sleep(GRACE).await;
        tracing::warn!("grace period over: closing the remaining connections");
    };
    let result = tokio::select! {
        r = api::serve(listener, built.app, signal) => r.map_err(|e| e.to_string()),
        () = grace => Ok(()),
    };
    built.generator.stop(None);
    // What was acknowledged is durable already; wait for the rest (the
    // agents' and ticks' facts) before the process ends.
    let last = built.state.journal.append(Vec::new());
    if let Err(e) = built.state.journal.durable(last, GRACE).await {
        tracing::warn!(error = %e, "journal not fully written at shutdown");
    }
    if let Some(db) = &built.db {
        for task in ["generator", "server"] {
            let _ = adapters::pg::task_status(db, task, "stopped", "").await;
        }
    }
    built.market.shutdown();
    drop(engine_done);
    result
}

/// A current-thread runtime on its own OS thread, running until the
/// returned sender is dropped.
fn start_engine() -> Result<(tokio::runtime::Handle, tokio::sync::oneshot::Sender<()>), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the engine runtime: {e}"))?;
    let handle = rt.handle().clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("marketsim-engine".into())
        .spawn(move || {
            rt.block_on(async {
                let _ = done_rx.await;
            });
        })
        .map_err(|e| format!("cannot start the engine thread: {e}"))?;
    Ok((handle, done_tx))
}
