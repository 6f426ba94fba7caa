//! Several days in one run: positions and GTC orders carry over the
//! close, the report has a row per day, and a run's files include a
//! self-contained index.html.

use simulations::{Progress, RunOptions, Scenario};

/// quickstart over `days` sessions of an hour, its noise agents placing GTC
/// orders with probability `gtc`.
fn plan(days: u32, gtc: f64) -> simulations::Plan {
    let path = format!("{}/scenarios/quickstart.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("close = \"16:00:00\"", "close = \"10:30:00\"")
        .replace(
            "step_ms = 1000\n",
            &format!("step_ms = 1000\ndays = {days}\n"),
        )
        .replace(
            "interval_s = 300\n",
            &format!("interval_s = 300\ngtc_prob = {gtc}\n"),
        );
    assert!(
        text.contains(&format!("days = {days}")),
        "quickstart lost its days line"
    );
    Scenario::parse(&text, &path).unwrap()
}

fn run(plan: &simulations::Plan, out: Option<std::path::PathBuf>) -> simulations::Outcome {
    crate::run_with(
        plan,
        2,
        RunOptions {
            no_files: out.is_none(),
            out,
            progress: Progress::Quiet,
            account_shards: 2,
            ..RunOptions::default()
        },
    )
}

#[test]
fn three_days_give_a_row_per_day_each_opening_from_the_last_close() {
    let out = run(&plan(3, 0.0), None);
    let r = &out.report;
    assert!(r.conservation.ok);
    let symbols = r.symbols.len();
    assert_eq!(r.per_day.len(), 3 * symbols);
    let dates: Vec<&str> = r.per_day.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(dates[0], "2026-01-05");
    assert_eq!(dates[symbols], "2026-01-06");
    assert_eq!(dates[2 * symbols], "2026-01-07");
    for s in &r.symbols {
        let days: Vec<_> = r.per_day.iter().filter(|d| d.symbol == s.symbol).collect();
        assert_eq!(days[0].previous_close, s.initial);
        for w in days.windows(2) {
            // Each day's change is measured from the previous day's close.
            assert_eq!(w[1].previous_close, w[0].close, "{}", s.symbol);
        }
        assert_eq!(days[2].close, s.close);
        assert_eq!(days.iter().map(|d| d.volume).sum::<u64>(), s.volume);
    }
    assert!(r.render().contains("2026-01-07"));
    // Every symbol's returns pooled: their counts add up, five checks.
    let pooled = r.stylized_facts_pooled.as_ref().unwrap();
    assert_eq!(pooled.symbols, symbols);
    assert_eq!(
        pooled.stats.returns,
        r.stylized_facts
            .iter()
            .map(|f| f.stats.returns)
            .sum::<usize>()
    );
    assert_eq!(pooled.checks.len(), 5);
    assert_eq!(pooled.stats.acf_returns.len(), 10);
}

#[test]
fn gtc_orders_rest_over_the_close_where_day_orders_expire() {
    let day = run(&plan(2, 0.0), None);
    let gtc = run(&plan(2, 1.0), None);
    assert!(day.report.conservation.ok && gtc.report.conservation.ok);
    // Every noise limit order is GTC: far fewer orders expire at the closes
    // (what still expires are the value agents' and market makers' DAY orders).
    assert!(
        gtc.stats.expired * 2 < day.stats.expired,
        "expired: gtc {} day {}",
        gtc.stats.expired,
        day.stats.expired
    );
    assert!(
        gtc.report
            .per_day
            .iter()
            .filter(|d| d.date == "2026-01-06")
            .all(|d| d.trades > 0)
    );
}

#[test]
fn a_run_writes_a_self_contained_index_with_every_chart_and_the_facts() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&plan(2, 0.2), Some(dir.path().to_path_buf()));
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    for s in &out.report.symbols {
        assert!(dir.path().join(format!("{}.svg", s.symbol)).exists());
        assert!(dir.path().join(format!("{}-facts.svg", s.symbol)).exists());
        assert!(html.contains(&format!("{}: 1-minute candles", s.symbol)));
        assert!(html.contains(&format!("{}: stylized facts", s.symbol)));
    }
    assert!(html.contains("Day by day") && html.contains("Stylized facts"));
    assert!(html.contains("in range") || html.contains("out of range"));
    // Nothing to fetch: no scripts, stylesheets or images from elsewhere.
    for needle in ["<script", "<link", "src=\"http", "<img"] {
        assert!(!html.contains(needle), "index.html has {needle}");
    }
    // The candle chart is on a clock-time axis with the reference line.
    let svg = std::fs::read_to_string(dir.path().join("ACME.svg")).unwrap();
    assert!(svg.contains("09:30") && svg.contains("reference price"));
}
