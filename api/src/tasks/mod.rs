//! Background tasks: long work a user starts over HTTP and watches
//! (create shares, update prices, import order and price files, export).
//!
//! Each running task is an actor (`Runner`): it works in steps of 20-40
//! ms, and a pause, resume or revoke waits in its mailbox for the
//! step in hand to end, so a task stops at an item boundary. A step
//! applies its items and journals their facts together with the task's new
//! progress in one append (one journal write), so after a restart the task
//! starts at the first item whose facts are not durable: nothing is
//! applied twice. (Orders placed by an import are journaled by the order
//! router; a step sent again after a restart finds them by their client
//! order id.) A task record is shown only once durable.

mod kinds;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use actors::facts::Fact;
use actors::task::{NotNow, Task, TaskKind, TaskState};
use engine::AccountId;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::{Semaphore, broadcast, oneshot};

use crate::error::ApiError;
use crate::state::AppState;

pub use kinds::{Params, Selection};

/// Settings of the task subsystem.
#[derive(Clone, Copy, Debug)]
pub struct TaskSettings {
    /// A task paused longer than this is revoked by itself.
    pub pause_timeout: Duration,
    /// Largest upload (import file) accepted.
    pub upload_limit: usize,
    /// Tasks running at once; the rest wait, queued.
    pub concurrency: usize,
    /// Most items one step applies (steps also stay near 20-40 ms, so a
    /// pause is prompt).
    pub max_step: usize,
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            pause_timeout: Duration::from_secs(300),
            upload_limit: 64 * 1024 * 1024,
            concurrency: 2,
            max_step: MAX_BUDGET,
        }
    }
}

/// One task as the API keeps it: the durable record, and how fast the
/// current run goes.
#[derive(Debug)]
struct Entry {
    task: Mutex<Task>,
    rate: Mutex<Option<(Instant, u64)>>,
    actor: Mutex<Option<ActorRef<Msg>>>,
}

/// Every task of this market.
#[derive(Debug)]
pub struct Tasks {
    entries: RwLock<BTreeMap<u64, Arc<Entry>>>,
    next: AtomicU64,
    events: broadcast::Sender<Task>,
    slots: Arc<Semaphore>,
    pub settings: TaskSettings,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks::new(TaskSettings::default())
    }
}

/// A task as shown: its record and its current rate (items per second).
#[derive(Clone, Debug)]
pub struct View {
    pub task: Task,
    pub rate: Option<f64>,
}

impl Tasks {
    pub fn new(settings: TaskSettings) -> Tasks {
        Tasks {
            entries: RwLock::default(),
            next: AtomicU64::new(1),
            events: broadcast::channel(1_024).0,
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
        }
    }

    /// Task changes as they become durable (the stream's `task` events).
    pub fn subscribe(&self) -> broadcast::Receiver<Task> {
        self.events.subscribe()
    }

    fn entry(&self, id: u64) -> Option<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// Task `id` if `caller` may see it (its owner, or the admin).
    pub fn view(&self, id: u64, caller: Option<AccountId>) -> Option<View> {
        let e = self.entry(id)?;
        let task = e.task.lock().unwrap_or_else(|p| p.into_inner()).clone();
        visible(&task, caller).then(|| View {
            rate: rate(&e, &task),
            task,
        })
    }

    /// The tasks `caller` may see, newest first, filtered.
    pub fn list(
        &self,
        caller: Option<AccountId>,
        state: Option<TaskState>,
        kind: Option<TaskKind>,
    ) -> Vec<View> {
        let entries: Vec<Arc<Entry>> = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .rev()
            .cloned()
            .collect();
        entries
            .iter()
            .filter_map(|e| {
                let task = e.task.lock().unwrap_or_else(|p| p.into_inner()).clone();
                (visible(&task, caller)
                    && state.is_none_or(|s| s == task.state)
                    && kind.is_none_or(|k| k == task.kind))
                .then(|| View {
                    rate: rate(e, &task),
                    task,
                })
            })
            .collect()
    }

    /// Show `task` (now durable): record, stream, metrics.
    fn show(&self, entry: &Entry, task: Task) {
        let mut cur = entry.task.lock().unwrap_or_else(|p| p.into_inner());
        if cur.state != task.state {
            gauge(cur.state, -1.0);
            gauge(task.state, 1.0);
        }
        if task.done > cur.done {
            metrics::counter!("marketsim_task_items_total", "kind" => task.kind.as_str())
                .increment(task.done - cur.done);
        }
        *cur = task.clone();
        drop(cur);
        let _ = self.events.send(task);
    }

    fn insert(&self, task: Task) -> Arc<Entry> {
        gauge(task.state, 1.0);
        self.next.fetch_max(task.id + 1, Ordering::Relaxed);
        let e = Arc::new(Entry {
            task: Mutex::new(task.clone()),
            rate: Mutex::new(None),
            actor: Mutex::new(None),
        });
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(task.id, e.clone());
        let _ = self.events.send(task);
        e
    }
}

fn gauge(state: TaskState, delta: f64) {
    metrics::gauge!("marketsim_tasks", "state" => state.as_str()).increment(delta);
}

fn visible(task: &Task, caller: Option<AccountId>) -> bool {
    caller.is_none() || task.owner == caller
}

fn rate(e: &Entry, task: &Task) -> Option<f64> {
    let (since, from) = (*e.rate.lock().unwrap_or_else(|p| p.into_inner()))?;
    let secs = since.elapsed().as_secs_f64();
    (task.state == TaskState::Running && secs > 0.0)
        .then(|| task.done.saturating_sub(from) as f64 / secs)
}

/// A control a caller sends a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Revoke,
}

/// The runner's messages.
#[derive(Debug)]
pub enum Msg {
    /// Do the next step (sent by the runner to itself).
    Step,
    Control(Control, oneshot::Sender<Result<Task, ApiError>>),
    /// The pause that started as `generation` has lasted too long.
    PauseExpired(u64),
}

/// The task runner: one actor per unfinished task.
#[derive(Debug, Clone, Copy, Default)]
pub struct Runner;

/// A runner's state.
pub struct RunnerState {
    st: AppState,
    entry: Arc<Entry>,
    work: Box<dyn kinds::Work>,
    /// Items per step, tuned so a step takes 20-40 ms.
    budget: usize,
    /// Counts pauses and resumes: a pause timer of an older one is stale.
    generation: u64,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
    /// The last step's progress and its journal ticket, until durable:
    /// the task as the runner knows it, one step ahead of what is shown.
    ahead: Option<(u64, Task)>,
}

impl std::fmt::Debug for RunnerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerState")
            .field("budget", &self.budget)
            .finish()
    }
}

const MIN_BUDGET: usize = 16;
/// The default of `TaskSettings::max_step`.
pub const MAX_BUDGET: usize = 16_384;

impl Actor for Runner {
    type Msg = Msg;
    type State = RunnerState;
    type Arguments = RunnerState;

    async fn pre_start(
        &self,
        me: ActorRef<Msg>,
        state: RunnerState,
    ) -> Result<RunnerState, ActorProcessingErr> {
        let task = state.task();
        match task.state {
            TaskState::Paused => {
                // Its timer runs from when it was paused (across restarts).
                let since = state
                    .st
                    .now()
                    .0
                    .saturating_sub(task.paused_at.unwrap_or(task.updated_at).0);
                let left = state
                    .st
                    .tasks
                    .settings
                    .pause_timeout
                    .saturating_sub(Duration::from_nanos(since.max(0) as u64));
                me.send_after(left, move || Msg::PauseExpired(0));
            }
            _ => me.cast(Msg::Step)?,
        }
        Ok(state)
    }

    async fn handle(
        &self,
        me: ActorRef<Msg>,
        msg: Msg,
        s: &mut RunnerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Step => s.step(&me).await,
            Msg::Control(c, reply) => {
                let r = s.control(&me, c).await;
                let _ = reply.send(r);
            }
            Msg::PauseExpired(g) => {
                let task = s.task();
                if g == s.generation && task.state == TaskState::Paused {
                    let after = s.st.tasks.settings.pause_timeout;
                    let mut t = task;
                    t.detail = Some(format!(
                        "revoked by itself: paused longer than task_pause_timeout_ms ({} ms); {} of {} items were done",
                        after.as_millis(),
                        t.done,
                        t.total
                    ));
                    t.enter(TaskState::Revoked, s.st.now());
                    s.save(t).await;
                }
            }
        }
        if s.task().state.finished() {
            me.stop(None);
        }
        Ok(())
    }
}

impl RunnerState {
    /// The task with the latest progress (shown or not yet durable).
    fn task(&self) -> Task {
        if let Some((_, t)) = &self.ahead {
            return t.clone();
        }
        self.entry
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Journal `t` (its state change) and show it once durable.
    async fn save(&mut self, t: Task) {
        let ticket = self.st.publish(vec![Fact::Task(Box::new(t.clone()))], &[]);
        kinds::durable(&self.st, ticket).await;
        // Journaled after any step ahead, so it holds that step's progress.
        self.ahead = None;
        self.st.tasks.show(&self.entry, t);
    }

    /// A step journaled `task` at `ticket`: show the step before it once
    /// durable, and this one after the next step (which runs meanwhile,
    /// so the database writes one step while the market applies the next).
    async fn stepped(&mut self, ticket: u64, task: Task) {
        if let Some((t, before)) = self.ahead.replace((ticket, task)) {
            kinds::durable(&self.st, t).await;
            self.st.tasks.show(&self.entry, before);
        }
    }

    async fn step(&mut self, me: &ActorRef<Msg>) {
        let mut task = self.task();
        if !matches!(task.state, TaskState::Queued | TaskState::Running) {
            return;
        }
        // A slot to run in: a queued task (new or resumed), or a running
        // one carried on after a restart.
        if self.slot.is_none() {
            let Ok(slot) = self.st.tasks.slots.clone().try_acquire_owned() else {
                // Another task holds every slot: look again soon.
                me.send_after(Duration::from_millis(50), || Msg::Step);
                return;
            };
            self.slot = Some(slot);
            *self.entry.rate.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((Instant::now(), task.done));
        }
        if task.state == TaskState::Queued {
            task.enter(TaskState::Running, self.st.now());
            self.save(task.clone()).await;
        }
        task.updated_at = self.st.now();
        let started = Instant::now();
        let (done, work) = kinds::timed(self.work.step(&self.st, &mut task, self.budget)).await;
        match done {
            Ok(Some(ticket)) => self.stepped(ticket, task).await,
            Ok(None) => {
                self.finish(task, TaskState::Completed, None).await;
                return;
            }
            Err(kinds::StepError::Retry(why)) => {
                tracing::warn!(task = task.id, %why, "a task step will be tried again");
                me.send_after(Duration::from_millis(250), || Msg::Step);
                return;
            }
            Err(kinds::StepError::Fail(why)) => {
                self.finish(task, TaskState::Failed, Some(why)).await;
                return;
            }
        }
        // Steps of 20-40 ms, waits for durability included, keep a pause
        // prompt (under 100 ms) and the journal's writes large. A step
        // whose own work is under 5 ms grows whatever its waits: a smaller
        // one would save almost nothing (on a database slower than 40 ms a
        // write, every task used to shrink to 16 items a step).
        let took = started.elapsed();
        let max = self.st.tasks.settings.max_step.max(1);
        if took < Duration::from_millis(20) || work < Duration::from_millis(5) {
            self.budget = (self.budget * 2).min(max);
        } else if took > Duration::from_millis(40) {
            self.budget = (self.budget / 2).max(MIN_BUDGET).min(max);
        }
        let _ = me.cast(Msg::Step);
    }

    async fn finish(&mut self, mut task: Task, state: TaskState, detail: Option<String>) {
        if detail.is_some() {
            task.detail = detail;
        }
        task.enter(state, self.st.now());
        self.save(task).await;
        self.slot = None;
    }

    async fn control(&mut self, me: &ActorRef<Msg>, c: Control) -> Result<Task, ApiError> {
        let mut task = self.task();
        let conflict = |e: NotNow| ApiError::Conflict(e.to_string());
        let now = self.st.now();
        match c {
            Control::Pause => {
                let to = task.state.pause().map_err(conflict)?;
                task.enter(to, now);
                self.generation += 1;
                let g = self.generation;
                me.send_after(self.st.tasks.settings.pause_timeout, move || {
                    Msg::PauseExpired(g)
                });
                self.slot = None;
            }
            Control::Resume => {
                task.state.resume().map_err(conflict)?;
                // Back in the queue: it runs when a slot is free.
                task.enter(TaskState::Queued, now);
                task.paused_at = None;
                self.generation += 1;
                me.cast(Msg::Step)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
            }
            Control::Revoke => {
                let to = task.state.revoke().map_err(conflict)?;
                task.detail = Some(format!(
                    "revoked: {} of {} items were done and stay done",
                    task.done, task.total
                ));
                task.enter(to, now);
                self.slot = None;
            }
        }
        self.save(task.clone()).await;
        Ok(task)
    }
}

impl AppState {
    /// Start a task of `kind` for `owner` (`None`: the admin) with
    /// `params` and, for imports, the uploaded file (kept durably first).
    pub async fn start_task(
        &self,
        owner: Option<AccountId>,
        params: Params,
        upload: Option<Vec<u8>>,
    ) -> Result<Task, ApiError> {
        self.writable()?;
        let id = self.tasks.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        let (mut prepared, upload) = self.prepare(id, owner, &params, upload).await?;
        if let Some(bytes) = upload.or_else(|| prepared.keep.take()) {
            self.archive
                .put_file(id, "upload", bytes)
                .await
                .map_err(|e| ApiError::Unavailable(format!("the upload was not kept: {e}")))?;
        }
        let mut task = Task {
            id,
            kind: params.kind(),
            state: TaskState::Queued,
            owner,
            params: serde_json::to_string(&params)
                .map_err(|e| ApiError::Internal(e.to_string()))?,
            total: prepared.total,
            done: 0,
            applied: 0,
            refused: 0,
            problems: Vec::new(),
            detail: None,
            created_at: now,
            started_at: None,
            updated_at: now,
            paused_at: None,
            finished_at: None,
        };
        for p in prepared.problems {
            task.refuse(p.line, p.message);
        }
        let ticket = self.publish(vec![Fact::Task(Box::new(task.clone()))], &[]);
        self.commit(ticket).await?;
        let entry = self.tasks.insert(task.clone());
        self.run(entry, prepared.work).await?;
        Ok(task)
    }

    /// Check a task and read its file, off the async workers (a large
    /// file takes a while to parse); gives the upload back.
    async fn prepare(
        &self,
        id: u64,
        owner: Option<AccountId>,
        params: &Params,
        upload: Option<Vec<u8>>,
    ) -> Result<(kinds::Prepared, Option<Vec<u8>>), ApiError> {
        let (st, params) = (self.clone(), params.clone());
        tokio::task::spawn_blocking(move || {
            kinds::prepare(&st, id, owner, &params, upload.as_deref()).map(|p| (p, upload))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("reading the task's file failed: {e}")))?
    }

    async fn run(&self, entry: Arc<Entry>, work: Box<dyn kinds::Work>) -> Result<(), ApiError> {
        let state = RunnerState {
            st: self.clone(),
            entry: entry.clone(),
            work,
            budget: self.tasks.settings.max_step.clamp(1, 256),
            generation: 0,
            slot: None,
            ahead: None,
        };
        let (actor, _) = Actor::spawn(None, Runner, state)
            .await
            .map_err(|e| ApiError::Internal(format!("the task runner did not start: {e}")))?;
        *entry.actor.lock().unwrap_or_else(|p| p.into_inner()) = Some(actor);
        Ok(())
    }

    /// Send `c` to task `id` (seen by `caller`): 404 if unknown or not the
    /// caller's, 409 if finished.
    pub async fn control_task(
        &self,
        id: u64,
        caller: Option<AccountId>,
        c: Control,
    ) -> Result<View, ApiError> {
        let unknown = || ApiError::NotFound(format!("no task {id}"));
        self.tasks.view(id, caller).ok_or_else(unknown)?;
        let entry = self.tasks.entry(id).ok_or_else(unknown)?;
        let actor = entry
            .actor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let finished = || {
            let t = entry.task.lock().unwrap_or_else(|p| p.into_inner());
            let verb = match c {
                Control::Pause => "paused",
                Control::Resume => "resumed",
                Control::Revoke => "revoked",
            };
            ApiError::Conflict(
                NotNow {
                    state: t.state,
                    verb,
                }
                .to_string(),
            )
        };
        let Some(actor) = actor else {
            return Err(finished());
        };
        let (tx, rx) = oneshot::channel();
        if actor.cast(Msg::Control(c, tx)).is_err() {
            return Err(finished());
        }
        let task = rx.await.map_err(|_| finished())??;
        Ok(View {
            rate: rate(&entry, &task),
            task,
        })
    }

    /// Take back the tasks of a restored market: unfinished ones carry on
    /// where their journal left them (a paused one stays paused, with its
    /// timer).
    pub async fn restore_tasks(
        &self,
        tasks: impl IntoIterator<Item = Task>,
    ) -> Result<(), ApiError> {
        for task in tasks {
            let entry = self.tasks.insert(task.clone());
            if task.state.finished() {
                continue;
            }
            let params: Params = serde_json::from_str(&task.params)
                .map_err(|e| ApiError::Internal(format!("task {}: {e}", task.id)))?;
            // The upload, or what the task kept for a restart.
            let upload = self
                .archive
                .file(task.id, "upload")
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            match self.prepare(task.id, task.owner, &params, upload).await {
                Ok((p, _)) => self.run(entry, p.work).await?,
                Err(e) => {
                    let mut t = task;
                    t.detail = Some(format!("could not be carried on after a restart: {e}"));
                    t.enter(TaskState::Failed, self.now());
                    let ticket = self.publish(vec![Fact::Task(Box::new(t.clone()))], &[]);
                    self.commit(ticket).await?;
                    self.tasks.show(&entry, t);
                }
            }
        }
        Ok(())
    }
}

/// When `t` is expected to end, at its current rate.
pub fn eta(view: &View) -> Option<f64> {
    let r = view.rate.filter(|r| *r > 0.0)?;
    Some(view.task.total.saturating_sub(view.task.done) as f64 / r)
}
