//! Books and funding with the tickers (`fetch_tickers`), and depth (`fetch_depth`), against a
//! local server that answers by path with canned bodies from `tests/fixtures/books/`.

// The test binary links every dependency of the crate but uses only a few directly.
#![allow(unused_crate_dependencies)]

use chrono::{DateTime, Utc};
use domain::{Decimal, Listing, Ticker, Venue};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use venues::{BinancePrice, BithumbApi, ErrorClass, FetchError, VenueOptions, plain_listing};

mod routed;

use routed::{assert_class, client, client_with, coin, listing, serve, serve_routes};

fn fixture(name: &str) -> String {
    routed::fixture("books", name)
}

fn plain(venue: Venue, c: &str) -> Listing {
    plain_listing(venue, &coin(c))
}

fn okx_listing(c: &str, ct_val: Decimal) -> Listing {
    let mut l = plain(Venue::Okx, c);
    l.instrument.contract_value = Some(ct_val);
    l
}

fn ticker<'a>(tickers: &'a [Ticker], c: &str) -> &'a Ticker {
    tickers
        .iter()
        .find(|t| t.coin.as_str() == c)
        .unwrap_or_else(|| panic!("no ticker for {c}: {tickers:?}"))
}

/// (bid, bid_qty, ask, ask_qty) of a ticker's book.
fn top(t: &Ticker) -> (Decimal, Decimal, Decimal, Decimal) {
    let b = t
        .book
        .unwrap_or_else(|| panic!("{} has no book: {:?}", t.coin, t.book_error));
    (b.bid.value(), b.bid_qty, b.ask.value(), b.ask_qty)
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

// ------------------------------------------------------------------------------------------
// Korean books

#[tokio::test]
async fn upbit_books_drop_zero_padding_and_refuse_crossed_or_one_sided_books() {
    let server = serve_routes(&[
        ("/v1/ticker/all", 200, fixture("upbit_ticker.json")),
        ("/v1/orderbook", 200, fixture("upbit_orderbook.json")),
    ])
    .await;
    let listings: Vec<Listing> = ["BTC", "ETH", "XRP", "NOPE"]
        .iter()
        .map(|c| plain(Venue::Upbit, c))
        .collect();
    let client = client(Venue::Upbit, &server);
    let batch = client.fetch_tickers(&listings).await.unwrap();
    assert_eq!(
        server.seen(),
        [
            "/v1/ticker/all?quote_currencies=KRW",
            "/v1/orderbook?markets=KRW-BTC,KRW-ETH,KRW-XRP"
        ],
        "books only for the priced markets"
    );
    assert!(server.seen().len() <= client.requests_per_fetch(listings.len()) as usize);
    let btc = ticker(&batch.tickers, "BTC");
    assert_eq!(
        top(btc),
        (dec!(162876000), dec!(0.1), dec!(162877000), dec!(0.25))
    );
    assert_eq!(btc.book_error, None);

    let eth = ticker(&batch.tickers, "ETH");
    assert_eq!(eth.book, None);
    assert_eq!(
        eth.book_error.as_deref(),
        Some("crossed book: bid 5313000 ≥ ask 5312000")
    );
    assert_eq!(
        eth.price.value(),
        dec!(5312000),
        "the last price stays usable"
    );

    let xrp = ticker(&batch.tickers, "XRP");
    assert_eq!(xrp.book, None);
    assert_eq!(xrp.book_error.as_deref(), Some("ask side is empty"));
    assert_eq!(xrp.price.value(), dec!(4200));

    assert_eq!(batch.failures.len(), 1, "NOPE is unlisted");
    for t in &batch.tickers {
        assert_eq!(t.funding, None, "no funding on a spot venue");
    }
}

#[tokio::test]
async fn bithumb_books_skip_size_zero_dust() {
    let server = serve(|path| {
        if path.starts_with("/v1/orderbook") {
            (200, fixture("bithumb_orderbook.json"))
        } else {
            let now = Utc::now().timestamp_millis();
            let body = json!([{"market":"KRW-BTC","trade_price":37500000.0,
                "trade_timestamp":now,"timestamp":now}]);
            (200, body.to_string())
        }
    })
    .await;
    let batch = client(Venue::Bithumb, &server)
        .fetch_tickers(&[plain(Venue::Bithumb, "BTC")])
        .await
        .unwrap();
    assert_eq!(
        top(&batch.tickers[0]),
        (dec!(37500000), dec!(0.5), dec!(37502000), dec!(1))
    );
}

/// A Bithumb `/v1/ticker` or `/v1/orderbook` body for the requested markets.
fn bithumb_body(path: &str) -> String {
    let markets = path
        .split("markets=")
        .nth(1)
        .unwrap_or_default()
        .split('&')
        .next()
        .unwrap_or_default();
    let now = Utc::now().timestamp_millis();
    let book = path.starts_with("/v1/orderbook");
    let rows: Vec<Value> = markets
        .split(',')
        .filter(|m| !m.is_empty())
        .map(|m| {
            if book {
                json!({"market": m, "timestamp": now, "orderbook_units": [
                    {"ask_price": 1001.0, "bid_price": 999.0, "ask_size": 2.0, "bid_size": 3.0},
                    {"ask_price": 0, "bid_price": 0, "ask_size": 0, "bid_size": 0}]})
            } else {
                json!({"market": m, "trade_price": 1000.0, "trade_timestamp": now,
                    "timestamp": now})
            }
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
        .map(|i| plain(Venue::Bithumb, &format!("C{i:03}")))
        .collect()
}

#[tokio::test]
async fn bithumb_450_listings_fetch_tickers_and_books_in_chunks_of_200() {
    let server = serve(|path| (200, bithumb_body(path))).await;
    let client = client(Venue::Bithumb, &server);
    let listings = bithumb_listings(450);
    let batch = client.fetch_tickers(&listings).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len() as u32, client.requests_per_fetch(450));
    assert_eq!(client.requests_per_fetch(450), 6);
    let books: Vec<usize> = seen
        .iter()
        .filter(|p| p.starts_with("/v1/orderbook?markets="))
        .map(|p| markets_in(p))
        .collect();
    assert_eq!(books, [200, 200, 50]);
    assert_eq!(batch.tickers.len(), 450);
    for t in &batch.tickers {
        assert_eq!(top(t), (dec!(999), dec!(3), dec!(1001), dec!(2)));
    }
}

#[tokio::test]
async fn a_failing_orderbook_call_leaves_the_tickers_intact() {
    for (status, body, mentions) in [
        (503, "busy".to_string(), "HTTP 503"),
        (
            200,
            r#"{"error":{"name":404,"message":"Code not found"}}"#.to_string(),
            "Code not found",
        ),
        (200, "<html>".to_string(), "malformed"),
    ] {
        let server = serve(move |path| {
            if path.starts_with("/v1/orderbook") {
                (status, body.clone())
            } else {
                (200, bithumb_body(path))
            }
        })
        .await;
        let batch = client(Venue::Bithumb, &server)
            .fetch_tickers(&bithumb_listings(3))
            .await
            .unwrap();
        assert_eq!(batch.tickers.len(), 3);
        assert!(batch.failures.is_empty());
        for t in &batch.tickers {
            assert_eq!(t.price.value(), dec!(1000));
            assert_eq!(t.book, None);
            let reason = t.book_error.as_deref().expect("the reason is kept");
            assert!(reason.contains(mentions), "{reason}");
        }
    }

    // Upbit: the same when its one orderbook call fails.
    let server = serve_routes(&[("/v1/ticker/all", 200, fixture("upbit_ticker.json"))]).await;
    let batch = client(Venue::Upbit, &server)
        .fetch_tickers(&[plain(Venue::Upbit, "BTC")])
        .await
        .unwrap();
    assert_eq!(batch.tickers[0].price.value(), dec!(162876000));
    assert!(
        batch.tickers[0]
            .book_error
            .as_deref()
            .unwrap()
            .contains("404")
    );
}

#[tokio::test]
async fn bithumb_legacy_books_come_from_the_v1_orderbook() {
    let server = serve(|path| {
        if path.starts_with("/v1/orderbook") {
            (200, fixture("bithumb_orderbook.json"))
        } else {
            let body = json!({"status":"0000","data":{
                "BTC":{"closing_price":"37500000"},"date": Utc::now().timestamp_millis().to_string()}});
            (200, body.to_string())
        }
    })
    .await;
    let legacy = VenueOptions {
        bithumb_api: BithumbApi::Legacy,
        ..VenueOptions::default()
    };
    let batch = client_with(Venue::Bithumb, &server, legacy)
        .fetch_tickers(&[plain(Venue::Bithumb, "BTC")])
        .await
        .unwrap();
    assert_eq!(top(&batch.tickers[0]).2, dec!(37502000));
}

// ------------------------------------------------------------------------------------------
// Binance

fn binance_routes() -> Vec<(&'static str, u16, String)> {
    vec![
        (
            "/fapi/v1/premiumIndex",
            200,
            fixture("binance_premium_index.json"),
        ),
        (
            "/fapi/v1/ticker/price",
            200,
            fixture("binance_ticker_price.json"),
        ),
        (
            "/fapi/v1/ticker/bookTicker",
            200,
            fixture("binance_book_ticker.json"),
        ),
        (
            "/fapi/v1/fundingInfo",
            200,
            fixture("binance_funding_info.json"),
        ),
        (
            "/fapi/v1/exchangeInfo",
            200,
            std::fs::read_to_string(format!(
                "{}/tests/fixtures/markets/binance_exchange_info.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        ),
    ]
}

fn binance_listings() -> Vec<Listing> {
    vec![
        plain(Venue::Binance, "BTC"),
        listing(Venue::Binance, "PEPE", "1000PEPEUSDT", dec!(1000)),
        plain(Venue::Binance, "ETH"),
    ]
}

#[tokio::test]
async fn binance_books_are_per_coin_and_funding_intervals_come_from_funding_info() {
    let server = serve_routes(&binance_routes()).await;
    let client = client(Venue::Binance, &server);
    let listings = binance_listings();

    // Before any market refresh the interval is unknown.
    let batch = client.fetch_tickers(&listings).await.unwrap();
    assert_eq!(
        server.seen(),
        ["/fapi/v1/premiumIndex", "/fapi/v1/ticker/bookTicker"]
    );
    assert_eq!(client.requests_per_fetch(3), 2);
    assert_eq!(
        ticker(&batch.tickers, "BTC")
            .funding
            .unwrap()
            .interval_hours,
        None
    );

    client.fetch_markets().await.unwrap();
    let batch = client.fetch_tickers(&listings).await.unwrap();
    let btc = ticker(&batch.tickers, "BTC");
    assert_eq!(top(btc), (dec!(60000), dec!(2.5), dec!(60000.1), dec!(1.2)));
    let f = btc.funding.unwrap();
    assert_eq!(f.rate, dec!(0.0001));
    assert_eq!(f.next_funding_at, at_ms(1790150400000));
    assert_eq!(f.interval_hours, Some(8), "not in fundingInfo: 8 h");

    let pepe = ticker(&batch.tickers, "PEPE");
    assert_eq!(pepe.price.value(), dec!(0.000009895));
    assert_eq!(
        top(pepe),
        (
            dec!(0.000009894),
            dec!(804200000),
            dec!(0.000009895),
            dec!(1460100000)
        ),
        "1000PEPEUSDT per coin: prices ÷ 1000, sizes × 1000"
    );
    let f = pepe.funding.unwrap();
    assert_eq!(f.rate, dec!(-0.00025));
    assert_eq!(f.next_funding_at, at_ms(1790136000000));
    assert_eq!(f.interval_hours, Some(4), "from fundingInfo");

    let eth = ticker(&batch.tickers, "ETH");
    assert_eq!(eth.book, None);
    assert!(
        eth.book_error
            .as_deref()
            .unwrap()
            .starts_with("crossed book")
    );
    assert_eq!(eth.price.value(), dec!(3000));
}

#[tokio::test]
async fn binance_last_mode_reads_funding_from_a_third_request() {
    let server = serve_routes(&binance_routes()).await;
    let last = VenueOptions {
        binance_price: BinancePrice::Last,
        ..VenueOptions::default()
    };
    let client = client_with(Venue::Binance, &server, last);
    let batch = client.fetch_tickers(&binance_listings()).await.unwrap();
    assert_eq!(
        server.seen(),
        [
            "/fapi/v1/ticker/price",
            "/fapi/v1/ticker/bookTicker",
            "/fapi/v1/premiumIndex"
        ]
    );
    assert_eq!(client.requests_per_fetch(3), 3);
    let pepe = ticker(&batch.tickers, "PEPE");
    assert_eq!(pepe.price.value(), dec!(0.000009894));
    assert_eq!(pepe.funding.unwrap().rate, dec!(-0.00025));
    assert!(pepe.book.is_some());
}

#[tokio::test]
async fn a_failing_book_ticker_leaves_binance_prices_and_funding() {
    let mut routes = binance_routes();
    routes.retain(|r| r.0 != "/fapi/v1/ticker/bookTicker");
    let server = serve_routes(&routes).await;
    let batch = client(Venue::Binance, &server)
        .fetch_tickers(&binance_listings())
        .await
        .unwrap();
    assert_eq!(batch.tickers.len(), 3);
    let btc = ticker(&batch.tickers, "BTC");
    assert_eq!(btc.book, None);
    assert!(btc.book_error.as_deref().unwrap().contains("HTTP 404"));
    assert!(btc.funding.is_some());
}

// ------------------------------------------------------------------------------------------
// Bybit and OKX

#[tokio::test]
async fn bybit_books_and_funding_come_from_the_ticker_rows() {
    let server = serve_routes(&[("/v5/market/tickers", 200, fixture("bybit_tickers.json"))]).await;
    let listings = [
        listing(Venue::Bybit, "PEPE", "1000PEPEUSDT", dec!(1000)),
        plain(Venue::Bybit, "BTC"),
        plain(Venue::Bybit, "ETH"),
    ];
    let client = client(Venue::Bybit, &server);
    let batch = client.fetch_tickers(&listings).await.unwrap();
    assert_eq!(server.seen().len(), 1, "no extra request");
    assert_eq!(client.requests_per_fetch(3), 1);
    let pepe = ticker(&batch.tickers, "PEPE");
    assert_eq!(
        top(pepe),
        (
            dec!(0.000009894),
            dec!(804200000),
            dec!(0.000009895),
            dec!(1460100000)
        )
    );
    let f = pepe.funding.unwrap();
    assert_eq!(
        (f.rate, f.next_funding_at, f.interval_hours),
        (dec!(0.0001), at_ms(1760371200000), Some(4))
    );
    let btc = ticker(&batch.tickers, "BTC");
    assert_eq!(top(btc), (dec!(60000), dec!(1.5), dec!(60000.1), dec!(2)));
    assert_eq!(btc.funding.unwrap().rate, dec!(-0.00005));
    assert_eq!(btc.funding.unwrap().interval_hours, Some(8));
    let eth = ticker(&batch.tickers, "ETH");
    assert_eq!(eth.book, None);
    assert!(
        eth.book_error
            .as_deref()
            .unwrap()
            .starts_with("crossed book")
    );
}

#[tokio::test]
async fn okx_book_sizes_are_contracts_times_ct_val_and_funding_is_one_call() {
    let server = serve_routes(&[
        ("/api/v5/market/tickers", 200, fixture("okx_tickers.json")),
        (
            "/api/v5/public/funding-rate",
            200,
            fixture("okx_funding.json"),
        ),
    ])
    .await;
    let listings = [
        okx_listing("BTC", dec!(0.01)),
        okx_listing("PEPE", dec!(10000000)),
        okx_listing("NEW", dec!(1)),
    ];
    let client = client(Venue::Okx, &server);
    let batch = client.fetch_tickers(&listings).await.unwrap();
    assert_eq!(
        server.seen(),
        [
            "/api/v5/market/tickers?instType=SWAP",
            "/api/v5/public/funding-rate?instId=ANY"
        ]
    );
    assert_eq!(client.requests_per_fetch(3), 2);
    let btc = ticker(&batch.tickers, "BTC");
    assert_eq!(top(btc), (dec!(60000.1), dec!(2), dec!(60000.2), dec!(1.5)));
    let f = btc.funding.unwrap();
    assert_eq!(f.rate, dec!(0.0000182221218054));
    assert_eq!(f.next_funding_at, at_ms(1743609600000), "fundingTime");
    assert_eq!(f.interval_hours, Some(8), "nextFundingTime − fundingTime");
    let pepe = ticker(&batch.tickers, "PEPE");
    assert_eq!(
        top(pepe),
        (
            dec!(0.0000099),
            dec!(50000000),
            dec!(0.00000991),
            dec!(120000000)
        )
    );
    assert_eq!(pepe.funding.unwrap().interval_hours, Some(4));
    // Pre-open: a crossed BBO is no book, the last price stays.
    let new = ticker(&batch.tickers, "NEW");
    assert_eq!(new.book, None);
    assert_eq!(
        new.book_error.as_deref(),
        Some("crossed book: bid 1.10 ≥ ask 1.00")
    );
    assert_eq!(new.price.value(), dec!(1.05));
    assert_eq!(new.funding, None, "not in the funding answer");
}

#[tokio::test]
async fn a_failing_okx_funding_call_leaves_prices_and_books() {
    let server = serve_routes(&[
        ("/api/v5/market/tickers", 200, fixture("okx_tickers.json")),
        (
            "/api/v5/public/funding-rate",
            200,
            r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#.to_string(),
        ),
    ])
    .await;
    let batch = client(Venue::Okx, &server)
        .fetch_tickers(&[okx_listing("BTC", dec!(0.01))])
        .await
        .unwrap();
    assert!(batch.tickers[0].book.is_some());
    assert_eq!(batch.tickers[0].funding, None);
}

// ------------------------------------------------------------------------------------------
// Depth

async fn depth(
    venue: Venue,
    routes: &[(&'static str, u16, String)],
    listing: &Listing,
    levels: usize,
) -> (Result<domain::Depth, FetchError>, Vec<String>) {
    let server = serve_routes(routes).await;
    let got = client(venue, &server).fetch_depth(listing, levels).await;
    (got, server.seen())
}

fn levels(side: &[domain::Level]) -> Vec<(Decimal, Decimal)> {
    side.iter().map(|l| (l.price.value(), l.qty)).collect()
}

#[tokio::test]
async fn upbit_and_bithumb_depth_drop_padding() {
    for venue in [Venue::Upbit, Venue::Bithumb] {
        let (d, seen) = depth(
            venue,
            &[("/v1/orderbook", 200, fixture("upbit_depth.json"))],
            &plain(venue, "BTC"),
            30,
        )
        .await;
        let d = d.unwrap();
        assert_eq!(seen, ["/v1/orderbook?markets=KRW-BTC"]);
        assert_eq!(
            levels(&d.bids),
            [
                (dec!(116538000), dec!(0.08120946)),
                (dec!(116537000), dec!(0.01129382))
            ]
        );
        assert_eq!(d.asks.len(), 3);
        assert_eq!(d.asks[2].price.value(), dec!(116550000));
    }
    // Fewer levels than the venue sent.
    let (d, _) = depth(
        Venue::Upbit,
        &[("/v1/orderbook", 200, fixture("upbit_depth.json"))],
        &plain(Venue::Upbit, "BTC"),
        1,
    )
    .await;
    let d = d.unwrap();
    assert_eq!((d.bids.len(), d.asks.len()), (1, 1));
}

#[tokio::test]
async fn korean_depth_errors_are_classified() {
    let l = plain(Venue::Upbit, "NOPE");
    let (e, _) = depth(
        Venue::Upbit,
        &[(
            "/v1/orderbook",
            404,
            r#"{"error":{"name":404,"message":"Code not found"}}"#.into(),
        )],
        &l,
        30,
    )
    .await;
    assert_class(&e.unwrap_err(), ErrorClass::Client, false);
    let (e, _) = depth(
        Venue::Bithumb,
        &[(
            "/v1/orderbook",
            200,
            r#"{"error":{"name":404,"message":"Code not found"}}"#.into(),
        )],
        &plain(Venue::Bithumb, "NOPE"),
        30,
    )
    .await;
    let e = e.unwrap_err();
    assert_class(&e, ErrorClass::Api, false);
    assert!(e.to_string().contains("Code not found"));
    let (e, _) = depth(Venue::Upbit, &[("/v1/orderbook", 200, "[]".into())], &l, 30).await;
    assert_class(&e.unwrap_err(), ErrorClass::UnknownSymbol, false);
    let (e, _) = depth(Venue::Upbit, &[("/v1/orderbook", 429, "".into())], &l, 30).await;
    assert_class(&e.unwrap_err(), ErrorClass::RateLimited, true);
}

#[tokio::test]
async fn binance_depth_uses_the_nearest_allowed_limit_and_is_per_coin() {
    let l = listing(Venue::Binance, "PEPE", "1000PEPEUSDT", dec!(1000));
    let (d, seen) = depth(
        Venue::Binance,
        &[("/fapi/v1/depth", 200, fixture("binance_depth.json"))],
        &l,
        7,
    )
    .await;
    assert_eq!(seen, ["/fapi/v1/depth?symbol=1000PEPEUSDT&limit=10"]);
    let d = d.unwrap();
    assert_eq!(
        levels(&d.bids),
        [
            (dec!(0.000009894), dec!(804200000)),
            (dec!(0.000009893), dec!(1000000000))
        ]
    );
    assert_eq!(levels(&d.asks)[0], (dec!(0.000009895), dec!(1460100000)));
    assert_eq!(venues::binance::depth_limit(1), 5);
    assert_eq!(venues::binance::depth_limit(100), 100);
    assert_eq!(venues::binance::depth_limit(101), 500);
    assert_eq!(venues::binance::depth_limit(5000), 1000);

    for (status, class, retryable) in [
        (400, ErrorClass::Client, false),
        (200, ErrorClass::Api, false),
    ] {
        let (e, _) = depth(
            Venue::Binance,
            &[(
                "/fapi/v1/depth",
                status,
                r#"{"code":-1121,"msg":"Invalid symbol."}"#.into(),
            )],
            &l,
            5,
        )
        .await;
        let e = e.unwrap_err();
        assert_class(&e, class, retryable);
        assert!(e.to_string().contains("-1121"));
    }
    let (e, _) = depth(
        Venue::Binance,
        &[(
            "/fapi/v1/depth",
            200,
            r#"{"bids":[["1"]],"asks":[]}"#.into(),
        )],
        &l,
        5,
    )
    .await;
    assert_class(&e.unwrap_err(), ErrorClass::Malformed, true);
}

#[tokio::test]
async fn bybit_depth_reads_b_and_a() {
    let l = plain(Venue::Bybit, "BTC");
    let (d, seen) = depth(
        Venue::Bybit,
        &[("/v5/market/orderbook", 200, fixture("bybit_orderbook.json"))],
        &l,
        50,
    )
    .await;
    assert_eq!(
        seen,
        ["/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=50"]
    );
    let d = d.unwrap();
    assert_eq!(levels(&d.bids)[0], (dec!(65485.47), dec!(47.081829)));
    assert_eq!(levels(&d.asks)[1], (dec!(65558.0), dec!(2)));

    let (e, _) = depth(
        Venue::Bybit,
        &[(
            "/v5/market/orderbook",
            200,
            r#"{"retCode":10001,"retMsg":"Not supported symbols","result":{},"retExtInfo":{},"time":1726147060461}"#.into(),
        )],
        &l,
        50,
    )
    .await;
    let e = e.unwrap_err();
    assert_class(&e, ErrorClass::Api, false);
    assert!(e.to_string().contains("10001"));
    let (e, _) = depth(
        Venue::Bybit,
        &[("/v5/market/orderbook", 403, "access too frequent".into())],
        &l,
        50,
    )
    .await;
    assert_class(&e.unwrap_err(), ErrorClass::RateLimited, true);
}

#[tokio::test]
async fn okx_depth_sizes_are_contracts_times_ct_val() {
    let l = okx_listing("PEPE", dec!(10000000));
    let (d, seen) = depth(
        Venue::Okx,
        &[("/api/v5/market/books", 200, fixture("okx_books.json"))],
        &l,
        20,
    )
    .await;
    assert_eq!(seen, ["/api/v5/market/books?instId=PEPE-USDT-SWAP&sz=20"]);
    let d = d.unwrap();
    assert_eq!(
        levels(&d.bids),
        [
            (dec!(0.0000099), dec!(50000000)),
            (dec!(0.00000989), dec!(300000000))
        ]
    );
    assert_eq!(levels(&d.asks)[0], (dec!(0.00000991), dec!(120000000)));

    let (e, _) = depth(
        Venue::Okx,
        &[(
            "/api/v5/market/books",
            200,
            r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#.into(),
        )],
        &l,
        20,
    )
    .await;
    let e = e.unwrap_err();
    assert_class(&e, ErrorClass::Api, false);
    assert!(e.to_string().contains("51001"));
    let (e, _) = depth(
        Venue::Okx,
        &[(
            "/api/v5/market/books",
            429,
            r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#.into(),
        )],
        &l,
        20,
    )
    .await;
    assert_class(&e.unwrap_err(), ErrorClass::RateLimited, true);
    // A crossed book is an invalid price, not a malformed body.
    let crossed = r#"{"code":"0","msg":"","data":[{"asks":[["1.0","1","0","1"]],"bids":[["1.1","1","0","1"]],"ts":"1790134742106"}]}"#;
    let (e, _) = depth(
        Venue::Okx,
        &[("/api/v5/market/books", 200, crossed.into())],
        &l,
        20,
    )
    .await;
    let e = e.unwrap_err();
    assert_class(&e, ErrorClass::InvalidPrice, false);
    assert!(e.to_string().contains("crossed book"), "{e}");
}
