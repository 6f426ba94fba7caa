//! `Database`: the PostgreSQL handle the composition root holds. It keeps
//! sqlx inside this crate: callers connect, migrate, load, checkpoint and
//! start the journal through it, and never see a pool or a query.

use std::sync::Arc;
use std::time::Duration;

use engine::AccountId;
use engine::{Fees, Trade};
use sqlx::PgPool;

use super::{Durable, JournalEvents, OrderRow, PgError, PgJournal, Writer, WriterConfig};

/// A pool of connections to the market's database.
#[derive(Clone, Debug)]
pub struct Database {
    pool: PgPool,
    /// Asks the journal's writer for a checkpoint now (exports of the
    /// checkpointed tables want one; see `PgJournal::start_with`).
    checkpoint_now: Arc<tokio::sync::Notify>,
}

impl Database {
    /// Connect to `url` with a pool of `max` connections; fails after
    /// `timeout`. The error names the URL without its password.
    pub async fn connect(url: &str, max: u32, timeout: Duration) -> Result<Database, PgError> {
        super::connect(url, max, timeout)
            .await
            .map(|pool| Database {
                pool,
                checkpoint_now: Arc::default(),
            })
            .map_err(|e| PgError::Connect {
                url: redact(url),
                source: Box::new(e),
            })
    }

    /// Apply the embedded migrations; returns how many are applied in all.
    pub async fn migrate(&self) -> Result<i64, PgError> {
        super::migrate(&self.pool).await?;
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The last checkpoint with the journal after it folded in.
    pub async fn load(&self, fees: Fees, fee_account: AccountId) -> Result<Durable, PgError> {
        super::load(&self.pool, fees, fee_account).await
    }

    /// `load`, with the symbols listed from settings (symbol, tick,
    /// listing price) known before the journal is folded.
    pub async fn load_with(
        &self,
        fees: Fees,
        fee_account: AccountId,
        known: &[(engine::Symbol, engine::Price, engine::Price)],
    ) -> Result<Durable, PgError> {
        super::store::load_with(&self.pool, fees, fee_account, known).await
    }

    /// Write what changed in `d` to the tables (with its `seq`).
    pub async fn checkpoint(&self, d: &mut Durable) -> Result<(), PgError> {
        super::checkpoint(&self.pool, d).await
    }

    /// Orders of accounts numbered `first_account` and up, oldest first.
    pub async fn user_orders(&self, first_account: u64) -> Result<Vec<OrderRow>, PgError> {
        super::user_orders(&self.pool, first_account).await
    }

    /// Trades with a side in an account numbered `first_account` and up,
    /// in execution order.
    pub async fn user_trades(&self, first_account: u64) -> Result<Vec<Trade>, PgError> {
        super::user_trades(&self.pool, first_account).await
    }

    /// The book events (trades included) journaled after `after`, oldest
    /// first, from at most `limit` journal rows, and the last `seq` those
    /// rows reached (`after` when there are none yet). Only durable facts
    /// are ever in the table.
    pub async fn events_after(&self, after: u64, limit: u32) -> Result<JournalEvents, PgError> {
        super::store::events_after(&self.pool, after, limit).await
    }

    /// The `seq` of the journal's last fact (0 when empty).
    pub async fn journal_end(&self) -> Result<u64, PgError> {
        super::store::journal_end(&self.pool).await
    }

    /// Record a background task's status in the `tasks` table.
    pub async fn task_status(&self, name: &str, status: &str, detail: &str) -> Result<(), PgError> {
        super::task_status(&self.pool, name, status, detail).await
    }

    /// Task files and outside prices kept in this database.
    pub fn archive(&self) -> PgArchive {
        PgArchive {
            pool: self.pool.clone(),
            checkpoint_now: self.checkpoint_now.clone(),
        }
    }

    /// Start the journal's writer from `state` (see `PgJournal::start`).
    pub fn start_journal(&self, state: Durable, config: WriterConfig) -> (PgJournal, Writer) {
        PgJournal::start_with(
            self.pool.clone(),
            state,
            config,
            self.checkpoint_now.clone(),
        )
    }

    /// Create an empty database `name` on the server of `url` (dropping
    /// one of that name first) and return its URL. For test suites and
    /// benchmarks that each need a database of their own.
    pub async fn recreate(url: &str, name: &str) -> Result<String, PgError> {
        let (server, _) = url
            .rsplit_once('/')
            .ok_or_else(|| PgError::Journal(format!("{}: no database name", redact(url))))?;
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(PgError::Journal(format!(
                "database name `{name}`: only letters, digits and _"
            )));
        }
        let admin = super::connect(url, 1, Duration::from_secs(5)).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(format!("{server}/{name}"))
    }
}

/// `actors::ports::Archive` on PostgreSQL: task files in `task_files`,
/// outside prices read back from the journal.
#[derive(Clone, Debug)]
pub struct PgArchive {
    pool: PgPool,
    checkpoint_now: Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl actors::ports::Archive for PgArchive {
    async fn put_file(
        &self,
        task: u64,
        role: &str,
        bytes: Vec<u8>,
    ) -> Result<(), actors::ports::PortError> {
        super::store::put_task_file(&self.pool, task, role, &bytes)
            .await
            .map_err(Into::into)
    }
    async fn file(
        &self,
        task: u64,
        role: &str,
    ) -> Result<Option<Vec<u8>>, actors::ports::PortError> {
        super::store::task_file(&self.pool, task, role)
            .await
            .map_err(Into::into)
    }
    async fn prices(
        &self,
        symbol: engine::Symbol,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<actors::ports::PriceEntry>, u64), actors::ports::PortError> {
        super::store::outside_prices(&self.pool, symbol, limit, offset)
            .await
            .map_err(Into::into)
    }
}

impl actors::ports::Exports for PgArchive {
    fn export(
        &self,
        q: actors::ports::ExportQuery,
    ) -> futures::stream::BoxStream<
        'static,
        Result<actors::ports::ExportRow, actors::ports::PortError>,
    > {
        use futures::StreamExt;
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(super::store::export(
            self.pool.clone(),
            self.checkpoint_now.clone(),
            q,
            tx,
        ));
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
            .flat_map(futures::stream::iter)
            .boxed()
    }
}

/// `url` without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgres://h/db"), "postgres://h/db");
    }
}
