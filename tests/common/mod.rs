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
