//! [`Store`], the handle on PostgreSQL that every `impl Store` block of this crate extends:
//! its pool and the cache of coin ids. Made by [`Store::connect`].

use sqlx::PgPool;

use crate::error::StoreError;

/// The PostgreSQL store; cheap to clone (clones share the pool and the coin ids).
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: PgPool,
    /// Coin symbol → id in `coins` (ids never change; cached for the life of the process).
    pub(crate) coins: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, i32>>>,
}

impl Store {
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
