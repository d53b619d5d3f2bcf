//! `fetch-ticker(venue, tick)`: every tracked coin of one venue in one request (within the
//! shared rate limit), validated, into the hot cache and the history.

use std::time::{Duration, Instant};

use queue::{Job, metrics_names as m};
use redis::AsyncCommands;

use super::{Ctx, JobError, JobResult, history_lost, observe_fetch};

pub async fn run(ctx: &Ctx, job: &Job) -> JobResult {
    let venue = job
        .venue
        .ok_or_else(|| JobError::Permanent("fetch-ticker job without a venue".into()))?;
    let client = ctx
        .venues
        .get(&venue)
        .ok_or_else(|| JobError::Permanent(format!("venue `{venue}` is not enabled")))?;
    ctx.limiter
        .acquire(
            venue,
            ctx.settings.rate_limit(venue),
            Duration::from_secs(2),
        )
        .await?;
    let coins = ctx.settings.coins_for(venue);
    let listings: Vec<_> = coins
        .iter()
        .map(|c| venues::plain_listing(venue, c))
        .collect();
    let started = Instant::now();
    let result = client.fetch_tickers(&listings).await;
    observe_fetch(venue.as_str(), started, result.as_ref().err());
    let batch = result?;
    for (coin, e) in &batch.failures {
        tracing::warn!(%venue, %coin, error = %e, "ticker rejected");
        metrics::counter!(m::FETCH_ERRORS_TOTAL, "target" => venue.as_str(), "class" => e.class().as_str())
            .increment(1);
    }
    if batch.tickers.is_empty()
        && let Some((_, e)) = batch.failures.into_iter().next()
    {
        return Err(e.into());
    }
    ctx.cache.put_tickers(&batch.tickers).await?;
    if !job.manual {
        // Tells this tick's compute-premium that the prices are in the cache (before the
        // PostgreSQL insert, which may be slow and must not delay the premium).
        let _: () = ctx
            .conn
            .clone()
            .set_ex(ctx.keys.tick_fetched(job.tick, venue), 1, 10)
            .await?;
    }
    if let Err(e) = ctx.store.insert_tickers(&batch.tickers).await {
        history_lost(ctx, "tickers", batch.tickers.len(), &e).await;
    }
    Ok(format!(
        "{} tickers from {venue}, {} rejected",
        batch.tickers.len(),
        coins.len() - batch.tickers.len()
    ))
}
