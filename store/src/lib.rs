//! premium-spread's PostgreSQL store: history (tickers, FX rates, premiums), the market
//! registry's history (`market_listings`, with validity times), positions, retention. Nothing here knows about Redis or the queue.
//!
//! The database named in `DATABASE_URL` is created if missing and `migrations/` are applied on
//! start. Every insert is one statement per tick (`UNNEST` of arrays), idempotent by primary
//! key. Queries are checked at run time (`sqlx::query`), so building needs no database.

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use domain::{
    Coin, FxRate, Listing, Position, PositionSide, Premium, Price, Ticker, Venue, VenuePair,
};
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
    fn trunc(self) -> &'static str {
        match self {
            Interval::Second => "second",
            Interval::Minute => "minute",
            Interval::Hour => "hour",
            Interval::Day => "day",
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

/// One OHLC bucket of the premium rate (and the USDT-basis rate's close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub usdt_close: Option<Decimal>,
    /// The last entry and exit rates of the bucket (rows computed with both books).
    pub entry_close: Option<Decimal>,
    pub exit_close: Option<Decimal>,
    pub count: i64,
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

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
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
        Ok(Store { pool })
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
        let venues: Vec<&str> = rows.iter().map(|t| t.venue.as_str()).collect();
        let coins: Vec<&str> = rows.iter().map(|t| t.coin.as_str()).collect();
        let prices: Vec<Decimal> = rows.iter().map(|t| t.price).collect();
        let observed: Vec<DateTime<Utc>> = rows.iter().map(|t| t.observed_at).collect();
        let fetched: Vec<DateTime<Utc>> = rows.iter().map(|t| t.fetched_at).collect();
        let r = sqlx::query(
            "INSERT INTO tickers (venue, coin, price, observed_at, fetched_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::numeric[], $4::timestamptz[], $5::timestamptz[])
             ON CONFLICT DO NOTHING",
        )
        .bind(venues)
        .bind(coins)
        .bind(prices)
        .bind(observed)
        .bind(fetched)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
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
        let r = sqlx::query(
            "INSERT INTO fx_rates (source, usd_krw, observed_at, fetched_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(rate.source.to_string())
        .bind(rate.usd_krw.value())
        .bind(rate.observed_at)
        .bind(rate.fetched_at)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
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
    pub async fn insert_premium_rows(
        &self,
        ts: DateTime<Utc>,
        rows: &[PremiumHistoryRow],
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let text = |f: &dyn Fn(&PremiumHistoryRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
        let dec =
            |f: &dyn Fn(&PremiumHistoryRow) -> Decimal| rows.iter().map(f).collect::<Vec<_>>();
        let opt = |f: &dyn Fn(&PremiumHistoryRow) -> Option<Decimal>| {
            rows.iter().map(f).collect::<Vec<_>>()
        };
        let tss: Vec<DateTime<Utc>> = rows.iter().map(|_| ts).collect();
        let observed: Vec<DateTime<Utc>> = rows.iter().map(|p| p.observed_at).collect();
        let computed: Vec<DateTime<Utc>> = rows.iter().map(|p| p.computed_at).collect();
        let r = sqlx::query(
            "INSERT INTO premiums (coin, korea_venue, foreign_venue, ts, rate, usdt_rate, korea_krw,
                                   foreign_usd, usd_krw, fx_source, usdt_krw, observed_at, computed_at,
                                   entry_rate, exit_rate)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::numeric[],
                                  $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[], $10::text[],
                                  $11::numeric[], $12::timestamptz[], $13::timestamptz[],
                                  $14::numeric[], $15::numeric[])
             ON CONFLICT DO NOTHING",
        )
        .bind(text(&|p| &p.coin))
        .bind(text(&|p| &p.korea))
        .bind(text(&|p| &p.foreign))
        .bind(tss)
        .bind(dec(&|p| p.rate))
        .bind(opt(&|p| p.usdt_rate))
        .bind(dec(&|p| p.korea_krw))
        .bind(dec(&|p| p.foreign_usd))
        .bind(dec(&|p| p.usd_krw))
        .bind(text(&|p| &p.fx_source))
        .bind(opt(&|p| p.usdt_krw))
        .bind(observed)
        .bind(computed)
        .bind(opt(&|p| p.entry_rate))
        .bind(opt(&|p| p.exit_rate))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// OHLC buckets of a coin's premium over `[from, to)`, oldest first, at most `limit`.
    pub async fn premium_ohlc(
        &self,
        coin: &Coin,
        pair: VenuePair,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Interval,
        limit: i64,
    ) -> Result<Vec<Bucket>, StoreError> {
        let rows = sqlx::query(
            "SELECT date_trunc($1, ts) AS bucket,
                    (array_agg(rate ORDER BY ts))[1] AS open,
                    max(rate) AS high,
                    min(rate) AS low,
                    (array_agg(rate ORDER BY ts DESC))[1] AS close,
                    (array_agg(usdt_rate ORDER BY ts DESC))[1] AS usdt_close,
                    (array_agg(entry_rate ORDER BY ts DESC) FILTER (WHERE entry_rate IS NOT NULL))[1] AS entry_close,
                    (array_agg(exit_rate ORDER BY ts DESC) FILTER (WHERE exit_rate IS NOT NULL))[1] AS exit_close,
                    count(*) AS n
             FROM premiums
             WHERE coin = $2 AND korea_venue = $3 AND foreign_venue = $4 AND ts >= $5 AND ts < $6
             GROUP BY bucket ORDER BY bucket LIMIT $7",
        )
        .bind(interval.trunc())
        .bind(coin.as_str())
        .bind(pair.korea.as_str())
        .bind(pair.foreign.as_str())
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Bucket {
                    start: r.try_get("bucket")?,
                    open: r.try_get("open")?,
                    high: r.try_get("high")?,
                    low: r.try_get("low")?,
                    close: r.try_get("close")?,
                    usdt_close: r.try_get("usdt_close")?,
                    entry_close: r.try_get("entry_close")?,
                    exit_close: r.try_get("exit_close")?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
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
            "SELECT ts, rate, usdt_rate, korea_krw, foreign_usd, usd_krw FROM premiums
             WHERE coin = $1 AND korea_venue = $2 AND foreign_venue = $3 AND ts >= $4 AND ts < $5
             ORDER BY ts",
        )
        .bind(coin.as_str())
        .bind(pair.korea.as_str())
        .bind(pair.foreign.as_str())
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
                    usd_krw: r.try_get("usd_krw")?,
                })
            })
            .collect()
    }

    /// Deletes history older than `days`. Returns rows deleted.
    pub async fn purge_history(&self, days: u32) -> Result<u64, StoreError> {
        let cutoff = Utc::now() - chrono::Duration::days(days as i64);
        let mut n = 0;
        for (table, col) in [
            ("tickers", "fetched_at"),
            ("fx_rates", "fetched_at"),
            ("premiums", "ts"),
        ] {
            let r = sqlx::query(&format!("DELETE FROM {table} WHERE {col} < $1"))
                .bind(cutoff)
                .execute(&self.pool)
                .await?;
            n += r.rows_affected();
        }
        Ok(n)
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
