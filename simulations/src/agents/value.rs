//! Value investor: observes the reference (fundamental) price with noise,
//! keeps a smoothed belief, and trades toward it: crossing the spread with
//! some probability, otherwise quoting passively between the touch and its
//! belief. Cancels its working orders at each wake.

use actors::kernel::{Action, WakeCtx};
use engine::{Price, Side};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{Agent, Memory, to_tick};
use crate::scenario::ValueParams;

pub fn wake(a: &mut Agent, p: &ValueParams, ctx: &WakeCtx<'_>, out: &mut Vec<Action>) {
    a.cancel_all(out);
    let symbol = a.pick_symbol();
    let Some(m) = ctx.market.get(&symbol) else {
        return;
    };
    let z: f64 = StandardNormal.sample(&mut a.rng);
    let obs = m.reference.minor() as f64 * (1.0 + p.obs_noise * z);
    let belief = match &mut a.memory {
        Memory::Beliefs(b) => {
            let e = b.entry(symbol).or_insert(obs);
            *e = (1.0 - p.kappa) * *e + p.kappa * obs;
            *e
        }
        _ => obs,
    };
    let mid = m.mid().minor() as f64;
    let tick = m.tick;
    let side = if belief > mid { Side::Buy } else { Side::Sell };
    let qty = a.rng.random_range(p.min_qty..=p.max_qty);
    // The further the price from its belief, the likelier it crosses now.
    let mispricing_bps = if mid > 0.0 {
        (belief - mid).abs() / mid * 10_000.0
    } else {
        0.0
    };
    let prob = if p.urgency_bps > 0.0 {
        (p.aggressive_prob + (1.0 - p.aggressive_prob) * mispricing_bps / p.urgency_bps).min(1.0)
    } else {
        p.aggressive_prob
    };
    let aggressive = a.rng.random_bool(prob);
    let price = match side {
        Side::Buy => {
            let ask = m.ask.map(|l| l.price.minor() as f64).unwrap_or(belief);
            if aggressive {
                to_tick(ask.min(belief.max(mid)), tick)
            } else {
                let bid = m
                    .bid
                    .map(|l| l.price.minor() as f64)
                    .unwrap_or(mid - tick.minor() as f64);
                let top = belief.min(ask - tick.minor() as f64).max(bid);
                to_tick(a.rng.random_range(bid..=top.max(bid)), tick)
            }
        }
        Side::Sell => {
            let bid = m.bid.map(|l| l.price.minor() as f64).unwrap_or(belief);
            if aggressive {
                to_tick(bid.max(belief.min(mid)), tick)
            } else {
                let ask = m
                    .ask
                    .map(|l| l.price.minor() as f64)
                    .unwrap_or(mid + tick.minor() as f64);
                let bottom = belief.max(bid + tick.minor() as f64).min(ask);
                to_tick(a.rng.random_range(bottom.min(ask)..=ask), tick)
            }
        }
    };
    let _ = a.limit(symbol, side, qty, Price::from_minor(price.minor()), out);
}
