//! Faults switched through `/_sim/faults`, as each venue answers them.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sim::PREFIXES;

use crate::support::{Reply, TestSim, at, dec};

type Check = fn(&Reply);

/// A fault to switch on, the path to request, and what the answer must look like.
type FaultCase<'a> = (Value, &'a str, Box<dyn Fn(&Reply)>);

fn zero_all_coins(r: &Reply) {
    assert_eq!(r.status, 200);
    let body = r.json();
    for item in body.as_array().unwrap() {
        assert!(dec(&item["trade_price"]).is_zero(), "{item}");
    }
}

fn zero_btc_only(r: &Reply) {
    assert_eq!(r.status, 200);
    for item in r.json().as_array().unwrap() {
        let zero = dec(&item["markPrice"]).is_zero();
        assert_eq!(zero, item["symbol"] == "BTCUSDT", "{item}");
    }
}

fn zero_eth_only(r: &Reply) {
    assert_eq!(r.status, 200);
    for item in r.json()["data"].as_array().unwrap() {
        let zero = dec(&item["last"]).is_zero();
        assert_eq!(zero, item["instId"] == "ETH-USDT-SWAP", "{item}");
    }
}

fn body_is(status: u16, pointer: &'static str, want: Value) -> impl Fn(&Reply) {
    move |r: &Reply| {
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(at(&r.json(), pointer), &want, "{}", r.text);
    }
}

#[tokio::test]
async fn each_fault_does_what_it_says_and_clearing_restores_the_venue() {
    let sim = TestSim::default().await;
    let upbit = "/upbit/v1/ticker?markets=KRW-BTC,KRW-ETH";
    let cases: Vec<FaultCase> = vec![
        (
            json!({"venue": "upbit", "latency_ms": 300}),
            upbit,
            Box::new(|r: &Reply| {
                assert_eq!(r.status, 200);
                assert!(r.elapsed >= Duration::from_millis(300), "{:?}", r.elapsed);
            }),
        ),
        (
            json!({"venue": "bybit", "error_rate": 1.0, "status": 502}),
            "/bybit/v5/market/tickers?category=linear",
            Box::new(|r: &Reply| assert_eq!(r.status, 502)),
        ),
        (
            json!({"venue": "okx", "error_rate": 1.0}),
            "/okx/api/v5/market/tickers?instType=SWAP",
            Box::new(|r: &Reply| assert_eq!(r.status, 503)),
        ),
        (
            json!({"venue": "upbit", "rate_limit_retry_after": 7}),
            upbit,
            Box::new(|r: &Reply| {
                assert_eq!(r.status, 429);
                assert_eq!(r.headers["retry-after"], "7");
            }),
        ),
        (
            json!({"venue": "binance", "rate_limit_retry_after": 2}),
            "/binance/fapi/v1/premiumIndex",
            Box::new(body_is(429, "/code", json!(-1003))),
        ),
        (
            json!({"venue": "dunamu", "malformed": true}),
            "/dunamu/v1/forex/recent?codes=FRX.KRWUSD",
            Box::new(|r: &Reply| {
                assert_eq!(r.status, 200);
                assert!(
                    serde_json::from_str::<Value>(&r.text).is_err(),
                    "{}",
                    r.text
                );
            }),
        ),
        (
            json!({"venue": "bithumb", "malformed": true}),
            "/bithumb/public/ticker/ALL_KRW",
            Box::new(|r: &Reply| assert!(serde_json::from_str::<Value>(&r.text).is_err())),
        ),
        (
            json!({"venue": "upbit", "zero_price": true}),
            upbit,
            Box::new(zero_all_coins as Check),
        ),
        (
            json!({"venue": "binance", "zero_price": "BTC"}),
            "/binance/fapi/v1/premiumIndex",
            Box::new(zero_btc_only as Check),
        ),
        (
            json!({"venue": "okx", "zero_price": true, "zero_coin": "eth"}),
            "/okx/api/v5/market/tickers?instType=SWAP",
            Box::new(zero_eth_only as Check),
        ),
        (
            json!({"fx": "erapi", "zero_price": true}),
            "/erapi/v6/latest/USD",
            Box::new(body_is(200, "/rates/KRW", json!(0.0))),
        ),
        (
            json!({"venue": "frankfurter", "outage": true}),
            "/frankfurter/v1/latest?base=USD&symbols=KRW",
            Box::new(|r: &Reply| {
                assert_eq!(r.status, 503);
                assert!(r.elapsed < Duration::from_secs(1));
            }),
        ),
        (
            json!({"venue": "bithumb", "http_error_body": true}),
            "/bithumb/public/ticker/BTC_KRW",
            Box::new(body_is(200, "/status", json!("5600"))),
        ),
        (
            json!({"venue": "bybit", "http_error_body": true}),
            "/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT",
            Box::new(body_is(200, "/retCode", json!(10006))),
        ),
        (
            json!({"venue": "okx", "http_error_body": true}),
            "/okx/api/v5/market/ticker?instId=BTC-USDT-SWAP",
            Box::new(body_is(200, "/code", json!("50011"))),
        ),
        (
            json!({"venue": "erapi", "http_error_body": true}),
            "/erapi/v6/latest/USD",
            Box::new(body_is(200, "/result", json!("error"))),
        ),
    ];
    for (fault, path, check) in cases {
        sim.post_ok("/_sim/faults", fault.clone()).await;
        check(&sim.get(path).await);
        sim.delete("/_sim/faults").await;
        let healthy = sim.get(path).await;
        assert_eq!(
            healthy.status, 200,
            "after clearing {fault}: {}",
            healthy.text
        );
        healthy.json();
    }
}

#[tokio::test]
async fn a_hanging_venue_times_the_client_out_until_cleared() {
    let sim = TestSim::default().await;
    sim.post_ok("/_sim/faults", json!({"venue": "binance", "hang": true}))
        .await;
    let short = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = short
        .get(sim.url("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT"))
        .send()
        .await
        .expect_err("a hanging venue never answers");
    assert!(err.is_timeout(), "{err}");
    sim.delete("/_sim/faults?venue=binance").await;
    sim.json("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT")
        .await;
}

#[tokio::test]
async fn stopping_the_simulator_releases_hanging_requests() {
    let sim = TestSim::default().await;
    sim.post_ok("/_sim/faults", json!({"venue": "okx", "hang": true}))
        .await;
    let request = tokio::spawn(
        sim.http
            .get(sim.url("/okx/api/v5/market/tickers?instType=SWAP"))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    sim.handle.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let answer = request.await.unwrap();
    assert!(answer.map(|r| r.status().as_u16() == 503).unwrap_or(true));
}

#[tokio::test]
async fn an_error_rate_fails_only_some_requests() {
    let sim = TestSim::default().await;
    sim.post_ok("/_sim/faults", json!({"venue": "upbit", "error_rate": 0.5}))
        .await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(sim.get("/upbit/v1/ticker?markets=KRW-BTC").await.status);
    }
    assert!(
        statuses.contains(&200) && statuses.contains(&503),
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| [200, 503].contains(s)));
}

#[tokio::test]
async fn faults_are_listed_and_cleared_per_prefix_or_all() {
    let sim = TestSim::default().await;
    for prefix in PREFIXES {
        sim.post_ok("/_sim/faults", json!({"venue": prefix, "latency_ms": 1}))
            .await;
    }
    let listed = sim.json("/_sim/faults").await;
    assert_eq!(listed.as_array().unwrap().len(), PREFIXES.len());
    assert_eq!(listed[0]["latency_ms"], json!(1));
    sim.delete("/_sim/faults?venue=upbit").await;
    assert_eq!(sim.json("/_sim/faults").await.as_array().unwrap().len(), 7);
    sim.delete("/_sim/faults").await;
    assert_eq!(sim.json("/_sim/faults").await, json!([]));
}

#[tokio::test]
async fn bad_control_requests_are_rejected_with_json() {
    let sim = TestSim::default().await;
    let cases: &[(&str, Value)] = &[
        ("/_sim/faults", json!({"venue": "kraken"})),
        ("/_sim/faults", json!({"venue": "upbit", "error_rate": 2})),
        ("/_sim/faults", json!({"venue": "upbit", "status": 200})),
        (
            "/_sim/faults",
            json!({"venue": "upbit", "unknown_switch": true}),
        ),
        (
            "/_sim/prices",
            json!({"venue": "upbit", "coin": "NOPE", "price": "1"}),
        ),
        (
            "/_sim/prices",
            json!({"venue": "binance", "coin": "USDT", "price": "1"}),
        ),
        ("/_sim/prices", json!({"venue": "upbit", "price": "1"})),
        (
            "/_sim/prices",
            json!({"fx": "dunamu", "coin": "BTC", "price": "1"}),
        ),
        (
            "/_sim/prices",
            json!({"venue": "upbit", "coin": "BTC", "price": "-1"}),
        ),
        ("/_sim/config", json!({"premium_pct": "abc"})),
        ("/_sim/config", json!({"noise_pct": -1})),
        ("/_sim/advance", json!({"steps": -1})),
    ];
    for (path, body) in cases {
        let (status, answer) = sim.control(Method::POST, path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
}

/// `freeze` keeps the venue's last snapshot, timestamps included, while its clock and prices
/// move on; lifting it serves the moving venue again.
#[tokio::test]
async fn a_frozen_venue_replays_its_snapshot_until_thawed() {
    let sim = TestSim::default().await;
    let path = "/upbit/v1/ticker?markets=KRW-BTC";
    let stamp = |r: &Reply| r.json()[0]["timestamp"].as_i64().unwrap();
    sim.post_ok("/_sim/faults", json!({"venue": "upbit", "freeze": true}))
        .await;
    let first = sim.get(path).await;
    assert_eq!(first.status, 200, "{}", first.text);
    tokio::time::sleep(Duration::from_millis(30)).await;
    sim.post_ok("/_sim/advance", json!({"steps": 50})).await;
    let again = sim.get(path).await;
    assert_eq!(again.text, first.text, "the same snapshot, byte for byte");
    let other = sim.get("/upbit/v1/ticker?markets=KRW-ETH").await;
    assert_eq!(
        other.json()[0]["market"],
        "KRW-ETH",
        "each query has its own snapshot"
    );

    sim.delete("/_sim/faults?venue=upbit").await;
    let thawed = sim.get(path).await;
    assert!(
        stamp(&thawed) > stamp(&first),
        "{} then {}",
        first.text,
        thawed.text
    );
    assert_ne!(
        thawed.json()[0]["trade_price"],
        first.json()[0]["trade_price"],
        "the walk moved on"
    );
}
