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
