//! The live market with PostgreSQL (`database_url`) against the real
//! server of `DATABASE_URL`, each test with a fresh database: a SIGKILL of
//! the process mid-load loses nothing acknowledged; a database outage gives
//! 503s, no crash, and recovery without a restart. With Redis: an outage
//! leaves trading alone; a relay streams the same market.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use marketsim::settings::Overrides;
use serde_json::{Value, json};

use crate::{Proxy, fresh_database, get_json, live, register, spawn_app, start_serve};

/// An order as acknowledged to a client: (key, order body).
type Acked = Arc<Mutex<Vec<(String, Value)>>>;

async fn load(http: reqwest::Client, base: String, key: String, worker: u64, acked: Acked) {
    for i in 0u64.. {
        let body = match i % 4 {
            // Fills against the market makers.
            0 => json!({"symbol": "ACME", "side": "buy", "type": "market", "quantity": 1 + worker}),
            // Rests far below the market.
            1 | 2 => json!({"symbol": "GLOBEX", "side": "buy", "type": "limit",
                            "quantity": 5 + i % 7, "limit_price": format!("{}.00", 10 + worker)}),
            // Denied: far more than the cash.
            _ => json!({"symbol": "UMBRELLA", "side": "buy", "type": "limit",
                        "quantity": 10_000_000, "limit_price": "250.00"}),
        };
        let r = http
            .post(format!("{base}/v1/orders"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await;
        let Ok(r) = r else { return };
        let status = r.status().as_u16();
        let Ok(v) = r.json::<Value>().await else {
            return;
        };
        match status {
            201 => acked.lock().unwrap().push((key.clone(), v)),
            422 => acked
                .lock()
                .unwrap()
                .push((key.clone(), v["order"].clone())),
            _ => {}
        }
        // Cancel every fourth resting order.
        if i % 8 == 2 {
            let last = acked.lock().unwrap().last().cloned();
            if let Some((k, o)) = last.filter(|(_, o)| o["status"] == "accepted") {
                let r = http
                    .delete(format!("{base}/v1/orders/{}", o["id"]))
                    .bearer_auth(&k)
                    .send()
                    .await;
                let Ok(r) = r else { return };
                if r.status() == 200 {
                    if let Ok(v) = r.json::<Value>().await {
                        let mut a = acked.lock().unwrap();
                        if let Some(e) = a.iter_mut().find(|(_, x)| x["id"] == v["id"]) {
                            e.1 = v;
                        }
                    }
                }
            }
        }
    }
}

pub(crate) async fn sums(url: &str) -> (i64, i64, BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let db = sqlx::PgPool::connect(url).await.unwrap();
    let cash: i64 = sqlx::query_scalar("SELECT sum(cash)::int8 FROM accounts")
        .fetch_one(&db)
        .await
        .unwrap();
    let deposits: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum((fact->'deposit'->>'amount')::int8), 0)::int8 FROM journal WHERE kind = 'deposit'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let shares: Vec<(String, i64)> =
        sqlx::query_as("SELECT symbol, sum(quantity)::int8 FROM holdings GROUP BY symbol")
            .fetch_all(&db)
            .await
            .unwrap();
    let issued: Vec<(String, i64)> = sqlx::query_as(
        "SELECT fact->'issue'->>'symbol', sum((fact->'issue'->>'quantity')::int8)::int8
         FROM journal WHERE kind = 'issue' GROUP BY 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    (
        cash,
        deposits,
        shares.into_iter().collect(),
        issued.into_iter().collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_nothing_acknowledged() {
    let url = fresh_database("sigkill").await;
    let scenario = live();
    let args = crate::live_serve_args(&scenario, &url);
    let (mut child, base) = start_serve(&args, &[("MARKETSIM_TICK_INTERVAL_MS", "100")]);
    let http = reqwest::Client::new();
    let acked: Acked = Arc::default();
    let mut keys = Vec::new();
    for w in 0..6 {
        keys.push(register(&http, &base, &format!("u{w}")).await);
    }
    // Let the market makers quote before the load starts.
    crate::market_buy_until_filled(&http, &base, &keys[0], "ACME", 1, Duration::from_secs(20))
        .await;
    let tasks: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(w, k)| {
            tokio::spawn(load(
                http.clone(),
                base.clone(),
                k.clone(),
                w as u64,
                acked.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "only {} orders acknowledged", acked.len());

    let (mut child, base) = start_serve(&args, &[("MARKETSIM_TICK_INTERVAL_MS", "100")]);
    let (cash, deposits, shares, issued) = sums(&url).await;
    assert_eq!(cash, deposits, "cash is conserved across the crash");
    assert_eq!(shares, issued, "shares are conserved across the crash");

    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut resting: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (key, o) in &acked {
        let now: Value = get_json(&http, &format!("{base}/v1/orders/{}", o["id"]), Some(key)).await;
        let before = o["status"].as_str().unwrap();
        let after = now["status"]
            .as_str()
            .unwrap_or_else(|| panic!("order {o} lost: {now}"));
        *by_status.entry(before.to_string()).or_default() += 1;
        if before == "accepted" {
            // A resting order may have filled since it was acknowledged.
            assert!(
                ["accepted", "partially_filled", "filled", "cancelled"].contains(&after),
                "{o} came back as {now}"
            );
        } else {
            assert_eq!(before, after, "{o} came back as {now}");
            assert_eq!(o["filled_quantity"], now["filled_quantity"], "{o} vs {now}");
        }
        if after == "accepted" || after == "partially_filled" {
            *resting
                .entry((
                    now["symbol"].as_str().unwrap().into(),
                    now["limit_price"].as_str().unwrap().into(),
                ))
                .or_default() += now["remaining_quantity"].as_u64().unwrap();
        }
    }
    for s in ["filled", "accepted", "denied"] {
        assert!(
            by_status.get(s).copied().unwrap_or(0) > 0,
            "no {s} orders in {by_status:?}"
        );
    }
    // Resting orders are back in their books.
    for ((symbol, price), qty) in &resting {
        let book: Value = get_json(
            &http,
            &format!("{base}/v1/stocks/{symbol}/book?depth=100"),
            None,
        )
        .await;
        let at: u64 = book["bids"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["price"] == price.as_str())
            .map(|l| l["quantity"].as_u64().unwrap())
            .sum();
        assert!(
            at >= *qty,
            "{symbol} @ {price}: {at} in the book, {qty} restored"
        );
    }
    // Users' cash as the API reports it matches the database.
    let db = sqlx::PgPool::connect(&url).await.unwrap();
    for key in &keys {
        let a: Value = get_json(&http, &format!("{base}/v1/account"), Some(key)).await;
        let stored: i64 = sqlx::query_scalar("SELECT cash FROM accounts WHERE account_id = $1")
            .bind(a["user_id"].as_i64().unwrap())
            .fetch_one(&db)
            .await
            .unwrap();
        let shown: engine::Money = a["cash"].as_str().unwrap().parse().unwrap();
        assert_eq!(shown.minor(), stored, "{a}");
    }
    // And the restarted market trades on.
    crate::market_buy_until_filled(&http, &base, &keys[1], "ACME", 1, Duration::from_secs(20))
        .await;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_503_and_recovers_by_itself() {
    let url = fresh_database("outage").await;
    let pg: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(pg).await;
    let via_proxy = url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    assert_ne!(via_proxy, url, "DATABASE_URL must use 127.0.0.1:5432");
    let app = spawn_app(
        &[
            ("MARKETSIM_TICK_INTERVAL_MS", "100"),
            ("MARKETSIM_DURABLE_TIMEOUT_MS", "500"),
        ],
        Overrides {
            database_url: Some(via_proxy),
            ..Overrides::default()
        },
    )
    .await;
    let base = app.base.clone();
    let http = reqwest::Client::new();
    let key = register(&http, &base, "ann").await;
    let order = |price: &str| {
        http.post(format!("{base}/v1/orders"))
            .bearer_auth(&key)
            .json(&json!({"symbol": "ACME", "side": "buy", "type": "limit", "quantity": 3, "limit_price": price}))
            .send()
    };
    let before: Value = order("50.00").await.unwrap().json().await.unwrap();
    assert_eq!(before["status"], "accepted");

    proxy.cut();
    // The writer notices at its next write (ticks arrive every 100 ms).
    let started = Instant::now();
    let problem = loop {
        let r = order("51.00").await.unwrap();
        if r.status() == 503 {
            assert_eq!(
                r.headers()["content-type"].to_str().unwrap(),
                "application/problem+json"
            );
            break r.json::<Value>().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no 503 while the database is down"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(problem["status"], 503);
    assert!(
        problem["detail"].as_str().unwrap().contains("database"),
        "{problem}"
    );
    // Reads still answer, and so does a new registration's refusal.
    let acc = http
        .get(format!("{base}/v1/account"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(acc.status(), 200);
    let r = http
        .post(format!("{base}/v1/users"))
        .json(&json!({"name": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the server died");
    // An order with a client order id, and its retry: 503 both.
    let idem = || {
        http.post(format!("{base}/v1/orders"))
            .bearer_auth(&key)
            .json(
                &json!({"symbol": "ACME", "side": "buy", "type": "limit", "quantity": 1,
                          "limit_price": "49.00", "client_order_id": "idem-outage"}),
            )
            .send()
    };
    assert_eq!(idem().await.unwrap().status(), 503, "the original");
    assert_eq!(idem().await.unwrap().status(), 503, "its retry");

    proxy.restore();
    let started = Instant::now();
    let after = loop {
        let r = order("52.00").await.unwrap();
        if r.status() == 201 {
            break r.json::<Value>().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "trading did not resume after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(after["status"], "accepted");
    // Once the database is back, a retry gets the order (once durable),
    // and every later retry the same answer; there is one such order.
    let r = idem().await.unwrap();
    assert_eq!(r.status(), 201);
    let first = r.text().await.unwrap();
    let r = idem().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.text().await.unwrap(), first);
    let mine: Value = get_json(&http, &format!("{base}/v1/orders?limit=100"), Some(&key)).await;
    let same: Vec<&Value> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["client_order_id"] == "idem-outage")
        .collect();
    assert_eq!(same.len(), 1, "{mine}");

    // Everything acknowledged is durable: after a crash (nothing flushed),
    // a market started straight on the database still has both orders.
    app.crash().await;
    let app = spawn_app(
        &[],
        Overrides {
            database_url: Some(url),
            ..Overrides::default()
        },
    )
    .await;
    let base = app.base.clone();
    let mine: Value = get_json(&http, &format!("{base}/v1/orders"), Some(&key)).await;
    let ids: Vec<&Value> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["id"])
        .collect();
    assert!(ids.contains(&&before["id"]), "{mine}");
    assert!(ids.contains(&&after["id"]), "{mine}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_leaves_trading_alone_and_recovers() {
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let proxy = Proxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let prefix = format!("marketsim-test:serve:{}", std::process::id());
    let via_proxy = format!("redis://{}", proxy.addr);
    let app = spawn_app(
        &[
            ("MARKETSIM_TICK_INTERVAL_MS", "100"),
            ("MARKETSIM_REDIS_PREFIX", &prefix),
            ("MARKETSIM_CACHE_TTL_MS", "60000"),
        ],
        Overrides {
            redis_url: Some(via_proxy),
            ..Overrides::default()
        },
    )
    .await;
    let base = app.base.clone();
    let direct = redis::Client::open(redis_url).unwrap();
    let mut r = direct.get_multiplexed_async_connection().await.unwrap();
    let http = reqwest::Client::new();
    let stocks = || async {
        let r = http.get(format!("{base}/v1/stocks")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    let first = stocks().await;
    let cached: Option<String> =
        redis::AsyncCommands::get(&mut r, format!("{prefix}:cache:stocks:100:0"))
            .await
            .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&cached.expect("GET /v1/stocks was not cached")).unwrap(),
        first
    );
    let quote_ts = |mut r: redis::aio::MultiplexedConnection| {
        let key = format!("{prefix}:quote:ACME");
        async move {
            redis::AsyncCommands::hget::<_, _, Option<i64>>(&mut r, key, "ts")
                .await
                .unwrap()
        }
    };
    // The mirror writes quotes in the background, at the next tick.
    let t = Instant::now();
    while quote_ts(r.clone()).await.is_none() {
        assert!(t.elapsed() < Duration::from_secs(15), "no quote in Redis");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let key = register(&http, &base, "ann").await;

    proxy.cut();
    let t = Instant::now();
    let during = stocks().await;
    assert_eq!(during["total"], first["total"]);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "a read waited {:?} on Redis",
        t.elapsed()
    );
    let o = http
        .post(format!("{base}/v1/orders"))
        .bearer_auth(&key)
        .json(&json!({"symbol": "ACME", "side": "buy", "type": "limit", "quantity": 1, "limit_price": "50.00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(o.status(), 201, "trading depends on Redis");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("marketsim_redis_errors_total"),
        "{metrics}"
    );
    let stale = quote_ts(r.clone()).await;

    proxy.restore();
    let t = Instant::now();
    loop {
        if quote_ts(r.clone()).await > stale {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "the Redis mirror did not resume"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
    let keys: Vec<String> = redis::AsyncCommands::keys(&mut r, format!("{prefix}:*"))
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::AsyncCommands::del(&mut r, keys).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_process_streams_the_same_market_from_redis() {
    use futures::StreamExt;
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("marketsim-test:relay:{}", std::process::id());
    let market = spawn_app(
        &[
            ("MARKETSIM_TICK_INTERVAL_MS", "100"),
            ("MARKETSIM_REDIS_PREFIX", prefix.as_str()),
        ],
        Overrides {
            redis_url: Some(redis_url.clone()),
            ..Overrides::default()
        },
    )
    .await;
    let relay = marketsim::relay::Relay::build(marketsim::relay::RelayArgs {
        redis_url,
        redis_prefix: prefix.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some("relay-token-0123456789".into()),
        public: false,
    })
    .await
    .unwrap();
    let relay_base = format!("http://127.0.0.1:{}", relay.port());
    let (stop_relay, relay_stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(relay.run_until_stopped(async move {
        let _ = relay_stopped.await;
    }));
    let http = reqwest::Client::new();
    // Without the token: 401.
    let anon = http
        .get(format!("{relay_base}/v1/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let wrong = http
        .get(format!("{relay_base}/v1/stream"))
        .bearer_auth("relay-token-0123456780")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let mut stream = http
        .get(format!("{relay_base}/v1/stream"))
        .bearer_auth("relay-token-0123456789")
        .send()
        .await
        .unwrap()
        .bytes_stream();
    // The market's generator ticks every 100 ms; the relay passes them on.
    let mut text = String::new();
    let t = Instant::now();
    while !text.contains("event: tick") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("no tick from the relay within 10 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        assert!(t.elapsed() < Duration::from_secs(20));
    }
    let data = text
        .lines()
        .skip_while(|l| *l != "event: tick")
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let tick: Value = serde_json::from_str(data).unwrap();
    assert!(
        ["ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI"]
            .contains(&tick["symbol"].as_str().unwrap()),
        "{tick}"
    );
    // Shutdown ends the open stream, and the relay stops.
    let _ = stop_relay.send(());
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived the relay's shutdown");
    tokio::time::timeout(Duration::from_secs(5), relay)
        .await
        .expect("the relay did not stop")
        .unwrap()
        .unwrap();
    market.stop().await;
}

/// Audit C1: a client that hangs up while its order waits to be durable
/// (here: the database is cut meanwhile) drops only its answer. The order
/// is routed, recorded and journaled all the same: its owner finds it
/// filled, with its fill, and again after a crash and a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_client_hangs_up_is_kept() {
    use tokio::io::AsyncWriteExt;
    let url = fresh_database("hangup").await;
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let via_proxy = url.replace("127.0.0.1:5432", &proxy.addr.to_string());
    assert_ne!(via_proxy, url, "DATABASE_URL must use 127.0.0.1:5432");
    // No ticks: nothing but the order writes to the journal meanwhile.
    let env = [
        ("MARKETSIM_TICK_INTERVAL_MS", "3600000"),
        ("MARKETSIM_DURABLE_TIMEOUT_MS", "5000"),
    ];
    let app = spawn_app(
        &env,
        Overrides {
            database_url: Some(via_proxy),
            ..Overrides::default()
        },
    )
    .await;
    let base = app.base.clone();
    let http = reqwest::Client::new();
    let key = register(&http, &base, "gone").await;

    proxy.cut();
    let body = r#"{"symbol":"ACME","side":"buy","type":"limit","quantity":7,"limit_price":"101.00","client_order_id":"gone-1"}"#;
    let request = format!(
        "POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut tcp = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    // The server is waiting for durability; the client gives up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(tcp);
    proxy.restore();

    let find = |base: String| {
        let (http, key) = (http.clone(), key.clone());
        async move {
            let t = Instant::now();
            loop {
                let page = get_json(&http, &format!("{base}/v1/orders"), Some(&key)).await;
                if let Some(o) = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["client_order_id"] == "gone-1")
                {
                    return o.clone();
                }
                assert!(
                    t.elapsed() < Duration::from_secs(15),
                    "the order was lost: {page}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    // It crossed the house's offer at 100.00: filled, and the fill is the
    // owner's.
    let fill_of = |base: String, id: Value| {
        let (http, key) = (http.clone(), key.clone());
        async move {
            let page = get_json(&http, &format!("{base}/v1/trades"), Some(&key)).await;
            let fills: Vec<Value> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["order_id"] == id)
                .cloned()
                .collect();
            assert_eq!(fills.len(), 1, "{page}");
            (fills[0]["price"].clone(), fills[0]["quantity"].clone())
        }
    };
    let seen = find(base.clone()).await;
    assert_eq!(seen["status"], "filled", "{seen}");
    assert_eq!(seen["filled_quantity"], 7, "{seen}");
    assert_eq!(
        fill_of(base.clone(), seen["id"].clone()).await,
        (json!("100.00"), json!(7))
    );
    // Once an order placed after it is acknowledged, its facts are durable
    // (the writer may still be backing off from the cut: 503 until then).
    let t = Instant::now();
    loop {
        let r = http
            .post(format!("{base}/v1/orders"))
            .bearer_auth(&key)
            .json(&json!({"symbol": "GLOBEX", "side": "buy", "type": "limit", "quantity": 1, "limit_price": "1.00"}))
            .send()
            .await
            .unwrap();
        if r.status() == 201 {
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "the journal did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.crash().await;

    let app = spawn_app(
        &env,
        Overrides {
            database_url: Some(url),
            ..Overrides::default()
        },
    )
    .await;
    let after = find(app.base.clone()).await;
    assert_eq!(after["id"], seen["id"]);
    assert_eq!(after["status"], "filled", "{after}");
    assert_eq!(after["filled_quantity"], 7, "{after}");
    assert_eq!(
        fill_of(app.base.clone(), after["id"].clone()).await,
        (json!("100.00"), json!(7))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_houses_offering_survives_a_restart() {
    let url = fresh_database("offering").await;
    let flags = || Overrides {
        database_url: Some(url.clone()),
        ..Overrides::default()
    };
    let app = spawn_app(&[("MARKETSIM_TICK_INTERVAL_MS", "3600000")], flags()).await;
    let http = reqwest::Client::new();
    let key = register(&http, &app.base, "ann").await;
    let r = http
        .post(format!("{}/v1/orders", app.base))
        .bearer_auth(&key)
        .json(&json!({"symbol": "ACME", "side": "buy", "type": "market", "quantity": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    app.stop().await;
    let app = spawn_app(&[("MARKETSIM_TICK_INTERVAL_MS", "3600000")], flags()).await;
    let acme = get_json(&http, &format!("{}/v1/stocks/ACME", app.base), None).await;
    assert_eq!(
        (acme["available_quantity"].as_u64(), acme["ask"].as_str()),
        (Some(999_993), Some("100.00")),
        "{acme}"
    );
    app.stop().await;
}
