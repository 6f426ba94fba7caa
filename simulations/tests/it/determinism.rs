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
