//! Nothing is visible before it is durable (audit M3): a counterparty's
//! orders, fills and event stream show a trade only once its facts are in
//! the journal. The journal here is a test double whose durability the
//! test holds and releases.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use actors::facts::Fact;
use actors::ports::{FactJournal, PortError};
use engine::{OrderId, Symbol};
use tokio::sync::watch;

use crate::{App, order};

/// A journal that makes appends durable only while open.
#[derive(Debug)]
struct Gate {
    next: AtomicU64,
    open: AtomicBool,
    durable: watch::Sender<u64>,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            next: AtomicU64::new(0),
            open: AtomicBool::new(true),
            durable: watch::channel(0).0,
        })
    }
    fn hold(&self) {
        self.open.store(false, Ordering::SeqCst);
    }
    fn release(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.durable.send_replace(self.next.load(Ordering::SeqCst));
    }
}

#[async_trait::async_trait]
impl FactJournal for Gate {
    fn append(&self, _facts: Vec<Fact>) -> u64 {
        let t = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        if self.open.load(Ordering::SeqCst) {
            self.durable.send_modify(|d| *d = (*d).max(t));
        }
        t
    }
    async fn durable(&self, ticket: u64, timeout: Duration) -> Result<(), PortError> {
        let mut rx = self.durable.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|d| *d >= ticket)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(PortError {
                port: "gate",
                message: "held".into(),
            }),
        }
    }
    fn healthy(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_is_seen_by_nobody_until_it_is_durable() {
    let gate = Gate::new();
    let app = App::start_with(gate.clone()).await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    app.house_sells(1, "ACME", 10, 10_000).await;
    let (s, _) = app
        .post(&ann, "/v1/orders", order("ACME", "buy", 10, "100.00"))
        .await;
    assert_eq!(s, 201);
    let (s, sell) = app
        .post(&ann, "/v1/orders", order("ACME", "sell", 10, "101.00"))
        .await;
    assert_eq!(s, 201);
    let id = sell["id"].as_u64().unwrap();
    let mut stream = app.state.bus.subscribe();

    gate.hold();
    let buy = {
        let (http, url, bob) = (app.http.clone(), app.url("/v1/orders"), bob.clone());
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(bob)
                .json(&order("ACME", "buy", 10, "101.00"))
                .send()
                .await
                .unwrap()
        })
    };
    // The book has matched (ann's sell left it) ...
    let ticker = app
        .state
        .market
        .ticker(Symbol::new("ACME").unwrap())
        .unwrap();
    for _ in 0..200 {
        if ticker.order(OrderId(id)).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(ticker.order(OrderId(id)).await.unwrap().is_none());
    // ... but nobody sees it before it is durable.
    let (_, mine) = app.get(&ann, &format!("/v1/orders/{id}")).await;
    assert_eq!(
        (mine["status"].as_str(), mine["filled_quantity"].as_u64()),
        (Some("accepted"), Some(0)),
        "{mine}"
    );
    let (_, fills) = app.get(&ann, "/v1/trades").await;
    assert_eq!(fills["total"], 1, "only her buy from the house: {fills}");
    let (_, bobs) = app.get(&bob, "/v1/orders").await;
    assert_eq!(bobs["total"], 0, "bob's own order is not there yet: {bobs}");
    assert!(stream.try_recv().is_err(), "the stream saw the trade early");

    gate.release();
    let r = buy.await.unwrap();
    assert_eq!(r.status(), 201);
    let (_, mine) = app.get(&ann, &format!("/v1/orders/{id}")).await;
    assert_eq!(mine["status"], "filled", "{mine}");
    let (_, fills) = app.get(&ann, "/v1/trades").await;
    assert_eq!(fills["total"], 2);
    let (_, bobs) = app.get(&bob, "/v1/orders").await;
    assert_eq!(bobs["total"], 1);
    let seen = tokio::time::timeout(Duration::from_secs(2), stream.recv())
        .await
        .expect("the trade reaches the stream once durable")
        .unwrap();
    assert!(
        seen.iter().any(|e| matches!(
            e,
            actors::MarketEvent::Order {
                event: engine::Event::Trade(_),
                ..
            }
        )),
        "{seen:?}"
    );
}
