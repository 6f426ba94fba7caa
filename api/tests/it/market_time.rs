//! Prices at their own time, case-insensitive symbols, and the minute
//! history endpoint (from the tickers' candles when no Redis is set).

use serde_json::json;

use crate::{ADMIN_KEY, App, NOON};

#[tokio::test]
async fn symbols_are_case_insensitive_in_paths_and_bodies() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let (s, v) = app.get(&key, "/v1/stocks/acme").await;
    assert_eq!((s, v["symbol"].as_str()), (200, Some("ACME")));
    let (s, o) = app
        .post(
            &key,
            "/v1/orders",
            json!({"symbol": "beta", "side": "buy", "type": "limit", "quantity": 1, "limit_price": "1.00"}),
        )
        .await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["symbol"], "BETA");
    let (s, n) = app
        .post(
            ADMIN_KEY,
            "/v1/admin/stocks",
            json!({"symbol": "newco", "initial_price": "10.00"}),
        )
        .await;
    assert_eq!(s, 201, "{n}");
    assert_eq!(n["symbol"], "NEWCO");
    // A new listing shows its listing time, not 1970.
    assert_eq!(n["timestamp"], "2026-11-22T12:00:00Z");
    let (s, _) = app
        .post(
            ADMIN_KEY,
            "/v1/admin/stocks",
            json!({"symbol": "NewCo", "initial_price": "10.00"}),
        )
        .await;
    assert_eq!(s, 409, "the same symbol in another case");
}

#[tokio::test]
async fn a_price_with_its_own_time_drives_history_candles_and_the_day() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let at = |hhmmss: &str| {
        format!(
            "2026-01-05T{}:{}:{}Z",
            &hhmmss[0..2],
            &hhmmss[2..4],
            &hhmmss[4..6]
        )
    };
    for (t, p) in [
        ("090006", "10.00"),
        ("090040", "10.50"),
        ("090310", "11.00"),
    ] {
        let (s, v) = app
            .post(
                ADMIN_KEY,
                "/v1/admin/stocks/acme/price",
                json!({"price": p, "ts": at(t)}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, v) = app.get(&key, "/v1/stocks/ACME").await;
    assert_eq!(v["last"], "11.00");
    assert_eq!(v["timestamp"], "2026-01-05T09:03:10Z");
    // The history of that day: the last price per minute, carried forward.
    let (s, h) = app.get(&key, "/v1/stocks/ACME/history").await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["time"], json!(["090000", "090100", "090200", "090300"]));
    assert_eq!(h["price"], json!(["10.50", "10.50", "10.50", "11.00"]));
    assert_eq!(h["date"][0], "2026-01-05");
    let (_, w) = app
        .get(
            &key,
            "/v1/stocks/ACME/history?from=2026-01-05T09:01:00Z&to=2026-01-05T09:02:00Z",
        )
        .await;
    assert_eq!(w["time"], json!(["090100", "090200"]));
    // Candles are at the prices' own minutes too.
    let (_, c) = app
        .get(
            &key,
            "/v1/stocks/ACME/candles?from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z",
        )
        .await;
    assert_eq!(c[0]["start"], "2026-01-05T09:00:00Z");
    assert_eq!(c[0]["close"], "10.50");
    // The server's day (NOON's) has none of it.
    assert_eq!(NOON / 86_400 * 86_400, 1_795_305_600);
    let (_, none) = app
        .get(&key, "/v1/stocks/ACME/history?from=2026-11-22")
        .await;
    assert_eq!(none["time"], json!([]));
}

#[tokio::test]
async fn bad_times_and_ranges_are_clear_errors_that_change_nothing() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let (s, p) = app
        .post(
            ADMIN_KEY,
            "/v1/admin/stocks/ACME/price",
            json!({"price": "50.00", "ts": "yesterday"}),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("`ts`"), "{p}");
    let (_, v) = app.get(&key, "/v1/stocks/ACME").await;
    assert_eq!(v["last"], "100.00", "a refused price changed the market");
    for (q, words) in [
        ("from=noon", "`from`"),
        ("to=0000-01-01", "1970 to 2199"),
        ("since=2026-01-01", "since"),
    ] {
        let (s, p) = app.get(&key, &format!("/v1/stocks/ACME/history?{q}")).await;
        assert_eq!(s, 400, "{q}: {p}");
        assert!(
            p["detail"].as_str().unwrap_or_default().contains(words),
            "{q}: {p}"
        );
    }
    assert_eq!(app.get(&key, "/v1/stocks/NOPE/history").await.0, 404);
    // A range backwards is empty, not an error.
    let (s, h) = app
        .get(
            &key,
            "/v1/stocks/ACME/history?from=2026-01-05&to=2026-01-04",
        )
        .await;
    assert_eq!((s, &h["time"]), (200, &serde_json::json!([])));
}
