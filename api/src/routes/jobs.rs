//! The job queue as the API shows it: records by id, listings, stats per kind, manual triggers
//! and retries.

use chrono::Utc;
use domain::JobState;
use domain::{JobKind, Venue};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use queue::{JobRecord, QueueError, Triggered, records::valid_cursor};

use crate::{
    auth::AdminAuth,
    deadline::{Service, io, timed, unavailable},
    error::{ApiError, ErrorCode},
    jobs_snapshot::{against_schedule, jobs_snapshot},
    routes::tags::ApiTags,
    state::AppState,
    tracked::enabled_venue,
    wire::{JobKindName, JobStateName, Time, VenueName},
};

pub use crate::jobs_snapshot::WORKER_ALIVE_MS;

/// One job: all its attempts under one id.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobView {
    /// `fetch-fx:1763800200` (cron tick) or `fetch-fx:manual:<ulid>` (manual trigger).
    pub id: String,
    pub kind: JobKindName,
    /// The venue of a fetch-ticker job.
    pub venue: Option<VenueName>,
    /// Nominal tick (unix seconds); for manual jobs the trigger time.
    pub tick: i64,
    /// Triggered by an operator rather than by cron.
    pub manual: bool,
    pub state: JobStateName,
    /// The attempt running or last run (1-based).
    pub attempts: u32,
    pub max_attempts: u32,
    /// Attempts started, re-runs after a dead worker included.
    pub runs: u32,
    pub last_error: Option<String>,
    /// Class of the last error (`timeout`, `http_5xx`, `rate_limited`, `permanent`, …).
    pub error_class: Option<String>,
    /// When the pending retry runs (state `scheduled`).
    pub next_retry_at: Option<Time>,
    pub created_at: Option<Time>,
    pub updated_at: Option<Time>,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    /// `finished_at − started_at`, milliseconds.
    pub duration_ms: Option<i64>,
    /// The worker process that ran the last attempt.
    pub worker: Option<String>,
    /// What the last successful run did, e.g. `5 tickers from upbit, 0 rejected`.
    pub summary: Option<String>,
}

impl From<JobRecord> for JobView {
    fn from(r: JobRecord) -> Self {
        let duration_ms = match (r.started_ms, r.finished_ms) {
            (Some(s), Some(f)) => Some(f - s),
            _ => None,
        };
        JobView {
            id: r.id,
            kind: r.kind.into(),
            venue: r.venue.map(VenueName::from),
            tick: r.tick,
            manual: r.manual,
            state: r.state.into(),
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            runs: r.runs,
            last_error: r.last_error,
            error_class: r.error_class,
            next_retry_at: r.next_run_ms.and_then(Time::from_ms),
            created_at: Time::from_ms(r.created_ms),
            updated_at: Time::from_ms(r.updated_ms),
            started_at: r.started_ms.and_then(Time::from_ms),
            finished_at: r.finished_ms.and_then(Time::from_ms),
            duration_ms,
            worker: r.worker,
            summary: r.summary,
        }
    }
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobPage {
    /// Newest first.
    pub items: Vec<JobView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Records per state (within the retention window).
#[derive(Debug, Default, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct StateCounts {
    pub queued: u64,
    pub scheduled: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
    pub dead: u64,
    /// Never finished: no run was alive past the abandon bound.
    pub abandoned: u64,
}

/// Tasks in a kind's apalis queue.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct QueueDepth {
    /// Due or scheduled tasks (retries with backoff included).
    pub scheduled: u64,
    /// Tasks waiting in the active list.
    pub active: u64,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct KindStats {
    pub kind: JobKindName,
    pub counts: StateCounts,
    pub queue: QueueDepth,
    pub last_success_at: Option<Time>,
    /// Milliseconds since the last success.
    pub last_success_age_ms: Option<i64>,
    /// Cron ticks never produced (every replica was down or late), since the counters began.
    pub missed_ticks: u64,
    /// The interval of the kind's schedule (`schedule.*`), e.g. 1000 for every second,
    /// 3600000 hourly; absent for `deliver-alert`, which runs on demand.
    pub every_ms: Option<i64>,
    /// Late against its own schedule: a fire time older than the grace (its interval, 10 s to
    /// 2 min) has no success at or after it; a kind that never succeeded is late only once such a
    /// fire time came after the workers' schedules started. Never for `deliver-alert`.
    pub late: bool,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobStats {
    pub as_of: Time,
    pub kinds: Vec<KindStats>,
    /// Worker processes with a heartbeat in the last 5 s.
    pub workers_alive: u64,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TriggerView {
    pub id: String,
    /// True when a job of that kind (and venue) was already queued or running: its id is
    /// returned and nothing new is queued.
    pub conflict: bool,
}

#[derive(ApiResponse)]
pub enum JobResponse {
    #[oai(status = 200)]
    Ok(Json<JobView>),
}

#[derive(ApiResponse)]
pub enum JobPageResponse {
    #[oai(status = 200)]
    Ok(Json<JobPage>),
}

#[derive(ApiResponse)]
pub enum JobStatsResponse {
    #[oai(status = 200)]
    Ok(Json<JobStats>),
}

#[derive(ApiResponse)]
pub enum TriggerResponse {
    /// Queued (or already queued: `conflict: true`).
    #[oai(status = 202)]
    Accepted(Json<TriggerView>),
}

#[derive(ApiResponse)]
pub enum RetryResponse {
    /// Queued again under the same id, as one more series of attempts.
    #[oai(status = 202)]
    Accepted(Json<JobView>),
}

fn parse_kind(raw: &str) -> Result<JobKind, ApiError> {
    raw.parse::<JobKind>()
        .map_err(|e| ApiError::new(ErrorCode::UnknownJobKind, e))
}

fn default_limit() -> u32 {
    50
}

fn job_not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::JobNotFound,
        format!("job `{id}` not found (records are kept for the retention window)"),
    )
}

pub struct JobsApi;

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobsApi {
    /// List jobs, newest first
    ///
    /// Filtered by kind and state, one page at a time (O(page) in Redis). Pass `next_cursor`
    /// back as `cursor` for the next page.
    #[oai(path = "/api/v1/jobs", method = "get", operation_id = "list_jobs")]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Only jobs of this kind.
        kind: Query<Option<JobKindName>>,
        /// Only jobs in this state.
        #[oai(name = "state")]
        job_state: Query<Option<JobStateName>>,
        /// Page size, 1 to 200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
        /// `next_cursor` of the previous page.
        #[oai(validator(pattern = r"^[0-9]+:.+$"))]
        cursor: Query<Option<String>>,
    ) -> Result<JobPageResponse, ApiError> {
        if let Some(c) = cursor.0.as_deref()
            && !valid_cursor(c)
        {
            return Err(ApiError::bad_request(format!(
                "cursor `{c}` is not a cursor this API returned (expected `<score>:<id>`)"
            )));
        }
        let page = io(
            Service::Redis,
            state.records.list(
                kind.0.map(JobKind::from),
                job_state.0.map(JobState::from),
                limit.0 as usize,
                cursor.0.as_deref(),
            ),
        )
        .await?;
        Ok(JobPageResponse::Ok(Json(JobPage {
            items: page.items.into_iter().map(JobView::from).collect(),
            next_cursor: page.next_cursor,
        })))
    }

    /// Job statistics per kind
    ///
    /// Records per state, queue depth, last success and missed cron ticks per kind, and the
    /// number of live worker processes.
    #[oai(
        path = "/api/v1/jobs/stats",
        method = "get",
        operation_id = "job_stats"
    )]
    async fn stats(&self, state: Data<&AppState>) -> Result<JobStatsResponse, ApiError> {
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let snap = jobs_snapshot(&state, now_ms).await?;
        let since = snap.schedules_since_ms;
        let kinds = snap
            .kinds
            .into_iter()
            .map(|k| {
                let (every_ms, late) =
                    against_schedule(&state.settings, k.kind, k.last_success_ms, since, now_ms);
                let mut counts = StateCounts::default();
                for (s, n) in k.counts {
                    match s {
                        JobState::Queued => counts.queued = n,
                        JobState::Scheduled => counts.scheduled = n,
                        JobState::Running => counts.running = n,
                        JobState::Done => counts.done = n,
                        JobState::Failed => counts.failed = n,
                        JobState::Dead => counts.dead = n,
                        JobState::Abandoned => counts.abandoned = n,
                    }
                }
                KindStats {
                    kind: k.kind.into(),
                    counts,
                    queue: QueueDepth {
                        scheduled: k.scheduled,
                        active: k.active,
                    },
                    last_success_at: k.last_success_ms.and_then(Time::from_ms),
                    last_success_age_ms: k
                        .last_success_ms
                        .map(|ms| (now.timestamp_millis() - ms).max(0)),
                    missed_ticks: k.missed_ticks,
                    every_ms,
                    late,
                }
            })
            .collect();
        Ok(JobStatsResponse::Ok(Json(JobStats {
            as_of: now.into(),
            kinds,
            workers_alive: snap.workers_alive,
        })))
    }

    /// One job by id
    ///
    /// State, attempts, last error and its class, next retry time, timings and summary.
    #[oai(path = "/api/v1/jobs/:id", method = "get", operation_id = "get_job")]
    async fn get(
        &self,
        state: Data<&AppState>,
        /// Job id, e.g. `fetch-fx:1763800200`.
        id: Path<String>,
    ) -> Result<JobResponse, ApiError> {
        match io(Service::Redis, state.records.get(&id.0)).await? {
            Some(r) => Ok(JobResponse::Ok(Json(r.into()))),
            None => Err(job_not_found(&id.0)),
        }
    }

    /// Run a job now (admin)
    ///
    /// Queues a manual job of a kind. While one is queued or running, a second trigger returns
    /// its id with `conflict: true` instead of queueing another. `fetch-ticker` needs `venue`.
    #[oai(
        path = "/api/v1/jobs/:kind/trigger",
        method = "post",
        operation_id = "trigger_job"
    )]
    async fn trigger(
        &self,
        state: Data<&AppState>,
        _admin: AdminAuth,
        /// fetch-ticker, fetch-fx or compute-premium.
        kind: Path<String>,
        /// The venue to fetch (fetch-ticker only, required there).
        venue: Query<Option<String>>,
    ) -> Result<TriggerResponse, ApiError> {
        let s = &state.settings;
        let kind = parse_kind(&kind.0)?;
        let venue: Option<Venue> = venue
            .0
            .as_deref()
            .map(|v| enabled_venue(s, v))
            .transpose()?;
        match (kind, venue) {
            (JobKind::DeliverAlert, _) => {
                return Err(ApiError::bad_request(
                    "kind: deliver-alert jobs are enqueued when an alert rule fires; \
                     retry a failed one with POST /api/v1/jobs/{id}/retry",
                ));
            }
            (JobKind::FetchTicker, None) => {
                let names: Vec<&str> = s.venues.iter().map(|v| v.as_str()).collect();
                return Err(ApiError::bad_request(format!(
                    "fetch-ticker needs `venue`, one of: {}",
                    names.join(", ")
                )));
            }
            (
                JobKind::FetchFx
                | JobKind::ComputePremium
                | JobKind::RefreshMarkets
                | JobKind::MaintainHistory
                | JobKind::RollupHistory,
                Some(_),
            ) => {
                return Err(ApiError::bad_request(format!(
                    "`venue` applies to fetch-ticker only, not {kind}"
                )));
            }
            _ => {}
        }
        let Triggered { id, conflict } =
            io(Service::Redis, state.enqueuer.trigger(kind, venue)).await?;
        tracing::info!(%kind, ?venue, %id, conflict, "manual trigger");
        Ok(TriggerResponse::Accepted(Json(TriggerView {
            id,
            conflict,
        })))
    }

    /// Retry a failed or dead job (admin)
    ///
    /// Queues the job again under the same id with a fresh allowance of attempts. Jobs in any
    /// other state answer 409.
    #[oai(
        path = "/api/v1/jobs/:id/retry",
        method = "post",
        operation_id = "retry_job"
    )]
    async fn retry(
        &self,
        state: Data<&AppState>,
        _admin: AdminAuth,
        /// Job id.
        id: Path<String>,
    ) -> Result<RetryResponse, ApiError> {
        match timed(Service::Redis, state.enqueuer.retry(&id.0)).await? {
            Ok(r) => {
                tracing::info!(id = %r.id, "manual retry");
                Ok(RetryResponse::Accepted(Json(r.into())))
            }
            Err(QueueError::NotFound(_)) => Err(job_not_found(&id.0)),
            Err(e @ QueueError::NotRetryable { .. }) => {
                Err(ApiError::new(ErrorCode::JobNotRetryable, e.to_string()))
            }
            Err(e) => Err(unavailable(Service::Redis, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kinds_are_not_found() {
        let e = parse_kind("fetch-everything").unwrap_err();
        assert_eq!(e.body().code, ErrorCode::UnknownJobKind);
        assert_eq!(parse_kind("fetch-fx").unwrap(), JobKind::FetchFx);
    }
}
