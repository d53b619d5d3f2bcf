//! A manual trigger and a re-run against the real Redis: each writes its record, its apalis task
//! and its wake in one script (one command on the wire, watched with MONITOR), and a trigger
//! that conflicts or a re-run that is refused writes nothing.
//!
//! Each test uses its own key prefix and removes its keys when it ends, pass or fail.

use std::{collections::BTreeMap, time::Duration};

use chrono::Utc;
use domain::{JobKind, JobState};
use futures::StreamExt;
use keyspace::RedisConn;
use queue::{
    Enqueuer, Job, PushOutcome, QueueError, enqueue::policy, queue_config, records::Update,
};
use redis::AsyncCommands;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    net::TcpStream,
};

// Dependencies of the crate, not of these tests.
use apalis as _;
use apalis_core as _;
use apalis_redis as _;
use metrics as _;
use proptest as _;
use rand as _;
use serde as _;
use serde_json as _;
use thiserror as _;
use tracing as _;

const REDIS_ADDR: &str = "127.0.0.1:6379";
const WAIT: Duration = Duration::from_secs(10);

mod common;
use common::REDIS_URL;

async fn setup(name: &str) -> (RedisConn, Enqueuer, common::Cleanup) {
    let (_, conn, enqueuer, cleanup) = common::setup("trig", name, |_| {}).await;
    (conn, enqueuer, cleanup)
}

/// The commands clients send that name the test's prefix, as MONITOR shows them (the commands
/// scripts run inside Redis are left out: they are not round trips).
struct Monitor {
    lines: Lines<BufReader<TcpStream>>,
    prefix: String,
}

impl Monitor {
    async fn start(prefix: &str) -> Self {
        let mut tcp = TcpStream::connect(REDIS_ADDR).await.unwrap();
        tcp.write_all(b"MONITOR\r\n").await.unwrap();
        let mut lines = BufReader::new(tcp).lines();
        let ok = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ok.as_deref(), Some("+OK"));
        Monitor {
            lines,
            prefix: prefix.to_string(),
        }
    }

    /// The names of the commands sent since the last call, closed by a marker sent on `conn`.
    async fn sent(&mut self, conn: &mut RedisConn) -> Vec<String> {
        let marker = format!("{}:marker:{}", self.prefix, ulid::Ulid::generate());
        let _: String = redis::cmd("ECHO")
            .arg(&marker)
            .query_async(conn)
            .await
            .unwrap();
        let mut out = Vec::new();
        loop {
            let line = tokio::time::timeout(WAIT, self.lines.next_line())
                .await
                .expect("the marker shows in MONITOR")
                .unwrap()
                .expect("MONITOR is open");
            if line.contains(&marker) {
                return out;
            }
            if !line.contains(&self.prefix) || line.contains(" lua]") {
                continue;
            }
            let cmd = line
                .split_once("] \"")
                .and_then(|(_, rest)| rest.split('"').next())
                .unwrap_or_default();
            out.push(cmd.to_uppercase());
        }
    }
}

/// Every key of the prefix with its content, to show that a call wrote nothing.
async fn snapshot(conn: &mut RedisConn, prefix: &str) -> BTreeMap<String, String> {
    let keys: Vec<String> = conn.keys(format!("{prefix}:*")).await.unwrap();
    let mut out = BTreeMap::new();
    for k in keys {
        let ty: String = redis::cmd("TYPE").arg(&k).query_async(conn).await.unwrap();
        let v = match ty.as_str() {
            "hash" => {
                let h: BTreeMap<String, Vec<u8>> = conn.hgetall(&k).await.unwrap();
                format!("{h:?}")
            }
            "zset" => {
                let z: Vec<(String, f64)> = conn.zrange_withscores(&k, 0, -1).await.unwrap();
                format!("{z:?}")
            }
            "string" => {
                let s: Vec<u8> = conn.get(&k).await.unwrap();
                format!("{s:?}")
            }
            other => other.to_string(),
        };
        out.insert(k, v);
    }
    out
}

/// Counts the wakes published on `channel` until a marker published after them.
async fn wakes(sub: &mut redis::aio::PubSub, conn: &mut RedisConn, channel: &str) -> u32 {
    let _: () = conn.publish(channel, "end").await.unwrap();
    let mut stream = sub.on_message();
    let mut n = 0;
    loop {
        let msg = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("the marker arrives")
            .expect("the subscription is open");
        let payload: String = msg.get_payload().unwrap();
        if payload == "end" {
            return n;
        }
        n += 1;
    }
}

/// The task of `tid` is in its queue as apalis-redis' push leaves it.
async fn task_is_queued(conn: &mut RedisConn, q: &Enqueuer, kind: JobKind, tid: &str) {
    let cfg = queue_config(q.settings(), kind);
    let data: bool = conn.hexists(cfg.job_data_hash(), tid).await.unwrap();
    let at: Option<f64> = conn.zscore(cfg.scheduled_jobs_set(), tid).await.unwrap();
    let status: Option<String> = conn
        .hget(format!("{}:{tid}", cfg.job_meta_hash()), "status")
        .await
        .unwrap();
    assert!(
        data && at.is_some(),
        "task {tid}: data {data}, scheduled {at:?}"
    );
    assert_eq!(status.as_deref(), Some("Pending"), "task {tid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_is_one_script_writing_record_task_and_wake_and_a_conflict_writes_nothing() {
    let (mut conn, q, _cleanup) = setup("one").await;
    let prefix = q.keys().prefix().to_string();
    // A first trigger (another kind) loads the script, whose first call may be two commands.
    q.trigger(JobKind::RefreshMarkets, None).await.unwrap();
    let channel = q.keys().wake_channel(JobKind::FetchFx);
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.subscribe(&channel).await.unwrap();
    let mut mon = Monitor::start(&prefix).await;

    let t = q.trigger(JobKind::FetchFx, None).await.unwrap();
    assert!(!t.conflict);
    assert_eq!(mon.sent(&mut conn).await, ["EVALSHA"], "one round trip");
    let rec = q.records().get(&t.id).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.kind, rec.attempts, rec.runs, rec.manual),
        (JobState::Queued, JobKind::FetchFx, 1, 0, true)
    );
    assert_eq!(
        rec.max_attempts,
        policy(q.settings(), JobKind::FetchFx).max_attempts
    );
    task_is_queued(&mut conn, &q, JobKind::FetchFx, &t.id).await;
    let queued: Vec<String> = conn
        .zrange(
            q.keys()
                .jobs_index(Some(JobKind::FetchFx), Some(JobState::Queued)),
            0,
            -1,
        )
        .await
        .unwrap();
    assert_eq!(queued, std::slice::from_ref(&t.id));
    assert_eq!(wakes(&mut sub, &mut conn, &channel).await, 1);

    // A second trigger while the first is queued: the first id, and not one write.
    let before = snapshot(&mut conn, &prefix).await;
    let _ = mon.sent(&mut conn).await;
    let again = q.trigger(JobKind::FetchFx, None).await.unwrap();
    assert_eq!((again.id.as_str(), again.conflict), (t.id.as_str(), true));
    assert_eq!(mon.sent(&mut conn).await, ["EVALSHA"], "one round trip");
    assert_eq!(snapshot(&mut conn, &prefix).await, before);
    assert_eq!(wakes(&mut sub, &mut conn, &channel).await, 0);
}

/// Pushes a job and records its only attempt as failed.
async fn failed_job(q: &Enqueuer, tick: i64) -> Job {
    let job = Job::for_tick(JobKind::FetchFx, None, tick);
    assert_eq!(q.push(&job).await.unwrap(), PushOutcome::New);
    let now = Utc::now().timestamp_millis();
    q.records()
        .transition(
            &job,
            1,
            JobState::Failed,
            now,
            Update {
                last_error: Some("upstream: 503"),
                finished_ms: Some(now),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_is_one_read_and_one_script_and_a_refused_one_writes_nothing() {
    let (mut conn, q, _cleanup) = setup("rerun").await;
    let prefix = q.keys().prefix().to_string();
    let tick = Utc::now().timestamp();
    // A first re-run loads the script, whose first call may be two commands.
    let warm = failed_job(&q, tick - 10).await;
    q.retry(&warm.id).await.unwrap();
    let job = failed_job(&q, tick).await;
    let channel = q.keys().wake_channel(JobKind::FetchFx);
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.subscribe(&channel).await.unwrap();
    let mut mon = Monitor::start(&prefix).await;

    let rec = q.retry(&job.id).await.unwrap();
    assert_eq!(
        mon.sent(&mut conn).await,
        ["HGETALL", "EVALSHA"],
        "the read, then every write in one script"
    );
    let stored = q.records().get(&job.id).await.unwrap().unwrap();
    assert_eq!(rec, stored, "the answer is the record as written");
    let series = policy(q.settings(), JobKind::FetchFx).max_attempts;
    assert_eq!(
        (rec.state, rec.attempts, rec.max_attempts, rec.next_run_ms),
        (JobState::Queued, 2, 1 + series, None)
    );
    task_is_queued(&mut conn, &q, JobKind::FetchFx, &format!("{}~2", job.id)).await;
    assert_eq!(wakes(&mut sub, &mut conn, &channel).await, 1);

    // Queued now, and an unknown id: refused as before, and not one write.
    let before = snapshot(&mut conn, &prefix).await;
    match q.retry(&job.id).await {
        Err(QueueError::NotRetryable { id, state }) => {
            assert_eq!((id.as_str(), state), (job.id.as_str(), JobState::Queued));
        }
        other => panic!("a queued job is not retryable: {other:?}"),
    }
    assert!(matches!(
        q.retry("fetch-fx:nope").await,
        Err(QueueError::NotFound(id)) if id == "fetch-fx:nope"
    ));
    assert_eq!(snapshot(&mut conn, &prefix).await, before);
    assert_eq!(wakes(&mut sub, &mut conn, &channel).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reruns_at_once_queue_one_attempt() {
    let (mut conn, q, _cleanup) = setup("twice").await;
    let job = failed_job(&q, Utc::now().timestamp()).await;
    let (a, b) = tokio::join!(q.retry(&job.id), q.retry(&job.id));
    let oks = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    let refused = if a.is_ok() { b } else { a };
    assert!(
        matches!(
            refused,
            Err(QueueError::NotRetryable {
                state: JobState::Queued,
                ..
            })
        ),
        "{refused:?}"
    );
    let rec = q.records().get(&job.id).await.unwrap().unwrap();
    assert_eq!((rec.state, rec.attempts), (JobState::Queued, 2));
    let cfg = queue_config(q.settings(), JobKind::FetchFx);
    let tasks: Vec<String> = conn.hkeys(cfg.job_data_hash()).await.unwrap();
    let mut tasks = tasks;
    tasks.sort();
    assert_eq!(tasks, [job.id.clone(), format!("{}~2", job.id)]);
}
