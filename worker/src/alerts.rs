//! Premium alerts in the worker: the in-process rule set and the evaluation `compute-premium`
//! runs on the premiums it just computed.
//!
//! - **Rule set.** Every replica keeps the rules in memory and reloads them from PostgreSQL only
//!   when `{p}:alerts:version` changed (the API bumps it on every change) or a minute passed, so
//!   a tick costs one `GET` and coins without rules cost nothing.
//! - **Crossing.** For each premium a rule watches (a `suspect` one only if the rule allows it:
//!   [`domain::AlertRule::considers`]), [`domain::AlertRule::decide`] says `fire`
//!   (at or past the threshold), `rearm` (back past threshold ∓ hysteresis) or `hold`. The
//!   non-`hold` ones of a tick go to Redis in one script ([`EVALUATE_ALERTS`]): per (rule, coin) it
//!   ignores a tick not newer than the last one it saw (a re-run or an overtaken computation),
//!   re-arms, or — armed and out of cooldown — disarms, numbers the crossing, stores what it saw
//!   and adds the job id `deliver-alert:{rule}:{coin}:{seq}` to the outbox, all at once.
//! - **Outbox.** The job is then pushed (`Enqueuer::push`, deduplicated by that id) and taken off
//!   the outbox. A replica that dies between the script and the push leaves the id in the outbox;
//!   the next evaluation on any replica pushes it (a duplicate push is a no-op). So the armed
//!   state changes exactly when a delivery is committed, and N replicas or retried
//!   computations deliver a crossing once.

use std::{
    sync::{Arc, LazyLock},
    time::{Duration, Instant},
};

use domain::{Decision, Firing, JobKind, Premium};
use keyspace::{Keys, RedisConn};
use queue::{Enqueuer, Job, PushOutcome, metrics_names as m};
use redis::Script;
use store::{Store, StoredAlertRule};
use tokio::sync::Mutex;

/// Reload the rule set at least this often, even without a version change (a lost bump).
const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// An outbox entry this old was not pushed by the replica that fired it.
const OUTBOX_GRACE_MS: i64 = 2_000;
/// Firing data is kept this long after a rule's last firing (retries stop well before).
const FIRINGS_TTL_SECS: u64 = 86_400;

/// Per (rule, coin) candidate of a tick: re-arm, or fire when armed and out of cooldown
/// (`lua/evaluate_alerts.lua`, which documents its keys and arguments). Returns the ids of the
/// new firings (each already in the outbox).
static EVALUATE_ALERTS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/evaluate_alerts.lua")));

/// The job id of a firing: `deliver-alert:{rule}:{coin}:{seq}`.
pub fn parse_job_id(id: &str) -> Option<(i64, &str, u64)> {
    let rest = id.strip_prefix("deliver-alert:")?;
    let mut parts = rest.splitn(3, ':');
    let rule = parts.next()?.parse().ok()?;
    let coin = parts.next()?;
    let seq = parts.next()?.parse().ok()?;
    Some((rule, coin, seq))
}

/// The `deliver-alert` job of a firing id.
pub fn delivery_job(id: &str, tick: i64) -> Job {
    Job {
        id: id.to_string(),
        kind: JobKind::DeliverAlert,
        venue: None,
        tick,
        attempt: 1,
        manual: false,
        max_attempts: 0,
    }
}

struct Loaded {
    version: Option<i64>,
    at: Instant,
    rules: Arc<Vec<StoredAlertRule>>,
}

/// The rule set of this process, reloaded when `{p}:alerts:version` changes.
pub struct Rules {
    store: Store,
    keys: Keys,
    loaded: Mutex<Option<Loaded>>,
}

impl Rules {
    pub fn new(store: Store, keys: Keys) -> Self {
        Rules {
            store,
            keys,
            loaded: Mutex::new(None),
        }
    }

    /// The rules in force given the version just read; reloads from PostgreSQL when it
    /// changed. A failed reload keeps the previous set (logged).
    pub async fn current(&self, version: Option<i64>) -> Arc<Vec<StoredAlertRule>> {
        let mut loaded = self.loaded.lock().await;
        if let Some(l) = loaded.as_ref()
            && l.version == version
            && l.at.elapsed() < RELOAD_EVERY
        {
            return l.rules.clone();
        }
        match tokio::time::timeout(Duration::from_secs(1), self.store.alert_rules()).await {
            Ok(Ok(rules)) => {
                let rules = Arc::new(rules);
                *loaded = Some(Loaded {
                    version,
                    at: Instant::now(),
                    rules: rules.clone(),
                });
                rules
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".into(),
                };
                tracing::warn!(error = %why, "could not reload the alert rules; keeping the last set");
                loaded.as_ref().map(|l| l.rules.clone()).unwrap_or_default()
            }
        }
    }

    /// One rule by id: from the set in force, else from PostgreSQL (a rule newer than the set).
    pub async fn get(
        &self,
        conn: &RedisConn,
        id: i64,
    ) -> Result<Option<StoredAlertRule>, store::StoreError> {
        let version: Option<i64> = redis::cmd("GET")
            .arg(self.keys.alerts_version())
            .query_async(&mut conn.clone())
            .await
            .unwrap_or(None);
        if let Some(r) = self.current(version).await.iter().find(|r| r.rule.id == id) {
            return Ok(Some(r.clone()));
        }
        self.store.alert_rule(id).await
    }
}

/// Evaluates every enabled rule against this tick's premiums and queues a `deliver-alert` job
/// per crossing. Returns the number of new firings.
pub async fn evaluate(
    rules: &Rules,
    conn: &RedisConn,
    keys: &Keys,
    enqueuer: &Enqueuer,
    tick: i64,
    premiums: &[Premium],
) -> Result<usize, redis::RedisError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let (version, stale): (Option<i64>, Vec<(String, i64)>) = redis::pipe()
        .get(keys.alerts_version())
        .cmd("ZRANGEBYSCORE")
        .arg(keys.alert_outbox())
        .arg("-inf")
        .arg(now_ms - OUTBOX_GRACE_MS)
        .arg("WITHSCORES")
        .arg("LIMIT")
        .arg(0)
        .arg(500)
        .query_async(&mut conn.clone())
        .await?;
    // Firings a replica committed but did not push (it died in between).
    push_all(
        conn,
        keys,
        enqueuer,
        stale.into_iter().map(|(id, ms)| (id, ms / 1000)),
    )
    .await;
    let set = rules.current(version).await;
    if set.is_empty() {
        return Ok(0);
    }
    let mut inv = EVALUATE_ALERTS.key(keys.alert_outbox());
    inv.arg(tick).arg(now_ms).arg(FIRINGS_TTL_SECS);
    let mut candidates = 0;
    for stored in set.iter().filter(|r| r.disabled_at.is_none()) {
        let rule = &stored.rule;
        for p in premiums.iter().filter(|p| rule.considers(p)) {
            let Some(value) = rule.metric.of(p) else {
                continue;
            };
            let decision = rule.decide(value);
            if decision == Decision::Hold {
                continue;
            }
            let firing = serde_json::to_string(&Firing::of(rule, p, value, tick))
                .expect("a firing serializes");
            inv.key(keys.alert_state(rule.id))
                .key(keys.alert_firings(rule.id))
                .arg(p.inputs.coin.as_str())
                .arg(decision.as_str())
                .arg(u64::from(rule.cooldown_secs) * 1000)
                .arg(format!("deliver-alert:{}:{}", rule.id, p.inputs.coin))
                .arg(firing);
            candidates += 1;
        }
    }
    if candidates == 0 {
        return Ok(0);
    }
    let fired: Vec<String> = inv.invoke_async(&mut conn.clone()).await?;
    if !fired.is_empty() {
        metrics::counter!(m::ALERTS_FIRED_TOTAL).increment(fired.len() as u64);
    }
    for id in &fired {
        tracing::info!(job = %id, "alert fired");
    }
    let n = fired.len();
    push_all(conn, keys, enqueuer, fired.into_iter().map(|id| (id, tick))).await;
    Ok(n)
}

/// How many delivery jobs are pushed at once (1,000 rules firing together should not take
/// 1,000 sequential round trips).
const PUSH_CONCURRENCY: usize = 64;

/// Pushes the delivery jobs of `(id, tick)` firings, [`PUSH_CONCURRENCY`] at a time.
async fn push_all(
    conn: &RedisConn,
    keys: &Keys,
    enqueuer: &Enqueuer,
    firings: impl Iterator<Item = (String, i64)>,
) {
    use futures::StreamExt;
    futures::stream::iter(firings)
        .for_each_concurrent(PUSH_CONCURRENCY, |(id, tick)| async move {
            push(conn, keys, enqueuer, &id, tick).await
        })
        .await;
}

/// Pushes a firing's delivery job (deduplicated by its id) and takes it off the outbox. A failed
/// push leaves it there for the next evaluation.
async fn push(conn: &RedisConn, keys: &Keys, enqueuer: &Enqueuer, id: &str, tick: i64) {
    match enqueuer.push(&delivery_job(id, tick)).await {
        Ok(outcome) => {
            if outcome == PushOutcome::Duplicate {
                tracing::debug!(job = %id, "alert delivery already queued");
            }
            let _: Result<(), _> = redis::cmd("ZREM")
                .arg(keys.alert_outbox())
                .arg(id)
                .query_async(&mut conn.clone())
                .await;
        }
        Err(e) => {
            tracing::warn!(job = %id, error = %e, "could not queue the alert delivery; it stays in the outbox")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_round_trip() {
        assert_eq!(parse_job_id("deliver-alert:12:BTC:3"), Some((12, "BTC", 3)));
        assert_eq!(parse_job_id("deliver-alert:12:BTC"), None);
        assert_eq!(parse_job_id("fetch-fx:1"), None);
        assert_eq!(
            delivery_job("deliver-alert:1:ETH:2", 5).task_id(),
            "deliver-alert:1:ETH:2"
        );
    }
}
