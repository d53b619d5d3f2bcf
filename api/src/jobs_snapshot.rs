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
    })
}
