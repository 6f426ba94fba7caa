//! Reference-price models: geometric Brownian motion with optional Poisson
//! jumps, rounded to the tick grid.
//!
//! The model keeps a continuous internal level (an `f64` model state, not
//! money) so that moves smaller than a tick accumulate instead of being
//! rounded away; every published price is an integer `Price` on the grid and
//! at least one tick. Randomness is always passed in.

use rand::Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use thiserror::Error;

use crate::money::Price;

/// Seconds in a trading year (252 days of 6.5 hours): drift and volatility
/// are annualised over trading time.
pub const TRADING_SECONDS_PER_YEAR: f64 = 252.0 * 6.5 * 3600.0;

/// Parameters of the random walk, annualised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GbmParams {
    /// Expected log-return per year (e.g. 0.05).
    pub drift: f64,
    /// Volatility per sqrt(year) (e.g. 0.2).
    pub volatility: f64,
    /// Expected number of jumps per year (0 disables jumps).
    pub jump_intensity: f64,
    /// Mean of a jump's log-size.
    pub jump_mean: f64,
    /// Standard deviation of a jump's log-size.
    pub jump_std: f64,
    /// Stochastic volatility: the standard deviation of the log of the
    /// volatility multiplier (0: constant volatility). The multiplier follows
    /// a mean-reverting log process scaled so the mean variance stays
    /// `volatility`^2: calm and busy spells, as news arrives in bursts.
    pub vol_of_vol: f64,
    /// Half-life of a volatility shock, in seconds of trading time.
    pub vol_half_life_s: f64,
}

impl Default for GbmParams {
    fn default() -> Self {
        GbmParams {
            drift: 0.0,
            volatility: 0.2,
            jump_intensity: 0.0,
            jump_mean: 0.0,
            jump_std: 0.0,
            vol_of_vol: 0.0,
            vol_half_life_s: 1_800.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Error)]
pub enum ModelError {
    #[error("volatility must be finite and >= 0")]
    Volatility,
    #[error("drift must be finite")]
    Drift,
    #[error("jump intensity must be finite and >= 0, jump std finite and >= 0")]
    Jumps,
    #[error("initial price must be positive and on the tick grid")]
    Initial,
    #[error("vol_of_vol must be finite and >= 0, vol_half_life_s finite and > 0")]
    StochasticVolatility,
}

/// A GBM random walk for one symbol.
#[derive(Clone, Debug)]
pub struct Gbm {
    params: GbmParams,
    tick: Price,
    level: f64,
    price: Price,
    /// The log volatility multiplier's state (stochastic volatility).
    log_vol: f64,
}

impl Gbm {
    pub fn new(initial: Price, tick: Price, params: GbmParams) -> Result<Gbm, ModelError> {
        if !params.volatility.is_finite() || params.volatility < 0.0 {
            return Err(ModelError::Volatility);
        }
        if !params.drift.is_finite() {
            return Err(ModelError::Drift);
        }
        let jumps_ok = params.jump_intensity.is_finite()
            && params.jump_intensity >= 0.0
            && params.jump_std.is_finite()
            && params.jump_std >= 0.0
            && params.jump_mean.is_finite();
        if !jumps_ok {
            return Err(ModelError::Jumps);
        }
        if !initial.is_positive() || !tick.is_positive() || !initial.is_on_grid(tick) {
            return Err(ModelError::Initial);
        }
        let sv_ok = params.vol_of_vol.is_finite()
            && params.vol_of_vol >= 0.0
            && params.vol_half_life_s.is_finite()
            && params.vol_half_life_s > 0.0;
        if !sv_ok {
            return Err(ModelError::StochasticVolatility);
        }
        Ok(Gbm {
            params,
            tick,
            level: initial.minor() as f64,
            price: initial,
            log_vol: 0.0,
        })
    }

    pub fn price(&self) -> Price {
        self.price
    }
    pub fn params(&self) -> GbmParams {
        self.params
    }

    /// Set the level (an administrator's or a replayed price).
    pub fn set_price(&mut self, p: Price) {
        if p.is_positive() {
            self.level = p.minor() as f64;
            self.price = self.round(self.level);
        }
    }

    /// Advance by `dt_secs` of trading time and return the new price.
    pub fn step<R: Rng + ?Sized>(&mut self, dt_secs: f64, rng: &mut R) -> Price {
        let dt = (dt_secs / TRADING_SECONDS_PER_YEAR).max(0.0);
        let GbmParams {
            drift,
            volatility,
            jump_intensity,
            jump_mean,
            jump_std,
            vol_of_vol,
            vol_half_life_s,
        } = self.params;
        let volatility = if vol_of_vol > 0.0 {
            // AR(1) in the log with the half-life asked for; stationary
            // standard deviation `vol_of_vol`; E[multiplier^2] = 1.
            let phi = 0.5f64.powf(dt_secs.max(0.0) / vol_half_life_s);
            let xi: f64 = StandardNormal.sample(rng);
            self.log_vol = phi * self.log_vol + vol_of_vol * (1.0 - phi * phi).sqrt() * xi;
            volatility * (self.log_vol - vol_of_vol * vol_of_vol).exp()
        } else {
            volatility
        };
        let z: f64 = StandardNormal.sample(rng);
        let mut log_ret = (drift - 0.5 * volatility * volatility) * dt + volatility * dt.sqrt() * z;
        if jump_intensity > 0.0 {
            let lambda = jump_intensity * dt;
            if lambda > 0.0 {
                if let Ok(pois) = Poisson::new(lambda) {
                    let n: f64 = pois.sample(rng);
                    for _ in 0..(n as u64) {
                        let j: f64 = StandardNormal.sample(rng);
                        log_ret += jump_mean + jump_std * j;
                    }
                }
            }
        }
        self.jump_by(log_ret)
    }

    /// Move the level by a log-return (used for explicit shocks).
    pub fn jump_by(&mut self, log_ret: f64) -> Price {
        let next = self.level * log_ret.exp();
        // Keep the level finite and at least one tick.
        let floor = self.tick.minor() as f64;
        self.level = if next.is_finite() {
            next.max(floor)
        } else {
            self.level
        };
        self.price = self.round(self.level);
        self.price
    }

    fn round(&self, level: f64) -> Price {
        let t = self.tick.minor();
        let ticks = (level / t as f64).round();
        let ticks = if ticks.is_finite() {
            (ticks as i64).max(1)
        } else {
            1
        };
        Price::from_minor(ticks.saturating_mul(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn p(m: i64) -> Price {
        Price::from_minor(m)
    }

    #[test]
    fn the_same_seed_gives_the_same_path() {
        let params = GbmParams {
            volatility: 0.5,
            jump_intensity: 50.0,
            jump_std: 0.02,
            ..Default::default()
        };
        let run = || {
            let mut g = Gbm::new(p(10_000), p(1), params).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            (0..1000).map(|_| g.step(1.0, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn stochastic_volatility_clusters_and_keeps_the_mean_variance() {
        let ret = |vol_of_vol: f64| {
            let params = GbmParams {
                volatility: 0.3,
                vol_of_vol,
                vol_half_life_s: 1_800.0,
                ..Default::default()
            };
            // A fine grid so rounding does not matter.
            let mut g = Gbm::new(p(100_000_000), p(1), params).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let mut last = g.price().minor() as f64;
            (0..200_000)
                .map(|_| {
                    let now = g.step(60.0, &mut rng).minor() as f64;
                    let r = (now / last).ln();
                    last = now;
                    r
                })
                .collect::<Vec<f64>>()
        };
        let acf1_abs = |r: &[f64]| {
            let a: Vec<f64> = r.iter().map(|v| v.abs()).collect();
            let m = a.iter().sum::<f64>() / a.len() as f64;
            let d: f64 = a.iter().map(|v| (v - m).powi(2)).sum();
            (1..a.len())
                .map(|t| (a[t] - m) * (a[t - 1] - m))
                .sum::<f64>()
                / d
        };
        let var = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>() / r.len() as f64;
        let constant = ret(0.0);
        let clustered = ret(0.8);
        assert!(acf1_abs(&constant).abs() < 0.02, "{}", acf1_abs(&constant));
        assert!(acf1_abs(&clustered) > 0.1, "{}", acf1_abs(&clustered));
        // The same variance on average: 0.3^2 a year, per minute.
        let expected = 0.09 * 60.0 / TRADING_SECONDS_PER_YEAR;
        for r in [&constant, &clustered] {
            let ratio = var(r) / expected;
            assert!((0.85..1.15).contains(&ratio), "variance ratio {ratio}");
        }
        let bad = GbmParams {
            vol_of_vol: 0.5,
            vol_half_life_s: 0.0,
            ..Default::default()
        };
        assert_eq!(
            Gbm::new(p(100), p(1), bad).unwrap_err(),
            ModelError::StochasticVolatility
        );
    }

    #[test]
    fn prices_stay_positive_and_on_the_grid() {
        let params = GbmParams {
            drift: -50.0,
            volatility: 5.0,
            ..Default::default()
        };
        let mut g = Gbm::new(p(500), p(5), params).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..10_000 {
            let px = g.step(3600.0, &mut rng);
            assert!(px.minor() >= 5 && px.is_on_grid(p(5)), "{px}");
        }
    }

    #[test]
    fn sub_tick_moves_accumulate_instead_of_vanishing() {
        // One second of 20% annual volatility is far below a cent at $10,
        // yet over a day the price must move.
        let mut g = Gbm::new(p(1000), p(1), GbmParams::default()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let moved = (0..23_400)
            .map(|_| g.step(1.0, &mut rng))
            .any(|px| px != p(1000));
        assert!(moved);
    }

    #[test]
    fn realised_volatility_matches_the_parameter() {
        let sigma = 0.3;
        let mut g = Gbm::new(
            p(1_000_000),
            p(1),
            GbmParams {
                volatility: sigma,
                ..Default::default()
            },
        )
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let dt = 60.0;
        let mut prev = g.price().minor() as f64;
        let mut rets = Vec::new();
        for _ in 0..20_000 {
            let px = g.step(dt, &mut rng).minor() as f64;
            rets.push((px / prev).ln());
            prev = px;
        }
        let mean = rets.iter().sum::<f64>() / rets.len() as f64;
        let var = rets.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (rets.len() - 1) as f64;
        let annual = (var / (dt / TRADING_SECONDS_PER_YEAR)).sqrt();
        assert!((annual - sigma).abs() < 0.02, "realised {annual}");
    }

    #[test]
    fn bad_parameters_are_refused() {
        let bad = GbmParams {
            volatility: -1.0,
            ..Default::default()
        };
        assert_eq!(
            Gbm::new(p(100), p(1), bad).unwrap_err(),
            ModelError::Volatility
        );
        let nan = GbmParams {
            drift: f64::NAN,
            ..Default::default()
        };
        assert_eq!(Gbm::new(p(100), p(1), nan).unwrap_err(), ModelError::Drift);
        assert_eq!(
            Gbm::new(p(101), p(5), GbmParams::default()).unwrap_err(),
            ModelError::Initial
        );
    }
}
