//! Job kinds shared by the worker (which runs them) and the API (which reports and triggers them).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    FetchTicker,
    FetchFx,
    ComputePremium,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [
        JobKind::FetchTicker,
        JobKind::FetchFx,
        JobKind::ComputePremium,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::FetchTicker => "fetch-ticker",
            JobKind::FetchFx => "fetch-fx",
            JobKind::ComputePremium => "compute-premium",
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
                    "unknown job kind `{s}`: expected fetch-ticker, fetch-fx or compute-premium"
                )
            })
    }
}
