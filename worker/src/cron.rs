//! Cron sources. Every replica runs one per job kind.
//!
//! Each source sleeps until the schedule's next fire time and pushes a task whose id is fixed by
//! (kind, params, tick); the push of a replica that comes second is a no-op, and it knows it
//! ([`queue::PushOutcome::Duplicate`]).
//!
//! Why not apalis-cron 1.0: its `pipe_to` gives each tick a random ULID, so N replicas would make
//! N jobs per tick (apalis issue #281). Its tick stream (`CronScheduler::into_stream`) would give
//! the scheduled time we need, but it computes the next fire time as soon as a tick is yielded and
//! only arms the timer on the next poll; if the consumer takes longer than the time left until
//! that fire time (a slow Redis round trip while accounting and pushing), the poll finds the fire
//! time in the past and yields `Error::OutOfRange` for that same tick on every poll from then on,
//! without ever computing a new one: a busy loop of errors and no tick at all afterwards, where
//! this loop skips to the next fire time and counts the gap as missed. Until such a pause its
//! ticks are as punctual as this loop's. Working around it means re-creating the scheduler after
//! every error, i.e. the few lines below plus a dependency (and chrono-tz), so the workspace
//! does not depend on apalis-cron.
//!
//! Missed ticks: `{p}:cron-last:{kind}` holds the last tick produced by any replica. The replica
//! that advances it past a gap counts the schedule's fire times inside the gap into
//! `{p}:counters` `missed_ticks:{kind}` and the `premium_missed_ticks_total` metric; the update is
//! a compare-and-set, so a gap is counted once however many replicas see it. Missed ticks are not
//! backfilled: a premium for a second that has passed is not worth computing late.
//!
//! Pile-up guard: when a queue already holds `MAX_BACKLOG` tasks (every worker stuck or gone
//! while cron keeps pushing), ticks are not pushed but counted as missed, so the queue can never
//! grow to the size at which apalis-redis 1.0's promotion script fails (~8,000 due tasks).

use std::{
    str::FromStr,
    sync::{Arc, LazyLock},
    time::Duration,
};

use chrono::{DateTime, TimeZone, Utc};
use domain::{JobKind, Region};
use keyspace::{Keys, RedisConn};
use queue::{Enqueuer, Job, PushOutcome, metrics_names as m};
use redis::{AsyncCommands, Script};
use settings::Settings;
use tokio::sync::watch;

/// Above this many waiting tasks in a queue, ticks are skipped (and counted as missed).
pub const MAX_BACKLOG: u64 = 2_000;

pub fn schedule_of(settings: &Settings, kind: JobKind) -> cron::Schedule {
    let expr = match kind {
        JobKind::FetchTicker => &settings.schedule.ticker,
        JobKind::FetchFx => &settings.schedule.fx,
        JobKind::ComputePremium => &settings.schedule.premium,
        JobKind::RefreshMarkets => &settings.schedule.markets,
        JobKind::DeliverAlert => {
            unreachable!("deliver-alert has no schedule: compute-premium enqueues it")
        }
        JobKind::MaintainHistory => &settings.schedule.history,
        JobKind::RollupHistory => &settings.schedule.rollup,
    };
    // Validated at start (Settings::validate).
    cron::Schedule::from_str(expr).expect("schedule validated at start")
}

/// The jobs of one tick of `kind`.
pub fn jobs_for_tick(settings: &Settings, kind: JobKind, tick: i64) -> Vec<Job> {
    match kind {
        JobKind::FetchTicker => {
            // Korean venues first: the KRW side is the one that moves the premium most.
            let mut venues = settings.venues_in(Region::Korea);
            venues.extend(settings.venues_in(Region::Foreign));
            venues
                .into_iter()
                .map(|v| Job::for_tick(kind, Some(v), tick))
                .collect()
        }
        _ => vec![Job::for_tick(kind, None, tick)],
    }
}

/// Produces `kind`'s jobs on its schedule until `stop` turns true.
pub async fn produce(
    kind: JobKind,
    settings: Arc<Settings>,
    enqueuer: Enqueuer,
    conn: RedisConn,
    mut stop: watch::Receiver<bool>,
) {
    let schedule = schedule_of(&settings, kind);
    let keys = Keys::new(&settings.redis_prefix);
    if kind == JobKind::FetchFx {
        fetch_fx_at_start(&settings, &enqueuer, &conn, &schedule).await;
    }
    loop {
        let Some(next) = schedule.upcoming(Utc).next() else {
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let tick = next.timestamp();
        let accounted = match account_tick(&conn, &keys, kind, &schedule, tick).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(%kind, tick, error = %e, "missed-tick accounting failed");
                false
            }
        };
        match enqueuer.depth(kind).await {
            Ok((scheduled, active)) if scheduled + active >= MAX_BACKLOG => {
                tracing::warn!(%kind, tick, scheduled, active, "queue backlog over {MAX_BACKLOG}: tick skipped");
                count_missed(&conn, &keys, kind, 1).await;
                continue;
            }
            _ => {}
        }
        // All of the tick's jobs in one round trip (tasks, records and the wake).
        let jobs = jobs_for_tick(&settings, kind, tick);
        let pushed = match enqueuer.push_all(&jobs).await {
            Ok(outcomes) => {
                let duplicates = outcomes
                    .iter()
                    .filter(|o| **o == PushOutcome::Duplicate)
                    .count();
                if duplicates > 0 {
                    metrics::counter!(m::DUPLICATE_PUSHES_TOTAL, "kind" => kind.as_str())
                        .increment(duplicates as u64);
                }
                true
            }
            Err(e) => {
                tracing::warn!(%kind, tick, jobs = jobs.len(), error = %e, "could not enqueue the tick's jobs");
                false
            }
        };
        // Redis came back between the accounting and the push (a Sentinel failover, a
        // restart): the tick got its job, so it must not be counted as missed later.
        if pushed
            && !accounted
            && let Err(e) = account_tick(&conn, &keys, kind, &schedule, tick).await
        {
            tracing::warn!(%kind, tick, error = %e, "missed-tick accounting failed");
        }
    }
}

/// FX runs every 10 minutes; a replica that starts with no fresh FX rate in the cache (first
/// start, or after a long outage) enqueues one now instead of leaving every premium blocked
/// until the next fire time. Its id is the schedule's last fire time, so replicas starting
/// together make one job.
async fn fetch_fx_at_start(
    settings: &Settings,
    enqueuer: &Enqueuer,
    conn: &RedisConn,
    schedule: &cron::Schedule,
) {
    let cache = cache::Cache::new(conn.clone(), settings);
    let now = Utc::now();
    match cache.fx_all().await {
        Ok(rates) if domain::selection::pick_fx(&settings.fx_policy(), &rates, now).is_ok() => {
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read cached FX at start");
            return;
        }
        Ok(_) => {}
    }
    // The last fire time at or before now: the first fire after (now − one period).
    let period = schedule
        .upcoming(Utc)
        .take(2)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1] - w[0])
        .next()
        .unwrap_or_else(|| chrono::Duration::minutes(10));
    let tick = schedule
        .after(&(now - period))
        .next()
        .filter(|t| *t <= now)
        .unwrap_or(now)
        .timestamp();
    let job = Job::for_tick(JobKind::FetchFx, None, tick);
    match enqueuer.push(&job).await {
        Ok(PushOutcome::New) => tracing::info!(job = %job.id, "no fresh FX rate: fetching one now"),
        Ok(PushOutcome::Duplicate) => {}
        Err(e) => tracing::warn!(error = %e, "could not enqueue the start-up FX job"),
    }
}

/// Compare-and-set of the last produced tick, counting the missed ones
/// (`lua/advance_cron.lua`). Returns -1 when another replica moved it meanwhile.
static ADVANCE_CRON: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/advance_cron.lua")));

/// Fire times of `schedule` strictly between `last` and `tick` (capped).
pub fn missed_between(schedule: &cron::Schedule, last: i64, tick: i64) -> u64 {
    let Some(from) = Utc.timestamp_opt(last, 0).single() else {
        return 0;
    };
    let to: DateTime<Utc> = Utc.timestamp_opt(tick, 0).single().unwrap_or(from);
    schedule
        .after(&from)
        .take_while(|t| *t < to)
        .take(1_000_000)
        .count() as u64
}

async fn account_tick(
    conn: &RedisConn,
    keys: &Keys,
    kind: JobKind,
    schedule: &cron::Schedule,
    tick: i64,
) -> Result<(), redis::RedisError> {
    let mut conn = conn.clone();
    for _ in 0..5 {
        let last: Option<i64> = conn.get(keys.cron_last(kind)).await?;
        if let Some(last) = last
            && last >= tick
        {
            return Ok(());
        }
        let missed = last.map(|l| missed_between(schedule, l, tick)).unwrap_or(0);
        let r: i64 = ADVANCE_CRON
            .key(keys.cron_last(kind))
            .key(keys.counters())
            .arg(tick)
            .arg(last.map(|l| l.to_string()).unwrap_or_default())
            .arg(missed)
            .arg(format!("missed_ticks:{kind}"))
            .invoke_async(&mut conn)
            .await?;
        if r >= 0 {
            if r > 0 {
                tracing::warn!(%kind, tick, missed = r, "ticks were missed (no replica produced them)");
                metrics::counter!(m::MISSED_TICKS_TOTAL, "kind" => kind.as_str())
                    .increment(r as u64);
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn count_missed(conn: &RedisConn, keys: &Keys, kind: JobKind, n: i64) {
    metrics::counter!(m::MISSED_TICKS_TOTAL, "kind" => kind.as_str()).increment(n as u64);
    let _: Result<(), _> = conn
        .clone()
        .hincr(keys.counters(), format!("missed_ticks:{kind}"), n)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_ticks_are_the_fire_times_inside_the_gap() {
        let every_second = cron::Schedule::from_str("*/1 * * * * *").unwrap();
        assert_eq!(missed_between(&every_second, 100, 101), 0);
        assert_eq!(missed_between(&every_second, 100, 105), 4);
        let ten_minutes = cron::Schedule::from_str("0 */10 * * * *").unwrap();
        assert_eq!(
            missed_between(&ten_minutes, 1_763_800_200, 1_763_800_800),
            0
        );
        assert_eq!(
            missed_between(&ten_minutes, 1_763_800_200, 1_763_802_000),
            2
        );
    }

    #[test]
    fn one_ticker_job_per_enabled_venue() {
        let s = Settings::default();
        let jobs = jobs_for_tick(&s, JobKind::FetchTicker, 1);
        assert_eq!(jobs.len(), 5);
        assert_eq!(jobs[0].id, "fetch-ticker:bithumb:1");
        assert_eq!(jobs_for_tick(&s, JobKind::FetchFx, 7)[0].id, "fetch-fx:7");
    }

    #[test]
    fn history_upkeep_runs_hourly_and_rollups_every_minute_with_one_id_per_tick() {
        let s = Settings::default();
        let at = |kind| {
            schedule_of(&s, kind)
                .after(&Utc.timestamp_opt(1_800_000_000, 0).unwrap())
                .take(2)
                .map(|t| t.timestamp())
                .collect::<Vec<_>>()
        };
        let hourly = at(JobKind::MaintainHistory);
        assert_eq!(hourly[1] - hourly[0], 3_600);
        let minutely = at(JobKind::RollupHistory);
        assert_eq!(minutely[1] - minutely[0], 60);
        assert_eq!(minutely[0] % 60, 5, "5 s past the minute");
        let jobs = jobs_for_tick(&s, JobKind::MaintainHistory, 1_800_000_420);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].id, "maintain-history:1800000420");
        assert_eq!(
            jobs_for_tick(&s, JobKind::RollupHistory, 1_800_000_065)[0].id,
            "rollup-history:1800000065"
        );
    }
}
