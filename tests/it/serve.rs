//! `marketsim serve` as a child process: it starts, trades with background
//! agents, and shuts down cleanly on SIGTERM even with a stream open.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_a_live_market_and_stops_gracefully_on_sigterm() {
    let scenario = crate::live();
    let (mut child, base) = crate::start_serve(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            &scenario,
            "--tick-interval-ms",
            "50",
        ],
        &[("MARKETSIM_ADMIN_KEY", "serve-test-admin-key")],
    );
    let http = reqwest::Client::new();
    let h: Value = crate::get_json(&http, &format!("{base}/health"), None).await;
    assert_eq!(h["symbols"], 5);
    let key = crate::register(&http, &base, "ann").await;

    // The market makers quote within a few seconds; then a market buy fills.
    let filled =
        crate::market_buy_until_filled(&http, &base, &key, "ACME", 5, Duration::from_secs(20))
            .await;
    assert_eq!(filled["filled_quantity"], 5);
    let p: Value = crate::get_json(&http, &format!("{base}/v1/portfolio"), Some(&key)).await;
    assert_eq!(p["holdings"][0]["quantity"], 5);

    // A stream is open while we ask the server to stop.
    let stream = http
        .get(format!("{base}/v1/stream"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let mut body = stream.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("event: tick"),
        "ticks stream while live"
    );
    crate::sigterm(&mut child).await;
}
