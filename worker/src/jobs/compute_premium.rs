//! `compute-premium(tick)`: waits (briefly) for this tick's prices, reads the cache, computes
//! every premium with `domain::selection`, and writes them to the cache, evaluates the alert
//! rules on them (`crate::alerts`), and writes the history. (Positions are valued when read,
//! by the API.)

use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use chrono::{TimeZone, Utc};
use domain::{
    Coin, FxRate, JobKind, SkipCause, Ticker, Venue,
    selection::{Scope, pick_fx, premiums_from},
};
use queue::{Job, metrics_names as m};

use super::context::{Ctx, JobResult};

/// A tick's premium should use that tick's prices: wait (up to 700 ms into the tick) until every
/// venue's `fetch-ticker` of this tick has finished (prices cached, or failed), so a premium is
/// tens of ms old when written instead of a whole cadence. The last fetch of the tick pushes a
/// signal this blocks on (`cache::Cache::wait_for_tick`), on a connection of the process's own
/// for that: no polling.
async fn wait_for_tick_fetches(ctx: &Ctx, tick: i64) -> Result<bool, redis::RedisError> {
    let deadline_ms = tick * 1000 + 700;
    let left = |now: i64| Duration::from_millis((deadline_ms - now).max(0) as u64);
    let first = left(Utc::now().timestamp_millis());
    if first.is_zero() {
        return Ok(false);
    }
    // One waiting connection per process; a computation that overlaps another waits its turn
    // within its own deadline.
    let Ok(mut waiter) = tokio::time::timeout(first, ctx.tick_waiter.lock()).await else {
        return Ok(false);
    };
    if waiter.is_none() {
        let target = keyspace::RedisTarget::from_settings(&ctx.settings);
        *waiter = Some(keyspace::connect(&target, TICK_WAITER_TIMEOUT).await?);
    }
    let conn = waiter.as_mut().expect("connected above");
    let wait = left(Utc::now().timestamp_millis());
    let result = ctx.cache.wait_for_tick(conn, tick, wait).await;
    if result.is_err() {
        // Re-made next time rather than trusting a connection that failed mid-wait.
        *waiter = None;
    }
    result
}

/// Response timeout of the waiting connection: longer than any wait (700 ms).
const TICK_WAITER_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn run(ctx: &Ctx, job: &Job) -> JobResult {
    let s = &ctx.settings;
    if !job.manual
        && job.attempt == 1
        && let Err(e) = wait_for_tick_fetches(ctx, job.tick).await
    {
        tracing::warn!(tick = job.tick, error = %e, "could not wait for the tick's prices; computing with what is cached");
    }
    let Some(markets) = ctx.markets.current().await? else {
        return Ok("no market registry yet: nothing to compute".into());
    };
    let now = Utc::now();
    // Both sides of every tracked (coin, pair), and each Korean venue's USDT (the tether
    // premium's FX).
    let mut wanted: BTreeSet<(Venue, Coin)> = BTreeSet::new();
    for (pair, coins) in &markets.universe {
        wanted.insert((pair.korea, Coin::usdt()));
        for c in coins {
            wanted.insert((pair.korea, c.clone()));
            wanted.insert((pair.foreign, c.clone()));
        }
    }
    let wanted: Vec<(Venue, Coin)> = wanted.into_iter().collect();
    let (found, fx_rates) = tokio::try_join!(ctx.cache.tickers(&wanted), ctx.cache.fx_all())?;
    let tickers: HashMap<(Venue, Coin), Ticker> = wanted
        .into_iter()
        .zip(found)
        .filter_map(|(k, t)| t.map(|t| (k, t)))
        .collect();
    let fx = match pick_fx(&s.fx_policy(), &fx_rates, now) {
        Ok(fx) => Ok(fx),
        Err(why) => recover_fx(ctx, now).await.ok_or(why),
    };
    let fees = s.fee_fractions();
    let scope = Scope {
        fees: &fees,
        pairs: &markets.universe,
        ticker_limit_ms: s.freshness.ticker_ms as i64,
        registry: Some(&markets.registry),
        max_deviation_pct: Some(s.mapping.max_deviation_pct),
    };
    let (premiums, skips) = premiums_from(&scope, &tickers, fx, now);

    // Premiums and skip reasons in one round trip: nothing after it can fail on a cache write
    // and leave the history unwritten.
    ctx.cache.put_tick(&premiums, &skips).await?;
    // Alerts right after the cache write: a crossing reaches its receiver as soon as possible.
    let fired = match crate::alerts::evaluate(
        &ctx.alert_rules,
        &ctx.conn,
        &ctx.keys,
        &ctx.enqueuer,
        job.tick,
        &premiums,
    )
    .await
    {
        Ok(n) => n,
        Err(e) => {
            // The next tick evaluates again (the armed state did not change).
            tracing::warn!(error = %e, "alert evaluation failed");
            0
        }
    };
    for skip in &skips {
        tracing::debug!(coin = %skip.coin, pair = %skip.pair, input = %skip.input, reason = %skip.reason, age_ms = ?skip.age_ms, "premium skipped");
        let label = match skip.reason {
            SkipCause::Stale => "stale",
            SkipCause::Suspect(_) => "suspect",
            SkipCause::UnitError(_) => "unit_error",
            SkipCause::IdentityError(_) => "identity_error",
            SkipCause::OldTrade(_) => "old_trade",
            _ => "missing",
        };
        metrics::counter!(m::PREMIUM_SKIPPED_TOTAL, "reason" => label).increment(1);
    }
    for p in &premiums {
        let labels = [
            ("coin", p.inputs.coin.to_string()),
            ("pair", p.inputs.pair.to_string()),
        ];
        metrics::gauge!(m::PREMIUM_RATE, &labels).set(p.rate.try_into().unwrap_or(0.0));
        if let Some(u) = p.usdt_rate {
            metrics::gauge!(m::USDT_PREMIUM_RATE, &labels).set(u.try_into().unwrap_or(0.0));
        }
    }
    let ts = Utc.timestamp_opt(job.tick, 0).single().unwrap_or(now);
    ctx.spool
        .write(&crate::spool::Batch::premiums(ts, &premiums))
        .await;
    Ok(format!(
        "{} premiums, {} skipped, {fired} alerts fired",
        premiums.len(),
        skips.len()
    ))
}

/// No FX rate in the cache is fresh (first start, Redis restarted empty, every source failing):
/// asks for a `fetch-fx` now (a trigger, so it is deduplicated while one is queued or running)
/// and, until it lands, falls back to the newest rate stored in PostgreSQL if it is still within
/// its source's freshness limit; that rate goes back into the cache, so the API sees it too.
/// Without this, premiums would wait for the next FX cron tick (10 minutes).
async fn recover_fx(ctx: &Ctx, now: chrono::DateTime<Utc>) -> Option<FxRate> {
    match ctx.enqueuer.trigger(JobKind::FetchFx, None).await {
        Ok(t) if !t.conflict => {
            tracing::info!(job = %t.id, "no fresh FX rate cached; fetch-fx enqueued");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "no fresh FX rate cached; could not enqueue fetch-fx"),
    }
    let stored = match tokio::time::timeout(Duration::from_millis(300), ctx.store.latest_fx()).await
    {
        Ok(Ok(rates)) => rates,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "could not read stored FX rates");
            return None;
        }
        Err(_) => return None,
    };
    let rates: Vec<Option<FxRate>> = stored.into_iter().map(Some).collect();
    let rate = pick_fx(&ctx.settings.fx_policy(), &rates, now).ok()?;
    if let Err(e) = ctx.cache.put_fx(&rate).await {
        tracing::debug!(error = %e, "could not restore the stored FX rate to the cache");
    }
    tracing::info!(source = %rate.source, "using the stored FX rate until fetch-fx lands");
    Some(rate)
}
