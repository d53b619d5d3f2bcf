//! Keeps Redis flat over a long run.
//!
//! apalis-redis keeps every finished task (data hash entry, `meta:<id>` hash, `done`/`dead`
//! member), so its memory grows with every job run, and its `vacuum` reads the whole data hash
//! on every call. The runner instead hands each finished task id to `{p}:gc` (a sorted set
//! scored by the time it may go: finish + `retention.job_records_secs`), and the janitor deletes
//! those in chunks. Job records expire on their own (TTL); their listing indexes are trimmed by
//! age here. Worker metadata hashes that apalis leaves behind for every worker name ever
//! registered are removed once the worker is gone. Every replica runs the janitor; each step is
//! idempotent.

use std::sync::LazyLock;

use chrono::Utc;
use domain::{JobKind, JobState};
use redis::{AsyncCommands, Script};
use settings::Settings;

use keyspace::{Keys, RedisConn};

use crate::{Enqueuer, Job, enqueue::queue_config};

/// Schedules the apalis copy of this attempt's task for deletion after the retention window.
pub async fn collect_later(q: &Enqueuer, job: &Job) {
    let at = Utc::now().timestamp_millis() + q.settings().retention.job_records_secs as i64 * 1000;
    let member = format!("{}|{}", job.kind, job.task_id());
    let r: Result<(), _> = q.conn().zadd(q.keys().gc(), member, at).await;
    if let Err(e) = r {
        tracing::warn!(job = %job.id, error = %e, "could not schedule task cleanup");
    }
}

/// Deletes the apalis copy of due tasks, but only of tasks apalis itself has finished (`Done`,
/// `Killed`) or no longer knows. A task can be back in the queue after it finished once: when a
/// worker is reaped as dead while it is in fact only slow, apalis re-queues its in-flight tasks
/// and the slow worker's acknowledgement then fails, leaving the task `Running` in the active
/// list. Deleting the data of such a task would leave an id without data in the queue, which
/// makes every apalis worker of the queue fail on fetch, restart and fail again; so it is
/// postponed a minute instead (`lua/collect_tasks.lua`).
static COLLECT_TASKS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/collect_tasks.lua")));

/// Removes ids without task data from the head of each active list (at most 1,000 looked at)
/// and from the in-flight sets of registered workers. No such id should exist (pushes write the
/// data first, and the janitor only deletes finished tasks), but one makes apalis-redis' fetch
/// fail for the worker that takes it; the worker restarts, its in-flight ids go back to the
/// queue, and the next worker fails the same way: a cheap safety net against a wedged queue
/// (`lua/repair_queue.lua`).
static REPAIR_QUEUE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/repair_queue.lua")));

/// Runs [`REPAIR_QUEUE`] on every queue; returns the ids removed.
pub async fn repair_queues(
    conn: &RedisConn,
    settings: &Settings,
) -> Result<u64, redis::RedisError> {
    let mut conn = conn.clone();
    let mut removed = 0;
    for kind in JobKind::ALL {
        let cfg = queue_config(settings, kind);
        let n: u64 = REPAIR_QUEUE
            .key(cfg.active_jobs_list())
            .key(cfg.job_data_hash())
            .key(cfg.workers_set())
            .arg(cfg.inflight_jobs_set())
            .invoke_async(&mut conn)
            .await?;
        if n > 0 {
            tracing::error!(%kind, removed = n, "removed queued task ids that had no task data");
        }
        removed += n;
    }
    Ok(removed)
}

/// Moves non-terminal records whose run is gone to `abandoned`: untouched (neither updated nor
/// due to run) for the bound, and with no task of theirs still pending in the queue (task data
/// present and not finished by apalis; for a `scheduled` record that includes the retry's own
/// task, `<id>~<attempts+1>`). Index entries of records that no longer exist are dropped. Each
/// pass looks at `limit` candidates per state after the ones the previous pass looked at
/// (a cursor per state in [`cursor_key`], wrapping around), so long-lived records at the head of
/// an index cannot stall the scan (`lua/abandon_stale.lua`).
static ABANDON_STALE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/index.lua"),
        include_str!("lua/task_id.lua"),
        include_str!("lua/abandon_stale.lua"),
    ))
});

/// Where the abandon scan resumes, per state (`score|id` of the last candidate looked at).
pub fn cursor_key(keys: &Keys) -> String {
    format!("{}:abandon-cursor", keys.prefix())
}

/// Runs [`ABANDON_STALE`] (at most `limit` candidates per state); returns how many were
/// abandoned.
pub async fn abandon_stale(
    conn: &RedisConn,
    settings: &Settings,
    now_ms: i64,
    limit: usize,
) -> Result<usize, redis::RedisError> {
    let keys = Keys::new(&settings.redis_prefix);
    let mut inv = ABANDON_STALE.key(keys.counters());
    inv.key(cursor_key(&keys));
    inv.arg(keys.prefix())
        .arg(now_ms)
        .arg(settings.retention.abandon_after_secs * 1000)
        .arg(settings.retention.job_records_secs)
        .arg(limit);
    for kind in JobKind::ALL {
        inv.arg(kind.as_str())
            .arg(queue_config(settings, kind).queue.as_ref());
    }
    let n: usize = inv.invoke_async(&mut conn.clone()).await?;
    if n > 0 {
        tracing::warn!(
            records = n,
            "job records with no live run moved to abandoned"
        );
        metrics::counter!(crate::metrics_names::JOBS_ABANDONED_TOTAL).increment(n as u64);
    }
    Ok(n)
}

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub tasks: usize,
    /// Due for deletion but back in the queue; retried a minute later.
    pub postponed: usize,
    pub index_entries: usize,
    pub worker_keys: usize,
    /// Records moved to `abandoned`.
    pub abandoned: usize,
}

/// Deletes apalis task data whose time has come (up to `chunk` tasks) and trims record indexes
/// ([`sweep_tasks`] and [`trim_indexes`] in one call).
pub async fn sweep(
    conn: &RedisConn,
    settings: &Settings,
    chunk: usize,
) -> Result<Swept, redis::RedisError> {
    let mut swept = sweep_tasks(conn, settings, chunk).await?;
    swept.index_entries = trim_indexes(conn, settings).await?;
    Ok(swept)
}

/// Deletes apalis task data whose time has come (up to `chunk` tasks), moves records whose run
/// is gone to `abandoned` and forgets worker processes that stopped beating.
pub async fn sweep_tasks(
    conn: &RedisConn,
    settings: &Settings,
    chunk: usize,
) -> Result<Swept, redis::RedisError> {
    let keys = Keys::new(&settings.redis_prefix);
    let mut conn = conn.clone();
    let now = Utc::now().timestamp_millis();
    let mut swept = Swept::default();

    let mut inv = COLLECT_TASKS.key(keys.gc());
    inv.arg(now).arg(chunk);
    for kind in JobKind::ALL {
        inv.arg(kind.as_str())
            .arg(queue_config(settings, kind).queue.as_ref());
    }
    let (deleted, postponed): (usize, usize) = inv.invoke_async(&mut conn).await?;
    swept.tasks = deleted;
    swept.postponed = postponed;

    swept.abandoned = abandon_stale(&conn, settings, now, 100).await?;

    // Worker processes that stopped beating a minute ago.
    let _: () = conn
        .zrembyscore(keys.workers(), "-inf", now - 60_000)
        .await?;
    Ok(swept)
}

/// Drops index entries of finished records past the retention window (the records themselves
/// expire by TTL): one `ZREMRANGEBYSCORE` per (kind, terminal state) index, so the replicas run
/// it once a minute, not per tick. Returns the entries removed.
pub async fn trim_indexes(
    conn: &RedisConn,
    settings: &Settings,
) -> Result<usize, redis::RedisError> {
    let keys = Keys::new(&settings.redis_prefix);
    let mut conn = conn.clone();
    let cutoff = Utc::now().timestamp_millis() - settings.retention.job_records_secs as i64 * 1000;
    let mut pipe = redis::pipe();
    let kinds: Vec<Option<JobKind>> = std::iter::once(None)
        .chain(JobKind::ALL.into_iter().map(Some))
        .collect();
    let states: Vec<Option<JobState>> = std::iter::once(None)
        .chain(
            JobState::ALL
                .into_iter()
                .filter(|s| s.is_terminal())
                .map(Some),
        )
        .collect();
    for k in &kinds {
        for s in &states {
            pipe.zrembyscore(keys.jobs_index(*k, *s), "-inf", cutoff);
        }
    }
    let removed: Vec<usize> = pipe.query_async(&mut conn).await?;
    Ok(removed.iter().sum())
}

/// Deletes apalis' per-worker metadata hashes of workers that are no longer registered. Uses
/// SCAN over the queue's own key pattern, so it is run once a minute, not per tick.
pub async fn sweep_worker_keys(
    conn: &RedisConn,
    settings: &Settings,
) -> Result<usize, redis::RedisError> {
    let mut conn = conn.clone();
    let mut removed = 0;
    for kind in JobKind::ALL {
        let cfg = queue_config(settings, kind);
        let prefix = format!("{}:workers:metadata:", cfg.queue.as_ref());
        let pattern = format!("{prefix}*");
        let mut names = Vec::new();
        {
            let mut iter: redis::AsyncIter<String> = conn.scan_match(&pattern).await?;
            while let Some(k) = iter.next_item().await {
                names.push(k?);
            }
        }
        for key in names {
            let name = &key[prefix.len()..];
            let alive: Option<f64> = conn.zscore(cfg.workers_set(), name).await?;
            if alive.is_none() {
                let _: () = conn.del(&key).await?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
