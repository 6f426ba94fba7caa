//! Load driver for the exchange-core mix on one book: throughput over the
//! whole replay and per-operation latency percentiles.
//!
//! `cargo run --release -p benches --bin book_mix -- [OPS] [ROUNDS]`

use std::hint::black_box;
use std::time::Instant;

use benches::{exchange_core_mix, replay};
use hdrhistogram::Histogram;

fn main() {
    let mut args = std::env::args().skip(1);
    let ops: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(3_000_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let w = exchange_core_mix(ops, 1_000, 1_000, 42);
    let c = w.counts;
    let n = w.cmds.len() as f64;
    println!(
        "mix: {} ops on a book of {} resting orders; gtc {:.1}% ioc {:.1}% cancel {:.1}% replace {:.1}%; {:.1}% of ops trade",
        w.cmds.len(),
        w.start.len(),
        100.0 * c.gtc as f64 / n,
        100.0 * c.ioc as f64 / n,
        100.0 * c.cancel as f64 / n,
        100.0 * c.replace as f64 / n,
        100.0 * w.trade_share
    );
    let mut events = Vec::with_capacity(64);

    // Throughput: whole replays, no per-op timing.
    let mut secs = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        let mut book = w.start.clone();
        let t = Instant::now();
        let mut total = 0usize;
        for cmd in &w.cmds {
            total += replay(&mut book, cmd, &mut events);
        }
        black_box(total);
        secs.push(t.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    println!(
        "throughput: {:.2} M ops/s median of {} replays ({:.1} ns/op); slowest {:.2}, fastest {:.2} M ops/s",
        n / median / 1e6,
        secs.len(),
        median * 1e9 / n,
        n / secs[secs.len() - 1] / 1e6,
        n / secs[0] / 1e6
    );

    // Latency: each op timed alone (includes ~20 ns of clock reads).
    let mut h = Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("{e}"));
    let mut book = w.start.clone();
    for cmd in &w.cmds {
        let t = Instant::now();
        black_box(replay(&mut book, cmd, &mut events));
        let _ = h.record(t.elapsed().as_nanos() as u64);
    }
    let clock = {
        let t = Instant::now();
        for _ in 0..1_000_000 {
            black_box(Instant::now());
        }
        t.elapsed().as_nanos() as f64 / 1e6
    };
    println!(
        "latency ns/op: p50 {} p90 {} p99 {} p99.9 {} p99.99 {} max {} (one clock read costs {clock:.0} ns)",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.value_at_quantile(0.9999),
        h.max()
    );
}
