//! `up --sim` as a first-time user meets it: with `LOG_FORMAT=json` nothing but JSON on stdout
//! (banners included).

use std::{
    process::Command,
    time::{Duration, Instant},
};

use crate::{
    support::{HEAVY, TestEnv, free_port},
    up::spawn_up_with_sim_at,
};

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
