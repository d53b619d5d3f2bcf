//! Shared test harness: an isolated environment (Redis prefix, database, simulator), worker
//! replicas in-process or as child processes, and polling helpers.

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use cache::Cache;
use keyspace::{Keys, RedisConn};
use queue::{Enqueuer, JobRecord, Records};
use redis::AsyncCommands;
use settings::Settings;
use store::{PremiumHistoryRow, Store};
use tokio::{sync::oneshot, task::JoinHandle};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379/";

/// Tests that load Redis heavily (thousands of jobs, several worker processes) take this lock,
/// so that they do not run at the same time and starve each other on a 2-core machine.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct TestEnv {
    pub prefix: String,
    pub db_name: String,
    pub database_url: String,
    pub sim: sim::SimHandle,
    pub conn: RedisConn,
    pub settings: Arc<Settings>,
    pub http: reqwest::Client,
    /// Removes the keys and the database when the test ends without calling `cleanup` (a
    /// failed assertion, a panic).
    guard: CleanupGuard,
}

/// Deletes a test's Redis keys and database on drop, unless disarmed by `TestEnv::cleanup`.
struct CleanupGuard {
    prefix: String,
    db_name: String,
    /// The apalis `<q>:workers` names of the test's queues.
    queues: Vec<String>,
    armed: bool,
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (prefix, db, queues) = (
            self.prefix.clone(),
            self.db_name.clone(),
            self.queues.clone(),
        );
        // The test's runtime may be gone (or panicking): use a runtime of our own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(remove_test_data(&prefix, &db, &queues));
            }
        })
        .join();
    }
}

/// Deletes every key under `prefix`, the test's queues from apalis' global list, and the database.
async fn remove_test_data(prefix: &str, db_name: &str, queues: &[String]) {
    if let Ok(mut conn) = keyspace::connect_redis(REDIS_URL, Duration::from_secs(5)).await {
        let mut keys = Vec::new();
        if let Ok(mut iter) = conn.scan_match::<_, String>(format!("{prefix}:*")).await {
            while let Some(Ok(k)) = iter.next_item().await {
                keys.push(k);
            }
        }
        for chunk in keys.chunks(500) {
            let _: Result<(), _> = conn.del(chunk).await;
        }
        // apalis-redis registers every queue in one global sorted set outside the prefix.
        for workers in queues {
            let _: Result<(), _> = conn.zrem("core:apalis:queues:list", workers).await;
        }
    }
    use sqlx::Connection;
    if let Ok(mut admin) =
        sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres").await
    {
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)"
        ))
        .execute(&mut admin)
        .await;
    }
}

/// Settings for a test: simulator URLs, the test's prefix and database, fast polling.
fn test_settings(prefix: &str, database_url: &str, sim_url: &str) -> Settings {
    let mut s = Settings {
        redis_url: REDIS_URL.into(),
        database_url: database_url.into(),
        redis_prefix: prefix.into(),
        sim_url: Some(sim_url.into()),
        ..Default::default()
    };
    for k in settings::URL_KEYS {
        s.urls.insert(k.into(), format!("{sim_url}/{k}"));
    }
    s.alerts.telegram_url = format!("{sim_url}/telegram");
    s.http.timeout_ms = 1_500;
    s.worker.poll_interval_ms = 10;
    // The fixed set most tests reason about; `coins = "auto"` has its own tests (universe.rs).
    s.coins = domain::CoinSelection::List(
        DEFAULT_COINS
            .iter()
            .map(|c| domain::Coin::parse(c).unwrap())
            .collect(),
    );
    s
}

/// The coins the tests track unless they say otherwise (the historical default list).
pub const DEFAULT_COINS: [&str; 5] = ["BTC", "ETH", "XRP", "SOL", "DOGE"];

impl TestEnv {
    /// A fresh environment; `tweak` adjusts the settings before they are frozen.
    pub async fn new(sim_cfg: sim::SimConfig, tweak: impl FnOnce(&mut Settings)) -> Self {
        // `RUST_LOG=info cargo test --test it -- --nocapture` shows the workers' logs.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let id = ulid::Ulid::generate().to_string().to_lowercase();
        let prefix = format!("it-{id}");
        let db_name = format!("ps_it_{id}");
        let database_url = format!("postgres://postgres@127.0.0.1:5432/{db_name}");
        let sim = sim::spawn(sim_cfg).await.expect("simulator starts");
        let mut s = test_settings(&prefix, &database_url, &sim.base_url);
        tweak(&mut s);
        s.validate().expect("test settings are valid");
        let conn = keyspace::connect_redis(REDIS_URL, Duration::from_secs(5))
            .await
            .expect("local Redis answers");
        let settings = Arc::new(s);
        TestEnv {
            guard: CleanupGuard {
                prefix: prefix.clone(),
                db_name: db_name.clone(),
                queues: domain::JobKind::ALL
                    .into_iter()
                    .map(|k| queue::queue_config(&settings, k).workers_set())
                    .collect(),
                armed: true,
            },
            prefix,
            db_name,
            database_url,
            sim,
            conn,
            settings,
            http: reqwest::Client::new(),
        }
    }

    pub fn keys(&self) -> Keys {
        Keys::new(&self.prefix)
    }

    /// A `{p}:counters` field (0 when not counted yet).
    pub async fn counter(&self, field: &str) -> i64 {
        let v: Option<i64> = self
            .conn
            .clone()
            .hget(self.keys().counters(), field)
            .await
            .unwrap();
        v.unwrap_or(0)
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.database_url)
            .await
            .expect("local PostgreSQL answers")
    }

    pub fn records(&self) -> Records {
        Records::new(
            self.conn.clone(),
            self.keys(),
            self.settings.retention.job_records_secs,
        )
    }

    pub fn cache(&self) -> Cache {
        Cache::new(self.conn.clone(), &self.settings)
    }

    /// The API in this process, serving on `listener` until `stop` is sent (or dropped); the
    /// handle ends when it has stopped.
    pub async fn start_api(
        &self,
        listener: tokio::net::TcpListener,
    ) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
        let state = api::AppState::connect(self.settings.clone(), None)
            .await
            .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(api::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        (stop, server)
    }

    pub fn enqueuer(&self) -> Enqueuer {
        Enqueuer::new(self.conn.clone(), self.settings.clone())
    }

    /// Starts a worker replica inside this test process.
    pub async fn spawn_worker(&self) -> InProcessWorker {
        let (conn, store) = worker::connect(&self.settings)
            .await
            .expect("services answer");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(worker::run_with(
            self.settings.clone(),
            conn,
            store,
            async move {
                let _ = rx.await;
            },
        ));
        InProcessWorker {
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    /// The environment variables that give a child process these settings.
    pub fn env(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        let mut env: Vec<(String, String)> = vec![
            ("REDIS_URL".into(), s.redis_url.clone()),
            ("DATABASE_URL".into(), s.database_url.clone()),
            ("REDIS_PREFIX".into(), s.redis_prefix.clone()),
            ("PREMIUM_SIM_URL".into(), self.sim.base_url.clone()),
            ("PREMIUM_COINS".into(), s.coins.to_string()),
            (
                "PREMIUM_HTTP__TIMEOUT_MS".into(),
                s.http.timeout_ms.to_string(),
            ),
            (
                "PREMIUM_WORKER__POLL_INTERVAL_MS".into(),
                s.worker.poll_interval_ms.to_string(),
            ),
            (
                "PREMIUM_WORKER__JOB_TIMEOUT_MS".into(),
                s.worker.job_timeout_ms.to_string(),
            ),
            ("PREMIUM_WORKER__CRON".into(), s.worker.cron.to_string()),
            ("PREMIUM_SCHEDULE__FX".into(), s.schedule.fx.clone()),
            (
                "PREMIUM_FX_SOURCES".into(),
                s.fx_sources
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "PREMIUM_RETRY__FETCH_FX__MAX_ATTEMPTS".into(),
                s.retry.fetch_fx.max_attempts.to_string(),
            ),
            (
                "PREMIUM_RETRY__FETCH_FX__BASE_MS".into(),
                s.retry.fetch_fx.base_ms.to_string(),
            ),
            (
                "PREMIUM_RETRY__FETCH_FX__CAP_MS".into(),
                s.retry.fetch_fx.cap_ms.to_string(),
            ),
            (
                "PREMIUM_RETRY__DELIVER_ALERT__MAX_ATTEMPTS".into(),
                s.retry.deliver_alert.max_attempts.to_string(),
            ),
            (
                "PREMIUM_RETRY__DELIVER_ALERT__BASE_MS".into(),
                s.retry.deliver_alert.base_ms.to_string(),
            ),
            (
                "PREMIUM_RETRY__DELIVER_ALERT__CAP_MS".into(),
                s.retry.deliver_alert.cap_ms.to_string(),
            ),
            ("RUST_LOG".into(), "warn".into()),
        ];
        for (var, secret) in [
            ("PREMIUM_ALERTS__SECRET_KEY", &s.alerts.secret_key),
            (
                "PREMIUM_ALERTS__TELEGRAM_BOT_TOKEN",
                &s.alerts.telegram_bot_token,
            ),
            ("ADMIN_TOKEN", &s.admin_token),
        ] {
            if let Some(v) = secret {
                env.push((var.into(), v.expose().into()));
            }
        }
        if let Some(u) = &s.public_url {
            env.push(("PREMIUM_PUBLIC_URL".into(), u.clone()));
        }
        if let Some(name) = &s.redis_master_name {
            env.push(("REDIS_SENTINELS".into(), s.redis_sentinels.join(",")));
            env.push(("REDIS_MASTER_NAME".into(), name.clone()));
        }
        env.retain(|(k, _)| !k.is_empty());
        env
    }

    /// Starts `premium-spread worker` as a child process with these settings.
    pub fn spawn_worker_process(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_premium-spread"))
            .arg("worker")
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("worker process starts")
    }

    pub async fn sim_post(&self, path: &str, body: serde_json::Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.sim.base_url))
            .json(&body)
            .send()
            .await
            .expect("simulator answers");
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().await.unwrap_or_default()
        );
    }

    pub async fn sim_get(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.sim.base_url))
            .send()
            .await
            .expect("simulator answers")
            .json()
            .await
            .expect("JSON body")
    }

    /// Every record under this prefix, by id.
    pub async fn all_records(&self) -> HashMap<String, JobRecord> {
        let records = self.records();
        let mut out = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = records
                .list(None, None, 200, cursor.as_deref())
                .await
                .expect("list");
            for r in page.items {
                out.insert(r.id.clone(), r);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    /// Waits until `n` worker processes (or in-process replicas) of this test have registered
    /// their heartbeat, i.e. are consuming the queues.
    pub async fn wait_for_workers(&self, n: usize) {
        let key = self.keys().workers();
        eventually(
            Duration::from_secs(30),
            &format!("{n} worker(s) to register"),
            || {
                let mut conn = self.conn.clone();
                let key = key.clone();
                async move {
                    let alive: usize = conn.zcard(key).await.unwrap_or(0);
                    (alive >= n).then_some(())
                }
            },
        )
        .await;
    }

    /// Keys under this test's prefix (SCAN, so safe beside other tests).
    pub async fn prefix_keys(&self) -> Vec<String> {
        let mut conn = self.conn.clone();
        let mut iter: redis::AsyncIter<String> = conn
            .scan_match(format!("{}:*", self.prefix))
            .await
            .expect("scan");
        let mut keys = Vec::new();
        while let Some(k) = iter.next_item().await {
            keys.push(k.expect("key"));
        }
        keys
    }

    /// Removes this test's keys and database (also done on drop if a test fails first).
    pub async fn cleanup(mut self) {
        self.guard.armed = false;
        let queues: Vec<String> = domain::JobKind::ALL
            .into_iter()
            .map(|k| queue::queue_config(&self.settings, k).workers_set())
            .collect();
        remove_test_data(&self.prefix, &self.db_name, &queues).await;
        let _ = self.sim.stop().await;
    }
}

pub struct InProcessWorker {
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), worker::WorkerError>>>,
}

impl InProcessWorker {
    /// Graceful stop: running jobs finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
    }
}

impl Drop for InProcessWorker {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Sends SIGTERM (graceful) to a child.
pub fn terminate(child: &mut Child) {
    signal(child, "TERM");
}

/// Sends `sig` (`TERM`, `STOP`, `CONT`, …) to a child.
pub fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status();
}

/// A port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves no
/// process behind (a leaked worker would also hold the test harness's output pipe open).
pub struct ChildGuard(pub Child);

impl std::ops::Deref for ChildGuard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A premium history row of `coin` on upbit-binance at `ts` with `rate`: fixed prices and FX,
/// no USDT rate, no entry/exit; tests override what they are about.
pub fn history_row(
    coin: &str,
    ts: chrono::DateTime<chrono::Utc>,
    rate: rust_decimal::Decimal,
) -> PremiumHistoryRow {
    use rust_decimal::Decimal;
    PremiumHistoryRow {
        coin: coin.into(),
        korea: "upbit".into(),
        foreign: "binance".into(),
        rate,
        usdt_rate: None,
        korea_krw: Decimal::new(129_555_000, 0),
        foreign_usd: Decimal::new(892_771, 1),
        usd_krw: Decimal::new(14_326, 1),
        fx_source: "dunamu".into(),
        usdt_krw: Some(Decimal::new(1_440, 0)),
        observed_at: ts,
        computed_at: ts + chrono::Duration::milliseconds(40),
        entry_rate: None,
        exit_rate: None,
    }
}

/// Waits until job `id`'s record is in `state`, and returns it.
pub async fn job_reaches(
    env: &TestEnv,
    id: &str,
    state: domain::JobState,
    timeout: Duration,
) -> JobRecord {
    let records = env.records();
    let start = Instant::now();
    loop {
        let record = records.get(id).await.unwrap();
        match record {
            Some(r) if r.state == state => return r,
            // The record as last seen says why (still queued, retrying, failed with …).
            _ if start.elapsed() >= timeout => {
                panic!(
                    "timed out after {timeout:?} waiting for job {id} to be {state}; last seen: {record:?}"
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
