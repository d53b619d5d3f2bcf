//! premium-spread's settings: one typed struct with working local defaults, overridden by a
//! TOML config file and then by environment variables, validated once at start.
//!
//! Precedence (last wins): [`Settings::default`] → config file (`--config`, `PREMIUM_CONFIG`)
//! → `PREMIUM_*` variables (nested keys joined by `__`, e.g. `PREMIUM_HTTP__TIMEOUT_MS=1500`)
//! → the plain service variables `REDIS_URL`, `DATABASE_URL`, `API_ADDR`, `ADMIN_TOKEN`,
//! `ADMIN_TOKEN_FILE`, `REDIS_PREFIX`, `LOG_FORMAT` → `PREMIUM_SIM_URL`, which points every venue
//! and FX source at `<url>/<prefix>`. Lists (coins, venues, pairs, FX sources) accept a TOML
//! array or a comma-separated string. docs/configuration.md lists every key.
//!
//! Layout (no module imports one that imports it back):
//! - this file: [`Settings`] (every key, and the whole default) and the re-exported types;
//! - one module per section, holding its type or keys, their defaults and their checks:
//!   `[schedule]` `schedule.rs`, `[freshness]` `freshness.rs`, `[cache]` `cache.rs`, `[http]`
//!   `http.rs`, `[retry]` `retry.rs`, `[worker]` `worker.rs`, `[api]` and `api_addr` `api.rs`,
//!   `[retention]` `retention.rs`, `[mapping]` `mapping.rs`, `[depth]` `depth.rs`, `[alerts]`
//!   and `public_url` `alerts.rs`; top-level keys: `redis_*` `redis.rs`, `database_url`
//!   `postgres.rs`, `coins` and `coins_exclude` `coins.rs`, `venues`, `pairs` and `usdt_venue`
//!   `pairs.rs`, `rate_limits` `rate_limits.rs`, `fees` `fees.rs`, `fx_sources` `fx.rs`, `urls`
//!   `urls.rs`, `log_format` `log.rs`;
//! - leaves the sections share: `error.rs` ([`SettingsError`]), `secret.rs` ([`Secret`],
//!   [`redact_url`], secrets read from files), `list.rs` (the list format), `check.rs` (URL and
//!   address shapes);
//! - over a whole `Settings`: `load.rs` (the layers above), `validate.rs` (every section's
//!   checks in one fixed order), and what is computed from the settings: `universe.rs` (venues
//!   per region, default pair, coins per pair), `premium.rs` (FX policy, fee fractions),
//!   `clients.rs` (HTTP client settings, venue options, rate limits, Sentinel addresses).

mod alerts;
mod api;
mod cache;
mod check;
mod clients;
mod coins;
mod depth;
mod error;
mod fees;
mod freshness;
mod fx;
mod http;
mod list;
mod load;
mod log;
mod mapping;
mod pairs;
mod postgres;
mod premium;
mod rate_limits;
mod redis;
mod retention;
mod retry;
mod schedule;
mod secret;
mod universe;
mod urls;
mod validate;
mod worker;

use std::collections::BTreeMap;

use domain::{Coin, CoinSelection, Decimal, FxSource, Venue, VenuePair};
use serde::{Deserialize, Serialize};
use venues::{BinancePrice, BithumbApi};

pub use crate::{
    alerts::AlertSettings,
    api::ApiSettings,
    cache::CacheTtl,
    depth::DepthSettings,
    error::SettingsError,
    freshness::Freshness,
    http::Http,
    log::LogFormat,
    mapping::Mapping,
    retention::Retention,
    retry::{Retries, RetryPolicy},
    schedule::{Cadence, Schedules},
    secret::{Secret, redact_url},
    urls::URL_KEYS,
    worker::WorkerSettings,
};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub redis_url: String,
    /// Redis Sentinel addresses (`host:port`, comma-separated in `REDIS_SENTINELS`). When set,
    /// the master named `redis_master_name` is resolved through them and `redis_url` is unused.
    #[serde(with = "crate::list")]
    pub redis_sentinels: Vec<String>,
    pub redis_master_name: Option<String>,
    /// Password of the Redis master and replicas (Sentinel mode; plain mode puts it in
    /// `redis_url`), or the file holding it.
    pub redis_password: Option<Secret>,
    pub redis_password_file: Option<String>,
    /// Password of the Sentinels themselves (their `requirepass`), or the file holding it.
    pub redis_sentinel_password: Option<Secret>,
    pub redis_sentinel_password_file: Option<String>,
    pub database_url: String,
    pub api_addr: String,
    pub admin_token: Option<Secret>,
    pub admin_token_file: Option<String>,
    /// Prefix of every Redis key this deployment writes (queues, cache, records).
    pub redis_prefix: String,
    pub log_format: LogFormat,
    /// `"auto"` (default): every coin listed and trading on a configured Korean venue and on a
    /// configured foreign venue. Or an explicit list (`"BTC,ETH"` or a TOML list), checked
    /// against the venues' market lists at start.
    pub coins: CoinSelection,
    /// Coins never tracked, whatever `coins` says.
    #[serde(with = "crate::list")]
    pub coins_exclude: Vec<Coin>,
    /// How venue instruments map to coins, and the sanity gate.
    pub mapping: Mapping,
    /// Taker fee per venue in basis points (`fees.upbit = "5"` is 0.05 %), for the net entry and
    /// exit premiums.
    pub fees: BTreeMap<Venue, Decimal>,
    /// Order-book depth for premiums at a size.
    pub depth: DepthSettings,
    #[serde(with = "crate::list")]
    pub venues: Vec<Venue>,
    /// (Korean venue, foreign venue) pairs; the first is the default pair of the API.
    #[serde(with = "crate::list")]
    pub pairs: Vec<VenuePair>,
    /// Korean venue whose KRW-USDT price is the "crypto FX" of the tether premium.
    pub usdt_venue: Venue,
    /// USD/KRW sources in fallback order; the first fresh one is used.
    #[serde(with = "crate::list")]
    pub fx_sources: Vec<FxSource>,
    pub binance_price: BinancePrice,
    pub bithumb_api: BithumbApi,
    pub schedule: Schedules,
    pub freshness: Freshness,
    pub cache: CacheTtl,
    pub http: Http,
    /// Base URL per venue and FX source (keys: [`URL_KEYS`]).
    pub urls: BTreeMap<String, String>,
    /// When set, every venue and FX source is `<sim_url>/<key>`.
    pub sim_url: Option<String>,
    /// Requests per second allowed per venue, shared by all replicas.
    pub rate_limits: BTreeMap<Venue, u32>,
    pub retry: Retries,
    pub worker: WorkerSettings,
    pub api: ApiSettings,
    pub retention: Retention,
    /// Premium alerts: encryption key, Telegram bot, language.
    pub alerts: AlertSettings,
    /// Where people reach this deployment (`https://kimp.example.com`); alert messages link to
    /// the coin's row of the dashboard there. None: no link.
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            redis_url: redis::DEFAULT_URL.into(),
            redis_sentinels: Vec::new(),
            redis_master_name: None,
            redis_password: None,
            redis_password_file: None,
            redis_sentinel_password: None,
            redis_sentinel_password_file: None,
            database_url: postgres::DEFAULT_URL.into(),
            api_addr: api::DEFAULT_ADDR.into(),
            admin_token: None,
            admin_token_file: None,
            redis_prefix: redis::DEFAULT_PREFIX.into(),
            log_format: LogFormat::Text,
            coins: CoinSelection::Auto,
            coins_exclude: Vec::new(),
            mapping: Mapping::default(),
            fees: fees::defaults(),
            depth: DepthSettings::default(),
            venues: Venue::ALL.to_vec(),
            pairs: pairs::default_pairs(),
            usdt_venue: Venue::Upbit,
            fx_sources: FxSource::ALL.to_vec(),
            binance_price: BinancePrice::Mark,
            bithumb_api: BithumbApi::V1,
            schedule: Schedules::default(),
            freshness: Freshness::default(),
            cache: CacheTtl::default(),
            http: Http::default(),
            urls: urls::defaults(),
            sim_url: None,
            rate_limits: rate_limits::defaults(),
            retry: Retries::default(),
            worker: WorkerSettings::default(),
            api: ApiSettings::default(),
            retention: Retention::default(),
            alerts: AlertSettings::default(),
            public_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{FxSource, Venue};

    use crate::{Settings, URL_KEYS};

    #[test]
    fn default_urls_are_every_venue_and_fx_source_at_its_production_url() {
        let urls = Settings::default().urls;
        assert_eq!(urls.len(), URL_KEYS.len());
        for v in Venue::ALL {
            assert_eq!(urls[v.as_str()], venues::default_base_url(v), "{v}");
        }
        for f in FxSource::ALL {
            assert_eq!(urls[f.as_str()], venues::default_fx_base_url(f), "{f}");
        }
    }
}
