//! Market lists (`fetch_markets`) and tickers by listing (`fetch_tickers`: multipliers, Bithumb
//! chunks, quote times and venue clocks) against a local server that answers by path, with
//! canned bodies from `tests/fixtures/markets/` or bodies built for the request.

// The test binary links every dependency of the crate but uses only a few directly.
#![allow(unused_crate_dependencies)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::{BookTop, Decimal, Instrument, Listing, MarketFlag, MarketStatus, PriceSource, Venue};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use venues::{BithumbApi, ErrorClass, MAX_CLOCK_SKEW_MS, VenueOptions, plain_listing};

mod routed;

use routed::{assert_class, client, client_with, coin, listing, serve, serve_routes};

fn fixture(name: &str) -> String {
    routed::fixture("markets", name)
}

fn by_symbol(list: Vec<Instrument>) -> BTreeMap<String, Instrument> {
    list.into_iter().map(|i| (i.symbol.clone(), i)).collect()
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

// ------------------------------------------------------------------------------------------
// Upbit markets

#[tokio::test]
async fn upbit_lists_krw_markets_with_warning_and_caution_flags() {
    let server = serve_routes(&[("/v1/market/all", 200, fixture("upbit_market_all.json"))]).await;
    let got = by_symbol(client(Venue::Upbit, &server).fetch_markets().await.unwrap());
    assert_eq!(server.seen(), ["/v1/market/all?is_details=true"]);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        [
            "KRW-1INCH",
            "KRW-BTC",
            "KRW-PEPE",
            "KRW-TOKAMAK",
            "KRW-WAVES"
        ],
        "BTC- and USDT- markets are dropped"
    );
    let btc = &got["KRW-BTC"];
    assert_eq!(btc.venue, Venue::Upbit);
    assert_eq!(btc.base, "BTC");
    assert_eq!(btc.status, MarketStatus::Trading);
    assert_eq!(btc.english_name.as_deref(), Some("Bitcoin"));
    assert!(btc.flags.is_empty());
    assert_eq!(got["KRW-1INCH"].base, "1INCH");
    assert_eq!(got["KRW-TOKAMAK"].flags, [MarketFlag::Caution]);
    assert_eq!(got["KRW-WAVES"].flags, [MarketFlag::Warning]);
    assert_eq!(
        got["KRW-PEPE"].flags,
        [MarketFlag::Warning, MarketFlag::Caution]
    );
}

#[tokio::test]
async fn upbit_market_errors_are_classified() {
    let body = r#"{"error":{"name":400,"message":"Missing request parameter error. Check the required parameters!"}}"#;
    let server = serve_routes(&[("/v1/market/all", 400, body.into())]).await;
    let err = client(Venue::Upbit, &server)
        .fetch_markets()
        .await
        .unwrap_err();
    assert_class(&err, ErrorClass::Client, false);
    assert!(
        err.to_string().contains("Missing request parameter"),
        "{err}"
    );

    let server = serve_routes(&[("/v1/market/all", 200, r#"{"market":"#.into())]).await;
    let err = client(Venue::Upbit, &server)
        .fetch_markets()
        .await
        .unwrap_err();
    assert_class(&err, ErrorClass::Malformed, true);
}

// ------------------------------------------------------------------------------------------
// Bithumb markets

fn bithumb_routes() -> Vec<(&'static str, u16, String)> {
    vec![
        ("/v1/market/all", 200, fixture("bithumb_market_all.json")),
        (
            "/v1/market/virtual_asset_warning",
            200,
            fixture("bithumb_warnings.json"),
        ),
        (
            "/public/assetsstatus/ALL",
            200,
            fixture("bithumb_assetsstatus.json"),
        ),
    ]
}

#[tokio::test]
async fn bithumb_merges_market_warnings_caution_list_and_deposit_status() {
    let server = serve_routes(&bithumb_routes()).await;
    let got = by_symbol(
        client(Venue::Bithumb, &server)
            .fetch_markets()
            .await
            .unwrap(),
    );
    assert_eq!(
        server.seen(),
        [
            "/v1/market/all?isDetails=true",
            "/v1/market/virtual_asset_warning",
            "/public/assetsstatus/ALL",
        ]
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        [
            "KRW-1INCH",
            "KRW-BCH",
            "KRW-BTC",
            "KRW-ETH",
            "KRW-MOG",
            "KRW-XYZ"
        ],
        "BTC- markets are dropped; a warning row of an unlisted market adds none"
    );
    assert!(got["KRW-BTC"].flags.is_empty());
    assert_eq!(got["KRW-1INCH"].base, "1INCH");
    assert!(got["KRW-1INCH"].flags.is_empty());
    assert_eq!(
        got["KRW-XYZ"].flags,
        [MarketFlag::Warning, MarketFlag::Caution]
    );
    assert_eq!(got["KRW-BCH"].flags, [MarketFlag::Caution]);
    assert_eq!(got["KRW-ETH"].flags, [MarketFlag::DepositSuspended]);
    assert_eq!(
        got["KRW-MOG"].flags,
        [
            MarketFlag::DepositSuspended,
            MarketFlag::WithdrawalSuspended
        ]
    );
    assert_eq!(got["KRW-BCH"].english_name.as_deref(), Some("Bitcoin Cash"));
    assert!(got.values().all(|i| i.status == MarketStatus::Trading));
}

#[tokio::test]
async fn bithumb_markets_fail_when_any_of_the_three_sources_fails() {
    let cases: [(&str, u16, &str, ErrorClass, bool); 4] = [
        (
            "/v1/market/virtual_asset_warning",
            503,
            "<html>503</html>",
            ErrorClass::Server,
            true,
        ),
        (
            "/public/assetsstatus/ALL",
            200,
            r#"{"status":"5500","message":"Invalid Parameter"}"#,
            ErrorClass::Api,
            false,
        ),
        (
            "/v1/market/all",
            200,
            r#"{"error":{"name":"invalid_query_payload","message":"bad"}}"#,
            ErrorClass::Api,
            false,
        ),
        (
            "/public/assetsstatus/ALL",
            200,
            r#"{"status":"0000","data":[1,2"#,
            ErrorClass::Malformed,
            true,
        ),
    ];
    for (path, status, body, class, retryable) in cases {
        let mut routes = bithumb_routes();
        for r in &mut routes {
            if r.0 == path {
                r.1 = status;
                r.2 = body.to_string();
            }
        }
        let server = serve_routes(&routes).await;
        let err = client(Venue::Bithumb, &server)
            .fetch_markets()
            .await
            .expect_err(path);
        assert_class(&err, class, retryable);
    }
}

// ------------------------------------------------------------------------------------------
// Binance markets

#[tokio::test]
async fn binance_keeps_usdt_coin_perpetuals_and_maps_their_status() {
    let server = serve_routes(&[(
        "/fapi/v1/exchangeInfo",
        200,
        fixture("binance_exchange_info.json"),
    )])
    .await;
    let got = by_symbol(
        client(Venue::Binance, &server)
            .fetch_markets()
            .await
            .unwrap(),
    );
    // fundingInfo is read with the markets (here a 404: the refresh still stands).
    assert_eq!(
        server.seen(),
        ["/fapi/v1/exchangeInfo", "/fapi/v1/fundingInfo"]
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        [
            "1000PEPEUSDT",
            "1INCHUSDT",
            "1MBABYDOGEUSDT",
            "BTCUSDT",
            "HALTUSDT",
            "MATICUSDT",
            "NEWUSDT",
            "OLDUSDT"
        ],
        "USDC perp, quarterly, INDEX and TRADIFI_PERPETUAL rows are dropped"
    );
    assert_eq!(got["1000PEPEUSDT"].base, "1000PEPE");
    assert_eq!(got["1MBABYDOGEUSDT"].base, "1MBABYDOGE");
    assert_eq!(got["1INCHUSDT"].base, "1INCH");
    assert_eq!(got["BTCUSDT"].base, "BTC");
    let status = |s: &str| got[s].status;
    assert_eq!(status("BTCUSDT"), MarketStatus::Trading);
    assert_eq!(status("MATICUSDT"), MarketStatus::Delisted);
    assert_eq!(status("OLDUSDT"), MarketStatus::Delisted);
    assert_eq!(status("NEWUSDT"), MarketStatus::PreOpen);
    assert_eq!(status("HALTUSDT"), MarketStatus::Halted);
    assert!(
        got.values()
            .all(|i| i.venue == Venue::Binance && i.flags.is_empty() && i.contract_value.is_none())
    );
}

#[tokio::test]
async fn binance_market_errors_are_classified() {
    let body = r#"{"code":0,"msg":"Service unavailable from a restricted location according to 'b. Eligibility'."}"#;
    let server = serve_routes(&[("/fapi/v1/exchangeInfo", 451, body.into())]).await;
    let err = client(Venue::Binance, &server)
        .fetch_markets()
        .await
        .unwrap_err();
    assert_class(&err, ErrorClass::Client, false);

    let server = serve_routes(&[("/fapi/v1/exchangeInfo", 200, r#"{"symbols":{}}"#.into())]).await;
    let err = client(Venue::Binance, &server)
        .fetch_markets()
        .await
        .unwrap_err();
    assert_class(&err, ErrorClass::Malformed, true);
}

// ------------------------------------------------------------------------------------------
// Bybit markets

#[tokio::test]
async fn bybit_pages_by_cursor_and_keeps_usdt_linear_perpetuals() {
    let (p1, p2) = (
        fixture("bybit_instruments_page1.json"),
        fixture("bybit_instruments_page2.json"),
    );
    let server = serve(move |path| {
        if path.contains("cursor=") {
            (200, p2.clone())
        } else {
            (200, p1.clone())
        }
    })
    .await;
    let got = by_symbol(client(Venue::Bybit, &server).fetch_markets().await.unwrap());
    assert_eq!(
        server.seen(),
        [
            "/v5/market/instruments-info?category=linear&limit=1000",
            "/v5/market/instruments-info?category=linear&limit=1000&cursor=first%3D1000PEPEUSDT%26last%3DBTCUSDT",
        ],
        "the second request carries the first page's cursor"
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        [
            "1000PEPEUSDT",
            "1INCHUSDT",
            "BTCUSDT",
            "DLVUSDT",
            "NEWUSDT",
            "OLDUSDT",
            "SHIB1000USDT"
        ],
        "LinearFutures, USDC PERP and stock/commodity rows are dropped"
    );
    assert_eq!(got["1000PEPEUSDT"].base, "1000PEPE");
    assert_eq!(got["SHIB1000USDT"].base, "SHIB1000");
    assert_eq!(got["1INCHUSDT"].base, "1INCH");
    let status = |s: &str| got[s].status;
    assert_eq!(status("BTCUSDT"), MarketStatus::Trading);
    assert_eq!(status("NEWUSDT"), MarketStatus::PreOpen);
    assert_eq!(status("OLDUSDT"), MarketStatus::Delisted);
    assert_eq!(status("DLVUSDT"), MarketStatus::Halted);
}

#[tokio::test]
async fn bybit_stops_on_an_empty_page_even_with_a_cursor() {
    let body = json!({"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[],
        "nextPageCursor":"first%3DBIOUSDT%26last%3DBIOUSDT"},"retExtInfo":{},"time":1_735_809_771_618_i64});
    let server = serve(move |_| (200, body.to_string())).await;
    let got = client(Venue::Bybit, &server).fetch_markets().await.unwrap();
    assert!(got.is_empty());
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn bybit_gives_up_on_a_cursor_that_never_ends() {
    let body = fixture("bybit_instruments_page1.json");
    let server = serve(move |_| (200, body.clone())).await;
    let err = client(Venue::Bybit, &server)
        .fetch_markets()
        .await
        .unwrap_err();
    assert_eq!(server.seen().len(), venues::bybit::MAX_INSTRUMENT_PAGES);
    assert_class(&err, ErrorClass::Malformed, true);
    assert!(err.to_string().contains("20 pages"), "{err}");
}

#[tokio::test]
async fn bybit_market_errors_are_classified() {
    let cases = [
        (
            r#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1}"#,
            ErrorClass::Api,
            true,
        ),
        (
            r#"{"retCode":10001,"retMsg":"params error","result":{},"retExtInfo":{},"time":1}"#,
            ErrorClass::Api,
            false,
        ),
        (
            r#"{"retCode":0,"retMsg":"OK","result":{"list":"x"}}"#,
            ErrorClass::Malformed,
            true,
        ),
    ];
    for (body, class, retryable) in cases {
        let server = serve(move |_| (200, body.to_string())).await;
        let err = client(Venue::Bybit, &server)
            .fetch_markets()
            .await
            .unwrap_err();
        assert_class(&err, class, retryable);
    }
    // A failure on the second page fails the whole refresh.
    let p1 = fixture("bybit_instruments_page1.json");
    let server = serve(move |path| {
        if path.contains("cursor=") {
            (503, "busy".into())
        } else {
            (200, p1.clone())
        }
    })
    .await;
    let err = client(Venue::Bybit, &server)
        .fetch_markets()
        .await
        .unwrap_err();
    assert_class(&err, ErrorClass::Server, true);
}

// ------------------------------------------------------------------------------------------
// OKX markets

#[tokio::test]
async fn okx_keeps_usdt_linear_swaps_with_base_from_the_family_and_contract_value() {
    let server = serve_routes(&[(
        "/api/v5/public/instruments",
        200,
        fixture("okx_instruments.json"),
    )])
    .await;
    let got = by_symbol(client(Venue::Okx, &server).fetch_markets().await.unwrap());
    assert_eq!(server.seen(), ["/api/v5/public/instruments?instType=SWAP"]);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        [
            "1INCH-USDT-SWAP",
            "BTC-USDT-SWAP",
            "HALT-USDT-SWAP",
            "NEW-USDT-SWAP",
            "PEPE-USDT-SWAP",
            "RBS-USDT-SWAP",
            "SHIB-USDT-SWAP"
        ],
        "inverse -USD-SWAP and -USDC-SWAP rows are dropped"
    );
    assert_eq!(got["PEPE-USDT-SWAP"].base, "PEPE");
    assert_eq!(got["PEPE-USDT-SWAP"].contract_value, Some(dec!(10000000)));
    assert_eq!(got["BTC-USDT-SWAP"].contract_value, Some(dec!(0.01)));
    assert_eq!(got["1INCH-USDT-SWAP"].base, "1INCH");
    // Empty `instFamily`: the base comes from `uly`; `ctVal × ctMult`.
    assert_eq!(got["SHIB-USDT-SWAP"].base, "SHIB");
    assert_eq!(got["SHIB-USDT-SWAP"].contract_value, Some(dec!(1000000)));
    let status = |s: &str| got[s].status;
    assert_eq!(status("BTC-USDT-SWAP"), MarketStatus::Trading);
    assert_eq!(status("NEW-USDT-SWAP"), MarketStatus::PreOpen);
    assert_eq!(status("HALT-USDT-SWAP"), MarketStatus::Halted);
    assert_eq!(status("RBS-USDT-SWAP"), MarketStatus::Halted);
}

#[tokio::test]
async fn okx_market_errors_are_classified() {
    let cases = [
        (
            200,
            r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#,
            ErrorClass::Api,
            true,
        ),
        (
            400,
            r#"{"code":"50014","data":[],"msg":"instType cannot be empty"}"#,
            ErrorClass::Client,
            false,
        ),
        (
            200,
            r#"{"code":"0","msg":"","data":{}}"#,
            ErrorClass::Malformed,
            true,
        ),
    ];
    for (status, body, class, retryable) in cases {
        let server = serve(move |_| (status, body.to_string())).await;
        let err = client(Venue::Okx, &server)
            .fetch_markets()
            .await
            .unwrap_err();
        assert_class(&err, class, retryable);
    }
}

// ------------------------------------------------------------------------------------------
// Tickers by listing

#[tokio::test]
async fn multiplier_listings_are_priced_per_coin() {
    let now = ms(Utc::now());
    let body = json!([
        {"symbol":"1000PEPEUSDT","markPrice":"0.0098950","time":now},
        {"symbol":"BTCUSDT","markPrice":"60000.10","time":now},
        {"symbol":"1MBABYDOGEUSDT","markPrice":"0.0012345","time":now},
    ])
    .to_string();
    let server = serve(move |_| (200, body.clone())).await;
    let listings = [
        listing(Venue::Binance, "PEPE", "1000PEPEUSDT", dec!(1000)),
        plain_listing(Venue::Binance, &coin("BTC")),
        listing(Venue::Binance, "BABYDOGE", "1MBABYDOGEUSDT", dec!(1000000)),
        listing(Venue::Binance, "BONK", "1000BONKUSDT", dec!(1000)),
    ];
    let batch = client(Venue::Binance, &server)
        .fetch_tickers(&listings)
        .await
        .unwrap();
    let got: Vec<_> = batch
        .tickers
        .iter()
        .map(|t| (t.coin.as_str(), t.price.value()))
        .collect();
    assert_eq!(
        got,
        [
            ("PEPE", dec!(0.000009895)),
            ("BTC", dec!(60000.10)),
            ("BABYDOGE", dec!(0.0000000012345)),
        ]
    );
    let [(failed, err)] = &batch.failures[..] else {
        panic!("one failure expected: {:?}", batch.failures)
    };
    assert_eq!(failed.as_str(), "BONK", "failures stay keyed by coin");
    assert_class(err, ErrorClass::UnknownSymbol, false);
    assert!(err.to_string().contains("1000BONKUSDT"), "{err}");
    assert!(batch.clock_skew_ms.unwrap().abs() < MAX_CLOCK_SKEW_MS);
    for t in &batch.tickers {
        assert_eq!(ms(t.observed_at), now, "a sane venue clock is used as is");
    }
}

#[tokio::test]
async fn bybit_and_okx_tickers_follow_their_listings() {
    let now = ms(Utc::now());
    let bybit = json!({"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[
        {"symbol":"SHIB1000USDT","lastPrice":"0.012","markPrice":"0.0125"}]},
        "retExtInfo":{},"time":now})
    .to_string();
    let server = serve(move |_| (200, bybit.clone())).await;
    let batch = client(Venue::Bybit, &server)
        .fetch_tickers(&[listing(Venue::Bybit, "SHIB", "SHIB1000USDT", dec!(1000))])
        .await
        .unwrap();
    assert_eq!(batch.tickers[0].coin.as_str(), "SHIB");
    assert_eq!(batch.tickers[0].price.value(), dec!(0.0000125));
    assert_eq!(ms(batch.tickers[0].observed_at), now);

    let okx = json!({"code":"0","msg":"","data":[
        {"instType":"SWAP","instId":"PEPE-USDT-SWAP","last":"0.0000099","ts":now.to_string()}]})
    .to_string();
    let server = serve(move |_| (200, okx.clone())).await;
    let batch = client(Venue::Okx, &server)
        .fetch_tickers(&[listing(Venue::Okx, "PEPE", "PEPE-USDT-SWAP", dec!(1))])
        .await
        .unwrap();
    assert_eq!(batch.tickers[0].price.value(), dec!(0.0000099));
    assert_eq!(ms(batch.tickers[0].observed_at), now);
}

/// A Bithumb `/v1/ticker` body for the requested markets, every one priced 1000 KRW, with the
/// given snapshot and trade times.
fn bithumb_rows(path: &str, timestamp: i64, trade_timestamp: i64) -> String {
    let markets = path
        .split("markets=")
        .nth(1)
        .unwrap_or_default()
        .split('&')
        .next()
        .unwrap_or_default();
    let rows: Vec<Value> = markets
        .split(',')
        .filter(|m| !m.is_empty())
        .map(|m| {
            json!({"market": m, "trade_price": 1000.0, "trade_timestamp": trade_timestamp,
                "timestamp": timestamp})
        })
        .collect();
    Value::Array(rows).to_string()
}

fn markets_in(path: &str) -> usize {
    path.split("markets=")
        .nth(1)
        .map(|m| m.split(',').count())
        .unwrap_or(0)
}

fn bithumb_listings(n: usize) -> Vec<Listing> {
    (0..n)
        .map(|i| plain_listing(Venue::Bithumb, &coin(&format!("C{i:03}"))))
        .collect()
}

#[tokio::test]
async fn bithumb_splits_450_markets_into_three_requests_of_at_most_200() {
    let server = serve(|path| {
        let now = ms(Utc::now());
        (200, bithumb_rows(path, now, now))
    })
    .await;
    let client = client(Venue::Bithumb, &server);
    // Tickers and order books, both in chunks of 200.
    assert_eq!(client.requests_per_fetch(450), 6);
    assert_eq!(client.requests_per_fetch(200), 2);
    assert_eq!(client.requests_per_fetch(201), 4);
    let listings = bithumb_listings(450);
    let batch = client.fetch_tickers(&listings).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len() as u32, client.requests_per_fetch(450));
    assert_eq!(
        seen.iter().map(|p| markets_in(p)).collect::<Vec<_>>(),
        [200, 200, 50, 200, 200, 50]
    );
    assert!(
        seen[..3]
            .iter()
            .all(|p| p.starts_with("/v1/ticker?markets=KRW-C"))
    );
    assert!(
        seen[3..]
            .iter()
            .all(|p| p.starts_with("/v1/orderbook?markets=KRW-C"))
    );
    assert_eq!(batch.tickers.len(), 450);
    assert!(batch.failures.is_empty());
}

#[tokio::test]
async fn other_clients_count_their_book_and_funding_requests() {
    let server = serve(|_| (500, String::new())).await;
    // Upbit: ticker/all + orderbook; Binance: premiumIndex + bookTicker; Bybit: the tickers
    // carry book and funding; OKX: tickers + funding-rate.
    for (venue, n) in [
        (Venue::Upbit, 2),
        (Venue::Binance, 2),
        (Venue::Bybit, 1),
        (Venue::Okx, 2),
    ] {
        assert_eq!(client(venue, &server).requests_per_fetch(450), n, "{venue}");
    }
    let last = VenueOptions {
        binance_price: venues::BinancePrice::Last,
        ..VenueOptions::default()
    };
    assert_eq!(
        client_with(Venue::Binance, &server, last).requests_per_fetch(450),
        3,
        "ticker/price + bookTicker + premiumIndex"
    );
    let legacy = VenueOptions {
        bithumb_api: BithumbApi::Legacy,
        ..VenueOptions::default()
    };
    assert_eq!(
        client_with(Venue::Bithumb, &server, legacy).requests_per_fetch(450),
        4,
        "ALL_KRW + three orderbook chunks"
    );
}

#[tokio::test]
async fn a_code_not_found_chunk_fails_only_its_own_coins() {
    let server = serve(|path| {
        if path.contains("KRW-C250") {
            (
                200,
                r#"{"error":{"name":404,"message":"Code not found"}}"#.into(),
            )
        } else {
            let now = ms(Utc::now());
            (200, bithumb_rows(path, now, now))
        }
    })
    .await;
    let listings = bithumb_listings(450);
    let batch = client(Venue::Bithumb, &server)
        .fetch_tickers(&listings)
        .await
        .unwrap();
    // Three ticker chunks, then books for the 250 priced markets only.
    assert_eq!(server.seen().len(), 5);
    assert_eq!(batch.tickers.len(), 250, "the first and third chunks stand");
    assert_eq!(batch.failures.len(), 200);
    for (c, err) in &batch.failures {
        let i: usize = c.as_str()[1..].parse().unwrap();
        assert!((200..400).contains(&i), "{c} is in the failed chunk");
        assert_class(err, ErrorClass::UnknownSymbol, false);
        assert!(err.to_string().contains(&format!("KRW-{c}")), "{err}");
    }
}

#[tokio::test]
async fn when_every_chunk_fails_the_request_error_is_returned() {
    // Every chunk names an unlisted market: per-coin unknown symbols (the worker asks for a
    // registry refresh), not a failing venue.
    let server = serve(|_| {
        (
            200,
            r#"{"error":{"name":404,"message":"Code not found"}}"#.into(),
        )
    })
    .await;
    let batch = client(Venue::Bithumb, &server)
        .fetch_tickers(&bithumb_listings(250))
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 2);
    assert!(batch.tickers.is_empty());
    assert_eq!(batch.failures.len(), 250);
    for (_, err) in &batch.failures {
        assert_class(err, ErrorClass::UnknownSymbol, false);
    }

    let server = serve(|_| {
        (
            400,
            r#"{"error":{"name":400,"message":"Parameter 'markets' must be less than or equal to 200 items."}}"#.into(),
        )
    })
    .await;
    let err = client(Venue::Bithumb, &server)
        .fetch_tickers(&bithumb_listings(250))
        .await
        .unwrap_err();
    assert_class(&err, ErrorClass::Client, false);
    assert_eq!(server.seen().len(), 2);

    let server = serve(|_| (503, "busy".into())).await;
    let err = client(Venue::Bithumb, &server)
        .fetch_tickers(&bithumb_listings(3))
        .await
        .unwrap_err();
    assert_class(&err, ErrorClass::Server, true);
}

const NINE_HOURS_MS: i64 = 9 * 3600 * 1000;

#[tokio::test]
async fn a_bithumb_clock_nine_hours_ahead_is_not_used_for_freshness() {
    const LAG_MS: i64 = 60_000;
    let server = serve(|path| {
        // KST wall time written as epoch ms: everything 9 h ahead; the last trade a minute old.
        let kst = ms(Utc::now()) + NINE_HOURS_MS;
        (200, bithumb_rows(path, kst, kst - LAG_MS))
    })
    .await;
    let before = Utc::now();
    let batch = client(Venue::Bithumb, &server)
        .fetch_tickers(&bithumb_listings(3))
        .await
        .unwrap();
    let skew = batch.clock_skew_ms.expect("a skew is measured");
    assert!(
        (skew - NINE_HOURS_MS).abs() < 2_000,
        "skew {skew} ≈ 32 400 000"
    );
    assert_eq!(batch.tickers.len(), 3);
    for t in &batch.tickers {
        assert!(t.fetched_at >= before);
        assert_eq!(t.observed_at, t.fetched_at);
        let trade = t.last_trade_at.expect("the trade time is kept, corrected");
        let age = ms(t.fetched_at) - ms(trade);
        assert!((age - LAG_MS).abs() < 2_000, "corrected trade age {age}");
    }
}

#[tokio::test]
async fn a_single_future_time_is_clamped_to_the_receipt_time() {
    let server = serve(|_| {
        let now = ms(Utc::now());
        let body = json!([
            {"symbol":"BTCUSDT","markPrice":"60000","time":now},
            {"symbol":"ETHUSDT","markPrice":"3000","time":now},
            {"symbol":"XRPUSDT","markPrice":"0.5","time":now + 3_600_000},
        ]);
        (200, body.to_string())
    })
    .await;
    let listings: Vec<Listing> = ["BTC", "ETH", "XRP"]
        .iter()
        .map(|c| plain_listing(Venue::Binance, &coin(c)))
        .collect();
    let batch = client(Venue::Binance, &server)
        .fetch_tickers(&listings)
        .await
        .unwrap();
    assert!(batch.clock_skew_ms.unwrap().abs() < MAX_CLOCK_SKEW_MS);
    let xrp = &batch.tickers[2];
    assert_eq!(xrp.coin.as_str(), "XRP");
    assert_eq!(xrp.observed_at, xrp.fetched_at);
    assert!(batch.tickers[0].observed_at <= batch.tickers[0].fetched_at);
}

#[tokio::test]
async fn upbit_quote_time_is_the_snapshot_and_an_old_last_trade_gives_way_to_the_book() {
    let snapshot = ms(Utc::now());
    let traded = snapshot - 5 * 60_000;
    let body = json!([
        {"market":"KRW-BTC","trade_price":162876000.0,"trade_timestamp":snapshot - 100,
         "timestamp":snapshot},
        {"market":"KRW-QUIET","trade_price":12.5,"trade_timestamp":traded,"timestamp":snapshot},
    ])
    .to_string();
    // QUIET's book is one-sided (its bid slot is padding), BTC's is whole.
    let book = json!([
        {"market":"KRW-QUIET","timestamp":snapshot,"orderbook_units":[
            {"ask_price":13.0,"bid_price":0,"ask_size":10.0,"bid_size":0}]},
        {"market":"KRW-BTC","timestamp":snapshot,"orderbook_units":[
            {"ask_price":162877000.0,"bid_price":162875000.0,"ask_size":0.1,"bid_size":0.2}]},
    ])
    .to_string();
    let server = serve(move |path| {
        let answer = if path.starts_with("/v1/orderbook") {
            &book
        } else {
            &body
        };
        (200, answer.clone())
    })
    .await;
    let listings: Vec<Listing> = ["QUIET", "BTC", "NOPE"]
        .iter()
        .map(|c| plain_listing(Venue::Upbit, &coin(c)))
        .collect();
    let batch = client(Venue::Upbit, &server)
        .fetch_tickers(&listings)
        .await
        .unwrap();
    assert_eq!(
        server.seen(),
        [
            "/v1/ticker/all?quote_currencies=KRW",
            "/v1/orderbook?markets=KRW-QUIET,KRW-BTC"
        ]
    );
    let quiet = &batch.tickers[0];
    assert_eq!(quiet.coin.as_str(), "QUIET");
    assert_eq!(ms(quiet.observed_at), snapshot, "the quote is current");
    assert_eq!(quiet.last_trade_at.map(ms), Some(traded), "5 minutes old");
    assert_eq!(batch.tickers[1].coin.as_str(), "BTC");
    // The price a premium may use: BTC's recent trade; not QUIET's old one, and QUIET has no
    // book to stand in, so the refusal says why.
    let now = Utc::now();
    let (price, source) = batch.tickers[1].premium_price(now, 5_000).unwrap();
    assert_eq!(
        (price.value(), source),
        (Decimal::from(162_876_000), PriceSource::LastTrade)
    );
    let refused = quiet.premium_price(now, 5_000).unwrap_err();
    assert!(refused.age_ms >= 300_000, "{refused}");
    assert_eq!(refused.book, "bid side is empty");
    // With QUIET's book whole, its mid prices it.
    let mut priced = quiet.clone();
    priced.book = Some(BookTop::new(dec!(12), dec!(1), dec!(13), dec!(1)).unwrap());
    let (mid, source) = priced.premium_price(now, 5_000).unwrap();
    assert_eq!((mid.value(), source), (dec!(12.5), PriceSource::BookMid));
    let [(failed, err)] = &batch.failures[..] else {
        panic!("one failure expected: {:?}", batch.failures)
    };
    assert_eq!(failed.as_str(), "NOPE");
    assert_class(err, ErrorClass::UnknownSymbol, false);
    assert!(err.to_string().contains("KRW-NOPE"), "{err}");
}

#[tokio::test]
async fn bithumb_legacy_still_reads_listings() {
    let server = serve(|_| {
        let body = json!({"status":"0000","data":{
            "BTC":{"closing_price":"63651000"},"date": ms(Utc::now()).to_string()}});
        (200, body.to_string())
    })
    .await;
    let legacy = VenueOptions {
        bithumb_api: BithumbApi::Legacy,
        ..VenueOptions::default()
    };
    let batch = client_with(Venue::Bithumb, &server, legacy)
        .fetch_tickers(&[plain_listing(Venue::Bithumb, &coin("BTC"))])
        .await
        .unwrap();
    assert_eq!(
        server.seen(),
        ["/public/ticker/ALL_KRW", "/v1/orderbook?markets=KRW-BTC"]
    );
    assert_eq!(batch.tickers[0].price.value(), dec!(63651000));
    assert!(batch.clock_skew_ms.unwrap().abs() < MAX_CLOCK_SKEW_MS);
}

#[test]
fn plain_listings_use_each_venues_plain_symbol() {
    let btc = coin("BTC");
    let symbols: Vec<String> = Venue::ALL
        .into_iter()
        .map(|v| plain_listing(v, &btc).instrument.symbol)
        .collect();
    let want: Vec<String> = Venue::ALL
        .into_iter()
        .map(|v| match v {
            Venue::Upbit | Venue::Bithumb => "KRW-BTC".to_string(),
            Venue::Binance | Venue::Bybit => "BTCUSDT".to_string(),
            Venue::Okx => "BTC-USDT-SWAP".to_string(),
        })
        .collect();
    assert_eq!(symbols, want);
    let l = plain_listing(Venue::Okx, &btc);
    assert_eq!(l.multiplier, Decimal::ONE);
    assert_eq!(l.coin, btc);
    assert_eq!(l.instrument.base, "BTC");
    assert_eq!(l.instrument.status, MarketStatus::Trading);
}
