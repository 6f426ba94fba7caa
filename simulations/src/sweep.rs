//! Sweeps: one scenario played over many seeds, `jobs` runs at a time,
//! each on a runtime of its own (deterministic as a single run), with one
//! row per run and a summary per metric. Results are in seed order, so
//! they are the same whatever `jobs` is (wall time aside).

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::runner::{Progress, RunError, RunOptions, run};
use crate::{Plan, Report};

/// One run to make: a plan (the scenario with `params` set) and a seed.
#[derive(Clone, Debug)]
pub struct Job {
    pub params: Vec<(String, String)>,
    pub plan: Arc<Plan>,
    pub seed: u64,
}

/// Runs whose paths the fan charts draw (the first ones), symbols per run
/// (the first ones) and points per path (every n-th minute): what a sweep
/// keeps for its charts stays bounded whatever the seeds and symbols.
pub const FAN_RUNS: usize = 256;
pub const FAN_SYMBOLS: usize = 8;
pub const FAN_POINTS: usize = 400;

/// One run of a sweep, as its row.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SweepRow {
    /// The `--set` values of this run (`path`, value), in the order given.
    pub params: Vec<(String, String)>,
    pub seed: u64,
    pub wall_seconds: f64,
    pub log_hash: String,
    pub orders: u64,
    pub trades: u64,
    pub volume: u64,
    /// Per symbol: the day's return (close against the initial price),
    /// in basis points, its volume and trades.
    pub symbols: BTreeMap<String, SymbolRow>,
    /// Every symbol's returns together (with two symbols or more).
    pub pooled: Option<FactsRow>,
    /// Mean P&L of each agent type, in minor units.
    pub mean_pnl: BTreeMap<String, i64>,
    pub conservation_ok: bool,
    /// Per symbol (the first `FAN_SYMBOLS`): the run's minute closes, at
    /// most `FAN_POINTS` of them (for the fan chart; not in the files);
    /// empty after the first `FAN_RUNS` runs.
    #[serde(skip)]
    pub paths: BTreeMap<String, Vec<i64>>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SymbolRow {
    pub return_bps: i64,
    /// Standard deviation of 1-minute log returns, scaled to a session (bps).
    pub volatility_bps: Option<f64>,
    /// Mean quoted spread (bps of the mid), sampled once a minute.
    pub spread_bps: Option<f64>,
    pub volume: u64,
    pub trades: u64,
    #[serde(flatten)]
    pub facts: FactsRow,
}

/// The stylized facts of a set of 1-minute returns (a symbol's, or every
/// symbol's pooled), as a sweep compares them across runs.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct FactsRow {
    /// Excess kurtosis.
    pub kurtosis: Option<f64>,
    /// Mean autocorrelation of absolute returns at lags 1-10.
    pub abs_acf: Option<f64>,
    /// Power-law decay exponent of that autocorrelation over lags 1-30.
    pub abs_acf_decay: Option<f64>,
    /// Autocorrelation of returns at lag 1.
    pub acf1: Option<f64>,
}

impl FactsRow {
    fn of(st: &crate::facts::ReturnStats) -> FactsRow {
        FactsRow {
            kurtosis: st.excess_kurtosis,
            abs_acf: st.clustering(),
            abs_acf_decay: st.abs_acf_decay,
            acf1: st.acf_returns.first().copied(),
        }
    }
    fn metrics(&self, prefix: &str, m: &mut Vec<(String, f64)>) {
        for (name, v) in [
            ("kurtosis", self.kurtosis),
            ("abs_acf", self.abs_acf),
            ("abs_acf_decay", self.abs_acf_decay),
            ("acf1", self.acf1),
        ] {
            m.push((format!("{prefix}.{name}"), v.unwrap_or(f64::NAN)));
        }
    }
}

impl SweepRow {
    pub fn from_report(params: Vec<(String, String)>, r: &Report) -> SweepRow {
        SweepRow {
            params,
            seed: r.seed,
            wall_seconds: r.performance.wall_seconds,
            log_hash: r.log_hash.clone(),
            orders: r.totals.orders,
            trades: r.totals.trades,
            volume: r.totals.volume,
            symbols: r
                .symbols
                .iter()
                .map(|s| {
                    let f = r.stylized_facts.iter().find(|f| f.symbol == s.symbol);
                    (
                        s.symbol.clone(),
                        SymbolRow {
                            return_bps: s.change_bps,
                            volatility_bps: f.and_then(|f| f.volatility_bps),
                            spread_bps: f.and_then(|f| f.mean_spread_bps),
                            volume: s.volume,
                            trades: s.trades,
                            facts: f.map(|f| FactsRow::of(&f.stats)).unwrap_or_default(),
                        },
                    )
                })
                .collect(),
            pooled: r
                .stylized_facts_pooled
                .as_ref()
                .map(|p| FactsRow::of(&p.stats)),
            mean_pnl: r
                .leaderboard
                .iter()
                .map(|t| (t.agent_type.clone(), t.mean_minor))
                .collect(),
            conservation_ok: r.conservation.ok,
            paths: r
                .closes
                .iter()
                .take(FAN_SYMBOLS)
                .map(|(s, p)| {
                    let stride = p.len().div_ceil(FAN_POINTS).max(1);
                    (s.clone(), p.iter().step_by(stride).copied().collect())
                })
                .collect(),
        }
    }

    /// The row's metrics by name, in a fixed order (the CSV's columns
    /// after `seed`, `log_hash` and `wall_seconds`).
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut m = vec![
            ("orders".to_string(), self.orders as f64),
            ("trades".to_string(), self.trades as f64),
            ("volume".to_string(), self.volume as f64),
        ];
        for (s, r) in &self.symbols {
            m.push((format!("{s}.return_bps"), r.return_bps as f64));
            m.push((
                format!("{s}.volatility_bps"),
                r.volatility_bps.unwrap_or(f64::NAN),
            ));
            m.push((format!("{s}.spread_bps"), r.spread_bps.unwrap_or(f64::NAN)));
            m.push((format!("{s}.volume"), r.volume as f64));
            m.push((format!("{s}.trades"), r.trades as f64));
            r.facts.metrics(s, &mut m);
        }
        // Columns stay the same from run to run: a run whose pooled facts
        // had too little data gets empty cells.
        if self.symbols.len() >= 2 {
            self.pooled.unwrap_or_default().metrics("pooled", &mut m);
        }
        for (t, p) in &self.mean_pnl {
            m.push((format!("{t}.mean_pnl_minor"), *p as f64));
        }
        m
    }
}

/// Play `plan` once per seed, `jobs` at a time; `done` hears of each run
/// as it ends (for a progress bar). Rows in seed order.
pub fn sweep(
    plan: &Plan,
    seeds: &[u64],
    jobs: usize,
    done: &(dyn Fn(&SweepRow) + Sync),
) -> Result<Vec<SweepRow>, RunError> {
    let plan = Arc::new(plan.clone());
    let list: Vec<Job> = seeds
        .iter()
        .map(|&seed| Job {
            params: Vec::new(),
            plan: plan.clone(),
            seed,
        })
        .collect();
    run_jobs(&list, jobs, done)
}

/// Make every run of `list`, `jobs` at a time, each on a runtime of its
/// own; rows in `list`'s order.
pub fn run_jobs(
    list: &[Job],
    jobs: usize,
    done: &(dyn Fn(&SweepRow) + Sync),
) -> Result<Vec<SweepRow>, RunError> {
    let queue = Mutex::new((0..list.len()).collect::<VecDeque<usize>>());
    let rows: Mutex<Vec<(usize, SweepRow)>> = Mutex::new(Vec::with_capacity(list.len()));
    let failed: Mutex<Option<RunError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(list.len().max(1)) {
            let (queue, rows, failed) = (&queue, &rows, &failed);
            scope.spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        *failed.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(RunError::Setup(format!("no runtime: {e}")));
                        return;
                    }
                };
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(i) = next else { return };
                    let job = &list[i];
                    let opts = RunOptions {
                        seed: Some(job.seed),
                        out: None,
                        no_files: true,
                        progress: Progress::Quiet,
                        account_shards: 1,
                    };
                    match rt.block_on(run(&job.plan, &opts)) {
                        Ok(out) => {
                            let mut row = SweepRow::from_report(job.params.clone(), &out.report);
                            if i >= FAN_RUNS {
                                row.paths.clear();
                            }
                            done(&row);
                            rows.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push((i, row));
                        }
                        Err(e) => {
                            *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            queue.lock().unwrap_or_else(|p| p.into_inner()).clear();
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut rows = rows.into_inner().unwrap_or_else(|p| p.into_inner());
    rows.sort_by_key(|(i, _)| *i);
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// A `--set path=v1,v2,...` axis of a grid: `agents[0].count=100,200`.
pub fn parse_set(s: &str) -> Result<(String, Vec<toml::Value>), String> {
    let (path, values) = s.split_once('=').ok_or_else(|| {
        format!("`{s}`: --set takes path=value[,value...], e.g. agents[0].count=100,200")
    })?;
    let values = values
        .split(',')
        .map(|v| {
            let v = v.trim();
            toml::from_str::<toml::Table>(&format!("v = {v}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(v.to_string()))
        })
        .collect();
    Ok((path.trim().to_string(), values))
}

/// Every combination of the axes' values, the first axis slowest.
pub fn grid(axes: &[(String, Vec<toml::Value>)]) -> Vec<Vec<(String, toml::Value)>> {
    let mut out: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (path, values) in axes {
        out = out
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut c = combo.clone();
                    c.push((path.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

/// The scenario `text` with each (`path`, value) set: `a.b`, `list[2].c`.
/// A field the file leaves out (at its default) is added, and the
/// scenario's own parse then rejects a name it does not know; a list item
/// the file does not have, or a field inside a value that is not a table,
/// is an error naming the path.
pub fn apply(text: &str, sets: &[(String, toml::Value)]) -> Result<String, String> {
    let mut doc: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
    for (path, value) in sets {
        let mut at = &mut doc;
        for seg in path.split('.') {
            let (name, index) = match seg.split_once('[') {
                Some((n, rest)) => {
                    let i = rest
                        .strip_suffix(']')
                        .and_then(|i| i.parse::<usize>().ok())
                        .ok_or_else(|| format!("`{path}`: `{seg}` is not name[index]"))?;
                    (n, Some(i))
                }
                None => (seg, None),
            };
            let table = at
                .as_table_mut()
                .ok_or_else(|| format!("`{path}`: `{seg}` is inside a value, not a table"))?;
            at = match index {
                // A missing list cannot be made up: its items have no defaults.
                Some(_) => table
                    .get_mut(name)
                    .ok_or_else(|| format!("`{path}`: the scenario has no `{name}`"))?,
                None => table
                    .entry(name)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            };
            if let Some(i) = index {
                at = at
                    .get_mut(i)
                    .ok_or_else(|| format!("`{path}`: `{name}` has no item {i}"))?;
            }
        }
        *at = value.clone();
    }
    toml::to_string(&doc).map_err(|e| e.to_string())
}

/// Mean, standard deviation and quantiles of one metric over the runs of
/// one parameter setting.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// The setting (`path=value`, ...); empty without `--set`.
    pub params: String,
    pub metric: String,
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

/// `row`'s parameter setting as `path=value` pairs.
pub fn setting(row: &SweepRow) -> String {
    row.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Each metric's distribution over `rows`, per parameter setting (in the
/// order the settings first appear).
pub fn summarize(rows: &[SweepRow]) -> Vec<Summary> {
    let mut settings: Vec<String> = Vec::new();
    for r in rows {
        let s = setting(r);
        if !settings.contains(&s) {
            settings.push(s);
        }
    }
    settings
        .into_iter()
        .flat_map(|s| {
            let of: Vec<&SweepRow> = rows.iter().filter(|r| setting(r) == s).collect();
            summarize_one(&s, &of)
        })
        .collect()
}

fn summarize_one(params: &str, rows: &[&SweepRow]) -> Vec<Summary> {
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in rows {
        for (k, v) in r.metrics() {
            if !by.contains_key(&k) {
                order.push(k.clone());
            }
            let values = by.entry(k).or_default();
            if v.is_finite() {
                values.push(v);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|k| {
            // Over the runs that measured it (none: no summary line).
            let mut v = by.remove(&k).filter(|v| !v.is_empty())?;
            v.sort_by(f64::total_cmp);
            let n = v.len().max(1) as f64;
            let mean = v.iter().sum::<f64>() / n;
            let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
            let q = |p: f64| {
                if v.is_empty() {
                    0.0
                } else {
                    v[((v.len() - 1) as f64 * p).round() as usize]
                }
            };
            Some(Summary {
                params: params.to_string(),
                metric: k,
                mean,
                std,
                min: q(0.0),
                p5: q(0.05),
                p50: q(0.5),
                p95: q(0.95),
                max: q(1.0),
            })
        })
        .collect()
}

/// `sweep.csv` (a row per run) and `sweep.json` (rows and summary) in
/// `dir`.
pub fn write(dir: &Path, rows: &[SweepRow], summary: &[Summary]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut csv = std::io::BufWriter::new(std::fs::File::create(dir.join("sweep.csv"))?);
    let names: Vec<String> = rows
        .first()
        .map(|r| r.metrics().into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default();
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let lead: String = rows
        .first()
        .map(|r| r.params.iter().map(|(k, _)| quote(k) + ",").collect())
        .unwrap_or_default();
    writeln!(csv, "{lead}seed,log_hash,wall_seconds,{}", names.join(","))?;
    for r in rows {
        let values: Vec<String> = r
            .metrics()
            .into_iter()
            // A statistic a run had too little data for: an empty cell.
            .map(|(_, v)| {
                if v.is_finite() {
                    v.to_string()
                } else {
                    String::new()
                }
            })
            .collect();
        let lead: String = r.params.iter().map(|(_, v)| quote(v) + ",").collect();
        writeln!(
            csv,
            "{lead}{},{},{:.3},{}",
            r.seed,
            r.log_hash,
            r.wall_seconds,
            values.join(",")
        )?;
    }
    csv.flush()?;
    let json = serde_json::json!({"runs": rows, "summary": summary});
    std::fs::write(
        dir.join("sweep.json"),
        serde_json::to_vec_pretty(&json).map_err(std::io::Error::other)?,
    )?;
    write_index(dir, rows, summary)
}

/// A fan chart per symbol (`<SYMBOL>-fan.svg`) and `index.html`: the
/// summary per setting, every run's row and the fans, in one file.
fn write_index(dir: &Path, rows: &[SweepRow], summary: &[Summary]) -> std::io::Result<()> {
    use std::fmt::Write as _;

    use crate::report::{html_table, inline_svg, page_head};
    let mut fans = Vec::new();
    let symbols: Vec<String> = rows
        .first()
        .map(|r| r.paths.keys().cloned().collect())
        .unwrap_or_default();
    for s in &symbols {
        let paths: Vec<Vec<i64>> = rows
            .iter()
            .filter_map(|r| r.paths.get(s).cloned())
            .collect();
        let path = dir.join(format!("{s}-fan.svg"));
        if crate::charts::fan(&path, s, &paths).map_err(std::io::Error::other)? {
            fans.push(path);
        }
    }
    let mut html = page_head("marketsim sweep");
    let _ = writeln!(
        html,
        "<h1>Sweep <small>{} runs</small></h1><p>Rows in seed order; the same seeds give the same rows whatever the number of jobs. Files: sweep.csv, sweep.json.</p>",
        rows.len()
    );
    html.push_str("<h2>Summary</h2>");
    let f = |v: f64| format!("{v:.2}");
    let table: Vec<Vec<(&str, String)>> = summary
        .iter()
        .map(|s| {
            vec![
                ("text", s.params.clone()),
                ("text", s.metric.clone()),
                ("", f(s.mean)),
                ("", f(s.std)),
                ("", f(s.p5)),
                ("", f(s.p50)),
                ("", f(s.p95)),
            ]
        })
        .collect();
    html.push_str(&html_table(
        &["setting", "metric", "mean", "std", "p5", "p50", "p95"],
        &table,
    ));
    html.push_str("<h2>Paths</h2>");
    for p in &fans {
        let _ = writeln!(html, "<figure>{}</figure>", inline_svg(p)?);
    }
    html.push_str("<h2>Runs</h2>");
    let names: Vec<String> = rows
        .first()
        .map(|r| r.metrics().into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default();
    let mut head: Vec<&str> = vec!["setting", "seed", "log hash", "wall s"];
    head.extend(names.iter().map(String::as_str));
    let table: Vec<Vec<(&str, String)>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                ("text", setting(r)),
                ("", r.seed.to_string()),
                ("text", r.log_hash.clone()),
                ("", format!("{:.3}", r.wall_seconds)),
            ];
            row.extend(r.metrics().into_iter().map(|(_, v)| {
                (
                    "",
                    if v.is_finite() {
                        format!("{v:.2}")
                    } else {
                        String::new()
                    },
                )
            }));
            row
        })
        .collect();
    html.push_str(&html_table(&head, &table));
    html.push_str("</body></html>\n");
    std::fs::write(dir.join("index.html"), html)
}

/// Seeds from `a..b` (inclusive) or `a,b,c`.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, String> {
    let bad = || format!("`{s}`: seeds are `first..last` (inclusive) or a list `1,2,3`");
    if let Some((a, b)) = s.split_once("..") {
        let (a, b): (u64, u64) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b || b - a >= 1_000_000 {
            return Err(format!(
                "`{s}`: first..last with first <= last, at most 1,000,000 seeds"
            ));
        }
        return Ok((a..=b).collect());
    }
    s.split(',')
        .map(|x| x.trim().parse().map_err(|_| bad()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_make_a_grid_and_apply_to_the_scenario() {
        let (path, values) = parse_set("agents[0].count=100,200").unwrap();
        assert_eq!(path, "agents[0].count");
        let (p2, v2) = parse_set("name=a,b").unwrap();
        let g = grid(&[(path.clone(), values), (p2, v2)]);
        assert_eq!(g.len(), 4);
        assert_eq!(g[1][1].1, toml::Value::String("b".into()));
        let text = "name = \"x\"\n[[agents]]\ncount = 5\n[[agents]]\ncount = 6\n";
        let out = apply(text, &g[3]).unwrap();
        let doc: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(doc["agents"][0]["count"].as_integer(), Some(200));
        assert_eq!(doc["agents"][1]["count"].as_integer(), Some(6));
        assert_eq!(doc["name"].as_str(), Some("b"));
        let e = apply(text, &[("agents[2].count".into(), toml::Value::Integer(1))]).unwrap_err();
        assert!(e.contains("no item 2"), "{e}");
        let e = apply(
            text,
            &[("symbols[0].volatility".into(), toml::Value::Float(0.2))],
        )
        .unwrap_err();
        assert!(e.contains("no `symbols`"), "{e}");
        let e = apply(text, &[("name.x".into(), toml::Value::Integer(1))]).unwrap_err();
        assert!(e.contains("not a table"), "{e}");
        // A field left at its default is added, nested tables too.
        let out = apply(
            text,
            &[(
                "agents[1].params.activity_feedback".into(),
                toml::Value::Float(2.0),
            )],
        )
        .unwrap();
        let doc: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(
            doc["agents"][1]["params"]["activity_feedback"].as_float(),
            Some(2.0)
        );
        assert!(parse_set("nothing").is_err());
    }

    #[test]
    fn seeds_parse_as_ranges_or_lists() {
        assert_eq!(parse_seeds("1..3").unwrap(), [1, 2, 3]);
        assert_eq!(parse_seeds("7, 9").unwrap(), [7, 9]);
        assert!(parse_seeds("3..1").is_err());
        assert!(parse_seeds("x").unwrap_err().contains("first..last"));
    }
}
