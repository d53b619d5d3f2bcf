//! How old an input may be and still reach a premium (`[freshness]`).

use std::{collections::BTreeMap, time::Duration};

use domain::FxSource;
use serde::{Deserialize, Serialize};

/// How old an input may be and still reach a premium.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Freshness {
    /// Tickers (venue observation time to computation), milliseconds.
    pub ticker_ms: u64,
    /// Per FX source, seconds: each source has its own cadence (a daily rate is not stale
    /// after 15 minutes, and a day-old one is not live). Frankfurter's counts ECB working days
    /// only (`domain::FxSource::fresh_until`), so Friday's rate lasts the weekend.
    pub fx_secs: BTreeMap<FxSource, u64>,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness {
            ticker_ms: 5_000,
            fx_secs: BTreeMap::from([
                // Re-posted about every minute on Korean business days; fetched every 10.
                (FxSource::Dunamu, 15 * 60),
                // Updated once a day; two hours' margin for the update and the next fetch.
                (FxSource::Erapi, 26 * 3600),
                // Published once per ECB working day; the same margin.
                (FxSource::Frankfurter, 26 * 3600),
            ]),
        }
    }
}

impl Freshness {
    pub fn fx_limit(&self, source: FxSource) -> Duration {
        Duration::from_secs(self.fx_secs.get(&source).copied().unwrap_or(15 * 60))
    }
}
