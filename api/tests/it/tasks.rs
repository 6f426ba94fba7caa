//! Background tasks over HTTP (memory mode): every kind, pause, resume
//! and revoke with nothing lost or doubled, the pause timeout, and who may
//! see and control what.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors::facts::Fact;
use actors::ports::{FactJournal, PortError};
use serde_json::{Value, json};

use crate::{ADMIN_KEY, App};

impl App {
    /// Start an import of `csv` (`kind` import_orders or import_prices).
    pub async fn upload(
        &self,
        key: &str,
        kind: &str,
        csv: String,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = reqwest::multipart::Form::new()
            .text("kind", kind.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("rows.csv"),
            );
        for (k, v) in extra {
            form = form.text(k.to_string(), v.to_string());
        }
        let r = self
            .http
            .post(self.url("/v1/tasks"))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Wait until task `id` is in `state` (10 s at most); returns it.
    pub async fn task_in(&self, key: &str, id: u64, state: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..1_000 {
            let (code, t) = self.get(key, &format!("/v1/tasks/{id}")).await;
            assert_eq!(code, 200, "{t}");
            if t["state"] == state {
                return t;
            }
            last = t;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("task {id} never reached {state}: {last}");
    }
}

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

/// Every one of `key`'s orders placed by task `id`, by client order id.
async fn imported(app: &App, key: &str, id: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let (_, page) = app
            .get(key, &format!("/v1/orders?limit=1000&offset={offset}"))
            .await;
        let items = page["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return out;
        }
        offset += items.len();
        out.extend(
            items
                .iter()
                .filter_map(|o| o["client_order_id"].as_str())
                .filter(|c| c.starts_with(&format!("t{id}-")))
                .map(String::from),
        );
    }
}

#[tokio::test]
async fn create_shares_lists_each_share_with_its_offering() {
    let app = App::start().await;
    let (code, t) = app
        .post(
            ADMIN_KEY,
            "/v1/tasks",
            json!({"kind": "create_shares", "count": 300, "float": 500}),
        )
        .await;
    assert_eq!(code, 201, "{t}");
    assert_eq!(t["kind"], "create_shares");
    let id = t["id"].as_u64().unwrap();
    let done = app.task_in(ADMIN_KEY, id, "completed").await;
    assert_eq!(done["progress"]["done"], 300);
    assert_eq!(done["result"]["applied"], 300);
    let (_, stocks) = app.get(ADMIN_KEY, "/v1/stocks?limit=1000").await;
    assert_eq!(stocks["total"], 302, "ACME, BETA and the 300 new ones");
    let name = format!("T{id}S00300");
    let (code, s) = app.get(ADMIN_KEY, &format!("/v1/stocks/{name}")).await;
    assert_eq!(code, 200, "{s}");
    assert_eq!(
        s["available_quantity"], 500,
        "the house offers the float: {s}"
    );
    let p = s["last"].as_str().unwrap().parse::<f64>().unwrap();
    assert!((10.0..=500.0).contains(&p), "{s}");
    // A user may not change the whole market.
    let user = app.user("ann").await;
    let (code, e) = app
        .post(
            &user,
            "/v1/tasks",
            json!({"kind": "create_shares", "count": 1}),
        )
        .await;
    assert_eq!(code, 403, "{e}");
}

#[tokio::test]
async fn update_prices_sets_every_price_and_lists_it() {
    let app = App::start().await;
    let (code, t) = app
        .post(
            ADMIN_KEY,
            "/v1/tasks",
            json!({"kind": "update_prices", "prices": {"ACME": "123.45", "beta": "19.50"}}),
        )
        .await;
    assert_eq!(code, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    app.task_in(ADMIN_KEY, id, "completed").await;
    let (_, acme) = app.get(ADMIN_KEY, "/v1/stocks/ACME/prices").await;
    assert_eq!(acme["total"], 1, "{acme}");
    assert_eq!(acme["items"][0]["price"], "123.45");
    assert_eq!(acme["items"][0]["source"], format!("task:{id}"));
    // A random step for all: one more price each, within 2%.
    let (code, t) = app
        .post(
            ADMIN_KEY,
            "/v1/tasks",
            json!({"kind": "update_prices", "symbols": "all"}),
        )
        .await;
    assert_eq!(code, 201, "{t}");
    let id2 = t["id"].as_u64().unwrap();
    let done = app.task_in(ADMIN_KEY, id2, "completed").await;
    assert_eq!(done["result"]["applied"], 2);
    let (_, beta) = app.get(ADMIN_KEY, "/v1/stocks/BETA/prices").await;
    assert_eq!(beta["total"], 2);
    assert_eq!(
        beta["items"][0]["source"],
        format!("task:{id2}"),
        "newest first"
    );
    let p: f64 = beta["items"][0]["price"].as_str().unwrap().parse().unwrap();
    assert!((19.11..=19.89).contains(&p), "{beta}");
    // Unknown symbols are refused before anything starts.
    let (code, e) = app
        .post(
            ADMIN_KEY,
            "/v1/tasks",
            json!({"kind": "update_prices", "symbols": ["NOPE"]}),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("NOPE"), "{e}");
}

#[tokio::test]
async fn import_orders_places_good_rows_and_reports_bad_ones_by_line() {
    let app = App::start().await;
    let ann = app.user("ann").await;
    let csv = "time,symbol,side,type,quantity,limit_price\n\
               2026-11-22T12:00:00Z,ACME,buy,limit,2,99.00\n\
               2026-11-22T12:00:01Z,ACME,buy,limit,two,99.00\n\
               2026-11-22T12:00:02Z,NOPE,buy,limit,1,1.00\n\
               2026-11-22T12:00:03Z,BETA,buy,market,1,\n"
        .to_string();
    let (code, t) = app.upload(&ann, "import_orders", csv, &[]).await;
    assert_eq!(code, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    let done = app.task_in(&ann, id, "completed").await;
    assert_eq!(done["progress"]["total"], 3, "three rows could be read");
    assert_eq!(done["result"]["applied"], 2, "{done}");
    assert_eq!(done["result"]["refused"], 2, "{done}");
    let lines: Vec<u64> = done["result"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4], "{done}");
    let mut mine = imported(&app, &ann, id).await;
    mine.sort();
    assert_eq!(
        mine,
        [format!("t{id}-2"), format!("t{id}-4"), format!("t{id}-5")],
        "the denied order is recorded too"
    );
    // A bad header is refused at upload, naming the column.
    let (code, e) = app
        .upload(&ann, "import_orders", "time,ticker,side\n".into(), &[])
        .await;
    assert_eq!(code, 422, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("`symbol`"), "{e}");
    // A user's file has no user column.
    let (code, e) = app
        .upload(
            &ann,
            "import_orders",
            "time,user,symbol,side,type,quantity,limit_price\n".into(),
            &[],
        )
        .await;
    assert_eq!(code, 422, "{e}");
}

#[tokio::test]
async fn strict_import_stops_at_the_first_bad_row() {
    let app = App::start().await;
    let ann = app.user("ann").await;
    let csv = "time,symbol,side,type,quantity,limit_price\n\
               2026-11-22T12:00:00Z,ACME,buy,limit,1,1.00\n\
               2026-11-22T12:00:01Z,ACME,buy,limit,1,x\n\
               2026-11-22T12:00:02Z,ACME,buy,limit,1,1.00\n"
        .to_string();
    let (code, t) = app
        .upload(&ann, "import_orders", csv, &[("strict", "true")])
        .await;
    assert_eq!(code, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    let failed = app.task_in(&ann, id, "failed").await;
    assert_eq!(failed["result"]["applied"], 1);
    assert!(
        failed["result"]["detail"]
            .as_str()
            .unwrap()
            .contains("line 3"),
        "{failed}"
    );
    assert_eq!(imported(&app, &ann, id).await, [format!("t{id}-2")]);
}

#[tokio::test]
async fn an_admins_import_places_each_users_rows() {
    let app = App::start().await;
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    let csv = "time,user,symbol,side,type,quantity,limit_price\n\
               2026-11-22T12:00:00Z,ann,ACME,buy,limit,1,1.00\n\
               2026-11-22T12:00:00Z,bob,ACME,buy,limit,1,2.00\n\
               2026-11-22T12:00:00Z,bob,BETA,buy,limit,1,2.00\n\
               2026-11-22T12:00:00Z,carl,ACME,buy,limit,1,2.00\n"
        .to_string();
    let (code, t) = app.upload(ADMIN_KEY, "import_orders", csv, &[]).await;
    assert_eq!(code, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    let done = app.task_in(ADMIN_KEY, id, "completed").await;
    assert_eq!(done["result"]["applied"], 3);
    assert_eq!(done["result"]["errors"][0]["line"], 5);
    assert!(
        done["result"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("carl")
    );
    assert_eq!(imported(&app, &ann, id).await.len(), 1);
    assert_eq!(imported(&app, &bob, id).await.len(), 2);
    // Without the user column the admin has nobody to place them for.
    let (code, e) = app
        .upload(ADMIN_KEY, "import_orders", orders_csv(1), &[])
        .await;
    assert_eq!(code, 422, "{e}");
}

/// Rows of the files the control tests import.
const ROWS: usize = 2_000;

/// Tasks that take 10 rows a step, so that a test can catch one running.
fn slow() -> api::tasks::TaskSettings {
    api::tasks::TaskSettings {
        max_step: 10,
        ..Default::default()
    }
}

#[tokio::test]
async fn pause_resume_and_revoke_lose_and_double_nothing() {
    let app = App::start_tasks(slow()).await;
    let ann = app.user("ann").await;
    let rows = ROWS;
    let (code, t) = app
        .upload(&ann, "import_orders", orders_csv(rows), &[])
        .await;
    assert_eq!(code, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    // Paused at once: it stops at the end of its first step, if it began.
    let (code, paused) = app
        .post(&ann, &format!("/v1/tasks/{id}/pause"), json!({}))
        .await;
    assert_eq!(code, 200, "{paused}");
    assert_eq!(paused["state"], "paused");
    let at_pause = paused["progress"]["done"].as_u64().unwrap();
    assert!(at_pause < rows as u64, "paused before the end: {paused}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = app.task_in(&ann, id, "paused").await;
    assert_eq!(
        still["progress"]["done"], at_pause,
        "nothing moves while paused"
    );
    assert_eq!(imported(&app, &ann, id).await.len() as u64, at_pause);
    // Pausing twice is a conflict, with the reason.
    let (code, e) = app
        .post(&ann, &format!("/v1/tasks/{id}/pause"), json!({}))
        .await;
    assert_eq!(code, 409, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("paused"), "{e}");
    let (code, r) = app
        .post(&ann, &format!("/v1/tasks/{id}/resume"), json!({}))
        .await;
    assert_eq!(code, 200, "{r}");
    app.task_in(&ann, id, "running").await;
    let (code, r) = app
        .post(&ann, &format!("/v1/tasks/{id}/pause"), json!({}))
        .await;
    assert_eq!(code, 200, "{r}");
    let second = r["progress"]["done"].as_u64().unwrap();
    assert!(second > at_pause && second < rows as u64, "{r}");
    assert!(second - at_pause >= 10, "it ran between the pauses: {r}");
    let (code, revoked) = app
        .post(&ann, &format!("/v1/tasks/{id}/revoke"), json!({}))
        .await;
    assert_eq!(code, 200, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(revoked["progress"]["done"], second);
    assert!(
        revoked["result"]["detail"]
            .as_str()
            .unwrap()
            .contains(&second.to_string())
    );
    let mut placed = imported(&app, &ann, id).await;
    assert_eq!(placed.len() as u64, second, "each row done is placed once");
    placed.sort();
    placed.dedup();
    assert_eq!(placed.len() as u64, second, "no row twice");
    // A finished task cannot be controlled.
    for verb in ["pause", "resume", "revoke"] {
        let (code, e) = app
            .post(&ann, &format!("/v1/tasks/{id}/{verb}"), json!({}))
            .await;
        assert_eq!(code, 409, "{verb}: {e}");
    }
    // The same file again, left to run: every row placed once.
    let (_, t) = app
        .upload(&ann, "import_orders", orders_csv(rows), &[])
        .await;
    let id = t["id"].as_u64().unwrap();
    app.post(&ann, &format!("/v1/tasks/{id}/pause"), json!({}))
        .await;
    app.post(&ann, &format!("/v1/tasks/{id}/resume"), json!({}))
        .await;
    let done = app.task_in(&ann, id, "completed").await;
    assert_eq!(done["result"]["applied"], rows);
    let mut placed = imported(&app, &ann, id).await;
    placed.sort();
    placed.dedup();
    assert_eq!(placed.len(), rows);
}

#[tokio::test]
async fn a_task_paused_too_long_is_revoked_by_itself() {
    let app = App::start_tasks(api::tasks::TaskSettings {
        pause_timeout: Duration::from_millis(300),
        ..slow()
    })
    .await;
    let ann = app.user("ann").await;
    let (_, t) = app
        .upload(&ann, "import_orders", orders_csv(ROWS), &[])
        .await;
    let id = t["id"].as_u64().unwrap();
    let (code, p) = app
        .post(&ann, &format!("/v1/tasks/{id}/pause"), json!({}))
        .await;
    let (_, now) = app.get(&ann, &format!("/v1/tasks/{id}")).await;
    assert_eq!(code, 200, "{p} {now}");
    let revoked = app.task_in(&ann, id, "revoked").await;
    assert!(
        revoked["result"]["detail"]
            .as_str()
            .unwrap()
            .contains("paused longer"),
        "{revoked}"
    );
    // A resume in time keeps it: the old timer does not fire.
    let (_, t) = app
        .upload(&ann, "import_orders", orders_csv(ROWS), &[])
        .await;
    let id = t["id"].as_u64().unwrap();
    app.post(&ann, &format!("/v1/tasks/{id}/pause"), json!({}))
        .await;
    app.post(&ann, &format!("/v1/tasks/{id}/resume"), json!({}))
        .await;
    app.task_in(&ann, id, "completed").await;
}

#[tokio::test]
async fn tasks_are_their_owners_and_the_admins_only() {
    let app = App::start().await;
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    let (_, t) = app.upload(&ann, "import_orders", orders_csv(10), &[]).await;
    let id = t["id"].as_u64().unwrap();
    app.task_in(&ann, id, "completed").await;
    let (code, e) = app.get(&bob, &format!("/v1/tasks/{id}")).await;
    assert_eq!(code, 404, "{e}");
    let (code, _) = app
        .post(&bob, &format!("/v1/tasks/{id}/revoke"), json!({}))
        .await;
    assert_eq!(code, 404);
    let (_, list) = app.get(&bob, "/v1/tasks").await;
    assert_eq!(list["total"], 0);
    let (code, t) = app.get(ADMIN_KEY, &format!("/v1/tasks/{id}")).await;
    assert_eq!(code, 200);
    assert!(t["owner"].is_u64());
    let (code, _) = app.get(&ann, "/v1/tasks/999999").await;
    assert_eq!(code, 404);
    let (_, list) = app
        .get(&ann, "/v1/tasks?state=completed&kind=import_orders")
        .await;
    assert_eq!(list["total"], 1);
    let (_, list) = app.get(&ann, "/v1/tasks?state=running").await;
    assert_eq!(list["total"], 0);
    let (code, _) = app.get(&ann, "/v1/tasks?state=sleeping").await;
    assert_eq!(code, 400);
    let (code, _) = app.get("nobody", "/v1/tasks").await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn import_prices_lists_new_symbols_and_sets_each_price_at_its_time() {
    let app = App::start().await;
    let csv =
        "Time,Stock,Price\n090000,acme,101\n090100,NEWCO,5.5\nbad,ACME,1\n090200,ACME,102.25\n"
            .to_string();
    let (code, t) = app
        .upload(ADMIN_KEY, "import_prices", csv, &[("date", "2026-11-20")])
        .await;
    assert_eq!(code, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    let done = app.task_in(ADMIN_KEY, id, "completed").await;
    assert_eq!(done["result"]["applied"], 3, "{done}");
    assert_eq!(done["result"]["errors"][0]["line"], 4);
    let (_, acme) = app.get(ADMIN_KEY, "/v1/stocks/ACME/prices").await;
    assert_eq!(acme["total"], 2);
    assert_eq!(acme["items"][0]["price"], "102.25");
    assert_eq!(acme["items"][0]["timestamp"], "2026-11-20T09:02:00Z");
    let (code, newco) = app.get(ADMIN_KEY, "/v1/stocks/NEWCO").await;
    assert_eq!(code, 200, "{newco}");
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413_and_starts_nothing() {
    let app = App::start_tasks(api::tasks::TaskSettings {
        upload_limit: 4_096,
        ..Default::default()
    })
    .await;
    let ann = app.user("ann").await;
    let (code, e) = app
        .upload(&ann, "import_orders", orders_csv(1_000), &[])
        .await;
    assert_eq!(code, 413, "{e}");
    let (_, list) = app.get(&ann, "/v1/tasks").await;
    assert_eq!(list["total"], 0);
    // An import sent as JSON is told to send its file.
    let (code, e) = app
        .post(&ann, "/v1/tasks", json!({"kind": "import_orders"}))
        .await;
    assert_eq!(code, 415, "{e}");
    let (code, e) = app
        .post(&ann, "/v1/tasks", json!({"kind": "bake_bread"}))
        .await;
    assert_eq!(code, 422, "{e}");
}

#[tokio::test]
async fn exports_stream_the_callers_rows_directly_and_as_a_task_file() {
    let app = App::start().await;
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    let (_, t) = app.upload(&ann, "import_orders", orders_csv(50), &[]).await;
    let id = t["id"].as_u64().unwrap();
    app.task_in(&ann, id, "completed").await;
    app.house_sells(1, "BETA", 10, 2_000).await;
    let (code, o) = app
        .post(
            &bob,
            "/v1/orders",
            json!({"symbol": "BETA", "side": "buy", "type": "market", "quantity": 3}),
        )
        .await;
    assert_eq!(code, 201, "{o}");

    let (code, csv) = app.text(&ann, "/v1/export/orders.csv").await;
    assert_eq!(code, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("id,time,user,symbol,side,type"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 51, "ann's 50 orders, bob's none");
    assert!(
        lines[1].contains(",ACME,buy,limit,gtc,1,1.00,accepted,0,1,,"),
        "{}",
        lines[1]
    );
    // A range that holds none of them, and one symbol only.
    let (_, csv) = app.text(&ann, "/v1/export/orders.csv?to=2026-11-21").await;
    assert_eq!(csv.lines().count(), 1, "the header only");
    let (_, csv) = app.text(&ann, "/v1/export/orders.csv?symbol=BETA").await;
    assert_eq!(csv.lines().count(), 1);
    let (code, _) = app.text(&ann, "/v1/export/orders.csv?from=yesterday").await;
    assert_eq!(code, 400);

    let (_, csv) = app.text(&bob, "/v1/export/trades.csv").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains(",BETA,20.00,3,buy,,,"),
        "bob took: {}",
        lines[1]
    );

    // The same as a task: a file to download once completed.
    let (code, t) = app
        .post(
            &ann,
            "/v1/tasks",
            json!({"kind": "export", "what": "orders", "from": "2026-11-22"}),
        )
        .await;
    assert_eq!(code, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    let done = app.task_in(&ann, id, "completed").await;
    assert_eq!(done["progress"]["total"], 50, "{done}");
    let (code, file) = app.text(&ann, &format!("/v1/tasks/{id}/file")).await;
    assert_eq!(code, 200);
    let (_, direct) = app.text(&ann, "/v1/export/orders.csv").await;
    assert_eq!(file, direct);
    let (code, _) = app.text(&bob, &format!("/v1/tasks/{id}/file")).await;
    assert_eq!(code, 404, "another user's export");
    // The admin exports everyone's.
    let (_, t) = app
        .post(
            ADMIN_KEY,
            "/v1/tasks",
            json!({"kind": "export", "what": "orders"}),
        )
        .await;
    let id = t["id"].as_u64().unwrap();
    let done = app.task_in(ADMIN_KEY, id, "completed").await;
    assert_eq!(done["progress"]["total"], 51);
    let (code, e) = app
        .post(
            ADMIN_KEY,
            "/v1/tasks",
            json!({"kind": "export", "what": "gold"}),
        )
        .await;
    assert_eq!(code, 422, "{e}");
}

#[tokio::test]
async fn task_progress_streams_to_its_owner_and_counts_in_metrics() {
    use futures::StreamExt;
    let app = App::start().await;
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    let open = |key: String| {
        let (http, url) = (app.http.clone(), app.url("/v1/stream"));
        async move {
            http.get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .bytes_stream()
        }
    };
    let mut mine = open(ann.clone()).await;
    let mut theirs = open(bob.clone()).await;
    let (_, t) = app.upload(&ann, "import_orders", orders_csv(30), &[]).await;
    let id = t["id"].as_u64().unwrap();
    app.task_in(&ann, id, "completed").await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !text.contains("\"state\":\"completed\"") {
        let chunk = tokio::time::timeout_at(deadline, mine.next())
            .await
            .expect("no task event in time")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: task"), "{text}");
    assert!(text.contains(&format!("\"id\":{id}")), "{text}");
    assert!(text.contains("\"done\":30"), "{text}");
    // Bob hears nothing of Ann's task (a quiet second: no events at all).
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            let chunk = theirs.next().await.unwrap().unwrap();
            if String::from_utf8_lossy(&chunk).contains("event: task") {
                return;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "another user's task was streamed to bob");
    let metrics = app.text(&ann, "/metrics").await.1;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("marketsim_task_items_total{kind=\"import_orders\"}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("marketsim_tasks{state=\"completed\"}"),
        "{metrics}"
    );
}

/// A journal on a slow database: each append is durable 60 ms after it
/// was made (more than a step's 40 ms of work); counts the task progress
/// each step journals.
#[derive(Debug, Default)]
struct SlowJournal {
    appended: Mutex<Vec<Instant>>,
    task_facts: AtomicU64,
}

const SLOW_WRITE: Duration = Duration::from_millis(60);

#[async_trait::async_trait]
impl FactJournal for SlowJournal {
    fn append(&self, facts: Vec<Fact>) -> u64 {
        let tasks = facts.iter().filter(|f| matches!(f, Fact::Task(_))).count();
        self.task_facts.fetch_add(tasks as u64, Ordering::SeqCst);
        let mut a = self.appended.lock().unwrap();
        a.push(Instant::now());
        a.len() as u64
    }
    async fn durable(&self, ticket: u64, _timeout: Duration) -> Result<(), PortError> {
        let at = self.appended.lock().unwrap()[ticket as usize - 1];
        tokio::time::sleep_until((at + SLOW_WRITE).into()).await;
        Ok(())
    }
    fn healthy(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_keep_large_steps_on_a_database_slower_than_a_step() {
    // A step's time used to count its wait for the journal, so on a
    // database slower than 40 ms a write every task shrank to 16 items a
    // step: an export of a million rows ran at a few hundred rows a second.
    let journal = Arc::new(SlowJournal::default());
    let app = App::start_with(journal.clone()).await;
    let ann = app.user("ann").await;
    const N: usize = 4_000;
    let (s, t) = app.upload(&ann, "import_orders", orders_csv(N), &[]).await;
    assert_eq!(s, 201, "{t}");
    let import = app
        .task_in(&ann, t["id"].as_u64().unwrap(), "completed")
        .await;
    assert_eq!(import["result"]["applied"], N as u64);
    let import_facts = journal.task_facts.load(Ordering::SeqCst);
    let (s, t) = app
        .post(
            &ann,
            "/v1/tasks",
            json!({"kind": "export", "what": "orders"}),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let export = app
        .task_in(&ann, t["id"].as_u64().unwrap(), "completed")
        .await;
    assert_eq!(export["progress"]["done"], N as u64);
    let export_facts = journal.task_facts.load(Ordering::SeqCst) - import_facts;
    // Steps of at most 16 items would journal N / 16 = 250 progress facts
    // each; steps that grow to thousands of items, a handful.
    assert!(import_facts < 40, "the import took {import_facts} steps");
    assert!(export_facts < 40, "the export took {export_facts} steps");
}
