//! `marketsim generate` (the random walk's ticks onto a Kafka topic) and
//! `marketsim replay` (a price file onto a topic, or into a running market
//! through its admin API).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actors::ports::TickSink;
use actors::{Clock, Listing, PriceTick, PriceWalk};
use adapters::http::HttpTickSink;
use adapters::kafka::KafkaTickSink;
use adapters::redis::HistoryWriter;
use anyhow::Context;
use engine::{Price, Symbol};
use futures::FutureExt;
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
    /// N random tickers priced 10-100 with 10,000-20,000 shares each
    /// (default 10 without --scenario).
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

/// Where replayed ticks go: a topic, a running market's admin API, or
/// straight into Redis as minute histories.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayTarget {
    /// Kafka bootstrap servers: the ticks go to --topic (a consumer such as
    /// `serve --kafka-brokers` or `marketsim history` reads them).
    #[arg(long, required_unless_present_any = ["url", "redis_url"], conflicts_with_all = ["url", "redis_url"])]
    pub brokers: Option<String>,
    /// A running `marketsim serve` (e.g. http://127.0.0.1:8080): each price
    /// is set through its admin API with the file's time, no Kafka involved.
    #[arg(long, conflicts_with = "redis_url")]
    pub url: Option<String>,
    /// Redis: each stock's minute history is written straight to
    /// `{prefix}:history:{SYMBOL}:{DATE}` (and `{prefix}:history:{SYMBOL}`),
    /// replacing that day's; no server, no Kafka.
    #[arg(long)]
    pub redis_url: Option<String>,
    #[arg(long, default_value = "marketsim.ticks")]
    pub topic: String,
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
    /// The server's admin key (with --url; or MARKETSIM_ADMIN_KEY).
    #[arg(long, env = "MARKETSIM_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Key prefix in Redis (with --redis-url).
    #[arg(long, default_value = "marketsim")]
    pub redis_prefix: String,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Price CSV with header `Time,Stock,Price` (time hhmmss or hh:mm:ss,
    /// symbols in either case, prices like 10 or 10.25).
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
    /// Sort the rows by time instead of refusing a file out of time order.
    #[arg(long)]
    pub sort: bool,
    /// Refuse symbols the market does not list (with --url) instead of
    /// listing them at first sight with their first price.
    #[arg(long)]
    pub no_auto_list: bool,
    /// Calendar date of the file's times, YYYY-MM-DD (UTC; default today).
    #[arg(long)]
    pub date: Option<String>,
}

/// The start of the day `date` names (default: today, UTC).
fn day_start(date: Option<&str>) -> anyhow::Result<engine::Timestamp> {
    match date {
        Some(d) => engine::time::parse_rfc3339(d)
            .filter(|_| d.len() == 10)
            .with_context(|| format!("--date: `{d}` is not a date like 2026-01-05")),
        None => Ok(engine::Timestamp(
            Clock::system().now().day() * engine::Timestamp::NANOS_PER_DAY,
        )),
    }
}

/// What `marketsim sample` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SampleKind {
    /// An order file an admin imports: `time,user,symbol,side,type,quantity,limit_price`.
    Orders,
    /// A price file: `Time,Stock,Price`.
    Prices,
}

/// Flags of `marketsim sample`.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// The kind of file.
    pub kind: SampleKind,
    /// Rows after the header.
    #[arg(long, default_value_t = 20_000)]
    pub rows: u64,
    /// Symbols STOCK1 .. STOCKn.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub symbols: u32,
    /// Users user1 .. userN (order files).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub users: u32,
    /// The same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Calendar date of the orders' times, YYYY-MM-DD (UTC; default today).
    #[arg(long)]
    pub date: Option<String>,
    /// Write here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// `marketsim sample`: the dummy data generator. Writes through a buffer;
/// a file is complete when the command succeeds.
pub fn sample(a: SampleArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let spec = files::sample::Sample {
        rows: a.rows,
        symbols: a.symbols,
        users: a.users,
        seed: a.seed,
        day: day_start(a.date.as_deref())?,
    };
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        match a.kind {
            SampleKind::Orders => files::sample::orders(&spec, &mut out)?,
            SampleKind::Prices => files::sample::prices(&spec, &mut out)?,
        }
        out.flush()
    };
    match &a.output {
        Some(path) => {
            let mut f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            write(&mut f).with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(rows = a.rows, file = %path.display(), "sample written");
        }
        None => write(&mut std::io::stdout().lock()).context("cannot write the sample")?,
    }
    Ok(())
}

async fn sink(t: &Target) -> anyhow::Result<KafkaTickSink> {
    crate::kafka::create_topic(&t.brokers, &t.topic, t.partitions).await;
    Ok(KafkaTickSink::new(&t.brokers, &t.topic)?)
}

/// `n` random tickers: a 3-4 letter symbol, a price of 10.00-100.00 and an
/// available quantity of 10,000-20,000 shares.
fn random_symbols(n: usize, seed: u64) -> Vec<(Symbol, Price, u64)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<(Symbol, Price, u64)> = Vec::new();
    while out.len() < n {
        let len = rng.random_range(3..=4);
        let name: String = (0..len)
            .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
            .collect();
        let Ok(s) = Symbol::new(&name) else { continue };
        if out.iter().any(|(x, _, _)| *x == s) {
            continue;
        }
        let price = Price::from_minor(rng.random_range(1_000..=10_000));
        out.push((s, price, rng.random_range(10_000..=20_000)));
    }
    out
}

/// Publish the walk's ticks until `--count` or Ctrl-C.
pub async fn generate(a: GenerateArgs) -> anyhow::Result<()> {
    // Numbered from the clock: a restarted generator's ticks are never
    // taken for ones the consumer already applied.
    let mut walk = PriceWalk::numbered_from(actors::Clock::system().now().0.max(0) as u64 / 1_000);
    // Each symbol's float: its ticks carry it for a market that lists the
    // symbol at first sight.
    let mut quantity: std::collections::BTreeMap<Symbol, u64> = Default::default();
    match &a.scenario {
        Some(p) => {
            let plan = simulations::Scenario::load(p)?;
            for (i, l) in plan.symbols.iter().enumerate() {
                walk.add(l.symbol, l.model(l.initial)?, a.seed, i as u64);
                quantity.insert(l.symbol, l.float);
            }
        }
        None => {
            for (i, (s, p, q)) in random_symbols(a.symbols.unwrap_or(10).max(1), a.seed)
                .into_iter()
                .enumerate()
            {
                let l = Listing::new(s, p);
                walk.add(s, l.model(p)?, a.seed, i as u64);
                quantity.insert(s, q);
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
    let clock = Clock::system();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut ticks: Vec<PriceTick> = Vec::new();
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        ticks.clear();
        walk.step(step_secs, clock.now(), &mut ticks);
        for t in &mut ticks {
            t.quantity = quantity.get(&t.symbol).copied().filter(|q| *q > 0);
        }
        if let Some(c) = a.count {
            ticks.truncate((c - sent) as usize);
        }
        sink.publish(&ticks).await?;
        sent += ticks.len() as u64;
        if a.count.is_some_and(|c| sent >= c) {
            break;
        }
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = &mut stop => break,
            }
        } else if (&mut stop).now_or_never().is_some() {
            break;
        }
    }
    sink.flush(Duration::from_secs(30))
        .context("could not deliver every tick")?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "sent {sent} ticks to {} in {secs:.2} s ({:.0}/s)",
        a.target.topic,
        sent as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Send a price file's ticks in time order to a topic, a running market or
/// Redis.
pub async fn replay(a: ReplayArgs) -> anyhow::Result<()> {
    let f = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let file =
        files::csv::read_prices(f, a.strict).with_context(|| a.file.display().to_string())?;
    for e in &file.skipped {
        eprintln!("{}: skipped {e}", a.file.display());
    }
    let day = day_start(a.date.as_deref())?;
    let ticks = files::csv::to_ticks(&file.rows, day, a.sort)
        .with_context(|| a.file.display().to_string())?;
    let t = &a.target;
    let (sink, destination): (Box<dyn TickSink>, String) = match (&t.brokers, &t.url, &t.redis_url)
    {
        (Some(b), _, _) => (
            Box::new(
                sink(&Target {
                    brokers: b.clone(),
                    topic: t.topic.clone(),
                    partitions: t.partitions,
                })
                .await?,
            ),
            format!("topic {}", t.topic),
        ),
        (_, Some(u), _) => (
            Box::new(
                HttpTickSink::new(
                    u,
                    t.admin_key.clone().context(
                        "--url needs the server's admin key (--admin-key or MARKETSIM_ADMIN_KEY)",
                    )?,
                )
                .auto_list(!a.no_auto_list),
            ),
            u.clone(),
        ),
        (_, _, Some(r)) => (
            Box::new(
                HistoryWriter::new(r, &t.redis_prefix)
                    .await
                    .with_context(|| format!("--redis-url {}", adapters::pg::redact(r)))?,
            ),
            format!("{} (prefix {})", adapters::pg::redact(r), t.redis_prefix),
        ),
        _ => anyhow::bail!(
            "give --brokers (Kafka), --url (a running marketsim serve) or --redis-url"
        ),
    };
    let started = Instant::now();
    match a.speed {
        Some(speed) if speed > 0.0 => {
            let t0 = ticks.first().map_or(0, |t| t.ts.nanos());
            for group in ticks.chunk_by(|x, y| x.ts == y.ts) {
                let due = Duration::from_secs_f64((group[0].ts.nanos() - t0) as f64 / 1e9 / speed);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
                sink.publish(group).await?;
            }
        }
        _ => {
            for chunk in ticks.chunks(1_000) {
                sink.publish(chunk).await?;
            }
        }
    }
    // `publish` returns once Kafka acknowledged (or the server answered,
    // or Redis stored it).
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

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]
    #[arg(long)]
    pub brokers: String,
    /// The tick topic to read.
    #[arg(long, default_value = "marketsim.ticks")]
    pub topic: String,
    /// Consumer group: a restarted `history` resumes from the group's
    /// committed offsets.
    #[arg(long, default_value = "marketsim-history")]
    pub group: String,
    /// Redis URL (or MARKETSIM_REDIS_URL).
    #[arg(long, env = "MARKETSIM_REDIS_URL", hide_env_values = true)]
    pub redis_url: String,
    /// Key prefix in Redis.
    #[arg(long, default_value = "marketsim")]
    pub redis_prefix: String,
    /// Exit once no tick has arrived for this many milliseconds (default:
    /// run until Ctrl-C or SIGTERM).
    #[arg(long)]
    pub idle_exit_ms: Option<u64>,
}

/// `marketsim history`: the price updater as a Kafka consumer. Each batch
/// of ticks is written to Redis as minute histories (extending the stored
/// days) before its offsets are committed.
pub async fn history(a: HistoryArgs) -> anyhow::Result<()> {
    use actors::ports::TickSource;
    adapters::kafka::check_brokers(&a.brokers, Duration::from_secs(5))?;
    let writer = HistoryWriter::extending(&a.redis_url, &a.redis_prefix)
        .await
        .with_context(|| format!("--redis-url {}", adapters::pg::redact(&a.redis_url)))?;
    let source = adapters::kafka::KafkaTickSource::new(&a.brokers, &a.group, &a.topic)
        .context("the tick consumer")?;
    let stop = crate::startup::shutdown_signal();
    tokio::pin!(stop);
    let idle = a.idle_exit_ms.map(Duration::from_millis);
    let mut written = 0u64;
    loop {
        let next = async {
            match idle {
                Some(d) => tokio::time::timeout(d, source.next_batch()).await.ok(),
                None => Some(source.next_batch().await),
            }
        };
        let batch = tokio::select! {
            () = &mut stop => break,
            b = next => match b {
                None => {
                    tracing::info!("no ticks for {:?}: done", idle.unwrap_or_default());
                    break;
                }
                Some(b) => b?,
            },
        };
        let Some(batch) = batch else { break };
        // Redis first, then the offsets: a crash re-reads, never skips.
        let mut wait = Duration::from_millis(100);
        while let Err(e) = writer.publish(&batch).await {
            tracing::warn!(error = %e, "Redis refused a batch; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        source.commit().await?;
        written += batch.len() as u64;
    }
    eprintln!(
        "wrote {written} ticks from {} to Redis ({} refused as earlier than their day's last minute, {} malformed, {} duplicates)",
        a.topic,
        writer.out_of_order().await,
        source.malformed(),
        source.duplicates()
    );
    Ok(())
}
