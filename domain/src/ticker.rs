//! Tickers: one venue's price of one coin at one time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{BookTop, Coin, Funding, Price, Venue};

/// The latest price of `coin` on `venue`. Korean venues quote KRW, foreign venues USDT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticker {
    pub venue: Venue,
    pub coin: Coin,
    pub price: Price,
    /// When the quote was current: the venue's snapshot time where its clock is sane,
    /// otherwise when premium-spread received it. Freshness is measured from this, not from the
    /// last trade, so an illiquid coin with a current quote still counts as fresh.
    pub observed_at: DateTime<Utc>,
    /// When premium-spread received it.
    pub fetched_at: DateTime<Utc>,
    /// When the coin last traded on the venue, where the venue says so (Korean venues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trade_at: Option<DateTime<Utc>>,
    /// Best bid and ask (per coin), fetched with the price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book: Option<BookTop>,
    /// Why `book` is missing although the venue answered (crossed, zero, empty side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book_error: Option<String>,
    /// The perpetual's funding (foreign venues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding: Option<Funding>,
}

impl Ticker {
    /// Age at `now`, measured from the venue's observation time (never negative).
    pub fn age_ms(&self, now: DateTime<Utc>) -> i64 {
        (now - self.observed_at).num_milliseconds().max(0)
    }
}
