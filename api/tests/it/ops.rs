//! Market data, streaming, metrics, docs.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::{ADMIN_KEY, App, order};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_data_reflects_trades() {
    let app = App::start().await;
    let key = app.user("ann").await;
    app.house_sells(1, "ACME", 100, 10_500).await;
    app.house_sells(2, "ACME", 100, 10_600).await;
    let (s, _) = app
        .post(&key, "/v1/orders", order("ACME", "buy", 20, "106.00"))
        .await;
    assert_eq!(s, 201);
    let (s, st) = app.get(&key, "/v1/stocks/ACME").await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            st["last"].as_str(),
            st["change_pct"].as_str(),
            st["volume"].as_u64()
        ),
        (Some("105.00"), Some("5.00"), Some(20))
    );
    assert_eq!(st["available_quantity"], 180);
    let (_, list) = app.get(&key, "/v1/stocks").await;
    assert_eq!(list["total"], 2);
    let (_, book) = app.get(&key, "/v1/stocks/ACME/book?depth=1").await;
    assert_eq!(book["asks"].as_array().unwrap().len(), 1);
    assert_eq!(book["asks"][0]["price"], "105.00");
    assert_eq!(book["asks"][0]["quantity"], 80);
    let (_, candles) = app
        .get(
            &key,
            "/v1/stocks/ACME/candles?interval=1m&from=2026-11-22T00:00:00Z",
        )
        .await;
    assert_eq!(candles[0]["volume"], 20);
    assert_eq!(candles[0]["start"], "2026-11-22T12:00:00Z");
    let (_, m) = app.get(&key, "/v1/market/movers?limit=1").await;
    assert_eq!(m["gainers"][0]["symbol"], "ACME");
    assert_eq!(m["losers"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_trades_and_own_order_updates() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let r = app
        .http
        .get(app.url("/v1/stream"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = r.bytes_stream();
    app.house_sells(1, "ACME", 5, 10_000).await;
    let (s, _) = app
        .post(&key, "/v1/orders", order("ACME", "buy", 5, "100.00"))
        .await;
    assert_eq!(s, 201);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !(text.contains("event: trade") && text.contains("\"status\":\"filled\"")) {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("no trade streamed in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("\"price\":\"100.00\""), "{text}");
    // The house's own order updates are not the caller's: not streamed.
    assert!(!text.contains(&format!("\"order_id\":{}", 1_000_000_000_001u64)));
    let _ = json!({});
}

fn counter(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let scrape = || async {
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = scrape().await;
    app.house_sells(1, "ACME", 5, 10_000).await;
    for _ in 0..3 {
        app.post(&key, "/v1/orders", order("ACME", "buy", 1, "100.00"))
            .await;
    }
    app.post(
        &key,
        "/v1/orders",
        order("ACME", "buy", 1_000_000, "100.00"),
    )
    .await;
    let after = scrape().await;
    let d = |name: &str, label: &str| counter(&after, name, label) - counter(&before, name, label);
    // Other tests in this binary share the process-wide recorder: at least ours.
    assert!(
        d("marketsim_orders_total", "status=\"accepted\"") >= 3.0,
        "{after}"
    );
    assert!(d("marketsim_orders_total", "status=\"denied\"") >= 1.0);
    assert!(d("marketsim_trades_total", "") >= 3.0);
    assert!(
        after.contains("marketsim_http_request_duration_seconds_bucket{route=\"/v1/orders\""),
        "{after}"
    );
    assert!(after.contains("marketsim_actor_mailbox_depth"));
    assert!(after.contains("marketsim_tick_lag_seconds"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_and_docs_are_served_and_health_answers() {
    let app = App::start().await;
    let spec: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/portfolio",
        "/v1/market/movers",
        "/v1/stream",
        "/v1/admin/stocks",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    // Every error any operation documents is a problem document, and every
    // operation documents the errors any request can get.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for code in ["400", "408", "429", "503"] {
                assert!(responses.contains_key(code), "{method} {path}: no {code}");
            }
            for (code, r) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    assert!(
                        r["content"]["application/problem+json"].is_object(),
                        "{method} {path} {code}: not a problem document"
                    );
                }
            }
        }
    }
    // An order is a market or a limit order, told apart by `type`.
    let body = &spec["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["$ref"], "#/components/schemas/NewOrder");
    let new_order = &spec["components"]["schemas"]["NewOrder"];
    assert_eq!(new_order["discriminator"]["propertyName"], "type");
    assert_eq!(new_order["oneOf"].as_array().unwrap().len(), 2);
    let limit = &spec["components"]["schemas"]["LimitOrder"];
    assert!(
        limit["required"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("limit_price"))
    );
    assert!(spec["components"]["schemas"]["MarketOrder"]["properties"]["limit_price"].is_null());
    let docs = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let (s, h) = app.get("", "/health").await;
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
    let (s, _) = app
        .post(ADMIN_KEY, "/v1/admin/generator/pause", json!({}))
        .await;
    assert_eq!(s, 409, "no generator in this test market");
}
