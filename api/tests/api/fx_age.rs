//! A premium is as old as its oldest input, FX and USDT/KRW included, and stale when any input
//! is past its own limit (issue 21, item 3).

use chrono::{DateTime, SubsecRound, Utc};
use domain::{FxSource, Premium, Venue};
use serde_json::Value;

use crate::support::*;

const MIN: i64 = 60_000;

/// Live prices (100 ms old) with the FX rate and the USDT/KRW observed `fx_age_ms` and
/// `usdt_age_ms` ago.
fn with_inputs(source: FxSource, fx_age_ms: i64, usdt_age_ms: i64) -> Premium {
    let mut p = premium(
        "BTC",
        pair(Venue::Upbit, Venue::Binance),
        "129555000",
        "89277.1",
        "1432.6",
        Some("1450"),
        100,
    );
    p.inputs.fx_source = source;
    // Whole milliseconds, as times cross the API.
    p.inputs.fx_observed_at = ago(fx_age_ms).trunc_subsecs(3);
    p.inputs.usdt_observed_at = Some(ago(usdt_age_ms).trunc_subsecs(3));
    p
}

/// The BTC premium as the one-coin route and the table answer it.
async fn both_answers(app: &TestApp) -> [Value; 2] {
    let one = app.get_ok("/api/v1/premiums/BTC").await;
    let list = app
        .get_ok("/api/v1/premiums?coin=BTC&pair=upbit-binance")
        .await;
    let row = list["premiums"][0].clone();
    assert_eq!(row["coin"], "BTC", "{list}");
    [one, row]
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_premium_on_a_live_rate_past_its_limit_is_stale_and_names_its_fx_source_and_age() {
    let app = spawn_app().await;
    // Dunamu's limit is 15 minutes; the rate is 20 minutes old, the prices live.
    let p = with_inputs(FxSource::Dunamu, 20 * MIN, 100);
    app.put_premiums(std::slice::from_ref(&p)).await;
    for body in both_answers(&app).await {
        assert_eq!(body["available"], true, "{body}");
        assert_eq!(body["stale"], true, "{body}");
        assert_eq!(
            body["stale_inputs"],
            serde_json::json!(["usd/krw (dunamu)"])
        );
        let inputs = &body["inputs"];
        assert_eq!(inputs["fx_source"], "dunamu");
        assert_eq!(time(&inputs["fx_observed_at"]), p.inputs.fx_observed_at);
        let fx_age = inputs["fx_age_ms"].as_i64().unwrap();
        assert!((20 * MIN..21 * MIN).contains(&fx_age), "{body}");
        assert_eq!(inputs["fx_limit_ms"], 15 * MIN);
        // The premium is as old as its FX rate, and says so.
        assert_eq!(time(&body["observed_at"]), p.inputs.fx_observed_at);
        assert!(body["age_ms"].as_i64().unwrap() >= fx_age, "{body}");
        assert_eq!(body["oldest_input"], "usd/krw (dunamu)");
    }
}

#[tokio::test]
async fn a_daily_rate_within_its_limit_leaves_the_premium_fresh_but_hours_old() {
    let app = spawn_app().await;
    // open.er-api updates daily: 20 hours is within its 26-hour limit.
    let p = with_inputs(FxSource::Erapi, 20 * 60 * MIN, 100);
    app.put_premiums(std::slice::from_ref(&p)).await;
    for body in both_answers(&app).await {
        assert_eq!(body["stale"], false, "{body}");
        assert_eq!(body["stale_inputs"], serde_json::json!([]));
        assert_eq!(body["inputs"]["fx_source"], "erapi");
        assert_eq!(body["inputs"]["fx_limit_ms"], 26 * 60 * MIN);
        let age = body["age_ms"].as_i64().unwrap();
        assert!(
            (20 * 60 * MIN..20 * 60 * MIN + MIN).contains(&age),
            "{body}"
        );
        assert_eq!(body["oldest_input"], "usd/krw (erapi)");
    }
}

#[tokio::test]
async fn a_stale_usdt_rate_makes_the_tether_premium_stale_and_is_named() {
    let app = spawn_app().await;
    let p = with_inputs(FxSource::Dunamu, MIN, 8_000);
    app.put_premiums(std::slice::from_ref(&p)).await;
    for body in both_answers(&app).await {
        assert_eq!(body["stale"], true, "{body}");
        assert_eq!(
            body["stale_inputs"],
            serde_json::json!(["upbit USDT ticker"])
        );
        let inputs = &body["inputs"];
        assert_eq!(
            time(&inputs["usdt_observed_at"]),
            p.inputs.usdt_observed_at.unwrap()
        );
        assert!(inputs["usdt_age_ms"].as_i64().unwrap() >= 8_000, "{body}");
        // The FX rate, a minute old, is still the oldest input.
        assert_eq!(body["oldest_input"], "usd/krw (dunamu)");
    }
}
