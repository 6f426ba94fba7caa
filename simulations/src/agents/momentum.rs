//! Momentum trader: records the mid at each wake and buys (market order)
//! when the short average is above the long one, sells when below, within a
//! position limit.

use std::collections::VecDeque;

use actors::kernel::{Action, WakeCtx};
use engine::Side;
use rand::Rng;

use super::{Agent, Memory};
use crate::scenario::MomentumParams;

pub fn wake(a: &mut Agent, p: &MomentumParams, ctx: &WakeCtx<'_>, out: &mut Vec<Action>) {
    let symbol = a.pick_symbol();
    let Some(m) = ctx.market.get(&symbol) else {
        return;
    };
    let mid = m.mid().minor();
    let Memory::History(h) = &mut a.memory else {
        return;
    };
    let hist = h.entry(symbol).or_insert_with(VecDeque::new);
    hist.push_back(mid);
    while hist.len() > p.long_window {
        hist.pop_front();
    }
    if hist.len() < p.long_window {
        return;
    }
    let avg = |n: usize| hist.iter().rev().take(n).sum::<i64>() as f64 / n as f64;
    let (short, long) = (avg(p.short_window), avg(p.long_window));
    let pos = a.position(symbol);
    let qty = a.rng.random_range(p.min_qty..=p.max_qty);
    if short > long && pos < p.max_position {
        a.market(m, Side::Buy, qty, 5, out);
    } else if short < long && pos > -p.max_position {
        a.market(m, Side::Sell, qty, 5, out);
    }
}
