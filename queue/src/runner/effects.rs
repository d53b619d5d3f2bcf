//! What a run of a job reads and changes outside its own memory, as one trait ([`Effects`]): the
//! settings, the clock and timers, the job's record, the end of the run (its last record write
//! with the last success, the successor of a durable retry and the collection of the delivered
//! task, all in one script) and the janitor. The runner is written against it so that its
//! decisions can be tested against an in-memory fake (`runner/fake.rs`); [`Enqueuer`] is the
//! real one, on Redis and tokio time.

use std::{future::Future, sync::LazyLock, time::Duration};

use chrono::{DateTime, Utc};
use domain::JobState;
use redis::Script;
use settings::Settings;

use crate::{
    Enqueuer, Job, QueueError,
    enqueue::queue_config,
    janitor,
    records::{Fence, Transitioned, Update},
};

/// The last write of a run (`lua/finish_job.lua`, which documents its keys and arguments).
static FINISH_JOB: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("../lua/index.lua"),
        include_str!("../lua/record_write.lua"),
        include_str!("../lua/push_task.lua"),
        include_str!("../lua/finish_job.lua"),
    ))
});

/// What the last write of a run does besides moving the record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct End<'a> {
    /// The job as apalis delivered it to this run: its task is the one filed for collection,
    /// whatever attempt the run reached by retrying in place.
    pub delivered: &'a Job,
    /// Record the kind's last success (when the record write is applied).
    pub success: bool,
    /// A durable retry: the next attempt's task, due at that time (pushed only when the record
    /// write is applied).
    pub successor: Option<(&'a Job, DateTime<Utc>)>,
}

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

    /// The last write of a run, atomically: `write_record` and what `end` asks for. On an error
    /// nothing was written.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        job: &Job,
        max_attempts: u32,
        state: JobState,
        now_ms: i64,
        update: Update<'_>,
        fence: Fence<'_>,
        end: End<'_>,
    ) -> impl Future<Output = Result<Transitioned, QueueError>> + Send;

    /// Hands the task of `job` (as delivered) to the janitor, which deletes apalis' copy after
    /// the retention window: for the runs that end without [`Effects::finish`].
    fn collect_later(&self, job: &Job) -> impl Future<Output = ()> + Send;

    /// Waits `d` (the pause before an in-place retry, the backoff of a claim).
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

    async fn finish(
        &self,
        job: &Job,
        max_attempts: u32,
        state: JobState,
        now_ms: i64,
        update: Update<'_>,
        fence: Fence<'_>,
        end: End<'_>,
    ) -> Result<Transitioned, QueueError> {
        let keys = self.keys();
        let retention_ms = self.settings().retention.job_records_secs as i64 * 1000;
        let mut inv = FINISH_JOB.key(keys.job(&job.id));
        inv.key(keys.counters())
            .key(keys.last_success())
            .key(keys.gc());
        inv.arg(format!(
            "{}|{}",
            end.delivered.kind,
            end.delivered.task_id()
        ))
        .arg(now_ms + retention_ms)
        .arg(if end.success {
            now_ms.to_string()
        } else {
            String::new()
        });
        match end.successor {
            Some((next, at)) => {
                let cfg = queue_config(self.settings(), next.kind);
                let now = DateTime::from_timestamp_millis(now_ms).unwrap_or_else(Utc::now);
                let (tid, payload, at, apalis_max) = Enqueuer::task_args(next, Some(at), now)?;
                inv.key(cfg.job_data_hash())
                    .key(format!("{}:{tid}", cfg.job_meta_hash()))
                    .key(cfg.scheduled_jobs_set());
                inv.arg(tid).arg(payload).arg(at).arg(apalis_max);
            }
            None => {
                inv.arg("").arg("").arg("").arg("");
            }
        }
        self.records()
            .transition_args(&mut inv, job, max_attempts, state, now_ms, &update, fence);
        let old: String = inv.invoke_async(&mut self.conn()).await?;
        if old == "!fenced" {
            return Ok(Transitioned::Fenced);
        }
        Ok(Transitioned::Applied(old.parse().ok()))
    }

    async fn collect_later(&self, job: &Job) {
        janitor::collect_later(self, job).await;
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
