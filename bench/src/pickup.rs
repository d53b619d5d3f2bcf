//! `worker-pickup`: queue pickup latency through the project's own worker (a running
//! `premium-spread worker` process), as a user of the system sees it: push a job with
//! `queue::Enqueuer` (which announces it on `{p}:wake:{kind}`), read when the worker
//! started it from the job record (`started_ms`, written as the handler starts).

use std::time::{Duration, Instant};

use chrono::Utc;
use domain::JobKind;
use keyspace::Keys;
use queue::{Enqueuer, Job, Records};
use settings::Settings;

use crate::stats::summarize;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// The worker's `REDIS_PREFIX`.
    #[arg(long)]
    prefix: String,
    /// Jobs to push, one every `--every-ms`.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    #[arg(long, default_value_t = 10)]
    every_ms: u64,
    /// Row label.
    #[arg(long, default_value = "premium-spread worker")]
    label: String,
}

pub async fn run(a: Args) -> Result<(), String> {
    let settings = std::sync::Arc::new(Settings {
        redis_url: a.redis_url.clone(),
        redis_prefix: a.prefix.clone(),
        ..Default::default()
    });
    let conn = keyspace::connect_redis(&a.redis_url, Duration::from_secs(2))
        .await
        .map_err(|e| e.to_string())?;
    let keys = Keys::new(&a.prefix);
    let enq = Enqueuer::new(conn.clone(), settings.clone());
    let records = Records::new(conn.clone(), keys.clone(), 3600);
    // Wait for the worker to be up (it heart-beats into {p}:workers).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: u64 = redis::cmd("ZCARD")
            .arg(keys.workers())
            .query_async(&mut conn.clone())
            .await
            .map_err(|e| e.to_string())?;
        if n > 0 {
            break;
        }
        if Instant::now() > deadline {
            return Err("no worker registered within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut pushed = Vec::with_capacity(a.count);
    for _ in 0..a.count {
        let job = Job::manual(JobKind::ComputePremium, None, Utc::now());
        let at = Utc::now().timestamp_micros();
        enq.push(&job).await.map_err(|e| e.to_string())?;
        pushed.push((job.id, at));
        tokio::time::sleep(Duration::from_millis(a.every_ms)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::new();
    for (id, at) in &pushed {
        if let Some(r) = records.get(id).await.map_err(|e| e.to_string())?
            && let Some(started) = r.started_ms
        {
            latencies.push((started * 1000 - at) as f64 / 1000.0);
        }
    }
    let picked = latencies.len();
    let s = summarize(&mut latencies).ok_or("no job was picked up")?;
    println!("| system | pushed | picked up | p50 ms | p90 ms | p99 ms | max ms | p99 ≤ 5 ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    println!(
        "| {} | {} | {picked} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
        a.label,
        pushed.len(),
        s.p50,
        s.p90,
        s.p99,
        s.max,
        if s.p99 <= 5.0 { "PASS" } else { "FAIL" }
    );
    println!(
        "(push → handler start, from the job record's started_ms (ms resolution); one push every {} ms)",
        a.every_ms
    );
    Ok(())
}
