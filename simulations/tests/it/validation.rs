//! Bad scenario files get errors that name the field and what is wrong.

use simulations::Scenario;

const GOOD: &str = r#"
name = "t"
[[symbols]]
symbol = "ACME"
initial_price = "10.00"
float = 1000
[[agents]]
type = "noise"
count = 2
shares = 10
"#;

fn err(text: &str) -> String {
    Scenario::parse(text, "test.toml").unwrap_err().to_string()
}

#[test]
fn a_minimal_scenario_gets_sensible_defaults() {
    let plan = Scenario::parse(GOOD, "test.toml").unwrap();
    assert_eq!(plan.steps_per_day, 23_400);
    assert_eq!(plan.groups[0].cash, engine::Money::from_major(100_000));
    assert_eq!(plan.symbols[0].tick, engine::Price::from_minor(1));
}

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = format!("{}/scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            Scenario::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 4);
}

#[test]
fn unknown_fields_are_named() {
    let e = err(&GOOD.replace("float = 1000", "float = 1000\ncolour = \"red\""));
    assert!(e.contains("colour"), "{e}");
    let e = err(&format!("{GOOD}\n[agents.params]\nspeed = 3\n"));
    assert!(e.contains("agents[0].params") && e.contains("speed"), "{e}");
}

#[test]
fn float_prices_are_refused_with_a_hint() {
    let e = err(&GOOD.replace("\"10.00\"", "10.5"));
    assert!(e.contains("strings"), "{e}");
}

#[test]
fn semantic_errors_name_the_field() {
    let cases = [
        (GOOD.replace("\"ACME\"", "\"ac me\""), "symbols[0].symbol"),
        (
            GOOD.replace(
                "initial_price = \"10.00\"",
                "initial_price = \"10.00\"\ntick_size = \"0.00\"",
            ),
            "symbols[0].tick_size",
        ),
        (
            GOOD.replace("initial_price = \"10.00\"", "initial_price = \"10.005\""),
            "more than 2 decimal places",
        ),
        (
            GOOD.replace(
                "initial_price = \"10.00\"",
                "initial_price = \"10.03\"\ntick_size = \"0.05\"",
            ),
            "symbols[0].initial_price",
        ),
        (
            GOOD.replace("float = 1000", "float = 0"),
            "symbols[0].float",
        ),
        (
            GOOD.replace("float = 1000", "float = 5"),
            "symbols[0].float",
        ),
        (GOOD.replace("count = 2", "count = 0"), "agents[0].count"),
        (
            GOOD.replace("float = 1000", "float = 1000\nvol_of_vol = -0.5"),
            "symbols[0].vol_of_vol",
        ),
        (
            GOOD.replace("float = 1000", "float = 1000\nvol_half_life_s = 0.0"),
            "symbols[0].vol_half_life_s",
        ),
        (
            format!("{GOOD}\n[agents.params]\nactivity_feedback = 9.0\n"),
            "agents[0].params.activity_feedback",
        ),
        (
            format!("{GOOD}\n[agents.params]\ngtc_prob = 1.5\n"),
            "agents[0].params.gtc_prob",
        ),
        (
            GOOD.replace("type = \"noise\"", "type = \"value\"")
                + "\n[agents.params]\nurgency_bps = -1.0\n",
            "agents[0].params.urgency_bps",
        ),
        (format!("step_ms = 7\n{GOOD}"), "step_ms"),
        (
            format!("{GOOD}\n[agents.params]\nmarket_prob = 2.0\n"),
            "agents[0].params.market_prob",
        ),
        (
            GOOD.replace("shares = 10", "shares = 10\nsymbols = [\"NOPE\"]"),
            "agents[0].symbols",
        ),
        (
            GOOD.replace(
                "name = \"t\"",
                "name = \"t\"\n[session]\nopen = \"16:00:00\"\nclose = \"09:30:00\"",
            ),
            "session.close",
        ),
        (
            GOOD.replace("name = \"t\"", "name = \"t\"\n[fees]\nmaker_bps = 5000"),
            "fees",
        ),
    ];
    for (text, field) in cases {
        let e = err(&text);
        assert!(
            e.contains(field),
            "expected an error naming `{field}`, got: {e}"
        );
    }
}

#[test]
fn a_missing_file_says_which() {
    let e = Scenario::load(std::path::Path::new("/nonexistent/x.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/x.toml"), "{e}");
}
