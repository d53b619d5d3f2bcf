//! The price model over HTTP: seeded paths, steps, and the premium the Korean venues carry.

use std::{str::FromStr, time::Duration};

use domain::{Decimal, premium_rate};
use serde_json::json;
use sim::SimConfig;

use crate::support::{TestSim, at, dec, price};

/// Upbit KRW-BTC and Binance BTCUSDT after each of `rounds` manual advances of 3 steps.
async fn price_path(sim: &TestSim, rounds: usize) -> Vec<(Decimal, Decimal)> {
    let mut path = Vec::new();
    for _ in 0..rounds {
        sim.post_ok("/_sim/advance", json!({"steps": 3})).await;
        let krw = sim.json("/upbit/v1/ticker?markets=KRW-BTC").await;
        let usd = sim
            .json("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT")
            .await;
        path.push((dec(&krw[0]["trade_price"]), dec(&usd["markPrice"])));
    }
    path
}

#[tokio::test]
async fn the_same_seed_gives_the_same_price_path() {
    let (a, b, other) = tokio::join!(TestSim::frozen(7), TestSim::frozen(7), TestSim::frozen(8));
    let (pa, pb, po) = tokio::join!(price_path(&a, 8), price_path(&b, 8), price_path(&other, 8));
    assert_eq!(pa, pb);
    assert_ne!(pa, po);
    assert!(
        pa.windows(2).any(|w| w[0] != w[1]),
        "prices never moved: {pa:?}"
    );
}

#[tokio::test]
async fn prices_move_with_the_wall_clock() {
    let sim = TestSim::start(SimConfig {
        step: Duration::from_millis(5),
        ..SimConfig::default()
    })
    .await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let body = sim
            .json("/binance/fapi/v1/ticker/price?symbol=BTCUSDT")
            .await;
        seen.push(dec(&body["price"]));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    seen.dedup();
    assert!(seen.len() > 1, "{seen:?}");
}

/// Premium of Upbit's or Bithumb's `coin` over each foreign venue at Dunamu's rate.
async fn premiums(sim: &TestSim, coin: &str) -> Vec<Decimal> {
    let fx = price(
        &sim.json("/dunamu/v1/forex/recent?codes=FRX.KRWUSD").await,
        "/0/basePrice",
    );
    let korea = [
        (
            format!("/upbit/v1/ticker?markets=KRW-{coin}"),
            "/0/trade_price",
        ),
        (
            format!("/bithumb/public/ticker/{coin}_KRW"),
            "/data/closing_price",
        ),
    ];
    let foreign = [
        (
            format!("/binance/fapi/v1/premiumIndex?symbol={coin}USDT"),
            "/markPrice",
        ),
        (
            format!("/bybit/v5/market/tickers?category=linear&symbol={coin}USDT"),
            "/result/list/0/markPrice",
        ),
        (
            format!("/okx/api/v5/market/ticker?instId={coin}-USDT-SWAP"),
            "/data/0/last",
        ),
    ];
    let mut rates = Vec::new();
    for (kpath, kptr) in &korea {
        let k = price(&sim.json(kpath).await, kptr);
        for (fpath, fptr) in &foreign {
            let f = price(&sim.json(fpath).await, fptr);
            rates.push(premium_rate(k, f, fx).unwrap());
        }
    }
    rates
}

#[tokio::test]
async fn premium_computed_from_served_prices_is_the_configured_one() {
    let sim = TestSim::default().await;
    let tolerance = Decimal::new(3, 1);
    for configured in ["1.5", "-2", "4.25"] {
        let configured = Decimal::from_str(configured).unwrap();
        sim.post_ok("/_sim/config", json!({"premium_pct": configured}))
            .await;
        for coin in [
            "BTC", "ETH", "XRP", "SOL", "DOGE", "SIM001", "SIM150", "SIM300",
        ] {
            for rate in premiums(&sim, coin).await {
                assert!(
                    (rate - configured).abs() <= tolerance,
                    "{coin}: {rate} vs configured {configured}"
                );
            }
        }
    }
}

#[tokio::test]
async fn korean_usdt_carries_the_tether_premium() {
    let sim = TestSim::default().await;
    sim.post_ok("/_sim/config", json!({"usdt_premium_pct": "-1.2"}))
        .await;
    let fx = dec(at(
        &sim.json("/dunamu/v1/forex/recent?codes=FRX.KRWUSD").await,
        "/0/basePrice",
    ));
    for venue in ["upbit", "bithumb"] {
        let body = sim
            .json(&format!("/{venue}/v1/ticker?markets=KRW-USDT"))
            .await;
        let usdt = dec(at(&body, "/0/trade_price"));
        let pct = (usdt - fx) / fx * Decimal::ONE_HUNDRED;
        assert!(
            (pct - Decimal::new(-12, 1)).abs() < Decimal::new(1, 1),
            "{venue}: {pct}"
        );
    }
}
