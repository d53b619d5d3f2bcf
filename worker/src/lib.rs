//! One worker replica: an apalis worker per job kind (one queue each, `JobKind::ALL`: fetch-ticker,
//! fetch-fx, compute-premium, refresh-markets, deliver-alert, maintain-history, rollup-history)
//! consuming from Redis, the cron sources that enqueue the scheduled ones, the janitor and the
//! history spool's replay. On start it refreshes the market registry (and checks an explicit
//! coin list against it). The job bodies are in [`jobs`], one module per kind.
//!
//! Every replica runs the same thing; scaling is running more of them. Cron sources in every
//! replica push the same deterministic task id per tick, so N replicas make one job per tick
//! ([`cron`]). Worker names carry a per-process id and the restart count, because apalis refuses
//! to register a name that heart-beat recently. Shutdown (the future given to [`run`]) stops the
//! cron sources, then lets running jobs finish; fetched-but-unstarted tasks go back to the queue.

pub mod alerts;
pub mod cron;
pub mod jobs;
mod maintenance;
pub mod metrics_http;
pub mod ratelimit;
pub mod spool;

use std::{future::Future, sync::Arc, time::Duration};

use domain::JobKind;
use keyspace::RedisConn;
use queue::{
    consumers::{self, Consumer},
    drain::drain_backlog,
    wake,
};
use redis::AsyncCommands;
use store::Store;

use crate::jobs::Ctx;
use settings::{Settings, redact_url};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "Redis at {url} does not answer ({source}); start it, e.g. `redis-server --daemonize yes`"
    )]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error(
        "PostgreSQL at {url} does not answer ({source}); start it, e.g. `pg_ctlcluster 15 main start`"
    )]
    Postgres {
        url: String,
        source: store::StoreError,
    },
    #[error("worker monitor: {0}")]
    Monitor(String),
    /// An explicit `coins` list names a coin no configured venue lists.
    #[error("coins: {0}")]
    Coins(String),
}

/// Connects to Redis and PostgreSQL (creating the database and applying migrations), failing
/// fast with one clear line naming the service that does not answer.
pub async fn connect(settings: &Settings) -> Result<(RedisConn, Store), WorkerError> {
    let target = keyspace::RedisTarget::from_settings(settings);
    let conn = keyspace::connect(&target, Duration::from_secs(2))
        .await
        .map_err(|source| WorkerError::Redis {
            url: target.describe(),
            source,
        })?;
    // The connection manager connects lazily on some errors; make sure Redis answers now.
    redis::cmd("PING")
        .query_async::<String>(&mut conn.clone())
        .await
        .map_err(|source| WorkerError::Redis {
            url: target.describe(),
            source,
        })?;
    let store = Store::connect(&settings.database_url)
        .await
        .map_err(|source| WorkerError::Postgres {
            url: redact_url(&settings.database_url),
            source,
        })?;
    Ok((conn, store))
}

/// Every replica refreshes the market registry when it starts, so listings are current before
/// its first tick and an explicit `coins` list can be checked: a coin no configured venue lists
/// stops the start with the closest known names. A venue whose list cannot be fetched now keeps
/// its last good list, and a `refresh-markets` trigger retries it with backoff.
async fn markets_at_start(ctx: &Ctx) -> Result<(), WorkerError> {
    let registry = match jobs::refresh_markets::refresh(ctx).await {
        Ok(r) => {
            tracing::info!(
                version = r.version,
                tracked = r.tracked,
                failed = r.failed.len(),
                "market registry refreshed"
            );
            if r.failed.is_empty() {
                // A registry loaded at start is refresh-markets' success: without it, an hourly
                // kind would read "never" until the next full hour.
                record_start_success(ctx, JobKind::RefreshMarkets).await;
            } else {
                jobs::refresh_markets::ask_refresh(ctx, "a venue's market list failed at start")
                    .await;
            }
            r.registry
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not refresh the market registry at start");
            jobs::refresh_markets::ask_refresh(ctx, "the registry refresh failed at start").await;
            return Ok(());
        }
    };
    if let domain::CoinSelection::List(coins) = &ctx.settings.coins {
        let loaded = |region| {
            registry
                .venues
                .values()
                .any(|v| v.venue.region() == region && !v.listings.is_empty())
        };
        if loaded(domain::Region::Korea) && loaded(domain::Region::Foreign) {
            domain::check_selection(&registry, coins).map_err(WorkerError::Coins)?;
        } else {
            tracing::warn!(
                "explicit coins not checked: no market list of a Korean and a foreign venue yet"
            );
        }
    }
    Ok(())
}

/// Records `kind`'s last success now (best effort), as the runner does after a job.
async fn record_start_success(ctx: &Ctx, kind: JobKind) {
    let now = chrono::Utc::now().timestamp_millis();
    let r: Result<(), _> = ctx
        .conn
        .clone()
        .hset(ctx.keys.last_success(), kind.as_str(), now)
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, %kind, "could not record the start-up success");
    }
}

/// Records, once per cluster (the first replica with cron sources to start), since when the
/// schedules run: a kind that never succeeded is late only once a fire time has passed since.
async fn record_schedules_since(conn: &RedisConn, settings: &Settings) {
    if !settings.worker.cron {
        return;
    }
    let keys = keyspace::Keys::new(&settings.redis_prefix);
    let now = chrono::Utc::now().timestamp_millis();
    let r: Result<bool, _> = conn
        .clone()
        .hset_nx(keys.counters(), keyspace::Keys::SCHEDULES_SINCE, now)
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "could not record since when the schedules run");
    }
}

/// A name unique to this process: host, pid and a random suffix.
pub fn process_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    let ulid = ulid::Ulid::generate().to_string();
    format!("{host}-{}-{}", std::process::id(), &ulid[20..])
}

/// Runs one replica until `shutdown` completes. With a metrics handle and
/// `worker.metrics_addr`, also serves `/metrics`.
pub async fn run(
    settings: Arc<Settings>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let (conn, store) = connect(&settings).await?;
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    if let (Some(handle), Some(addr)) = (metrics, settings.worker.metrics_addr.clone()) {
        tracing::info!(%addr, "serving worker metrics");
        tokio::spawn(async move {
            let stopped = async move {
                let _ = metrics_stopped.await;
            };
            if let Err(e) = metrics_http::serve(addr, handle, stopped).await {
                tracing::error!(error = %e, "worker metrics server failed");
            }
        });
    }
    let result = run_with(settings, conn, store, shutdown).await;
    let _ = stop_metrics.send(());
    result
}

/// Runs one replica on existing connections until `shutdown` completes.
pub async fn run_with(
    settings: Arc<Settings>,
    conn: RedisConn,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let ctx = Arc::new(Ctx::new(settings.clone(), conn.clone(), store));
    markets_at_start(&ctx).await?;
    record_schedules_since(&conn, &settings).await;
    let pid = process_id();
    tracing::info!(process = %pid, "worker replica starting");
    // Before any apalis worker fetches: a pile-up of due tasks left by stuck or dead workers
    // would make apalis-redis' promotion script fail (see queue::drain).
    match drain_backlog(&conn, &settings).await {
        Ok(n) if n > 0 => tracing::warn!(moved = n, "drained a backlog of due tasks in chunks"),
        Err(e) => tracing::warn!(error = %e, "backlog drain failed"),
        _ => {}
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = Vec::new();
    for kind in JobKind::ALL
        .into_iter()
        .filter(|k| settings.worker.cron && k.is_scheduled())
    {
        background.push(tokio::spawn(cron::produce(
            kind,
            settings.clone(),
            ctx.enqueuer.clone(),
            conn.clone(),
            stop_rx.clone(),
        )));
    }
    let wakers = wake::Wakers::new();
    background.push(tokio::spawn(wake::subscribe(
        keyspace::RedisTarget::from_settings(&settings),
        keyspace::Keys::new(&settings.redis_prefix),
        wakers.clone(),
        stop_rx.clone(),
    )));
    background.push(tokio::spawn(maintenance::run(
        settings.clone(),
        conn.clone(),
        ctx.clone(),
        pid.clone(),
        stop_rx.clone(),
    )));

    background.push(tokio::spawn(spool::replay_loop(
        ctx.spool.clone(),
        pid.clone(),
        stop_rx.clone(),
    )));

    let consumer = Arc::new(Consumer {
        enqueuer: ctx.enqueuer.clone(),
        handler: ctx.clone(),
    });
    let monitor = consumers::monitor(&settings, conn.clone(), consumer, wakers, &pid);

    let signal = async move {
        shutdown.await;
        tracing::info!("shutdown requested: stopping cron sources, finishing running jobs");
        let _ = stop_tx.send(true);
        Ok(())
    };
    let result = monitor.run_with_signal(signal).await;
    for h in background {
        let _ = h.await;
    }
    tracing::info!(process = %pid, "worker replica stopped");
    result.map_err(|e| WorkerError::Monitor(e.to_string()))
}
