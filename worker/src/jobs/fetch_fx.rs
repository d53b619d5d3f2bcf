//! `fetch-fx(tick)`: USD/KRW from the first FX source of the fallback chain that answers with a
//! rate still fresh by that source's own limit (ADR 0019), into the hot cache and the history.
//!
//! A source that answers with a rate already past its limit (a mirror stuck on an old ECB date)
//! is passed over like one that fails, so the next source is fetched and can be served. An
//! answer never replaces a newer cached rate of its source: an earlier publication is no less
//! true because the source went back to an older date, and it stays usable until its own limit,
//! as the PostgreSQL recovery in `compute-premium` (newest by `observed_at`) would serve it anyway
//! (ADR 0019, amended). A stale answer is cached when nothing newer is (so a premium's skip
//! reason says the source is stale rather than missing), never stored in the history.

use std::time::Instant;

use chrono::{DateTime, Utc};
use domain::{FxRate, FxSource};
use queue::{Job, metrics_names as m};
use venues::FetchError;

use super::context::{Ctx, JobError, JobResult, observe_fetch};

/// Why a source of the chain was passed over.
enum Passed {
    Failed(FetchError),
    Stale(String),
}

pub async fn run(ctx: &Ctx, _job: &Job) -> JobResult {
    let mut passed: Vec<(FxSource, Passed)> = Vec::new();
    for client in &ctx.fx {
        let started = Instant::now();
        let source = client.source();
        match client.fetch_usd_krw().await {
            Ok(rate) => {
                observe_fetch(source.as_str(), started, None);
                let kept = keep_newer(ctx, &rate).await?;
                if let Some(why) = stale(&rate, ctx.settings.freshness.fx_limit(source), Utc::now())
                {
                    tracing::warn!(%source, observed_at = %rate.observed_at, %why, ?kept,
                        "fx source answered a stale rate; trying the next source");
                    passed.push((source, Passed::Stale(why)));
                    continue;
                }
                metrics::gauge!(m::FX_RATE, "source" => source.as_str())
                    .set(rate.usd_krw.value().try_into().unwrap_or(0.0));
                ctx.spool
                    .write(&crate::spool::Batch::Fx(vec![rate.clone()]))
                    .await;
                let fell_back = if passed.is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", describe(&passed))
                };
                return Ok(format!("{source} usd/krw {}{fell_back}", rate.usd_krw));
            }
            Err(e) => {
                observe_fetch(source.as_str(), started, Some(&e));
                tracing::warn!(%source, error = %e, "fx source failed");
                passed.push((source, Passed::Failed(e)));
            }
        }
    }
    let errors = || {
        passed.iter().filter_map(|(_, p)| match p {
            Passed::Failed(e) => Some(e),
            Passed::Stale(_) => None,
        })
    };
    // Only a failed fetch is worth an early retry: a stale answer waits for the next cron tick.
    let retryable = errors().any(FetchError::is_retryable);
    let retry_after = errors().filter_map(FetchError::retry_after).max();
    let class = errors().next().map(FetchError::class);
    Err(JobError::AllFxFailed {
        message: describe(&passed),
        retryable,
        retry_after,
        class,
    })
}

/// Caches `rate` unless its source's cached rate is newer; answers that newer rate's time.
async fn keep_newer(ctx: &Ctx, rate: &FxRate) -> Result<Option<DateTime<Utc>>, redis::RedisError> {
    let cached = ctx.cache.fx(rate.source).await?;
    match cached.filter(|c| c.observed_at > rate.observed_at) {
        Some(newer) => {
            tracing::info!(source = %rate.source, answered = %rate.observed_at,
                kept = %newer.observed_at, "fx source answered an older rate; the newer one stays");
            Ok(Some(newer.observed_at))
        }
        None => ctx.cache.put_fx(rate).await.map(|()| None),
    }
}

/// `None` while `rate` is within its source's `limit` at `now`, else how old it is against what
/// (`stale rate of 2026-11-27T15:00:00Z is 10d 5h old, limit 3d 2h`).
fn stale(rate: &FxRate, limit: std::time::Duration, now: DateTime<Utc>) -> Option<String> {
    (!rate.is_fresh(limit, now)).then(|| {
        format!(
            "stale rate of {} is {} old, limit {}",
            rate.observed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            span(rate.age_ms(now)),
            span(rate.limit_ms(limit)),
        )
    })
}

/// `10d 5h`, `1d 2h`, `7h`, `14m`: days and hours past a day, hours or minutes below.
fn span(ms: i64) -> String {
    let m = ms / 60_000;
    match (m / 1440, m / 60 % 24) {
        (0, 0) => format!("{m}m"),
        (0, h) => format!("{h}h"),
        (d, h) => format!("{d}d {h}h"),
    }
}

fn describe(passed: &[(FxSource, Passed)]) -> String {
    passed
        .iter()
        .map(|(s, p)| match p {
            Passed::Failed(e) => format!("{s}: {e}"),
            Passed::Stale(why) => format!("{s}: {why}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rate(source: FxSource, observed_at: &str) -> FxRate {
        FxRate {
            source,
            usd_krw: domain::Price::parse("1380").unwrap(),
            observed_at: at(observed_at),
            fetched_at: at(observed_at),
        }
    }

    const LIMIT_26H: std::time::Duration = std::time::Duration::from_secs(26 * 3600);

    #[test]
    fn a_rate_is_stale_by_its_own_sources_calendar() {
        // Friday's ECB rate is still the latest on Sunday; a daily API's is not.
        let sunday = at("2026-12-06T12:00:00Z");
        let fri = "2026-12-04T15:00:00Z";
        assert_eq!(
            stale(&rate(FxSource::Frankfurter, fri), LIMIT_26H, sunday),
            None
        );
        assert_eq!(
            stale(&rate(FxSource::Erapi, fri), LIMIT_26H, sunday).as_deref(),
            Some("stale rate of 2026-12-04T15:00:00Z is 1d 21h old, limit 1d 2h")
        );
        let week_old = rate(FxSource::Frankfurter, "2026-11-27T15:00:00Z");
        assert!(
            stale(&week_old, LIMIT_26H, sunday)
                .unwrap()
                .contains("is 8d 21h old, limit")
        );
    }
}
