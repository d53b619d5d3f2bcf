use domain::{CoinSelection, FxSource, Venue};
use reqwest::Method;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};

use crate::support::*;

fn request() -> Value {
    json!({
        "coin": "BTC",
        "korea_venue": "upbit",
        "korea_qty": "0.5",
        "korea_entry": "129555000",
        "foreign_venue": "binance",
        "foreign_qty": "0.5",
        "foreign_entry": "89277.1",
        "leverage": 3,
        "entry_usd_krw": "1432.6"
    })
}

fn d(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a decimal string"))
        .parse()
        .unwrap()
}

async fn open(app: &TestApp) -> i64 {
    let (status, body) = app.admin_post("/api/v1/positions", Some(request())).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn position_pnl_follows_the_design_formulas() {
    let app = spawn_app().await;
    let id = open(&app).await;
    app.put_tickers(&[
        ticker(Venue::Upbit, "BTC", "130000000", 100),
        ticker(Venue::Binance, "BTC", "89000", 100),
    ])
    .await;
    app.put_fx(&fx(FxSource::Dunamu, "1440", 1_000)).await;

    let body = app.get_ok(&format!("/api/v1/positions/{id}")).await;
    assert_eq!(body["open"], true);
    assert_eq!(body["entry_premium_display"], "1.30");
    let (q_k, q_f) = (dec!(0.5), dec!(0.5));
    let (k_entry, f_entry) = (dec!(129555000), dec!(89277.1));
    let (k_now, f_now, fx_now) = (dec!(130000000), dec!(89000), dec!(1440));
    let korea_pnl = (k_now - k_entry) * q_k;
    let foreign_pnl = (f_entry - f_now) * q_f * fx_now;
    let total = korea_pnl + foreign_pnl;
    // Over the entry notional.
    let total_pct = total / (k_entry * q_k) * dec!(100);
    let premium = |k: Decimal, f: Decimal, x: Decimal| (k - f * x) / (f * x) * dec!(100);
    let premium_now = premium(k_now, f_now, fx_now);
    let entry_premium = premium(k_entry, f_entry, dec!(1432.6));

    let pnl = &body["pnl"];
    assert!(body["pnl_unavailable"].is_null());
    assert_eq!(d(&pnl["korea_pnl"]), korea_pnl);
    assert_eq!(korea_pnl, dec!(222500));
    assert_eq!(d(&pnl["foreign_pnl_krw"]), foreign_pnl);
    assert_eq!(d(&pnl["total"]), total);
    assert_eq!(d(&pnl["total_pct"]), total_pct);
    assert_eq!(d(&pnl["premium_now"]), premium_now);
    assert_eq!(d(&body["entry_premium"]), entry_premium);
    assert_eq!(d(&pnl["premium_diff"]), premium_now - entry_premium);
    assert_eq!(pnl["usd_krw_now"], "1440");
    assert_eq!(pnl["fx_source"], "dunamu");

    let list = app.get_ok("/api/v1/positions").await;
    assert_eq!(list["positions"][0]["id"], id);
    assert_eq!(d(&list["positions"][0]["pnl"]["total"]), total);
}

#[tokio::test]
async fn pnl_is_null_with_a_reason_when_prices_are_unavailable() {
    let app = spawn_app().await;
    let id = open(&app).await;
    app.put_fx(&fx(FxSource::Dunamu, "1440", 1_000)).await;
    app.put_tickers(&[ticker(Venue::Upbit, "BTC", "130000000", 100)])
        .await;
    let body = app.get_ok(&format!("/api/v1/positions/{id}")).await;
    assert!(body["pnl"].is_null());
    let why = body["pnl_unavailable"].as_str().unwrap();
    assert!(why.contains("binance BTC"), "{why}");
}

#[tokio::test]
async fn closing_twice_is_a_conflict() {
    let app = spawn_app().await;
    let id = open(&app).await;
    let second = open(&app).await;
    let path = format!("/api/v1/positions/{id}/close");
    assert_error(
        &app.call(Method::POST, &path, None, None).await,
        401,
        "unauthorized",
    );
    let (status, body) = app.admin_post(&path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["open"], false);
    assert!(body["closed_at"].as_str().unwrap().ends_with('Z'));
    assert_error(
        &app.admin_post(&path, None).await,
        409,
        "position_already_closed",
    );

    assert_error(
        &app.admin_post("/api/v1/positions/999999/close", None).await,
        404,
        "position_not_found",
    );
    assert_error(
        &app.get("/api/v1/positions/999999").await,
        404,
        "position_not_found",
    );
    assert_error(&app.get("/api/v1/positions/abc").await, 400, "bad_request");

    let open_only = app.get_ok("/api/v1/positions?open_only=true").await;
    let ids: Vec<i64> = open_only["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![second]);
    let all = app.get_ok("/api/v1/positions").await;
    assert_eq!(all["positions"].as_array().unwrap().len(), 2);
    assert_eq!(all["positions"][0]["id"], second, "newest first");
    assert_eq!(all["positions"][1]["pnl_unavailable"], "position is closed");
}

#[tokio::test]
async fn invalid_positions_are_rejected_naming_the_field() {
    let app = spawn_app().await;
    let cases: [(&str, Value, &str); 10] = [
        // Decimals are strings, never JSON numbers (which would lose precision).
        ("foreign_entry", json!(89277.1), "foreign_entry"),
        ("korea_qty", json!("0"), "korea_qty"),
        ("foreign_qty", json!("-1"), "foreign_qty"),
        ("korea_entry", json!("0"), "korea_entry"),
        ("entry_usd_krw", json!("abc"), "entry_usd_krw"),
        ("foreign_entry", json!("89,277.1"), "foreign_entry"),
        ("leverage", json!(0), "leverage"),
        ("leverage", json!(126), "leverage"),
        ("korea_venue", json!("binance"), "korea_venue"),
        ("coin", json!("PEPE"), "coin"),
    ];
    for (field, value, named) in cases {
        let mut body = request();
        body[field] = value.clone();
        let answer = app.admin_post("/api/v1/positions", Some(body)).await;
        let msg = assert_error(&answer, 400, "bad_request");
        assert!(msg.contains(named), "{field}={value}: {msg}");
    }
    let mut body = request();
    body.as_object_mut().unwrap().remove("coin");
    assert_error(
        &app.admin_post("/api/v1/positions", Some(body)).await,
        400,
        "bad_request",
    );
    assert_error(
        &app.call(Method::POST, "/api/v1/positions", None, Some(request()))
            .await,
        401,
        "unauthorized",
    );
    let list = app.get_ok("/api/v1/positions").await;
    assert_eq!(list["positions"].as_array().unwrap().len(), 0);
}

async fn post_with_key(app: &TestApp, key: &str, body: Value) -> (reqwest::StatusCode, Value) {
    let resp = app
        .http
        .post(app.url("/api/v1/positions"))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("request is answered");
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn stored_positions(app: &TestApp) -> usize {
    app.store.positions(false, 1_000).await.unwrap().len()
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_twice_give_the_same_position_once() {
    let app = spawn_app().await;
    let key = "4b0c5a8e-0f57-4d7e-9a39-5bd1f0c2a001";
    let (s1, first) = post_with_key(&app, key, request()).await;
    assert_eq!(s1, 201, "{first}");
    // The same request with decimals written differently is the same request.
    let mut again = request();
    again["korea_qty"] = json!("0.50");
    let (s2, second) = post_with_key(&app, key, again).await;
    assert_eq!(s2, 201, "{second}");
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["opened_at"], second["opened_at"]);
    assert_eq!(stored_positions(&app).await, 1);
    // Without the key (or with another one) a new position is opened.
    let (s3, third) = post_with_key(&app, "another-key", request()).await;
    assert_eq!(s3, 201);
    assert_ne!(third["id"], first["id"]);
    assert_eq!(stored_positions(&app).await, 2);
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_a_conflict() {
    let app = spawn_app().await;
    let (s, _) = post_with_key(&app, "key-1", request()).await;
    assert_eq!(s, 201);
    let mut other = request();
    other["leverage"] = json!(5);
    let answer = post_with_key(&app, "key-1", other).await;
    let message = assert_error(&answer, 409, "conflict");
    assert!(message.contains("Idempotency-Key"), "{message}");
    assert_eq!(stored_positions(&app).await, 1);
}

#[tokio::test]
async fn bad_idempotency_keys_are_rejected() {
    let app = spawn_app().await;
    for key in ["has space", &"k".repeat(256)] {
        let answer = post_with_key(&app, key, request()).await;
        let message = assert_error(&answer, 400, "bad_request");
        assert!(message.contains("Idempotency-Key"), "{message}");
    }
    assert_eq!(stored_positions(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_requests_with_one_idempotency_key_open_one_position() {
    let app = spawn_app().await;
    let answers = futures::future::join_all(
        (0..10).map(|_| post_with_key(&app, "concurrent-key", request())),
    )
    .await;
    let ids: Vec<&Value> = answers
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, 201, "{b}");
            &b["id"]
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(stored_positions(&app).await, 1);
}

#[tokio::test]
async fn total_pct_is_over_the_entry_notional_not_the_current_one() {
    let app = spawn_app().await;
    let id = open(&app).await;
    // The Korean price doubles while the foreign one and the FX hold: the hedge made its
    // whole entry notional, 100 % of it (50 % of the current notional).
    app.put_tickers(&[
        ticker(Venue::Upbit, "BTC", "259110000", 100),
        ticker(Venue::Binance, "BTC", "89277.1", 100),
    ])
    .await;
    app.put_fx(&fx(FxSource::Dunamu, "1432.6", 1_000)).await;
    let body = app.get_ok(&format!("/api/v1/positions/{id}")).await;
    let entry_notional = dec!(129555000) * dec!(0.5);
    assert_eq!(d(&body["pnl"]["total"]), entry_notional);
    assert_eq!(d(&body["pnl"]["total_pct"]), dec!(100));
}

/// An app whose registry lists PEPE as the venues do: on binance `1000PEPEUSDT` (quoted per
/// 1,000 PEPE, sized in 1,000 PEPE), on okx `PEPE-USDT-SWAP` (quoted per PEPE, contracts of
/// 10,000,000 PEPE); plain elsewhere.
async fn app_with_pepe() -> TestApp {
    let app = spawn_app_with(|s| {
        if let CoinSelection::List(coins) = &mut s.coins {
            coins.push(coin("PEPE"));
        }
    })
    .await;
    let markets = cache::Markets::new(app.conn.clone(), app.keys.clone());
    let now = markets.current().await.unwrap().expect("a registry");
    let mut registry = now.registry.clone();
    let binance = pepe(&mut registry, Venue::Binance);
    binance.multiplier = dec!(1000);
    binance.instrument.symbol = "1000PEPEUSDT".into();
    binance.instrument.base = "1000PEPE".into();
    let okx = pepe(&mut registry, Venue::Okx);
    okx.instrument.symbol = "PEPE-USDT-SWAP".into();
    okx.instrument.contract_value = Some(dec!(10000000));
    markets.put(&registry, &now.universe).await.unwrap();
    app
}

fn pepe(registry: &mut domain::Registry, venue: Venue) -> &mut domain::Listing {
    let listings = &mut registry.venues.get_mut(&venue).unwrap().listings;
    listings
        .iter_mut()
        .find(|l| l.coin == coin("PEPE"))
        .unwrap()
}

/// PEPE's market now, per coin as the worker caches it: 0.0151 KRW on upbit, 0.0000104 USDT
/// abroad (0.0104 per 1,000 on `1000PEPEUSDT`), USD/KRW 1,432.6.
async fn pepe_market(app: &TestApp, korea: &str, foreign: &str) {
    app.put_tickers(&[
        ticker(Venue::Upbit, "PEPE", korea, 100),
        ticker(Venue::Binance, "PEPE", foreign, 100),
        ticker(Venue::Okx, "PEPE", foreign, 100),
    ])
    .await;
    app.put_fx(&fx(FxSource::Dunamu, "1432.6", 1_000)).await;
}

fn pepe_request(foreign_venue: &str, units: &str, foreign_qty: &str, foreign_entry: &str) -> Value {
    json!({
        "coin": "PEPE",
        "korea_venue": "upbit",
        "korea_qty": "10000000",
        "korea_entry": "0.0151",
        "foreign_venue": foreign_venue,
        "units": units,
        "foreign_qty": foreign_qty,
        "foreign_entry": foreign_entry,
        "leverage": 2,
        "entry_usd_krw": "1432.6"
    })
}

async fn open_ok(app: &TestApp, body: Value) -> Value {
    let (status, answer) = app.admin_post("/api/v1/positions", Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    app.get_ok(&format!("/api/v1/positions/{}", answer["id"]))
        .await
}

#[tokio::test]
async fn a_position_in_contract_units_of_a_multiplier_instrument_gets_the_same_pnl_as_per_coin() {
    let app = app_with_pepe().await;
    pepe_market(&app, "0.0151", "0.0000104").await;
    // As binance shows it: 10,000 contracts of 1000PEPEUSDT at 0.0104 USDT; and the same
    // hedge per coin: 10,000,000 PEPE at 0.0000104.
    let mut by_contract = pepe_request("binance", "contract", "10000", "0.0104");
    by_contract["foreign_instrument"] = json!("1000PEPEUSDT");
    let contract_id = open_ok(&app, by_contract).await["id"].clone();
    let coin_id = open_ok(
        &app,
        pepe_request("binance", "coin", "10000000", "0.0000104"),
    )
    .await["id"]
        .clone();

    pepe_market(&app, "0.0149", "0.0000102").await;
    let by_contract = app
        .get_ok(&format!("/api/v1/positions/{contract_id}"))
        .await;
    let per_coin = app.get_ok(&format!("/api/v1/positions/{coin_id}")).await;

    // (0.0149 − 0.0151) × 10,000,000 KRW long, (0.0000104 − 0.0000102) × 10,000,000 × 1,432.6
    // KRW short.
    let korea_pnl = (dec!(0.0149) - dec!(0.0151)) * dec!(10000000);
    let foreign_pnl = (dec!(0.0000104) - dec!(0.0000102)) * dec!(10000000) * dec!(1432.6);
    for body in [&by_contract, &per_coin] {
        let pnl = &body["pnl"];
        assert_eq!(d(&pnl["korea_pnl"]), korea_pnl, "{body}");
        assert_eq!(d(&pnl["foreign_pnl_krw"]), foreign_pnl, "{body}");
        assert_eq!(d(&pnl["total"]), korea_pnl + foreign_pnl, "{body}");
        assert_eq!(d(&body["foreign_qty"]), dec!(10000000));
        assert_eq!(d(&body["foreign_entry"]), dec!(0.0000104));
        // The same leg in the instrument's units.
        let contract = &body["foreign_contract"];
        assert_eq!(contract["instrument"], "1000PEPEUSDT");
        assert_eq!(d(&contract["price_multiplier"]), dec!(1000));
        assert_eq!(d(&contract["coins_per_contract"]), dec!(1000));
        assert_eq!(d(&contract["qty"]), dec!(10000));
        assert_eq!(d(&contract["entry"]), dec!(0.0104));
        assert_eq!(d(&pnl["foreign_now"]), dec!(0.0000102));
        assert_eq!(d(&pnl["foreign_now_contract"]), dec!(0.0102));
    }
    for field in ["total_pct", "premium_now", "premium_diff"] {
        assert_eq!(by_contract["pnl"][field], per_coin["pnl"][field], "{field}");
    }
    assert_eq!(by_contract["entry_premium"], per_coin["entry_premium"]);
    assert_eq!(by_contract["units"], "contract");
    assert_eq!(per_coin["units"], "coin");
}

#[tokio::test]
async fn okx_contracts_are_counted_in_contract_value_coins() {
    let app = app_with_pepe().await;
    pepe_market(&app, "0.0151", "0.0000104").await;
    // One OKX contract of PEPE-USDT-SWAP is 10,000,000 PEPE, quoted per PEPE.
    let body = open_ok(&app, pepe_request("okx", "contract", "1", "0.0000104")).await;
    assert_eq!(d(&body["foreign_qty"]), dec!(10000000));
    assert_eq!(d(&body["foreign_entry"]), dec!(0.0000104));
    assert_eq!(body["foreign_contract"]["instrument"], "PEPE-USDT-SWAP");
    assert_eq!(d(&body["foreign_contract"]["qty"]), dec!(1));
    assert_eq!(d(&body["pnl"]["foreign_pnl_krw"]), dec!(0));
}

#[tokio::test]
async fn an_entry_price_1000_times_off_the_market_is_refused_naming_the_field_and_both_prices() {
    let app = app_with_pepe().await;
    pepe_market(&app, "0.0151", "0.0000104").await;
    // The 1000PEPEUSDT quote written as a per-coin price.
    let answer = app
        .admin_post(
            "/api/v1/positions",
            Some(pepe_request("binance", "coin", "10000", "0.0104")),
        )
        .await;
    let msg = assert_error(&answer, 400, "bad_request");
    for part in [
        "foreign_entry",
        "0.0104",
        "0.0000104",
        "1000PEPEUSDT",
        "units",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    // A per-coin price sent as the contract's quote: both prices in the contract's units.
    let answer = app
        .admin_post(
            "/api/v1/positions",
            Some(pepe_request("binance", "contract", "10000", "0.0000104")),
        )
        .await;
    let msg = assert_error(&answer, 400, "bad_request");
    for part in ["foreign_entry", "0.0000104", "0.001 times", "0.0104"] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    // The Korean price and the FX are checked the same way.
    let mut korea_off = pepe_request("binance", "coin", "10000000", "0.0000104");
    korea_off["korea_entry"] = json!("15.1");
    let msg = assert_error(
        &app.admin_post("/api/v1/positions", Some(korea_off)).await,
        400,
        "bad_request",
    );
    assert!(
        msg.contains("korea_entry") && msg.contains("0.0151"),
        "{msg}"
    );
    let mut fx_off = pepe_request("binance", "coin", "10000000", "0.0000104");
    fx_off["entry_usd_krw"] = json!("14326");
    let msg = assert_error(
        &app.admin_post("/api/v1/positions", Some(fx_off)).await,
        400,
        "bad_request",
    );
    assert!(
        msg.contains("entry_usd_krw") && msg.contains("1432.6"),
        "{msg}"
    );
    assert_eq!(stored_positions(&app).await, 0);
    // Within 50 % of the market is a trade, not a unit error.
    open_ok(
        &app,
        pepe_request("binance", "coin", "10000000", "0.0000145"),
    )
    .await;
    assert_eq!(stored_positions(&app).await, 1);
}

#[tokio::test]
async fn an_unknown_foreign_instrument_or_units_value_is_refused_naming_the_field() {
    let app = app_with_pepe().await;
    for (instrument, names) in [
        ("BTC", "is BTC, not PEPE"),
        ("PEPE-USDT-SWAP", "not a binance market"),
    ] {
        let mut body = pepe_request("binance", "contract", "10000", "0.0104");
        body["foreign_instrument"] = json!(instrument);
        let msg = assert_error(
            &app.admin_post("/api/v1/positions", Some(body)).await,
            400,
            "bad_request",
        );
        assert!(msg.contains("foreign_instrument"), "{msg}");
        assert!(msg.contains(names), "{msg}");
        assert!(msg.contains("1000PEPEUSDT"), "{msg}");
    }
    let mut body = pepe_request("binance", "contracts", "10000", "0.0104");
    body["units"] = json!("contracts");
    let answer = app.admin_post("/api/v1/positions", Some(body)).await;
    let msg = assert_error(&answer, 400, "bad_request");
    assert!(
        msg.contains("units") || msg.contains("PositionUnits"),
        "{msg}"
    );
}

/// An illiquid Korean coin's minutes-old last trade values a position no more than it prices a
/// premium: the book mid does, and without a book the PnL is unavailable with the reason.
#[tokio::test]
async fn an_old_korean_trade_values_a_position_at_the_book_mid() {
    let app = spawn_app().await;
    let id = open(&app).await;
    let mut korea = ticker(Venue::Upbit, "BTC", "120000000", 100);
    korea.last_trade_at = Some(chrono::Utc::now() - chrono::Duration::minutes(5));
    korea.book =
        Some(domain::BookTop::new(dec!(129990000), dec!(1), dec!(130010000), dec!(1)).unwrap());
    app.put_tickers(&[korea.clone(), ticker(Venue::Binance, "BTC", "89000", 100)])
        .await;
    app.put_fx(&fx(FxSource::Dunamu, "1440", 1_000)).await;
    let body = app.get_ok(&format!("/api/v1/positions/{id}")).await;
    assert_eq!(d(&body["pnl"]["korea_now"]), dec!(130000000), "{body}");
    assert_eq!(
        d(&body["pnl"]["korea_pnl"]),
        (dec!(130000000) - dec!(129555000)) * dec!(0.5)
    );

    korea.book = None;
    korea.book_error = Some("bid side is empty".into());
    app.put_tickers(&[korea, ticker(Venue::Binance, "BTC", "89000", 100)])
        .await;
    let body = app.get_ok(&format!("/api/v1/positions/{id}")).await;
    let why = body["pnl_unavailable"].as_str().unwrap_or_default();
    assert!(
        why.contains("upbit BTC ticker: last trade") && why.ends_with("bid side is empty"),
        "{body}"
    );
}
