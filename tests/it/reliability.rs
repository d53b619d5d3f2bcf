//! Queue reliability (issue 22): nothing dropped, nothing run twice. The abandon scan against
//! durable retries and long-lived chains; the Telegram send of a delivery re-run after a false
//! orphan; the soak's execution ledger.

use std::time::Duration;

use chrono::Utc;
use domain::{FxSource, JobKind, JobState};
use queue::{Job, PushOutcome};
use redis::AsyncCommands;
use serde_json::json;

use crate::support::{TestEnv, job_reaches};

fn frozen_sim() -> sim::SimConfig {
    sim::SimConfig {
        step: Duration::ZERO,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_retry_due_while_every_worker_was_stopped_runs_when_they_come_back_10_minutes_late()
 {
    let env = TestEnv::new(frozen_sim(), |s| {
        s.worker.cron = false;
        s.fx_sources = vec![FxSource::Dunamu];
        // The first wait lies in [1, 2] s: a durable retry (pushed as its own task), not one
        // in place.
        s.retry.fetch_fx.max_attempts = 3;
        s.retry.fetch_fx.base_ms = 2_000;
        s.retry.fetch_fx.cap_ms = 2_000;
        // The default poll, not the tests' fast one: nothing announces a retry coming due.
        s.worker.poll_interval_ms = settings::WorkerSettings::default().poll_interval_ms;
    })
    .await;
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "dunamu", "error_rate": 1.0, "status": 503}),
    )
    .await;
    let worker = env.spawn_worker().await;
    let t = env
        .enqueuer()
        .trigger(JobKind::FetchFx, None)
        .await
        .unwrap();
    let scheduled = job_reaches(&env, &t.id, JobState::Scheduled, Duration::from_secs(10)).await;
    assert_eq!(scheduled.attempts, 1);
    // Every worker stops before the retry is due (a graceful stop lets the attempt finish its
    // hand-off: the successor task is in the queue).
    worker.stop().await;
    let cfg = queue::queue_config(&env.settings, JobKind::FetchFx);
    let mut conn = env.conn.clone();
    let successor = queue::payload::task_id(&t.id, 2);
    let queued: bool = conn.hexists(cfg.job_data_hash(), &successor).await.unwrap();
    assert!(queued, "the retry {successor} waits in the queue");
    let rec = env.records().get(&t.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Scheduled, "{rec:?}");
    env.sim_post("/_sim/faults", json!({"venue": "dunamu"}))
        .await;

    // The janitor of the first replica back runs 10 minutes after the retry was due (time is
    // the script's argument): the retry is still pending, so the record is kept.
    let late = rec.next_run_ms.unwrap() + 10 * 60_000;
    let abandoned = queue::janitor::abandon_stale(&env.conn, &env.settings, late, 100)
        .await
        .unwrap();
    assert_eq!(abandoned, 0, "a pending durable retry is not abandoned");
    let rec = env.records().get(&t.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Scheduled, "{rec:?}");

    // And the workers back run it to the end.
    let worker = env.spawn_worker().await;
    let done = job_reaches(&env, &t.id, JobState::Done, Duration::from_secs(15)).await;
    assert_eq!(done.attempts, 2, "{done:?}");
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_abandon_scan_reaches_a_record_behind_more_long_lived_ones_than_it_reads_per_pass() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let enq = env.enqueuer();
    let records = env.records();
    // Eight jobs whose tasks wait in the queue (no worker runs): candidates by age that must be
    // kept, at the head of the `queued` index.
    let base_tick = 1_763_800_000;
    let mut waiting = Vec::new();
    for i in 0..8 {
        let job = Job::for_tick(JobKind::FetchFx, None, base_tick + i);
        assert_eq!(enq.push(&job).await.unwrap(), PushOutcome::New);
        waiting.push(job.id);
    }
    // Behind them, a record with no task at all (a crash between push and record).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let orphan = Job::for_tick(JobKind::FetchFx, None, base_tick + 100);
    records
        .create(&orphan, 3, Utc::now().timestamp_millis())
        .await
        .unwrap();

    // Three passes of five candidates each, all past the bound.
    let bound = env.settings.retention.abandon_after_secs as i64 * 1000;
    let later = Utc::now().timestamp_millis() + bound + 1_000;
    let mut abandoned = 0;
    for _ in 0..3 {
        abandoned += queue::janitor::abandon_stale(&env.conn, &env.settings, later, 5)
            .await
            .unwrap();
    }
    assert_eq!(abandoned, 1, "the record behind the waiting ones");
    let rec = records.get(&orphan.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Abandoned, "{rec:?}");
    for id in &waiting {
        let rec = records.get(id).await.unwrap().unwrap();
        assert_eq!(rec.state, JobState::Queued, "{rec:?}");
    }
    env.cleanup().await;
}
