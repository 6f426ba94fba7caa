//! The command line's arguments (clap). `src/main.rs` parses them and
//! dispatches to the library's commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::feed::{GenerateArgs, HistoryArgs, ReplayArgs, SampleArgs};
use crate::relay::RelayArgs;

/// An actor-based stock market simulation engine.
///
/// `marketsim run` plays simulated trading days from a scenario file, with
/// agents trading against real limit order books, reproducibly from a seed.
/// `marketsim serve` runs a live market with an HTTP API.
#[derive(Debug, Parser)]
#[command(name = "marketsim", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a simulation scenario and write its report.
    ///
    /// Prints a report (per-symbol OHLCV, top movers, P&L by agent type,
    /// order totals, the conservation check, throughput) and writes
    /// report.json, trades.csv, candles.csv and one SVG chart per symbol to
    /// the output directory. Exits 2 for a bad scenario file and 3 if
    /// conservation of cash or shares fails.
    Run(RunArgs),
    /// Run a scenario once per seed, several at a time, and summarize.
    ///
    /// Each run is deterministic as `run` is; rows come in seed order, so
    /// the result is the same whatever --jobs is (wall time aside). Writes
    /// sweep.csv (a row per run: seed, event-log hash, wall time, orders,
    /// trades, volume, each symbol's return in bps, volume and trades, each
    /// agent type's mean P&L) and sweep.json (rows and a summary), and
    /// prints each metric's mean, std and quantiles over the seeds.
    Sweep(SweepArgs),
    /// Run a live market with an HTTP API until SIGINT/SIGTERM.
    ///
    /// A random walk moves prices every tick interval; users register,
    /// trade and stream over HTTP (docs at /docs). Settings come from
    /// defaults, then --config FILE (TOML), then MARKETSIM_<KEY> environment
    /// variables, then these flags; README.md lists every key. Exits 2 for
    /// bad settings.
    ///
    /// With a database URL every fact is journaled in PostgreSQL, orders are
    /// acknowledged once durable, and a restart restores the market.
    Serve(ServeArgs),
    /// Apply the PostgreSQL migrations (`serve` also applies them at start).
    Migrate(MigrateArgs),
    /// Stream a market's ticks and trades from Redis as server-sent events.
    ///
    /// Another API process for the market that a `serve --redis-url`
    /// publishes: `GET /v1/stream` gives `tick` and `trade` events.
    Relay(RelayArgs),
    /// Publish the random-walk generator's ticks to a Kafka topic.
    ///
    /// Messages are keyed by symbol; the JSON payload carries a schema
    /// version and a per-symbol sequence number. The producer is idempotent;
    /// Ctrl-C (or --count) flushes in-flight messages before exit.
    Generate(GenerateArgs),
    /// Send a price CSV (`Time,Stock,Price`) in time order to a Kafka topic,
    /// a running market's admin API, or straight into Redis as each stock's
    /// minute history.
    ///
    /// Each price carries its time: the file's time on --date. Malformed
    /// rows are reported with their line number and skipped (--strict stops
    /// at the first); a file out of time order is an error naming the line
    /// (--sort sorts it). A running market lists unknown symbols at first
    /// sight (--no-auto-list refuses them) and keeps replayed symbols off
    /// its random walk while their prices arrive.
    Replay(ReplayArgs),
    /// Keep each stock's minute price history in Redis from a Kafka tick
    /// topic (the price updater as a consumer).
    ///
    /// Histories go by each tick's own time, one document per stock and
    /// day; offsets are committed once Redis has the batch, so a restart
    /// resumes where it stopped.
    History(HistoryArgs),
    /// Write a sample order file or price file that the imports and
    /// `replay` accept (the same seed gives the same file).
    ///
    /// `orders`: `time,user,symbol,side,type,quantity,limit_price`, a third
    /// market orders, limit prices within 2% of each symbol's random walk,
    /// 1-100 shares, users user1..userN. `prices`: `Time,Stock,Price` from
    /// 09:00:00 to 16:00:00. Rows are in time order; symbols STOCK1..STOCKn.
    Sample(SampleArgs),
}

/// Flags of `marketsim serve`: each overrides the same key from the
/// settings file and the environment.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Settings file (TOML); README.md lists every key.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (key `listen`, default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<String>,
    /// Scenario whose symbols are listed and whose agents trade in the
    /// background (key `scenario`).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Generator interval in milliseconds (key `tick_interval_ms`, default 500).
    #[arg(long)]
    pub tick_interval_ms: Option<u64>,
    /// Kafka bootstrap servers (key `kafka_brokers`): ticks flow generator
    /// -> topic -> engine, trades and order events go to the events topic.
    #[arg(long)]
    pub kafka_brokers: Option<String>,
    /// PostgreSQL URL (key `database_url`): journal, acknowledgement after
    /// durability, recovery at start. Prefer MARKETSIM_DATABASE_URL for a
    /// URL with a password: the command line is visible to other users.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Redis URL (key `redis_url`): latest quotes, minute price history,
    /// read caches and pub/sub. Trading never depends on it.
    #[arg(long)]
    pub redis_url: Option<String>,
    /// HTTP worker threads (key `threads`; default: cores less one).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// PostgreSQL URL.
    #[arg(long, env = "MARKETSIM_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML), e.g. simulations/scenarios/quickstart.toml
    pub scenario: PathBuf,
    /// Seed for every random stream (overrides the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory (default: the scenario's `output.dir`, else out/<name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write no files; print the report only.
    #[arg(long)]
    pub no_files: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Tokio worker threads. Default: 1 for scenarios with fewer than 16
    /// symbols (actor round trips are cheapest on one thread), else the
    /// number of cores. The result never depends on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Account actors the agents are spread over.
    #[arg(long, default_value_t = 1)]
    pub account_shards: usize,
    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Scenario file (TOML), e.g. simulations/scenarios/rmsc04.toml
    pub scenario: PathBuf,
    /// Seeds: `first..last` (inclusive) or a list `1,2,3`.
    #[arg(long, default_value = "1..16")]
    pub seeds: String,
    /// A scenario field to vary, `path=value[,value...]` (repeatable: the
    /// grid is every combination, each played over every seed), e.g.
    /// `--set agents[0].count=100,200,400 --set fees.taker_bps=0,5`.
    #[arg(long = "set", value_name = "PATH=VALUES")]
    pub sets: Vec<String>,
    /// Runs at a time (default: the number of cores). Memory grows with it,
    /// not with the number of seeds.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Where sweep.csv, sweep.json, the fan charts and index.html go
    /// (default out/<name>-sweep).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProgressArg {
    /// A bar on a terminal, log lines otherwise.
    Auto,
    Bar,
    Log,
    Quiet,
}

impl From<ProgressArg> for simulations::Progress {
    fn from(p: ProgressArg) -> Self {
        match p {
            ProgressArg::Auto => simulations::Progress::Auto,
            ProgressArg::Bar => simulations::Progress::Bar,
            ProgressArg::Log => simulations::Progress::Log,
            ProgressArg::Quiet => simulations::Progress::Quiet,
        }
    }
}

impl ServeArgs {
    /// The flags as the settings' last layer.
    pub fn overrides(&self) -> crate::settings::Overrides {
        crate::settings::Overrides {
            listen: self.listen.clone(),
            scenario: self.scenario.clone(),
            tick_interval_ms: self.tick_interval_ms,
            kafka_brokers: self.kafka_brokers.clone(),
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
            threads: self.threads,
        }
    }
}
