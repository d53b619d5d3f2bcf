//! The executable premium as served: entry and exit rates (official and USDT FX, gross and net
//! of fees) agree with an independent computation from the inputs in the same answer; a
//! premium at a size walks the cached books and refuses a size beyond them; a position's PnL at
//! executable exit prices.

use chrono::Utc;
use domain::{BookTop, Depth, Fees, Funding, FxSource, Venue};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};

use crate::support::*;

fn d(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a decimal string"))
        .parse()
        .unwrap()
}

fn rate(k: Decimal, f: Decimal, fx: Decimal) -> Decimal {
    (k - f * fx) / (f * fx) * dec!(100)
}

/// A BTC premium on upbit-binance with both books and funding, computed the worker's way.
fn btc_with_books() -> domain::Premium {
    let mut p = premium(
        "BTC",
        pair(Venue::Upbit, Venue::Binance),
        "129555000",
        "89277.1",
        "1432.6",
        Some("1450"),
        100,
    );
    p.inputs.korea_book =
        Some(BookTop::new(dec!(129550000), dec!(0.4), dec!(129560000), dec!(0.7)).unwrap());
    p.inputs.foreign_book =
        Some(BookTop::new(dec!(89277.0), dec!(3), dec!(89277.2), dec!(2)).unwrap());
    p.inputs.funding = Some(Funding {
        rate: dec!(0.0001),
        next_funding_at: Utc::now(),
        interval_hours: Some(8),
    });
    // Upbit 5 bp, Binance 5 bp: the default fees.
    p.with_books(Fees {
        korea: dec!(0.0005),
        foreign: dec!(0.0005),
    })
    .unwrap()
}

#[tokio::test]
async fn entry_and_exit_rates_equal_an_independent_computation_from_the_served_inputs() {
    let app = spawn_app().await;
    app.put_premiums(&[btc_with_books()]).await;
    let table = app
        .get_ok("/api/v1/premiums?coin=BTC&pair=upbit-binance")
        .await;
    let one = app.get_ok("/api/v1/premiums/BTC").await;
    for p in [&table["premiums"][0], &one] {
        let i = &p["inputs"];
        let (kb, ka, fb, fa) = (
            d(&i["korea_bid"]),
            d(&i["korea_ask"]),
            d(&i["foreign_bid"]),
            d(&i["foreign_ask"]),
        );
        let (fx, usdt) = (d(&i["usd_krw"]), d(&i["usdt_krw"]));
        let (fk, ff) = (dec!(0.0005), dec!(0.0005));
        let close = |a: Decimal, b: Decimal| (a - b).abs() <= dec!(0.000000000001);
        let checks = [
            ("entry_rate", rate(ka, fb, fx)),
            ("exit_rate", rate(kb, fa, fx)),
            (
                "entry_rate_net",
                rate(ka * (Decimal::ONE + fk), fb * (Decimal::ONE - ff), fx),
            ),
            (
                "exit_rate_net",
                rate(kb * (Decimal::ONE - fk), fa * (Decimal::ONE + ff), fx),
            ),
            ("usdt_entry_rate", rate(ka, fb, usdt)),
            ("usdt_exit_rate", rate(kb, fa, usdt)),
            (
                "usdt_entry_rate_net",
                rate(ka * (Decimal::ONE + fk), fb * (Decimal::ONE - ff), usdt),
            ),
            (
                "usdt_exit_rate_net",
                rate(kb * (Decimal::ONE - fk), fa * (Decimal::ONE + ff), usdt),
            ),
        ];
        for (field, want) in checks {
            assert!(close(d(&p[field]), want), "{field}: {} vs {want}", p[field]);
        }
        assert!(d(&p["entry_rate"]) >= d(&p["exit_rate"]));
        assert_eq!(p["funding_rate"], "0.0001");
        assert_eq!(p["funding_interval_hours"], 8);
        assert!(p["next_funding_at"].is_string());
        assert!(p.get("executable_skip").is_none(), "{p}");
    }
}

#[tokio::test]
async fn a_premium_without_a_valid_book_says_why_and_has_no_entry_rate() {
    let app = spawn_app().await;
    let mut p = premium(
        "ETH",
        pair(Venue::Upbit, Venue::Binance),
        "4500000",
        "3100",
        "1432.6",
        None,
        100,
    );
    p.executable_skip = Some("upbit ETH book: crossed book: bid 4500000 ≥ ask 4499000".into());
    app.put_premiums(&[p]).await;
    let one = app.get_ok("/api/v1/premiums/ETH").await;
    assert!(one.get("entry_rate").is_none(), "{one}");
    assert!(one["executable_skip"].as_str().unwrap().contains("crossed"));
    assert_eq!(one["available"], true, "the last-price premium stays");
}

#[tokio::test]
async fn at_size_walks_the_cached_books_and_refuses_a_size_beyond_them() {
    let app = spawn_app().await;
    app.put_premiums(&[btc_with_books()]).await;
    let now = Utc::now();
    let korea = Depth::new(
        [(dec!(129550000), dec!(0.4)), (dec!(129540000), dec!(1))],
        [(dec!(129560000), dec!(0.5)), (dec!(129600000), dec!(1))],
        now,
    )
    .unwrap();
    let foreign = Depth::new(
        [(dec!(89277.0), dec!(3)), (dec!(89270.0), dec!(5))],
        [(dec!(89277.2), dec!(2)), (dec!(89280.0), dec!(5))],
        now,
    )
    .unwrap();
    app.cache
        .put_depths(Venue::Upbit, &[(coin("BTC"), korea)])
        .await
        .unwrap();
    app.cache
        .put_depths(Venue::Binance, &[(coin("BTC"), foreign)])
        .await
        .unwrap();

    // 100,000,000 KRW: 0.5 BTC at 129,560,000 (64,780,000 KRW), the rest at 129,600,000.
    let body = app.get_ok("/api/v1/premiums/BTC?size_krw=100000000").await;
    let a = &body["at_size"];
    let rest = dec!(100000000) - dec!(64780000);
    let qty = dec!(0.5) + rest / dec!(129600000);
    assert_eq!(d(&a["qty"]), qty);
    assert_eq!(d(&a["korea_avg_ask"]), dec!(100000000) / qty);
    // Shorting qty (< 3) abroad fills at the first bid; selling qty in Korea: 0.4 at the first
    // bid, the rest at the second; covering abroad: all at the first ask (2 ≥ qty).
    assert_eq!(d(&a["foreign_avg_bid"]), dec!(89277.0));
    let sold = dec!(0.4) * dec!(129550000) + (qty - dec!(0.4)) * dec!(129540000);
    assert_eq!(d(&a["korea_avg_bid"]), sold / qty);
    assert_eq!(d(&a["foreign_avg_ask"]), dec!(89277.2));
    let fx = dec!(1432.6);
    assert_eq!(
        d(&a["entry_rate"]),
        rate(dec!(100000000) / qty, dec!(89277.0), fx)
    );
    assert_eq!(d(&a["exit_rate"]), rate(sold / qty, dec!(89277.2), fx));
    assert_eq!(d(&a["slippage_bp"]), dec!(10));

    let (status, err) = app.get("/api/v1/premiums/BTC?size_krw=1000000000").await;
    assert_eq!(status, 400, "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains("exceeds the fetched depth") && msg.contains("KRW"),
        "{msg}"
    );
    assert_error(
        &app.get("/api/v1/premiums/BTC?size_krw=-5").await,
        400,
        "bad_request",
    );
    let msg = assert_error(
        &app.get("/api/v1/premiums/SOL?size_krw=1000").await,
        400,
        "bad_request",
    );
    assert!(msg.contains("depth.coins"), "{msg}");
}

#[tokio::test]
async fn position_pnl_at_exit_prices_is_net_of_fees() {
    let app = spawn_app().await;
    let (status, body) = app
        .admin_post(
            "/api/v1/positions",
            Some(json!({
                "coin": "BTC", "korea_venue": "upbit", "korea_qty": "0.5", "korea_entry": "129555000",
                "foreign_venue": "binance", "foreign_qty": "0.5", "foreign_entry": "89277.1",
                "leverage": 3, "entry_usd_krw": "1432.6"
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    let mut k = ticker(Venue::Upbit, "BTC", "130000000", 100);
    k.book = Some(BookTop::new(dec!(129990000), dec!(1), dec!(130010000), dec!(1)).unwrap());
    let mut f = ticker(Venue::Binance, "BTC", "89000", 100);
    f.book = Some(BookTop::new(dec!(88999.9), dec!(1), dec!(89000.1), dec!(1)).unwrap());
    app.put_tickers(&[k, f]).await;
    app.put_fx(&fx(FxSource::Dunamu, "1440", 1_000)).await;

    let body = app.get_ok(&format!("/api/v1/positions/{id}")).await;
    let exit = &body["pnl_at_exit"];
    let k_now = dec!(129990000) * (Decimal::ONE - dec!(0.0005));
    let f_now = dec!(89000.1) * (Decimal::ONE + dec!(0.0005));
    assert_eq!(d(&exit["korea_now"]), k_now);
    assert_eq!(d(&exit["foreign_now"]), f_now);
    let total =
        (k_now - dec!(129555000)) * dec!(0.5) + (dec!(89277.1) - f_now) * dec!(0.5) * dec!(1440);
    assert_eq!(d(&exit["total"]), total);
    // The mark PnL is still there, and the exit PnL is lower (spread and fees).
    assert!(d(&body["pnl"]["total"]) > total);
}

#[tokio::test]
async fn history_buckets_carry_the_last_entry_and_exit_rates() {
    use chrono::DurationRound;
    let app = spawn_app().await;
    let start = (Utc::now() - chrono::Duration::hours(1))
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    let mut last = None;
    for s in 0..3 {
        let mut p = btc_with_books();
        // A different book each second: the bucket's closes are the last second's.
        p.inputs.korea_book = Some(
            BookTop::new(
                dec!(129550000) + Decimal::from(s * 1000),
                dec!(1),
                dec!(129560000) + Decimal::from(s * 1000),
                dec!(1),
            )
            .unwrap(),
        );
        let p = p.with_books(Fees::default()).unwrap();
        last = p.executable;
        app.store
            .insert_premiums(start + chrono::Duration::seconds(s), &[p])
            .await
            .unwrap();
    }
    // A row without books (entry/exit NULL) after them does not blank the closes.
    let bare = premium(
        "BTC",
        pair(Venue::Upbit, Venue::Binance),
        "129555000",
        "89277.1",
        "1432.6",
        None,
        0,
    );
    app.store
        .insert_premiums(start + chrono::Duration::seconds(3), &[bare])
        .await
        .unwrap();
    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to =
        (start + chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = app
        .get_ok(&format!(
            "/api/v1/premiums/BTC/history?from={from}&to={to}&interval=1m"
        ))
        .await;
    let b = &body["buckets"][0];
    let last = last.unwrap();
    // History keeps rates at store::RATE_SCALE decimal places.
    assert_eq!(
        d(&b["entry_close"]),
        store::round_rate(last.entry_rate),
        "{body}"
    );
    assert_eq!(
        d(&b["exit_close"]),
        store::round_rate(last.exit_rate),
        "{body}"
    );
    assert_eq!(b["count"], 4);
}
