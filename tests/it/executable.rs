//! The executable premium end to end against the simulator: every premium computed by the
//! worker carries entry and exit rates that equal an independent computation from the books in
//! its inputs; a pinned book gives a premium at a size equal to a hand computation through the
//! API; a crossed book never yields an executable premium, and the reason is served.

use std::{str::FromStr, time::Duration};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::{TestEnv, eventually};

fn d(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("{v} is not a decimal string")),
    )
    .unwrap()
}

fn rate(k: Decimal, f: Decimal, fx: Decimal) -> Decimal {
    (k - f * fx) / (f * fx) * Decimal::ONE_HUNDRED
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executable_premiums_follow_the_books_and_a_pinned_book_gives_the_hand_computed_size() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let worker = env.spawn_worker().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, server) = env.start_api(listener).await;
    let get = |path: String| {
        let http = env.http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http.get(url).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or_default(),
            )
        }
    };

    // Every premium of every pair has entry and exit rates once the books are in.
    let table = eventually(
        Duration::from_secs(20),
        "executable premiums everywhere",
        || async {
            let (status, body) = get("/api/v1/premiums".into()).await;
            let rows = body["premiums"].as_array()?.clone();
            (status == 200
                && !rows.is_empty()
                && rows
                    .iter()
                    .all(|p| p["available"] == true && p["entry_rate"].is_string()))
            .then_some(rows)
        },
    )
    .await;
    let fees = env.settings.fee_fractions();
    for p in &table {
        let i = &p["inputs"];
        let (kb, ka, fb, fa) = (
            d(&i["korea_bid"]),
            d(&i["korea_ask"]),
            d(&i["foreign_bid"]),
            d(&i["foreign_ask"]),
        );
        let fx = d(&i["usd_krw"]);
        let venue = |k: &str| p[k].as_str().unwrap().parse::<domain::Venue>().unwrap();
        let (fk, ff) = (fees[&venue("korea_venue")], fees[&venue("foreign_venue")]);
        let close = |a: Decimal, b: Decimal| (a - b).abs() <= Decimal::new(1, 12);
        let what = format!("{} {}-{}", p["coin"], p["korea_venue"], p["foreign_venue"]);
        assert!(kb < ka && fb < fa, "{what}: uncrossed books");
        assert!(close(d(&p["entry_rate"]), rate(ka, fb, fx)), "{what} entry");
        assert!(close(d(&p["exit_rate"]), rate(kb, fa, fx)), "{what} exit");
        let one = Decimal::ONE;
        assert!(
            close(
                d(&p["entry_rate_net"]),
                rate(ka * (one + fk), fb * (one - ff), fx)
            ),
            "{what} entry net"
        );
        assert!(
            close(
                d(&p["exit_rate_net"]),
                rate(kb * (one - fk), fa * (one + ff), fx)
            ),
            "{what} exit net"
        );
        if let Some(u) = i["usdt_krw"].as_str() {
            let u = Decimal::from_str(u).unwrap();
            assert!(
                close(d(&p["usdt_entry_rate"]), rate(ka, fb, u)),
                "{what} usdt entry"
            );
            assert!(
                close(d(&p["usdt_exit_rate"]), rate(kb, fa, u)),
                "{what} usdt exit"
            );
        }
        assert!(
            d(&p["entry_rate"]) >= d(&p["exit_rate"]),
            "{what}: entry ≥ exit"
        );
        assert!(p["funding_rate"].is_string(), "{what}: funding");
        assert!(p["next_funding_at"].is_string(), "{what}: next funding");
    }

    // A pinned pair of books: the premium at a size equals the hand computation.
    let book = |bids: &[(&str, &str)], asks: &[(&str, &str)]| {
        json!({"bids": bids.iter().map(|(p, q)| json!([p, q])).collect::<Vec<_>>(),
               "asks": asks.iter().map(|(p, q)| json!([p, q])).collect::<Vec<_>>()})
    };
    env.sim_post(
        "/_sim/prices",
        json!({"venue": "upbit", "coin": "BTC", "book": book(
            &[("129550000", "0.4"), ("129540000", "1")],
            &[("129560000", "0.5"), ("129600000", "1")])}),
    )
    .await;
    env.sim_post(
        "/_sim/prices",
        json!({"venue": "binance", "coin": "BTC", "book": book(
            &[("89277.0", "3"), ("89270.0", "5")],
            &[("89277.2", "2"), ("89280.0", "5")])}),
    )
    .await;
    let size = Decimal::from(100_000_000);
    let answer = eventually(
        Duration::from_secs(10),
        "at_size from the pinned books",
        || async {
            let (status, body) = get(format!("/api/v1/premiums/BTC?size_krw={size}")).await;
            (status == 200
                && body["inputs"]["korea_ask"] == "129560000"
                && body["inputs"]["foreign_bid"] == "89277")
                .then_some(body)
        },
    )
    .await;
    let a = &answer["at_size"];
    let fx = d(&answer["inputs"]["usd_krw"]);
    let first = Decimal::new(5, 1) * Decimal::from(129_560_000);
    let qty = Decimal::new(5, 1) + (size - first) / Decimal::from(129_600_000);
    assert_eq!(d(&a["qty"]), qty, "{a}");
    assert_eq!(
        d(&a["entry_rate"]),
        rate(size / qty, Decimal::from_str("89277.0").unwrap(), fx)
    );
    let sold = Decimal::new(4, 1) * Decimal::from(129_550_000)
        + (qty - Decimal::new(4, 1)) * Decimal::from(129_540_000);
    assert_eq!(
        d(&a["exit_rate"]),
        rate(sold / qty, Decimal::from_str("89277.2").unwrap(), fx)
    );
    let (status, body) = get("/api/v1/premiums/BTC?size_krw=10000000000".into()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the fetched depth"),
        "{body}"
    );

    // A crossed book: the last-price premium stays, the executable one does not, with the reason.
    env.sim_post(
        "/_sim/prices",
        json!({"venue": "upbit", "coin": "ETH", "allow_crossed": true, "book": book(
            &[("4500000", "1")], &[("4499000", "1")])}),
    )
    .await;
    let eth = eventually(
        Duration::from_secs(10),
        "the crossed ETH book recorded",
        || async {
            let (_, body) = get("/api/v1/premiums/ETH".into()).await;
            body["executable_skip"]
                .as_str()
                .is_some_and(|s| s.contains("crossed"))
                .then_some(body)
        },
    )
    .await;
    assert!(eth.get("entry_rate").is_none(), "{eth}");
    assert_eq!(eth["available"], true);

    let _ = stop.send(());
    let _ = server.await;
    drop(worker);
    env.cleanup().await;
}
