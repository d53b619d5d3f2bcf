//! The history spool: history rows PostgreSQL cannot take right now wait in Redis and are
//! written when it answers again, in the order they were spooled.
//!
//! - **Write** ([`Spool::write`], in the jobs): while the spool is empty a batch goes straight to
//!   PostgreSQL; if that fails for a passing reason ([`store::is_transient`]) the batch becomes
//!   one entry of the stream `{p}:history-spool`. While the spool holds anything, a new batch is
//!   appended behind it without trying PostgreSQL, so nothing overtakes an older batch and a job
//!   does not wait on a dead database every tick.
//! - **Bound**: at most `retention.spool_max_entries` entries (batches, not rows). A batch that
//!   finds the spool full is dropped (the newest is dropped, the oldest kept: the spool stays one
//!   contiguous stretch from the outage's start, and an entry being replayed is never trimmed
//!   under the replayer), and counted as lost (`premium_history_rows_lost_total`,
//!   `{p}:counters` `history_rows_lost:<table>`). The check and the append are one script, so
//!   N replicas cannot overshoot the bound.
//! - **Replay** ([`replay_loop`], a background task of every replica, never a job): the replica
//!   that holds `{p}:history-spool:lock` (`SET NX PX`, owner token, renewed before every batch,
//!   released by compare-and-delete) reads the oldest entries (`XRANGE`), inserts each batch and
//!   deletes it (`XDEL`) once written. One holder at a time keeps the order per table; a holder
//!   that dies leaves the lock to expire (10 s) and another replica carries on from the oldest
//!   entry still there. A batch written but not yet deleted when its replayer died is written
//!   again by the next one: the inserts are idempotent (`ON CONFLICT DO NOTHING`), so it inserts
//!   nothing twice. A consumer group was not used: it spreads entries over consumers, which
//!   breaks the order, and its pending list would still need a lock to hand over in order.

use std::{
    sync::LazyLock,
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeZone, Utc};
use domain::{FxRate, Premium, Ticker};
use keyspace::{Keys, RedisConn};
use queue::metrics_names as m;
use redis::{AsyncCommands, Script};
use store::{PremiumHistoryRow, Store, StoreError, TickerRow};
use tokio::sync::watch;

/// How long the replay lock lives without a renewal.
const LOCK_MS: u64 = 10_000;
/// Entries read per `XRANGE`.
const READ_CHUNK: usize = 16;
/// The longest a replica replays before letting go of the lock (and looking again).
const HOLD: Duration = Duration::from_secs(5);
/// A replayed insert that takes longer than this counts as PostgreSQL not answering.
const INSERT_TIMEOUT: Duration = Duration::from_secs(5);

/// One failed insert of one job: the rows of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    Tickers(Vec<TickerRow>),
    Fx(Vec<FxRate>),
    /// A tick's premiums; `ts` is the tick.
    Premiums {
        ts: DateTime<Utc>,
        rows: Vec<PremiumHistoryRow>,
    },
}

impl Batch {
    pub fn tickers(tickers: &[Ticker]) -> Self {
        Batch::Tickers(tickers.iter().map(TickerRow::from).collect())
    }

    pub fn premiums(ts: DateTime<Utc>, premiums: &[Premium]) -> Self {
        Batch::Premiums {
            ts,
            rows: premiums.iter().map(PremiumHistoryRow::from).collect(),
        }
    }

    /// The table its rows go to (also the label of its counters).
    pub fn table(&self) -> &'static str {
        match self {
            Batch::Tickers(_) => "tickers",
            Batch::Fx(_) => "fx_rates",
            Batch::Premiums { .. } => "premiums",
        }
    }

    pub fn rows(&self) -> usize {
        match self {
            Batch::Tickers(r) => r.len(),
            Batch::Fx(r) => r.len(),
            Batch::Premiums { rows, .. } => rows.len(),
        }
    }

    /// Inserts the batch (idempotent: rows already there are left alone). Returns rows inserted.
    pub async fn insert(&self, store: &Store) -> Result<u64, StoreError> {
        match self {
            Batch::Tickers(rows) => store.insert_ticker_rows(rows).await,
            Batch::Fx(rows) => {
                let mut n = 0;
                for r in rows {
                    n += store.insert_fx(r).await?;
                }
                Ok(n)
            }
            Batch::Premiums { ts, rows } => store.insert_premium_rows(*ts, rows).await,
        }
    }

    /// The stream entry's fields: `table`, `n` (rows), `ts` (the tick in ms; 0 but for
    /// premiums), `rows` (JSON).
    fn fields(&self) -> [(&'static str, String); 4] {
        let (ts, rows) = match self {
            Batch::Tickers(r) => (0, serde_json::to_string(r)),
            Batch::Fx(r) => (0, serde_json::to_string(r)),
            Batch::Premiums { ts, rows } => (ts.timestamp_millis(), serde_json::to_string(rows)),
        };
        [
            ("table", self.table().to_string()),
            ("n", self.rows().to_string()),
            ("ts", ts.to_string()),
            ("rows", rows.expect("history rows serialize")),
        ]
    }

    /// The batch of a stream entry's fields, or why it cannot be read (with its table and row
    /// count when known, for the lost-row counters).
    fn from_fields(fields: &[String]) -> Result<Self, (String, usize, String)> {
        let get = |name: &str| {
            fields
                .chunks(2)
                .find(|kv| kv.len() == 2 && kv[0] == name)
                .map(|kv| kv[1].as_str())
        };
        let table = get("table").unwrap_or("unknown").to_string();
        let n: usize = get("n").and_then(|n| n.parse().ok()).unwrap_or(0);
        let bad = |why: String| (table.clone(), n, why);
        let rows = get("rows").ok_or_else(|| bad("no rows field".into()))?;
        let json = |e: serde_json::Error| bad(format!("rows: {e}"));
        match table.as_str() {
            "tickers" => Ok(Batch::Tickers(serde_json::from_str(rows).map_err(json)?)),
            "fx_rates" => Ok(Batch::Fx(serde_json::from_str(rows).map_err(json)?)),
            "premiums" => {
                let ms: i64 = get("ts")
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| bad("no tick".into()))?;
                let ts = Utc
                    .timestamp_millis_opt(ms)
                    .single()
                    .ok_or_else(|| bad(format!("tick {ms} out of range")))?;
                Ok(Batch::Premiums {
                    ts,
                    rows: serde_json::from_str(rows).map_err(json)?,
                })
            }
            other => Err(bad(format!("unknown table `{other}`"))),
        }
    }
}

/// What [`Spool::write`] did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Inserted into PostgreSQL (rows inserted; fewer than the batch's when some were there).
    Stored(u64),
    /// Appended to the spool, to be replayed.
    Spooled,
    /// Dropped and counted as lost (the spool full or off, Redis failing, or rows PostgreSQL
    /// refuses).
    Lost,
}

/// What one [`Spool::replay`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Whether this replica held the lock (another one replays otherwise).
    pub held: bool,
    /// Entries written and deleted.
    pub batches: u64,
    /// Rows in those entries.
    pub rows: u64,
    /// Rows that were new to PostgreSQL (the rest were there already).
    pub inserted: u64,
    /// Entries dropped as unreadable or refused by PostgreSQL (counted as lost).
    pub dropped: u64,
    /// PostgreSQL still failing: the pass stopped at the oldest entry.
    pub still_down: bool,
    /// Minutes of replayed premium rows rolled up again (`premium_1m`, `premium_1h`): rows
    /// that arrive after their minute's `rollup-history` run still reach the rollups.
    pub minutes_rolled: u64,
}

#[derive(Clone)]
pub struct Spool {
    conn: RedisConn,
    keys: Keys,
    store: Store,
    max_entries: u64,
}

/// Appends a batch unless the spool is full (`lua/spool_append.lua`); returns the new id or 0.
static SPOOL_APPEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/spool_append.lua")));
/// Extends the replay lock if the caller holds it (`lua/spool_renew_lock.lua`).
static SPOOL_RENEW_LOCK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/spool_renew_lock.lua")));
/// Deletes the replay lock if the caller holds it (`lua/spool_release_lock.lua`).
static SPOOL_RELEASE_LOCK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/spool_release_lock.lua")));

impl Spool {
    pub fn new(conn: RedisConn, keys: Keys, store: Store, max_entries: u64) -> Self {
        Spool {
            conn,
            keys,
            store,
            max_entries,
        }
    }

    /// Batches waiting.
    pub async fn len(&self) -> Result<u64, redis::RedisError> {
        redis::cmd("XLEN")
            .arg(self.keys.history_spool())
            .query_async(&mut self.conn.clone())
            .await
    }

    /// Whether no batch waits.
    pub async fn is_empty(&self) -> Result<bool, redis::RedisError> {
        Ok(self.len().await? == 0)
    }

    /// Writes a batch to PostgreSQL, or spools it (see the module doc). Never fails: what
    /// cannot be kept is counted as lost.
    pub async fn write(&self, batch: &Batch) -> Written {
        if batch.rows() == 0 {
            return Written::Stored(0);
        }
        // A Redis error here: try PostgreSQL (the spool cannot be appended to anyway).
        let pending = if self.max_entries == 0 {
            0
        } else {
            self.len().await.unwrap_or(0)
        };
        if pending == 0 {
            match batch.insert(&self.store).await {
                Ok(n) => return Written::Stored(n),
                Err(e) if self.max_entries == 0 || !store::is_transient(&e) => {
                    self.lost(batch.table(), batch.rows(), &e).await;
                    return Written::Lost;
                }
                Err(e) => {
                    tracing::warn!(table = batch.table(), rows = batch.rows(), error = %e,
                        "history write failed; spooled in Redis for replay");
                    metrics::counter!(m::HISTORY_WRITE_FAILURES_TOTAL, "table" => batch.table())
                        .increment(1);
                }
            }
        }
        match self.append(batch).await {
            Ok(true) => Written::Spooled,
            Ok(false) => {
                let why = format!(
                    "the history spool is full ({} batches, retention.spool_max_entries)",
                    self.max_entries
                );
                self.lost(batch.table(), batch.rows(), &why).await;
                Written::Lost
            }
            Err(e) => {
                let why = format!("could not spool in Redis: {e}");
                self.lost(batch.table(), batch.rows(), &why).await;
                Written::Lost
            }
        }
    }

    /// Appends a batch as one entry unless the spool is full (`false`).
    pub async fn append(&self, batch: &Batch) -> Result<bool, redis::RedisError> {
        let [table, n, ts, rows] = batch.fields();
        let id: redis::Value = SPOOL_APPEND
            .key(self.keys.history_spool())
            .arg(self.max_entries)
            .arg(table.1)
            .arg(n.1)
            .arg(ts.1)
            .arg(rows.1)
            .invoke_async(&mut self.conn.clone())
            .await?;
        if matches!(id, redis::Value::Int(0)) {
            return Ok(false);
        }
        let rows = batch.rows() as u64;
        metrics::counter!(m::HISTORY_ROWS_SPOOLED_TOTAL, "table" => batch.table()).increment(rows);
        let _: Result<(), _> = self
            .conn
            .clone()
            .hincr(
                self.keys.counters(),
                format!("history_rows_spooled:{}", batch.table()),
                rows as i64,
            )
            .await;
        Ok(true)
    }

    /// Counts history rows that are gone for good; live data is unaffected.
    pub async fn lost(&self, table: &str, rows: usize, err: &(dyn std::fmt::Display + Sync)) {
        tracing::warn!(table, rows, error = %err, "history rows lost; live cache unaffected");
        metrics::counter!(m::HISTORY_WRITE_FAILURES_TOTAL, "table" => table.to_string())
            .increment(1);
        metrics::counter!(m::HISTORY_ROWS_LOST_TOTAL, "table" => table.to_string())
            .increment(rows as u64);
        let _: Result<(), _> = self
            .conn
            .clone()
            .hincr(
                self.keys.counters(),
                format!("history_rows_lost:{table}"),
                rows as i64,
            )
            .await;
    }

    /// One replay pass as `owner`: takes the lock (or returns at once with `held: false`),
    /// writes the oldest entries in order for at most [`HOLD`], deletes each once written,
    /// releases the lock. Stops at the first entry PostgreSQL cannot take yet.
    pub async fn replay(&self, owner: &str) -> Result<Replayed, redis::RedisError> {
        let mut conn = self.conn.clone();
        let lock = self.keys.history_spool_lock();
        let got: Option<String> = redis::cmd("SET")
            .arg(&lock)
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(LOCK_MS)
            .query_async(&mut conn)
            .await?;
        let mut done = Replayed {
            held: got.is_some(),
            ..Default::default()
        };
        if !done.held {
            return Ok(done);
        }
        let mut minutes = std::collections::BTreeSet::new();
        let result = self.replay_held(owner, &mut done, &mut minutes).await;
        let _: Result<i64, _> = SPOOL_RELEASE_LOCK
            .key(&lock)
            .arg(owner)
            .invoke_async(&mut conn)
            .await;
        done.minutes_rolled = self.roll_minutes(&minutes).await;
        result.map(|()| done)
    }

    /// Rolls up the minutes (epoch minutes) replayed rows fell in, run by run of consecutive
    /// minutes. Returns minutes rolled; a failure is logged (their rollups stay short of the
    /// late rows until the minute is rolled again, by hand with a `rollup-history` trigger).
    async fn roll_minutes(&self, minutes: &std::collections::BTreeSet<i64>) -> u64 {
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for &m in minutes {
            match runs.last_mut() {
                Some((_, end)) if *end == m => *end = m + 1,
                _ => runs.push((m, m + 1)),
            }
        }
        let mut n = 0;
        for (first, end) in runs {
            let (Some(from), Some(to)) = (
                Utc.timestamp_opt(first * 60, 0).single(),
                Utc.timestamp_opt(end * 60, 0).single(),
            ) else {
                continue;
            };
            match tokio::time::timeout(INSERT_TIMEOUT, self.store.rollup(from, to)).await {
                Ok(Ok(_)) => n += (end - first) as u64,
                Ok(Err(e)) => {
                    tracing::warn!(%from, %to, error = %e, "could not roll up replayed minutes")
                }
                Err(_) => tracing::warn!(%from, %to, "rolling up replayed minutes timed out"),
            }
        }
        n
    }

    async fn replay_held(
        &self,
        owner: &str,
        done: &mut Replayed,
        minutes: &mut std::collections::BTreeSet<i64>,
    ) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        let key = self.keys.history_spool();
        let started = Instant::now();
        while started.elapsed() < HOLD {
            let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(READ_CHUNK)
                .query_async(&mut conn)
                .await?;
            if entries.is_empty() {
                break;
            }
            for (id, fields) in entries {
                // Still ours? (A replica stalled past the lock's life must not carry on.)
                let renewed: i64 = SPOOL_RENEW_LOCK
                    .key(self.keys.history_spool_lock())
                    .arg(owner)
                    .arg(LOCK_MS)
                    .invoke_async(&mut conn)
                    .await?;
                if renewed == 0 {
                    tracing::warn!("lost the history spool lock; another replica replays");
                    return Ok(());
                }
                let batch = match Batch::from_fields(&fields) {
                    Ok(b) => b,
                    Err((table, n, why)) => {
                        self.lost(&table, n, &format!("unreadable spool entry {id}: {why}"))
                            .await;
                        xdel(&mut conn, &key, &id).await?;
                        done.dropped += 1;
                        continue;
                    }
                };
                let result = tokio::time::timeout(INSERT_TIMEOUT, batch.insert(&self.store))
                    .await
                    .unwrap_or(Err(StoreError::Db(sqlx_timeout())));
                match result {
                    Ok(n) => {
                        if let Batch::Premiums { ts, .. } = &batch
                            && n > 0
                        {
                            minutes.insert(ts.timestamp().div_euclid(60));
                        }
                        xdel(&mut conn, &key, &id).await?;
                        done.batches += 1;
                        done.rows += batch.rows() as u64;
                        done.inserted += n;
                        metrics::counter!(m::HISTORY_ROWS_REPLAYED_TOTAL, "table" => batch.table())
                            .increment(batch.rows() as u64);
                        let _: Result<(), _> = conn
                            .hincr(
                                self.keys.counters(),
                                format!("history_rows_replayed:{}", batch.table()),
                                batch.rows() as i64,
                            )
                            .await;
                    }
                    Err(e) if store::is_transient(&e) => {
                        tracing::debug!(error = %e, "history spool: PostgreSQL not back yet");
                        done.still_down = true;
                        return Ok(());
                    }
                    Err(e) => {
                        self.lost(
                            batch.table(),
                            batch.rows(),
                            &format!("PostgreSQL refused spooled batch {id}: {e}"),
                        )
                        .await;
                        xdel(&mut conn, &key, &id).await?;
                        done.dropped += 1;
                    }
                }
                if started.elapsed() >= HOLD {
                    break;
                }
            }
        }
        Ok(())
    }
}

async fn xdel(conn: &mut RedisConn, key: &str, id: &str) -> Result<(), redis::RedisError> {
    redis::cmd("XDEL").arg(key).arg(id).query_async(conn).await
}

fn sqlx_timeout() -> store::SqlxError {
    store::SqlxError::PoolTimedOut
}

/// Every replica runs this: once a second (at once again while a pass made progress and more
/// waits), a replay pass if the spool holds anything.
pub async fn replay_loop(spool: Spool, owner: String, mut stop: watch::Receiver<bool>) {
    loop {
        let mut again = false;
        match spool.len().await {
            Ok(0) => metrics::gauge!(m::HISTORY_SPOOL_ENTRIES).set(0.0),
            Ok(n) => {
                metrics::gauge!(m::HISTORY_SPOOL_ENTRIES).set(n as f64);
                match spool.replay(&owner).await {
                    Ok(r) if r.batches > 0 || r.dropped > 0 => {
                        tracing::info!(
                            batches = r.batches,
                            rows = r.rows,
                            inserted = r.inserted,
                            dropped = r.dropped,
                            "replayed spooled history"
                        );
                        again = !r.still_down;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "history spool replay failed"),
                }
            }
            Err(e) => tracing::debug!(error = %e, "history spool length unknown"),
        }
        let pause = if again {
            Duration::from_millis(10)
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}
