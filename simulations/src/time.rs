//! Timestamps to calendar text: the engine's pure conversions.

pub use engine::time::{civil_from_days, days_from_civil, parse_rfc3339, rfc3339};
