//! Premium alert rules (admin): create, list, read with their last firings, delete. Rules live
//! in PostgreSQL; every change bumps `{p}:alerts:version`, so the workers reload their rule set.
//! Webhook secrets are write-only: sealed with `alerts.secret_key` before they are stored, never
//! returned, never logged.

use base64::Engine;
use chrono::Utc;
use domain::{
    AlertRule, Coin, CoinFilter, DEFAULT_ALERT_COOLDOWN_SECS, DEFAULT_ALERT_HYSTERESIS, Decimal,
    Language, Metric, Op, VenuePair,
};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use store::{AlertTarget, FiringRow, NewAlertRule, StoredAlertRule};

use crate::{
    auth::AdminAuth,
    deadline::{Service, io},
    error::{ApiError, ErrorCode},
    routes::tags::ApiTags,
    state::AppState,
    tracked::{markets_now, untracked},
    wire::{Dec, DecInput, Time},
};

/// Longest cooldown accepted: one week.
const MAX_COOLDOWN_SECS: u32 = 7 * 24 * 3600;
/// Standard Webhooks keys are 24 to 64 bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
/// Firings shown with one rule.
const FIRINGS_SHOWN: i64 = 20;

/// A webhook target: a JSON POST signed the Standard Webhooks way.
#[derive(Debug, Object)]
pub struct WebhookTargetRequest {
    /// `https://…` (or `http://`), at most 2,048 characters.
    pub url: String,
    /// `whsec_` followed by the base64 of a 24- to 64-byte key (Standard Webhooks). Write-only:
    /// never returned.
    pub secret: String,
}

/// A Telegram target: a message from the deployment's bot (`alerts.telegram_bot_token`).
#[derive(Debug, Object)]
pub struct TelegramTargetRequest {
    /// The chat id (`123456789`, `-1001234567890`) or a public channel (`@name`).
    pub chat_id: String,
}

/// Exactly one of `webhook` and `telegram`.
#[derive(Debug, Object)]
pub struct AlertTargetRequest {
    pub webhook: Option<WebhookTargetRequest>,
    pub telegram: Option<TelegramTargetRequest>,
}

/// A new alert rule. Decimals are strings (`"3.0"`).
#[derive(Debug, Object)]
pub struct AlertRequest {
    /// A coin (`BTC`), or `*` for every tracked coin of the pair.
    pub coin: String,
    /// A configured pair, `korea-foreign` (`upbit-binance`).
    pub pair: String,
    /// `rate`, `usdt_rate`, `entry_rate` or `exit_rate`.
    pub metric: String,
    /// `above` (fires at value ≥ threshold) or `below` (value ≤ threshold).
    pub op: String,
    /// Percent, e.g. `"3.0"`.
    pub threshold: DecInput,
    /// Percentage points the value must come back past the threshold before the rule fires
    /// again (≥ 0, < 100); default `"0.2"`.
    pub hysteresis: Option<DecInput>,
    /// Seconds between two firings of the rule at least (0 to 604800); default 300.
    pub cooldown: Option<u32>,
    /// Language of the messages, `en` or `ko`; default the server's `alerts.language`.
    pub language: Option<String>,
    /// Whether a premium flagged `suspect` by the sanity gate (far from its pair's median) may
    /// fire the rule; its message then carries the flag and the reason. Default true.
    pub allow_suspect: Option<bool>,
    pub target: AlertTargetRequest,
}

/// A webhook target as shown: the URL without its query or credentials, never the secret.
#[derive(Debug, Object)]
pub struct WebhookTargetView {
    /// Scheme, host and path; a query string is shown as `?…`.
    pub url: String,
    /// Always true: the secret is stored (encrypted) and never shown.
    pub secret_set: bool,
}

#[derive(Debug, Object)]
pub struct TelegramTargetView {
    pub chat_id: String,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AlertTargetView {
    pub webhook: Option<WebhookTargetView>,
    pub telegram: Option<TelegramTargetView>,
}

/// One firing of a rule and what its delivery did.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FiringView {
    /// The `deliver-alert` job id, also the `webhook-id` header of every attempt.
    pub job_id: String,
    pub coin: String,
    pub value: Dec,
    pub fired_at: Time,
    /// `delivering`, `retrying`, `delivered`, `failed` (permanent error) or `dead` (every
    /// attempt failed).
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub delivered_at: Option<Time>,
    pub updated_at: Time,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AlertView {
    pub id: i64,
    /// A coin or `*`.
    pub coin: String,
    pub pair: String,
    pub metric: String,
    pub op: String,
    pub threshold: Dec,
    pub hysteresis: Dec,
    /// Seconds.
    pub cooldown: u32,
    /// `en` or `ko`; absent: the server's default.
    pub language: Option<String>,
    /// Whether premiums flagged `suspect` may fire the rule.
    pub allow_suspect: bool,
    pub target: AlertTargetView,
    /// Set when the receiver answered 410 Gone: the rule no longer fires.
    pub disabled_at: Option<Time>,
    pub disabled_reason: Option<String>,
    pub created_at: Time,
    /// With `GET /api/v1/alerts/{id}`: the last 20 firings, newest first.
    pub firings: Option<Vec<FiringView>>,
}

#[derive(Debug, Object)]
pub struct AlertsView {
    /// Oldest first.
    pub alerts: Vec<AlertView>,
}

#[derive(ApiResponse)]
pub enum AlertCreated {
    #[oai(status = 201)]
    Created(Json<AlertView>),
}

#[derive(ApiResponse)]
pub enum AlertResponse {
    #[oai(status = 200)]
    Ok(Json<AlertView>),
}

#[derive(ApiResponse)]
pub enum AlertsResponse {
    #[oai(status = 200)]
    Ok(Json<AlertsView>),
}

#[derive(ApiResponse)]
pub enum AlertDeleted {
    /// Deleted, with its firings; pending deliveries of it fail.
    #[oai(status = 204)]
    NoContent,
}

fn bad(field: &str, msg: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{field}: {msg}"))
}

/// `https://user:pw@host/path?token=…` → `https://host/path?…`.
fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (path, query) = match path.split_once(['?', '#']) {
        Some((p, _)) => (p, "?…"),
        None => (path, ""),
    };
    format!("{scheme}://{host}{path}{query}")
}

fn check_url(raw: &str) -> Result<String, ApiError> {
    let field = "target.webhook.url";
    let url = raw.trim();
    if url.len() > 2_048 {
        return Err(bad(field, "longer than 2048 characters"));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(bad(field, "must start with https:// or http://"));
    }
    match url.parse::<poem::http::Uri>() {
        Ok(u) if u.host().is_some_and(|h| !h.is_empty()) => Ok(url.to_string()),
        _ => Err(bad(
            field,
            format!("`{}` is not a valid URL with a host", shown_url(url)),
        )),
    }
}

/// Checks a Standard Webhooks secret without ever echoing it.
fn check_secret(raw: &str) -> Result<(), ApiError> {
    let field = "target.webhook.secret";
    let Some(b64) = raw.strip_prefix("whsec_") else {
        return Err(bad(
            field,
            "must be `whsec_` followed by the base64 of the key (Standard Webhooks)",
        ));
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad(field, "the part after `whsec_` is not valid base64"))?;
    if !SECRET_BYTES.contains(&key.len()) {
        return Err(bad(
            field,
            format!(
                "the key is {} bytes; Standard Webhooks keys are {} to {} bytes",
                key.len(),
                SECRET_BYTES.start(),
                SECRET_BYTES.end()
            ),
        ));
    }
    Ok(())
}

fn check_chat(raw: &str) -> Result<String, ApiError> {
    let chat = raw.trim();
    let numeric = chat
        .strip_prefix('-')
        .unwrap_or(chat)
        .bytes()
        .all(|b| b.is_ascii_digit())
        && !chat.trim_start_matches('-').is_empty()
        && chat.len() <= 20;
    let channel = chat.strip_prefix('@').is_some_and(|n| {
        (5..=32).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if numeric || channel {
        Ok(chat.to_string())
    } else {
        Err(bad(
            "target.telegram.chat_id",
            format!("`{chat}` is neither a chat id (123456789, -100…) nor a channel (@name)"),
        ))
    }
}

/// A rule on one coin must watch a coin its pair tracks: a typo or a coin the pair does not
/// compute would otherwise be stored and never fire. 400 naming `coin`, with why (not listed
/// on a side, not trading, a collision, excluded, or the closest known names).
async fn check_tracked(state: &AppState, coin: &Coin, pair: VenuePair) -> Result<(), ApiError> {
    let markets = markets_now(&state.markets).await?;
    if markets.tracks(coin, pair) {
        return Ok(());
    }
    let why = if markets.tracked().contains(coin) {
        let on: Vec<String> = markets
            .universe
            .iter()
            .filter(|(_, coins)| coins.contains(coin))
            .map(|(p, _)| p.to_string())
            .collect();
        format!("tracked on {} only", on.join(", "))
    } else {
        untracked(&markets, &state.settings, coin)
    };
    Err(bad(
        "coin",
        format!("`{coin}` is not tracked on {pair}: {why}"),
    ))
}

/// Parses and validates a new rule; every error names its field. The secret is sealed here.
fn validate(state: &AppState, req: &AlertRequest) -> Result<NewAlertRule, ApiError> {
    let s = &state.settings;
    let coin = match req.coin.trim() {
        "*" => CoinFilter::Any,
        raw => CoinFilter::One(Coin::parse(raw).map_err(|e| bad("coin", e))?),
    };
    let pair: VenuePair = req.pair.trim().parse().map_err(|e| bad("pair", e))?;
    if !s.pairs.contains(&pair) {
        let configured: Vec<String> = s.pairs.iter().map(ToString::to_string).collect();
        return Err(bad(
            "pair",
            format!(
                "`{pair}` is not configured; configured pairs: {}",
                configured.join(", ")
            ),
        ));
    }
    let metric: Metric = req.metric.trim().parse().map_err(|e| bad("metric", e))?;
    let op: Op = req.op.trim().parse().map_err(|e| bad("op", e))?;
    let threshold = req
        .threshold
        .parse("threshold")
        .map_err(ApiError::bad_request)?;
    if threshold.abs() >= Decimal::from(1_000) {
        return Err(bad(
            "threshold",
            format!("{threshold} is not a premium in percent (|threshold| < 1000)"),
        ));
    }
    let hysteresis = match &req.hysteresis {
        None => DEFAULT_ALERT_HYSTERESIS,
        Some(h) => h.parse("hysteresis").map_err(ApiError::bad_request)?,
    };
    if hysteresis < Decimal::ZERO || hysteresis >= Decimal::from(100) {
        return Err(bad(
            "hysteresis",
            format!("must be ≥ 0 and < 100 percentage points, got {hysteresis}"),
        ));
    }
    let cooldown = req.cooldown.unwrap_or(DEFAULT_ALERT_COOLDOWN_SECS);
    if cooldown > MAX_COOLDOWN_SECS {
        return Err(bad(
            "cooldown",
            format!("must be at most {MAX_COOLDOWN_SECS} seconds (a week), got {cooldown}"),
        ));
    }
    let language = req
        .language
        .as_deref()
        .map(|l| l.trim().parse::<Language>().map_err(|e| bad("language", e)))
        .transpose()?;
    let target = match (&req.target.webhook, &req.target.telegram) {
        (Some(w), None) => {
            let url = check_url(&w.url)?;
            check_secret(&w.secret)?;
            let sealer = state.secrets.as_ref().ok_or_else(|| {
                bad(
                    "target.webhook",
                    "this server has no alerts.secret_key to encrypt webhook secrets with; \
                     set PREMIUM_ALERTS__SECRET_KEY_FILE (or use a Telegram target)",
                )
            })?;
            AlertTarget::Webhook {
                url,
                secret: sealer.seal(w.secret.as_bytes()),
            }
        }
        (None, Some(t)) => {
            let chat_id = check_chat(&t.chat_id)?;
            if s.alerts.telegram_bot_token.is_none() {
                return Err(bad(
                    "target.telegram",
                    "this server has no Telegram bot token (alerts.telegram_bot_token_file)",
                ));
            }
            AlertTarget::Telegram { chat_id }
        }
        _ => {
            return Err(bad(
                "target",
                "give exactly one of `webhook` ({url, secret}) and `telegram` ({chat_id})",
            ));
        }
    };
    Ok(NewAlertRule {
        rule: AlertRule {
            id: 0,
            coin,
            pair,
            metric,
            op,
            threshold,
            hysteresis,
            cooldown_secs: cooldown,
            allow_suspect: req.allow_suspect.unwrap_or(true),
        },
        language,
        target,
    })
}

fn firing_view(f: FiringRow) -> FiringView {
    FiringView {
        job_id: f.job_id,
        coin: f.coin,
        value: f.value.into(),
        fired_at: f.fired_at.into(),
        state: f.state,
        attempts: f.attempts,
        last_error: f.last_error,
        delivered_at: f.delivered_at.map(Time::from),
        updated_at: f.updated_at.into(),
    }
}

fn alert_view(r: StoredAlertRule, firings: Option<Vec<FiringRow>>) -> AlertView {
    let target = match r.target {
        AlertTarget::Webhook { url, .. } => AlertTargetView {
            webhook: Some(WebhookTargetView {
                url: shown_url(&url),
                secret_set: true,
            }),
            telegram: None,
        },
        AlertTarget::Telegram { chat_id } => AlertTargetView {
            webhook: None,
            telegram: Some(TelegramTargetView { chat_id }),
        },
    };
    AlertView {
        id: r.rule.id,
        coin: r.rule.coin.to_string(),
        pair: r.rule.pair.to_string(),
        metric: r.rule.metric.to_string(),
        op: r.rule.op.to_string(),
        threshold: r.rule.threshold.into(),
        hysteresis: r.rule.hysteresis.into(),
        cooldown: r.rule.cooldown_secs,
        language: r.language.map(|l| l.as_str().to_string()),
        allow_suspect: r.rule.allow_suspect,
        target,
        disabled_at: r.disabled_at.map(Time::from),
        disabled_reason: r.disabled_reason,
        created_at: r.created_at.into(),
        firings: firings.map(|f| f.into_iter().map(firing_view).collect()),
    }
}

fn not_found(id: i64) -> ApiError {
    ApiError::new(ErrorCode::AlertNotFound, format!("alert {id} not found"))
}

/// Tells the workers the rule set changed. A failure is logged, not fatal: workers also reload
/// their rule set every minute.
async fn bump_version(state: &AppState, deleted: Option<i64>) {
    let mut pipe = redis::pipe();
    pipe.incr(state.keys.alerts_version(), 1).ignore();
    if let Some(id) = deleted {
        pipe.del(state.keys.alert_state(id)).ignore();
        pipe.del(state.keys.alert_firings(id)).ignore();
    }
    if let Err(e) = io(Service::Redis, pipe.exec_async(&mut state.conn.clone())).await {
        tracing::warn!(error = %e.body().message, "alert rules changed but the version could not be bumped; workers reload within a minute");
    }
}

pub struct AlertsApi;

#[OpenApi(tag = "ApiTags::Alerts")]
impl AlertsApi {
    /// Create an alert rule (admin)
    ///
    /// Fires when the premium metric of the coin (or every coin, `*`) on the pair crosses the
    /// threshold: once, then again only after it came back past threshold ∓ hysteresis and the
    /// cooldown has passed. A new rule starts armed: a value already past the threshold fires
    /// at the next tick. Every invalid field is a 400 naming it, a coin the pair does not track
    /// included (503 while no market registry is in force). The webhook secret is never
    /// returned.
    #[oai(
        path = "/api/v1/alerts",
        method = "post",
        operation_id = "create_alert"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        _admin: AdminAuth,
        body: Json<AlertRequest>,
    ) -> Result<AlertCreated, ApiError> {
        let new = validate(&state, &body.0)?;
        if let CoinFilter::One(coin) = &new.rule.coin {
            check_tracked(&state, coin, new.rule.pair).await?;
        }
        let saved = io(Service::Postgres, state.store.insert_alert_rule(&new)).await?;
        bump_version(&state, None).await;
        tracing::info!(id = saved.rule.id, coin = %saved.rule.coin, pair = %saved.rule.pair, "alert rule created");
        Ok(AlertCreated::Created(Json(alert_view(saved, Some(vec![])))))
    }

    /// List alert rules (admin)
    #[oai(path = "/api/v1/alerts", method = "get", operation_id = "list_alerts")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _admin: AdminAuth,
    ) -> Result<AlertsResponse, ApiError> {
        let rules = io(Service::Postgres, state.store.alert_rules()).await?;
        Ok(AlertsResponse::Ok(Json(AlertsView {
            alerts: rules.into_iter().map(|r| alert_view(r, None)).collect(),
        })))
    }

    /// One alert rule with its last firings and their delivery states (admin)
    #[oai(
        path = "/api/v1/alerts/:id",
        method = "get",
        operation_id = "get_alert"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        _admin: AdminAuth,
        /// Alert rule id.
        id: Path<i64>,
    ) -> Result<AlertResponse, ApiError> {
        let rule = io(Service::Postgres, state.store.alert_rule(id.0))
            .await?
            .ok_or_else(|| not_found(id.0))?;
        let firings = io(
            Service::Postgres,
            state.store.alert_firings(id.0, FIRINGS_SHOWN),
        )
        .await?;
        Ok(AlertResponse::Ok(Json(alert_view(rule, Some(firings)))))
    }

    /// Delete an alert rule (admin)
    ///
    /// Deletes the rule, its firings and its armed state; a delivery still pending for it
    /// fails (permanent).
    #[oai(
        path = "/api/v1/alerts/:id",
        method = "delete",
        operation_id = "delete_alert"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        _admin: AdminAuth,
        /// Alert rule id.
        id: Path<i64>,
    ) -> Result<AlertDeleted, ApiError> {
        if !io(Service::Postgres, state.store.delete_alert_rule(id.0)).await? {
            return Err(not_found(id.0));
        }
        bump_version(&state, Some(id.0)).await;
        tracing::info!(id = id.0, at = %Utc::now(), "alert rule deleted");
        Ok(AlertDeleted::NoContent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_keep_no_credentials_or_query() {
        assert_eq!(
            shown_url("https://u:pw@hooks.example.com/a/b?token=xyz"),
            "https://hooks.example.com/a/b?…"
        );
        assert_eq!(shown_url("http://127.0.0.1:9/h"), "http://127.0.0.1:9/h");
    }

    #[test]
    fn secrets_are_checked_without_being_echoed() {
        let ok = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode([1u8; 32])
        );
        assert!(check_secret(&ok).is_ok());
        for bad in ["whsec_!!!notbase64", "plainsecretvalue", "whsec_AAAA"] {
            let e = check_secret(bad).unwrap_err();
            assert!(e.body().message.starts_with("target.webhook.secret: "));
            assert!(!e.body().message.contains(bad));
        }
    }

    #[test]
    fn chat_ids_are_numbers_or_channels() {
        assert!(check_chat("123456789").is_ok());
        assert!(check_chat("-1001234567890").is_ok());
        assert!(check_chat("@premium_alerts").is_ok());
        assert!(check_chat("-").is_err());
        assert!(check_chat("hello world").is_err());
    }
}
