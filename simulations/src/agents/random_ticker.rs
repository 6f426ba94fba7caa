//! Random ticker: each interval one random symbol's reference price jumps by
//! up to `max_jump_pct` either way (the FastAPI stock-simulation demo's
//! price mover). It places no orders.

use actors::kernel::{Action, WakeCtx};
use rand::Rng;

use super::Agent;
use crate::scenario::RandomTickerParams;

pub fn wake(a: &mut Agent, p: &RandomTickerParams, _ctx: &WakeCtx<'_>, out: &mut Vec<Action>) {
    let symbol = a.pick_symbol();
    let max = (1.0 + p.max_jump_pct / 100.0).ln();
    if max > 0.0 {
        let log_ret = a.rng.random_range(-max..=max);
        out.push(Action::Shock { symbol, log_ret });
    }
}
