//! `premium-spread up --sim --workers 3`: the README's first command, end to end, and the
//! secrets rule (no admin token or Authorization header ever reaches a log line); `up` as a
//! supervisor (a killed child is replaced, a crash-looping one stops it); `log_format` from a
//! config file.

use std::{
    io::{BufRead, Read},
    process::{Child, Command, ExitStatus, Stdio},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::support::{ChildGuard, DEFAULT_COINS, HEAVY, TestEnv, free_port};

// A dependency of the binary (its errors), not of these tests.
use anyhow as _;

/// Coins with a fresh premium on every configured pair.
async fn fresh_coins(http: &reqwest::Client, base: &str) -> Option<Vec<String>> {
    let body: serde_json::Value = http
        .get(format!("{base}/api/v1/premiums"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let items = body["premiums"].as_array()?;
    let mut fresh: Vec<String> = items
        .iter()
        .filter(|p| p["available"] == true && p["stale"] == false)
        .map(|p| p["coin"].as_str().unwrap_or_default().to_string())
        .collect();
    fresh.sort();
    fresh.dedup();
    Some(fresh)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_with_sim_serves_fresh_premiums_for_every_default_coin_within_10_s_and_stops_cleanly() {
    let _heavy = HEAVY.lock().await;
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let secret = "up-admin-secret-7f3a9c";
    let started = Instant::now();
    let (mut up, readers) = spawn_up(
        &env,
        port,
        3,
        &[("ADMIN_TOKEN", secret), ("RUST_LOG", "debug")],
    );
    let want: Vec<String> = ["BTC", "DOGE", "ETH", "SOL", "XRP"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut fresh = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        if let Some(f) = fresh_coins(&env.http, &base).await {
            fresh = f;
            if fresh == want {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = started.elapsed();
    assert_eq!(fresh, want, "fresh premiums after {took:?}");
    eprintln!("every default coin had a fresh premium {took:?} after `up` started");

    // Swagger UI and the admin path with a wrong and the right token.
    let docs = env.http.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let trigger = |token: &'static str| {
        env.http
            .post(format!("{base}/api/v1/jobs/fetch-fx/trigger"))
            .bearer_auth(token)
            .send()
    };
    let denied = trigger("wrong-token-5e1d").await.unwrap();
    assert_eq!(denied.status(), 401);
    let accepted = trigger(secret).await.unwrap();
    assert_eq!(accepted.status(), 202);
    let body: serde_json::Value = accepted.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_string();
    // The operator's FX job is run by one of the workers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut state = String::new();
    while Instant::now() < deadline && state != "done" {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let job: serde_json::Value = env
            .http
            .get(format!("{base}/api/v1/jobs/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state = job["state"].as_str().unwrap_or_default().to_string();
    }
    assert_eq!(state, "done", "triggered job {id}");

    // Ctrl-C stops everything: `up` exits and leaves no child behind.
    let children = child_pids(up.id());
    assert!(children.len() >= 4, "api + 3 workers: {children:?}");
    Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .unwrap();
    let status = up.wait().unwrap();
    assert!(status.success(), "{status}");
    for pid in &children {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} outlived `up`"
        );
    }

    // Nothing secret in any log line of the API, the workers or `up` itself (debug level).
    let logs: String = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(logs.len() > 100, "logs were captured: {logs}");
    for needle in [secret, "wrong-token-5e1d", "Bearer", "authorization"] {
        assert!(!logs.contains(needle), "`{needle}` appeared in the logs");
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_of_up_exit_when_up_is_killed() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let port = free_port();
    let mut up = Command::new(env!("CARGO_BIN_EXE_premium-spread"))
        .args(["up", "--sim", "--workers", "1", "--sim-addr", "127.0.0.1:0"])
        .env("API_ADDR", format!("127.0.0.1:{port}"))
        .env("PREMIUM_COINS", DEFAULT_COINS.join(","))
        .env("REDIS_URL", &env.settings.redis_url)
        .env("DATABASE_URL", &env.database_url)
        .env("REDIS_PREFIX", &env.prefix)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut children = Vec::new();
    while Instant::now() < deadline && children.len() < 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        children = child_pids(up.id());
    }
    assert_eq!(children.len(), 2, "api + 1 worker");
    up.kill().unwrap();
    let _ = up.wait();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline
        && children
            .iter()
            .any(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for pid in &children {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} outlived a killed `up`"
        );
    }
    env.cleanup().await;
}

/// Direct children of `pid` (from /proc).
fn child_pids(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // Field 4 (after the parenthesised command) is the parent pid.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        if after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok())
            == Some(pid)
        {
            out.push(p);
        }
    }
    out
}

/// The five default coins, sorted.
fn default_coins() -> Vec<String> {
    ["BTC", "DOGE", "ETH", "SOL", "XRP"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// `premium-spread up --sim --workers <workers>` on this environment, the API on `port`; its
/// stdout and stderr are drained by threads (a full pipe would block every process writing logs);
/// `extra_env` is set last (it overrides `RUST_LOG`).
fn spawn_up(
    env: &TestEnv,
    port: u16,
    workers: usize,
    extra_env: &[(&str, &str)],
) -> (ChildGuard, Vec<JoinHandle<String>>) {
    spawn_up_with_sim_at(env, port, 0, workers, extra_env)
}

/// [`spawn_up`] with the simulator on `sim_port` (0: any free port).
pub(crate) fn spawn_up_with_sim_at(
    env: &TestEnv,
    port: u16,
    sim_port: u16,
    workers: usize,
    extra_env: &[(&str, &str)],
) -> (ChildGuard, Vec<JoinHandle<String>>) {
    let mut up = Command::new(env!("CARGO_BIN_EXE_premium-spread"));
    up.args(["up", "--sim", "--sim-addr"])
        .arg(format!("127.0.0.1:{sim_port}"))
        .arg("--workers")
        .arg(workers.to_string())
        .env("API_ADDR", format!("127.0.0.1:{port}"))
        .env("REDIS_URL", &env.settings.redis_url)
        .env("DATABASE_URL", &env.database_url)
        .env("REDIS_PREFIX", &env.prefix)
        .env("RUST_LOG", "warn")
        .env_remove("PREMIUM_SIM_URL")
        .env_remove("PREMIUM_CONFIG")
        .env_remove("LOG_FORMAT")
        .env("PREMIUM_COINS", DEFAULT_COINS.join(","))
        .envs(extra_env.iter().copied());
    spawn_collecting_output(&mut up)
}

/// Starts `cmd` with stdout and stderr each read to the end on a thread of its own (the
/// joined strings are its whole output once it has exited).
pub(crate) fn spawn_collecting_output(cmd: &mut Command) -> (ChildGuard, Vec<JoinHandle<String>>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let readers = [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ]
    .into_iter()
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    })
    .collect();
    (ChildGuard(child), readers)
}

/// Waits for `child` to exit, at most `timeout`.
async fn exits_within(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The subcommand (`api`, `worker`) a process of this binary runs, from /proc/<pid>/cmdline.
fn role_of(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    cmdline
        .split(|b| *b == 0)
        .nth(1)
        .map(|a| String::from_utf8_lossy(a).into_owned())
}

/// Worker processes among the children of `up`.
fn worker_pids(up: u32) -> Vec<u32> {
    let mut pids: Vec<u32> = child_pids(up)
        .into_iter()
        .filter(|p| role_of(*p).as_deref() == Some("worker"))
        .collect();
    pids.sort();
    pids
}

/// Every premium of `GET /api/v1/premiums` that is available, as (coin, age of its older price
/// in ms, stale). The premium's own `age_ms` counts the FX rate too, which is minutes old by
/// design; these tests are about the prices.
async fn available_premiums(
    http: &reqwest::Client,
    base: &str,
) -> Result<Vec<(String, i64, bool)>, String> {
    let r = http
        .get(format!("{base}/api/v1/premiums"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .map_err(|e| format!("API did not answer: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("API answered {}", r.status()));
    }
    let body: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    let items = body["premiums"].as_array().ok_or("no premiums array")?;
    let time = |v: &serde_json::Value| v.as_str()?.parse::<chrono::DateTime<chrono::Utc>>().ok();
    let as_of = time(&body["as_of"]).ok_or("no as_of")?;
    Ok(items
        .iter()
        .filter(|p| p["available"] == true)
        .map(|p| {
            let prices = ["korea_observed_at", "foreign_observed_at"]
                .map(|k| time(&p["inputs"][k]))
                .into_iter()
                .min()
                .flatten();
            (
                p["coin"].as_str().unwrap_or_default().to_string(),
                prices.map_or(i64::MAX, |at| (as_of - at).num_milliseconds().max(0)),
                p["stale"] == true,
            )
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_with_sigkill_is_replaced_within_5_s_while_the_api_keeps_serving_premiums_younger_than_3_s()
 {
    let _heavy = HEAVY.lock().await;
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (mut up, readers) = spawn_up(&env, port, 3, &[]);

    // Up and serving fresh premiums for every default coin, with three worker processes.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut fresh = Vec::new();
    let mut workers = Vec::new();
    while Instant::now() < deadline {
        workers = worker_pids(up.id());
        if let Some(f) = fresh_coins(&env.http, &base).await {
            fresh = f;
            if fresh == default_coins() && workers.len() == 3 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(fresh, default_coins(), "fresh premiums before the kill");
    assert_eq!(workers.len(), 3, "three worker processes: {workers:?}");

    let victim = workers[1];
    Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .unwrap();
    let killed = Instant::now();

    // For 8 s: the API answers, every available premium is under 3 s old, every default coin
    // has one; meanwhile a new worker process takes the killed one's place.
    let mut replaced_after = None;
    let mut polls = 0;
    let mut oldest = 0;
    while killed.elapsed() < Duration::from_secs(8) {
        let premiums = available_premiums(&env.http, &base)
            .await
            .unwrap_or_else(|e| panic!("{:?} after the kill: {e}", killed.elapsed()));
        for (coin, age_ms, stale) in &premiums {
            assert!(
                *age_ms <= 3_000 && !stale,
                "{:?} after the kill, the {coin} premium is {age_ms} ms old (stale: {stale})",
                killed.elapsed()
            );
            oldest = oldest.max(*age_ms);
        }
        let mut coins: Vec<String> = premiums.into_iter().map(|(c, _, _)| c).collect();
        coins.sort();
        coins.dedup();
        assert_eq!(
            coins,
            default_coins(),
            "{:?} after the kill",
            killed.elapsed()
        );
        polls += 1;
        if replaced_after.is_none() {
            let now = worker_pids(up.id());
            if now.len() == 3 && !now.contains(&victim) {
                replaced_after = Some(killed.elapsed());
                let new: Vec<_> = now.iter().filter(|p| !workers.contains(p)).collect();
                eprintln!(
                    "worker {victim} was replaced by {new:?} {:?} after the kill",
                    killed.elapsed()
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("{polls} polls over 8 s after the kill; the oldest premium was {oldest} ms old");
    let replaced_after = replaced_after.expect("a new worker process replaced the killed one");
    assert!(
        replaced_after <= Duration::from_secs(5),
        "replaced after {replaced_after:?}"
    );
    // The other two workers and the API were left alone.
    let survivors: Vec<u32> = workers.iter().copied().filter(|p| *p != victim).collect();
    let now = worker_pids(up.id());
    for pid in &survivors {
        assert!(now.contains(pid), "worker {pid} was restarted too: {now:?}");
    }

    // Ctrl-C still stops everything.
    let children = child_pids(up.id());
    assert_eq!(children.len(), 4, "api + 3 workers: {children:?}");
    Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .unwrap();
    let status = exits_within(&mut up, Duration::from_secs(30))
        .await
        .expect("`up` stops within 30 s of Ctrl-C");
    assert!(status.success(), "{status}");
    for pid in &children {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} outlived `up`"
        );
    }
    let logs: String = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let restarts: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("exited unexpectedly"))
        .collect();
    assert_eq!(restarts.len(), 1, "one restart logged: {restarts:?}");
    assert!(
        restarts[0].starts_with("up: worker #") && restarts[0].contains("SIGKILL"),
        "{}",
        restarts[0]
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_exits_at_every_start_makes_up_stop_with_one_line_naming_it_and_its_exit_status()
 {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    // The API's port is held by this test: every API process fails to listen and exits at once.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let started = Instant::now();
    let (mut up, readers) = spawn_up(&env, port, 1, &[]);
    let mut children = Vec::new();
    let status = loop {
        for pid in child_pids(up.id()) {
            if !children.contains(&pid) {
                children.push(pid);
            }
        }
        if let Some(status) = up.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "`up` still runs 60 s after its API started crash-looping"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = started.elapsed();
    eprintln!("`up` stopped {took:?} after it started");
    assert!(!status.success(), "{status}");
    // Five exits with backoffs of 0.5 + 1 + 2 + 4 s between them.
    assert!(
        took >= Duration::from_millis(7_500),
        "stopped after {took:?}"
    );
    drop(held);

    let logs: String = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let fatal: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("crash-looping"))
        .collect();
    assert_eq!(fatal.len(), 1, "one crash-loop line: {logs}");
    let line = fatal[0];
    assert!(line.starts_with("premium-spread: api "), "{line}");
    assert!(line.contains("exit status: 1"), "{line}");
    assert!(line.contains("5 times within 60 s"), "{line}");
    // Each failed start of the API says why, and `up` logged four restarts before giving up.
    assert!(
        logs.matches(&format!("cannot listen on 127.0.0.1:{port}"))
            .count()
            >= 5,
        "{logs}"
    );
    assert_eq!(
        logs.matches("up: api exited unexpectedly (exit status: 1)")
            .count(),
        4,
        "{logs}"
    );
    // The worker was never restarted and stopped with `up`.
    assert!(!logs.contains("worker #1 exited"), "{logs}");
    for pid in &children {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} outlived `up`"
        );
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_format_json_in_a_config_file_makes_a_worker_log_json_lines() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let config = std::env::temp_dir().join(format!("{}.toml", env.prefix));
    std::fs::write(
        &config,
        format!(
            "log_format = \"json\"\nredis_url = \"{}\"\ndatabase_url = \"{}\"\nredis_prefix = \"{}\"\n",
            env.settings.redis_url, env.database_url, env.prefix
        ),
    )
    .unwrap();
    let mut worker = Command::new(env!("CARGO_BIN_EXE_premium-spread"))
        .arg("worker")
        .arg("--config")
        .arg(&config)
        .env("PREMIUM_SIM_URL", &env.sim.base_url)
        .env("PREMIUM_COINS", DEFAULT_COINS.join(","))
        .env("RUST_LOG", "info")
        .env_remove("LOG_FORMAT")
        .env_remove("PREMIUM_CONFIG")
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_PREFIX")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for out in [
        Box::new(worker.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(worker.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let mut json_line = None;
    while json_line.is_none() && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["level"].is_string()
        {
            json_line = Some(v);
        }
        seen.push(line);
    }
    crate::support::terminate(&mut worker);
    let _ = exits_within(&mut worker, Duration::from_secs(20)).await;
    let _ = worker.kill();
    let _ = worker.wait();
    let _ = std::fs::remove_file(&config);
    let v = json_line.unwrap_or_else(|| panic!("no JSON log line within 20 s: {seen:#?}"));
    assert!(v["fields"].is_object() || v["timestamp"].is_string(), "{v}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_redis_loses_every_key_up_serves_fresh_premiums_again_within_5_s_with_nobody_triggering_anything()
 {
    let _heavy = HEAVY.lock().await;
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (mut up, _readers) = spawn_up(&env, port, 3, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && fresh_coins(&env.http, &base).await != Some(default_coins())
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        fresh_coins(&env.http, &base).await,
        Some(default_coins()),
        "fresh premiums before the flush"
    );

    // Redis loses everything this system keeps (FLUSHALL, but only this test's keys: other
    // tests share the server): queues, job records, cached prices and the FX rate.
    let keys = env.prefix_keys().await;
    assert!(
        keys.iter().any(|k| k.contains(":fx:")),
        "an FX rate was cached"
    );
    let mut conn = env.conn.clone();
    for chunk in keys.chunks(500) {
        let _: () = redis::AsyncCommands::del(&mut conn, chunk).await.unwrap();
    }
    let flushed = Instant::now();

    // Every default coin gets a premium observed after the flush, nobody triggering anything.
    let mut back_after = None;
    while flushed.elapsed() < Duration::from_secs(15) {
        if let Ok(premiums) = available_premiums(&env.http, &base).await {
            let since = flushed.elapsed().as_millis() as i64;
            let mut coins: Vec<String> = premiums
                .into_iter()
                .filter(|(_, age_ms, stale)| *age_ms < since && !stale)
                .map(|(c, _, _)| c)
                .collect();
            coins.sort();
            coins.dedup();
            if coins == default_coins() {
                back_after = Some(flushed.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back_after = back_after.expect("premiums came back after Redis lost its keys");
    eprintln!("premiums available again {back_after:?} after Redis lost every key");
    assert!(
        back_after <= Duration::from_secs(5),
        "premiums came back only after {back_after:?}"
    );
    Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .unwrap();
    exits_within(&mut up, Duration::from_secs(30))
        .await
        .expect("`up` stops within 30 s of Ctrl-C");
    env.cleanup().await;
}
