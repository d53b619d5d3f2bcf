//! How each job kind is retried (`[retry]`): one policy per kind, with its defaults and why.

use serde::{Deserialize, Serialize};

use crate::error::{SettingsError, invalid};

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

impl Retries {
    /// Every policy retries at least once from a positive base up to a cap no lower than it.
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        for (name, p) in [
            ("fetch_ticker", self.fetch_ticker),
            ("fetch_fx", self.fetch_fx),
            ("compute_premium", self.compute_premium),
            ("refresh_markets", self.refresh_markets),
            ("deliver_alert", self.deliver_alert),
            ("maintain_history", self.maintain_history),
            ("rollup_history", self.rollup_history),
        ] {
            if p.max_attempts == 0 || p.base_ms == 0 || p.cap_ms < p.base_ms {
                return invalid(format!(
                    "retry.{name}: max_attempts and base_ms must be positive and cap_ms ≥ base_ms"
                ));
            }
        }
        Ok(())
    }
}
