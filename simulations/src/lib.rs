//! Simulations: scenario files, agent strategies, the runner and its report.
//!
//! `Scenario::load` validates a TOML file into a `Plan`; `runner::run`
//! plays it on the actor market with the plan's agents and returns a
//! `Report` (also written as files). Shipped scenarios live in
//! `simulations/scenarios/`.

pub mod agents;
pub mod charts;
pub mod facts;
pub mod live;
pub mod log_hash;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sweep;
pub mod time;

pub use report::Report;
pub use runner::{Outcome, Progress, RunError, RunOptions, run};
pub use scenario::{Plan, Scenario, ScenarioError};
