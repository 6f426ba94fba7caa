//! Abuse bounds of `serve`: slow clients are cut off, event streams are
//! capped, orders and registrations are rate limited, users are capped.

use std::time::{Duration, Instant};

use marketsim::settings::Overrides;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A 1-share buy at 1.00 (rests far below the market).
async fn small_bid(http: &reqwest::Client, base: &str, key: &str) -> reqwest::Response {
    http.post(format!("{base}/v1/orders"))
        .bearer_auth(key)
        .json(&json!({"symbol": "ACME", "side": "buy", "type": "limit", "quantity": 1, "limit_price": "1.00"}))
        .send()
        .await
        .unwrap()
}

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Read until the server closes the connection (or `within` passes).
async fn read_until_closed(s: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).to_string()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_request_is_cut_off() {
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_HEADER_TIMEOUT_MS", "500"),
            ("MARKETSIM_REQUEST_TIMEOUT_MS", "800"),
        ],
        Overrides::default(),
    )
    .await;
    // Headers a byte at a time: the connection is closed without an answer.
    let mut s = tokio::net::TcpStream::connect(addr(&app.base))
        .await
        .unwrap();
    let started = Instant::now();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for b in b"X-Slow: abcdefghijklmnopqrstuvwxyz"
            .iter()
            .cycle()
            .take(100)
        {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle).await;
    let rest = read_until_closed(&mut s, Duration::from_secs(2)).await;
    assert!(rest.is_some(), "the connection stayed open");
    assert!(
        !rest.unwrap().contains("200 OK"),
        "a trickled request was answered"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A body a byte at a time: 408 with a problem body.
    let mut s = tokio::net::TcpStream::connect(addr(&app.base))
        .await
        .unwrap();
    s.write_all(
        b"POST /v1/users HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 60\r\n\r\n{\"na",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(4) {
        let _ = s.write_all(b" ").await;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            answer.push_str(&String::from_utf8_lossy(&buf[..n]));
            if answer.contains("}") {
                break;
            }
        }
    }
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("application/problem+json") && answer.contains("request_timeout"),
        "{answer}"
    );
    // Everyone else is served as usual.
    let http = reqwest::Client::new();
    let h = http
        .get(format!("{}/health", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_capped_per_key_and_in_total() {
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_STREAMS_PER_KEY", "2"),
            ("MARKETSIM_MAX_STREAMS", "3"),
        ],
        Overrides::default(),
    )
    .await;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
    let (ann, bob) = (
        crate::register(&http, &base, "ann").await,
        crate::register(&http, &base, "bob").await,
    );
    let open = |key: &str| {
        http.get(format!("{base}/v1/stream"))
            .bearer_auth(key.to_string())
            .send()
    };
    let a1 = open(&ann).await.unwrap();
    let a2 = open(&ann).await.unwrap();
    assert_eq!((a1.status().as_u16(), a2.status().as_u16()), (200, 200));
    let a3 = open(&ann).await.unwrap();
    assert_eq!(a3.status(), 429, "a third stream for one key");
    assert!(a3.headers().contains_key("retry-after"));
    let p: Value = a3.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("streams"), "{p}");
    let b1 = open(&bob).await.unwrap();
    assert_eq!(b1.status(), 200);
    assert_eq!(
        open(&bob).await.unwrap().status(),
        429,
        "a fourth stream in all"
    );
    // A closed stream gives its slot back.
    drop(a1);
    let start = Instant::now();
    loop {
        let r = open(&bob).await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the slot was never given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop((a2, b1));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_registrations_are_rate_limited() {
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_ORDERS_PER_SECOND_PER_KEY", "5"),
            ("MARKETSIM_REGISTRATIONS_PER_MINUTE_PER_ADDRESS", "3"),
        ],
        Overrides::default(),
    )
    .await;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
    let key = crate::register(&http, &base, "ann").await;
    crate::register(&http, &base, "bob").await;
    crate::register(&http, &base, "cy").await;
    let r = http
        .post(format!("{base}/v1/users"))
        .json(&json!({"name": "dee"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "a fourth registration within the minute");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    let mut placed = 0;
    let mut limited = 0;
    for _ in 0..12 {
        let r = small_bid(&http, &base, &key).await;
        match r.status().as_u16() {
            201 => placed += 1,
            429 => {
                assert!(r.headers().contains_key("retry-after"));
                limited += 1;
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert!(
        limited > 0 && placed >= 5,
        "placed {placed}, limited {limited}"
    );
    // Nothing refused was placed.
    let mine = crate::get_json(&http, &format!("{base}/v1/orders"), Some(&key)).await;
    assert_eq!(mine["total"], placed);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_closes_at_the_user_cap() {
    let app = crate::spawn_app(&[("MARKETSIM_MAX_USERS", "2")], Overrides::default()).await;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
    crate::register(&http, &base, "ann").await;
    crate::register(&http, &base, "bob").await;
    let r = http
        .post(format!("{base}/v1/users"))
        .json(&json!({"name": "cy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("registration is closed"),
        "{p}"
    );
    let h = crate::get_json(&http, &format!("{base}/health"), None).await;
    assert_eq!(h["users"], 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_from_one_address_are_limited_across_keys() {
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_ORDERS_PER_SECOND_PER_KEY", "0"),
            ("MARKETSIM_ORDERS_PER_SECOND_PER_ADDRESS", "6"),
        ],
        Overrides::default(),
    )
    .await;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
    let keys = [
        crate::register(&http, &base, "ann").await,
        crate::register(&http, &base, "bob").await,
        crate::register(&http, &base, "cy").await,
    ];
    let mut statuses = Vec::new();
    for i in 0..15 {
        let r = small_bid(&http, &base, &keys[i % 3]).await;
        statuses.push(r.status().as_u16());
    }
    // No key is limited, but the address is.
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 201).count() >= 6,
        "{statuses:?}"
    );
    app.stop().await;
}
