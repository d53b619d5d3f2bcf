//! The shape of every served path: fields and JSON types as the real upstream answers.

use std::str::FromStr;

use domain::Decimal;
use serde_json::{Value, json};

use crate::support::{TestSim, at, dec, price};

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
