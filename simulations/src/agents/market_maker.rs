//! Market maker: on a fixed clock, withdraws its quotes and posts `levels`
//! bids and asks of `size` shares around a centre that blends the book's mid
//! with the reference price, skewed against its inventory. Past
//! `max_inventory` it stops quoting the side that would add to it. This is
//! the replenishing "available quantity" of the seed applications. Quotes
//! are post-only: a bid never reaches the best ask it sees, nor an ask the
//! best bid.

use actors::kernel::{Action, WakeCtx};
use engine::{Price, Side};

use super::{Agent, to_tick};
use crate::scenario::MarketMakerParams;

pub fn wake(a: &mut Agent, p: &MarketMakerParams, ctx: &WakeCtx<'_>, out: &mut Vec<Action>) {
    a.cancel_all(out);
    // Quotes being withdrawn no longer count against what it can commit.
    let withdrawn = std::mem::take(&mut a.open);
    for symbol in a.symbols.clone() {
        let Some(m) = ctx.market.get(&symbol) else {
            continue;
        };
        let tick = m.tick.minor() as f64;
        let book_mid = match (m.bid, m.ask) {
            (Some(b), Some(s)) => (b.price.minor() + s.price.minor()) as f64 / 2.0,
            _ => m.reference.minor() as f64,
        };
        let inv = a.position(symbol);
        let skew =
            -(inv as f64 / p.max_inventory.max(1) as f64) * f64::from(p.half_spread_ticks) * tick;
        let centre = p.anchor * m.reference.minor() as f64 + (1.0 - p.anchor) * book_mid + skew;
        let mut cash_left = a.spendable();
        let mut shares_left = a.sellable(symbol);
        for k in 0..p.levels {
            let off = f64::from(p.half_spread_ticks + k * p.level_spacing_ticks) * tick;
            // Post-only: never cross the touch it sees.
            let mut bid = to_tick(centre - off, m.tick);
            if let Some(ask) = m.ask {
                bid = bid.min(Price::from_minor(
                    (ask.price.minor() - m.tick.minor()).max(m.tick.minor()),
                ));
            }
            let cost = bid.minor().saturating_mul(p.size as i64);
            if inv < p.max_inventory
                && cost <= cash_left
                && a.limit(symbol, Side::Buy, p.size, bid, out)
            {
                cash_left -= cost;
            }
            if inv > -p.max_inventory && p.size <= shares_left {
                let mut ask = to_tick(centre + off, m.tick);
                if let Some(b) = m.bid {
                    ask = ask.max(Price::from_minor(b.price.minor() + m.tick.minor()));
                }
                if a.limit(
                    symbol,
                    Side::Sell,
                    p.size,
                    Price::from_minor(ask.minor()),
                    out,
                ) {
                    shares_left -= p.size;
                }
            }
        }
    }
    a.open = withdrawn;
}
