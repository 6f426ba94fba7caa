//! The API over real HTTP: the app on port 0, reqwest as the client.
mod durability;
mod errors;
mod journey;
mod market_time;
mod ops;
mod orders;
mod tasks;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use actors::ticker::{TickerConfig, TickerCore};
use actors::{Command, MarketHandle};
use engine::{AccountId, Fees, Order, OrderId, Price, Side, Symbol, TimeInForce, Timestamp};
use serde_json::{Value, json};

pub const HOUSE: AccountId = AccountId::HOUSE;
pub const ADMIN_KEY: &str = "test-admin-key";
/// 2026-11-22T12:00:00Z
pub const NOON: i64 = 1_795_348_800;

#[allow(missing_debug_implementations)]
pub struct App {
    pub base: String,
    pub http: reqwest::Client,
    pub state: api::AppState,
    pub clock: Arc<AtomicI64>,
}

impl App {
    /// A market with ACME (100.00) and BETA (20.00); the house holds the floats.
    pub async fn start() -> App {
        App::start_with(Arc::new(actors::memory::NoJournal)).await
    }

    /// `start`, journaling to `journal`.
    pub async fn start_with(journal: Arc<dyn actors::ports::FactJournal>) -> App {
        App::build(journal, api::tasks::TaskSettings::default()).await
    }

    /// `start`, with background tasks set up as `tasks` says.
    pub async fn start_tasks(tasks: api::tasks::TaskSettings) -> App {
        App::build(Arc::new(actors::memory::NoJournal), tasks).await
    }

    async fn build(
        journal: Arc<dyn actors::ports::FactJournal>,
        tasks: api::tasks::TaskSettings,
    ) -> App {
        let market = MarketHandle::start(Fees::default(), AccountId::FEES, 2)
            .await
            .unwrap();
        for (s, p) in [("ACME", 10_000), ("BETA", 2_000)] {
            let sym = Symbol::new(s).unwrap();
            market
                .list(TickerCore::new(
                    sym,
                    Price::from_minor(1),
                    Price::from_minor(p),
                    TickerConfig {
                        ticks_update_stats: true,
                    },
                ))
                .await
                .unwrap();
        }
        let h = market.accounts_of(HOUSE);
        h.apply_batch(vec![
            actors::account::AccountCmd::Open(HOUSE),
            actors::account::AccountCmd::Issue(HOUSE, Symbol::new("ACME").unwrap(), 1_000_000),
            actors::account::AccountCmd::Issue(HOUSE, Symbol::new("BETA").unwrap(), 1_000_000),
        ])
        .await
        .unwrap();
        let clock = Arc::new(AtomicI64::new(NOON * 1_000_000_000));
        let c = clock.clone();
        let state = api::AppState::new(api::state::Shared {
            clock: actors::Clock::from_fn(move || Timestamp(c.load(Ordering::Relaxed))),
            admin_key_hash: Some(api::auth::hash_key(ADMIN_KEY)),
            journal,
            tasks: Arc::new(api::tasks::Tasks::new(tasks)),
            ..api::state::Shared::new(market)
        })
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = api::router(state.clone());
        tokio::spawn(api::serve(listener, app, std::future::pending()));
        App {
            base,
            // No pooled connections: a server that answers 413 before
            // reading the body closes the connection, and a pooled client
            // could race that close on its next request.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            state,
            clock,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set_time(&self, secs: i64) {
        self.clock.store(secs * 1_000_000_000, Ordering::Relaxed);
    }

    /// Register a user; returns its key.
    pub async fn user(&self, name: &str) -> String {
        let r = self
            .http
            .post(self.url("/v1/users"))
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["api_key"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn get_response(&self, key: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        let r = self.get_response(key, path).await;
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// GET `path` as text.
    pub async fn text(&self, key: &str, path: &str) -> (u16, String) {
        let r = self.get_response(key, path).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn delete(&self, key: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// The house offers `qty` of `symbol` at `price_minor` (resting).
    pub async fn house_sells(&self, id: u64, symbol: &str, qty: u64, price_minor: i64) {
        let o = Order::limit(
            OrderId(1_000_000_000_000 + id),
            HOUSE,
            Symbol::new(symbol).unwrap(),
            Side::Sell,
            qty,
            Price::from_minor(price_minor),
            TimeInForce::Gtc,
            Price::from_minor(1),
            Timestamp(0),
        )
        .unwrap();
        self.state
            .submit(HOUSE, self.state.now(), Vec::new(), vec![Command::Place(o)])
            .await
            .unwrap();
    }
}

pub fn order(symbol: &str, side: &str, qty: u64, price: &str) -> Value {
    json!({"symbol": symbol, "side": side, "type": "limit", "quantity": qty, "limit_price": price})
}
