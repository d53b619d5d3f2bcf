//! The realistic shape of the listing set: metadata, the ground truth and listing changes.

use domain::Decimal;
use reqwest::Method;
use serde_json::{Value, json};
use sim::SimConfig;

use crate::support::{TestSim, at, dec, realistic, rows, strs};

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

pub(crate) async fn korean_markets(sim: &TestSim, venue: &str) -> Vec<Value> {
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
