//! Background tasks of the live market, as data: what a task is, its
//! state machine and its progress. The API's task runner drives them; the
//! journal keeps every change (`Fact::Task`), so a restart finds each task
//! where it was. Pure: no clock, no IO.

use engine::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};

/// What a task does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// List new symbols with random prices and floats.
    CreateShares,
    /// A new price for each selected symbol.
    UpdatePrices,
    /// Place each row of an order file as an order.
    ImportOrders,
    /// Apply each row of a price file as a price.
    ImportPrices,
    /// Write orders, trades or prices to a CSV file.
    Export,
}

impl TaskKind {
    pub const ALL: [TaskKind; 5] = [
        TaskKind::CreateShares,
        TaskKind::UpdatePrices,
        TaskKind::ImportOrders,
        TaskKind::ImportPrices,
        TaskKind::Export,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::CreateShares => "create_shares",
            TaskKind::UpdatePrices => "update_prices",
            TaskKind::ImportOrders => "import_orders",
            TaskKind::ImportPrices => "import_prices",
            TaskKind::Export => "export",
        }
    }

    pub fn parse(s: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Kinds that work through an uploaded file.
    pub fn uploads(self) -> bool {
        matches!(self, TaskKind::ImportOrders | TaskKind::ImportPrices)
    }

    /// Kinds that change the whole market (the admin key starts them).
    pub fn market_wide(self) -> bool {
        matches!(
            self,
            TaskKind::CreateShares | TaskKind::UpdatePrices | TaskKind::ImportPrices
        )
    }
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    Running,
    Paused,
    Completed,
    Failed,
    Revoked,
}

/// A control that does not apply to a task's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the task is {}: it cannot be {verb}", state.as_str())]
pub struct NotNow {
    pub state: TaskState,
    pub verb: &'static str,
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        TaskState::Queued,
        TaskState::Running,
        TaskState::Paused,
        TaskState::Completed,
        TaskState::Failed,
        TaskState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Paused => "paused",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Finished for good: nothing moves it again.
    pub fn finished(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed | TaskState::Revoked
        )
    }

    /// The state after a pause request.
    pub fn pause(self) -> Result<TaskState, NotNow> {
        match self {
            TaskState::Queued | TaskState::Running => Ok(TaskState::Paused),
            s => Err(NotNow {
                state: s,
                verb: "paused",
            }),
        }
    }

    /// The state after a resume request.
    pub fn resume(self) -> Result<TaskState, NotNow> {
        match self {
            TaskState::Paused => Ok(TaskState::Running),
            s => Err(NotNow {
                state: s,
                verb: "resumed",
            }),
        }
    }

    /// The state after a revoke request.
    pub fn revoke(self) -> Result<TaskState, NotNow> {
        if self.finished() {
            Err(NotNow {
                state: self,
                verb: "revoked",
            })
        } else {
            Ok(TaskState::Revoked)
        }
    }
}

/// A row a task could not apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowProblem {
    /// The file's line (1 is the header), or the item's number from 1.
    pub line: u64,
    pub message: String,
}

/// How many problems a task keeps (the rest are only counted).
pub const KEPT_PROBLEMS: usize = 20;

/// One task, as journaled: everything needed to show it and to carry it
/// on after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub kind: TaskKind,
    pub state: TaskState,
    /// Who started it: a user's account, or `None` for the admin key.
    pub owner: Option<AccountId>,
    /// The request's parameters (JSON), as validated.
    pub params: String,
    /// Items (rows, symbols) in all, once known.
    pub total: u64,
    /// Items processed, from the first: the next run starts at this one.
    pub done: u64,
    /// Items applied, and items refused (bad rows, denied orders).
    pub applied: u64,
    pub refused: u64,
    /// The first `KEPT_PROBLEMS` refusals.
    pub problems: Vec<RowProblem>,
    /// Why it failed, or what it produced (an export's row count...).
    pub detail: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub paused_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl Task {
    /// A refused item: counted, and kept while there is room.
    pub fn refuse(&mut self, line: u64, message: String) {
        self.refused += 1;
        if self.problems.len() < KEPT_PROBLEMS {
            self.problems.push(RowProblem { line, message });
        }
    }

    /// Move to `state` at `now`, stamping the times that go with it.
    pub fn enter(&mut self, state: TaskState, now: Timestamp) {
        self.state = state;
        self.updated_at = now;
        match state {
            TaskState::Running => {
                self.started_at.get_or_insert(now);
                self.paused_at = None;
            }
            TaskState::Paused => self.paused_at = Some(now),
            s if s.finished() => {
                self.finished_at = Some(now);
                self.paused_at = None;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_follow_the_state_machine() {
        use TaskState::*;
        assert_eq!(Running.pause(), Ok(Paused));
        assert_eq!(Queued.pause(), Ok(Paused));
        assert_eq!(Paused.resume(), Ok(Running));
        assert_eq!(Paused.revoke(), Ok(Revoked));
        assert_eq!(Running.revoke(), Ok(Revoked));
        for s in [Completed, Failed, Revoked] {
            assert!(s.pause().is_err() && s.resume().is_err() && s.revoke().is_err());
        }
        assert!(Running.resume().is_err());
        assert_eq!(
            Completed.revoke().unwrap_err().to_string(),
            "the task is completed: it cannot be revoked"
        );
    }

    #[test]
    fn names_round_trip() {
        for k in TaskKind::ALL {
            assert_eq!(TaskKind::parse(k.as_str()), Some(k));
        }
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn only_the_first_problems_are_kept_but_all_are_counted() {
        let mut t = Task {
            id: 1,
            kind: TaskKind::ImportOrders,
            state: TaskState::Running,
            owner: None,
            params: "{}".into(),
            total: 0,
            done: 0,
            applied: 0,
            refused: 0,
            problems: vec![],
            detail: None,
            created_at: Timestamp(0),
            started_at: None,
            updated_at: Timestamp(0),
            paused_at: None,
            finished_at: None,
        };
        for i in 0..30 {
            t.refuse(i, "bad".into());
        }
        assert_eq!((t.refused, t.problems.len()), (30, KEPT_PROBLEMS));
    }
}
