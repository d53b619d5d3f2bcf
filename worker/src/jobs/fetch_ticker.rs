//! `fetch-ticker(venue, tick)`: every listing of one venue that a tracked pair needs, in as few
//! requests as the venue allows (within the shared rate limit), validated and converted to
//! per-coin prices, into the hot cache and the history.
//!
//! What to request comes from the market registry in force (`refresh-markets`): the venue's
//! symbols (`1000PEPEUSDT`) and multipliers. A venue that answers "unknown market" for a listed
//! symbol has changed its listings since the last refresh, so a refresh is asked for (at most
//! once per 30 s, see `refresh_markets::ask_refresh`).

use std::time::{Duration, Instant};

use domain::ErrorClass;
use queue::{Job, metrics_names as m};

use super::{
    context::{Ctx, JobError, JobResult, observe_fetch},
    refresh_markets::ask_refresh,
};

pub async fn run(ctx: &Ctx, job: &Job) -> JobResult {
    let mut signalled = false;
    let result = fetch(ctx, job, &mut signalled).await;
    if !signalled
        && !job.manual
        && let Some(venue) = job.venue
        && let Err(e) = signal_fetched(ctx, job.tick, venue).await
    {
        tracing::debug!(%venue, error = %e, "could not tell compute-premium this fetch failed");
    }
    result
}

/// Tells this tick's `compute-premium` that this venue is done with the tick: its prices are in
/// the cache, or it failed (the premiums are then computed without it, rather than waiting
/// for a retry until the deadline).
async fn signal_fetched(
    ctx: &Ctx,
    tick: i64,
    venue: domain::Venue,
) -> Result<bool, redis::RedisError> {
    ctx.cache
        .tick_fetched(tick, venue, ctx.settings.venues.len())
        .await
}

async fn fetch(ctx: &Ctx, job: &Job, signalled: &mut bool) -> JobResult {
    let venue = job
        .venue
        .ok_or_else(|| JobError::Permanent("fetch-ticker job without a venue".into()))?;
    let client = ctx
        .venues
        .get(&venue)
        .ok_or_else(|| JobError::Permanent(format!("venue `{venue}` is not enabled")))?;
    let Some(markets) = ctx.markets.current().await? else {
        ask_refresh(ctx, "no market registry yet").await;
        return Err(JobError::NoMarkets);
    };
    let listings = markets.fetch_list(venue);
    if listings.is_empty() {
        return Ok(format!("no tracked listings on {venue}"));
    }
    for _ in 0..client.requests_per_fetch(listings.len()) {
        ctx.limiter
            .acquire(
                venue,
                ctx.settings.rate_limit(venue),
                Duration::from_secs(2),
            )
            .await?;
    }
    let started = Instant::now();
    let result = client.fetch_tickers(&listings).await;
    observe_fetch(venue.as_str(), started, result.as_ref().err());
    let batch = match result {
        Err(e) if e.class() == ErrorClass::UnknownSymbol => {
            ask_refresh(ctx, &format!("{venue}: {e}")).await;
            return Err(e.into());
        }
        r => r?,
    };
    if let Some(skew) = batch.clock_skew_ms {
        metrics::gauge!(m::VENUE_CLOCK_SKEW_MS, "venue" => venue.as_str()).set(skew as f64);
        if let Err(e) = ctx.markets.put_clock_skew(venue, skew).await {
            tracing::debug!(%venue, error = %e, "could not record the clock skew");
        }
    }
    let mut unknown = 0;
    for (coin, e) in &batch.failures {
        tracing::warn!(%venue, %coin, error = %e, "ticker rejected");
        metrics::counter!(m::FETCH_ERRORS_TOTAL, "target" => venue.as_str(), "class" => e.class().as_str())
            .increment(1);
        unknown += usize::from(e.class() == ErrorClass::UnknownSymbol);
    }
    if unknown > 0 {
        ask_refresh(
            ctx,
            &format!("{venue} does not know {unknown} listed market(s)"),
        )
        .await;
    }
    if batch.tickers.is_empty()
        && let Some((_, e)) = batch.failures.into_iter().next()
    {
        return Err(e.into());
    }
    ctx.cache.put_tickers(&batch.tickers).await?;
    if !job.manual {
        // Before the books and the PostgreSQL insert, which may be slow and must not delay the
        // premium.
        signal_fetched(ctx, job.tick, venue).await?;
        *signalled = true;
    }
    fetch_depths(ctx, venue, &listings).await;
    ctx.spool
        .write(&crate::spool::Batch::tickers(&batch.tickers))
        .await;
    Ok(format!(
        "{} tickers from {venue}, {} rejected",
        batch.tickers.len(),
        listings.len() - batch.tickers.len()
    ))
}

/// Levels per side fetched for a premium at a size.
const DEPTH_LEVELS: usize = 30;

/// The order books of the `depth.coins` this venue lists, one request each within the shared
/// rate limit, into the cache (`{p}:depth:{venue}:{coin}`). A failed book is logged and
/// skipped: the premium at a size of that coin then answers that no current book exists.
async fn fetch_depths(ctx: &Ctx, venue: domain::Venue, listings: &[domain::Listing]) {
    let Some(client) = ctx.venues.get(&venue) else {
        return;
    };
    let mut depths = Vec::new();
    for l in listings
        .iter()
        .filter(|l| ctx.settings.depth.coins.contains(&l.coin))
    {
        let budget = ctx
            .limiter
            .acquire(
                venue,
                ctx.settings.rate_limit(venue),
                Duration::from_millis(300),
            )
            .await;
        if budget.is_err() {
            tracing::debug!(%venue, coin = %l.coin, "no rate budget left for the book this tick");
            continue;
        }
        let started = Instant::now();
        let result = client.fetch_depth(l, DEPTH_LEVELS).await;
        observe_fetch(venue.as_str(), started, result.as_ref().err());
        match result {
            Ok(d) => depths.push((l.coin.clone(), d)),
            Err(e) => tracing::warn!(%venue, coin = %l.coin, error = %e, "order book rejected"),
        }
    }
    if let Err(e) = ctx.cache.put_depths(venue, &depths).await {
        tracing::warn!(%venue, error = %e, "could not cache the order books");
    }
}
