//! Keeps Redis flat over a long run.
//!
//! apalis-redis keeps every finished task (data hash entry, `meta:<id>` hash, `done`/`dead`
//! member: ~12 MB per 20,000 jobs) and its `vacuum` reads the whole data hash on every call. The
//! runner instead hands each finished task id to `{p}:gc` (a sorted set scored by the time it may
//! go: finish + `retention.job_records_secs`), and the janitor deletes those in chunks. Job
//! records expire on their own (TTL); their listing indexes are trimmed by age here. Worker
//! metadata hashes that apalis leaves behind for every worker name ever registered are removed
//! once the worker is gone. Every replica runs the janitor; each step is idempotent.

use chrono::Utc;
use domain::JobKind;
use redis::AsyncCommands;
use settings::Settings;

use crate::{Job, Keys, RedisConn, handlers::Ctx, queue::queue_config, records::JobState};

fn gc_key(keys: &Keys) -> String {
    format!("{}:gc", keys.prefix())
}

/// Schedules the apalis copy of this attempt's task for deletion after the retention window.
pub async fn collect_later(ctx: &Ctx, job: &Job) {
    let at = Utc::now().timestamp_millis() + ctx.settings.retention.job_records_secs as i64 * 1000;
    let member = format!("{}|{}", job.kind, job.task_id());
    let r: Result<(), _> = ctx.conn.clone().zadd(gc_key(&ctx.keys), member, at).await;
    if let Err(e) = r {
        tracing::warn!(job = %job.id, error = %e, "could not schedule task cleanup");
    }
}

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub tasks: usize,
    pub index_entries: usize,
    pub worker_keys: usize,
}

/// Deletes apalis task data whose time has come (up to `chunk` tasks) and trims record indexes.
pub async fn sweep(
    conn: &RedisConn,
    settings: &Settings,
    chunk: usize,
) -> Result<Swept, redis::RedisError> {
    let keys = Keys::new(&settings.redis_prefix);
    let mut conn = conn.clone();
    let now = Utc::now().timestamp_millis();
    let mut swept = Swept::default();

    let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(gc_key(&keys))
        .arg("-inf")
        .arg(now)
        .arg("LIMIT")
        .arg(0)
        .arg(chunk)
        .query_async(&mut conn)
        .await?;
    if !due.is_empty() {
        let mut pipe = redis::pipe();
        for member in &due {
            let Some((kind, task_id)) = member.split_once('|') else {
                continue;
            };
            let Ok(kind) = kind.parse::<JobKind>() else {
                continue;
            };
            let cfg = queue_config(settings, kind);
            pipe.hdel(cfg.job_data_hash(), task_id).ignore();
            pipe.del(format!("{}:{task_id}", cfg.job_meta_hash()))
                .ignore();
            pipe.srem(cfg.done_jobs_set(), task_id).ignore();
            pipe.srem(cfg.dead_jobs_set(), task_id).ignore();
        }
        pipe.zrem(gc_key(&keys), &due).ignore();
        pipe.exec_async(&mut conn).await?;
        swept.tasks = due.len();
    }

    // Finished records expire by TTL; drop their index entries past the same window.
    let cutoff = now - settings.retention.job_records_secs as i64 * 1000;
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
    swept.index_entries = removed.iter().sum();

    // Worker processes that stopped beating a minute ago.
    let _: () = conn
        .zrembyscore(keys.workers(), "-inf", now - 60_000)
        .await?;
    Ok(swept)
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
