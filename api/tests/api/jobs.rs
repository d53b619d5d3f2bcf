use chrono::Utc;
use domain::{ErrorClass, FailureClass, JobKind, JobState};
use queue::{
    Job,
    records::{Records, Update},
};
use redis::AsyncCommands;
use reqwest::Method;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn trigger_without_token_or_with_a_wrong_one_is_rejected() {
    let app = spawn_app().await;
    let path = "/api/v1/jobs/fetch-fx/trigger";
    let msg = assert_error(
        &app.call(Method::POST, path, None, None).await,
        401,
        "unauthorized",
    );
    assert!(msg.contains("Bearer"), "{msg}");
    let answer = app
        .call(Method::POST, path, Some("wrong-token"), None)
        .await;
    let msg = assert_error(&answer, 401, "unauthorized");
    assert!(
        !msg.contains("wrong-token") && !msg.contains(TOKEN),
        "the token is never echoed"
    );
    // Nothing was queued.
    let page = app.get_ok("/api/v1/jobs").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn admin_operations_say_when_no_token_is_configured() {
    let app = spawn_app_with(|s| s.admin_token = None).await;
    for token in [None, Some(TOKEN)] {
        let answer = app
            .call(Method::POST, "/api/v1/jobs/fetch-fx/trigger", token, None)
            .await;
        let msg = assert_error(&answer, 401, "unauthorized");
        assert!(msg.contains("ADMIN_TOKEN is not set"), "{msg}");
    }
}

#[tokio::test]
async fn two_quick_triggers_queue_one_job() {
    let app = spawn_app().await;
    let (status, first) = app.admin_post("/api/v1/jobs/fetch-fx/trigger", None).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["conflict"], false);
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("fetch-fx:manual:"), "{id}");

    let (status, second) = app.admin_post("/api/v1/jobs/fetch-fx/trigger", None).await;
    assert_eq!(status, 202);
    assert_eq!(second["id"], id);
    assert_eq!(second["conflict"], true);

    let job = app.get_ok(&format!("/api/v1/jobs/{id}")).await;
    assert_eq!(job["state"], "queued");
    assert_eq!(job["kind"], "fetch-fx");
    assert_eq!(job["manual"], true);
    assert_eq!(job["attempts"], 1);
    assert!(job["max_attempts"].as_u64().unwrap() >= 1);
    assert!(job["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(job["finished_at"].is_null());
}

#[tokio::test]
async fn triggers_check_the_kind_and_the_venue() {
    let app = spawn_app().await;
    let msg = assert_error(
        &app.admin_post("/api/v1/jobs/fetch-everything/trigger", None)
            .await,
        404,
        "unknown_job_kind",
    );
    assert!(msg.contains("fetch-ticker"), "{msg}");
    let msg = assert_error(
        &app.admin_post("/api/v1/jobs/fetch-ticker/trigger", None)
            .await,
        400,
        "bad_request",
    );
    assert!(msg.contains("venue"), "{msg}");
    assert_error(
        &app.admin_post("/api/v1/jobs/fetch-ticker/trigger?venue=kraken", None)
            .await,
        404,
        "unknown_venue",
    );
    assert_error(
        &app.admin_post("/api/v1/jobs/fetch-fx/trigger?venue=upbit", None)
            .await,
        400,
        "bad_request",
    );
    let (status, body) = app
        .admin_post("/api/v1/jobs/fetch-ticker/trigger?venue=upbit", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let job = app
        .get_ok(&format!("/api/v1/jobs/{}", body["id"].as_str().unwrap()))
        .await;
    assert_eq!(job["venue"], "upbit");
}

#[tokio::test]
async fn jobs_are_listed_by_page_with_a_cursor_and_filters() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for path in [
        "fetch-fx/trigger",
        "compute-premium/trigger",
        "fetch-ticker/trigger?venue=upbit",
        "fetch-ticker/trigger?venue=binance",
        "fetch-ticker/trigger?venue=bybit",
    ] {
        let (status, body) = app.admin_post(&format!("/api/v1/jobs/{path}"), None).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
        // Distinct creation times keep the order of the listing deterministic.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/jobs?limit=2&cursor={c}"),
            None => "/api/v1/jobs?limit=2".to_string(),
        };
        let page = app.get_ok(&q).await;
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10);
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, every job once");
    assert_eq!(pages, 3);

    let page = app.get_ok("/api/v1/jobs?kind=fetch-ticker").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert!(page["next_cursor"].is_null());
    let page = app.get_ok("/api/v1/jobs?kind=fetch-fx&state=queued").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let page = app.get_ok("/api/v1/jobs?state=done").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);

    for bad in [
        "kind=fetch-everything",
        "state=sleeping",
        "limit=0",
        "limit=201",
        "limit=many",
        "cursor=garbage",
    ] {
        assert_error(
            &app.get(&format!("/api/v1/jobs?{bad}")).await,
            400,
            "bad_request",
        );
    }
}

#[tokio::test]
async fn unknown_jobs_are_not_found() {
    let app = spawn_app().await;
    assert_error(
        &app.get("/api/v1/jobs/fetch-fx:123").await,
        404,
        "job_not_found",
    );
    assert_error(
        &app.admin_post("/api/v1/jobs/fetch-fx:123/retry", None)
            .await,
        404,
        "job_not_found",
    );
}

#[tokio::test]
async fn only_failed_or_dead_jobs_can_be_retried() {
    let app = spawn_app().await;
    let (_, body) = app.admin_post("/api/v1/jobs/fetch-fx/trigger", None).await;
    let id = body["id"].as_str().unwrap().to_string();
    assert_error(
        &app.admin_post(&format!("/api/v1/jobs/{id}/retry"), None)
            .await,
        409,
        "job_not_retryable",
    );
    assert_error(
        &app.call(
            Method::POST,
            &format!("/api/v1/jobs/{id}/retry"),
            None,
            None,
        )
        .await,
        401,
        "unauthorized",
    );

    // A job whose every attempt failed, as the worker records it.
    let records = Records::new(app.conn.clone(), app.keys.clone(), 3_600);
    let job = Job::for_tick(JobKind::FetchFx, None, 1_763_800_200);
    let now = Utc::now().timestamp_millis();
    records.create(&job, 3, now).await.unwrap();
    records
        .transition(
            &job,
            3,
            JobState::Dead,
            now,
            Update {
                attempts: Some(3),
                last_error: Some("every FX source failed"),
                error_class: Some(FailureClass::Fetch(ErrorClass::Server)),
                started_ms: Some(now - 50),
                finished_ms: Some(now),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let dead = app.get_ok(&format!("/api/v1/jobs/{}", job.id)).await;
    assert_eq!(dead["state"], "dead");
    assert_eq!(dead["last_error"], "every FX source failed");
    assert_eq!(dead["error_class"], "server");
    assert_eq!(dead["duration_ms"], 50);

    let (status, retried) = app
        .admin_post(&format!("/api/v1/jobs/{}/retry", job.id), None)
        .await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["id"], Value::String(job.id.clone()));
    assert_eq!(retried["state"], "queued");
    assert_eq!(retried["attempts"], 4);
}

#[tokio::test]
async fn stats_count_states_depth_last_success_missed_ticks_and_workers() {
    let app = spawn_app().await;
    app.admin_post("/api/v1/jobs/fetch-fx/trigger", None).await;
    app.set_last_success("compute-premium", 1_500).await;
    let mut conn = app.conn.clone();
    let _: () = conn
        .hset(app.keys.counters(), "missed_ticks:fetch-ticker", 3)
        .await
        .unwrap();
    let now = Utc::now().timestamp_millis();
    let _: () = conn
        .zadd(app.keys.workers(), "worker-a", now)
        .await
        .unwrap();
    let _: () = conn
        .zadd(app.keys.workers(), "worker-gone", now - 60_000)
        .await
        .unwrap();

    let stats = app.get_ok("/api/v1/jobs/stats").await;
    assert_eq!(stats["workers_alive"], 1);
    let kinds = stats["kinds"].as_array().unwrap();
    assert_eq!(kinds.len(), JobKind::ALL.len());
    let kind = |k: &str| kinds.iter().find(|x| x["kind"] == k).unwrap().clone();
    let fx = kind("fetch-fx");
    assert_eq!(fx["counts"]["queued"], 1);
    assert_eq!(fx["counts"]["done"], 0);
    let depth =
        fx["queue"]["scheduled"].as_u64().unwrap() + fx["queue"]["active"].as_u64().unwrap();
    assert_eq!(depth, 1, "{fx}");
    assert!(fx["last_success_at"].is_null());
    let cp = kind("compute-premium");
    let age = cp["last_success_age_ms"].as_i64().unwrap();
    assert!((1_500..5_000).contains(&age), "{age}");
    assert_eq!(kind("fetch-ticker")["missed_ticks"], 3);
}

/// Aborts trigger requests at several points of their life; each must leave either nothing or
/// a queued job whose apalis task exists (so a worker will run it), and the next trigger
/// answers with a job that will run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_request_cut_short_leaves_nothing_or_a_job_that_will_run() {
    let app = spawn_app().await;
    let data = queue::queue_config(&app.settings, JobKind::FetchFx).job_data_hash();
    let records = Records::new(app.conn.clone(), app.keys.clone(), 3600);
    let mut known: Vec<String> = Vec::new();
    for delay_us in [0u64, 200, 500, 1_000, 2_000, 5_000] {
        let (http, url) = (app.http.clone(), app.url("/api/v1/jobs/fetch-fx/trigger"));
        let request = tokio::spawn(async move { http.post(url).bearer_auth(TOKEN).send().await });
        tokio::time::sleep(std::time::Duration::from_micros(delay_us)).await;
        request.abort();
        let _ = request.await;
        // Give a handler that was running time to finish its steps.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let page = records
            .list(Some(JobKind::FetchFx), None, 100, None)
            .await
            .unwrap();
        let new: Vec<_> = page
            .items
            .into_iter()
            .filter(|r| !known.contains(&r.id))
            .collect();
        assert!(new.len() <= 1, "{new:?}");
        for rec in &new {
            known.push(rec.id.clone());
            assert_eq!(rec.state, JobState::Queued, "{rec:?}");
            let exists: bool = app.conn.clone().hexists(&data, &rec.id).await.unwrap();
            assert!(
                exists,
                "queued job {} has no task (cut at {delay_us} µs)",
                rec.id
            );
        }
        let (status, body) = app.admin_post("/api/v1/jobs/fetch-fx/trigger", None).await;
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_str().unwrap().to_string();
        let exists: bool = app.conn.clone().hexists(&data, &id).await.unwrap();
        assert!(exists, "the next trigger's job {id} has a task");
        known.push(id);
        // Clear the way for the next round (no worker runs here).
        let _: () = app
            .conn
            .clone()
            .del(app.keys.trigger(JobKind::FetchFx))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn stats_judge_each_kind_late_against_its_own_schedule_not_against_never() {
    let app = spawn_app().await;
    let mut conn = app.conn.clone();
    let since = |age_ms: i64| Utc::now().timestamp_millis() - age_ms;
    // A fresh start 30 s ago: the per-second kinds and the registry loaded at start succeeded,
    // the hourly and on-demand kinds have not run yet.
    let _: () = conn
        .hset(app.keys.counters(), "schedules_since_ms", since(30_000))
        .await
        .unwrap();
    for kind in ["fetch-ticker", "compute-premium"] {
        app.set_last_success(kind, 1_000).await;
    }
    app.set_last_success("refresh-markets", 25_000).await;
    let stats = app.get_ok("/api/v1/jobs/stats").await;
    let kind = |stats: &Value, k: &str| {
        stats["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["kind"] == k)
            .unwrap()
            .clone()
    };
    for k in JobKind::ALL {
        assert_eq!(
            kind(&stats, k.as_str())["late"],
            false,
            "{k} on a fresh start"
        );
    }
    assert_eq!(kind(&stats, "fetch-ticker")["every_ms"], 1_000);
    assert_eq!(kind(&stats, "maintain-history")["every_ms"], 3_600_000);
    assert_eq!(kind(&stats, "refresh-markets")["every_ms"], 3_600_000);
    assert!(kind(&stats, "deliver-alert")["every_ms"].is_null());

    // Hours later: a per-second kind silent for 30 s and an hourly kind that never ran are late;
    // the on-demand kind is not.
    let _: () = conn
        .hset(
            app.keys.counters(),
            "schedules_since_ms",
            since(3 * 3_600_000),
        )
        .await
        .unwrap();
    app.set_last_success("fetch-ticker", 30_000).await;
    let stats = app.get_ok("/api/v1/jobs/stats").await;
    assert_eq!(kind(&stats, "fetch-ticker")["late"], true);
    assert_eq!(kind(&stats, "compute-premium")["late"], false);
    assert_eq!(kind(&stats, "maintain-history")["late"], true);
    assert_eq!(kind(&stats, "deliver-alert")["late"], false);
}
