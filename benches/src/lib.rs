//! Load drivers and bench helpers.
