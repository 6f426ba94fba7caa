//! Integration tests of the actors crate: real actors on a tokio runtime.
mod faults;
mod kernel;
mod router;
mod routing;
mod supervision;

use actors::MarketHandle;
use actors::ticker::{TickerConfig, TickerCore};
use engine::{AccountId, Fees, Money, Order, OrderId, Price, Side, Symbol, TimeInForce, Timestamp};

pub const FEE: AccountId = AccountId(u64::MAX);
pub const TICK: Price = Price::from_minor(1);

pub fn sym() -> Symbol {
    Symbol::new("ACME").unwrap()
}

/// A market with one symbol, accounts 1 (cash) and 2 (shares) in shard actors.
pub async fn market() -> MarketHandle {
    let m = MarketHandle::start(Fees::new(2, 4).unwrap(), FEE, 2)
        .await
        .unwrap();
    m.list(TickerCore::new(
        sym(),
        TICK,
        Price::from_minor(10_000),
        TickerConfig {
            ticks_update_stats: false,
        },
    ))
    .await
    .unwrap();
    for id in [AccountId(1), AccountId(2)] {
        m.accounts_of(id)
            .open(id, Money::from_major(100_000))
            .await
            .unwrap()
            .unwrap();
    }
    let h = m.accounts_of(AccountId(2));
    h.apply(actors::account::AccountCmd::Issue(
        AccountId(2),
        sym(),
        1_000,
    ))
    .await
    .unwrap()
    .unwrap();
    m
}

pub fn limit(id: u64, acc: u64, side: Side, qty: u64, px: i64) -> Order {
    Order::limit(
        OrderId(id),
        AccountId(acc),
        sym(),
        side,
        qty,
        Price::from_minor(px),
        TimeInForce::Gtc,
        TICK,
        Timestamp(0),
    )
    .unwrap()
}

/// Sum of cash and of ACME shares over every account actor.
pub async fn totals(m: &MarketHandle) -> (Money, u64) {
    let mut cash = 0i64;
    let mut shares = 0u64;
    for h in m.directory().account_actors() {
        let t = h.totals().await.unwrap();
        cash += t.cash.minor();
        shares += t.shares.get(&sym()).copied().unwrap_or(0);
    }
    (Money::from_minor(cash), shares)
}
