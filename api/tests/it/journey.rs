//! The whole user journey, and who may see what.

use serde_json::json;

use crate::{ADMIN_KEY, App, order};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_buy_sell_portfolio_filter_and_cancel() {
    let app = App::start().await;
    let key = app.user("ann").await;
    let (s, acc) = app.get(&key, "/v1/account").await;
    assert_eq!(s, 200);
    assert_eq!(acc["cash"], "100000.00");

    // Buy 10 ACME against the house's offer at 100.00.
    app.house_sells(1, "ACME", 10, 10_000).await;
    let (s, o) = app
        .post(&key, "/v1/orders", order("ACME", "buy", 10, "101.00"))
        .await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["status"], "filled");
    assert_eq!(o["fills"][0]["price"], "100.00");
    assert_eq!(o["average_price"], "100.00");
    let (_, acc) = app.get(&key, "/v1/account").await;
    assert_eq!(acc["cash"], "99000.00");
    assert_eq!(acc["reserved_cash"], "0.00");

    // Sell 4 into a resting bid from a second user.
    let bob = app.user("bob").await;
    let (s, _) = app
        .post(&bob, "/v1/orders", order("ACME", "buy", 4, "110.00"))
        .await;
    assert_eq!(s, 201);
    let (s, o) = app
        .post(
            &key,
            "/v1/orders",
            json!({"symbol": "ACME", "side": "sell", "type": "market", "quantity": 4}),
        )
        .await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["status"], "filled");
    assert_eq!(o["fills"][0]["price"], "110.00");

    // Portfolio: 6 shares, average cost 100.00, marked at the last trade (110.00).
    let (s, p) = app.get(&key, "/v1/portfolio").await;
    assert_eq!(s, 200);
    let h = &p["holdings"][0];
    assert_eq!(
        (h["symbol"].as_str(), h["quantity"].as_u64()),
        (Some("ACME"), Some(6))
    );
    assert_eq!(h["average_cost"], "100.00");
    assert_eq!(h["invested"], "600.00");
    assert_eq!(h["current_value"], "660.00");
    assert_eq!(h["unrealized_pnl"], "60.00");
    assert_eq!(h["unrealized_pnl_pct"], "10.00");
    assert_eq!(h["result"], "gain");

    // A resting order, the filter, then cancel.
    let (s, rest) = app
        .post(&key, "/v1/orders", order("BETA", "buy", 20, "15.00"))
        .await;
    assert_eq!(s, 201);
    assert_eq!(rest["status"], "accepted");
    let (_, acc) = app.get(&key, "/v1/account").await;
    assert_eq!(acc["reserved_cash"], "300.00");
    let (s, list) = app.get(&key, "/v1/orders?status=accepted").await;
    assert_eq!(s, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], rest["id"]);
    let (s, list) = app.get(&key, "/v1/orders?symbol=ACME&side=buy").await;
    assert_eq!((s, list["total"].as_u64()), (200, Some(1)));
    let id = rest["id"].as_u64().unwrap();
    let (s, c) = app.delete(&key, &format!("/v1/orders/{id}")).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["status"], "cancelled");
    let (_, acc) = app.get(&key, "/v1/account").await;
    assert_eq!(
        acc["reserved_cash"], "0.00",
        "cancel must release the reservation"
    );
    let (s, _) = app.delete(&key, &format!("/v1/orders/{id}")).await;
    assert_eq!(s, 409, "cancelling twice is a conflict");

    let (s, fills) = app.get(&key, "/v1/trades").await;
    assert_eq!((s, fills["total"].as_u64()), (200, Some(2)));
    assert_eq!(fills["items"][0]["side"], "sell", "newest first");
    let _ = ADMIN_KEY;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_decide_who_sees_what() {
    let app = App::start().await;
    let a = app.user("a").await;
    let b = app.user("b").await;
    // No key, or a wrong one: 401.
    let r = app.http.get(app.url("/v1/account")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let (s, _) = app.get("msk_wrong", "/v1/orders").await;
    assert_eq!(s, 401);
    // B cannot see or cancel A's order: 404, as if it did not exist.
    let (_, o) = app
        .post(&a, "/v1/orders", order("ACME", "buy", 1, "90.00"))
        .await;
    let id = o["id"].as_u64().unwrap();
    assert_eq!(app.get(&b, &format!("/v1/orders/{id}")).await.0, 404);
    assert_eq!(app.delete(&b, &format!("/v1/orders/{id}")).await.0, 404);
    assert_eq!(
        app.get(&a, &format!("/v1/orders/{id}")).await.1["status"],
        "accepted"
    );
    assert_eq!(app.get(&b, "/v1/orders").await.1["total"], 0);
    // A user on admin routes: 403; the admin: allowed.
    let (s, _) = app
        .post(&a, "/v1/admin/stocks/ACME/price", json!({"price": "50.00"}))
        .await;
    assert_eq!(s, 403);
    let (s, st) = app
        .post(
            ADMIN_KEY,
            "/v1/admin/stocks/ACME/price",
            json!({"price": "50.00"}),
        )
        .await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["last"], "50.00");
    let (s, _) = app
        .post(
            &a,
            "/v1/admin/stocks",
            json!({"symbol": "NEWCO", "initial_price": "10.00", "float": 1000}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, n) = app
        .post(
            ADMIN_KEY,
            "/v1/admin/stocks",
            json!({"symbol": "NEWCO", "initial_price": "10.00", "float": 1000}),
        )
        .await;
    assert_eq!(s, 201, "{n}");
    assert_eq!(app.get(&a, "/v1/stocks/NEWCO").await.0, 200);
    let (s, _) = app
        .post(
            ADMIN_KEY,
            "/v1/admin/stocks",
            json!({"symbol": "NEWCO", "initial_price": "10.00", "float": 1000}),
        )
        .await;
    assert_eq!(s, 409);
}
