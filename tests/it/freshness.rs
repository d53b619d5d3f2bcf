//! Stale never served as live: a venue frozen on its last snapshot (timestamps included) goes
//! stale with a reason and fires no alert, while a venue whose clock is merely skewed stays fresh.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    alerts::{Api, Receiver, alert_settings, set_premium, sim_cfg, whsec},
    support::{TestEnv, eventually},
};

/// The row of `coin` on `korea`-binance in `GET /api/v1/premiums`, or (`Err`) the whole answer
/// when it has no such row.
pub(crate) async fn premium_row(
    env: &TestEnv,
    api: &Api,
    coin: &str,
    korea: &str,
) -> Result<Value, Value> {
    let body: Value = env
        .http
        .get(format!("{}/api/v1/premiums", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["premiums"]
        .as_array()
        .and_then(|rows| {
            rows.iter().find(|r| {
                r["coin"] == coin && r["korea_venue"] == korea && r["foreign_venue"] == "binance"
            })
        })
        .cloned()
        .ok_or(body)
}

/// The row of `coin` on `korea`-binance in `GET /api/v1/premiums`.
async fn row(env: &TestEnv, api: &Api, coin: &str, korea: &str) -> Value {
    premium_row(env, api, coin, korea)
        .await
        .unwrap_or_else(|body| panic!("no {coin} {korea}-binance row in {body}"))
}

/// Stale, with a skip reason naming the frozen venue's ticker and its age over the limit.
fn stale_naming(row: &Value, venue: &str, limit_ms: i64) -> bool {
    row["stale"] == true
        && row["skip"]["input"]
            .as_str()
            .is_some_and(|i| i.starts_with(&format!("{venue} ")) && i.ends_with(" ticker"))
        && row["skip"]["reason"] == "stale"
        && row["skip"]["age_ms"].as_i64().is_some_and(|a| a > limit_ms)
}

/// Not stale, and its prices (the answer's `age_ms` counts the FX rate too, minutes old by
/// design) within the ticker limit by their own observation times.
fn fresh(row: &Value, limit_ms: i64) -> bool {
    let observed = |k: &str| {
        row["inputs"][k]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let prices_age_ms = observed("korea_observed_at")
        .zip(observed("foreign_observed_at"))
        .map(|(k, f)| (chrono::Utc::now() - k.min(f).to_utc()).num_milliseconds());
    row["stale"] == false && prices_age_ms.is_some_and(|a| a <= limit_ms)
}

async fn firings(api: &Api, rule: i64) -> usize {
    api.rule(rule)
        .await
        .and_then(|v| v["firings"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Upbit frozen (its snapshot and timestamps repeated) while Bithumb's clock runs 9 h ahead,
/// with two worker replicas: Upbit's premiums are stale with a reason naming it within the
/// freshness limit + one tick (+ one tick for the API's table) of the snapshot's own time and
/// stay so while frozen; a rule that would fire on them does not (while the same rule on the
/// skewed but live Bithumb does); after the thaw they are fresh and the rule fires. Bithumb's
/// skew is measured and corrected throughout, and Upbit's frozen lag is never reported as skew.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_venue_goes_stale_with_a_reason_and_fires_nothing_while_a_skewed_one_stays_fresh()
{
    let _heavy = crate::support::HEAVY.lock().await;
    let env = TestEnv::new(sim_cfg(), alert_settings).await;
    let limit = env.settings.freshness.ticker_ms as i64;
    let api = Api::start(&env).await;
    let receiver = Receiver::start().await;
    let workers = [env.spawn_worker().await, env.spawn_worker().await];
    env.wait_for_workers(2).await;
    set_premium(&env, "1.5").await;
    let nine_hours = 9 * 3_600_000_i64;
    env.sim_post("/_sim/config", json!({"bithumb_clock_skew_ms": nine_hours}))
        .await;
    let markets = cache::Markets::new(env.conn.clone(), env.keys());
    let skew = |venue: &'static str| {
        let markets = &markets;
        async move { markets.clock_skews().await.unwrap().get(venue).copied() }
    };
    eventually(
        Duration::from_secs(30),
        "both Korean venues fresh",
        || async {
            let (u, b) = (
                row(&env, &api, "BTC", "upbit").await,
                row(&env, &api, "BTC", "bithumb").await,
            );
            let skewed = skew("bithumb")
                .await
                .is_some_and(|s| (s - nine_hours).abs() < 10_000);
            (fresh(&u, limit) && fresh(&b, limit) && skewed).then_some(())
        },
    )
    .await;

    env.sim_post("/_sim/faults", json!({"venue": "upbit", "freeze": true}))
        .await;
    // The snapshot the venue now repeats, as the simulator serves it to the client.
    let snapshot = env
        .sim_get("/upbit/v1/ticker/all?quote_currencies=KRW")
        .await;
    let frozen_ms = snapshot
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["market"] == "KRW-BTC")
        .and_then(|t| t["timestamp"].as_i64())
        .expect("KRW-BTC in the frozen snapshot");
    eventually(
        Duration::from_secs(30),
        "upbit's BTC premium stale with a reason",
        || async {
            stale_naming(&row(&env, &api, "BTC", "upbit").await, "upbit", limit).then_some(())
        },
    )
    .await;
    let stale_at = chrono::Utc::now().timestamp_millis();
    assert!(
        stale_at <= frozen_ms + limit + 2_000,
        "stale {} ms after the snapshot's time (limit {limit} ms)",
        stale_at - frozen_ms
    );

    // Rules that would fire on the premiums as they were frozen (1.5 % > 1 %).
    let (secret, _) = whsec();
    let rule = |korea: &str| {
        json!({
            "coin": "BTC", "pair": format!("{korea}-binance"), "metric": "rate", "op": "above",
            "threshold": "1.0", "cooldown": 1,
            "target": {"webhook": {"url": receiver.url, "secret": secret}}
        })
    };
    let on_upbit = api.create(rule("upbit")).await;
    let on_bithumb = api.create(rule("bithumb")).await;
    let held = Instant::now();
    let mut control_fired = false;
    while held.elapsed() < Duration::from_secs(8) || !control_fired {
        assert!(
            held.elapsed() < Duration::from_secs(30),
            "the bithumb rule never fired"
        );
        let (u, b) = (
            row(&env, &api, "BTC", "upbit").await,
            row(&env, &api, "BTC", "bithumb").await,
        );
        assert!(
            stale_naming(&u, "upbit", limit),
            "frozen upbit served as: {u}"
        );
        assert!(fresh(&b, limit), "skewed bithumb served as: {b}");
        let upbit_skew = skew("upbit").await.unwrap_or(0);
        assert!(
            upbit_skew.abs() <= venues::MAX_CLOCK_SKEW_MS,
            "upbit's frozen lag reported as a clock skew of {upbit_skew} ms"
        );
        assert_eq!(
            firings(&api, on_upbit).await,
            0,
            "an alert fired on frozen prices"
        );
        control_fired = firings(&api, on_bithumb).await > 0;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let cleared = env
        .http
        .delete(format!("{}/_sim/faults?venue=upbit", env.sim.base_url))
        .send()
        .await
        .unwrap();
    assert!(cleared.status().is_success());
    eventually(
        Duration::from_secs(20),
        "upbit fresh again and its rule fired",
        || async {
            let u = row(&env, &api, "BTC", "upbit").await;
            (fresh(&u, limit) && firings(&api, on_upbit).await > 0).then_some(())
        },
    )
    .await;
    let b = row(&env, &api, "BTC", "bithumb").await;
    assert!(fresh(&b, limit), "skewed bithumb served as: {b}");

    for w in workers {
        w.stop().await;
    }
    drop(api);
    env.cleanup().await;
}
