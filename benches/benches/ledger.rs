//! (c) Ledger: reserve both sides, settle the trade, release both.
//!
//! `cargo bench -p benches --bench ledger`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::{
    AccountId, Fees, Ledger, Money, Order, OrderId, Price, Side, Symbol, TimeInForce, Timestamp,
    Trade,
};

fn ledger(accounts: u64, sym: Symbol) -> Ledger {
    let mut l = Ledger::new(Fees::new(1, 2).unwrap(), AccountId(u64::MAX));
    for a in 0..accounts {
        l.open(AccountId(a)).unwrap();
        l.deposit(AccountId(a), Money::from_major(1_000_000_000))
            .unwrap();
        l.issue_shares(AccountId(a), sym, 1_000_000).unwrap();
    }
    l
}

fn reserve_settle(c: &mut Criterion) {
    let sym = Symbol::new("BENCH").unwrap();
    let tick = Price::from_minor(1);
    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(1));
    g.bench_function(
        "reserve buy + reserve sell + settle + release both (1k accounts)",
        |b| {
            let mut l = ledger(1_000, sym);
            let mut id = 0u64;
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    id += 2;
                    // Pairs trade back and forth so neither side runs dry.
                    let k = id / 2;
                    let (a, b2) = (AccountId(k % 1_000), AccountId((k + 1) % 1_000));
                    let (buyer, seller) = if (k / 1_000) % 2 == 0 {
                        (a, b2)
                    } else {
                        (b2, a)
                    };
                    let buy = Order::limit(
                        OrderId(id),
                        buyer,
                        sym,
                        Side::Buy,
                        10,
                        Price::from_minor(10_000),
                        TimeInForce::Gtc,
                        tick,
                        Timestamp(0),
                    )
                    .unwrap();
                    let sell = Order::limit(
                        OrderId(id + 1),
                        seller,
                        sym,
                        Side::Sell,
                        10,
                        Price::from_minor(10_000),
                        TimeInForce::Gtc,
                        tick,
                        Timestamp(0),
                    )
                    .unwrap();
                    l.reserve(&buy).unwrap();
                    l.reserve(&sell).unwrap();
                    let tr = Trade {
                        symbol: sym,
                        seq: id,
                        price: Price::from_minor(9_999),
                        quantity: 10,
                        maker_order: sell.id(),
                        maker_account: seller,
                        taker_order: buy.id(),
                        taker_account: buyer,
                        taker_side: Side::Buy,
                        ts: Timestamp(0),
                    };
                    l.settle(&tr).unwrap();
                    black_box(l.release(buy.id()).unwrap());
                    black_box(l.release(sell.id()).unwrap());
                }
                t.elapsed()
            })
        },
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = reserve_settle
}
criterion_main!(benches);
