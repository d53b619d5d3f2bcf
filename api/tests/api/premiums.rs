use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use domain::SkipReason;
use domain::Venue;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

use crate::support::*;

fn entry<'a>(list: &'a Value, coin: &str, korea: &str, foreign: &str) -> &'a Value {
    list["premiums"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["coin"] == coin && p["korea_venue"] == korea && p["foreign_venue"] == foreign)
        .unwrap_or_else(|| panic!("no {coin} {korea}-{foreign} in {list}"))
}

#[tokio::test]
async fn premiums_list_every_coin_and_pair_with_decimals_as_strings() {
    let app = spawn_app().await;
    let p = worked_example("BTC", 100);
    app.put_premiums(std::slice::from_ref(&p)).await;

    let list = app.get_ok("/api/v1/premiums").await;
    let n = 5 * app.settings.pairs.len();
    assert_eq!(list["premiums"].as_array().unwrap().len(), n);

    let btc = entry(&list, "BTC", "upbit", "binance");
    assert_eq!(btc["available"], true);
    assert_eq!(btc["stale"], false);
    assert_eq!(btc["rate"], Value::String(p.rate.to_string()));
    assert_eq!(btc["rate_display"], "1.30");
    let rate: Decimal = btc["rate"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        rate.round_dp(4),
        dec!(1.2953),
        "full precision, not the display value"
    );
    assert_eq!(
        btc["usdt_rate"],
        Value::String(p.usdt_rate.unwrap().to_string())
    );
    assert_eq!(btc["foreign_krw"], "127898373.46");
    assert_eq!(btc["inputs"]["korea_krw"], "129555000");
    assert_eq!(btc["inputs"]["foreign_usd"], "89277.1");
    assert_eq!(btc["inputs"]["usd_krw"], "1432.6");
    assert_eq!(btc["inputs"]["usdt_krw"], "1450");
    assert_eq!(btc["inputs"]["fx_source"], "dunamu");
    let observed = btc["observed_at"].as_str().unwrap();
    assert!(observed.ends_with('Z'), "{observed}");
    assert!(observed.parse::<DateTime<Utc>>().is_ok());
    assert!(btc["age_ms"].as_i64().unwrap() >= 100);

    let eth = entry(&list, "ETH", "upbit", "binance");
    assert_eq!(eth["available"], false);
    assert_eq!(eth["stale"], true);
    assert!(eth["rate"].is_null());
}

#[tokio::test]
async fn a_missing_premium_carries_the_skip_reason() {
    let app = spawn_app().await;
    let skip = SkipReason {
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

    let list = app.get_ok("/api/v1/premiums").await;
    let eth = entry(&list, "ETH", "upbit", "binance");
    assert_eq!(eth["skip"]["input"], "upbit ETH ticker");
    assert_eq!(eth["skip"]["age_ms"], 7_000);

    let answer = app.get("/api/v1/premiums/ETH").await;
    let msg = assert_error(&answer, 404, "premium_unavailable");
    assert!(msg.contains("upbit ETH ticker stale"), "{msg}");
    assert_eq!(answer.1["skip"]["reason"], "stale");
    assert_eq!(answer.1["skip"]["limit_ms"], 5_000);

    let answer = app.get("/api/v1/premiums/XRP").await;
    assert_error(&answer, 404, "premium_unavailable");
    assert!(answer.1.get("skip").is_none());
}

#[tokio::test]
async fn one_coin_uses_the_default_pair_unless_venues_are_given() {
    let app = spawn_app().await;
    let upbit = worked_example("BTC", 0);
    let bithumb = premium(
        "BTC",
        pair(Venue::Bithumb, Venue::Binance),
        "130000000",
        "89277.1",
        "1432.6",
        None,
        0,
    );
    app.put_premiums(&[upbit.clone(), bithumb.clone()]).await;

    let body = app.get_ok("/api/v1/premiums/btc").await;
    assert_eq!(body["korea_venue"], "upbit");
    assert_eq!(body["rate"], Value::String(upbit.rate.to_string()));

    let body = app.get_ok("/api/v1/premiums/BTC?korea=bithumb").await;
    assert_eq!(body["korea_venue"], "bithumb");
    assert_eq!(body["foreign_venue"], "binance");
    assert_eq!(body["rate"], Value::String(bithumb.rate.to_string()));
    assert!(body["usdt_rate"].is_null());
}

#[tokio::test]
async fn an_old_premium_is_answered_with_the_stale_flag() {
    let app = spawn_app().await;
    app.put_premiums(&[worked_example("BTC", 8_000)]).await;
    let body = app.get_ok("/api/v1/premiums/BTC").await;
    assert_eq!(body["available"], true);
    assert_eq!(body["stale"], true);
    assert!(body["age_ms"].as_i64().unwrap() >= 8_000);
}

#[tokio::test]
async fn unknown_coins_venues_and_pairs_are_rejected_naming_what_is_tracked() {
    let app = spawn_app().await;
    let msg = assert_error(
        &app.get("/api/v1/premiums/DOGGO").await,
        404,
        "unknown_coin",
    );
    // DOGGO is listed nowhere: the closest listed names are offered.
    assert!(
        msg.contains("not listed on any configured venue") && msg.contains("DOGE"),
        "{msg}"
    );
    let msg = assert_error(
        &app.get("/api/v1/premiums/BTC-USD").await,
        404,
        "unknown_coin",
    );
    assert!(msg.contains("invalid coin symbol"), "{msg}");
    let msg = assert_error(
        &app.get("/api/v1/premiums/BTC?korea=kraken").await,
        404,
        "unknown_venue",
    );
    assert!(msg.contains("upbit") && msg.contains("okx"), "{msg}");
    let msg = assert_error(
        &app.get("/api/v1/premiums/BTC?korea=bithumb&foreign=okx")
            .await,
        404,
        "unknown_pair",
    );
    assert!(msg.contains("upbit-binance"), "{msg}");
    assert_error(
        &app.get("/api/v1/premiums/BTC?korea=binance").await,
        400,
        "bad_request",
    );
    assert_error(
        &app.get("/api/v1/premiums/DOGGO/history?from=2025-01-01T00:00:00Z&to=2025-01-01T00:05:00Z&interval=1m").await,
        404,
        "unknown_coin",
    );
    assert_error(
        &app.get("/api/v1/premiums/stream?coin=DOGGO").await,
        404,
        "unknown_coin",
    );
}

/// Five minutes of one row per second, with rates that move up and down.
fn rows(start: DateTime<Utc>) -> Vec<(DateTime<Utc>, Decimal)> {
    (0..300i64)
        .map(|i| {
            let wiggle = Decimal::from((i * 37) % 101 - 50) / dec!(1000);
            (
                start + chrono::Duration::seconds(i),
                dec!(1.25) + wiggle + Decimal::from(i) / dec!(10000),
            )
        })
        .collect()
}

#[tokio::test]
async fn history_buckets_match_ohlc_computed_from_the_raw_rows() {
    let app = spawn_app().await;
    let start = (Utc::now() - chrono::Duration::hours(2))
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    let raw = rows(start);
    let p = pair(Venue::Upbit, Venue::Binance);
    for (ts, rate) in &raw {
        let mut row = premium("BTC", p, "129555000", "89277.1", "1432.6", None, 0);
        row.rate = *rate;
        app.store.insert_premiums(*ts, &[row]).await.unwrap();
    }
    // Another pair's rows must not leak into this pair's history.
    let other = premium(
        "BTC",
        pair(Venue::Bithumb, Venue::Binance),
        "1",
        "1",
        "1",
        None,
        0,
    );
    app.store.insert_premiums(start, &[other]).await.unwrap();

    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to =
        (start + chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = app
        .get_ok(&format!(
            "/api/v1/premiums/BTC/history?from={from}&to={to}&interval=1m"
        ))
        .await;
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 5, "{body}");
    for (m, b) in buckets.iter().enumerate() {
        let minute: Vec<Decimal> = raw[m * 60..(m + 1) * 60].iter().map(|(_, r)| *r).collect();
        let dec_of = |v: &Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
        assert_eq!(dec_of(&b["open"]), minute[0]);
        assert_eq!(dec_of(&b["close"]), minute[59]);
        assert_eq!(dec_of(&b["high"]), *minute.iter().max().unwrap());
        assert_eq!(dec_of(&b["low"]), *minute.iter().min().unwrap());
        assert_eq!(b["count"], 60);
        let bucket_start: DateTime<Utc> = b["start"].as_str().unwrap().parse().unwrap();
        assert_eq!(bucket_start, start + chrono::Duration::minutes(m as i64));
    }
}

#[tokio::test]
async fn history_rejects_bad_ranges_and_intervals() {
    let app = spawn_app().await;
    let h = |q: &str| format!("/api/v1/premiums/BTC/history?{q}");
    let msg = assert_error(
        &app.get(&h(
            "from=2025-01-01T01:00:00Z&to=2025-01-01T00:00:00Z&interval=1m",
        ))
        .await,
        400,
        "bad_request",
    );
    assert!(msg.contains("before"), "{msg}");
    let msg = assert_error(
        &app.get(&h(
            "from=2025-01-01T00:00:00Z&to=2025-01-01T02:00:00Z&interval=1s",
        ))
        .await,
        400,
        "bad_request",
    );
    assert!(msg.contains("too long"), "{msg}");
    let msg = assert_error(
        &app.get(&h(
            "from=2025-01-01T00:00:00Z&to=2025-01-09T00:00:00Z&interval=1m",
        ))
        .await,
        400,
        "bad_request",
    );
    assert!(msg.contains("too long"), "{msg}");
    let msg = assert_error(
        &app.get(&h("interval=1m&limit=0")).await,
        400,
        "bad_request",
    );
    assert!(msg.starts_with("limit"), "{msg}");
    for tz in ["Mars/Olympus", "UTC+9", "not a zone"] {
        let msg = assert_error(
            &app.get(&h(&format!("interval=1d&tz={}", tz.replace(' ', "%20"))))
                .await,
            400,
            "bad_request",
        );
        assert!(msg.starts_with("tz"), "{tz}: {msg}");
    }
    assert_error(
        &app.get(&h(
            "from=2025-01-01T00:00:00Z&to=2025-01-01T00:05:00Z&interval=5m",
        ))
        .await,
        400,
        "bad_request",
    );
    assert_error(
        &app.get(&h("from=yesterday&to=2025-01-01T00:05:00Z&interval=1m"))
            .await,
        400,
        "bad_request",
    );
    assert_error(
        &app.get(&h("from=2025-01-01T00:00:00Z")).await,
        400,
        "bad_request",
    );
}

#[tokio::test]
async fn history_without_from_and_to_answers_the_latest_buckets() {
    let app = spawn_app().await;
    let p = pair(Venue::Upbit, Venue::Binance);
    let now = Utc::now()
        .duration_trunc(chrono::Duration::seconds(1))
        .unwrap();
    // Ten seconds of rows, the newest 2 s ago.
    for i in 0..10i64 {
        let mut row = premium("BTC", p, "129555000", "89277.1", "1432.6", None, 0);
        row.rate = dec!(1.25) + Decimal::from(i) / dec!(100);
        app.store
            .insert_premiums(now - chrono::Duration::seconds(11 - i), &[row])
            .await
            .unwrap();
    }
    let body = app
        .get_ok("/api/v1/premiums/BTC/history?interval=1s&limit=4")
        .await;
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 4, "{body}");
    let start = |b: &Value| {
        b["start"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
    };
    assert_eq!(
        start(&buckets[3]),
        now - chrono::Duration::seconds(2),
        "{body}"
    );
    assert_eq!(
        start(&buckets[0]),
        now - chrono::Duration::seconds(5),
        "{body}"
    );
    assert_eq!(buckets[3]["close"], "1.34");
    // Older rows behind a gap much longer than `limit` seconds are still among the latest
    // `limit` buckets, and `from` is the oldest one's start.
    for minutes in [30, 29] {
        let row = premium("BTC", p, "129555000", "89277.1", "1432.6", None, 0);
        app.store
            .insert_premiums(now - chrono::Duration::minutes(minutes), &[row])
            .await
            .unwrap();
    }
    let body = app
        .get_ok("/api/v1/premiums/BTC/history?interval=1s&limit=12")
        .await;
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 12, "{body}");
    assert_eq!(
        start(&buckets[0]),
        now - chrono::Duration::minutes(30),
        "{body}"
    );
    assert_eq!(
        body["from"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        now - chrono::Duration::minutes(30)
    );
    assert_eq!(start(&buckets[11]), now - chrono::Duration::seconds(2));
    // Every interval answers without a range (the default limit is 500 buckets).
    for iv in ["1s", "1m", "1h", "1d"] {
        let body = app
            .get_ok(&format!("/api/v1/premiums/BTC/history?interval={iv}"))
            .await;
        assert!(body["buckets"].is_array(), "{iv}: {body}");
    }
    let body = app.get_ok("/api/v1/premiums/BTC/history?interval=1m").await;
    // Not rolled up yet: the minute tier answers from raw rows.
    let n: i64 = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(n, 12, "the 10 recent rows and the 2 older ones: {body}");
}

#[tokio::test]
async fn one_day_buckets_follow_the_time_zone_asked() {
    let app = spawn_app().await;
    let p = pair(Venue::Upbit, Venue::Binance);
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    // 14:59:59 UTC is still 2026-11-01 in Seoul (23:59:59 KST); 15:00:00 is 2026-11-02.
    let rows = [
        (t("2026-11-01T03:00:00Z"), dec!(1.1)),
        (t("2026-11-01T14:59:59Z"), dec!(1.2)),
        (t("2026-11-01T15:00:00Z"), dec!(1.3)),
        (t("2026-11-01T20:00:00Z"), dec!(1.4)),
    ];
    for (ts, rate) in rows {
        let mut row = premium("BTC", p, "129555000", "89277.1", "1432.6", None, 0);
        row.rate = rate;
        app.store.insert_premiums(ts, &[row]).await.unwrap();
    }
    app.store
        .rollup(t("2026-11-01T00:00:00Z"), t("2026-11-02T00:00:00Z"))
        .await
        .unwrap();
    let days = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move {
            let body = app
                .get_ok(&format!(
                    "/api/v1/premiums/BTC/history?interval=1d&from=2026-10-31T00:00:00Z&to=2026-11-03T00:00:00Z{q}"
                ))
                .await;
            body["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        b["start"].as_str().unwrap().to_string(),
                        b["open"].as_str().unwrap().to_string(),
                        b["close"].as_str().unwrap().to_string(),
                        b["count"].as_i64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let s = |a: &str, o: &str, c: &str, n: i64| (a.to_string(), o.to_string(), c.to_string(), n);
    assert_eq!(
        days("&tz=Asia/Seoul").await,
        [
            s("2026-10-31T15:00:00.000Z", "1.1", "1.2", 2),
            s("2026-11-01T15:00:00.000Z", "1.3", "1.4", 2)
        ]
    );
    assert_eq!(
        days("").await,
        [s("2026-11-01T00:00:00.000Z", "1.1", "1.4", 4)]
    );
    // A zone whose offset is not whole hours (UTC+5:30) is cut from the minute rollups.
    assert_eq!(
        days("&tz=Asia/Kolkata").await,
        [
            s("2026-10-31T18:30:00.000Z", "1.1", "1.3", 3),
            s("2026-11-01T18:30:00.000Z", "1.4", "1.4", 1)
        ]
    );
}

#[tokio::test]
async fn the_stream_sends_one_premium_event_per_update_for_the_coin_asked() {
    let app = spawn_app().await;
    let mut resp = app
        .http
        .get(app.url("/api/v1/premiums/stream?coin=eth"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    app.put_premiums(&[worked_example("BTC", 0)]).await;
    app.put_premiums(&[worked_example("ETH", 0)]).await;
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(text.contains("event: premium"), "{text}");
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no data line in {text}"));
    let event: Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["coin"], "ETH", "the BTC update is filtered out");
    assert_eq!(event["rate_display"], "1.30");
}
