//! marketsim's composition root: every command of the `marketsim` binary
//! as a library function, the live market's `Application` (build, port,
//! run until stopped) and its typed `Settings`. The only crate that depends
//! on `api`, `adapters` and `simulations` together; the binary
//! (`src/main.rs`) only parses arguments and calls in here.
//!
//! Errors are `anyhow` with context at this edge; the crates below return
//! typed errors. `exit_code` maps an error to the process's exit code.

pub mod cli;
pub mod feed;
pub mod kafka;
pub mod listings;
pub mod recovery;
pub mod relay;
pub mod settings;
pub mod startup;

use std::future::Future;

use anyhow::Context;

pub use settings::{Settings, SettingsError};
pub use startup::Application;

/// The conservation check of a simulation failed (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("conservation check failed")]
pub struct ConservationFailed;

/// The process exit code for an error: 2 for bad input files or settings,
/// 3 for a failed conservation check, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.is::<SettingsError>() || e.is::<simulations::ScenarioError>() {
        2
    } else if e.is::<ConservationFailed>() {
        3
    } else {
        1
    }
}

/// Log to stderr with `filter` (tracing's `EnvFilter` syntax).
pub fn init_tracing(filter: &str) {
    // ractor wraps every actor's message loop in an INFO span ("Actor"):
    // entering and leaving it on each poll cost about 3% of a simulated
    // day's instructions. Its spans and logs are kept to warnings unless the filter names
    // ractor itself.
    let filter = if filter.contains("ractor") {
        filter.to_string()
    } else {
        format!("{filter},ractor=warn")
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ractor=warn")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Run `work` as a task on a new runtime of `threads` workers (actor and IO
/// round trips are far cheaper between tasks than from `block_on`).
pub fn run_task<T: Send + 'static>(
    threads: usize,
    work: impl Future<Output = anyhow::Result<T>> + Send + 'static,
) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async move { tokio::spawn(work).await })
        .context("the command panicked")?
}

/// `marketsim run`: play a scenario and print its report.
pub fn simulate(args: cli::RunArgs) -> anyhow::Result<()> {
    let plan = simulations::Scenario::load(&args.scenario)?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = args
        .threads
        .unwrap_or(if plan.symbols.len() < 16 { 1 } else { cores });
    let opts = simulations::RunOptions {
        seed: args.seed,
        out: args.out,
        no_files: args.no_files,
        progress: args.progress.into(),
        account_shards: args.account_shards,
    };
    let out = run_task(
        threads,
        async move { Ok(simulations::run(&plan, &opts).await?) },
    )?;
    if args.json {
        println!("{}", simulations::report::to_json(&out.report)?);
    } else {
        print!("{}", out.report.render());
    }
    if !out.report.conservation.ok {
        return Err(ConservationFailed.into());
    }
    Ok(())
}

/// `marketsim sweep`: a scenario over many seeds, `--jobs` at a time.
pub fn sweep(args: cli::SweepArgs) -> anyhow::Result<()> {
    use simulations::sweep;
    let text = std::fs::read_to_string(&args.scenario)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.scenario.display()))?;
    let origin = args.scenario.display().to_string();
    let plan = simulations::Scenario::parse(&text, &origin)?;
    let seeds = sweep::parse_seeds(&args.seeds).map_err(anyhow::Error::msg)?;
    let axes = args
        .sets
        .iter()
        .map(|s| sweep::parse_set(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let mut list = Vec::new();
    for combo in sweep::grid(&axes) {
        let varied = sweep::apply(&text, &combo).map_err(anyhow::Error::msg)?;
        let p = std::sync::Arc::new(simulations::Scenario::parse(&varied, &origin)?);
        let params: Vec<(String, String)> = combo
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), String::from),
                )
            })
            .collect();
        list.extend(seeds.iter().map(|&seed| sweep::Job {
            params: params.clone(),
            plan: p.clone(),
            seed,
        }));
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(list.len() as u64)
    };
    let started = std::time::Instant::now();
    let rows = sweep::run_jobs(&list, jobs, &|_| bar.inc(1))?;
    bar.finish_and_clear();
    let summary = sweep::summarize(&rows);
    let out = args
        .out
        .unwrap_or_else(|| std::path::PathBuf::from(format!("out/{}-sweep", plan.scenario.name)));
    sweep::write(&out, &rows, &summary)?;
    println!(
        "{}: {} runs ({} seeds), {} at a time, in {:.2} s -> {}",
        plan.scenario.name,
        rows.len(),
        seeds.len(),
        jobs,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    let mut setting = None;
    for s in &summary {
        if setting != Some(&s.params) {
            setting = Some(&s.params);
            if !s.params.is_empty() {
                println!("\n{}", s.params);
            }
            println!(
                "{:<28} {:>14} {:>12} {:>12} {:>12} {:>12}",
                "metric", "mean", "std", "p5", "p50", "p95"
            );
        }
        println!(
            "{:<28} {:>14.2} {:>12.2} {:>12.2} {:>12.2} {:>12.2}",
            s.metric, s.mean, s.std, s.p5, s.p50, s.p95
        );
    }
    if rows.iter().any(|r| !r.conservation_ok) {
        return Err(ConservationFailed.into());
    }
    Ok(())
}

/// `marketsim serve`: load the settings, then run the live market until
/// SIGINT or SIGTERM.
pub fn serve(args: cli::ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::load(args.config.as_deref(), &args.overrides())?;
    init_tracing(&settings.log);
    for (flag, url, var) in [
        (
            "--database-url",
            &args.database_url,
            "MARKETSIM_DATABASE_URL",
        ),
        ("--redis-url", &args.redis_url, "MARKETSIM_REDIS_URL"),
    ] {
        if url.as_deref().is_some_and(|u| u.contains('@')) {
            tracing::warn!(
                "{flag} with credentials on the command line is visible to other users; prefer {var}"
            );
        }
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = settings.threads.unwrap_or(cores.saturating_sub(1));
    run_task(threads, async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped(startup::shutdown_signal()).await
    })
}

/// `marketsim migrate`: apply the migrations and say where the schema is.
pub fn migrate(args: cli::MigrateArgs) -> anyhow::Result<()> {
    run_task(1, async move {
        let url = args.database_url;
        let db =
            adapters::pg::Database::connect(&url, 1, std::time::Duration::from_secs(5)).await?;
        let n = db.migrate().await?;
        println!(
            "{}: schema up to date ({n} migrations applied)",
            adapters::pg::redact(&url)
        );
        Ok(())
    })
}

/// `marketsim relay` until SIGINT or SIGTERM.
pub fn relay(args: relay::RelayArgs) -> anyhow::Result<()> {
    run_task(1, async move {
        relay::Relay::build(args)
            .await?
            .run_until_stopped(startup::shutdown_signal())
            .await
    })
}

/// `marketsim generate`.
pub fn generate(args: feed::GenerateArgs) -> anyhow::Result<()> {
    run_task(2, feed::generate(args))
}

/// `marketsim sample`.
pub fn sample(args: feed::SampleArgs) -> anyhow::Result<()> {
    feed::sample(args)
}

/// `marketsim replay`.
pub fn replay(args: feed::ReplayArgs) -> anyhow::Result<()> {
    run_task(2, feed::replay(args))
}

/// `marketsim history`.
pub fn history(args: feed::HistoryArgs) -> anyhow::Result<()> {
    run_task(2, feed::history(args))
}
