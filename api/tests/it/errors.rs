//! Bad input: a problem body with a 4xx status, and nothing changes.

use serde_json::{Value, json};

use crate::{App, order};

async fn raw(
    app: &App,
    key: &str,
    method: reqwest::Method,
    path: &str,
    ctype: &str,
    body: Vec<u8>,
) -> (u16, String, Value) {
    let r = app
        .http
        .request(method, app.url(path))
        .bearer_auth(key)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_a_problem_and_changes_nothing() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let post = reqwest::Method::POST;
    let json_ct = "application/json";
    let cases: Vec<(&str, u16, Vec<u8>, &str)> = vec![
        ("malformed JSON", 400, b"{\"symbol\": \"ACME\",".to_vec(), json_ct),
        ("wrong type", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":"ten","limit_price":"1.00"}"#.to_vec(), json_ct),
        ("unknown field", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":1,"limit_price":"1.00","colour":"red"}"#.to_vec(), json_ct),
        ("negative quantity", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":-5,"limit_price":"1.00"}"#.to_vec(), json_ct),
        ("overflowing quantity", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":99999999999999999999999,"limit_price":"1.00"}"#.to_vec(), json_ct),
        ("negative price", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":1,"limit_price":"-1.00"}"#.to_vec(), json_ct),
        ("overflowing price", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":1,"limit_price":"999999999999999999999.00"}"#.to_vec(), json_ct),
        ("price as a float", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":1,"limit_price":1.5}"#.to_vec(), json_ct),
        ("unknown side", 422, br#"{"symbol":"ACME","side":"hold","type":"limit","quantity":1,"limit_price":"1.00"}"#.to_vec(), json_ct),
        ("limit without price", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":1}"#.to_vec(), json_ct),
        ("limit with a null price", 422, br#"{"symbol":"ACME","side":"buy","type":"limit","quantity":1,"limit_price":null}"#.to_vec(), json_ct),
        ("market with a price", 422, br#"{"symbol":"ACME","side":"buy","type":"market","quantity":1,"limit_price":"1.00"}"#.to_vec(), json_ct),
        ("market with a null price", 422, br#"{"symbol":"ACME","side":"buy","type":"market","quantity":1,"limit_price":null}"#.to_vec(), json_ct),
        ("not JSON at all", 415, b"symbol=ACME".to_vec(), "application/x-www-form-urlencoded"),
        ("oversized body", 413, vec![b' '; 64 * 1024], json_ct),
    ];
    for (what, want, body, ct) in cases {
        let (status, ctype, problem) = raw(&app, &key, post.clone(), "/v1/orders", ct, body).await;
        assert_eq!(status, want, "{what}: {problem}");
        assert_eq!(ctype, "application/problem+json", "{what}");
        assert_eq!(problem["status"], want, "{what}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: no detail"
        );
    }
    // None of that was recorded or reserved.
    assert_eq!(app.get(&key, "/v1/orders").await.1["total"], 0);
    let (_, acc) = app.get(&key, "/v1/account").await;
    assert_eq!(
        (acc["cash"].as_str(), acc["reserved_cash"].as_str()),
        (Some("100000.00"), Some("0.00"))
    );

    // Unknown routes and methods, unknown symbols on reads.
    let r = app
        .http
        .get(app.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = app
        .http
        .patch(app.url("/v1/orders"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(app.get(&key, "/v1/stocks/NOPE").await.0, 404);
    assert_eq!(
        app.get(&key, "/v1/stocks/not%20a%20symbol/book").await.0,
        404
    );
    assert_eq!(app.get(&key, "/v1/orders/abc").await.0, 404);
    assert_eq!(app.get(&key, "/v1/stocks/ACME/book?depth=0").await.0, 400);
    assert_eq!(
        app.get(&key, "/v1/stocks/ACME/candles?interval=7m").await.0,
        400
    );
    assert_eq!(
        app.get(&key, "/v1/stocks/ACME/candles?from=yesterday")
            .await
            .0,
        400
    );
    assert_eq!(app.get(&key, "/v1/orders?status=bogus").await.0, 400);
    assert_eq!(app.get(&key, "/v1/orders?limit=0").await.0, 400);
    assert_eq!(app.get(&key, "/v1/orders?nonsense=1").await.0, 400);
    let (s, p) = app.post(&key, "/v1/users", json!({"name": ""})).await;
    assert_eq!((s, p["type"].as_str()), (422, Some("invalid_input")));
    // Blank in any script, or too long, is refused; spaces around are trimmed.
    for name in ["   ", "\u{85}", "\u{a0}\u{feff}", &"x".repeat(65)] {
        let (s, _) = app.post(&key, "/v1/users", json!({ "name": name })).await;
        assert_eq!(s, 422, "{name:?}");
    }
    let (s, u) = app.post(&key, "/v1/users", json!({"name": " ann "})).await;
    assert_eq!((s, u["name"].as_str()), (201, Some("ann")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_refusals_are_denied_orders_recorded_with_a_reason() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let cases = [
        (order("ACME", "buy", 10_000, "100.00"), "insufficient_cash"),
        (order("ACME", "sell", 1, "100.00"), "insufficient_holdings"),
        (order("NOPE", "buy", 1, "1.00"), "unknown_symbol"),
        (order("ACME", "buy", 1, "100.001"), ""),
        (order("ACME", "buy", 0, "100.00"), "zero_quantity"),
    ];
    let mut recorded = 0;
    for (body, reason) in cases {
        let (s, p) = app.post(&key, "/v1/orders", body.clone()).await;
        assert_eq!(s, 422, "{body}: {p}");
        if reason.is_empty() {
            // A malformed price is bad input, not an order.
            assert_eq!(p["type"], "invalid_input");
            continue;
        }
        recorded += 1;
        assert_eq!(p["type"], "order_denied", "{p}");
        assert_eq!(p["reason"], reason, "{p}");
        assert_eq!(p["order"]["status"], "denied");
    }
    // A price off a coarser tick grid is a denial too.
    let (s, _) = app
        .post(
            crate::ADMIN_KEY,
            "/v1/admin/stocks",
            json!({"symbol": "TICKY", "initial_price": "10.00", "tick_size": "0.05", "float": 100}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, p) = app
        .post(&key, "/v1/orders", order("TICKY", "buy", 1, "10.03"))
        .await;
    assert_eq!((s, p["reason"].as_str()), (422, Some("off_tick_grid")));
    recorded += 1;
    let (_, list) = app.get(&key, "/v1/orders?status=denied").await;
    assert_eq!(list["total"], recorded);
    let (_, acc) = app.get(&key, "/v1/account").await;
    assert_eq!(
        (acc["cash"].as_str(), acc["reserved_cash"].as_str()),
        (Some("100000.00"), Some("0.00"))
    );
}
