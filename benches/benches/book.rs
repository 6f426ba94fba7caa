//! Order book benches: (a) the exchange-core mix, (b) place, cancel and
//! aggressive match each alone.
//!
//! `cargo bench -p benches --bench book`

use std::hint::black_box;
use std::time::{Duration, Instant};

use benches::{TICK, exchange_core_mix, replay, symbol};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::{AccountId, Order, OrderBook, OrderId, Price, Side, TimeInForce, Timestamp};

const BATCH: u64 = 1_000;

fn base_book(resting: u64) -> OrderBook {
    let mut b = OrderBook::new(symbol(), TICK);
    let mut ev = Vec::new();
    for i in 0..resting {
        let (side, px) = if i % 2 == 0 {
            (Side::Buy, 9_990 - (i % 40) as i64)
        } else {
            (Side::Sell, 10_010 + (i % 40) as i64)
        };
        let o = Order::limit(
            OrderId(i + 1),
            AccountId(i % 1_000),
            symbol(),
            side,
            100,
            Price::from_minor(px),
            TimeInForce::Gtc,
            TICK,
            Timestamp(0),
        )
        .unwrap();
        b.place(&o, Timestamp(0), &mut ev);
    }
    b
}

/// Time `iters` operations in fresh batches of `BATCH`, set up untimed.
fn batched<S, F>(iters: u64, mut setup: S, mut op: F) -> Duration
where
    S: FnMut() -> OrderBook,
    F: FnMut(&mut OrderBook, u64, &mut Vec<engine::Event>),
{
    let mut total = Duration::ZERO;
    let mut done = 0;
    let mut ev = Vec::with_capacity(64);
    while done < iters {
        let n = BATCH.min(iters - done);
        let mut book = setup();
        let t = Instant::now();
        for k in 0..n {
            ev.clear();
            op(&mut book, k, &mut ev);
        }
        total += t.elapsed();
        black_box(&book);
        done += n;
    }
    total
}

fn mix(c: &mut Criterion) {
    let w = exchange_core_mix(1_000_000, 1_000, 1_000, 42);
    let mut g = c.benchmark_group("exchange_core_mix");
    g.throughput(Throughput::Elements(w.cmds.len() as u64));
    g.sample_size(10);
    g.bench_function("1M ops on a 1k-order book", |b| {
        b.iter_batched_ref(
            || w.start.clone(),
            |book| {
                let mut ev = Vec::with_capacity(64);
                for cmd in &w.cmds {
                    black_box(replay(book, cmd, &mut ev));
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn alone(c: &mut Criterion) {
    let base = base_book(1_000);
    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(1));
    g.bench_function("place (passive, 1k-order book)", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || base.clone(),
                |book, k, ev| {
                    let px = 9_950 + (k % 40) as i64;
                    let o = Order::limit(
                        OrderId(1_000_000 + k),
                        AccountId(k),
                        symbol(),
                        Side::Buy,
                        10,
                        Price::from_minor(px),
                        TimeInForce::Gtc,
                        TICK,
                        Timestamp(0),
                    )
                    .unwrap();
                    book.place(&o, Timestamp(0), ev);
                },
            )
        })
    });
    g.bench_function("cancel (1k-order book)", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || base.clone(),
                |book, k, ev| {
                    let _ = book.cancel(OrderId(k + 1), None, Timestamp(0), ev);
                },
            )
        })
    });
    // Every IOC of a batch must find an ask: a book with BATCH asks.
    let deep = base_book(2 * BATCH);
    g.bench_function("aggressive match (IOC takes one resting order)", |b| {
        b.iter_custom(|iters| {
            batched(
                iters,
                || deep.clone(),
                |book, k, ev| {
                    let ask = book.best_ask().unwrap_or(Price::from_minor(10_010));
                    let o = Order::limit(
                        OrderId(1_000_000 + k),
                        AccountId(k),
                        symbol(),
                        Side::Buy,
                        100,
                        ask,
                        TimeInForce::Ioc,
                        TICK,
                        Timestamp(0),
                    )
                    .unwrap();
                    book.place(&o, Timestamp(0), ev);
                },
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = mix, alone
}
criterion_main!(benches);
