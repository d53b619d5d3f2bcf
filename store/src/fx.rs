//! FX rates (`fx_rates`, partitioned by day like the other history tables): inserted as they
//! are fetched, and the newest of each source read back when the hot cache lost them.

use domain::{FxRate, Price};
use rust_decimal::Decimal;
use sqlx::Row;

use crate::{error::StoreError, handle::Store, history::partitions::span};

impl Store {
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
}
