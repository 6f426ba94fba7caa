//! `marketsim generate` and `marketsim replay` (the binary: their output
//! and exit codes) against rdkafka's mock cluster and an in-process market.

use std::process::Command;
use std::time::Duration;

use actors::ports::TickSource;
use adapters::kafka::KafkaTickSource;
use rdkafka::mocking::MockCluster;

use crate::marketsim_ok;

async fn read(source: &KafkaTickSource, n: usize) -> Vec<actors::PriceTick> {
    let mut got = Vec::new();
    while got.len() < n {
        let b = tokio::time::timeout(Duration::from_secs(20), source.next_batch())
            .await
            .expect("ticks did not arrive")
            .unwrap()
            .unwrap();
        got.extend(b);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_sends_exactly_count_ticks_keyed_and_numbered_per_symbol() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("ticks", 3, 1).unwrap();
    let out = marketsim_ok(&[
        "generate",
        "--brokers",
        &brokers,
        "--topic",
        "ticks",
        "--symbols",
        "3",
        "--count",
        "30",
        "--rate",
        "0",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("sent 30 ticks"));
    let source = KafkaTickSource::new(&brokers, "t", "ticks").unwrap();
    let got = read(&source, 30).await;
    let mut symbols: Vec<_> = got.iter().map(|t| t.symbol).collect();
    symbols.sort();
    symbols.dedup();
    assert_eq!(symbols.len(), 3);
    for s in symbols {
        let seqs: Vec<u64> = got
            .iter()
            .filter(|t| t.symbol == s)
            .map(|t| t.seq)
            .collect();
        // Consecutive, from the clock at the generator's start (a restarted
        // generator numbers above what it sent before).
        let first = seqs[0];
        assert_eq!(seqs, (first..first + 10).collect::<Vec<_>>());
        assert!(
            first > 1_700_000_000_000_000,
            "numbered from the clock: {first}"
        );
    }
    assert!(got.iter().all(|t| t.price.is_positive()));
}

/// Audit M6: a restarted generator's ticks are not taken for duplicates of
/// the first run's (its numbering starts from the clock, not from 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_generators_ticks_are_all_applied_none_dropped_as_duplicates() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("ticks", 3, 1).unwrap();
    let scenario = crate::live();
    let generate = || {
        marketsim_ok(&[
            "generate",
            "--brokers",
            &brokers,
            "--topic",
            "ticks",
            "--scenario",
            &scenario,
            "--count",
            "20",
            "--rate",
            "0",
        ])
    };
    generate();
    let source = KafkaTickSource::new(&brokers, "t", "ticks").unwrap();
    let first = read(&source, 20).await;
    generate();
    let second = read(&source, 20).await;
    assert_eq!(source.duplicates(), 0);
    // The same symbols both times, each numbered above the first run.
    for t in &second {
        let before = first
            .iter()
            .filter(|f| f.symbol == t.symbol)
            .map(|f| f.seq)
            .max();
        assert!(before.is_some_and(|b| t.seq > b), "{t:?} after {before:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_sends_good_rows_in_time_order_and_reports_bad_ones_by_line() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("prices", 1, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.csv");
    std::fs::write(
        &file,
        "Time,Stock,Price\n090100,ACME,11\n090000,ACME,10\nnoon,ACME,12\n090200,BETA,5.5\n",
    )
    .unwrap();
    // Out of time order: an error naming the line, unless --sort.
    let unsorted = Command::new(env!("CARGO_BIN_EXE_marketsim"))
        .args([
            "replay",
            file.to_str().unwrap(),
            "--brokers",
            &brokers,
            "--topic",
            "prices",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&unsorted.stderr);
    assert!(!unsorted.status.success());
    assert!(err.contains("line 3") && err.contains("--sort"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_marketsim"))
        .args([
            "replay",
            file.to_str().unwrap(),
            "--brokers",
            &brokers,
            "--topic",
            "prices",
            "--sort",
            "--date",
            "2026-01-05",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("line 4") && err.contains("replayed 3 ticks"),
        "{err}"
    );
    let source = KafkaTickSource::new(&brokers, "t", "prices").unwrap();
    let got = read(&source, 3).await;
    let prices: Vec<String> = got
        .iter()
        .map(|t| format!("{} {}", t.symbol, t.price))
        .collect();
    assert_eq!(prices, ["ACME 10.00", "ACME 11.00", "BETA 5.50"]);
    assert_eq!(engine::time::rfc3339(got[0].ts), "2026-01-05T09:00:00Z");

    let strict = Command::new(env!("CARGO_BIN_EXE_marketsim"))
        .args([
            "replay",
            file.to_str().unwrap(),
            "--brokers",
            &brokers,
            "--topic",
            "prices",
            "--strict",
            "--sort",
        ])
        .output()
        .unwrap();
    assert!(!strict.status.success());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("line 4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_applies_prices_straight_to_a_running_market_without_kafka() {
    let app = crate::spawn_app(
        &[
            ("MARKETSIM_ADMIN_KEY", "secret-admin-key-1"),
            ("MARKETSIM_TICK_INTERVAL_MS", "3600000"),
        ],
        marketsim::settings::Overrides::default(),
    )
    .await;
    let base = app.base.clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.csv");
    std::fs::write(
        &file,
        "Time,Stock,Price\n090000,ACME,90\n090000,hooli,70\n090100,ACME,95.5\n",
    )
    .unwrap();
    // The binary runs beside the in-process server: off the runtime's threads.
    let (f, b) = (file.clone(), base.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_marketsim"))
            .args(["replay", f.to_str().unwrap(), "--url", &b])
            .env("MARKETSIM_ADMIN_KEY", "secret-admin-key-1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let http = reqwest::Client::new();
    let acme: serde_json::Value =
        crate::get_json(&http, &format!("{base}/v1/stocks/ACME"), None).await;
    let hooli: serde_json::Value =
        crate::get_json(&http, &format!("{base}/v1/stocks/HOOLI"), None).await;
    assert_eq!(
        (acme["last"].as_str(), hooli["last"].as_str()),
        (Some("95.50"), Some("70.00"))
    );
    // A wrong key is a clear failure, not a silent one.
    let (f, b) = (file.clone(), base.clone());
    let bad = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_marketsim"))
            .args([
                "replay",
                f.to_str().unwrap(),
                "--url",
                &b,
                "--admin-key",
                "wrong",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("401"));
    app.stop().await;
}
