//! USD/KRW rates and where they come from.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Price;

/// A USD/KRW source. Each has its own cadence, so each has its own freshness limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FxSource {
    /// Dunamu's quotation API (Hana Bank posted rate), intraday.
    Dunamu,
    /// open.er-api.com (ExchangeRate-API free tier), daily.
    Erapi,
    /// Frankfurter (ECB reference rate), ECB working days.
    Frankfurter,
}

impl FxSource {
    pub const ALL: [FxSource; 3] = [FxSource::Dunamu, FxSource::Erapi, FxSource::Frankfurter];

    pub const fn as_str(self) -> &'static str {
        match self {
            FxSource::Dunamu => "dunamu",
            FxSource::Erapi => "erapi",
            FxSource::Frankfurter => "frankfurter",
        }
    }
}

impl fmt::Display for FxSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FxSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FxSource::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown FX source `{s}`: expected one of {}",
                    FxSource::ALL.map(FxSource::as_str).join(", ")
                )
            })
    }
}

/// KRW per USD from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxRate {
    pub source: FxSource,
    pub usd_krw: Price,
    /// The source's own time for this rate.
    pub observed_at: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
}

impl FxRate {
    pub fn age_ms(&self, now: DateTime<Utc>) -> i64 {
        (now - self.observed_at).num_milliseconds().max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_source_lists_the_known_ones() {
        assert_eq!(
            "ecb".parse::<FxSource>().unwrap_err(),
            "unknown FX source `ecb`: expected one of dunamu, erapi, frankfurter"
        );
        for s in FxSource::ALL {
            assert_eq!(s.as_str().parse::<FxSource>().unwrap(), s);
        }
    }
}
