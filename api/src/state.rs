//! The state every handler shares ([`AppState`]: settings and connections), and why it could
//! not be made ([`ApiStartError`]).

use std::sync::Arc;

use cache::{Cache, Markets, Positions};
use keyspace::{Keys, RedisConn};
use metrics_exporter_prometheus::PrometheusHandle;
use queue::{Enqueuer, Records};
use settings::{Settings, redact_url as redact};
use store::{Store, StoreError};

pub use crate::deadline::IO_TIMEOUT;
use crate::{streams::Streams, table::Tables};

/// Connections and settings shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) settings: Arc<Settings>,
    pub(crate) conn: RedisConn,
    /// The one Redis subscription of this process and the premium streams fed from it.
    pub(crate) streams: Streams,
    /// The serialized premium table of this process (`GET /api/v1/premiums`).
    pub(crate) tables: Tables,
    pub(crate) keys: Keys,
    pub(crate) cache: Cache,
    pub(crate) records: Records,
    pub(crate) enqueuer: Enqueuer,
    pub(crate) store: Store,
    pub(crate) positions: Positions,
    /// The market registry and tracked coins in force (memoized per process).
    pub(crate) markets: Markets,
    pub(crate) metrics: Option<PrometheusHandle>,
    /// Seals webhook secrets with `alerts.secret_key`; none without a key.
    pub(crate) secrets: Option<store::SecretBox>,
}

/// Why the API could not start: which service, at which URL, and how to start it.
#[derive(Debug, thiserror::Error)]
pub enum ApiStartError {
    #[error(
        "cannot connect to Redis at {url}: {error} (start it with `redis-server` or `docker compose up -d redis`, or set REDIS_URL)"
    )]
    Redis {
        url: String,
        error: redis::RedisError,
    },
    #[error(
        "cannot connect to PostgreSQL at {url}: {error} (start it with `docker compose up -d postgres`, or set DATABASE_URL)"
    )]
    Postgres { url: String, error: StoreError },
}

impl AppState {
    /// Connects to Redis and PostgreSQL (creating the database and applying migrations).
    pub async fn connect(
        settings: Arc<Settings>,
        metrics: Option<PrometheusHandle>,
    ) -> Result<Self, ApiStartError> {
        let target = keyspace::RedisTarget::from_settings(&settings);
        let conn = keyspace::connect(&target, IO_TIMEOUT)
            .await
            .map_err(|error| ApiStartError::Redis {
                url: target.describe(),
                error,
            })?;
        let store = Store::connect(&settings.database_url)
            .await
            .map_err(|error| ApiStartError::Postgres {
                url: redact(&settings.database_url),
                error,
            })?;
        Ok(Self::new(settings, conn, store, metrics))
    }

    /// Builds the state from connections made elsewhere (tests, or a process that already has
    /// them).
    pub fn new(
        settings: Arc<Settings>,
        conn: RedisConn,
        store: Store,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let keys = Keys::new(&settings.redis_prefix);
        AppState {
            streams: Streams::new(
                keyspace::RedisTarget::from_settings(&settings),
                keys.premium_channel(),
                settings.api.max_streams,
                settings.api.stream_buffer,
            ),
            secrets: settings.alerts.key().map(|k| store::SecretBox::new(&k)),
            tables: Tables::default(),
            cache: Cache::new(conn.clone(), &settings),
            records: Records::new(
                conn.clone(),
                keys.clone(),
                settings.retention.job_records_secs,
            ),
            enqueuer: Enqueuer::new(conn.clone(), settings.clone()),
            positions: Positions::new(store.clone()),
            markets: Markets::new(conn.clone(), keys.clone()),
            keys,
            store,
            conn,
            metrics,
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn credentials_are_redacted_from_urls() {
        assert_eq!(
            redact("redis://user:pw@127.0.0.1:6379/"),
            "redis://***@127.0.0.1:6379/"
        );
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
    }
}
