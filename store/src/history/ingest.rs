//! Writing history: tickers and the premiums of a tick, one idempotent statement per batch
//! (`UNNEST` of arrays, `ON CONFLICT DO NOTHING`) into the daily partitions, and the `coins`
//! dictionary those rows refer to by id.

use chrono::{DateTime, Utc};
use domain::{Premium, Ticker};
use rust_decimal::Decimal;

use crate::{
    columns::{round_rate, venue_code_of},
    error::StoreError,
    handle::Store,
    history::partitions::span,
    rows::{PremiumHistoryRow, TickerRow},
};

impl Store {
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
    /// What is the same for every row of a tick (FX rate and source, computation time) is
    /// written once to `premium_ticks`, from the first row; USDT/KRW, which is each Korean
    /// venue's own, is written on every row; rates are rounded to
    /// [`RATE_SCALE`](crate::columns::RATE_SCALE) decimal places.
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
        let usdt_krw: Vec<Option<Decimal>> = rows.iter().map(|p| p.usdt_krw).collect();
        let foreign_usd: Vec<Decimal> = rows.iter().map(|p| p.foreign_usd).collect();
        let observed: Vec<DateTime<Utc>> = rows.iter().map(|p| p.observed_at).collect();
        let days = span([ts].into_iter());
        self.with_partitions(days, || {
            sqlx::query(
                "WITH tick AS (
                    INSERT INTO premium_ticks (ts, computed_at, usd_krw, fx_source)
                    VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING)
                 INSERT INTO premiums (ts, observed_at, coin_id, korea_venue, foreign_venue, rate,
                                       usdt_rate, entry_rate, exit_rate, korea_krw, foreign_usd,
                                       usdt_krw)
                 SELECT $1, * FROM UNNEST($5::timestamptz[], $6::int4[], $7::int2[], $8::int2[],
                                          $9::numeric[], $10::numeric[], $11::numeric[],
                                          $12::numeric[], $13::numeric[], $14::numeric[],
                                          $15::numeric[])
                 ON CONFLICT DO NOTHING",
            )
            .bind(ts)
            .bind(first.computed_at)
            .bind(first.usd_krw)
            .bind(&first.fx_source)
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
            .bind(&usdt_krw)
            .execute(&self.pool)
        })
        .await
        .map(|r| r.rows_affected())
    }
}
