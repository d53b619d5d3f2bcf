//! Premium alerts (`[alerts]`: the key webhook secrets are encrypted with, the Telegram bot, the
//! language and timeout of deliveries) and `public_url`, the deployment address alert messages
//! link to (a top-level field of `Settings`).

use serde::{Deserialize, Serialize};

use crate::{
    check::is_http_url,
    error::{SettingsError, invalid},
    secret::Secret,
};

/// Premium alerts (`[alerts]`): the key webhook secrets are encrypted with, the Telegram bot,
/// the language of messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Base64 of 32 random bytes (`openssl rand -base64 32`): the ChaCha20-Poly1305 key webhook
    /// secrets are stored under, so a database dump alone does not reveal them. Without it,
    /// webhook rules cannot be created.
    pub secret_key: Option<Secret>,
    /// A file holding `secret_key` (Docker/Kubernetes secrets); used when `secret_key` is unset.
    pub secret_key_file: Option<String>,
    /// The Telegram bot token every Telegram rule sends with (never per rule). Without it,
    /// Telegram rules cannot be created.
    pub telegram_bot_token: Option<Secret>,
    /// A file holding `telegram_bot_token`.
    pub telegram_bot_token_file: Option<String>,
    /// Base URL of the Telegram Bot API (`<url>/bot<token>/sendMessage`); `sim_url` points it
    /// at the simulator's fake Bot API.
    pub telegram_url: String,
    /// Language of messages when a rule gives none: `en` or `ko`.
    pub language: domain::Language,
    /// Per delivery attempt (webhook POST or Telegram call), connect included.
    pub timeout_ms: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            secret_key: None,
            secret_key_file: None,
            telegram_bot_token: None,
            telegram_bot_token_file: None,
            telegram_url: "https://api.telegram.org".into(),
            language: domain::Language::En,
            timeout_ms: 5_000,
        }
    }
}

impl AlertSettings {
    /// The 32-byte key of `secret_key` (validated at start).
    pub fn key(&self) -> Option<[u8; 32]> {
        use base64::Engine;
        let raw = self.secret_key.as_ref()?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw.expose().trim())
            .ok()?;
        bytes.try_into().ok()
    }

    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if self.secret_key.is_some() && self.key().is_none() {
            return invalid(
                "alerts.secret_key must be the base64 of exactly 32 bytes (openssl rand -base64 32)",
            );
        }
        if !is_http_url(&self.telegram_url) {
            return invalid("alerts.telegram_url must start with http:// or https://");
        }
        if self.timeout_ms == 0 {
            return invalid("alerts.timeout_ms must be positive");
        }
        Ok(())
    }
}

pub(crate) fn validate_public_url(public_url: Option<&str>) -> Result<(), SettingsError> {
    if let Some(u) = public_url
        && !is_http_url(u)
    {
        return invalid(format!(
            "public_url `{u}` must start with http:// or https://"
        ));
    }
    Ok(())
}
