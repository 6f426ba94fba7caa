//! One module per resource; each exposes `router() -> Router<AppState>`.

pub mod admin;
pub mod export;
pub mod ops;
pub mod orders;
pub mod portfolio;
pub mod stocks;
pub mod stream;
pub mod tasks;
pub mod users;
