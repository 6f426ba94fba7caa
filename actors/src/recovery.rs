//! What an actor needs to be rebuilt after a crash: its last snapshot and
//! the commands it applied since.
//!
//! An actor appends a command only after applying it successfully, so a
//! command that crashed the actor is not replayed (and its caller got an
//! error, never an acknowledgement). Every `compact_every` commands the
//! actor stores a snapshot and the log restarts, which bounds memory.

use std::sync::{Arc, Mutex};

/// Snapshot plus command log, shared between an actor and its supervisor.
#[derive(Debug)]
pub struct Journal<S, C> {
    inner: Arc<Mutex<Inner<S, C>>>,
    compact_every: usize,
}

#[derive(Debug)]
struct Inner<S, C> {
    snapshot: Option<S>,
    log: Vec<C>,
}

impl<S, C> Clone for Journal<S, C> {
    fn clone(&self) -> Self {
        Journal { inner: Arc::clone(&self.inner), compact_every: self.compact_every }
    }
}

impl<S: Clone, C: Clone> Journal<S, C> {
    pub fn new(compact_every: usize) -> Self {
        Journal { inner: Arc::new(Mutex::new(Inner { snapshot: None, log: Vec::new() })), compact_every: compact_every.max(1) }
    }
    /// Record applied commands; returns true when a snapshot is due.
    pub fn append(&self, cmds: impl IntoIterator<Item = C>) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.log.extend(cmds);
        g.log.len() >= self.compact_every
    }
    /// Store a snapshot and drop the commands it covers.
    pub fn snapshot(&self, state: S) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.snapshot = Some(state);
        g.log.clear();
    }
    /// The last snapshot and the commands since, for a rebuild.
    pub fn load(&self) -> (Option<S>, Vec<C>) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (g.snapshot.clone(), g.log.clone())
    }
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).log.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_replaces_the_log_it_covers() {
        let j: Journal<u32, u32> = Journal::new(3);
        assert!(!j.append([1, 2]));
        assert!(j.append([3]));
        j.snapshot(6);
        j.append([4]);
        assert_eq!(j.load(), (Some(6), vec![4]));
    }
}
