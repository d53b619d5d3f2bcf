//! Runs one job attempt with its record, timeout and retry decision.
//!
//! apalis-redis 1.0 retries a failed task linearly (1…25 s, cap hard-coded, `Retry-After`
//! ignored) and its in-process retry is lost when the process dies, so the handler owns the
//! decision and never returns an error to apalis:
//!
//! - success → record `done`;
//! - permanent error → record `failed`; retryable error after the last attempt → `dead`;
//! - retryable error with attempts left → wait `retry::delay` (≥ `Retry-After`): below one second
//!   the attempt is repeated in place (a `fetch-ticker` retry must land inside its 1 s cadence;
//!   if the process dies meanwhile, apalis' orphan recovery re-runs the task), otherwise the next
//!   attempt is pushed to Redis as the task `<id>~<n>` scheduled at that time, so it survives the
//!   death of this worker, and the record says `scheduled` with the next run time.
//!
//! A run costs Redis two round trips of its own: the claim (which also records `running`) and
//! the end (`lua/finish_job.lua`: the terminal or `scheduled` record, the last success, the
//! successor of a durable retry and the filing of the delivered task in the janitor's gc set,
//! one script). The task filed is the one apalis delivered (`<id>`, or `<id>~n` for a durable
//! retry's successor), not the attempt an in-place retry reached: apalis holds only that one,
//! and the janitor deletes its copy after the retention window.
//!
//! Fencing: each call of [`run`] (one delivery of a task) draws a run token and claims the record
//! with it ([`Fence::Claim`]: refused once the job has ended); every later write of that run (its
//! state changes, and the successor push, which the finish script makes only when the
//! `scheduled` write is accepted) requires the token to still be the record's ([`Fence::Own`]).
//! A worker that was stopped (SIGSTOP, a long GC-like stall) past its heartbeat window has its
//! task re-run by another worker, which takes the token; when the stopped one resumes, its
//! writes are refused and counted (`{p}:counters` `fenced_writes`, metric
//! `premium_fenced_writes_total`). A claim that Redis fails is tried again twice after a short
//! pause; if it still fails the run goes on unfenced (logged, `premium_unfenced_runs_total`),
//! since its fenced writes would all be refused for want of the token.
//!
//! Layout: this file holds the decisions ([`run`] and the record writes of a run);
//! `runner/effects.rs` is everything a run reads or changes outside its own memory (records,
//! queue, janitor, last success, clock, timers) as one trait, implemented by [`Enqueuer`];
//! `runner/fake.rs` is an in-memory implementation of it and `runner/tests.rs` the unit tests
//! that run the runner against it.

use std::{future::Future, panic::AssertUnwindSafe, time::Duration};

use domain::{FailureClass, JobState};
use futures::FutureExt;

use crate::{
    Enqueuer, Job,
    enqueue::{max_attempts, policy},
    metrics_names as m,
    records::{Fence, Transitioned, Update},
    retry,
};

pub(crate) mod effects;
#[cfg(test)]
mod failing_redis_tests;
#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use effects::{Effects, End};

/// Why an attempt failed, with what the retry decision needs. Handlers turn their own errors
/// into this; the runner adds timeouts and panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub class: FailureClass,
    /// Whether the same attempt may succeed later.
    pub retryable: bool,
    /// The upstream's `Retry-After`, a floor for the next wait.
    pub retry_after: Option<Duration>,
}

/// The body of a job: what the worker runs inside the runner. Returns a one-line summary of
/// what it did.
pub trait Handler: Send + Sync {
    fn execute(&self, job: &Job) -> impl Future<Output = Result<String, Failure>> + Send;
}

impl<T: Handler> Handler for std::sync::Arc<T> {
    fn execute(&self, job: &Job) -> impl Future<Output = Result<String, Failure>> + Send {
        self.as_ref().execute(job)
    }
}

/// Runs `job` to the end of this attempt (and its in-place retries). Never fails: every
/// outcome is recorded.
pub async fn run<H: Handler>(q: &Enqueuer, handler: &H, job: Job, worker: &str) {
    run_in(q, handler, job, worker).await;
}

/// How often a run tries to claim its record before it goes on unfenced, and the pauses
/// between the tries: a Redis blip (a failover, a dropped connection) should not cost the run
/// its fence, and a Redis that stays down should not hold the job.
const CLAIM_BACKOFF: [Duration; 2] = [Duration::from_millis(50), Duration::from_millis(250)];

/// [`run`] in the world `env`: the same decisions whether `env` is Redis or a test's fake.
pub(crate) async fn run_in<E: Effects, H: Handler>(env: &E, handler: &H, job: Job, worker: &str) {
    let s = env.settings();
    let max = max_attempts(s, &job);
    let policy = policy(s, job.kind);
    let token = ulid::Ulid::generate().to_string();
    // The task apalis delivered: an in-place retry runs later attempts in this same delivery,
    // and it is this task, not theirs, that apalis keeps and the janitor must collect.
    let delivered = job.clone();
    let mut w = Writer {
        env,
        fence: Fence::Claim(&token),
        max,
        delivered: &delivered,
    };
    let mut job = job;
    loop {
        let started = env.now();
        let started_ms = started.timestamp_millis();
        let mut update = Update {
            attempts: Some(job.attempt),
            started_ms: Some(started_ms),
            worker: Some(worker),
            count_run: true,
            next_run_ms: Some(None),
            ..Default::default()
        };
        let started_ok = if matches!(w.fence, Fence::Claim(_)) {
            w.claim(&job, update.clone()).await
        } else {
            w.record(&job, JobState::Running, update.clone(), "start")
                .await
        };
        if !started_ok {
            env.collect_later(&delivered).await;
            return;
        }
        if matches!(w.fence, Fence::Claim(_)) {
            w.fence = Fence::Own(&token);
        }
        update.count_run = false;
        update.started_ms = None;
        update.next_run_ms = None;

        let lag = started.timestamp() - job.tick;
        if !job.manual
            && job.attempt == 1
            && job.kind.dropped_when_late()
            && lag > s.worker.max_tick_lag_secs as i64
        {
            let msg = format!(
                "dropped: started {lag} s after its tick, more than worker.max_tick_lag_secs = {}",
                s.worker.max_tick_lag_secs
            );
            tracing::warn!(job = %job.id, "{msg}");
            w.finish(
                &job,
                JobState::Failed,
                Some((&msg, FailureClass::Late)),
                None,
            )
            .await;
            return;
        }

        let timeout_ms = s.worker.job_timeout_ms;
        let outcome = match env
            .timeout(
                Duration::from_millis(timeout_ms),
                AssertUnwindSafe(handler.execute(&job)).catch_unwind(),
            )
            .await
        {
            None => Err(Failure {
                message: format!("attempt timed out after {timeout_ms} ms"),
                class: FailureClass::AttemptTimeout,
                retryable: true,
                retry_after: None,
            }),
            Some(Err(panic)) => Err(Failure {
                message: format!("attempt panicked: {}", panic_message(&panic)),
                class: FailureClass::Panic,
                retryable: false,
                retry_after: None,
            }),
            Some(Ok(r)) => r,
        };
        let elapsed = (env.now() - started).to_std().unwrap_or_default();
        metrics::histogram!(m::JOB_SECONDS, "kind" => job.kind.as_str())
            .record(elapsed.as_secs_f64());

        let err = match outcome {
            Ok(summary) => {
                tracing::debug!(job = %job.id, attempt = job.attempt, %summary, "job done");
                w.finish(&job, JobState::Done, None, Some(&summary)).await;
                return;
            }
            Err(e) => e,
        };
        let msg = err.message;
        let class = err.class;
        if !err.retryable {
            tracing::warn!(job = %job.id, attempt = job.attempt, error = %msg, "job failed (permanent)");
            w.finish(&job, JobState::Failed, Some((&msg, class)), None)
                .await;
            return;
        }
        if job.attempt >= max {
            tracing::warn!(job = %job.id, attempt = job.attempt, error = %msg, "job dead after its last attempt");
            w.finish(&job, JobState::Dead, Some((&msg, class)), None)
                .await;
            return;
        }
        let delay = retry::delay(&policy, job.attempt, err.retry_after, &mut rand::rng());
        let next = job.next_attempt();
        let run_at = env.now() + chrono::Duration::from_std(delay).unwrap_or_default();
        metrics::counter!(m::JOBS_TOTAL, "kind" => job.kind.as_str(), "state" => "retried")
            .increment(1);
        update.last_error = Some(&msg);
        update.error_class = Some(class);
        if delay < Duration::from_secs(1) {
            update.next_run_ms = Some(Some(run_at.timestamp_millis()));
            if !w.record(&job, JobState::Scheduled, update, "retry").await {
                return;
            }
            tracing::info!(job = %job.id, attempt = job.attempt, ?delay, error = %msg, "retrying in place");
            env.sleep(delay).await;
            job = next;
            continue;
        }
        // apalis schedules in whole seconds, rounded up: that is when it will run. The record
        // says so and the successor is pushed in one script, fenced: a run that is no longer
        // current pushes no successor, and no crash can fall between the two.
        let at_ms = crate::enqueue::ceil_secs(run_at) as i64 * 1000;
        update.next_run_ms = Some(Some(at_ms));
        let end = End {
            delivered: &delivered,
            success: false,
            successor: Some((&next, run_at)),
        };
        match w.end(&job, JobState::Scheduled, update, end).await {
            Ok(Transitioned::Applied(_)) => {
                tracing::info!(job = %job.id, attempt = job.attempt, ?delay, error = %msg, "retry scheduled");
            }
            Ok(Transitioned::Fenced) => fenced(&job, "retry"),
            Err(e) => {
                // Redis refused the script (nothing of it was written): the job cannot
                // continue; say so.
                let msg = format!("{msg}; the retry could not be queued: {e}");
                w.finish(&job, JobState::Dead, Some((&msg, class)), None)
                    .await;
            }
        }
        return;
    }
}

/// What every record write of one run shares: its world, the run's fence, its attempt cap and
/// the task apalis delivered to it.
struct Writer<'a, E> {
    env: &'a E,
    fence: Fence<'a>,
    max: u32,
    delivered: &'a Job,
}

impl<E> Clone for Writer<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Writer<'_, E> {}

impl<'a, E: Effects> Writer<'a, E> {
    /// Moves the job's record to `state`; false when the fence refused it (this run is no
    /// longer the job's current one). A Redis error is logged and counts as written: the run
    /// goes on, since a record that could not be written is no reason to stop the job.
    async fn record(
        self,
        job: &Job,
        state: JobState,
        update: Update<'_>,
        what: &'static str,
    ) -> bool {
        let now_ms = self.env.now().timestamp_millis();
        match self
            .env
            .write_record(job, self.max, state, now_ms, update, self.fence)
            .await
        {
            Ok(Transitioned::Applied(_)) => true,
            Ok(Transitioned::Fenced) => {
                fenced(job, what);
                false
            }
            Err(e) => {
                tracing::warn!(job = %job.id, %state, error = %e, "could not record the job's state");
                true
            }
        }
    }

    /// Claims the record for this run and records it `running` (one write); false when the
    /// fence refused it (the job has ended). A Redis error is retried after [`CLAIM_BACKOFF`];
    /// when every try failed the run goes on without a fence (`self.fence` becomes
    /// [`Fence::None`]) and says so: with the claim unwritten, a fenced write would be refused
    /// for want of the token and the run would end `abandoned`, or its retry never be pushed.
    async fn claim(&mut self, job: &Job, update: Update<'_>) -> bool {
        let mut pauses = CLAIM_BACKOFF.iter();
        loop {
            let now_ms = self.env.now().timestamp_millis();
            let r = self
                .env
                .write_record(
                    job,
                    self.max,
                    JobState::Running,
                    now_ms,
                    update.clone(),
                    self.fence,
                )
                .await;
            match r {
                Ok(Transitioned::Applied(_)) => return true,
                Ok(Transitioned::Fenced) => {
                    fenced(job, "start");
                    return false;
                }
                Err(e) => match pauses.next() {
                    Some(pause) => {
                        tracing::warn!(job = %job.id, error = %e, ?pause, "could not claim the job's record; trying again");
                        self.env.sleep(*pause).await;
                    }
                    None => {
                        tracing::error!(job = %job.id, error = %e, "could not claim the job's record; running it unfenced");
                        metrics::counter!(m::UNFENCED_RUNS_TOTAL, "kind" => job.kind.as_str())
                            .increment(1);
                        self.fence = Fence::None;
                        return true;
                    }
                },
            }
        }
    }

    /// The last write of the run (see [`Effects::finish`]).
    async fn end(
        self,
        job: &Job,
        state: JobState,
        update: Update<'_>,
        end: End<'_>,
    ) -> Result<Transitioned, crate::QueueError> {
        let now_ms = self.env.now().timestamp_millis();
        self.env
            .finish(job, self.max, state, now_ms, update, self.fence, end)
            .await
    }

    /// Records the end of the job, with its last success, and files the delivered task for
    /// collection: one write. When Redis fails it, the task is still handed to the janitor.
    async fn finish(
        self,
        job: &Job,
        state: JobState,
        error: Option<(&str, FailureClass)>,
        summary: Option<&str>,
    ) {
        let now = self.env.now();
        metrics::counter!(m::JOBS_TOTAL, "kind" => job.kind.as_str(), "state" => state.as_str())
            .increment(1);
        let update = Update {
            finished_ms: Some(now.timestamp_millis()),
            last_error: error.map(|(e, _)| e),
            error_class: error.map(|(_, c)| c),
            summary,
            ..Default::default()
        };
        let end = End {
            delivered: self.delivered,
            success: state == JobState::Done,
            successor: None,
        };
        match self.end(job, state, update, end).await {
            Ok(Transitioned::Applied(_)) => {
                if state == JobState::Done {
                    metrics::gauge!(m::LAST_SUCCESS, "kind" => job.kind.as_str())
                        .set(now.timestamp() as f64);
                }
            }
            Ok(Transitioned::Fenced) => fenced(job, "finish"),
            Err(e) => {
                tracing::warn!(job = %job.id, %state, error = %e, "could not record the end of the job");
                self.env.collect_later(self.delivered).await;
            }
        }
    }
}

/// A write of a run that is no longer the job's current one was refused.
fn fenced(job: &Job, what: &'static str) {
    tracing::warn!(job = %job.id, attempt = job.attempt, what, "a newer run of this job owns its record; this run's write was ignored");
    metrics::counter!(m::FENCED_WRITES_TOTAL, "kind" => job.kind.as_str(), "what" => what)
        .increment(1);
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
