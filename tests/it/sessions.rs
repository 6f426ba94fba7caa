//! Trading sessions in `serve`: a session a few seconds long closes (DAY
//! orders expire with their reservations released, the day's statistics
//! roll), and outside trading hours orders are refused naming the next
//! open.

use std::time::{Duration, Instant};

use marketsim::settings::Overrides;
use serde_json::{Value, json};

async fn post(http: &reqwest::Client, url: &str, key: &str, body: Value) -> (u16, Value) {
    let r = http
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_session_expires_day_orders_and_rolls_the_day_at_its_close() {
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_ADMIN_KEY", "0123456789abcdef"),
            // The walk stays still; sessions last three seconds.
            ("MARKETSIM_TICK_INTERVAL_MS", "3600000"),
            ("MARKETSIM_SESSION_PERIOD_MS", "3000"),
        ],
        Overrides::default(),
    )
    .await;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
    let key = crate::register(&http, &base, "ann").await;
    let (s, st) = post(
        &http,
        &format!("{base}/v1/admin/stocks/ACME/price"),
        "0123456789abcdef",
        json!({"price": "120.00"}),
    )
    .await;
    assert_eq!(s, 200, "{st}");
    let order = |tif: &str| {
        json!({"symbol": "ACME", "side": "buy", "type": "limit", "quantity": 10,
               "limit_price": "50.00", "time_in_force": tif})
    };
    let (s, day) = post(&http, &format!("{base}/v1/orders"), &key, order("day")).await;
    assert_eq!(s, 201, "{day}");
    let (s, gtc) = post(&http, &format!("{base}/v1/orders"), &key, order("gtc")).await;
    assert_eq!(s, 201, "{gtc}");
    let account = crate::get_json(&http, &format!("{base}/v1/account"), Some(&key)).await;
    assert_eq!(account["reserved_cash"], "1000.00", "{account}");

    let start = Instant::now();
    let expired = loop {
        let o = crate::get_json(
            &http,
            &format!("{base}/v1/orders/{}", day["id"]),
            Some(&key),
        )
        .await;
        if o["status"] == "expired" {
            break o;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the DAY order never expired: {o}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(expired["filled_quantity"], 0, "{expired}");
    let g = crate::get_json(
        &http,
        &format!("{base}/v1/orders/{}", gtc["id"]),
        Some(&key),
    )
    .await;
    assert_eq!(g["status"], "accepted", "a GTC order outlives the session");
    let account = crate::get_json(&http, &format!("{base}/v1/account"), Some(&key)).await;
    assert_eq!(
        account["reserved_cash"], "500.00",
        "the DAY order's reservation is released"
    );
    // The day rolled: 120.00 is the new day's reference, so no change yet.
    let acme = crate::get_json(&http, &format!("{base}/v1/stocks/ACME"), None).await;
    assert_eq!(
        (acme["last"].as_str(), acme["change_pct"].as_str()),
        (Some("120.00"), Some("0.00")),
        "{acme}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_trading_hours_orders_are_refused_naming_the_next_open() {
    // Hours that exclude now, whatever the time of day.
    let now = actors::Clock::system().now();
    let hour = now.nanos().rem_euclid(engine::Timestamp::NANOS_PER_DAY) / 3_600_000_000_000;
    let (hours, open_hour) = if hour < 12 {
        ("20:00-21:00", 20)
    } else {
        ("02:00-03:00", 2)
    };
    let today = now.day() * engine::Timestamp::NANOS_PER_DAY;
    let mut next_open = engine::Timestamp(today + open_hour * 3_600_000_000_000);
    if next_open < now {
        next_open = engine::Timestamp(next_open.nanos() + engine::Timestamp::NANOS_PER_DAY);
    }
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_SESSION_HOURS", hours),
            ("MARKETSIM_SESSION_DAYS", "all"),
        ],
        Overrides::default(),
    )
    .await;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
    let key = crate::register(&http, &base, "ann").await;
    let (s, p) = post(
        &http,
        &format!("{base}/v1/orders"),
        &key,
        json!({"symbol": "ACME", "side": "buy", "type": "market", "quantity": 1}),
    )
    .await;
    assert_eq!(s, 409, "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("closed") && detail.contains(&engine::time::rfc3339(next_open)),
        "{detail}"
    );
    // Nothing was placed; reads work.
    let orders = crate::get_json(&http, &format!("{base}/v1/orders"), Some(&key)).await;
    assert_eq!(orders["total"], 0, "{orders}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_would_trade_with_its_own_resting_order_cancels_that_one() {
    // serve's default rule: cancel_resting.
    let app = crate::spawn_app(
        &[("MARKETSIM_TICK_INTERVAL_MS", "3600000")],
        Overrides::default(),
    )
    .await;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
    let key = crate::register(&http, &base, "ann").await;
    let orders = format!("{base}/v1/orders");
    // Shares from the house's offering at 100.00, then an offer of her own
    // below it (the best ask).
    let (s, _) = post(
        &http,
        &orders,
        &key,
        json!({"symbol": "ACME", "side": "buy", "type": "market", "quantity": 10}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, sell) = post(
        &http,
        &orders,
        &key,
        json!({"symbol": "ACME", "side": "sell", "type": "limit",
        "quantity": 5, "limit_price": "99.00"}),
    )
    .await;
    assert_eq!(
        (s, sell["status"].as_str()),
        (201, Some("accepted")),
        "{sell}"
    );
    // Her buy at 99.00 meets her own offer first: that one is cancelled,
    // nothing trades, and the buy rests.
    let (s, buy) = post(
        &http,
        &orders,
        &key,
        json!({"symbol": "ACME", "side": "buy", "type": "limit",
        "quantity": 5, "limit_price": "99.00"}),
    )
    .await;
    assert_eq!(
        (s, buy["status"].as_str(), buy["filled_quantity"].as_u64()),
        (201, Some("accepted"), Some(0)),
        "{buy}"
    );
    let sell = crate::get_json(&http, &format!("{orders}/{}", sell["id"]), Some(&key)).await;
    assert_eq!(
        (sell["status"].as_str(), sell["reason"].as_str()),
        (Some("cancelled"), Some("self_trade")),
        "{sell}"
    );
    // Her shares are free again: all 10 can be offered.
    let (s, again) = post(
        &http,
        &orders,
        &key,
        json!({"symbol": "ACME", "side": "sell", "type": "limit",
        "quantity": 10, "limit_price": "150.00"}),
    )
    .await;
    assert_eq!(s, 201, "{again}");
    app.stop().await;
}
