//! Order listing, idempotency and concurrency.

use serde_json::{Value, json};

use crate::{App, NOON, order};

fn ids(v: &Value) -> Vec<u64> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_filter_returns_exactly_accepted_or_today_minus_small_denials_newest_first() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let yesterday = NOON - 86_400;
    // Fixture: (day, body, expected status).
    let fixture: Vec<(i64, Value, &str)> = vec![
        (yesterday, order("ACME", "buy", 5, "90.00"), "accepted"), // a: accepted, yesterday -> in
        (yesterday, order("ACME", "buy", 50, "90.00"), "accepted"), // b: accepted, cancelled below -> out
        (yesterday, order("ACME", "buy", 100_000, "90.00"), "denied"), // c: denied, yesterday -> out
        (yesterday, order("ACME", "buy", 3, "90.00"), "accepted"), // d: accepted, yesterday -> in
        (NOON, order("ACME", "buy", 5, "1.00"), "accepted"),       // e: today -> in
        (NOON, order("ACME", "sell", 5, "1.00"), "denied"),        // f: denied, qty 5 < 10 -> out
        (NOON, order("ACME", "sell", 12, "1.00"), "denied"),       // g: denied, qty 12 -> in
        (NOON, order("ACME", "buy", 50_000, "90.00"), "denied"),   // h: denied, big -> in
    ];
    let mut got = Vec::new();
    for (i, (day, body, want)) in fixture.iter().enumerate() {
        app.set_time(*day + i as i64);
        let (s, o) = app.post(&key, "/v1/orders", body.clone()).await;
        let o = if s == 422 { o["order"].clone() } else { o };
        assert_eq!(o["status"], *want, "fixture {i}: {o}");
        got.push(o["id"].as_u64().unwrap());
    }
    // b is cancelled today: no longer accepted, created yesterday -> out.
    let (s, _) = app.delete(&key, &format!("/v1/orders/{}", got[1])).await;
    assert_eq!(s, 200);
    app.set_time(NOON + 3_600);
    let q = "/v1/orders?status=accepted&created_from=today&combine=or&exclude_status=denied&exclude_quantity_below=10&sort=-created_at";
    let (s, list) = app.get(&key, q).await;
    assert_eq!(s, 200, "{list}");
    let want = vec![got[7], got[6], got[4], got[3], got[0]];
    assert_eq!(ids(&list), want);
    assert_eq!(list["total"], 5);
    // Pagination over the same query.
    let (_, page) = app.get(&key, &format!("{q}&limit=2&offset=2")).await;
    assert_eq!(ids(&page), want[2..4].to_vec());
    // Plain filters still combine with AND.
    let (_, list) = app
        .get(
            &key,
            "/v1/orders?status=denied&min_quantity=10&sort=created_at",
        )
        .await;
    assert_eq!(ids(&list), vec![got[2], got[6], got[7]]);
    let (_, list) = app
        .get(
            &key,
            &format!(
                "/v1/orders?created_from=2026-11-21&created_to={}",
                "2026-11-22T00:00:00Z"
            ),
        )
        .await;
    assert_eq!(list["total"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_client_order_id_returns_the_first_order() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let mut body = order("ACME", "buy", 2, "95.00");
    body["client_order_id"] = json!("my-order-1");
    let (s1, a) = app.post(&key, "/v1/orders", body.clone()).await;
    let (s2, b) = app.post(&key, "/v1/orders", body.clone()).await;
    // The retry gets the original's answer: same status, same body.
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(a, b);
    assert_eq!(b["client_order_id"], "my-order-1");
    assert_eq!(app.get(&key, "/v1/orders").await.1["total"], 1);
    let (_, acc) = app.get(&key, "/v1/account").await;
    assert_eq!(acc["reserved_cash"], "190.00", "reserved once, not twice");
    // Another user may use the same client id.
    let bob = app.user("bob").await;
    assert_eq!(app.post(&bob, "/v1/orders", body).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_duplicates_place_one_order_and_all_get_its_answer() {
    let app = std::sync::Arc::new(App::start().await);
    let key = app.user("ann").await;
    app.house_sells(900_000, "ACME", 3, 10_000).await;
    let mut body = order("ACME", "buy", 5, "101.00");
    body["client_order_id"] = json!("burst-1");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, key, body) = (app.clone(), key.clone(), body.clone());
            tokio::spawn(async move { app.post(&key, "/v1/orders", body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    // One order: it took the 3 offered and rests for 2; every duplicate got
    // exactly the first request's answer, fills included.
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, 201);
    assert_eq!(answers[0].1["filled_quantity"], 3);
    assert_eq!(answers[0].1["fills"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&key, "/v1/orders").await.1["total"], 1);
    let (_, acc) = app.get(&key, "/v1/account").await;
    // Reserved once: 5 x 101.00 = 505.00, less the 3 x 100.00 spent (the
    // price improvement stays reserved until the order ends).
    assert_eq!(acc["reserved_cash"], "205.00");
    // A denied order's retries get its 422, same body.
    let mut big = order("ACME", "buy", 1_000_000, "101.00");
    big["client_order_id"] = json!("too-big");
    let (s1, d1) = app.post(&key, "/v1/orders", big.clone()).await;
    let (s2, d2) = app.post(&key, "/v1/orders", big).await;
    assert_eq!((s1, s2), (422, 422));
    assert_eq!(d1, d2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_200_concurrent_orders_only_those_that_fit_are_accepted() {
    let app = App::start().await;
    let key = app.user("ann").await;
    // Each reserves 10 x 100.00 = 1,000.00; the account has 100,000.00.
    let sends = (0..200).map(|_| {
        let app = &app;
        let key = key.clone();
        async move {
            app.post(&key, "/v1/orders", order("ACME", "buy", 10, "100.00"))
                .await
        }
    });
    let results = futures::future::join_all(sends).await;
    let accepted = results.iter().filter(|(s, _)| *s == 201).count();
    let denied: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 422)
        .map(|(_, p)| p)
        .collect();
    assert_eq!(accepted, 100);
    assert_eq!(denied.len(), 100);
    assert!(denied.iter().all(|p| p["reason"] == "insufficient_cash"));
    let (_, acc) = app.get(&key, "/v1/account").await;
    assert_eq!(acc["reserved_cash"], "100000.00");
    assert_eq!(acc["available_cash"], "0.00");
    assert_eq!(acc["cash"], "100000.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbols_tape_lists_everyones_trades_newest_first_without_accounts() {
    let app = App::start().await;
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    app.house_sells(1, "ACME", 10, 10_000).await;
    app.house_sells(2, "ACME", 10, 10_100).await;
    let (s, o) = app
        .post(&ann, "/v1/orders", order("ACME", "buy", 3, "100.00"))
        .await;
    assert_eq!(s, 201, "{o}");
    let (s, o) = app
        .post(&bob, "/v1/orders", order("ACME", "buy", 12, "101.00"))
        .await;
    assert_eq!(s, 201, "{o}");

    // Anyone may read it (no key needed): three trades, newest first.
    let (s, tape) = app.get("", "/v1/stocks/acme/trades").await;
    assert_eq!(s, 200, "{tape}");
    let prices: Vec<(&str, u64)> = tape
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["price"].as_str().unwrap(),
                t["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(prices, [("101.00", 5), ("100.00", 7), ("100.00", 3)]);
    let ids: Vec<u64> = tape
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trade_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [3, 2, 1]);
    assert_eq!(tape[0]["taker_side"], "buy");
    assert!(tape[0].get("taker_account").is_none() && tape[0].get("maker_order").is_none());

    let (_, one) = app.get("", "/v1/stocks/ACME/trades?limit=1").await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    let (s, p) = app.get("", "/v1/stocks/ACME/trades?limit=0").await;
    assert_eq!(s, 400, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("limit"));
    let (s, _) = app.get("", "/v1/stocks/NOPE/trades").await;
    assert_eq!(s, 404);
    // A symbol without trades has an empty tape.
    let (s, empty) = app.get("", "/v1/stocks/BETA/trades").await;
    assert_eq!((s, empty), (200, serde_json::json!([])));
}
