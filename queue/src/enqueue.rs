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
//! # Triggers and re-runs: one script each
//!
//! A manual trigger is one script ([`CLAIM_TRIGGER`], `lua/claim_trigger.lua`): it claims the
//! trigger key (or answers with the job holding it, writing nothing), records the job as queued,
//! writes its apalis task and publishes the wake. A re-run ([`Enqueuer::retry`]) reads the record
//! to build the next attempt's payload, then one script ([`RERUN_JOB`], `lua/rerun_job.lua`)
//! checks the record is still failed or dead at the attempt read, moves it to queued with the
//! new series of attempts, writes the task `<id>~<n>` and publishes the wake. No state exists
//! in which a record says queued and its task was never written, so nothing has to guess
//! whether a push is still in flight.
//!
//! Both still run in a `tokio::spawn`ed task that the caller only awaits, so a request that
//! times out or is dropped (client gone, API timeout) after it started still takes effect, as
//! before; what it leaves is always whole.
//!
//! Legacy orphans: versions before these scripts (docs/adr/0026) wrote the record and the task
//! in separate round trips, and a crash between them left a `queued` record without a task. Such
//! a record, written by an older replica during a rolling deploy, is still recognised: once it
//! is [`ORPHAN_GRACE_MS`] old and its task id has no entry in the queue's `<q>:data` hash, a
//! trigger marks it `failed` (class `queue`, with a message saying why) instead of answering
//! `conflict: true` with an id that will never run, and a re-run accepts it. The grace period
//! keeps an older replica's push still in flight from being declared dead.

use std::{sync::LazyLock, time::Duration};

use apalis_redis::Config;
use chrono::{DateTime, Utc};
use domain::{JobKind, JobState, Venue};
use redis::Script;
use settings::{RetryPolicy, Settings};

use keyspace::{Keys, RedisConn};

use crate::{
    Job,
    records::{Fence, JobRecord, Records, Update},
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
/// as left behind by an older version's crash between its steps (see the module doc). Those
/// steps normally took a few milliseconds.
pub const ORPHAN_GRACE_MS: i64 = 2_000;

/// What the record of a job whose task was never pushed says.
const ORPHAN_ERROR: &str = "never queued: its task is missing (an older version's trigger or retry stopped between its steps)";

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

/// A manual trigger in one round trip: returns the id of a queued, scheduled or running job of
/// the same trigger key, or records the new job as queued, writes its task, wakes the kind's
/// workers and returns ''. A legacy orphan holding the key is marked failed first (see the
/// module doc). Keys and arguments are documented in `lua/claim_trigger.lua`.
static CLAIM_TRIGGER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/index.lua"),
        include_str!("lua/task_id.lua"),
        include_str!("lua/push_task.lua"),
        include_str!("lua/claim_trigger.lua"),
    ))
});

/// A re-run in one round trip: checks the record, moves it to queued with the new series of
/// attempts, writes the task of the next attempt and wakes the kind's workers
/// (`lua/rerun_job.lua`, which documents its keys, arguments and answers).
static RERUN_JOB: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/index.lua"),
        include_str!("lua/task_id.lua"),
        include_str!("lua/record_write.lua"),
        include_str!("lua/push_task.lua"),
        include_str!("lua/rerun_job.lua"),
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

    /// Pushes the apalis task of `job` (this attempt) without touching its record (tests and
    /// tools that write the record themselves). A duplicate task id is reported, not pushed
    /// again. `run_at` is rounded up to whole seconds (apalis schedules in seconds), so a job
    /// never runs before it.
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
    /// One script (see the module doc), run in a spawned task so that dropping this future
    /// after it started still leaves the queued job.
    pub async fn trigger(
        &self,
        kind: JobKind,
        venue: Option<Venue>,
    ) -> Result<Triggered, QueueError> {
        let this = self.clone();
        tokio::spawn(async move { this.trigger_script(kind, venue).await })
            .await
            .map_err(|e| QueueError::Task(e.to_string()))?
    }

    async fn trigger_script(
        &self,
        kind: JobKind,
        venue: Option<Venue>,
    ) -> Result<Triggered, QueueError> {
        let now = Utc::now();
        let job = Job::manual(kind, venue, now);
        let max = max_attempts(&self.settings, &job);
        let trigger_key = match venue {
            Some(v) => format!("{}:{v}", self.keys.trigger(kind)),
            None => self.keys.trigger(kind),
        };
        let cfg = queue_config(&self.settings, kind);
        let (tid, payload, at, apalis_max) = Self::task_args(&job, None, now)?;
        let now_ms = now.timestamp_millis();
        let mut inv = CLAIM_TRIGGER.key(trigger_key);
        inv.key(self.keys.job(&job.id))
            .key(cfg.job_data_hash())
            .key(format!("{}:{tid}", cfg.job_meta_hash()))
            .key(cfg.scheduled_jobs_set())
            .arg(self.keys.prefix())
            .arg(&job.id)
            .arg(kind.as_str())
            .arg(now_ms)
            .arg(600)
            .arg(now_ms - ORPHAN_GRACE_MS)
            .arg(self.settings.retention.job_records_secs)
            .arg(ORPHAN_ERROR)
            .arg(payload)
            .arg(at)
            .arg(apalis_max)
            .arg(self.keys.wake_channel(kind));
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
        Ok(Triggered {
            id: job.id,
            conflict: false,
        })
    }

    /// Re-runs a failed or dead job as one more series of attempts under the same id (a legacy
    /// orphan too, see the module doc). Returns the record as the re-run wrote it.
    ///
    /// One read and one script (see the module doc), run in a spawned task that the caller only
    /// awaits.
    pub async fn retry(&self, id: &str) -> Result<JobRecord, QueueError> {
        let this = self.clone();
        let id = id.to_string();
        tokio::spawn(async move { this.rerun(&id).await })
            .await
            .map_err(|e| QueueError::Task(e.to_string()))?
    }

    async fn rerun(&self, id: &str) -> Result<JobRecord, QueueError> {
        // A concurrent re-run between the read and the script moves the attempt on: read again
        // (the script then answers that the record is queued, as a second click deserves).
        for _ in 0..3 {
            let rec = self
                .records
                .get(id)
                .await?
                .ok_or_else(|| QueueError::NotFound(id.to_string()))?;
            if let Some(done) = self.rerun_script(rec).await? {
                return Ok(done);
            }
        }
        Err(QueueError::Task(format!(
            "job `{id}` kept changing under its re-run"
        )))
    }

    /// One run of [`RERUN_JOB`] for the record `rec` as read; `None` when the record's attempt
    /// moved since that read.
    async fn rerun_script(&self, rec: JobRecord) -> Result<Option<JobRecord>, QueueError> {
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
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let cfg = queue_config(&self.settings, rec.kind);
        let (tid, payload, at, apalis_max) = Self::task_args(&job, None, now)?;
        let mut inv = RERUN_JOB.key(self.keys.job(&rec.id));
        inv.key(self.keys.counters())
            .key(cfg.job_data_hash())
            .key(format!("{}:{tid}", cfg.job_meta_hash()))
            .key(cfg.scheduled_jobs_set())
            .arg(rec.attempts)
            .arg(now_ms - ORPHAN_GRACE_MS)
            .arg(tid)
            .arg(payload)
            .arg(at)
            .arg(apalis_max)
            .arg(self.keys.wake_channel(rec.kind));
        self.records.transition_args(
            &mut inv,
            &job,
            job.max_attempts,
            JobState::Queued,
            now_ms,
            &Update {
                attempts: Some(attempt),
                max_attempts: Some(job.max_attempts),
                next_run_ms: Some(None),
                ..Default::default()
            },
            Fence::None,
        );
        let answer: String = inv.invoke_async(&mut self.conn.clone()).await?;
        match answer.as_str() {
            // The fields the script wrote, on the record it checked.
            "!ok" => Ok(Some(JobRecord {
                state: JobState::Queued,
                attempts: attempt,
                max_attempts: job.max_attempts,
                next_run_ms: None,
                updated_ms: now_ms,
                ..rec
            })),
            "!moved" => Ok(None),
            "" => Err(QueueError::NotFound(rec.id)),
            state => Err(QueueError::NotRetryable {
                id: rec.id,
                state: state.parse().map_err(|_| {
                    QueueError::Task(format!("unexpected answer of the re-run script: {state}"))
                })?,
            }),
        }
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
