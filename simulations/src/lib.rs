//! Scenarios, agents and the runner (arrive with the simulations issue).
