//! premium-spread's jobs: what the worker runs and what the API reads.
//!
//! - [`payload`]: the one job payload all three queues carry, with deterministic ids per tick.
//! - [`retry`]: exponential backoff with jitter (the formula is written there).
//! - [`keys`]: every Redis key name this system writes, in one place.
//! - [`queue`]: pushing jobs into the apalis-redis queues (dedup by task id) and manual triggers.
//! - [`records`]: job records (state, attempts, last error, timings) with O(page) listings.
//! - [`cache`]: the hot cache in Redis (latest tickers, FX, premiums, recent history).
//! - [`store`]: PostgreSQL history (migrations, batched inserts, OHLC queries, positions).
//! - [`ratelimit`]: a per-venue request limit shared by every replica.
//! - [`handlers`]: the bodies of `fetch-ticker`, `fetch-fx` and `compute-premium`, and
//!   [`runner`], which wraps them with records, timeouts and durable retries.
//! - [`janitor`]: removes finished job data after the retention window so Redis stays flat.

pub mod cache;
pub mod conn;
pub mod handlers;
pub mod janitor;
pub mod keys;
pub mod metrics_names;
pub mod payload;
pub mod positions;
pub mod queue;
pub mod ratelimit;
pub mod records;
pub mod retry;
pub mod runner;
pub mod store;

pub use conn::{RedisConn, connect_redis};
pub use keys::Keys;
pub use payload::Job;
pub use records::{JobRecord, JobState};
