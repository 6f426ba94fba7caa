//! The `marketsim` binary, end to end.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_marketsim"))
}

fn short_quickstart(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/simulations/scenarios/quickstart.toml"
    ))
    .unwrap();
    let path = dir.join("short.toml");
    std::fs::write(
        &path,
        text.replace("close = \"16:00:00\"", "close = \"10:30:00\""),
    )
    .unwrap();
    path
}

#[test]
fn run_prints_a_report_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = short_quickstart(dir.path());
    let out = dir.path().join("out");
    let o = bin()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--progress",
            "quiet",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    for needle in [
        "top gainers",
        "P&L by agent type",
        "conservation: ok",
        "event log hash",
        "ACME",
        "stylized facts",
        "volatility clustering",
    ] {
        assert!(
            stdout.contains(needle),
            "report lacks `{needle}`:\n{stdout}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["conservation"]["ok"], true);
    assert!(report["totals"]["trades"].as_u64().unwrap() > 0);
    // Stylized facts per symbol, each check marked against the literature.
    let facts = report["stylized_facts"].as_array().unwrap();
    assert_eq!(facts.len(), report["symbols"].as_array().unwrap().len());
    let acme = facts.iter().find(|f| f["symbol"] == "ACME").unwrap();
    assert!(acme["returns"].as_u64().unwrap() > 30, "{acme}");
    assert_eq!(acme["acf_returns"].as_array().unwrap().len(), 10);
    assert_eq!(acme["checks"].as_array().unwrap().len(), 9);
    assert!(
        acme["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["literature"].as_str().is_some_and(|l| !l.is_empty()))
    );
    let trades = std::fs::read_to_string(out.join("trades.csv")).unwrap();
    assert!(trades.starts_with("time,symbol,price,quantity,taker_side"));
    assert_eq!(
        trades.lines().count() as u64 - 1,
        report["totals"]["trades"].as_u64().unwrap()
    );
    let candles = std::fs::read_to_string(out.join("candles.csv")).unwrap();
    assert!(candles.lines().nth(1).unwrap().contains("2026-01-05T09:"));
    let svg = std::fs::read_to_string(out.join("ACME.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("ACME: 1-minute candles"));
}

#[test]
fn the_seed_flag_changes_the_market_and_json_output_parses() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = short_quickstart(dir.path());
    let hash = |seed: &str| {
        let o = bin()
            .args([
                "run",
                scenario.to_str().unwrap(),
                "--no-files",
                "--json",
                "--progress",
                "quiet",
                "--seed",
                seed,
            ])
            .output()
            .unwrap();
        assert!(o.status.success());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["seed"], seed.parse::<u64>().unwrap());
        v["log_hash"].as_str().unwrap().to_string()
    };
    assert_ne!(hash("1"), hash("2"));
}

#[test]
fn a_relay_needs_a_token_or_an_explicit_public_flag() {
    for (args, words) in [
        (vec![], "--public"),
        (vec!["--token", "short"], "16 characters"),
    ] {
        let o = bin()
            .args([
                "relay",
                "--redis-url",
                "redis://127.0.0.1:6379",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(&args)
            .env_remove("MARKETSIM_RELAY_TOKEN")
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(words), "{args:?}: {err}");
    }
}

#[test]
fn a_bad_scenario_is_a_clear_error_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\n[[symbols]]\nsymbol = \"ACME\"\ninitial_price = \"0\"\nfloat = 1\n",
    )
    .unwrap();
    let o = bin()
        .args(["run", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("symbols[0].initial_price") && err.contains("greater than zero"),
        "{err}"
    );
    let o = bin().args(["run", "/nonexistent.toml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read /nonexistent.toml"));
}

#[test]
fn help_explains_the_run_command() {
    let o = bin().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("run"));
    let o = bin().args(["run", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    for flag in ["--seed", "--out", "--threads", "--no-files"] {
        assert!(text.contains(flag), "run --help lacks {flag}");
    }
}

#[test]
fn sample_writes_files_the_readers_accept_the_same_for_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.csv");
    let args = [
        "sample",
        "prices",
        "--rows",
        "3000",
        "--symbols",
        "7",
        "--seed",
        "5",
    ];
    let out = bin().args(args).arg("-o").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&file).unwrap();
    let prices = files::csv::read_prices(&bytes[..], true).unwrap();
    assert_eq!(prices.rows.len(), 3000);
    // In time order: replay takes it without --sort.
    files::csv::to_ticks(&prices.rows, engine::Timestamp(0), false).unwrap();
    // Standard output, same seed: the same bytes.
    let again = bin().args(args).output().unwrap();
    assert_eq!(again.stdout, bytes);

    // The default: 20,000 order rows for an admin's import.
    let file = dir.path().join("orders.csv");
    let path = file.to_str().unwrap();
    crate::marketsim_ok(&["sample", "orders", "--date", "2026-01-05", "-o", path]);
    let orders = files::csv::read_orders(&std::fs::read(&file).unwrap()[..], true).unwrap();
    assert_eq!(orders.rows.len(), 20_000);
    assert!(orders.has_user);
    assert!(
        orders
            .rows
            .iter()
            .all(|r| engine::time::rfc3339(r.time).starts_with("2026-01-05T"))
    );
}

#[test]
fn sample_into_a_missing_directory_is_a_clear_error() {
    let out = bin()
        .args(["sample", "orders", "-o", "/nonexistent-dir/orders.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot create /nonexistent-dir/orders.csv"),
        "{err}"
    );
}
