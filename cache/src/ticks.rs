//! The hand-off between a tick's `fetch-ticker` jobs and its `compute-premium`: each fetch,
//! when it finished (prices cached, or failed), adds its venue to the tick's set
//! (`{p}:tick-fetched:{tick}`); the one that completes the set pushes the tick's ready signal
//! (`{p}:tick-ready:{tick}`), on which `compute-premium` blocks (`BLPOP` with the time left
//! until its deadline) instead of polling. Both keys live 10 s.
//!
//! Two fetches that finish at once may both see the set complete and both push: the second
//! element is never popped and expires with the list. A fetch retried after the set completed
//! pushes again, harmlessly for the same reason.

use std::time::Duration;

use domain::Venue;
use keyspace::RedisConn;

use crate::Cache;

/// How long the tick's set and signal live (a tick's computation waits well under a second).
const TICK_KEYS_SECS: i64 = 10;

impl Cache {
    /// Records that `venue`'s fetch of `tick` finished; when the set then holds `venues` venues,
    /// pushes the tick's ready signal. Returns whether this call pushed it.
    pub async fn tick_fetched(
        &self,
        tick: i64,
        venue: Venue,
        venues: usize,
    ) -> Result<bool, redis::RedisError> {
        let set = self.keys.tick_fetched(tick);
        let mut conn = self.conn.clone();
        let (_, _, fetched): (i64, i64, usize) = redis::pipe()
            .sadd(&set, venue.as_str())
            .expire(&set, TICK_KEYS_SECS)
            .scard(&set)
            .query_async(&mut conn)
            .await?;
        if fetched < venues {
            return Ok(false);
        }
        let ready = self.keys.tick_ready(tick);
        redis::pipe()
            .rpush(&ready, 1)
            .ignore()
            .expire(&ready, TICK_KEYS_SECS)
            .ignore()
            .exec_async(&mut conn)
            .await?;
        Ok(true)
    }

    /// Blocks (`BLPOP` on `conn`, which must be a connection of its own: a blocked connection
    /// serves nobody else) until every venue of `tick` is fetched or `wait` has passed. Returns
    /// whether they all were.
    pub async fn wait_for_tick(
        &self,
        conn: &mut RedisConn,
        tick: i64,
        wait: Duration,
    ) -> Result<bool, redis::RedisError> {
        // Whole milliseconds: a timeout Redis rounds down to 0 would block forever.
        let ms = wait.as_millis();
        if ms == 0 {
            return Ok(false);
        }
        let popped: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(self.keys.tick_ready(tick))
            .arg(format!("{}.{:03}", ms / 1000, ms % 1000))
            .query_async(conn)
            .await?;
        Ok(popped.is_some())
    }
}
