//! `GET /api/v1/premiums` as a served table: ETag and 304, gzip and brotli bodies, filters, and
//! no stale bytes after the cache's premiums change.

use std::io::Read as _;

use domain::{MarketFlag, Venue};
use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::support::*;

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    vary: Option<String>,
    encoding: Option<String>,
    body: Vec<u8>,
}

async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = app.http.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request is answered");
    let h = |name| {
        resp.headers()
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().unwrap().to_string())
    };
    Answer {
        status: resp.status(),
        etag: h(header::ETAG),
        vary: h(header::VARY),
        encoding: h(header::CONTENT_ENCODING),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("a JSON body")
}

fn rows(v: &Value) -> Vec<(String, String)> {
    v["premiums"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["coin"].as_str().unwrap().to_string(),
                format!(
                    "{}-{}",
                    p["korea_venue"].as_str().unwrap(),
                    p["foreign_venue"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_etag_answers_304_without_a_body_on_repeat() {
    let app = spawn_app().await;
    app.put_premiums(&[worked_example("BTC", 100)]).await;

    // The table is rebuilt at least every second: on a slow machine the second request may
    // meet a new table, whose own ETag must then give the 304.
    let mut last = None;
    for _ in 0..3 {
        let first = fetch(&app, "/api/v1/premiums", &[]).await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.vary.as_deref(), Some("Accept-Encoding"));
        assert_eq!(first.encoding, None);
        let etag = first.etag.expect("an ETag");
        assert!(
            etag.starts_with("W/\"") && etag.ends_with('"'),
            "weak, one tag for every encoding: {etag}"
        );
        let again = fetch(&app, "/api/v1/premiums", &[("If-None-Match", &etag)]).await;
        if again.status == StatusCode::NOT_MODIFIED {
            assert!(again.body.is_empty());
            assert_eq!(again.etag.as_deref(), Some(etag.as_str()));
            assert_eq!(again.vary.as_deref(), Some("Accept-Encoding"));
            // The ETag does not depend on the encoding.
            let gz = fetch(
                &app,
                "/api/v1/premiums",
                &[("If-None-Match", &etag), ("Accept-Encoding", "gzip")],
            )
            .await;
            if gz.etag.as_deref() == Some(etag.as_str()) {
                assert_eq!(gz.status, StatusCode::NOT_MODIFIED);
            }
            // Another filter is another answer: another ETag, so a 200.
            let other = fetch(
                &app,
                "/api/v1/premiums?coin=BTC",
                &[("If-None-Match", &etag)],
            )
            .await;
            assert_eq!(other.status, StatusCode::OK);
            assert_ne!(other.etag.as_deref(), Some(etag.as_str()));
            return;
        }
        assert_eq!(again.status, StatusCode::OK);
        last = again.etag;
    }
    panic!("no 304 in three tries (last ETag {last:?})");
}

#[tokio::test]
async fn gzip_and_br_bodies_decode_to_the_identity_json() {
    let app = spawn_app().await;
    app.put_premiums(&[worked_example("BTC", 100), worked_example("ETH", 100)])
        .await;
    for _ in 0..3 {
        let plain = fetch(&app, "/api/v1/premiums", &[("Accept-Encoding", "identity")]).await;
        let gz = fetch(&app, "/api/v1/premiums", &[("Accept-Encoding", "gzip")]).await;
        let br = fetch(
            &app,
            "/api/v1/premiums",
            &[("Accept-Encoding", "gzip, deflate, br")],
        )
        .await;
        for a in [&plain, &gz, &br] {
            assert_eq!(a.status, StatusCode::OK);
            assert_eq!(a.vary.as_deref(), Some("Accept-Encoding"));
        }
        assert_eq!(plain.encoding, None);
        assert_eq!(gz.encoding.as_deref(), Some("gzip"));
        assert_eq!(br.encoding.as_deref(), Some("br"));
        if plain.etag != gz.etag || plain.etag != br.etag {
            continue; // a rebuild came between them
        }
        let mut from_gz = Vec::new();
        flate2::read::GzDecoder::new(&gz.body[..])
            .read_to_end(&mut from_gz)
            .unwrap();
        let mut from_br = Vec::new();
        brotli::Decompressor::new(&br.body[..], 4096)
            .read_to_end(&mut from_br)
            .unwrap();
        assert_eq!(from_gz, plain.body, "same ETag, same bytes");
        assert_eq!(from_br, plain.body, "same ETag, same bytes");
        assert!(gz.body.len() < plain.body.len() && br.body.len() < plain.body.len());
        let v = json(&plain.body);
        assert_eq!(v["premiums"].as_array().unwrap().len(), 20);
        return;
    }
    panic!("the three encodings never met one table in three tries");
}

#[tokio::test]
async fn filters_narrow_the_rows_and_bad_values_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    let mut btc = worked_example("BTC", 100);
    btc.flags = vec![MarketFlag::Warning, MarketFlag::DepositSuspended];
    let mut eth = premium(
        "ETH",
        pair(Venue::Upbit, Venue::Okx),
        "4500000",
        "3100",
        "1432.6",
        None,
        100,
    );
    // What the worker's sanity gate makes of a premium far from its pair's median.
    let why = "premium 1.33 % is 25.00 points from the upbit-okx median -23.67 (limit 20)";
    eth.flags = vec![MarketFlag::Suspect];
    eth.suspect = Some(why.into());
    app.put_premiums(&[btc, eth]).await;

    let all = app.get_ok("/api/v1/premiums").await;
    assert_eq!(rows(&all).len(), 20);
    for p in all["premiums"].as_array().unwrap() {
        let want: &[&str] =
            if p["coin"] == "BTC" && p["korea_venue"] == "upbit" && p["foreign_venue"] == "binance"
            {
                &["warning", "deposit_suspended"]
            } else if p["coin"] == "ETH" && p["foreign_venue"] == "okx" {
                &["suspect"]
            } else {
                &[]
            };
        let got: Vec<&str> = p["flags"]
            .as_array()
            .unwrap_or_else(|| panic!("flags is always a list: {p}"))
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{p}");
    }

    let v = app.get_ok("/api/v1/premiums?pair=upbit-binance").await;
    let r = rows(&v);
    assert_eq!(r.len(), 5);
    assert!(r.iter().all(|(_, p)| p == "upbit-binance"));

    let v = app
        .get_ok("/api/v1/premiums?pair=upbit-okx,upbit-binance")
        .await;
    assert_eq!(rows(&v).len(), 10);

    let v = app.get_ok("/api/v1/premiums?coin=btc,Eth").await;
    let r = rows(&v);
    assert_eq!(r.len(), 8);
    assert!(r.iter().all(|(c, _)| c == "BTC" || c == "ETH"));
    // Coins keep the configured order.
    assert_eq!(r[0].0, "BTC");

    let v = app.get_ok("/api/v1/premiums?flag=warning").await;
    assert_eq!(rows(&v), vec![("BTC".into(), "upbit-binance".into())]);
    let v = app
        .get_ok("/api/v1/premiums?flag=deposit_suspended,suspect")
        .await;
    assert_eq!(rows(&v).len(), 2);
    // A suspect premium is served, with the reason, and found by its flag.
    let v = app.get_ok("/api/v1/premiums?flag=suspect").await;
    assert_eq!(rows(&v), vec![("ETH".into(), "upbit-okx".into())]);
    let eth = &v["premiums"][0];
    assert_eq!(eth["available"], true, "{eth}");
    assert_eq!(eth["rate_display"], "1.33", "{eth}");
    assert_eq!(eth["suspect_reason"], why, "{eth}");
    let v = app.get_ok("/api/v1/premiums?flag=warning").await;
    assert!(v["premiums"][0].get("suspect_reason").is_none(), "{v}");

    let v = app.get_ok("/api/v1/premiums?available=true").await;
    let mut r = rows(&v);
    r.sort();
    assert_eq!(
        r,
        vec![
            ("BTC".into(), "upbit-binance".into()),
            ("ETH".into(), "upbit-okx".into())
        ]
    );
    let v = app.get_ok("/api/v1/premiums?available=false").await;
    assert_eq!(rows(&v).len(), 18);
    assert!(
        v["premiums"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["available"] == false)
    );

    let v = app
        .get_ok("/api/v1/premiums?pair=upbit-okx&coin=ETH,BTC&available=true")
        .await;
    assert_eq!(rows(&v), vec![("ETH".into(), "upbit-okx".into())]);

    for (query, param) in [
        ("pair=kraken-binance", "pair"),
        ("pair=bithumb-okx", "pair"),
        ("pair=upbit-binance,", "pair"),
        ("coin=NOPE", "coin"),
        ("coin=B-T-C", "coin"),
        ("coin=", "coin"),
        ("flag=shiny", "flag"),
        ("available=maybe", "available"),
    ] {
        let answer = app.get(&format!("/api/v1/premiums?{query}")).await;
        let message = assert_error(&answer, 400, "bad_request");
        assert!(message.contains(param), "{query}: {message}");
    }
}

#[tokio::test]
async fn after_the_premiums_change_the_next_answer_has_the_new_data_and_another_etag() {
    let app = spawn_app().await;
    app.put_premiums(&[worked_example("BTC", 100)]).await;
    let first = fetch(&app, "/api/v1/premiums?coin=BTC", &[]).await;
    let v = json(&first.body);
    assert_eq!(v["premiums"][0]["inputs"]["korea_krw"], "129555000");
    let etag = first.etag.unwrap();

    let newer = premium(
        "BTC",
        pair(Venue::Upbit, Venue::Binance),
        "130000000",
        "89277.1",
        "1432.6",
        None,
        0,
    );
    app.put_premiums(&[newer]).await;
    let second = fetch(
        &app,
        "/api/v1/premiums?coin=BTC",
        &[("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(second.status, StatusCode::OK, "the old ETag is not current");
    assert_ne!(second.etag.as_deref(), Some(etag.as_str()));
    let v = json(&second.body);
    assert_eq!(v["premiums"][0]["inputs"]["korea_krw"], "130000000");

    // The same through the precompressed bodies.
    let gz = fetch(&app, "/api/v1/premiums", &[("Accept-Encoding", "gzip")]).await;
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    let v = json(&plain);
    let btc = v["premiums"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["coin"] == "BTC" && p["korea_venue"] == "upbit" && p["foreign_venue"] == "binance"
        })
        .unwrap();
    assert_eq!(btc["inputs"]["korea_krw"], "130000000");

    // A skip reason is a change too.
    let before = fetch(&app, "/api/v1/premiums?coin=ETH", &[]).await;
    let skip = domain::SkipReason {
        coin: coin("ETH"),
        pair: app.settings.default_pair(),
        input: domain::SkipInput::Ticker {
            venue: domain::Venue::Upbit,
            coin: coin("ETH"),
        },
        reason: domain::SkipCause::Stale,
        age_ms: Some(7_000),
        limit_ms: Some(5_000),
        at: ago(0),
    };
    app.cache.put_skip(&skip).await.unwrap();
    let after = fetch(&app, "/api/v1/premiums?coin=ETH", &[]).await;
    assert_ne!(before.etag, after.etag);
    assert_eq!(json(&after.body)["premiums"][0]["skip"]["reason"], "stale");
}

#[tokio::test]
async fn a_premium_that_expires_without_a_new_version_is_gone_within_a_tick() {
    use redis::AsyncCommands as _;
    let app = spawn_app().await;
    let p = worked_example("BTC", 100);
    app.put_premiums(std::slice::from_ref(&p)).await;
    let v = json(
        &fetch(&app, "/api/v1/premiums?coin=BTC&available=true", &[])
            .await
            .body,
    );
    assert_eq!(rows(&v).len(), 1);

    // What the hash's TTL does when the worker stops: the premiums go, the version stays.
    let _: () = app
        .conn
        .clone()
        .del(app.keys.premiums(p.inputs.pair))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let v = json(
        &fetch(&app, "/api/v1/premiums?coin=BTC&available=true", &[])
            .await
            .body,
    );
    assert!(rows(&v).is_empty(), "{v}");
}
