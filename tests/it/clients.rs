//! The live venue and FX clients, pointed at the simulator by base URL alone, fetch from it.

use std::time::Duration;

use domain::{Coin, FxSource, Venue, premium_rate};
use rust_decimal::Decimal;
use venues::{BinancePrice, BithumbApi, ClientConfig, VenueOptions};

fn coins() -> Vec<Coin> {
    ["BTC", "ETH", "XRP", "SOL", "DOGE", "SIM001"]
        .iter()
        .map(|c| Coin::parse(c).unwrap())
        .collect()
}

fn listings(venue: Venue) -> Vec<domain::Listing> {
    coins()
        .iter()
        .map(|c| venues::plain_listing(venue, c))
        .collect()
}

fn cfg(base: String) -> ClientConfig {
    ClientConfig {
        base_url: base,
        timeout: Duration::from_secs(2),
        user_agent: "premium-spread-test".into(),
    }
}

#[tokio::test]
async fn every_client_fetches_every_coin_from_the_simulator_by_base_url_alone() {
    let sim = sim::spawn(sim::SimConfig::default()).await.unwrap();
    let variants = [
        VenueOptions::default(),
        VenueOptions {
            binance_price: BinancePrice::Last,
            bithumb_api: BithumbApi::Legacy,
        },
    ];
    for opts in &variants {
        for venue in Venue::ALL {
            let client = venues::venue_client(venue, cfg(sim.prefix_url(venue.as_str())), opts);
            let batch = client
                .fetch_tickers(&listings(venue))
                .await
                .unwrap_or_else(|e| panic!("{venue} {opts:?}: {e}"));
            assert!(batch.failures.is_empty(), "{venue}: {:?}", batch.failures);
            assert_eq!(batch.tickers.len(), coins().len(), "{venue}");
            for t in &batch.tickers {
                assert_eq!(t.venue, venue);
                assert!(t.price.value() > Decimal::ZERO);
                assert!((chrono::Utc::now() - t.observed_at).num_seconds().abs() < 5);
            }
        }
    }
    for source in FxSource::ALL {
        let client = venues::fx_client(source, cfg(sim.prefix_url(source.as_str())));
        let rate = client
            .fetch_usd_krw()
            .await
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        let v = rate.usd_krw.value();
        assert!(
            v > Decimal::from(1_200) && v < Decimal::from(1_600),
            "{source}: {v}"
        );
    }

    // A premium from the simulator's prices lands near its configured 1.5 %.
    let k = venues::venue_client(Venue::Upbit, cfg(sim.prefix_url("upbit")), &variants[0]);
    let f = venues::venue_client(Venue::Binance, cfg(sim.prefix_url("binance")), &variants[0]);
    let fx = venues::fx_client(FxSource::Dunamu, cfg(sim.prefix_url("dunamu")));
    let btc = Coin::parse("BTC").unwrap();
    let (k_btc, f_btc) = (
        [venues::plain_listing(Venue::Upbit, &btc)],
        [venues::plain_listing(Venue::Binance, &btc)],
    );
    let (k, f, fx) = (
        k.fetch_tickers(&k_btc).await.unwrap().tickers.remove(0),
        f.fetch_tickers(&f_btc).await.unwrap().tickers.remove(0),
        fx.fetch_usd_krw().await.unwrap(),
    );
    let rate = premium_rate(k.price, f.price, fx.usd_krw).unwrap();
    assert!(
        (rate - Decimal::new(15, 1)).abs() < Decimal::new(3, 1),
        "{rate}"
    );
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn every_client_lists_its_markets_from_the_realistic_simulator() {
    use domain::{MarketFlag, MarketStatus};
    let sim = sim::spawn(sim::SimConfig {
        realistic: true,
        ..sim::SimConfig::default()
    })
    .await
    .unwrap();
    let opts = VenueOptions::default();
    let mut markets = std::collections::HashMap::new();
    for venue in Venue::ALL {
        let client = venues::venue_client(venue, cfg(sim.prefix_url(venue.as_str())), &opts);
        let list = client
            .fetch_markets()
            .await
            .unwrap_or_else(|e| panic!("{venue}: {e}"));
        assert!(list.len() > 200, "{venue}: {}", list.len());
        assert!(list.iter().all(|i| i.venue == venue));
        markets.insert(venue, list);
    }
    let find = |venue: Venue, symbol: &str| {
        markets[&venue]
            .iter()
            .find(|i| i.symbol == symbol)
            .unwrap_or_else(|| panic!("{venue} lists {symbol}"))
            .clone()
    };
    assert_eq!(find(Venue::Binance, "1000PEPEUSDT").base, "1000PEPE");
    assert_eq!(find(Venue::Binance, "1MBABYDOGEUSDT").base, "1MBABYDOGE");
    assert_eq!(find(Venue::Binance, "1INCHUSDT").base, "1INCH");
    assert_eq!(
        find(Venue::Binance, "MATICUSDT").status,
        MarketStatus::Delisted
    );
    assert_eq!(find(Venue::Bybit, "SHIB1000USDT").base, "SHIB1000");
    let pepe = find(Venue::Okx, "PEPE-USDT-SWAP");
    assert_eq!(
        (pepe.base.as_str(), pepe.contract_value),
        ("PEPE", Some(Decimal::from(10_000_000)))
    );
    for status in [MarketStatus::Halted, MarketStatus::PreOpen] {
        assert!(
            markets[&Venue::Okx].iter().any(|i| i.status == status),
            "okx {status:?}"
        );
    }
    for venue in [Venue::Upbit, Venue::Bithumb] {
        let flags: std::collections::BTreeSet<MarketFlag> = markets[&venue]
            .iter()
            .flat_map(|i| i.flags.iter().copied())
            .collect();
        assert!(flags.contains(&MarketFlag::Warning), "{venue}: {flags:?}");
        assert!(flags.contains(&MarketFlag::Caution), "{venue}: {flags:?}");
        assert!(markets[&venue].iter().all(|i| i.symbol.starts_with("KRW-")));
    }
    assert!(
        markets[&Venue::Bithumb]
            .iter()
            .any(|i| i.flags.contains(&MarketFlag::DepositSuspended))
    );

    // Priced per coin: Binance 1000PEPEUSDT ÷ 1000 is OKX's PEPE-USDT-SWAP.
    let listing = |venue: Venue, symbol: &str, multiplier: Decimal| domain::Listing {
        coin: Coin::parse("PEPE").unwrap(),
        multiplier,
        instrument: find(venue, symbol),
        excluded: None,
    };
    let b = venues::venue_client(Venue::Binance, cfg(sim.prefix_url("binance")), &opts)
        .fetch_tickers(&[listing(
            Venue::Binance,
            "1000PEPEUSDT",
            Decimal::from(1_000),
        )])
        .await
        .unwrap();
    let o = venues::venue_client(Venue::Okx, cfg(sim.prefix_url("okx")), &opts)
        .fetch_tickers(&[listing(Venue::Okx, "PEPE-USDT-SWAP", Decimal::ONE)])
        .await
        .unwrap();
    let (b, o) = (b.tickers[0].price.value(), o.tickers[0].price.value());
    assert!(
        ((b - o) / o).abs() < Decimal::new(5, 2),
        "binance {b} vs okx {o}"
    );

    // Every Bithumb KRW market by listing, in chunks of 200.
    let bithumb = venues::venue_client(Venue::Bithumb, cfg(sim.prefix_url("bithumb")), &opts);
    let listings: Vec<domain::Listing> = markets[&Venue::Bithumb]
        .iter()
        .filter_map(|i| {
            Some(domain::Listing {
                coin: Coin::parse(&i.base).ok()?,
                multiplier: Decimal::ONE,
                instrument: i.clone(),
                excluded: None,
            })
        })
        .collect();
    assert!(bithumb.requests_per_fetch(listings.len()) >= 2);
    let batch = bithumb.fetch_tickers(&listings).await.unwrap();
    assert!(
        batch.failures.is_empty(),
        "{:?}",
        &batch.failures[..3.min(batch.failures.len())]
    );
    assert_eq!(batch.tickers.len(), listings.len());
    assert!(batch.clock_skew_ms.unwrap().abs() < venues::MAX_CLOCK_SKEW_MS);
    sim.stop().await.unwrap();
}
