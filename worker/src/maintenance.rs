//! Background upkeep of a replica: process heartbeat, janitor, backlog drain, gauges,
//! history retention, open-position mirror.

use std::{
    sync::{Arc, LazyLock},
    time::Duration,
};

use chrono::Utc;
use domain::JobKind;
use jobs::{Keys, RedisConn, handlers::Ctx, janitor, metrics_names as m, queue::queue_config};
use redis::{AsyncCommands, Script};
use settings::Settings;
use tokio::sync::watch;

/// Moves due tasks from `<q>:scheduled` to `<q>:active` in chunks once more than `threshold` are
/// due. apalis-redis 1.0's `fetch_next.lua` promotes every due id with one `unpack`, which fails
/// past Lua's ~8,000-value limit and wedges the queue; draining in chunks first keeps it below.
/// KEYS[1] scheduled, KEYS[2] active. ARGV: now (s), threshold, chunk.
static DRAIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local due = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1])
if due <= tonumber(ARGV[2]) then return 0 end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
if #ids == 0 then return 0 end
redis.call('RPUSH', KEYS[2], unpack(ids))
redis.call('ZREM', KEYS[1], unpack(ids))
return #ids
"#,
    )
});

/// Drains a pile-up of due tasks in chunks; returns how many were moved.
pub async fn drain_backlog(
    conn: &RedisConn,
    settings: &Settings,
) -> Result<u64, redis::RedisError> {
    let mut moved = 0;
    let mut conn = conn.clone();
    for kind in JobKind::ALL {
        let cfg = queue_config(settings, kind);
        loop {
            let n: u64 = DRAIN
                .key(cfg.scheduled_jobs_set())
                .key(cfg.active_jobs_list())
                .arg(Utc::now().timestamp())
                .arg(1_000)
                .arg(1_000)
                .invoke_async(&mut conn)
                .await?;
            moved += n;
            if n == 0 {
                break;
            }
        }
    }
    Ok(moved)
}

pub async fn run(
    settings: Arc<Settings>,
    conn: RedisConn,
    ctx: Arc<Ctx>,
    pid: String,
    mut stop: watch::Receiver<bool>,
) {
    let keys = Keys::new(&settings.redis_prefix);
    let beat = Duration::from_millis(settings.worker.heartbeat_ms);
    let mut last_sweep = std::time::Instant::now() - Duration::from_secs(3600);
    let mut last_minute = std::time::Instant::now();
    let mut last_purge = std::time::Instant::now() - Duration::from_secs(3600);
    let mut conn_m = conn.clone();
    loop {
        let now_ms = Utc::now().timestamp_millis();
        let _: Result<(), _> = conn_m.zadd(keys.workers(), &pid, now_ms).await;
        match drain_backlog(&conn, &settings).await {
            Ok(n) if n > 0 => tracing::warn!(moved = n, "drained a backlog of due tasks in chunks"),
            Err(e) => tracing::debug!(error = %e, "backlog drain failed"),
            _ => {}
        }
        if last_sweep.elapsed() >= Duration::from_secs(2) {
            last_sweep = std::time::Instant::now();
            if let Err(e) = janitor::repair_queues(&conn, &settings).await {
                tracing::debug!(error = %e, "queue repair failed");
            }
            match janitor::sweep(&conn, &settings, 2_000).await {
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
        if last_minute.elapsed() >= Duration::from_secs(60) {
            last_minute = std::time::Instant::now();
            if let Err(e) = janitor::sweep_worker_keys(&conn, &settings).await {
                tracing::debug!(error = %e, "worker key sweep failed");
            }
            if let Err(e) = ctx.positions.sync().await {
                tracing::debug!(error = %e, "open position sync failed");
            }
        }
        if last_purge.elapsed() >= Duration::from_secs(600) {
            last_purge = std::time::Instant::now();
            match ctx
                .store
                .purge_history(settings.retention.history_days)
                .await
            {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged history past retention"),
                Err(e) => tracing::warn!(error = %e, "history purge failed"),
                _ => {}
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
