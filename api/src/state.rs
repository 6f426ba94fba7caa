//! Shared state of the HTTP API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use actors::router::Batch;
use actors::{Clock, EventBus, GeneratorHandle, MarketHandle, OrderRouter};
use engine::{AccountId, Money, Timestamp};
use rustc_hash::FxHashMap;

use crate::records::Records;

/// A registered user.
#[derive(Clone, Debug)]
pub struct UserInfo {
    pub name: String,
    pub created_at: Timestamp,
}

/// Registered users and their hashed keys.
#[derive(Debug)]
pub struct Users {
    keys: RwLock<FxHashMap<[u8; 32], AccountId>>,
    info: RwLock<FxHashMap<AccountId, UserInfo>>,
    next: AtomicU64,
}

/// User account ids start here, clear of simulation agents' ids.
pub const FIRST_USER_ID: u64 = 1_000_000_000;

impl Default for Users {
    fn default() -> Self {
        Users {
            keys: RwLock::default(),
            info: RwLock::default(),
            next: AtomicU64::new(FIRST_USER_ID),
        }
    }
}

impl Users {
    pub fn next_id(&self) -> AccountId {
        AccountId(self.next.fetch_add(1, Ordering::Relaxed))
    }
    pub fn add(&self, id: AccountId, key_hash: [u8; 32], info: UserInfo) {
        self.info
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, info);
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key_hash, id);
    }
    /// New ids continue after `id` (users restored at start).
    pub fn resume_after(&self, id: AccountId) {
        self.next.fetch_max(id.0 + 1, Ordering::Relaxed);
    }
    pub fn by_key(&self, hash: &[u8; 32]) -> Option<AccountId> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            .copied()
    }
    pub fn info(&self, id: AccountId) -> Option<UserInfo> {
        self.info
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }
    /// Each user's account by name (the first registered of a name).
    pub fn names(&self) -> FxHashMap<String, AccountId> {
        let info = self.info.read().unwrap_or_else(|p| p.into_inner());
        let mut by_id: Vec<(&AccountId, &UserInfo)> = info.iter().collect();
        by_id.sort_by_key(|(id, _)| **id);
        let mut out = FxHashMap::default();
        for (id, u) in by_id {
            out.entry(u.name.clone()).or_insert(*id);
        }
        out
    }
    pub fn len(&self) -> usize {
        self.info.read().unwrap_or_else(|p| p.into_inner()).len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything handlers share: one `Arc`, so the per-request clone axum
/// makes is a single reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    shared: Shared,
    router: OrderRouter,
    outbox: Arc<crate::outbox::Outbox>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0.shared
    }
}

impl AppState {
    /// The state, with its order router started on the engine runtime
    /// (or the current one): the router publishes each routed batch to the
    /// journal, the records and the bus of `shared`.
    pub async fn new(shared: Shared) -> Result<AppState, actors::ActorError> {
        let runtime = shared
            .engine
            .clone()
            .unwrap_or_else(tokio::runtime::Handle::current);
        let outbox = crate::outbox::Outbox::start(
            &tokio::runtime::Handle::current(),
            shared.journal.clone(),
            shared.records.clone(),
            shared.bus.clone(),
        );
        let o = outbox.clone();
        let router = OrderRouter::start(
            &runtime,
            shared.market.directory(),
            Arc::new(move |facts, events| o.publish(facts, events)),
        )
        .await?;
        Ok(AppState(Arc::new(Inner {
            shared,
            router,
            outbox,
        })))
    }

    /// Journal `facts` then `events`; their effects (users' records, the
    /// stream, metrics) follow once durable. Returns the journal ticket to
    /// `commit` before acknowledging.
    pub fn publish(
        &self,
        facts: Vec<actors::facts::Fact>,
        events: &[(engine::Symbol, engine::Event)],
    ) -> u64 {
        self.0.outbox.publish(facts, events)
    }

    /// Wait until everything up to `ticket` is durable and visible: 503 if
    /// the store does not confirm within `durable_timeout`.
    pub async fn commit(&self, ticket: u64) -> Result<(), crate::ApiError> {
        let unavailable = |e: String| {
            metrics::counter!("marketsim_unavailable_total", "cause" => "persistence").increment(1);
            crate::ApiError::Unavailable(format!(
                "{e}: the request was applied in memory and will be stored when the \
                 database is back; check its state before retrying"
            ))
        };
        let started = tokio::time::Instant::now();
        self.journal
            .durable(ticket, self.durable_timeout)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let left = self.durable_timeout.saturating_sub(started.elapsed());
        if self.0.outbox.visible(ticket, left).await {
            Ok(())
        } else {
            Err(unavailable("durable, but not yet published".into()))
        }
    }

    /// Close the trading session at `ts`: every ticker expires its DAY
    /// orders (their reservations are released; the expiries are journaled,
    /// recorded for their owners and streamed) and rolls its day
    /// statistics (the last price becomes the next day's reference).
    /// Returns how many orders expired.
    pub async fn close_session(&self, ts: Timestamp) -> Result<usize, crate::ApiError> {
        // Through the router, after every order sent before: the journal
        // never holds an expiry ahead of a fill the book made first.
        let batch = self.0.router.close_session(ts).await?;
        let expired = batch
            .routed
            .events
            .iter()
            .filter(|(_, e)| matches!(e, engine::Event::Expired { .. }))
            .count();
        if let Some(c) = &self.cache {
            // Movers and changes are of the new day now.
            let _ = c.invalidate().await;
        }
        self.commit(batch.ticket).await?;
        Ok(expired)
    }

    /// The order router: every order source of this market sends through
    /// it (the background agents too), so the journal keeps each book's
    /// order of events.
    pub fn router(&self) -> &OrderRouter {
        &self.0.router
    }

    /// Route one account's commands (with the facts to journal beside
    /// them) in the router's next batch; resolves once routed and
    /// published. Wait for `commit(batch.ticket)` before acknowledging.
    pub async fn submit(
        &self,
        account: AccountId,
        ts: Timestamp,
        facts: Vec<actors::facts::Fact>,
        cmds: Vec<actors::Command>,
    ) -> Result<Arc<Batch>, crate::ApiError> {
        Ok(self.0.router.submit(account, ts, facts, cmds).await?)
    }
}

/// The fields of `AppState`.
pub struct Shared {
    pub market: MarketHandle,
    pub users: Arc<Users>,
    pub records: Arc<Records>,
    pub bus: EventBus,
    /// Order ids, shared with every other order source of this market.
    pub ids: Arc<AtomicU64>,
    /// The creation time of the last user order (see `next_order`).
    pub order_clock: std::sync::Mutex<Timestamp>,
    /// Wall clock, injectable for tests.
    pub clock: Clock,
    pub admin_key_hash: Option<[u8; 32]>,
    pub starting_cash: Money,
    /// Market orders may trade at most this far (bps) through the price.
    pub collar_bps: u32,
    /// The account that receives a new listing's float.
    pub house: AccountId,
    pub generator: Option<GeneratorHandle>,
    /// Turns true when the server begins shutting down: long-lived streams
    /// end so that graceful shutdown can finish.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The runtime the market's actors run on, if it is a dedicated one:
    /// the order router runs there, so its actor round trips stay on one
    /// thread and only requests and replies cross threads.
    pub engine: Option<tokio::runtime::Handle>,
    /// Where facts are made durable (PostgreSQL, or nothing in memory mode).
    pub journal: Arc<dyn actors::ports::FactJournal>,
    /// How long a request waits for its facts to be durable before it
    /// answers 503.
    pub durable_timeout: std::time::Duration,
    /// A shared cache of market-wide reads (Redis), with its time to live.
    pub cache: Option<Arc<dyn actors::ports::ReadCache>>,
    pub cache_ttl: std::time::Duration,
    /// A symbol that gets prices from outside (a replay) stays off the
    /// random walk until this long after the last one.
    pub replay_hold: std::time::Duration,
    /// Where minute histories are kept (Redis), if anywhere; otherwise
    /// `GET /v1/stocks/{symbol}/history` answers from the tickers' minute
    /// candles.
    pub history: Option<Arc<dyn actors::ports::HistoryStore>>,
    /// When the market trades (orders outside a session are refused).
    pub sessions: actors::session::Sessions,
    /// Rate limits and caps.
    pub limits: Arc<crate::limits::Limits>,
    /// Background tasks.
    pub tasks: Arc<crate::tasks::Tasks>,
    /// Task files and the prices from outside the walk.
    pub archive: Arc<dyn actors::ports::Archive>,
    /// Where exports stream from (PostgreSQL); `None`: the records.
    pub exports: Option<Arc<dyn actors::ports::Exports>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("users", &self.users.len())
            .finish()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("users", &self.users.len())
            .finish()
    }
}

impl Shared {
    /// State for `market` with every other part at its default: no users
    /// yet, memory mode (no journal, no cache), the system clock, no admin
    /// key, no generator, 100,000.00 starting cash, a 500 bps collar.
    /// Callers override fields with struct-update syntax; `AppState::new`
    /// then starts the order router.
    pub fn new(market: MarketHandle) -> Shared {
        Shared {
            market,
            users: Arc::new(Users::default()),
            records: Arc::new(Records::default()),
            bus: EventBus::new(4_096),
            ids: Arc::new(AtomicU64::new(1)),
            order_clock: std::sync::Mutex::new(Timestamp(0)),
            clock: Clock::system(),
            admin_key_hash: None,
            starting_cash: Money::from_major(100_000),
            collar_bps: 500,
            house: AccountId::HOUSE,
            generator: None,
            shutdown: tokio::sync::watch::channel(false).1,
            engine: None,
            journal: Arc::new(actors::memory::NoJournal),
            durable_timeout: std::time::Duration::from_secs(2),
            cache: None,
            cache_ttl: std::time::Duration::from_secs(1),
            replay_hold: std::time::Duration::from_secs(60),
            history: None,
            sessions: actors::session::Sessions::default(),
            limits: Arc::new(crate::limits::Limits::new(
                crate::limits::LimitSettings::off(),
            )),
            tasks: Arc::new(crate::tasks::Tasks::default()),
            archive: Arc::new(actors::memory::MemoryArchive::default()),
            exports: None,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
    /// A new user order's id and creation time: under one lock, so among
    /// users' orders a larger id never has an earlier creation time (the
    /// records list newest first by id).
    pub fn next_order(&self) -> (engine::OrderId, Timestamp) {
        let mut last = self.order_clock.lock().unwrap_or_else(|p| p.into_inner());
        let ts = self.now().max(*last);
        *last = ts;
        (
            engine::OrderId(self.ids.fetch_add(1, Ordering::Relaxed)),
            ts,
        )
    }
    /// A JSON read through the shared cache: a hit is served as stored; a
    /// miss (or Redis down) is computed from engine state and stored.
    pub async fn cached<T, F>(
        &self,
        key: &str,
        compute: F,
    ) -> Result<axum::response::Response, crate::ApiError>
    where
        T: serde::Serialize,
        F: std::future::Future<Output = Result<T, crate::ApiError>>,
    {
        use axum::response::IntoResponse;
        let json = |body: Vec<u8>| {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        };
        if let Some(c) = &self.cache {
            if let Ok(Some(hit)) = c.get(key).await {
                metrics::counter!("marketsim_cache_total", "result" => "hit").increment(1);
                return Ok(json(hit));
            }
        }
        let body = serde_json::to_vec(&compute.await?)
            .map_err(|e| crate::ApiError::Internal(e.to_string()))?;
        if let Some(c) = &self.cache {
            metrics::counter!("marketsim_cache_total", "result" => "miss").increment(1);
            let _ = c.put(key, body.clone(), self.cache_ttl).await;
        }
        Ok(json(body))
    }

    /// Refuse new trading while the journal cannot write (503).
    pub fn writable(&self) -> Result<(), crate::ApiError> {
        if self.journal.healthy() {
            Ok(())
        } else {
            metrics::counter!("marketsim_unavailable_total", "cause" => "persistence").increment(1);
            Err(crate::ApiError::Unavailable(
                "the database is unavailable: trading is paused until it is back; nothing was \
                 changed"
                    .into(),
            ))
        }
    }
}
