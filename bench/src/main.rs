//! `premium-bench`: the measuring half of premium-spread's benchmarks. The shell
//! scripts in `bench/` start the system (simulator, workers, API) and call a subcommand here:
//!
//! - `premium-age`: premium age when read (now − `observed_at`) from Redis through the `jobs`
//!   crate and, when given `--api`, through `GET /api/v1/premiums/{coin}`.
//! - `apalis-suite`: no-op job throughput through apalis-redis configured like
//!   `queue::queue_config`, pickup latency, and a `kill -9` crash-recovery check; writes
//!   one JSON line per result. `apalis-worker` is the worker process it starts.
//! - `runner-suite`: the same no-op throughput and `kill -9` check through the project's own job
//!   path (`queue::Enqueuer::push`, `queue::runner::run` with records, janitor, wake-on-push);
//!   `runner-worker` is the worker process it starts.
//! - `jobs-report`: the apalis and BullMQ JSON lines side by side.
//! - `worker-pickup`: pickup latency through a running `premium-spread worker`.
//! - `premium-fill`: a synthetic full premium table written to the cache every second (for
//!   `premium_table.sh`).
//! - `dashboard`: the dashboard page measured in headless Chromium (`cdp`): time to the first
//!   full table and the bytes transferred (for `dashboard.sh`).
//! - `history-insert` / `history-query`: the history store's insert rate and the history
//!   endpoint's latency (for `history.sh`).
//!
//! Every subcommand stops by itself (bounded loops, deadlines) and deletes the Redis keys under
//! the prefix it was given.

mod age;
mod cdp;
mod dashboard;
mod fill;
mod history;
mod jobq;
mod pickup;
mod report;
mod runnerq;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "premium-bench", about = "premium-spread benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Reads current premiums at random instants and prints their age percentiles.
    PremiumAge(age::Args),
    /// apalis-redis throughput, pickup latency and crash recovery (JSON lines to --out).
    ApalisSuite(jobq::SuiteArgs),
    /// One apalis worker process (started by apalis-suite).
    ApalisWorker(jobq::WorkerArgs),
    /// No-op throughput and kill -9 recovery through the project's runner path (JSON lines).
    RunnerSuite(runnerq::SuiteArgs),
    /// One worker process of the project's shape with a no-op handler (started by runner-suite).
    RunnerWorker(runnerq::WorkerArgs),
    /// Prints the apalis and BullMQ results side by side.
    JobsReport(report::Args),
    /// Pickup latency through a running `premium-spread worker` (wake-on-push included).
    WorkerPickup(pickup::Args),
    /// Writes a synthetic premium table (every coin × pair of the settings) every second.
    PremiumFill(fill::Args),
    /// The dashboard in headless Chromium: time to the first full table, bytes transferred.
    Dashboard(dashboard::Args),
    /// Premium history rows through the store's insert path as fast as it takes them.
    HistoryInsert(history::InsertArgs),
    /// Latency of `GET /api/v1/premiums/{coin}/history`.
    HistoryQuery(history::QueryArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Cmd::PremiumAge(a) => age::run(a).await,
        Cmd::ApalisSuite(a) => jobq::suite(a).await,
        Cmd::ApalisWorker(a) => jobq::worker(a).await,
        Cmd::RunnerSuite(a) => runnerq::suite(a).await,
        Cmd::RunnerWorker(a) => runnerq::worker(a).await,
        Cmd::JobsReport(a) => report::run(a),
        Cmd::WorkerPickup(a) => pickup::run(a).await,
        Cmd::PremiumFill(a) => fill::run(a).await,
        Cmd::Dashboard(a) => dashboard::run(a).await,
        Cmd::HistoryInsert(a) => history::insert(a).await,
        Cmd::HistoryQuery(a) => history::query(a).await,
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("premium-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Deletes every key under `prefix` (SCAN + UNLINK) and the prefix's queues from apalis'
/// global queue list. Returns how many keys were deleted.
pub async fn delete_prefix(
    conn: &mut keyspace::RedisConn,
    prefix: &str,
) -> Result<u64, redis::RedisError> {
    let pattern = format!("{prefix}:*");
    let mut cursor: u64 = 0;
    let mut deleted = 0u64;
    for _ in 0..1_000_000 {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            let n: u64 = redis::cmd("UNLINK").arg(&keys).query_async(conn).await?;
            deleted += n;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    // register_worker.lua adds every queue's workers set to this global sorted set.
    let queues: Vec<String> = redis::cmd("ZRANGE")
        .arg("core:apalis:queues:list")
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await?;
    let ours: Vec<&String> = queues
        .iter()
        .filter(|q| q.starts_with(&format!("{prefix}:")))
        .collect();
    if !ours.is_empty() {
        let _: u64 = redis::cmd("ZREM")
            .arg("core:apalis:queues:list")
            .arg(&ours)
            .query_async(conn)
            .await?;
    }
    Ok(deleted)
}
