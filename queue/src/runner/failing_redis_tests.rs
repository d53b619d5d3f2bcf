//! The runner when Redis fails a write, against the in-memory world of `fake.rs` (the settings
//! and helpers are `tests.rs`'): a claim is tried again and, if Redis keeps failing it, the run
//! goes on unfenced; any other write that fails counts as written, and a failed finish still
//! hands the delivered task to the janitor.

use domain::{ErrorClass, FailureClass, JobState};

use super::{
    fake::{Answer, Guard, Scripted, Step, Write, claim, ended, own, scheduled, started, token},
    tests::{T0_MS, T0_SECS, fake, fx, ms, retryable, ticker},
};

#[tokio::test]
async fn a_claim_that_redis_fails_once_is_tried_again_and_the_run_stays_fenced() {
    let f = fake().fail_write(1);
    let h = Scripted::new(&f, [Step::Succeed("3 tickers")]);
    let job = ticker(0);
    f.run(&h, job.clone()).await;

    let t = token(&f);
    assert_eq!(
        f.writes(),
        [
            Write {
                answer: Answer::Failed,
                ..started(1, 2, T0_MS, claim(&t))
            },
            // The attempt's start stays the first try's.
            Write {
                started_ms: Some(T0_MS),
                ..started(1, 2, T0_MS + 50, claim(&t))
            },
            Write {
                summary: Some("3 tickers".into()),
                ..ended(JobState::Done, 1, 2, T0_MS + 50, own(&t))
            },
        ]
    );
    assert_eq!(f.sleeps(), [ms(50)]);
    assert_eq!(h.calls().len(), 1);
    assert_eq!(f.collected(), [job.id]);
    assert_eq!(
        f.counter("premium_unfenced_runs_total{kind=fetch-ticker}"),
        0
    );
}

#[tokio::test]
async fn a_claim_that_redis_always_fails_runs_unfenced_and_says_so_so_its_retry_is_pushed() {
    let f = fake().fail_write(1).fail_write(2).fail_write(3);
    let h = Scripted::new(
        &f,
        [Step::Fail(retryable("ecos: 502", ErrorClass::Server, None))],
    );
    let job = fx();
    f.run(&h, job.clone()).await;

    let t = token(&f);
    let failed_claim = |at_ms| Write {
        answer: Answer::Failed,
        started_ms: Some(T0_MS),
        ..started(1, 3, at_ms, claim(&t))
    };
    let error = ("ecos: 502", FailureClass::Fetch(ErrorClass::Server));
    // Tried at T0, +50 ms, +300 ms; then the run goes on and its writes carry no fence (a
    // fenced one would be refused: the record does not hold this run's token).
    let after = T0_MS + 300;
    assert_eq!(
        f.writes(),
        [
            failed_claim(T0_MS),
            failed_claim(T0_MS + 50),
            failed_claim(after),
            scheduled(1, 3, after, Guard::None, error, (T0_SECS + 3) * 1000),
        ]
    );
    assert_eq!(f.sleeps(), [ms(50), ms(250)]);
    assert_eq!(h.calls(), [(1, after)]);
    assert_eq!(f.pushes().len(), 1, "the retry was pushed");
    assert_eq!(f.pushes()[0].job, job.next_attempt());
    assert_eq!(f.collected(), [job.id]);
    assert_eq!(f.counter("premium_unfenced_runs_total{kind=fetch-fx}"), 1);
}

#[tokio::test]
async fn a_success_after_a_failed_claim_records_done_and_its_last_success() {
    let f = fake().fail_write(1).fail_write(2).fail_write(3);
    let h = Scripted::new(&f, [Step::Succeed("3 tickers")]);
    f.run(&h, ticker(0)).await;

    let writes = f.writes();
    assert_eq!(writes.len(), 4);
    assert_eq!(writes[3].state, JobState::Done);
    assert_eq!(writes[3].guard, Guard::None);
    assert_eq!(writes[3].answer, Answer::Applied);
    assert_eq!(f.last_success().len(), 1);
}

#[tokio::test]
async fn an_in_place_scheduled_write_that_redis_fails_counts_as_written_and_the_run_goes_on() {
    let f = fake().fail_write(2);
    let h = Scripted::new(
        &f,
        [
            Step::Fail(retryable("upbit: 503", ErrorClass::Server, None)),
            Step::Succeed("3 tickers"),
        ],
    );
    f.run(&h, ticker(0)).await;

    assert_eq!(
        f.states(),
        [
            JobState::Running,
            JobState::Scheduled,
            JobState::Running,
            JobState::Done
        ]
    );
    assert_eq!(f.writes()[1].answer, Answer::Failed);
    assert_eq!(h.calls().len(), 2);
    assert_eq!(f.last_success().len(), 1);
}

#[tokio::test]
async fn a_finish_that_redis_fails_still_hands_the_delivered_task_to_the_janitor() {
    let f = fake().fail_write(4);
    let h = Scripted::new(
        &f,
        [
            Step::Fail(retryable("upbit: 503", ErrorClass::Server, None)),
            Step::Succeed("3 tickers"),
        ],
    );
    let job = ticker(0);
    f.run(&h, job.clone()).await;

    assert_eq!(f.writes()[3].answer, Answer::Failed);
    assert!(f.last_success().is_empty());
    assert_eq!(f.collected(), [job.id]);
}
