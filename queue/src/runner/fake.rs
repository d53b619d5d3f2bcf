//! An in-memory world for the runner's unit tests: a [`Fake`] implementation of [`Effects`] that
//! logs every record write (the run's last one included, with what it also did: successor push,
//! janitor hand-off, last success, all or nothing as the finish script), every other janitor
//! hand-off and every sleep, reads a clock the test sets, and can be told to refuse (fence) or
//! fail a given record write or every finish that pushes a successor; a [`Scripted`] handler that plays a list of outcomes; and builders of the
//! record writes a test expects ([`started`], [`scheduled`], [`ended`]). The run's metric
//! counters are captured too (a thread-local recorder), since the fenced writes are counted
//! there.

use std::{
    collections::{BTreeMap, VecDeque},
    future::Future,
    pin::pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::Poll,
    time::Duration,
};

use chrono::{DateTime, Utc};
use domain::{FailureClass, JobKind, JobState};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use redis::ErrorKind;
use settings::Settings;

use super::{
    Failure, Handler,
    effects::{Effects, End},
    run_in,
};
use crate::{
    Job, QueueError,
    records::{Fence, Transitioned, Update},
};

/// The worker name every fake run reports.
pub(super) const WORKER: &str = "worker-1";

/// How a record write was guarded, with the run token it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Guard {
    None,
    Claim(String),
    Own(String),
}

impl Guard {
    /// The run token, whatever the guard.
    pub(super) fn token(&self) -> Option<&str> {
        match self {
            Guard::None => None,
            Guard::Claim(t) | Guard::Own(t) => Some(t),
        }
    }
}

/// What the fake answered to a record write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    Applied,
    /// Refused by the fence.
    Fenced,
    /// A Redis error.
    Failed,
}

/// One record write as the runner asked for it, with the fake's answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Write {
    pub state: JobState,
    pub guard: Guard,
    pub answer: Answer,
    /// The attempt of the job the write was for.
    pub job_attempt: u32,
    pub max_attempts: u32,
    pub now_ms: i64,
    pub attempts: Option<u32>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub next_run_ms: Option<Option<i64>>,
    pub last_error: Option<String>,
    pub error_class: Option<FailureClass>,
    pub worker: Option<String>,
    pub summary: Option<String>,
    pub count_run: bool,
}

/// One successor push.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Push {
    pub job: Job,
    pub run_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Log {
    writes: Vec<Write>,
    pushes: Vec<Push>,
    /// Task ids handed to the janitor.
    collected: Vec<String>,
    last_success: Vec<(JobKind, DateTime<Utc>)>,
    sleeps: Vec<Duration>,
}

/// The in-memory world. Configure it with the builder methods, run jobs with [`Fake::run`], then
/// read what happened.
pub(super) struct Fake {
    settings: Settings,
    clock: Mutex<DateTime<Utc>>,
    /// 1-based numbers (over the fake's lifetime) of the record writes the fence refuses.
    fence_writes: Vec<usize>,
    /// 1-based numbers of the record writes that fail with a Redis error.
    fail_writes: Vec<usize>,
    refuse_push: bool,
    log: Mutex<Log>,
    counters: Counters,
}

impl Fake {
    /// A world whose clock reads `now` until something advances it.
    pub(super) fn new(settings: Settings, now: DateTime<Utc>) -> Self {
        Fake {
            settings,
            clock: Mutex::new(now),
            fence_writes: Vec::new(),
            fail_writes: Vec::new(),
            refuse_push: false,
            log: Mutex::default(),
            counters: Counters::default(),
        }
    }

    /// The fence refuses the `n`-th record write (1-based).
    pub(super) fn fence_write(mut self, n: usize) -> Self {
        self.fence_writes.push(n);
        self
    }

    /// The `n`-th record write (1-based) fails with a Redis error.
    pub(super) fn fail_write(mut self, n: usize) -> Self {
        self.fail_writes.push(n);
        self
    }

    /// Every finish that pushes a successor fails with a Redis error (nothing of it written).
    pub(super) fn refuse_push(mut self) -> Self {
        self.refuse_push = true;
        self
    }

    /// The error a refused push answers.
    fn push_error() -> QueueError {
        QueueError::Redis(redis::RedisError::from((
            ErrorKind::Io,
            "connection refused",
        )))
    }

    /// The error a failed record write answers.
    fn write_error() -> redis::RedisError {
        redis::RedisError::from((ErrorKind::Io, "broken pipe"))
    }

    /// Logs one record write and decides the answer: the configured one for its number, or
    /// `Failed` when `fail` is set. Returns it with the state of the last applied write.
    #[allow(clippy::too_many_arguments)]
    fn log_write(
        &self,
        log: &mut Log,
        job: &Job,
        max_attempts: u32,
        state: JobState,
        now_ms: i64,
        update: &Update<'_>,
        fence: Fence<'_>,
        fail: bool,
    ) -> (Answer, Option<JobState>) {
        let n = log.writes.len() + 1;
        let answer = if self.fence_writes.contains(&n) {
            Answer::Fenced
        } else if fail || self.fail_writes.contains(&n) {
            Answer::Failed
        } else {
            Answer::Applied
        };
        let previous = log
            .writes
            .iter()
            .rev()
            .find(|w| w.answer == Answer::Applied)
            .map(|w| w.state);
        log.writes.push(Write {
            state,
            guard: match fence {
                Fence::None => Guard::None,
                Fence::Claim(t) => Guard::Claim(t.to_string()),
                Fence::Own(t) => Guard::Own(t.to_string()),
            },
            answer,
            job_attempt: job.attempt,
            max_attempts,
            now_ms,
            attempts: update.attempts,
            started_ms: update.started_ms,
            finished_ms: update.finished_ms,
            next_run_ms: update.next_run_ms,
            last_error: update.last_error.map(str::to_string),
            error_class: update.error_class,
            worker: update.worker.map(str::to_string),
            summary: update.summary.map(str::to_string),
            count_run: update.count_run,
        });
        (answer, previous)
    }

    /// Runs `job` through the runner in this world, capturing its metric counters.
    pub(super) async fn run<H: Handler>(&self, handler: &H, job: Job) {
        let _recorder = metrics::set_default_local_recorder(&self.counters);
        run_in(self, handler, job, WORKER).await;
    }

    pub(super) fn advance(&self, d: Duration) {
        let mut now = self.clock.lock().unwrap();
        *now += chrono::Duration::from_std(d).unwrap();
    }

    pub(super) fn writes(&self) -> Vec<Write> {
        self.log.lock().unwrap().writes.clone()
    }

    /// The states of every record write, refused ones included, in order.
    pub(super) fn states(&self) -> Vec<JobState> {
        self.writes().iter().map(|w| w.state).collect()
    }

    pub(super) fn pushes(&self) -> Vec<Push> {
        self.log.lock().unwrap().pushes.clone()
    }

    pub(super) fn collected(&self) -> Vec<String> {
        self.log.lock().unwrap().collected.clone()
    }

    pub(super) fn last_success(&self) -> Vec<(JobKind, DateTime<Utc>)> {
        self.log.lock().unwrap().last_success.clone()
    }

    pub(super) fn sleeps(&self) -> Vec<Duration> {
        self.log.lock().unwrap().sleeps.clone()
    }

    /// A counter's value, by its rendered key: `name{label=value,…}` in the order written.
    pub(super) fn counter(&self, key: &str) -> u64 {
        self.counters.get(key)
    }
}

impl Effects for Fake {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().unwrap()
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
        let mut log = self.log.lock().unwrap();
        let (answer, previous) = self.log_write(
            &mut log,
            job,
            max_attempts,
            state,
            now_ms,
            &update,
            fence,
            false,
        );
        match answer {
            Answer::Applied => Ok(Transitioned::Applied(previous)),
            Answer::Fenced => Ok(Transitioned::Fenced),
            Answer::Failed => Err(Self::write_error()),
        }
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
        let mut log = self.log.lock().unwrap();
        let refuse = self.refuse_push && end.successor.is_some();
        let (answer, previous) = self.log_write(
            &mut log,
            job,
            max_attempts,
            state,
            now_ms,
            &update,
            fence,
            refuse,
        );
        if answer == Answer::Failed {
            return Err(if refuse {
                Self::push_error()
            } else {
                QueueError::Redis(Self::write_error())
            });
        }
        log.collected.push(end.delivered.task_id());
        if answer == Answer::Fenced {
            return Ok(Transitioned::Fenced);
        }
        if end.success {
            let at = *self.clock.lock().unwrap();
            log.last_success.push((job.kind, at));
        }
        if let Some((next, run_at)) = end.successor {
            log.pushes.push(Push {
                job: next.clone(),
                run_at: Some(run_at),
            });
        }
        Ok(Transitioned::Applied(previous))
    }

    async fn collect_later(&self, job: &Job) {
        self.log.lock().unwrap().collected.push(job.task_id());
    }

    /// Returns at once, with the clock moved on by `d`.
    async fn sleep(&self, d: Duration) {
        self.log.lock().unwrap().sleeps.push(d);
        self.advance(d);
    }

    /// Times out when `f` is pending and the clock has reached the deadline. Nothing wakes a
    /// pending `f` on a clock change, so a handler that never finishes must move the clock past
    /// the deadline before it waits (as [`Step::Hang`] does).
    async fn timeout<F>(&self, d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        let deadline = self.now() + chrono::Duration::from_std(d).unwrap();
        let mut f = pin!(f);
        std::future::poll_fn(|cx| match f.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending if self.now() >= deadline => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        })
        .await
    }
}

/// The token the run claimed the record with (its first write).
pub(super) fn token(f: &Fake) -> String {
    f.writes()[0].guard.token().unwrap().to_string()
}

pub(super) fn claim(t: &str) -> Guard {
    Guard::Claim(t.to_string())
}

pub(super) fn own(t: &str) -> Guard {
    Guard::Own(t.to_string())
}

/// The write that starts attempt `attempt` (of `max`) at `at_ms`.
pub(super) fn started(attempt: u32, max: u32, at_ms: i64, guard: Guard) -> Write {
    Write {
        state: JobState::Running,
        guard,
        answer: Answer::Applied,
        job_attempt: attempt,
        max_attempts: max,
        now_ms: at_ms,
        attempts: Some(attempt),
        started_ms: Some(at_ms),
        finished_ms: None,
        next_run_ms: Some(None),
        last_error: None,
        error_class: None,
        worker: Some(WORKER.into()),
        summary: None,
        count_run: true,
    }
}

/// The write that says attempt `attempt` failed with `error` and runs again at `next_run_ms`.
pub(super) fn scheduled(
    attempt: u32,
    max: u32,
    at_ms: i64,
    guard: Guard,
    error: (&str, FailureClass),
    next_run_ms: i64,
) -> Write {
    Write {
        state: JobState::Scheduled,
        guard,
        answer: Answer::Applied,
        job_attempt: attempt,
        max_attempts: max,
        now_ms: at_ms,
        attempts: Some(attempt),
        started_ms: None,
        finished_ms: None,
        next_run_ms: Some(Some(next_run_ms)),
        last_error: Some(error.0.into()),
        error_class: Some(error.1),
        worker: Some(WORKER.into()),
        summary: None,
        count_run: false,
    }
}

/// The write that ends the job in `state` at `at_ms`, with neither error nor summary.
pub(super) fn ended(state: JobState, attempt: u32, max: u32, at_ms: i64, guard: Guard) -> Write {
    Write {
        state,
        guard,
        answer: Answer::Applied,
        job_attempt: attempt,
        max_attempts: max,
        now_ms: at_ms,
        attempts: None,
        started_ms: None,
        finished_ms: Some(at_ms),
        next_run_ms: None,
        last_error: None,
        error_class: None,
        worker: None,
        summary: None,
        count_run: false,
    }
}

pub(super) fn failed_with(w: Write, message: &str, class: FailureClass) -> Write {
    Write {
        last_error: Some(message.into()),
        error_class: Some(class),
        ..w
    }
}

pub(super) fn refused(w: Write) -> Write {
    Write {
        answer: Answer::Fenced,
        ..w
    }
}

/// What a [`Scripted`] handler does on one call.
pub(super) enum Step {
    Succeed(&'static str),
    Fail(Failure),
    Panic(&'static str),
    /// Moves the clock to the attempt timeout and never finishes.
    Hang,
}

/// A handler that plays its steps in order, one per call, and logs each call.
pub(super) struct Scripted<'a> {
    fake: &'a Fake,
    steps: Mutex<VecDeque<Step>>,
    /// (attempt, clock in ms) of each call.
    calls: Mutex<Vec<(u32, i64)>>,
}

impl<'a> Scripted<'a> {
    pub(super) fn new(fake: &'a Fake, steps: impl IntoIterator<Item = Step>) -> Self {
        Scripted {
            fake,
            steps: Mutex::new(steps.into_iter().collect()),
            calls: Mutex::default(),
        }
    }

    pub(super) fn calls(&self) -> Vec<(u32, i64)> {
        self.calls.lock().unwrap().clone()
    }
}

impl Handler for Scripted<'_> {
    fn execute(&self, job: &Job) -> impl Future<Output = Result<String, Failure>> + Send {
        self.calls
            .lock()
            .unwrap()
            .push((job.attempt, self.fake.now().timestamp_millis()));
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .expect("the handler ran more often than scripted");
        let fake = self.fake;
        async move {
            match step {
                Step::Succeed(summary) => Ok(summary.to_string()),
                Step::Fail(failure) => Err(failure),
                Step::Panic(message) => std::panic::panic_any(message),
                Step::Hang => {
                    fake.advance(Duration::from_millis(fake.settings.worker.job_timeout_ms));
                    std::future::pending().await
                }
            }
        }
    }
}

/// Counts every counter the run increments, by rendered key; gauges and histograms are dropped.
#[derive(Default)]
struct Counters(Mutex<BTreeMap<String, Arc<AtomicU64>>>);

impl Counters {
    fn get(&self, key: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

impl Recorder for Counters {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let rendered = format!("{}{{{}}}", key.name(), labels.join(","));
        Counter::from_arc(self.0.lock().unwrap().entry(rendered).or_default().clone())
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}
