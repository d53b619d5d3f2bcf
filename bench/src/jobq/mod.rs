//! apalis-redis measured the way this project configures it (`queue::queue_config`: an
//! explicit queue name, `batch_size`, 1 s heartbeat × 3 missed, `emit_events(false)`,
//! `lock_tasks` default true; workers built like `worker::run_with`: `poll_with_interval`,
//! `concurrency`, `parallelize(tokio::spawn)`), with a no-op handler.
//!
//! - drain: push N tasks in chunks of ≤ 1,000 (scheduled in the future, so no worker sees them),
//!   start P worker processes, wait until they are registered, move the tasks to the active list
//!   in chunks of 1,000 (apalis-redis 1.0 fails to promote ~8,000+ due tasks at once; the
//!   project's `queue::drain::drain_backlog` does the same), and time until `<q>:done` holds N.
//! - latency: an idle in-process worker; one push every 10 ms for `--latency-secs`; the handler
//!   records handler start − push time.
//! - recovery: worker A (a child process) starts slow jobs and gets `kill -9`; worker B must
//!   finish every job (A's in-flight ones re-queued after 3 missed heartbeats).

use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use apalis::prelude::*;
use apalis_redis::{Config, RedisStorage, RedisTask, queries::push_tasks};
use keyspace::RedisConn;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::{io::AsyncWriteExt, process::Command};

use crate::stats::summarize;

/// Resolves once `count()` reaches `expect` (checked every 20 ms; 0 = never), at `deadline`, or
/// on SIGTERM or Ctrl-C: the stop signal of a bench worker process.
pub async fn until_done<F, Fut>(
    expect: u64,
    deadline: Duration,
    mut count: F,
) -> std::io::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let until = tokio::time::sleep(deadline);
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if expect > 0 && count().await >= expect {
                    return Ok(());
                }
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchJob {
    n: u64,
    /// Push time, microseconds since the Unix epoch.
    pushed_us: i64,
    /// The handler sleeps this long (recovery check only).
    #[serde(default)]
    sleep_ms: u64,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// `queue::queue_config` with the queue name, batch size and `lock_tasks` given.
pub fn config(queue: &str, batch: usize, lock: bool) -> Config {
    Config::default()
        .queue(queue)
        .batch_size(batch.max(1))
        .heartbeat_interval(Duration::from_millis(1_000))
        .missed_heartbeats(3)
        .emit_events(false)
        .lock_tasks(lock)
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(format!("expected on/off, got `{s}`")),
    }
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    #[arg(long)]
    queue: String,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value = "on", value_parser = parse_bool, action = clap::ArgAction::Set)]
    lock: bool,
    #[arg(long, default_value_t = 10)]
    poll_ms: u64,
    /// Exit once `<q>:done` holds this many tasks (0: never).
    #[arg(long, default_value_t = 0)]
    expect: u64,
    /// Exit after this many seconds in any case.
    #[arg(long, default_value_t = 120)]
    deadline_secs: u64,
    /// Hash in which the handler counts runs per job number (recovery check).
    #[arg(long)]
    runs_key: Option<String>,
    #[arg(long, default_value = "w")]
    name: String,
}

struct HandlerCtx {
    latencies_us: Option<Mutex<Vec<f64>>>,
    runs: Option<(RedisConn, String)>,
}

async fn handle(job: BenchJob, ctx: Data<Arc<HandlerCtx>>) -> Result<(), BoxDynError> {
    if let Some(l) = &ctx.latencies_us {
        let d = (now_us() - job.pushed_us) as f64;
        l.lock().expect("latency lock").push(d);
    }
    if let Some((conn, key)) = &ctx.runs {
        let _: i64 = conn.clone().hincr(key, job.n, 1).await?;
    }
    if job.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
    }
    Ok(())
}

fn build_monitor(
    conn: RedisConn,
    cfg: Config,
    name: String,
    concurrency: usize,
    poll: Duration,
    hctx: Arc<HandlerCtx>,
) -> Monitor {
    Monitor::new()
        .should_restart(|w, err| {
            eprintln!("apalis worker {} stopped: {err}", w.name());
            false
        })
        .shutdown_timeout(Duration::from_secs(5))
        .register(move |restarts| {
            let storage =
                RedisStorage::<BenchJob, RedisConn>::new(conn.clone()).with_config(cfg.clone());
            WorkerBuilder::new(format!("{name}-r{restarts}"))
                .backend(storage.poll_with_interval(poll))
                .data(hctx.clone())
                .concurrency(concurrency)
                .parallelize(tokio::spawn)
                .build(handle)
        })
}

async fn connect(url: &str) -> Result<RedisConn, String> {
    keyspace::connect_redis(url, Duration::from_secs(5))
        .await
        .map_err(|e| format!("redis {url}: {e}"))
}

/// The worker process.
pub async fn worker(a: WorkerArgs) -> Result<(), String> {
    let conn = connect(&a.redis_url).await?;
    let cfg = config(&a.queue, a.batch, a.lock);
    let done_key = cfg.done_jobs_set();
    let hctx = Arc::new(HandlerCtx {
        latencies_us: None,
        runs: a.runs_key.clone().map(|k| (conn.clone(), k)),
    });
    let name = format!(
        "{}-{}-{}",
        a.name,
        std::process::id(),
        ulid::Ulid::generate()
    );
    let monitor = build_monitor(
        conn.clone(),
        cfg,
        name,
        a.concurrency,
        Duration::from_millis(a.poll_ms),
        hctx,
    );
    let watch_conn = conn.clone();
    let deadline = Duration::from_secs(a.deadline_secs);
    let signal = async move {
        until_done(a.expect, deadline, || {
            let mut c = watch_conn.clone();
            let key = done_key.clone();
            async move { c.scard(&key).await.unwrap_or(0) }
        })
        .await
    };
    monitor
        .run_with_signal(signal)
        .await
        .map_err(|e| format!("monitor: {e}"))
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
pub(crate) async fn redis_cpu(conn: &mut RedisConn) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(conn)
        .await
        .unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once(':')?;
            (k == "used_cpu_sys" || k == "used_cpu_user")
                .then(|| v.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// CPU seconds (utime + stime) of a live process, from /proc.
pub(crate) fn proc_cpu(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // CLK_TCK is 100 on Linux
}

fn task(job: &BenchJob, run_at: Option<u64>) -> RedisTask {
    let mut b = TaskBuilder::new(serde_json::to_vec(job).expect("job serializes"));
    if let Some(t) = run_at {
        b = b.run_at_timestamp(t);
    }
    b.build()
}

/// Moves a chunk of scheduled tasks to the active list (`lua/move_to_active.lua`).
const MOVE_TO_ACTIVE: &str = include_str!("lua/move_to_active.lua");

/// One `apalis-worker` child process (a bench helper: the arguments are its command line).
#[allow(clippy::too_many_arguments)]
fn spawn_worker(
    redis_url: &str,
    queue: &str,
    c: usize,
    b: usize,
    lock: bool,
    expect: u64,
    deadline_secs: u64,
    runs_key: Option<&str>,
    name: &str,
) -> Result<tokio::process::Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.arg("apalis-worker")
        .arg("--redis-url")
        .arg(redis_url)
        .arg("--queue")
        .arg(queue)
        .arg("--concurrency")
        .arg(c.to_string())
        .arg("--batch")
        .arg(b.to_string())
        .arg("--lock")
        .arg(if lock { "on" } else { "off" })
        .arg("--expect")
        .arg(expect.to_string())
        .arg("--deadline-secs")
        .arg(deadline_secs.to_string())
        .arg("--name")
        .arg(name)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(k) = runs_key {
        cmd.arg("--runs-key").arg(k);
    }
    cmd.spawn()
        .map_err(|e| format!("cannot start a worker: {e}"))
}

async fn wait_registered(
    conn: &mut RedisConn,
    cfg: &Config,
    n: usize,
    timeout: Duration,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let k: usize = conn.zcard(cfg.workers_set()).await.unwrap_or(0);
        if k >= n {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "{n} worker(s) not registered within {timeout:?} ({k} are)"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn stop_children(children: &mut [tokio::process::Child]) {
    for c in children.iter_mut() {
        if let Some(pid) = c.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
    }
    for c in children.iter_mut() {
        if tokio::time::timeout(Duration::from_secs(10), c.wait())
            .await
            .is_err()
        {
            let _ = c.kill().await;
        }
    }
}

pub(crate) async fn emit(out: &PathBuf, v: serde_json::Value) -> Result<(), String> {
    eprintln!("{v}");
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .await
        .map_err(|e| format!("{}: {e}", out.display()))?;
    f.write_all(format!("{v}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())
}

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
