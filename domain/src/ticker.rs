//! Tickers: one venue's price of one coin at one time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Coin, Price, Venue};

/// The latest price of `coin` on `venue`. Korean venues quote KRW, foreign venues USDT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticker {
    pub venue: Venue,
    pub coin: Coin,
    pub price: Price,
    /// The venue's own time for this price (trade or mark time).
    pub observed_at: DateTime<Utc>,
    /// When premium-spread received it.
    pub fetched_at: DateTime<Utc>,
}

impl Ticker {
    /// Age at `now`, measured from the venue's observation time (never negative).
    pub fn age_ms(&self, now: DateTime<Utc>) -> i64 {
        (now - self.observed_at).num_milliseconds().max(0)
    }
}
