//! The contract between this project and apalis-redis' private Redis layout.
//!
//! `queue::janitor`, `queue::drain` and `queue::enqueue` read and write apalis-redis' own keys
//! and statuses with their own Lua scripts. These tests run the real apalis-redis (pinned to
//! `=1.0.0` in the workspace) against the real Redis and fail when one of those assumptions no
//! longer holds:
//!
//! - pushes land in `<q>:scheduled` (ZSET) scored in whole unix seconds, the payload in `<q>:data`
//!   (HASH, id → payload), the status in `<q>:meta:<id>` (HASH) field `status`; a second push of
//!   an id is a no-op that `push_tasks` reports as `(0, 0)`; the project's own push script
//!   (`queue/src/lua/push_task.lua`) writes the same data and meta as apalis' push, and an
//!   apalis worker fetches and runs the tasks it pushed (every push in these tests is it);
//! - the drain moves due ids from `<q>:scheduled` to `<q>:active` (LIST) comparing scores with
//!   `now` in seconds, and a worker then works them from there;
//! - a registered worker is a member of `<q>:workers` (ZSET, `Config::workers_set()`), its
//!   fetched tasks sit in `<q>:inflight:<worker>` (`Config::inflight_jobs_set()` + `:` + name),
//!   its metadata in `<q>:workers:metadata:<worker>`, and its queue is registered in
//!   `core:apalis:queues:list`;
//! - a finished task's meta `status` is `Done` (member of `<q>:done`) or, when the handler
//!   returns an `AbortError`, `Killed` (member of `<q>:dead`);
//! - the janitor's sweep deletes exactly such tasks, and its repair removes ids without data
//!   from the active list and the in-flight sets.
//!
//! Each test uses its own key prefix and removes its keys (and its queue names from apalis'
//! global `core:apalis:queues:list`) when it ends, pass or fail.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::{PollWith, Strategy};
use apalis_redis::{RedisStorage, queries::push_tasks};
use chrono::Utc;
use domain::JobKind;
use keyspace::RedisConn;
use queue::{Enqueuer, Job, PushOutcome, drain::drain_backlog, janitor, queue_config};
use redis::AsyncCommands;
use settings::Settings;

// Dependencies of the crate, not of these tests.
use futures as _;
use metrics as _;
use proptest as _;
use rand as _;
use serde as _;
use thiserror as _;
use tracing as _;

mod common;
use common::QUEUES_LIST;

async fn setup(name: &str) -> (Arc<Settings>, RedisConn, Enqueuer, common::Cleanup) {
    common::setup("contract", name, |_| {}).await
}

fn job(kind: JobKind, id: &str) -> Job {
    Job {
        id: id.into(),
        ..Job::for_tick(kind, None, Utc::now().timestamp())
    }
}

async fn key_type(conn: &mut RedisConn, key: &str) -> String {
    redis::cmd("TYPE").arg(key).query_async(conn).await.unwrap()
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_push_lands_in_the_scheduled_zset_scored_in_whole_seconds_with_its_payload_in_the_data_hash()
 {
    let (settings, mut conn, enqueuer, _cleanup) = setup("push").await;
    let cfg = queue_config(&settings, JobKind::FetchFx);
    let j = job(JobKind::FetchFx, "contract-push");

    let before = Utc::now().timestamp();
    assert_eq!(
        enqueuer.push_task(&j, None).await.unwrap(),
        PushOutcome::New
    );
    let after = Utc::now().timestamp();

    assert_eq!(cfg.scheduled_jobs_set(), format!("{}:scheduled", cfg.queue));
    assert_eq!(key_type(&mut conn, &cfg.scheduled_jobs_set()).await, "zset");
    let score: f64 = conn.zscore(cfg.scheduled_jobs_set(), &j.id).await.unwrap();
    assert_eq!(score.fract(), 0.0, "score {score} is not whole seconds");
    assert!(
        (before..=after).contains(&(score as i64)),
        "score {score} is not now in unix seconds ({before}..={after})"
    );
    let active: usize = conn.llen(cfg.active_jobs_list()).await.unwrap();
    assert_eq!(
        active, 0,
        "a push goes to the scheduled set, not the active list"
    );

    assert_eq!(cfg.job_data_hash(), format!("{}:data", cfg.queue));
    assert_eq!(key_type(&mut conn, &cfg.job_data_hash()).await, "hash");
    let data: Option<Vec<u8>> = conn.hget(cfg.job_data_hash(), &j.id).await.unwrap();
    assert!(
        data.is_some(),
        "no payload under the task id in the data hash"
    );

    assert_eq!(cfg.job_meta_hash(), format!("{}:meta", cfg.queue));
    let meta_key = format!("{}:meta:{}", cfg.queue, j.id);
    assert_eq!(key_type(&mut conn, &meta_key).await, "hash");
    let status: Option<String> = conn.hget(&meta_key, "status").await.unwrap();
    assert_eq!(status.as_deref(), Some("Pending"));

    // A second push of the same id is a no-op that push_tasks reports as (0, 0).
    assert_eq!(
        enqueuer.push_task(&j, None).await.unwrap(),
        PushOutcome::Duplicate
    );
    let task = TaskBuilder::new(serde_json::to_vec(&j).unwrap())
        .task_id(TaskId::from_string(j.task_id()))
        .build();
    let counts = push_tasks(&mut conn.clone(), &cfg, &[task]).await.unwrap();
    assert_eq!(counts, (0, 0));
    let n: usize = conn.zcard(cfg.scheduled_jobs_set()).await.unwrap();
    assert_eq!(n, 1);

    // The project's push script writes a task exactly as apalis' own push does (the same
    // task, configured as the project configures it, pushed by apalis under another id).
    let twin = job(JobKind::FetchFx, "contract-push-apalis");
    let task = TaskBuilder::new(serde_json::to_vec(&twin).unwrap())
        .task_id(TaskId::from_string(twin.task_id()))
        .max_attempts(1)
        .build();
    assert_eq!(
        push_tasks(&mut conn.clone(), &cfg, &[task]).await.unwrap(),
        (0, 1)
    );
    let ours: std::collections::HashMap<String, String> = conn.hgetall(&meta_key).await.unwrap();
    let theirs: std::collections::HashMap<String, String> = conn
        .hgetall(format!("{}:meta:{}", cfg.queue, twin.id))
        .await
        .unwrap();
    assert_eq!(ours, theirs, "the meta hash of a pushed task");
    let twin_data: Vec<u8> = conn.hget(cfg.job_data_hash(), &twin.id).await.unwrap();
    assert_eq!(data.unwrap(), serde_json::to_vec(&j).unwrap());
    assert_eq!(twin_data, serde_json::to_vec(&twin).unwrap());
}

#[tokio::test]
async fn the_drain_moves_a_pile_up_of_due_tasks_from_the_scheduled_zset_to_the_active_list() {
    let (settings, mut conn, _enqueuer, _cleanup) = setup("drain").await;
    let cfg = queue_config(&settings, JobKind::ComputePremium);
    // The drain starts above 1,000 due tasks.
    let tasks: Vec<_> = (0..1_200)
        .map(|i| {
            let j = job(JobKind::ComputePremium, &format!("contract-drain-{i}"));
            TaskBuilder::new(serde_json::to_vec(&j).unwrap())
                .task_id(TaskId::from_string(j.task_id()))
                .build()
        })
        .collect();
    let (enqueued, scheduled) = push_tasks(&mut conn.clone(), &cfg, &tasks).await.unwrap();
    assert_eq!(enqueued + scheduled, 1_200);
    let due: usize = conn.zcard(cfg.scheduled_jobs_set()).await.unwrap();
    assert_eq!(due, 1_200, "pushes land in the scheduled set");

    // The drain compares scores with now in seconds; were they in milliseconds, none would be due.
    // It moves chunks of 1,000 while more than 1,000 are due, and leaves the rest to apalis.
    let moved = drain_backlog(&conn, &settings).await.unwrap();
    assert_eq!(moved, 1_000);
    assert_eq!(cfg.active_jobs_list(), format!("{}:active", cfg.queue));
    assert_eq!(key_type(&mut conn, &cfg.active_jobs_list()).await, "list");
    let active: usize = conn.llen(cfg.active_jobs_list()).await.unwrap();
    assert_eq!(active, 1_000);
    let left: usize = conn.zcard(cfg.scheduled_jobs_set()).await.unwrap();
    assert_eq!(left, 200);
}

static RELEASE: AtomicBool = AtomicBool::new(false);

/// Succeeds for `…-ok`, aborts `…-abort`, holds `…-hold` until [`RELEASE`].
async fn contract_handler(job: Job) -> Result<(), BoxDynError> {
    if job.id.ends_with("-abort") {
        return Err(AbortError::new("contract: abort").into());
    }
    if job.id.ends_with("-hold") {
        while !RELEASE.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_worker_leaves_the_keys_and_statuses_the_janitor_relies_on() {
    let (settings, mut conn, enqueuer, _cleanup) = setup("worker").await;
    let kind = JobKind::FetchTicker;
    let cfg = queue_config(&settings, kind);
    let q = cfg.queue.to_string();
    let (ok, abort, hold) = (
        job(kind, "contract-ok"),
        job(kind, "contract-abort"),
        job(kind, "contract-hold"),
    );
    // Pushed by the project's script (with records), not by apalis: the worker below must
    // fetch and run them all the same.
    let pushed = enqueuer
        .push_all(&[ok.clone(), abort.clone(), hold.clone()])
        .await
        .unwrap();
    assert_eq!(pushed, [PushOutcome::New; 3]);

    let name = format!("contract-worker-{}", ulid::Ulid::generate());
    let storage = RedisStorage::<Job, RedisConn>::new(conn.clone()).with_config(cfg.clone());
    let strategy = Strategy::new().interval(Duration::from_millis(50));
    let worker = WorkerBuilder::new(name.as_str())
        .backend(PollWith::new(storage, strategy))
        .concurrency(4)
        .build(contract_handler);
    let running = tokio::spawn(async move { worker.run().await });

    // While the hold task runs: registration and in-flight keys.
    let inflight = format!("{}:{}", cfg.inflight_jobs_set(), name);
    assert_eq!(inflight, format!("{q}:inflight:{name}"));
    wait_until("the held task is in the worker's in-flight set", || {
        let mut c = conn.clone();
        let (inflight, id) = (inflight.clone(), hold.id.clone());
        async move { c.sismember(inflight, id).await.unwrap_or(false) }
    })
    .await;
    assert_eq!(key_type(&mut conn, &inflight).await, "set");
    assert_eq!(cfg.workers_set(), format!("{q}:workers"));
    assert_eq!(key_type(&mut conn, &cfg.workers_set()).await, "zset");
    let workers: Vec<String> = conn.zrange(cfg.workers_set(), 0, -1).await.unwrap();
    assert_eq!(
        workers,
        vec![name.clone()],
        "the workers set holds bare worker names"
    );
    let beat: Option<f64> = conn.zscore(QUEUES_LIST, cfg.workers_set()).await.unwrap();
    assert!(beat.is_some(), "the queue is registered in {QUEUES_LIST}");
    let metadata = format!("{q}:workers:metadata:{name}");
    let exists: bool = conn.exists(&metadata).await.unwrap();
    assert!(exists, "worker metadata under {metadata}");
    let status: Option<String> = conn
        .hget(format!("{q}:meta:{}", hold.id), "status")
        .await
        .unwrap();
    assert_ne!(status.as_deref(), Some("Done"));
    assert_ne!(status.as_deref(), Some("Killed"));

    // The repair removes ids without data from the active list and the in-flight sets, and
    // keeps the rest. (The active-list ghost goes to a queue without a worker: a worker that
    // fetched it first would fail, which is what the repair is there to prevent.)
    let _: () = conn.sadd(&inflight, "contract-ghost").await.unwrap();
    let idle = queue_config(&settings, JobKind::ComputePremium);
    let _: () = conn
        .lpush(idle.active_jobs_list(), "contract-ghost")
        .await
        .unwrap();
    let removed = janitor::repair_queues(&conn, &settings).await.unwrap();
    assert_eq!(removed, 2);
    let held: bool = conn.sismember(&inflight, &hold.id).await.unwrap();
    assert!(held, "the repair kept a task that has data");

    // Finished: Done / Killed, in the done / dead sets.
    RELEASE.store(true, Ordering::SeqCst);
    for (j, status, set) in [
        (&ok, "Done", cfg.done_jobs_set()),
        (&hold, "Done", cfg.done_jobs_set()),
        (&abort, "Killed", cfg.dead_jobs_set()),
    ] {
        let meta_key = format!("{q}:meta:{}", j.id);
        wait_until(&format!("{} is {status}", j.id), || {
            let mut c = conn.clone();
            let meta_key = meta_key.clone();
            async move {
                let s: Option<String> = c.hget(meta_key, "status").await.unwrap_or(None);
                s.as_deref() == Some(status)
            }
        })
        .await;
        assert_eq!(key_type(&mut conn, &set).await, "set");
        let member: bool = conn.sismember(&set, &j.id).await.unwrap();
        assert!(member, "{} is in {set}", j.id);
        let left: bool = conn.sismember(&inflight, &j.id).await.unwrap();
        assert!(!left, "{} left the in-flight set", j.id);
    }
    assert_eq!(cfg.done_jobs_set(), format!("{q}:done"));
    assert_eq!(cfg.dead_jobs_set(), format!("{q}:dead"));

    // The janitor deletes finished tasks (it postpones any other status).
    let mut s = (*settings).clone();
    s.retention.job_records_secs = 0;
    let zero = Enqueuer::new(conn.clone(), Arc::new(s));
    for j in [&ok, &abort, &hold] {
        janitor::collect_later(&zero, j).await;
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let swept = janitor::sweep(&conn, &settings, 100).await.unwrap();
    assert_eq!((swept.tasks, swept.postponed), (3, 0));
    for j in [&ok, &abort, &hold] {
        let data: bool = conn.hexists(cfg.job_data_hash(), &j.id).await.unwrap();
        let meta: bool = conn.exists(format!("{q}:meta:{}", j.id)).await.unwrap();
        assert!(!data && !meta, "{} was deleted", j.id);
    }
    let done: usize = conn.scard(cfg.done_jobs_set()).await.unwrap();
    let dead: usize = conn.scard(cfg.dead_jobs_set()).await.unwrap();
    assert_eq!((done, dead), (0, 0));

    // Worker metadata stays while the worker is registered and goes once it is not.
    let removed = janitor::sweep_worker_keys(&conn, &settings).await.unwrap();
    assert_eq!(removed, 0);
    running.abort();
    let _ = running.await;
    let _: () = conn.zrem(cfg.workers_set(), &name).await.unwrap();
    let removed = janitor::sweep_worker_keys(&conn, &settings).await.unwrap();
    assert_eq!(removed, 1);
    let exists: bool = conn.exists(&metadata).await.unwrap();
    assert!(!exists);
}
