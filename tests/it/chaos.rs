//! Chaos (issue 11): 16 clients trade crossing orders with
//! `client_order_id`s against the live agents while the server process is
//! SIGKILLed at 5 random moments and restarted. A client retries its
//! unanswered order with the same id until it gets an answer. Afterwards:
//! every acknowledged order exists with the acknowledged status or a later
//! one; every fill a client was told of is still there; cash (fees
//! included) and shares are conserved exactly; no cancelled order rests in
//! a book; each user's `GET /v1/orders` equals the `orders` table.
//!
//! The kill moments come from `CHAOS_SEED` (printed; default 11).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::{Server, fresh_database, get_json, live, start_serve};

const CLIENTS: u64 = 16;
const KILLS: usize = 5;
/// Resting buys sit here: far below every agent's quotes and collars.
const LOW: &str = "1.00";

/// What a client was told: its key, the status code and the body.
#[derive(Clone, Debug)]
struct Answer {
    key: String,
    status: u16,
    order: Value,
}

struct World {
    base: RwLock<String>,
    stop: AtomicBool,
    answers: Mutex<Vec<Answer>>,
    /// Orders a client saw cancelled (200 to its DELETE).
    cancelled: Mutex<Vec<(String, u64)>>,
    users: Mutex<Vec<(String, u64)>>,
}

impl World {
    fn base(&self) -> String {
        self.base.read().unwrap().clone()
    }
}

/// POST or DELETE until the server answers with something other than
/// "unavailable" (a dead process, 503 while it starts or catches up, 429);
/// the same body each time, so an order keeps its `client_order_id`.
async fn until_answered(
    http: &reqwest::Client,
    world: &World,
    send: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
) -> (u16, Value) {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no answer within a minute"
        );
        let r = send(http, &world.base()).send().await;
        if let Ok(r) = r {
            let status = r.status().as_u16();
            if ![429, 502, 503, 504].contains(&status) {
                if let Ok(v) = r.json::<Value>().await {
                    return (status, v);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn client(http: reqwest::Client, world: Arc<World>, w: u64) {
    let (status, user) = until_answered(&http, &world, |h, b| {
        h.post(format!("{b}/v1/users"))
            .json(&json!({"name": format!("chaos{w}")}))
    })
    .await;
    assert_eq!(status, 201, "{user}");
    let key = user["api_key"].as_str().unwrap().to_string();
    world
        .users
        .lock()
        .unwrap()
        .push((key.clone(), user["user_id"].as_u64().unwrap()));
    for i in 0u64.. {
        if world.stop.load(Ordering::SeqCst) {
            return;
        }
        let cid = format!("c{w}-{i}");
        let qty = 1 + (w + i) % 3;
        let body = match i % 5 {
            // Crossing: against the market makers and each other.
            0 | 2 => json!({"symbol": "ACME", "side": "buy", "type": "market", "quantity": qty}),
            1 | 3 => json!({"symbol": "ACME", "side": "sell", "type": "market", "quantity": 1}),
            // Rests, to be cancelled next.
            _ => json!({"symbol": "GLOBEX", "side": "buy", "type": "limit", "quantity": qty,
                        "limit_price": LOW}),
        };
        let mut body = body;
        body["client_order_id"] = json!(cid);
        let (status, v) = until_answered(&http, &world, |h, b| {
            h.post(format!("{b}/v1/orders"))
                .bearer_auth(&key)
                .json(&body)
        })
        .await;
        let order = match status {
            201 => v,
            422 => v["order"].clone(),
            _ => panic!("order {cid}: {status} {v}"),
        };
        world.answers.lock().unwrap().push(Answer {
            key: key.clone(),
            status,
            order: order.clone(),
        });
        if i % 5 == 4 && order["status"] == "accepted" {
            let id = order["id"].as_u64().unwrap();
            let (status, v) = until_answered(&http, &world, |h, b| {
                h.delete(format!("{b}/v1/orders/{id}")).bearer_auth(&key)
            })
            .await;
            assert!(status == 200 || status == 409, "cancel {id}: {status} {v}");
            if status == 200 {
                world.cancelled.lock().unwrap().push((key.clone(), id));
            }
        }
    }
}

fn serve(args: &[&str]) -> (Server, String) {
    let (child, base) = start_serve(args, &[("MARKETSIM_TICK_INTERVAL_MS", "100")]);
    (Server(Some(child)), base)
}

async fn sigterm(mut server: Server) {
    if let Some(mut child) = server.0.take() {
        crate::sigterm(&mut child).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_five_times_mid_trading_keeps_every_promise() {
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    println!("CHAOS_SEED={seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let url = fresh_database("chaos").await;
    let scenario = live();
    let args = crate::live_serve_args(&scenario, &url);
    let (mut child, base) = serve(&args);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let warm = crate::register(&http, &base, "warm").await;
    crate::market_buy_until_filled(&http, &base, &warm, "ACME", 1, Duration::from_secs(20)).await;
    let world = Arc::new(World {
        base: RwLock::new(base),
        stop: AtomicBool::new(false),
        answers: Mutex::default(),
        cancelled: Mutex::default(),
        users: Mutex::default(),
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|w| tokio::spawn(client(http.clone(), world.clone(), w)))
        .collect();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(700..2_200))).await;
        drop(child); // SIGKILL
        let (c, b) = serve(&args);
        child = c;
        *world.base.write().unwrap() = b;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    world.stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    let base = world.base();
    let answers = world.answers.lock().unwrap().clone();
    let users = world.users.lock().unwrap().clone();
    assert_eq!(users.len() as u64, CLIENTS);
    assert!(answers.len() > 200, "only {} answers", answers.len());
    assert!(
        answers.iter().any(|a| a.order["status"] == "filled"),
        "nothing traded"
    );

    // Every acknowledged order, with its status or a later one, and every
    // fill its client was told of.
    let mut fills_told: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for a in &answers {
        let id = a.order["id"].as_u64().unwrap();
        let now = get_json(&http, &format!("{base}/v1/orders/{id}"), Some(&a.key)).await;
        let (was, is) = (a.order["status"].as_str().unwrap(), now["status"].as_str());
        let is = is.unwrap_or_else(|| panic!("order {} ({}) lost: {now}", a.order, a.status));
        if was == "accepted" || was == "partially_filled" {
            assert!(
                ["accepted", "partially_filled", "filled", "cancelled"].contains(&is),
                "{} came back as {now}",
                a.order
            );
            assert!(now["filled_quantity"].as_u64() >= a.order["filled_quantity"].as_u64());
        } else {
            assert_eq!(
                (was, &a.order["filled_quantity"]),
                (is, &now["filled_quantity"]),
                "{} vs {now}",
                a.order
            );
        }
        for f in a.order["fills"].as_array().into_iter().flatten() {
            fills_told.entry(a.key.clone()).or_default().push((
                f["trade_id"].as_u64().unwrap(),
                f["symbol"].as_str().unwrap().into(),
            ));
        }
    }
    for (key, told) in &fills_told {
        let have = get_json(&http, &format!("{base}/v1/trades?limit=1000"), Some(key)).await;
        let have: Vec<(u64, String)> = have["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["trade_id"].as_u64().unwrap(),
                    f["symbol"].as_str().unwrap().into(),
                )
            })
            .collect();
        for t in told {
            assert!(have.contains(t), "fill {t:?} told to a client is gone");
        }
    }
    let cancelled = world.cancelled.lock().unwrap().clone();
    for (key, id) in &cancelled {
        let now = get_json(&http, &format!("{base}/v1/orders/{id}"), Some(key)).await;
        assert_eq!(now["status"], "cancelled", "{now}");
    }

    // No cancelled order rests: the book at LOW holds exactly the clients'
    // open orders there.
    let mut open_low = 0;
    let mut listed: BTreeMap<u64, Vec<(u64, String, u64, u64)>> = BTreeMap::new();
    for (key, account) in &users {
        let page = get_json(&http, &format!("{base}/v1/orders?limit=1000"), Some(key)).await;
        for o in page["items"].as_array().unwrap() {
            if o["limit_price"] == LOW
                && ["accepted", "partially_filled"].contains(&o["status"].as_str().unwrap())
            {
                open_low += o["remaining_quantity"].as_u64().unwrap();
            }
            listed.entry(*account).or_default().push((
                o["id"].as_u64().unwrap(),
                o["status"].as_str().unwrap().to_string(),
                o["filled_quantity"].as_u64().unwrap(),
                o["remaining_quantity"].as_u64().unwrap(),
            ));
        }
    }
    let book = get_json(
        &http,
        &format!("{base}/v1/stocks/GLOBEX/book?depth=100"),
        None,
    )
    .await;
    let at_low: u64 = book["bids"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["price"] == LOW)
        .map(|l| l["quantity"].as_u64().unwrap())
        .sum();
    assert_eq!(
        at_low, open_low,
        "the book at {LOW} holds orders that are not open"
    );

    // A clean stop writes the last checkpoint: the tables then say what
    // the API said, and cash and shares add up.
    sigterm(child).await;
    let db = sqlx::PgPool::connect(&url).await.unwrap();
    for (account, mut api) in listed {
        let mut rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT order_id, status, filled, remaining FROM orders WHERE account_id = $1",
        )
        .bind(account as i64)
        .fetch_all(&db)
        .await
        .unwrap();
        rows.sort();
        api.sort();
        let table: Vec<(u64, String, u64, u64)> = rows
            .into_iter()
            .map(|(i, s, f, r)| (i as u64, s, f as u64, r as u64))
            .collect();
        assert_eq!(
            api, table,
            "GET /v1/orders of {account} differs from the table"
        );
    }
    let (cash, deposits, shares, issued) = crate::persist::sums(&url).await;
    assert_eq!(cash, deposits, "cash (fees included) is conserved");
    assert_eq!(shares, issued, "shares are conserved");
}
