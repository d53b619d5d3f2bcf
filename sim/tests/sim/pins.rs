//! Pinned prices and books, request counters and health.

use domain::{Decimal, premium_rate};
use serde_json::{Value, json};

use crate::support::{TestSim, at, price};

#[tokio::test]
async fn pinned_prices_are_returned_exactly_until_cleared() {
    let sim = TestSim::default().await;
    // (pin, path, pointer, expected value)
    let cases: &[(Value, &str, &str, Value)] = &[
        (
            json!({"venue": "upbit", "coin": "BTC", "price": "129555000"}),
            "/upbit/v1/ticker?markets=KRW-BTC",
            "/0/trade_price",
            json!(129555000.0),
        ),
        (
            json!({"venue": "upbit", "coin": "usdt", "price": "1401"}),
            "/upbit/v1/ticker?markets=KRW-USDT",
            "/0/trade_price",
            json!(1401.0),
        ),
        (
            json!({"venue": "bithumb", "coin": "ETH", "price": "4321000"}),
            "/bithumb/public/ticker/ETH_KRW",
            "/data/closing_price",
            json!("4321000"),
        ),
        (
            json!({"venue": "binance", "coin": "BTC", "price": "89277.1"}),
            "/binance/fapi/v1/premiumIndex?symbol=BTCUSDT",
            "/markPrice",
            json!("89277.1"),
        ),
        (
            json!({"venue": "bybit", "coin": "SOL", "price": "141.25"}),
            "/bybit/v5/market/tickers?category=linear&symbol=SOLUSDT",
            "/result/list/0/markPrice",
            json!("141.25"),
        ),
        (
            json!({"venue": "okx", "coin": "XRP", "price": 2.5}),
            "/okx/api/v5/market/ticker?instId=XRP-USDT-SWAP",
            "/data/0/last",
            json!("2.5"),
        ),
        (
            json!({"fx": "dunamu", "price": "1432.6"}),
            "/dunamu/v1/forex/recent?codes=FRX.KRWUSD",
            "/0/basePrice",
            json!(1432.6),
        ),
        (
            json!({"fx": "erapi", "price": "1391.2"}),
            "/erapi/v6/latest/USD",
            "/rates/KRW",
            json!(1391.2),
        ),
        (
            json!({"fx": "frankfurter", "price": "1398.5"}),
            "/frankfurter/v1/latest?base=USD&symbols=KRW",
            "/rates/KRW",
            json!(1398.5),
        ),
    ];
    for (pin, path, pointer, want) in cases {
        sim.post_ok("/_sim/prices", pin.clone()).await;
        sim.post_ok("/_sim/advance", json!({"steps": 50})).await;
        assert_eq!(at(&sim.json(path).await, pointer), want, "{pin}");
    }
    assert_eq!(
        sim.json("/_sim/prices").await.as_array().unwrap().len(),
        cases.len()
    );

    // The worked example of ARCHITECTURE.md, from the pinned prices.
    let rate = premiums_from_pins(&sim).await;
    assert_eq!(rate.round_dp(4), Decimal::new(12953, 4));

    sim.delete("/_sim/prices").await;
    for (_, path, pointer, want) in cases {
        assert_ne!(
            at(&sim.json(path).await, pointer),
            want,
            "{path} after clearing"
        );
    }
}

async fn premiums_from_pins(sim: &TestSim) -> Decimal {
    let k = price(
        &sim.json("/upbit/v1/ticker?markets=KRW-BTC").await,
        "/0/trade_price",
    );
    let f = price(
        &sim.json("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT")
            .await,
        "/markPrice",
    );
    let fx = price(
        &sim.json("/dunamu/v1/forex/recent?codes=FRX.KRWUSD").await,
        "/0/basePrice",
    );
    premium_rate(k, f, fx).unwrap()
}

#[tokio::test]
async fn stats_count_requests_per_prefix_and_path() {
    let sim = TestSim::default().await;
    sim.post_ok("/_sim/faults", json!({"venue": "okx", "outage": true}))
        .await;
    let requests = [
        "/upbit/v1/ticker?markets=KRW-BTC",
        "/upbit/v1/ticker?markets=KRW-ETH",
        "/upbit/v1/ticker?markets=KRW-XRP",
        "/binance/fapi/v1/premiumIndex",
        "/okx/api/v5/market/tickers?instType=SWAP",
    ];
    for path in requests {
        sim.get(path).await;
    }
    let stats = sim.json("/_sim/stats").await;
    assert_eq!(stats["total"], json!(5), "{stats}");
    assert_eq!(stats["requests"]["upbit"], json!(3));
    assert_eq!(stats["requests"]["binance"], json!(1));
    assert_eq!(stats["requests"]["dunamu"], json!(0));
    assert_eq!(stats["faulted"]["okx"], json!(1));
    assert_eq!(stats["paths"]["/upbit/v1/ticker"], json!(3));
    sim.delete("/_sim/stats").await;
    assert_eq!(sim.json("/_sim/stats").await["total"], json!(0));
}

#[tokio::test]
async fn health_and_config_answer() {
    let sim = TestSim::default().await;
    assert_eq!(sim.json("/_sim/health").await["status"], json!("ok"));
    let cfg = sim.json("/_sim/config").await;
    assert_eq!(cfg["premium_pct"], json!("1.5"));
    assert_eq!(cfg["extra_coins"], json!(300));
    let changed = sim
        .post_ok(
            "/_sim/config",
            json!({"premium_pct": 2.5, "noise_pct": "0"}),
        )
        .await;
    assert_eq!(changed["premium_pct"], json!("2.5"));
    assert_eq!(changed["usdt_premium_pct"], json!("0.3"));
    assert_eq!(changed["noise_pct"], json!("0"));
}
