//! Same scenario and seed: the same event log, whatever the worker threads.

use crate::{run, shipped};

#[test]
fn the_same_seed_gives_the_same_event_log_on_1_2_and_4_worker_threads() {
    let plan = shipped("quickstart", Some("11:00:00"));
    let first = run(&plan, 1, None);
    assert!(
        first.stats.trades > 1_000,
        "too little happened to compare: {:?}",
        first.stats
    );
    for threads in [1, 2, 4] {
        let again = run(&plan, threads, None);
        assert_eq!(
            again.stats, first.stats,
            "{threads} worker threads changed the log"
        );
        assert_eq!(again.report.log_hash, first.report.log_hash);
        let closes = |o: &simulations::Outcome| {
            o.report
                .symbols
                .iter()
                .map(|s| s.close.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(closes(&again), closes(&first));
    }
}

#[test]
fn another_seed_gives_another_market() {
    let plan = shipped("quickstart", Some("10:30:00"));
    let a = run(&plan, 2, Some(1));
    let b = run(&plan, 2, Some(2));
    assert_ne!(a.report.log_hash, b.report.log_hash);
    assert_eq!(run(&plan, 2, Some(1)).report.log_hash, a.report.log_hash);
}

#[test]
fn a_sweep_gives_the_same_rows_whatever_its_jobs() {
    let plan = shipped("quickstart", Some("10:00:00"));
    let seeds = [1, 2, 3];
    let one = simulations::sweep::sweep(&plan, &seeds, 1, &|_| {}).unwrap();
    let two = simulations::sweep::sweep(&plan, &seeds, 2, &|_| {}).unwrap();
    let key = |rows: &[simulations::sweep::SweepRow]| {
        rows.iter()
            .map(|r| {
                let bits: Vec<(String, u64)> = r
                    .metrics()
                    .into_iter()
                    .map(|(k, v)| (k, v.to_bits()))
                    .collect();
                (r.seed, r.log_hash.clone(), bits, r.paths.clone())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&one), key(&two));
    assert_eq!(one.iter().map(|r| r.seed).collect::<Vec<_>>(), seeds);
    // Each row is the seed's own run, as `run` plays it alone.
    let alone = run(&plan, 1, Some(2)).report;
    assert_eq!(one[1].log_hash, alone.log_hash);
    // Its stylized facts are that run's, per symbol and pooled.
    let pooled = alone.stylized_facts_pooled.as_ref().unwrap();
    let row = one[1].pooled.unwrap();
    assert_eq!(row.kurtosis, pooled.stats.excess_kurtosis);
    assert_eq!(row.abs_acf_decay, pooled.stats.abs_acf_decay);
    assert_eq!(row.acf1, pooled.stats.acf_returns.first().copied());
    let acme = alone
        .stylized_facts
        .iter()
        .find(|f| f.symbol == "ACME")
        .unwrap();
    assert_eq!(
        one[1].symbols["ACME"].facts.abs_acf_decay,
        acme.stats.abs_acf_decay
    );
    assert_ne!(one[0].log_hash, one[1].log_hash);
    let summary = simulations::sweep::summarize(&one);
    let trades = summary.iter().find(|s| s.metric == "trades").unwrap();
    let mean = one.iter().map(|r| r.trades as f64).sum::<f64>() / 3.0;
    assert!((trades.mean - mean).abs() < 1e-9);
    assert!(trades.min <= trades.p50 && trades.p50 <= trades.max);
    let dir = std::env::temp_dir().join(format!("sweep-test-{}", std::process::id()));
    simulations::sweep::write(&dir, &one, &summary).unwrap();
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("seed,log_hash,wall_seconds,orders,trades,volume,"));
    assert!(
        csv.contains("ACME.volatility_bps,ACME.spread_bps,"),
        "{csv}"
    );
    assert!(
        csv.contains("ACME.kurtosis,ACME.abs_acf,ACME.abs_acf_decay,ACME.acf1,")
            && csv.contains("pooled.kurtosis,pooled.abs_acf,pooled.abs_acf_decay,pooled.acf1"),
        "{csv}"
    );
    // A fan chart per symbol, and one page with the summary, fans and runs.
    assert!(one[0].paths["ACME"].len() >= 29);
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(dir.join("ACME-fan.svg").exists());
    assert!(
        html.contains("ACME: minute close over 3 runs") && html.contains("ACME.volatility_bps")
    );
    assert!(!html.contains("<script") && !html.contains("<link"));
    let _ = std::fs::remove_dir_all(dir);
}
