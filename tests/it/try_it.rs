//! `up --sim` as a first-time user meets it: with `LOG_FORMAT=json` nothing but JSON on stdout
//! (banners included); the webhook rule example of docs/alerts.md works without setting
//! `alerts.secret_key` (an ephemeral key, never logged), and only with `--sim`.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::Value;

use crate::{
    support::{ChildGuard, DEFAULT_COINS, HEAVY, TestEnv, free_port},
    up::{spawn_collecting_output, spawn_up_with_sim_at},
};

const ADMIN: &str = "try-it-admin-3c9e";

/// Waits until `GET {base}/health/live` answers 200, at most 20 s.
async fn api_answers(http: &reqwest::Client, base: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/health/live")).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_json_logs_every_stdout_line_of_up_sim_is_json_including_the_start_banner() {
    let _heavy = HEAVY.lock().await;
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (mut up, readers) = spawn_up_with_sim_at(
        &env,
        port,
        0,
        1,
        &[("LOG_FORMAT", "json"), ("RUST_LOG", "info")],
    );
    assert!(
        api_answers(&env.http, &base).await,
        "the API never answered"
    );
    // The banner follows the API's first answer; give `up` a moment to print it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .unwrap();
    let status = up.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut outputs = readers.into_iter().map(|r| r.join().unwrap());
    let stdout = outputs.next().unwrap();
    let stderr = outputs.next().unwrap();

    let mut messages = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}\nstderr: {stderr}"));
        assert!(v["level"].is_string(), "no level: {line}");
        if let Some(m) = v["fields"]["message"].as_str() {
            messages.push(m.to_string());
        }
    }
    for banner in [
        "market simulator on http://",
        "premium-spread is up",
        "stopping",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(banner)),
            "no JSON event starting with {banner:?} among {messages:#?}"
        );
    }
    env.cleanup().await;
}

/// The rule of docs/alerts.md's example, with a real `whsec_` secret; the answer once the API
/// has a market registry (a one-coin rule needs it), at most 30 s.
async fn create_documented_rule(env: &TestEnv, base: &str) -> (u16, Value) {
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    );
    let body = serde_json::json!({"coin": "BTC", "pair": "upbit-binance",
        "metric": "rate", "op": "above", "threshold": "3.0",
        "target": {"webhook": {"url": "https://example.com/hook", "secret": secret}}});
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = env
            .http
            .post(format!("{base}/api/v1/alerts"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await;
        if let Ok(r) = r {
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            if status != 503 || Instant::now() > deadline {
                return (status, v);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Stops `up` with Ctrl-C and returns everything it and its children wrote.
fn stop_up(up: &mut ChildGuard, readers: Vec<std::thread::JoinHandle<String>>) -> String {
    Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .unwrap();
    let _ = up.wait();
    readers.into_iter().map(|r| r.join().unwrap()).collect()
}

/// The value of `var` in the environment of a child process of `parent`, if any.
fn child_env_var(parent: u32, var: &str) -> Option<String> {
    let children =
        std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?;
    children.split_whitespace().find_map(|pid| {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        environ.split(|b| *b == 0).find_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.strip_prefix(&format!("{var}=")).map(String::from)
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_sim_without_a_secret_key_accepts_the_documented_webhook_rule_and_never_logs_its_key() {
    let _heavy = HEAVY.lock().await;
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (mut up, readers) = spawn_up_with_sim_at(
        &env,
        port,
        0,
        1,
        &[("ADMIN_TOKEN", ADMIN), ("RUST_LOG", "debug")],
    );
    assert!(
        api_answers(&env.http, &base).await,
        "the API never answered"
    );
    let (status, body) = create_documented_rule(&env, &base).await;
    let key = child_env_var(up.id(), "PREMIUM_ALERTS__SECRET_KEY");
    let logs = stop_up(&mut up, readers);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["target"]["webhook"]["secret_set"], true, "{body}");
    assert!(
        logs.contains("ephemeral"),
        "the ephemeral key is announced: {logs}"
    );
    let key = key.expect("the children got the generated key");
    assert!(
        !logs.contains(&key),
        "the ephemeral key appeared in the logs"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_without_sim_and_without_a_secret_key_still_refuses_webhook_rules() {
    let _heavy = HEAVY.lock().await;
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // `up` without --sim, its sources pointed at the test's simulator as a deployment's would
    // be at the venues.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_premium-spread"));
    cmd.args(["up", "--workers", "1"])
        .env("API_ADDR", format!("127.0.0.1:{port}"))
        .env("REDIS_URL", &env.settings.redis_url)
        .env("DATABASE_URL", &env.database_url)
        .env("REDIS_PREFIX", &env.prefix)
        .env("PREMIUM_SIM_URL", &env.sim.base_url)
        .env("PREMIUM_COINS", DEFAULT_COINS.join(","))
        .env("ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .env_remove("PREMIUM_CONFIG")
        .env_remove("LOG_FORMAT")
        .env_remove("PREMIUM_ALERTS__SECRET_KEY");
    let (mut up, readers) = spawn_collecting_output(&mut cmd);
    assert!(
        api_answers(&env.http, &base).await,
        "the API never answered"
    );
    let (status, body) = create_documented_rule(&env, &base).await;
    let key = child_env_var(up.id(), "PREMIUM_ALERTS__SECRET_KEY");
    let logs = stop_up(&mut up, readers);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("alerts.secret_key"),
        "{body}"
    );
    assert_eq!(key, None, "no key generated without --sim");
    assert!(!logs.contains("ephemeral"), "{logs}");
    env.cleanup().await;
}
