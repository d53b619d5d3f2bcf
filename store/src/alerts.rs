//! Premium alert rules and their firings (`alert_rules`, `alert_firings`), and [`SecretBox`],
//! which seals webhook secrets before they reach the database.
//!
//! A webhook secret is stored as `nonce ‖ ChaCha20-Poly1305(key, nonce, secret)` with the
//! deployment's `alerts.secret_key`: a dump of the table alone does not reveal it, and a
//! tampered value fails to open instead of signing with a wrong key.

use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use chrono::{DateTime, Utc};
use domain::{AlertRule, Coin, CoinFilter, Language, Metric, Op, Venue, VenuePair};
use rust_decimal::Decimal;
use sqlx::{Row, postgres::PgRow};

use crate::{error::StoreError, handle::Store};

/// Binds a sealed value to what it is, so a ciphertext of another kind cannot be swapped in.
const AAD: &[u8] = b"premium-spread/webhook-secret/v1";
const NONCE_LEN: usize = 12;

/// Seals and opens webhook secrets with the deployment's key. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox {
            cipher: ChaCha20Poly1305::new(key.into()),
        }
    }

    /// A fresh random nonce, then the ciphertext with its tag.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: AAD,
                },
            )
            .expect("ChaCha20-Poly1305 encrypts any message under 256 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    /// The plain secret, or an error when the value was sealed under another key or altered.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() <= NONCE_LEN {
            return Err(StoreError::Invalid("sealed secret is too short".into()));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: AAD })
            .map_err(|_| {
                StoreError::Invalid(
                    "webhook secret does not open with alerts.secret_key (another key, or altered)"
                        .into(),
                )
            })
    }
}

/// Where a rule's firings go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertTarget {
    /// `secret` is sealed ([`SecretBox::seal`] of the `whsec_…` string).
    Webhook { url: String, secret: Vec<u8> },
    /// The chat of the deployment's Telegram bot.
    Telegram { chat_id: String },
}

/// A rule to insert (the id is assigned by the database).
#[derive(Debug, Clone)]
pub struct NewAlertRule {
    pub rule: AlertRule,
    pub language: Option<Language>,
    pub target: AlertTarget,
}

/// A stored rule.
#[derive(Debug, Clone)]
pub struct StoredAlertRule {
    pub rule: AlertRule,
    pub language: Option<Language>,
    pub target: AlertTarget,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What one firing's delivery has done so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringRow {
    /// The `deliver-alert` job id (also the webhook-id).
    pub job_id: String,
    pub rule_id: i64,
    pub seq: i64,
    pub coin: String,
    pub value: Decimal,
    pub fired_at: DateTime<Utc>,
    /// delivering, retrying, delivered, failed, dead
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("alert rule {what}: {e}"))
}

fn rule_from_row(r: &PgRow) -> Result<StoredAlertRule, StoreError> {
    let coin: String = r.try_get("coin")?;
    let coin = if coin == "*" {
        CoinFilter::Any
    } else {
        CoinFilter::One(Coin::parse(&coin).map_err(|e| bad("coin", e))?)
    };
    let venue = |col: &str| -> Result<Venue, StoreError> {
        r.try_get::<String, _>(col)?
            .parse::<Venue>()
            .map_err(|e| bad(col, e))
    };
    let pair = VenuePair::new(venue("korea_venue")?, venue("foreign_venue")?)
        .map_err(|e| bad("pair", e))?;
    let metric: Metric = r
        .try_get::<String, _>("metric")?
        .parse()
        .map_err(|e| bad("metric", e))?;
    let op: Op = r
        .try_get::<String, _>("op")?
        .parse()
        .map_err(|e| bad("op", e))?;
    let language = r
        .try_get::<Option<String>, _>("language")?
        .map(|l| l.parse::<Language>().map_err(|e| bad("language", e)))
        .transpose()?;
    let url: Option<String> = r.try_get("webhook_url")?;
    let secret: Option<Vec<u8>> = r.try_get("webhook_secret")?;
    let chat: Option<String> = r.try_get("telegram_chat")?;
    let target = match (url, secret, chat) {
        (Some(url), Some(secret), None) => AlertTarget::Webhook { url, secret },
        (None, None, Some(chat_id)) => AlertTarget::Telegram { chat_id },
        _ => return Err(bad("target", "neither one webhook nor one Telegram chat")),
    };
    Ok(StoredAlertRule {
        rule: AlertRule {
            id: r.try_get("id")?,
            coin,
            pair,
            metric,
            op,
            threshold: r.try_get("threshold")?,
            hysteresis: r.try_get("hysteresis")?,
            cooldown_secs: r.try_get::<i32, _>("cooldown_secs")?.max(0) as u32,
            allow_suspect: r.try_get("allow_suspect")?,
        },
        language,
        target,
        disabled_at: r.try_get("disabled_at")?,
        disabled_reason: r.try_get("disabled_reason")?,
        created_at: r.try_get("created_at")?,
    })
}

fn firing_from_row(r: &PgRow) -> Result<FiringRow, StoreError> {
    Ok(FiringRow {
        job_id: r.try_get("job_id")?,
        rule_id: r.try_get("rule_id")?,
        seq: r.try_get("seq")?,
        coin: r.try_get("coin")?,
        value: r.try_get("value")?,
        fired_at: r.try_get("fired_at")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        delivered_at: r.try_get("delivered_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn insert_alert_rule(
        &self,
        new: &NewAlertRule,
    ) -> Result<StoredAlertRule, StoreError> {
        let r = &new.rule;
        let (url, secret, chat) = match &new.target {
            AlertTarget::Webhook { url, secret } => (Some(url.as_str()), Some(secret), None),
            AlertTarget::Telegram { chat_id } => (None, None, Some(chat_id.as_str())),
        };
        let row = sqlx::query(
            "INSERT INTO alert_rules (coin, korea_venue, foreign_venue, metric, op, threshold,
                 hysteresis, cooldown_secs, language, webhook_url, webhook_secret, telegram_chat,
                 allow_suspect)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *",
        )
        .bind(r.coin.to_string())
        .bind(r.pair.korea.as_str())
        .bind(r.pair.foreign.as_str())
        .bind(r.metric.as_str())
        .bind(r.op.as_str())
        .bind(r.threshold)
        .bind(r.hysteresis)
        .bind(r.cooldown_secs.min(i32::MAX as u32) as i32)
        .bind(new.language.map(Language::as_str))
        .bind(url)
        .bind(secret)
        .bind(chat)
        .bind(r.allow_suspect)
        .fetch_one(&self.pool)
        .await?;
        rule_from_row(&row)
    }

    /// Every rule, oldest first (the workers' in-process rule set).
    pub async fn alert_rules(&self) -> Result<Vec<StoredAlertRule>, StoreError> {
        sqlx::query("SELECT * FROM alert_rules ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rule_from_row)
            .collect()
    }

    pub async fn alert_rule(&self, id: i64) -> Result<Option<StoredAlertRule>, StoreError> {
        sqlx::query("SELECT * FROM alert_rules WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rule_from_row)
            .transpose()
    }

    /// Deletes a rule and its firings; false when there was none.
    pub async fn delete_alert_rule(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM alert_rules WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stops a rule from firing (its receiver said 410 Gone), keeping it visible with the reason.
    pub async fn disable_alert_rule(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alert_rules SET disabled_at = now(), disabled_reason = $2
             WHERE id = $1 AND disabled_at IS NULL",
        )
        .bind(id)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records what a delivery attempt did (insert on the first, update on the next ones).
    pub async fn record_alert_firing(&self, f: &FiringRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_firings (job_id, rule_id, seq, coin, value, fired_at, state,
                 attempts, last_error, delivered_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (job_id) DO UPDATE SET state = EXCLUDED.state,
                 attempts = GREATEST(alert_firings.attempts, EXCLUDED.attempts),
                 last_error = EXCLUDED.last_error, delivered_at = EXCLUDED.delivered_at,
                 updated_at = EXCLUDED.updated_at",
        )
        .bind(&f.job_id)
        .bind(f.rule_id)
        .bind(f.seq)
        .bind(&f.coin)
        .bind(f.value)
        .bind(f.fired_at)
        .bind(&f.state)
        .bind(f.attempts)
        .bind(&f.last_error)
        .bind(f.delivered_at)
        .bind(f.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A rule's newest firings first.
    pub async fn alert_firings(
        &self,
        rule_id: i64,
        limit: i64,
    ) -> Result<Vec<FiringRow>, StoreError> {
        sqlx::query(
            "SELECT * FROM alert_firings WHERE rule_id = $1 ORDER BY fired_at DESC, seq DESC
             LIMIT $2",
        )
        .bind(rule_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(firing_from_row)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_only_and_never_shows_in_clear() {
        let b = SecretBox::new(&[7u8; 32]);
        let secret = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sealed = b.seal(secret);
        assert!(!sealed.windows(6).any(|w| w == b"whsec_"));
        assert_ne!(b.seal(secret), sealed, "a fresh nonce every time");
        assert_eq!(b.open(&sealed).unwrap(), secret);
        assert!(SecretBox::new(&[8u8; 32]).open(&sealed).is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(b.open(&altered).is_err());
        assert_eq!(format!("{b:?}"), "SecretBox(***)");
    }
}
