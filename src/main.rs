//! The `marketsim` command line. CLI parsing and start-up only: the work is
//! done by the library crates.

mod kafka_cmds;
mod persist;
mod relay;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use simulations::{Progress, RunOptions, Scenario};

/// An actor-based stock market simulation engine.
///
/// `marketsim run` plays simulated trading days from a scenario file, with
/// agents trading against real limit order books, reproducibly from a seed.
#[derive(Debug, Parser)]
#[command(name = "marketsim", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a simulation scenario and write its report.
    ///
    /// Prints a report (per-symbol OHLCV, top movers, P&L by agent type,
    /// order totals, the conservation check, throughput) and writes
    /// report.json, trades.csv, candles.csv and one SVG chart per symbol to
    /// the output directory. Exits 3 if conservation of cash or shares fails.
    Run(RunArgs),
    /// Run a live market with an HTTP API until SIGINT/SIGTERM.
    ///
    /// A random walk moves prices every tick interval; users register,
    /// trade and stream over HTTP (docs at /docs). Settings come from
    /// --config FILE (TOML), then MARKETSIM_* environment variables
    /// (MARKETSIM_LISTEN, MARKETSIM_ADMIN_KEY, MARKETSIM_STARTING_CASH,
    /// MARKETSIM_TICK_INTERVAL_MS, MARKETSIM_SCENARIO,
    /// MARKETSIM_DATABASE_URL, ...), then flags.
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
    Generate(kafka_cmds::GenerateArgs),
    /// Send a price CSV (`Time,Stock,Price`) to a Kafka topic in time order.
    ///
    /// Malformed rows are reported with their line number and skipped
    /// (--strict stops at the first).
    Replay(kafka_cmds::ReplayArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Settings file (TOML): listen, admin_key, starting_cash,
    /// tick_interval_ms, collar_bps, scenario, seed, matchers.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// Scenario whose symbols are listed and whose agents trade in the background.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Generator interval in milliseconds (default 500).
    #[arg(long)]
    tick_interval_ms: Option<u64>,
    /// Kafka bootstrap servers: ticks flow generator -> topic -> engine
    /// (consumer group, commit after apply), trades and order events go to
    /// the events topic. Unreachable brokers are an error at start.
    #[arg(long)]
    kafka_brokers: Option<String>,
    /// PostgreSQL URL (e.g. postgres://user@127.0.0.1:5432/marketsim):
    /// journal, acknowledgement after durability, recovery at start.
    /// Without it the market lives in memory.
    #[arg(long)]
    database_url: Option<String>,
    /// Redis URL (e.g. redis://127.0.0.1:6379): latest quotes, minute
    /// price history, read caches and pub/sub. Trading never depends on it.
    #[arg(long)]
    redis_url: Option<String>,
    /// HTTP worker threads (default: the number of cores less one, which
    /// runs the market's actors).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct RelayArgs {
    /// Redis URL of the market's `serve --redis-url`.
    #[arg(long, env = "MARKETSIM_REDIS_URL")]
    redis_url: String,
    /// Key prefix of that market (its `redis_prefix`).
    #[arg(long, env = "MARKETSIM_REDIS_PREFIX", default_value = "marketsim")]
    redis_prefix: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: String,
}

#[derive(Debug, clap::Args)]
struct MigrateArgs {
    /// PostgreSQL URL.
    #[arg(long, env = "MARKETSIM_DATABASE_URL")]
    database_url: String,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario file (TOML), e.g. simulations/scenarios/quickstart.toml
    scenario: PathBuf,
    /// Seed for every random stream (overrides the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory (default: the scenario's `output.dir`, else out/<name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write no files; print the report only.
    #[arg(long)]
    no_files: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Tokio worker threads. Default: 1 for scenarios with fewer than 16
    /// symbols (actor round trips are cheapest on one thread), else the
    /// number of cores. The result never depends on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Account actors the agents are spread over.
    #[arg(long, default_value_t = 1)]
    account_shards: usize,
    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProgressArg {
    /// A bar on a terminal, log lines otherwise.
    Auto,
    Bar,
    Log,
    Quiet,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MARKETSIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Serve(args) => serve_cmd(args),
        Command::Migrate(args) => migrate_cmd(args),
        Command::Relay(args) => run_task(
            1,
            "the relay",
            relay::run(args.redis_url, args.redis_prefix, args.listen),
        ),
        Command::Generate(args) => run_task(2, "generate", kafka_cmds::generate(args)),
        Command::Replay(args) => run_task(2, "replay", kafka_cmds::replay(args)),
    }
}

/// Run `work` as a task on a runtime of `threads` workers (actor and IO
/// round trips are far cheaper between tasks than from `block_on`); its
/// error, or its panic, is reported and exits 1.
fn run_task(
    threads: usize,
    what: &str,
    work: impl std::future::Future<Output = Result<(), String>> + Send + 'static,
) -> ExitCode {
    let Some(rt) = runtime(threads) else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(async move { tokio::spawn(work).await }) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {what} panicked: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve_cmd(args: ServeArgs) -> ExitCode {
    let mut settings = match serve::Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.listen.is_some() {
        settings.listen = args.listen;
    }
    if args.scenario.is_some() {
        settings.scenario = args.scenario;
    }
    if args.tick_interval_ms.is_some() {
        settings.tick_interval_ms = args.tick_interval_ms;
    }
    if args.kafka_brokers.is_some() {
        settings.kafka_brokers = args.kafka_brokers;
    }
    if args.database_url.is_some() {
        settings.database_url = args.database_url;
    }
    if args.redis_url.is_some() {
        settings.redis_url = args.redis_url;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    run_task(
        args.threads.unwrap_or(cores.saturating_sub(1)),
        "the server",
        serve::run(settings),
    )
}

fn migrate_cmd(args: MigrateArgs) -> ExitCode {
    run_task(1, "migrate", async move {
        println!("{}", persist::migrate_only(&args.database_url).await?);
        Ok(())
    })
}

fn run(args: RunArgs) -> ExitCode {
    let plan = match Scenario::load(&args.scenario) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = args
        .threads
        .unwrap_or(if plan.symbols.len() < 16 { 1 } else { cores })
        .max(1);
    let Some(rt) = runtime(threads) else {
        return ExitCode::FAILURE;
    };
    let opts = RunOptions {
        seed: args.seed,
        out: args.out,
        no_files: args.no_files,
        progress: match args.progress {
            ProgressArg::Auto => Progress::Auto,
            ProgressArg::Bar => Progress::Bar,
            ProgressArg::Log => Progress::Log,
            ProgressArg::Quiet => Progress::Quiet,
        },
        account_shards: args.account_shards,
    };
    // The run is a task on the runtime: actor round trips between tasks are
    // far cheaper than from `block_on`.
    let outcome = rt.block_on(async move {
        tokio::spawn(async move { simulations::run(&plan, &opts).await }).await
    });
    match outcome {
        Ok(Ok(out)) => {
            if args.json {
                match serde_json_string(&out.report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("error: {e}"),
                }
            } else {
                print!("{}", out.report.render());
            }
            if out.report.conservation.ok {
                ExitCode::SUCCESS
            } else {
                eprintln!("error: conservation check failed");
                ExitCode::from(3)
            }
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: the run panicked: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serde_json_string(r: &simulations::Report) -> Result<String, String> {
    simulations::report::to_json(r)
}

/// A multi-threaded tokio runtime with `threads` workers (at least one).
fn runtime(threads: usize) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            None
        }
    }
}
