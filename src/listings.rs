//! Which symbols a live market lists: the scenario's, else five default
//! symbols; plus those listed at run time (admin API) that come back from
//! the database. Every one is an `actors::Listing` with its defaults.

use actors::Listing;
use adapters::pg::Durable;
use engine::{Price, Symbol};

/// Symbols listed when no scenario is given: (symbol, price in cents, float).
pub const DEFAULT_SYMBOLS: [(&str, i64, u64); 5] = [
    ("ACME", 10_000, 1_000_000),
    ("GLOBEX", 4_250, 1_000_000),
    ("INITECH", 1_200, 1_000_000),
    ("UMBRELLA", 25_000, 1_000_000),
    ("HOOLI", 6_700, 1_000_000),
];

/// The listings of a market started from `plan` (or the defaults), with
/// the symbols `restored` from the database that neither names.
pub fn listings(plan: Option<&simulations::Plan>, restored: Option<&Durable>) -> Vec<Listing> {
    let mut out: Vec<Listing> = match plan {
        Some(p) => p.symbols.clone(),
        None => DEFAULT_SYMBOLS
            .iter()
            .filter_map(|(s, p, float)| {
                Some(Listing {
                    float: *float,
                    ..Listing::new(Symbol::new(s).ok()?, Price::from_minor(*p))
                })
            })
            .collect(),
    };
    if let Some(d) = restored {
        for (symbol, st) in &d.stocks {
            if st.listed && !out.iter().any(|l| l.symbol == *symbol) {
                out.push(Listing {
                    tick: st.tick,
                    ..Listing::new(*symbol, st.stats.reference)
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_a_scenario_the_five_default_symbols_are_listed() {
        let l = super::listings(None, None);
        assert_eq!(l.len(), 5);
        assert_eq!(l[0].symbol.as_str(), "ACME");
        assert_eq!(l[0].float, 1_000_000);
        assert_eq!(l[0].tick, actors::Listing::DEFAULT_TICK);
    }
}
