//! The kernel with a small test population.

use std::collections::BTreeMap;
use std::sync::Arc;

use actors::kernel::{Action, KernelConfig, Observer, Population, WakeCtx};
use actors::{Kernel, PriceWalk};
use engine::{
    AccountId, Event, Gbm, GbmParams, Money, OrderType, Price, Side, Symbol, TimeInForce, Timestamp,
};

use crate::{market, sym, totals};

/// Account 1 tries to buy far more than it can pay, every step it wakes;
/// account 2 sells a little.
struct Greedy {
    wakes: u64,
    denied: u64,
    events: u64,
}

impl Population for Greedy {
    fn schedule(&mut self) -> Vec<(u64, u32)> {
        vec![(0, 0), (0, 1)]
    }
    fn wake(&mut self, agent: u32, ctx: &WakeCtx<'_>, out: &mut Vec<Action>) -> Option<u64> {
        self.wakes += 1;
        let (account, side, qty) = if agent == 0 {
            (AccountId(1), Side::Buy, 2_000)
        } else {
            (AccountId(2), Side::Sell, 5)
        };
        out.push(Action::Place {
            account,
            symbol: sym(),
            side,
            order_type: OrderType::Limit,
            quantity: qty,
            limit_price: Some(Price::from_minor(10_000)),
            collar: None,
            time_in_force: TimeInForce::Day,
        });
        Some(ctx.step + 10)
    }
    fn on_event(&mut self, _s: Symbol, e: &Event) {
        self.events += 1;
        if matches!(e, Event::Rejected { .. }) {
            self.denied += 1;
        }
    }
}

#[derive(Default)]
struct Count {
    steps: u64,
}
impl Observer for Count {
    fn on_progress(&mut self, _step: u64, _total: u64) {
        self.steps += 1;
    }
}

fn config() -> KernelConfig {
    KernelConfig {
        start: Timestamp::from_secs(1_000_000),
        step_nanos: 1_000_000_000,
        steps_per_day: 600,
        days: 2,
        day_nanos: 86_400 * 1_000_000_000,
        seed: 5,
        record_every: 60,
    }
}

fn walk() -> PriceWalk {
    let mut w = PriceWalk::default();
    w.add(
        sym(),
        Gbm::new(
            Price::from_minor(10_000),
            Price::from_minor(1),
            GbmParams::default(),
        )
        .unwrap(),
        5,
        0,
    );
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_overspends_gets_denials_and_never_a_negative_balance() {
    let m = market().await;
    let before = totals(&m).await;
    let mut pop = Greedy {
        wakes: 0,
        denied: 0,
        events: 0,
    };
    let mut obs = Count::default();
    let mut k = Kernel::new(m.directory(), walk(), config());
    let stats = k.run(&mut pop, &mut obs).await.unwrap();
    // 2,000 x 100.00 = 200,000.00 > 100,000.00: every greedy buy is denied.
    assert_eq!(stats.denied, 120);
    assert_eq!(pop.denied, 120);
    let a = m
        .accounts_of(AccountId(1))
        .get(AccountId(1))
        .await
        .unwrap()
        .unwrap();
    assert!(!a.cash().is_negative() && a.reserved_cash() <= a.cash());
    assert_eq!(a.cash(), Money::from_major(100_000));
    for h in m.directory().account_actors() {
        assert_eq!(h.check_invariants().await.unwrap(), Ok(()));
    }
    assert_eq!(totals(&m).await, before);
    // Sells rest as DAY orders and expire at each close.
    assert_eq!(stats.expired, 120);
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_steps_are_skipped_but_prices_are_recorded_every_minute() {
    struct Idle;
    impl Population for Idle {
        fn schedule(&mut self) -> Vec<(u64, u32)> {
            vec![]
        }
        fn wake(&mut self, _a: u32, _c: &WakeCtx<'_>, _o: &mut Vec<Action>) -> Option<u64> {
            None
        }
        fn on_event(&mut self, _s: Symbol, _e: &Event) {}
    }
    let m = market().await;
    let mut k = Kernel::new(m.directory(), walk(), config());
    let mut obs = Count::default();
    let stats = k.run(&mut Idle, &mut obs).await.unwrap();
    // 600 steps a day, one record per 60 steps: 10 active steps a day.
    assert_eq!(stats.active_steps, 20);
    assert_eq!(stats.ticks, 20);
    assert_eq!(stats.total_steps, 1_200);
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_snapshots_reach_agents_with_the_reference_price() {
    struct Look(BTreeMap<u64, Price>);
    impl Population for Look {
        fn schedule(&mut self) -> Vec<(u64, u32)> {
            vec![(30, 0)]
        }
        fn wake(&mut self, _a: u32, c: &WakeCtx<'_>, _o: &mut Vec<Action>) -> Option<u64> {
            self.0.insert(c.step, c.market[&sym()].reference);
            (c.step < 500).then_some(c.step + 100)
        }
        fn on_event(&mut self, _s: Symbol, _e: &Event) {}
    }
    let m = market().await;
    let mut k = Kernel::new(m.directory(), walk(), config());
    let mut look = Look(BTreeMap::new());
    k.run(&mut look, &mut Count::default()).await.unwrap();
    assert_eq!(
        look.0.keys().copied().collect::<Vec<_>>(),
        [30, 130, 230, 330, 430, 530]
    );
    assert!(look.0.values().all(|p| p.is_positive()));
    let _ = Arc::strong_count(&m.directory());
    m.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gtc_order_rests_over_the_close_and_trades_the_next_day_while_day_orders_expire() {
    // Account 2 offers 5 GTC and 5 DAY at 101.00 on day 1; account 1 buys
    // 10 at 101.00 on day 2 (step 600 is the next day's open).
    struct Overnight {
        trades: Vec<(u64, Timestamp)>,
        expired: Vec<u64>,
    }
    impl Population for Overnight {
        fn schedule(&mut self) -> Vec<(u64, u32)> {
            vec![(10, 0), (700, 1)]
        }
        fn wake(&mut self, agent: u32, _c: &WakeCtx<'_>, out: &mut Vec<Action>) -> Option<u64> {
            let place = |account, side, qty, tif| Action::Place {
                account: AccountId(account),
                symbol: sym(),
                side,
                order_type: OrderType::Limit,
                quantity: qty,
                limit_price: Some(Price::from_minor(10_100)),
                collar: None,
                time_in_force: tif,
            };
            if agent == 0 {
                out.push(place(2, Side::Sell, 5, TimeInForce::Gtc));
                out.push(place(2, Side::Sell, 5, TimeInForce::Day));
            } else {
                out.push(place(1, Side::Buy, 10, TimeInForce::Day));
            }
            None
        }
        fn on_event(&mut self, _s: Symbol, e: &Event) {
            match e {
                Event::Trade(t) => self.trades.push((t.maker_order.0, t.ts)),
                Event::Expired { order, .. } => self.expired.push(order.0),
                _ => {}
            }
        }
    }
    let m = market().await;
    let mut pop = Overnight {
        trades: Vec::new(),
        expired: Vec::new(),
    };
    let cfg = config();
    let day2 = Timestamp(cfg.start.0 + cfg.day_nanos);
    let mut k = Kernel::new(m.directory(), walk(), cfg);
    k.run(&mut pop, &mut Count::default()).await.unwrap();
    // The GTC sell (the first order) traded on day 2; the DAY sell expired at
    // day 1's close; the rest of the DAY buy expired at day 2's.
    assert_eq!(pop.trades.len(), 1, "{:?}", pop.trades);
    let (maker, ts) = pop.trades[0];
    assert!(ts >= day2, "traded on day 1");
    assert!(pop.expired.contains(&(maker + 1)), "{:?}", pop.expired);
    assert!(!pop.expired.contains(&maker));
    assert_eq!(pop.expired.len(), 2);
    m.shutdown();
}
