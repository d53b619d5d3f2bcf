//! Liveness, readiness and Prometheus metrics.

use std::fmt::Write as _;

use chrono::Utc;
use domain::JobKind;
use domain::selection::pick_fx;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    payload::{Json, PlainText},
};

use crate::{
    deadline::{Service, io},
    jobs_snapshot::{JobsSnapshot, KindSnapshot, jobs_snapshot},
    routes::tags::ApiTags,
    state::AppState,
};

/// `fetch-fx` is ready when it succeeded within this long, or a source's rate is still within
/// that source's own freshness limit.
const FX_STALE_MS: i64 = 15 * 60 * 1000;
const MARKETS_STALE_MS: i64 = 2 * 3600 * 1000;

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Live {
    pub status: String,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Check {
    /// `redis`, `postgres`, or `job:<kind>`.
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<Check>,
}

#[derive(ApiResponse)]
pub enum LiveResponse {
    /// The process answers.
    #[oai(status = 200)]
    Ok(Json<Live>),
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Redis and PostgreSQL answer and every job kind succeeded recently.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// At least one check failed; `checks` says which.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

#[derive(ApiResponse)]
pub enum MetricsResponse {
    /// Prometheus text exposition format.
    #[oai(
        status = 200,
        content_type = "text/plain; version=0.0.4; charset=utf-8"
    )]
    Ok(PlainText<String>),
}

fn check(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

/// How long a kind may go without a success before the API is not ready, milliseconds.
fn staleness_limit_ms(state: &AppState, kind: JobKind) -> i64 {
    match kind {
        JobKind::FetchTicker | JobKind::ComputePremium => state.settings.freshness.ticker_ms as i64,
        JobKind::FetchFx => FX_STALE_MS,
        // Hourly; readiness looks at the registry itself (see `markets_check`).
        JobKind::RefreshMarkets => MARKETS_STALE_MS,
        // Not scheduled: runs only when an alert fires (never checked, see `job_checks`).
        JobKind::DeliverAlert => i64::MAX,
        // History upkeep does not gate readiness (see `job_checks`).
        JobKind::MaintainHistory | JobKind::RollupHistory => i64::MAX,
    }
}

async fn job_checks(state: &AppState, now_ms: i64, checks: &mut Vec<Check>) {
    let last: Result<std::collections::HashMap<String, i64>, _> = io(
        Service::Redis,
        redis::cmd("HGETALL")
            .arg(state.keys.last_success())
            .query_async(&mut state.conn.clone()),
    )
    .await;
    let last = match last {
        Ok(l) => l,
        Err(e) => {
            for kind in JobKind::ALL.into_iter().filter(|k| k.gates_readiness()) {
                checks.push(check(
                    format!("job:{kind}"),
                    false,
                    e.body().message.clone(),
                ));
            }
            return;
        }
    };
    for kind in JobKind::ALL.into_iter().filter(|k| k.gates_readiness()) {
        let limit = staleness_limit_ms(state, kind);
        let name = format!("job:{kind}");
        let age = last.get(kind.as_str()).map(|ms| (now_ms - ms).max(0));
        let c = match age {
            Some(a) if a <= limit => check(
                name,
                true,
                format!("last success {a} ms ago (limit {limit} ms)"),
            ),
            _ if kind == JobKind::FetchFx => fx_check(state, name, age, limit).await,
            _ if kind == JobKind::RefreshMarkets => markets_check(state, name).await,
            Some(a) => check(
                name,
                false,
                format!("last success {a} ms ago, over the {limit} ms limit"),
            ),
            None => check(name, false, "never succeeded"),
        };
        checks.push(c);
    }
}

/// Every replica refreshes the registry on start and `refresh-markets` hourly: ready while a
/// registry is in force, whatever the job's last success (a failed refresh keeps the last good
/// list, which is still usable).
async fn markets_check(state: &AppState, name: String) -> Check {
    match io(Service::Redis, state.markets.current()).await {
        Ok(Some(m)) => {
            let tracked: usize = m.universe.values().map(Vec::len).sum();
            check(
                name,
                true,
                format!(
                    "registry v{} in force, {tracked} (coin, pair) tracked",
                    m.version
                ),
            )
        }
        Ok(None) => check(name, false, "no market registry yet"),
        Err(e) => check(name, false, e.body().message.clone()),
    }
}

/// `fetch-fx` runs every few minutes and a daily source stays usable for a day: it is ready
/// while a rate within its own source's freshness limit is cached.
async fn fx_check(state: &AppState, name: String, age: Option<i64>, limit: i64) -> Check {
    let since = match age {
        Some(a) => format!("last success {a} ms ago (over {limit} ms)"),
        None => "never succeeded".to_string(),
    };
    match io(Service::Redis, state.cache.fx_all()).await {
        Ok(rates) => match pick_fx(&state.settings.fx_policy(), &rates, Utc::now()) {
            Ok(r) => check(
                name,
                true,
                format!(
                    "{since}, but the {} rate is within its freshness limit",
                    r.source
                ),
            ),
            Err(why) => check(name, false, format!("{since}; no fresh rate: {why}")),
        },
        Err(e) => check(name, false, e.body().message.clone()),
    }
}

/// Prometheus text for the job system as read from Redis (cluster-wide, unlike the process's
/// own recorder).
fn render_snapshot(out: &mut String, snap: &JobsSnapshot) {
    let mut family = |name: &str, ty: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {ty}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let per_kind = |f: &dyn Fn(&KindSnapshot) -> Option<String>| {
        snap.kinds
            .iter()
            .filter_map(|k| f(k).map(|v| (format!("{{kind=\"{}\"}}", k.kind), v)))
            .collect::<Vec<_>>()
    };
    family(
        "premium_cluster_queue_depth",
        "gauge",
        "Tasks in a job kind's apalis queue (scheduled set, active list), read from Redis.",
        snap.kinds
            .iter()
            .flat_map(|k| {
                [("scheduled", k.scheduled), ("active", k.active)].map(|(q, n)| {
                    (
                        format!("{{kind=\"{}\",queue=\"{q}\"}}", k.kind),
                        n.to_string(),
                    )
                })
            })
            .collect(),
    );
    family(
        "premium_cluster_jobs",
        "gauge",
        "Job records per kind and state within the retention window, read from Redis.",
        snap.kinds
            .iter()
            .flat_map(|k| {
                k.counts.iter().map(|(s, n)| {
                    (
                        format!("{{kind=\"{}\",state=\"{s}\"}}", k.kind),
                        n.to_string(),
                    )
                })
            })
            .collect(),
    );
    family(
        "premium_cluster_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful run per job kind, read from Redis.",
        per_kind(&|k| {
            k.last_success_ms
                .map(|ms| format!("{:.3}", ms as f64 / 1000.0))
        }),
    );
    family(
        "premium_cluster_missed_ticks_total",
        "counter",
        "Cron ticks never produced per job kind, read from Redis.",
        per_kind(&|k| Some(k.missed_ticks.to_string())),
    );
    family(
        "premium_cluster_history_rows_lost_total",
        "counter",
        "History rows that could not be written to PostgreSQL, per table, read from Redis.",
        snap.history_rows_lost
            .iter()
            .map(|(t, n)| (format!("{{table=\"{t}\"}}"), n.to_string()))
            .collect(),
    );
    for (name, help, rows) in [
        (
            "premium_cluster_history_rows_spooled_total",
            "History rows spooled in Redis while PostgreSQL could not take them, per table, read from Redis.",
            &snap.history_rows_spooled,
        ),
        (
            "premium_cluster_history_rows_replayed_total",
            "Spooled history rows written to PostgreSQL once it answered again, per table, read from Redis.",
            &snap.history_rows_replayed,
        ),
    ] {
        family(
            name,
            "counter",
            help,
            rows.iter()
                .map(|(t, n)| (format!("{{table=\"{t}\"}}"), n.to_string()))
                .collect(),
        );
    }
    family(
        "premium_cluster_history_spool_entries",
        "gauge",
        "History batches waiting in the Redis spool for PostgreSQL.",
        vec![(String::new(), snap.history_spool_entries.to_string())],
    );
    family(
        "premium_cluster_workers_alive",
        "gauge",
        "Worker processes with a heartbeat in the last 5 s.",
        vec![(String::new(), snap.workers_alive.to_string())],
    );
}

pub struct OpsApi;

#[OpenApi(tag = "ApiTags::Ops")]
impl OpsApi {
    /// Liveness
    ///
    /// 200 whenever the process answers; checks nothing else.
    #[oai(path = "/health/live", method = "get", operation_id = "health_live")]
    async fn live(&self) -> LiveResponse {
        LiveResponse::Ok(Json(Live {
            status: "ok".into(),
        }))
    }

    /// Readiness
    ///
    /// 200 when Redis and PostgreSQL answer and every job kind succeeded within its staleness
    /// limit (fetch-ticker and compute-premium: `freshness.ticker_ms`, 5 s by default; fetch-fx:
    /// 15 min, or a cached rate still within its source's freshness limit); 503 otherwise.
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        let mut checks = Vec::new();
        let mut conn = state.conn.clone();
        let ping_cmd = redis::cmd("PING");
        let ping = io(Service::Redis, ping_cmd.query_async::<String>(&mut conn));
        let (redis, pg) = tokio::join!(ping, io(Service::Postgres, state.store.ping()));
        checks.push(match redis {
            Ok(_) => check("redis", true, "PING answered"),
            Err(e) => check("redis", false, e.body().message.clone()),
        });
        checks.push(match pg {
            Ok(()) => check("postgres", true, "SELECT 1 answered"),
            Err(e) => check("postgres", false, e.body().message.clone()),
        });
        job_checks(&state, Utc::now().timestamp_millis(), &mut checks).await;
        let ready = checks.iter().all(|c| c.ok);
        let body = Json(Readiness { ready, checks });
        if ready {
            ReadyResponse::Ready(body)
        } else {
            ReadyResponse::NotReady(body)
        }
    }

    /// Prometheus metrics
    ///
    /// This process's own metrics, then the job system read from Redis at scrape time
    /// (`premium_cluster_*`: queue depth, job counts, last success, missed ticks, lost history
    /// rows, workers alive) and `premium_cluster_redis_up`.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, state: Data<&AppState>) -> MetricsResponse {
        let mut out = state
            .metrics
            .as_ref()
            .map(|h| h.render())
            .unwrap_or_default();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        let up = match jobs_snapshot(&state, Utc::now().timestamp_millis()).await {
            Ok(snap) => {
                render_snapshot(&mut out, &snap);
                1
            }
            Err(_) => 0,
        };
        let _ = writeln!(
            out,
            "# HELP premium_cluster_redis_up Whether Redis answered this scrape.\n# TYPE premium_cluster_redis_up gauge\npremium_cluster_redis_up {up}"
        );
        // A setting, so it is there even while Redis is not: the rule HistorySpoolFilling
        // compares the spool with it.
        let _ = writeln!(
            out,
            "# HELP premium_history_spool_capacity History batches the Redis spool holds before it drops the newest (retention.spool_max_entries; 0: no spool).\n# TYPE premium_history_spool_capacity gauge\npremium_history_spool_capacity {}",
            state.settings.retention.spool_max_entries
        );
        MetricsResponse::Ok(PlainText(out))
    }
}
