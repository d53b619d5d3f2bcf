//! An illiquid Korean coin (its last trade minutes old, its quote current) against the
//! simulator: its premium is priced from the book mid the simulator serves and says so, with
//! the trade's age, in the API, the history row and the alert evaluation alike; a liquid coin
//! stays on its last trade; without a book the premium is not served as fresh, and the reason
//! names the venue, the coin and the trade's age.

use std::{str::FromStr, time::Duration};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::{
    alerts::{Api, Receiver, alert_settings, set_premium, sim_cfg, whsec},
    freshness::premium_row,
    support::{TestEnv, eventually},
};

/// Five minutes: far past `freshness.ticker_ms`.
const LAG_MS: i64 = 300_000;

fn d(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("{v} is not a decimal")))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// The row of `coin` on `korea`-binance in `GET /api/v1/premiums`, or the answer without it.
async fn premium(env: &TestEnv, api: &Api, coin: &str, korea: &str) -> Value {
    // Before the first registry there is no row: the answer (an error) stands in.
    premium_row(env, api, coin, korea)
        .await
        .unwrap_or_else(|body| body)
}

fn rate(k: Decimal, f: Decimal, fx: Decimal) -> Decimal {
    (k - f * fx) / (f * fx) * Decimal::ONE_HUNDRED
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_illiquid_coin_is_priced_from_its_book_mid_and_refused_without_a_book() {
    let env = TestEnv::new(sim_cfg(), alert_settings).await;
    let limit = env.settings.freshness.ticker_ms as i64;
    let api = Api::start(&env).await;
    let receiver = Receiver::start().await;
    let worker = env.spawn_worker().await;
    set_premium(&env, "1.5").await;

    // Liquid: every premium is on its last trade, which is as recent as the quote.
    let btc = eventually(Duration::from_secs(30), "a fresh XRP premium", || async {
        let x = premium(&env, &api, "XRP", "upbit").await;
        let b = premium(&env, &api, "BTC", "upbit").await;
        (x["stale"] == false && b["stale"] == false).then_some(b)
    })
    .await;
    let x = premium(&env, &api, "XRP", "upbit").await;
    for p in [&btc, &x] {
        let i = &p["inputs"];
        assert_eq!(i["korea_price_source"], "last_trade", "{p}");
        assert!(i["korea_trade_krw"].is_null(), "{p}");
        assert!(
            i["korea_last_trade_age_ms"]
                .as_i64()
                .is_some_and(|a| a <= limit),
            "{p}"
        );
    }

    // XRP turns illiquid on both Korean venues: its last trade on Upbit stays at `traded`,
    // five minutes old, while Upbit's book sits about 6 % higher.
    let ticker = env.sim_get("/upbit/v1/ticker?markets=KRW-XRP").await;
    let traded = Decimal::from_str(&ticker[0]["trade_price"].to_string()).unwrap();
    let bid = (traded * Decimal::new(106, 2)).round();
    let ask = bid + Decimal::from(20);
    let mid = (bid + ask) / Decimal::TWO;
    env.sim_post(
        "/_sim/prices",
        json!({"venue": "upbit", "coin": "XRP", "price": traded.to_string()}),
    )
    .await;
    env.sim_post(
        "/_sim/prices",
        json!({"venue": "upbit", "coin": "XRP", "book": {
            "bids": [[bid.to_string(), "50"]], "asks": [[ask.to_string(), "50"]]
        }}),
    )
    .await;
    env.sim_post(
        "/_sim/illiquid",
        json!({"coin": "XRP", "trade_lag_ms": LAG_MS}),
    )
    .await;
    let truth = env.sim_get("/_sim/universe").await;
    assert!(
        truth["illiquid"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("XRP"))),
        "{truth}"
    );

    // A rule that only the book-mid premium (~7.6 %) crosses, not the last trade's (~1.5 %).
    let (secret, _) = whsec();
    let rule = api
        .create(json!({
            "coin": "XRP", "pair": "upbit-binance", "metric": "rate", "op": "above",
            "threshold": "5", "cooldown": 1,
            "target": {"webhook": {"url": receiver.url, "secret": secret}}
        }))
        .await;

    let x = eventually(
        Duration::from_secs(30),
        "XRP priced from the book",
        || async {
            let x = premium(&env, &api, "XRP", "upbit").await;
            (x["inputs"]["korea_price_source"] == "book_mid" && x["stale"] == false).then_some(x)
        },
    )
    .await;
    let i = &x["inputs"];
    assert_eq!(d(&i["korea_krw"]), mid, "the pinned book's mid: {x}");
    assert_eq!((d(&i["korea_bid"]), d(&i["korea_ask"])), (bid, ask), "{x}");
    assert_eq!(d(&i["korea_trade_krw"]), traded, "{x}");
    let age = i["korea_last_trade_age_ms"].as_i64().unwrap();
    assert!(
        (LAG_MS..LAG_MS + 60_000).contains(&age),
        "trade age {age}: {x}"
    );
    let want = rate(mid, d(&i["foreign_usd"]), d(&i["usd_krw"]));
    assert_eq!(d(&x["rate"]), want, "{x}");
    // Bithumb's XRP is illiquid too, on the simulator's own book.
    let b = eventually(
        Duration::from_secs(30),
        "bithumb XRP on its book",
        || async {
            let b = premium(&env, &api, "XRP", "bithumb").await;
            (b["inputs"]["korea_price_source"] == "book_mid").then_some(b)
        },
    )
    .await;
    let bi = &b["inputs"];
    assert_eq!(
        d(&bi["korea_krw"]),
        (d(&bi["korea_bid"]) + d(&bi["korea_ask"])) / Decimal::TWO,
        "{b}"
    );
    // BTC is untouched.
    let btc = premium(&env, &api, "BTC", "upbit").await;
    assert_eq!(btc["inputs"]["korea_price_source"], "last_trade", "{btc}");
    // The ticker answer shows the trade's age.
    let t: Value = env
        .http
        .get(format!("{}/api/v1/tickers/upbit/XRP", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        t["last_trade_age_ms"].as_i64().is_some_and(|a| a >= LAG_MS),
        "{t}"
    );

    // The history keeps the number the API served, and the alert fired on it.
    let store = env.store().await;
    eventually(
        Duration::from_secs(30),
        "a book-mid history row",
        || async {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM premiums p JOIN coins c ON c.id = p.coin_id
               JOIN venues k ON k.id = p.korea_venue JOIN venues f ON f.id = p.foreign_venue
              WHERE c.symbol = 'XRP' AND k.name = 'upbit' AND f.name = 'binance'
                AND p.korea_krw = $1::numeric",
            )
            .bind(mid.to_string())
            .fetch_one(store.pool())
            .await
            .unwrap();
            (n > 0).then_some(())
        },
    )
    .await;
    eventually(Duration::from_secs(30), "the rule fired", || async {
        let r = api.rule(rule).await?;
        (!r["firings"].as_array()?.is_empty()).then_some(())
    })
    .await;
    let hook = eventually(Duration::from_secs(30), "the webhook", || async {
        receiver.bodies().into_iter().next()
    })
    .await;
    let data = &hook["data"];
    assert_eq!(data["inputs"]["korea_price_source"], "book_mid", "{hook}");
    assert_eq!(d(&data["inputs"]["korea_krw"]), mid, "{hook}");
    let text = data["text"].as_str().unwrap_or_default();
    assert!(text.contains("KRW (book mid)"), "{hook}");

    // Upbit's XRP book empties: no premium on a five-minute-old trade.
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "upbit", "empty_book": "XRP"}),
    )
    .await;
    let x = eventually(
        Duration::from_secs(30),
        "XRP refused without a book",
        || async {
            let x = premium(&env, &api, "XRP", "upbit").await;
            (x["stale"] == true && x["skip"]["input"] == "upbit XRP ticker").then_some(x)
        },
    )
    .await;
    let skip = &x["skip"];
    let reason = skip["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("last trade ") && reason.contains("no book to price it"),
        "{x}"
    );
    assert!(
        skip["age_ms"].as_i64().is_some_and(|a| a >= LAG_MS) && skip["limit_ms"] == limit,
        "{x}"
    );
    // Bithumb still has its book and its premium.
    let b = premium(&env, &api, "XRP", "bithumb").await;
    assert_eq!(b["stale"], false, "{b}");

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}
