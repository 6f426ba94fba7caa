//! Market time: a price file shaped like the price updater seed's becomes
//! the same exact minute history per stock in Redis whichever way it goes
//! (straight to Redis, through a running market's admin API, through a real
//! Kafka-protocol broker to `marketsim history` or to `serve`); prices carry
//! the file's time; a replayed symbol is off the random walk.
//!
//! The expected history is computed here from the rule (the last price in
//! each minute, carried forward over minutes without one), never pasted.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use marketsim::settings::Overrides;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::tansu::Tansu;

const DATE: &str = "2026-01-05";

/// One row: seconds since midnight, symbol as written, price in cents.
type Row = (i64, String, i64);

/// A file like the seed's: header `Time,Stock,Price`, symbols written
/// `stock1`.., times 090006..095947, several prices in some minutes and
/// none in others (gaps of up to three minutes), `stock3` starting at
/// 09:30, prices written both as integers and with decimals.
fn seed_file(seed: u64) -> (String, Vec<Row>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<Row> = Vec::new();
    let mut last: BTreeMap<&str, i64> = [("stock1", 1_000), ("stock2", 5_000), ("stock3", 2_500)]
        .into_iter()
        .collect();
    let mut t = 9 * 3600 + 6;
    while t <= 9 * 3600 + 59 * 60 + 47 {
        let names: Vec<&str> = if t < 9 * 3600 + 30 * 60 {
            vec!["stock1", "stock2"]
        } else {
            vec!["stock1", "stock2", "stock3"]
        };
        let name = names[rng.random_range(0..names.len())];
        let p = last.get_mut(name).unwrap();
        *p = (*p + rng.random_range(-40..=40)).max(100);
        rows.push((t, name.to_string(), *p));
        // Mostly a few seconds apart; sometimes minutes of silence.
        t += if rng.random_bool(0.08) {
            rng.random_range(90..200)
        } else {
            rng.random_range(3..25)
        };
    }
    // The last row at 09:59:47 exactly.
    rows.push((9 * 3600 + 59 * 60 + 47, "stock2".into(), 5_123));
    let mut text = String::from("Time,Stock,Price\n");
    for (t, s, c) in &rows {
        let price = if c % 100 == 0 {
            format!("{}", c / 100)
        } else {
            format!("{}.{:02}", c / 100, c % 100)
        };
        text.push_str(&format!(
            "{:02}{:02}{:02},{s},{price}\n",
            t / 3600,
            t % 3600 / 60,
            t % 60
        ));
    }
    (text, rows)
}

/// The history the rule gives: per upper-cased symbol, `(times, prices)`.
fn expected(rows: &[Row]) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut per: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
    for (t, s, c) in rows {
        // A later row in the same minute replaces an earlier one.
        per.entry(s.to_uppercase()).or_default().insert(t / 60, *c);
    }
    per.into_iter()
        .map(|(s, minutes)| {
            let (first, last) = (
                *minutes.keys().next().unwrap(),
                *minutes.keys().last().unwrap(),
            );
            let mut times = Vec::new();
            let mut prices = Vec::new();
            let mut price = 0;
            for m in first..=last {
                if let Some(c) = minutes.get(&m) {
                    price = *c;
                }
                times.push(format!("{:02}{:02}00", m / 60, m % 60));
                prices.push(format!("{}.{:02}", price / 100, price % 100));
            }
            (s, (times, prices))
        })
        .collect()
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn prefix(test: &str) -> String {
    format!("marketsim-test:{test}:{}", std::process::id())
}

/// Every symbol's stored history document under `prefix`, for `DATE`.
async fn stored(prefix: &str, symbols: &[String]) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut out = BTreeMap::new();
    for s in symbols {
        let doc: Option<String> = redis::cmd("GET")
            .arg(format!("{prefix}:history:{s}:{DATE}"))
            .query_async(&mut c)
            .await
            .unwrap();
        let Some(doc) = doc else { continue };
        let v: Value = serde_json::from_str(&doc).unwrap();
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect()
        };
        out.insert(s.clone(), (strings("time"), strings("price")));
    }
    out
}

/// Wait until Redis under `prefix` holds `want` (a market writes behind).
async fn wait_for_history(prefix: &str, want: &BTreeMap<String, (Vec<String>, Vec<String>)>) {
    let symbols: Vec<String> = want.keys().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = stored(prefix, &symbols).await;
        if &got == want {
            return;
        }
        if Instant::now() > deadline {
            for s in &symbols {
                assert_eq!(got.get(s), want.get(s), "history of {s} under {prefix}");
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Run the binary off the runtime's threads (a server may run in-process).
async fn marketsim(args: Vec<String>, env: Vec<(&'static str, String)>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_marketsim"))
            .args(&args)
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    err
}

/// `marketsim replay FILE --redis-url ... --redis-prefix PREFIX --date DATE`.
async fn replay_to_redis(file: &str, prefix: &str) -> std::process::Output {
    marketsim(
        strs(&[
            "replay",
            file,
            "--redis-url",
            &redis_url(),
            "--redis-prefix",
            prefix,
            "--date",
            DATE,
        ]),
        vec![],
    )
    .await
}

fn write_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.csv");
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap().to_string();
    (dir, p)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_file_goes_straight_to_redis_as_the_exact_minute_history() {
    let (text, rows) = seed_file(1);
    let want = expected(&rows);
    assert_eq!(want.len(), 3);
    assert_eq!(want["STOCK1"].0.first().map(String::as_str), Some("090000"));
    assert_eq!(want["STOCK2"].0.last().map(String::as_str), Some("095900"));
    assert!(
        want["STOCK3"].0[0].as_str() >= "093000",
        "stock3 starts mid-hour"
    );
    let (_dir, file) = write_file(&text);
    let p = prefix("direct");
    let out = replay_to_redis(&file, &p).await;
    let err = ok(&out);
    assert!(
        err.contains(&format!("replayed {} ticks", rows.len())),
        "{err}"
    );
    let symbols: Vec<String> = want.keys().cloned().collect();
    assert_eq!(stored(&p, &symbols).await, want);
    // `history:SYMBOL` (the seed's key) is the latest day's document.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let doc: String = redis::cmd("GET")
        .arg(format!("{p}:history:STOCK1"))
        .query_async(&mut c)
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["time"].as_array().unwrap().len(), want["STOCK1"].0.len());
    // Replaying again replaces the day rather than refusing it.
    ok(&replay_to_redis(&file, &p).await);
    assert_eq!(stored(&p, &symbols).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_file_through_a_running_market_gives_the_same_history_and_stays_off_the_walk() {
    let (text, rows) = seed_file(1);
    let want = expected(&rows);
    let p = prefix("url");
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_ADMIN_KEY", "secret-admin-key-1"),
            ("MARKETSIM_REDIS_PREFIX", &p),
            // The walk moves every listed symbol often.
            ("MARKETSIM_TICK_INTERVAL_MS", "20"),
        ],
        Overrides {
            redis_url: Some(redis_url()),
            ..Overrides::default()
        },
    )
    .await;
    let base = app.base.clone();
    let (_dir, file) = write_file(&text);
    let out = marketsim(
        strs(&["replay", &file, "--url", &base, "--date", DATE]),
        vec![("MARKETSIM_ADMIN_KEY", "secret-admin-key-1".into())],
    )
    .await;
    ok(&out);
    wait_for_history(&p, &want).await;

    let http = reqwest::Client::new();
    // Unknown symbols were listed at first sight; the walk leaves them
    // alone: after many walk intervals the last price is still the file's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last_of = |s: &str| {
        rows.iter()
            .rfind(|r| r.1.eq_ignore_ascii_case(s))
            .map(|r| format!("{}.{:02}", r.2 / 100, r.2 % 100))
            .unwrap()
    };
    for s in ["stock1", "Stock2", "STOCK3"] {
        let v = crate::get_json(&http, &format!("{base}/v1/stocks/{s}"), None).await;
        assert_eq!(v["symbol"], s.to_uppercase());
        assert_eq!(v["last"].as_str(), Some(last_of(s).as_str()), "{s}: {v}");
        // Its time is the file's, not the server's.
        assert_eq!(v["timestamp"].as_str().map(|t| &t[..10]), Some(DATE), "{v}");
    }
    // The API's history (from Redis) is the same, in the seed's shape.
    let h = crate::get_json(&http, &format!("{base}/v1/stocks/stock3/history"), None).await;
    let strings = |k: &str| -> Vec<String> {
        h[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!((strings("time"), strings("price")), want["STOCK3"]);
    assert!(strings("date").iter().all(|d| d == DATE));
    // A window of it, by time.
    let w = crate::get_json(
        &http,
        &format!("{base}/v1/stocks/STOCK1/history?from={DATE}T09:10:00Z&to={DATE}T09:12:59Z"),
        None,
    )
    .await;
    assert_eq!(w["time"], serde_json::json!(["091000", "091100", "091200"]));
    assert_eq!(w["price"][2].as_str(), Some(want["STOCK1"].1[12].as_str()));
    // --no-auto-list refuses a symbol the market does not list.
    let (_d2, other) = write_file("Time,Stock,Price\n090000,newco,10\n");
    let refused = marketsim(
        strs(&[
            "replay",
            &other,
            "--url",
            &base,
            "--no-auto-list",
            "--date",
            DATE,
        ]),
        vec![("MARKETSIM_ADMIN_KEY", "secret-admin-key-1".into())],
    )
    .await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("404"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_file_through_a_real_broker_gives_the_same_history_to_history_and_serve() {
    let broker = Tansu::start();
    let (text, rows) = seed_file(1);
    let want = expected(&rows);
    let (_dir, file) = write_file(&text);
    ok(&marketsim(
        strs(&[
            "replay",
            &file,
            "--brokers",
            &broker.brokers,
            "--topic",
            "prices",
            "--date",
            DATE,
        ]),
        vec![],
    )
    .await);

    // The standalone consumer.
    let p = prefix("history");
    let out = marketsim(
        strs(&[
            "history",
            "--brokers",
            &broker.brokers,
            "--topic",
            "prices",
            "--redis-url",
            &redis_url(),
            "--redis-prefix",
            &p,
            "--idle-exit-ms",
            "4000",
        ]),
        vec![],
    )
    .await;
    let err = ok(&out);
    assert!(
        err.contains(&format!("wrote {} ticks", rows.len())),
        "{err}"
    );
    let symbols: Vec<String> = want.keys().cloned().collect();
    assert_eq!(stored(&p, &symbols).await, want);

    // A live market consuming the same topic.
    let p = prefix("serve-kafka");
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_REDIS_PREFIX", &p),
            ("MARKETSIM_KAFKA_TICK_TOPIC", "prices"),
            ("MARKETSIM_KAFKA_GROUP", "engine-history-test"),
        ],
        Overrides {
            redis_url: Some(redis_url()),
            kafka_brokers: Some(broker.brokers.clone()),
            ..Overrides::default()
        },
    )
    .await;
    wait_for_history(&p, &want).await;
    let http = reqwest::Client::new();
    let h = crate::get_json(
        &http,
        &format!("{}/v1/stocks/STOCK2/history", app.base),
        None,
    )
    .await;
    assert_eq!(h["time"].as_array().unwrap().len(), want["STOCK2"].0.len());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_by_the_admin_client_with_the_partitions_asked_for() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let broker = Tansu::start();
    adapters::kafka::ensure_topic(&broker.brokers, "made", 4, 1, Duration::from_secs(5))
        .await
        .unwrap();
    // Again: an existing topic is fine.
    adapters::kafka::ensure_topic(&broker.brokers, "made", 4, 1, Duration::from_secs(5))
        .await
        .unwrap();
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &broker.brokers)
        .create()
        .unwrap();
    let md = tokio::task::spawn_blocking(move || {
        c.fetch_metadata(Some("made"), Duration::from_secs(5))
            .unwrap()
    })
    .await
    .unwrap();
    let t = md.topics().iter().find(|t| t.name() == "made").unwrap();
    assert_eq!(t.partitions().len(), 4);
}

/// `n` walk ticks from number `from` on, over three symbols, numbered per
/// symbol.
fn numbered_ticks(from: u64, n: u64) -> Vec<actors::PriceTick> {
    let syms: Vec<engine::Symbol> = ["AAA", "BBB", "CCC"]
        .iter()
        .map(|s| engine::Symbol::new(s).unwrap())
        .collect();
    (from..from + n)
        .map(|i| actors::PriceTick {
            symbol: syms[(i % 3) as usize],
            price: engine::Price::from_minor(10_000 + i as i64),
            ts: engine::Timestamp::from_secs(1_767_605_400 + i as i64),
            seq: i / 3 + 1,
            origin: actors::Origin::Walk,
            quantity: None,
        })
        .collect()
}

/// Read until `n` ticks arrived, committing after each batch.
async fn read_committing(
    source: &adapters::kafka::KafkaTickSource,
    n: usize,
) -> Vec<actors::PriceTick> {
    use actors::ports::TickSource;
    let mut got = Vec::new();
    while got.len() < n {
        let b = tokio::time::timeout(Duration::from_secs(60), source.next_batch())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} ticks arrived", got.len()))
            .unwrap()
            .unwrap();
        got.extend(b);
        source.commit().await.unwrap();
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_resumes_from_committed_offsets_after_the_broker_restarts() {
    use actors::ports::{TickSink, TickSource};
    use adapters::kafka::{KafkaTickSink, KafkaTickSource};
    // The broker keeps topics, messages and offsets on disk, so they
    // survive its restart.
    let mut broker = Tansu::start_on_disk();
    adapters::kafka::ensure_topic(&broker.brokers, "ticks", 2, 1, Duration::from_secs(5))
        .await
        .unwrap();
    let sink = KafkaTickSink::new(&broker.brokers, "ticks").unwrap();
    sink.publish(&numbered_ticks(0, 300)).await.unwrap();
    let source = KafkaTickSource::new(&broker.brokers, "engine", "ticks").unwrap();
    let mut got = read_committing(&source, 300).await;

    broker.kill();
    broker.restart();
    sink.publish(&numbered_ticks(300, 300)).await.unwrap();
    got.extend(read_committing(&source, 300).await);
    // Nothing lost, nothing twice: every symbol's numbers exactly once.
    for s in ["AAA", "BBB", "CCC"] {
        let seqs: Vec<u64> = got
            .iter()
            .filter(|t| t.symbol.as_str() == s)
            .map(|t| t.seq)
            .collect();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>(), "{s}");
    }
    assert_eq!(source.duplicates(), 0);
    drop(source);

    // A new member of the group (a restarted engine: no memory of what it
    // applied) after another broker restart starts at the committed
    // offsets: it reads only what came after.
    broker.kill();
    broker.restart();
    sink.publish(&numbered_ticks(600, 30)).await.unwrap();
    let again = KafkaTickSource::new(&broker.brokers, "engine", "ticks").unwrap();
    let mut more = read_committing(&again, 30).await;
    more.sort_by_key(|t| (t.symbol, t.seq));
    let mut want = numbered_ticks(600, 30);
    want.sort_by_key(|t| (t.symbol, t.seq));
    assert_eq!(more, want, "exactly what came after the commit");
    assert!(
        tokio::time::timeout(Duration::from_secs(2), again.next_batch())
            .await
            .is_err(),
        "more than was produced after the commit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_ticks_flow_through_a_real_broker_into_the_engine() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let broker = Tansu::start();
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_TICK_INTERVAL_MS", "50"),
            ("MARKETSIM_KAFKA_PARTITIONS", "2"),
        ],
        Overrides {
            kafka_brokers: Some(broker.brokers.clone()),
            ..Overrides::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let s = crate::get_json(&http, &format!("{}/v1/stocks/ACME", app.base), None).await;
        if s["last"] != "100.00" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no tick arrived through the broker: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The server created its topics with the admin client.
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &broker.brokers)
        .create()
        .unwrap();
    let md = tokio::task::spawn_blocking(move || {
        c.fetch_metadata(None, Duration::from_secs(5)).unwrap()
    })
    .await
    .unwrap();
    for name in ["marketsim.ticks", "marketsim.events"] {
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == name)
            .unwrap_or_else(|| panic!("no topic {name}"));
        assert_eq!(t.partitions().len(), 2, "{name}");
    }
    // Random tickers from a standalone generator on the same topic are
    // listed at first sight with their 10,000-20,000 shares on offer.
    ok(&marketsim(
        strs(&[
            "generate",
            "--brokers",
            &broker.brokers,
            "--topic",
            "marketsim.ticks",
            "--symbols",
            "3",
            "--count",
            "9",
            "--rate",
            "0",
        ]),
        vec![],
    )
    .await);
    let start = Instant::now();
    let stocks = loop {
        let s = crate::get_json(&http, &format!("{}/v1/stocks", app.base), None).await;
        if s["total"] == 8 {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the random tickers were not listed: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let defaults = ["ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI"];
    let random: Vec<&Value> = stocks["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !defaults.contains(&s["symbol"].as_str().unwrap()))
        .collect();
    assert_eq!(random.len(), 3);
    for s in random {
        let q = s["available_quantity"].as_u64().unwrap();
        assert!((10_000..=20_000).contains(&q), "{s}");
        assert!(!s["timestamp"].as_str().unwrap().starts_with("1970"), "{s}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_without_agents_offers_each_listings_float_for_sale() {
    let app = crate::spawn_app(
        &[("MARKETSIM_TICK_INTERVAL_MS", "3600000")],
        Overrides::default(),
    )
    .await;
    let (base, http) = (app.base.clone(), reqwest::Client::new());
    let acme = crate::get_json(&http, &format!("{base}/v1/stocks/ACME"), None).await;
    assert_eq!(acme["available_quantity"], 1_000_000, "{acme}");
    assert_eq!(acme["ask"], "100.00", "{acme}");
    let key = crate::register(&http, &base, "ann").await;
    let r = http
        .post(format!("{base}/v1/orders"))
        .bearer_auth(&key)
        .json(
            &serde_json::json!({"symbol": "acme", "side": "buy", "type": "market", "quantity": 10}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let o: Value = r.json().await.unwrap();
    assert_eq!(
        (o["status"].as_str(), o["average_price"].as_str()),
        (Some("filled"), Some("100.00")),
        "{o}"
    );
    let acme = crate::get_json(&http, &format!("{base}/v1/stocks/ACME"), None).await;
    assert_eq!(acme["available_quantity"], 999_990, "{acme}");
    app.stop().await;
}
