//! Job kinds, job states and failure classes, shared by the worker (which runs jobs), the queue
//! layer (which records them) and the API (which reports and triggers them).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    FetchTicker,
    FetchFx,
    ComputePremium,
    /// Every venue's market list into the registry.
    RefreshMarkets,
    /// One firing of a premium alert rule, delivered to its webhook or Telegram chat. Enqueued
    /// by `compute-premium`, never by cron.
    DeliverAlert,
    /// History partitions created ahead and dropped at the retention boundary.
    MaintainHistory,
    /// Closed minutes of raw premium rows into the 1-minute and 1-hour rollups.
    RollupHistory,
}

impl JobKind {
    pub const ALL: [JobKind; 7] = [
        JobKind::FetchTicker,
        JobKind::FetchFx,
        JobKind::ComputePremium,
        JobKind::RefreshMarkets,
        JobKind::DeliverAlert,
        JobKind::MaintainHistory,
        JobKind::RollupHistory,
    ];

    /// Whether cron sources produce this kind on a schedule. `deliver-alert` runs only when a
    /// rule fires.
    pub fn is_scheduled(self) -> bool {
        !matches!(self, JobKind::DeliverAlert)
    }

    /// Whether readiness expects recent successes of this kind: the live pipeline's kinds.
    /// History upkeep (partitions, rollups) never makes the API unready: live premiums do not
    /// depend on it, and a fresh deployment has not run it yet; alerts run only when one fires.
    pub fn gates_readiness(self) -> bool {
        self.is_scheduled() && !matches!(self, JobKind::MaintainHistory | JobKind::RollupHistory)
    }

    /// Whether a first attempt that starts more than `worker.max_tick_lag_secs` after its tick
    /// is dropped: live ticks are; catch-up work (FX, history upkeep) and alerts run late
    /// rather than not at all.
    pub fn dropped_when_late(self) -> bool {
        matches!(
            self,
            JobKind::FetchTicker | JobKind::ComputePremium | JobKind::RefreshMarkets
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::FetchTicker => "fetch-ticker",
            JobKind::FetchFx => "fetch-fx",
            JobKind::ComputePremium => "compute-premium",
            JobKind::RefreshMarkets => "refresh-markets",
            JobKind::DeliverAlert => "deliver-alert",
            JobKind::MaintainHistory => "maintain-history",
            JobKind::RollupHistory => "rollup-history",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown job kind `{s}`: expected fetch-ticker, fetch-fx, compute-premium, refresh-markets, deliver-alert, maintain-history or rollup-history"
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting to be picked up.
    Queued,
    /// A retry is pending; `next_run_ms` says when.
    Scheduled,
    Running,
    Done,
    /// Ended by a permanent error (not retried), or dropped as too late to be useful.
    Failed,
    /// Every allowed attempt failed.
    Dead,
    /// Never finished: no run of it was alive for longer than the abandon bound (its worker
    /// died in a way recovery could not see, or Redis lost its task).
    Abandoned,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Scheduled,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Dead,
        JobState::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
            JobState::Abandoned => "abandoned",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Dead | JobState::Abandoned
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown job state `{s}`: expected queued, scheduled, running, done, failed, dead or abandoned"
                )
            })
    }
}

/// What went wrong, by kind; `as_str` gives the metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// HTTP 429/418 (and Bybit's 403 "access too frequent").
    RateLimited,
    /// HTTP 5xx.
    Server,
    /// The request did not finish within the configured timeout.
    Timeout,
    /// Connection refused/reset, DNS, TLS and other transport failures.
    Connect,
    /// A permanent 4xx: 400, 403, 404, 451 (restricted location), …
    Client,
    /// The venue answered (usually HTTP 200) with its own error body.
    Api,
    /// The body is not the JSON shape the venue documents.
    Malformed,
    /// A price that is missing, not a number, zero or negative.
    InvalidPrice,
    /// The venue does not list the requested coin.
    UnknownSymbol,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::RateLimited,
        ErrorClass::Server,
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::Client,
        ErrorClass::Api,
        ErrorClass::Malformed,
        ErrorClass::InvalidPrice,
        ErrorClass::UnknownSymbol,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Server => "server",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::Client => "client",
            ErrorClass::Api => "api",
            ErrorClass::Malformed => "malformed",
            ErrorClass::InvalidPrice => "invalid_price",
            ErrorClass::UnknownSymbol => "unknown_symbol",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a job attempt failed, by kind: a venue's [`ErrorClass`] or one of the queue layer's own.
/// `as_str` is the `error_class` of a job record and the metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// A request to a venue or FX source failed.
    Fetch(ErrorClass),
    /// Redis refused or dropped a command.
    Redis,
    /// The shared per-venue request budget had no room within its wait.
    RateLimitBudget,
    /// The attempt ran past `worker.job_timeout_ms`.
    AttemptTimeout,
    /// The handler panicked.
    Panic,
    /// A job that can never succeed (no venue, venue not enabled).
    Permanent,
    /// The job could not be pushed into its queue.
    Queue,
    /// A tick job that started too long after its tick to be useful.
    Late,
    /// Every FX source failed without a response (no first error to classify).
    FxSources,
    /// The market registry is missing, or a venue's market list was refused.
    Markets,
    /// PostgreSQL refused or did not answer (history upkeep).
    Postgres,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Fetch(c) => c.as_str(),
            FailureClass::Redis => "redis",
            FailureClass::RateLimitBudget => "rate_limit_budget",
            FailureClass::AttemptTimeout => "timeout",
            FailureClass::Panic => "panic",
            FailureClass::Permanent => "permanent",
            FailureClass::Queue => "queue",
            FailureClass::Late => "late",
            FailureClass::FxSources => "fx_sources",
            FailureClass::Markets => "markets",
            FailureClass::Postgres => "postgres",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ErrorClass> for FailureClass {
    fn from(c: ErrorClass) -> Self {
        FailureClass::Fetch(c)
    }
}
