//! The queue's own scripts against the real Redis and a real apalis worker: a push of a tick's
//! jobs in one call, the leak of in-place retries (apalis' copy of the delivered task must be
//! collected), and a durable retry written in one script and then run by apalis.
//!
//! Each test uses its own key prefix and removes its keys (and its queue names from apalis'
//! global `core:apalis:queues:list`) when it ends, pass or fail.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::{PollWith, Strategy};
use apalis_redis::RedisStorage;
use chrono::Utc;
use domain::{ErrorClass, FailureClass, JobKind, JobState, Venue};
use futures::StreamExt;
use keyspace::{Keys, RedisConn};
use queue::{Enqueuer, Failure, Handler, Job, PushOutcome, janitor, queue_config, records::Update};
use redis::AsyncCommands;
use settings::{RetryPolicy, Settings};

// Dependencies of the crate, not of these tests.
use metrics as _;
use proptest as _;
use rand as _;
use serde as _;
use serde_json as _;
use thiserror as _;
use tracing as _;

mod common;
use common::REDIS_URL;

async fn setup(
    name: &str,
    tune: impl FnOnce(&mut Settings),
) -> (RedisConn, Enqueuer, common::Cleanup) {
    let (_, conn, enqueuer, cleanup) = common::setup("runner", name, tune).await;
    (conn, enqueuer, cleanup)
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fails its first call (retryable), succeeds after.
#[derive(Default)]
struct FailsOnce {
    calls: AtomicU32,
}

impl Handler for FailsOnce {
    async fn execute(&self, _: &Job) -> Result<String, Failure> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(Failure {
                message: "upstream: 503".into(),
                class: FailureClass::Fetch(ErrorClass::Server),
                retryable: true,
                retry_after: None,
            });
        }
        Ok("ok".into())
    }
}

async fn handle(
    job: Job,
    worker: WorkerContext,
    c: Data<Arc<(Enqueuer, FailsOnce)>>,
) -> Result<(), BoxDynError> {
    let c: &(Enqueuer, FailsOnce) = &c;
    queue::runner::run(&c.0, &c.1, job, worker.name()).await;
    Ok(())
}

/// Runs one apalis worker of `kind` (as the worker replica does, every task through the runner)
/// until the returned handle is aborted.
fn spawn_worker(q: &Enqueuer, kind: JobKind) -> tokio::task::JoinHandle<()> {
    let cfg = queue_config(q.settings(), kind);
    let storage = RedisStorage::<Job, RedisConn>::new(q.conn()).with_config(cfg);
    let strategy = Strategy::new().interval(Duration::from_millis(50));
    let worker = WorkerBuilder::new(format!("runner-test-{}", ulid::Ulid::generate()))
        .backend(PollWith::new(storage, strategy))
        .data(Arc::new((q.clone(), FailsOnce::default())))
        .concurrency(2)
        .build(handle);
    tokio::spawn(async move {
        let _ = worker.run().await;
    })
}

async fn state_of(q: &Enqueuer, id: &str) -> Option<JobState> {
    q.records().get(id).await.ok().flatten().map(|r| r.state)
}

#[tokio::test]
async fn a_tick_of_jobs_of_several_kinds_is_one_push_with_records_only_for_new_tasks_and_one_wake_per_kind()
 {
    let (mut conn, q, _cleanup) = setup("push-all", |_| {}).await;
    let keys = q.keys().clone();
    let tick = Utc::now().timestamp();
    let a = Job::for_tick(JobKind::FetchTicker, Some(Venue::Upbit), tick);
    let b = Job::for_tick(JobKind::FetchTicker, Some(Venue::Binance), tick);
    let c = Job::for_tick(JobKind::FetchFx, None, tick);
    assert_eq!(q.push(&a).await.unwrap(), PushOutcome::New);
    // The record of `a` moves on; a duplicate push must not touch it.
    q.records()
        .transition(
            &a,
            2,
            JobState::Running,
            Utc::now().timestamp_millis(),
            Update::default(),
        )
        .await
        .unwrap();

    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    let (ticker_ch, fx_ch) = (
        keys.wake_channel(JobKind::FetchTicker),
        keys.wake_channel(JobKind::FetchFx),
    );
    sub.subscribe(&ticker_ch).await.unwrap();
    sub.subscribe(&fx_ch).await.unwrap();

    let out = q
        .push_all(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    assert_eq!(
        out,
        [PushOutcome::Duplicate, PushOutcome::New, PushOutcome::New]
    );
    for (j, state) in [
        (&a, JobState::Running),
        (&b, JobState::Queued),
        (&c, JobState::Queued),
    ] {
        assert_eq!(state_of(&q, &j.id).await, Some(state), "{}", j.id);
    }
    let rec = q.records().get(&b.id).await.unwrap().unwrap();
    assert_eq!(
        (rec.kind, rec.venue, rec.tick, rec.attempts, rec.manual),
        (JobKind::FetchTicker, Some(Venue::Binance), tick, 1, false)
    );
    let queued: Vec<String> = conn
        .zrange(
            keys.jobs_index(Some(JobKind::FetchTicker), Some(JobState::Queued)),
            0,
            -1,
        )
        .await
        .unwrap();
    assert_eq!(queued, std::slice::from_ref(&b.id));
    for j in [&a, &b, &c] {
        let cfg = queue_config(q.settings(), j.kind);
        let at: Option<f64> = conn.zscore(cfg.scheduled_jobs_set(), &j.id).await.unwrap();
        assert!(at.is_some(), "{} is in its queue", j.id);
    }

    // Messages of one channel arrive in order: a marker published after the push closes each.
    let _: () = conn.publish(&ticker_ch, "end").await.unwrap();
    let _: () = conn.publish(&fx_ch, "end").await.unwrap();
    let mut wakes = std::collections::BTreeMap::<String, u32>::new();
    let mut ended = 0;
    let mut stream = sub.on_message();
    while ended < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the markers arrive")
            .expect("the subscription is open");
        let payload: String = msg.get_payload().unwrap();
        if payload == "end" {
            ended += 1;
        } else {
            *wakes.entry(msg.get_channel_name().to_string()).or_default() += 1;
        }
    }
    assert_eq!(
        wakes.into_iter().collect::<Vec<_>>(),
        [(fx_ch, 1), (ticker_ch, 1)],
        "one wake per kind with a new task"
    );
}

#[tokio::test]
async fn a_job_retried_in_place_leaves_no_apalis_copy_of_any_of_its_tasks_after_the_retention_window()
 {
    let (mut conn, q, _cleanup) = setup("leak", |s| {
        s.retention.job_records_secs = 1;
        // Every retry of a ticker waits exactly 100 ms: in place.
        s.retry.fetch_ticker = RetryPolicy {
            max_attempts: 3,
            base_ms: 200,
            cap_ms: 100,
        };
    })
    .await;
    let kind = JobKind::FetchTicker;
    let job = Job {
        manual: true,
        ..Job::for_tick(kind, Some(Venue::Upbit), Utc::now().timestamp())
    };
    assert_eq!(q.push(&job).await.unwrap(), PushOutcome::New);
    let worker = spawn_worker(&q, kind);
    wait_until("the job is done", || {
        let (q, id) = (q.clone(), job.id.clone());
        async move { state_of(&q, &id).await == Some(JobState::Done) }
    })
    .await;
    let rec = q.records().get(&job.id).await.unwrap().unwrap();
    assert_eq!(
        rec.attempts, 2,
        "the second attempt ran in the same delivery"
    );
    let cfg = queue_config(q.settings(), kind);
    let meta = |tid: &str| format!("{}:{tid}", cfg.job_meta_hash());
    wait_until("apalis acknowledged the delivered task", || {
        let (mut c, key) = (conn.clone(), meta(&job.id));
        async move {
            let s: Option<String> = c.hget(key, "status").await.unwrap_or(None);
            s.as_deref() == Some("Done")
        }
    })
    .await;
    worker.abort();
    let _ = worker.await;

    // Past the retention window, the janitor's pass deletes apalis' copy of the delivered task.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let swept = janitor::sweep(&conn, q.settings(), 100).await.unwrap();
    assert_eq!(swept.postponed, 0);
    let tids = [job.task_id(), job.next_attempt().task_id()];
    for tid in &tids {
        let data: bool = conn.hexists(cfg.job_data_hash(), tid).await.unwrap();
        let m: bool = conn.exists(meta(tid)).await.unwrap();
        assert!(!data && !m, "apalis' copy of {tid} was collected");
    }
    let left: usize = conn.hlen(cfg.job_data_hash()).await.unwrap();
    assert_eq!(left, 0, "the queue's data hash is empty");
    let gc: usize = conn.zcard(q.keys().gc()).await.unwrap();
    assert_eq!(gc, 0, "nothing left to collect");
}

#[tokio::test]
async fn a_durable_retry_is_recorded_and_its_successor_pushed_by_one_script_and_apalis_runs_it() {
    let (mut conn, q, _cleanup) = setup("durable", |s| {
        // A retry of fx waits exactly 1 s: durable.
        s.retry.fetch_fx = RetryPolicy {
            max_attempts: 3,
            base_ms: 2_000,
            cap_ms: 1_000,
        };
    })
    .await;
    let kind = JobKind::FetchFx;
    let job = Job {
        manual: true,
        ..Job::for_tick(kind, None, Utc::now().timestamp())
    };
    let next = job.next_attempt().task_id();
    assert_eq!(q.push(&job).await.unwrap(), PushOutcome::New);
    let cfg = queue_config(q.settings(), kind);
    let keys: Keys = q.keys().clone();
    let worker = spawn_worker(&q, kind);
    wait_until("the job is scheduled", || {
        let (q, id) = (q.clone(), job.id.clone());
        async move { state_of(&q, &id).await == Some(JobState::Scheduled) }
    })
    .await;
    // Whatever the worker does next, the successor already exists: the scheduled record and
    // its task were written together (or it has run already and the job is done).
    let has_data: bool = conn.hexists(cfg.job_data_hash(), &next).await.unwrap();
    assert!(has_data, "the successor {next} was pushed with the record");
    let gc: Option<f64> = conn
        .zscore(keys.gc(), format!("{kind}|{}", job.id))
        .await
        .unwrap();
    assert!(gc.is_some(), "the delivered task was filed for collection");

    wait_until("the successor ran and the job is done", || {
        let (q, id) = (q.clone(), job.id.clone());
        async move { state_of(&q, &id).await == Some(JobState::Done) }
    })
    .await;
    worker.abort();
    let _ = worker.await;
    let rec = q.records().get(&job.id).await.unwrap().unwrap();
    assert_eq!((rec.attempts, rec.runs), (2, 2));
    let last: Option<i64> = conn.hget(keys.last_success(), kind.as_str()).await.unwrap();
    assert!(last.is_some(), "the finish wrote the last success");
    let gc: Option<f64> = conn
        .zscore(keys.gc(), format!("{kind}|{next}"))
        .await
        .unwrap();
    assert!(
        gc.is_some(),
        "the successor's task was filed for collection"
    );
}
