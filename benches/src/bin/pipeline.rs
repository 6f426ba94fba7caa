//! Load driver for the actor pipeline: orders through the matcher's routing
//! (reserve with the account actor, match on the symbol's ticker, settle
//! back), in batches, on a single-threaded runtime like `serve`'s engine.
//!
//! `cargo run --release -p benches --bin pipeline -- [ORDERS] [BATCHES] [STREAMS] [RUNS] [direct|router]`
//!
//! `router` sends every submission through the `OrderRouter` actor (as
//! `serve` does: one message to the actor and a reply back per
//! submission; the actor batches what is queued), `direct` (the default)
//! calls the matcher's routing itself: the difference is the hop.
//!
//! e.g. `-- 200000 1,16,1024 64 5`: for each batch size, RUNS runs on a
//! fresh market; prints the median and range of orders/s and what one
//! order costs. Orders are random limit orders (GTC and IOC) around each
//! symbol's price from 10,000 accounts on 4 symbols; about a third of them
//! trade. Fees are on (maker 1 bp, taker 3 bp) and tickers keep day
//! statistics, as in `serve`. STREAMS concurrent submitters each own a
//! disjoint set of accounts (as the matcher pool keyed by account does):
//! batch 1 with many streams is the HTTP path's shape.

use std::time::Instant;

use actors::account::AccountCmd;
use actors::ticker::{TickerConfig, TickerCore};
use actors::{Command, MarketHandle};
use engine::{AccountId, Fees, Money, Order, OrderId, Price, Side, Symbol, TimeInForce, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ACCOUNTS: u64 = 10_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let batches: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "1,16,1024".into())
        .split(',')
        .filter_map(|b| b.parse().ok())
        .collect();
    let streams: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let router = args.next().is_some_and(|a| a == "router");
    for batch in batches {
        let mut rates = Vec::new();
        for _ in 0..runs.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            rates.push(rt.block_on(run(n, batch.max(1), streams.max(1), router)));
        }
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        println!(
            "{} batch {batch:>5}: median {:.3} M orders/s = {:.2} us/order ({} runs, range {:.3}-{:.3} M/s)",
            if router { "router" } else { "direct" },
            median / 1e6,
            1e6 / median,
            rates.len(),
            rates[0] / 1e6,
            rates[rates.len() - 1] / 1e6
        );
    }
}

/// One run on a fresh market; returns orders/s.
async fn run(n: usize, batch: usize, streams: usize, via_router: bool) -> f64 {
    let symbols: Vec<Symbol> = ["AAA", "BBB", "CCC", "DDD"]
        .iter()
        .map(|s| Symbol::new(s).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let tick = Price::from_minor(1);
    let m = MarketHandle::start(
        Fees::new(1, 3).unwrap_or_else(|e| panic!("{e}")),
        AccountId::FEES,
        2,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for s in &symbols {
        m.list(TickerCore::new(
            *s,
            tick,
            Price::from_minor(10_000),
            TickerConfig {
                ticks_update_stats: true,
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut setup: Vec<(actors::AccountHandle, AccountCmd)> = Vec::new();
    for a in 0..ACCOUNTS {
        let id = AccountId(a);
        let h = m.accounts_of(id);
        let mut cmds = vec![
            AccountCmd::Open(id),
            AccountCmd::Deposit(id, Money::from_major(100_000_000)),
        ];
        cmds.extend(
            symbols
                .iter()
                .map(|s| AccountCmd::Issue(id, *s, 100_000_000)),
        );
        setup.extend(cmds.into_iter().map(|c| (h.clone(), c)));
    }
    for (h, cmds) in actors::account::group_by_actor(setup) {
        for r in h.apply_batch(cmds).await.unwrap_or_else(|e| panic!("{e}")) {
            r.unwrap_or_else(|e| panic!("{e}"));
        }
    }

    // Orders, pre-generated; stream k owns accounts with id % streams == k.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut per_stream: Vec<Vec<Command>> = vec![Vec::with_capacity(n / streams + 1); streams];
    for i in 0..n {
        let acc = rng.random_range(0..ACCOUNTS);
        let s = symbols[rng.random_range(0..symbols.len())];
        let side = if rng.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let off = rng.random_range(-5..=20i64);
        let px = match side {
            Side::Buy => 10_000 - off,
            Side::Sell => 10_000 + off,
        };
        let tif = if rng.random_bool(0.3) {
            TimeInForce::Ioc
        } else {
            TimeInForce::Gtc
        };
        let o = Order::limit(
            OrderId(i as u64 + 1),
            AccountId(acc),
            s,
            side,
            rng.random_range(1..=10),
            Price::from_minor(px),
            tif,
            tick,
            Timestamp(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        per_stream[(acc % streams as u64) as usize].push(Command::Place(o));
    }

    let router = if via_router {
        Some(
            actors::OrderRouter::start(
                &tokio::runtime::Handle::current(),
                m.directory(),
                std::sync::Arc::new(|_, _| 0),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        )
    } else {
        None
    };
    let t = Instant::now();
    let tasks = per_stream.into_iter().enumerate().map(|(stream, cmds)| {
        let m = m.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let (mut trades, mut denied) = (0u64, 0u64);
            for (k, chunk) in cmds.chunks(batch).enumerate() {
                let ts = Timestamp(k as i64);
                // Through the router a batch holds every stream's
                // submission: count only this stream's orders' events.
                let events = match &router {
                    Some(r) => {
                        let b = r
                            .submit(AccountId(stream as u64), ts, Vec::new(), chunk.to_vec())
                            .await
                            .unwrap_or_else(|e| panic!("{e}"));
                        let mine: Vec<OrderId> = chunk
                            .iter()
                            .filter_map(|c| match c {
                                Command::Place(o) => Some(o.id()),
                                Command::Cancel { .. } => None,
                            })
                            .collect();
                        b.routed
                            .events
                            .iter()
                            .filter(|(_, e)| match e {
                                engine::Event::Trade(t) => mine.contains(&t.taker_order),
                                e => mine.contains(&e.order()),
                            })
                            .copied()
                            .collect::<Vec<_>>()
                    }
                    None => {
                        m.submit(ts, chunk.to_vec())
                            .await
                            .unwrap_or_else(|e| panic!("{e}"))
                            .events
                    }
                };
                for (_, e) in &events {
                    match e {
                        engine::Event::Trade(_) => trades += 1,
                        engine::Event::Rejected { .. } => denied += 1,
                        _ => {}
                    }
                }
            }
            (trades, denied)
        })
    });
    let mut trades = 0;
    let mut denied = 0;
    for r in futures::future::join_all(tasks).await {
        let (t, d) = r.unwrap_or_else(|e| panic!("{e}"));
        trades += t;
        denied += d;
    }
    // Settlement is asynchronous: wait for every account actor to finish it.
    for h in m.directory().account_actors() {
        h.settle_wait(Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let secs = t.elapsed().as_secs_f64();
    let mut resting = 0;
    for tk in m.directory().tickers() {
        resting += tk.snapshot().await.map(|s| s.resting).unwrap_or(0);
    }
    let mut ok = true;
    for h in m.directory().account_actors() {
        ok &= h
            .check_invariants()
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false);
    }
    assert!(ok, "ledger invariants broken");
    println!(
        "  batch {batch}: {n} orders in {secs:.3} s = {:.3} M orders/s ({streams} streams); {trades} trades, {denied} denied, {resting} resting",
        n as f64 / secs / 1e6,
    );
    m.shutdown();
    n as f64 / secs
}
