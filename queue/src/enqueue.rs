//! Pushing jobs into the apalis-redis queues.
//!
//! A push is one script (`lua/push_jobs.lua`): it writes each task exactly as apalis-redis'
//! own push does (`lua/push_task.lua`: `HSETNX <q>:data` is the dedup, then the meta hash and
//! the schedule entry; `tests/apalis_contract.rs` compares the two and has an apalis worker run
//! what it pushed), creates the job's record only when the task is new, and publishes the wake
//! of the kind's workers when the task is due now; it says which tasks were new. A cron tick
//! pushes all of its jobs in one call ([`Enqueuer::push_all`]). Why the project writes its own
//! scripts over apalis-redis' layout rather than calling its push: docs/adr/0026.
//!
//! # Cancel safety of triggers and retries
//!
//! A manual trigger is two Redis steps (the [`CLAIM_TRIGGER`] script claims the trigger key
//! and records the job as queued, then the push script stores and queues the task) and a
//! retry is three (read, move the record, push); they are not fused (yet). Instead:
//!
//! - [`Enqueuer::trigger`] and [`Enqueuer::retry`] run their steps in a `tokio::spawn`ed task
//!   that the caller only awaits. A request that times out or is dropped (client gone, API
//!   timeout) stops waiting but does not stop the steps: they finish, and leave a queued job.
//! - What is left is a crash (or a Redis failure whose clean-up also failed) between the steps:
//!   a `queued` record with no apalis task. The trigger script treats such a record as dead once
//!   it is [`ORPHAN_GRACE_MS`] old and its task id has no entry in the queue's `<q>:data` hash:
//!   it marks it `failed` (class `queue`, with a message saying why) and queues the new job, so
//!   a later trigger never answers `conflict: true` with an id that will never run. A retry
//!   likewise accepts such a record. The grace period keeps a trigger whose push is still in
//!   flight from being declared dead by a concurrent one.

use std::{sync::LazyLock, time::Duration};

use apalis_redis::Config;
use chrono::{DateTime, Utc};
use domain::{FailureClass, JobKind, JobState, Venue};
use redis::Script;
use settings::{RetryPolicy, Settings};

use keyspace::{Keys, RedisConn};

use crate::{
    Job,
    records::{JobRecord, Records, Update},
};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("apalis-redis: {0}")]
    Apalis(#[from] apalis_redis::Error),
    #[error("job payload: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("job `{0}` not found")]
    NotFound(String),
    #[error("job `{id}` is {state}; only failed or dead jobs can be retried")]
    NotRetryable { id: String, state: JobState },
    #[error("queue task: {0}")]
    Task(String),
}

/// How old a `queued` record without an apalis task must be before a trigger or retry treats it
/// as left behind by a crash between steps (see the module doc). The steps normally take a
/// few milliseconds.
pub const ORPHAN_GRACE_MS: i64 = 2_000;

/// What the record of a job whose task was never pushed says.
const ORPHAN_ERROR: &str =
    "never queued: its task is missing (the trigger or retry stopped between its steps)";

/// The apalis-redis configuration of a kind's queue, shared by the worker (which consumes it)
/// and every process that pushes into it. The queue name is always set explicitly: apalis would
/// otherwise name it after the Rust type.
pub fn queue_config(settings: &Settings, kind: JobKind) -> Config {
    let keys = Keys::new(&settings.redis_prefix);
    Config::default()
        .queue(keys.queue(kind))
        .batch_size(settings.worker.concurrency.max(1))
        .heartbeat_interval(Duration::from_millis(settings.worker.heartbeat_ms))
        .missed_heartbeats(settings.worker.missed_heartbeats as usize)
        // Nobody subscribes to apalis' per-task pub/sub events; they only cost Redis work.
        .emit_events(false)
        // The per-task lock only marks apalis' own status "Running" (which nothing here reads:
        // job records are ours) at the cost of an LREM over the whole active list per task,
        // which makes throughput fall as the backlog grows (bench/README.md has the figures).
        // Crash recovery does not depend on it: fetched tasks sit in the worker's in-flight set
        // and are re-queued when its heartbeat stops (tested with kill -9 in
        // tests/it/processes.rs).
        .lock_tasks(false)
}

/// The retry policy of a kind.
pub fn policy(settings: &Settings, kind: JobKind) -> RetryPolicy {
    match kind {
        JobKind::FetchTicker => settings.retry.fetch_ticker,
        JobKind::FetchFx => settings.retry.fetch_fx,
        JobKind::ComputePremium => settings.retry.compute_premium,
        JobKind::RefreshMarkets => settings.retry.refresh_markets,
        JobKind::DeliverAlert => settings.retry.deliver_alert,
        JobKind::MaintainHistory => settings.retry.maintain_history,
        JobKind::RollupHistory => settings.retry.rollup_history,
    }
}

/// Attempts allowed for `job`.
pub fn max_attempts(settings: &Settings, job: &Job) -> u32 {
    if job.max_attempts > 0 {
        job.max_attempts
    } else {
        policy(settings, job.kind).max_attempts
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    New,
    Duplicate,
}

/// Result of a manual trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triggered {
    pub id: String,
    /// True when a job of that kind was already queued or running and its id is returned.
    pub conflict: bool,
}

/// Claims a manual trigger of a kind atomically: returns the id of a queued, scheduled or
/// running job of the same trigger key, or records the new job as queued and returns ''. A
/// queued job whose apalis task is missing and that was last updated at or before the orphan
/// cut-off is marked failed first (see the module doc) and does not block the trigger. Keys and
/// arguments are documented in `lua/claim_trigger.lua`.
static CLAIM_TRIGGER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/index.lua"),
        include_str!("lua/task_id.lua"),
        include_str!("lua/claim_trigger.lua"),
    ))
});

/// Pushes tasks with their records and wakes in one round trip (`lua/push_jobs.lua`, which
/// documents its keys and arguments; the task is written as apalis-redis' own push writes it,
/// see `lua/push_task.lua`).
static PUSH_JOBS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/index.lua"),
        include_str!("lua/push_task.lua"),
        include_str!("lua/push_jobs.lua"),
    ))
});

/// Pushes jobs and triggers; cheap to clone.
#[derive(Clone)]
pub struct Enqueuer {
    conn: RedisConn,
    settings: std::sync::Arc<Settings>,
    records: Records,
    keys: Keys,
}

impl Enqueuer {
    pub fn new(conn: RedisConn, settings: std::sync::Arc<Settings>) -> Self {
        let keys = Keys::new(&settings.redis_prefix);
        let records = Records::new(
            conn.clone(),
            keys.clone(),
            settings.retention.job_records_secs,
        );
        Enqueuer {
            conn,
            settings,
            records,
            keys,
        }
    }

    pub fn records(&self) -> &Records {
        &self.records
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A handle on the shared connection (cheap: a clone of the connection manager).
    pub fn conn(&self) -> RedisConn {
        self.conn.clone()
    }

    /// The arguments with which a script writes the apalis task of `job` (this attempt) as
    /// `lua/push_task.lua` does: task id, payload, run time in unix seconds (`run_at` rounded up,
    /// never before now, as apalis' own push), apalis max_attempts (1: apalis never retries,
    /// the runner decides).
    pub(crate) fn task_args(
        job: &Job,
        run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(String, Vec<u8>, u64, u32), QueueError> {
        let at = run_at
            .map_or(0, ceil_secs)
            .max(now.timestamp().max(0) as u64);
        Ok((job.task_id(), serde_json::to_vec(job)?, at, 1))
    }

    /// Pushes the apalis task of `job` (this attempt) without touching its record (a trigger's
    /// or a re-run's, whose record its caller wrote). A duplicate task id is reported, not
    /// pushed again. `run_at` is rounded up to whole seconds (apalis schedules in seconds), so a
    /// job never runs before it.
    pub async fn push_task(
        &self,
        job: &Job,
        run_at: Option<DateTime<Utc>>,
    ) -> Result<PushOutcome, QueueError> {
        let out = self.push_jobs(&[(job, run_at, false)]).await?;
        Ok(out[0])
    }

    /// Pushes a first attempt and records it as queued when it is new: one round trip.
    pub async fn push(&self, job: &Job) -> Result<PushOutcome, QueueError> {
        let out = self.push_jobs(&[(job, None, true)]).await?;
        Ok(out[0])
    }

    /// [`Enqueuer::push`] of several jobs (of any kinds) in one round trip, as a cron tick
    /// pushes its jobs; one outcome per job, in order.
    pub async fn push_all(&self, jobs: &[Job]) -> Result<Vec<PushOutcome>, QueueError> {
        let jobs: Vec<_> = jobs.iter().map(|j| (j, None, true)).collect();
        self.push_jobs(&jobs).await
    }

    /// One run of [`PUSH_JOBS`]: each job's task (due at its time), its record when `record`
    /// is set and the task is new, and the wake of its kind's workers when it is due now.
    async fn push_jobs(
        &self,
        jobs: &[(&Job, Option<DateTime<Utc>>, bool)],
    ) -> Result<Vec<PushOutcome>, QueueError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let mut inv = PUSH_JOBS.prepare_invoke();
        inv.arg(self.keys.prefix())
            .arg(now.timestamp_millis())
            .arg(now.timestamp());
        for (job, run_at, record) in jobs {
            let cfg = queue_config(&self.settings, job.kind);
            let (tid, payload, at, apalis_max) = Self::task_args(job, *run_at, now)?;
            inv.key(cfg.job_data_hash())
                .key(format!("{}:{tid}", cfg.job_meta_hash()))
                .key(cfg.scheduled_jobs_set())
                .key(self.keys.job(&job.id));
            inv.arg(tid)
                .arg(payload)
                .arg(at)
                .arg(apalis_max)
                .arg(if *record { "1" } else { "0" })
                .arg(&job.id)
                .arg(job.kind.as_str())
                .arg(job.tick)
                .arg(job.venue.map(|v| v.to_string()).unwrap_or_default())
                .arg(if job.manual { "1" } else { "0" })
                .arg(job.attempt)
                .arg(max_attempts(&self.settings, job));
        }
        for (job, _, _) in jobs {
            inv.arg(self.keys.wake_channel(job.kind));
        }
        let pushed: Vec<i64> = inv.invoke_async(&mut self.conn.clone()).await?;
        Ok(pushed
            .into_iter()
            .map(|n| {
                if n == 1 {
                    PushOutcome::New
                } else {
                    PushOutcome::Duplicate
                }
            })
            .collect())
    }

    /// Manual trigger of a kind (the ops use case: re-run FX now). A second trigger while the
    /// first is queued, scheduled or running returns the first id with `conflict: true`.
    ///
    /// Cancel-safe: the steps run in a spawned task (see the module doc), so dropping this
    /// future leaves either nothing or a queued job.
    pub async fn trigger(
        &self,
        kind: JobKind,
        venue: Option<Venue>,
    ) -> Result<Triggered, QueueError> {
        let this = self.clone();
        tokio::spawn(async move { this.trigger_steps(kind, venue, true).await })
            .await
            .map_err(|e| QueueError::Task(e.to_string()))?
    }

    /// Fault injection for tests: runs only the first step of a trigger (the claim that records
    /// the job as queued) and stops, as a crash between the steps would. Nothing in the
    /// services calls it.
    #[doc(hidden)]
    pub async fn trigger_claim_only_for_tests(
        &self,
        kind: JobKind,
        venue: Option<Venue>,
    ) -> Result<Triggered, QueueError> {
        self.trigger_steps(kind, venue, false).await
    }

    async fn trigger_steps(
        &self,
        kind: JobKind,
        venue: Option<Venue>,
        push: bool,
    ) -> Result<Triggered, QueueError> {
        let now = Utc::now();
        let job = Job::manual(kind, venue, now);
        let max = max_attempts(&self.settings, &job);
        let trigger_key = match venue {
            Some(v) => format!("{}:{v}", self.keys.trigger(kind)),
            None => self.keys.trigger(kind),
        };
        let now_ms = now.timestamp_millis();
        let mut inv = CLAIM_TRIGGER.key(trigger_key);
        inv.key(self.keys.job(&job.id))
            .key(queue_config(&self.settings, kind).job_data_hash())
            .arg(self.keys.prefix())
            .arg(&job.id)
            .arg(kind.as_str())
            .arg(now_ms)
            .arg(600)
            .arg(now_ms - ORPHAN_GRACE_MS)
            .arg(self.settings.retention.job_records_secs)
            .arg(ORPHAN_ERROR);
        for (k, v) in [
            ("id", job.id.clone()),
            ("kind", kind.as_str().to_string()),
            ("venue", venue.map(|v| v.to_string()).unwrap_or_default()),
            ("tick", job.tick.to_string()),
            ("manual", "1".into()),
            ("state", "queued".into()),
            ("attempts", "1".into()),
            ("max_attempts", max.to_string()),
            ("runs", "0".into()),
            ("created_ms", now_ms.to_string()),
            ("updated_ms", now_ms.to_string()),
        ] {
            inv.arg(k).arg(v);
        }
        let existing: String = inv.invoke_async(&mut self.conn.clone()).await?;
        if !existing.is_empty() {
            return Ok(Triggered {
                id: existing,
                conflict: true,
            });
        }
        if push && let Err(e) = self.push_task(&job, None).await {
            let msg = format!("could not be queued: {e}");
            let _ = self
                .records
                .transition(
                    &job,
                    max,
                    JobState::Failed,
                    Utc::now().timestamp_millis(),
                    Update {
                        last_error: Some(&msg),
                        error_class: Some(FailureClass::Queue),
                        ..Default::default()
                    },
                )
                .await;
            return Err(e);
        }
        Ok(Triggered {
            id: job.id,
            conflict: false,
        })
    }

    /// Re-runs a failed or dead job as one more series of attempts under the same id. A queued
    /// job whose task is missing (left by a crash between steps, see the module doc) is
    /// retried too.
    ///
    /// Cancel-safe: the steps run in a spawned task that the caller only awaits.
    pub async fn retry(&self, id: &str) -> Result<JobRecord, QueueError> {
        let this = self.clone();
        let id = id.to_string();
        tokio::spawn(async move { this.retry_steps(&id).await })
            .await
            .map_err(|e| QueueError::Task(e.to_string()))?
    }

    /// True when `rec` is queued but its apalis task does not exist and it is older than the
    /// grace period: a trigger or retry stopped between its steps.
    async fn is_orphan(&self, rec: &JobRecord) -> Result<bool, QueueError> {
        if rec.state != JobState::Queued
            || rec.updated_ms > Utc::now().timestamp_millis() - ORPHAN_GRACE_MS
        {
            return Ok(false);
        }
        let cfg = queue_config(&self.settings, rec.kind);
        let exists: bool = redis::cmd("HEXISTS")
            .arg(cfg.job_data_hash())
            .arg(crate::payload::task_id(&rec.id, rec.attempts))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(!exists)
    }

    async fn retry_steps(&self, id: &str) -> Result<JobRecord, QueueError> {
        let rec = self
            .records
            .get(id)
            .await?
            .ok_or_else(|| QueueError::NotFound(id.to_string()))?;
        if !matches!(rec.state, JobState::Failed | JobState::Dead) && !self.is_orphan(&rec).await? {
            return Err(QueueError::NotRetryable {
                id: id.to_string(),
                state: rec.state,
            });
        }
        let attempt = rec.attempts + 1;
        let job = Job {
            id: rec.id.clone(),
            kind: rec.kind,
            venue: rec.venue,
            tick: rec.tick,
            attempt,
            manual: true,
            max_attempts: rec.attempts + policy(&self.settings, rec.kind).max_attempts,
        };
        let now_ms = Utc::now().timestamp_millis();
        // One script: the record shows the new state, attempt and max_attempts of the new
        // series together.
        self.records
            .transition(
                &job,
                job.max_attempts,
                JobState::Queued,
                now_ms,
                Update {
                    attempts: Some(attempt),
                    max_attempts: Some(job.max_attempts),
                    next_run_ms: Some(None),
                    ..Default::default()
                },
            )
            .await?;
        self.push_task(&job, None).await?;
        self.records
            .get(id)
            .await?
            .ok_or_else(|| QueueError::NotFound(id.to_string()))
    }

    /// Queue depth of a kind: due or scheduled tasks plus tasks waiting in the active list.
    pub async fn depth(&self, kind: JobKind) -> Result<(u64, u64), QueueError> {
        let cfg = queue_config(&self.settings, kind);
        let (scheduled, active): (u64, u64) = redis::pipe()
            .zcard(cfg.scheduled_jobs_set())
            .llen(cfg.active_jobs_list())
            .query_async(&mut self.conn.clone())
            .await?;
        Ok((scheduled, active))
    }
}

/// Unix seconds, rounded up.
pub fn ceil_secs(at: DateTime<Utc>) -> u64 {
    let ms = at.timestamp_millis().max(0) as u64;
    ms.div_ceil(1000)
}
