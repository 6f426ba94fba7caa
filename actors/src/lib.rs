//! Actors around the engine (arrives with the actors issue).
