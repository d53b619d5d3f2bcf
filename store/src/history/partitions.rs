//! The daily partitions of the history tables: created ahead and on demand (an insert that
//! finds none, [`Store::with_partitions`]), listed, and dropped at each tier's retention
//! boundary ([`Store::maintain_history`]).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::{error::StoreError, handle::Store};

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

/// Days of partitions created ahead of today (by `maintain-history` and at connect).
pub const PARTITIONS_AHEAD_DAYS: i64 = 3;

/// The first and last UTC day of some times.
pub(crate) fn span(times: impl Iterator<Item = DateTime<Utc>>) -> (NaiveDate, NaiveDate) {
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

impl Store {
    /// Runs an insert; when PostgreSQL has no partition for some of its rows (a fresh
    /// database, rows of a day not prepared yet, a replay of old rows), creates the partitions
    /// of `days` (first, last) and runs it once more.
    pub(crate) async fn with_partitions<T, F, Fut>(
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
}
