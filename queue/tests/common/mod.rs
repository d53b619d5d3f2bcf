//! What the queue's Redis tests share: the Redis they use and a fresh key prefix per test,
//! removed when the test ends, pass or fail. Each test binary uses part of it.
#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use domain::JobKind;
use keyspace::RedisConn;
use queue::{Enqueuer, queue_config};
use settings::Settings;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379/";
/// apalis' global list of queues (not under the test's prefix).
pub const QUEUES_LIST: &str = "core:apalis:queues:list";

/// Deletes every key of the test's prefix and its queues' registrations in apalis' global
/// list, even when the test panics.
pub struct Cleanup {
    pub settings: Arc<Settings>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(REDIS_URL) else {
            return;
        };
        let Ok(mut c) = client.get_connection() else {
            return;
        };
        let pattern = format!("{}:*", self.settings.redis_prefix);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query(&mut c)
            .unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query(&mut c);
        }
        for kind in JobKind::ALL {
            let workers = queue_config(&self.settings, kind).workers_set();
            let _: Result<(), _> = redis::cmd("ZREM")
                .arg(QUEUES_LIST)
                .arg(workers)
                .query(&mut c);
        }
    }
}

/// Settings under a fresh prefix `<group>-<name>-<ulid>` (changed by `tune`), a connection and
/// an enqueuer on them, and the clean-up of that prefix.
pub async fn setup(
    group: &str,
    name: &str,
    tune: impl FnOnce(&mut Settings),
) -> (Arc<Settings>, RedisConn, Enqueuer, Cleanup) {
    let mut s = Settings {
        redis_url: REDIS_URL.into(),
        redis_prefix: format!("{group}-{name}-{}", ulid::Ulid::generate()),
        ..Settings::default()
    };
    tune(&mut s);
    let settings = Arc::new(s);
    let cleanup = Cleanup {
        settings: settings.clone(),
    };
    let conn = keyspace::connect_redis(REDIS_URL, Duration::from_secs(5))
        .await
        .expect("Redis on 127.0.0.1:6379");
    let enqueuer = Enqueuer::new(conn.clone(), settings.clone());
    (settings, conn, enqueuer, cleanup)
}
