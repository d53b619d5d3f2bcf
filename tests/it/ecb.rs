//! The simulated Frankfurter is a daily reference rate, not a live one: it answers the date of
//! the last ECB publication, and a premium's FX time, age and freshness follow that date.

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
        why.starts_with("no fresh rate:") && why.contains("frankfurter"),
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

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}
