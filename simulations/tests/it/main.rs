//! Integration tests of the simulations crate.
mod determinism;
mod multiday;
mod scenarios;
mod validation;

use simulations::{Outcome, Plan, Progress, RunOptions, Scenario};

/// The shipped scenario `name`, optionally with its session cut to `close`.
pub fn shipped(name: &str, close: Option<&str>) -> Plan {
    let path = format!("{}/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    if let Some(c) = close {
        text = text.replace("close = \"16:00:00\"", &format!("close = \"{c}\""));
    }
    Scenario::parse(&text, &path).unwrap()
}

/// Run `plan` on a fresh runtime with `threads` workers, inside a task.
pub fn run(plan: &Plan, threads: usize, seed: Option<u64>) -> Outcome {
    run_with(
        plan,
        threads,
        RunOptions {
            seed,
            no_files: true,
            progress: Progress::Quiet,
            account_shards: threads,
            ..RunOptions::default()
        },
    )
}

/// Run `plan` with `opts` on a fresh runtime with `threads` workers.
pub fn run_with(plan: &Plan, threads: usize, opts: RunOptions) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let plan = plan.clone();
    rt.block_on(async move {
        tokio::spawn(async move { simulations::run(&plan, &opts).await })
            .await
            .unwrap()
    })
    .unwrap()
}
