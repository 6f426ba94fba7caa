//! SQL of the journal, checkpoints and recovery. Queries are checked at
//! run time (the workspace builds without a database). Account ids are
//! unsigned 64-bit; they are stored as the same bits in a `BIGINT` (the fee
//! account, `u64::MAX`, reads as -1 in SQL).

use std::collections::BTreeMap;

use actors::facts::Fact;
use engine::{
    AccountId, Candle, Candles, ClientOrderId, DayStats, Money, OrderId, OrderType, Price, Side,
    Symbol, TimeInForce, Timestamp, Trade,
};
use sqlx::{PgPool, Row};

use super::state::{Durable, OrderRow, StockRow, UserRow};
use super::{PgError, pack};

fn acc(a: AccountId) -> i64 {
    a.0 as i64
}
fn acc_back(v: i64) -> AccountId {
    AccountId(v as u64)
}
fn sym(s: &str) -> Result<Symbol, PgError> {
    Symbol::new(s).map_err(|e| PgError::Journal(format!("bad symbol in the database: {e}")))
}
/// A batch of facts as journal rows: each run of order and book-event
/// facts is one packed row (`pack`), every other fact a JSON row of its
/// own. `seq` is each row's first fact; `facts` how many it holds.
#[derive(Debug, Default)]
pub(crate) struct JournalRows {
    seqs: Vec<i64>,
    kinds: Vec<&'static str>,
    counts: Vec<i32>,
    bodies: Vec<Option<String>>,
    packs: Vec<Option<Vec<u8>>>,
}

impl JournalRows {
    /// The rows of `facts`, the first numbered `first`.
    pub(crate) fn new(first: u64, facts: &[Fact]) -> JournalRows {
        let mut rows = JournalRows::default();
        let mut at = 0;
        while at < facts.len() {
            let run = facts[at..].iter().take_while(|f| pack::packable(f)).count();
            rows.seqs.push((first + at as u64) as i64);
            if run > 0 {
                rows.kinds.push(pack::KIND);
                rows.counts.push(run as i32);
                rows.bodies.push(None);
                rows.packs.push(Some(pack::encode(&facts[at..at + run])));
                at += run;
            } else {
                let f = &facts[at];
                rows.kinds.push(f.kind());
                rows.counts.push(1);
                rows.bodies.push(Some(
                    serde_json::to_string(f).unwrap_or_else(|_| "null".into()),
                ));
                rows.packs.push(None);
                at += 1;
            }
        }
        rows
    }

    /// The first and last fact numbers the rows hold.
    fn span(&self) -> (i64, i64) {
        let first = self.seqs.first().copied().unwrap_or_default();
        let last = self.seqs.last().zip(self.counts.last());
        (
            first,
            last.map(|(s, n)| s + i64::from(*n) - 1).unwrap_or_default(),
        )
    }
}

/// A journal row's facts: a packed row's, or the one of a JSON row.
fn row_facts(
    seq: u64,
    fact: Option<String>,
    packed: Option<Vec<u8>>,
) -> Result<Vec<Fact>, PgError> {
    match (fact, packed) {
        (_, Some(bytes)) => {
            pack::decode(&bytes).map_err(|e| PgError::Journal(format!("journal entry {seq}: {e}")))
        }
        (Some(text), None) => serde_json::from_str(&text)
            .map(|f| vec![f])
            .map_err(|e| PgError::Journal(format!("journal entry {seq}: {e}"))),
        (None, None) => Err(PgError::Journal(format!("journal entry {seq} has no body"))),
    }
}

/// One multi-row insert of journal rows in one transaction, idempotent: a
/// retry of a batch whose COMMIT went through but whose acknowledgement was
/// lost finds its rows there and succeeds. Rows already there with
/// different contents are a `PgError::Conflict` (another writer on the same
/// journal): nothing of the batch is written, nothing is overwritten.
///
/// The rows first go in unchecked (`ON CONFLICT` costs PostgreSQL about a
/// quarter more: a speculative insertion per row); only a batch that finds
/// rows already there takes the checked insert.
pub(crate) async fn insert_journal(pool: &PgPool, rows: &JournalRows) -> Result<(), PgError> {
    match insert_new_journal(pool, rows).await {
        Err(PgError::Sql(e)) if is_unique_violation(&e) => {}
        done => return done,
    }
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO journal (seq, kind, facts, fact, packed)
         SELECT s, k, n, f::json, p
         FROM UNNEST($1::int8[], $2::text[], $3::int4[], $4::text[], $5::bytea[]) AS t(s, k, n, f, p)
         ON CONFLICT (seq) DO NOTHING",
    )
    .bind(&rows.seqs)
    .bind(&rows.kinds)
    .bind(&rows.counts)
    .bind(&rows.bodies)
    .bind(&rows.packs)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == rows.seqs.len() as u64 {
        tx.commit().await?;
        return Ok(());
    }
    // Some rows were there already: they must be exactly these facts
    // (`json` keeps its text as written).
    let same: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM journal j
         JOIN UNNEST($1::int8[], $2::text[], $3::int4[], $4::text[], $5::bytea[]) AS t(s, k, n, f, p)
           ON j.seq = t.s
         WHERE j.kind = t.k AND j.facts = t.n
           AND j.fact::text IS NOT DISTINCT FROM t.f AND j.packed IS NOT DISTINCT FROM t.p",
    )
    .bind(&rows.seqs)
    .bind(&rows.kinds)
    .bind(&rows.counts)
    .bind(&rows.bodies)
    .bind(&rows.packs)
    .fetch_one(&mut *tx)
    .await?;
    let (first, last) = rows.span();
    if same == rows.seqs.len() as i64 {
        tx.commit().await?;
        tracing::info!(
            already = rows.seqs.len() as u64 - inserted,
            "journal batch was already written (a lost acknowledgement); carrying on"
        );
        Ok(())
    } else {
        tx.rollback().await?;
        Err(PgError::Conflict(format!(
            "journal rows {first}..={last} already hold other facts: is another server writing this database?"
        )))
    }
}

/// Journal rows with a plain multi-row insert, all or nothing: a row whose
/// number is taken fails the whole batch (a unique violation).
async fn insert_new_journal(pool: &PgPool, rows: &JournalRows) -> Result<(), PgError> {
    sqlx::query(
        "INSERT INTO journal (seq, kind, facts, fact, packed)
         SELECT unnest($1::int8[]), unnest($2::text[]), unnest($3::int4[]),
                unnest($4::text[])::json, unnest($5::bytea[])",
    )
    .bind(&rows.seqs)
    .bind(&rows.kinds)
    .bind(&rows.counts)
    .bind(&rows.bodies)
    .bind(&rows.packs)
    .execute(pool)
    .await?;
    Ok(())
}

/// Write what changed since the last checkpoint, and the journal position
/// it reflects, in one transaction. What was taken is gone from `d` even if
/// the write fails (the journal still has it).
pub async fn checkpoint(pool: &PgPool, d: &mut Durable) -> Result<(), PgError> {
    let snap = d.take_dirty();
    write_checkpoint(pool, &snap).await
}

/// Write a snapshot from `Durable::take_dirty` in one transaction.
pub async fn write_checkpoint(pool: &PgPool, d: &Durable) -> Result<(), PgError> {
    let mut tx = pool.begin().await?;

    if !d.dirty_users.is_empty() {
        let (mut ids, mut names, mut keys, mut at) = (vec![], vec![], vec![], vec![]);
        for a in &d.dirty_users {
            if let Some(u) = d.users.get(a) {
                ids.push(acc(*a));
                names.push(u.name.clone());
                keys.push(u.key_hash.clone());
                at.push(u.created_at.0);
            }
        }
        sqlx::query(
            "INSERT INTO users (account_id, name, key_hash, created_at)
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[])
             ON CONFLICT (account_id) DO UPDATE SET name = EXCLUDED.name,
               key_hash = EXCLUDED.key_hash, created_at = EXCLUDED.created_at",
        )
        .bind(&ids)
        .bind(&names)
        .bind(&keys)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    }

    if !d.dirty_cash.is_empty() {
        let ids: Vec<i64> = d.dirty_cash.iter().map(|a| acc(*a)).collect();
        let cash: Vec<i64> = d
            .dirty_cash
            .iter()
            .map(|a| d.cash.get(a).copied().unwrap_or(0))
            .collect();
        sqlx::query(
            "INSERT INTO accounts (account_id, cash) SELECT * FROM UNNEST($1::int8[], $2::int8[])
             ON CONFLICT (account_id) DO UPDATE SET cash = EXCLUDED.cash",
        )
        .bind(&ids)
        .bind(&cash)
        .execute(&mut *tx)
        .await?;
    }

    if !d.dirty_holdings.is_empty() {
        let (mut ids, mut syms, mut qty) = (vec![], vec![], vec![]);
        for k in &d.dirty_holdings {
            ids.push(acc(k.0));
            syms.push(k.1.as_str().to_string());
            qty.push(d.holdings.get(k).copied().unwrap_or(0) as i64);
        }
        sqlx::query(
            "INSERT INTO holdings (account_id, symbol, quantity)
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[])
             ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = EXCLUDED.quantity",
        )
        .bind(&ids)
        .bind(&syms)
        .bind(&qty)
        .execute(&mut *tx)
        .await?;
    }

    if !d.dirty_stocks.is_empty() {
        let mut c: [Vec<i64>; 10] = Default::default();
        let mut syms = vec![];
        let mut open: Vec<Option<i64>> = vec![];
        let mut listed = vec![];
        for s in &d.dirty_stocks {
            let Some(r) = d.stocks.get(s) else { continue };
            syms.push(s.as_str().to_string());
            let st = &r.stats;
            open.push(st.open.map(Price::minor));
            listed.push(r.listed);
            for (col, v) in c.iter_mut().zip([
                r.tick.minor(),
                st.reference.minor(),
                st.high.minor(),
                st.low.minor(),
                st.last.minor(),
                st.volume as i64,
                st.trades as i64,
                st.turnover.minor(),
                st.last_update.0,
                r.trade_seq as i64,
            ]) {
                col.push(v);
            }
        }
        sqlx::query(
            "INSERT INTO stocks (symbol, tick, reference, open, high, low, last, volume, trades,
               turnover, last_update, trade_seq, listed)
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[],
               $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[],
               $12::int8[], $13::bool[])
             ON CONFLICT (symbol) DO UPDATE SET tick = EXCLUDED.tick,
               reference = EXCLUDED.reference, open = EXCLUDED.open, high = EXCLUDED.high,
               low = EXCLUDED.low, last = EXCLUDED.last, volume = EXCLUDED.volume,
               trades = EXCLUDED.trades, turnover = EXCLUDED.turnover,
               last_update = EXCLUDED.last_update, trade_seq = EXCLUDED.trade_seq,
               listed = EXCLUDED.listed",
        )
        .bind(&syms)
        .bind(&c[0])
        .bind(&c[1])
        .bind(&open)
        .bind(&c[2])
        .bind(&c[3])
        .bind(&c[4])
        .bind(&c[5])
        .bind(&c[6])
        .bind(&c[7])
        .bind(&c[8])
        .bind(&c[9])
        .bind(&listed)
        .execute(&mut *tx)
        .await?;
    }

    if !d.dirty_candles.is_empty() {
        let (mut syms, mut cols) = (vec![], <[Vec<i64>; 6]>::default());
        let mut trades: Vec<i32> = vec![];
        for (s, start) in &d.dirty_candles {
            let Some(k) = d.candle(*s, *start) else {
                continue;
            };
            syms.push(s.as_str().to_string());
            for (col, v) in cols.iter_mut().zip([
                k.start.0,
                k.open.minor(),
                k.high.minor(),
                k.low.minor(),
                k.close.minor(),
                k.volume as i64,
            ]) {
                col.push(v);
            }
            trades.push(k.trades as i32);
        }
        sqlx::query(
            "INSERT INTO candles (symbol, start, open, high, low, close, volume, trades)
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[],
               $6::int8[], $7::int8[], $8::int4[])
             ON CONFLICT (symbol, start) DO UPDATE SET open = EXCLUDED.open,
               high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
               volume = EXCLUDED.volume, trades = EXCLUDED.trades",
        )
        .bind(&syms)
        .bind(&cols[0])
        .bind(&cols[1])
        .bind(&cols[2])
        .bind(&cols[3])
        .bind(&cols[4])
        .bind(&cols[5])
        .bind(&trades)
        .execute(&mut *tx)
        .await?;
    }

    if !d.dirty_orders.is_empty() {
        // Orders never checkpointed go in by COPY, without a conflict
        // check (the bulk of them: most close before their first
        // checkpoint); if one is there after all (a retried checkpoint
        // whose commit went through), the savepoint undoes the copy and
        // they are upserted with the orders already stored.
        // In id order: the primary key then grows at its right edge
        // (in a hash set's order it took PostgreSQL half as long again).
        let mut ids: Vec<OrderId> = d.dirty_orders.iter().copied().collect();
        ids.sort_unstable();
        let (known, fresh): (Vec<OrderId>, Vec<OrderId>) =
            ids.into_iter().partition(|id| d.stored_orders.contains(id));
        let mut upsert = order_copy_rows(d, &known);
        let fresh = order_copy_rows(d, &fresh);
        if !copy_new(&mut tx, &ORDERS, &fresh).await? {
            upsert.0.extend_from_slice(&fresh.0);
        }
        copy_merge(&mut tx, &ORDERS, &upsert).await?;
    }

    let trades = trade_copy_rows(d);
    if !copy_new(&mut tx, &TRADES, &trades).await? {
        copy_merge(&mut tx, &TRADES, &trades).await?;
    }

    if !d.dirty_tasks.is_empty() {
        let (mut ids, mut bodies) = (vec![], vec![]);
        for id in &d.dirty_tasks {
            if let Some(t) = d.tasks.get(id) {
                ids.push(*id as i64);
                bodies.push(serde_json::to_string(t).map_err(|e| PgError::Journal(e.to_string()))?);
            }
        }
        sqlx::query(
            "INSERT INTO market_tasks (id, task)
             SELECT * FROM UNNEST($1::int8[], $2::text[])
             ON CONFLICT (id) DO UPDATE SET task = EXCLUDED.task",
        )
        .bind(&ids)
        .bind(&bodies)
        .execute(&mut *tx)
        .await?;
    }

    sqlx::query("UPDATE checkpoint SET seq = $1, taken_at = now()")
        .bind(d.seq as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// An order row of `SELECT order_columns!()`, read by position (exports
/// read a million: a lookup by name hashes each column's name).
fn order_from_row(r: &sqlx::postgres::PgRow) -> Result<OrderRow, PgError> {
    let status: &str = r.try_get(9)?;
    let client: Option<&str> = r.try_get(8)?;
    Ok(OrderRow {
        id: OrderId(r.try_get::<i64, _>(0)? as u64),
        account: acc_back(r.try_get(1)?),
        symbol: sym(r.try_get(2)?)?,
        side: r.try_get::<Option<&str>, _>(3)?.and_then(Side::parse),
        order_type: r.try_get::<Option<&str>, _>(4)?.and_then(OrderType::parse),
        time_in_force: r
            .try_get::<Option<&str>, _>(5)?
            .and_then(TimeInForce::parse),
        quantity: r.try_get::<i64, _>(6)? as u64,
        limit_price: r.try_get::<Option<i64>, _>(7)?.map(Price::from_minor),
        client_order_id: client.and_then(|c| ClientOrderId::new(c).ok()),
        status: engine::OrderStatus::parse(status)
            .ok_or_else(|| PgError::Journal(format!("unknown order status `{status}`")))?,
        filled: r.try_get::<i64, _>(10)? as u64,
        remaining: r.try_get::<i64, _>(11)? as u64,
        reason: r.try_get(12)?,
        created_at: Timestamp(r.try_get(13)?),
        updated_at: Timestamp(r.try_get(14)?),
    })
}

/// The columns `order_from_row` reads, in its order.
macro_rules! order_columns {
    () => {
        "order_id, account_id, symbol, side, order_type, time_in_force, quantity, limit_price, \
         client_order_id, status, filled, remaining, reason, created_at, updated_at"
    };
}

/// The columns `trade_from_row` reads, in its order.
macro_rules! trade_columns {
    () => {
        "symbol, seq, price, quantity, maker_order, maker_account, taker_order, taker_account, \
         taker_side, ts"
    };
}

/// Recovery: the last checkpoint, then every journal fact after it, folded.
/// Fails on a gap in the journal's sequence or a fact it cannot read.
pub async fn load(
    pool: &PgPool,
    fees: engine::Fees,
    fee_account: AccountId,
) -> Result<Durable, PgError> {
    load_with(pool, fees, fee_account, &[]).await
}

/// `load`, with the symbols the market lists from its settings (symbol,
/// tick, listing price): they have rows before the journal is folded, so
/// trades and ticks journaled before their first checkpoint still count
/// (trade numbering, day statistics, candles).
pub async fn load_with(
    pool: &PgPool,
    fees: engine::Fees,
    fee_account: AccountId,
    known: &[(Symbol, Price, Price)],
) -> Result<Durable, PgError> {
    let mut d = Durable::new(fees, fee_account);
    d.seq = sqlx::query_scalar::<_, i64>("SELECT seq FROM checkpoint")
        .fetch_one(pool)
        .await? as u64;
    for r in sqlx::query("SELECT account_id, name, key_hash, created_at FROM users")
        .fetch_all(pool)
        .await?
    {
        d.users.insert(
            acc_back(r.try_get("account_id")?),
            UserRow {
                name: r.try_get("name")?,
                key_hash: r.try_get("key_hash")?,
                created_at: Timestamp(r.try_get("created_at")?),
            },
        );
    }
    for r in sqlx::query("SELECT account_id, cash FROM accounts")
        .fetch_all(pool)
        .await?
    {
        d.cash
            .insert(acc_back(r.try_get("account_id")?), r.try_get("cash")?);
    }
    for r in sqlx::query("SELECT account_id, symbol, quantity FROM holdings")
        .fetch_all(pool)
        .await?
    {
        d.holdings.insert(
            (
                acc_back(r.try_get("account_id")?),
                sym(&r.try_get::<String, _>("symbol")?)?,
            ),
            r.try_get::<i64, _>("quantity")? as u64,
        );
    }
    let mut candles: BTreeMap<Symbol, Vec<Candle>> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT symbol, start, open, high, low, close, volume, trades FROM candles ORDER BY start",
    )
    .fetch_all(pool)
    .await?
    {
        candles
            .entry(sym(&r.try_get::<String, _>("symbol")?)?)
            .or_default()
            .push(Candle {
                start: Timestamp(r.try_get("start")?),
                open: Price::from_minor(r.try_get("open")?),
                high: Price::from_minor(r.try_get("high")?),
                low: Price::from_minor(r.try_get("low")?),
                close: Price::from_minor(r.try_get("close")?),
                volume: r.try_get::<i64, _>("volume")? as u64,
                trades: r.try_get::<i32, _>("trades")? as u32,
            });
    }
    for r in sqlx::query(
        "SELECT symbol, tick, reference, open, high, low, last, volume, trades, turnover,
           last_update, trade_seq, listed FROM stocks",
    )
    .fetch_all(pool)
    .await?
    {
        let s = sym(&r.try_get::<String, _>("symbol")?)?;
        d.stocks.insert(
            s,
            StockRow {
                tick: Price::from_minor(r.try_get("tick")?),
                stats: DayStats {
                    reference: Price::from_minor(r.try_get("reference")?),
                    open: r.try_get::<Option<i64>, _>("open")?.map(Price::from_minor),
                    high: Price::from_minor(r.try_get("high")?),
                    low: Price::from_minor(r.try_get("low")?),
                    last: Price::from_minor(r.try_get("last")?),
                    volume: r.try_get::<i64, _>("volume")? as u64,
                    trades: r.try_get::<i64, _>("trades")? as u64,
                    turnover: Money::from_minor(r.try_get("turnover")?),
                    last_update: Timestamp(r.try_get("last_update")?),
                },
                candles: Candles::restore(candles.remove(&s).unwrap_or_default()),
                trade_seq: r.try_get::<i64, _>("trade_seq")? as u64,
                listed: r.try_get("listed")?,
            },
        );
    }
    for r in sqlx::query(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE status IN ('accepted', 'partially_filled')"
    ))
    .fetch_all(pool)
    .await?
    {
        let o = order_from_row(&r)?;
        d.stored_orders.insert(o.id);
        d.orders.insert(o.id, o);
    }
    d.max_order_id = sqlx::query_scalar::<_, Option<i64>>("SELECT max(order_id) FROM orders")
        .fetch_one(pool)
        .await?
        .unwrap_or(0) as u64;

    for (symbol, tick, price) in known {
        d.ensure_stock(*symbol, *tick, *price);
    }
    for r in sqlx::query("SELECT id, task FROM market_tasks")
        .fetch_all(pool)
        .await?
    {
        let id: i64 = r.try_get("id")?;
        let task: actors::task::Task = serde_json::from_str(&r.try_get::<String, _>("task")?)
            .map_err(|e| PgError::Journal(format!("task {id}: {e}")))?;
        d.tasks.insert(task.id, task);
    }
    // Fold the journal after the checkpoint, in chunks.
    loop {
        let rows = sqlx::query(
            "SELECT seq, facts, fact::text AS fact, packed FROM journal
             WHERE seq > $1 ORDER BY seq LIMIT 1000",
        )
        .bind(d.seq as i64)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let seq = r.try_get::<i64, _>("seq")? as u64;
            if seq != d.seq + 1 {
                return Err(PgError::Journal(format!(
                    "gap in the journal: {} follows {}",
                    seq, d.seq
                )));
            }
            let facts = row_facts(seq, r.try_get("fact")?, r.try_get("packed")?)?;
            if facts.len() as i64 != i64::from(r.try_get::<i32, _>("facts")?) {
                return Err(PgError::Journal(format!(
                    "journal entry {seq} holds {} facts, not the {} it says",
                    facts.len(),
                    r.try_get::<i32, _>("facts")?
                )));
            }
            for fact in &facts {
                d.apply(fact);
            }
            d.seq = seq + facts.len() as u64 - 1;
        }
    }
    // An order the tables hold as closed stays closed, whatever a fact
    // folded after the checkpoint says: it never goes back in a book.
    let open: Vec<i64> = d.open_orders().iter().map(|o| o.id.0 as i64).collect();
    if !open.is_empty() {
        let closed: Vec<i64> = sqlx::query_scalar(
            "SELECT order_id FROM orders WHERE order_id = ANY($1)
               AND status NOT IN ('accepted', 'partially_filled')",
        )
        .bind(&open)
        .fetch_all(pool)
        .await?;
        for id in closed {
            d.anomalies += 1;
            tracing::warn!(
                order = id,
                "a closed order was reopened by a late fact; kept closed"
            );
            d.orders.remove(&OrderId(id as u64));
        }
    }
    Ok(d)
}

/// Book events read from the journal: `(seq, symbol, event)` in journal
/// order, and the last `seq` the read covered (events or not).
#[derive(Debug, Default)]
pub struct JournalEvents {
    pub events: Vec<(u64, engine::Symbol, engine::Event)>,
    pub through: u64,
}

/// See `Database::events_after`.
pub async fn events_after(pool: &PgPool, after: u64, limit: u32) -> Result<JournalEvents, PgError> {
    // Every row is read (so the position moves past ticks and other
    // facts), but only the events' bodies are sent. `after` may fall
    // inside a packed row (a position taken from an event's number): the
    // read starts at the row that holds it.
    let rows = sqlx::query(
        "SELECT seq, facts, CASE WHEN kind = ANY($3) THEN fact::text END AS fact, packed
         FROM journal
         WHERE seq >= coalesce((SELECT seq FROM journal WHERE seq <= $1 + 1
                                  ORDER BY seq DESC LIMIT 1), 0)
         ORDER BY seq LIMIT $2",
    )
    .bind(after as i64)
    .bind(i64::from(limit))
    .bind(&Fact::EVENT_KINDS[..])
    .fetch_all(pool)
    .await?;
    let mut out = JournalEvents {
        events: Vec::new(),
        through: after,
    };
    for r in rows {
        let seq = r.try_get::<i64, _>("seq")? as u64;
        let end = seq + r.try_get::<i32, _>("facts")?.max(1) as u64 - 1;
        out.through = out.through.max(end);
        let (fact, packed): (Option<String>, Option<Vec<u8>>) =
            (r.try_get("fact")?, r.try_get("packed")?);
        if end <= after || (fact.is_none() && packed.is_none()) {
            continue;
        }
        let facts = (seq..).zip(row_facts(seq, fact, packed)?);
        for (at, f) in facts.filter(|(at, _)| *at > after) {
            match f {
                Fact::Event { symbol, event } => out.events.push((at, symbol, event)),
                Fact::Order(_) => {}
                other => {
                    return Err(PgError::Journal(format!(
                        "journal entry {at}: kind says event, fact is {}",
                        other.kind()
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// Wait until the last checkpoint covers the journal's end as it is now:
/// asks the writer for a checkpoint at once (`checkpoint_now`), which then
/// takes the time PostgreSQL needs to write what changed since the last
/// (under a heavy import, a few seconds). Gives up after `CHECKPOINT_WAIT`
/// with a warning: the export then reads what is there.
async fn checkpointed_through_end(
    pool: &PgPool,
    checkpoint_now: &tokio::sync::Notify,
) -> Result<(), PgError> {
    const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
    let end = journal_end(pool).await? as i64;
    checkpoint_now.notify_one();
    let started = std::time::Instant::now();
    loop {
        let at: i64 = sqlx::query_scalar("SELECT seq FROM checkpoint")
            .fetch_one(pool)
            .await?;
        if at >= end {
            return Ok(());
        }
        if started.elapsed() > CHECKPOINT_WAIT {
            tracing::warn!(
                checkpoint = at,
                journal = end,
                "an export did not see the checkpoint reach the journal's end; it reads the last checkpoint"
            );
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The number of the journal's last fact (0 when empty).
pub async fn journal_end(pool: &PgPool) -> Result<u64, PgError> {
    let end: Option<i64> =
        sqlx::query_scalar("SELECT seq + facts - 1 FROM journal ORDER BY seq DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(end.unwrap_or(0) as u64)
}

/// Every order of accounts `>= first_account` (the API's users), oldest
/// first. Call after a checkpoint, so the table is complete.
pub async fn user_orders(pool: &PgPool, first_account: u64) -> Result<Vec<OrderRow>, PgError> {
    sqlx::query(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE account_id >= $1 ORDER BY order_id"
    ))
    .bind(first_account as i64)
    .fetch_all(pool)
    .await?
    .iter()
    .map(order_from_row)
    .collect()
}

/// Every trade with a side in accounts `>= first_account` (below the
/// house and fee accounts, which read as negative), in execution order.
pub async fn user_trades(pool: &PgPool, first_account: u64) -> Result<Vec<Trade>, PgError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        trade_columns!(),
        " FROM trades WHERE maker_account >= $1 OR taker_account >= $1 ORDER BY ts, symbol, seq"
    ))
    .bind(first_account as i64)
    .fetch_all(pool)
    .await?;
    rows.iter().map(trade_from_row).collect()
}

/// A trade row of `SELECT trade_columns!()`, read by position.
fn trade_from_row(r: &sqlx::postgres::PgRow) -> Result<Trade, PgError> {
    let side: &str = r.try_get(8)?;
    Ok(Trade {
        symbol: sym(r.try_get(0)?)?,
        seq: r.try_get::<i64, _>(1)? as u64,
        price: Price::from_minor(r.try_get(2)?),
        quantity: r.try_get::<i64, _>(3)? as u64,
        maker_order: OrderId(r.try_get::<i64, _>(4)? as u64),
        maker_account: acc_back(r.try_get(5)?),
        taker_order: OrderId(r.try_get::<i64, _>(6)? as u64),
        taker_account: acc_back(r.try_get(7)?),
        taker_side: Side::parse(side)
            .ok_or_else(|| PgError::Journal(format!("bad side `{side}`")))?,
        ts: Timestamp(r.try_get(9)?),
    })
}

/// Rows an export hands over at a time.
pub const EXPORT_BATCH: usize = 512;

/// The rows of an export, streamed from the tables (orders and trades as
/// of the last checkpoint) or the journal (prices) through a cursor, into
/// `tx` in batches of `EXPORT_BATCH` (bounded: memory stays flat); stops
/// when the receiver goes.
pub async fn export(
    pool: PgPool,
    checkpoint_now: std::sync::Arc<tokio::sync::Notify>,
    q: actors::ports::ExportQuery,
    tx: tokio::sync::mpsc::Sender<Vec<Result<actors::ports::ExportRow, actors::ports::PortError>>>,
) {
    use actors::ports::{ExportOrder, ExportRow, ExportWhat, PriceEntry};
    use futures::TryStreamExt;
    let port = actors::ports::PortError::from;
    if q.what != ExportWhat::Prices {
        // Orders and trades come from the checkpointed tables: wait until
        // they hold everything durable when the export began.
        if let Err(e) = checkpointed_through_end(&pool, &checkpoint_now).await {
            let _ = tx.send(vec![Err(port(e))]).await;
            return;
        }
    }
    let sql = match q.what {
        ExportWhat::Orders => concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE created_at BETWEEN $1 AND $2 \
             AND ($3::int8 IS NULL OR account_id = $3) AND ($4::text IS NULL OR symbol = $4) \
             ORDER BY order_id"
        ),
        ExportWhat::Trades => concat!(
            "SELECT ",
            trade_columns!(),
            " FROM trades WHERE ts BETWEEN $1 AND $2 \
             AND ($3::int8 IS NULL OR maker_account = $3 OR taker_account = $3) \
             AND ($4::text IS NULL OR symbol = $4) ORDER BY ts, symbol, seq"
        ),
        ExportWhat::Prices => {
            "SELECT fact::text AS fact FROM journal WHERE kind = 'tick' \
             AND (fact -> 'tick' ->> 'source') IS NOT NULL \
             AND (fact -> 'tick' ->> 'ts')::int8 BETWEEN $1 AND $2 AND $3::int8 IS NULL \
             AND ($4::text IS NULL OR (fact -> 'tick' ->> 'symbol') = $4) ORDER BY seq"
        }
    };
    let mut rows = sqlx::query(sql)
        .bind(q.from.0)
        .bind(q.to.0)
        .bind(q.account.map(acc))
        .bind(q.symbol.map(|s| s.as_str().to_string()))
        .fetch(&pool);
    let mut batch = Vec::with_capacity(EXPORT_BATCH);
    loop {
        let row = match rows.try_next().await {
            Ok(Some(r)) => r,
            Ok(None) => {
                if !batch.is_empty() {
                    let _ = tx.send(batch).await;
                }
                return;
            }
            Err(e) => {
                batch.push(Err(port(e.into())));
                let _ = tx.send(batch).await;
                return;
            }
        };
        let out = match q.what {
            ExportWhat::Orders => order_from_row(&row).map(|o| {
                Some(ExportRow::Order(ExportOrder {
                    id: o.id,
                    account: o.account,
                    symbol: o.symbol,
                    side: o.side,
                    order_type: o.order_type,
                    time_in_force: o.time_in_force,
                    quantity: o.quantity,
                    limit_price: o.limit_price,
                    status: o.status,
                    filled: o.filled,
                    remaining: o.remaining,
                    reason: o.reason,
                    client_order_id: o.client_order_id.map(|c| c.to_string()),
                    created_at: o.created_at,
                    updated_at: o.updated_at,
                }))
            }),
            ExportWhat::Trades => trade_from_row(&row).map(|t| Some(ExportRow::Trade(t))),
            ExportWhat::Prices => row
                .try_get::<String, _>("fact")
                .map_err(PgError::from)
                .and_then(|text| {
                    serde_json::from_str::<Fact>(&text)
                        .map_err(|e| PgError::Journal(format!("a price in the journal: {e}")))
                })
                .map(|f| match f {
                    Fact::Tick {
                        symbol,
                        price,
                        ts,
                        source: Some(source),
                    } => Some(ExportRow::Price(symbol, PriceEntry { ts, price, source })),
                    _ => None,
                }),
        };
        match out {
            Ok(Some(r)) => batch.push(Ok(r)),
            Ok(None) => {}
            Err(e) => batch.push(Err(port(e))),
        }
        if batch.len() >= EXPORT_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(EXPORT_BATCH));
            if tx.send(full).await.is_err() {
                return;
            }
        }
    }
}

/// Keep a task's file (an upload or an export), replacing one of the same
/// role.
pub async fn put_task_file(
    pool: &PgPool,
    task: u64,
    role: &str,
    body: &[u8],
) -> Result<(), PgError> {
    sqlx::query(
        "INSERT INTO task_files (task_id, role, body) VALUES ($1, $2, $3)
         ON CONFLICT (task_id, role) DO UPDATE SET body = EXCLUDED.body",
    )
    .bind(task as i64)
    .bind(role)
    .bind(body)
    .execute(pool)
    .await?;
    Ok(())
}

/// A task's file, if kept.
pub async fn task_file(pool: &PgPool, task: u64, role: &str) -> Result<Option<Vec<u8>>, PgError> {
    Ok(
        sqlx::query_scalar("SELECT body FROM task_files WHERE task_id = $1 AND role = $2")
            .bind(task as i64)
            .bind(role)
            .fetch_optional(pool)
            .await?,
    )
}

/// `symbol`'s journaled prices from outside the walk, newest first, and
/// how many there are.
pub async fn outside_prices(
    pool: &PgPool,
    symbol: Symbol,
    limit: usize,
    offset: usize,
) -> Result<(Vec<actors::ports::PriceEntry>, u64), PgError> {
    const WHERE: &str = "kind = 'tick' AND (fact -> 'tick' ->> 'source') IS NOT NULL \
                         AND (fact -> 'tick' ->> 'symbol') = $1";
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM journal WHERE {WHERE}"
    )))
    .bind(symbol.as_str())
    .fetch_one(pool)
    .await?;
    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT fact::text FROM journal WHERE {WHERE} ORDER BY seq DESC LIMIT $2 OFFSET $3"
    )))
    .bind(symbol.as_str())
    .bind(limit as i64)
    .bind(offset as i64)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for text in rows {
        match serde_json::from_str::<Fact>(&text) {
            Ok(Fact::Tick {
                price,
                ts,
                source: Some(source),
                ..
            }) => out.push(actors::ports::PriceEntry { ts, price, source }),
            Ok(_) => {}
            Err(e) => return Err(PgError::Journal(format!("a price in the journal: {e}"))),
        }
    }
    Ok((out, total as u64))
}

/// Rows in the text format of `COPY ... FROM STDIN`: fields separated by
/// tabs, `\N` for NULL, one row per line. The checkpoint's orders and
/// trades go in this way: over one import of 1,000,000 rows, PostgreSQL
/// spent 2.0 s on the trades' `COPY` against 5.1 s on the same rows as
/// arrays unnested by `INSERT ... SELECT ... ON CONFLICT`, and 3.0 s
/// against 3.5 s on the orders (`pg_stat_statements`).
struct CopyRows(Vec<u8>);

impl CopyRows {
    fn int(&mut self, v: i64) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self.0.push(b'\t');
    }
    fn text(&mut self, s: &str) {
        for &b in s.as_bytes() {
            match b {
                b'\\' => self.0.extend_from_slice(b"\\\\"),
                b'\t' => self.0.extend_from_slice(b"\\t"),
                b'\n' => self.0.extend_from_slice(b"\\n"),
                b'\r' => self.0.extend_from_slice(b"\\r"),
                _ => self.0.push(b),
            }
        }
        self.0.push(b'\t');
    }
    fn null(&mut self) {
        self.0.extend_from_slice(b"\\N\t");
    }
    fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }
    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }
    /// End the row: its last field's tab becomes the line's end.
    fn end_row(&mut self) {
        if let Some(last) = self.0.last_mut() {
            *last = b'\n';
        }
    }
}

/// The statements that copy rows into a table: its name, the columns of
/// its `CopyRows` (in their order) and how rows already there are merged.
struct CopyTable {
    /// `COPY` straight into the table.
    copy: &'static str,
    /// A temporary table shaped like it (dropped at commit), `COPY` into
    /// that, and the insert from it with the conflict rule.
    stage: &'static str,
    copy_staged: &'static str,
    merge: &'static str,
}

macro_rules! copy_table {
    ($name:literal, $columns:expr, $on_conflict:literal) => {
        CopyTable {
            copy: concat!("COPY ", $name, " (", $columns, ") FROM STDIN"),
            stage: concat!(
                "CREATE TEMPORARY TABLE merge_",
                $name,
                " (LIKE ",
                $name,
                ") ON COMMIT DROP"
            ),
            copy_staged: concat!("COPY merge_", $name, " (", $columns, ") FROM STDIN"),
            merge: concat!(
                "INSERT INTO ",
                $name,
                " (",
                $columns,
                ") SELECT ",
                $columns,
                " FROM merge_",
                $name,
                " ",
                $on_conflict
            ),
        }
    };
}

/// Orders are inserted or updated; a closed order is never reopened (a
/// late acceptance folded after its fill).
const ORDERS: CopyTable = copy_table!(
    "orders",
    order_columns!(),
    "ON CONFLICT (order_id) DO UPDATE SET side = EXCLUDED.side,
       order_type = EXCLUDED.order_type, time_in_force = EXCLUDED.time_in_force,
       quantity = EXCLUDED.quantity, limit_price = EXCLUDED.limit_price,
       client_order_id = EXCLUDED.client_order_id, status = EXCLUDED.status,
       filled = EXCLUDED.filled, remaining = EXCLUDED.remaining,
       reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at
     WHERE orders.status IN ('accepted', 'partially_filled')"
);
/// A trade never changes: one already there is kept.
const TRADES: CopyTable = copy_table!(
    "trades",
    trade_columns!(),
    "ON CONFLICT (symbol, seq) DO NOTHING"
);

/// The rows of orders `ids` of `d`, in `order_columns!()`'s order.
fn order_copy_rows(d: &Durable, ids: &[OrderId]) -> CopyRows {
    let mut w = CopyRows(Vec::with_capacity(ids.len() * 96));
    for o in ids.iter().filter_map(|id| d.orders.get(id)) {
        w.int(o.id.0 as i64);
        w.int(acc(o.account));
        w.text(o.symbol.as_str());
        w.opt_text(o.side.map(Side::as_str));
        w.opt_text(o.order_type.map(OrderType::as_str));
        w.opt_text(o.time_in_force.map(TimeInForce::as_str));
        w.int(o.quantity as i64);
        w.opt_int(o.limit_price.map(Price::minor));
        w.opt_text(o.client_order_id.as_ref().map(|c| c.as_str()));
        w.text(o.status.as_str());
        w.int(o.filled as i64);
        w.int(o.remaining as i64);
        w.opt_text(o.reason.as_deref());
        w.int(o.created_at.0);
        w.int(o.updated_at.0);
        w.end_row();
    }
    w
}

/// The new trades of `d`, in `trade_columns!()`'s order.
fn trade_copy_rows(d: &Durable) -> CopyRows {
    let mut w = CopyRows(Vec::with_capacity(d.new_trades.len() * 96));
    for t in &d.new_trades {
        w.text(t.symbol.as_str());
        w.int(t.seq as i64);
        w.int(t.price.minor());
        w.int(t.quantity as i64);
        w.int(t.maker_order.0 as i64);
        w.int(acc(t.maker_account));
        w.int(t.taker_order.0 as i64);
        w.int(acc(t.taker_account));
        w.text(t.taker_side.as_str());
        w.int(t.ts.0);
        w.end_row();
    }
    w
}

/// Copy rows that should all be new straight into `table`, inside a
/// savepoint. `false`, with nothing written, if one is there already (a
/// retried checkpoint whose commit went through): the caller then writes
/// them with `copy_merge`.
async fn copy_new(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &CopyTable,
    rows: &CopyRows,
) -> Result<bool, PgError> {
    if rows.0.is_empty() {
        return Ok(true);
    }
    sqlx::query("SAVEPOINT copy_new").execute(&mut **tx).await?;
    match copy_in(tx, table.copy, rows).await {
        Ok(()) => Ok(true),
        Err(e) if is_unique_violation(&e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT copy_new")
                .execute(&mut **tx)
                .await?;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Rows that may be there already: copied into a temporary table shaped
/// like `table`, then inserted from it by the table's conflict rule. Once
/// per table in a transaction (the temporary table lasts until commit).
async fn copy_merge(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &CopyTable,
    rows: &CopyRows,
) -> Result<(), PgError> {
    if rows.0.is_empty() {
        return Ok(());
    }
    sqlx::query(table.stage).execute(&mut **tx).await?;
    copy_in(tx, table.copy_staged, rows).await?;
    sqlx::query(table.merge).execute(&mut **tx).await?;
    Ok(())
}

/// A `COPY ... FROM STDIN` statement with `rows`.
async fn copy_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    statement: &str,
    rows: &CopyRows,
) -> Result<(), sqlx::Error> {
    let mut copy = tx.copy_in_raw(statement).await?;
    if let Err(e) = copy.send(rows.0.as_slice()).await {
        // The send's error is the one to report; the abort's, if any, is
        // its consequence.
        let _ = copy.abort("the rows could not be sent").await;
        return Err(e);
    }
    copy.finish().await.map(drop)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}
