//! Queue reliability (issue 22): nothing dropped, nothing run twice. The abandon scan against
//! durable retries and long-lived chains; the Telegram send of a delivery re-run after a false
//! orphan; the execution ledger the soak's duplicate detector reads.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use chrono::Utc;
use domain::{FxSource, JobKind, JobState};
use queue::{Job, PushOutcome};
use redis::AsyncCommands;
use serde_json::json;

use crate::support::{ChildGuard, TestEnv, job_reaches, signal};

fn frozen_sim() -> sim::SimConfig {
    sim::SimConfig {
        step: Duration::ZERO,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_retry_due_while_every_worker_was_stopped_runs_when_they_come_back_10_minutes_late()
 {
    let env = TestEnv::new(frozen_sim(), |s| {
        s.worker.cron = false;
        s.fx_sources = vec![FxSource::Dunamu];
        // The first wait lies in [1, 2] s: a durable retry (pushed as its own task), not one
        // in place.
        s.retry.fetch_fx.max_attempts = 3;
        s.retry.fetch_fx.base_ms = 2_000;
        s.retry.fetch_fx.cap_ms = 2_000;
        // The default poll, not the tests' fast one: nothing announces a retry coming due.
        s.worker.poll_interval_ms = settings::WorkerSettings::default().poll_interval_ms;
    })
    .await;
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "dunamu", "error_rate": 1.0, "status": 503}),
    )
    .await;
    let worker = env.spawn_worker().await;
    let t = env
        .enqueuer()
        .trigger(JobKind::FetchFx, None)
        .await
        .unwrap();
    let scheduled = job_reaches(&env, &t.id, JobState::Scheduled, Duration::from_secs(10)).await;
    assert_eq!(scheduled.attempts, 1);
    // Every worker stops before the retry is due (a graceful stop lets the attempt finish its
    // hand-off: the successor task is in the queue).
    worker.stop().await;
    let cfg = queue::queue_config(&env.settings, JobKind::FetchFx);
    let mut conn = env.conn.clone();
    let successor = queue::payload::task_id(&t.id, 2);
    let queued: bool = conn.hexists(cfg.job_data_hash(), &successor).await.unwrap();
    assert!(queued, "the retry {successor} waits in the queue");
    let rec = env.records().get(&t.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Scheduled, "{rec:?}");
    env.sim_post("/_sim/faults", json!({"venue": "dunamu"}))
        .await;

    // The janitor of the first replica back runs 10 minutes after the retry was due (time is
    // the script's argument): the retry is still pending, so the record is kept.
    let late = rec.next_run_ms.unwrap() + 10 * 60_000;
    let abandoned = queue::janitor::abandon_stale(&env.conn, &env.settings, late, 100)
        .await
        .unwrap();
    assert_eq!(abandoned, 0, "a pending durable retry is not abandoned");
    let rec = env.records().get(&t.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Scheduled, "{rec:?}");

    // And the workers back run it to the end.
    let worker = env.spawn_worker().await;
    let done = job_reaches(&env, &t.id, JobState::Done, Duration::from_secs(15)).await;
    assert_eq!(done.attempts, 2, "{done:?}");
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_abandon_scan_reaches_a_record_behind_more_long_lived_ones_than_it_reads_per_pass() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let enq = env.enqueuer();
    let records = env.records();
    // Eight jobs whose tasks wait in the queue (no worker runs): candidates by age that must be
    // kept, at the head of the `queued` index.
    let base_tick = 1_763_800_000;
    let mut waiting = Vec::new();
    for i in 0..8 {
        let job = Job::for_tick(JobKind::FetchFx, None, base_tick + i);
        assert_eq!(enq.push(&job).await.unwrap(), PushOutcome::New);
        waiting.push(job.id);
    }
    // Behind them, a record with no task at all (a crash between push and record).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let orphan = Job::for_tick(JobKind::FetchFx, None, base_tick + 100);
    records
        .create(&orphan, 3, Utc::now().timestamp_millis())
        .await
        .unwrap();

    // Three passes of five candidates each, all past the bound.
    let bound = env.settings.retention.abandon_after_secs as i64 * 1000;
    let later = Utc::now().timestamp_millis() + bound + 1_000;
    let mut abandoned = 0;
    for _ in 0..3 {
        abandoned += queue::janitor::abandon_stale(&env.conn, &env.settings, later, 5)
            .await
            .unwrap();
    }
    assert_eq!(abandoned, 1, "the record behind the waiting ones");
    let rec = records.get(&orphan.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Abandoned, "{rec:?}");
    for id in &waiting {
        let rec = records.get(id).await.unwrap().unwrap();
        assert_eq!(rec.state, JobState::Queued, "{rec:?}");
    }
    env.cleanup().await;
}

/// A worker process with these settings and the execution ledger on.
pub(crate) fn ledger_replica(env: &TestEnv) -> std::process::Child {
    worker_process_with(env, &[("PREMIUM_WORKER__EXECUTION_LEDGER", "true")])
}

/// One completed execution of a job body, from the execution ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Execution {
    pub pid: u32,
    pub ok: bool,
}

/// The execution ledger (`worker.execution_ledger`): for each (job id, attempt), the
/// executions of the body that completed, in order.
pub(crate) async fn executions(env: &TestEnv) -> BTreeMap<(String, u32), Vec<Execution>> {
    let key = worker::jobs::ledger_key(&env.keys());
    // XRANGE: [[entry id, [field, value, …]], …]
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .query_async(&mut env.conn.clone())
        .await
        .expect("the execution ledger");
    let mut out: BTreeMap<(String, u32), Vec<Execution>> = BTreeMap::new();
    for (_, fields) in entries {
        let field = |k: &str| {
            fields
                .chunks(2)
                .find(|kv| kv[0] == k)
                .and_then(|kv| kv.get(1).cloned())
                .unwrap_or_default()
        };
        let attempt = field("attempt").parse().unwrap_or(0);
        out.entry((field("job"), attempt))
            .or_default()
            .push(Execution {
                pid: field("pid").parse().unwrap_or(0),
                ok: field("ok") == "1",
            });
    }
    out
}

/// Jobs among `ids` whose body completed more than once for one attempt (a run cut short by a
/// kill or a timeout never completes, so it is not in the ledger), split in two: unexplained,
/// and redone after a kill (every execution but one came from a process in `killed`, which
/// completed the body and died before its finish was written, so another ran it again).
pub(crate) fn executed_twice(
    executions: &BTreeMap<(String, u32), Vec<Execution>>,
    ids: &[String],
    killed: &BTreeSet<u32>,
) -> (Vec<String>, Vec<String>) {
    let ids: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let (mut unexplained, mut redone) = (Vec::new(), Vec::new());
    for ((job, attempt), runs) in executions {
        if runs.len() < 2 || !ids.contains(job.as_str()) {
            continue;
        }
        let line = format!(
            "{job}: attempt {attempt} executed {} times ({})",
            runs.len(),
            runs.iter()
                .map(|r| format!("pid {} ok {}", r.pid, r.ok))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let by_killed = runs.iter().filter(|r| killed.contains(&r.pid)).count();
        if runs.len() - by_killed <= 1 && by_killed > 0 {
            redone.push(line);
        } else {
            unexplained.push(line);
        }
    }
    (unexplained, redone)
}

/// A deliver-alert job of rule `rule` whose firing is in Redis, as the alert evaluation leaves
/// it (`{p}:alert-firings:{rule}`).
async fn a_telegram_firing(env: &TestEnv, rule: i64) -> Job {
    let id = format!("deliver-alert:{rule}:BTC:1");
    let firing = domain::Firing {
        rule_id: rule,
        coin: domain::Coin::parse("BTC").unwrap(),
        pair: domain::VenuePair::new(domain::Venue::Upbit, domain::Venue::Binance).unwrap(),
        metric: domain::Metric::Rate,
        op: domain::Op::Above,
        value: "3.0".parse().unwrap(),
        threshold: "2.5".parse().unwrap(),
        korea_krw: "140000000".parse().unwrap(),
        foreign_usd: "100000".parse().unwrap(),
        usd_krw: "1359".parse().unwrap(),
        fx_source: FxSource::Dunamu,
        usdt_krw: None,
        at: Utc::now(),
        tick: Utc::now().timestamp(),
        suspect: None,
        korea_price_source: domain::PriceSource::LastTrade,
    };
    let _: () = env
        .conn
        .clone()
        .hset(
            env.keys().alert_firings(rule),
            &id,
            serde_json::to_string(&firing).unwrap(),
        )
        .await
        .unwrap();
    worker::alerts::delivery_job(&id, firing.tick)
}

/// `premium-spread worker` as a child process with these settings and `extra` variables.
pub(crate) fn worker_process_with(env: &TestEnv, extra: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_premium-spread"))
        .arg("worker")
        .envs(env.env())
        .envs(extra.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("worker process starts")
}

/// A worker process with these settings, and a Telegram send deadline longer than the test
/// keeps it stopped (so the send it resumes is answered, not timed out).
fn worker_process(env: &TestEnv) -> ChildGuard {
    ChildGuard(worker_process_with(
        env,
        &[("PREMIUM_ALERTS__TIMEOUT_MS", "20000")],
    ))
}

async fn telegram_messages(env: &TestEnv) -> usize {
    env.sim_get("/_sim/telegram/messages").await["messages"]
        .as_array()
        .map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_send_re_run_after_a_false_orphan_goes_out_once() {
    let env = TestEnv::new(frozen_sim(), |s| {
        crate::alerts::alert_settings(s);
        s.alerts.telegram_bot_token = Some(settings::Secret::new(sim::telegram::DEFAULT_TOKEN));
        s.worker.cron = false;
        // The stopped run's attempt must not time out when it resumes.
        s.worker.job_timeout_ms = 60_000;
        s.retry.deliver_alert = settings::RetryPolicy {
            max_attempts: 5,
            base_ms: 1_000,
            cap_ms: 2_000,
        };
    })
    .await;
    let api = crate::alerts::Api::start(&env).await;
    // Telegram takes 4 s to answer: the send is in progress when worker A is stopped.
    env.sim_post("/_sim/telegram", json!({"latency_ms": 4_000}))
        .await;
    let a = worker_process(&env);
    env.wait_for_workers(1).await;
    // A rule is accepted once a worker has put the market registry in force.
    let rule = crate::support::eventually(Duration::from_secs(30), "the rule", || async {
        let (status, text) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/alerts",
                Some(json!({
                    "coin": "BTC", "pair": "upbit-binance", "metric": "rate", "op": "above",
                    "threshold": "2.5", "cooldown": 1,
                    "target": {"telegram": {"chat_id": "-100777"}}
                })),
            )
            .await;
        (status == 201).then(|| {
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
    })
    .await;
    let job = a_telegram_firing(&env, rule).await;
    assert_eq!(env.enqueuer().push(&job).await.unwrap(), PushOutcome::New);
    let running = job_reaches(&env, &job.id, JobState::Running, Duration::from_secs(10)).await;
    // Stop A while Telegram holds its request.
    crate::support::eventually(Duration::from_secs(10), "A's send in progress", || async {
        let m = env.sim_get("/_sim/telegram/messages").await;
        (m["in_flight"].as_u64() == Some(1)).then_some(())
    })
    .await;
    signal(&a, "STOP");

    // A is silent past the heartbeat window: B re-runs the delivery.
    let b = worker_process(&env);
    crate::support::eventually(Duration::from_secs(20), "the re-run on B", || async {
        let r = env.records().get(&job.id).await.unwrap()?;
        (r.runs >= 2).then_some(())
    })
    .await;
    // Telegram accepts A's message meanwhile (its answer waits in A's socket).
    crate::support::eventually(Duration::from_secs(20), "A's message", || async {
        (telegram_messages(&env).await >= 1).then_some(())
    })
    .await;
    signal(&a, "CONT");

    let done = job_reaches(&env, &job.id, JobState::Done, Duration::from_secs(60)).await;
    assert_ne!(done.worker, running.worker, "{done:?}");
    // Anything still in flight lands within Telegram's 4 s.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        telegram_messages(&env).await,
        1,
        "one message for one delivery: {}",
        env.sim_get("/_sim/telegram/messages").await
    );
    drop((a, b, api));
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soak_detector_catches_a_job_body_run_twice_for_one_attempt() {
    let env = TestEnv::new(frozen_sim(), |s| {
        s.worker.cron = false;
        s.fx_sources = vec![FxSource::Dunamu];
        s.http.timeout_ms = 20_000;
        // The stopped run is not cut short when it resumes: its body completes a second time.
        s.worker.job_timeout_ms = 60_000;
    })
    .await;
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "dunamu", "latency_ms": 4_000}),
    )
    .await;
    let a = ChildGuard(ledger_replica(&env));
    env.wait_for_workers(1).await;
    let t = env
        .enqueuer()
        .trigger(JobKind::FetchFx, None)
        .await
        .unwrap();
    let first = job_reaches(&env, &t.id, JobState::Running, Duration::from_secs(10)).await;
    // A stalls mid-fetch past the heartbeat window; B runs the same attempt again.
    signal(&a, "STOP");
    let b = ChildGuard(ledger_replica(&env));
    let done = job_reaches(&env, &t.id, JobState::Done, Duration::from_secs(30)).await;
    assert_ne!(done.worker, first.worker);
    assert_eq!(done.attempts, 1, "{done:?}");
    let (once, _) = executed_twice(
        &executions(&env).await,
        std::slice::from_ref(&t.id),
        &BTreeSet::new(),
    );
    assert!(once.is_empty(), "one execution so far: {once:?}");
    // A resumes and its fetch completes: the body ran twice for attempt 1, which the record
    // (fenced, it keeps B's run) does not show and the ledger does.
    signal(&a, "CONT");
    let twice = crate::support::eventually(Duration::from_secs(20), "A's execution", || async {
        let (d, _) = executed_twice(
            &executions(&env).await,
            std::slice::from_ref(&t.id),
            &BTreeSet::new(),
        );
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(twice.len(), 1, "{twice:?}");
    assert!(twice[0].contains("attempt 1 executed 2 times"), "{twice:?}");
    let rec = env.records().get(&t.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Done);
    drop((a, b));
    env.cleanup().await;
}
