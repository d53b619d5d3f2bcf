//! `premium-fill`: a synthetic full premium table in the hot cache, rewritten every second the
//! way `compute-premium` writes it (`Cache::put_premiums`: current values, history, pub/sub,
//! the premium version), for every coin in `coins` × every configured pair. Prices move a
//! little each tick; every 10th coin carries the `warning` flag and every 25th `suspect`, so
//! the rows look like a real table (≈ 600 bytes of JSON each). Used by
//! `bench/premium_table.sh` to load `GET /api/v1/premiums` without venues or workers.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use domain::{FxSource, MarketFlag, Premium, PremiumInputs, Price};
use rust_decimal::Decimal;
use settings::Settings;

#[derive(clap::Args)]
pub struct Args {
    /// How long to keep rewriting the table, seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
}

fn price(v: Decimal) -> Result<Price, String> {
    Price::new(v).map_err(|e| e.to_string())
}

pub async fn run(a: Args) -> Result<(), String> {
    let settings = Arc::new(Settings::load(None).map_err(|e| e.to_string())?);
    let conn = keyspace::connect_redis(&settings.redis_url, Duration::from_secs(2))
        .await
        .map_err(|e| format!("redis: {e}"))?;
    let cache = cache::Cache::new(conn.clone(), &settings);
    let domain::CoinSelection::List(coins) = &settings.coins else {
        return Err("premium-fill needs an explicit coin list (PREMIUM_COINS=SIM001,…)".into());
    };
    // The API serves the universe in force: every coin on every pair, listed plainly.
    let now = Utc::now();
    let mut registry = domain::Registry::default();
    for venue in &settings.venues {
        registry.venues.insert(
            *venue,
            domain::VenueMarkets {
                venue: *venue,
                listings: coins
                    .iter()
                    .map(|c| venues::plain_listing(*venue, c))
                    .collect(),
                refreshed_at: now,
                last_failure: None,
            },
        );
    }
    let universe = settings.pairs.iter().map(|p| (*p, coins.clone())).collect();
    cache::Markets::new(conn, keyspace::Keys::new(&settings.redis_prefix))
        .put(&registry, &universe)
        .await
        .map_err(|e| format!("writing the registry: {e}"))?;
    let rows = coins.len() * settings.pairs.len();
    eprintln!(
        "premium-fill: {} coins × {} pairs = {rows} premiums every second for {} s",
        coins.len(),
        settings.pairs.len(),
        a.secs
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.secs);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: i64 = 0;
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        let now = Utc::now();
        let mut premiums = Vec::with_capacity(rows);
        for (i, coin) in coins.iter().enumerate() {
            for (j, pair) in settings.pairs.iter().enumerate() {
                // Some cents of movement per tick, some spread per pair.
                let foreign = Decimal::new(1_000_000 + (i as i64) * 7_919 + n % 97, 2);
                let usd_krw = Decimal::new(14_326, 1);
                let korea = (foreign * usd_krw * Decimal::new(1_013 + j as i64, 3)).round_dp(0);
                let at = now - chrono::Duration::milliseconds(150 + (i as i64 % 300));
                let mut p = Premium::compute(
                    PremiumInputs {
                        coin: coin.clone(),
                        pair: *pair,
                        korea_krw: price(korea)?,
                        korea_price_source: domain::PriceSource::LastTrade,
                        korea_trade_krw: None,
                        korea_observed_at: at,
                        foreign_usd: price(foreign)?,
                        foreign_observed_at: at,
                        usd_krw: price(usd_krw)?,
                        fx_source: FxSource::Dunamu,
                        fx_observed_at: now - chrono::Duration::seconds(30),
                        usdt_krw: Some(price(Decimal::new(14_505, 1))?),
                        usdt_observed_at: Some(at),
                        foreign_symbol: None,
                        foreign_multiplier: None,
                        korea_last_trade_at: None,
                        korea_book: None,
                        foreign_book: None,
                        funding: None,
                    },
                    now,
                )
                .map_err(|e| e.to_string())?;
                if i % 10 == 0 {
                    p.flags.push(MarketFlag::Warning);
                }
                if i % 25 == 0 {
                    p.flags.push(MarketFlag::Suspect);
                }
                premiums.push(p);
            }
        }
        cache
            .put_premiums(&premiums)
            .await
            .map_err(|e| format!("writing premiums: {e}"))?;
        n += 1;
    }
    eprintln!("premium-fill: wrote {n} tables");
    Ok(())
}
