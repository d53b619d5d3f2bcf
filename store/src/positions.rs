//! Positions (`positions`) and the idempotency keys of `POST /api/v1/positions`
//! (`idempotency_keys`): insert (plain or under a key, [`Idempotent`]), read, close.

use chrono::{DateTime, Utc};
use domain::{Coin, Contract, Position, PositionSide, Price, Units, VenuePair};
use rust_decimal::Decimal;
use sqlx::Row;

use crate::{error::StoreError, handle::Store};

/// How long an idempotency key of `POST /api/v1/positions` is remembered.
pub const IDEMPOTENCY_TTL_HOURS: i32 = 24;

const INSERT_POSITION: &str =
    "INSERT INTO positions (coin, korea_venue, foreign_venue, korea_qty, korea_entry, foreign_qty,
                        foreign_entry, leverage, entry_usd_krw, entry_premium, opened_at, units,
                        foreign_instrument, foreign_price_multiplier, foreign_coins_per_contract)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *";

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
        .bind(p.units.as_str())
        .bind(p.foreign_contract.as_ref().map(|c| c.instrument.as_str()))
        .bind(p.foreign_contract.as_ref().map(|c| c.price_multiplier))
        .bind(p.foreign_contract.as_ref().map(|c| c.coins_per_contract))
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

impl Store {
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
    let units: String = r.try_get("units")?;
    let instrument: Option<String> = r.try_get("foreign_instrument")?;
    let foreign_contract = match instrument {
        None => None,
        Some(instrument) => Some(Contract {
            instrument,
            price_multiplier: r.try_get("foreign_price_multiplier")?,
            coins_per_contract: r.try_get("foreign_coins_per_contract")?,
        }),
    };
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
        units: units
            .parse::<Units>()
            .map_err(|e| invalid(format!("units: {e}")))?,
        foreign_contract,
    })
}
