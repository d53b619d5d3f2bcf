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
