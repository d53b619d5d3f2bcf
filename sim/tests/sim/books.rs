//! Order books and funding rates on every venue.

use domain::Decimal;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    support::{TestSim, at, dec, realistic, rows, strs},
    universe::korean_markets,
};

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
