//! The runner's decisions, run against the in-memory world of `fake.rs`: no Redis, no real time.
//!
//! The settings fix every delay (see [`settings`]): a `fetch-ticker` retry waits exactly 100 ms
//! (in place), a `fetch-fx` retry exactly 1.5 s (durable) unless the failure carries a
//! `Retry-After`. The clock starts at [`T0_MS`], 700 ms past a whole second, so that rounding a
//! durable retry's time up differs from rounding it to the nearest second.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use domain::{ErrorClass, FailureClass, JobKind, JobState, Venue};
use settings::{RetryPolicy, Settings};

use super::{
    Failure, Handler,
    fake::{
        Answer, Fake, Guard, Push, Scripted, Step, Write, claim, ended, failed_with, own, refused,
        scheduled, started, token,
    },
    run,
};
use crate::{Enqueuer, Job};

/// 2026-12-07 12:00:00.700 UTC.
pub(super) const T0_MS: i64 = 1_796_644_800_700;
pub(super) const T0_SECS: i64 = T0_MS / 1000;

pub(super) fn settings() -> Settings {
    let mut s = Settings::default();
    // The jittered delay of attempt 1 lies in [100, 200] ms; the cap makes it exactly 100 ms.
    s.retry.fetch_ticker = RetryPolicy {
        max_attempts: 2,
        base_ms: 200,
        cap_ms: 100,
    };
    // In [2, 4] s, capped to exactly 1.5 s.
    s.retry.fetch_fx = RetryPolicy {
        max_attempts: 3,
        base_ms: 4_000,
        cap_ms: 1_500,
    };
    s.worker.job_timeout_ms = 10_000;
    s.worker.max_tick_lag_secs = 30;
    s
}

pub(super) fn t0() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(T0_MS).unwrap()
}

pub(super) fn fake() -> Fake {
    Fake::new(settings(), t0())
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Upbit's ticker job of the tick `lag` seconds before the clock.
pub(super) fn ticker(lag: i64) -> Job {
    Job::for_tick(JobKind::FetchTicker, Some(Venue::Upbit), T0_SECS - lag)
}

pub(super) fn fx() -> Job {
    Job::for_tick(JobKind::FetchFx, None, T0_SECS)
}

pub(super) fn retryable(
    message: &str,
    class: ErrorClass,
    retry_after: Option<Duration>,
) -> Failure {
    Failure {
        message: message.into(),
        class: FailureClass::Fetch(class),
        retryable: true,
        retry_after,
    }
}

#[tokio::test]
async fn a_success_records_running_then_done_with_its_summary_and_hands_the_task_to_the_janitor() {
    let f = fake();
    let h = Scripted::new(&f, [Step::Succeed("3 tickers")]);
    let job = ticker(0);
    f.run(&h, job.clone()).await;

    let t = token(&f);
    assert_eq!(
        f.writes(),
        [
            started(1, 2, T0_MS, claim(&t)),
            Write {
                summary: Some("3 tickers".into()),
                ..ended(JobState::Done, 1, 2, T0_MS, own(&t))
            },
        ]
    );
    assert_eq!(h.calls(), [(1, T0_MS)]);
    assert_eq!(f.last_success(), [(JobKind::FetchTicker, t0())]);
    assert_eq!(f.collected(), [job.id]);
    assert!(f.pushes().is_empty());
    assert!(f.sleeps().is_empty());
    assert_eq!(
        f.counter("premium_jobs_total{kind=fetch-ticker,state=done}"),
        1
    );
}

#[tokio::test]
async fn every_run_claims_the_record_with_a_fresh_token_and_writes_only_as_its_owner() {
    let f = fake();
    let h = Scripted::new(&f, [Step::Succeed("a"), Step::Succeed("b")]);
    f.run(&h, ticker(0)).await;
    f.run(&h, ticker(0)).await;

    let guards: Vec<Guard> = f.writes().into_iter().map(|w| w.guard).collect();
    let (first, second) = (
        guards[0].token().unwrap().to_string(),
        guards[2].token().unwrap().to_string(),
    );
    assert_ne!(first, second);
    assert_eq!(
        guards,
        [claim(&first), own(&first), claim(&second), own(&second)]
    );
}

#[tokio::test]
async fn a_permanent_failure_is_failed_with_its_class_and_message_and_not_retried() {
    let f = fake();
    let failure = Failure {
        message: "upbit: 404 market not found".into(),
        class: FailureClass::Fetch(ErrorClass::Client),
        retryable: false,
        retry_after: None,
    };
    let h = Scripted::new(&f, [Step::Fail(failure)]);
    let job = fx();
    f.run(&h, job.clone()).await;

    let t = token(&f);
    assert_eq!(
        f.writes(),
        [
            started(1, 3, T0_MS, claim(&t)),
            failed_with(
                ended(JobState::Failed, 1, 3, T0_MS, own(&t)),
                "upbit: 404 market not found",
                FailureClass::Fetch(ErrorClass::Client),
            ),
        ]
    );
    assert_eq!(h.calls().len(), 1);
    assert!(f.pushes().is_empty());
    assert!(f.sleeps().is_empty());
    assert!(f.last_success().is_empty());
    assert_eq!(f.collected(), [job.id]);
    assert_eq!(
        f.counter("premium_jobs_total{kind=fetch-fx,state=failed}"),
        1
    );
}

#[tokio::test]
async fn a_retry_under_a_second_waits_and_runs_the_next_attempt_in_the_same_call() {
    let f = fake();
    let h = Scripted::new(
        &f,
        [
            Step::Fail(retryable("upbit: 503", ErrorClass::Server, None)),
            Step::Succeed("3 tickers"),
        ],
    );
    f.run(&h, ticker(0)).await;

    let t = token(&f);
    let error = ("upbit: 503", FailureClass::Fetch(ErrorClass::Server));
    assert_eq!(
        f.writes(),
        [
            started(1, 2, T0_MS, claim(&t)),
            scheduled(1, 2, T0_MS, own(&t), error, T0_MS + 100),
            // The same run goes on: it stays the record's owner, it does not claim again.
            started(2, 2, T0_MS + 100, own(&t)),
            Write {
                summary: Some("3 tickers".into()),
                ..ended(JobState::Done, 2, 2, T0_MS + 100, own(&t))
            },
        ]
    );
    assert_eq!(f.sleeps(), [ms(100)]);
    assert_eq!(h.calls(), [(1, T0_MS), (2, T0_MS + 100)]);
    assert!(f.pushes().is_empty());
    assert_eq!(
        f.last_success(),
        [(
            JobKind::FetchTicker,
            t0() + chrono::Duration::milliseconds(100)
        )]
    );
    // The task apalis delivered (attempt 1's), not the attempt the run reached: apalis holds
    // only that one.
    assert_eq!(f.collected(), ["fetch-ticker:upbit:1796644800"]);
    assert_eq!(
        f.counter("premium_jobs_total{kind=fetch-ticker,state=retried}"),
        1
    );
}

#[tokio::test]
async fn a_retry_of_a_second_or_more_pushes_the_successor_at_its_time_rounded_up_to_a_second() {
    let f = fake();
    let h = Scripted::new(
        &f,
        [Step::Fail(retryable(
            "too many requests",
            ErrorClass::RateLimited,
            Some(ms(2_500)),
        ))],
    );
    let job = fx();
    f.run(&h, job.clone()).await;

    let t = token(&f);
    let error = (
        "too many requests",
        FailureClass::Fetch(ErrorClass::RateLimited),
    );
    // Retry-After (2.5 s) is above the policy's 1.5 s: due at T0 + 2.5 s = 3.2 s past T0's
    // second, which apalis runs at the next whole second.
    assert_eq!(
        f.writes(),
        [
            started(1, 3, T0_MS, claim(&t)),
            scheduled(1, 3, T0_MS, own(&t), error, (T0_SECS + 4) * 1000),
        ]
    );
    let pushes = f.pushes();
    assert_eq!(
        pushes,
        [Push {
            job: job.next_attempt(),
            run_at: Some(t0() + chrono::Duration::milliseconds(2_500)),
        }]
    );
    assert_eq!(pushes[0].job.task_id(), "fetch-fx:1796644800~2");
    assert_eq!(f.collected(), ["fetch-fx:1796644800"]);
    assert_eq!(h.calls().len(), 1);
    assert!(f.sleeps().is_empty());
    assert!(f.last_success().is_empty());
}

#[tokio::test]
async fn a_retry_of_exactly_one_second_is_durable() {
    let mut s = settings();
    s.retry.fetch_fx.cap_ms = 1_000;
    let f = Fake::new(s, t0());
    let h = Scripted::new(
        &f,
        [Step::Fail(retryable("ecos: 502", ErrorClass::Server, None))],
    );
    f.run(&h, fx()).await;

    assert_eq!(
        f.states(),
        [JobState::Running, JobState::Scheduled],
        "no second attempt in this call"
    );
    assert!(f.sleeps().is_empty());
    assert_eq!(
        f.pushes()[0].run_at,
        Some(t0() + chrono::Duration::seconds(1))
    );
}

#[tokio::test]
async fn a_retryable_failure_of_the_last_attempt_is_dead() {
    let f = fake();
    let h = Scripted::new(
        &f,
        [Step::Fail(retryable(
            "upbit: 503",
            ErrorClass::Server,
            None,
        ))],
    );
    let job = ticker(0).next_attempt();
    f.run(&h, job.clone()).await;

    let t = token(&f);
    assert_eq!(
        f.writes(),
        [
            started(2, 2, T0_MS, claim(&t)),
            failed_with(
                ended(JobState::Dead, 2, 2, T0_MS, own(&t)),
                "upbit: 503",
                FailureClass::Fetch(ErrorClass::Server),
            ),
        ]
    );
    assert!(f.pushes().is_empty());
    assert!(f.sleeps().is_empty());
    assert_eq!(f.collected(), ["fetch-ticker:upbit:1796644800~2"]);
    assert_eq!(
        f.counter("premium_jobs_total{kind=fetch-ticker,state=dead}"),
        1
    );
}

#[tokio::test]
async fn a_jobs_own_max_attempts_overrides_its_kinds_policy() {
    let f = fake();
    let h = Scripted::new(
        &f,
        [Step::Fail(retryable("ecos: 502", ErrorClass::Server, None))],
    );
    // Policy: 3 attempts; this job allows 1.
    let job = Job {
        max_attempts: 1,
        ..fx()
    };
    f.run(&h, job).await;

    let writes = f.writes();
    assert_eq!(
        writes.iter().map(|w| w.max_attempts).collect::<Vec<_>>(),
        [1, 1]
    );
    assert_eq!(writes[1].state, JobState::Dead);
    assert!(f.pushes().is_empty());
}

#[tokio::test]
async fn an_attempt_past_the_job_timeout_fails_as_a_retryable_timeout() {
    let f = fake();
    let h = Scripted::new(&f, [Step::Hang]);
    let job = fx();
    f.run(&h, job.clone()).await;

    let t = token(&f);
    let after = T0_MS + 10_000;
    let error = (
        "attempt timed out after 10000 ms",
        FailureClass::AttemptTimeout,
    );
    // Retried (durable, 1.5 s after the timeout: 11.5 s past T0, so 12.2 s past its second).
    assert_eq!(
        f.writes(),
        [
            started(1, 3, T0_MS, claim(&t)),
            scheduled(1, 3, after, own(&t), error, (T0_SECS + 13) * 1000),
        ]
    );
    assert_eq!(
        f.pushes(),
        [Push {
            job: job.next_attempt(),
            run_at: Some(t0() + chrono::Duration::milliseconds(11_500)),
        }]
    );
}

#[tokio::test]
async fn a_panicking_handler_is_failed_with_class_panic_and_not_retried() {
    let f = fake();
    let h = Scripted::new(&f, [Step::Panic("index out of bounds")]);
    let job = fx();
    f.run(&h, job.clone()).await;

    let t = token(&f);
    assert_eq!(
        f.writes(),
        [
            started(1, 3, T0_MS, claim(&t)),
            failed_with(
                ended(JobState::Failed, 1, 3, T0_MS, own(&t)),
                "attempt panicked: index out of bounds",
                FailureClass::Panic,
            ),
        ]
    );
    assert!(f.pushes().is_empty());
    assert!(f.sleeps().is_empty());
    assert_eq!(f.collected(), [job.id]);
}

#[tokio::test]
async fn a_refused_claim_runs_nothing_and_hands_the_task_to_the_janitor() {
    let f = fake().fence_write(1);
    // No step: the handler must not run.
    let h = Scripted::new(&f, []);
    let job = ticker(0);
    f.run(&h, job.clone()).await;

    let t = token(&f);
    assert_eq!(f.writes(), [refused(started(1, 2, T0_MS, claim(&t)))]);
    assert!(h.calls().is_empty());
    assert_eq!(f.collected(), [job.id]);
    assert!(f.last_success().is_empty());
    assert_eq!(
        f.counter("premium_fenced_writes_total{kind=fetch-ticker,what=start}"),
        1
    );
}

#[tokio::test]
async fn a_refused_scheduled_write_is_counted_and_pushes_no_successor() {
    let f = fake().fence_write(2);
    let h = Scripted::new(
        &f,
        [Step::Fail(retryable("ecos: 502", ErrorClass::Server, None))],
    );
    let job = fx();
    f.run(&h, job.clone()).await;

    let t = token(&f);
    let error = ("ecos: 502", FailureClass::Fetch(ErrorClass::Server));
    assert_eq!(
        f.writes(),
        [
            started(1, 3, T0_MS, claim(&t)),
            refused(scheduled(1, 3, T0_MS, own(&t), error, (T0_SECS + 3) * 1000)),
        ]
    );
    assert!(f.pushes().is_empty());
    assert_eq!(f.collected(), [job.id]);
    assert_eq!(
        f.counter("premium_fenced_writes_total{kind=fetch-fx,what=retry}"),
        1
    );
}

#[tokio::test]
async fn a_refused_scheduled_write_stops_an_in_place_retry() {
    let f = fake().fence_write(2);
    // One step only: a second attempt would run out of script.
    let h = Scripted::new(
        &f,
        [Step::Fail(retryable(
            "upbit: 503",
            ErrorClass::Server,
            None,
        ))],
    );
    f.run(&h, ticker(0)).await;

    assert_eq!(f.states(), [JobState::Running, JobState::Scheduled]);
    assert_eq!(f.writes()[1].answer, Answer::Fenced);
    assert!(f.sleeps().is_empty());
    assert_eq!(h.calls().len(), 1);
    assert_eq!(
        f.counter("premium_fenced_writes_total{kind=fetch-ticker,what=retry}"),
        1
    );
}

#[tokio::test]
async fn a_refused_finish_records_no_last_success() {
    let f = fake().fence_write(2);
    let h = Scripted::new(&f, [Step::Succeed("3 tickers")]);
    let job = ticker(0);
    f.run(&h, job.clone()).await;

    assert_eq!(f.states(), [JobState::Running, JobState::Done]);
    assert_eq!(f.writes()[1].answer, Answer::Fenced);
    assert!(f.last_success().is_empty());
    assert_eq!(f.collected(), [job.id]);
    assert_eq!(
        f.counter("premium_fenced_writes_total{kind=fetch-ticker,what=finish}"),
        1
    );
}

#[tokio::test]
async fn a_first_tick_attempt_started_past_the_lag_limit_is_failed_as_late_without_running() {
    let f = fake();
    let h = Scripted::new(&f, []);
    let job = ticker(31);
    f.run(&h, job.clone()).await;

    let t = token(&f);
    assert_eq!(
        f.writes(),
        [
            started(1, 2, T0_MS, claim(&t)),
            failed_with(
                ended(JobState::Failed, 1, 2, T0_MS, own(&t)),
                "dropped: started 31 s after its tick, more than worker.max_tick_lag_secs = 30",
                FailureClass::Late,
            ),
        ]
    );
    assert!(h.calls().is_empty());
    assert_eq!(f.collected(), [job.id]);
}

#[tokio::test]
async fn only_a_first_cron_attempt_of_a_live_kind_past_the_lag_limit_is_dropped() {
    let late = |kind: JobKind, venue: Option<Venue>| Job::for_tick(kind, venue, T0_SECS - 31);
    let cases = [
        ("lag at the limit", ticker(30), JobState::Done),
        (
            "manual",
            Job {
                manual: true,
                ..ticker(31)
            },
            JobState::Done,
        ),
        ("a retry", ticker(31).next_attempt(), JobState::Done),
        ("fetch-fx", late(JobKind::FetchFx, None), JobState::Done),
        (
            "deliver-alert",
            late(JobKind::DeliverAlert, None),
            JobState::Done,
        ),
        (
            "compute-premium",
            late(JobKind::ComputePremium, None),
            JobState::Failed,
        ),
        (
            "refresh-markets",
            late(JobKind::RefreshMarkets, None),
            JobState::Failed,
        ),
    ];
    for (case, job, end) in cases {
        let f = fake();
        let h = Scripted::new(&f, [Step::Succeed("ok")]);
        f.run(&h, job).await;
        assert_eq!(f.states(), [JobState::Running, end], "{case}");
        assert_eq!(
            h.calls().len(),
            usize::from(end == JobState::Done),
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_retry_script_that_redis_fails_writes_nothing_and_the_job_ends_dead_saying_so() {
    let f = fake().refuse_push();
    let h = Scripted::new(
        &f,
        [Step::Fail(retryable(
            "too many requests",
            ErrorClass::RateLimited,
            Some(ms(2_500)),
        ))],
    );
    let job = fx();
    f.run(&h, job.clone()).await;

    let t = token(&f);
    let class = FailureClass::Fetch(ErrorClass::RateLimited);
    let message =
        "too many requests; the retry could not be queued: redis: connection refused - Io";
    assert_eq!(
        f.writes(),
        [
            started(1, 3, T0_MS, claim(&t)),
            // The `scheduled` record and its successor are one script: neither was written.
            Write {
                answer: Answer::Failed,
                ..scheduled(
                    1,
                    3,
                    T0_MS,
                    own(&t),
                    ("too many requests", class),
                    (T0_SECS + 4) * 1000,
                )
            },
            failed_with(ended(JobState::Dead, 1, 3, T0_MS, own(&t)), message, class),
        ]
    );
    assert!(f.pushes().is_empty());
    assert_eq!(f.collected(), [job.id]);
    assert_eq!(f.counter("premium_jobs_total{kind=fetch-fx,state=dead}"), 1);
}

fn assert_send<T: Send>(_: &T) {}

struct Noop;
impl Handler for Noop {
    async fn execute(&self, _: &Job) -> Result<String, Failure> {
        Ok(String::new())
    }
}

/// Compiles only if the runner's future can move between threads (apalis needs that).
#[allow(dead_code)]
fn run_future_is_send(q: &Enqueuer, job: Job) {
    assert_send(&run(q, &Noop, job, "w"));
}
