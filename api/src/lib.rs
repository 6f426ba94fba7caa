//! The HTTP API (arrives with the API issue).
