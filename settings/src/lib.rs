//! premium-spread's settings: one typed struct with working local defaults, overridden by a
//! TOML config file and then by environment variables, validated once at start.
//!
//! Precedence (last wins): [`Settings::default`] → config file (`--config`, `PREMIUM_CONFIG`)
//! → `PREMIUM_*` variables (nested keys joined by `__`, e.g. `PREMIUM_HTTP__TIMEOUT_MS=1500`)
//! → the plain service variables `REDIS_URL`, `DATABASE_URL`, `API_ADDR`, `ADMIN_TOKEN`,
//! `ADMIN_TOKEN_FILE`, `REDIS_PREFIX`, `LOG_FORMAT` → `PREMIUM_SIM_URL`, which points every venue
//! and FX source at `<url>/<prefix>`. Lists (coins, venues, pairs, FX sources) accept a TOML
//! array or a comma-separated string. The README's configuration reference lists every key.

use std::{collections::BTreeMap, fmt, path::Path, str::FromStr, time::Duration};

use domain::{
    Coin, CoinSelection, Collision, Decimal, FxSource, MappingRules, Override, Region, Registry,
    Venue, VenuePair,
    venue::{UPSTREAMS, Upstream},
};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use venues::{BinancePrice, BithumbApi, ClientConfig, VenueOptions};

/// Every base-URL key: the five venues and the three FX sources, in the order of
/// [`domain::venue::UPSTREAMS`]. These are also the simulator's path prefixes.
pub const URL_KEYS: [&str; UPSTREAMS.len()] = Upstream::NAMES;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0}")]
    Load(String),
    #[error("invalid settings: {0}")]
    Invalid(String),
}

/// `scheme://user:password@host/…` → `scheme://***@host/…`: a service URL fit for a message or a
/// log line (credentials in `REDIS_URL` / `DATABASE_URL` are secrets too).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// A secret string (admin token, API key): never printed by `Debug`, never serialized back.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; call only where it is compared or sent, never where it is logged.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Cron expressions (6 fields, seconds first, e.g. `*/1 * * * * *`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schedules {
    pub ticker: String,
    pub premium: String,
    pub fx: String,
    /// `refresh-markets`: every venue's market list (listings, delistings, flags).
    pub markets: String,
    /// `maintain-history`: history partitions created ahead and dropped at retention (hourly).
    pub history: String,
    /// `rollup-history`: the closed minutes rolled into the 1-minute and 1-hour tables.
    pub rollup: String,
}

impl Default for Schedules {
    fn default() -> Self {
        Schedules {
            ticker: "*/1 * * * * *".into(),
            premium: "*/1 * * * * *".into(),
            fx: "0 */10 * * * *".into(),
            markets: "0 0 * * * *".into(),
            history: "0 7 * * * *".into(),
            rollup: "5 * * * * *".into(),
        }
    }
}

/// How old an input may be and still reach a premium.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Freshness {
    /// Tickers (venue observation time to computation), milliseconds.
    pub ticker_ms: u64,
    /// Per FX source, seconds: each source has its own cadence (a daily rate is not stale
    /// after 15 minutes).
    pub fx_secs: BTreeMap<FxSource, u64>,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness {
            ticker_ms: 5_000,
            fx_secs: BTreeMap::from([
                (FxSource::Dunamu, 15 * 60),
                (FxSource::Erapi, 26 * 3600),
                (FxSource::Frankfurter, 4 * 24 * 3600),
            ]),
        }
    }
}

impl Freshness {
    pub fn fx_limit(&self, source: FxSource) -> Duration {
        Duration::from_secs(self.fx_secs.get(&source).copied().unwrap_or(15 * 60))
    }
}

/// Time-to-live of the hot cache in Redis (the original design: tickers 5 s, premium 5 s,
/// FX 15 min or the source's own freshness, whichever is longer).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheTtl {
    pub ticker_secs: u64,
    pub premium_secs: u64,
    /// Recent premium history per coin: entries kept (sorted set, capped).
    pub history_len: usize,
}

impl Default for CacheTtl {
    fn default() -> Self {
        CacheTtl {
            ticker_secs: 5,
            premium_secs: 5,
            history_len: 3_600,
        }
    }
}

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

/// Retry policy of one job kind: `delay(n) = min(cap, base × 2^(n−1))`, then full jitter
/// over its upper half (see `queue/src/retry.rs`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: u64,
    pub cap_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retries {
    pub fetch_ticker: RetryPolicy,
    pub fetch_fx: RetryPolicy,
    pub compute_premium: RetryPolicy,
    pub refresh_markets: RetryPolicy,
    pub deliver_alert: RetryPolicy,
    pub maintain_history: RetryPolicy,
    pub rollup_history: RetryPolicy,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            // Inside its 1 s cadence: a ticker older than that is replaced by the next tick.
            fetch_ticker: RetryPolicy {
                max_attempts: 2,
                base_ms: 200,
                cap_ms: 400,
            },
            // ~8 attempts over a few minutes: 1, 2, 4, 8, 16, 32, 60 s (before jitter).
            fetch_fx: RetryPolicy {
                max_attempts: 8,
                base_ms: 1_000,
                cap_ms: 60_000,
            },
            compute_premium: RetryPolicy {
                max_attempts: 2,
                base_ms: 200,
                cap_ms: 400,
            },
            // A failed refresh keeps the last good list in force; retry for a few minutes.
            refresh_markets: RetryPolicy {
                max_attempts: 6,
                base_ms: 2_000,
                cap_ms: 60_000,
            },
            // A receiver down for minutes still gets the alert: 1, 2, 4, … 60 s (before
            // jitter), about six minutes in all.
            deliver_alert: RetryPolicy {
                max_attempts: 12,
                base_ms: 1_000,
                cap_ms: 60_000,
            },
            // Hourly; a failed run is retried for a few minutes, then the next hour's catches up.
            maintain_history: RetryPolicy {
                max_attempts: 5,
                base_ms: 2_000,
                cap_ms: 60_000,
            },
            // Each run rolls the two last closed minutes: a retry within a minute suffices.
            rollup_history: RetryPolicy {
                max_attempts: 4,
                base_ms: 1_000,
                cap_ms: 10_000,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Jobs run at once per queue in one replica.
    pub concurrency: usize,
    /// Idle poll interval of a queue, milliseconds.
    pub poll_interval_ms: u64,
    /// Heartbeat of a worker, milliseconds; a worker silent for
    /// `heartbeat_ms × missed_heartbeats` is dead and its in-flight jobs are re-queued.
    pub heartbeat_ms: u64,
    pub missed_heartbeats: u32,
    /// Longest a single job may run before it is cancelled, milliseconds.
    pub job_timeout_ms: u64,
    /// How long shutdown waits for running jobs, milliseconds.
    pub shutdown_timeout_ms: u64,
    /// A tick job (1 s cadence) not started within this many seconds of its tick is dropped
    /// instead of run late.
    pub max_tick_lag_secs: u64,
    /// Run the cron sources in this replica (default true; false makes a consume-only replica).
    pub cron: bool,
    /// Where this replica serves its own Prometheus metrics (fetch latency and errors per
    /// venue, jobs per kind and state); none by default.
    pub metrics_addr: Option<String>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 8,
            poll_interval_ms: 10,
            heartbeat_ms: 1_000,
            missed_heartbeats: 3,
            job_timeout_ms: 10_000,
            shutdown_timeout_ms: 10_000,
            max_tick_lag_secs: 30,
            cron: true,
            metrics_addr: None,
        }
    }
}

/// The HTTP API process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Premium streams (Server-Sent Events) open at once per API process; one more answers 503.
    pub max_streams: usize,
    /// Updates buffered per API process between its one Redis subscription and its streams; a
    /// stream that falls further behind is ended with a `lagged` event.
    pub stream_buffer: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            max_streams: 2_000,
            stream_buffer: 1_024,
        }
    }
}

/// How long things are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Gone: history is kept in tiers (`raw_hours`, `minute_days`, `hour_days`). Still read so
    /// that a configuration that sets it fails with a clear error instead of an unknown key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_days: Option<u32>,
    /// Raw history (1 s premium rows, their ticks, tickers), hours. Dropped by whole UTC days
    /// (`maintain-history`): a day goes once all of it is older than this.
    pub raw_hours: u32,
    /// 1-minute rollups (and FX rates), days.
    pub minute_days: u32,
    /// 1-hour rollups, days; 0 keeps them forever.
    pub hour_days: u32,
    /// Statement and lock timeout of `maintain-history`'s statements, milliseconds.
    pub maintain_timeout_ms: u64,
    /// Finished job records in Redis, seconds. Longer than any dedup window.
    pub job_records_secs: u64,
    /// A queued, scheduled or running job record untouched this long, whose task is no longer
    /// pending in its queue, is moved to `abandoned`, seconds.
    pub abandon_after_secs: u64,
    /// History batches (one failed insert of one job: a venue's tickers, a tick's premiums, an
    /// FX rate) spooled in Redis while PostgreSQL cannot take them, at most. Beyond it a new
    /// batch is dropped and counted as lost. 0 turns the spool off.
    pub spool_max_entries: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            history_days: None,
            raw_hours: 48,
            minute_days: 90,
            hour_days: 0,
            maintain_timeout_ms: 8_000,
            job_records_secs: 3_600,
            abandon_after_secs: 300,
            // 10 minutes of a 1 s cadence with five venues: 5 ticker batches + 1 premium batch
            // per second.
            spool_max_entries: 3_600,
        }
    }
}

/// How venue instruments map to coins (`[mapping]`), and the sanity gate. The lists default to
/// [`MappingRules::default`]: renames (MATIC → POL), the known Korean ticker collision (Upbit's
/// and Bithumb's TON is Tokamak Network), digit-led coins that are not multipliers (1INCH), the
/// stablecoins that are never premium candidates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    /// A pairing whose premium sits more than this many percentage points from the median
    /// premium of its pair is `suspect`: listed with the reason, never served as a premium.
    pub max_deviation_pct: Decimal,
    /// A venue's base → the coin it is, on every venue (`{ MATIC = "POL" }`).
    pub aliases: BTreeMap<String, String>,
    /// Korean listings that are another coin than the global one of the same ticker, told apart
    /// by the venue's English name.
    pub collisions: Vec<Collision>,
    /// Digit-led bases that are coins, never a multiplier prefix.
    pub not_multipliers: std::collections::BTreeSet<String>,
    pub stablecoins: std::collections::BTreeSet<String>,
    /// Hand fixes: `{ venue = "bybit", symbol = "SHIB1000USDT", coin = "SHIB", multiplier = "1000" }`.
    pub overrides: Vec<Override>,
}

impl Default for Mapping {
    fn default() -> Self {
        let r = MappingRules::default();
        Mapping {
            max_deviation_pct: Decimal::from(20),
            aliases: r.aliases,
            collisions: r.collisions,
            not_multipliers: r.not_multipliers,
            stablecoins: r.stablecoins,
            overrides: r.overrides,
        }
    }
}

impl Mapping {
    pub fn rules(&self) -> MappingRules {
        MappingRules {
            aliases: self.aliases.clone(),
            collisions: self.collisions.clone(),
            not_multipliers: self.not_multipliers.clone(),
            stablecoins: self.stablecoins.clone(),
            overrides: self.overrides.clone(),
        }
    }
}

/// Order-book depth (`[depth]`): the coins whose books are fetched every tick for premiums at a
/// size, and the slippage that bounds the largest size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepthSettings {
    #[serde(deserialize_with = "list", serialize_with = "ser_list")]
    pub coins: Vec<Coin>,
    /// The largest size is the one whose entry rate stays within this many basis points of the
    /// top-of-book entry rate.
    pub slippage_bp: Decimal,
}

impl Default for DepthSettings {
    fn default() -> Self {
        DepthSettings {
            coins: ["BTC", "ETH", "XRP"]
                .iter()
                .map(|c| Coin::parse(c).expect("valid default coin"))
                .collect(),
            slippage_bp: Decimal::new(10, 0),
        }
    }
}

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
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub redis_url: String,
    /// Redis Sentinel addresses (`host:port`, comma-separated in `REDIS_SENTINELS`). When set,
    /// the master named `redis_master_name` is resolved through them and `redis_url` is unused.
    #[serde(deserialize_with = "list", serialize_with = "ser_list")]
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
    #[serde(deserialize_with = "list", serialize_with = "ser_list")]
    pub coins_exclude: Vec<Coin>,
    /// How venue instruments map to coins, and the sanity gate.
    pub mapping: Mapping,
    /// Taker fee per venue in basis points (`fees.upbit = "5"` is 0.05 %), for the net entry and
    /// exit premiums.
    pub fees: BTreeMap<Venue, Decimal>,
    /// Order-book depth for premiums at a size.
    pub depth: DepthSettings,
    #[serde(deserialize_with = "list", serialize_with = "ser_list")]
    pub venues: Vec<Venue>,
    /// (Korean venue, foreign venue) pairs; the first is the default pair of the API.
    #[serde(deserialize_with = "list", serialize_with = "ser_list")]
    pub pairs: Vec<VenuePair>,
    /// Korean venue whose KRW-USDT price is the "crypto FX" of the tether premium.
    pub usdt_venue: Venue,
    /// USD/KRW sources in fallback order; the first fresh one is used.
    #[serde(deserialize_with = "list", serialize_with = "ser_list")]
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
            redis_url: "redis://127.0.0.1:6379/".into(),
            redis_sentinels: Vec::new(),
            redis_master_name: None,
            redis_password: None,
            redis_password_file: None,
            redis_sentinel_password: None,
            redis_sentinel_password_file: None,
            database_url: "postgres://postgres@127.0.0.1:5432/premium_spread".into(),
            api_addr: "127.0.0.1:8080".into(),
            admin_token: None,
            admin_token_file: None,
            redis_prefix: "ps".into(),
            log_format: LogFormat::Text,
            coins: CoinSelection::Auto,
            coins_exclude: Vec::new(),
            mapping: Mapping::default(),
            // Standard taker fees (no discounts, no VIP tier).
            fees: BTreeMap::from([
                (Venue::Upbit, Decimal::new(5, 0)),
                (Venue::Bithumb, Decimal::new(25, 0)),
                (Venue::Binance, Decimal::new(5, 0)),
                (Venue::Bybit, Decimal::new(55, 1)),
                (Venue::Okx, Decimal::new(5, 0)),
            ]),
            depth: DepthSettings::default(),
            venues: Venue::ALL.to_vec(),
            pairs: vec![
                VenuePair::new(Venue::Upbit, Venue::Binance).expect("valid pair"),
                VenuePair::new(Venue::Bithumb, Venue::Binance).expect("valid pair"),
                VenuePair::new(Venue::Upbit, Venue::Bybit).expect("valid pair"),
                VenuePair::new(Venue::Upbit, Venue::Okx).expect("valid pair"),
            ],
            usdt_venue: Venue::Upbit,
            fx_sources: FxSource::ALL.to_vec(),
            binance_price: BinancePrice::Mark,
            bithumb_api: BithumbApi::V1,
            schedule: Schedules::default(),
            freshness: Freshness::default(),
            cache: CacheTtl::default(),
            http: Http::default(),
            urls: default_urls(),
            sim_url: None,
            // Below each venue's documented limit (Bithumb ≤ 15/s, Upbit 10/s, Binance
            // 2400 weight/min, Bybit 600/5 s, OKX 20/2 s).
            rate_limits: BTreeMap::from([
                (Venue::Bithumb, 10),
                (Venue::Upbit, 8),
                (Venue::Binance, 20),
                (Venue::Bybit, 50),
                (Venue::Okx, 8),
            ]),
            retry: Retries::default(),
            worker: WorkerSettings::default(),
            api: ApiSettings::default(),
            retention: Retention::default(),
            alerts: AlertSettings::default(),
            public_url: None,
        }
    }
}

/// Every URL key with its production base URL, from [`domain::venue::UPSTREAMS`].
fn default_urls() -> BTreeMap<String, String> {
    UPSTREAMS
        .iter()
        .map(|u| (u.upstream.to_string(), u.default_base_url.to_string()))
        .collect()
}

/// Accepts a list or a comma-separated string of parseable items.
fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Raw::Many(v) => v,
    };
    items
        .iter()
        .map(|s| s.parse::<T>().map_err(serde::de::Error::custom))
        .collect()
}

fn ser_list<S: Serializer, T: fmt::Display>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|t| t.to_string()))
}

/// The plain (unprefixed) variables and the key each sets.
const PLAIN_ENV: [(&str, &str); 14] = [
    ("REDIS_URL", "redis_url"),
    ("REDIS_SENTINELS", "redis_sentinels"),
    ("REDIS_MASTER_NAME", "redis_master_name"),
    ("REDIS_PASSWORD", "redis_password"),
    ("REDIS_PASSWORD_FILE", "redis_password_file"),
    ("REDIS_SENTINEL_PASSWORD", "redis_sentinel_password"),
    (
        "REDIS_SENTINEL_PASSWORD_FILE",
        "redis_sentinel_password_file",
    ),
    ("DATABASE_URL", "database_url"),
    ("API_ADDR", "api_addr"),
    ("ADMIN_TOKEN", "admin_token"),
    ("ADMIN_TOKEN_FILE", "admin_token_file"),
    ("REDIS_PREFIX", "redis_prefix"),
    ("LOG_FORMAT", "log_format"),
    ("PREMIUM_SIM_URL", "sim_url"),
];

impl Settings {
    /// Loads defaults, then `config_file` (if any), then the environment; validates.
    pub fn load(config_file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::from_figment(Self::figment(config_file))
    }

    /// The provider chain, exposed so tests can add to it.
    pub fn figment(config_file: Option<&Path>) -> Figment {
        let mut f = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            f = f.merge(Toml::file_exact(path));
        }
        let plain: Vec<&str> = PLAIN_ENV.iter().map(|(v, _)| *v).collect();
        f.merge(Env::prefixed("PREMIUM_").split("__").ignore(&[
            "CONFIG",
            "SIM_URL",
            "EXIT_WITH_PARENT",
        ]))
        .merge(Env::raw().only(&plain).map(|k| {
            PLAIN_ENV
                .iter()
                .find(|(v, _)| k.as_str().eq_ignore_ascii_case(v))
                .map(|(_, key)| (*key).into())
                .unwrap_or_else(|| k.as_str().to_lowercase().into())
        }))
    }

    pub fn from_figment(f: Figment) -> Result<Self, SettingsError> {
        let mut s: Settings = f.extract().map_err(|e| {
            // figment's error names the key and the provider (file or variable) it came from.
            let mut msg = String::new();
            for (i, err) in e.into_iter().enumerate() {
                if i > 0 {
                    msg.push_str("; ");
                }
                msg.push_str(&err.to_string());
            }
            SettingsError::Load(msg)
        })?;
        s.apply_sim_url();
        s.load_secret_files()?;
        s.validate()?;
        Ok(s)
    }

    fn apply_sim_url(&mut self) {
        if let Some(sim) = self.sim_url.as_deref().map(|s| s.trim_end_matches('/')) {
            let sim = sim.to_string();
            for k in URL_KEYS {
                self.urls.insert(k.to_string(), format!("{sim}/{k}"));
            }
            self.alerts.telegram_url = format!("{sim}/telegram");
        }
    }

    /// Fills every secret given as a file (`*_file`) and not given directly. A file that cannot
    /// be read or is empty fails the start with the key's name (never the secret).
    fn load_secret_files(&mut self) -> Result<(), SettingsError> {
        let trim_all: fn(&str) -> &str = str::trim;
        // A password may end in spaces: only the line ending of the file is dropped.
        let line: fn(&str) -> &str = |s| s.trim_end_matches(['\r', '\n']);
        secret_from_file(
            &mut self.admin_token,
            &self.admin_token_file,
            "admin_token_file",
            trim_all,
        )?;
        let a = &mut self.alerts;
        secret_from_file(
            &mut a.secret_key,
            &a.secret_key_file,
            "alerts.secret_key_file",
            trim_all,
        )?;
        secret_from_file(
            &mut a.telegram_bot_token,
            &a.telegram_bot_token_file,
            "alerts.telegram_bot_token_file",
            trim_all,
        )?;
        secret_from_file(
            &mut self.redis_password,
            &self.redis_password_file,
            "redis_password_file",
            line,
        )?;
        secret_from_file(
            &mut self.redis_sentinel_password,
            &self.redis_sentinel_password_file,
            "redis_sentinel_password_file",
            line,
        )
    }

    /// The Sentinel addresses as (host, port), or which entry is not `host:port`.
    pub fn redis_sentinel_addrs(&self) -> Result<Vec<(String, u16)>, String> {
        self.redis_sentinels
            .iter()
            .map(|a| {
                a.rsplit_once(':')
                    .filter(|(h, _)| !h.is_empty())
                    .and_then(|(h, p)| {
                        Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?))
                    })
                    .filter(|(_, p)| *p != 0)
                    .ok_or_else(|| {
                        format!("redis_sentinels: `{a}` is not host:port, e.g. 10.0.0.5:26379")
                    })
            })
            .collect()
    }

    fn validate_redis(&self) -> Result<(), SettingsError> {
        let bad = |m: &str| Err(SettingsError::Invalid(m.into()));
        // Empty is unset (docker-compose passes `REDIS_MASTER_NAME=` when it is not given).
        let name = self
            .redis_master_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        match (self.redis_sentinels.is_empty(), name) {
            (true, None) => {
                if self.redis_password.is_some() || self.redis_sentinel_password.is_some() {
                    return bad(
                        "redis_password and redis_sentinel_password apply to Sentinel mode (redis_sentinels); with redis_url alone put the password in the URL",
                    );
                }
            }
            (true, Some(_)) => {
                return bad(
                    "redis_master_name is set but redis_sentinels is empty: give the Sentinels as host:port,host:port",
                );
            }
            (false, None) => {
                return bad(
                    "redis_sentinels is set but redis_master_name is missing: give the master name the Sentinels monitor, e.g. mymaster",
                );
            }
            (false, Some(_)) => {
                self.redis_sentinel_addrs()
                    .map_err(SettingsError::Invalid)?;
            }
        }
        if !self.redis_url.starts_with("redis://") && !self.redis_url.starts_with("rediss://") {
            return bad("redis_url must start with redis:// or rediss://");
        }
        Ok(())
    }

    /// Checks everything that deserialization cannot; the first problem is the error.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |m: String| Err(SettingsError::Invalid(m));
        if let CoinSelection::List(coins) = &self.coins
            && coins.is_empty()
        {
            return bad(
                "coins is empty: track at least one coin, e.g. coins = \"BTC,ETH\", or \"auto\""
                    .into(),
            );
        }
        if let Err(e) = self.mapping.rules().validate() {
            return bad(format!("mapping: {e}"));
        }
        if let Some((v, bp)) = self
            .fees
            .iter()
            .find(|(_, bp)| **bp < Decimal::ZERO || **bp >= Decimal::from(1_000))
        {
            return bad(format!(
                "fees.{v} = {bp} bp: expected 0 ≤ fee < 1000 basis points"
            ));
        }
        if self.depth.slippage_bp <= Decimal::ZERO {
            return bad("depth.slippage_bp must be positive (basis points)".into());
        }
        if self.mapping.max_deviation_pct <= Decimal::ZERO {
            return bad("mapping.max_deviation_pct must be positive (percentage points)".into());
        }
        if self.venues.is_empty() {
            return bad("venues is empty: enable at least one Korean and one foreign venue".into());
        }
        if self.pairs.is_empty() {
            return bad(
                "pairs is empty: give at least one pair, e.g. pairs = \"upbit-binance\"".into(),
            );
        }
        for pair in &self.pairs {
            for v in [pair.korea, pair.foreign] {
                if !self.venues.contains(&v) {
                    return bad(format!(
                        "pair `{pair}` uses venue `{v}`, which is not in venues"
                    ));
                }
            }
        }
        if self.usdt_venue.region() != Region::Korea {
            return bad(format!(
                "usdt_venue `{}` must be a Korean venue ({})",
                self.usdt_venue,
                Region::Korea.venue_names()
            ));
        }
        if !self.venues.contains(&self.usdt_venue) {
            return bad(format!("usdt_venue `{}` is not in venues", self.usdt_venue));
        }
        if self.fx_sources.is_empty() {
            return bad(format!(
                "fx_sources is empty: give at least one of {}",
                FxSource::ALL.map(FxSource::as_str).join(", ")
            ));
        }
        for (name, expr) in [
            ("schedule.ticker", &self.schedule.ticker),
            ("schedule.premium", &self.schedule.premium),
            ("schedule.fx", &self.schedule.fx),
            ("schedule.markets", &self.schedule.markets),
            ("schedule.history", &self.schedule.history),
            ("schedule.rollup", &self.schedule.rollup),
        ] {
            if let Err(e) = cron::Schedule::from_str(expr) {
                return bad(format!(
                    "{name} `{expr}` is not a valid cron expression (6 fields, seconds first, e.g. `*/1 * * * * *`): {e}"
                ));
            }
        }
        for k in URL_KEYS {
            match self.urls.get(k) {
                None => return bad(format!("urls.{k} is missing")),
                Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                    return bad(format!(
                        "urls.{k} `{u}` must start with http:// or https://"
                    ));
                }
                _ => {}
            }
        }
        if let Some(k) = self.urls.keys().find(|k| !URL_KEYS.contains(&k.as_str())) {
            return bad(format!(
                "urls.{k}: unknown key, expected one of {}",
                URL_KEYS.join(", ")
            ));
        }
        self.validate_redis()?;
        if !self.database_url.starts_with("postgres://")
            && !self.database_url.starts_with("postgresql://")
        {
            return bad("database_url must start with postgres://".into());
        }
        if self.api_addr.parse::<std::net::SocketAddr>().is_err() {
            return bad(format!(
                "api_addr `{}` is not host:port, e.g. 127.0.0.1:8080",
                self.api_addr
            ));
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.contains(char::is_whitespace) {
            return bad("redis_prefix must be a non-empty word".into());
        }
        if self.http.timeout_ms == 0 {
            return bad("http.timeout_ms must be positive".into());
        }
        for (name, p) in [
            ("fetch_ticker", self.retry.fetch_ticker),
            ("fetch_fx", self.retry.fetch_fx),
            ("compute_premium", self.retry.compute_premium),
            ("refresh_markets", self.retry.refresh_markets),
            ("deliver_alert", self.retry.deliver_alert),
            ("maintain_history", self.retry.maintain_history),
            ("rollup_history", self.retry.rollup_history),
        ] {
            if p.max_attempts == 0 || p.base_ms == 0 || p.cap_ms < p.base_ms {
                return bad(format!(
                    "retry.{name}: max_attempts and base_ms must be positive and cap_ms ≥ base_ms"
                ));
            }
        }
        if let Some(days) = self.retention.history_days {
            return bad(format!(
                "retention.history_days = {days} is no longer read: history is kept in tiers; set retention.raw_hours (1 s rows, default 48), retention.minute_days (1 m rollups, default 90) and retention.hour_days (1 h rollups, default 0 = forever) instead"
            ));
        }
        if self.retention.raw_hours == 0 || self.retention.minute_days == 0 {
            return bad(
                "retention.raw_hours and retention.minute_days must be positive (hour_days may be 0: kept)"
                    .into(),
            );
        }
        if self.retention.maintain_timeout_ms == 0 {
            return bad("retention.maintain_timeout_ms must be positive".into());
        }
        if self.worker.concurrency == 0 || self.worker.poll_interval_ms == 0 {
            return bad("worker.concurrency and worker.poll_interval_ms must be positive".into());
        }
        if self.worker.heartbeat_ms < 100 || self.worker.missed_heartbeats == 0 {
            return bad(
                "worker.heartbeat_ms must be ≥ 100 and worker.missed_heartbeats ≥ 1".into(),
            );
        }
        if let Some(a) = &self.worker.metrics_addr
            && a.parse::<std::net::SocketAddr>().is_err()
        {
            return bad(format!("worker.metrics_addr `{a}` is not host:port"));
        }
        if self.api.max_streams == 0 || self.api.stream_buffer == 0 {
            return bad("api.max_streams and api.stream_buffer must be positive".into());
        }
        if let Some((v, _)) = self.rate_limits.iter().find(|(_, n)| **n == 0) {
            return bad(format!("rate_limits.{v} must be positive"));
        }
        if self.alerts.secret_key.is_some() && self.alerts.key().is_none() {
            return bad(
                "alerts.secret_key must be the base64 of exactly 32 bytes (openssl rand -base64 32)"
                    .into(),
            );
        }
        let tg = &self.alerts.telegram_url;
        if !(tg.starts_with("http://") || tg.starts_with("https://")) {
            return bad("alerts.telegram_url must start with http:// or https://".into());
        }
        if self.alerts.timeout_ms == 0 {
            return bad("alerts.timeout_ms must be positive".into());
        }
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return bad(format!(
                "public_url `{u}` must start with http:// or https://"
            ));
        }
        if self.retention.job_records_secs < 60 {
            return bad(
                "retention.job_records_secs must be ≥ 60 (it is also the dedup window)".into(),
            );
        }
        if self.retention.abandon_after_secs < 60 {
            return bad(
                "retention.abandon_after_secs must be ≥ 60 (longer than a job's retries in place)"
                    .into(),
            );
        }
        Ok(())
    }

    /// Venues enabled in a region.
    pub fn venues_in(&self, region: Region) -> Vec<Venue> {
        self.venues
            .iter()
            .copied()
            .filter(|v| v.region() == region)
            .collect()
    }

    /// The pair the API uses when none is given.
    /// The FX sources in fallback order, each with its freshness limit (what
    /// `domain::selection::pick_fx` takes).
    pub fn fx_policy(&self) -> Vec<(FxSource, Duration)> {
        self.fx_sources
            .iter()
            .map(|s| (*s, self.freshness.fx_limit(*s)))
            .collect()
    }

    pub fn default_pair(&self) -> VenuePair {
        self.pairs[0]
    }

    /// The coins tracked on each configured pair, from the venues' market lists in force:
    /// `coins` (auto or the list) minus `coins_exclude`, trading on both sides.
    pub fn universe_of(&self, registry: &Registry) -> BTreeMap<VenuePair, Vec<Coin>> {
        registry.universe(
            &self.pairs,
            &self.coins,
            &self.coins_exclude,
            &self.mapping.rules(),
        )
    }

    /// Taker fees per venue as fractions (`5` bp → `0.0005`).
    pub fn fee_fractions(&self) -> BTreeMap<Venue, Decimal> {
        self.fees
            .iter()
            .map(|(v, bp)| (*v, *bp / Decimal::from(10_000)))
            .collect()
    }

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
}

/// `slot` from the file at `file` when `slot` is unset (see `Settings::load_secret_files`).
fn secret_from_file(
    slot: &mut Option<Secret>,
    file: &Option<String>,
    name: &str,
    clean: fn(&str) -> &str,
) -> Result<(), SettingsError> {
    if slot.is_some() {
        return Ok(());
    }
    let Some(path) = file else { return Ok(()) };
    let raw = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::Invalid(format!("{name} `{path}` cannot be read: {e}")))?;
    let value = clean(&raw);
    if value.is_empty() {
        return Err(SettingsError::Invalid(format!("{name} `{path}` is empty")));
    }
    *slot = Some(Secret::new(value));
    Ok(())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in_jail() -> Result<Settings, SettingsError> {
        Settings::load(None)
    }

    #[test]
    fn defaults_are_valid_and_track_every_coin() {
        Jail::expect_with(|_| {
            let s = load_in_jail().unwrap();
            assert_eq!(s.coins, CoinSelection::Auto);
            assert!(s.coins_exclude.is_empty());
            assert_eq!(s.mapping.max_deviation_pct, Decimal::from(20));
            assert_eq!(
                s.mapping.aliases.get("MATIC").map(String::as_str),
                Some("POL")
            );
            assert_eq!(s.schedule.markets, "0 0 * * * *");
            assert_eq!(s.default_pair().to_string(), "upbit-binance");
            Ok(())
        });
    }

    #[test]
    fn mapping_tables_and_exclusions_come_from_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "coins = \"auto\"\ncoins_exclude = \"luna, USTC\"\n[mapping]\nmax_deviation_pct = \"15\"\naliases = { NEIROCTO = \"NEIRO\" }\n",
            )?;
            let s = Settings::load(Some(Path::new("p.toml"))).unwrap();
            assert_eq!(s.coins, CoinSelection::Auto);
            assert_eq!(s.coins_exclude.len(), 2);
            assert_eq!(s.mapping.max_deviation_pct, Decimal::from(15));
            assert_eq!(s.mapping.rules().alias("NEIROCTO"), "NEIRO");
            Ok(())
        });
    }

    #[test]
    fn file_then_env_override_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "coins = [\"btc\", \"eth\"]\napi_addr = \"0.0.0.0:9000\"\n[http]\ntimeout_ms = 900\n",
            )?;
            jail.set_env("PREMIUM_HTTP__TIMEOUT_MS", "1500");
            jail.set_env("REDIS_URL", "redis://127.0.0.1:6379/3");
            jail.set_env("ADMIN_TOKEN", "s3cret");
            jail.set_env("PREMIUM_API__MAX_STREAMS", "50");
            let s = Settings::load(Some(Path::new("p.toml"))).unwrap();
            assert_eq!(s.api.max_streams, 50);
            assert_eq!(s.api.stream_buffer, 1_024);
            assert!(matches!(&s.coins, CoinSelection::List(c) if c.len() == 2));
            assert_eq!(s.api_addr, "0.0.0.0:9000");
            assert_eq!(s.http.timeout_ms, 1500);
            assert_eq!(s.redis_url, "redis://127.0.0.1:6379/3");
            assert_eq!(s.admin_token.as_ref().unwrap().expose(), "s3cret");
            assert!(!format!("{s:?}").contains("s3cret"));
            Ok(())
        });
    }

    #[test]
    fn sentinel_mode_comes_from_env_with_secret_files() {
        Jail::expect_with(|jail| {
            jail.create_file("redis.pw", "m4ster\n")?;
            jail.set_env("REDIS_SENTINELS", "10.0.0.5:26379, sentinel-b:26380");
            jail.set_env("REDIS_MASTER_NAME", "premium");
            jail.set_env("REDIS_PASSWORD_FILE", "redis.pw");
            jail.set_env("REDIS_SENTINEL_PASSWORD", "s3ntinel");
            let s = Settings::load(None).unwrap();
            assert_eq!(
                s.redis_sentinel_addrs().unwrap(),
                vec![
                    ("10.0.0.5".to_string(), 26379),
                    ("sentinel-b".to_string(), 26380)
                ]
            );
            assert_eq!(s.redis_master_name.as_deref(), Some("premium"));
            assert_eq!(s.redis_password.as_ref().unwrap().expose(), "m4ster");
            assert_eq!(
                s.redis_sentinel_password.as_ref().unwrap().expose(),
                "s3ntinel"
            );
            let shown = format!("{s:?}");
            assert!(!shown.contains("m4ster") && !shown.contains("s3ntinel"));
            Ok(())
        });
    }

    #[test]
    fn sentinel_settings_name_the_field_that_is_wrong() {
        let mut s = Settings {
            redis_sentinels: vec!["10.0.0.5".into()],
            redis_master_name: Some("premium".into()),
            ..Settings::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(
            e.contains("redis_sentinels") && e.contains("10.0.0.5"),
            "{e}"
        );
        s.redis_sentinels = vec!["10.0.0.5:26379".into()];
        s.redis_master_name = None;
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("redis_master_name"), "{e}");
        s.redis_sentinels.clear();
        s.redis_master_name = Some(String::new());
        s.validate()
            .expect("empty REDIS_SENTINELS and REDIS_MASTER_NAME are plain mode");
        s.redis_password = Some(Secret::new("x"));
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("redis_password"), "{e}");
    }

    #[test]
    fn comma_separated_lists_come_from_env() {
        Jail::expect_with(|jail| {
            jail.set_env("PREMIUM_COINS", "BTC, eth ,XRP");
            jail.set_env("PREMIUM_PAIRS", "bithumb-okx");
            let s = load_in_jail().unwrap();
            assert!(matches!(&s.coins, CoinSelection::List(c) if c.len() == 3));
            assert_eq!(s.pairs[0].to_string(), "bithumb-okx");
            Ok(())
        });
    }

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

    #[test]
    fn sim_url_points_every_source_at_the_simulator() {
        Jail::expect_with(|jail| {
            jail.set_env("PREMIUM_SIM_URL", "http://127.0.0.1:9999/");
            let s = load_in_jail().unwrap();
            assert_eq!(s.urls["upbit"], "http://127.0.0.1:9999/upbit");
            assert_eq!(s.urls["frankfurter"], "http://127.0.0.1:9999/frankfurter");
            assert_eq!(
                s.client_config("binance").base_url,
                "http://127.0.0.1:9999/binance"
            );
            Ok(())
        });
    }

    fn error_for(var: &str, value: &str) -> String {
        let mut out = String::new();
        Jail::expect_with(|jail| {
            jail.set_env(var, value);
            out = load_in_jail().unwrap_err().to_string();
            Ok(())
        });
        out
    }

    #[test]
    fn invalid_settings_fail_with_one_clear_message() {
        let cases = [
            ("PREMIUM_VENUES", "upbit,kraken", "unknown venue `kraken`"),
            ("PREMIUM_COINS", "", "empty coin selection"),
            ("PREMIUM_COINS", "BTC-USD", "invalid coin symbol"),
            (
                "PREMIUM_SCHEDULE__FX",
                "every minute",
                "schedule.fx `every minute` is not a valid cron",
            ),
            ("PREMIUM_PAIRS", "binance-upbit", "not a Korean venue"),
            (
                "PREMIUM_VENUES",
                "upbit,bybit",
                "pair `upbit-binance` uses venue `binance`",
            ),
            ("PREMIUM_FX_SOURCES", "ecb", "unknown FX source `ecb`"),
            (
                "API_ADDR",
                "localhost",
                "api_addr `localhost` is not host:port",
            ),
            (
                "PREMIUM_API__MAX_STREAMS",
                "0",
                "api.max_streams and api.stream_buffer must be positive",
            ),
            (
                "PREMIUM_RETENTION__HISTORY_DAYS",
                "30",
                "retention.history_days = 30 is no longer read: history is kept in tiers; set retention.raw_hours",
            ),
            (
                "PREMIUM_RETENTION__RAW_HOURS",
                "0",
                "retention.raw_hours and retention.minute_days must be positive",
            ),
            (
                "PREMIUM_SCHEDULE__ROLLUP",
                "each minute",
                "schedule.rollup `each minute` is not a valid cron",
            ),
        ];
        for (var, value, expected) in cases {
            let msg = error_for(var, value);
            assert!(msg.contains(expected), "{var}={value}: got `{msg}`");
            assert!(msg.starts_with("invalid settings:"), "{msg}");
        }
    }

    #[test]
    fn messages_list_the_venues_and_sources() {
        assert_eq!(
            error_for("PREMIUM_USDT_VENUE", "binance"),
            "invalid settings: usdt_venue `binance` must be a Korean venue (bithumb, upbit)"
        );
        assert_eq!(
            error_for("PREMIUM_FX_SOURCES", ""),
            "invalid settings: fx_sources is empty: give at least one of dunamu, erapi, frankfurter"
        );
    }

    #[test]
    fn admin_token_file_is_read_and_trimmed() {
        Jail::expect_with(|jail| {
            jail.create_file("token", "tok-123\n")?;
            jail.set_env("ADMIN_TOKEN_FILE", "token");
            let s = load_in_jail().unwrap();
            assert_eq!(s.admin_token.unwrap().expose(), "tok-123");
            Ok(())
        });
    }
}
