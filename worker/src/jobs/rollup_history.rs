//! `rollup-history(tick)`: the raw premium rows of the two minutes closed before the tick into
//! `premium_1m`, and their hour into `premium_1h` (from the minute rows). Every minute by cron
//! (`schedule.rollup`, 5 s past the minute); the job id is the tick, so N replicas make one job.
//! Two minutes, not one: rows of a tick computed late (up to `worker.max_tick_lag_secs`) land in
//! the next run. Idempotent (`INSERT … ON CONFLICT DO UPDATE` from everything there is): a
//! retry, a manual run, or the spool's replay rolling the same minute again is harmless.

use chrono::{TimeZone, Utc};
use queue::Job;

use super::{Ctx, JobError, JobResult};

/// Minutes rolled by each run: the ones closed before its tick.
pub const TRAILING_MINUTES: i64 = 2;

pub async fn run(ctx: &Ctx, job: &Job) -> JobResult {
    let tick = if job.manual {
        Utc::now()
    } else {
        Utc.timestamp_opt(job.tick, 0)
            .single()
            .unwrap_or_else(Utc::now)
    };
    let end = Utc
        .timestamp_opt(tick.timestamp().div_euclid(60) * 60, 0)
        .single()
        .unwrap_or(tick);
    let start = end - chrono::Duration::minutes(TRAILING_MINUTES);
    let (minutes, hours) = ctx
        .store
        .rollup(start, end)
        .await
        .map_err(JobError::Store)?;
    Ok(format!(
        "rolled {} – {}: {minutes} minute rows, {hours} hour rows",
        start.format("%H:%M"),
        end.format("%H:%M")
    ))
}
