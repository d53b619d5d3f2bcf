//! The bodies of the three jobs. [`crate::runner`] wraps them with records, timeouts and retries.

use std::{collections::HashMap, sync::Arc, time::Duration, time::Instant};

use chrono::{DateTime, TimeZone, Utc};
use domain::{Coin, FxRate, FxSource, JobKind, Premium, PremiumInputs, Ticker, Venue};
use redis::AsyncCommands;
use settings::Settings;
use venues::{FetchError, FxClient, VenueClient};

use crate::{
    Job, Keys, RedisConn,
    cache::{Cache, SkipReason},
    metrics_names as m,
    positions::Positions,
    queue::Enqueuer,
    ratelimit::{RateLimitError, RateLimiter},
    records::Records,
    store::Store,
};

/// Everything a job needs; built once per worker process.
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub conn: RedisConn,
    pub keys: Keys,
    pub cache: Cache,
    pub store: Store,
    pub positions: Positions,
    pub venues: HashMap<Venue, Arc<dyn VenueClient>>,
    /// In fallback order.
    pub fx: Vec<Arc<dyn FxClient>>,
    pub limiter: RateLimiter,
    pub enqueuer: Enqueuer,
    pub records: Records,
}

impl Ctx {
    /// Builds the clients from the settings.
    pub fn new(settings: Arc<Settings>, conn: RedisConn, store: Store) -> Self {
        let keys = Keys::new(&settings.redis_prefix);
        let opts = settings.venue_options();
        let venues = settings
            .venues
            .iter()
            .map(|v| {
                let client: Arc<dyn VenueClient> = Arc::from(venues::venue_client(
                    *v,
                    settings.client_config(v.as_str()),
                    &opts,
                ));
                (*v, client)
            })
            .collect();
        let fx = settings
            .fx_sources
            .iter()
            .map(|s| {
                let c: Arc<dyn FxClient> =
                    Arc::from(venues::fx_client(*s, settings.client_config(s.as_str())));
                c
            })
            .collect();
        let enqueuer = Enqueuer::new(conn.clone(), settings.clone());
        Ctx {
            cache: Cache::new(conn.clone(), &settings),
            positions: Positions::new(store.clone(), conn.clone(), keys.clone()),
            limiter: RateLimiter::new(conn.clone(), keys.clone()),
            records: enqueuer.records().clone(),
            enqueuer,
            venues,
            fx,
            store,
            keys,
            conn,
            settings,
        }
    }
}

/// Why a job attempt failed, with what the retry decision needs.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    RateLimit(#[from] RateLimitError),
    /// Every source of the fallback chain failed; `class` is the first source's error class.
    #[error("every FX source failed: {message}")]
    AllFxFailed {
        message: String,
        retryable: bool,
        retry_after: Option<Duration>,
        class: &'static str,
    },
    #[error("attempt timed out after {0} ms")]
    Timeout(u64),
    #[error("attempt panicked: {0}")]
    Panic(String),
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    pub fn is_retryable(&self) -> bool {
        match self {
            JobError::Fetch(e) => e.is_retryable(),
            JobError::Redis(_) | JobError::RateLimit(_) | JobError::Timeout(_) => true,
            JobError::AllFxFailed { retryable, .. } => *retryable,
            JobError::Panic(_) | JobError::Permanent(_) => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            JobError::Fetch(e) => e.retry_after(),
            JobError::AllFxFailed { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn class(&self) -> &'static str {
        match self {
            JobError::Fetch(e) => e.class().as_str(),
            JobError::Redis(_) => "redis",
            JobError::RateLimit(_) => "rate_limit_budget",
            JobError::AllFxFailed { class, .. } => class,
            JobError::Timeout(_) => "timeout",
            JobError::Panic(_) => "panic",
            JobError::Permanent(_) => "permanent",
        }
    }
}

pub type JobResult = Result<String, JobError>;

/// Runs one attempt of `job`.
pub async fn execute(ctx: &Ctx, job: &Job) -> JobResult {
    match job.kind {
        JobKind::FetchTicker => fetch_ticker(ctx, job).await,
        JobKind::FetchFx => fetch_fx(ctx, job).await,
        JobKind::ComputePremium => compute_premium(ctx, job).await,
    }
}

/// Counts history that could not be written (PostgreSQL down or slow); live data is unaffected.
async fn history_lost(
    ctx: &Ctx,
    table: &'static str,
    rows: usize,
    err: &(dyn std::fmt::Display + Sync),
) {
    tracing::warn!(table, rows, error = %err, "history write failed; live cache unaffected");
    metrics::counter!(m::HISTORY_WRITE_FAILURES_TOTAL, "table" => table).increment(1);
    metrics::counter!(m::HISTORY_ROWS_LOST_TOTAL, "table" => table).increment(rows as u64);
    let _: Result<(), _> = ctx
        .conn
        .clone()
        .hincr(
            ctx.keys.counters(),
            format!("history_rows_lost:{table}"),
            rows as i64,
        )
        .await;
}

fn observe_fetch(target: &'static str, started: Instant, err: Option<&FetchError>) {
    metrics::counter!(m::FETCH_TOTAL, "target" => target, "outcome" => if err.is_some() { "error" } else { "ok" })
        .increment(1);
    metrics::histogram!(m::FETCH_SECONDS, "target" => target)
        .record(started.elapsed().as_secs_f64());
    if let Some(e) = err {
        metrics::counter!(m::FETCH_ERRORS_TOTAL, "target" => target, "class" => e.class().as_str())
            .increment(1);
    }
}

async fn fetch_ticker(ctx: &Ctx, job: &Job) -> JobResult {
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
    let started = Instant::now();
    let result = client.fetch_tickers(&coins).await;
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

async fn fetch_fx(ctx: &Ctx, _job: &Job) -> JobResult {
    let mut errors = Vec::new();
    for client in &ctx.fx {
        let started = Instant::now();
        let source = client.source();
        match client.fetch_usd_krw().await {
            Ok(rate) => {
                observe_fetch(source.as_str(), started, None);
                ctx.cache.put_fx(&rate).await?;
                metrics::gauge!(m::FX_RATE, "source" => source.as_str())
                    .set(rate.usd_krw.value().try_into().unwrap_or(0.0));
                if let Err(e) = ctx.store.insert_fx(&rate).await {
                    history_lost(ctx, "fx_rates", 1, &e).await;
                }
                let fell_back = if errors.is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", describe(&errors))
                };
                return Ok(format!("{source} usd/krw {}{fell_back}", rate.usd_krw));
            }
            Err(e) => {
                observe_fetch(source.as_str(), started, Some(&e));
                tracing::warn!(%source, error = %e, "fx source failed");
                errors.push((source, e));
            }
        }
    }
    let retryable = errors.iter().any(|(_, e)| e.is_retryable());
    let retry_after = errors.iter().filter_map(|(_, e)| e.retry_after()).max();
    let class = errors
        .first()
        .map(|(_, e)| e.class().as_str())
        .unwrap_or("fx_sources");
    Err(JobError::AllFxFailed {
        message: describe(&errors),
        retryable,
        retry_after,
        class,
    })
}

fn describe(errors: &[(FxSource, FetchError)]) -> String {
    errors
        .iter()
        .map(|(s, e)| format!("{s}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The first FX rate, in the configured fallback order, within its source's freshness limit;
/// otherwise why none was usable.
pub fn pick_fx(
    settings: &Settings,
    rates: &[Option<FxRate>],
    now: DateTime<Utc>,
) -> Result<FxRate, String> {
    let mut why = Vec::new();
    for source in &settings.fx_sources {
        let limit = settings.freshness.fx_limit(*source).as_millis() as i64;
        match rates.iter().flatten().find(|r| r.source == *source) {
            Some(r) if r.age_ms(now) <= limit => return Ok(r.clone()),
            Some(r) => why.push(format!(
                "{source} stale ({} ms > {limit} ms)",
                r.age_ms(now)
            )),
            None => why.push(format!("{source} missing")),
        }
    }
    Err(why.join(", "))
}

/// Checks one ticker input: present and within the freshness limit.
fn fresh(
    t: &Option<Ticker>,
    what: String,
    limit_ms: i64,
    now: DateTime<Utc>,
) -> Result<&Ticker, (String, String, Option<i64>)> {
    match t {
        None => Err((what, "missing".into(), None)),
        Some(t) if t.age_ms(now) > limit_ms => Err((what, "stale".into(), Some(t.age_ms(now)))),
        Some(t) => Ok(t),
    }
}

/// Premiums of every (coin, pair) from the cache, or the reason each could not be computed.
pub fn premiums_from(
    settings: &Settings,
    tickers: &HashMap<(Venue, Coin), Ticker>,
    fx: Result<FxRate, String>,
    now: DateTime<Utc>,
) -> (Vec<Premium>, Vec<SkipReason>) {
    let limit = settings.freshness.ticker_ms as i64;
    let mut premiums = Vec::new();
    let mut skips = Vec::new();
    let get = |v: Venue, c: &Coin| tickers.get(&(v, c.clone())).cloned();
    for pair in &settings.pairs {
        let usdt = fresh(&get(pair.korea, &Coin::usdt()), String::new(), limit, now)
            .ok()
            .cloned();
        for coin in &settings.coins {
            let skip = |(input, reason, age): (String, String, Option<i64>), lim: Option<i64>| {
                SkipReason {
                    coin: coin.clone(),
                    pair: *pair,
                    input,
                    reason,
                    age_ms: age,
                    limit_ms: lim,
                    at: now,
                }
            };
            let fx = match &fx {
                Ok(fx) => fx,
                Err(why) => {
                    skips.push(skip(
                        ("usd/krw".into(), format!("no fresh rate: {why}"), None),
                        None,
                    ));
                    continue;
                }
            };
            // Both sides present and fresh, or the first reason why not.
            let sides = [pair.korea, pair.foreign]
                .map(|v| fresh(&get(v, coin), format!("{v} {coin} ticker"), limit, now).cloned());
            let (k, f) = match sides {
                [Ok(k), Ok(f)] => (k, f),
                [Err(e), _] | [_, Err(e)] => {
                    skips.push(skip(e, Some(limit)));
                    continue;
                }
            };
            let inputs = PremiumInputs {
                coin: coin.clone(),
                pair: *pair,
                korea_krw: k.price,
                korea_observed_at: k.observed_at,
                foreign_usd: f.price,
                foreign_observed_at: f.observed_at,
                usd_krw: fx.usd_krw,
                fx_source: fx.source,
                fx_observed_at: fx.observed_at,
                usdt_krw: usdt.as_ref().map(|u| u.price),
                usdt_observed_at: usdt.as_ref().map(|u| u.observed_at),
            };
            match Premium::compute(inputs, now) {
                Ok(p) => premiums.push(p),
                Err(e) => skips.push(skip(("arithmetic".into(), e.to_string(), None), None)),
            }
        }
    }
    (premiums, skips)
}

/// A tick's premium should use that tick's prices: wait (up to 700 ms into the tick) until every
/// venue's prices of this tick are in the cache (`{p}:tick-fetched:{tick}:{venue}`) or its
/// `fetch-ticker` job has given up, so a premium is tens of ms old when written instead of a
/// whole cadence.
async fn wait_for_tick_fetches(ctx: &Ctx, tick: i64) -> Result<(), redis::RedisError> {
    let deadline_ms = tick * 1000 + 700;
    let venues = &ctx.settings.venues;
    let mut conn = ctx.conn.clone();
    while Utc::now().timestamp_millis() < deadline_ms {
        let mut pipe = redis::pipe();
        for v in venues {
            pipe.exists(ctx.keys.tick_fetched(tick, *v));
            pipe.hget(
                ctx.keys
                    .job(&Job::for_tick(JobKind::FetchTicker, Some(*v), tick).id),
                "state",
            );
        }
        let answers: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let ready = answers.chunks(2).all(|pair| {
            let cached = matches!(pair[0], redis::Value::Int(1));
            let gave_up =
                matches!(&pair[1], redis::Value::BulkString(b) if b == b"failed" || b == b"dead");
            cached || gave_up
        });
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

async fn compute_premium(ctx: &Ctx, job: &Job) -> JobResult {
    let s = &ctx.settings;
    if !job.manual && job.attempt == 1 {
        wait_for_tick_fetches(ctx, job.tick).await?;
    }
    let now = Utc::now();
    // The same (venue, coin) set the fetch-ticker jobs fetch, USDT on Korean venues included.
    let wanted: Vec<(Venue, Coin)> = s
        .venues
        .iter()
        .flat_map(|v| s.coins_for(*v).into_iter().map(move |c| (*v, c)))
        .collect();
    let (found, fx_rates) = tokio::try_join!(ctx.cache.tickers(&wanted), ctx.cache.fx_all())?;
    let tickers: HashMap<(Venue, Coin), Ticker> = wanted
        .into_iter()
        .zip(found)
        .filter_map(|(k, t)| t.map(|t| (k, t)))
        .collect();
    let fx = pick_fx(s, &fx_rates, now);
    let (premiums, skips) = premiums_from(s, &tickers, fx.clone(), now);

    ctx.cache.put_premiums(&premiums).await?;
    for skip in &skips {
        tracing::debug!(coin = %skip.coin, pair = %skip.pair, input = %skip.input, reason = %skip.reason, age_ms = ?skip.age_ms, "premium skipped");
        metrics::counter!(m::PREMIUM_SKIPPED_TOTAL, "reason" => if skip.reason == "stale" { "stale" } else { "missing" })
            .increment(1);
        ctx.cache.put_skip(skip).await?;
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
    if let Err(e) = ctx.store.insert_premiums(ts, &premiums).await {
        history_lost(ctx, "premiums", premiums.len(), &e).await;
    }
    let pnl = match fx {
        Ok(fx) => update_pnl(ctx, &tickers, &fx).await?,
        Err(_) => 0,
    };
    Ok(format!(
        "{} premiums, {} skipped, {pnl} positions valued",
        premiums.len(),
        skips.len()
    ))
}

/// Recomputes the PnL of open positions, only when there are any (the original design's
/// position-aware policy).
async fn update_pnl(
    ctx: &Ctx,
    tickers: &HashMap<(Venue, Coin), Ticker>,
    fx: &FxRate,
) -> Result<usize, JobError> {
    let n: usize = ctx.conn.clone().hlen(ctx.keys.open_positions()).await?;
    if n == 0 {
        return Ok(0);
    }
    let positions = ctx.positions.open_from_cache().await?;
    let mut pipe = redis::pipe();
    let mut valued = 0;
    for p in &positions {
        let (Some(k), Some(f)) = (
            tickers.get(&(p.pair.korea, p.coin.clone())),
            tickers.get(&(p.pair.foreign, p.coin.clone())),
        ) else {
            continue;
        };
        if let Ok(pnl) = p.pnl(k.price, f.price, fx.usd_krw) {
            pipe.set_ex(
                ctx.keys.position_pnl(p.id),
                serde_json::to_string(&pnl).expect("pnl serializes"),
                ctx.settings.cache.premium_secs.max(1),
            )
            .ignore();
            valued += 1;
        }
    }
    pipe.exec_async(&mut ctx.conn.clone()).await?;
    Ok(valued)
}
