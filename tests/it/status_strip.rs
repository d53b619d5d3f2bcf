//! The dashboard's status strip on a healthy fresh start, in headless Chromium: amber means late
//! against the kind's own schedule, so nothing is amber; the registry loaded at start counts as
//! refresh-markets' success.

use std::time::Duration;

use serde_json::Value;

use crate::cdp::Browser;
use crate::support::{TestEnv, eventually};

/// `[kind, class, text]` of every job in the strip.
const STRIP_JS: &str = "[...document.querySelectorAll('#jobs .job')].map(s => \
    [s.dataset.kind, s.className, s.textContent])";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_healthy_fresh_start_no_job_is_amber_and_refresh_markets_has_succeeded() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let worker = env.spawn_worker().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, server) = env.start_api(listener).await;
    // Healthy: every default coin's premium served on every pair.
    let want = 5 * env.settings.pairs.len();
    eventually(Duration::from_secs(30), "every premium available", || {
        let (http, url) = (
            env.http.clone(),
            format!("{base}/api/v1/premiums?available=true"),
        );
        async move {
            let body: Value = http.get(url).send().await.ok()?.json().await.ok()?;
            (body["premiums"].as_array()?.len() == want).then_some(())
        }
    })
    .await;

    // The data the strip uses.
    let stats: Value = env
        .http
        .get(format!("{base}/api/v1/jobs/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds = stats["kinds"].as_array().unwrap();
    for k in kinds {
        assert_eq!(k["late"], false, "{k}");
    }
    let markets = kinds
        .iter()
        .find(|k| k["kind"] == "refresh-markets")
        .unwrap();
    assert!(
        markets["last_success_at"].is_string(),
        "the registry loaded at start is a success: {markets}"
    );

    // The strip in a browser.
    let browser = Browser::launch(1200, 800)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page = browser.page(1200, 800).await.unwrap();
    page.navigate(&format!("{base}/")).await.unwrap();
    page.wait_for(
        "document.querySelectorAll('#jobs .job').length === 7",
        Duration::from_secs(15),
        "the status strip",
    )
    .await
    .unwrap();
    let strip = page.eval(STRIP_JS).await.unwrap();
    for job in strip.as_array().unwrap() {
        let (kind, class, text) = (
            job[0].as_str().unwrap(),
            job[1].as_str().unwrap(),
            job[2].as_str().unwrap(),
        );
        assert!(
            !class.contains("warn") && !class.contains("bad"),
            "{kind} is shown as {class:?} on a healthy fresh start: {text}"
        );
        if kind == "refresh-markets" {
            assert!(!text.contains("never"), "{text}");
        }
    }
    drop(page);
    drop(browser);
    let _ = stop.send(());
    let _ = server.await;
    worker.stop().await;
    env.cleanup().await;
}
