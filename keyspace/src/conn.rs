//! Redis connections with timeouts that suit this workload.
//!
//! `apalis_redis::connect` keeps redis-rs's 500 ms response timeout, which turns one slow Redis
//! reply into a fatal worker-stream error (apalis-redis issue #76); we build the
//! `ConnectionManager` ourselves.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub type RedisConn = ConnectionManager;

/// Connects to Redis, failing within `connect_timeout` when it does not answer.
pub async fn connect_redis(
    url: &str,
    response_timeout: Duration,
) -> Result<RedisConn, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let cfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    tokio::time::timeout(
        Duration::from_secs(3),
        client.get_connection_manager_with_config(cfg),
    )
    .await
    .map_err(|_| {
        redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out connecting to Redis",
        ))
    })?
}
