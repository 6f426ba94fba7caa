//! Background tasks with PostgreSQL (`DATABASE_URL`): a task killed
//! mid-import (SIGKILL) carries on after a restart where its journal left
//! it, placing every row exactly once; a paused task stays paused.

use std::time::Duration;

use serde_json::Value;

use crate::{Server, fresh_database, get_json, register, start_serve};

const ADMIN: &str = "secret-admin-key-1";

fn orders_csv(rows: usize) -> String {
    let mut csv = String::from("time,symbol,side,type,quantity,limit_price\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "2026-11-22T12:00:{:02}Z,ACME,buy,limit,1,1.00\n",
            i % 60
        ));
    }
    csv
}

async fn upload(http: &reqwest::Client, base: &str, key: &str, csv: String) -> Value {
    let form = reqwest::multipart::Form::new()
        .text("kind", "import_orders")
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()));
    let r = http
        .post(format!("{base}/v1/tasks"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn task(http: &reqwest::Client, base: &str, key: &str, id: u64) -> Value {
    get_json(http, &format!("{base}/v1/tasks/{id}"), Some(key)).await
}

/// The body of GET `url` as `key`.
async fn text(http: &reqwest::Client, url: &str, key: &str) -> String {
    http.get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Task `id` once in `state` (or as last seen after 30 s).
async fn task_in(http: &reqwest::Client, base: &str, key: &str, id: u64, state: &str) -> Value {
    let mut t = Value::Null;
    for _ in 0..3_000 {
        t = task(http, base, key, id).await;
        if t["state"] == state {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t
}

/// How many orders task `id` placed, and how many distinct rows they are.
async fn placed(url: &str, id: u64) -> (i64, i64) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let r = sqlx::query_as(
        "SELECT count(*), count(DISTINCT client_order_id) FROM orders WHERE client_order_id LIKE $1",
    )
    .bind(format!("t{id}-%"))
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    r
}

/// `serve` on the database at `url` with the admin key, the walk idle and
/// tasks of at most `step` items a step (small: a kill lands mid-task).
fn serve_tasks(url: &str, step: &str) -> (Server, String) {
    let envs = [
        ("MARKETSIM_ADMIN_KEY", ADMIN),
        ("MARKETSIM_TICK_INTERVAL_MS", "3600000"),
        ("MARKETSIM_TASK_STEP_ITEMS", step),
    ];
    let args = ["serve", "--listen", "127.0.0.1:0", "--database-url", url];
    let (child, base) = start_serve(&args, &envs);
    (Server(Some(child)), base)
}

/// SIGKILL the server and reap it.
fn kill(mut server: Server) {
    let mut child = server.0.take().unwrap();
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test]
async fn a_task_killed_mid_import_carries_on_with_no_row_twice() {
    let url = fresh_database("tasks").await;
    let (server, base) = serve_tasks(&url, "20");
    let http = reqwest::Client::new();
    let ann = register(&http, &base, "ann").await;
    let rows = 6_000;
    let id = upload(&http, &base, &ann, orders_csv(rows)).await["id"]
        .as_u64()
        .unwrap();
    // A second task, paused: it stays paused across the crash.
    let paused = upload(&http, &base, &ann, orders_csv(100)).await["id"]
        .as_u64()
        .unwrap();
    let r = http
        .post(format!("{base}/v1/tasks/{paused}/pause"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let paused_at = r.json::<Value>().await.unwrap()["paused_at"].clone();
    let mut done = 0;
    for _ in 0..2_000 {
        done = task(&http, &base, &ann, id).await["progress"]["done"]
            .as_u64()
            .unwrap();
        if done >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kill(server);
    assert!(done > 0 && done < rows as u64, "killed mid-task at {done}");
    let (before, _) = placed(&url, id).await;
    assert!(
        before < rows as i64,
        "not all placed before the kill: {before}"
    );

    let (_server, base) = serve_tasks(&url, "20");
    let t = task_in(&http, &base, &ann, id, "completed").await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["result"]["applied"], rows as u64, "{t}");
    assert_eq!(t["result"]["refused"], 0, "{t}");
    // Journaled, checkpointed: every row is one order.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(placed(&url, id).await, (rows as i64, rows as i64));
    let p = task(&http, &base, &ann, paused).await;
    assert_eq!(p["state"], "paused", "{p}");
    let orders = get_json(&http, &format!("{base}/v1/orders?limit=1"), Some(&ann)).await;
    assert_eq!(
        orders["total"].as_u64(),
        Some(rows as u64 + p["progress"]["done"].as_u64().unwrap()),
        "the user sees each order once: {orders}"
    );
    // Exports stream from the database (checkpointed: waited for above).
    let csv = text(&http, &format!("{base}/v1/export/orders.csv"), &ann).await;
    assert_eq!(
        csv.lines().count() as u64,
        1 + orders["total"].as_u64().unwrap()
    );
    let r = http
        .post(format!("{base}/v1/tasks"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"kind": "export", "what": "orders", "symbol": "ACME"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let export = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let t = task_in(&http, &base, ADMIN, export, "completed").await;
    assert_eq!(t["state"], "completed", "{t}");
    let file = text(&http, &format!("{base}/v1/tasks/{export}/file"), ADMIN).await;
    let ann_acme = csv.lines().filter(|l| l.contains(",ACME,")).count();
    let house_acme = file.lines().count() - 1 - ann_acme;
    assert_eq!(house_acme, 1, "ann's ACME orders and the house's offering");
    assert_eq!(
        p["paused_at"], paused_at,
        "its timer runs from the first pause"
    );
    let r = http
        .post(format!("{base}/v1/tasks/{paused}/resume"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p = task_in(&http, &base, &ann, paused, "completed").await;
    assert_eq!(p["result"]["applied"], 100, "{p}");
}

#[tokio::test]
async fn update_prices_of_all_carries_on_with_the_symbols_it_started_with() {
    let url = fresh_database("taskall").await;
    let (server, base) = serve_tasks(&url, "1");
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let http = http.clone();
        async move {
            let r = http
                .post(path)
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (code, t) = post(
        format!("{base}/v1/tasks"),
        serde_json::json!({"kind": "update_prices", "symbols": "all"}),
    )
    .await;
    assert_eq!(code, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    let (code, p) = post(format!("{base}/v1/tasks/{id}/pause"), Value::Null).await;
    assert_eq!(code, 200, "{p}");
    let total = p["progress"]["total"].as_u64().unwrap();
    assert!(p["progress"]["done"].as_u64().unwrap() < total, "{p}");
    // A symbol listed now sorts first: a list taken again would shift.
    let (code, _) = post(
        format!("{base}/v1/admin/stocks"),
        serde_json::json!({"symbol": "AAA", "initial_price": "10.00"}),
    )
    .await;
    assert_eq!(code, 201);
    kill(server);

    let (_server, base) = serve_tasks(&url, "1");
    let (code, r) = post(format!("{base}/v1/tasks/{id}/resume"), Value::Null).await;
    assert_eq!(code, 200, "{r}");
    let t = task_in(&http, &base, ADMIN, id, "completed").await;
    assert_eq!(t["result"]["applied"], total, "{t}");
    let stocks = get_json(&http, &format!("{base}/v1/stocks?limit=1000"), None).await;
    let source = format!("task:{id}");
    for s in stocks["items"].as_array().unwrap() {
        let sym = s["symbol"].as_str().unwrap();
        let prices = get_json(&http, &format!("{base}/v1/stocks/{sym}/prices"), None).await;
        let mine = prices["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["source"] == source.as_str())
            .count();
        assert_eq!(mine, usize::from(sym != "AAA"), "{sym}: {prices}");
    }
}
