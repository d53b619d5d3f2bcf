//! Manual triggers and re-runs through a worker: two at once make one job, a dropped request
//! still leaves a job that completes, and a queued record an older version left without its task
//! (its trigger and re-run were two steps) neither blocks a trigger nor refuses a re-run.

use std::time::Duration;

use chrono::Utc;
use domain::{JobKind, JobState};
use futures::FutureExt;
use queue::Job;
use redis::AsyncCommands;

use crate::{
    pipeline::frozen_sim,
    support::{TestEnv, eventually, job_reaches},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_quick_triggers_give_one_job() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let enq = env.enqueuer();
    let (a, b) = tokio::join!(
        enq.trigger(JobKind::FetchFx, None),
        enq.trigger(JobKind::FetchFx, None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert!(a.conflict != b.conflict, "exactly one of them conflicts");
    let worker = env.spawn_worker().await;
    let rec = job_reaches(&env, &a.id, JobState::Done, Duration::from_secs(10)).await;
    assert_eq!(rec.runs, 1);
    // Once it is done, a new trigger makes a new job.
    let c = enq.trigger(JobKind::FetchFx, None).await.unwrap();
    assert!(!c.conflict);
    assert_ne!(c.id, a.id);
    worker.stop().await;
    env.cleanup().await;
}

/// What a trigger of a version before the one-script trigger left when it stopped between its
/// steps (a crash during a rolling deploy): the trigger key claimed and the job recorded as
/// queued, but no task pushed. This version writes all of it in one script, so the state is
/// written here as the older version's first step wrote it.
async fn legacy_claim_without_push(env: &TestEnv) -> String {
    let job = Job::manual(JobKind::FetchFx, None, Utc::now());
    env.records()
        .create(&job, 3, Utc::now().timestamp_millis())
        .await
        .unwrap();
    let _: () = env
        .conn
        .clone()
        .set_ex(env.keys().trigger(JobKind::FetchFx), &job.id, 600)
        .await
        .unwrap();
    job.id
}

/// Waits until a queued record without its task can no longer be an older version's push in
/// flight.
async fn past_orphan_grace() {
    tokio::time::sleep(Duration::from_millis(
        queue::enqueue::ORPHAN_GRACE_MS as u64 + 200,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_versions_trigger_stopped_between_its_steps_does_not_block_the_next_one() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let enq = env.enqueuer();
    let dead = legacy_claim_without_push(&env).await;
    // Within the grace period it could still be the older replica's push in flight: it is the
    // running trigger.
    let early = enq.trigger(JobKind::FetchFx, None).await.unwrap();
    assert_eq!(early.id, dead);
    assert!(early.conflict);
    past_orphan_grace().await;
    let next = enq.trigger(JobKind::FetchFx, None).await.unwrap();
    assert!(!next.conflict, "the dead trigger must not block: {next:?}");
    assert_ne!(next.id, dead);
    let worker = env.spawn_worker().await;
    job_reaches(&env, &next.id, JobState::Done, Duration::from_secs(10)).await;
    let old = env.records().get(&dead).await.unwrap().unwrap();
    assert_eq!(old.state, JobState::Failed);
    assert_eq!(old.error_class.as_deref(), Some("queue"));
    assert!(
        old.last_error
            .as_deref()
            .unwrap_or("")
            .contains("never queued"),
        "{old:?}"
    );
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_trigger_still_leaves_a_job_that_completes() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let enq = env.enqueuer();
    let worker = env.spawn_worker().await;
    // Dropped after its first poll, as a request that times out or whose client goes away. The
    // future is polled exactly once (`now_or_never`): a zero timeout is not that, since tokio's
    // timer fires on its next millisecond tick, by which time a one-script trigger has often
    // finished. The trigger's steps run in a spawned task, so that task can still finish before
    // the first poll returns (the polling thread was preempted) and nothing is cut: then the job
    // must still be the one and only job of that trigger, and the next try cuts it.
    let records = env.records();
    let mut seen: Vec<String> = Vec::new();
    let mut cut = false;
    for _ in 0..3 {
        let dropped = enq.trigger(JobKind::FetchFx, None).now_or_never();
        let before = &seen;
        let job = eventually(
            Duration::from_secs(5),
            "the dropped trigger's job",
            || async {
                let page = records
                    .list(Some(JobKind::FetchFx), None, 10, None)
                    .await
                    .unwrap();
                let new: Vec<_> = page
                    .items
                    .into_iter()
                    .filter(|r| !before.contains(&r.id))
                    .collect();
                assert!(new.len() <= 1, "one trigger, one job: {new:?}");
                new.into_iter().next()
            },
        )
        .await;
        job_reaches(&env, &job.id, JobState::Done, Duration::from_secs(10)).await;
        if let Some(done) = &dropped {
            assert_eq!(done.as_ref().unwrap().id, job.id);
        }
        seen.push(job.id);
        if dropped.is_none() {
            cut = true;
            break;
        }
    }
    assert!(
        cut,
        "three triggers in a row finished before their first poll returned"
    );
    // And the next trigger makes a new job.
    let next = enq.trigger(JobKind::FetchFx, None).await.unwrap();
    assert!(!next.conflict);
    job_reaches(&env, &next.id, JobState::Done, Duration::from_secs(10)).await;
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_an_older_version_left_without_its_task_can_be_retried() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let enq = env.enqueuer();
    let dead = legacy_claim_without_push(&env).await;
    // Too young to tell from an older replica's push in flight.
    assert!(matches!(
        enq.retry(&dead).await,
        Err(queue::QueueError::NotRetryable { .. })
    ));
    past_orphan_grace().await;
    let rec = enq.retry(&dead).await.unwrap();
    assert_eq!(rec.state, JobState::Queued);
    assert_eq!(rec.attempts, 2);
    let worker = env.spawn_worker().await;
    job_reaches(&env, &dead, JobState::Done, Duration::from_secs(10)).await;
    worker.stop().await;
    env.cleanup().await;
}
