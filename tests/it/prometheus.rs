//! The operators' view: Debian's `prometheus` scrapes a live `serve` (with
//! PostgreSQL, Redis and Kafka on the Tansu broker) using the shipped
//! `deploy/prometheus.yml`, and every panel of the shipped Grafana dashboard
//! (`deploy/grafana/marketsim.json`) returns data. `scripts/test` installs
//! `prometheus` when missing; `PROMETHEUS` names another binary.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::tansu::{Tansu, free_port};
use crate::{Server, fresh_database, live, register, start_serve};

const ADMIN: &str = "secret-admin-key-1";

/// Every PromQL expression of the shipped dashboard, with its panel's title.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/marketsim.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            out.push((
                p["title"].as_str().unwrap().to_string(),
                t["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grafana_panel_has_data_from_prometheus_scraping_serve() {
    let queries = dashboard_queries();
    assert!(queries.len() >= 8, "the dashboard has too few panels");

    let broker = Tansu::start();
    let url = fresh_database("prometheus").await;
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL is not set: run scripts/test");
    let prefix = format!("marketsim-prom-{}", std::process::id());
    let scenario = live();
    let envs = [
        ("MARKETSIM_ADMIN_KEY", ADMIN),
        ("MARKETSIM_TICK_INTERVAL_MS", "100"),
        ("MARKETSIM_REDIS_PREFIX", prefix.as_str()),
    ];
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        &scenario,
        "--database-url",
        &url,
        "--redis-url",
        &redis,
        "--kafka-brokers",
        &broker.brokers,
    ];
    let (child, base) = start_serve(&args, &envs);
    let _server = Server(Some(child));
    let target = base.trim_start_matches("http://").to_string();

    // The shipped scrape configuration, pointed at this server and scraping
    // every second (rates need two samples).
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus.yml"
    ))
    .unwrap();
    assert!(
        shipped.contains("127.0.0.1:8080"),
        "the shipped target moved"
    );
    let config = shipped
        .replace("127.0.0.1:8080", &target)
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("evaluation_interval: 5s", "evaluation_interval: 1s");
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let prom_port = free_port();
    let prometheus = crate::tansu::tool("PROMETHEUS", "prometheus").expect(
        "prometheus is not installed: run scripts/test (it installs Debian's package), or set PROMETHEUS",
    );
    let prom = Command::new(prometheus)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("could not start prometheus");
    let _prom = Server(Some(prom));

    // Work that every panel shows: trading users (orders, trades, Kafka
    // ticks, journal writes, Redis mirrors) and a task.
    let http = reqwest::Client::new();
    let key = register(&http, &base, "ops").await;
    crate::market_buy_until_filled(&http, &base, &key, "ACME", 2, Duration::from_secs(30)).await;
    let r = http
        .post(format!("{base}/v1/tasks"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"kind": "create_shares", "count": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let load = {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        tokio::spawn(async move {
            loop {
                for side in ["buy", "sell"] {
                    let _ = http
                        .post(format!("{base}/v1/orders"))
                        .bearer_auth(&key)
                        .json(&serde_json::json!({"symbol": "ACME", "side": side, "type": "market", "quantity": 1}))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // Every expression answers with at least one series, within a minute.
    let api = format!("http://127.0.0.1:{prom_port}/api/v1/query");
    let started = Instant::now();
    let mut missing: Vec<(String, String)> = queries.clone();
    while !missing.is_empty() && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut still = Vec::new();
        for (title, expr) in missing {
            let answer: Option<Value> = match http.get(&api).query(&[("query", &expr)]).send().await
            {
                Ok(r) => r.json().await.ok(),
                Err(_) => None, // prometheus still starting
            };
            let has_data = answer.as_ref().is_some_and(|a| {
                assert_ne!(
                    a["status"], "error",
                    "{title}: `{expr}` is not valid PromQL: {a}"
                );
                a["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            });
            if !has_data {
                still.push((title, expr));
            }
        }
        missing = still;
    }
    load.abort();
    assert!(
        missing.is_empty(),
        "panels without data after a minute of scraping: {missing:#?}"
    );
}
