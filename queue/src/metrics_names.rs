//! Metric names, in one place so the docs, the alert rules and the code agree.

pub const FETCH_TOTAL: &str = "premium_fetch_total";
pub const FETCH_ERRORS_TOTAL: &str = "premium_fetch_errors_total";
pub const FETCH_SECONDS: &str = "premium_fetch_duration_seconds";
pub const JOBS_TOTAL: &str = "premium_jobs_total";
pub const JOB_SECONDS: &str = "premium_job_duration_seconds";
pub const QUEUE_DEPTH: &str = "premium_queue_depth";
pub const MISSED_TICKS_TOTAL: &str = "premium_missed_ticks_total";
pub const DUPLICATE_PUSHES_TOTAL: &str = "premium_duplicate_pushes_total";
pub const PREMIUM_RATE: &str = "premium_rate_percent";
pub const USDT_PREMIUM_RATE: &str = "premium_usdt_rate_percent";
pub const PREMIUM_SKIPPED_TOTAL: &str = "premium_skipped_total";
/// Cached values (tickers, FX, premiums, …) that were present but did not decode (label `kind`):
/// read as absent, so a type change that breaks the cache shows here, not as silent skips.
pub const CACHE_DECODE_ERRORS_TOTAL: &str = "premium_cache_decode_errors_total";
pub const FX_RATE: &str = "premium_usd_krw";
pub const LAST_SUCCESS: &str = "premium_last_success_timestamp_seconds";
pub const HISTORY_WRITE_FAILURES_TOTAL: &str = "premium_history_write_failures_total";
pub const HISTORY_ROWS_LOST_TOTAL: &str = "premium_history_rows_lost_total";
/// History rows put in the Redis spool because PostgreSQL could not take them (label `table`).
pub const HISTORY_ROWS_SPOOLED_TOTAL: &str = "premium_history_rows_spooled_total";
/// Spooled history rows written to PostgreSQL by the replay (label `table`).
pub const HISTORY_ROWS_REPLAYED_TOTAL: &str = "premium_history_rows_replayed_total";
/// Batches waiting in the history spool (as seen by the replica that last looked).
pub const HISTORY_SPOOL_ENTRIES: &str = "premium_history_spool_entries";
pub const RATE_LIMIT_WAITS_TOTAL: &str = "premium_rate_limit_waits_total";
/// Writes of a job run that was no longer the current one (refused by the record's fence).
pub const FENCED_WRITES_TOTAL: &str = "premium_fenced_writes_total";
/// Runs whose claim Redis kept failing, which went on without a fence (runner.rs says why).
pub const UNFENCED_RUNS_TOTAL: &str = "premium_unfenced_runs_total";
/// Job records moved to `abandoned` by the janitor.
pub const JOBS_ABANDONED_TOTAL: &str = "premium_jobs_abandoned_total";
/// A venue's clock minus ours (median over its last ticker batch), milliseconds.
pub const VENUE_CLOCK_SKEW_MS: &str = "premium_venue_clock_skew_ms";
/// Listings in force per venue (every status).
pub const MARKETS_LISTED: &str = "premium_markets_listed";
/// (coin, pair) combinations tracked after the last registry refresh.
pub const TRACKED_PAIRS: &str = "premium_tracked_pairs";
/// Refreshes of a venue's market list that failed or were refused (the last good list stayed).
pub const MARKETS_REFRESH_FAILURES_TOTAL: &str = "premium_markets_refresh_failures_total";
/// Alert rules that fired (a crossing committed in Redis with its delivery job).
pub const ALERTS_FIRED_TOTAL: &str = "premium_alerts_fired_total";
/// Alert delivery attempts by target (`webhook`, `telegram`) and outcome (`delivered`,
/// `retrying`, `failed`, `dead`).
pub const ALERT_DELIVERIES_TOTAL: &str = "premium_alert_deliveries_total";
