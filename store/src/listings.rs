//! The market registry's history (`market_listings`): which listing of a coin was in force
//! when, each row with its validity times ([`Store::record_listings`], [`Store::listing_at`]).

use chrono::{DateTime, Utc};
use domain::{Coin, Listing, Venue};
use rust_decimal::Decimal;
use sqlx::Row;

use crate::{error::StoreError, handle::Store};

impl Store {
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
}
