//! The PostgreSQL journal against a real server: `#[sqlx::test]` gives
//! each test a fresh database (from `DATABASE_URL`) with the migrations
//! applied.

use std::time::Duration;

use actors::facts::{Fact, OrderFact};
use actors::ports::FactJournal;
use adapters::pg::{self, Durable, PgJournal, WriterConfig};
use engine::OrderStatus as Status;
use engine::{
    AccountId, Event, Fees, Money, OrderId, OrderType, Price, RejectReason, Side, Symbol,
    TimeInForce, Timestamp, Trade,
};
use sqlx::PgPool;

const FEE: AccountId = AccountId(u64::MAX);
const MIN: i64 = 60_000_000_000;

fn acme() -> Symbol {
    Symbol::new("ACME").unwrap()
}

fn fresh() -> Durable {
    let mut d = Durable::new(Fees::new(10, 20).unwrap(), FEE);
    d.ensure_stock(acme(), Price::from_minor(1), Price::from_minor(1_000));
    d
}

fn ev(event: Event) -> Fact {
    Fact::Event {
        symbol: acme(),
        event,
    }
}

/// A small history: two accounts, a listing, a resting sell partly taken
/// by a buy, a cancelled order, a denied one, ticks in two minutes.
fn history() -> Vec<Fact> {
    let (a, b) = (AccountId(1_000_000_000), AccountId(7));
    let req = OrderFact {
        id: OrderId(2),
        account: a,
        client_order_id: Some(engine::ClientOrderId::new("c-2").unwrap()),
        symbol: acme(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        quantity: 30,
        limit_price: Some(Price::from_minor(1_000)),
        time_in_force: TimeInForce::Gtc,
        denied: None,
        at: Timestamp(MIN),
    };
    vec![
        Fact::User {
            account: a,
            name: "ann".into(),
            key_hash: "ab".repeat(32),
            at: Timestamp(MIN),
        },
        Fact::Open { account: a },
        Fact::Deposit {
            account: a,
            amount: Money::from_minor(1_000_000),
        },
        Fact::Open { account: b },
        Fact::Issue {
            account: b,
            symbol: acme(),
            quantity: 100,
        },
        Fact::Listed {
            symbol: Symbol::new("NEWCO").unwrap(),
            tick: Price::from_minor(5),
            price: Price::from_minor(2_000),
        },
        ev(Event::Accepted {
            order: OrderId(1),
            account: b,
            side: Side::Sell,
            price: Price::from_minor(1_000),
            quantity: 20,
            ts: Timestamp(MIN + 1),
        }),
        Fact::Order(req),
        ev(Event::Accepted {
            order: OrderId(2),
            account: a,
            side: Side::Buy,
            price: Price::from_minor(1_000),
            quantity: 30,
            ts: Timestamp(MIN + 2),
        }),
        ev(Event::Trade(Trade {
            symbol: acme(),
            seq: 1,
            price: Price::from_minor(1_000),
            quantity: 20,
            maker_order: OrderId(1),
            maker_account: b,
            taker_order: OrderId(2),
            taker_account: a,
            taker_side: Side::Buy,
            ts: Timestamp(MIN + 2),
        })),
        ev(Event::Filled {
            order: OrderId(1),
            account: b,
            ts: Timestamp(MIN + 2),
        }),
        ev(Event::PartiallyFilled {
            order: OrderId(2),
            account: a,
            filled: 20,
            remaining: 10,
            ts: Timestamp(MIN + 2),
        }),
        Fact::Order(OrderFact {
            id: OrderId(3),
            side: Side::Sell,
            quantity: 5,
            client_order_id: None,
            ..req
        }),
        ev(Event::Rejected {
            order: OrderId(3),
            account: a,
            reason: RejectReason::InsufficientHoldings,
            ts: Timestamp(MIN + 3),
        }),
        ev(Event::Accepted {
            order: OrderId(4),
            account: b,
            side: Side::Sell,
            price: Price::from_minor(1_100),
            quantity: 10,
            ts: Timestamp(MIN + 4),
        }),
        ev(Event::Cancelled {
            order: OrderId(4),
            account: b,
            remaining: 10,
            reason: engine::CancelReason::Requested,
            ts: Timestamp(MIN + 5),
        }),
        Fact::Tick {
            symbol: acme(),
            price: Price::from_minor(1_010),
            ts: Timestamp(2 * MIN + 1),
            source: None,
        },
    ]
}

fn config() -> WriterConfig {
    WriterConfig {
        checkpoint_every: Duration::from_secs(3_600),
        max_backoff: Duration::from_millis(100),
        max_pending: 100_000,
    }
}

async fn write_all(pool: &PgPool, facts: Vec<Fact>) -> (PgJournal, pg::Writer) {
    let (j, w) = PgJournal::start(pool.clone(), fresh(), config());
    let t = j.append(facts);
    j.durable(t, Duration::from_secs(10)).await.unwrap();
    (j, w)
}

fn check_state(d: &Durable) {
    let (a, b) = (AccountId(1_000_000_000), AccountId(7));
    // 20 @ 10.00 = 20,000; buyer (taker) pays 20 bps = 40, seller 10 bps = 20.
    assert_eq!(d.cash[&a], 1_000_000 - 20_000 - 40);
    assert_eq!(d.cash[&b], 20_000 - 20);
    assert_eq!(d.cash[&FEE], 60);
    assert_eq!(d.holdings[&(a, acme())], 20);
    assert_eq!(d.holdings[&(b, acme())], 80);
    assert_eq!(d.users[&a].name, "ann");
    let st = &d.stocks[&acme()];
    assert_eq!(st.trade_seq, 1);
    assert_eq!((st.stats.trades, st.stats.volume), (1, 20));
    assert_eq!(st.stats.last, Price::from_minor(1_010));
    assert_eq!(st.candles.all().len(), 2, "one candle per minute with data");
    assert!(d.stocks[&Symbol::new("NEWCO").unwrap()].listed);
    let open: Vec<_> = d
        .open_orders()
        .iter()
        .map(|o| (o.id, o.remaining))
        .collect();
    assert_eq!(open, [(OrderId(2), 10)]);
    assert_eq!(d.max_order_id, 4);
    let (cash, shares) = d.totals();
    assert_eq!(cash, 1_000_000, "cash is conserved");
    assert_eq!(shares[&acme()], 100, "shares are conserved");
}

#[sqlx::test]
async fn every_table_round_trips_through_a_checkpoint(pool: PgPool) {
    let (j, w) = write_all(&pool, history()).await;
    drop(j);
    let d = w.finish().await.unwrap();
    check_state(&d);

    let n: i64 = sqlx::query_scalar("SELECT seq FROM checkpoint")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n as usize, history().len());
    let cash: Vec<(i64, i64)> =
        sqlx::query_as("SELECT account_id, cash FROM accounts ORDER BY account_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(cash, [(-1, 60), (7, 19_980), (1_000_000_000, 979_960)]);
    let holdings: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT account_id, symbol, quantity FROM holdings ORDER BY account_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        holdings,
        [(7, "ACME".into(), 80), (1_000_000_000, "ACME".into(), 20)]
    );
    type OrderCols = (i64, String, i64, i64, Option<String>, Option<String>);
    let orders: Vec<OrderCols> = sqlx::query_as(
        "SELECT order_id, status, filled, remaining, reason, client_order_id FROM orders ORDER BY order_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        orders,
        [
            (1, "filled".into(), 20, 0, None, None),
            (
                2,
                "partially_filled".into(),
                20,
                10,
                None,
                Some("c-2".into())
            ),
            (
                3,
                "denied".into(),
                0,
                0,
                Some("insufficient_holdings".into()),
                None
            ),
            (4, "cancelled".into(), 0, 0, Some("requested".into()), None),
        ]
    );
    let trades: Vec<(String, i64, i64, i64, String)> =
        sqlx::query_as("SELECT symbol, seq, price, quantity, taker_side FROM trades")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(trades, [("ACME".into(), 1, 1_000, 20, "buy".into())]);
    let candles: Vec<(i64, i64, i64, i64)> =
        sqlx::query_as("SELECT start, open, close, volume FROM candles ORDER BY start")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        candles,
        [(MIN, 1_000, 1_000, 20), (2 * MIN, 1_010, 1_010, 0)]
    );
    let users: Vec<(i64, String)> = sqlx::query_as("SELECT account_id, name FROM users")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(users, [(1_000_000_000, "ann".into())]);
    let stocks: Vec<(String, i64, bool)> =
        sqlx::query_as("SELECT symbol, last, listed FROM stocks ORDER BY symbol")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        stocks,
        [("ACME".into(), 1_010, false), ("NEWCO".into(), 2_000, true)]
    );
    pg::task_status(&pool, "generator", "running", "5 symbols")
        .await
        .unwrap();
    let task: (String, Option<String>) =
        sqlx::query_as("SELECT status, detail FROM tasks WHERE name = 'generator'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(task, ("running".into(), Some("5 symbols".into())));

    // Recovery from the tables alone gives the same state.
    let back = pg::load(&pool, Fees::new(10, 20).unwrap(), FEE)
        .await
        .unwrap();
    check_state(&back);
    assert_eq!(back.seq as usize, history().len());
    let mine = pg::user_orders(&pool, 1_000_000_000).await.unwrap();
    assert_eq!(mine.iter().map(|o| o.id.0).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(mine[0].status, Status::PartiallyFilled);
    assert_eq!(
        pg::user_trades(&pool, 1_000_000_000).await.unwrap().len(),
        1
    );
}

#[sqlx::test]
async fn recovery_folds_the_journal_after_the_last_checkpoint(pool: PgPool) {
    let facts = history();
    // The first half is checkpointed; the rest is only in the journal when
    // the writer dies.
    let (first, rest) = facts.split_at(8);
    let (j, w) = write_all(&pool, first.to_vec()).await;
    drop(j);
    w.finish().await.unwrap();
    let d = pg::load(&pool, Fees::new(10, 20).unwrap(), FEE)
        .await
        .unwrap();
    let (j, w) = PgJournal::start(pool.clone(), d, config());
    let t = j.append(rest.to_vec());
    j.durable(t, Duration::from_secs(10)).await.unwrap();
    w.abort();
    let cp: i64 = sqlx::query_scalar("SELECT seq FROM checkpoint")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(cp, 8, "the crash left the tail unchecked-pointed");
    let back = pg::load(&pool, Fees::new(10, 20).unwrap(), FEE)
        .await
        .unwrap();
    check_state(&back);
    assert_eq!(back.seq as usize, facts.len());
}

/// Trading facts (orders and book events) go in packed rows, a run per
/// row; the rest stay one JSON row each. Readers see every fact at its own
/// number, from a position anywhere, inside a packed row included.
#[sqlx::test]
async fn trading_facts_are_packed_and_read_back_at_their_own_numbers(pool: PgPool) {
    let facts = history();
    let (j, w) = write_all(&pool, facts.clone()).await;
    let rows: Vec<(i64, String, i32)> =
        sqlx::query_as("SELECT seq, kind, facts FROM journal ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    let want: Vec<(i64, String, i32)> = [
        (1, "user", 1),
        (2, "open", 1),
        (3, "deposit", 1),
        (4, "open", 1),
        (5, "issue", 1),
        (6, "listed", 1),
        (7, "packed", 10),
        (17, "tick", 1),
    ]
    .into_iter()
    .map(|(s, k, n)| (s, k.to_string(), n))
    .collect();
    assert_eq!(rows, want);
    assert_eq!(pg::journal_end(&pool).await.unwrap(), facts.len() as u64);
    // Every event, numbered as it was appended.
    let events: Vec<(u64, Event)> = facts
        .iter()
        .zip(1..)
        .filter_map(|(f, seq)| match f {
            Fact::Event { event, .. } => Some((seq, *event)),
            _ => None,
        })
        .collect();
    for after in 0..=facts.len() as u64 {
        let read = pg::events_after(&pool, after, 100).await.unwrap();
        let got: Vec<(u64, Event)> = read.events.iter().map(|(s, _, e)| (*s, *e)).collect();
        let expected: Vec<_> = events.iter().filter(|(s, _)| *s > after).copied().collect();
        assert_eq!(got, expected, "events after {after}");
        assert_eq!(
            read.through,
            (facts.len() as u64).max(after),
            "read through, after {after}"
        );
    }
    // One row at a time, from inside the packed row: nothing skipped or repeated.
    let (mut after, mut seen) = (9, Vec::new());
    loop {
        let read = pg::events_after(&pool, after, 1).await.unwrap();
        if read.through == after {
            break;
        }
        seen.extend(read.events.iter().map(|(s, _, _)| *s));
        after = read.through;
    }
    let expected: Vec<u64> = events.iter().map(|(s, _)| *s).filter(|s| *s > 9).collect();
    assert_eq!(seen, expected);
    drop(j);
    check_state(&w.finish().await.unwrap());
}

/// The `Database` of the pool `#[sqlx::test]` made (its own database on
/// the server of `DATABASE_URL`).
async fn database_of(pool: &PgPool) -> pg::Database {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = url.rsplit_once('/').unwrap();
    let name = pool.connect_options().get_database().unwrap().to_string();
    pg::Database::connect(&format!("{server}/{name}"), 2, Duration::from_secs(5))
        .await
        .unwrap()
}

/// Exports of orders and trades read the checkpointed tables: one asks
/// the writer for a checkpoint and sees everything durable when it began,
/// without waiting for the next interval (an hour here; an export gives
/// up waiting after a minute).
#[sqlx::test]
async fn an_export_sees_everything_durable_without_waiting_for_the_next_checkpoint(pool: PgPool) {
    use actors::ports::{ExportQuery, ExportRow, ExportWhat, Exports};
    use futures::TryStreamExt;
    let db = database_of(&pool).await;
    let (j, w) = db.start_journal(fresh(), config());
    let t = j.append(history());
    j.durable(t, Duration::from_secs(10)).await.unwrap();
    let export = |what| {
        let rows = db
            .archive()
            .export(ExportQuery {
                what,
                account: None,
                from: Timestamp(0),
                to: Timestamp(10 * MIN),
                symbol: None,
            })
            .try_collect::<Vec<_>>();
        async move {
            tokio::time::timeout(Duration::from_secs(10), rows)
                .await
                .expect("the export waited for the hourly checkpoint")
                .unwrap()
        }
    };
    let trades: Vec<(OrderId, OrderId, u64)> = export(ExportWhat::Trades)
        .await
        .into_iter()
        .map(|r| match r {
            ExportRow::Trade(t) => (t.maker_order, t.taker_order, t.quantity),
            other => panic!("not a trade: {other:?}"),
        })
        .collect();
    assert_eq!(trades, [(OrderId(1), OrderId(2), 20)]);
    let orders: Vec<(OrderId, u64)> = export(ExportWhat::Orders)
        .await
        .into_iter()
        .map(|r| match r {
            ExportRow::Order(o) => (o.id, o.filled),
            other => panic!("not an order: {other:?}"),
        })
        .collect();
    assert_eq!(
        orders,
        [
            (OrderId(1), 20),
            (OrderId(2), 20),
            (OrderId(3), 0),
            (OrderId(4), 0)
        ]
    );
    drop(j);
    check_state(&w.finish().await.unwrap());
}

#[sqlx::test]
async fn concurrent_appends_are_group_committed_with_a_gap_free_sequence(pool: PgPool) {
    let (j, w) = PgJournal::start(pool.clone(), fresh(), config());
    let j = std::sync::Arc::new(j);
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let j = j.clone();
            tokio::spawn(async move {
                for i in 0..500 {
                    let t = j.append(vec![Fact::Tick {
                        symbol: acme(),
                        price: Price::from_minor(1_000 + i),
                        ts: Timestamp(MIN + k * 1_000 + i),
                        source: None,
                    }]);
                    if i % 100 == 99 {
                        j.durable(t, Duration::from_secs(10)).await.unwrap();
                    }
                }
                let t = j.last_ticket();
                j.durable(t, Duration::from_secs(10)).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let (n, lo, hi, batches): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT sum(facts)::int8, min(seq), max(seq + facts - 1)::int8, count(DISTINCT recorded_at) FROM journal",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((n, lo, hi), (4_000, 1, 4_000), "gap-free from 1");
    assert!(
        batches < 400,
        "4,000 appends were written in {batches} transactions: no group commit"
    );
    drop(j);
    let d = w.finish().await.unwrap();
    assert_eq!(d.seq, 4_000);
}

/// A loopback proxy in front of PostgreSQL that, once armed, lets the next
/// journal insert through to the server and then drops the server's reply
/// that says it is committed (and the connection): the COMMIT happened, its
/// acknowledgement is lost.
struct ReplyDropper {
    addr: std::net::SocketAddr,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ReplyDropper {
    async fn start(upstream: (String, u16)) -> ReplyDropper {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (a, d) = (armed.clone(), dropped.clone());
        tokio::spawn(async move {
            while let Ok((down, _)) = listener.accept().await {
                let Ok(up) = tokio::net::TcpStream::connect(upstream.clone()).await else {
                    continue;
                };
                let (a, a2, d) = (a.clone(), a.clone(), d.clone());
                tokio::spawn(async move {
                    let (mut dr, mut dw) = down.into_split();
                    let (mut ur, mut uw) = up.into_split();
                    let insert_sent =
                        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let sent = insert_sent.clone();
                    let to_server = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match dr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            let chunk = &buf[..n];
                            if a.load(Ordering::SeqCst)
                                && chunk.windows(19).any(|w| w == b"INSERT INTO journal")
                            {
                                sent.store(true, Ordering::SeqCst);
                            }
                            if uw.write_all(chunk).await.is_err() {
                                return;
                            }
                        }
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match ur.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        let has = |pat: &[u8]| chunk.windows(pat.len()).any(|w| w == pat);
                        // The reply that ends the insert's transaction:
                        // its CommandComplete (`INSERT 0 n` in autocommit,
                        // or `COMMIT`) and ReadyForQuery with status idle.
                        if insert_sent.load(Ordering::SeqCst)
                            && has(&[b'Z', 0, 0, 0, 5, b'I'])
                            && (has(b"INSERT 0 ") || has(b"COMMIT\0"))
                        {
                            // The reply to the insert: lost, with the
                            // connection (once; the retry goes through).
                            d.fetch_add(1, Ordering::SeqCst);
                            a2.store(false, Ordering::SeqCst);
                            break;
                        }
                        if dw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    to_server.abort();
                });
            }
        });
        ReplyDropper {
            addr,
            armed,
            dropped,
        }
    }
}

#[sqlx::test]
async fn a_lost_commit_acknowledgement_never_wedges_the_writer(pool: PgPool) {
    use std::sync::atomic::Ordering;
    let opts = (*pool.connect_options()).clone();
    let proxy = ReplyDropper::start((opts.get_host().to_string(), opts.get_port())).await;
    let via_proxy = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts.host("127.0.0.1").port(proxy.addr.port()))
        .await
        .unwrap();
    let (j, w) = PgJournal::start(via_proxy, fresh(), config());
    proxy.armed.store(true, Ordering::SeqCst);
    let facts = history();
    let t = j.append(facts.clone());
    // The insert reached the server and committed; its reply was dropped;
    // the retry finds the same facts there and carries on.
    j.durable(t, Duration::from_secs(15))
        .await
        .expect("the writer wedged after a lost acknowledgement");
    assert_eq!(
        proxy.dropped.load(Ordering::SeqCst),
        1,
        "no reply was dropped"
    );
    assert!(j.healthy());
    let more = j.append(vec![Fact::Tick {
        symbol: acme(),
        price: Price::from_minor(1_234),
        ts: Timestamp(5 * MIN),
        source: None,
    }]);
    j.durable(more, Duration::from_secs(10)).await.unwrap();
    let (n, lo, hi): (i64, i64, i64) = sqlx::query_as(
        "SELECT sum(facts)::int8, min(seq), max(seq + facts - 1)::int8 FROM journal",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let total = facts.len() as i64 + 1;
    assert_eq!((n, lo, hi), (total, 1, total), "each fact once, gap-free");
    drop(j);
    assert_eq!(w.finish().await.unwrap().seq as i64, total);
}

#[sqlx::test]
async fn a_journal_holding_other_facts_is_never_overwritten(pool: PgPool) {
    // Another writer already put something at seq 1.
    sqlx::query("INSERT INTO journal (seq, kind, fact) VALUES (1, 'tick', '{\"other\":true}')")
        .execute(&pool)
        .await
        .unwrap();
    let (j, _w) = PgJournal::start(pool.clone(), fresh(), config());
    let t = j.append(history());
    assert!(
        j.durable(t, Duration::from_millis(800)).await.is_err(),
        "facts were acknowledged over another writer's"
    );
    assert!(!j.healthy());
    let (n, fact): (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM journal), (SELECT fact::text FROM journal WHERE seq = 1)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((n, fact.as_str()), (1, "{\"other\":true}"));
}

/// A resting sell (order 9 of account 7) filled by a buy, journaled
/// before the sell's own acceptance (audit M1: a fill racing its order).
fn fill_before_acceptance() -> (Vec<Fact>, Fact) {
    let (a, b) = (AccountId(1_000_000_000), AccountId(7));
    let t = Trade {
        symbol: acme(),
        seq: 1,
        price: Price::from_minor(1_000),
        quantity: 10,
        maker_order: OrderId(9),
        maker_account: b,
        taker_order: OrderId(8),
        taker_account: a,
        taker_side: Side::Buy,
        ts: Timestamp(MIN),
    };
    let accepted = |order, account, side| {
        ev(Event::Accepted {
            order: OrderId(order),
            account,
            side,
            price: Price::from_minor(1_000),
            quantity: 10,
            ts: Timestamp(MIN),
        })
    };
    let facts = vec![
        Fact::Open { account: a },
        Fact::Deposit {
            account: a,
            amount: Money::from_minor(1_000_000),
        },
        Fact::Open { account: b },
        Fact::Issue {
            account: b,
            symbol: acme(),
            quantity: 10,
        },
        accepted(8, a, Side::Buy),
        ev(Event::Trade(t)),
        ev(Event::Filled {
            order: OrderId(9),
            account: b,
            ts: Timestamp(MIN),
        }),
        ev(Event::Filled {
            order: OrderId(8),
            account: a,
            ts: Timestamp(MIN),
        }),
    ];
    (facts, accepted(9, b, Side::Sell))
}

async fn status_of(pool: &PgPool, id: i64) -> (String, i64) {
    sqlx::query_as("SELECT status, remaining FROM orders WHERE order_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_late_acceptance_never_reopens_a_filled_order_across_a_checkpoint(pool: PgPool) {
    let (facts, late) = fill_before_acceptance();
    // The fill is checkpointed (the closed order leaves memory) ...
    let (j, w) = write_all(&pool, facts).await;
    drop(j);
    w.finish().await.unwrap();
    assert_eq!(status_of(&pool, 9).await.0, "filled");
    // ... then the acceptance arrives: once with a checkpoint after it,
    // once with the writer killed before one.
    for checkpointed in [false, true] {
        let d = pg::load(&pool, Fees::new(10, 20).unwrap(), FEE)
            .await
            .unwrap();
        let (j, w) = PgJournal::start(pool.clone(), d, config());
        let t = j.append(vec![late.clone()]);
        j.durable(t, Duration::from_secs(10)).await.unwrap();
        drop(j);
        if checkpointed {
            w.finish().await.unwrap();
        } else {
            w.abort();
        }
        assert_eq!(
            status_of(&pool, 9).await,
            ("filled".to_string(), 0),
            "checkpointed: {checkpointed}"
        );
        let back = pg::load(&pool, Fees::new(10, 20).unwrap(), FEE)
            .await
            .unwrap();
        assert!(
            back.open_orders().is_empty(),
            "a filled order would go back in the book (checkpointed: {checkpointed})"
        );
        let (cash, shares) = back.totals();
        assert_eq!((cash, shares[&acme()]), (1_000_000, 10));
    }
}

#[sqlx::test]
async fn a_refused_checkpoint_loses_no_rows(pool: PgPool) {
    let user = |id: u64, name: &str| Fact::User {
        account: AccountId(id),
        name: name.into(),
        key_hash: format!("{id:064}"),
        at: Timestamp(MIN),
    };
    // PostgreSQL refuses any checkpoint holding bob.
    sqlx::query("ALTER TABLE users ADD CONSTRAINT no_bob CHECK (name <> 'bob')")
        .execute(&pool)
        .await
        .unwrap();
    let fast = WriterConfig {
        checkpoint_every: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        ..config()
    };
    let (j, w) = PgJournal::start(pool.clone(), fresh(), fast);
    let t = j.append(vec![user(1_000_000_001, "ann"), user(1_000_000_002, "bob")]);
    j.durable(t, Duration::from_secs(10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = j.append(vec![user(1_000_000_003, "cy")]);
    j.durable(t, Duration::from_secs(10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let names = || async {
        sqlx::query_scalar::<_, String>("SELECT name FROM users ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    assert!(
        names().await.is_empty(),
        "every checkpoint holds bob, so none may land"
    );
    // A restart now folds the whole journal: nobody is lost.
    let load = || async {
        pg::load(&pool, Fees::new(10, 20).unwrap(), FEE)
            .await
            .unwrap()
    };
    assert_eq!(load().await.users.len(), 3);
    // Once PostgreSQL accepts, the kept rows land with the newer ones.
    sqlx::query("ALTER TABLE users DROP CONSTRAINT no_bob")
        .execute(&pool)
        .await
        .unwrap();
    let t = j.append(vec![user(1_000_000_004, "dan")]);
    j.durable(t, Duration::from_secs(10)).await.unwrap();
    drop(j);
    w.finish().await.unwrap();
    assert_eq!(names().await, ["ann", "bob", "cy", "dan"]);
    let back = load().await;
    assert_eq!((back.seq, back.users.len()), (4, 4));
}

#[sqlx::test]
async fn a_full_queue_reports_unhealthy_until_the_writer_catches_up(pool: PgPool) {
    let (j, w) = PgJournal::start(
        pool.clone(),
        fresh(),
        WriterConfig {
            max_pending: 10,
            ..config()
        },
    );
    // The writer has not run yet (one thread): the queue fills.
    j.append(history()[..8].to_vec());
    assert!(j.healthy(), "8 queued is under the bound");
    let t = j.append(history()[8..].to_vec());
    assert!(!j.healthy(), "beyond the bound: new trading is refused");
    j.durable(t, Duration::from_secs(10)).await.unwrap();
    assert!(j.healthy(), "written: trading resumes");
    drop(j);
    check_state(&w.finish().await.unwrap());
}

#[sqlx::test]
async fn trades_before_the_first_checkpoint_keep_their_numbering(pool: PgPool) {
    // A market listed from settings (no `Listed` fact) crashes before its
    // first checkpoint: the fold must still count its trades.
    let (facts, _) = fill_before_acceptance();
    let (j, w) = PgJournal::start(
        pool.clone(),
        Durable::new(Fees::new(10, 20).unwrap(), FEE),
        config(),
    );
    let t = j.append(facts);
    j.durable(t, Duration::from_secs(10)).await.unwrap();
    w.abort();
    let known = [(acme(), Price::from_minor(1), Price::from_minor(1_000))];
    let d = pg::load_with(&pool, Fees::new(10, 20).unwrap(), FEE, &known)
        .await
        .unwrap();
    let st = &d.stocks[&acme()];
    assert_eq!((st.trade_seq, st.stats.trades, st.stats.volume), (1, 1, 10));
}

#[sqlx::test]
async fn a_checkpoint_written_twice_finds_its_new_orders_there_and_carries_on(pool: PgPool) {
    // New orders go in without a conflict check; a checkpoint retried
    // after its commit went through (the acknowledgement lost) finds them
    // there, and must upsert them rather than fail for good.
    let mut d = fresh();
    for f in history() {
        d.apply(&f);
    }
    let snap = d.take_dirty();
    pg::write_checkpoint(&pool, &snap).await.unwrap();
    let first: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT order_id, status, remaining FROM orders ORDER BY order_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(!first.is_empty());
    pg::write_checkpoint(&pool, &snap)
        .await
        .expect("the same checkpoint again");
    let again: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT order_id, status, remaining FROM orders ORDER BY order_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(again, first);
    let trades: i64 = sqlx::query_scalar("SELECT count(*) FROM trades")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(trades, 1, "the trade copied once, then kept");
    // The open order, now known to be there, is updated by the next one.
    let open = d
        .open_orders()
        .first()
        .map(|o| o.id)
        .expect("an open order");
    d.apply(&ev(Event::Cancelled {
        order: open,
        account: d.orders[&open].account,
        remaining: d.orders[&open].remaining,
        reason: engine::CancelReason::Requested,
        ts: Timestamp(9 * MIN),
    }));
    pg::write_checkpoint(&pool, &d.take_dirty()).await.unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE order_id = $1")
        .bind(open.0 as i64)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
}

#[sqlx::test]
async fn a_client_order_id_with_backslashes_round_trips_through_a_checkpoint(pool: PgPool) {
    // New orders go in by COPY, whose text format gives a backslash a
    // meaning (`\N` is NULL, `\t` a tab): a client id may hold any
    // printable ASCII and must come back as sent.
    let odd = r"a\N\t\\b\";
    let mut d = fresh();
    for f in history() {
        d.apply(&match f {
            Fact::Order(o) if o.id == OrderId(2) => Fact::Order(OrderFact {
                client_order_id: Some(engine::ClientOrderId::new(odd).unwrap()),
                ..o
            }),
            f => f,
        });
    }
    pg::write_checkpoint(&pool, &d.take_dirty()).await.unwrap();
    let stored: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT order_id, client_order_id FROM orders ORDER BY order_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        [(1, None), (2, Some(odd.into())), (3, None), (4, None)]
    );
    let back = pg::load(&pool, Fees::new(10, 20).unwrap(), FEE)
        .await
        .unwrap();
    assert_eq!(
        back.orders[&OrderId(2)]
            .client_order_id
            .map(|c| c.as_str().to_string()),
        Some(odd.to_string())
    );
}
