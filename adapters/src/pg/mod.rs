//! PostgreSQL persistence: the fact journal (group commit, gap-free
//! sequence), checkpoints of the folded state into plain tables, and
//! recovery (load the last checkpoint, fold the journal after it).
//!
//! One writer task owns the connection pool's writes. Appends are queued in
//! call order; the writer takes everything queued (up to `MAX_BATCH`), writes
//! it in one multi-row insert, then tells waiters up to which ticket facts
//! are durable. When PostgreSQL fails, the writer retries the same batch
//! (same sequence numbers) with backoff and reports itself unhealthy.

mod database;
mod pack;
mod state;
mod store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors::facts::Fact;
use actors::ports::{FactJournal, PortError};
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{Notify, mpsc, watch};

pub use database::{Database, PgArchive, redact};
pub use state::{Durable, OrderRow, StockRow, UserRow};
pub use store::{
    JournalEvents, checkpoint, events_after, journal_end, load, load_with, user_orders,
    user_trades, write_checkpoint,
};

/// Most facts written in one insert.
pub const MAX_BATCH: usize = 20_000;

/// A PostgreSQL failure.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Connect { url: String, source: Box<PgError> },
    #[error("PostgreSQL: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("PostgreSQL migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("journal: {0}")]
    Journal(String),
    /// The journal already holds other facts at the numbers being written.
    #[error("journal conflict: {0}")]
    Conflict(String),
}

/// A database failure as the actors' ports report it.
impl From<PgError> for PortError {
    fn from(e: PgError) -> PortError {
        PortError {
            port: "postgres",
            message: e.to_string(),
        }
    }
}

/// Connect to `url` (a pool of `max` connections), failing after `timeout`.
pub async fn connect(url: &str, max: u32, timeout: Duration) -> Result<PgPool, PgError> {
    Ok(PgPoolOptions::new()
        .max_connections(max.max(1))
        .acquire_timeout(timeout)
        .connect(url)
        .await?)
}

/// Apply the migrations under `adapters/migrations` (embedded at build).
pub async fn migrate(pool: &PgPool) -> Result<(), PgError> {
    sqlx::migrate!("./migrations").run(pool).await?;
    Ok(())
}

/// How the writer behaves.
#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// Checkpoint the folded state at most this often (when it changed).
    pub checkpoint_every: Duration,
    /// Longest wait between retries of a failed write.
    pub max_backoff: Duration,
    /// Most facts queued and not yet durable: beyond, the journal reports
    /// itself unhealthy, so new trading is refused (503) and background
    /// agents and tick history pause until the writer catches up (the
    /// queue's memory stays bounded; audit M7).
    pub max_pending: u64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            checkpoint_every: Duration::from_secs(2),
            max_backoff: Duration::from_secs(1),
            max_pending: 200_000,
        }
    }
}

type Queued = (u64, Vec<Fact>);

/// The journal handle: cheap appends, durable waits.
#[derive(Debug)]
pub struct PgJournal {
    queue: Mutex<(u64, mpsc::UnboundedSender<Queued>)>,
    durable: watch::Receiver<u64>,
    healthy: Arc<AtomicBool>,
    max_pending: u64,
}

impl PgJournal {
    /// Start the writer task (on the current runtime) from a folded state
    /// (from `load`); facts appended here continue its sequence.
    pub fn start(pool: PgPool, state: Durable, config: WriterConfig) -> (PgJournal, Writer) {
        PgJournal::start_with(pool, state, config, Arc::default())
    }

    /// `start`, with a checkpoint taken as soon as `checkpoint_now` is
    /// notified (when anything changed), whatever `checkpoint_every` says.
    pub fn start_with(
        pool: PgPool,
        state: Durable,
        config: WriterConfig,
        checkpoint_now: Arc<Notify>,
    ) -> (PgJournal, Writer) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (durable_tx, durable_rx) = watch::channel(0);
        let healthy = Arc::new(AtomicBool::new(true));
        let writer = Run {
            pool,
            durable: durable_tx,
            healthy: healthy.clone(),
            config,
            checkpoint_now,
        };
        let task = tokio::spawn(run(writer, rx, state));
        (
            PgJournal {
                queue: Mutex::new((0, tx)),
                durable: durable_rx,
                healthy,
                max_pending: config.max_pending,
            },
            Writer { task },
        )
    }

    /// The ticket of everything appended so far.
    pub fn last_ticket(&self) -> u64 {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

/// The writer task; `finish` waits for it after the journal is dropped.
#[derive(Debug)]
pub struct Writer {
    task: tokio::task::JoinHandle<Durable>,
}

impl Writer {
    /// Stop at once, without a final checkpoint, as a crash would (tests).
    pub fn abort(self) {
        self.task.abort();
    }
    /// Wait until everything queued is written and checkpointed (call after
    /// dropping every `PgJournal` handle); returns the final state.
    pub async fn finish(self) -> Result<Durable, PgError> {
        self.task
            .await
            .map_err(|e| PgError::Journal(format!("writer task failed: {e}")))
    }
}

#[async_trait]
impl FactJournal for PgJournal {
    fn append(&self, facts: Vec<Fact>) -> u64 {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if facts.is_empty() {
            return q.0;
        }
        q.0 += facts.len() as u64;
        let ticket = q.0;
        if q.1.send((ticket, facts)).is_err() {
            tracing::error!("journal writer has stopped; facts not written");
        }
        metrics::gauge!("marketsim_persistence_lag_facts")
            .set((ticket - *self.durable.borrow()) as f64);
        ticket
    }

    async fn durable(&self, ticket: u64, timeout: Duration) -> Result<(), PortError> {
        let mut rx = self.durable.clone();
        match tokio::time::timeout(timeout, rx.wait_for(|d| *d >= ticket)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(PortError {
                port: "postgres",
                message: "the journal writer has stopped".into(),
            }),
            Err(_) => Err(PortError {
                port: "postgres",
                message: format!(
                    "not durable within {} ms (PostgreSQL unavailable?)",
                    timeout.as_millis()
                ),
            }),
        }
    }

    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
            && self.last_ticket() - *self.durable.borrow() < self.max_pending
    }
}

/// What the writer task works with.
struct Run {
    pool: PgPool,
    durable: watch::Sender<u64>,
    healthy: Arc<AtomicBool>,
    config: WriterConfig,
    checkpoint_now: Arc<Notify>,
}

async fn run(writer: Run, mut rx: mpsc::UnboundedReceiver<Queued>, mut state: Durable) -> Durable {
    let Run {
        pool,
        durable,
        healthy,
        config,
        checkpoint_now,
    } = writer;
    // Checkpoints are written by their own task, in order, retried until
    // they succeed: journal writes (and so acknowledgements) never wait on
    // them.
    // At most one snapshot waits while another is written; until there is
    // room, changes keep accumulating (and coalescing) in `state`.
    let (cp_tx, cp_rx) = mpsc::channel::<Durable>(1);
    let checkpoints = tokio::spawn(checkpointer(pool.clone(), cp_rx, config));
    let mut due = Due {
        last: Instant::now(),
        asked: false,
    };
    loop {
        // Asked for a checkpoint while one was being written: try again
        // soon rather than at the next interval.
        let wait = if due.asked {
            Duration::from_millis(10)
        } else {
            config.checkpoint_every
        };
        let next = tokio::select! {
            m = rx.recv() => m,
            () = checkpoint_now.notified() => {
                due.asked = true;
                checkpoint_if_due(&mut state, &mut due, config, &cp_tx);
                continue;
            }
            () = tokio::time::sleep(wait) => {
                checkpoint_if_due(&mut state, &mut due, config, &cp_tx);
                continue;
            }
        };
        let Some((mut ticket, mut facts)) = next else {
            break;
        };
        while facts.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((t, more)) => {
                    ticket = t;
                    facts.extend(more);
                }
                Err(_) => break,
            }
        }
        let rows = store::JournalRows::new(state.seq + 1, &facts);
        let started = Instant::now();
        let mut backoff = Duration::from_millis(20);
        loop {
            match store::insert_journal(&pool, &rows).await {
                Ok(()) => break,
                Err(e) => {
                    if healthy.swap(false, Ordering::Relaxed) {
                        if matches!(e, PgError::Conflict(_)) {
                            // Nothing is acknowledged past this point.
                            tracing::error!(error = %e, "the journal cannot be written: trading paused");
                        } else {
                            tracing::warn!(error = %e, "PostgreSQL write failed: trading paused, retrying");
                        }
                    }
                    metrics::counter!("marketsim_persistence_errors_total").increment(1);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(config.max_backoff);
                }
            }
        }
        if !healthy.swap(true, Ordering::Relaxed) {
            tracing::info!("PostgreSQL writes succeed again: trading resumes");
        }
        let _ = durable.send(ticket);
        metrics::histogram!("marketsim_persistence_batch_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("marketsim_persistence_facts_total").increment(facts.len() as u64);
        metrics::gauge!("marketsim_persistence_lag_facts").set(0.0);
        for f in &facts {
            state.apply(f);
        }
        state.seq += facts.len() as u64;
        checkpoint_if_due(&mut state, &mut due, config, &cp_tx);
    }
    // Every handle is gone: a last checkpoint, so the next start has no
    // journal to fold (the journal alone would be enough).
    if state.is_dirty() {
        let _ = cp_tx.send(state.take_dirty()).await;
    }
    drop(cp_tx);
    let _ = checkpoints.await;
    state
}

/// When the next checkpoint is due: `checkpoint_every` after the last, or
/// at once when one was asked for.
struct Due {
    last: Instant,
    asked: bool,
}

fn checkpoint_if_due(
    state: &mut Durable,
    due: &mut Due,
    config: WriterConfig,
    cp: &mpsc::Sender<Durable>,
) {
    if !state.is_dirty() {
        due.asked = false;
        return;
    }
    if due.asked || due.last.elapsed() >= config.checkpoint_every {
        if let Ok(permit) = cp.try_reserve() {
            permit.send(state.take_dirty());
            due.last = Instant::now();
            due.asked = false;
        }
    }
}

async fn checkpointer(pool: PgPool, mut rx: mpsc::Receiver<Durable>, config: WriterConfig) {
    // A snapshot PostgreSQL refused: never dropped (audit M2). It is
    // retried with the next snapshot folded in, so `checkpoint.seq` never
    // moves past rows that were not written; until one succeeds, recovery
    // folds the journal from the last good checkpoint.
    let mut refused: Option<Durable> = None;
    while let Some(next) = rx.recv().await {
        let snap = match refused.take() {
            Some(mut r) => {
                r.absorb(next);
                r
            }
            None => next,
        };
        let mut backoff = Duration::from_millis(100);
        let mut warned = false;
        while let Err(e) = store::write_checkpoint(&pool, &snap).await {
            if let PgError::Sql(sqlx::Error::Database(db)) = &e {
                // Refused by the database itself (a constraint): retrying
                // the same rows now cannot help. Keep them for the next.
                metrics::counter!("marketsim_checkpoint_refusals_total").increment(1);
                tracing::error!(error = %db, seq = snap.seq,
                    "checkpoint refused by PostgreSQL; kept and retried with the next (the journal has everything)");
                refused = Some(snap);
                break;
            }
            if !warned {
                tracing::warn!(error = %e, "checkpoint failed; retrying (the journal has everything)");
                warned = true;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(config.max_backoff.max(Duration::from_millis(100)));
        }
    }
}

/// Record a background task's status in the `tasks` table.
pub async fn task_status(
    pool: &PgPool,
    name: &str,
    status: &str,
    detail: &str,
) -> Result<(), PgError> {
    sqlx::query(
        "INSERT INTO tasks (name, status, detail) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET status = EXCLUDED.status, detail = EXCLUDED.detail,
           heartbeat_at = now(),
           started_at = CASE WHEN tasks.status = EXCLUDED.status THEN tasks.started_at ELSE now() END",
    )
    .bind(name)
    .bind(status)
    .bind(detail)
    .execute(pool)
    .await?;
    Ok(())
}
