//! Positions: stored in PostgreSQL, mirrored (open ones only) in Redis `{p}:positions:open` so
//! that `compute-premium` knows without a database query whether any PnL needs computing.

use chrono::Utc;
use domain::Position;
use redis::AsyncCommands;
use rust_decimal::Decimal;

use keyspace::{Keys, RedisConn};
use store::{Idempotent, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PositionsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

#[derive(Clone)]
pub struct Positions {
    store: Store,
    conn: RedisConn,
    keys: Keys,
}

/// What closing a position did.
pub enum Closed {
    Closed(Position),
    AlreadyClosed(Position),
    NotFound,
}

impl Positions {
    pub fn new(store: Store, conn: RedisConn, keys: Keys) -> Self {
        Positions { store, conn, keys }
    }

    pub async fn open(&self, p: &Position) -> Result<Position, PositionsError> {
        let saved = self.store.insert_position(p).await?;
        self.conn
            .clone()
            .hset::<_, _, _, ()>(
                self.keys.open_positions(),
                saved.id,
                serde_json::to_string(&saved).expect("position serializes"),
            )
            .await?;
        Ok(saved)
    }

    /// [`Self::open`] under an idempotency key (see [`Store::insert_position_idempotent`]). A
    /// replay writes the mirror again, so a mirror write lost with a dropped request is redone.
    pub async fn open_idempotent(
        &self,
        p: &Position,
        key: &str,
        request: &str,
    ) -> Result<Idempotent, PositionsError> {
        let out = self
            .store
            .insert_position_idempotent(p, key, request)
            .await?;
        if let Idempotent::Created(saved) | Idempotent::Replayed(saved) = &out
            && saved.is_open()
        {
            self.conn
                .clone()
                .hset::<_, _, _, ()>(
                    self.keys.open_positions(),
                    saved.id,
                    serde_json::to_string(saved).expect("position serializes"),
                )
                .await?;
        }
        Ok(out)
    }

    pub async fn close(&self, id: i64, pnl: Option<Decimal>) -> Result<Closed, PositionsError> {
        let closed = self.store.close_position(id, Utc::now(), pnl).await?;
        let _: () = self
            .conn
            .clone()
            .hdel(self.keys.open_positions(), id)
            .await?;
        Ok(match closed {
            Some(p) => Closed::Closed(p),
            None => match self.store.position(id).await? {
                Some(p) => Closed::AlreadyClosed(p),
                None => Closed::NotFound,
            },
        })
    }

    /// Open positions from the Redis mirror.
    pub async fn open_from_cache(&self) -> Result<Vec<Position>, redis::RedisError> {
        let raw: Vec<String> = self.conn.clone().hvals(self.keys.open_positions()).await?;
        Ok(raw
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect())
    }

    /// Rebuilds the Redis mirror from PostgreSQL (worker start, and periodically).
    pub async fn sync(&self) -> Result<usize, PositionsError> {
        let open = self.store.positions(true, 10_000).await?;
        let mut pipe = redis::pipe();
        pipe.atomic().del(self.keys.open_positions()).ignore();
        for p in &open {
            pipe.hset(
                self.keys.open_positions(),
                p.id,
                serde_json::to_string(p).expect("position serializes"),
            )
            .ignore();
        }
        pipe.exec_async(&mut self.conn.clone()).await?;
        Ok(open.len())
    }
}
