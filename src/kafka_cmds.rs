//! `marketsim generate` and `marketsim replay`: ticks onto a Kafka topic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actors::ports::TickSink;
use actors::{PriceTick, PriceWalk};
use adapters::kafka::{KafkaTickSink, ensure_topic};
use engine::{Gbm, GbmParams, Price, Symbol, Timestamp};
use rand::{Rng, SeedableRng};

/// Where ticks go.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]
    #[arg(long)]
    pub brokers: String,
    /// Topic (created with --partitions if missing).
    #[arg(long, default_value = "marketsim.ticks")]
    pub topic: String,
    /// Partitions of a topic this command creates.
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub target: Target,
    /// Symbols (and their walks) from a scenario file.
    #[arg(long, conflicts_with = "symbols")]
    pub scenario: Option<PathBuf>,
    /// N random tickers priced 10-100 (default 10 without --scenario).
    #[arg(long)]
    pub symbols: Option<usize>,
    /// Every symbol ticks once per interval (default 500 ms).
    #[arg(long, default_value_t = 500)]
    pub interval_ms: u64,
    /// Ticks per second over all symbols instead of --interval-ms; 0 sends as
    /// fast as possible.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Stop after this many ticks (default: until Ctrl-C).
    #[arg(long)]
    pub count: Option<u64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Where replayed ticks go: a topic, or a running market's admin API.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayTarget {
    /// Kafka bootstrap servers (with --topic).
    #[arg(long, required_unless_present = "url", conflicts_with = "url")]
    pub brokers: Option<String>,
    #[arg(long, default_value = "marketsim.ticks")]
    pub topic: String,
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
    /// A running `marketsim serve` (e.g. http://127.0.0.1:8080): each price
    /// is set through its admin API, no Kafka involved.
    #[arg(long)]
    pub url: Option<String>,
    /// The server's admin key (or MARKETSIM_ADMIN_KEY).
    #[arg(long, env = "MARKETSIM_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Price CSV with header `Time,Stock,Price` (time hhmmss).
    pub file: PathBuf,
    #[command(flatten)]
    pub target: ReplayTarget,
    /// Pace by the file's clock times this factor (1 = real time, 60 = a
    /// minute per second); default: as fast as possible.
    #[arg(long)]
    pub speed: Option<f64>,
    /// Stop at the first malformed row instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Calendar date of the file's times (UTC).
    #[arg(long, default_value = "2026-01-05")]
    pub date: String,
}

async fn sink(t: &Target) -> Result<KafkaTickSink, String> {
    // Some brokers do not auto-create topics; an admin failure (or a broker
    // without the admin API) is a warning, not fatal: producing reports a
    // missing topic clearly.
    if let Err(e) = ensure_topic(
        &t.brokers,
        &t.topic,
        t.partitions,
        1,
        Duration::from_secs(3),
    )
    .await
    {
        tracing::warn!(error = %e, topic = %t.topic, "could not create the topic; assuming it exists");
    }
    KafkaTickSink::new(&t.brokers, &t.topic).map_err(|e| e.to_string())
}

fn random_symbols(n: usize, seed: u64) -> Vec<(Symbol, Price)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<(Symbol, Price)> = Vec::new();
    while out.len() < n {
        let len = rng.random_range(3..=4);
        let name: String = (0..len)
            .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
            .collect();
        let Ok(s) = Symbol::new(&name) else { continue };
        if out.iter().any(|(x, _)| *x == s) {
            continue;
        }
        out.push((s, Price::from_minor(rng.random_range(1_000..=10_000))));
    }
    out
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

pub async fn generate(a: GenerateArgs) -> Result<(), String> {
    let mut walk = PriceWalk::default();
    match &a.scenario {
        Some(p) => {
            let plan = simulations::Scenario::load(p).map_err(|e| e.to_string())?;
            for (i, l) in plan.symbols.iter().enumerate() {
                walk.add(
                    l.symbol,
                    Gbm::new(l.initial, l.tick, l.params).map_err(|e| e.to_string())?,
                    a.seed,
                    i as u64,
                );
            }
        }
        None => {
            for (i, (s, p)) in random_symbols(a.symbols.unwrap_or(10).max(1), a.seed)
                .into_iter()
                .enumerate()
            {
                let gbm = Gbm::new(
                    p,
                    Price::from_minor(1),
                    GbmParams {
                        volatility: 0.3,
                        ..Default::default()
                    },
                )
                .map_err(|e| e.to_string())?;
                walk.add(s, gbm, a.seed, i as u64);
            }
        }
    }
    let sink = sink(&a.target).await?;
    let per_step = walk.len() as f64;
    let pause = match a.rate {
        Some(r) if r <= 0.0 => Duration::ZERO,
        Some(r) => Duration::from_secs_f64(per_step / r),
        None => Duration::from_millis(a.interval_ms.max(1)),
    };
    let step_secs = if pause.is_zero() {
        a.interval_ms as f64 / 1000.0
    } else {
        pause.as_secs_f64()
    };
    let started = Instant::now();
    let mut sent = 0u64;
    let mut ticks: Vec<PriceTick> = Vec::new();
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        ticks.clear();
        walk.step(step_secs, now(), &mut ticks);
        if let Some(c) = a.count {
            ticks.truncate((c - sent) as usize);
        }
        sink.publish(&ticks).await.map_err(|e| e.to_string())?;
        sent += ticks.len() as u64;
        if a.count.is_some_and(|c| sent >= c) {
            break;
        }
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = &mut stop => break,
            }
        } else if (&mut stop).now_or_never_ready() {
            break;
        }
    }
    sink.flush(Duration::from_secs(30))
        .map_err(|e| format!("could not deliver every tick: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "sent {sent} ticks to {} in {secs:.2} s ({:.0}/s)",
        a.target.topic,
        sent as f64 / secs.max(1e-9)
    );
    Ok(())
}

pub async fn replay(a: ReplayArgs) -> Result<(), String> {
    let f = std::fs::File::open(&a.file)
        .map_err(|e| format!("cannot read {}: {e}", a.file.display()))?;
    let file = adapters::csv::read_prices(f, a.strict)
        .map_err(|e| format!("{}: {e}", a.file.display()))?;
    for e in &file.skipped {
        eprintln!("{}: skipped {e}", a.file.display());
    }
    let day = engine::time::parse_rfc3339(&a.date)
        .ok_or_else(|| format!("--date: `{}` is not a date like 2026-01-05", a.date))?;
    let ticks = adapters::csv::to_ticks(&file.rows, day);
    let sink: Box<dyn TickSink> = match (&a.target.brokers, &a.target.url) {
        (Some(b), _) => Box::new(
            sink(&Target {
                brokers: b.clone(),
                topic: a.target.topic.clone(),
                partitions: a.target.partitions,
            })
            .await?,
        ),
        (None, Some(u)) => Box::new(HttpSink::new(u, a.target.admin_key.clone())?),
        (None, None) => {
            return Err("give --brokers (Kafka) or --url (a running marketsim serve)".into());
        }
    };
    let destination = a
        .target
        .url
        .clone()
        .unwrap_or_else(|| a.target.topic.clone());
    let started = Instant::now();
    match a.speed {
        Some(speed) if speed > 0.0 => {
            let t0 = ticks.first().map_or(0, |t| t.ts.nanos());
            for group in ticks.chunk_by(|x, y| x.ts == y.ts) {
                let due = Duration::from_secs_f64((group[0].ts.nanos() - t0) as f64 / 1e9 / speed);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
                sink.publish(group).await.map_err(|e| e.to_string())?;
            }
        }
        _ => {
            for chunk in ticks.chunks(1_000) {
                sink.publish(chunk).await.map_err(|e| e.to_string())?;
            }
        }
    }
    // `publish` returns once Kafka acknowledged (or the server answered).
    eprintln!(
        "replayed {} ticks from {} to {} ({} malformed rows skipped) in {:.2} s",
        ticks.len(),
        a.file.display(),
        destination,
        file.skipped.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Sets prices through a running server's admin API.
struct HttpSink {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl HttpSink {
    fn new(url: &str, key: Option<String>) -> Result<HttpSink, String> {
        let key =
            key.ok_or("--url needs the server's admin key (--admin-key or MARKETSIM_ADMIN_KEY)")?;
        Ok(HttpSink {
            http: reqwest::Client::new(),
            base: url.trim_end_matches('/').to_string(),
            key,
        })
    }
}

#[async_trait::async_trait]
impl TickSink for HttpSink {
    async fn publish(&self, ticks: &[PriceTick]) -> Result<(), actors::ports::PortError> {
        let err = |m: String| actors::ports::PortError {
            port: "http",
            message: m,
        };
        for t in ticks {
            let url = format!("{}/v1/admin/stocks/{}/price", self.base, t.symbol);
            let r = self
                .http
                .post(&url)
                .bearer_auth(&self.key)
                .json(&serde_json::json!({"price": t.price.to_string()}))
                .send()
                .await
                .map_err(|e| err(format!("{url}: {e}")))?;
            if !r.status().is_success() {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                return Err(err(format!("{url}: {status}: {body}")));
            }
        }
        Ok(())
    }
}

trait NowOrNever {
    fn now_or_never_ready(self) -> bool;
}

impl<F: std::future::Future + Unpin> NowOrNever for &mut F {
    fn now_or_never_ready(self) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        std::pin::Pin::new(self).poll(&mut cx).is_ready()
    }
}
