//! Positions: stored in PostgreSQL (and valued when read, from the cache's current prices).

use chrono::Utc;
use domain::Position;
use rust_decimal::Decimal;

use store::{Idempotent, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PositionsError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Positions {
    store: Store,
}

/// What closing a position did.
pub enum Closed {
    Closed(Position),
    AlreadyClosed(Position),
    NotFound,
}

impl Positions {
    pub fn new(store: Store) -> Self {
        Positions { store }
    }

    pub async fn open(&self, p: &Position) -> Result<Position, PositionsError> {
        Ok(self.store.insert_position(p).await?)
    }

    /// [`Self::open`] under an idempotency key (see [`Store::insert_position_idempotent`]).
    pub async fn open_idempotent(
        &self,
        p: &Position,
        key: &str,
        request: &str,
    ) -> Result<Idempotent, PositionsError> {
        Ok(self
            .store
            .insert_position_idempotent(p, key, request)
            .await?)
    }

    pub async fn close(&self, id: i64, pnl: Option<Decimal>) -> Result<Closed, PositionsError> {
        let closed = self.store.close_position(id, Utc::now(), pnl).await?;
        Ok(match closed {
            Some(p) => Closed::Closed(p),
            None => match self.store.position(id).await? {
                Some(p) => Closed::AlreadyClosed(p),
                None => Closed::NotFound,
            },
        })
    }
}
