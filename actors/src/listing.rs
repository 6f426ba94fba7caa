//! `Listing`: what it takes to list a symbol (its ticker and its random
//! walk), with the one set of defaults every listing path uses: scenario
//! files, `serve`'s default symbols, restored listings and the admin API.

use engine::{Gbm, GbmParams, Price, Symbol};

use crate::ticker::{TickerConfig, TickerCore};

/// A symbol to list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Listing {
    pub symbol: Symbol,
    /// The first reference price.
    pub initial: Price,
    pub tick: Price,
    /// The reference price's random walk.
    pub params: GbmParams,
    /// Shares issued at listing (who receives them is the caller's choice).
    pub float: u64,
}

impl Listing {
    /// Tick size when none is given: one minor unit (0.01).
    pub const DEFAULT_TICK: Price = Price::from_minor(1);
    /// Annualised volatility of the walk when none is given.
    pub const DEFAULT_VOLATILITY: f64 = 0.2;

    /// A listing with the default tick, walk and no float.
    pub fn new(symbol: Symbol, initial: Price) -> Listing {
        Listing {
            symbol,
            initial,
            tick: Listing::DEFAULT_TICK,
            params: GbmParams {
                volatility: Listing::DEFAULT_VOLATILITY,
                ..GbmParams::default()
            },
            float: 0,
        }
    }

    /// The walk's model, starting at `start` (the initial price, or the
    /// last price of a restored symbol).
    pub fn model(&self, start: Price) -> Result<Gbm, engine::price::ModelError> {
        Gbm::new(start, self.tick, self.params)
    }

    /// A fresh ticker for this listing.
    pub fn ticker(&self, config: TickerConfig) -> TickerCore {
        TickerCore::new(self.symbol, self.tick, self.initial, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_one_cent_ticks_and_twenty_percent_volatility() {
        let l = Listing::new(Symbol::new("ACME").unwrap(), Price::from_minor(10_000));
        assert_eq!(l.tick, Price::from_minor(1));
        assert!((l.params.volatility - 0.2).abs() < 1e-12);
        assert_eq!(l.float, 0);
        assert_eq!(l.model(l.initial).unwrap().price(), l.initial);
    }
}
