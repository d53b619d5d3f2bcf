//! The simulated Frankfurter is a daily reference rate, not a live one: it answers the date of
//! the last ECB publication, and a premium's FX time, age and freshness follow that date. A
//! publication already past its limit passes the FX chain on to the next source, and never
//! replaces the newer rate the source answered before.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use domain::FxSource;
use serde_json::{Value, json};

use crate::{
    alerts::{Api, alert_settings, sim_cfg},
    support::{TestEnv, eventually},
};

/// The BTC upbit-binance row of `GET /api/v1/premiums`.
async fn btc(api: &Api) -> Option<Value> {
    let (status, text) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/premiums?coin=BTC&pair=upbit-binance",
            None,
        )
        .await;
    let v: Value = serde_json::from_str(&text).ok()?;
    (status == 200).then(|| v["premiums"].as_array()?.first().cloned())?
}

/// Triggers a `fetch-fx` and answers its job record once it has run.
async fn fetch_fx(api: &Api) -> Value {
    let (status, text) = api
        .call(reqwest::Method::POST, "/api/v1/jobs/fetch-fx/trigger", None)
        .await;
    assert!(status < 300, "{status} {text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually(Duration::from_secs(30), "fetch-fx has run", || async {
        let (_, text) = api
            .call(reqwest::Method::GET, &format!("/api/v1/jobs/{id}"), None)
            .await;
        let v: Value = serde_json::from_str(&text).ok()?;
        let state = v["state"].as_str()?.to_ascii_lowercase();
        matches!(state.as_str(), "done" | "failed" | "dead").then_some(v)
    })
    .await
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .to_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_premium_takes_the_ecb_rate_at_its_publication_date_and_refuses_a_week_old_one() {
    let env = TestEnv::new(sim_cfg(), |s| {
        alert_settings(s);
        s.fx_sources = vec![FxSource::Frankfurter];
    })
    .await;
    // A week-old publication from the start: past the calendar limit, no premium is served on
    // it, and the reason says the rate is not fresh.
    let old = Utc::now().date_naive() - chrono::Days::new(8);
    env.sim_post("/_sim/config", json!({"frankfurter_date": old.to_string()}))
        .await;
    let api = Api::start(&env).await;
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    let row = eventually(
        Duration::from_secs(30),
        "BTC refused on an old ECB rate",
        || async {
            let row = btc(&api).await?;
            (row["available"] == false && row["skip"]["input"] == "usd/krw").then_some(row)
        },
    )
    .await;
    let why = row["skip"]["reason"].as_str().unwrap();
    assert!(
        why.starts_with("no fresh rate:") && why.contains("frankfurter stale"),
        "{row}"
    );

    // Back to the calendar: the date answered is an ECB working day, never after now.
    env.sim_post("/_sim/config", json!({"frankfurter_date": "calendar"}))
        .await;
    let latest = env.sim_get("/frankfurter/v1/latest?symbols=KRW").await;
    let date: NaiveDate = latest["date"].as_str().unwrap().parse().unwrap();
    assert!(domain::fx::ecb_working_day(date), "{latest}");
    let published = date.and_hms_opt(15, 0, 0).unwrap().and_utc();
    assert!(published <= Utc::now(), "{latest}");
    let (status, text) = api
        .call(reqwest::Method::POST, "/api/v1/jobs/fetch-fx/trigger", None)
        .await;
    assert!(status < 300, "{status} {text}");

    // The premium is served on it, dated and aged by that publication.
    let row = eventually(Duration::from_secs(30), "BTC on the ECB rate", || async {
        btc(&api).await.filter(|r| {
            r["available"] == true
                && r["inputs"]["fx_source"] == "frankfurter"
                && r["inputs"]["fx_observed_at"].is_string()
        })
    })
    .await;
    assert_eq!(time(&row["inputs"]["fx_observed_at"]), published, "{row}");
    let age = row["inputs"]["fx_age_ms"].as_i64().unwrap();
    assert!(
        age >= (Utc::now() - published).num_milliseconds() - 60_000,
        "{row}"
    );
    assert_eq!(row["stale"], false, "{row}");

    // The source goes back to the old date: the job says its answer is stale and fails (no
    // other source), and the newer publication it answered before stays in force.
    env.sim_post("/_sim/config", json!({"frankfurter_date": old.to_string()}))
        .await;
    let job = fetch_fx(&api).await;
    let error = job["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("frankfurter: stale rate of {old}T15:00:00Z is ")),
        "{job}"
    );
    assert_eq!(
        env.cache()
            .fx(FxSource::Frankfurter)
            .await
            .unwrap()
            .map(|r| r.observed_at),
        Some(published)
    );
    let row = btc(&api).await.unwrap();
    assert_eq!(row["available"], true, "{row}");
    assert_eq!(time(&row["inputs"]["fx_observed_at"]), published, "{row}");
    assert_eq!(row["stale"], false, "{row}");

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_ecb_answer_passes_the_fx_chain_on_to_the_next_source() {
    let env = TestEnv::new(sim_cfg(), |s| {
        alert_settings(s);
        s.fx_sources = vec![FxSource::Frankfurter, FxSource::Erapi];
    })
    .await;
    // The first source answers a week-old publication, past its calendar limit.
    let old = Utc::now().date_naive() - chrono::Days::new(8);
    env.sim_post("/_sim/config", json!({"frankfurter_date": old.to_string()}))
        .await;
    let api = Api::start(&env).await;
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;

    // The job goes on to open.er-api and says why it passed Frankfurter over.
    let job = fetch_fx(&api).await;
    let summary = job["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("erapi usd/krw "), "{job}");
    assert!(
        summary.contains(&format!(
            "(after frankfurter: stale rate of {old}T15:00:00Z is 8d "
        )),
        "{job}"
    );

    // The premium is priced on open.er-api's rate, fresh, and says so.
    let row = eventually(Duration::from_secs(30), "BTC on the erapi rate", || async {
        btc(&api)
            .await
            .filter(|r| r["available"] == true && r["inputs"]["fx_source"] == "erapi")
    })
    .await;
    assert_eq!(row["stale"], false, "{row}");
    assert_eq!(row["inputs"]["fx_limit_ms"], 26 * 3_600_000, "{row}");
    let at = time(&row["inputs"]["fx_observed_at"]);
    assert!(
        at > old.and_hms_opt(15, 0, 0).unwrap().and_utc() + chrono::Days::new(7),
        "{row}"
    );

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}
