//! The sanity gate end to end against the simulator: a real extreme premium is served flagged
//! `suspect` with its reason (found by `?flag=suspect`) and fires the alert rules that allow
//! suspect premiums only; a price pinned a thousand times off is still refused as a unit error;
//! one foreign venue pinned three times off the two others is refused as an identity error.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    alerts::{Api, alert_settings, sim_cfg},
    support::{TestEnv, eventually},
};

/// The USD/KRW, XRP and SOL prices the test pins (the simulator's own bases: 2.2 and 140 USD).
const FX: &str = "1400";
const XRP_USD: &str = "2.2";
/// 2.2 × 1400 × 1.4: a +40 % premium.
const XRP_KRW: &str = "4312";
const SOL_USD: &str = "140";
/// 140 × 1400 × 1000: a Korean price read as if per 1,000 coins.
const SOL_KRW: &str = "196000000";

async fn row(api: &Api, query: &str) -> Option<Vec<Value>> {
    let (status, text) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/premiums?{query}"),
            None,
        )
        .await;
    let v: Value = serde_json::from_str(&text).ok()?;
    (status == 200).then(|| v["premiums"].as_array().cloned())?
}

async fn telegram_to(env: &TestEnv, chat: &str) -> Vec<String> {
    let m = env.sim_get("/_sim/telegram/messages").await;
    m["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["chat_id"] == chat)
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_40_pct_premium_is_served_as_suspect_and_fires_only_rules_allowing_it_while_a_x1000_price_is_refused()
 {
    let env = TestEnv::new(sim_cfg(), alert_settings).await;
    let api = Api::start(&env).await;
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    eventually(Duration::from_secs(30), "a first XRP premium", || async {
        let rows = row(&api, "coin=XRP&pair=upbit-binance").await?;
        (rows.first()?["available"] == true).then_some(())
    })
    .await;
    let rule = |chat: &str, allow: Option<bool>| {
        let mut body = json!({
            "coin": "XRP", "pair": "upbit-binance", "metric": "rate", "op": "above",
            "threshold": "30", "cooldown": 0, "target": {"telegram": {"chat_id": chat}}
        });
        if let Some(a) = allow {
            body["allow_suspect"] = json!(a);
        }
        body
    };
    let allows = api.create(rule("-100111", None)).await;
    let refuses = api.create(rule("-100222", Some(false))).await;
    for (id, want) in [(allows, true), (refuses, false)] {
        let (_, text) = api
            .call(reqwest::Method::GET, &format!("/api/v1/alerts/{id}"), None)
            .await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["allow_suspect"], want, "{v}");
    }

    // The FX pin reaches the cache with a fetch-fx (its cron runs every 10 minutes).
    env.sim_post("/_sim/prices", json!({"fx": "dunamu", "price": FX}))
        .await;
    let (status, text) = api
        .call(reqwest::Method::POST, "/api/v1/jobs/fetch-fx/trigger", None)
        .await;
    assert!(status < 300, "{status} {text}");
    for pin in [
        json!({"venue": "binance", "coin": "XRP", "price": XRP_USD}),
        json!({"venue": "upbit", "coin": "XRP", "price": XRP_KRW}),
        json!({"venue": "binance", "coin": "SOL", "price": SOL_USD}),
        json!({"venue": "upbit", "coin": "SOL", "price": SOL_KRW}),
    ] {
        env.sim_post("/_sim/prices", pin).await;
    }

    // Served, flagged, with the reason, and found by the flag filter.
    let xrp = eventually(Duration::from_secs(30), "XRP served as suspect", || async {
        let rows = row(&api, "flag=suspect&pair=upbit-binance").await?;
        rows.into_iter().find(|p| {
            p["coin"] == "XRP"
                && p["inputs"]["korea_krw"] == XRP_KRW
                && p["inputs"]["foreign_usd"] == XRP_USD
                && p["inputs"]["usd_krw"] == FX
        })
    })
    .await;
    assert_eq!(xrp["available"], true, "{xrp}");
    assert_eq!(xrp["rate_display"], "40.00", "{xrp}");
    assert!(
        xrp["flags"].as_array().unwrap().contains(&json!("suspect")),
        "{xrp}"
    );
    let why = xrp["suspect_reason"].as_str().unwrap();
    assert!(
        why.starts_with("premium 40.00 % is ") && why.contains("from the upbit-binance median"),
        "{why}"
    );
    // The other coins of the pair are not suspect.
    let suspects = row(&api, "flag=suspect&pair=upbit-binance").await.unwrap();
    assert!(suspects.iter().all(|p| p["coin"] == "XRP"), "{suspects:?}");

    // The rule that allows suspect premiums fires, with the flag in its message.
    let sent = eventually(
        Duration::from_secs(30),
        "the allowing rule's message",
        || async {
            let m = telegram_to(&env, "-100111").await;
            (!m.is_empty()).then_some(m)
        },
    )
    .await;
    assert!(
        sent[0].starts_with("XRP rate above 30 %: now 40.00 %"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("⚠ suspect: premium 40.00 % is "),
        "{}",
        sent[0]
    );

    // The ×1000 price is refused, with its reason, and never flagged as a premium.
    let sol = eventually(
        Duration::from_secs(30),
        "SOL refused as a unit error",
        || async {
            let rows = row(&api, "coin=SOL&pair=upbit-binance").await?;
            let p = rows.into_iter().next()?;
            // Until its cache entry expires, the last premium before the pin is still shown,
            // stale, with this skip reason; refused means it is no longer available.
            (p["available"] == false
                && p["skip"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("unit error:")))
            .then_some(p)
        },
    )
    .await;
    assert_eq!(sol["available"], false, "{sol}");
    assert!(
        sol["skip"]["reason"]
            .as_str()
            .unwrap()
            .contains("one price ×1000"),
        "{sol}"
    );
    assert!(sol.get("rate").is_none(), "{sol}");

    // Several more ticks on the suspect premium: the refusing rule stays silent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(telegram_to(&env, "-100222").await.is_empty());
    let (_, text) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/alerts/{refuses}"),
            None,
        )
        .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["firings"], json!([]), "{v}");

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}

/// ETH's price the test pins on Binance and OKX (the simulator's own base), and three times it on
/// Bybit: not a power of ten, so only the cross-venue check can tell it is another coin.
const ETH_USD: &str = "3000";
const ETH_ODD_USD: &str = "9000";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_venue_three_times_off_the_two_others_is_refused_as_an_identity_error_and_they_still_serve()
 {
    let env = TestEnv::new(sim_cfg(), |_| {}).await;
    let api = Api::start(&env).await;
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    for (venue, price) in [
        ("binance", ETH_USD),
        ("okx", ETH_USD),
        ("bybit", ETH_ODD_USD),
    ] {
        env.sim_post(
            "/_sim/prices",
            json!({"venue": venue, "coin": "ETH", "price": price}),
        )
        .await;
    }

    // The odd venue's pair is refused, with a reason naming the coin, it and the agreeing ones.
    let refused = eventually(
        Duration::from_secs(30),
        "upbit-bybit ETH refused as an identity error",
        || async {
            let p = row(&api, "coin=ETH&pair=upbit-bybit")
                .await?
                .into_iter()
                .next()?;
            (p["available"] == false
                && p["skip"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("identity error:")))
            .then_some(p)
        },
    )
    .await;
    let why = refused["skip"]["reason"].as_str().unwrap();
    assert!(
        why.starts_with("identity error: bybit ETH at 9000 USDT is 200.00 % from the 3000 USDT that binance, okx agree on"),
        "{why}"
    );
    assert!(refused.get("rate").is_none(), "{refused}");

    // The agreeing venues' pairs still serve ETH, on the pinned price.
    for pair in ["upbit-binance", "bithumb-binance", "upbit-okx"] {
        let p = eventually(Duration::from_secs(30), pair, || async {
            let p = row(&api, &format!("coin=ETH&pair={pair}"))
                .await?
                .into_iter()
                .next()?;
            (p["available"] == true && p["inputs"]["foreign_usd"] == ETH_USD).then_some(p)
        })
        .await;
        assert!(p.get("skip").is_none_or(|s| s.is_null()), "{pair}: {p}");
    }
    // A tick later the odd pair is still refused: it is not a passing state.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = row(&api, "coin=ETH&pair=upbit-bybit").await.unwrap();
    assert_eq!(p[0]["available"], false, "{}", p[0]);

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}
