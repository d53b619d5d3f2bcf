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
use apalis_redis::{Config, RedisStorage, RedisTask};
use keyspace::RedisConn;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::{io::AsyncWriteExt, process::Command};

mod runs;

pub use runs::{SuiteArgs, suite};

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

/// What Redis did, from `INFO cpu commandstats`: CPU seconds, commands run (every `cmdstat_*`
/// call, the commands scripts run inside included) and scripts run (EVAL, EVALSHA, FCALL).
/// Deltas over a run, divided by its jobs, are the per-job cost the bench prints beside
/// BullMQ's; on a Redis of its own, nothing else is counted. Round trips (commands sent by
/// clients, scripts' own excluded) need MONITOR: `bench/job_throughput/round_trips.sh`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RedisStats {
    pub cpu_s: f64,
    pub commands: f64,
    pub scripts: f64,
}

pub(crate) async fn redis_stats(conn: &mut RedisConn) -> RedisStats {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap_or_default();
    let mut st = RedisStats::default();
    for l in info.lines() {
        let Some((k, v)) = l.trim().split_once(':') else {
            continue;
        };
        match k {
            "used_cpu_sys" | "used_cpu_user" => st.cpu_s += v.parse().unwrap_or(0.0),
            _ if k.starts_with("cmdstat_") => {
                let calls: f64 = v
                    .split(',')
                    .find_map(|f| f.strip_prefix("calls="))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0.0);
                st.commands += calls;
                if matches!(k, "cmdstat_eval" | "cmdstat_evalsha" | "cmdstat_fcall") {
                    st.scripts += calls;
                }
            }
            _ => {}
        }
    }
    st
}

/// The per-job figures of a run of `jobs` jobs between two [`redis_stats`] readings.
pub(crate) fn per_job(before: RedisStats, after: RedisStats, jobs: u64) -> serde_json::Value {
    let n = jobs.max(1) as f64;
    serde_json::json!({
        "redis_cmds_per_job": (after.commands - before.commands) / n,
        "redis_scripts_per_job": (after.scripts - before.scripts) / n,
        "redis_cpu_us_per_job": (after.cpu_s - before.cpu_s) * 1e6 / n,
    })
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
