//! The three runs of the apalis suite (drain, pickup latency, `kill -9` recovery) and the
//! suite that runs them; the worker processes and helpers they drive are in the parent module.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use apalis_redis::{RedisTask, queries::push_tasks};
use keyspace::RedisConn;
use redis::AsyncCommands;
use serde_json::json;

use super::{
    BenchJob, HandlerCtx, MOVE_TO_ACTIVE, build_monitor, config, connect, emit, now_us, parse_bool,
    proc_cpu, redis_cpu, spawn_worker, stop_children, task, wait_registered,
};
use crate::stats::summarize;

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
    /// Tasks per drain run.
    #[arg(long, default_value_t = 20_000)]
    jobs: u64,
    /// Drain configurations, `processes:concurrency:batch:lock`, comma-separated.
    #[arg(
        long,
        default_value = "1:8:8:on,2:8:8:on,1:50:50:on,2:50:50:on,1:100:100:on,2:100:100:on,1:50:50:off,2:50:50:off,2:100:100:off"
    )]
    configs: String,
    /// Poll intervals of the pickup-latency runs, ms, comma-separated.
    #[arg(long, default_value = "10,2")]
    latency_polls: String,
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Skip the kill -9 recovery check.
    #[arg(long)]
    no_recovery: bool,
}

struct DrainCfg {
    processes: usize,
    concurrency: usize,
    batch: usize,
    lock: bool,
}

fn parse_configs(s: &str) -> Result<Vec<DrainCfg>, String> {
    s.split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|c| {
            let p: Vec<&str> = c.trim().split(':').collect();
            if p.len() != 4 {
                return Err(format!(
                    "bad config `{c}` (processes:concurrency:batch:lock)"
                ));
            }
            let num = |x: &str| x.parse::<usize>().map_err(|e| format!("`{c}`: {e}"));
            Ok(DrainCfg {
                processes: num(p[0])?.clamp(1, 8),
                concurrency: num(p[1])?.max(1),
                batch: num(p[2])?.max(1),
                lock: parse_bool(p[3])?,
            })
        })
        .collect()
}

/// Redis CPU (user + sys) seconds so far, from INFO.
async fn drain_run(
    a: &SuiteArgs,
    conn: &mut RedisConn,
    idx: usize,
    d: &DrainCfg,
) -> Result<serde_json::Value, String> {
    let queue = format!("{}:q:drain-{idx}", a.prefix);
    let cfg = config(&queue, d.batch, d.lock);
    let n = a.jobs;
    // Push: chunks of ≤ 1,000, scheduled an hour ahead so no worker promotes them early.
    let later = (chrono::Utc::now().timestamp() + 3_600) as u64;
    let push_start = Instant::now();
    let mut pushed = 0u64;
    while pushed < n {
        let k = (n - pushed).min(1_000);
        let tasks: Vec<RedisTask> = (pushed..pushed + k)
            .map(|i| {
                task(
                    &BenchJob {
                        n: i,
                        pushed_us: now_us(),
                        sleep_ms: 0,
                    },
                    Some(later),
                )
            })
            .collect();
        push_tasks(conn, &cfg, &tasks)
            .await
            .map_err(|e| format!("push: {e}"))?;
        pushed += k;
    }
    let push_secs = push_start.elapsed().as_secs_f64();

    let mut children = Vec::new();
    for p in 0..d.processes {
        children.push(spawn_worker(
            &a.redis_url,
            &queue,
            d.concurrency,
            d.batch,
            d.lock,
            n,
            180,
            None,
            &format!("drain{idx}p{p}"),
        )?);
    }
    let result = async {
        wait_registered(conn, &cfg, d.processes, Duration::from_secs(20)).await?;
        let pids: Vec<u32> = children.iter().filter_map(|c| c.id()).collect();
        let wcpu0: f64 = pids.iter().filter_map(|p| proc_cpu(*p)).sum();
        let rcpu0 = redis_cpu(conn).await;
        let t0 = Instant::now();
        let script = redis::Script::new(MOVE_TO_ACTIVE);
        for _ in 0..10_000 {
            let moved: u64 = script
                .key(cfg.scheduled_jobs_set())
                .key(cfg.active_jobs_list())
                .arg(1_000)
                .invoke_async(conn)
                .await
                .map_err(|e| format!("move: {e}"))?;
            if moved == 0 {
                break;
            }
        }
        let timeout = Duration::from_secs(180);
        let mut done = 0u64;
        while t0.elapsed() < timeout {
            done = conn.scard(cfg.done_jobs_set()).await.unwrap_or(0);
            if done >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        let wcpu1: f64 = pids.iter().filter_map(|p| proc_cpu(*p)).sum();
        let rcpu1 = redis_cpu(conn).await;
        let dead: u64 = conn.scard(cfg.dead_jobs_set()).await.unwrap_or(0);
        Ok::<_, String>(json!({
            "system": "apalis", "kind": "drain",
            "processes": d.processes, "concurrency": d.concurrency, "batch": d.batch,
            "lock_tasks": d.lock, "poll_ms": 10,
            "jobs": n, "done": done, "dead": dead, "complete": done >= n,
            "secs": secs, "jobs_per_s": done as f64 / secs,
            "enqueue_per_s": n as f64 / push_secs,
            "redis_cpu_s": rcpu1 - rcpu0,
            "workers_cpu_s": if wcpu1 > 0.0 { Some(wcpu1 - wcpu0) } else { None },
        }))
    }
    .await;
    stop_children(&mut children).await;
    crate::delete_prefix(conn, &queue)
        .await
        .map_err(|e| e.to_string())?;
    result
}

async fn latency_run(
    a: &SuiteArgs,
    conn: &mut RedisConn,
    poll_ms: u64,
) -> Result<serde_json::Value, String> {
    let queue = format!("{}:q:lat-{poll_ms}", a.prefix);
    let cfg = config(&queue, 8, true);
    let hctx = Arc::new(HandlerCtx {
        latencies_us: Some(Mutex::new(Vec::new())),
        runs: None,
    });
    let monitor = build_monitor(
        conn.clone(),
        cfg.clone(),
        format!("lat-{}", ulid::Ulid::generate()),
        8,
        Duration::from_millis(poll_ms),
        hctx.clone(),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(monitor.run_with_signal(async move {
        let _ = tokio::time::timeout(Duration::from_secs(120), stop_rx).await;
        Ok(())
    }));
    let result = async {
        wait_registered(conn, &cfg, 1, Duration::from_secs(20)).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let count = a.latency_secs * 100;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for i in 0..count {
            tick.tick().await;
            let t = task(
                &BenchJob {
                    n: i,
                    pushed_us: now_us(),
                    sleep_ms: 0,
                },
                None,
            );
            push_tasks(conn, &cfg, &[t])
                .await
                .map_err(|e| format!("push: {e}"))?;
        }
        let wait = Instant::now();
        while wait.elapsed() < Duration::from_secs(10) {
            if hctx
                .latencies_us
                .as_ref()
                .expect("set")
                .lock()
                .expect("lock")
                .len() as u64
                >= count
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut v: Vec<f64> = hctx
            .latencies_us
            .as_ref()
            .expect("set")
            .lock()
            .expect("lock")
            .iter()
            .map(|us| us / 1000.0)
            .collect();
        let s = summarize(&mut v).ok_or("no job was picked up")?;
        Ok::<_, String>(json!({
            "system": "apalis", "kind": "latency", "poll_ms": poll_ms,
            "concurrency": 8, "batch": 8, "lock_tasks": true,
            "pushed": count, "picked": s.n,
            "p50_ms": s.p50, "p90_ms": s.p90, "p99_ms": s.p99, "max_ms": s.max,
        }))
    }
    .await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), handle).await;
    crate::delete_prefix(conn, &queue)
        .await
        .map_err(|e| e.to_string())?;
    result
}

async fn recovery_run(
    a: &SuiteArgs,
    conn: &mut RedisConn,
    lock: bool,
) -> Result<serde_json::Value, String> {
    let tag = if lock { "on" } else { "off" };
    let queue = format!("{}:q:recovery-{tag}", a.prefix);
    let runs_key = format!("{}:runs-{tag}", a.prefix);
    let cfg = config(&queue, 8, lock);
    let jobs = 40u64;
    let mut a_child = spawn_worker(
        &a.redis_url,
        &queue,
        8,
        8,
        lock,
        0,
        60,
        Some(&runs_key),
        "victim",
    )?;
    let mut b_child: Option<tokio::process::Child> = None;
    let result = async {
        wait_registered(conn, &cfg, 1, Duration::from_secs(20)).await?;
        let tasks: Vec<RedisTask> = (0..jobs)
            .map(|i| {
                task(
                    &BenchJob {
                        n: i,
                        pushed_us: now_us(),
                        sleep_ms: 2_000,
                    },
                    None,
                )
            })
            .collect();
        push_tasks(conn, &cfg, &tasks)
            .await
            .map_err(|e| format!("push: {e}"))?;
        let start = Instant::now();
        loop {
            let started: u64 = conn.hlen(&runs_key).await.unwrap_or(0);
            if started >= 8 {
                break;
            }
            if start.elapsed() > Duration::from_secs(15) {
                return Err(format!("worker A started only {started} jobs in 15 s"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started_by_a: u64 = conn.hlen(&runs_key).await.unwrap_or(0);
        a_child.start_kill().map_err(|e| e.to_string())?; // SIGKILL
        let _ = tokio::time::timeout(Duration::from_secs(5), a_child.wait()).await;
        let killed = Instant::now();
        b_child = Some(spawn_worker(
            &a.redis_url,
            &queue,
            40,
            40,
            lock,
            jobs,
            60,
            Some(&runs_key),
            "rescuer",
        )?);
        let mut done = 0u64;
        while killed.elapsed() < Duration::from_secs(40) {
            done = conn.scard(cfg.done_jobs_set()).await.unwrap_or(0);
            if done >= jobs {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = killed.elapsed().as_secs_f64();
        let runs: std::collections::HashMap<u64, u64> =
            conn.hgetall(&runs_key).await.unwrap_or_default();
        let twice = runs.values().filter(|r| **r >= 2).count();
        Ok::<_, String>(json!({
            "system": "apalis", "kind": "recovery", "lock_tasks": lock,
            "jobs": jobs, "started_by_killed_worker": started_by_a,
            "done": done, "lost": jobs - done.min(jobs), "run_twice": twice,
            "secs_from_kill_to_all_done": secs, "intact": done >= jobs,
        }))
    }
    .await;
    let _ = a_child.kill().await;
    if let Some(mut b) = b_child {
        stop_children(std::slice::from_mut(&mut b)).await;
    }
    crate::delete_prefix(conn, &queue)
        .await
        .map_err(|e| e.to_string())?;
    let _: Result<(), _> = conn.del(&runs_key).await;
    result
}

pub async fn suite(a: SuiteArgs) -> Result<(), String> {
    let mut conn = connect(&a.redis_url).await?;
    let configs = parse_configs(&a.configs)?;
    let mut failures = 0;
    let mut record = |r: Result<serde_json::Value, String>| match r {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("apalis-suite: run failed: {e}");
            failures += 1;
            None
        }
    };
    let mut results = Vec::new();
    if !a.no_recovery {
        for lock in [true, false] {
            let r = recovery_run(&a, &mut conn, lock).await;
            results.extend(record(r));
        }
    }
    for p in a
        .latency_polls
        .split(',')
        .filter_map(|p| p.trim().parse::<u64>().ok())
    {
        let r = latency_run(&a, &mut conn, p).await;
        results.extend(record(r));
    }
    for (i, d) in configs.iter().enumerate() {
        let r = drain_run(&a, &mut conn, i, d).await;
        results.extend(record(r));
    }
    for v in results {
        emit(&a.out, v).await?;
    }
    crate::delete_prefix(&mut conn, &a.prefix)
        .await
        .map_err(|e| e.to_string())?;
    if failures > 0 {
        return Err(format!("{failures} run(s) failed"));
    }
    Ok(())
}
