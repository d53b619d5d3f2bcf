use domain::FxSource;
use reqwest::Method;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn liveness_answers_ok() {
    let app = spawn_app().await;
    let body = app.get_ok("/health/live").await;
    assert_eq!(body["status"], "ok");
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {body}"))
}

#[tokio::test]
async fn readiness_reflects_last_success_staleness() {
    let app = spawn_app().await;
    let (status, body) = app.get("/health/ready").await;
    assert_eq!(status, 503, "nothing ever ran: {body}");
    assert_eq!(check(&body, "redis")["ok"], true);
    assert_eq!(check(&body, "postgres")["ok"], true);
    assert_eq!(
        check(&body, "job:fetch-ticker")["detail"],
        "never succeeded"
    );

    for kind in ["fetch-ticker", "compute-premium", "fetch-fx"] {
        app.set_last_success(kind, 500).await;
    }
    let (status, body) = app.get("/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);

    app.set_last_success("compute-premium", 10_000).await;
    let (status, body) = app.get("/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(check(&body, "job:compute-premium")["ok"], false);
    assert_eq!(check(&body, "job:fetch-ticker")["ok"], true);

    // fetch-fx 20 minutes ago is over 15 min, unless a rate is still within its source's limit.
    app.set_last_success("compute-premium", 0).await;
    app.set_last_success("fetch-fx", 20 * 60 * 1000).await;
    let (status, _) = app.get("/health/ready").await;
    assert_eq!(status, 503);
    app.put_fx(&fx(FxSource::Erapi, "1433", 3_600_000)).await;
    let (status, body) = app.get("/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        check(&body, "job:fetch-fx")["detail"]
            .as_str()
            .unwrap()
            .contains("erapi")
    );
}

#[tokio::test]
async fn metrics_expose_job_gauges_read_from_redis() {
    let app = spawn_app().await;
    app.admin_post("/api/v1/jobs/fetch-fx/trigger", None).await;
    app.set_last_success("fetch-ticker", 0).await;
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    for line in [
        "# TYPE premium_cluster_queue_depth gauge",
        "premium_cluster_jobs{kind=\"fetch-fx\",state=\"queued\"} 1",
        "premium_cluster_jobs{kind=\"fetch-fx\",state=\"done\"} 0",
        "premium_cluster_missed_ticks_total{kind=\"fetch-ticker\"} 0",
        "premium_cluster_last_success_timestamp_seconds{kind=\"fetch-ticker\"}",
        "premium_cluster_workers_alive 0",
        "premium_cluster_redis_up 1",
        "premium_history_spool_capacity 3600",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
}

#[tokio::test]
async fn swagger_ui_and_the_openapi_document_are_served() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().contains("swagger"));

    let doc = app.get_ok("/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/markets",
        "/api/v1/premiums",
        "/api/v1/premiums/{coin}",
        "/api/v1/premiums/{coin}/history",
        "/api/v1/premiums/stream",
        "/api/v1/tickers",
        "/api/v1/tickers/{venue}/{coin}",
        "/api/v1/fx",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/stats",
        "/api/v1/jobs/{kind}/trigger",
        "/api/v1/jobs/{id}/retry",
        "/api/v1/positions",
        "/api/v1/positions/{id}",
        "/api/v1/positions/{id}/close",
        "/api/v1/alerts",
        "/api/v1/alerts/{id}",
        "/health/live",
        "/health/ready",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the document");
    }
    assert_eq!(paths.len(), 21, "{:?}", paths.keys().collect::<Vec<_>>());
    assert_eq!(
        doc,
        serde_json::from_str::<Value>(&api::openapi_json()).unwrap()
    );
}

#[test]
fn committed_openapi_matches_generated() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    let generated = api::openapi_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: regenerate it with \
         `cargo run -- openapi > openapi/openapi.json` (or `UPDATE_OPENAPI=1 cargo test -p api \
         committed_openapi`) and commit it"
    );
    assert!(!generated.contains("127.0.0.1") && !generated.contains("localhost"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = spawn_app().await;
    assert_error(&app.get("/api/v1/nothing-here").await, 404, "not_found");
    assert_error(
        &app.call(Method::DELETE, "/api/v1/premiums", None, None)
            .await,
        405,
        "method_not_allowed",
    );
    let resp = app
        .http
        .post(app.url("/api/v1/positions"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");
}
