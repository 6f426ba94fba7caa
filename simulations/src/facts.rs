//! Stylized facts: the statistical regularities of real markets (Cont 2001
//! and the intraday literature), measured on a run and each marked in or
//! out of the range the literature reports.
//!
//! `Collector` watches a run (trades, and every symbol's book and reference
//! price after each step) and keeps one record per symbol and minute;
//! `Collector::finish` turns them into `SymbolFacts`: the distribution of
//! 1-minute log returns (excess kurtosis, Hill tail index), autocorrelations
//! of returns and of absolute returns, spread, depth and volume by half hour
//! of the session, and the immediate price impact of aggressive orders by
//! size. Floats here are statistics of a finished run, never money.

use std::collections::BTreeMap;

use actors::TickerSnapshot;
use engine::{Event, OrderId, Side, Symbol, Timestamp};
use serde::Serialize;

const MINUTE_NS: i64 = 60_000_000_000;
/// Lags of the return autocorrelations reported.
pub const RETURN_LAGS: usize = 10;
/// Lags of the absolute-return autocorrelations reported.
pub const ABS_LAGS: usize = 30;
/// Minutes per profile bucket.
pub const BUCKET_MINUTES: i64 = 30;
/// Aggressive-order sizes (shares, lower bounds) of the impact table.
const IMPACT_SIZES: [u64; 4] = [1, 10, 100, 1_000];

/// One symbol's minute.
#[derive(Clone, Copy, Debug, Default)]
pub struct Minute {
    /// Last trade price in the minute (minor units).
    pub close: Option<i64>,
    pub open: Option<i64>,
    pub high: Option<i64>,
    pub low: Option<i64>,
    pub volume: u64,
    /// Quoted spread in basis points of the mid, first seen in the minute.
    pub spread_bps: Option<f64>,
    /// Shares at the best bid plus the best ask, first seen in the minute.
    pub depth: Option<u64>,
    /// The reference (fundamental) price, last seen in the minute.
    pub reference: Option<i64>,
}

#[derive(Debug, Default)]
struct Series {
    /// Each day's minutes by absolute minute number.
    days: Vec<BTreeMap<i64, Minute>>,
    last_price: Option<i64>,
    /// (size, impact in bps) of each aggressive order.
    impacts: Vec<(u64, f64)>,
}

impl Series {
    fn minute(&mut self, day: usize, ts: Timestamp) -> &mut Minute {
        while self.days.len() <= day {
            self.days.push(BTreeMap::new());
        }
        self.days[day]
            .entry(ts.0.div_euclid(MINUTE_NS))
            .or_default()
    }
}

/// An aggressive order's fills so far.
#[derive(Clone, Copy, Debug)]
struct Taker {
    symbol: Symbol,
    order: OrderId,
    side: Side,
    before: i64,
    last: i64,
    quantity: u64,
}

/// Watches a run; see the module documentation.
#[derive(Debug, Default)]
pub struct Collector {
    symbols: BTreeMap<Symbol, Series>,
    day: usize,
    taker: Option<Taker>,
}

impl Collector {
    /// Trades: minute prices and volume, and each aggressive order's impact
    /// (from the last trade before its first fill to its last fill).
    pub fn on_events(&mut self, events: &[(Symbol, Event)]) {
        for (symbol, e) in events {
            let Event::Trade(t) = e else { continue };
            let p = t.price.minor();
            let same = self
                .taker
                .is_some_and(|k| k.symbol == *symbol && k.order == t.taker_order);
            if !same {
                self.flush();
            }
            let day = self.day;
            let series = self.symbols.entry(*symbol).or_default();
            if same {
                if let Some(k) = self.taker.as_mut() {
                    k.last = p;
                    k.quantity += t.quantity;
                }
            } else if let Some(before) = series.last_price {
                self.taker = Some(Taker {
                    symbol: *symbol,
                    order: t.taker_order,
                    side: t.taker_side,
                    before,
                    last: p,
                    quantity: t.quantity,
                });
            }
            series.last_price = Some(p);
            let m = series.minute(day, t.ts);
            m.open.get_or_insert(p);
            m.close = Some(p);
            m.high = Some(m.high.map_or(p, |h| h.max(p)));
            m.low = Some(m.low.map_or(p, |l| l.min(p)));
            m.volume += t.quantity;
        }
        self.flush();
    }

    fn flush(&mut self) {
        let Some(k) = self.taker.take() else { return };
        if k.before <= 0 {
            return;
        }
        let sign = if k.side == Side::Buy { 1.0 } else { -1.0 };
        let bps = sign * (k.last - k.before) as f64 / k.before as f64 * 10_000.0;
        if let Some(s) = self.symbols.get_mut(&k.symbol) {
            s.impacts.push((k.quantity, bps));
        }
    }

    /// The book's touch and the reference price, sampled once a minute.
    pub fn on_market(&mut self, ts: Timestamp, market: &BTreeMap<Symbol, TickerSnapshot>) {
        let day = self.day;
        for (symbol, snap) in market {
            let m = self.symbols.entry(*symbol).or_default().minute(day, ts);
            m.reference = Some(snap.reference.minor());
            if m.depth.is_some() {
                continue;
            }
            if let (Some(b), Some(a)) = (snap.bid, snap.ask) {
                let mid = (b.price.minor() + a.price.minor()) as f64 / 2.0;
                if mid > 0.0 {
                    m.spread_bps =
                        Some((a.price.minor() - b.price.minor()) as f64 / mid * 10_000.0);
                }
                m.depth = Some(b.quantity + a.quantity);
            }
        }
    }

    /// The session closed: later minutes belong to the next day.
    pub fn on_day_close(&mut self) {
        self.day += 1;
    }

    /// Every symbol's minutes, each day's in order (for charts).
    pub fn minutes(&self) -> BTreeMap<Symbol, Vec<Vec<(i64, Minute)>>> {
        self.symbols
            .iter()
            .map(|(s, series)| {
                (
                    *s,
                    series
                        .days
                        .iter()
                        .map(|d| d.iter().map(|(k, m)| (*k * MINUTE_NS, *m)).collect())
                        .collect(),
                )
            })
            .collect()
    }

    /// The facts of every symbol, and of all their returns together
    /// (`None` with fewer than two symbols with returns).
    pub fn finish(&self, minutes_per_day: f64) -> (Vec<SymbolFacts>, Option<Pooled>) {
        let per: Vec<(Vec<f64>, SymbolFacts)> = self
            .symbols
            .iter()
            .map(|(s, series)| {
                let r = returns(series);
                let facts = symbol_facts(*s, series, &r, minutes_per_day);
                (r, facts)
            })
            .collect();
        let pooled = pooled(&per);
        (per.into_iter().map(|(_, f)| f).collect(), pooled)
    }
}

/// Every symbol's returns together, from each symbol's returns and facts.
fn pooled(per: &[(Vec<f64>, SymbolFacts)]) -> Option<Pooled> {
    let per: Vec<&(Vec<f64>, SymbolFacts)> = per.iter().filter(|(r, _)| r.len() > 20).collect();
    if per.len() < 2 {
        return None;
    }
    let mut scaled = Vec::new();
    for (r, _) in &per {
        if let Some(sd) = variance(r).map(f64::sqrt).filter(|sd| *sd > 0.0) {
            scaled.extend(r.iter().map(|v| v / sd));
        }
    }
    let acf_returns = mean_acf(
        &per.iter()
            .map(|(r, f)| (r.len(), &f.stats.acf_returns))
            .collect::<Vec<_>>(),
    );
    let acf_abs_returns = mean_acf(
        &per.iter()
            .map(|(r, f)| (r.len(), &f.stats.acf_abs_returns))
            .collect::<Vec<_>>(),
    );
    let stats = ReturnStats {
        returns: per.iter().map(|(r, _)| r.len()).sum(),
        excess_kurtosis: excess_kurtosis(&scaled),
        hill_tail_index: hill(&scaled),
        abs_acf_decay: decay(&acf_abs_returns),
        acf_returns,
        acf_abs_returns,
    };
    Some(Pooled {
        symbols: per.len(),
        checks: return_checks(&stats),
        stats,
    })
}

/// One half hour of the session, averaged over days.
#[derive(Clone, Debug, Serialize)]
pub struct Bucket {
    /// Minutes after the session's first minute.
    pub start_minute: i64,
    pub volume_per_minute: f64,
    pub spread_bps: Option<f64>,
    pub depth: Option<f64>,
}

/// Aggressive orders of one size class.
#[derive(Clone, Debug, Serialize)]
pub struct Impact {
    /// Shares, e.g. "10-99".
    pub size: String,
    pub orders: usize,
    /// Mean move in the order's direction, from the last trade before it to
    /// its last fill, in basis points.
    pub mean_bps: f64,
}

/// One fact compared with the literature.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub fact: String,
    pub measured: String,
    pub literature: String,
    /// `None`: too little data to say.
    pub in_range: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SymbolFacts {
    pub symbol: String,
    #[serde(flatten)]
    pub stats: ReturnStats,
    /// Standard deviation of 1-minute log returns scaled to a session, bps.
    pub volatility_bps: Option<f64>,
    /// Mean quoted spread, bps of the mid.
    pub mean_spread_bps: Option<f64>,
    pub profile: Vec<Bucket>,
    pub impact: Vec<Impact>,
    pub checks: Vec<Check>,
}

fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

fn variance(x: &[f64]) -> Option<f64> {
    let m = mean(x)?;
    (x.len() > 1).then(|| x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64)
}

/// Excess kurtosis (0 for a normal distribution).
pub fn excess_kurtosis(x: &[f64]) -> Option<f64> {
    let m = mean(x)?;
    let v = variance(x)?;
    if x.len() < 20 || v <= 0.0 {
        return None;
    }
    let m4 = x.iter().map(|r| (r - m).powi(4)).sum::<f64>() / x.len() as f64;
    Some(m4 / (v * v) - 3.0)
}

/// Hill estimator of the tail index of |x| over its largest 5% (at least 10).
pub fn hill(x: &[f64]) -> Option<f64> {
    let mut a: Vec<f64> = x.iter().map(|v| v.abs()).filter(|v| *v > 0.0).collect();
    if a.len() < 50 {
        return None;
    }
    a.sort_by(|p, q| q.total_cmp(p));
    let k = (a.len() / 20).max(10);
    let xk = a[k];
    if xk <= 0.0 {
        return None;
    }
    let s: f64 = a[..k].iter().map(|v| (v / xk).ln()).sum::<f64>() / k as f64;
    (s > 0.0).then(|| 1.0 / s)
}

/// Sample autocorrelation at `lag`.
pub fn acf(x: &[f64], lag: usize) -> Option<f64> {
    let m = mean(x)?;
    if x.len() <= lag + 2 {
        return None;
    }
    let d: f64 = x.iter().map(|v| (v - m).powi(2)).sum();
    if d <= 0.0 {
        return None;
    }
    let n: f64 = (lag..x.len()).map(|t| (x[t] - m) * (x[t - lag] - m)).sum();
    Some(n / d)
}

/// Least-squares slope of ln(acf) on ln(lag), negated, over positive lags.
fn decay(acfs: &[f64]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = acfs
        .iter()
        .enumerate()
        .filter(|(_, a)| **a > 0.0)
        .map(|(i, a)| (((i + 1) as f64).ln(), a.ln()))
        .collect();
    if pts.len() < 5 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| -sxy / sxx)
}

/// Log returns of each day's minute closes, carried over quiet minutes,
/// from the first trade of the day; no overnight returns.
fn returns(series: &Series) -> Vec<f64> {
    let mut out = Vec::new();
    for day in &series.days {
        let (Some(first), Some(last)) = (day.keys().next(), day.keys().next_back()) else {
            continue;
        };
        let mut prev: Option<i64> = None;
        for k in *first..=*last {
            let close = day.get(&k).and_then(|m| m.close).or(prev);
            if let (Some(p), Some(c)) = (prev, close)
                && p > 0
                && c > 0
            {
                out.push((c as f64 / p as f64).ln());
            }
            prev = close;
        }
    }
    out
}

fn profile(series: &Series) -> Vec<Bucket> {
    // (volume, minutes, spreads, depths) per bucket, over days.
    let mut acc: BTreeMap<i64, (u64, u64, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for day in &series.days {
        let Some(first) = day.keys().next() else {
            continue;
        };
        for (k, m) in day {
            let b = acc.entry((k - first) / BUCKET_MINUTES).or_default();
            b.0 += m.volume;
            b.1 += 1;
            b.2.extend(m.spread_bps);
            b.3.extend(m.depth.map(|d| d as f64));
        }
    }
    acc.into_iter()
        .map(|(b, (v, n, sp, de))| Bucket {
            start_minute: b * BUCKET_MINUTES,
            volume_per_minute: v as f64 / n.max(1) as f64,
            spread_bps: mean(&sp),
            depth: mean(&de),
        })
        .collect()
}

fn impact(series: &Series) -> Vec<Impact> {
    IMPACT_SIZES
        .iter()
        .enumerate()
        .filter_map(|(i, lo)| {
            let hi = IMPACT_SIZES.get(i + 1).copied();
            let v: Vec<f64> = series
                .impacts
                .iter()
                .filter(|(q, _)| *q >= *lo && hi.is_none_or(|h| *q < h))
                .map(|(_, b)| *b)
                .collect();
            Some(Impact {
                size: hi.map_or(format!("{lo}+"), |h| format!("{lo}-{}", h - 1)),
                orders: v.len(),
                mean_bps: mean(&v)?,
            })
        })
        .collect()
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

/// The first and last buckets against the mean of those between.
fn ends_vs_middle(values: &[Option<f64>]) -> Option<(f64, f64, f64)> {
    if values.len() < 3 {
        return None;
    }
    let first = values[0]?;
    let last = values[values.len() - 1]?;
    let mid: Vec<f64> = values[1..values.len() - 1]
        .iter()
        .flatten()
        .copied()
        .collect();
    Some((first, mean(&mid)?, last))
}

/// The distribution and dependence of a set of 1-minute log returns (as
/// `report.json` names them).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReturnStats {
    /// Returns measured (within sessions; prices carried over minutes
    /// without trades).
    pub returns: usize,
    pub excess_kurtosis: Option<f64>,
    pub hill_tail_index: Option<f64>,
    /// Autocorrelation of returns at lags 1..=10 minutes.
    pub acf_returns: Vec<f64>,
    /// Autocorrelation of absolute returns at lags 1..=30 minutes.
    pub acf_abs_returns: Vec<f64>,
    /// Power-law decay exponent of `acf_abs_returns` (least squares on
    /// log-log over the positive lags).
    pub abs_acf_decay: Option<f64>,
}

impl ReturnStats {
    /// Volatility clustering: the mean autocorrelation of absolute returns
    /// at lags 1-10.
    pub fn clustering(&self) -> Option<f64> {
        mean(&self.acf_abs_returns[..self.acf_abs_returns.len().min(10)])
    }
    fn of(r: &[f64]) -> ReturnStats {
        let abs: Vec<f64> = r.iter().map(|v| v.abs()).collect();
        let acf_abs: Vec<f64> = (1..=ABS_LAGS).map_while(|l| acf(&abs, l)).collect();
        ReturnStats {
            returns: r.len(),
            excess_kurtosis: excess_kurtosis(r),
            hill_tail_index: hill(r),
            acf_returns: (1..=RETURN_LAGS).map_while(|l| acf(r, l)).collect(),
            abs_acf_decay: decay(&acf_abs),
            acf_abs_returns: acf_abs,
        }
    }
}

/// The five checks of a set of returns against the literature.
fn return_checks(st: &ReturnStats) -> Vec<Check> {
    let band = 2.0 / (st.returns.max(1) as f64).sqrt();
    let mut checks = vec![
        Check {
            fact: "fat tails: excess kurtosis of 1-minute returns".into(),
            measured: fmt(st.excess_kurtosis, 2),
            literature: "> 0, large at intraday scales (Cont 2001); marked in range above 1".into(),
            in_range: st.excess_kurtosis.map(|k| k > 1.0),
        },
        Check {
            fact: "tail index (Hill, top 5% of |returns|)".into(),
            measured: fmt(st.hill_tail_index, 2),
            literature: "between 2 and 5 (Cont 2001)".into(),
            in_range: st.hill_tail_index.map(|a| (2.0..=5.0).contains(&a)),
        },
    ];
    let beyond: Vec<f64> = st.acf_returns.iter().skip(1).map(|a| a.abs()).collect();
    let mean_beyond = mean(&beyond);
    checks.push(Check {
        fact: "no linear autocorrelation: mean |acf(returns)| at lags 2-10".into(),
        measured: fmt(mean_beyond, 3),
        literature:
            "insignificant beyond very short intraday lags (Cont 2001); marked in range below 0.1"
                .into(),
        in_range: mean_beyond.map(|m| m < 0.1),
    });
    let clustering = st.clustering();
    checks.push(Check {
        fact: "volatility clustering: mean acf(|returns|) at lags 1-10".into(),
        measured: format!("{} (2/sqrt(n) = {band:.3})", fmt(clustering, 3)),
        literature: "positive and significant, decaying slowly (Cont 2001)".into(),
        in_range: clustering.map(|c| c > band),
    });
    checks.push(Check {
        fact: "decay exponent of acf(|returns|) (power law)".into(),
        measured: fmt(st.abs_acf_decay, 2),
        literature: "between 0.2 and 0.4 (Cont 2001)".into(),
        in_range: st.abs_acf_decay.map(|b| (0.2..=0.4).contains(&b)),
    });
    checks
}

/// Every symbol's returns together (each scaled by its own standard
/// deviation, for the distribution; autocorrelations averaged, weighted by
/// each symbol's count): more returns per check than one symbol's day.
#[derive(Clone, Debug, Serialize)]
pub struct Pooled {
    pub symbols: usize,
    #[serde(flatten)]
    pub stats: ReturnStats,
    pub checks: Vec<Check>,
}

/// Weighted mean, lag by lag, of autocorrelation vectors (as long as the shortest).
fn mean_acf(parts: &[(usize, &Vec<f64>)]) -> Vec<f64> {
    let lags = parts.iter().map(|(_, a)| a.len()).min().unwrap_or(0);
    let total: usize = parts.iter().map(|(n, _)| n).sum();
    (0..lags)
        .map(|k| parts.iter().map(|(n, a)| *n as f64 * a[k]).sum::<f64>() / total.max(1) as f64)
        .collect()
}

fn symbol_facts(symbol: Symbol, series: &Series, r: &[f64], minutes_per_day: f64) -> SymbolFacts {
    let stats = ReturnStats::of(r);
    let profile = profile(series);
    let impact = impact(series);
    let spreads: Vec<f64> = series
        .days
        .iter()
        .flat_map(|d| d.values().filter_map(|m| m.spread_bps))
        .collect();
    let mut checks = return_checks(&stats);
    let volume: Vec<Option<f64>> = profile.iter().map(|b| Some(b.volume_per_minute)).collect();
    let u = ends_vs_middle(&volume);
    checks.push(Check {
        fact: "U-shaped volume: first and last half hour vs the middle (shares/minute)".into(),
        measured: u.map_or("n/a".into(), |(f, m, l)| {
            format!("{f:.1} / {m:.1} / {l:.1}")
        }),
        literature:
            "higher at the open and the close (Jain and Joh 1988; Admati and Pfleiderer 1988)"
                .into(),
        in_range: u.map(|(f, m, l)| f > m && l > m),
    });
    let spread: Vec<Option<f64>> = profile.iter().map(|b| b.spread_bps).collect();
    let s = ends_vs_middle(&spread);
    checks.push(Check {
        fact: "spread widest at the open: first half hour vs the middle (bps)".into(),
        measured: s.map_or("n/a".into(), |(f, m, _)| format!("{f:.1} / {m:.1}")),
        literature: "wider at the open, U-shaped over the day (McInish and Wood 1992)".into(),
        in_range: s.map(|(f, m, _)| f > m),
    });
    let depth: Vec<Option<f64>> = profile.iter().map(|b| b.depth).collect();
    let d = ends_vs_middle(&depth);
    checks.push(Check {
        fact: "depth thinnest at the open: first half hour vs the middle (shares at the touch)"
            .into(),
        measured: d.map_or("n/a".into(), |(f, m, _)| format!("{f:.0} / {m:.0}")),
        literature: "lower when spreads are wide, as at the open (Lee, Mucklow and Ready 1993)"
            .into(),
        in_range: d.map(|(f, m, _)| f < m),
    });
    let populated: Vec<&Impact> = impact.iter().filter(|i| i.orders >= 5).collect();
    let concave = (populated.len() >= 2).then(|| {
        let increasing = populated.windows(2).all(|w| w[1].mean_bps >= w[0].mean_bps);
        let (a, b) = (populated[0], populated[populated.len() - 1]);
        // Size classes are a decade apart: the impact ratio against a 10x size.
        let decades = (populated.len() - 1) as f64;
        let slope = if a.mean_bps > 0.0 && b.mean_bps > 0.0 {
            (b.mean_bps / a.mean_bps).log10() / decades
        } else {
            f64::NAN
        };
        (increasing && a.mean_bps > 0.0, slope)
    });
    checks.push(Check {
        fact: "price impact of aggressive orders: increasing and concave in size".into(),
        measured: populated
            .iter()
            .map(|i| format!("{}: {:.2} bps", i.size, i.mean_bps))
            .collect::<Vec<_>>()
            .join(", "),
        literature: "grows with size, concavely (about the square root; Lillo, Farmer and Mantegna 2003; Bouchaud et al. 2009)".into(),
        in_range: concave.map(|(inc, slope)| inc && slope.is_finite() && slope < 1.0),
    });

    SymbolFacts {
        symbol: symbol.to_string(),
        stats,
        volatility_bps: variance(r).map(|v| v.sqrt() * minutes_per_day.sqrt() * 10_000.0),
        mean_spread_bps: mean(&spreads),
        profile,
        impact,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        // Box-Muller.
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    #[test]
    fn a_normal_sample_has_no_excess_kurtosis_and_a_student_t_has_fat_tails() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let g: Vec<f64> = (0..20_000).map(|_| normal(&mut rng)).collect();
        assert!(excess_kurtosis(&g).unwrap().abs() < 0.2);
        // Student t with 3 degrees of freedom: tail index 3.
        let t: Vec<f64> = (0..20_000)
            .map(|_| {
                let z = normal(&mut rng);
                let chi: f64 = (0..3).map(|_| normal(&mut rng).powi(2)).sum();
                z / (chi / 3.0).sqrt()
            })
            .collect();
        assert!(excess_kurtosis(&t).unwrap() > 3.0);
        let a = hill(&t).unwrap();
        assert!((2.3..3.8).contains(&a), "hill {a}");
        // The normal's tail looks thin to the Hill estimator.
        assert!(hill(&g).unwrap() > 4.0);
    }

    #[test]
    fn autocorrelation_finds_an_ar1_and_not_white_noise() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let noise: Vec<f64> = (0..10_000).map(|_| normal(&mut rng)).collect();
        assert!(acf(&noise, 1).unwrap().abs() < 0.05);
        let mut x = vec![0.0];
        for e in &noise {
            let last = *x.last().unwrap();
            x.push(0.6 * last + e);
        }
        assert!((acf(&x, 1).unwrap() - 0.6).abs() < 0.05);
        assert!((acf(&x, 2).unwrap() - 0.36).abs() < 0.05);
    }

    #[test]
    fn a_power_law_acf_gives_its_exponent() {
        let acfs: Vec<f64> = (1..=30).map(|k| 0.3 * (k as f64).powf(-0.3)).collect();
        assert!((decay(&acfs).unwrap() - 0.3).abs() < 1e-9);
    }

    #[test]
    fn impact_is_measured_from_the_last_trade_before_the_order_to_its_last_fill() {
        use engine::{AccountId, Price, Trade};
        let sym = Symbol::new("ACME").unwrap();
        let trade = |seq, price, qty, taker: u64, side| {
            (
                sym,
                Event::Trade(Trade {
                    symbol: sym,
                    seq,
                    price: Price::from_minor(price),
                    quantity: qty,
                    maker_order: OrderId(100 + seq),
                    maker_account: AccountId(1),
                    taker_order: OrderId(taker),
                    taker_account: AccountId(2),
                    taker_side: side,
                    ts: Timestamp(seq as i64 * MINUTE_NS),
                }),
            )
        };
        let mut c = Collector::default();
        c.on_events(&[trade(1, 10_000, 1, 1, Side::Buy)]);
        // A buy of 30 walks the book from 100.00 to 100.20: +20 bps.
        c.on_events(&[
            trade(2, 10_010, 10, 2, Side::Buy),
            trade(3, 10_020, 20, 2, Side::Buy),
        ]);
        // A sell of 5 at 99.90 from 100.20: the price fell 29.9 bps, in its direction.
        c.on_events(&[trade(4, 9_990, 5, 3, Side::Sell)]);
        let s = &c.symbols[&sym];
        assert_eq!(s.impacts.len(), 2);
        assert_eq!(s.impacts[0].0, 30);
        assert!((s.impacts[0].1 - 20.0).abs() < 1e-9);
        assert_eq!(s.impacts[1].0, 5);
        assert!((s.impacts[1].1 - 29.94).abs() < 0.01);
        // Four minutes, four closes, three returns.
        let r = returns(s);
        assert_eq!(r.len(), 3);
        assert!((r[0] - (10_010f64 / 10_000.0).ln()).abs() < 1e-12);
    }
}
