//! `premium-spread up --sim --workers 3`: the README's first command, end to end, and the
//! secrets rule (no admin token or Authorization header ever reaches a log line).

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::support::TestEnv;

// A dependency of the binary (its errors), not of these tests.
use anyhow as _;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let secret = "up-admin-secret-7f3a9c";
    let started = Instant::now();
    let mut up = Command::new(env!("CARGO_BIN_EXE_premium-spread"))
        .args(["up", "--sim", "--workers", "3", "--sim-addr", "127.0.0.1:0"])
        .env("API_ADDR", format!("127.0.0.1:{port}"))
        .env("REDIS_URL", &env.settings.redis_url)
        .env("DATABASE_URL", &env.database_url)
        .env("REDIS_PREFIX", &env.prefix)
        .env("ADMIN_TOKEN", secret)
        .env("RUST_LOG", "debug")
        .env_remove("PREMIUM_SIM_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes while the test runs (a full pipe would block every process writing logs).
    let readers: Vec<_> = [
        Box::new(up.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(up.stderr.take().unwrap()),
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
