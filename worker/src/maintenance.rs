//! Background upkeep of a replica: process heartbeat, janitor, backlog drain, gauges,
//! open-position mirror. History retention is not here: it is the `maintain-history` job. The mechanics live in the `queue` crate
//! (`janitor`, `drain`); this loop only paces them.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use domain::JobKind;
use keyspace::{Keys, RedisConn};
use queue::{drain::drain_backlog, janitor, metrics_names as m};

use crate::jobs::Ctx;
use redis::AsyncCommands;
use settings::Settings;
use tokio::sync::watch;

/// How often a replica repairs the queues, collects finished tasks, scans for abandoned records
/// and reads the queue depths.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

pub async fn run(
    settings: Arc<Settings>,
    conn: RedisConn,
    ctx: Arc<Ctx>,
    pid: String,
    mut stop: watch::Receiver<bool>,
) {
    let keys = Keys::new(&settings.redis_prefix);
    let beat = Duration::from_millis(settings.worker.heartbeat_ms);
    // An idle replica's Redis load is mostly this loop and apalis' own heartbeat and fetch per
    // kind (bench/idle_commands.sh), so each step runs as rarely as what it guards allows: the
    // drain on every beat (a pile-up must be cut before apalis' fetch meets it), the repair,
    // collection and abandon scan every few seconds, the index trim and the worker-key sweep as
    // often as the records' retention (once a minute in production, where it is ≥ 60 s).
    let mut last_sweep = std::time::Instant::now() - Duration::from_secs(3600);
    let mut last_minute = std::time::Instant::now() - Duration::from_secs(3600);
    // The index trim follows the records' retention (a minute at most): what the indexes hold
    // past it is bounded by the job rate times that window.
    let trim_every = Duration::from_secs(settings.retention.job_records_secs.clamp(5, 60));
    let mut conn_m = conn.clone();
    loop {
        let now_ms = Utc::now().timestamp_millis();
        let _: Result<(), _> = conn_m.zadd(keys.workers(), &pid, now_ms).await;
        match drain_backlog(&conn, &settings).await {
            Ok(n) if n > 0 => tracing::warn!(moved = n, "drained a backlog of due tasks in chunks"),
            Err(e) => tracing::debug!(error = %e, "backlog drain failed"),
            _ => {}
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = std::time::Instant::now();
            if let Err(e) = janitor::repair_queues(&conn, &settings).await {
                tracing::debug!(error = %e, "queue repair failed");
            }
            match janitor::sweep_tasks(&conn, &settings, 2_000).await {
                Ok(s) => tracing::debug!(?s, "janitor pass"),
                Err(e) => tracing::debug!(error = %e, "janitor pass failed"),
            }
            for kind in JobKind::ALL {
                if let Ok((scheduled, active)) = ctx.enqueuer.depth(kind).await {
                    metrics::gauge!(m::QUEUE_DEPTH, "kind" => kind.as_str(), "list" => "scheduled")
                        .set(scheduled as f64);
                    metrics::gauge!(m::QUEUE_DEPTH, "kind" => kind.as_str(), "list" => "active")
                        .set(active as f64);
                }
            }
        }
        if last_minute.elapsed() >= trim_every {
            last_minute = std::time::Instant::now();
            match janitor::trim_indexes(&conn, &settings).await {
                Ok(n) => tracing::debug!(removed = n, "record indexes trimmed"),
                Err(e) => tracing::debug!(error = %e, "index trim failed"),
            }
            if let Err(e) = janitor::sweep_worker_keys(&conn, &settings).await {
                tracing::debug!(error = %e, "worker key sweep failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(beat) => {}
            _ = stop.changed() => {
                let _: Result<(), _> = conn_m.zrem(keys.workers(), &pid).await;
                return;
            }
        }
    }
}
