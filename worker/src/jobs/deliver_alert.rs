//! `deliver-alert(rule, coin, seq)`: sends one firing to its rule's target, once per attempt,
//! the same message every attempt.
//!
//! - **Webhook**: a JSON POST signed the Standard Webhooks way: `webhook-id` (the job id, the
//!   same on every retry, so receivers deduplicate), `webhook-timestamp` (this attempt, Unix
//!   seconds), `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with
//!   the base64-decoded part of the rule's `whsec_` secret. No redirects are followed.
//! - **Telegram**: `POST {alerts.telegram_url}/bot<token>/sendMessage`. A token Telegram refuses
//!   (401, 404) is a permanent error that says so, never showing the token.
//! - **Outcomes**: 2xx delivered; 429, 408 and 5xx, timeouts and connection failures are retried
//!   by the runner with the kind's durable backoff (`retry.deliver_alert`, `Retry-After` a
//!   floor); 410 Gone disables the rule; any other 4xx is permanent. Each attempt's outcome is
//!   written to `alert_firings` (best effort) and counted in `premium_alert_deliveries_total`.
//!
//! - **Once per delivery**: the record's fence guards the record, not the message, so a run
//!   re-started elsewhere after a false orphan (its worker stalled past the heartbeat window,
//!   then resumed) would send it a second time. Before sending, a run claims the delivery's send
//!   key `{p}:alert-send:{job id}` with a lease longer than a send plus the orphan window
//!   (`lua/claim_alert_send.lua`); after a send it marks the key `sent` (24 h), after a refusal
//!   it releases its lease (`lua/settle_alert_send.lua`); after a timeout (perhaps delivered)
//!   the lease runs out on its own. A run that finds `sent` ends done without sending; one that
//!   finds another run's live lease is retried when the lease runs out.
//!
//! Every attempt has the `alerts.timeout_ms` deadline (5 s); error messages never carry a URL
//! (a webhook URL or the Bot API path may hold a secret).

use std::{sync::LazyLock, time::Duration};

use base64::Engine;
use chrono::Utc;
use domain::{ErrorClass, Firing};
use hmac::{Hmac, Mac};
use queue::{Job, metrics_names as m};
use redis::Script;
use serde_json::json;
use sha2::Sha256;
use store::{AlertTarget, FiringRow};

use super::context::{Ctx, JobError, JobResult};
use crate::alerts::parse_job_id;

/// Claims a delivery's send for one run (`lua/claim_alert_send.lua`).
static CLAIM_SEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../lua/claim_alert_send.lua")));

/// Marks a delivery sent, or releases the run's claim (`lua/settle_alert_send.lua`).
static SETTLE_SEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("../lua/settle_alert_send.lua")));

/// How long a delivery is remembered as sent: far longer than any re-run of its job can come
/// (the janitor deletes a finished task after `retention.job_records_secs`).
const SENT_KEEP: Duration = Duration::from_secs(24 * 3600);

/// The key that says whether delivery `job_id` was sent, or which run is sending it.
pub fn send_key(ctx: &Ctx, job_id: &str) -> String {
    format!("{}:alert-send:{job_id}", ctx.keys.prefix())
}

/// A run's claim lasts longer than its send can (`alerts.timeout_ms`) plus twice the window
/// after which a silent worker's task is re-run elsewhere, so a stalled run that resumes and
/// finishes its send still holds it.
fn send_lease(ctx: &Ctx) -> Duration {
    let w = &ctx.settings.worker;
    let orphan_ms = w.heartbeat_ms * u64::from(w.missed_heartbeats);
    Duration::from_millis(ctx.settings.alerts.timeout_ms + 2 * orphan_ms + 1_000)
}

/// What the send key said when this run asked for it.
enum Claim {
    Claimed,
    AlreadySent,
    /// Another run is sending it; its lease runs out after this.
    Leased(Duration),
}

async fn claim_send(ctx: &Ctx, job: &Job, token: &str) -> Result<Claim, redis::RedisError> {
    let (what, left_ms): (String, u64) = CLAIM_SEND
        .key(send_key(ctx, &job.id))
        .arg(token)
        .arg(send_lease(ctx).as_millis() as u64)
        .invoke_async(&mut ctx.conn.clone())
        .await?;
    Ok(match what.as_str() {
        "sent" => Claim::AlreadySent,
        "leased" => Claim::Leased(Duration::from_millis(left_ms)),
        _ => Claim::Claimed,
    })
}

/// Marks the delivery sent, or releases this run's claim on it.
async fn settle_send(ctx: &Ctx, job: &Job, token: &str, sent: bool) {
    let r: Result<i64, _> = SETTLE_SEND
        .key(send_key(ctx, &job.id))
        .arg(token)
        .arg(if sent { "sent" } else { "failed" })
        .arg(SENT_KEEP.as_millis() as u64)
        .invoke_async(&mut ctx.conn.clone())
        .await;
    if let Err(e) = r {
        tracing::warn!(job = %job.id, sent, error = %e, "could not settle the alert's send claim");
    }
}

/// Why one delivery attempt failed.
#[derive(Debug)]
struct Undelivered {
    message: String,
    class: ErrorClass,
    retryable: bool,
    retry_after: Option<Duration>,
    /// 410 Gone: the receiver wants no more of this rule.
    gone: bool,
    /// The request may have reached the receiver (a timeout, a connection lost mid-request):
    /// the run's send claim is kept until its lease runs out instead of released.
    maybe_sent: bool,
}

impl Undelivered {
    fn permanent(class: ErrorClass, message: String) -> Self {
        Undelivered {
            message,
            class,
            retryable: false,
            retry_after: None,
            gone: false,
            maybe_sent: false,
        }
    }
}

/// The Standard Webhooks signature of `body`: `v1,<base64 HMAC-SHA256(key, "id.ts.body")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The key bytes of a `whsec_<base64>` secret.
fn whsec_key(secret: &[u8]) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(secret).ok()?;
    base64::engine::general_purpose::STANDARD
        .decode(s.strip_prefix("whsec_")?)
        .ok()
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A transport failure, without the URL reqwest would put in its message.
fn transport(what: &str, e: reqwest::Error) -> Undelivered {
    let class = if e.is_timeout() {
        ErrorClass::Timeout
    } else {
        ErrorClass::Connect
    };
    Undelivered {
        maybe_sent: !e.is_connect(),
        message: format!("{what}: {}", e.without_url()),
        class,
        retryable: true,
        retry_after: None,
        gone: false,
    }
}

/// 429, 408 and 5xx are worth another attempt; 410 is gone; the rest of 4xx is permanent.
fn by_status(
    what: &str,
    status: reqwest::StatusCode,
    ra: Option<Duration>,
    detail: &str,
) -> Undelivered {
    let code = status.as_u16();
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    let message = format!("{what} answered HTTP {code}{detail}");
    let (class, retryable) = match code {
        429 => (ErrorClass::RateLimited, true),
        408 => (ErrorClass::Timeout, true),
        500..=599 => (ErrorClass::Server, true),
        _ => (ErrorClass::Client, false),
    };
    Undelivered {
        message,
        class,
        retryable,
        retry_after: ra,
        gone: code == 410,
        maybe_sent: false,
    }
}

async fn send_webhook(
    ctx: &Ctx,
    job: &Job,
    url: &str,
    sealed: &[u8],
    body: &serde_json::Value,
) -> Result<(), Undelivered> {
    let sealer = ctx.alert_secrets.as_ref().ok_or_else(|| {
        Undelivered::permanent(
            ErrorClass::Client,
            "no alerts.secret_key on this worker: the webhook secret cannot be opened".into(),
        )
    })?;
    let secret = sealer
        .open(sealed)
        .map_err(|e| Undelivered::permanent(ErrorClass::Client, e.to_string()))?;
    let key = whsec_key(&secret).ok_or_else(|| {
        Undelivered::permanent(
            ErrorClass::Client,
            "stored webhook secret is not whsec_<base64>".into(),
        )
    })?;
    let body = serde_json::to_vec(body).expect("JSON serializes");
    let ts = Utc::now().timestamp();
    let resp = ctx
        .alert_http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &job.id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sign(&key, &job.id, ts, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| transport("webhook", e))?;
    if resp.status().is_success() {
        return Ok(());
    }
    let ra = retry_after(&resp);
    Err(by_status("webhook", resp.status(), ra, ""))
}

async fn send_telegram(ctx: &Ctx, chat_id: &str, text: &str) -> Result<(), Undelivered> {
    let token = ctx
        .settings
        .alerts
        .telegram_bot_token
        .as_ref()
        .ok_or_else(|| {
            Undelivered::permanent(
                ErrorClass::Client,
                "no Telegram bot token on this worker (alerts.telegram_bot_token_file)".into(),
            )
        })?;
    let url = format!(
        "{}/bot{}/sendMessage",
        ctx.settings.alerts.telegram_url.trim_end_matches('/'),
        token.expose()
    );
    let resp = ctx
        .alert_http
        .post(url)
        .json(&json!({"chat_id": chat_id, "text": text, "disable_web_page_preview": true}))
        .send()
        .await
        .map_err(|e| transport("Telegram", e))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let ra = retry_after(&resp);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let description = body["description"].as_str().unwrap_or_default();
    let ra = ra.or_else(|| {
        body["parameters"]["retry_after"]
            .as_u64()
            .map(Duration::from_secs)
    });
    if matches!(status.as_u16(), 401 | 404) {
        return Err(Undelivered::permanent(
            ErrorClass::Client,
            format!(
                "Telegram refused the bot token (HTTP {}{}): check alerts.telegram_bot_token",
                status.as_u16(),
                if description.is_empty() {
                    String::new()
                } else {
                    format!(": {description}")
                }
            ),
        ));
    }
    let mut e = by_status("Telegram", status, ra, description);
    // Telegram answers 410 for nothing documented; never disable a rule on its say-so.
    e.gone = false;
    Err(e)
}

fn outcome_label(e: Option<&Undelivered>, last_attempt: bool) -> &'static str {
    match e {
        None => "delivered",
        Some(e) if !e.retryable => "failed",
        Some(_) if last_attempt => "dead",
        Some(_) => "retrying",
    }
}

pub async fn run(ctx: &Ctx, job: &Job) -> JobResult {
    let (rule_id, coin, _seq) = parse_job_id(&job.id).ok_or_else(|| {
        JobError::Permanent(format!("`{}` is not a deliver-alert job id", job.id))
    })?;
    let firing: Option<String> = redis::cmd("HGET")
        .arg(ctx.keys.alert_firings(rule_id))
        .arg(&job.id)
        .query_async(&mut ctx.conn.clone())
        .await?;
    let Some(firing) = firing else {
        return Err(JobError::Permanent(format!(
            "firing of alert {rule_id} ({coin}) is gone: the rule was deleted or the firing expired"
        )));
    };
    let firing: Firing = serde_json::from_str(&firing)
        .map_err(|e| JobError::Permanent(format!("stored firing does not parse: {e}")))?;
    let rule = ctx
        .alert_rules
        .get(&ctx.conn, rule_id)
        .await
        .map_err(|e| JobError::Delivery {
            message: format!("alert rule {rule_id}: {e}"),
            class: ErrorClass::Server,
            retryable: true,
            retry_after: None,
        })?
        .ok_or_else(|| JobError::Permanent(format!("alert rule {rule_id} was deleted")))?;
    if let Some(reason) = &rule.disabled_reason {
        return Err(JobError::Permanent(format!(
            "alert rule {rule_id} is disabled: {reason}"
        )));
    }
    let lang = rule.language.unwrap_or(ctx.settings.alerts.language);
    let public_url = ctx.settings.public_url.as_deref();
    let text = firing.text(lang, public_url);
    let token = ulid::Ulid::generate().to_string();
    match claim_send(ctx, job, &token).await? {
        Claim::Claimed => {}
        Claim::AlreadySent => {
            tracing::info!(job = %job.id, attempt = job.attempt, "alert already sent by an earlier run; not sending again");
            return Ok(format!(
                "alert {rule_id} {coin} already sent by an earlier run"
            ));
        }
        Claim::Leased(left) => {
            return Err(JobError::Delivery {
                message: format!(
                    "another run is sending this alert (its claim runs out in {} ms); retried then",
                    left.as_millis()
                ),
                class: ErrorClass::Timeout,
                retryable: true,
                retry_after: Some(left.max(Duration::from_secs(1))),
            });
        }
    }
    let (target, sent) = match &rule.target {
        AlertTarget::Webhook { url, secret } => {
            let body = json!({
                "type": "premium.alert",
                "timestamp": firing.at,
                "data": {
                    "rule_id": rule_id,
                    "coin": firing.coin,
                    "pair": firing.pair.to_string(),
                    "metric": firing.metric,
                    "op": firing.op,
                    "value": firing.value,
                    "threshold": firing.threshold,
                    "inputs": {
                        "korea_krw": firing.korea_krw,
                        "korea_price_source": firing.korea_price_source,
                        "foreign_usd": firing.foreign_usd,
                        "usd_krw": firing.usd_krw,
                        "fx_source": firing.fx_source,
                        "usdt_krw": firing.usdt_krw,
                    },
                    "at": firing.at,
                    "tick": firing.tick,
                    "suspect": firing.suspect,
                    "link": public_url.map(|u| firing.link(u)),
                    "language": lang,
                    "text": text,
                },
            });
            ("webhook", send_webhook(ctx, job, url, secret, &body).await)
        }
        AlertTarget::Telegram { chat_id } => ("telegram", send_telegram(ctx, chat_id, &text).await),
    };
    match &sent {
        Ok(()) => settle_send(ctx, job, &token, true).await,
        Err(e) if !e.maybe_sent => settle_send(ctx, job, &token, false).await,
        // Perhaps delivered: a retry waits for the claim to run out rather than risk a second
        // message at once (at least once, not twice in a row).
        Err(_) => {}
    }
    let last_attempt = job.attempt >= queue::enqueue::max_attempts(&ctx.settings, job);
    let outcome = outcome_label(sent.as_ref().err(), last_attempt);
    metrics::counter!(m::ALERT_DELIVERIES_TOTAL, "target" => target, "outcome" => outcome)
        .increment(1);
    let now = Utc::now();
    let row = FiringRow {
        job_id: job.id.clone(),
        rule_id,
        seq: _seq as i64,
        coin: firing.coin.to_string(),
        value: firing.value,
        fired_at: firing.at,
        state: outcome.to_string(),
        attempts: job.attempt as i32,
        last_error: sent.as_ref().err().map(|e| e.message.clone()),
        delivered_at: sent.is_ok().then_some(now),
        updated_at: now,
    };
    if let Err(e) =
        tokio::time::timeout(Duration::from_secs(1), ctx.store.record_alert_firing(&row))
            .await
            .unwrap_or_else(|_| Err(store::StoreError::Invalid("timed out".into())))
    {
        tracing::warn!(job = %job.id, error = %e, "could not record the alert delivery");
    }
    match sent {
        Ok(()) => {
            if outcome == "delivered" && job.attempt > 1 {
                tracing::info!(job = %job.id, attempt = job.attempt, "alert delivered after retries");
            }
            Ok(format!("alert {rule_id} {coin} delivered by {target}"))
        }
        Err(e) => {
            if e.gone {
                let reason = format!("the webhook answered 410 Gone at {now}");
                if let Err(err) = ctx.store.disable_alert_rule(rule_id, &reason).await {
                    tracing::warn!(rule = rule_id, error = %err, "could not disable the alert rule");
                }
                let _: Result<i64, _> = redis::cmd("INCR")
                    .arg(ctx.keys.alerts_version())
                    .query_async(&mut ctx.conn.clone())
                    .await;
                tracing::warn!(
                    rule = rule_id,
                    "webhook answered 410 Gone: alert rule disabled"
                );
            }
            Err(JobError::Delivery {
                message: e.message,
                class: e.class,
                retryable: e.retryable,
                retry_after: e.retry_after,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        let key = whsec_key(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn statuses_map_to_retry_decisions() {
        let s = |c| reqwest::StatusCode::from_u16(c).unwrap();
        assert!(by_status("webhook", s(503), None, "").retryable);
        assert!(by_status("webhook", s(429), None, "").retryable);
        assert!(!by_status("webhook", s(400), None, "").retryable);
        let gone = by_status("webhook", s(410), None, "");
        assert!(gone.gone && !gone.retryable);
        assert_eq!(
            outcome_label(Some(&by_status("w", s(503), None, "")), true),
            "dead"
        );
    }
}
