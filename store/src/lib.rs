//! premium-spread's PostgreSQL store: history (tickers, FX rates, premiums), the market
//! registry's history (`market_listings`, with validity times), positions, retention. Nothing here knows about Redis or the queue.
//!
//! The database named in `DATABASE_URL` is created if missing and `migrations/` are applied on
//! start. Every insert is one statement per tick (`UNNEST` of arrays), idempotent by primary
//! key. Queries are checked at run time (`sqlx::query`), so building needs no database.

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use domain::{
    Coin, FxRate, Listing, Position, PositionSide, Premium, Price, Ticker, Venue, VenuePair,
};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{
    ConnectOptions, Executor, PgPool, Row,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// sqlx's error type (for callers that build a [`StoreError::Db`]).
pub use sqlx::Error as SqlxError;

pub mod alerts;
pub use alerts::{AlertTarget, FiringRow, NewAlertRule, SecretBox, StoredAlertRule};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgres: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is invalid: {0}")]
    Invalid(String),
}

/// How long an idempotency key of `POST /api/v1/positions` is remembered.
pub const IDEMPOTENCY_TTL_HOURS: i32 = 24;

const INSERT_POSITION: &str =
    "INSERT INTO positions (coin, korea_venue, foreign_venue, korea_qty, korea_entry, foreign_qty,
                        foreign_entry, leverage, entry_usd_krw, entry_premium, opened_at)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *";

/// [`INSERT_POSITION`] with `p`'s values bound, for the pool or a transaction.
fn insert_position_query(
    p: &Position,
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(INSERT_POSITION)
        .bind(p.coin.as_str())
        .bind(p.pair.korea.as_str())
        .bind(p.pair.foreign.as_str())
        .bind(p.korea.quantity)
        .bind(p.korea.entry_price.value())
        .bind(p.foreign.quantity)
        .bind(p.foreign.entry_price.value())
        .bind(p.leverage as i32)
        .bind(p.entry_usd_krw.value())
        .bind(p.entry_premium)
        .bind(p.opened_at)
}

/// What an insert under an idempotency key did.
#[derive(Debug, Clone)]
pub enum Idempotent {
    /// The key was new: the position was inserted.
    Created(Position),
    /// The key was used with the same request: the position it created then.
    Replayed(Position),
    /// The key was used with a different request.
    Mismatch,
}

/// OHLC bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Second,
    Minute,
    Hour,
    Day,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Second => "1s",
            Interval::Minute => "1m",
            Interval::Hour => "1h",
            Interval::Day => "1d",
        }
    }
    /// The `date_trunc` unit of the interval.
    pub fn trunc(self) -> &'static str {
        match self {
            Interval::Second => "second",
            Interval::Minute => "minute",
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }
    /// The longest range one history answer may cover (and how far back an answer without
    /// `from` looks).
    pub fn max_range(self) -> chrono::Duration {
        match self {
            Interval::Second => chrono::Duration::hours(1),
            Interval::Minute => chrono::Duration::days(7),
            Interval::Hour => chrono::Duration::days(90),
            Interval::Day => chrono::Duration::days(3 * 365 + 1),
        }
    }

    pub fn duration(self) -> chrono::Duration {
        match self {
            Interval::Second => chrono::Duration::seconds(1),
            Interval::Minute => chrono::Duration::minutes(1),
            Interval::Hour => chrono::Duration::hours(1),
            Interval::Day => chrono::Duration::days(1),
        }
    }
}

impl FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1s" => Ok(Interval::Second),
            "1m" => Ok(Interval::Minute),
            "1h" => Ok(Interval::Hour),
            "1d" => Ok(Interval::Day),
            _ => Err(format!("unknown interval `{s}`: expected 1s, 1m, 1h or 1d")),
        }
    }
}

/// One OHLC bucket of the premium rate (and of the USDT-basis rate) as it comes off the wire:
/// rates borrowed from the row in PostgreSQL's text (`1.25000000`: the stored scale kept, as
/// `rust_decimal` prints the same value). An answer passes them into its JSON as they are:
/// decoding the ~110,000 values of a 7-day minute answer into `Decimal`, or even allocating a
/// `String` for each, and printing them again was most of that answer's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket<'r> {
    pub start: DateTime<Utc>,
    pub open: &'r str,
    pub high: &'r str,
    pub low: &'r str,
    pub close: &'r str,
    /// The USDT-basis rate's OHLC (rows that had one).
    pub usdt_open: Option<&'r str>,
    pub usdt_high: Option<&'r str>,
    pub usdt_low: Option<&'r str>,
    pub usdt_close: Option<&'r str>,
    /// The last entry and exit rates of the bucket (rows computed with both books).
    pub entry_close: Option<&'r str>,
    pub exit_close: Option<&'r str>,
    pub count: i64,
}

/// What [`Store::premium_ohlc`] is asked.
#[derive(Debug, Clone)]
pub struct HistoryQuery<'a> {
    pub coin: &'a Coin,
    pub pair: VenuePair,
    /// Start (inclusive); none: the latest `limit` buckets before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End (exclusive); none: now.
    pub to: Option<DateTime<Utc>>,
    pub interval: Interval,
    /// At most this many buckets.
    pub limit: i64,
    /// The time zone of `1d` buckets (an IANA name, checked with
    /// [`Store::time_zone_known`]); ignored by the other intervals (UTC).
    pub tz: &'a str,
}

/// What [`Store::premium_ohlc`] answers besides the buckets it handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    /// The range covered: as asked, or, without `from`, the oldest bucket's start.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The buckets came newest first (an answer without `from`): oldest first is their reverse.
    pub newest_first: bool,
    pub buckets: usize,
}

/// How long each tier of history is kept (`retention.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    /// Raw rows (premiums, their ticks, tickers), hours.
    pub raw_hours: u32,
    /// Minute rollups and FX rates, days.
    pub minute_days: u32,
    /// Hour rollups, days; 0 keeps them.
    pub hour_days: u32,
}

/// What [`Store::maintain_history`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Partitions created ahead.
    pub created: i32,
    /// Partitions dropped at the retention boundary.
    pub dropped: Vec<String>,
}

/// Decimal places premium rates (percent) are stored with: 1e-8 percentage points, far below
/// any price's resolution, and half the bytes of an unrounded 28-digit ratio.
pub const RATE_SCALE: u32 = 8;

/// Days of partitions created ahead of today (by `maintain-history` and at connect).
pub const PARTITIONS_AHEAD_DAYS: i64 = 3;

/// A premium rate as stored: [`RATE_SCALE`] decimal places, half away from zero.
pub fn round_rate(r: Decimal) -> Decimal {
    r.round_dp_with_strategy(
        RATE_SCALE,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    )
}

/// The stable code of a venue in the history tables (the `venues` table of the migration).
pub fn venue_code(v: Venue) -> i16 {
    match v {
        Venue::Bithumb => 1,
        Venue::Upbit => 2,
        Venue::Binance => 3,
        Venue::Bybit => 4,
        Venue::Okx => 5,
    }
}

fn venue_code_of(name: &str) -> Result<i16, StoreError> {
    name.parse::<Venue>()
        .map(venue_code)
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

/// `t` truncated to a multiple of `secs` seconds since the epoch.
fn trunc_to(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    let s = t.timestamp().div_euclid(secs) * secs;
    Utc.timestamp_opt(s, 0).single().unwrap_or(t)
}

/// The first and last UTC day of some times.
fn span(times: impl Iterator<Item = DateTime<Utc>>) -> (NaiveDate, NaiveDate) {
    let (lo, hi) = times.fold((None::<NaiveDate>, None::<NaiveDate>), |(lo, hi), t| {
        let d = t.date_naive();
        (
            Some(lo.map_or(d, |l| l.min(d))),
            Some(hi.map_or(d, |h| h.max(d))),
        )
    });
    let today = Utc::now().date_naive();
    (lo.unwrap_or(today), hi.unwrap_or(today))
}

/// `Area/Location` (`Asia/Seoul`, `America/Argentina/Buenos_Aires`, `Etc/GMT+9`) or `UTC`.
fn tz_name_shape(name: &str) -> bool {
    if name == "UTC" {
        return true;
    }
    let mut parts = name.split('/');
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && first.starts_with(|c: char| c.is_ascii_alphabetic())
        && std::iter::once(first).chain(rest).all(|p| {
            !p.is_empty()
                && p.len() <= 40
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

/// Statement and lock timeouts of the current transaction.
async fn set_timeouts(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    timeout: Duration,
) -> Result<(), StoreError> {
    let ms = timeout.as_millis().max(1);
    sqlx::query(&format!("SET LOCAL statement_timeout = {ms}"))
        .execute(&mut **tx)
        .await?;
    sqlx::query(&format!("SET LOCAL lock_timeout = {ms}"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A raw premium row (tests and exports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PremiumRow {
    pub ts: DateTime<Utc>,
    pub rate: Decimal,
    pub usdt_rate: Option<Decimal>,
    pub korea_krw: Decimal,
    pub foreign_usd: Decimal,
    pub usd_krw: Decimal,
}

/// The columns of one `tickers` row: what [`Store::insert_tickers`] writes of a [`Ticker`].
/// Serializable with short names and millisecond times, so that a batch spooled in Redis during
/// a PostgreSQL outage stays small (the worker's history spool).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickerRow {
    #[serde(rename = "v")]
    pub venue: String,
    #[serde(rename = "c")]
    pub coin: String,
    #[serde(rename = "p")]
    pub price: Decimal,
    #[serde(rename = "o", with = "chrono::serde::ts_milliseconds")]
    pub observed_at: DateTime<Utc>,
    #[serde(rename = "f", with = "chrono::serde::ts_milliseconds")]
    pub fetched_at: DateTime<Utc>,
}

impl From<&Ticker> for TickerRow {
    fn from(t: &Ticker) -> Self {
        TickerRow {
            venue: t.venue.to_string(),
            coin: t.coin.to_string(),
            price: t.price.value(),
            observed_at: t.observed_at,
            fetched_at: t.fetched_at,
        }
    }
}

/// The columns of one `premiums` row but its tick (`ts`, one per batch): what
/// [`Store::insert_premiums`] writes of a [`Premium`]. Compact when serialized, like
/// [`TickerRow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumHistoryRow {
    #[serde(rename = "c")]
    pub coin: String,
    #[serde(rename = "k")]
    pub korea: String,
    #[serde(rename = "f")]
    pub foreign: String,
    #[serde(rename = "r")]
    pub rate: Decimal,
    #[serde(rename = "ur", default, skip_serializing_if = "Option::is_none")]
    pub usdt_rate: Option<Decimal>,
    #[serde(rename = "kk")]
    pub korea_krw: Decimal,
    #[serde(rename = "fu")]
    pub foreign_usd: Decimal,
    #[serde(rename = "x")]
    pub usd_krw: Decimal,
    #[serde(rename = "xs")]
    pub fx_source: String,
    #[serde(rename = "uk", default, skip_serializing_if = "Option::is_none")]
    pub usdt_krw: Option<Decimal>,
    #[serde(rename = "o", with = "chrono::serde::ts_milliseconds")]
    pub observed_at: DateTime<Utc>,
    #[serde(rename = "t", with = "chrono::serde::ts_milliseconds")]
    pub computed_at: DateTime<Utc>,
    #[serde(rename = "en", default, skip_serializing_if = "Option::is_none")]
    pub entry_rate: Option<Decimal>,
    #[serde(rename = "ex", default, skip_serializing_if = "Option::is_none")]
    pub exit_rate: Option<Decimal>,
}

impl From<&Premium> for PremiumHistoryRow {
    fn from(p: &Premium) -> Self {
        PremiumHistoryRow {
            coin: p.inputs.coin.to_string(),
            korea: p.inputs.pair.korea.to_string(),
            foreign: p.inputs.pair.foreign.to_string(),
            rate: p.rate,
            usdt_rate: p.usdt_rate,
            korea_krw: p.inputs.korea_krw.value(),
            foreign_usd: p.inputs.foreign_usd.value(),
            usd_krw: p.inputs.usd_krw.value(),
            fx_source: p.inputs.fx_source.to_string(),
            usdt_krw: p.inputs.usdt_krw.map(Price::value),
            observed_at: p.observed_at,
            computed_at: p.computed_at,
            entry_rate: p.executable.map(|e| e.entry_rate),
            exit_rate: p.executable.map(|e| e.exit_rate),
        }
    }
}

/// Whether PostgreSQL failed to take a write for a reason that passes (unreachable, shutting
/// down, out of resources, a timeout) rather than refusing the rows themselves. A transient
/// failure is worth spooling and retrying; a refusal is not (it would refuse them again).
pub fn is_transient(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(d)) => d.code().is_some_and(|c| {
            // 08 connection exception, 53 insufficient resources, 57 operator intervention
            // (statement timeout, shutdown, starting up), 40 rollback (serialization, deadlock).
            ["08", "53", "57", "40"]
                .iter()
                .any(|class| c.starts_with(class))
        }),
        StoreError::Db(e) => matches!(
            e,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ),
        StoreError::Migrate(_) | StoreError::Invalid(_) => false,
    }
}

/// The upsert that makes a rollup idempotent: a bucket rolled again takes the new figures (rows
/// replayed late from the spool change them). Shared by `premium_1m` and `premium_1h`.
macro_rules! rollup_upsert {
    () => {
        " ON CONFLICT (coin_id, korea_venue, foreign_venue, bucket) DO UPDATE SET
            count = EXCLUDED.count, open = EXCLUDED.open, high = EXCLUDED.high,
            low = EXCLUDED.low, close = EXCLUDED.close,
            usdt_open = EXCLUDED.usdt_open, usdt_high = EXCLUDED.usdt_high,
            usdt_low = EXCLUDED.usdt_low, usdt_close = EXCLUDED.usdt_close,
            entry_close = EXCLUDED.entry_close, exit_close = EXCLUDED.exit_close"
    };
}

/// Raw premium rows in the shape every OHLC step reads (`n, open, high, low, close,
/// usdt_open, usdt_high, usdt_low, usdt_close, entry_close, exit_close`, after the bucket and
/// any key columns): a raw row is a bucket of one. Read by `Store::rollup` (minutes) and the
/// raw tiers of `Store::premium_ohlc`.
macro_rules! raw_ohlc_columns {
    () => {
        "1::bigint AS n, rate AS open, rate AS high, rate AS low, rate AS close,
         usdt_rate AS usdt_open, usdt_rate AS usdt_high, usdt_rate AS usdt_low,
         usdt_rate AS usdt_close, entry_rate AS entry_close, exit_rate AS exit_close"
    };
}

/// A rollup's rows (`premium_1m`, `premium_1h`) in the same shape.
macro_rules! rolled_ohlc_columns {
    () => {
        "count::bigint AS n, open, high, low, close, usdt_open, usdt_high, usdt_low,
         usdt_close, entry_close, exit_close"
    };
}

/// The OHLC of such rows, per group: rows counted, first open, highest high, lowest low, last
/// close (the USDT rate's likewise, over the rows that had one), last entry and exit. One
/// definition for the rollups (minutes from raw rows, hours from minutes) and for the history
/// answers that group (`1m`'s raw tail, `1d`), so a bucket is the same whichever way it is made.
macro_rules! ohlc_of_rows {
    () => {
        "sum(n)::bigint AS n,
         (array_agg(open ORDER BY bucket))[1] AS open, max(high) AS high, min(low) AS low,
         (array_agg(close ORDER BY bucket DESC))[1] AS close,
         (array_agg(usdt_open ORDER BY bucket) FILTER (WHERE usdt_open IS NOT NULL))[1] AS usdt_open,
         max(usdt_high) AS usdt_high, min(usdt_low) AS usdt_low,
         (array_agg(usdt_close ORDER BY bucket DESC) FILTER (WHERE usdt_close IS NOT NULL))[1] AS usdt_close,
         (array_agg(entry_close ORDER BY bucket DESC) FILTER (WHERE entry_close IS NOT NULL))[1] AS entry_close,
         (array_agg(exit_close ORDER BY bucket DESC) FILTER (WHERE exit_close IS NOT NULL))[1] AS exit_close"
    };
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    /// Coin symbol → id in `coins` (ids never change; cached for the life of the process).
    coins: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, i32>>>,
}

/// Creates the database if it does not exist (connecting to the `postgres` database).
async fn ensure_database(opts: &PgConnectOptions) -> Result<(), StoreError> {
    let Some(name) = opts.get_database().map(str::to_string) else {
        return Ok(());
    };
    let mut conn = opts.clone().database("postgres").connect().await?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    // Several processes starting at once (N workers, `up`) race here: one creates the database,
    // the others get 42P04 (it exists now), 23505 (the catalog's unique index saw the other
    // insert first) or 55006 (CREATE DATABASE copies template1 and refuses while another
    // session copies it too). All mean "look again shortly".
    for attempt in 0..20u64 {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut conn)
                .await?;
        if exists {
            return Ok(());
        }
        match conn
            .execute(format!("CREATE DATABASE {quoted}").as_str())
            .await
        {
            Ok(_) => return Ok(()),
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04" | "55006" | "23505"))
                    && attempt < 19 =>
            {
                tokio::time::sleep(Duration::from_millis(50 + 25 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl Store {
    /// Connects (creating the database if needed) and applies the migrations. Fails within a
    /// few seconds when PostgreSQL does not answer.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url)?
            .log_statements(tracing::log::LevelFilter::Debug)
            .options([("statement_timeout", "5000")]);
        tokio::time::timeout(Duration::from_secs(15), ensure_database(&opts))
            .await
            .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))??;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(opts)
            .await?;
        // Concurrent starts (N workers at once) serialize on sqlx's migration lock.
        MIGRATOR.run(&pool).await?;
        let store = Store {
            pool,
            coins: Default::default(),
        };
        // A fresh database takes inserts at once: today's partitions and a few days ahead.
        let today = Utc::now().date_naive();
        store
            .ensure_partitions(
                today - chrono::Duration::days(1),
                today + chrono::Duration::days(PARTITIONS_AHEAD_DAYS),
            )
            .await?;
        Ok(store)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// One statement for a whole batch. Returns rows inserted.
    pub async fn insert_tickers(&self, tickers: &[Ticker]) -> Result<u64, StoreError> {
        let rows: Vec<TickerRow> = tickers.iter().map(TickerRow::from).collect();
        self.insert_ticker_rows(&rows).await
    }

    /// [`Store::insert_tickers`] of rows already reduced to their columns (a spooled batch).
    pub async fn insert_ticker_rows(&self, rows: &[TickerRow]) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let venues = rows
            .iter()
            .map(|t| venue_code_of(&t.venue))
            .collect::<Result<Vec<i16>, _>>()?;
        let coins = self
            .coin_ids(&rows.iter().map(|t| t.coin.as_str()).collect::<Vec<_>>())
            .await?;
        let prices: Vec<Decimal> = rows.iter().map(|t| t.price).collect();
        let observed: Vec<DateTime<Utc>> = rows.iter().map(|t| t.observed_at).collect();
        let fetched: Vec<DateTime<Utc>> = rows.iter().map(|t| t.fetched_at).collect();
        let days = span(observed.iter().copied());
        self.with_partitions(days, || {
            sqlx::query(
                "INSERT INTO tickers (venue, coin_id, price, observed_at, fetched_at)
                 SELECT * FROM UNNEST($1::int2[], $2::int4[], $3::numeric[], $4::timestamptz[], $5::timestamptz[])
                 ON CONFLICT DO NOTHING",
            )
            .bind(&venues)
            .bind(&coins)
            .bind(&prices)
            .bind(&observed)
            .bind(&fetched)
            .execute(&self.pool)
        })
        .await
        .map(|r| r.rows_affected())
    }

    /// The ids of `symbols` in the `coins` dictionary (added when new), in order.
    pub async fn coin_ids(&self, symbols: &[&str]) -> Result<Vec<i32>, StoreError> {
        let missing: Vec<&str> = {
            let known = self.coins.read().expect("coin id cache");
            let mut m: Vec<&str> = symbols
                .iter()
                .copied()
                .filter(|s| !known.contains_key(*s))
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        if !missing.is_empty() {
            sqlx::query(
                "INSERT INTO coins (symbol) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            )
            .bind(&missing)
            .execute(&self.pool)
            .await?;
            let rows: Vec<(i32, String)> =
                sqlx::query_as("SELECT id, symbol FROM coins WHERE symbol = ANY($1)")
                    .bind(&missing)
                    .fetch_all(&self.pool)
                    .await?;
            let mut known = self.coins.write().expect("coin id cache");
            for (id, symbol) in rows {
                known.insert(symbol, id);
            }
        }
        let known = self.coins.read().expect("coin id cache");
        symbols
            .iter()
            .map(|s| {
                known
                    .get(*s)
                    .copied()
                    .ok_or_else(|| StoreError::Invalid(format!("coin `{s}` has no id")))
            })
            .collect()
    }

    /// Runs an insert; when PostgreSQL has no partition for some of its rows (a fresh
    /// database, rows of a day not prepared yet, a replay of old rows), creates the partitions
    /// of `days` (first, last) and runs it once more.
    async fn with_partitions<T, F, Fut>(
        &self,
        days: (NaiveDate, NaiveDate),
        run: F,
    ) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        match run().await {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("23514") && e.message().contains("no partition") =>
            {
                self.ensure_partitions(days.0, days.1).await?;
                Ok(run().await?)
            }
            r => Ok(r?),
        }
    }

    /// Creates the partitions of every history table covering the UTC days `[first, last]`
    /// (months for `premium_1h`). Idempotent. Returns partitions created.
    pub async fn ensure_partitions(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<i32, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT history_ensure_partitions($1, $2)")
                .bind(first)
                .bind(last)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The partitions of the history tables: (table, partition, first UTC day, end day
    /// exclusive), by table and day.
    pub async fn history_partitions(
        &self,
    ) -> Result<Vec<(String, String, NaiveDate, NaiveDate)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT parent, partition, first_day, end_day FROM history_partitions ORDER BY parent, first_day",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Retention by partition: creates the partitions from yesterday to `PARTITIONS_AHEAD_DAYS`
    /// ahead of `now`, then drops every partition whose whole range is older than its tier's
    /// boundary (raw rows `raw_hours`, minute rollups and FX rates `minute_days`, hour rollups
    /// `hour_days`, 0 = kept). Each statement runs under `timeout` (statement and lock
    /// timeout), so a drop waiting for a long insert gives up instead of blocking inserts.
    pub async fn maintain_history(
        &self,
        now: DateTime<Utc>,
        tiers: Tiers,
        timeout: Duration,
    ) -> Result<Maintained, StoreError> {
        let today = now.date_naive();
        let created = {
            let mut tx = self.pool.begin().await?;
            set_timeouts(&mut tx, timeout).await?;
            let n: i32 = sqlx::query_scalar("SELECT history_ensure_partitions($1, $2)")
                .bind(today - chrono::Duration::days(1))
                .bind(today + chrono::Duration::days(PARTITIONS_AHEAD_DAYS))
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            n
        };
        let raw = now - chrono::Duration::hours(tiers.raw_hours as i64);
        let minute = now - chrono::Duration::days(tiers.minute_days as i64);
        let mut dropped = Vec::new();
        for (table, partition, _, end) in self.history_partitions().await? {
            let cutoff = match table.as_str() {
                "premiums" | "premium_ticks" | "tickers" => raw,
                "premium_1m" | "fx_rates" => minute,
                "premium_1h" if tiers.hour_days > 0 => {
                    now - chrono::Duration::days(tiers.hour_days as i64)
                }
                _ => continue,
            };
            if end.and_time(NaiveTime::MIN).and_utc() > cutoff {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            set_timeouts(&mut tx, timeout).await?;
            // The name comes from the catalog (`history_partitions`), never from input.
            sqlx::query(&format!("DROP TABLE IF EXISTS \"{partition}\""))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            dropped.push(partition);
        }
        Ok(Maintained { created, dropped })
    }

    /// Rolls the raw premium rows of `[from, to)` (whole minutes) into `premium_1m`, and the
    /// hours those minutes fall in into `premium_1h` (from the minute rows). Idempotent: a
    /// bucket is recomputed from everything there is, so rows that arrived late (a replayed
    /// outage) are counted the next time their minute is rolled. Returns (minute rows, hour
    /// rows) written.
    pub async fn rollup(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let from = trunc_to(from, 60);
        let to = trunc_to(to + chrono::Duration::seconds(59), 60);
        if from >= to {
            return Ok((0, 0));
        }
        let days = span([from, to - chrono::Duration::seconds(1)].into_iter());
        // Both statements over [from, to): the minutes, then the hours they fall in.
        let roll = |sql: &'static str| {
            self.with_partitions(days, move || {
                sqlx::query(sql).bind(from).bind(to).execute(&self.pool)
            })
        };
        let minutes = roll(concat!(
            "INSERT INTO premium_1m
             SELECT date_trunc('minute', bucket), coin_id, korea_venue, foreign_venue, ",
            ohlc_of_rows!(),
            " FROM (SELECT ts AS bucket, coin_id, korea_venue, foreign_venue, ",
            raw_ohlc_columns!(),
            " FROM premiums WHERE ts >= $1 AND ts < $2) r
              GROUP BY 1, 2, 3, 4",
            rollup_upsert!()
        ))
        .await?
        .rows_affected();
        let hours = roll(concat!(
            "INSERT INTO premium_1h
             SELECT date_trunc('hour', bucket), coin_id, korea_venue, foreign_venue, ",
            ohlc_of_rows!(),
            " FROM (SELECT bucket, coin_id, korea_venue, foreign_venue, ",
            rolled_ohlc_columns!(),
            " FROM premium_1m
              WHERE bucket >= date_trunc('hour', $1::timestamptz)
                AND bucket < date_trunc('hour', $2::timestamptz - interval '1 microsecond') + interval '1 hour') r
              GROUP BY 1, 2, 3, 4",
            rollup_upsert!()
        ))
        .await?
        .rows_affected();
        Ok((minutes, hours))
    }

    /// Records `venue`'s listings in force from `now` (`market_listings`): an instrument whose
    /// coin, multiplier, status or flags changed, or that is gone, has its open row closed at
    /// `now`; a new or changed one gets a new open row. Unchanged rows are left alone, so an
    /// hourly refresh of an unchanged venue writes nothing. One transaction; returns
    /// (rows closed, rows opened).
    pub async fn record_listings(
        &self,
        venue: Venue,
        listings: &[Listing],
        now: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let symbols: Vec<&str> = listings
            .iter()
            .map(|l| l.instrument.symbol.as_str())
            .collect();
        let coins: Vec<&str> = listings.iter().map(|l| l.coin.as_str()).collect();
        let multipliers: Vec<Decimal> = listings.iter().map(|l| l.multiplier).collect();
        let statuses: Vec<&str> = listings
            .iter()
            .map(|l| l.instrument.status.as_str())
            .collect();
        let flags: Vec<String> = listings
            .iter()
            .map(|l| {
                let mut f: Vec<&str> = l.instrument.flags.iter().map(|f| f.as_str()).collect();
                f.sort_unstable();
                f.dedup();
                f.join(",")
            })
            .collect();
        // The fresh listings as a table; both statements take the same parameters.
        macro_rules! with_fresh {
            ($sql:literal) => {
                concat!(
                    "WITH fresh AS (SELECT * FROM UNNEST($2::text[], $3::text[], $4::numeric[], $5::text[], $6::text[])
                                  AS f(symbol, coin, multiplier, status, flags)) ",
                    $sql
                )
            };
        }
        let run = |sql: &'static str| {
            sqlx::query(sql)
                .bind(venue.as_str())
                .bind(&symbols)
                .bind(&coins)
                .bind(&multipliers)
                .bind(&statuses)
                .bind(&flags)
                .bind(now)
        };
        let mut tx = self.pool.begin().await?;
        let closed = run(with_fresh!(
            "UPDATE market_listings m SET valid_to = $7
              WHERE m.venue = $1 AND m.valid_to IS NULL
                AND NOT EXISTS (SELECT 1 FROM fresh f
                                 WHERE f.symbol = m.symbol AND f.coin = m.coin AND f.multiplier = m.multiplier
                                   AND f.status = m.status AND f.flags = m.flags)"
        ))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let opened = run(with_fresh!(
            "INSERT INTO market_listings (venue, symbol, coin, multiplier, status, flags, valid_from)
             SELECT $1, f.symbol, f.coin, f.multiplier, f.status, f.flags, $7 FROM fresh f
              WHERE NOT EXISTS (SELECT 1 FROM market_listings m
                                 WHERE m.venue = $1 AND m.symbol = f.symbol AND m.valid_to IS NULL)
             ON CONFLICT DO NOTHING"
        ))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((closed, opened))
    }

    /// The listing of `coin` on `venue` that was in force at `at` (what a history row at `at`
    /// was computed with): (symbol, multiplier, status, flags).
    pub async fn listing_at(
        &self,
        venue: Venue,
        coin: &Coin,
        at: DateTime<Utc>,
    ) -> Result<Option<(String, Decimal, String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT symbol, multiplier, status, flags FROM market_listings
              WHERE venue = $1 AND coin = $2 AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)
              ORDER BY (status = 'trading') DESC, multiplier ASC LIMIT 1",
        )
        .bind(venue.as_str())
        .bind(coin.as_str())
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                r.try_get("symbol")?,
                r.try_get("multiplier")?,
                r.try_get("status")?,
                r.try_get("flags")?,
            ))
        })
        .transpose()
    }

    pub async fn insert_fx(&self, rate: &FxRate) -> Result<u64, StoreError> {
        let days = span([rate.observed_at].into_iter());
        self.with_partitions(days, || {
            sqlx::query(
                "INSERT INTO fx_rates (source, usd_krw, observed_at, fetched_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(rate.source.as_str())
            .bind(rate.usd_krw.value())
            .bind(rate.observed_at)
            .bind(rate.fetched_at)
            .execute(&self.pool)
        })
        .await
        .map(|r| r.rows_affected())
    }

    /// The newest stored rate of every FX source (what the hot cache held, if Redis lost it).
    pub async fn latest_fx(&self) -> Result<Vec<FxRate>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT ON (source) source, usd_krw, observed_at, fetched_at
             FROM fx_rates ORDER BY source, observed_at DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let source: String = r.try_get("source")?;
                let usd_krw: Decimal = r.try_get("usd_krw")?;
                Ok(FxRate {
                    source: source
                        .parse()
                        .map_err(|e: String| StoreError::Invalid(format!("source: {e}")))?,
                    usd_krw: Price::new(usd_krw)
                        .map_err(|e| StoreError::Invalid(format!("usd_krw: {e}")))?,
                    observed_at: r.try_get("observed_at")?,
                    fetched_at: r.try_get("fetched_at")?,
                })
            })
            .collect()
    }

    /// All premiums of one tick in one statement.
    pub async fn insert_premiums(
        &self,
        ts: DateTime<Utc>,
        premiums: &[Premium],
    ) -> Result<u64, StoreError> {
        let rows: Vec<PremiumHistoryRow> = premiums.iter().map(PremiumHistoryRow::from).collect();
        self.insert_premium_rows(ts, &rows).await
    }

    /// [`Store::insert_premiums`] of rows already reduced to their columns (a spooled batch).
    /// What is the same for every row of a tick (FX rate and source, USDT/KRW, computation
    /// time) is written once to `premium_ticks`, from the first row; rates are rounded to
    /// [`RATE_SCALE`] decimal places.
    pub async fn insert_premium_rows(
        &self,
        ts: DateTime<Utc>,
        rows: &[PremiumHistoryRow],
    ) -> Result<u64, StoreError> {
        let Some(first) = rows.first() else {
            return Ok(0);
        };
        let coins = self
            .coin_ids(&rows.iter().map(|p| p.coin.as_str()).collect::<Vec<_>>())
            .await?;
        let korea = rows
            .iter()
            .map(|p| venue_code_of(&p.korea))
            .collect::<Result<Vec<i16>, _>>()?;
        let foreign = rows
            .iter()
            .map(|p| venue_code_of(&p.foreign))
            .collect::<Result<Vec<i16>, _>>()?;
        let rate = |f: &dyn Fn(&PremiumHistoryRow) -> Option<Decimal>| {
            rows.iter()
                .map(|p| f(p).map(round_rate))
                .collect::<Vec<_>>()
        };
        let rates = rate(&|p| Some(p.rate));
        let usdt = rate(&|p| p.usdt_rate);
        let entry = rate(&|p| p.entry_rate);
        let exit = rate(&|p| p.exit_rate);
        let korea_krw: Vec<Decimal> = rows.iter().map(|p| p.korea_krw).collect();
        let foreign_usd: Vec<Decimal> = rows.iter().map(|p| p.foreign_usd).collect();
        let observed: Vec<DateTime<Utc>> = rows.iter().map(|p| p.observed_at).collect();
        let days = span([ts].into_iter());
        self.with_partitions(days, || {
            sqlx::query(
                "WITH tick AS (
                    INSERT INTO premium_ticks (ts, computed_at, usd_krw, fx_source, usdt_krw)
                    VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING)
                 INSERT INTO premiums (ts, observed_at, coin_id, korea_venue, foreign_venue, rate,
                                       usdt_rate, entry_rate, exit_rate, korea_krw, foreign_usd)
                 SELECT $1, * FROM UNNEST($6::timestamptz[], $7::int4[], $8::int2[], $9::int2[],
                                          $10::numeric[], $11::numeric[], $12::numeric[],
                                          $13::numeric[], $14::numeric[], $15::numeric[])
                 ON CONFLICT DO NOTHING",
            )
            .bind(ts)
            .bind(first.computed_at)
            .bind(first.usd_krw)
            .bind(&first.fx_source)
            .bind(first.usdt_krw)
            .bind(&observed)
            .bind(&coins)
            .bind(&korea)
            .bind(&foreign)
            .bind(&rates)
            .bind(&usdt)
            .bind(&entry)
            .bind(&exit)
            .bind(&korea_krw)
            .bind(&foreign_usd)
            .execute(&self.pool)
        })
        .await
        .map(|r| r.rows_affected())
    }

    /// Whether PostgreSQL knows the time zone `name` (an IANA name such as `Asia/Seoul`, or
    /// `UTC`). Names that are not of the `Area/Location` form (POSIX strings such as `UTC+9`,
    /// whose sign is inverted) are refused without asking.
    pub async fn time_zone_known(&self, name: &str) -> Result<bool, StoreError> {
        if !tz_name_shape(name) {
            return Ok(false);
        }
        match sqlx::query("SELECT now() AT TIME ZONE $1")
            .bind(name)
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("22023") => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// OHLC buckets of a coin's premium, oldest first, from the tier that fits the interval:
    /// `1s` from raw rows, `1m` from `premium_1m` (and the minutes not rolled yet from raw
    /// rows), `1h` from `premium_1h`, `1d` from `premium_1h` grouped by day in `tz` (from
    /// `premium_1m` when `tz`'s offset is not a whole number of hours). Bucket boundaries are
    /// computed by PostgreSQL in UTC or `tz`, never in the server's time zone.
    ///
    /// With `from`: the buckets of `[from, to)` from the oldest, at most `limit`. Without it:
    /// the latest `limit` buckets before `to` (default now) within [`Interval::max_range`]. Returns the range answered
    /// and the buckets.
    pub async fn premium_ohlc(
        &self,
        q: &HistoryQuery<'_>,
        mut each: impl FnMut(Bucket<'_>) + Send,
    ) -> Result<History, StoreError> {
        let to =
            q.to.unwrap_or_else(|| trunc_to(Utc::now(), 1) + chrono::Duration::seconds(1));
        let unit = q.interval.trunc();
        let tz = if q.interval == Interval::Day {
            q.tz
        } else {
            "UTC"
        };
        // Without `from`: the latest `limit` buckets within the interval's longest range.
        let from = q.from.unwrap_or(to - q.interval.max_range());
        // A tier read at its own granularity is served row for row (`1s` raw, `1m` rolled
        // minutes, `1h` rolled hours): no regrouping, so the index range scan with LIMIT is the
        // whole query. Only the raw tail of `1m` and the days of `1d` are grouped.
        let key = "coin_id = $1 AND korea_venue = $2 AND foreign_venue = $3";
        let raw = format!(
            "SELECT ts AS bucket, {} FROM premiums WHERE {key}",
            raw_ohlc_columns!()
        );
        let rolled = |table: &str| {
            format!(
                "SELECT bucket, {} FROM {table} WHERE {key}",
                rolled_ohlc_columns!()
            )
        };
        let grouped = |rows: &str| {
            format!(
                "SELECT date_trunc($6, bucket, $7) AS bucket, {} FROM ({rows}) r GROUP BY 1",
                ohlc_of_rows!()
            )
        };
        let source = match q.interval {
            Interval::Second => format!("{raw} AND ts >= $4 AND ts < $5"),
            // The minutes rolled so far, then raw rows after the last rolled minute.
            Interval::Minute => format!(
                "{m} AND bucket >= $4 AND bucket < $5
                 UNION ALL
                 {tail}",
                m = rolled("premium_1m"),
                tail = grouped(&format!(
                    "{raw} AND ts >= greatest($4, (SELECT max(bucket) + interval '1 minute' FROM premium_1m
                                                    WHERE {key} AND bucket >= $4 AND bucket < $5))
                           AND ts < $5"
                )),
            ),
            Interval::Hour => format!("{} AND bucket >= $4 AND bucket < $5", rolled("premium_1h")),
            Interval::Day => {
                // Days in `tz` from hours when its offset is a whole number of hours over the
                // range, otherwise from minutes.
                let whole_hours: bool = sqlx::query_scalar(
                    "SELECT extract(epoch FROM ($1 AT TIME ZONE $2) - ($1 AT TIME ZONE 'UTC'))::bigint % 3600 = 0
                        AND extract(epoch FROM ($3 AT TIME ZONE $2) - ($3 AT TIME ZONE 'UTC'))::bigint % 3600 = 0",
                )
                .bind(from)
                .bind(tz)
                .bind(to)
                .fetch_one(&self.pool)
                .await?;
                let table = if whole_hours { "premium_1h" } else { "premium_1m" };
                grouped(&format!("{} AND bucket >= $4 AND bucket < $5", rolled(table)))
            }
        };
        let order = if q.from.is_some() { "ASC" } else { "DESC" };
        let reverse = q.from.is_none();
        let sql = format!(
            "SELECT bucket, n, open::text, high::text, low::text, close::text, usdt_open::text,
                    usdt_high::text, usdt_low::text, usdt_close::text, entry_close::text,
                    exit_close::text
               FROM ({source}) s ORDER BY bucket {order} LIMIT $8"
        );
        // A generic plan, prepared once per connection: a custom plan for each answer costs
        // more than the answer (16 ms of planning over the ~95 daily partitions of
        // `premium_1m`, for 12 ms of execution); the generic one prunes the partitions when it
        // starts (`Subplans Removed`).
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
            .execute(&mut *tx)
            .await?;
        // Without `from`, the latest `limit` buckets of a row-for-row tier start at its
        // `limit`-th newest row: found by reading `limit` index entries backwards, so that the
        // answer does not read (and sort) the interval's whole longest range. Fewer rows than
        // `limit`: the whole range it is. (`1m`'s raw tail only adds newer buckets.)
        let bound = match q.interval {
            _ if q.from.is_some() => None,
            Interval::Second => Some(("premiums", "ts")),
            Interval::Minute => Some(("premium_1m", "bucket")),
            Interval::Hour => Some(("premium_1h", "bucket")),
            Interval::Day => None,
        };
        let from = match bound {
            None => from,
            Some((table, column)) => {
                let nth: Option<DateTime<Utc>> = sqlx::query_scalar(&format!(
                    "SELECT {column} FROM {table}
                      WHERE coin_id = (SELECT id FROM coins WHERE symbol = $1)
                        AND korea_venue = $2 AND foreign_venue = $3
                        AND {column} >= $4 AND {column} < $5
                      ORDER BY {column} DESC OFFSET $6 LIMIT 1"
                ))
                .bind(q.coin.as_str())
                .bind(venue_code(q.pair.korea))
                .bind(venue_code(q.pair.foreign))
                .bind(from)
                .bind(to)
                .bind(q.limit - 1)
                .fetch_optional(&mut *tx)
                .await?;
                nth.map_or(from, |b| b.max(from))
            }
        };
        let sql = sql.replace(
            "coin_id = $1",
            "coin_id = (SELECT id FROM coins WHERE symbol = $1)",
        );
        let mut rows = sqlx::query(&sql)
            .bind(q.coin.as_str())
            .bind(venue_code(q.pair.korea))
            .bind(venue_code(q.pair.foreign))
            .bind(from)
            .bind(to)
            .bind(unit)
            .bind(tz)
            .bind(q.limit)
            .fetch(&mut *tx);
        // Each row is handed over as it arrives, so the caller's work overlaps PostgreSQL's
        // sending of the next rows. Columns by position (the SELECT above): a name lookup per
        // column and row costs.
        let (mut first, mut last, mut n) = (None, None, 0);
        while let Some(r) = rows.try_next().await? {
            let start: DateTime<Utc> = r.try_get(0)?;
            first.get_or_insert(start);
            last = Some(start);
            n += 1;
            each(Bucket {
                start,
                count: r.try_get(1)?,
                open: r.try_get(2)?,
                high: r.try_get(3)?,
                low: r.try_get(4)?,
                close: r.try_get(5)?,
                usdt_open: r.try_get(6)?,
                usdt_high: r.try_get(7)?,
                usdt_low: r.try_get(8)?,
                usdt_close: r.try_get(9)?,
                entry_close: r.try_get(10)?,
                exit_close: r.try_get(11)?,
            });
        }
        drop(rows);
        tx.commit().await?;
        let oldest = if reverse { last } else { first };
        let from = match (q.from, oldest) {
            (None, Some(start)) => start,
            _ => from,
        };
        Ok(History {
            from,
            to,
            newest_first: reverse,
            buckets: n,
        })
    }

    /// Raw premium rows over `[from, to)`, oldest first.
    pub async fn premium_rows(
        &self,
        coin: &Coin,
        pair: VenuePair,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PremiumRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.ts, p.rate, p.usdt_rate, p.korea_krw, p.foreign_usd, t.usd_krw
               FROM premiums p
               JOIN coins c ON c.id = p.coin_id
               LEFT JOIN premium_ticks t ON t.ts = p.ts
              WHERE c.symbol = $1 AND p.korea_venue = $2 AND p.foreign_venue = $3
                AND p.ts >= $4 AND p.ts < $5
              ORDER BY p.ts",
        )
        .bind(coin.as_str())
        .bind(venue_code(pair.korea))
        .bind(venue_code(pair.foreign))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(PremiumRow {
                    ts: r.try_get("ts")?,
                    rate: r.try_get("rate")?,
                    usdt_rate: r.try_get("usdt_rate")?,
                    korea_krw: r.try_get("korea_krw")?,
                    foreign_usd: r.try_get("foreign_usd")?,
                    usd_krw: r.try_get::<Option<Decimal>, _>("usd_krw")?.ok_or_else(|| {
                        StoreError::Invalid("premium row without its tick".into())
                    })?,
                })
            })
            .collect()
    }

    // ----- positions -----

    pub async fn insert_position(&self, p: &Position) -> Result<Position, StoreError> {
        let row = insert_position_query(p).fetch_one(&self.pool).await?;
        position_from_row(&row)
    }

    /// Inserts `p` under an idempotency key, or answers what the key already stands for.
    ///
    /// One transaction: a transaction-scoped advisory lock on the key serializes requests that
    /// share it (a concurrent duplicate waits for the first to commit, then sees its row), keys
    /// older than [`IDEMPOTENCY_TTL_HOURS`] are purged first, and the position and the key row
    /// are committed together. A dropped future rolls the transaction back: nothing is kept.
    pub async fn insert_position_idempotent(
        &self,
        p: &Position,
        key: &str,
        request: &str,
    ) -> Result<Idempotent, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
        )
        .bind(IDEMPOTENCY_TTL_HOURS)
        .execute(&mut *tx)
        .await?;
        let found = sqlx::query("SELECT request, position_id FROM idempotency_keys WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = found {
            let stored: String = row.try_get("request")?;
            let id: i64 = row.try_get("position_id")?;
            tx.commit().await?;
            if stored != request {
                return Ok(Idempotent::Mismatch);
            }
            return match self.position(id).await? {
                Some(p) => Ok(Idempotent::Replayed(p)),
                None => Err(StoreError::Invalid(format!(
                    "idempotency key names position {id}, which does not exist"
                ))),
            };
        }
        let row = insert_position_query(p).fetch_one(&mut *tx).await?;
        let saved = position_from_row(&row)?;
        sqlx::query("INSERT INTO idempotency_keys (key, request, position_id) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(request)
            .bind(saved.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Idempotent::Created(saved))
    }

    pub async fn position(&self, id: i64) -> Result<Option<Position>, StoreError> {
        let row = sqlx::query("SELECT * FROM positions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(position_from_row).transpose()
    }

    /// Newest first; `open_only` filters closed ones out.
    pub async fn positions(
        &self,
        open_only: bool,
        limit: i64,
    ) -> Result<Vec<Position>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM positions WHERE ($1 = false OR closed_at IS NULL) ORDER BY id DESC LIMIT $2",
        )
        .bind(open_only)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(position_from_row).collect()
    }

    /// Closes an open position. `Ok(None)` when it does not exist or is already closed (the
    /// caller tells which with [`Store::position`]).
    pub async fn close_position(
        &self,
        id: i64,
        at: DateTime<Utc>,
        pnl_krw: Option<Decimal>,
    ) -> Result<Option<Position>, StoreError> {
        let row = sqlx::query(
            "UPDATE positions SET closed_at = $2, close_pnl_krw = $3 WHERE id = $1 AND closed_at IS NULL RETURNING *",
        )
        .bind(id)
        .bind(at)
        .bind(pnl_krw)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(position_from_row).transpose()
    }
}

fn position_from_row(r: &sqlx::postgres::PgRow) -> Result<Position, StoreError> {
    let invalid = |e: String| StoreError::Invalid(e);
    let price = |col: &str| -> Result<Price, StoreError> {
        Price::new(r.try_get::<Decimal, _>(col)?).map_err(|e| invalid(format!("{col}: {e}")))
    };
    let korea: String = r.try_get("korea_venue")?;
    let foreign: String = r.try_get("foreign_venue")?;
    let pair = VenuePair::new(
        korea
            .parse()
            .map_err(|e: domain::VenueError| invalid(e.to_string()))?,
        foreign
            .parse()
            .map_err(|e: domain::VenueError| invalid(e.to_string()))?,
    )
    .map_err(invalid)?;
    let coin: String = r.try_get("coin")?;
    Ok(Position {
        id: r.try_get("id")?,
        coin: Coin::parse(&coin).map_err(|e| invalid(e.to_string()))?,
        pair,
        korea: PositionSide {
            quantity: r.try_get("korea_qty")?,
            entry_price: price("korea_entry")?,
        },
        foreign: PositionSide {
            quantity: r.try_get("foreign_qty")?,
            entry_price: price("foreign_entry")?,
        },
        leverage: r.try_get::<i32, _>("leverage")? as u32,
        entry_usd_krw: price("entry_usd_krw")?,
        entry_premium: r.try_get("entry_premium")?,
        opened_at: r.try_get("opened_at")?,
        closed_at: r.try_get("closed_at")?,
    })
}

#[cfg(test)]
mod spool_tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_transient_and_a_refused_row_is_not() {
        assert!(is_transient(&StoreError::Db(sqlx::Error::PoolTimedOut)));
        assert!(is_transient(&StoreError::Db(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused)
        ))));
        assert!(!is_transient(&StoreError::Invalid("bad".into())));
        assert!(!is_transient(&StoreError::Db(sqlx::Error::RowNotFound)));
    }
}
