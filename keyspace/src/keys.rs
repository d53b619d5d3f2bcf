//! Every Redis key premium-spread writes, under one prefix (`redis_prefix`, default `ps`). Cached
//! tickers, depths, FX rates, premiums and skip reasons carry the format that wrote them
//! (`cache::format`).
//!
//! | key | type | TTL | what |
//! | --- | --- | --- | --- |
//! | `{p}:q:{kind}:*` | apalis-redis | janitor | one queue per job kind (`JobKind::ALL`, seven) |
//! | `{p}:tickers:{venue}` | hash coin → JSON | `cache.ticker_secs` (5 s) on the hash, and per field by its write time (`_w`) | latest ticker of every coin of the venue, all of one fetch written in one `HSET` |
//! | `{p}:depth:{venue}:{coin}` | string (JSON) | `cache.ticker_secs` (5 s) | order book levels of a `depth.coins` coin, per coin |
//! | `{p}:fx:{source}` | string (JSON) | the source's freshness limit | latest USD/KRW of a source |
//! | `{p}:premiums:{korea}-{foreign}` | hash coin → JSON | `cache.premium_secs` (5 s) on the hash, and per field by its write time (`_w`) | current premium of every coin of the pair, one `HSET` per computation |
//! | `{p}:premium-skips:{korea}-{foreign}` | hash coin → JSON | 60 s on the hash, and per field by its write time (`_w`) | why the coin's last premium was not computed; a coin's field is dropped (one `HDEL` per pair) when its premium is written |
//! | `{p}:premium-history:{korea}-{foreign}` | stream, one entry per computation (fields coin → `{t, rate, usdt_rate}`) | capped to `cache.history_len` entries | recent premiums of the pair |
//! | `{p}:premium-updates` | pub/sub channel | | one message per computation: a JSON array of its premiums |
//! | `{p}:premium-version` | string (integer) | none (one counter) | bumped once by every write of premiums and skip reasons (one per computation, in the same pipeline, after them); the API rebuilds its premium table when it changes |
//! | `{p}:wake:{kind}` | pub/sub channel | | a task of that kind is due now (wakes idle workers) |
//! | `{p}:job:{id}` | hash | `retention.job_records_secs` after finishing | job record |
//! | `{p}:jobs:{kind or all}:{state or all}` | sorted set (score created ms) | trimmed by the janitor | job listings |
//! | `{p}:gc` | sorted set (score ms) | members removed once collected | finished apalis task ids, each with the time the janitor may delete its copy |
//! | `{p}:trigger:{kind}` | string | 10 min | id of the last manual trigger of a kind |
//! | `{p}:last-success` | hash kind → ms | | last successful run per kind |
//! | `{p}:counters` | hash | | missed ticks per kind, lost history rows, spooled and replayed history rows per table |
//! | `{p}:history-spool` | stream | bounded by `retention.spool_max_entries` (entries, not rows) | history batches PostgreSQL could not take: one entry per batch, fields `table`, `n` (rows), `ts` (premiums: the tick), `rows` (compact JSON); replayed oldest first and deleted once written |
//! | `{p}:history-spool:lock` | string (owner token) | 10 s, renewed while replaying | the one replica replaying the spool |
//! | `{p}:history:rolled-until` | string (unix ms) | | the end of the last range `rollup-history` rolled (its catch-up mark) |
//! | `{p}:cron-last:{kind}` | string | | last tick produced per kind (missed-tick accounting) |
//! | `{p}:rate:{venue}:{second}` | string | 2 s | shared request counter per venue |
//! | `{p}:tick-fetched:{tick}` | set of venues | 10 s | the venues whose `fetch-ticker` of the tick finished (prices cached, or failed) |
//! | `{p}:tick-ready:{tick}` | list | 10 s | pushed by the `fetch-ticker` that completes the tick's set; `compute-premium` waits on it with `BLPOP` |
//! | `{p}:workers` | sorted set (score ms) | pruned | worker processes alive |
//! | `{p}:markets` | string (JSON) | | the market registry in force: every venue's listings, mapped to coins |
//! | `{p}:universe` | string (JSON) | | the coins tracked per pair, derived from the registry and the settings |
//! | `{p}:markets:version` | string (integer) | | bumped with every write of the two above (readers memoize on it) |
//! | `{p}:clock-skew` | hash venue → ms | | the venue's clock minus ours, last measured by fetch-ticker |
//! | `{p}:markets:refresh-asked` | string | 30 s | a replica asked for a registry refresh (unknown markets) |
//! | `{p}:alerts:version` | string (integer) | none (one counter) | bumped by every change of the alert rules in PostgreSQL; workers reload their in-process rule set when it changes |
//! | `{p}:alert:{rule}` | hash | deleted with the rule | a rule's armed state: `armed`, `seq` (firings so far), `last_fired_ms`, `last_tick` |
//! | `{p}:alert-firings:{rule}` | hash seq → JSON | 1 day after the last firing | what each firing saw (value, inputs, time), read by its `deliver-alert` job |
//! | `{p}:alert-outbox` | sorted set (score ms) | entries removed once pushed | firings whose `deliver-alert` job may not be queued yet (a crash between the firing and the push); pushed again, deduplicated by the job id |

use domain::{Coin, FxSource, JobKind, Venue, VenuePair};

use domain::JobState;

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The apalis queue name of a kind (apalis derives its own keys from it).
    pub fn queue(&self, kind: JobKind) -> String {
        format!("{}:q:{kind}", self.prefix)
    }

    /// Hash of the venue's latest tickers, field per coin.
    pub fn tickers(&self, venue: Venue) -> String {
        format!("{}:tickers:{venue}", self.prefix)
    }

    pub fn depth(&self, venue: Venue, coin: &Coin) -> String {
        format!("{}:depth:{venue}:{coin}", self.prefix)
    }

    pub fn fx(&self, source: FxSource) -> String {
        format!("{}:fx:{source}", self.prefix)
    }

    /// Hash of the pair's current premiums, field per coin.
    pub fn premiums(&self, pair: VenuePair) -> String {
        format!("{}:premiums:{pair}", self.prefix)
    }

    /// Stream of the pair's recent premiums, one entry per computation.
    pub fn premium_history(&self, pair: VenuePair) -> String {
        format!("{}:premium-history:{pair}", self.prefix)
    }

    /// Hash of why the pair's premiums were not computed, field per coin.
    pub fn premium_skips(&self, pair: VenuePair) -> String {
        format!("{}:premium-skips:{pair}", self.prefix)
    }

    /// Pub/sub channel a push of a due task of `kind` is announced on, so idle workers fetch
    /// at once instead of at their next poll.
    pub fn wake_channel(&self, kind: JobKind) -> String {
        format!("{}:wake:{kind}", self.prefix)
    }

    /// Counter bumped (`INCR`) after every write of current premiums or skip reasons: one small
    /// `GET` tells an API process whether its serialized premium table is still current.
    pub fn premium_version(&self) -> String {
        format!("{}:premium-version", self.prefix)
    }

    pub fn premium_channel(&self) -> String {
        format!("{}:premium-updates", self.prefix)
    }

    pub fn job(&self, id: &str) -> String {
        format!("{}:job:{id}", self.prefix)
    }

    pub fn jobs_index(&self, kind: Option<JobKind>, state: Option<JobState>) -> String {
        format!(
            "{}:jobs:{}:{}",
            self.prefix,
            kind.map(|k| k.as_str()).unwrap_or("all"),
            state.map(|s| s.as_str()).unwrap_or("all")
        )
    }

    pub fn trigger(&self, kind: JobKind) -> String {
        format!("{}:trigger:{kind}", self.prefix)
    }

    pub fn last_success(&self) -> String {
        format!("{}:last-success", self.prefix)
    }

    pub fn counters(&self) -> String {
        format!("{}:counters", self.prefix)
    }

    /// The field of [`counters`](Self::counters) holding when the first replica's cron sources
    /// started (Unix ms): a kind that never succeeded is late only once a fire time has passed
    /// since.
    pub const SCHEDULES_SINCE: &'static str = "schedules_since_ms";

    /// The history spool: batches PostgreSQL could not take, oldest first.
    pub fn history_spool(&self) -> String {
        format!("{}:history-spool", self.prefix)
    }

    /// Held (token, PX) by the one replica replaying [`Keys::history_spool`].
    pub fn history_spool_lock(&self) -> String {
        format!("{}:history-spool:lock", self.prefix)
    }

    /// Finished apalis task ids, scored by the time (ms) the janitor may delete their copies.
    pub fn gc(&self) -> String {
        format!("{}:gc", self.prefix)
    }

    /// Unix ms: the end of the last range `rollup-history` rolled (its catch-up mark).
    pub fn history_rolled_until(&self) -> String {
        format!("{}:history:rolled-until", self.prefix)
    }

    pub fn cron_last(&self, kind: JobKind) -> String {
        format!("{}:cron-last:{kind}", self.prefix)
    }

    /// Set (10 s) of the venues whose fetch of a tick finished.
    pub fn tick_fetched(&self, tick: i64) -> String {
        format!("{}:tick-fetched:{tick}", self.prefix)
    }

    /// List (10 s) pushed once every venue of a tick is fetched; `compute-premium` blocks on it.
    pub fn tick_ready(&self, tick: i64) -> String {
        format!("{}:tick-ready:{tick}", self.prefix)
    }

    pub fn rate(&self, venue: Venue, second: i64) -> String {
        format!("{}:rate:{venue}:{second}", self.prefix)
    }

    pub fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }

    pub fn markets(&self) -> String {
        format!("{}:markets", self.prefix)
    }

    pub fn universe(&self) -> String {
        format!("{}:universe", self.prefix)
    }

    pub fn markets_version(&self) -> String {
        format!("{}:markets:version", self.prefix)
    }

    /// Set (30 s) when a replica asked for a registry refresh (throttles the asks).
    pub fn markets_refresh_asked(&self) -> String {
        format!("{}:markets:refresh-asked", self.prefix)
    }

    pub fn clock_skew(&self) -> String {
        format!("{}:clock-skew", self.prefix)
    }

    pub fn alerts_version(&self) -> String {
        format!("{}:alerts:version", self.prefix)
    }

    pub fn alert_state(&self, rule: i64) -> String {
        format!("{}:alert:{rule}", self.prefix)
    }

    pub fn alert_firings(&self, rule: i64) -> String {
        format!("{}:alert-firings:{rule}", self.prefix)
    }

    pub fn alert_outbox(&self) -> String {
        format!("{}:alert-outbox", self.prefix)
    }
}
