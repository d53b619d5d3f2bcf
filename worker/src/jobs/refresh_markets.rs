//! `refresh-markets(tick)`: every enabled venue's market list, from its metadata endpoint, mapped
//! to coins and price units (`domain::market`), put in force in Redis and recorded with validity
//! times in PostgreSQL. Runs on start, hourly (`schedule.markets`), when a venue answers "unknown
//! market", and on a manual trigger.
//!
//! A glitch must not delist the market: a venue whose answer fails, does not parse, or suddenly
//! lacks most of its markets (`domain::accept_refresh`) keeps its last good list, and the refusal
//! is recorded on it (`last_failure`, shown by `GET /api/v1/markets`) and makes the job fail, so
//! it is retried with backoff while the other venues' fresh lists are already in force. A venue
//! whose list has never loaded lists nothing, except with an explicit `coins` list (see
//! [`assumed`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use domain::{
    Coin, Instrument, JobKind, Listing, Region, Registry, Venue, VenueMarkets, accept_refresh,
    map_foreign, map_korean, market::RefreshFailure,
};
use futures::future::join_all;
use queue::{Job, metrics_names as m};

use super::context::{Ctx, JobError, JobResult};

/// One venue's instruments in force, when they were fetched, and the refusal that kept them.
type InForce = (Vec<Instrument>, DateTime<Utc>, Option<RefreshFailure>);

/// What a refresh did.
#[derive(Debug)]
pub struct Refreshed {
    pub version: u64,
    /// Venues whose list could not be refreshed, and why (their last good list stays).
    pub failed: Vec<(Venue, String)>,
    pub registry: Registry,
    pub tracked: usize,
}

pub async fn run(ctx: &Ctx, _job: &Job) -> JobResult {
    let r = refresh(ctx).await?;
    let summary = summary(&r);
    if r.failed.is_empty() {
        Ok(summary)
    } else {
        Err(JobError::MarketsRefused(summary))
    }
}

/// `listings per venue, tracked pairs, failures` in one line.
fn summary(r: &Refreshed) -> String {
    let counts: Vec<String> = r
        .registry
        .venues
        .values()
        .map(|v| format!("{} {}", v.venue, v.listings.len()))
        .collect();
    let mut s = format!(
        "registry v{}: {}; {} (coin, pair) tracked",
        r.version,
        counts.join(", "),
        r.tracked
    );
    for (v, why) in &r.failed {
        s.push_str(&format!("; {v} kept its last good list: {why}"));
    }
    s
}

/// Fetches, maps and puts in force every venue's markets (see the module docs).
pub async fn refresh(ctx: &Ctx) -> Result<Refreshed, JobError> {
    let now = Utc::now();
    let previous = ctx.markets.current().await?;
    let previous = previous.as_ref().map(|m| &m.registry);
    let venues: Vec<Venue> = ctx.settings.venues.clone();
    let answers = join_all(venues.iter().map(|v| fetch(ctx, *v))).await;

    // Per venue: the instruments in force, when they were fetched, and a refusal if any.
    let mut failed = Vec::new();
    let mut lists: BTreeMap<Venue, InForce> = BTreeMap::new();
    for (venue, answer) in venues.iter().copied().zip(answers) {
        let before = previous.and_then(|r| r.venues.get(&venue));
        match answer.and_then(|fresh| accept_refresh(before, &fresh).map(|()| fresh)) {
            Ok(fresh) => {
                lists.insert(venue, (fresh, now, None));
            }
            Err(reason) => {
                tracing::warn!(%venue, %reason, "market list refused; the last good one stays in force");
                metrics::counter!(m::MARKETS_REFRESH_FAILURES_TOTAL, "venue" => venue.as_str())
                    .increment(1);
                let failure = Some(RefreshFailure {
                    at: now,
                    reason: reason.clone(),
                });
                let kept = match before {
                    Some(b) => (
                        b.listings.iter().map(|l| l.instrument.clone()).collect(),
                        b.refreshed_at,
                        failure,
                    ),
                    None => (assumed(ctx, venue), DateTime::UNIX_EPOCH, failure),
                };
                lists.insert(venue, kept);
                failed.push((venue, reason));
            }
        }
    }

    // Korean venues first: a foreign multiplier is recognised only for a coin listed in Korea.
    let rules = ctx.settings.mapping.rules();
    let mut mapped: BTreeMap<Venue, Vec<Listing>> = BTreeMap::new();
    for (venue, (instruments, _, _)) in &lists {
        if venue.region() == Region::Korea {
            mapped.insert(*venue, map_korean(instruments, &rules));
        }
    }
    let korean: BTreeSet<Coin> = mapped
        .values()
        .flatten()
        .filter(|l| l.instrument.status.is_trading() && l.excluded.is_none())
        .map(|l| l.coin.clone())
        .collect();
    for (venue, (instruments, _, _)) in &lists {
        if venue.region() == Region::Foreign {
            mapped.insert(*venue, map_foreign(instruments, &korean, &rules));
        }
    }
    let mut registry = Registry::default();
    for (venue, (_, refreshed_at, last_failure)) in lists {
        let listings = mapped.remove(&venue).unwrap_or_default();
        metrics::gauge!(m::MARKETS_LISTED, "venue" => venue.as_str()).set(listings.len() as f64);
        registry.venues.insert(
            venue,
            VenueMarkets {
                venue,
                listings,
                refreshed_at,
                last_failure,
            },
        );
    }

    let universe = ctx.settings.universe_of(&registry);
    let tracked = universe.values().map(Vec::len).sum();
    metrics::gauge!(m::TRACKED_PAIRS).set(tracked as f64);
    let version = ctx.markets.put(&registry, &universe).await?;
    for (venue, v) in &registry.venues {
        if v.refreshed_at != now {
            continue;
        }
        match ctx.store.record_listings(*venue, &v.listings, now).await {
            Ok((0, 0)) => {}
            Ok((closed, opened)) => {
                tracing::info!(%venue, closed, opened, "market listings changed");
            }
            Err(e) => {
                tracing::warn!(%venue, error = %e, "could not record the listings' history");
            }
        }
    }
    Ok(Refreshed {
        version,
        failed,
        registry,
        tracked,
    })
}

/// A venue whose market list has never loaded: with an explicit `coins` list, it is assumed to
/// list those coins (and KRW-USDT) under their plain symbols until its list loads, so their
/// premiums are attempted and every failure shows as a skip reason; with `coins = "auto"`
/// nothing can be assumed.
fn assumed(ctx: &Ctx, venue: Venue) -> Vec<Instrument> {
    let domain::CoinSelection::List(coins) = &ctx.settings.coins else {
        return Vec::new();
    };
    let usdt = (venue.region() == Region::Korea).then(Coin::usdt);
    coins
        .iter()
        .chain(usdt.iter())
        .map(|c| venues::plain_listing(venue, c).instrument)
        .collect()
}

/// One venue's market list within the shared rate limit; the error as text.
async fn fetch(ctx: &Ctx, venue: Venue) -> Result<Vec<Instrument>, String> {
    let client = ctx
        .venues
        .get(&venue)
        .ok_or_else(|| format!("venue `{venue}` is not enabled"))?;
    ctx.limiter
        .acquire(
            venue,
            ctx.settings.rate_limit(venue),
            std::time::Duration::from_secs(5),
        )
        .await
        .map_err(|e| e.to_string())?;
    client.fetch_markets().await.map_err(|e| e.to_string())
}

/// How often replicas may ask for a registry refresh (unknown markets, a failed start).
const REFRESH_ASK_SECS: u64 = 30;

/// Triggers `refresh-markets` (deduplicated while one is queued or running), at most once per
/// [`REFRESH_ASK_SECS`] across replicas.
pub(crate) async fn ask_refresh(ctx: &Ctx, why: &str) {
    let first: Result<bool, _> = redis::cmd("SET")
        .arg(ctx.keys.markets_refresh_asked())
        .arg(1)
        .arg("NX")
        .arg("EX")
        .arg(REFRESH_ASK_SECS)
        .query_async(&mut ctx.conn.clone())
        .await;
    if !matches!(first, Ok(true)) {
        return;
    }
    match ctx.enqueuer.trigger(JobKind::RefreshMarkets, None).await {
        Ok(t) => tracing::info!(job = %t.id, why, "market registry refresh asked for"),
        Err(e) => tracing::warn!(why, error = %e, "could not ask for a market registry refresh"),
    }
}
