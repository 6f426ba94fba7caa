//! Every shipped scenario runs and conserves cash and shares.

use crate::{run, shipped};

fn check(name: &str, close: Option<&str>) -> simulations::Outcome {
    let out = run(&shipped(name, close), 2, None);
    let c = &out.report.conservation;
    assert!(c.ok, "{name}: conservation failed: {c:?}");
    assert_eq!(c.cash_start, c.cash_end, "{name}: cash");
    assert!(
        c.shares.iter().all(|s| s.held == s.issued),
        "{name}: shares"
    );
    assert_eq!(c.invariants, "hold", "{name}: ledger invariants");
    assert!(out.stats.trades > 0, "{name}: nothing traded");
    out
}

#[test]
fn quickstart_conserves_cash_and_shares_and_uses_every_agent_type() {
    let out = check("quickstart", None);
    let types: Vec<&str> = out
        .report
        .leaderboard
        .iter()
        .map(|t| t.agent_type.as_str())
        .collect();
    for t in [
        "noise",
        "value",
        "momentum",
        "market_maker",
        "random_ticker",
    ] {
        assert!(types.contains(&t), "no {t} agents in the leaderboard");
    }
    assert!(
        out.stats.shocks > 0,
        "the random ticker never moved a price"
    );
    assert!(out.report.symbols.len() >= 3);
    // Issue 17: the shipped market looks real where it matters most.
    let pooled = out.report.stylized_facts_pooled.as_ref().unwrap();
    holds(&pooled.checks, "quickstart pooled");
}

/// Fat tails and volatility clustering are in the literature's range.
fn holds(checks: &[simulations::facts::Check], what: &str) {
    for fact in ["fat tails", "volatility clustering"] {
        let c = checks.iter().find(|c| c.fact.starts_with(fact)).unwrap();
        assert_eq!(c.in_range, Some(true), "{what}: {fact} {}", c.measured);
    }
}

#[test]
fn rmsc04_conserves_and_produces_abides_like_order_flow() {
    let out = check("rmsc04", None);
    let t = &out.report.totals;
    // ABIDES RMSC04: about 31,600 limit orders, 11,800 cancels, 18,700 fills.
    let within = |v: u64, target: f64| (v as f64) >= target / 1.5 && (v as f64) <= target * 1.5;
    assert!(
        within(t.limit_orders, 31_600.0),
        "limit orders {}",
        t.limit_orders
    );
    assert!(
        within(t.cancel_requests, 11_800.0),
        "cancels {}",
        t.cancel_requests
    );
    assert!(within(t.fills, 18_700.0), "fills {}", t.fills);
    assert_eq!(out.report.agents, 1_116);
    holds(&out.report.stylized_facts[0].checks, "rmsc04");
}

#[test]
fn rmsc03_conserves_cash_and_shares() {
    let out = check("rmsc03", None);
    assert_eq!(out.report.agents, 5_127);
}

#[test]
fn scale_conserves_cash_and_shares_over_its_first_half_hour() {
    // The full day takes ~20 s in release (see benches/README.md); in a
    // debug test build the first half hour of the same market is checked.
    let out = check("scale", Some("10:00:00"));
    assert_eq!(out.report.agents, 100_000);
    assert_eq!(out.report.symbols.len(), 100);
}
