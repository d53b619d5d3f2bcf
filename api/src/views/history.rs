//! The history answer's schema (`GET /api/v1/premiums/:coin/history`): its head and its OHLC
//! buckets. Answers are not built from these types but written by `history_json.rs`; the test
//! there keeps the two equal.

use poem_openapi::Object;

use crate::wire::{DecText, IntervalName, Time, VenueName, as_to_json};

/// One OHLC bucket of the premium rate.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BucketView {
    /// Start of the bucket.
    pub start: Time,
    pub open: DecText,
    pub high: DecText,
    pub low: DecText,
    pub close: DecText,
    /// OHLC of the USDT-basis rate (absent when no row of the bucket had one).
    pub usdt_open: Option<DecText>,
    pub usdt_high: Option<DecText>,
    pub usdt_low: Option<DecText>,
    pub usdt_close: Option<DecText>,
    /// Last entry rate (buy Korea at the ask, short abroad at the bid) in the bucket.
    pub entry_close: Option<DecText>,
    /// Last exit rate (sell Korea at the bid, cover abroad at the ask) in the bucket.
    pub exit_close: Option<DecText>,
    /// Rows (ticks) in the bucket.
    pub count: i64,
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct HistoryView {
    pub coin: String,
    #[serde(serialize_with = "as_to_json")]
    pub korea_venue: VenueName,
    #[serde(serialize_with = "as_to_json")]
    pub foreign_venue: VenueName,
    #[serde(serialize_with = "as_to_json")]
    pub interval: IntervalName,
    /// The time zone of `1d` buckets (UTC for the other intervals).
    pub tz: String,
    /// The range answered: as asked, or, without `from`, the start of the oldest bucket
    /// answered (`to` minus the interval's longest range when there is none).
    pub from: Time,
    /// End (exclusive): as asked, or now.
    pub to: Time,
    /// Oldest first; buckets without rows are absent.
    #[serde(skip)] // written by `history_json`
    pub buckets: Vec<BucketView>,
}
