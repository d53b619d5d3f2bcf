//! `rollup-history(tick)`: the raw premium rows of the minutes closed before the tick into
//! `premium_1m`, and their hours into `premium_1h` (from the minute rows). Every minute by cron
//! (`schedule.rollup`, 5 s past the minute); the job id is the tick, so N replicas make one job.
//! At least the two last closed minutes: rows of a tick computed late (up to
//! `worker.max_tick_lag_secs`) land in the next run. Further back when the catch-up mark
//! (`{p}:history:rolled-until`) says minutes were never rolled (no worker ran, runs failed):
//! then from the mark, at most [`CATCH_UP_MINUTES`] per run, so a long gap is caught up over the
//! next runs without one huge statement. Idempotent (`INSERT … ON CONFLICT DO UPDATE` from
//! everything there is): a retry, a manual run, or the spool's replay rolling the same minute
//! again is harmless.

use chrono::{DateTime, TimeZone, Utc};
use queue::Job;
use redis::AsyncCommands;

use super::context::{Ctx, JobError, JobResult};

/// Minutes rolled by every run at least: the ones closed before its tick.
pub const TRAILING_MINUTES: i64 = 2;
/// Minutes one run rolls at most when it catches up from the mark.
pub const CATCH_UP_MINUTES: i64 = 60;
/// How far back the mark is followed; older minutes stay unrolled (their raw rows are gone
/// after `retention.raw_hours` anyway).
pub const CATCH_UP_HORIZON_HOURS: i64 = 48;

/// The range `[start, end)` a run at the minute `now` (whole minutes) rolls, given the mark.
pub fn window(now: DateTime<Utc>, mark: Option<DateTime<Utc>>) -> (DateTime<Utc>, DateTime<Utc>) {
    let trailing = now - chrono::Duration::minutes(TRAILING_MINUTES);
    match mark {
        Some(m) if m < trailing => {
            let start = m.max(now - chrono::Duration::hours(CATCH_UP_HORIZON_HOURS));
            let end = (start + chrono::Duration::minutes(CATCH_UP_MINUTES)).min(now);
            (start, end)
        }
        _ => (trailing, now),
    }
}

pub async fn run(ctx: &Ctx, job: &Job) -> JobResult {
    let tick = if job.manual {
        Utc::now()
    } else {
        Utc.timestamp_opt(job.tick, 0)
            .single()
            .unwrap_or_else(Utc::now)
    };
    let now = Utc
        .timestamp_opt(tick.timestamp().div_euclid(60) * 60, 0)
        .single()
        .unwrap_or(tick);
    let key = ctx.keys.history_rolled_until();
    let mut conn = ctx.conn.clone();
    // Unreadable (Redis failing over): the trailing minutes only, as without a mark.
    let mark: Option<i64> = conn.get(&key).await.unwrap_or(None);
    let mark = mark.and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    let (start, end) = window(now, mark);
    let (minutes, hours) = ctx
        .store
        .rollup(start, end)
        .await
        .map_err(JobError::Store)?;
    // The mark only moves forward (a manual run at an older time does not pull it back).
    if mark.is_none_or(|m| end > m)
        && let Err(e) = conn.set::<_, _, ()>(&key, end.timestamp_millis()).await
    {
        tracing::warn!(error = %e, "the rollup mark was not saved; the next run rolls the trailing minutes again");
    }
    Ok(format!(
        "rolled {} – {}: {minutes} minute rows, {hours} hour rows",
        start.format("%Y-%m-%d %H:%M"),
        end.format("%H:%M")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn without_a_gap_a_run_rolls_the_two_last_closed_minutes() {
        let now = t("2030-01-01T10:00:00Z");
        let two = (t("2030-01-01T09:58:00Z"), now);
        assert_eq!(window(now, None), two);
        assert_eq!(window(now, Some(t("2030-01-01T09:59:00Z"))), two);
        assert_eq!(window(now, Some(t("2030-01-01T09:58:00Z"))), two);
    }

    #[test]
    fn after_a_gap_runs_catch_up_from_the_mark_an_hour_at_a_time() {
        let now = t("2030-01-01T10:00:00Z");
        assert_eq!(
            window(now, Some(t("2030-01-01T09:40:00Z"))),
            (t("2030-01-01T09:40:00Z"), now)
        );
        assert_eq!(
            window(now, Some(t("2030-01-01T06:00:00Z"))),
            (t("2030-01-01T06:00:00Z"), t("2030-01-01T07:00:00Z"))
        );
        // Not beyond the horizon.
        assert_eq!(
            window(now, Some(t("2029-12-01T00:00:00Z"))),
            (t("2029-12-30T10:00:00Z"), t("2029-12-30T11:00:00Z"))
        );
    }
}
