//! Connecting: the database is created if it does not exist, [`MIGRATOR`] applies
//! `migrations/`, and the history partitions of the coming days are prepared, so that a fresh
//! database takes inserts at once.

use std::{str::FromStr, time::Duration};

use chrono::Utc;
use sqlx::{
    ConnectOptions, Executor,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{error::StoreError, handle::Store, history::partitions::PARTITIONS_AHEAD_DAYS};

/// The workspace's `migrations/`, applied by [`Store::connect`].
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Creates the database if it does not exist (connecting to the `postgres` database).
async fn ensure_database(opts: &PgConnectOptions) -> Result<(), StoreError> {
    let Some(name) = opts.get_database().map(str::to_string) else {
        return Ok(());
    };
    let mut conn = opts.clone().database("postgres").connect().await?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    // Several processes starting at once (N workers, `up`) race here: one creates the database,
    // the others get 42P04 (it exists now), 23505 (the catalog's unique index saw the other
    // insert first) or 55006 (CREATE DATABASE copies template1 and refuses while another
    // session copies it too). All mean "look again shortly".
    for attempt in 0..20u64 {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut conn)
                .await?;
        if exists {
            return Ok(());
        }
        match conn
            .execute(format!("CREATE DATABASE {quoted}").as_str())
            .await
        {
            Ok(_) => return Ok(()),
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04" | "55006" | "23505"))
                    && attempt < 19 =>
            {
                tokio::time::sleep(Duration::from_millis(50 + 25 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl Store {
    /// Connects (creating the database if needed) and applies the migrations. Fails within a
    /// few seconds when PostgreSQL does not answer.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url)?
            .log_statements(tracing::log::LevelFilter::Debug)
            .options([("statement_timeout", "5000")]);
        tokio::time::timeout(Duration::from_secs(15), ensure_database(&opts))
            .await
            .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))??;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(opts)
            .await?;
        // Concurrent starts (N workers at once) serialize on sqlx's migration lock.
        MIGRATOR.run(&pool).await?;
        let store = Store {
            pool,
            coins: Default::default(),
        };
        // A fresh database takes inserts at once: today's partitions and a few days ahead.
        let today = Utc::now().date_naive();
        store
            .ensure_partitions(
                today - chrono::Duration::days(1),
                today + chrono::Duration::days(PARTITIONS_AHEAD_DAYS),
            )
            .await?;
        Ok(store)
    }
}
