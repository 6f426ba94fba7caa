//! The `marketsim` binary: parse the command line, dispatch to the library
//! (`marketsim::*`), and turn an error into a message and an exit code.

use std::process::ExitCode;

use clap::Parser;
use marketsim::cli::{Cli, Command};

/// jemalloc rather than glibc's malloc: under the HTTP trading mix glibc's
/// allocator took about a fifth of the server's CPU (arena locks,
/// consolidation) across the runtime's threads; jemalloc gives more orders/s
/// and a lower p99 (mimalloc gave the throughput but tripled PostgreSQL
/// mode's p99; benches/README.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` sets up logging once its settings (key `log`) are read.
    if !matches!(cli.command, Command::Serve(_)) {
        marketsim::init_tracing(&std::env::var("MARKETSIM_LOG").unwrap_or_else(|_| "info".into()));
    }
    let result = match cli.command {
        Command::Run(args) => marketsim::simulate(args),
        Command::Sweep(args) => marketsim::sweep(args),
        Command::Serve(args) => marketsim::serve(args),
        Command::Migrate(args) => marketsim::migrate(args),
        Command::Relay(args) => marketsim::relay(args),
        Command::Generate(args) => marketsim::generate(args),
        Command::Replay(args) => marketsim::replay(args),
        Command::History(args) => marketsim::history(args),
        Command::Sample(args) => marketsim::sample(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(marketsim::exit_code(&e))
        }
    }
}
