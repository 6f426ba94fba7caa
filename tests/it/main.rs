//! marketsim's integration tests (one binary): the live market started
//! in-process with `spawn_app` (port 0), and the binary itself where a real
//! process is the point (exit codes, signals, SIGKILL).

mod chaos;
mod cli;
mod events_topic;
mod kafka_cli;
mod limits;
mod market_time;
mod persist;
mod prometheus;
mod serve;
mod serve_kafka;
mod sessions;
mod tansu;
mod tasks;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use marketsim::settings::{Overrides, Settings};

/// The scenario the live tests trade against (five symbols, market makers).
pub fn live() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/simulations/scenarios/live.toml"
    )
    .to_string()
}

/// A live market running in this process.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub state: api::AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Build and start the market `env` (`MARKETSIM_*` pairs) and `flags`
/// describe, on 127.0.0.1 port 0.
pub async fn spawn_app(env: &[(&str, &str)], flags: Overrides) -> TestApp {
    try_spawn_app(env, flags).await.unwrap()
}

pub async fn try_spawn_app(env: &[(&str, &str)], flags: Overrides) -> anyhow::Result<TestApp> {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let settings = Settings::load_from(
        None,
        env,
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            ..flags
        },
    )?;
    let app = marketsim::Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Ok(TestApp {
        base,
        state,
        stop: Some(stop),
        task,
    })
}

impl TestApp {
    /// Shut down gracefully (as on SIGTERM) and wait for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
    /// Stop at once: the market and its journal writer are dropped
    /// mid-flight, nothing is flushed (a crash of the market, not of the
    /// process).
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// `serve` on a free loopback port with the live scenario's agents and
/// the database at `url`.
pub fn live_serve_args<'a>(scenario: &'a str, url: &'a str) -> [&'a str; 7] {
    [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        scenario,
        "--database-url",
        url,
    ]
}

/// Start `marketsim <args>` (a `serve` or `relay`) as a child process with
/// `envs`; return the child and its base URL, read from the "serving on"
/// log line. With `SERVE_LOG` set, the child's log goes to the test's
/// stderr (for a failing test's story).
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
            if std::env::var("SERVE_LOG").is_ok() {
                eprintln!("serve: {line}");
            }
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

/// Run `marketsim <args>` to its end; it must succeed.
pub fn marketsim_ok(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_marketsim"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A server process; SIGKILLed when dropped (a test that fails early, or
/// a crash on purpose).
#[derive(Debug)]
pub struct Server(pub Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Send SIGTERM to a `serve` child and wait (at most 15 s) for it to exit
/// successfully.
pub async fn sigterm(child: &mut Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let stopped = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(15),
            "serve did not stop within 15 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let db = format!("marketsim_t_{name}_{}", std::process::id());
    adapters::pg::Database::recreate(&url, &db).await.unwrap()
}

/// A TCP proxy on loopback that a test can cut (every connection dropped,
/// new ones refused, as when the server behind it stops) and restore.
#[derive(Debug)]
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
