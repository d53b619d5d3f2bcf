//! The history query: OHLC buckets of a coin's premium from the tier that fits the interval
//! ([`Store::premium_ohlc`], asked a [`HistoryQuery`], handing over each [`Bucket`] as it
//! arrives), the raw rows of a range ([`Store::premium_rows`]), and the check of a `1d`
//! answer's time zone ([`Store::time_zone_known`]).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use domain::{Coin, VenuePair};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use sqlx::Row;

use crate::{
    columns::venue_code,
    error::StoreError,
    handle::Store,
    history::ohlc::{ohlc_of_rows, raw_ohlc_columns, rolled_ohlc_columns, trunc_to},
    rows::PremiumRow,
};

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
/// decoding every value of a long answer into `Decimal`, or even allocating a `String` for
/// each, and printing them again would be most of the answer's time.
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

impl Store {
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
        // more than the answer (planning over every daily partition of `premium_1m` takes
        // longer than executing); the generic one prunes the partitions when it starts
        // (`Subplans Removed`).
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
            "SELECT p.ts, p.rate, p.usdt_rate, p.korea_krw, p.foreign_usd, p.usdt_krw, t.usd_krw
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
                    usdt_krw: r.try_get("usdt_krw")?,
                    usd_krw: r.try_get::<Option<Decimal>, _>("usd_krw")?.ok_or_else(|| {
                        StoreError::Invalid("premium row without its tick".into())
                    })?,
                })
            })
            .collect()
    }
}
