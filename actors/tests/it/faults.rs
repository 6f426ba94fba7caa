//! An actor that fails part-way through routing costs only its own
//! commands (audit M4): reservations made before the failure are released,
//! trades that matched are settled, and a book rejection after a
//! reservation releases it. Conservation holds after each.
//!
//! Current-thread runtimes: `crash()` queues the panic ahead of the
//! batch's message, so the failure lands in the phase under test.

use actors::ticker::{TickerConfig, TickerCore};
use actors::{Command, MarketHandle};
use engine::{
    AccountId, Event, Money, Order, OrderId, Price, RejectReason, Side, Symbol, TimeInForce,
    Timestamp,
};

use crate::{TICK, limit, market, sym, totals};

fn beta() -> Symbol {
    Symbol::new("BETA").unwrap()
}

/// `market()` plus BETA, and users 10, 11 and 12 in actors of their own:
/// 11 rests a sell of 30 ACME at 100.00.
async fn setup() -> MarketHandle {
    let m = market().await;
    m.list(TickerCore::new(
        beta(),
        TICK,
        Price::from_minor(5_000),
        TickerConfig {
            ticks_update_stats: false,
        },
    ))
    .await
    .unwrap();
    for id in [AccountId(10), AccountId(11), AccountId(12)] {
        let h = m.own_actor(id).await.unwrap();
        h.open(id, Money::from_major(5_000)).await.unwrap().unwrap();
    }
    m.accounts_of(AccountId(11))
        .apply(actors::account::AccountCmd::Issue(AccountId(11), sym(), 50))
        .await
        .unwrap()
        .unwrap();
    m.submit(
        Timestamp(1),
        vec![Command::Place(limit(1, 11, Side::Sell, 30, 10_000))],
    )
    .await
    .unwrap();
    m
}

fn buy_beta(id: u64, acc: u64) -> Order {
    Order::limit(
        OrderId(id),
        AccountId(acc),
        beta(),
        Side::Buy,
        10,
        Price::from_minor(5_000),
        TimeInForce::Gtc,
        TICK,
        Timestamp(0),
    )
    .unwrap()
}

async fn account(m: &MarketHandle, id: u64) -> engine::Account {
    m.accounts_of(AccountId(id))
        .get(AccountId(id))
        .await
        .unwrap()
        .unwrap()
}

fn traded(r: &actors::matcher::Routed) -> u64 {
    r.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Trade(t) => Some(t.quantity),
            _ => None,
        })
        .sum()
}

fn rejected(r: &actors::matcher::Routed, id: u64) -> Option<RejectReason> {
    r.events.iter().find_map(|(_, e)| match e {
        Event::Rejected { order, reason, .. } if order.0 == id => Some(*reason),
        _ => None,
    })
}

/// Every actor consistent, nothing reserved by `idle` accounts, and the
/// totals as `before`, once a settlement an actor lost has been sent again
/// (within 2 s).
async fn conserved(m: &MarketHandle, before: (Money, u64), idle: &[u64]) {
    let mut last = String::new();
    for _ in 0..200 {
        match check(m, before, idle).await {
            Ok(()) => return,
            Err(e) => last = e,
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{last}");
}

async fn check(m: &MarketHandle, before: (Money, u64), idle: &[u64]) -> Result<(), String> {
    for h in m.directory().account_actors() {
        h.settle_wait(vec![]).await.map_err(|e| e.to_string())?;
        h.check_invariants().await.map_err(|e| e.to_string())??;
    }
    for id in idle {
        let a = m
            .accounts_of(AccountId(*id))
            .get(AccountId(*id))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no account")?;
        if a.reserved_cash() != Money::ZERO {
            return Err(format!("account {id} leaked cash"));
        }
    }
    let now = totals(m).await;
    if now != before {
        return Err(format!("not conserved: {now:?} vs {before:?}"));
    }
    Ok(())
}

#[tokio::test]
async fn an_account_actor_failing_at_reservation_costs_only_its_own_orders() {
    let m = setup().await;
    let before = totals(&m).await;
    m.accounts_of(AccountId(12)).crash();
    let r = m
        .submit(
            Timestamp(2),
            vec![
                Command::Place(limit(2, 10, Side::Buy, 10, 10_000)),
                Command::Place(limit(3, 12, Side::Buy, 10, 10_000)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.failures.len(), 1);
    assert_eq!(traded(&r), 10, "the healthy account's order traded");
    assert_eq!(rejected(&r, 3), Some(RejectReason::MarketUnavailable));
    conserved(&m, before, &[10, 12]).await;
    let buyer = account(&m, 10).await;
    assert_eq!(buyer.holding(sym()).quantity, 10, "and was settled");
    m.shutdown();
}

#[tokio::test]
async fn a_ticker_failing_at_matching_releases_its_orders_and_keeps_the_others_trades() {
    let m = setup().await;
    let before = totals(&m).await;
    m.ticker(beta()).unwrap().crash_on_next_batch();
    let r = m
        .submit(
            Timestamp(2),
            vec![
                Command::Place(limit(2, 10, Side::Buy, 10, 10_000)),
                Command::Place(buy_beta(3, 12)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.failures.len(), 1);
    assert_eq!(traded(&r), 10, "ACME matched and is kept");
    assert_eq!(rejected(&r, 3), Some(RejectReason::MarketUnavailable));
    // 12's reservation for the BETA buy was released; 10's fill settled.
    conserved(&m, before, &[10, 12]).await;
    let seller = account(&m, 11).await;
    assert_eq!(seller.holding(sym()).quantity, 40);
    m.shutdown();
}

#[tokio::test]
async fn a_counterpartys_actor_failing_at_settlement_still_gets_the_trade() {
    let m = setup().await;
    let before = totals(&m).await;
    // The seller's actor takes no part until settlement.
    m.accounts_of(AccountId(11)).crash();
    let r = m
        .submit(
            Timestamp(2),
            vec![Command::Place(limit(2, 10, Side::Buy, 10, 10_000))],
        )
        .await
        .unwrap();
    assert_eq!(traded(&r), 10);
    conserved(&m, before, &[10]).await;
    let seller = account(&m, 11).await;
    assert_eq!(seller.holding(sym()).quantity, 40, "the seller delivered");
    assert_eq!(seller.holding(sym()).reserved, 20, "and still offers 20");
    assert!(m.supervisor().restarts().await.unwrap() >= 1);
    m.shutdown();
}

#[tokio::test]
async fn a_book_rejection_after_the_reservation_releases_it() {
    let m = setup().await;
    let before = totals(&m).await;
    // Order id 1 rests in the book (11's sell); 10 reuses the id: its own
    // actor reserves, the book refuses the duplicate.
    let r = m
        .submit(
            Timestamp(2),
            vec![Command::Place(limit(1, 10, Side::Buy, 5, 9_000))],
        )
        .await
        .unwrap();
    assert_eq!(
        r.events.iter().find_map(|(_, e)| match e {
            Event::Rejected {
                account, reason, ..
            } if account.0 == 10 => Some(*reason),
            _ => None,
        }),
        Some(RejectReason::DuplicateOrderId)
    );
    conserved(&m, before, &[10]).await;
    m.shutdown();
}

/// A ticker that takes its first message and never finishes it.
struct Stuck;

impl ractor::Actor for Stuck {
    type Msg = actors::TickerMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _me: ractor::ActorRef<actors::TickerMsg>,
        _args: (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _me: ractor::ActorRef<actors::TickerMsg>,
        _msg: actors::TickerMsg,
        _state: &mut (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// Audit M7: reference ticks count against the ticker's in-flight limit
/// until applied, so a tick source waits instead of filling the mailbox of
/// a ticker that does not keep up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_wait_for_a_ticker_that_does_not_keep_up() {
    let (actor, _task) = ractor::Actor::spawn(None, Stuck, ()).await.unwrap();
    let h = actors::TickerHandle::new(sym(), engine::Price::from_minor(1), actor);
    for i in 0..actors::MAX_IN_FLIGHT as i64 {
        h.tick(engine::Price::from_minor(100 + i), Timestamp(i))
            .await
            .unwrap();
    }
    assert_eq!(h.in_flight(), actors::MAX_IN_FLIGHT);
    let one_more = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        h.tick(engine::Price::from_minor(1), Timestamp(0)),
    )
    .await;
    assert!(
        one_more.is_err(),
        "a tick beyond the limit went into the mailbox"
    );
}
