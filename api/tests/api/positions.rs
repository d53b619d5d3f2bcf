use domain::{FxSource, Venue};
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
    let total_pct = total / (k_now * q_k) * dec!(100);
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
