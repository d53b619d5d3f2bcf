//! Drains a pile-up of due tasks before apalis sees it.
//!
//! apalis-redis 1.0's `fetch_next.lua` promotes every due id of `<q>:scheduled` with one
//! `rpush(.., unpack(ids))`; past Lua's ~8,000-value limit that raises "too many results to
//! unpack", the worker dies, restarts and dies again: the queue is wedged for good. Any pile-up
//! does it (every worker stuck while cron keeps pushing, a burst of triggers). Every replica drains
//! on start and on each heartbeat, in chunks of 1,000, once more than 1,000 are due.

use std::sync::LazyLock;

use chrono::Utc;
use domain::JobKind;
use keyspace::RedisConn;
use redis::Script;
use settings::Settings;

use crate::enqueue::queue_config;

/// Moves one chunk of due tasks to the active list once more than a threshold are due
/// (`lua/drain_due.lua`).
static DRAIN_DUE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/drain_due.lua")));

/// Due tasks moved per call, and how many must be due before the drain moves any (fewer are
/// left to apalis' own promotion): far below Lua's limit on unpacked values.
const CHUNK: u64 = 1_000;

/// Drains a pile-up of due tasks in chunks; returns how many were moved. One round trip counts
/// the due tasks of every queue (`ZCOUNT`s in a pipeline, run on every heartbeat of every
/// replica, so an idle replica pays 7 cheap commands for it); the script runs only for a queue
/// past the threshold.
pub async fn drain_backlog(
    conn: &RedisConn,
    settings: &Settings,
) -> Result<u64, redis::RedisError> {
    let mut moved = 0;
    let mut conn = conn.clone();
    let now = Utc::now().timestamp();
    let configs: Vec<_> = JobKind::ALL
        .into_iter()
        .map(|kind| queue_config(settings, kind))
        .collect();
    let mut pipe = redis::pipe();
    for cfg in &configs {
        pipe.zcount(cfg.scheduled_jobs_set(), "-inf", now);
    }
    let due: Vec<u64> = pipe.query_async(&mut conn).await?;
    for (cfg, due) in configs.iter().zip(due) {
        if due <= CHUNK {
            continue;
        }
        loop {
            let n: u64 = DRAIN_DUE
                .key(cfg.scheduled_jobs_set())
                .key(cfg.active_jobs_list())
                .arg(Utc::now().timestamp())
                .arg(CHUNK)
                .arg(CHUNK)
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
