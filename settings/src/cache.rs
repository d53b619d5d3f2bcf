//! The hot cache in Redis (`[cache]`): how long tickers and premiums live there, and how much
//! recent history is kept per coin.

use serde::{Deserialize, Serialize};

/// Time-to-live of the hot cache in Redis. FX rates are not set here: they live as long as
/// their source's own freshness, and at least 15 minutes.
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
