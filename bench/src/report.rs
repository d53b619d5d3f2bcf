//! The job-queue tables: apalis-redis and BullMQ results (JSON lines) side by side.

use std::path::PathBuf;

use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    /// JSON lines files (apalis-suite's and the BullMQ script's).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn f(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::Bool(b)) => if *b { "on" } else { "off" }.into(),
        Some(Value::Null) | None => "–".into(),
        Some(Value::String(x)) => x.clone(),
        Some(x) => x.to_string(),
    }
}

pub fn run(a: Args) -> Result<(), String> {
    let mut rows: Vec<Value> = Vec::new();
    for p in &a.files {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            rows.push(serde_json::from_str(line).map_err(|e| format!("{}: {e}", p.display()))?);
        }
    }
    let kind = |k: &str| -> Vec<&Value> {
        rows.iter()
            .filter(|r| r.get("kind").and_then(Value::as_str) == Some(k))
            .collect()
    };
    let drains = kind("drain");
    // BullMQ reference per process count: its best rate at that process count.
    let bull_best = |procs: f64| -> f64 {
        drains
            .iter()
            .filter(|r| s(r, "system") == "bullmq" && f(r, "processes") == procs)
            .map(|r| f(r, "jobs_per_s"))
            .fold(f64::NAN, f64::max)
    };
    println!();
    println!(
        "no-op job throughput: bulk push, then drain ({} jobs per run; apalis configured like queue::queue_config)",
        drains.first().map(|r| s(r, "jobs")).unwrap_or_default()
    );
    println!(
        "| system | processes | concurrency | batch | lock_tasks | drained | secs | jobs/s | × BullMQ best (same processes) | enqueue jobs/s | Redis CPU s |"
    );
    println!("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &drains {
        let ratio = f(r, "jobs_per_s") / bull_best(f(r, "processes"));
        println!(
            "| {} | {} | {} | {} | {} | {}/{} | {:.2} | {:.0} | {} | {:.0} | {} |",
            s(r, "system"),
            s(r, "processes"),
            s(r, "concurrency"),
            s(r, "batch"),
            s(r, "lock_tasks"),
            s(r, "done"),
            s(r, "jobs"),
            f(r, "secs"),
            f(r, "jobs_per_s"),
            if ratio.is_nan() {
                "–".into()
            } else {
                format!("{ratio:.2}")
            },
            f(r, "enqueue_per_s"),
            if f(r, "redis_cpu_s").is_nan() {
                "–".into()
            } else {
                format!("{:.2}", f(r, "redis_cpu_s"))
            },
        );
    }
    let best = |sys: &str, lock: Option<bool>| -> Option<&Value> {
        drains
            .iter()
            .filter(|r| s(r, "system") == sys)
            .filter(|r| {
                lock.is_none_or(|l| r.get("lock_tasks").and_then(Value::as_bool) == Some(l))
            })
            .max_by(|a, b| f(a, "jobs_per_s").total_cmp(&f(b, "jobs_per_s")))
            .copied()
    };
    if let (Some(ap), Some(bu)) = (best("apalis", Some(true)), best("bullmq", None)) {
        let ratio = f(ap, "jobs_per_s") / f(bu, "jobs_per_s");
        println!(
            "best apalis with lock_tasks on (recovery intact): {:.0} jobs/s ({} proc × c{} b{}) vs best BullMQ {:.0} jobs/s ({} proc × c{}): ratio {ratio:.2} (target ≥ 1.5: {})",
            f(ap, "jobs_per_s"),
            s(ap, "processes"),
            s(ap, "concurrency"),
            s(ap, "batch"),
            f(bu, "jobs_per_s"),
            s(bu, "processes"),
            s(bu, "concurrency"),
            if ratio >= 1.5 { "PASS" } else { "FAIL" }
        );
    }
    if let (Some(ap), Some(bu)) = (best("apalis", Some(false)), best("bullmq", None)) {
        println!(
            "best apalis with lock_tasks off: {:.0} jobs/s ({} proc × c{} b{}): ratio {:.2} to best BullMQ",
            f(ap, "jobs_per_s"),
            s(ap, "processes"),
            s(ap, "concurrency"),
            s(ap, "batch"),
            f(ap, "jobs_per_s") / f(bu, "jobs_per_s"),
        );
    }

    let runner = kind("runner_drain");
    if !runner.is_empty() {
        println!();
        println!(
            "no-op job throughput through the project's runner ({} jobs per run; Enqueuer::push → apalis workers as worker::run_with → queue::runner::run: record queued → running → done, gc hand-off, last success, wake-on-push, janitor every 2 s; timed from the first push to the last record done)",
            runner.first().map(|r| s(r, "jobs")).unwrap_or_default()
        );
        println!(
            "| path | processes | concurrency | records done | records not done | secs | jobs/s | × BullMQ best (same processes) | × BullMQ best (any) | enqueue jobs/s | Redis CPU s | workers CPU s |"
        );
        println!(
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        let bull_any = drains
            .iter()
            .filter(|r| s(r, "system") == "bullmq")
            .map(|r| f(r, "jobs_per_s"))
            .fold(f64::NAN, f64::max);
        let x = |v: f64| {
            if v.is_nan() {
                "–".to_string()
            } else {
                format!("{v:.2}")
            }
        };
        for r in &runner {
            println!(
                "| runner | {} | {} | {}/{} | {} | {:.2} | {:.0} | {} | {} | {:.0} | {} | {} |",
                s(r, "processes"),
                s(r, "concurrency"),
                s(r, "done"),
                s(r, "jobs"),
                s(r, "records_not_done"),
                f(r, "secs"),
                f(r, "jobs_per_s"),
                x(f(r, "jobs_per_s") / bull_best(f(r, "processes"))),
                x(f(r, "jobs_per_s") / bull_any),
                f(r, "enqueue_per_s"),
                x(f(r, "redis_cpu_s")),
                x(f(r, "workers_cpu_s")),
            );
        }
        if let Some(best) = runner
            .iter()
            .max_by(|a, b| f(a, "jobs_per_s").total_cmp(&f(b, "jobs_per_s")))
        {
            let ratio = f(best, "jobs_per_s") / bull_any;
            println!(
                "best through the runner: {:.0} jobs/s ({} proc × c{}) vs best BullMQ {:.0} jobs/s: ratio {} (target ≥ 1.5: {})",
                f(best, "jobs_per_s"),
                s(best, "processes"),
                s(best, "concurrency"),
                bull_any,
                x(ratio),
                if ratio >= 1.5 { "PASS" } else { "FAIL" }
            );
        }
    }

    let lat = kind("latency");
    if !lat.is_empty() {
        println!();
        println!(
            "queue pickup latency: idle worker, one push every 10 ms; handler start − push time"
        );
        println!(
            "| system | poll ms | pushed | picked up | p50 ms | p90 ms | p99 ms | max ms | p99 ≤ 5 ms |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        for r in &lat {
            println!(
                "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                s(r, "system"),
                s(r, "poll_ms"),
                s(r, "pushed"),
                s(r, "picked"),
                f(r, "p50_ms"),
                f(r, "p90_ms"),
                f(r, "p99_ms"),
                f(r, "max_ms"),
                if f(r, "p99_ms") <= 5.0 {
                    "PASS"
                } else {
                    "FAIL"
                }
            );
        }
    }

    let rec = kind("recovery");
    if !rec.is_empty() {
        println!();
        println!(
            "crash recovery: worker A starts 2 s jobs and gets kill -9; worker B must finish all (heartbeat 1 s × 3 missed)"
        );
        println!(
            "| system | lock_tasks | jobs | started by A | done | lost | run twice | kill → all done s | intact |"
        );
        println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        for r in &rec {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
                s(r, "system"),
                s(r, "lock_tasks"),
                s(r, "jobs"),
                s(r, "started_by_killed_worker"),
                s(r, "done"),
                s(r, "lost"),
                s(r, "run_twice"),
                f(r, "secs_from_kill_to_all_done"),
                if r.get("intact").and_then(Value::as_bool) == Some(true) {
                    "yes"
                } else {
                    "NO"
                }
            );
        }
    }
    Ok(())
}
