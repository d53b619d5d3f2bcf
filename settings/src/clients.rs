//! What the clients of the outside are built with, computed from the settings: the HTTP client
//! of a venue or FX source, the venues' options and rate limits, the Redis Sentinels.

use std::time::Duration;

use domain::Venue;
use venues::{ClientConfig, VenueOptions};

use crate::{Settings, redis};

impl Settings {
    pub fn http_timeout(&self) -> Duration {
        Duration::from_millis(self.http.timeout_ms)
    }

    /// Client settings for a venue or FX source key.
    pub fn client_config(&self, key: &str) -> ClientConfig {
        ClientConfig {
            base_url: self.urls.get(key).cloned().unwrap_or_default(),
            timeout: self.http_timeout(),
            user_agent: self.http.user_agent.clone(),
        }
    }

    pub fn venue_options(&self) -> VenueOptions {
        VenueOptions {
            binance_price: self.binance_price,
            bithumb_api: self.bithumb_api,
        }
    }

    /// Requests per second allowed on `venue` across all replicas.
    pub fn rate_limit(&self, venue: Venue) -> u32 {
        self.rate_limits.get(&venue).copied().unwrap_or(5)
    }

    /// The Sentinel addresses as (host, port), or which entry is not `host:port`.
    pub fn redis_sentinel_addrs(&self) -> Result<Vec<(String, u16)>, String> {
        redis::sentinel_addrs(&self.redis_sentinels)
    }
}
