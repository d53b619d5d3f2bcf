//! The API's 404s for coins against the realistic simulator's truth (`/_sim/universe`), under
//! `coins = "auto"`: the reason given per pair is the real one, and a renamed coin's old name
//! points at its new one.

use std::{collections::BTreeSet, time::Duration};

use serde_json::Value;

use crate::support::{TestEnv, eventually};

/// The default pairs, as the truth names them.
const PAIRS: [&str; 4] = [
    "upbit-binance",
    "bithumb-binance",
    "upbit-bybit",
    "upbit-okx",
];

/// The realistic simulator, `coins = "auto"`, one worker without cron sources (it loads the
/// registry at start and nothing else), and the API; returns the API's base URL once the
/// registry is in force.
async fn realistic_api() -> (
    TestEnv,
    String,
    crate::support::InProcessWorker,
    tokio::sync::oneshot::Sender<()>,
) {
    let env = TestEnv::new(
        sim::SimConfig {
            realistic: true,
            ..Default::default()
        },
        |s| {
            s.coins = domain::CoinSelection::Auto;
            s.worker.cron = false;
        },
    )
    .await;
    let worker = env.spawn_worker().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, _server) = env.start_api(listener).await;
    // A venue whose list failed at start (a slow answer) is retried by a refresh job.
    let venues = env.settings.venues.len();
    eventually(Duration::from_secs(60), "every venue's market list", || {
        let (http, url) = (env.http.clone(), format!("{base}/api/v1/markets"));
        async move {
            let body: Value = http.get(url).send().await.ok()?.json().await.ok()?;
            let loaded = body["venues"]
                .as_array()?
                .iter()
                .filter(|v| v["listings"].as_u64() > Some(0) && v["last_failure"].is_null())
                .count();
            (loaded == venues).then_some(())
        }
    })
    .await;
    (env, base, worker, stop)
}

async fn get(env: &TestEnv, url: &str) -> (u16, Value) {
    let r = env.http.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The truth's coins of each default pair.
fn truth_pairs(truth: &Value) -> Vec<(&'static str, BTreeSet<String>)> {
    PAIRS
        .iter()
        .map(|p| {
            let coins = truth["pairs"][p]
                .as_array()
                .unwrap_or_else(|| panic!("truth has no pair {p}"))
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            (*p, coins)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_auto_a_coin_missing_on_a_pair_gets_per_pair_reasons_that_match_the_simulators_truth()
{
    let (env, base, worker, stop) = realistic_api().await;
    let truth = env.sim_get("/_sim/universe").await;
    let pairs = truth_pairs(&truth);
    let all: BTreeSet<&String> = pairs.iter().flat_map(|(_, c)| c).collect();
    // Coins the truth pairs somewhere but not everywhere, and the delisted-abroad WAVES.
    let mut partial: Vec<(String, &str)> = all
        .iter()
        .filter_map(|c| {
            let missing = pairs.iter().find(|(_, coins)| !coins.contains(*c))?;
            Some((c.to_string(), missing.0))
        })
        .take(40)
        .collect();
    assert!(partial.len() >= 10, "the truth has partially paired coins");
    partial.push(("WAVES".into(), "upbit-binance"));

    for (coin, missing) in &partial {
        let (korea, foreign) = missing.split_once('-').unwrap();
        let (status, body) = get(
            &env,
            &format!("{base}/api/v1/premiums/{coin}?korea={korea}&foreign={foreign}"),
        )
        .await;
        assert_eq!(status, 404, "{coin} on {missing}: {body}");
        assert_eq!(body["code"], "unknown_coin", "{body}");
        let msg = body["message"].as_str().unwrap();
        // `coin `X` is not tracked[ on <pair>]: <pair>: <reason>; …`
        let (_, per_pair) = msg
            .split_once(": ")
            .unwrap_or_else(|| panic!("{coin}: {msg}"));
        for (pair, coins) in &pairs {
            let reason = per_pair
                .split("; ")
                .find_map(|part| part.strip_prefix(&format!("{pair}: ")))
                .unwrap_or_else(|| panic!("{coin}: no reason for {pair} in {msg:?}"));
            assert_eq!(
                reason == "tracked",
                coins.contains(coin),
                "{coin} on {pair}: {reason:?} (truth: {}tracked)",
                if coins.contains(coin) { "" } else { "not " }
            );
            assert!(
                !reason.contains("configured coins list"),
                "{coin} on {pair} under coins = auto: {reason:?}"
            );
            if *pair == "upbit-binance" && coin == "WAVES" {
                assert!(
                    reason.contains("binance") && reason.contains("delisted"),
                    "{reason}"
                );
            }
        }
    }
    let _ = stop.send(());
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_coins_old_name_answers_404_naming_the_coin_it_now_is() {
    let (env, base, worker, stop) = realistic_api().await;
    let truth = env.sim_get("/_sim/universe").await;
    let renamed = truth["renamed"].as_object().expect("truth names renames");
    assert!(!renamed.is_empty(), "the truth has a rename");
    for (old, new) in renamed {
        let new = new.as_str().unwrap();
        for path in [
            format!("/api/v1/premiums/{old}"),
            format!("/api/v1/premiums/{old}/history?interval=1m"),
        ] {
            let (status, body) = get(&env, &format!("{base}{path}")).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body["code"], "unknown_coin", "{path}: {body}");
            let msg = body["message"].as_str().unwrap();
            assert!(msg.contains(&format!("`{new}`")), "{path}: {msg}");
            assert!(!msg.contains("closest"), "{path}: {msg}");
        }
        // The new name is tracked: whatever its premium, it is not an unknown coin.
        let (_, body) = get(&env, &format!("{base}/api/v1/premiums/{new}")).await;
        assert_ne!(body["code"], "unknown_coin", "{new}: {body}");
    }
    let _ = stop.send(());
    worker.stop().await;
    env.cleanup().await;
}
