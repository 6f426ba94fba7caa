//! The `marketsim` command line. CLI parsing only: work is done by the
//! library crates.

use clap::{Parser, Subcommand};

/// An actor-based stock market simulation engine.
///
/// `marketsim run` plays a simulated trading day from a scenario file;
/// `marketsim serve` runs a live market with an HTTP API.
#[derive(Debug, Parser)]
#[command(name = "marketsim", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() {
    let cli = Cli::parse();
    if cli.command.is_none() {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        std::process::exit(2);
    }
}
