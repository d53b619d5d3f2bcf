//! The simulator over real HTTP: shapes of every path, the price model, faults, pins, stats.

// A test binary sees every dependency of the library; it uses only some of them.
#![allow(unused_crate_dependencies)]

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use domain::{Decimal, Price, premium_rate};
use reqwest::{Method, header::HeaderMap};
use serde_json::{Value, json};
use sim::{PREFIXES, SimConfig, SimHandle, spawn};

// ---- helpers ----

struct TestSim {
    handle: SimHandle,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    text: String,
    elapsed: Duration,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl TestSim {
    async fn start(cfg: SimConfig) -> Self {
        let handle = spawn(cfg).await.expect("simulator starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        TestSim { handle, http }
    }

    async fn default() -> Self {
        Self::start(SimConfig::default()).await
    }

    /// A simulator whose prices move only through `POST /_sim/advance`.
    async fn frozen(seed: u64) -> Self {
        Self::start(SimConfig {
            seed,
            step: Duration::ZERO,
            ..SimConfig::default()
        })
        .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url)
    }

    async fn get(&self, path: &str) -> Reply {
        let started = Instant::now();
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            text,
            elapsed: started.elapsed(),
        }
    }

    /// GET that must answer 200 with JSON.
    async fn json(&self, path: &str) -> Value {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
        reply.json()
    }

    async fn control(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .request(method.clone(), self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post_ok(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.control(Method::POST, path, body.clone()).await;
        assert_eq!(status, 200, "POST {path} {body}: {answer}");
        answer
    }

    async fn delete(&self, path: &str) {
        let (status, answer) = self.control(Method::DELETE, path, Value::Null).await;
        assert_eq!(status, 200, "DELETE {path}: {answer}");
    }
}

/// A JSON string or number as a decimal.
fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => Decimal::from_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}")),
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .unwrap_or_else(|e| panic!("{n}: {e}")),
        other => panic!("not a price: {other}"),
    }
}

fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer)
        .unwrap_or_else(|| panic!("no `{pointer}` in {v}"))
}

fn price(v: &Value, pointer: &str) -> Price {
    Price::new(dec(at(v, pointer))).unwrap_or_else(|e| panic!("{pointer}: {e}"))
}

// ---- shapes ----

/// (path, root pointer, fields as `name:kind`): s string, d decimal string, n number, i integer,
/// o object, a array.
const SHAPES: &[(&str, &str, &str)] = &[
    (
        "/upbit/v1/ticker?markets=KRW-BTC,KRW-ETH",
        "/0",
        "market:s trade_date:s trade_time:s trade_date_kst:s trade_time_kst:s trade_timestamp:i \
         opening_price:n high_price:n low_price:n trade_price:n prev_closing_price:n change:s \
         signed_change_rate:n trade_volume:n acc_trade_price_24h:n acc_trade_volume_24h:n timestamp:i",
    ),
    (
        "/bithumb/v1/ticker?markets=KRW-BTC,KRW-ETH",
        "/1",
        "market:s trade_date:s trade_time:s trade_date_kst:s trade_time_kst:s trade_timestamp:i \
         opening_price:n high_price:n low_price:n trade_price:n prev_closing_price:n change:s \
         signed_change_rate:n acc_trade_price_24h:n acc_trade_volume_24h:n timestamp:i",
    ),
    (
        "/upbit/v1/ticker/all?quote_currencies=KRW",
        "/0",
        "market:s trade_price:n",
    ),
    (
        "/upbit/v1/market/all",
        "/0",
        "market:s korean_name:s english_name:s",
    ),
    (
        "/bithumb/public/ticker/BTC_KRW",
        "/data",
        "opening_price:d closing_price:d min_price:d max_price:d units_traded:d acc_trade_value:d \
         prev_closing_price:d units_traded_24H:d acc_trade_value_24H:d fluctate_24H:d \
         fluctate_rate_24H:d date:d",
    ),
    ("/bithumb/public/ticker/BTC_KRW", "", "status:s data:o"),
    (
        "/bithumb/public/ticker/ALL_KRW",
        "/data",
        "date:d BTC:o ETH:o USDT:o SIM300:o",
    ),
    (
        "/bithumb/public/ticker/ALL_KRW",
        "/data/XRP",
        "opening_price:d closing_price:d min_price:d max_price:d units_traded_24H:d fluctate_rate_24H:d",
    ),
    (
        "/binance/fapi/v1/premiumIndex?symbol=BTCUSDT",
        "",
        "symbol:s markPrice:d indexPrice:d estimatedSettlePrice:d lastFundingRate:d \
         nextFundingTime:i interestRate:d time:i",
    ),
    (
        "/binance/fapi/v1/premiumIndex",
        "/0",
        "symbol:s markPrice:d time:i",
    ),
    (
        "/binance/fapi/v1/ticker/price?symbol=ETHUSDT",
        "",
        "symbol:s price:d time:i",
    ),
    (
        "/binance/fapi/v1/ticker/price",
        "/3",
        "symbol:s price:d time:i",
    ),
    (
        "/binance/fapi/v1/ticker/bookTicker?symbol=SOLUSDT",
        "",
        "symbol:s bidPrice:d bidQty:d askPrice:d askQty:d time:i",
    ),
    (
        "/binance/fapi/v1/ticker/bookTicker",
        "/0",
        "symbol:s bidPrice:d askPrice:d",
    ),
    (
        "/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT",
        "",
        "retCode:i retMsg:s result:o retExtInfo:o time:i",
    ),
    (
        "/bybit/v5/market/tickers?category=linear",
        "/result/list/0",
        "symbol:s lastPrice:d indexPrice:d markPrice:d fundingRate:d nextFundingTime:d \
         bid1Price:d ask1Price:d",
    ),
    (
        "/okx/api/v5/market/ticker?instId=BTC-USDT-SWAP",
        "/data/0",
        "instType:s instId:s last:d lastSz:d askPx:d askSz:d bidPx:d bidSz:d open24h:d high24h:d \
         low24h:d volCcy24h:d vol24h:d sodUtc0:d sodUtc8:d ts:d",
    ),
    (
        "/okx/api/v5/market/tickers?instType=SWAP",
        "",
        "code:s msg:s data:a",
    ),
    (
        "/upbit/v1/orderbook?markets=KRW-BTC,KRW-ETH",
        "/1",
        "market:s timestamp:i total_ask_size:n total_bid_size:n orderbook_units:a level:i",
    ),
    (
        "/bithumb/v1/orderbook?markets=KRW-BTC",
        "/0/orderbook_units/0",
        "ask_price:n bid_price:n ask_size:n bid_size:n",
    ),
    (
        "/binance/fapi/v1/depth?symbol=BTCUSDT&limit=5",
        "",
        "lastUpdateId:i E:i T:i bids:a asks:a",
    ),
    (
        "/bybit/v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=5",
        "/result",
        "s:s b:a a:a ts:i u:i seq:i cts:i",
    ),
    (
        "/bybit/v5/market/tickers?category=linear&symbol=ETHUSDT",
        "/result/list/0",
        "bid1Price:d bid1Size:d ask1Price:d ask1Size:d fundingRate:d nextFundingTime:d \
         fundingIntervalHour:d fundingCap:d",
    ),
    (
        "/okx/api/v5/market/books?instId=BTC-USDT-SWAP&sz=5",
        "/data/0",
        "asks:a bids:a ts:d",
    ),
    (
        "/okx/api/v5/public/funding-rate?instId=BTC-USDT-SWAP",
        "/data/0",
        "formulaType:s fundingRate:d fundingTime:d instId:s instType:s maxFundingRate:d \
         method:s minFundingRate:d nextFundingRate:s nextFundingTime:d premium:d \
         settFundingRate:d settState:s ts:d",
    ),
    (
        "/dunamu/v1/forex/recent?codes=FRX.KRWUSD",
        "/0",
        "code:s currencyCode:s date:s time:s recurrenceCount:i basePrice:n openingPrice:n \
         change:s currencyUnit:i provider:s timestamp:i modifiedAt:s signedChangeRate:n",
    ),
    (
        "/erapi/v6/latest/USD",
        "",
        "result:s time_last_update_unix:i time_next_update_unix:i base_code:s rates:o",
    ),
    ("/erapi/v6/latest/USD", "/rates", "USD:i KRW:n"),
    (
        "/frankfurter/v1/latest?base=USD&symbols=KRW",
        "",
        "amount:n base:s date:s rates:o",
    ),
    (
        "/frankfurter/v1/latest?base=USD&symbols=KRW",
        "/rates",
        "KRW:n",
    ),
];

#[tokio::test]
async fn every_path_answers_with_the_venues_field_names_and_json_types() {
    let sim = TestSim::default().await;
    for (path, root, fields) in SHAPES {
        let body = sim.json(path).await;
        for field in fields.split_whitespace() {
            let (name, kind) = field.split_once(':').unwrap();
            let v = at(&body, &format!("{root}/{name}"));
            let ok = match kind {
                "s" => v.is_string(),
                "d" => v.as_str().is_some_and(|s| Decimal::from_str(s).is_ok()),
                "n" => v.is_number(),
                "i" => v.is_i64() || v.is_u64(),
                "o" => v.is_object(),
                "a" => v.is_array(),
                other => panic!("unknown kind {other}"),
            };
            assert!(ok, "{path} {root}/{name} should be `{kind}`, is {v}");
        }
    }
}

#[tokio::test]
async fn symbols_and_constants_follow_the_venues() {
    let sim = TestSim::default().await;
    let cases: &[(&str, &str, Value)] = &[
        (
            "/upbit/v1/ticker?markets=KRW-BTC,KRW-ETH",
            "/1/market",
            json!("KRW-ETH"),
        ),
        (
            "/upbit/v1/ticker?markets=KRW-USDT",
            "/0/market",
            json!("KRW-USDT"),
        ),
        ("/bithumb/public/ticker/BTC_KRW", "/status", json!("0000")),
        (
            "/binance/fapi/v1/premiumIndex?symbol=BTCUSDT",
            "/symbol",
            json!("BTCUSDT"),
        ),
        (
            "/bybit/v5/market/tickers?category=linear&symbol=ETHUSDT",
            "/retCode",
            json!(0),
        ),
        (
            "/bybit/v5/market/tickers?category=linear&symbol=ETHUSDT",
            "/result/category",
            json!("linear"),
        ),
        (
            "/bybit/v5/market/tickers?category=linear&symbol=ETHUSDT",
            "/result/list/0/symbol",
            json!("ETHUSDT"),
        ),
        (
            "/okx/api/v5/market/ticker?instId=BTC-USDT-SWAP",
            "/code",
            json!("0"),
        ),
        (
            "/okx/api/v5/market/ticker?instId=BTC-USDT-SWAP",
            "/data/0/instId",
            json!("BTC-USDT-SWAP"),
        ),
        (
            "/dunamu/v1/forex/recent?codes=FRX.KRWUSD",
            "/0/code",
            json!("FRX.KRWUSD"),
        ),
        ("/erapi/v6/latest/USD", "/result", json!("success")),
        ("/erapi/v6/latest/USD", "/rates/USD", json!(1)),
        (
            "/frankfurter/v1/latest?base=USD&symbols=KRW",
            "/base",
            json!("USD"),
        ),
    ];
    for (path, pointer, want) in cases {
        assert_eq!(at(&sim.json(path).await, pointer), want, "{path} {pointer}");
    }
    let upbit = sim.get("/upbit/v1/ticker?markets=KRW-BTC").await;
    assert_eq!(
        upbit.headers["remaining-req"],
        "group=ticker; min=600; sec=9"
    );
    let book = sim.get("/upbit/v1/orderbook?markets=KRW-BTC").await;
    assert_eq!(
        book.headers["remaining-req"],
        "group=orderbook; min=600; sec=9"
    );
    let binance = sim
        .get("/binance/fapi/v1/ticker/price?symbol=BTCUSDT")
        .await;
    assert!(binance.headers.contains_key("x-mbx-used-weight-1m"));
}

#[tokio::test]
async fn times_in_bodies_are_current() {
    let sim = TestSim::default().await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    // (path, pointer, milliseconds per unit of the value)
    let cases: &[(&str, &str, i64)] = &[
        ("/upbit/v1/ticker?markets=KRW-BTC", "/0/timestamp", 1),
        ("/upbit/v1/ticker?markets=KRW-BTC", "/0/trade_timestamp", 1),
        ("/bithumb/public/ticker/BTC_KRW", "/data/date", 1),
        ("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT", "/time", 1),
        (
            "/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT",
            "/time",
            1,
        ),
        (
            "/okx/api/v5/market/ticker?instId=BTC-USDT-SWAP",
            "/data/0/ts",
            1,
        ),
        (
            "/dunamu/v1/forex/recent?codes=FRX.KRWUSD",
            "/0/timestamp",
            1,
        ),
        ("/erapi/v6/latest/USD", "/time_last_update_unix", 1000),
    ];
    for (path, pointer, unit) in cases {
        let t = dec(at(&sim.json(path).await, pointer));
        let ms = i64::try_from(t).unwrap() * unit;
        assert!(
            (ms - now_ms).abs() < 5_000,
            "{path} {pointer}: {ms} vs {now_ms}"
        );
    }
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let frankfurter = sim
        .json("/frankfurter/v1/latest?base=USD&symbols=KRW")
        .await;
    assert_eq!(frankfurter["date"], json!(today));
}

#[tokio::test]
async fn all_coin_responses_serve_at_least_300_coins_with_positive_prices() {
    let sim = TestSim::default().await;
    // (path, pointer to the list, pointer to a price within an item)
    let cases: &[(&str, &str, &str)] = &[
        (
            "/upbit/v1/ticker/all?quote_currencies=KRW",
            "",
            "/trade_price",
        ),
        ("/bithumb/public/ticker/ALL_KRW", "/data", "/closing_price"),
        ("/binance/fapi/v1/premiumIndex", "", "/markPrice"),
        ("/binance/fapi/v1/ticker/price", "", "/price"),
        ("/binance/fapi/v1/ticker/bookTicker", "", "/bidPrice"),
        (
            "/bybit/v5/market/tickers?category=linear",
            "/result/list",
            "/markPrice",
        ),
        ("/okx/api/v5/market/tickers?instType=SWAP", "/data", "/last"),
    ];
    for (path, list, item_price) in cases {
        let body = sim.json(path).await;
        let items: Vec<&Value> = match at(&body, list) {
            Value::Array(a) => a.iter().collect(),
            Value::Object(o) => o
                .iter()
                .filter(|(k, _)| *k != "date")
                .map(|(_, v)| v)
                .collect(),
            other => panic!("{path}: {other}"),
        };
        assert!(items.len() >= 300, "{path}: {} coins", items.len());
        for item in items {
            price(item, item_price);
        }
    }
    let prices = sim.json("/binance/fapi/v1/ticker/price").await;
    let symbols: Vec<&str> = prices
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["symbol"].as_str().unwrap())
        .collect();
    for want in ["BTCUSDT", "DOGEUSDT", "SIM001USDT", "SIM300USDT"] {
        assert!(symbols.contains(&want), "{want} missing");
    }
}

#[tokio::test]
async fn unknown_symbols_get_each_venues_error() {
    let sim = TestSim::default().await;
    // (path, status, pointer, expected)
    let cases: &[(&str, u16, &str, Value)] = &[
        (
            "/binance/fapi/v1/premiumIndex?symbol=NOPEUSDT",
            400,
            "/code",
            json!(-1121),
        ),
        (
            "/binance/fapi/v1/ticker/price?symbol=NOPEUSDT",
            400,
            "/msg",
            json!("Invalid symbol."),
        ),
        (
            "/binance/fapi/v1/ticker/bookTicker?symbol=BTC",
            400,
            "/code",
            json!(-1121),
        ),
        (
            "/okx/api/v5/market/ticker?instId=NOPE-USDT-SWAP",
            200,
            "/code",
            json!("51001"),
        ),
        (
            "/okx/api/v5/market/ticker?instId=NOPE-USDT-SWAP",
            200,
            "/msg",
            json!("Instrument ID does not exist"),
        ),
        (
            "/okx/api/v5/market/ticker?instId=NOPE-USDT-SWAP",
            200,
            "/data",
            json!([]),
        ),
        (
            "/bybit/v5/market/tickers?category=linear&symbol=NOPEUSDT",
            200,
            "/retCode",
            json!(10001),
        ),
        (
            "/upbit/v1/ticker?markets=KRW-NOPE",
            404,
            "/error/message",
            json!("Code not found"),
        ),
        (
            "/upbit/v1/ticker?markets=KRW-BTC,KRW-NOPE",
            404,
            "/error/name",
            json!(404),
        ),
        (
            "/bithumb/v1/ticker?markets=KRW-NOPE,KRW-NADA",
            200,
            "/error/message",
            json!("Code not found"),
        ),
        (
            "/bithumb/v1/ticker?markets=KRW-BTC,KRW-NOPE",
            200,
            "/error/name",
            json!(404),
        ),
        (
            "/upbit/v1/ticker?markets=KRW-ETH,KRW-BTC",
            200,
            "/1/market",
            json!("KRW-BTC"),
        ),
        (
            "/bithumb/public/ticker/NOPE_KRW",
            200,
            "/status",
            json!("5500"),
        ),
        (
            "/dunamu/v1/forex/recent?codes=FRX.KRWJPY",
            200,
            "",
            json!([]),
        ),
        ("/erapi/v6/latest/EUR", 404, "/result", json!("error")),
        (
            "/frankfurter/v1/latest?base=USD&symbols=XYZ",
            404,
            "/message",
            json!("not found"),
        ),
    ];
    for (path, status, pointer, want) in cases {
        let reply = sim.get(path).await;
        assert_eq!(reply.status, *status, "{path}: {}", reply.text);
        assert_eq!(at(&reply.json(), pointer), want, "{path}");
    }
}

// ---- the price model ----

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

// ---- faults ----

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

// ---- pins, stats, health ----

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

// ---- the realistic universe: metadata, ground truth, listings ----

/// A frozen, noise-free simulator serving the realistic universe.
async fn realistic() -> TestSim {
    TestSim::start(SimConfig {
        seed: 7,
        step: Duration::ZERO,
        noise_pct: Decimal::ZERO,
        realistic: true,
        ..SimConfig::default()
    })
    .await
}

fn rows(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

fn strs(v: &Value) -> Vec<String> {
    rows(v)
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The per-coin ticker of a foreign base (`1000PEPE`, `SHIB1000`, `1MBABYDOGE` → PEPE, SHIB,
/// BABYDOGE) by the truth's multipliers.
fn strip(base: &str, multiplied: &Value) -> String {
    if let Some(m) = multiplied.as_object() {
        for (coin, mult) in m {
            let mult = mult.as_str().unwrap();
            let forms = [
                format!("{mult}{coin}"),
                format!("{coin}{mult}"),
                format!("1M{coin}"),
            ];
            if forms.iter().any(|f| f == base) && (mult != "1000000" || !base.ends_with(mult)) {
                return coin.clone();
            }
        }
    }
    base.to_string()
}

/// Trading foreign coins (multiplier stripped) per foreign venue, from the metadata.
async fn foreign_trading(sim: &TestSim, truth: &Value) -> Vec<(&'static str, Vec<String>)> {
    let info = sim.json("/binance/fapi/v1/exchangeInfo").await;
    let binance = rows(&info["symbols"])
        .iter()
        .filter(|s| s["status"] == "TRADING")
        .map(|s| {
            strip(
                s["baseAsset"].as_str().unwrap(),
                &truth["multiplied"]["binance"],
            )
        })
        .collect();
    let bybit = sim
        .json("/bybit/v5/market/instruments-info?category=linear&limit=1000")
        .await;
    let bybit = rows(&bybit["result"]["list"])
        .iter()
        .filter(|s| s["status"] == "Trading")
        .map(|s| {
            strip(
                s["baseCoin"].as_str().unwrap(),
                &truth["multiplied"]["bybit"],
            )
        })
        .collect();
    let okx = sim
        .json("/okx/api/v5/public/instruments?instType=SWAP")
        .await;
    let okx = rows(&okx["data"])
        .iter()
        .filter(|s| s["state"] == "live")
        .map(|s| s["ctValCcy"].as_str().unwrap().to_string())
        .collect();
    vec![("binance", binance), ("bybit", bybit), ("okx", okx)]
}

async fn korean_markets(sim: &TestSim, venue: &str) -> Vec<Value> {
    let q = if venue == "upbit" {
        "is_details=true"
    } else {
        "isDetails=true"
    };
    rows(&sim.json(&format!("/{venue}/v1/market/all?{q}")).await).clone()
}

fn coin_of(row: &Value) -> String {
    row["market"]
        .as_str()
        .unwrap()
        .strip_prefix("KRW-")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn metadata_bodies_have_the_documented_shape_and_realistic_sizes() {
    let sim = realistic().await;

    let upbit = korean_markets(&sim, "upbit").await;
    assert!((200..=260).contains(&upbit.len()), "upbit {}", upbit.len());
    for row in &upbit {
        assert!(row["market"].as_str().unwrap().starts_with("KRW-"), "{row}");
        assert!(row["korean_name"].is_string() && row["english_name"].is_string());
        assert!(row["market_event"]["warning"].is_boolean(), "{row}");
        let caution = row["market_event"]["caution"].as_object().unwrap();
        assert_eq!(caution.len(), 5, "{row}");
        assert!(caution.values().all(Value::is_boolean));
    }
    let camel = sim.json("/upbit/v1/market/all?isDetails=true").await;
    assert_eq!(rows(&camel).len(), upbit.len());
    let plain = sim.json("/upbit/v1/market/all").await;
    assert!(rows(&plain).iter().all(|r| r.get("market_event").is_none()));

    let bithumb = korean_markets(&sim, "bithumb").await;
    assert!(
        (360..=440).contains(&bithumb.len()),
        "bithumb {}",
        bithumb.len()
    );
    assert!(
        bithumb
            .iter()
            .all(|r| r["market_warning"] == "NONE" || r["market_warning"] == "CAUTION")
    );
    assert!(bithumb.iter().any(|r| r["market_warning"] == "CAUTION"));
    let warnings = sim.json("/bithumb/v1/market/virtual_asset_warning").await;
    assert!(!rows(&warnings).is_empty());
    for w in rows(&warnings) {
        assert_eq!(w["warning_step"], "CAUTION");
        assert!(w["end_date"].as_str().unwrap().len() == 19, "{w}");
    }
    let assets = sim.json("/bithumb/public/assetsstatus/ALL").await;
    assert_eq!(assets["status"], "0000");
    let data = assets["data"].as_object().unwrap();
    assert!(data.values().any(|s| s["deposit_status"] == json!(0)));
    assert!(data.values().all(|s| s["withdrawal_status"].is_i64()));

    let info = sim.json("/binance/fapi/v1/exchangeInfo").await;
    assert!(info["serverTime"].is_i64() && info["rateLimits"].is_array());
    let symbols = rows(&info["symbols"]);
    let trading = symbols.iter().filter(|s| s["status"] == "TRADING").count();
    assert!((480..=560).contains(&trading), "binance {trading}");
    assert!(symbols.iter().any(|s| s["status"] == "SETTLING"));
    for s in symbols {
        assert_eq!(s["contractType"], "PERPETUAL");
        assert_eq!(s["quoteAsset"], "USDT");
        assert_eq!(
            s["symbol"],
            json!(format!("{}USDT", s["baseAsset"].as_str().unwrap()))
        );
        assert!(s["onboardDate"].is_i64() && s["pricePrecision"].is_u64());
        assert!(at(s, "/filters/0/tickSize").is_string());
    }
    for base in ["1000PEPE", "1MBABYDOGE", "1000000MOG", "1INCH", "BTC"] {
        assert!(symbols.iter().any(|s| s["baseAsset"] == base), "{base}");
    }
    let funding = sim.json("/binance/fapi/v1/fundingInfo").await;
    assert!(
        rows(&funding)
            .iter()
            .any(|f| f["fundingIntervalHours"] == json!(4))
    );

    let bybit = sim
        .json("/bybit/v5/market/instruments-info?category=linear&limit=1000")
        .await;
    let list = rows(&bybit["result"]["list"]);
    assert!((460..=540).contains(&list.len()), "bybit {}", list.len());
    assert_eq!(bybit["result"]["nextPageCursor"], "");
    for base in ["1000PEPE", "SHIB1000", "10000SATS", "1000000BABYDOGE"] {
        assert!(list.iter().any(|s| s["baseCoin"] == base), "{base}");
    }
    assert!(list.iter().all(|s| s["contractType"] == "LinearPerpetual"
        && s["quoteCoin"] == "USDT"
        && s["fundingInterval"].is_i64()
        && s["priceScale"].is_string()));

    let okx = sim
        .json("/okx/api/v5/public/instruments?instType=SWAP")
        .await;
    assert_eq!(okx["code"], "0");
    let data = rows(&okx["data"]);
    assert!((230..=270).contains(&data.len()), "okx {}", data.len());
    for state in ["live", "suspend", "preopen"] {
        assert!(data.iter().any(|r| r["state"] == state), "{state}");
    }
    for r in data {
        assert_eq!(r["baseCcy"], "");
        assert_eq!(r["ctMult"], "1");
        assert!(r["instId"].as_str().unwrap().ends_with("-USDT-SWAP"));
        assert!(dec(&r["ctVal"]) > Decimal::ZERO);
    }
    let pepe = data
        .iter()
        .find(|r| r["instId"] == "PEPE-USDT-SWAP")
        .unwrap();
    assert_eq!(pepe["ctVal"], "10000000");
    let none = sim.json("/okx/api/v5/public/instruments").await;
    assert_eq!(none["code"], "50014");

    // The ticker endpoints answer for the whole universe.
    let all = sim.json("/upbit/v1/ticker/all?quote_currencies=KRW").await;
    assert_eq!(rows(&all).len(), upbit.len());
    let book = sim.json("/binance/fapi/v1/ticker/bookTicker").await;
    assert_eq!(rows(&book).len(), symbols.len());
}

#[tokio::test]
async fn bybit_paging_returns_every_instrument_exactly_once_across_pages() {
    let sim = realistic().await;
    let whole = sim
        .json("/bybit/v5/market/instruments-info?category=linear&limit=1000")
        .await;
    let want: Vec<String> = rows(&whole["result"]["list"])
        .iter()
        .map(|r| r["symbol"].as_str().unwrap().to_string())
        .collect();
    let default = sim
        .json("/bybit/v5/market/instruments-info?category=linear")
        .await;
    assert_eq!(rows(&default["result"]["list"]).len(), 500.min(want.len()));

    let mut got: Vec<String> = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let mut path = "/bybit/v5/market/instruments-info?category=linear&limit=97".to_string();
        if !cursor.is_empty() {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = sim.json(&path).await;
        pages += 1;
        let list = rows(&page["result"]["list"]);
        got.extend(
            list.iter()
                .map(|r| r["symbol"].as_str().unwrap().to_string()),
        );
        cursor = page["result"]["nextPageCursor"]
            .as_str()
            .unwrap()
            .to_string();
        if cursor.is_empty() || list.is_empty() {
            break;
        }
        assert!(pages < 50, "paging does not end");
    }
    assert_eq!(pages, want.len().div_ceil(97));
    let distinct: std::collections::BTreeSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), got.len(), "a symbol came twice");
    assert_eq!(got, want);
    let bad = sim
        .json("/bybit/v5/market/instruments-info?category=linear&limit=0")
        .await;
    assert_eq!(bad["retCode"], json!(10001));
}

async fn dunamu(sim: &TestSim) -> Decimal {
    let fx = sim.json("/dunamu/v1/forex/recent?codes=FRX.KRWUSD").await;
    dec(at(&fx, "/0/basePrice"))
}

/// The USD price a Korean KRW price implies at the configured 1.5 % premium.
async fn korean_usd(sim: &TestSim, venue: &str, coin: &str) -> Decimal {
    let t = sim
        .json(&format!("/{venue}/v1/ticker?markets=KRW-{coin}"))
        .await;
    let krw = dec(at(&t, "/0/trade_price"));
    krw / (dunamu(sim).await * Decimal::new(1015, 3))
}

fn close(a: Decimal, b: Decimal, tolerance: Decimal) -> bool {
    ((a - b) / b).abs() < tolerance
}

#[tokio::test]
async fn multiplier_instruments_price_at_the_multiplier_times_the_per_coin_price() {
    let sim = realistic().await;
    let truth = sim.json("/_sim/universe").await;
    let tol = Decimal::new(2, 3);
    let mut checked = 0;
    for (venue, path, field) in [
        ("binance", "/binance/fapi/v1/ticker/price?symbol=", "/price"),
        (
            "bybit",
            "/bybit/v5/market/tickers?category=linear&symbol=",
            "/result/list/0/lastPrice",
        ),
    ] {
        let multiplied = truth["multiplied"][venue].as_object().unwrap();
        assert!(multiplied.len() >= 6, "{venue}: {multiplied:?}");
        let bases: Vec<String> = if venue == "binance" {
            let info = sim.json("/binance/fapi/v1/exchangeInfo").await;
            rows(&info["symbols"])
                .iter()
                .map(|s| s["baseAsset"].as_str().unwrap().to_string())
                .collect()
        } else {
            let info = sim
                .json("/bybit/v5/market/instruments-info?category=linear&limit=1000")
                .await;
            rows(&info["result"]["list"])
                .iter()
                .map(|s| s["baseCoin"].as_str().unwrap().to_string())
                .collect()
        };
        for (coin, mult) in multiplied {
            let mult = dec(mult);
            assert!(mult >= Decimal::from(1000), "{venue} {coin} {mult}");
            let base = bases
                .iter()
                .find(|b| strip(b, &truth["multiplied"][venue]) == *coin)
                .unwrap_or_else(|| panic!("{venue} lists no instrument of {coin}"));
            let quoted = dec(at(&sim.json(&format!("{path}{base}USDT")).await, field));
            // The per-coin price: OKX quotes one coin; Bithumb lists every multiplied coin.
            let per_coin = korean_usd(&sim, "bithumb", coin).await;
            assert!(
                close(quoted, mult * per_coin, tol),
                "{venue} {base}: {quoted} vs {mult} × {per_coin}"
            );
            let okx = sim
                .json(&format!(
                    "/okx/api/v5/market/ticker?instId={coin}-USDT-SWAP"
                ))
                .await;
            if okx["code"] == "0" {
                let one = dec(at(&okx, "/data/0/last"));
                assert!(
                    close(quoted, mult * one, tol),
                    "{venue} {base}: {quoted} vs {mult} × okx {one}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "{checked}");
    // A plain coin carries the configured premium too.
    let btc = dec(at(
        &sim.json("/binance/fapi/v1/ticker/price?symbol=BTCUSDT")
            .await,
        "/price",
    ));
    assert!(close(korean_usd(&sim, "upbit", "BTC").await, btc, tol));
}

#[tokio::test]
async fn the_collision_coins_korean_price_differs_wildly_from_the_foreign_one() {
    let sim = realistic().await;
    let truth = sim.json("/_sim/universe").await;
    assert!(
        strs(&truth["collisions"]).contains(&"TON".to_string()),
        "{}",
        truth["collisions"]
    );
    let upbit = korean_markets(&sim, "upbit").await;
    let ton = upbit
        .iter()
        .find(|r| r["market"] == "KRW-TON")
        .expect("Upbit lists KRW-TON");
    assert_eq!(ton["english_name"], "Tokamak Network");
    let korean = korean_usd(&sim, "upbit", "TON").await;
    let foreign = dec(at(
        &sim.json("/binance/fapi/v1/ticker/price?symbol=TONUSDT")
            .await,
        "/price",
    ));
    let ratio = foreign / korean;
    assert!(
        ratio > Decimal::from(3) || ratio < Decimal::new(33, 2),
        "TON: {foreign} USDT vs {korean} implied"
    );
    for (pair, coins) in truth["pairs"].as_object().unwrap() {
        for c in strs(&truth["collisions"]) {
            assert!(!strs(coins).contains(&c), "{pair} has collision {c}");
        }
    }
}

#[tokio::test]
async fn the_universe_truth_agrees_with_the_metadata() {
    let sim = realistic().await;
    let truth = sim.json("/_sim/universe").await;
    let pairs = truth["pairs"].as_object().unwrap();
    assert_eq!(pairs.len(), 6);
    let foreign = foreign_trading(&sim, &truth).await;
    let collisions = strs(&truth["collisions"]);
    for korea in ["upbit", "bithumb"] {
        let markets = korean_markets(&sim, korea).await;
        let listed: Vec<String> = markets
            .iter()
            .map(coin_of)
            .filter(|c| c != "USDT")
            .collect();
        for (f, trading) in &foreign {
            let key = format!("{korea}-{f}");
            let got = strs(&pairs[&key]);
            // Every Korean coin a foreign venue trades under the same ticker, bar collisions.
            let mut want: Vec<String> = listed
                .iter()
                .filter(|c| trading.contains(c) && !collisions.contains(c))
                .cloned()
                .collect();
            want.sort();
            assert_eq!(got, want, "{key}");
            assert!(got.len() >= 80, "{key}: {}", got.len());
            assert!(got.contains(&"BTC".to_string()), "{key}");
        }
    }
    // Realistic overlaps: not every Korean coin is on every foreign venue.
    let upbit_okx = strs(&pairs["upbit-okx"]).len();
    let upbit_binance = strs(&pairs["upbit-binance"]).len();
    assert!(upbit_okx < upbit_binance, "{upbit_okx} vs {upbit_binance}");
    assert!(strs(&pairs["upbit-binance"]).contains(&"PEPE".to_string()));

    // The rename: POL is paired, MATIC is nowhere but Binance's SETTLING row.
    assert_eq!(truth["renamed"], json!({"MATIC": "POL"}));
    for coins in pairs.values() {
        assert!(!strs(coins).contains(&"MATIC".to_string()));
    }
    assert!(strs(&pairs["upbit-binance"]).contains(&"POL".to_string()));
    let info = sim.json("/binance/fapi/v1/exchangeInfo").await;
    let matic = rows(&info["symbols"])
        .iter()
        .find(|s| s["symbol"] == "MATICUSDT")
        .unwrap();
    assert_eq!(matic["status"], "SETTLING");

    // Flags show in the Korean metadata.
    let upbit = korean_markets(&sim, "upbit").await;
    let assets = sim.json("/bithumb/public/assetsstatus/ALL").await;
    let flagged = truth["flagged"].as_object().unwrap();
    assert!(flagged.len() >= 10);
    for flag in ["warning", "caution", "deposit_suspended"] {
        assert!(
            flagged
                .values()
                .any(|f| strs(f).contains(&flag.to_string())),
            "{flag}"
        );
    }
    for (coin, flags) in flagged {
        let flags = strs(flags);
        let row = upbit.iter().find(|r| coin_of(r) == *coin).unwrap();
        assert_eq!(
            row["market_event"]["warning"],
            json!(flags.contains(&"warning".into())),
            "{coin}"
        );
        assert_eq!(
            row["market_event"]["caution"]["GLOBAL_PRICE_DIFFERENCES"],
            json!(flags.contains(&"caution".into())),
            "{coin}"
        );
        let deposit = &assets["data"][coin]["deposit_status"];
        assert_eq!(
            *deposit,
            json!(i32::from(!flags.contains(&"deposit_suspended".into()))),
            "{coin}"
        );
    }

    // Illiquid coins: the last trade is minutes older than the snapshot.
    let illiquid = strs(&truth["illiquid"]);
    assert!(illiquid.len() >= 3);
    for coin in &illiquid {
        let t = sim
            .json(&format!("/upbit/v1/ticker?markets=KRW-{coin}"))
            .await;
        let lag = at(&t, "/0/timestamp").as_i64().unwrap()
            - at(&t, "/0/trade_timestamp").as_i64().unwrap();
        assert!(lag >= 60_000, "{coin}: {lag} ms");
    }
    let btc = sim.json("/upbit/v1/ticker?markets=KRW-BTC").await;
    assert_eq!(at(&btc, "/0/timestamp"), at(&btc, "/0/trade_timestamp"));
}

#[tokio::test]
async fn listing_and_delisting_change_both_the_metadata_and_the_truth() {
    let sim = realistic().await;
    let pairs = |t: &Value, k: &str| strs(&t["pairs"][k]);
    let has_market = async |venue: &str, market: &str| {
        korean_markets(&sim, venue)
            .await
            .iter()
            .any(|r| r["market"] == market)
    };

    let listed = sim
        .post_ok(
            "/_sim/listings",
            json!({"venue": "upbit", "coin": "NEWC", "action": "list"}),
        )
        .await;
    assert_eq!(listed["symbol"], "KRW-NEWC");
    assert!(has_market("upbit", "KRW-NEWC").await);
    let t = sim.json("/upbit/v1/ticker?markets=KRW-NEWC").await;
    assert!(dec(at(&t, "/0/trade_price")) > Decimal::ZERO);
    assert!(!pairs(&sim.json("/_sim/universe").await, "upbit-binance").contains(&"NEWC".into()));

    let listed = sim
        .post_ok(
            "/_sim/listings",
            json!({"venue": "binance", "coin": "NEWC", "action": "list"}),
        )
        .await;
    assert_eq!(listed["symbol"], "NEWCUSDT");
    let info = sim.json("/binance/fapi/v1/exchangeInfo").await;
    let row = rows(&info["symbols"])
        .iter()
        .find(|s| s["symbol"] == "NEWCUSDT")
        .cloned()
        .unwrap();
    assert_eq!(row["status"], "TRADING");
    assert!(pairs(&sim.json("/_sim/universe").await, "upbit-binance").contains(&"NEWC".into()));
    // Same asset on both sides: the configured premium holds.
    let usd = dec(at(
        &sim.json("/binance/fapi/v1/ticker/price?symbol=NEWCUSDT")
            .await,
        "/price",
    ));
    assert!(close(
        korean_usd(&sim, "upbit", "NEWC").await,
        usd,
        Decimal::new(2, 3)
    ));

    let listed = sim
        .post_ok(
            "/_sim/listings",
            json!({"venue": "bybit", "coin": "NEWC", "action": "list", "multiplier": "1000"}),
        )
        .await;
    assert_eq!(listed["symbol"], "1000NEWCUSDT");
    let t = sim.json("/_sim/universe").await;
    assert_eq!(t["multiplied"]["bybit"]["NEWC"], "1000");
    assert!(pairs(&t, "upbit-bybit").contains(&"NEWC".into()));

    sim.post_ok(
        "/_sim/listings",
        json!({"venue": "binance", "coin": "NEWC", "action": "delist"}),
    )
    .await;
    let info = sim.json("/binance/fapi/v1/exchangeInfo").await;
    let row = rows(&info["symbols"])
        .iter()
        .find(|s| s["symbol"] == "NEWCUSDT")
        .cloned()
        .unwrap();
    assert_eq!(row["status"], "SETTLING");
    assert!(!pairs(&sim.json("/_sim/universe").await, "upbit-binance").contains(&"NEWC".into()));

    sim.post_ok(
        "/_sim/listings",
        json!({"venue": "upbit", "coin": "PEPE", "action": "delist"}),
    )
    .await;
    assert!(!has_market("upbit", "KRW-PEPE").await);
    let t = sim.json("/_sim/universe").await;
    assert!(!pairs(&t, "upbit-binance").contains(&"PEPE".into()));
    assert!(pairs(&t, "bithumb-binance").contains(&"PEPE".into()));
    let gone = sim.get("/upbit/v1/ticker?markets=KRW-PEPE").await;
    assert_eq!(gone.status, 404);

    sim.post_ok(
        "/_sim/listings",
        json!({"venue": "okx", "coin": "BTC", "action": "delist"}),
    )
    .await;
    let okx = sim
        .json("/okx/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP")
        .await;
    assert_eq!(okx["code"], "51001");
    assert!(!pairs(&sim.json("/_sim/universe").await, "upbit-okx").contains(&"BTC".into()));

    for bad in [
        json!({"venue": "upbit", "coin": "NEWC", "action": "list"}),
        json!({"venue": "upbit", "coin": "NOPE", "action": "delist"}),
        json!({"venue": "upbit", "coin": "NEWC", "action": "rename"}),
        json!({"venue": "dunamu", "coin": "NEWC", "action": "list"}),
    ] {
        let (status, answer) = sim
            .control(Method::POST, "/_sim/listings", bad.clone())
            .await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert!(answer["error"].is_string());
    }
}

#[tokio::test]
async fn the_basic_universe_pairs_every_coin_everywhere() {
    let sim = TestSim::default().await;
    let truth = sim.json("/_sim/universe").await;
    assert_eq!(truth["realistic"], json!(false));
    let pairs = strs(&truth["pairs"]["upbit-okx"]);
    assert_eq!(pairs.len(), 305);
    assert!(pairs.contains(&"SIM300".to_string()));
    assert_eq!(truth["collisions"], json!([]));
}

/// Bithumb refuses more than 200 markets per `/v1/ticker` call, and its REST clock can be skewed
/// on demand (the real one has stamped KST wall time as epoch: +9 h) while `trade_date` and
/// `trade_time` stay true UTC.
#[tokio::test]
async fn bithumb_limits_markets_per_call_and_can_skew_its_clock() {
    let sim = TestSim::start(SimConfig {
        realistic: true,
        ..SimConfig::default()
    })
    .await;
    let markets = sim.json("/bithumb/v1/market/all").await;
    let codes: Vec<String> = markets.as_array().unwrap()[..201]
        .iter()
        .map(|m| m["market"].as_str().unwrap().to_string())
        .collect();
    let too_many = sim
        .get(&format!("/bithumb/v1/ticker?markets={}", codes.join(",")))
        .await;
    assert_eq!(too_many.status, 400, "{}", too_many.text);
    assert!(
        too_many.text.contains("less than or equal to 200"),
        "{}",
        too_many.text
    );
    let fine = sim
        .json(&format!(
            "/bithumb/v1/ticker?markets={}",
            codes[..200].join(",")
        ))
        .await;
    assert_eq!(fine.as_array().unwrap().len(), 200);

    let nine_hours = 9 * 3_600_000_i64;
    sim.post_ok("/_sim/config", json!({"bithumb_clock_skew_ms": nine_hours}))
        .await;
    let now = chrono::Utc::now().timestamp_millis();
    let skewed = sim.json("/bithumb/v1/ticker?markets=KRW-BTC").await;
    let row = &skewed[0];
    let ts = row["timestamp"].as_i64().unwrap();
    assert!((ts - now - nine_hours).abs() < 5_000, "{ts} vs {now}");
    let utc = chrono::NaiveDateTime::parse_from_str(
        &format!(
            "{}{}",
            row["trade_date"].as_str().unwrap(),
            row["trade_time"].as_str().unwrap()
        ),
        "%Y%m%d%H%M%S",
    )
    .unwrap()
    .and_utc()
    .timestamp_millis();
    assert!((utc - now).abs() < 5_000, "trade_date/time stay UTC");
    let upbit = sim.json("/upbit/v1/ticker?markets=KRW-BTC").await;
    assert!((upbit[0]["timestamp"].as_i64().unwrap() - now).abs() < 5_000);
}

// ---- order books and funding ----

/// (bids, asks) as decimals, best first.
type Levels = Vec<(Decimal, Decimal)>;

/// Levels of a `[["price","size",…],…]` array.
fn levels(v: &Value) -> Levels {
    rows(v).iter().map(|l| (dec(&l[0]), dec(&l[1]))).collect()
}

/// The live (non-zero-price) levels of an Upbit/Bithumb book, and how many slots were padding.
fn korean_levels(book: &Value) -> (Levels, Levels, usize) {
    let (mut bids, mut asks, mut padded) = (Vec::new(), Vec::new(), 0);
    for u in rows(&book["orderbook_units"]) {
        for (side, price, size) in [
            (&mut bids, "bid_price", "bid_size"),
            (&mut asks, "ask_price", "ask_size"),
        ] {
            let p = dec(&u[price]);
            if p.is_zero() {
                assert!(dec(&u[size]).is_zero(), "a zero slot has size 0: {u}");
                padded += 1;
            } else {
                side.push((p, dec(&u[size])));
            }
        }
    }
    (bids, asks, padded)
}

/// Bids strictly descending, asks strictly ascending, positive prices, the last price inside
/// [best bid, best ask], bid < ask.
fn check_book(what: &str, bids: &Levels, asks: &Levels, last: Decimal) {
    assert!(!bids.is_empty() && !asks.is_empty(), "{what}: empty side");
    assert!(
        bids.windows(2).all(|w| w[1].0 < w[0].0),
        "{what}: bids not descending {bids:?}"
    );
    assert!(
        asks.windows(2).all(|w| w[1].0 > w[0].0),
        "{what}: asks not ascending {asks:?}"
    );
    assert!(bids.iter().chain(asks).all(|l| l.0 > Decimal::ZERO));
    let (bid, ask) = (bids[0].0, asks[0].0);
    assert!(
        bid < ask && bid <= last && last <= ask,
        "{what}: {bid} / {last} / {ask}"
    );
}

/// Spread in basis points of the mid.
fn spread_bp(bids: &Levels, asks: &Levels) -> Decimal {
    let (bid, ask) = (bids[0].0, asks[0].0);
    (ask - bid) / ((ask + bid) / Decimal::TWO) * Decimal::from(10_000)
}

#[tokio::test]
async fn books_are_uncrossed_around_the_last_price_on_every_venue() {
    let sim = TestSim::frozen(11).await;
    sim.post_ok("/_sim/advance", json!({"steps": 25})).await;
    let info = sim.json("/binance/fapi/v1/exchangeInfo").await;
    let instruments = sim
        .json("/bybit/v5/market/instruments-info?category=linear&limit=1000")
        .await;
    // Every size is a multiple of the venue's lot step.
    let on_step = |sizes: &Levels, step: Decimal, what: &str| {
        assert!(
            sizes.iter().all(|l| (l.1 % step).is_zero() && l.1 >= step),
            "{what}: sizes off the {step} step: {sizes:?}"
        );
    };
    for coin in ["BTC", "ETH", "XRP", "SIM001", "SIM150", "SIM300"] {
        for venue in ["upbit", "bithumb"] {
            let last = dec(at(
                &sim.json(&format!("/{venue}/v1/ticker?markets=KRW-{coin}"))
                    .await,
                "/0/trade_price",
            ));
            let book = sim
                .json(&format!("/{venue}/v1/orderbook?markets=KRW-{coin}"))
                .await;
            let (bids, asks, padded) = korean_levels(&book[0]);
            assert_eq!(rows(&book[0]["orderbook_units"]).len(), 30);
            assert_eq!(padded, 0, "{venue} {coin}: a liquid book is full");
            check_book(&format!("{venue} {coin}"), &bids, &asks, last);
            let bp = spread_bp(&bids, &asks);
            if coin.starts_with("SIM") {
                assert!(
                    bp > Decimal::from(5) && bp < Decimal::from(80),
                    "{venue} {coin}: {bp} bp"
                );
            } else {
                assert!(bp < Decimal::from(5), "{venue} {coin}: {bp} bp");
            }
            // Sizes grow away from the top.
            let near: Decimal = bids.iter().take(5).map(|l| l.1).sum();
            let far: Decimal = bids.iter().rev().take(5).map(|l| l.1).sum();
            assert!(far > near, "{venue} {coin}: {near} vs {far}");
        }
        let sym = format!("{coin}USDT");
        let last = dec(at(
            &sim.json(&format!("/binance/fapi/v1/ticker/price?symbol={sym}"))
                .await,
            "/price",
        ));
        let depth = sim
            .json(&format!("/binance/fapi/v1/depth?symbol={sym}&limit=50"))
            .await;
        let (bids, asks) = (levels(&depth["bids"]), levels(&depth["asks"]));
        assert_eq!((bids.len(), asks.len()), (30, 30));
        check_book(&format!("binance {coin}"), &bids, &asks, last);
        let row = rows(&info["symbols"])
            .iter()
            .find(|r| r["symbol"] == sym)
            .unwrap();
        let step = dec(&row["filters"][1]["stepSize"]);
        on_step(&bids, step, &sym);
        on_step(&asks, step, &sym);
        let top = sim
            .json(&format!("/binance/fapi/v1/ticker/bookTicker?symbol={sym}"))
            .await;
        assert_eq!(at(&top, "/bidPrice"), &depth["bids"][0][0]);
        assert_eq!(at(&top, "/bidQty"), &depth["bids"][0][1]);
        assert_eq!(at(&top, "/askPrice"), &depth["asks"][0][0]);
        assert_eq!(at(&top, "/askQty"), &depth["asks"][0][1]);
        let five = sim
            .json(&format!("/binance/fapi/v1/depth?symbol={sym}&limit=5"))
            .await;
        assert_eq!(levels(&five["bids"]), bids[..5].to_vec());

        let ticker = sim
            .json(&format!(
                "/bybit/v5/market/tickers?category=linear&symbol={sym}"
            ))
            .await;
        let row = at(&ticker, "/result/list/0");
        let book = sim
            .json(&format!(
                "/bybit/v5/market/orderbook?category=linear&symbol={sym}&limit=50"
            ))
            .await;
        let (bids, asks) = (
            levels(at(&book, "/result/b")),
            levels(at(&book, "/result/a")),
        );
        check_book(
            &format!("bybit {coin}"),
            &bids,
            &asks,
            dec(&row["lastPrice"]),
        );
        let inst = rows(at(&instruments, "/result/list"))
            .iter()
            .find(|r| r["symbol"] == sym)
            .unwrap();
        on_step(&bids, dec(&inst["lotSizeFilter"]["qtyStep"]), &sym);
        assert_eq!(row["bid1Price"], book["result"]["b"][0][0]);
        assert_eq!(row["bid1Size"], book["result"]["b"][0][1]);
        assert_eq!(row["ask1Price"], book["result"]["a"][0][0]);
        assert_eq!(row["ask1Size"], book["result"]["a"][0][1]);
        assert_eq!(at(&book, "/result/s"), &json!(sym));

        let id = format!("{coin}-USDT-SWAP");
        let ticker = sim
            .json(&format!("/okx/api/v5/market/ticker?instId={id}"))
            .await;
        let row = at(&ticker, "/data/0");
        let book = sim
            .json(&format!("/okx/api/v5/market/books?instId={id}&sz=30"))
            .await;
        let data = at(&book, "/data/0");
        let (bids, asks) = (levels(&data["bids"]), levels(&data["asks"]));
        check_book(&format!("okx {coin}"), &bids, &asks, dec(&row["last"]));
        assert!(
            bids.iter().chain(&asks).all(|l| l.1.fract().is_zero()),
            "OKX sizes are whole contracts"
        );
        assert_eq!(rows(&data["bids"][0]).len(), 4);
        assert_eq!(row["bidPx"], data["bids"][0][0]);
        assert_eq!(row["bidSz"], data["bids"][0][1]);
        assert_eq!(row["askPx"], data["asks"][0][0]);
        assert_eq!(row["askSz"], data["asks"][0][1]);
    }

    // Deterministic per (seed, step), and moving with the step.
    let twin = TestSim::frozen(11).await;
    twin.post_ok("/_sim/advance", json!({"steps": 25})).await;
    let path = "/binance/fapi/v1/depth?symbol=ETHUSDT&limit=20";
    let (a, b) = (sim.json(path).await, twin.json(path).await);
    assert_eq!((&a["bids"], &a["asks"]), (&b["bids"], &b["asks"]));
    sim.post_ok("/_sim/advance", json!({"steps": 1})).await;
    assert_ne!(sim.json(path).await["bids"], a["bids"]);
}

#[tokio::test]
async fn every_realistic_listing_has_a_book_consistent_with_its_ticker() {
    let sim = realistic().await;
    for venue in ["upbit", "bithumb"] {
        let tickers = sim
            .json(&format!("/{venue}/v1/ticker/all?quote_currencies=KRW"))
            .await;
        let markets: Vec<String> = rows(&tickers)
            .iter()
            .map(|t| t["market"].as_str().unwrap().to_string())
            .collect();
        for chunk in markets.chunks(100) {
            let books = sim
                .json(&format!(
                    "/{venue}/v1/orderbook?markets={}",
                    chunk.join(",")
                ))
                .await;
            assert_eq!(rows(&books).len(), chunk.len());
            for book in rows(&books) {
                let market = book["market"].as_str().unwrap();
                let t = rows(&tickers)
                    .iter()
                    .find(|t| t["market"] == market)
                    .unwrap();
                let (bids, asks, _) = korean_levels(book);
                check_book(
                    &format!("{venue} {market}"),
                    &bids,
                    &asks,
                    dec(&t["trade_price"]),
                );
            }
        }
    }
    // Binance: every bookTicker row brackets its price; multiplier listings quote per unit.
    let prices = sim.json("/binance/fapi/v1/ticker/price").await;
    let tops = sim.json("/binance/fapi/v1/ticker/bookTicker").await;
    assert_eq!(rows(&prices).len(), rows(&tops).len());
    for (p, t) in rows(&prices).iter().zip(rows(&tops)) {
        assert_eq!(p["symbol"], t["symbol"]);
        let (bid, ask, last) = (dec(&t["bidPrice"]), dec(&t["askPrice"]), dec(&p["price"]));
        assert!(bid < ask && bid <= last && last <= ask, "{t} vs {p}");
    }
    let pepe = sim
        .json("/binance/fapi/v1/depth?symbol=1000PEPEUSDT&limit=5")
        .await;
    let last = dec(at(
        &sim.json("/binance/fapi/v1/ticker/price?symbol=1000PEPEUSDT")
            .await,
        "/price",
    ));
    check_book(
        "1000PEPEUSDT",
        &levels(&pepe["bids"]),
        &levels(&pepe["asks"]),
        last,
    );
    // Bybit and OKX tickers: the top of book brackets the last price.
    let bybit = sim.json("/bybit/v5/market/tickers?category=linear").await;
    for row in rows(at(&bybit, "/result/list")) {
        let (bid, ask, last) = (
            dec(&row["bid1Price"]),
            dec(&row["ask1Price"]),
            dec(&row["lastPrice"]),
        );
        assert!(bid < ask && bid <= last && last <= ask, "{row}");
        assert!(dec(&row["bid1Size"]) > Decimal::ZERO && dec(&row["ask1Size"]) > Decimal::ZERO);
    }
    let okx = sim.json("/okx/api/v5/market/tickers?instType=SWAP").await;
    for row in rows(at(&okx, "/data")) {
        let (bid, ask, last) = (dec(&row["bidPx"]), dec(&row["askPx"]), dec(&row["last"]));
        assert!(bid < ask && bid <= last && last <= ask, "{row}");
        assert!(dec(&row["bidSz"]) >= Decimal::ONE, "{row}: whole contracts");
    }
}

#[tokio::test]
async fn illiquid_korean_books_are_wide_thin_and_padded_with_zero_slots() {
    let sim = realistic().await;
    let truth = sim.json("/_sim/universe").await;
    let illiquid = strs(&truth["illiquid"]);
    assert!(!illiquid.is_empty());
    for coin in &illiquid {
        let book = sim
            .json(&format!("/upbit/v1/orderbook?markets=KRW-{coin}"))
            .await;
        let (bids, asks, padded) = korean_levels(&book[0]);
        assert!(padded > 0, "{coin}: zero slots pad the thin sides");
        assert!(bids.len() < 30 && asks.len() < 30, "{coin}");
        // The pad sits after the live levels: a zero slot is never followed by a live one.
        for side in ["bid_price", "ask_price"] {
            let prices: Vec<Decimal> = rows(&book[0]["orderbook_units"])
                .iter()
                .map(|u| dec(&u[side]))
                .collect();
            let first_zero = prices
                .iter()
                .position(Decimal::is_zero)
                .unwrap_or(prices.len());
            assert!(
                prices[first_zero..].iter().all(Decimal::is_zero),
                "{coin} {side}"
            );
        }
        assert!(
            spread_bp(&bids, &asks) > Decimal::from(50),
            "{coin}: {} bp",
            spread_bp(&bids, &asks)
        );
        let last = dec(at(
            &sim.json(&format!("/upbit/v1/ticker?markets=KRW-{coin}"))
                .await,
            "/0/trade_price",
        ));
        check_book(coin, &bids, &asks, last);
        // total_*_size sums the live sizes.
        let total: Decimal = bids.iter().map(|l| l.1).sum();
        assert!((dec(&book[0]["total_bid_size"]) - total).abs() < Decimal::new(1, 6));
    }

    // Bithumb prints sizes with 4 decimals: somewhere a dust level shows size 0 at a live
    // price, which Upbit-style 8 decimals would show.
    let markets: Vec<String> = korean_markets(&sim, "bithumb")
        .await
        .iter()
        .map(|m| m["market"].as_str().unwrap().to_string())
        .take(200)
        .collect();
    let books = sim
        .json(&format!(
            "/bithumb/v1/orderbook?markets={}",
            markets.join(",")
        ))
        .await;
    let mut dust = 0;
    for book in rows(&books) {
        for u in rows(&book["orderbook_units"]) {
            for (p, s) in [("bid_price", "bid_size"), ("ask_price", "ask_size")] {
                let size = dec(&u[s]);
                assert_eq!(size, size.round_dp(4), "4 decimals: {u}");
                if !dec(&u[p]).is_zero() && size.is_zero() {
                    dust += 1;
                }
            }
        }
    }
    assert!(dust > 0, "no dust level shown as size 0");
}

#[tokio::test]
async fn korean_book_unit_counts_and_limits_follow_each_venue() {
    let sim = TestSim::default().await;
    let one = sim.json("/bithumb/v1/orderbook?markets=KRW-BTC").await;
    assert_eq!(rows(&one[0]["orderbook_units"]).len(), 30);
    let two = sim
        .json("/bithumb/v1/orderbook?markets=KRW-BTC,KRW-ETH")
        .await;
    assert_eq!(rows(&two).len(), 2);
    for b in rows(&two) {
        assert_eq!(rows(&b["orderbook_units"]).len(), 15);
    }
    let markets = |n: usize| -> String {
        (1..=n)
            .map(|i| format!("KRW-SIM{i:03}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let ok = sim
        .json(&format!("/bithumb/v1/orderbook?markets={}", markets(200)))
        .await;
    assert_eq!(rows(&ok).len(), 200);
    let refused = sim
        .get(&format!("/bithumb/v1/orderbook?markets={}", markets(201)))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(
        at(&refused.json(), "/error/message"),
        &json!("Parameter 'markets' must be less than or equal to 200 items.")
    );
    // One unknown market fails the call, as on /v1/ticker.
    let unknown = sim
        .get("/bithumb/v1/orderbook?markets=KRW-BTC,KRW-NOPE")
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(at(&unknown.json(), "/error/name"), &json!(404));
    let unknown = sim
        .get("/upbit/v1/orderbook?markets=KRW-BTC,KRW-NOPE")
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        at(&unknown.json(), "/error/message"),
        &json!("Code not found")
    );
    // Upbit: count 1–30, default 30, out of range → default, not a number → 400.
    for (count, units) in [
        ("", 30),
        ("&count=5", 5),
        ("&count=99", 30),
        ("&count=0", 30),
    ] {
        let b = sim
            .json(&format!(
                "/upbit/v1/orderbook?markets=KRW-BTC,KRW-ETH{count}"
            ))
            .await;
        assert_eq!(rows(&b[1]["orderbook_units"]).len(), units, "{count}");
    }
    assert_eq!(
        sim.get("/upbit/v1/orderbook?markets=KRW-BTC&count=abc")
            .await
            .status,
        400
    );
    let grouped = sim
        .json("/upbit/v1/orderbook?markets=KRW-BTC&level=10000")
        .await;
    assert_eq!(grouped, json!([]), "an unsupported level");
    let native = sim
        .json("/upbit/v1/orderbook?markets=KRW-BTC&level=0")
        .await;
    assert_eq!(rows(&native).len(), 1);
    // Foreign limits.
    for path in [
        "/binance/fapi/v1/depth?symbol=BTCUSDT&limit=7",
        "/binance/fapi/v1/depth?symbol=NOPEUSDT",
        "/binance/fapi/v1/depth",
    ] {
        assert_eq!(sim.get(path).await.status, 400, "{path}");
    }
    let d = sim.json("/binance/fapi/v1/depth?symbol=BTCUSDT").await;
    assert_eq!(
        rows(&d["bids"]).len(),
        30,
        "the default 500 gives the whole book"
    );
    let b = sim
        .json("/bybit/v5/market/orderbook?category=linear&symbol=BTCUSDT")
        .await;
    assert_eq!(rows(at(&b, "/result/b")).len(), 25, "Bybit's default limit");
    let b = sim
        .json("/bybit/v5/market/orderbook?category=linear&symbol=NOPEUSDT")
        .await;
    assert_eq!(b["retCode"], json!(10001));
    let o = sim
        .json("/okx/api/v5/market/books?instId=BTC-USDT-SWAP")
        .await;
    assert_eq!(rows(at(&o, "/data/0/asks")).len(), 1, "OKX's default sz");
    let o = sim
        .json("/okx/api/v5/market/books?instId=NOPE-USDT-SWAP")
        .await;
    assert_eq!(o["code"], json!("51001"));

    // Counted per path, and faults apply.
    let stats = sim.json("/_sim/stats").await;
    assert!(
        at(&stats, "/paths/~1bithumb~1v1~1orderbook")
            .as_u64()
            .unwrap()
            >= 5
    );
    assert!(
        at(&stats, "/paths/~1okx~1api~1v5~1market~1books")
            .as_u64()
            .unwrap()
            >= 2
    );
    sim.post_ok("/_sim/faults", json!({"venue": "okx", "outage": true}))
        .await;
    assert_eq!(
        sim.get("/okx/api/v5/market/books?instId=BTC-USDT-SWAP")
            .await
            .status,
        503
    );
    sim.post_ok(
        "/_sim/faults",
        json!({"venue": "binance", "zero_price": "BTC"}),
    )
    .await;
    let d = sim.json("/binance/fapi/v1/depth?symbol=BTCUSDT").await;
    assert!(
        rows(&d["bids"]).is_empty(),
        "a zeroed price has no book: {d}"
    );
}

/// `[["price","size"],…]` as JSON.
fn side(levels: &[(&str, &str)]) -> Value {
    Value::Array(levels.iter().map(|(p, s)| json!([p, s])).collect())
}

#[tokio::test]
async fn a_pinned_book_is_served_exactly_on_every_path_until_cleared() {
    let sim = TestSim::default().await;
    let upbit_bids = [("129550000", "0.5"), ("129540000", "1.2")];
    let upbit_asks = [
        ("129560000", "0.3"),
        ("129580000", "2"),
        ("129600000", "4.25"),
    ];
    sim.post_ok(
        "/_sim/prices",
        json!({"venue": "upbit", "coin": "BTC", "book": {"bids": side(&upbit_bids), "asks": side(&upbit_asks)}}),
    )
    .await;
    let book = sim
        .json("/upbit/v1/orderbook?markets=KRW-BTC&count=5")
        .await;
    let units = rows(&book[0]["orderbook_units"]);
    assert_eq!(units.len(), 5);
    assert_eq!(
        units[0],
        json!({"ask_price": 129560000.0, "bid_price": 129550000.0, "ask_size": 0.3, "bid_size": 0.5})
    );
    assert_eq!(
        units[1],
        json!({"ask_price": 129580000.0, "bid_price": 129540000.0, "ask_size": 2.0, "bid_size": 1.2})
    );
    assert_eq!(
        units[2]["bid_price"],
        json!(0.0),
        "padded after the pinned levels"
    );
    assert_eq!(units[2]["ask_size"], json!(4.25));
    assert_eq!(book[0]["total_ask_size"], json!(6.55));
    let t = sim.json("/upbit/v1/ticker?markets=KRW-BTC").await;
    assert_eq!(t[0]["trade_price"], json!(129555000.0), "last = mid");

    let bids = [("89277.1", "1.5"), ("89277.0", "3")];
    let asks = [("89277.2", "0.25"), ("89280", "10")];
    for (venue, coin) in [
        ("binance", "BTC"),
        ("bybit", "BTC"),
        ("okx", "BTC"),
        ("bithumb", "BTC"),
    ] {
        let (b, a) = if venue == "bithumb" {
            (side(&upbit_bids), side(&upbit_asks))
        } else {
            (side(&bids), side(&asks))
        };
        sim.post_ok(
            "/_sim/prices",
            json!({"venue": venue, "coin": coin, "book": {"bids": b, "asks": a}}),
        )
        .await;
    }
    sim.post_ok("/_sim/advance", json!({"steps": 30})).await;

    let d = sim
        .json("/binance/fapi/v1/depth?symbol=BTCUSDT&limit=5")
        .await;
    assert_eq!((&d["bids"], &d["asks"]), (&side(&bids), &side(&asks)));
    let t = sim
        .json("/binance/fapi/v1/ticker/bookTicker?symbol=BTCUSDT")
        .await;
    assert_eq!(
        [&t["bidPrice"], &t["bidQty"], &t["askPrice"], &t["askQty"]],
        [
            &json!("89277.1"),
            &json!("1.5"),
            &json!("89277.2"),
            &json!("0.25")
        ]
    );
    let all = sim.json("/binance/fapi/v1/ticker/bookTicker").await;
    let row = rows(&all)
        .iter()
        .find(|r| r["symbol"] == "BTCUSDT")
        .unwrap();
    assert_eq!(row["bidPrice"], json!("89277.1"));
    let mark = sim
        .json("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT")
        .await;
    assert_eq!(mark["markPrice"], json!("89277.15"));

    let b = sim
        .json("/bybit/v5/market/orderbook?category=linear&symbol=BTCUSDT")
        .await;
    assert_eq!(
        (at(&b, "/result/b"), at(&b, "/result/a")),
        (&side(&bids), &side(&asks))
    );
    let t = sim
        .json("/bybit/v5/market/tickers?category=linear&symbol=BTCUSDT")
        .await;
    let row = at(&t, "/result/list/0");
    assert_eq!(
        [
            &row["bid1Price"],
            &row["bid1Size"],
            &row["ask1Price"],
            &row["ask1Size"],
            &row["lastPrice"]
        ],
        [
            &json!("89277.1"),
            &json!("1.5"),
            &json!("89277.2"),
            &json!("0.25"),
            &json!("89277.15")
        ]
    );

    let o = sim
        .json("/okx/api/v5/market/books?instId=BTC-USDT-SWAP&sz=10")
        .await;
    let data = at(&o, "/data/0");
    assert_eq!(levels(&data["bids"]), levels(&side(&bids)));
    assert_eq!(data["asks"][1][0], json!("89280"));
    assert_eq!(data["asks"][1][1], json!("10"));
    let t = sim
        .json("/okx/api/v5/market/ticker?instId=BTC-USDT-SWAP")
        .await;
    let row = at(&t, "/data/0");
    assert_eq!(
        [
            &row["bidPx"],
            &row["bidSz"],
            &row["askPx"],
            &row["askSz"],
            &row["last"]
        ],
        [
            &json!("89277.1"),
            &json!("1.5"),
            &json!("89277.2"),
            &json!("0.25"),
            &json!("89277.15")
        ]
    );

    let bt = sim
        .json("/bithumb/v1/orderbook?markets=KRW-BTC,KRW-ETH")
        .await;
    assert_eq!(bt[0]["orderbook_units"][0]["bid_price"], json!(129550000.0));
    assert_eq!(bt[0]["orderbook_units"][1]["bid_size"], json!(1.2));
    assert_eq!(rows(&bt[0]["orderbook_units"]).len(), 15);

    // A price pin wins over the mid; the book stays.
    sim.post_ok(
        "/_sim/prices",
        json!({"venue": "binance", "coin": "BTC", "price": "89277.2"}),
    )
    .await;
    let p = sim
        .json("/binance/fapi/v1/ticker/price?symbol=BTCUSDT")
        .await;
    assert_eq!(p["price"], json!("89277.2"));
    let d = sim.json("/binance/fapi/v1/depth?symbol=BTCUSDT").await;
    assert_eq!(d["bids"], side(&bids));

    // Listed with the price pins.
    let pins = sim.json("/_sim/prices").await;
    assert_eq!(rows(&pins).len(), 6);
    let listed = rows(&pins)
        .iter()
        .find(|p| p["venue"] == "upbit" && p.get("book").is_some())
        .unwrap();
    assert_eq!(listed["book"]["bids"], side(&upbit_bids));
    assert_eq!(listed["allow_crossed"], json!(false));

    sim.delete("/_sim/prices").await;
    assert!(rows(&sim.json("/_sim/prices").await).is_empty());
    let d = sim.json("/binance/fapi/v1/depth?symbol=BTCUSDT").await;
    assert_eq!(rows(&d["bids"]).len(), 30);
    assert_ne!(d["bids"][0][0], json!("89277.1"));
}

#[tokio::test]
async fn a_book_pinned_on_a_multiplier_listing_is_quoted_per_multiplier_unit() {
    let sim = realistic().await;
    let bids = [("0.0098940", "804200")];
    let asks = [("0.0098950", "1460100"), ("0.0098960", "20000")];
    let answer = sim
        .post_ok(
            "/_sim/prices",
            json!({"venue": "binance", "coin": "PEPE", "book": {"bids": side(&bids), "asks": side(&asks)}}),
        )
        .await;
    assert_eq!(answer[0]["coin"], json!("1000PEPE"));
    let d = sim
        .json("/binance/fapi/v1/depth?symbol=1000PEPEUSDT&limit=5")
        .await;
    assert_eq!((&d["bids"], &d["asks"]), (&side(&bids), &side(&asks)));
    let p = sim
        .json("/binance/fapi/v1/ticker/price?symbol=1000PEPEUSDT")
        .await;
    assert_eq!(p["price"], json!("0.0098945"));
}

#[tokio::test]
async fn bad_book_pins_are_refused_and_a_crossed_one_needs_the_flag() {
    let sim = TestSim::default().await;
    let crossed = json!({"bids": [["101", "1"]], "asks": [["100", "1"]]});
    let bad = [
        json!({"venue": "binance", "coin": "ETH", "book": crossed}),
        json!({"venue": "binance", "coin": "ETH", "book": {"bids": [["99", "1"], ["100", "1"]], "asks": [["101", "1"]]}}),
        json!({"venue": "binance", "coin": "ETH", "book": {"bids": [["99", "1"]], "asks": [["102", "1"], ["101", "1"]]}}),
        json!({"venue": "binance", "coin": "ETH", "book": {"bids": [["99", "0"]], "asks": [["101", "1"]]}}),
        json!({"venue": "binance", "coin": "ETH", "book": {"bids": [["-1", "1"]], "asks": [["101", "1"]]}}),
        json!({"venue": "binance", "coin": "ETH", "book": {"bids": [], "asks": [["101", "1"]]}}),
        json!({"venue": "binance", "coin": "NOPE", "book": {"bids": [["99", "1"]], "asks": [["101", "1"]]}}),
        json!({"fx": "dunamu", "book": {"bids": [["99", "1"]], "asks": [["101", "1"]]}}),
        json!({"venue": "binance", "coin": "ETH", "price": "100", "book": {"bids": [["99", "1"]], "asks": [["101", "1"]]}}),
        json!({"venue": "binance", "coin": "ETH", "price": "100", "allow_crossed": true}),
    ];
    for body in bad {
        let (status, answer) = sim
            .control(Method::POST, "/_sim/prices", body.clone())
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert!(rows(&sim.json("/_sim/prices").await).is_empty());
    sim.post_ok(
        "/_sim/prices",
        json!({"venue": "binance", "coin": "ETH", "book": crossed, "allow_crossed": true}),
    )
    .await;
    let t = sim
        .json("/binance/fapi/v1/ticker/bookTicker?symbol=ETHUSDT")
        .await;
    assert_eq!(
        (&t["bidPrice"], &t["askPrice"]),
        (&json!("101"), &json!("100"))
    );
}

#[tokio::test]
async fn funding_is_present_small_and_on_the_interval_boundary() {
    let sim = TestSim::default().await;
    let now = chrono_now_ms();
    let hour = 3_600_000_i64;
    let four_hourly: Vec<String> = rows(&sim.json("/binance/fapi/v1/fundingInfo").await)
        .iter()
        .map(|r| r["symbol"].as_str().unwrap().to_string())
        .collect();
    let marks = sim.json("/binance/fapi/v1/premiumIndex").await;
    let mut rates = std::collections::BTreeSet::new();
    let mut typical = 0;
    for row in rows(&marks) {
        let rate = dec(&row["lastFundingRate"]);
        rates.insert(rate);
        assert!(rate.abs() <= Decimal::new(2, 2), "{row}");
        if rate.abs() <= Decimal::new(3, 4) {
            typical += 1;
        }
        let interval = if four_hourly.contains(&row["symbol"].as_str().unwrap().to_string()) {
            4
        } else {
            8
        };
        let next = row["nextFundingTime"].as_i64().unwrap();
        assert_eq!(next % (interval * hour), 0, "{row}");
        assert!(
            next > now - 60_000 && next <= now + interval * hour + 60_000,
            "{row}"
        );
    }
    assert!(rates.len() > 50, "rates vary per symbol");
    assert!(
        typical * 10 > rows(&marks).len() * 9,
        "most rates are small"
    );

    let bybit = sim.json("/bybit/v5/market/tickers?category=linear").await;
    let instruments = sim
        .json("/bybit/v5/market/instruments-info?category=linear&limit=1000")
        .await;
    let mut intervals = std::collections::BTreeSet::new();
    for row in rows(at(&bybit, "/result/list")) {
        let rate = dec(&row["fundingRate"]);
        let cap = dec(&row["fundingCap"]);
        assert!(rate.abs() <= cap, "{row}");
        let h: i64 = row["fundingIntervalHour"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        intervals.insert(h);
        let next: i64 = row["nextFundingTime"].as_str().unwrap().parse().unwrap();
        assert_eq!(next % (h * hour), 0, "{row}");
        assert!(next > now - 60_000 && next <= now + h * hour + 60_000);
        let inst = rows(at(&instruments, "/result/list"))
            .iter()
            .find(|i| i["symbol"] == row["symbol"])
            .unwrap();
        assert_eq!(inst["fundingInterval"], json!(h * 60), "{}", row["symbol"]);
    }
    assert!(
        intervals.len() > 1 && intervals.contains(&8),
        "{intervals:?}"
    );

    let btc = sim
        .json("/okx/api/v5/public/funding-rate?instId=BTC-USDT-SWAP")
        .await;
    assert_eq!(rows(at(&btc, "/data")).len(), 1);
    assert_eq!(at(&btc, "/data/0/instId"), &json!("BTC-USDT-SWAP"));
    let any = sim.json("/okx/api/v5/public/funding-rate?instId=ANY").await;
    let live = rows(at(
        &sim.json("/okx/api/v5/public/instruments?instType=SWAP")
            .await,
        "/data",
    ))
    .iter()
    .filter(|i| i["state"] == "live")
    .count();
    assert_eq!(rows(at(&any, "/data")).len(), live);
    for row in rows(at(&any, "/data")) {
        let rate = dec(&row["fundingRate"]);
        assert!(rate.abs() <= dec(&row["maxFundingRate"]), "{row}");
        assert_eq!(dec(&row["minFundingRate"]), -dec(&row["maxFundingRate"]));
        let t: i64 = row["fundingTime"].as_str().unwrap().parse().unwrap();
        let next: i64 = row["nextFundingTime"].as_str().unwrap().parse().unwrap();
        let interval = next - t;
        assert!([4 * hour, 8 * hour].contains(&interval), "{row}");
        assert_eq!(t % interval, 0);
        assert!(t > now - 60_000 && t <= now + interval + 60_000);
    }
    let unknown = sim
        .json("/okx/api/v5/public/funding-rate?instId=NOPE-USDT-SWAP")
        .await;
    assert_eq!(unknown["code"], json!("51001"));
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
