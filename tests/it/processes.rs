//! Worker replicas as real processes: several at once, killed with SIGKILL, restarted.

use std::{collections::BTreeMap, time::Duration};

use chrono::Utc;
use domain::JobState;
use domain::{FxSource, JobKind, Venue};
use redis::AsyncCommands;
use serde_json::json;

use crate::support::{HEAVY, TestEnv, job_reaches, signal, terminate};

fn sim_cfg() -> sim::SimConfig {
    sim::SimConfig {
        extra_coins: 10,
        ..Default::default()
    }
}

/// What a run of replicas did with every (kind, tick) it should have produced (a queue ledger).
#[derive(Debug, Default)]
struct Ledger {
    ticks: i64,
    expected: usize,
    /// Done after exactly one run.
    once: usize,
    /// Done after more than one run (a replica died mid-job; another re-ran it).
    recovered: usize,
    /// Tick jobs dropped on purpose because they started more than `worker.max_tick_lag_secs`
    /// after their tick (`failed`, error class `late`): explained, so not counted as lost.
    late: Vec<String>,
    /// No job, or a job that never finished (and was not dropped as late).
    lost: Vec<String>,
    /// Tick jobs whose body completed more than once for one attempt (the execution ledger,
    /// `worker.execution_ledger`), and compute-premium ticks whose history does not match the
    /// done record's summary.
    duplicated: Vec<String>,
    /// Tick jobs whose body completed twice for one attempt because the first process to
    /// complete it was killed before its finish was written (explained, like `recovered`).
    redone: Vec<String>,
    /// Writes of runs that were no longer current, refused by the fence (`{p}:counters`
    /// `fenced_writes`): finishes that would have been a second one.
    fenced: u64,
    /// Worker processes (ids) that ran jobs.
    processes: usize,
    kills: usize,
    /// Kills that hit a replica while it had a job running.
    kills_mid_job: usize,
    /// Replicas that exited on their own.
    died: usize,
}

impl Ledger {
    fn print(&self, title: &str) {
        eprintln!(
            "{title}: {} ticks, {} jobs expected: {} ran once, {} recovered after a kill, {} lost, {} dropped as late, {} executed twice ({} more redone after a kill), {} fenced writes; {} kills ({} mid-job); {} worker processes shared the work",
            self.ticks,
            self.expected,
            self.once,
            self.recovered,
            self.lost.len(),
            self.late.len(),
            self.duplicated.len(),
            self.redone.len(),
            self.fenced,
            self.kills,
            self.kills_mid_job,
            self.processes
        );
    }

    /// The one-line verdict `bench/chaos/soak.sh` prints.
    fn verdict(&self) -> String {
        let ok = self.lost.is_empty() && self.duplicated.is_empty() && self.died == 0;
        format!(
            "{}: ticks={} expected={} once={} recovered={} lost={} late={} duplicated={} redone={} fenced={} kills={}",
            if ok { "PASS" } else { "FAIL" },
            self.ticks,
            self.expected,
            self.once,
            self.recovered,
            self.lost.len(),
            self.late.len(),
            self.duplicated.len(),
            self.redone.len(),
            self.fenced,
            self.kills
        )
    }
}

/// How a run of replicas is shaken.
#[derive(Debug, Clone, Copy)]
struct Soak {
    duration: Duration,
    /// SIGKILL one replica (and start a new one) at this period.
    kill_every: Option<Duration>,
    /// Simulator latency on every venue and FX source, so that jobs last long enough for a
    /// kill to land mid-job (0 = none).
    latency_ms: u64,
}

/// Runs three replicas with cron for `duration`; with `kill_every`, SIGKILLs one replica at
/// that period and starts a new one. Then checks every (kind, tick) of the window.
async fn run_replicas(duration: Duration, kill_every: Option<Duration>) -> Ledger {
    run_soak(Soak {
        duration,
        kill_every,
        latency_ms: 0,
    })
    .await
}

/// A random number below `n` (std only: a fresh `RandomState` is randomly keyed).
fn random_below(n: u64) -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0u8) % n.max(1)
}

/// The process ids of the workers of the jobs running now.
async fn running_worker_pids(env: &TestEnv) -> Vec<u32> {
    let Ok(page) = env
        .records()
        .list(None, Some(JobState::Running), 100, None)
        .await
    else {
        return Vec::new();
    };
    page.items
        .iter()
        .filter_map(|r| worker_process(r.kind, r.worker.as_deref()?))
        // A process is named `<host>-<pid>-<random suffix>`.
        .filter_map(|p| p.rsplit('-').nth(1)?.parse().ok())
        .collect()
}

/// Worker names are `<kind>-<process name>-r<restarts>`: the process name.
fn worker_process(kind: JobKind, worker: &str) -> Option<String> {
    let w = worker.strip_prefix(kind.as_str())?.strip_prefix('-')?;
    Some(w.rsplit_once("-r")?.0.to_string())
}

/// Waits for a random offset within the next second, then picks the replica to kill: one that
/// has a job running (looked for during up to a second, so that the kill lands mid-job), else
/// the next in turn.
async fn pick_victim(
    env: &TestEnv,
    replicas: &[std::process::Child],
    turn: usize,
) -> (usize, bool) {
    let now_ms = Utc::now().timestamp_subsec_millis() as u64;
    let offset = random_below(1_000);
    tokio::time::sleep(Duration::from_millis((1_000 - now_ms + offset) % 1_000)).await;
    // Nothing running at that instant (jobs last about the latency): look again for up to a
    // second, so that most kills land mid-job.
    let until = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let busy = running_worker_pids(env).await;
        if let Some(i) = replicas.iter().position(|r| busy.contains(&r.id())) {
            return (i, true);
        }
        if std::time::Instant::now() >= until {
            return (turn % replicas.len(), false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// compute-premium ticks whose premium history does not match the one finished run: rows from
/// more than one run (distinct `computed_at`), not as many rows as the done record's summary
/// counts, or rows computed outside that run (`started_ms`..=`finished_ms`): a second result
/// for the tick, even one with the same rows.
async fn premium_history_mismatches(
    env: &TestEnv,
    records: &std::collections::HashMap<String, queue::JobRecord>,
    first: i64,
    last: i64,
) -> Vec<String> {
    let store = env.store().await;
    type Row = (i64, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        // A tick's computation time is stored once (`premium_ticks`), by the first run that
        // wrote the tick; a second run's rows would show as more rows than the summary says.
        "SELECT extract(epoch FROM p.ts)::bigint, count(*), count(DISTINCT t.computed_at),
                floor(extract(epoch FROM min(t.computed_at)) * 1000)::bigint,
                floor(extract(epoch FROM max(t.computed_at)) * 1000)::bigint
           FROM premiums p JOIN premium_ticks t ON t.ts = p.ts
          WHERE p.ts BETWEEN to_timestamp($1) AND to_timestamp($2) GROUP BY p.ts",
    )
    .bind(first as f64)
    .bind(last as f64)
    .fetch_all(store.pool())
    .await
    .expect("premium history");
    let history: BTreeMap<i64, Row> = rows.into_iter().map(|r| (r.0, r)).collect();
    let mut out = Vec::new();
    for tick in first..=last {
        let Some(r) = records.get(&format!("compute-premium:{tick}")) else {
            continue;
        };
        if r.state != JobState::Done {
            continue;
        }
        // "<n> premiums, <m> skipped, …"
        let said: i64 = r
            .summary
            .as_deref()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(-1);
        let Some(&(_, rows, runs, oldest, newest)) = history.get(&tick) else {
            if said != 0 {
                out.push(format!(
                    "compute-premium:{tick}: summary says {said} premiums, history has none"
                ));
            }
            continue;
        };
        let (from, to) = (r.started_ms.unwrap_or(0), r.finished_ms.unwrap_or(i64::MAX));
        if runs > 1 || rows != said {
            out.push(format!(
                "compute-premium:{tick}: summary says {said} premiums, history has {rows} rows from {runs} runs"
            ));
        } else if oldest < from || newest > to {
            out.push(format!(
                "compute-premium:{tick}: history computed at {oldest}..{newest} ms, outside the finished run {} ({from}..{to} ms)",
                r.runs
            ));
        }
    }
    out
}

/// Runs three replicas with cron as `soak` says, then checks every (kind, tick) of the window.
async fn run_soak(soak: Soak) -> Ledger {
    let Soak {
        duration,
        kill_every,
        latency_ms,
    } = soak;
    let _heavy = HEAVY.lock().await;
    let env = TestEnv::new(sim_cfg(), |s| {
        // FX every 5 s so that its ticks are checked too.
        s.schedule.fx = "*/5 * * * * *".into();
    })
    .await;
    if latency_ms > 0 {
        for upstream in settings::URL_KEYS {
            env.sim_post(
                "/_sim/faults",
                json!({"venue": upstream, "latency_ms": latency_ms}),
            )
            .await;
        }
    }
    let mut replicas: Vec<_> = (0..3)
        .map(|_| crate::reliability::ledger_replica(&env))
        .collect();
    // Let all three start (connect, migrate), then observe.
    env.wait_for_workers(3).await;
    let first = Utc::now().timestamp() + 1;
    let end = std::time::Instant::now() + duration;
    let mut kills = 0;
    let mut kills_mid_job = 0;
    let mut killed = std::collections::BTreeSet::new();
    while std::time::Instant::now() < end {
        let step = kill_every
            .unwrap_or(duration)
            .min(end - std::time::Instant::now());
        tokio::time::sleep(step).await;
        if kill_every.is_some() && std::time::Instant::now() < end {
            let (victim, mid_job) = pick_victim(&env, &replicas, kills).await;
            let r = &mut replicas[victim];
            killed.insert(r.id());
            let _ = r.kill();
            let _ = r.wait();
            replicas[victim] = crate::reliability::ledger_replica(&env);
            kills += 1;
            kills_mid_job += usize::from(mid_job);
        }
    }
    // Jobs of the last ticks may still be in flight (and re-runs of a killed replica take the
    // 3 s orphan timeout): leave them time to finish, then stop gracefully.
    let last = Utc::now().timestamp() - 2;
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Every replica (not killed by us) is still running: none died on its own.
    let died = replicas
        .iter_mut()
        .map(|r| r.try_wait())
        .filter(|status| !matches!(status, Ok(None)))
        .count();
    for r in &mut replicas {
        terminate(r);
    }
    for r in &mut replicas {
        let _ = r.wait();
    }

    let records = env.all_records().await;
    let fenced: Option<u64> = env
        .conn
        .clone()
        .hget(env.keys().counters(), "fenced_writes")
        .await
        .expect("counters");
    let mut ledger = Ledger {
        ticks: last - first + 1,
        kills,
        kills_mid_job,
        died,
        fenced: fenced.unwrap_or(0),
        duplicated: premium_history_mismatches(&env, &records, first, last).await,
        ..Default::default()
    };
    let mut all_expected = Vec::new();
    for tick in first..=last {
        let mut expected: Vec<String> = Venue::ALL
            .iter()
            .map(|v| format!("fetch-ticker:{v}:{tick}"))
            .collect();
        expected.push(format!("compute-premium:{tick}"));
        if tick % 5 == 0 {
            expected.push(format!("fetch-fx:{tick}"));
        }
        all_expected.extend(expected.iter().cloned());
        for id in expected {
            ledger.expected += 1;
            match records.get(&id) {
                Some(r) if r.state == JobState::Done && r.runs == 1 => ledger.once += 1,
                Some(r) if r.state == JobState::Done => ledger.recovered += 1,
                Some(r)
                    if r.state == JobState::Failed && r.error_class.as_deref() == Some("late") =>
                {
                    ledger.late.push(format!(
                        "{id}: {} after {} runs",
                        r.last_error.as_deref().unwrap_or(""),
                        r.runs
                    ))
                }
                Some(r) => ledger
                    .lost
                    .push(format!("{id}: {} after {} runs", r.state, r.runs)),
                None => ledger.lost.push(format!("{id}: never enqueued")),
            }
        }
    }
    let (twice, redone) = crate::reliability::executed_twice(
        &crate::reliability::executions(&env).await,
        &all_expected,
        &killed,
    );
    ledger.duplicated.extend(twice);
    ledger.redone = redone;
    let processes: std::collections::BTreeSet<String> = records
        .values()
        .filter_map(|r| worker_process(r.kind, r.worker.as_deref()?))
        .collect();
    ledger.processes = processes.len();
    env.cleanup().await;
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_with_cron_run_every_tick_exactly_once() {
    let ledger = run_replicas(Duration::from_secs(31), None).await;
    ledger.print("3 replicas, 31 s");
    assert!(ledger.ticks >= 28, "{ledger:?}");
    assert!(ledger.lost.is_empty(), "lost: {:?}", ledger.lost);
    assert_eq!(ledger.died, 0, "a replica exited on its own: {ledger:?}");
    assert!(
        ledger.duplicated.is_empty(),
        "executed twice: {:?}",
        ledger.duplicated
    );
    assert_eq!(
        ledger.once, ledger.expected,
        "every job ran exactly once: {ledger:?}"
    );
    // (At one tick per second a single replica usually wins every poll; which one does the work
    // is not part of the contract, so it is reported, not asserted.)
}

/// Soak: 3 replicas for `SOAK_SECS` (default 600 s), one killed with SIGKILL and
/// replaced every `SOAK_KILL_SECS` (default 60 s), with `SOAK_LATENCY_MS` (default 0) of
/// simulator latency on every venue and FX source so that kills land mid-job. Run it with
/// `bench/chaos/soak.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes 10 minutes; run with bench/chaos/soak.sh"]
async fn soak_three_replicas_with_kills_lose_nothing() {
    let secs = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let ledger = run_soak(Soak {
        duration: Duration::from_secs(secs("SOAK_SECS", 600)),
        kill_every: match secs("SOAK_KILL_SECS", 60) {
            0 => None,
            n => Some(Duration::from_secs(n)),
        },
        latency_ms: secs("SOAK_LATENCY_MS", 0),
    })
    .await;
    ledger.print("soak");
    for why in ledger
        .late
        .iter()
        .chain(&ledger.lost)
        .chain(&ledger.duplicated)
        .chain(&ledger.redone)
    {
        eprintln!("soak: {why}");
    }
    println!("{}", ledger.verdict());
    assert!(ledger.lost.is_empty(), "lost: {:?}", ledger.lost);
    assert!(
        ledger.duplicated.is_empty(),
        "two results: {:?}",
        ledger.duplicated
    );
    assert_eq!(ledger.died, 0, "a replica exited on its own: {ledger:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_is_killed_mid_run_completes_on_another_worker_within_10_s() {
    let env = TestEnv::new(sim_cfg(), |s| {
        s.worker.cron = false;
        s.fx_sources = vec![FxSource::Dunamu];
        s.http.timeout_ms = 20_000;
        s.worker.job_timeout_ms = 30_000;
    })
    .await;
    // The FX source answers slowly, so the job is still running when its worker dies.
    let (mut a, t) = slow_fx_job_running_in_a_process(&env, 15_000).await;
    let worker_a = t.worker.clone().unwrap();
    a.kill().unwrap();
    let _ = a.wait();
    let killed_at = std::time::Instant::now();
    env.sim_post("/_sim/faults", json!({"venue": "dunamu"}))
        .await;
    let mut b = env.spawn_worker_process();
    let done = job_reaches(&env, &t.id, JobState::Done, Duration::from_secs(10)).await;
    let took = killed_at.elapsed();
    assert_ne!(done.worker.as_deref(), Some(worker_a.as_str()));
    assert_eq!(done.runs, 2, "ran once on A (killed) and once on B");
    assert_eq!(done.attempts, 1, "a crash is not a failed attempt");
    assert!(took < Duration::from_secs(10), "recovered after {took:?}");
    terminate(&mut b);
    let _ = b.wait();
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_fetch_fx_backs_off_survives_a_kill_between_attempts_and_dies_after_its_cap() {
    let env = TestEnv::new(sim_cfg(), |s| {
        s.worker.cron = false;
        s.fx_sources = vec![FxSource::Dunamu];
        s.retry.fetch_fx.max_attempts = 4;
        s.retry.fetch_fx.base_ms = 2_000;
        s.retry.fetch_fx.cap_ms = 8_000;
    })
    .await;
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "dunamu", "error_rate": 1.0, "status": 503}),
    )
    .await;
    let mut a = env.spawn_worker_process();
    env.wait_for_workers(1).await;
    let t = env
        .enqueuer()
        .trigger(JobKind::FetchFx, None)
        .await
        .unwrap();
    let records = env.records();

    // Watch every attempt: when it failed and when the next one was due.
    let mut failures: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
    let mut starts: BTreeMap<u32, i64> = BTreeMap::new();
    let mut killed = false;
    let mut b = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let dead = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not die within 60 s: {failures:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Some(r) = records.get(&t.id).await.unwrap() else {
            continue;
        };
        if let Some(s) = r.started_ms {
            starts.entry(r.attempts).or_insert(s);
        }
        if r.state == JobState::Scheduled {
            failures
                .entry(r.attempts)
                .or_insert((r.updated_ms, r.next_run_ms.unwrap()));
            // Between attempts 2 and 3, kill the worker that ran attempt 2.
            if r.attempts == 2 && !killed {
                a.kill().unwrap();
                let _ = a.wait();
                killed = true;
                b = Some(env.spawn_worker_process());
            }
        }
        if r.state == JobState::Dead {
            break r;
        }
    };
    // (Already killed and reaped above; this covers the failure paths.)
    let _ = a.kill();
    let _ = a.wait();
    assert!(killed, "the worker was killed between attempts");
    assert_eq!(dead.attempts, 4);
    assert_eq!(dead.error_class.as_deref(), Some("server"));
    assert!(
        dead.last_error.as_deref().unwrap().contains("503"),
        "{:?}",
        dead.last_error
    );

    // Delays: after failed attempt n the planned wait lies in [base·2^(n−1)/2, base·2^(n−1)]
    // (capped; retry::delay, equal jitter), rounded up to whole seconds by the queue. Each wait
    // is judged against its own bounds, not against its neighbours: with equal jitter a wait
    // may be shorter than the one before (both capped, or the earlier one lengthened by the
    // kill and restart), so "waits grow" is not a property of the schedule.
    let mut waits = Vec::new();
    for (n, (failed_at, next_at)) in &failures {
        let d = 2_000i64 << (n - 1);
        let (lo, hi) = ((d / 2).min(8_000), d.min(8_000));
        let planned = next_at - failed_at;
        assert!(
            planned >= lo && planned <= hi + 1_000,
            "attempt {n}: planned wait {planned} ms not in [{lo}, {hi} + 1 s rounding]"
        );
        let started = starts[&(n + 1)];
        assert!(
            started >= *next_at - 5,
            "attempt {} started {} ms early",
            n + 1,
            next_at - started
        );
        // Pickup allowance past the planned time: a poll, and after the kill (attempt 2's
        // wait) the start of the replacement worker process.
        let allowance = if *n == 2 { 15_000 } else { 5_000 };
        let wait = started - failed_at;
        assert!(
            wait >= lo && wait <= hi + 1_000 + allowance,
            "attempt {}: waited {wait} ms, planned [{lo}, {hi}] + 1 s rounding + {allowance} ms pickup",
            n + 1
        );
        waits.push(wait);
    }
    assert_eq!(waits.len(), 3, "{failures:?}");
    eprintln!("waits between attempts: {waits:?} ms");
    if let Some(mut b) = b {
        terminate(&mut b);
        let _ = b.wait();
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_job_finish_before_the_worker_exits() {
    let env = TestEnv::new(sim_cfg(), |s| {
        s.worker.cron = false;
        s.fx_sources = vec![FxSource::Dunamu];
        s.http.timeout_ms = 10_000;
    })
    .await;
    let (mut a, t) = slow_fx_job_running_in_a_process(&env, 3_000).await;
    let records = env.records();
    terminate(&mut a);
    let status = a.wait().unwrap();
    assert!(status.success(), "graceful exit: {status}");
    let rec = records.get(&t.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Done, "{rec:?}");
    assert_eq!(rec.runs, 1);
    env.cleanup().await;
}

/// Starts a worker process, makes Dunamu answer after `latency_ms`, triggers `fetch-fx` and
/// waits until the job runs in that process. Returns the process and the running job's record.
async fn slow_fx_job_running_in_a_process(
    env: &TestEnv,
    latency_ms: u64,
) -> (std::process::Child, queue::JobRecord) {
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "dunamu", "latency_ms": latency_ms}),
    )
    .await;
    let worker = env.spawn_worker_process();
    env.wait_for_workers(1).await;
    let t = env
        .enqueuer()
        .trigger(JobKind::FetchFx, None)
        .await
        .unwrap();
    let running = job_reaches(env, &t.id, JobState::Running, Duration::from_secs(10)).await;
    (worker, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_resumed_after_its_job_was_re_run_elsewhere_changes_nothing() {
    let env = TestEnv::new(sim_cfg(), |s| {
        s.worker.cron = false;
        s.fx_sources = vec![FxSource::Dunamu];
        s.http.timeout_ms = 20_000;
        // A's attempt outlives this while it is stopped, so it fails (retryably) when it
        // resumes, and would schedule a durable retry (base 4 s) if nothing fenced it.
        s.worker.job_timeout_ms = 5_000;
        s.retry.fetch_fx = settings::RetryPolicy {
            max_attempts: 4,
            base_ms: 4_000,
            cap_ms: 8_000,
        };
    })
    .await;
    let (a, t) = slow_fx_job_running_in_a_process(&env, 8_000).await;
    let a = crate::support::ChildGuard(a);
    let worker_a = t.worker.clone().unwrap();
    // A stops mid-job (SIGSTOP): it is declared dead after 3 s without heartbeats, and B
    // re-runs the job.
    signal(&a.0, "STOP");
    env.sim_post("/_sim/faults", json!({"venue": "dunamu"}))
        .await;
    let b = crate::support::ChildGuard(env.spawn_worker_process());
    let done = job_reaches(&env, &t.id, JobState::Done, Duration::from_secs(20)).await;
    assert_ne!(done.worker.as_deref(), Some(worker_a.as_str()));
    assert_eq!(done.runs, 2, "ran on A (stopped) and on B");

    // A resumes: its attempt has timed out meanwhile; its writes are refused and counted.
    let mut conn = env.conn.clone();
    let fenced_before: i64 =
        redis::AsyncCommands::hget(&mut conn, env.keys().counters(), "fenced_writes")
            .await
            .unwrap_or(0);
    signal(&a.0, "CONT");
    crate::support::eventually(
        Duration::from_secs(15),
        "the resumed worker's write to be fenced",
        || {
            let mut conn = conn.clone();
            let key = env.keys().counters();
            async move {
                let n: Option<i64> = redis::AsyncCommands::hget(&mut conn, key, "fenced_writes")
                    .await
                    .unwrap();
                n.filter(|n| *n > fenced_before)
            }
        },
    )
    .await;
    // Give A time to do anything else it would do (push a successor, write its end state).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rec = env.records().get(&t.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Done, "{rec:?}");
    assert_eq!(rec.worker, done.worker, "the re-run's record stays");
    assert_eq!(rec.summary, done.summary);
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.next_run_ms, None);
    let cfg = queue::queue_config(&env.settings, JobKind::FetchFx);
    let successor = queue::payload::task_id(&t.id, 2);
    let exists: bool = redis::AsyncCommands::hexists(&mut conn, cfg.job_data_hash(), &successor)
        .await
        .unwrap();
    assert!(!exists, "no successor task {successor} was pushed");
    drop((a, b));
    env.cleanup().await;
}
