//! Market maker: on a fixed clock, withdraws its quotes and posts `levels`
//! bids and asks of `size` shares around a centre that blends the book's mid
//! with the reference price, skewed against its inventory. Past
//! `max_inventory` it stops quoting the side that would add to it. This is
//! the replenishing "available quantity" of the seed applications. Quotes
//! are post-only: a bid never reaches the best ask it sees, nor an ask the
//! best bid. With `caution`, it quotes wider and smaller while its
//! symbol's price moves more than usual, as a maker facing informed flow
//! protects itself.

use actors::kernel::{Action, WakeCtx};
use engine::{Price, Side, Symbol};

use super::{Agent, to_tick};
use crate::scenario::MarketMakerParams;

/// `activity(symbol)`: how much the symbol's price has been moving against
/// usual (1 when unknown).
pub fn wake(
    a: &mut Agent,
    p: &MarketMakerParams,
    ctx: &WakeCtx<'_>,
    activity: impl Fn(Symbol) -> f64,
    out: &mut Vec<Action>,
) {
    a.cancel_all(out);
    // Quotes being withdrawn no longer count against what it can commit.
    let withdrawn = std::mem::take(&mut a.open);
    for symbol in a.symbols.clone() {
        let Some(m) = ctx.market.get(&symbol) else {
            continue;
        };
        let tick = m.tick.minor() as f64;
        let wary = if p.caution > 0.0 {
            activity(symbol).powf(p.caution)
        } else {
            1.0
        };
        let half_spread = (f64::from(p.half_spread_ticks) * wary).round().max(1.0);
        let size = ((p.size as f64 / wary).round() as u64).max(1);
        let book_mid = match (m.bid, m.ask) {
            (Some(b), Some(s)) => (b.price.minor() + s.price.minor()) as f64 / 2.0,
            _ => m.reference.minor() as f64,
        };
        let inv = a.position(symbol);
        let skew = -(inv as f64 / p.max_inventory.max(1) as f64) * half_spread * tick;
        let centre = p.anchor * m.reference.minor() as f64 + (1.0 - p.anchor) * book_mid + skew;
        let mut cash_left = a.spendable();
        let mut shares_left = a.sellable(symbol);
        for k in 0..p.levels {
            let off = (half_spread + f64::from(k * p.level_spacing_ticks)) * tick;
            // Post-only: never cross the touch it sees.
            let mut bid = to_tick(centre - off, m.tick);
            if let Some(ask) = m.ask {
                bid = bid.min(Price::from_minor(
                    (ask.price.minor() - m.tick.minor()).max(m.tick.minor()),
                ));
            }
            let cost = bid.minor().saturating_mul(size as i64);
            if inv < p.max_inventory
                && cost <= cash_left
                && a.limit(symbol, Side::Buy, size, bid, out)
            {
                cash_left -= cost;
            }
            if inv > -p.max_inventory && size <= shares_left {
                let mut ask = to_tick(centre + off, m.tick);
                if let Some(b) = m.bid {
                    ask = ask.max(Price::from_minor(b.price.minor() + m.tick.minor()));
                }
                if a.limit(
                    symbol,
                    Side::Sell,
                    size,
                    Price::from_minor(ask.minor()),
                    out,
                ) {
                    shares_left -= size;
                }
            }
        }
    }
    a.open = withdrawn;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use actors::TickerSnapshot;
    use actors::kernel::{Action, WakeCtx};
    use engine::{DayStats, Price, Side, Symbol, Timestamp};

    use crate::Scenario;
    use crate::agents::Agents;
    use crate::scenario::AgentKind;

    /// The maker's innermost bid and ask (minor units) and shares a level,
    /// quoting around 100.00 with `ratio` as its symbol's activity.
    fn quotes(caution: f64, ratio: f64) -> (i64, i64, u64) {
        let text = format!(
            "name = \"mm\"\n[[symbols]]\nsymbol = \"ACME\"\ninitial_price = \"100.00\"\nfloat = 100000\n\
             [[agents]]\ntype = \"market_maker\"\ncount = 1\n[agents.params]\n\
             half_spread_ticks = 4\nsize = 100\nanchor = 1.0\ncaution = {caution}\n"
        );
        let plan = Scenario::parse(&text, "mm.toml").unwrap();
        let mut agents = Agents::new(&plan, 1);
        let a = &mut agents.agents[0];
        let AgentKind::MarketMaker(p) = a.kind.clone() else {
            panic!("not a maker")
        };
        let symbol = Symbol::new("ACME").unwrap();
        let reference = Price::from_minor(10_000);
        let market = BTreeMap::from([(
            symbol,
            TickerSnapshot {
                symbol,
                tick: Price::from_minor(1),
                reference,
                bid: None,
                ask: None,
                stats: DayStats::new(reference),
                resting: 0,
                ask_quantity: 0,
            },
        )]);
        let ctx = WakeCtx {
            step: 0,
            day: 0,
            ts: Timestamp(0),
            market: &market,
        };
        let mut out = Vec::new();
        super::wake(a, &p, &ctx, |_| ratio, &mut out);
        let (mut bid, mut ask, mut size) = (0, i64::MAX, 0);
        for action in out {
            if let Action::Place {
                side,
                quantity,
                limit_price: Some(price),
                ..
            } = action
            {
                size = quantity;
                match side {
                    Side::Buy => bid = bid.max(price.minor()),
                    Side::Sell => ask = ask.min(price.minor()),
                }
            }
        }
        (bid, ask, size)
    }

    #[test]
    fn a_cautious_maker_quotes_wider_and_smaller_while_prices_move_more_than_usual() {
        assert_eq!(
            quotes(1.0, 1.0),
            (9_996, 10_004, 100),
            "usual: as configured"
        );
        assert_eq!(quotes(1.0, 2.0), (9_992, 10_008, 50), "twice the moves");
        assert_eq!(
            quotes(1.0, 0.5),
            (9_998, 10_002, 200),
            "half: tighter, deeper"
        );
        assert_eq!(quotes(0.0, 2.0), (9_996, 10_004, 100), "no caution");
    }
}
