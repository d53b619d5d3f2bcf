//! `maintain-history(tick)`: history partitions created ahead (today + 3 days) and dropped
//! whole at each tier's retention boundary (`retention.raw_hours`, `minute_days`, `hour_days`).
//! Hourly by cron (`schedule.history`), manual by the trigger endpoint; never in the heartbeat
//! loop. Its statements run under `retention.maintain_timeout_ms` (statement and lock timeout),
//! so a drop that would wait behind a long insert gives up and the next run tries again.

use std::time::Duration;

use chrono::Utc;
use queue::Job;

use super::context::{Ctx, JobError, JobResult};

pub fn tiers(s: &settings::Settings) -> store::Tiers {
    store::Tiers {
        raw_hours: s.retention.raw_hours,
        minute_days: s.retention.minute_days,
        hour_days: s.retention.hour_days,
    }
}

pub async fn run(ctx: &Ctx, _job: &Job) -> JobResult {
    let s = &ctx.settings;
    let done = ctx
        .store
        .maintain_history(
            Utc::now(),
            tiers(s),
            Duration::from_millis(s.retention.maintain_timeout_ms),
        )
        .await
        .map_err(JobError::Store)?;
    if !done.dropped.is_empty() {
        tracing::info!(dropped = ?done.dropped, "history partitions dropped at retention");
    }
    Ok(format!(
        "{} partitions created, {} dropped{}",
        done.created,
        done.dropped.len(),
        if done.dropped.is_empty() {
            String::new()
        } else {
            format!(" ({})", done.dropped.join(", "))
        }
    ))
}
