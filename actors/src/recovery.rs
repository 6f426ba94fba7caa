//! What an actor needs to be rebuilt after a crash: its last snapshot and
//! the commands it applied since.
//!
//! An actor appends a command only after applying it successfully, so a
//! command that crashed the actor is not replayed (and its caller got an
//! error, never an acknowledgement). When the log grows past
//! `max(min_log, 4 x state size)` the actor stores a snapshot and the log
//! restarts: memory stays proportional to the state, and the cost of the
//! snapshots (a clone, proportional to the state) is amortised over the
//! commands that filled the log.

use std::sync::{Arc, Mutex};

/// Snapshot plus command log, shared between an actor and its supervisor.
#[derive(Debug)]
pub struct Journal<S, C> {
    inner: Arc<Mutex<Inner<S, C>>>,
    min_log: usize,
}

#[derive(Debug)]
struct Inner<S, C> {
    snapshot: Option<S>,
    log: Vec<C>,
}

impl<S, C> Clone for Journal<S, C> {
    fn clone(&self) -> Self {
        Journal {
            inner: Arc::clone(&self.inner),
            min_log: self.min_log,
        }
    }
}

impl<S: Clone, C: Clone> Journal<S, C> {
    pub fn new(min_log: usize) -> Self {
        Journal {
            inner: Arc::new(Mutex::new(Inner {
                snapshot: None,
                log: Vec::new(),
            })),
            min_log: min_log.max(1),
        }
    }
    /// Record applied commands; returns true when a snapshot is due for a
    /// state of `state_size` items.
    pub fn append(&self, cmds: impl IntoIterator<Item = C>, state_size: usize) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.log.extend(cmds);
        g.log.len() >= self.min_log.max(state_size.saturating_mul(4))
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
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .log
            .len()
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
        assert!(!j.append([1, 2], 0));
        assert!(j.append([3], 0));
        j.snapshot(6);
        j.append([4], 0);
        assert_eq!(j.load(), (Some(6), vec![4]));
    }

    #[test]
    fn a_larger_state_waits_for_a_longer_log() {
        let j: Journal<u32, u32> = Journal::new(2);
        assert!(!j.append([1, 2, 3, 4, 5, 6, 7], 2));
        assert!(j.append([8], 2));
    }
}
