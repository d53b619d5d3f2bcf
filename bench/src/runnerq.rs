//! No-op job throughput through the project's own job path, not apalis alone: worker processes
//! (`runner-worker`) build their apalis workers exactly as `worker::run_with` does
//! (`queue::queue_config`, `PollWith` on `queue::wake` + the poll interval, `concurrency` from the
//! settings, `parallelize(tokio::spawn)`, one worker per job kind) and run every task through
//! `queue::runner::run` with a no-op `queue::Handler`; jobs are pushed with
//! `queue::Enqueuer::push` (apalis push, `PUBLISH` wake, job record `queued`); every job's record
//! goes queued → running → done, its task id is handed to the janitor's gc set and the kind's
//! last success is written. Each worker process also runs the janitor every 2 s
//! (`repair_queues` + `sweep`), the backlog drain and a process heartbeat each second, as
//! `worker/src/maintenance.rs` does.
//!
//! - drain: start P worker processes (idle, subscribed to the wake channels), then push N
//!   `compute-premium` jobs (manual, so never dropped as late) with `Enqueuer::push`,
//!   `--push-concurrency` pushes in flight, and time from the first push until the records index
//!   `{p}:jobs:compute-premium:done` holds N. The pushes overlap the processing: the time
//!   includes enqueueing.
//! - recovery: worker A (2 s jobs) gets `kill -9` once 8 records are `running`; worker B must
//!   bring all 40 records to `done` (A's in-flight tasks are re-queued by apalis once A missed
//!   its heartbeats; B's run claims the record with a new run token).

use std::{
    path::PathBuf,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use domain::{JobKind, JobState};
use futures::StreamExt;
use keyspace::{Keys, RedisConn};
use queue::{
    Enqueuer, Failure, Job,
    consumers::{self, Consumer},
    drain::drain_backlog,
    janitor, queue_config, wake,
};
use redis::AsyncCommands;
use serde_json::json;
use settings::{Settings, WorkerSettings};
use tokio::{process::Command, sync::watch};

/// The kind pushed by the bench (every kind has workers, as in the real worker).
const KIND: JobKind = JobKind::ComputePremium;

fn settings(redis_url: &str, prefix: &str, concurrency: Option<usize>) -> Arc<Settings> {
    let d = WorkerSettings::default();
    Arc::new(Settings {
        redis_url: redis_url.to_string(),
        redis_prefix: prefix.to_string(),
        worker: WorkerSettings {
            concurrency: concurrency.unwrap_or(d.concurrency),
            ..d
        },
        ..Default::default()
    })
}

/// The no-op job body (or a sleep, for the recovery check).
struct Noop {
    sleep_ms: u64,
}

impl queue::Handler for Noop {
    async fn execute(&self, _: &Job) -> Result<String, Failure> {
        if self.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        }
        Ok(String::new())
    }
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// The run's `redis_prefix`.
    #[arg(long)]
    prefix: String,
    /// `worker.concurrency` (default: the project's default, 8).
    #[arg(long)]
    concurrency: Option<usize>,
    /// The handler sleeps this long (recovery check only).
    #[arg(long, default_value_t = 0)]
    sleep_ms: u64,
    /// Exit once this many `compute-premium` records are `done` (0: never).
    #[arg(long, default_value_t = 0)]
    expect: u64,
    #[arg(long, default_value_t = 120)]
    deadline_secs: u64,
}

/// `worker/src/maintenance.rs` reduced to what concerns the queue: heartbeat, backlog drain each
/// beat, janitor (repair + sweep) every 2 s.
async fn maintenance(
    settings: Arc<Settings>,
    conn: RedisConn,
    pid: String,
    mut stop: watch::Receiver<bool>,
) {
    let keys = Keys::new(&settings.redis_prefix);
    let beat = Duration::from_millis(settings.worker.heartbeat_ms);
    let mut last_sweep = Instant::now() - Duration::from_secs(3600);
    let mut c = conn.clone();
    loop {
        let _: Result<(), _> = c
            .zadd(keys.workers(), &pid, Utc::now().timestamp_millis())
            .await;
        let _ = drain_backlog(&conn, &settings).await;
        if last_sweep.elapsed() >= Duration::from_secs(2) {
            last_sweep = Instant::now();
            let _ = janitor::repair_queues(&conn, &settings).await;
            if let Err(e) = janitor::sweep(&conn, &settings, 2_000).await {
                eprintln!("janitor pass failed: {e}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(beat) => {}
            _ = stop.changed() => {
                let _: Result<(), _> = c.zrem(keys.workers(), &pid).await;
                return;
            }
        }
    }
}

/// One worker process of the project's shape.
pub async fn worker(a: WorkerArgs) -> Result<(), String> {
    let settings = settings(&a.redis_url, &a.prefix, a.concurrency);
    let conn = keyspace::connect_redis(&a.redis_url, Duration::from_secs(5))
        .await
        .map_err(|e| format!("redis: {e}"))?;
    let keys = Keys::new(&a.prefix);
    let consumer = Arc::new(Consumer {
        enqueuer: Enqueuer::new(conn.clone(), settings.clone()),
        handler: Noop {
            sleep_ms: a.sleep_ms,
        },
    });
    let pid = format!(
        "bench-{}-{}",
        std::process::id(),
        &ulid::Ulid::generate().to_string()[20..]
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let wakers = wake::Wakers::new();
    let mut background = vec![
        tokio::spawn(wake::subscribe(
            keyspace::RedisTarget::Url(settings.redis_url.clone()),
            keys.clone(),
            wakers.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(maintenance(
            settings.clone(),
            conn.clone(),
            pid.clone(),
            stop_rx.clone(),
        )),
    ];

    // The worker replica's own construction (queue::consumers).
    let monitor = consumers::monitor(&settings, conn.clone(), consumer, wakers, &pid);

    let done_key = keys.jobs_index(Some(KIND), Some(JobState::Done));
    let watch_conn = conn.clone();
    let deadline = Duration::from_secs(a.deadline_secs);
    let signal = async move {
        crate::jobq::until_done(a.expect, deadline, || {
            let mut c = watch_conn.clone();
            let key = done_key.clone();
            async move { c.zcard(&key).await.unwrap_or(0) }
        })
        .await?;
        let _ = stop_tx.send(true);
        Ok(())
    };
    let r = monitor.run_with_signal(signal).await;
    for h in background.drain(..) {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
    r.map_err(|e| format!("monitor: {e}"))
}

#[derive(clap::Args)]
pub struct SuiteArgs {
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// Key prefix of this run; everything under it is deleted at the end.
    #[arg(long)]
    prefix: String,
    /// JSON lines are appended here.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 20_000)]
    jobs: u64,
    /// Drain configurations, `processes:concurrency` (`worker.concurrency`, which is also the
    /// apalis batch size in `queue_config`), comma-separated. 8 is the project's default.
    #[arg(long, default_value = "1:8,2:8,1:50,2:50")]
    configs: String,
    /// `Enqueuer::push` calls in flight.
    #[arg(long, default_value_t = 64)]
    push_concurrency: usize,
    /// Skip the kill -9 recovery check.
    #[arg(long)]
    no_recovery: bool,
}

fn spawn_worker(
    a: &SuiteArgs,
    prefix: &str,
    concurrency: Option<usize>,
    sleep_ms: u64,
    expect: u64,
    deadline_secs: u64,
) -> Result<tokio::process::Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.arg("runner-worker")
        .arg("--redis-url")
        .arg(&a.redis_url)
        .arg("--prefix")
        .arg(prefix)
        .arg("--sleep-ms")
        .arg(sleep_ms.to_string())
        .arg("--expect")
        .arg(expect.to_string())
        .arg("--deadline-secs")
        .arg(deadline_secs.to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(c) = concurrency {
        cmd.arg("--concurrency").arg(c.to_string());
    }
    cmd.spawn()
        .map_err(|e| format!("cannot start a worker: {e}"))
}

/// Waits until `n` processes' apalis workers of every kind are registered and their wake
/// subscriptions had time to start.
async fn wait_registered(conn: &mut RedisConn, s: &Settings, n: usize) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let mut ok = true;
        for kind in JobKind::ALL {
            let k: usize = conn
                .zcard(queue_config(s, kind).workers_set())
                .await
                .unwrap_or(0);
            ok &= k >= n;
        }
        if ok {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(format!("{n} worker process(es) not registered within 20 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn zcard(conn: &mut RedisConn, key: &str) -> u64 {
    conn.zcard(key).await.unwrap_or(0)
}

async fn drain_run(
    a: &SuiteArgs,
    conn: &mut RedisConn,
    processes: usize,
    concurrency: usize,
) -> Result<serde_json::Value, String> {
    let prefix = format!("{}:d{processes}c{concurrency}", a.prefix);
    let s = settings(&a.redis_url, &prefix, Some(concurrency));
    let keys = Keys::new(&prefix);
    let enq = Enqueuer::new(conn.clone(), s.clone());
    let n = a.jobs;
    let mut children = Vec::new();
    for _ in 0..processes {
        children.push(spawn_worker(a, &prefix, Some(concurrency), 0, n, 240)?);
    }
    let result = async {
        wait_registered(conn, &s, processes).await?;
        let pids: Vec<u32> = children.iter().filter_map(|c| c.id()).collect();
        let wcpu0: f64 = pids.iter().filter_map(|p| crate::jobq::proc_cpu(*p)).sum();
        let rcpu0 = crate::jobq::redis_cpu(conn).await;
        let now = Utc::now();
        let jobs: Vec<Job> = (0..n).map(|_| Job::manual(KIND, None, now)).collect();
        let stats0 = crate::jobq::redis_stats(conn).await;
        let t0 = Instant::now();
        let pushes = futures::stream::iter(jobs.iter().map(|j| enq.push(j)))
            .buffer_unordered(a.push_concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let push_secs = t0.elapsed().as_secs_f64();
        let failed_pushes = pushes.iter().filter(|r| r.is_err()).count();
        if let Some(Err(e)) = pushes.iter().find(|r| r.is_err()) {
            eprintln!("runner-suite: push failed: {e}");
        }
        let done_key = keys.jobs_index(Some(KIND), Some(JobState::Done));
        let mut done = 0;
        while t0.elapsed() < Duration::from_secs(180) {
            done = zcard(conn, &done_key).await;
            if done >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        let wcpu1: f64 = pids.iter().filter_map(|p| crate::jobq::proc_cpu(*p)).sum();
        let rcpu1 = crate::jobq::redis_cpu(conn).await;
        let stats1 = crate::jobq::redis_stats(conn).await;
        // What the runner left: records per state, gc entries, last success.
        let counts = enq
            .records()
            .counts(Some(KIND))
            .await
            .map_err(|e| e.to_string())?;
        let not_done: u64 = counts
            .iter()
            .filter(|(st, _)| *st != JobState::Done)
            .map(|(_, c)| c)
            .sum();
        let gc: u64 = zcard(conn, &format!("{prefix}:gc")).await;
        let last_success: Option<i64> = conn
            .hget(keys.last_success(), KIND.as_str())
            .await
            .unwrap_or(None);
        let mut row = json!({
            "system": "runner", "kind": "runner_drain",
            "processes": processes, "concurrency": s.worker.concurrency,
            "batch": s.worker.concurrency, "lock_tasks": false,
            "poll_ms": s.worker.poll_interval_ms, "push_concurrency": a.push_concurrency,
            "jobs": n, "done": done, "records_not_done": not_done, "failed_pushes": failed_pushes,
            "gc_entries": gc, "last_success_set": last_success.is_some(),
            "complete": done >= n, "secs": secs, "jobs_per_s": done as f64 / secs,
            "enqueue_per_s": n as f64 / push_secs,
            "redis_cpu_s": rcpu1 - rcpu0,
            "workers_cpu_s": if wcpu1 > 0.0 { Some(wcpu1 - wcpu0) } else { None },
        });
        if let (Some(row), serde_json::Value::Object(cost)) =
            (row.as_object_mut(), crate::jobq::per_job(stats0, stats1, n))
        {
            row.extend(cost);
        }
        Ok::<_, String>(row)
    }
    .await;
    crate::jobq::stop_children(&mut children).await;
    crate::delete_prefix(conn, &prefix)
        .await
        .map_err(|e| e.to_string())?;
    result
}

async fn recovery_run(a: &SuiteArgs, conn: &mut RedisConn) -> Result<serde_json::Value, String> {
    let prefix = format!("{}:rec", a.prefix);
    let s = settings(&a.redis_url, &prefix, None);
    let keys = Keys::new(&prefix);
    let enq = Enqueuer::new(conn.clone(), s.clone());
    let jobs = 40u64;
    let mut a_child = spawn_worker(a, &prefix, None, 2_000, 0, 60)?;
    let mut b_child: Option<tokio::process::Child> = None;
    let result = async {
        wait_registered(conn, &s, 1).await?;
        let now = Utc::now();
        let batch: Vec<Job> = (0..jobs).map(|_| Job::manual(KIND, None, now)).collect();
        for j in &batch {
            enq.push(j).await.map_err(|e| format!("push: {e}"))?;
        }
        let running_key = keys.jobs_index(Some(KIND), Some(JobState::Running));
        let start = Instant::now();
        let started_by_a = loop {
            let r = zcard(conn, &running_key).await;
            if r >= 8 {
                break r;
            }
            if start.elapsed() > Duration::from_secs(15) {
                return Err(format!("worker A started only {r} jobs in 15 s"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        a_child.start_kill().map_err(|e| e.to_string())?; // SIGKILL
        let _ = tokio::time::timeout(Duration::from_secs(5), a_child.wait()).await;
        let killed = Instant::now();
        b_child = Some(spawn_worker(a, &prefix, Some(40), 2_000, jobs, 60)?);
        let done_key = keys.jobs_index(Some(KIND), Some(JobState::Done));
        let mut done = 0;
        while killed.elapsed() < Duration::from_secs(40) {
            done = zcard(conn, &done_key).await;
            if done >= jobs {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = killed.elapsed().as_secs_f64();
        let mut twice = 0;
        for j in &batch {
            if let Ok(Some(r)) = enq.records().get(&j.id).await
                && r.runs >= 2
            {
                twice += 1;
            }
        }
        Ok::<_, String>(json!({
            "system": "runner", "kind": "recovery", "lock_tasks": false,
            "jobs": jobs, "started_by_killed_worker": started_by_a,
            "done": done, "lost": jobs - done.min(jobs), "run_twice": twice,
            "secs_from_kill_to_all_done": secs, "intact": done >= jobs,
        }))
    }
    .await;
    let _ = a_child.kill().await;
    if let Some(mut b) = b_child {
        crate::jobq::stop_children(std::slice::from_mut(&mut b)).await;
    }
    crate::delete_prefix(conn, &prefix)
        .await
        .map_err(|e| e.to_string())?;
    result
}

pub async fn suite(a: SuiteArgs) -> Result<(), String> {
    let mut conn = keyspace::connect_redis(&a.redis_url, Duration::from_secs(5))
        .await
        .map_err(|e| format!("redis: {e}"))?;
    let mut failures = 0;
    let mut results = Vec::new();
    let mut record = |r: Result<serde_json::Value, String>| match r {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("runner-suite: run failed: {e}");
            failures += 1;
            None
        }
    };
    if !a.no_recovery {
        let r = recovery_run(&a, &mut conn).await;
        results.extend(record(r));
    }
    for c in a.configs.split(',').filter(|c| !c.trim().is_empty()) {
        let parsed = c
            .trim()
            .split_once(':')
            .and_then(|(p, c)| Some((p.parse::<usize>().ok()?, c.parse::<usize>().ok()?)));
        let r = match parsed {
            Some((p, c)) => drain_run(&a, &mut conn, p.clamp(1, 8), c.max(1)).await,
            None => Err(format!("bad config `{c}` (processes:concurrency)")),
        };
        results.extend(record(r));
    }
    for v in results {
        crate::jobq::emit(&a.out, v).await?;
    }
    crate::delete_prefix(&mut conn, &a.prefix)
        .await
        .map_err(|e| e.to_string())?;
    if failures > 0 {
        return Err(format!("{failures} run(s) failed"));
    }
    Ok(())
}
