//! Helpers shared by the binary's integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Start `marketsim <args>` (a `serve`) with `envs`; return the child and
/// its base URL, read from the "serving on" log line.
pub fn start_serve(args: &[&str], envs: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_marketsim"))
        .args(args)
        .envs(envs.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let base = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve did not start");
        if let Some(rest) = line.split("serving on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    (child, base)
}

/// GET `url` (as the user with `key`, if any) and parse the JSON body.
pub async fn get_json(http: &reqwest::Client, url: &str, key: Option<&str>) -> serde_json::Value {
    let mut req = http.get(url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// Register a user on `base`; returns its API key.
pub async fn register(http: &reqwest::Client, base: &str, name: &str) -> String {
    let u: serde_json::Value = http
        .post(format!("{base}/v1/users"))
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    u["api_key"].as_str().unwrap().to_string()
}

/// Send a market buy until it fills (background market makers need a moment
/// to quote); fails after `within`. Returns the filled order.
pub async fn market_buy_until_filled(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    symbol: &str,
    quantity: u64,
    within: Duration,
) -> serde_json::Value {
    let start = std::time::Instant::now();
    loop {
        let o: serde_json::Value = http
            .post(format!("{base}/v1/orders"))
            .bearer_auth(key)
            .json(&serde_json::json!({"symbol": symbol, "side": "buy", "type": "market", "quantity": quantity}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if o["status"] == "filled" {
            return o;
        }
        assert!(
            start.elapsed() < within,
            "no liquidity after {within:?}: {o}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A fresh, empty PostgreSQL database on the server of `DATABASE_URL`
/// (which `scripts/test` sets); returns its URL.
pub async fn fresh_database(name: &str) -> String {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run the suite with scripts/test");
    let (server, _) = url
        .rsplit_once('/')
        .expect("DATABASE_URL has no database name");
    let db = format!("marketsim_t_{name}_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .unwrap();
    format!("{server}/{db}")
}

/// A TCP proxy on loopback that a test can cut (every connection dropped,
/// new ones refused, as when the server behind it stops) and restore.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (c, k) = (cut.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                k.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { addr, cut, conns }
    }
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
    pub fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}
