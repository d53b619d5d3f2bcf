use domain::{FxSource, Venue};

use crate::support::*;

#[tokio::test]
async fn tickers_are_listed_with_price_strings_and_age() {
    let app = spawn_app().await;
    app.put_tickers(&[
        ticker(Venue::Upbit, "BTC", "129555000", 200),
        ticker(Venue::Binance, "BTC", "89277.10", 200),
    ])
    .await;

    let body = app.get_ok("/api/v1/tickers").await;
    let tickers = body["tickers"].as_array().unwrap();
    assert_eq!(tickers.len(), 2, "{body}");
    assert!(
        body["missing"]
            .as_array()
            .unwrap()
            .contains(&"upbit/ETH".into())
    );

    let t = app.get_ok("/api/v1/tickers/binance/btc").await;
    assert_eq!(t["price"], "89277.1");
    assert_eq!(t["quote"], "USDT");
    assert_eq!(t["stale"], false);
    assert!(t["age_ms"].as_i64().unwrap() >= 200);

    assert_error(
        &app.get("/api/v1/tickers/kraken/BTC").await,
        404,
        "unknown_venue",
    );
    let msg = assert_error(
        &app.get("/api/v1/tickers/upbit/PEPE").await,
        404,
        "unknown_coin",
    );
    assert!(msg.contains("not fetched from upbit"), "{msg}");
    // Korean venues fetch USDT too (known, just not cached here).
    assert_error(
        &app.get("/api/v1/tickers/upbit/USDT").await,
        404,
        "ticker_unavailable",
    );
    assert_error(
        &app.get("/api/v1/tickers/upbit/ETH").await,
        404,
        "ticker_unavailable",
    );
}

#[tokio::test]
async fn fx_shows_every_source_the_rate_in_use_and_usdt() {
    let app = spawn_app().await;
    // Dunamu is first in the fallback chain but 20 minutes old (limit 15 min): erapi is used.
    app.put_fx(&fx(FxSource::Dunamu, "1431.5", 20 * 60 * 1000))
        .await;
    app.put_fx(&fx(FxSource::Erapi, "1433.20", 60 * 60 * 1000))
        .await;
    app.put_tickers(&[ticker(Venue::Upbit, "USDT", "1450", 100)])
        .await;

    let body = app.get_ok("/api/v1/fx").await;
    let sources = body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 3);
    assert_eq!(sources[0]["source"], "dunamu");
    assert_eq!(sources[0]["fresh"], false);
    assert_eq!(sources[0]["limit_ms"], 15 * 60 * 1000);
    assert_eq!(sources[1]["fresh"], true);
    assert_eq!(sources[1]["usd_krw"], "1433.2");
    assert!(sources[2]["usd_krw"].is_null());
    assert_eq!(body["in_use"]["source"], "erapi");
    assert_eq!(body["in_use"]["usd_krw"], "1433.2");
    assert_eq!(body["usdt"]["venue"], "upbit");
    assert_eq!(body["usdt"]["usdt_krw"], "1450");
    assert_eq!(body["usdt"]["fresh"], true);
}

#[tokio::test]
async fn fx_without_any_fresh_rate_says_why() {
    let app = spawn_app().await;
    let body = app.get_ok("/api/v1/fx").await;
    assert!(body["in_use"].is_null());
    let why = body["in_use_error"].as_str().unwrap();
    assert!(why.contains("dunamu missing"), "{why}");
    assert!(body["usdt"]["usdt_krw"].is_null());
}
