//! What every job body shares: [`Ctx`] (the clients, caches and stores of one worker
//! process), [`JobError`] (a body's error, turned into the runner's [`queue::Failure`]) and the
//! fetch metrics. The bodies import this module; the dispatch in [`super`] imports the bodies.

use std::{collections::HashMap, sync::Arc, time::Duration, time::Instant};

use cache::{Cache, Markets, MarketsError};
use domain::{ErrorClass, FailureClass, Venue};
use keyspace::{Keys, RedisConn};
use queue::{Enqueuer, Failure, Records, metrics_names as m};
use settings::Settings;
use store::Store;
use venues::{FetchError, FxClient, VenueClient};

use crate::ratelimit::{RateLimitError, RateLimiter};
use crate::spool::Spool;

/// Everything a job needs; built once per worker process.
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub conn: RedisConn,
    pub keys: Keys,
    pub cache: Cache,
    pub store: Store,
    /// The market registry in force (memoized per process).
    pub markets: Markets,
    pub venues: HashMap<Venue, Arc<dyn VenueClient>>,
    /// In fallback order.
    pub fx: Vec<Arc<dyn FxClient>>,
    pub limiter: RateLimiter,
    pub enqueuer: Enqueuer,
    pub records: Records,
    /// History writes, spooled in Redis while PostgreSQL cannot take them.
    pub spool: Spool,
    /// The alert rules in force (memoized per process on `{p}:alerts:version`).
    pub alert_rules: crate::alerts::Rules,
    /// Webhook and Telegram calls: `alerts.timeout_ms`, no redirects.
    pub alert_http: reqwest::Client,
    /// Opens webhook secrets (`alerts.secret_key`).
    pub alert_secrets: Option<store::SecretBox>,
    /// The connection `compute-premium` blocks on while the tick's prices arrive (made on first
    /// use; a blocked connection cannot carry anyone else's commands).
    pub tick_waiter: tokio::sync::Mutex<Option<RedisConn>>,
}

impl Ctx {
    /// Builds the clients from the settings.
    pub fn new(settings: Arc<Settings>, conn: RedisConn, store: Store) -> Self {
        let keys = Keys::new(&settings.redis_prefix);
        let opts = settings.venue_options();
        let venues = settings
            .venues
            .iter()
            .map(|v| {
                let client: Arc<dyn VenueClient> = Arc::from(venues::venue_client(
                    *v,
                    settings.client_config(v.as_str()),
                    &opts,
                ));
                (*v, client)
            })
            .collect();
        let fx = settings
            .fx_sources
            .iter()
            .map(|s| {
                let c: Arc<dyn FxClient> =
                    Arc::from(venues::fx_client(*s, settings.client_config(s.as_str())));
                c
            })
            .collect();
        let enqueuer = Enqueuer::new(conn.clone(), settings.clone());
        let alert_http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.alerts.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(settings.http.user_agent.clone())
            .build()
            .expect("the HTTP client builds (rustls, no custom roots)");
        Ctx {
            alert_rules: crate::alerts::Rules::new(store.clone(), keys.clone()),
            alert_http,
            alert_secrets: settings.alerts.key().map(|k| store::SecretBox::new(&k)),
            tick_waiter: tokio::sync::Mutex::new(None),
            cache: Cache::new(conn.clone(), &settings),
            markets: Markets::new(conn.clone(), keys.clone()),
            limiter: RateLimiter::new(conn.clone(), keys.clone()),
            records: enqueuer.records().clone(),
            spool: Spool::new(
                conn.clone(),
                keys.clone(),
                store.clone(),
                settings.retention.spool_max_entries,
            ),
            enqueuer,
            venues,
            fx,
            store,
            keys,
            conn,
            settings,
        }
    }
}

/// Why a job body failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    RateLimit(#[from] RateLimitError),
    /// Every source of the fallback chain failed; `class` is the first source's error class.
    #[error("every FX source failed: {message}")]
    AllFxFailed {
        message: String,
        retryable: bool,
        retry_after: Option<Duration>,
        class: Option<ErrorClass>,
    },
    #[error("{0}")]
    Permanent(String),
    /// No market registry in Redis yet (a refresh has been asked for).
    #[error("no market registry yet: refresh-markets has not put one in force")]
    NoMarkets,
    /// At least one venue's market list was refused; its last good list stays in force.
    #[error("{0}")]
    MarketsRefused(String),
    #[error("stored market registry: {0}")]
    Markets(String),
    /// An alert delivery attempt failed (webhook or Telegram).
    #[error("{message}")]
    Delivery {
        message: String,
        class: ErrorClass,
        retryable: bool,
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    Store(store::StoreError),
}

impl From<MarketsError> for JobError {
    fn from(e: MarketsError) -> Self {
        match e {
            MarketsError::Redis(e) => JobError::Redis(e),
            e => JobError::Markets(e.to_string()),
        }
    }
}

impl From<JobError> for Failure {
    fn from(e: JobError) -> Self {
        let message = e.to_string();
        let (class, retryable, retry_after) = match e {
            JobError::Fetch(e) => (e.class().into(), e.is_retryable(), e.retry_after()),
            JobError::Redis(_) => (FailureClass::Redis, true, None),
            JobError::RateLimit(_) => (FailureClass::RateLimitBudget, true, None),
            JobError::AllFxFailed {
                retryable,
                retry_after,
                class,
                ..
            } => (
                class.map_or(FailureClass::FxSources, FailureClass::Fetch),
                retryable,
                retry_after,
            ),
            JobError::Permanent(_) => (FailureClass::Permanent, false, None),
            JobError::NoMarkets | JobError::MarketsRefused(_) | JobError::Markets(_) => {
                (FailureClass::Markets, true, None)
            }
            JobError::Delivery {
                class,
                retryable,
                retry_after,
                ..
            } => (FailureClass::Fetch(class), retryable, retry_after),
            JobError::Store(e) => (FailureClass::Postgres, store::is_transient(&e), None),
        };
        Failure {
            message,
            class,
            retryable,
            retry_after,
        }
    }
}

pub type JobResult = Result<String, JobError>;

pub(super) fn observe_fetch(target: &'static str, started: Instant, err: Option<&FetchError>) {
    metrics::counter!(m::FETCH_TOTAL, "target" => target, "outcome" => if err.is_some() { "error" } else { "ok" })
        .increment(1);
    metrics::histogram!(m::FETCH_SECONDS, "target" => target)
        .record(started.elapsed().as_secs_f64());
    if let Some(e) = err {
        metrics::counter!(m::FETCH_ERRORS_TOTAL, "target" => target, "class" => e.class().as_str())
            .increment(1);
    }
}
