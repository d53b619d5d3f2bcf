//! The job system as read from Redis at one moment ([`JobsSnapshot`]): per kind, the records'
//! states, the queue's depth, the last success and the missed cron ticks; the workers alive; the
//! history spool's counters. The job stats operation, readiness and `/metrics` all read it.

use std::collections::HashMap;

use domain::{JobKind, JobState};

use crate::{
    deadline::{Service, io, timed, unavailable},
    error::ApiError,
    state::AppState,
};

/// A worker whose heartbeat is older than this is not counted as alive.
pub const WORKER_ALIVE_MS: i64 = 5_000;

/// Everything read from Redis about the job system at one moment; shared by the stats
/// operation, readiness and `/metrics`.
pub(crate) struct JobsSnapshot {
    pub kinds: Vec<KindSnapshot>,
    pub workers_alive: u64,
    /// `history_rows_lost:{table}` counters.
    pub history_rows_lost: Vec<(String, u64)>,
    /// `history_rows_spooled:{table}` and `history_rows_replayed:{table}` counters.
    pub history_rows_spooled: Vec<(String, u64)>,
    pub history_rows_replayed: Vec<(String, u64)>,
    /// Batches waiting in the history spool.
    pub history_spool_entries: u64,
    /// Since when the cron sources run (the first replica's start), Unix ms.
    pub schedules_since_ms: Option<i64>,
}

pub(crate) struct KindSnapshot {
    pub kind: JobKind,
    pub counts: Vec<(JobState, u64)>,
    pub scheduled: u64,
    pub active: u64,
    pub last_success_ms: Option<i64>,
    pub missed_ticks: u64,
}

pub(crate) async fn jobs_snapshot(state: &AppState, now_ms: i64) -> Result<JobsSnapshot, ApiError> {
    let keys = &state.keys;
    let mut conn = state.conn.clone();
    let (last, counters, workers, spool): (HashMap<String, i64>, HashMap<String, u64>, u64, u64) =
        io(
            Service::Redis,
            redis::pipe()
                .hgetall(keys.last_success())
                .hgetall(keys.counters())
                .zcount(keys.workers(), now_ms - WORKER_ALIVE_MS, "+inf")
                .cmd("XLEN")
                .arg(keys.history_spool())
                .query_async(&mut conn),
        )
        .await?;
    let mut kinds = Vec::new();
    for kind in JobKind::ALL {
        let (counts, depth) = timed(Service::Redis, async {
            tokio::join!(state.records.counts(Some(kind)), state.enqueuer.depth(kind))
        })
        .await?;
        let counts = counts.map_err(|e| unavailable(Service::Redis, e))?;
        let (scheduled, active) = depth.map_err(|e| unavailable(Service::Redis, e))?;
        kinds.push(KindSnapshot {
            kind,
            counts,
            scheduled,
            active,
            last_success_ms: last.get(kind.as_str()).copied(),
            missed_ticks: counters
                .get(&format!("missed_ticks:{kind}"))
                .copied()
                .unwrap_or(0),
        });
    }
    let per_table = |prefix: &str| {
        let mut v: Vec<(String, u64)> = counters
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|t| (t.to_string(), *v)))
            .collect();
        v.sort();
        v
    };
    Ok(JobsSnapshot {
        kinds,
        workers_alive: workers,
        history_rows_lost: per_table("history_rows_lost:"),
        history_rows_spooled: per_table("history_rows_spooled:"),
        history_rows_replayed: per_table("history_rows_replayed:"),
        history_spool_entries: spool,
        schedules_since_ms: counters
            .get(keyspace::Keys::SCHEDULES_SINCE)
            .and_then(|v| i64::try_from(*v).ok()),
    })
}

/// How long after a fire time a kind's run may still be on its way before the kind is late:
/// its own interval, at least 10 s (a per-second kind late by a few ticks is a hiccup), at most
/// 2 minutes (an hourly run that has not finished 2 minutes after its time is late).
fn grace_ms(every_ms: i64) -> i64 {
    every_ms.clamp(10_000, 120_000)
}

/// `kind` against its own schedule at `now_ms`: (its interval, whether it is late). Late when a
/// fire time older than the grace has no success at or after it; a kind that never succeeded
/// only once such a fire time came after the schedules started (`since_ms`). A kind without a
/// schedule (`deliver-alert`, on demand) is never late.
pub(crate) fn against_schedule(
    settings: &settings::Settings,
    kind: JobKind,
    last_success_ms: Option<i64>,
    since_ms: Option<i64>,
    now_ms: i64,
) -> (Option<i64>, bool) {
    let Some(now) = chrono::DateTime::from_timestamp_millis(now_ms) else {
        return (None, false);
    };
    let Some(every) = settings.schedule.cadence(kind, now).map(|c| c.every_ms) else {
        return (None, false);
    };
    let Some(due) = settings
        .schedule
        .cadence(kind, now - chrono::Duration::milliseconds(grace_ms(every)))
        .map(|c| c.last_due.timestamp_millis())
    else {
        return (Some(every), false);
    };
    let late = match (last_success_ms, since_ms) {
        (Some(ok), _) => ok < due,
        (None, Some(since)) => since <= due,
        (None, None) => false,
    };
    (Some(every), late)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn each_kind_is_late_only_against_its_own_schedule() {
        let s = settings::Settings::default();
        // 2026-01-05 10:30:20 UTC; maintain-history fires at :07, refresh-markets at :00.
        let now = 1_767_609_020_000;
        let (every, late) =
            against_schedule(&s, JobKind::MaintainHistory, None, Some(now - 60_000), now);
        assert_eq!(
            (every, late),
            (Some(HOUR), false),
            "fresh start, not due since"
        );
        let (_, late) = against_schedule(&s, JobKind::MaintainHistory, None, Some(now - HOUR), now);
        assert!(
            late,
            "10:07 passed with the schedules running and no success"
        );
        let (_, late) = against_schedule(
            &s,
            JobKind::RefreshMarkets,
            Some(now - 20 * 60_000),
            None,
            now,
        );
        assert!(!late, "succeeded after 10:00");
        let (_, late) = against_schedule(
            &s,
            JobKind::RefreshMarkets,
            Some(now - 50 * 60_000),
            None,
            now,
        );
        assert!(late, "last success before 10:00");
        let (every, late) =
            against_schedule(&s, JobKind::FetchTicker, Some(now - 3_000), None, now);
        assert_eq!((every, late), (Some(1_000), false));
        let (_, late) = against_schedule(&s, JobKind::FetchTicker, Some(now - 15_000), None, now);
        assert!(late);
        assert_eq!(
            against_schedule(&s, JobKind::DeliverAlert, None, Some(0), now),
            (None, false)
        );
    }
}
