//! Load driver: facts into PostgreSQL through the journal writer.
//!
//! `cargo run --release -p benches --bin pg_journal -- [FACTS] [PRODUCERS] [ACKERS]`
//! (defaults 1,000,000 / 4 / 64). Uses a fresh database `marketsim_bench`
//! on the server of `DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/test).
//!
//! Phase 1, sustained: PRODUCERS tasks append trade-shaped batches (a
//! trade, two fills, an acceptance: what one crossing order journals) as
//! fast as the writer takes them, keeping at most 200,000 facts in flight;
//! reports facts/s from the first append to the last durable ack.
//! Phase 2, acknowledged: ACKERS tasks each append one order's facts and
//! wait until durable before the next (what HTTP order handlers do);
//! reports acks/s and ack latency percentiles (group commit at work).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actors::facts::Fact;
use actors::ports::FactJournal;
use adapters::pg::{self, Durable, PgJournal, WriterConfig};
use engine::{AccountId, Event, Fees, OrderId, Price, Side, Symbol, Timestamp, Trade};

fn order_facts(sym: Symbol, n: u64) -> Vec<Fact> {
    let ts = Timestamp(1_795_000_000_000_000_000 + n as i64 * 1_000);
    let trade = Trade {
        symbol: sym,
        seq: n + 1,
        price: Price::from_minor(10_000 + (n % 50) as i64),
        quantity: 1 + n % 9,
        maker_order: OrderId(2 * n + 1),
        maker_account: AccountId(n % 1_000),
        taker_order: OrderId(2 * n + 2),
        taker_account: AccountId(1_000 + n % 1_000),
        taker_side: Side::Buy,
        ts,
    };
    vec![
        Fact::Event {
            symbol: sym,
            event: Event::Accepted {
                order: trade.taker_order,
                account: trade.taker_account,
                side: Side::Buy,
                price: trade.price,
                quantity: trade.quantity,
                ts,
            },
        },
        Fact::Event {
            symbol: sym,
            event: Event::Trade(trade),
        },
        Fact::Event {
            symbol: sym,
            event: Event::Filled {
                order: trade.maker_order,
                account: trade.maker_account,
                ts,
            },
        },
        Fact::Event {
            symbol: sym,
            event: Event::Filled {
                order: trade.taker_order,
                account: trade.taker_account,
                ts,
            },
        },
    ]
}

fn setup(syms: &[Symbol]) -> Vec<Fact> {
    let mut v = Vec::new();
    for a in 0..2_000u64 {
        let account = AccountId(a);
        v.push(Fact::Open { account });
        if a >= 1_000 {
            v.push(Fact::Deposit {
                account,
                amount: engine::Money::from_major(100_000_000),
            });
        } else {
            for s in syms {
                v.push(Fact::Issue {
                    account,
                    symbol: *s,
                    quantity: 10_000_000,
                });
            }
        }
    }
    v
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are whole numbers"))
        .collect();
    let facts = args.first().copied().unwrap_or(1_000_000);
    let producers = args.get(1).copied().unwrap_or(4).max(1);
    let ackers = args.get(2).copied().unwrap_or(64).max(1);
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        tokio::spawn(run(url, facts, producers, ackers))
            .await
            .expect("driver")
    });
}

async fn fresh(url: &str) -> sqlx::PgPool {
    let (server, _) = url.rsplit_once('/').expect("a database URL");
    let admin = sqlx::PgPool::connect(url).await.expect("connect");
    sqlx::query("DROP DATABASE IF EXISTS marketsim_bench WITH (FORCE)")
        .execute(&admin)
        .await
        .expect("drop");
    sqlx::query("CREATE DATABASE marketsim_bench")
        .execute(&admin)
        .await
        .expect("create");
    let pool = pg::connect(
        &format!("{server}/marketsim_bench"),
        4,
        Duration::from_secs(5),
    )
    .await
    .expect("connect");
    pg::migrate(&pool).await.expect("migrate");
    pool
}

fn state() -> Durable {
    let mut d = Durable::new(Fees::new(5, 10).expect("fees"), AccountId(u64::MAX));
    for s in ["ACME", "GLOBEX", "INITECH", "HOOLI"] {
        d.ensure_stock(
            Symbol::new(s).expect("symbol"),
            Price::from_minor(1),
            Price::from_minor(10_000),
        );
    }
    d
}

async fn run(url: String, facts: u64, producers: u64, ackers: u64) {
    let syms: Vec<Symbol> = ["ACME", "GLOBEX", "INITECH", "HOOLI"]
        .iter()
        .map(|s| Symbol::new(s).expect("symbol"))
        .collect();

    // Phase 1: sustained.
    let pool = fresh(&url).await;
    let (j, w) = PgJournal::start(pool.clone(), state(), WriterConfig::default());
    let j = Arc::new(j);
    // The accounts the orders trade between: cash for the buyers, shares
    // for the sellers (so the folded state stays valid, as in a market).
    let t = j.append(setup(&syms));
    j.durable(t, Duration::from_secs(60)).await.expect("setup");
    let orders = facts / 4;
    let started = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let (j, syms) = (j.clone(), syms.clone());
            tokio::spawn(async move {
                let mut n = p;
                while n < orders {
                    let mut batch = Vec::with_capacity(400);
                    for _ in 0..100 {
                        if n >= orders {
                            break;
                        }
                        batch.extend(order_facts(syms[(n % 4) as usize], n));
                        n += producers;
                    }
                    let t = j.append(batch);
                    // Bound what is in flight (memory), as a real source would.
                    if t > 200_000 {
                        let _ = j.durable(t - 200_000, Duration::from_secs(60)).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("producer");
    }
    let last = j.last_ticket();
    j.durable(last, Duration::from_secs(600))
        .await
        .expect("durable");
    let secs = started.elapsed().as_secs_f64();
    let n: i64 = sqlx::query_scalar("SELECT sum(facts)::int8 FROM journal WHERE kind <> 'open' AND kind <> 'deposit' AND kind <> 'issue'")
        .fetch_one(&pool)
        .await
        .expect("count");
    let batches: i64 = sqlx::query_scalar("SELECT count(DISTINCT recorded_at) FROM journal")
        .fetch_one(&pool)
        .await
        .expect("batches");
    println!(
        "sustained: {n} facts in {secs:.2} s = {:.0} facts/s ({batches} inserts, {:.0} facts each), {producers} producers",
        n as f64 / secs,
        n as f64 / batches.max(1) as f64
    );
    drop(j);
    let t = Instant::now();
    w.finish().await.expect("writer");
    println!(
        "final checkpoint of the folded state: {:.2} s",
        t.elapsed().as_secs_f64()
    );

    // Phase 2: acknowledged one order at a time per task.
    let pool = fresh(&url).await;
    let (j, w) = PgJournal::start(pool.clone(), state(), WriterConfig::default());
    let j = Arc::new(j);
    let t = j.append(setup(&syms));
    j.durable(t, Duration::from_secs(60)).await.expect("setup");
    let run_for = Duration::from_secs(10);
    let started = Instant::now();
    let tasks: Vec<_> = (0..ackers)
        .map(|a| {
            let (j, syms) = (j.clone(), syms.clone());
            tokio::spawn(async move {
                let mut hist = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
                let mut n = a;
                while started.elapsed() < run_for {
                    let t0 = Instant::now();
                    let t = j.append(order_facts(syms[(n % 4) as usize], n));
                    j.durable(t, Duration::from_secs(30))
                        .await
                        .expect("durable");
                    let _ = hist.record(t0.elapsed().as_micros() as u64);
                    n += ackers;
                }
                hist
            })
        })
        .collect();
    let mut hist = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
    for t in tasks {
        hist.add(t.await.expect("acker")).expect("merge");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "acknowledged: {} orders ({} facts) in {secs:.1} s = {:.0} acks/s, {ackers} concurrent; ack latency p50 {} us, p99 {} us, max {} us",
        hist.len(),
        hist.len() * 4,
        hist.len() as f64 / secs,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.max()
    );
    drop(j);
    w.finish().await.expect("writer");
}
