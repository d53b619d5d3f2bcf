//! What a run of a job reads and changes outside its own memory, as one trait ([`Effects`]): the
//! settings, the clock and timers, the job's record, the queue (the successor of a durable
//! retry), the janitor and the last-success hash. The runner is written against it so that its
//! decisions can be tested against an in-memory fake (`runner/fake.rs`); [`Enqueuer`] is the
//! real one, on Redis and tokio time.

use std::{future::Future, time::Duration};

use chrono::{DateTime, Utc};
use domain::{JobKind, JobState};
use redis::AsyncCommands;
use settings::Settings;

use crate::{
    Enqueuer, Job, PushOutcome, QueueError, janitor,
    records::{Fence, Transitioned, Update},
};

/// The outside world of one run. Every method is one step the runner takes; none decides
/// anything.
pub(crate) trait Effects: Send + Sync {
    fn settings(&self) -> &Settings;

    /// The wall clock: attempt start, record times, the time a successor is due.
    fn now(&self) -> DateTime<Utc>;

    /// Moves `job`'s record to `state` if `fence` allows it ([`crate::Records::transition_fenced`]).
    fn write_record(
        &self,
        job: &Job,
        max_attempts: u32,
        state: JobState,
        now_ms: i64,
        update: Update<'_>,
        fence: Fence<'_>,
    ) -> impl Future<Output = Result<Transitioned, redis::RedisError>> + Send;

    /// Pushes the task of `job` (the next attempt of a durable retry), due at `run_at`.
    fn push_successor(
        &self,
        job: &Job,
        run_at: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<PushOutcome, QueueError>> + Send;

    /// Hands the task of `job` (this attempt) to the janitor, which deletes apalis' copy after
    /// the retention window.
    fn collect_later(&self, job: &Job) -> impl Future<Output = ()> + Send;

    /// Records `at` as the last success of `kind` (readiness reads it). Best effort.
    fn record_last_success(
        &self,
        kind: JobKind,
        at: DateTime<Utc>,
    ) -> impl Future<Output = ()> + Send;

    /// Waits `d` (the pause before an in-place retry).
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send;

    /// Runs `f` for at most `d`; `None` when it ran out of time (the attempt timeout).
    fn timeout<F>(&self, d: Duration, f: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send;
}

/// The real world: records and the queue in Redis, tokio time, the system clock.
impl Effects for Enqueuer {
    fn settings(&self) -> &Settings {
        Enqueuer::settings(self)
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn write_record(
        &self,
        job: &Job,
        max_attempts: u32,
        state: JobState,
        now_ms: i64,
        update: Update<'_>,
        fence: Fence<'_>,
    ) -> Result<Transitioned, redis::RedisError> {
        self.records()
            .transition_fenced(job, max_attempts, state, now_ms, update, fence)
            .await
    }

    async fn push_successor(
        &self,
        job: &Job,
        run_at: Option<DateTime<Utc>>,
    ) -> Result<PushOutcome, QueueError> {
        self.push_task(job, run_at).await
    }

    async fn collect_later(&self, job: &Job) {
        janitor::collect_later(self, job).await;
    }

    async fn record_last_success(&self, kind: JobKind, at: DateTime<Utc>) {
        let _: Result<(), _> = self
            .conn()
            .hset(
                self.keys().last_success(),
                kind.as_str(),
                at.timestamp_millis(),
            )
            .await;
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    async fn timeout<F>(&self, d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        tokio::time::timeout(d, f).await.ok()
    }
}
