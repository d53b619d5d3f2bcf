//! Every venue and FX client against a canned local server: success, rate limits, server
//! errors, timeouts, malformed bodies, bad prices, the venue's own error bodies, unlisted coins
//! and refused connections. Each client is described once by a [`Spec`]; the behaviours are
//! generated for all of them by `client_tests!`.

// The test binary links every dependency of the crate but uses only a few directly.
#![allow(unused_crate_dependencies)]

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{FxSource, Venue};
use support::{Canned, FX_COIN, PREFIX, Target, USER_AGENT, refused_base_url, serve};
use venues::{BinancePrice, BithumbApi, ErrorClass, FetchError, VenueOptions};

const TIMEOUT: Duration = Duration::from_secs(5);
const SHORT_TIMEOUT: Duration = Duration::from_millis(200);

/// A response the venue documents as an error, and how it must be classified.
struct ErrorCase {
    fixture: &'static str,
    status: u16,
    class: ErrorClass,
    retryable: bool,
    /// Text the error message must carry (the venue's code or message).
    mentions: &'static str,
}

/// One client under test.
struct Spec {
    target: Target,
    /// Fixture folder under `tests/fixtures/`.
    dir: &'static str,
    /// Coins asked for; the last one is not in `ok.json` for venue clients.
    coins: &'static [&'static str],
    /// The exact request the client must send first (after the base URL's path prefix).
    request: &'static str,
    /// The book / funding requests that follow it, in order (each answered here with the
    /// ticker body, which fails them without failing the tickers).
    extra: &'static [&'static str],
    /// (coin, price as written by the venue, venue quote time in ms) parsed from `ok.json`.
    /// The fixtures' times are long past, so venue clients report them as clock skew and use
    /// the receipt time as `observed_at`; FX sources keep their own time.
    expected: &'static [(&'static str, &'static str, i64)],
    /// The coin priced 0 in `zero_price.json` and the error it must give.
    zero: (&'static str, &'static str),
    /// The coin missing from `ok.json` and the venue symbol the error names.
    unlisted: Option<(&'static str, &'static str)>,
    errors: &'static [ErrorCase],
}

const KOREAN_COINS: &[&str] = &["BTC", "ETH", "USDT", "XYZ"];
const FOREIGN_COINS: &[&str] = &["BTC", "ETH", "XYZ"];

fn venue(venue: Venue) -> Target {
    Target::Venue(venue, VenueOptions::default())
}

fn upbit() -> Spec {
    Spec {
        target: venue(Venue::Upbit),
        dir: "upbit",
        coins: KOREAN_COINS,
        request: "/v1/ticker/all?quote_currencies=KRW",
        extra: &["/v1/orderbook?markets=KRW-BTC,KRW-ETH,KRW-USDT"],
        // The snapshot `timestamp`, not `trade_timestamp`.
        expected: &[
            ("BTC", "162876000", 1753894995113),
            ("ETH", "5312000", 1753894995200),
            ("USDT", "1387.5", 1753894995300),
        ],
        zero: (
            "BTC",
            "upbit KRW-BTC trade_price: price must be positive, got 0.0",
        ),
        unlisted: Some(("XYZ", "KRW-XYZ")),
        errors: &[
            ErrorCase {
                fixture: "error_404.json",
                status: 404,
                class: ErrorClass::Client,
                retryable: false,
                mentions: "404: Code not found",
            },
            ErrorCase {
                fixture: "error_400.json",
                status: 400,
                class: ErrorClass::Client,
                retryable: false,
                mentions: "invalid_query_payload: Invalid query payload",
            },
            ErrorCase {
                fixture: "error_400.json",
                status: 200,
                class: ErrorClass::Api,
                retryable: false,
                mentions: "invalid_query_payload",
            },
        ],
    }
}

fn bithumb_v1() -> Spec {
    Spec {
        target: venue(Venue::Bithumb),
        dir: "bithumb_v1",
        coins: KOREAN_COINS,
        request: "/v1/ticker?markets=KRW-BTC,KRW-ETH,KRW-USDT,KRW-XYZ",
        extra: &["/v1/orderbook?markets=KRW-BTC,KRW-ETH,KRW-USDT"],
        expected: &[
            // The snapshot `timestamp` (quote time), not `trade_timestamp`.
            ("BTC", "37500000", 1696161600000),
            ("ETH", "2250000.5", 1696161601500),
            ("USDT", "1331", 1696161602000),
        ],
        zero: (
            "BTC",
            "bithumb KRW-BTC trade_price: price must be positive, got 0",
        ),
        unlisted: Some(("XYZ", "KRW-XYZ")),
        // "Code not found" names an unlisted market: per-coin failures, not a request error
        // (`markets.rs` tests it); a refused request is an error.
        errors: &[ErrorCase {
            fixture: "error_400.json",
            status: 400,
            class: ErrorClass::Client,
            retryable: false,
            mentions: "less than or equal to 200 items",
        }],
    }
}

fn bithumb_legacy() -> Spec {
    Spec {
        target: Target::Venue(
            Venue::Bithumb,
            VenueOptions {
                bithumb_api: BithumbApi::Legacy,
                ..VenueOptions::default()
            },
        ),
        dir: "bithumb_legacy",
        coins: KOREAN_COINS,
        request: "/public/ticker/ALL_KRW",
        extra: &["/v1/orderbook?markets=KRW-BTC,KRW-ETH,KRW-USDT"],
        expected: &[
            ("BTC", "63651000", 1619687597790),
            ("ETH", "3005000", 1619687597790),
            ("USDT", "1215.5", 1619687597790),
        ],
        zero: (
            "BTC",
            "bithumb BTC_KRW closing_price: price must be positive, got 0",
        ),
        unlisted: Some(("XYZ", "XYZ_KRW")),
        errors: &[
            ErrorCase {
                fixture: "error_5600.json",
                status: 200,
                class: ErrorClass::Api,
                retryable: false,
                mentions: "bithumb error 5600: Please try again",
            },
            ErrorCase {
                fixture: "error_5900.json",
                status: 200,
                class: ErrorClass::Api,
                retryable: true,
                mentions: "5900",
            },
        ],
    }
}

fn binance_mark() -> Spec {
    Spec {
        target: venue(Venue::Binance),
        dir: "binance_mark",
        coins: FOREIGN_COINS,
        request: "/fapi/v1/premiumIndex",
        extra: &["/fapi/v1/ticker/bookTicker"],
        expected: &[
            ("BTC", "11793.63104562", 1597370495002),
            ("ETH", "391.71", 1597370495003),
        ],
        zero: (
            "BTC",
            "binance BTCUSDT markPrice: price must be positive, got 0.00000000",
        ),
        unlisted: Some(("XYZ", "XYZUSDT")),
        errors: &[
            ErrorCase {
                fixture: "error_451.json",
                status: 451,
                class: ErrorClass::Client,
                retryable: false,
                mentions: "restricted location",
            },
            ErrorCase {
                fixture: "error_1121.json",
                status: 400,
                class: ErrorClass::Client,
                retryable: false,
                mentions: "-1121: Invalid symbol.",
            },
            ErrorCase {
                fixture: "error_1121.json",
                status: 200,
                class: ErrorClass::Api,
                retryable: false,
                mentions: "binance error -1121: Invalid symbol.",
            },
        ],
    }
}

fn binance_last() -> Spec {
    Spec {
        target: Target::Venue(
            Venue::Binance,
            VenueOptions {
                binance_price: BinancePrice::Last,
                ..VenueOptions::default()
            },
        ),
        dir: "binance_last",
        coins: FOREIGN_COINS,
        request: "/fapi/v1/ticker/price",
        extra: &["/fapi/v1/ticker/bookTicker", "/fapi/v1/premiumIndex"],
        expected: &[
            ("BTC", "6000.01", 1589437530011),
            ("ETH", "200.5", 1589437530012),
        ],
        zero: (
            "BTC",
            "binance BTCUSDT price: price must be positive, got 0",
        ),
        unlisted: Some(("XYZ", "XYZUSDT")),
        errors: &[ErrorCase {
            fixture: "../binance_mark/error_1121.json",
            status: 400,
            class: ErrorClass::Client,
            retryable: false,
            mentions: "-1121",
        }],
    }
}

fn bybit() -> Spec {
    Spec {
        target: venue(Venue::Bybit),
        dir: "bybit",
        coins: FOREIGN_COINS,
        request: "/v5/market/tickers?category=linear",
        extra: &[],
        // Mark prices (the Binance default); the response's `time` for every symbol.
        expected: &[
            ("BTC", "16596", 1672376496682),
            ("ETH", "1195.05", 1672376496682),
        ],
        zero: (
            "BTC",
            "bybit BTCUSDT markPrice: price must be positive, got 0",
        ),
        unlisted: Some(("XYZ", "XYZUSDT")),
        errors: &[
            ErrorCase {
                fixture: "error_10006.json",
                status: 200,
                class: ErrorClass::Api,
                retryable: true,
                mentions: "bybit error 10006: Too many visits!",
            },
            ErrorCase {
                fixture: "error_10001.json",
                status: 200,
                class: ErrorClass::Api,
                retryable: false,
                mentions: "10001",
            },
        ],
    }
}

fn okx() -> Spec {
    Spec {
        target: venue(Venue::Okx),
        dir: "okx",
        coins: FOREIGN_COINS,
        request: "/api/v5/market/tickers?instType=SWAP",
        extra: &["/api/v5/public/funding-rate?instId=ANY"],
        expected: &[
            ("BTC", "9999.99", 1597026383085),
            ("ETH", "350.12", 1597026383090),
        ],
        zero: (
            "BTC",
            "okx BTC-USDT-SWAP last: price must be positive, got 0",
        ),
        unlisted: Some(("XYZ", "XYZ-USDT-SWAP")),
        errors: &[
            ErrorCase {
                fixture: "error_50011.json",
                status: 200,
                class: ErrorClass::Api,
                retryable: true,
                mentions: "okx error 50011: Too Many Requests",
            },
            ErrorCase {
                fixture: "error_51001.json",
                status: 200,
                class: ErrorClass::Api,
                retryable: false,
                mentions: "51001",
            },
        ],
    }
}

fn dunamu() -> Spec {
    Spec {
        target: Target::Fx(FxSource::Dunamu),
        dir: "dunamu",
        coins: &[],
        request: "/v1/forex/recent?codes=FRX.KRWUSD",
        extra: &[],
        expected: &[(FX_COIN, "1304.5", 1690948259137)],
        zero: (
            FX_COIN,
            "dunamu FRX.KRWUSD basePrice: price must be positive, got 0",
        ),
        unlisted: None,
        errors: &[ErrorCase {
            fixture: "empty.json",
            status: 200,
            class: ErrorClass::Malformed,
            retryable: true,
            mentions: "no FRX.KRWUSD",
        }],
    }
}

fn erapi() -> Spec {
    Spec {
        target: Target::Fx(FxSource::Erapi),
        dir: "erapi",
        coins: &[],
        request: "/v6/latest/USD",
        extra: &[],
        expected: &[(FX_COIN, "1391.2", 1757462551000)],
        zero: (
            FX_COIN,
            "erapi USD/KRW rates.KRW: price must be positive, got 0",
        ),
        unlisted: None,
        errors: &[ErrorCase {
            fixture: "error_unsupported_code.json",
            status: 200,
            class: ErrorClass::Api,
            retryable: false,
            mentions: "erapi error error: unsupported-code",
        }],
    }
}

fn frankfurter() -> Spec {
    Spec {
        target: Target::Fx(FxSource::Frankfurter),
        dir: "frankfurter",
        coins: &[],
        request: "/v1/latest?base=USD&symbols=KRW",
        extra: &[],
        // 2024-11-25 at 16:00 CET = 15:00 UTC.
        expected: &[(FX_COIN, "1398.5", 1732546800000)],
        zero: (
            FX_COIN,
            "frankfurter USD/KRW rates.KRW: price must be positive, got 0",
        ),
        unlisted: None,
        errors: &[ErrorCase {
            fixture: "error_404.json",
            status: 404,
            class: ErrorClass::Client,
            retryable: false,
            mentions: "error: not found",
        }],
    }
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn assert_class(err: &FetchError, class: ErrorClass, retryable: bool) {
    assert_eq!(err.class(), class, "{err}");
    assert_eq!(err.is_retryable(), retryable, "{err}");
    let text = err.to_string();
    assert!(
        !text.contains('?') && !text.contains("http://"),
        "error messages carry no URL or query string: {text}"
    );
}

async fn fetch_canned(
    spec: &Spec,
    canned: Canned,
    timeout: Duration,
) -> Result<support::Outcome, FetchError> {
    let server = serve(canned).await;
    spec.target
        .fetch(&server.base_url, timeout, spec.coins)
        .await
}

async fn expect_err(spec: &Spec, canned: Canned, timeout: Duration) -> FetchError {
    match fetch_canned(spec, canned, timeout).await {
        Ok(outcome) => panic!("{}: expected an error, got {outcome:?}", spec.dir),
        Err(e) => e,
    }
}

async fn parses_prices_exactly(spec: Spec) {
    let server = serve(Canned::fixture(200, spec.dir, "ok.json")).await;
    let outcome = spec
        .target
        .fetch(&server.base_url, TIMEOUT, spec.coins)
        .await
        .unwrap();
    let got: Vec<_> = outcome
        .rows
        .iter()
        .map(|r| (r.coin.as_str(), r.price.to_string(), r.observed_at))
        .collect();
    let want: Vec<_> = spec
        .expected
        .iter()
        .map(|(coin, price, ms)| (*coin, price.to_string(), at_ms(*ms)))
        .collect();
    assert_eq!(got, want);
    if matches!(spec.target, Target::Venue(..)) {
        // The fixtures' times are years old and seen once: old data, not a skewed clock, so
        // they stand (the quotes are stale) and no skew is measured.
        assert_eq!(outcome.clock_skew_ms, None);
    }
    let seen = server.seen.lock().unwrap().clone();
    let want: Vec<String> = std::iter::once(spec.request)
        .chain(spec.extra.iter().copied())
        .map(|r| format!("{PREFIX}{r}"))
        .collect();
    let got: Vec<&str> = seen.iter().map(|s| s.path_and_query.as_str()).collect();
    assert_eq!(got, want, "the price request first, then books and funding");
    if let Target::Venue(venue, opts) = &spec.target {
        let client = venues::venue_client(*venue, support::config(&server.base_url, TIMEOUT), opts);
        assert_eq!(
            client.requests_per_fetch(spec.coins.len()) as usize,
            seen.len(),
            "requests_per_fetch counts every request"
        );
    }
    assert!(seen.iter().all(|s| s.user_agent == USER_AGENT));
}

async fn unlisted_coin_fails_alone(spec: Spec) {
    let (coin, symbol) = spec.unlisted.expect("venue specs name an unlisted coin");
    let outcome = fetch_canned(&spec, Canned::fixture(200, spec.dir, "ok.json"), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(outcome.rows.len(), spec.expected.len());
    let [(failed, err)] = &outcome.failures[..] else {
        panic!("exactly one failure expected: {:?}", outcome.failures)
    };
    assert_eq!(failed, coin);
    assert_class(err, ErrorClass::UnknownSymbol, false);
    assert!(err.to_string().contains(symbol), "{err}");
}

async fn rate_limited_with_retry_after(spec: Spec) {
    let canned = Canned::new(429, r#"{"error":"too many requests"}"#).header("retry-after", "3");
    let err = expect_err(&spec, canned, TIMEOUT).await;
    assert_class(&err, ErrorClass::RateLimited, true);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
}

async fn server_error_is_retryable(spec: Spec) {
    let canned = Canned::new(
        503,
        "<html><body>503 Service Temporarily Unavailable</body></html>",
    );
    let err = expect_err(&spec, canned, TIMEOUT).await;
    assert_class(&err, ErrorClass::Server, true);
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_eq!(err.retry_after(), None);
}

async fn slow_response_times_out(spec: Spec) {
    let canned = Canned::fixture(200, spec.dir, "ok.json").delayed(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let err = expect_err(&spec, canned, SHORT_TIMEOUT).await;
    assert_class(&err, ErrorClass::Timeout, true);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the client gave up at its timeout"
    );
}

async fn malformed_body_is_malformed(spec: Spec) {
    let err = expect_err(&spec, Canned::new(200, r#"{"truncated": [1, 2"#), TIMEOUT).await;
    assert_class(&err, ErrorClass::Malformed, true);
    let err = expect_err(&spec, Canned::new(200, "<html>maintenance</html>"), TIMEOUT).await;
    assert_class(&err, ErrorClass::Malformed, true);
}

async fn zero_price_is_invalid(spec: Spec) {
    let (coin, message) = spec.zero;
    let canned = Canned::fixture(200, spec.dir, "zero_price.json");
    let err = match (&spec.target, fetch_canned(&spec, canned, TIMEOUT).await) {
        (Target::Fx(_), result) => result.expect_err("a zero FX rate is an error"),
        (Target::Venue(..), result) => {
            let outcome = result.expect("one bad coin does not fail the request");
            let others: Vec<_> = outcome.rows.iter().map(|r| r.coin.as_str()).collect();
            let want: Vec<_> = spec
                .expected
                .iter()
                .map(|e| e.0)
                .filter(|c| *c != coin)
                .collect();
            assert_eq!(others, want, "the other coins still succeed");
            let (_, err) = outcome
                .failures
                .into_iter()
                .find(|(c, _)| c == coin)
                .expect("the zero-priced coin is a failure");
            err
        }
    };
    assert_class(&err, ErrorClass::InvalidPrice, false);
    assert_eq!(err.to_string(), message);
}

async fn error_bodies_are_classified(spec: Spec) {
    assert!(!spec.errors.is_empty());
    for case in spec.errors {
        let err = expect_err(
            &spec,
            Canned::fixture(case.status, spec.dir, case.fixture),
            TIMEOUT,
        )
        .await;
        assert_class(&err, case.class, case.retryable);
        assert!(
            err.to_string().contains(case.mentions),
            "{}/{}: `{err}` should mention `{}`",
            spec.dir,
            case.fixture,
            case.mentions
        );
    }
}

async fn refused_connection_is_connect(spec: Spec) {
    let base_url = refused_base_url().await;
    let err = spec
        .target
        .fetch(&base_url, TIMEOUT, spec.coins)
        .await
        .expect_err("nothing listens");
    assert_class(&err, ErrorClass::Connect, true);
}

/// The behaviours every client has.
macro_rules! common_tests {
    ($spec:ident) => {
        #[tokio::test]
        async fn parses_prices_exactly_with_the_venue_time() {
            super::parses_prices_exactly(super::$spec()).await
        }

        #[tokio::test]
        async fn http_429_is_rate_limited_with_its_retry_after() {
            super::rate_limited_with_retry_after(super::$spec()).await
        }

        #[tokio::test]
        async fn http_5xx_is_a_retryable_server_error() {
            super::server_error_is_retryable(super::$spec()).await
        }

        #[tokio::test]
        async fn a_slow_response_is_a_retryable_timeout() {
            super::slow_response_times_out(super::$spec()).await
        }

        #[tokio::test]
        async fn a_malformed_body_is_a_retryable_malformed_error() {
            super::malformed_body_is_malformed(super::$spec()).await
        }

        #[tokio::test]
        async fn a_zero_price_is_an_invalid_price_naming_venue_coin_and_field() {
            super::zero_price_is_invalid(super::$spec()).await
        }

        #[tokio::test]
        async fn documented_error_bodies_are_classified() {
            super::error_bodies_are_classified(super::$spec()).await
        }

        #[tokio::test]
        async fn a_refused_connection_is_a_retryable_connect_error() {
            super::refused_connection_is_connect(super::$spec()).await
        }
    };
}

/// Venue clients: the common behaviours plus per-coin failures for unlisted coins.
macro_rules! venue_tests {
    ($($spec:ident),* $(,)?) => {$(
        mod $spec {
            common_tests!($spec);

            #[tokio::test]
            async fn an_unlisted_coin_is_unknown_symbol_while_the_others_succeed() {
                super::unlisted_coin_fails_alone(super::$spec()).await
            }
        }
    )*};
}

macro_rules! fx_tests {
    ($($spec:ident),* $(,)?) => {$(
        mod $spec {
            common_tests!($spec);
        }
    )*};
}

venue_tests!(
    upbit,
    bithumb_v1,
    bithumb_legacy,
    binance_mark,
    binance_last,
    bybit,
    okx
);
fx_tests!(dunamu, erapi, frankfurter);

#[tokio::test]
async fn bybit_403_is_a_ten_minute_rate_limit() {
    let canned = Canned::new(403, "access too frequent");
    let err = expect_err(&bybit(), canned, TIMEOUT).await;
    assert_class(&err, ErrorClass::RateLimited, true);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
}

#[tokio::test]
async fn a_403_elsewhere_is_permanent() {
    let err = expect_err(&binance_mark(), Canned::new(403, "Forbidden"), TIMEOUT).await;
    assert_class(&err, ErrorClass::Client, false);
}

#[tokio::test]
async fn binance_418_ban_reads_an_http_date_retry_after() {
    let until = Utc::now() + chrono::Duration::seconds(120);
    let canned = Canned::fixture(418, "binance_mark", "error_1121.json").header(
        "retry-after",
        until.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    );
    let err = expect_err(&binance_mark(), canned, TIMEOUT).await;
    assert_class(&err, ErrorClass::RateLimited, true);
    let wait = err.retry_after().expect("a ban has a wait");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
}

#[tokio::test]
async fn binance_1003_on_a_4xx_is_a_rate_limit() {
    let body =
        r#"{"code":-1003,"msg":"Too many requests; current limit is 2400 requests per minute."}"#;
    let err = expect_err(&binance_mark(), Canned::new(400, body), TIMEOUT).await;
    assert_class(&err, ErrorClass::RateLimited, true);
}

#[tokio::test]
async fn bybit_last_price_follows_binance_last() {
    let spec = Spec {
        target: Target::Venue(
            Venue::Bybit,
            VenueOptions {
                binance_price: BinancePrice::Last,
                ..VenueOptions::default()
            },
        ),
        expected: &[
            ("BTC", "16597", 1672376496682),
            ("ETH", "1195.1", 1672376496682),
        ],
        ..bybit()
    };
    parses_prices_exactly(spec).await;
}

#[tokio::test]
async fn no_coins_means_no_request() {
    let server = serve(Canned::new(500, "")).await;
    for target in [
        venue(Venue::Upbit),
        venue(Venue::Binance),
        venue(Venue::Okx),
    ] {
        let outcome = target.fetch(&server.base_url, TIMEOUT, &[]).await.unwrap();
        assert!(outcome.rows.is_empty() && outcome.failures.is_empty());
    }
    assert!(server.seen.lock().unwrap().is_empty());
}
