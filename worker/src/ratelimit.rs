//! A request limit per venue shared by every replica: a fixed one-second window counter in
//! Redis (`{p}:rate:{venue}:{second}`). apalis' `.rate_limit()` is per worker, so N replicas
//! would send N times the limit; this counts all of them together.

use std::time::Duration;

use chrono::Utc;
use domain::Venue;

use keyspace::{Keys, RedisConn};
use queue::metrics_names;

#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("{venue} request budget exhausted for {waited_ms} ms")]
    Exhausted { venue: Venue, waited_ms: u64 },
}

#[derive(Clone)]
pub struct RateLimiter {
    conn: RedisConn,
    keys: Keys,
}

impl RateLimiter {
    pub fn new(conn: RedisConn, keys: Keys) -> Self {
        RateLimiter { conn, keys }
    }

    /// Takes one request from `venue`'s budget of `per_second`, waiting for the next second
    /// while this one is spent, for at most `max_wait`.
    pub async fn acquire(
        &self,
        venue: Venue,
        per_second: u32,
        max_wait: Duration,
    ) -> Result<(), RateLimitError> {
        let started = Utc::now();
        loop {
            let now = Utc::now();
            let second = now.timestamp();
            let key = self.keys.rate(venue, second);
            let (n,): (u32,) = redis::pipe()
                .incr(&key, 1)
                .expire(&key, 2)
                .ignore()
                .query_async(&mut self.conn.clone())
                .await?;
            if n <= per_second {
                return Ok(());
            }
            metrics::counter!(metrics_names::RATE_LIMIT_WAITS_TOTAL, "venue" => venue.as_str())
                .increment(1);
            let waited = (now - started).num_milliseconds().max(0) as u64;
            if waited >= max_wait.as_millis() as u64 {
                return Err(RateLimitError::Exhausted {
                    venue,
                    waited_ms: waited,
                });
            }
            let to_next = 1000 - now.timestamp_subsec_millis().min(999) as u64;
            tokio::time::sleep(Duration::from_millis(to_next + rand::random_range(0..20))).await;
        }
    }
}
