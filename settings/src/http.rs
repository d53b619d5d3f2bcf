//! The HTTP client of venues and FX sources (`[http]`): timeout and user agent.

use serde::{Deserialize, Serialize};

use crate::error::{SettingsError, invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    /// Per request, connect included.
    pub timeout_ms: u64,
    pub user_agent: String,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            timeout_ms: 2_000,
            user_agent: concat!("premium-spread/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

impl Http {
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if self.timeout_ms == 0 {
            return invalid("http.timeout_ms must be positive");
        }
        Ok(())
    }
}
