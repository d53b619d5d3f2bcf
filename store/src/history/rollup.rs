//! Rollups: raw premium rows into minutes (`premium_1m`) and minutes into hours
//! (`premium_1h`), idempotently ([`Store::rollup`]).

use chrono::{DateTime, Utc};

use crate::{
    error::StoreError,
    handle::Store,
    history::{
        ohlc::{ohlc_of_rows, raw_ohlc_columns, rolled_ohlc_columns, trunc_to},
        partitions::span,
    },
};

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

impl Store {
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
}
