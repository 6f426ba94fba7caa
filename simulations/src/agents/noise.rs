//! Noise trader: random limit orders around the mid (sometimes crossing it)
//! and occasional market orders; cancels its oldest order beyond `max_open`.

use actors::kernel::{Action, WakeCtx};
use engine::{Price, Side, TimeInForce};
use rand::Rng;

use super::Agent;
use crate::scenario::NoiseParams;

pub fn wake(a: &mut Agent, p: &NoiseParams, ctx: &WakeCtx<'_>, out: &mut Vec<Action>) {
    let symbol = a.pick_symbol();
    let Some(m) = ctx.market.get(&symbol) else {
        return;
    };
    if a.open.len() >= p.max_open as usize {
        if let Some((&id, o)) = a.open.iter().next() {
            out.push(Action::Cancel {
                id,
                account: a.account,
                symbol: o.symbol,
            });
        }
    }
    let side = if a.rng.random_bool(0.5) {
        Side::Buy
    } else {
        Side::Sell
    };
    let qty = a.rng.random_range(p.min_qty..=p.max_qty);
    if a.rng.random_bool(p.market_prob) {
        a.market(m, side, qty, 5, out);
        return;
    }
    let tick = m.tick.minor();
    let max = i64::from(p.max_offset_ticks.max(1));
    // Mostly passive, a quarter of the range crosses the mid.
    let offset = a.rng.random_range(-(max / 4)..=max);
    let mid = m.mid().minor() / tick * tick;
    let price = match side {
        Side::Buy => mid - offset * tick,
        Side::Sell => mid + offset * tick,
    };
    let tif = if p.gtc_prob > 0.0 && a.rng.random_bool(p.gtc_prob) {
        TimeInForce::Gtc
    } else {
        TimeInForce::Day
    };
    a.limit_tif(
        symbol,
        side,
        qty,
        Price::from_minor(price.max(tick)),
        tif,
        out,
    );
}
