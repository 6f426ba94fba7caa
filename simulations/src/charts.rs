//! SVG charts of a run: per symbol, minute candlesticks with volume on a
//! clock-time axis with the reference (fundamental) price overlaid, and its
//! stylized facts (autocorrelations, the intraday profile, impact by size);
//! for a sweep, a fan chart of the seeds' paths.

use plotters::prelude::*;

use crate::facts::{Minute, SymbolFacts};
use crate::time::rfc3339;

const GAIN: RGBColor = RGBColor(10, 122, 50);
const LOSS: RGBColor = RGBColor(179, 38, 30);
const REFERENCE: RGBColor = RGBColor(230, 120, 0);
const LINE: RGBColor = RGBColor(11, 87, 208);
const GREY: RGBColor = RGBColor(150, 160, 170);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// "HH:MM" of a timestamp (ns), with the date when a run has several days.
fn clock(ns: i64, dated: bool) -> String {
    let t = rfc3339(engine::Timestamp(ns));
    if dated {
        format!("{} {}", &t[5..10], &t[11..16])
    } else {
        t[11..16].to_string()
    }
}

fn price(minor: i64) -> f64 {
    minor as f64 / engine::money::SCALE as f64
}

/// Candlesticks of each minute with trades, volume bars below, and the
/// reference price as a line; minutes of every day side by side (no
/// overnight gap), labelled with their clock time.
pub fn candles(
    path: &std::path::Path,
    symbol: &str,
    days: &[Vec<(i64, Minute)>],
) -> Result<bool, String> {
    let minutes: Vec<(i64, Minute)> = days.iter().flatten().copied().collect();
    let traded = minutes.iter().filter(|(_, m)| m.close.is_some()).count();
    if traded == 0 {
        return Ok(false);
    }
    let dated = days.iter().filter(|d| !d.is_empty()).count() > 1;
    let lo = minutes
        .iter()
        .flat_map(|(_, m)| [m.low, m.reference])
        .flatten()
        .min()
        .unwrap_or(0);
    let hi = minutes
        .iter()
        .flat_map(|(_, m)| [m.high, m.reference])
        .flatten()
        .max()
        .unwrap_or(1);
    let pad = ((price(hi) - price(lo)) * 0.05).max(0.01);
    let vmax = minutes
        .iter()
        .map(|(_, m)| m.volume)
        .max()
        .unwrap_or(1)
        .max(1);
    let n = minutes.len() as f64;
    let label = |x: &f64| {
        let i = (x.round().max(0.0) as usize).min(minutes.len() - 1);
        clock(minutes[i].0, dated)
    };

    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            &format!("{symbol}: 1-minute candles, volume, reference price (orange)"),
            ("sans-serif", 20),
        )
        .map_err(err)?;
    let (upper, lower) = root.split_vertically(400);
    let mut top = ChartBuilder::on(&upper)
        .margin(8)
        .x_label_area_size(20)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..n - 0.5, (price(lo) - pad)..(price(hi) + pad))
        .map_err(err)?;
    top.configure_mesh()
        .x_labels(10)
        .x_label_formatter(&label)
        .y_desc("price")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let width = (700.0 / n).clamp(1.0, 8.0) as u32;
    top.draw_series(minutes.iter().enumerate().filter_map(|(i, (_, m))| {
        let (o, h, l, c) = (m.open?, m.high?, m.low?, m.close?);
        Some(CandleStick::new(
            i as f64,
            price(o),
            price(h),
            price(l),
            price(c),
            GAIN.filled(),
            LOSS.filled(),
            width,
        ))
    }))
    .map_err(err)?;
    top.draw_series(LineSeries::new(
        minutes
            .iter()
            .enumerate()
            .filter_map(|(i, (_, m))| Some((i as f64, price(m.reference?)))),
        REFERENCE.stroke_width(2),
    ))
    .map_err(err)?;

    let mut bottom = ChartBuilder::on(&lower)
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..n - 0.5, 0.0..vmax as f64 * 1.05)
        .map_err(err)?;
    bottom
        .configure_mesh()
        .x_labels(10)
        .x_label_formatter(&label)
        .y_desc("volume")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    bottom
        .draw_series(
            minutes
                .iter()
                .enumerate()
                .filter(|(_, (_, m))| m.volume > 0)
                .map(|(i, (_, m))| {
                    let up = m.close >= m.open;
                    let x = i as f64;
                    Rectangle::new(
                        [(x - 0.4, 0.0), (x + 0.4, m.volume as f64)],
                        if up { GAIN.mix(0.5) } else { LOSS.mix(0.5) }.filled(),
                    )
                }),
        )
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(true)
}

/// Three panels: autocorrelation of returns and of absolute returns by lag
/// (with the 2/sqrt(n) band), volume and spread by half hour, and impact
/// by order size.
pub fn facts(path: &std::path::Path, f: &SymbolFacts) -> Result<bool, String> {
    if f.stats.acf_returns.is_empty() && f.profile.is_empty() {
        return Ok(false);
    }
    let root = SVGBackend::new(path, (1000, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(&format!("{}: stylized facts", f.symbol), ("sans-serif", 20))
        .map_err(err)?;
    let panels = root.split_evenly((1, 3));

    // Autocorrelations.
    let band = 2.0 / (f.stats.returns.max(1) as f64).sqrt();
    let lags = f
        .stats
        .acf_abs_returns
        .len()
        .max(f.stats.acf_returns.len())
        .max(1) as f64;
    let lo = f
        .stats
        .acf_returns
        .iter()
        .chain(&f.stats.acf_abs_returns)
        .fold(-band, |a, v| a.min(*v))
        .min(-0.1);
    let hi = f
        .stats
        .acf_returns
        .iter()
        .chain(&f.stats.acf_abs_returns)
        .fold(band, |a, v| a.max(*v))
        .max(0.1);
    let mut c = ChartBuilder::on(&panels[0])
        .caption(
            "autocorrelation: returns (blue), |returns| (orange)",
            ("sans-serif", 13),
        )
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(0.5..lags + 0.5, lo * 1.1..hi * 1.1)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("lag (minutes)")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for b in [band, -band] {
        c.draw_series(LineSeries::new([(0.5, b), (lags + 0.5, b)], GREY))
            .map_err(err)?;
    }
    for (series, colour) in [
        (&f.stats.acf_returns, LINE),
        (&f.stats.acf_abs_returns, REFERENCE),
    ] {
        c.draw_series(LineSeries::new(
            series.iter().enumerate().map(|(i, v)| ((i + 1) as f64, *v)),
            colour.stroke_width(2),
        ))
        .map_err(err)?;
    }

    // Intraday profile: volume per minute (bars) and spread (line, own scale).
    let buckets = f.profile.len().max(1) as f64;
    let vmax = f
        .profile
        .iter()
        .map(|b| b.volume_per_minute)
        .fold(1.0, f64::max);
    let c = ChartBuilder::on(&panels[1])
        .caption(
            "volume/minute by half hour (bars), spread bps (line)",
            ("sans-serif", 13),
        )
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .right_y_label_area_size(40)
        .build_cartesian_2d(-0.5..buckets - 0.5, 0.0..vmax * 1.1)
        .map_err(err)?;
    let smax = f
        .profile
        .iter()
        .filter_map(|b| b.spread_bps)
        .fold(0.1, f64::max);
    let mut c = c.set_secondary_coord(-0.5..buckets - 0.5, 0.0..smax * 1.2);
    c.configure_mesh()
        .x_desc("half hour of the session")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    c.configure_secondary_axes().draw().map_err(err)?;
    c.draw_series(f.profile.iter().enumerate().map(|(i, b)| {
        let x = i as f64;
        Rectangle::new(
            [(x - 0.4, 0.0), (x + 0.4, b.volume_per_minute)],
            GREY.mix(0.6).filled(),
        )
    }))
    .map_err(err)?;
    c.draw_secondary_series(LineSeries::new(
        f.profile
            .iter()
            .enumerate()
            .filter_map(|(i, b)| Some((i as f64, b.spread_bps?))),
        LOSS.stroke_width(2),
    ))
    .map_err(err)?;

    // Impact by size class.
    let n = f.impact.len().max(1) as f64;
    let imax = f.impact.iter().map(|i| i.mean_bps).fold(0.1, f64::max);
    let imin = f.impact.iter().map(|i| i.mean_bps).fold(0.0, f64::min);
    let names: Vec<String> = f.impact.iter().map(|i| i.size.clone()).collect();
    let mut c = ChartBuilder::on(&panels[2])
        .caption(
            "impact of aggressive orders by size (bps)",
            ("sans-serif", 13),
        )
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(-0.5..n - 0.5, imin * 1.2..imax * 1.2)
        .map_err(err)?;
    c.configure_mesh()
        .x_labels(names.len().max(1))
        .x_label_formatter(&|x| {
            let i = x.round();
            if i < 0.0 {
                String::new()
            } else {
                names.get(i as usize).cloned().unwrap_or_default()
            }
        })
        .x_desc("shares")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    c.draw_series(f.impact.iter().enumerate().map(|(i, b)| {
        let x = i as f64;
        Rectangle::new(
            [(x - 0.3, 0.0), (x + 0.3, b.mean_bps)],
            LINE.mix(0.7).filled(),
        )
    }))
    .map_err(err)?;
    root.present().map_err(err)?;
    Ok(true)
}

/// A fan chart: the median of the runs' minute closes, with the 25-75%
/// and 5-95% bands, for one symbol of a sweep (`paths`: each run's closes
/// by minute index, in minor units).
pub fn fan(path: &std::path::Path, symbol: &str, paths: &[Vec<i64>]) -> Result<bool, String> {
    let len = paths.iter().map(Vec::len).max().unwrap_or(0);
    if len < 2 || paths.is_empty() {
        return Ok(false);
    }
    let q = |v: &mut Vec<i64>, p: f64| price(v[((v.len() - 1) as f64 * p).round() as usize]);
    let mut bands: Vec<[f64; 5]> = Vec::with_capacity(len);
    for i in 0..len {
        let mut v: Vec<i64> = paths.iter().filter_map(|p| p.get(i).copied()).collect();
        if v.is_empty() {
            continue;
        }
        v.sort_unstable();
        bands.push([
            q(&mut v, 0.05),
            q(&mut v, 0.25),
            q(&mut v, 0.5),
            q(&mut v, 0.75),
            q(&mut v, 0.95),
        ]);
    }
    let lo = bands.iter().map(|b| b[0]).fold(f64::MAX, f64::min);
    let hi = bands.iter().map(|b| b[4]).fold(f64::MIN, f64::max);
    let pad = ((hi - lo) * 0.05).max(0.01);
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut c = ChartBuilder::on(&root)
        .caption(
            format!(
                "{symbol}: minute close over {} runs (median, 25-75% and 5-95% bands)",
                paths.len()
            ),
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..bands.len() as f64, (lo - pad)..(hi + pad))
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("points into the run (minutes, or every n-th minute in long runs)")
        .y_desc("price")
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for (lo_i, hi_i, alpha) in [(0, 4, 0.15), (1, 3, 0.3)] {
        let upper = bands.iter().enumerate().map(|(i, b)| (i as f64, b[hi_i]));
        let lower = bands
            .iter()
            .enumerate()
            .rev()
            .map(|(i, b)| (i as f64, b[lo_i]));
        c.draw_series(std::iter::once(Polygon::new(
            upper.chain(lower).collect::<Vec<_>>(),
            LINE.mix(alpha).filled(),
        )))
        .map_err(err)?;
    }
    c.draw_series(LineSeries::new(
        bands.iter().enumerate().map(|(i, b)| (i as f64, b[2])),
        LINE.stroke_width(2),
    ))
    .map_err(err)?;
    root.present().map_err(err)?;
    Ok(true)
}
